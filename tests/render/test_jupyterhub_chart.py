"""The jupyterhub role's values: chart schema, helm template + kubernetes-validate, network policy.

The values come from the role's own template rendered by Ansible (and once from
the role itself run by ansible-playbook); the chart is ../shared/charts/jupyterhub
(z2jh 4.4.0) rendered by the real helm binary.
"""
import json

import pytest

from _jupyterhub import ROLE, ROOT, find, helm_template, role_values, shipped_files, template_values
from ansible_collections.enertef.workbench.plugins.filter.chart_values import chart_values_problems, merge_chart_values

pytestmark = pytest.mark.render

SCHEMA = json.loads((ROLE / "files" / "z2jh-4.4.0-values.schema.json").read_text())
DEFAULTS = json.loads((ROLE / "files" / "z2jh-4.4.0-values.defaults.json").read_text())
TENANT_PY = ROLE.parent.parent / "plugins" / "module_utils" / "tenant.py"


def schema_problems(values):
    return chart_values_problems(values, SCHEMA, DEFAULTS)


@pytest.fixture(scope="module")
def values():
    return template_values()


@pytest.fixture(scope="module")
def chart(values, tmp_path_factory):
    return helm_template(values, tmp_path_factory.mktemp("chart"))


def by_kind_name(docs, kind, name):
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


# --- schema -------------------------------------------------------------------

def test_chart_defaults_and_role_values_pass_the_schema(values):
    assert schema_problems({}) == []
    assert schema_problems(values) == []


def test_schema_check_names_a_typo_and_a_wrong_type(values):
    broken = merge_chart_values(values, {"hub": {"cofig": {"JupyterHub": {}}},
                                         "singleuser": {"startTimeout": "five minutes"}})
    problems = schema_problems(broken)
    assert len(problems) == 2, problems
    assert any(p.startswith("hub:") and "'cofig' was unexpected" in p for p in problems), problems
    assert any(p.startswith("singleuser.startTimeout:") and "'five minutes' is not of type 'integer'" in p
               for p in problems), problems


def test_merge_follows_helm_maps_merge_lists_replace_null_removes():
    merged = merge_chart_values({"a": {"b": 1, "c": [1, 2]}, "d": 1}, {"a": {"c": [3]}, "d": None})
    assert merged == {"a": {"b": 1, "c": [3]}}


# --- role run -------------------------------------------------------------------

def test_role_renders_the_same_values_as_its_template(values, tmp_path):
    result, rendered = role_values(tmp_path)
    assert result.rc == 0, result
    assert rendered == values


def test_role_refuses_values_that_break_the_schema_and_installs_nothing(tmp_path):
    result, rendered = role_values(tmp_path, {
        "jupyterhub_extra_values": {"hub": {"cofig": {}}, "cull": {"timeout": "1h"}}})
    assert result.rc != 0 and rendered is None
    message = "\n".join(result.failure_messages)
    assert "break the z2jh 4.4.0 schema, nothing was installed" in message
    assert "'cofig' was unexpected" in message and "cull.timeout: '1h' is not of type 'integer'" in message


def test_role_refuses_bad_admin_names_shared_password_and_missing_credentials(tmp_path):
    result, rendered = role_values(tmp_path, {
        "workbench_admins": ["postgres", "Robert'); DROP TABLE x;--"],
        "secrets_credentials": {},
        "jupyterhub_authenticator": "shared-password",
    })
    assert result.rc != 0 and rendered is None
    message = "\n".join(result.failure_messages)
    assert "nothing was installed" in message
    assert "user name \"Robert'); DROP TABLE x;--\" is not allowed" in message
    assert "user name 'postgres' is reserved" in message
    # One password for everyone is refused on every target, with the reason.
    assert "shared-password is gone: one password would open every user's data" in message
    assert "cookie secret or proxy token is missing" in message


def test_role_refuses_incomplete_oidc_settings(tmp_path):
    result, rendered = role_values(tmp_path, {"jupyterhub_authenticator": "oidc",
                                       "jupyterhub_oidc": {"client_id": "workbench"}})
    assert result.rc != 0 and rendered is None
    assert "jupyterhub_oidc lacks client_secret, oauth_callback_url" in "\n".join(result.failure_messages)


# --- manifests ------------------------------------------------------------------

def test_chart_manifests_are_valid_for_the_targeted_kubernetes(chart, k8s_validate):
    assert {d["kind"] for d in chart} >= {"Deployment", "Service", "NetworkPolicy", "Secret", "ConfigMap"}
    assert k8s_validate(chart) == []


def test_a_broken_manifest_fails_validation(values, tmp_path, k8s_validate):
    # extraPodSpec is free-form in the chart schema, so only kubernetes-validate can catch this.
    broken = merge_chart_values(values, {"hub": {"extraPodSpec": {"restartPolicyy": "Always"}}})
    assert schema_problems(broken) == []
    problems = k8s_validate(helm_template(broken, tmp_path))
    assert len(problems) == 1 and problems[0].startswith("Deployment/hub:") and "restartPolicyy" in problems[0]


def test_proxy_public_is_nodeport_30080(chart):
    service = by_kind_name(chart, "Service", "proxy-public")
    assert service["spec"]["type"] == "NodePort"
    assert [(p["port"], p["nodePort"]) for p in service["spec"]["ports"]] == [(80, 30080)]


def test_hub_ships_tenant_py_verbatim_next_to_jupyterhub_config(values, chart):
    files = shipped_files(values)
    assert files["workbench_tenant.py"] == TENANT_PY.read_text()
    assert files["workbench_hub.py"] == (ROLE / "files" / "workbench_hub.py").read_text()
    assert files["workbench_login.py"] == (ROOT / "plugins" / "module_utils" / "login.py").read_text()
    mounts = by_kind_name(chart, "Deployment", "hub")["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    paths = {m["mountPath"] for m in mounts}
    assert {"/usr/local/etc/jupyterhub/jupyterhub_config.py", "/usr/local/etc/jupyterhub/workbench_tenant.py",
            "/usr/local/etc/jupyterhub/workbench_hub.py", "/usr/local/etc/jupyterhub/workbench_login.py"} <= paths


def test_hub_mounts_the_logins_secret_as_a_directory(chart):
    """No subPath: Kubernetes updates a directory-mounted Secret in place, so a users.yml run needs no hub restart."""
    pod = by_kind_name(chart, "Deployment", "hub")["spec"]["template"]["spec"]
    volume = [v for v in pod["volumes"] if v.get("secret", {}).get("secretName") == "workbench-hub-logins"]
    assert len(volume) == 1 and volume[0]["secret"]["optional"] is True, "the hub starts before users.yml first ran"
    mounts = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume[0]["name"]]
    assert mounts == [{"name": volume[0]["name"], "mountPath": "/etc/workbench/logins", "readOnly": True}]


def test_user_pods_keep_home_cull_idle_and_use_the_registry_image(values):
    singleuser = values["singleuser"]
    assert singleuser["storage"]["capacity"] == "10Gi"
    assert values["cull"] == {"enabled": True, "timeout": 3600, "every": 300}
    assert singleuser["image"]["name"].startswith("k3d-workbench-registry.localhost:5001/")
    # no credential in the shared pod environment: only the public origin for MLflow behind the proxy
    assert singleuser["extraEnv"] == {"WORKBENCH_PUBLIC_ORIGINS": "http://localhost:8080"}
    assert [p["slug"] for p in singleuser["profileList"]] == ["small", "large"]


def test_gpu_profile_only_when_enabled(tmp_path):
    gpu = template_values({"jupyterhub_gpu_enabled": True})
    assert [p["slug"] for p in gpu["singleuser"]["profileList"]] == ["small", "large", "gpu"]
    assert gpu["singleuser"]["profileList"][-1]["kubespawner_override"]["extra_resource_limits"] == {"nvidia.com/gpu": "1"}
    assert schema_problems(gpu) == []


# --- network policy ----------------------------------------------------------

def user_pod_policy(docs):
    return by_kind_name(docs, "NetworkPolicy", "singleuser")["spec"]


def egress_destinations(policy):
    """(destination, ports) for every egress rule; a rule without ports would allow every port."""
    rules = []
    for rule in policy["egress"]:
        ports = tuple(sorted((p.get("protocol", "TCP"), p["port"]) for p in rule.get("ports", [])))
        for peer in rule["to"]:
            rules.append((json.dumps(peer, sort_keys=True), ports))
    return rules


def test_user_pods_reach_only_dns_hub_postgres_and_object_store(chart):
    policy = user_pod_policy(chart)
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    destinations = egress_destinations(policy)
    ports = {port for peer, rule_ports in destinations for port in rule_ports}
    assert all(rule_ports for peer, rule_ports in destinations), "an egress rule allows every port"
    assert ports == {("TCP", 8081), ("TCP", 8000), ("TCP", 8080), ("TCP", 8443),  # hub, proxy, autohttps
                     ("UDP", 53), ("TCP", 53), ("TCP", 5432), ("TCP", 9000)}
    peers = [json.loads(peer) for peer, rule_ports in destinations]
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "postgres"}}} in peers
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "object-store"}}} in peers
    # the served models' API, which notebooks call (model_serving role)
    assert {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "model-serving",
                                            "app.kubernetes.io/component": "api"}}} in peers
    assert not [p for p in peers if p.get("ipBlock", {}).get("cidr") == "0.0.0.0/0"], "internet reachable"
    # Ingress only from pods labelled network-access-singleuser (the proxy and hub), not from other users.
    assert [peer for rule in policy["ingress"] for peer in rule["from"]] == [
        {"podSelector": {"matchLabels": {"hub.jupyter.org/network-access-singleuser": "true"}}}]


def test_internet_egress_only_when_allowed(tmp_path):
    docs = helm_template(template_values({"jupyterhub_allow_internet_egress": True}), tmp_path)
    peers = [json.loads(peer) for peer, rule_ports in egress_destinations(user_pod_policy(docs))]
    assert [p for p in peers if p.get("ipBlock", {}).get("cidr") == "0.0.0.0/0"]


def test_lab_authenticators_pass_settings_through(tmp_path):
    oidc_settings = {"client_id": "workbench", "client_secret": "from-the-vault", "username_claim": "preferred_username"}
    oidc = template_values({"jupyterhub_authenticator": "oidc", "jupyterhub_oidc": oidc_settings})
    assert oidc["hub"]["config"]["JupyterHub"]["authenticator_class"] == "oauthenticator.generic.GenericOAuthenticator"
    assert oidc["hub"]["config"]["GenericOAuthenticator"] == oidc_settings
    ldap = template_values({"jupyterhub_authenticator": "ldap", "jupyterhub_ldap": {"server_address": "ldap.lab"}})
    assert ldap["hub"]["config"]["LDAPAuthenticator"] == {"server_address": "ldap.lab"}
    assert schema_problems(oidc) == [] and schema_problems(ldap) == []
    # The allow-list is the users role's logins file on every authenticator, not a list in the values.
    for lab in (oidc, ldap):
        assert "allowed_users" not in lab["hub"]["config"]["Authenticator"]
        assert lab["hub"]["config"]["WorkbenchLogins"]["logins_dir"] == "/etc/workbench/logins"


def test_lab_hosts_get_an_ingress_with_tls_and_the_laptop_none(values, tmp_path, k8s_validate):
    assert values["ingress"] == {"enabled": False}
    lab = template_values({"jupyterhub_ingress_hosts": ["workbench.lab.example"]})
    assert not schema_problems(lab)
    docs = helm_template(lab, tmp_path)
    ingress = find(docs, "Ingress", "jupyterhub")
    assert ingress["spec"]["tls"] == [{"hosts": ["workbench.lab.example"], "secretName": "workbench-tls"}]
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == ["workbench.lab.example"]
    assert k8s_validate([ingress]) == []


def test_mlflow_background_start_can_be_turned_off(values):
    """jupyterhub_mlflow_autostart: on by default (nothing in the pod environment), off = the switch
    workbench_launchers.autostart reads."""
    assert "WORKBENCH_MLFLOW_AUTOSTART" not in values["singleuser"]["extraEnv"]
    off = template_values({"jupyterhub_mlflow_autostart": False})["singleuser"]["extraEnv"]
    assert off["WORKBENCH_MLFLOW_AUTOSTART"] == "false"
    from workbench_launchers.autostart import autostart_enabled
    assert autostart_enabled(off) is False and autostart_enabled(values["singleuser"]["extraEnv"]) is True
