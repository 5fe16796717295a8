"""Manifests of the service roles (postgres, object_store, pgadmin), rendered and checked.

Every template is rendered by Ansible's own templar (tests/render/_render.py)
with the role's defaults, and with lab-style settings, then validated with
kubernetes-validate --strict for Kubernetes 1.35. On top of validity the tests
check what the rest of the workbench relies on: the Service names and ports of
the contract table, credentials only through secretKeyRef, pinned images, a
server list for pgAdmin without any password, the volume sizes and classes
asked for. Bad settings must fail: either in validation or, where a schema
cannot tell (a size, a port range, a Service type), in the role itself, which
is run for real with ansible-playbook before it would reach any cluster.
"""
import json
import re

import pytest
import yaml

from _render import all_documents, find, render_role, role_defaults, role_dir, role_templates
from ansible_collections.enertef.workbench.plugins.module_utils import tenant

pytestmark = pytest.mark.render

ROLES = ["postgres", "object_store", "pgadmin"]

# The contract's table: role -> (Service name, {port name: (port, nodePort)}).
CONTRACT_SERVICES = {
    "postgres": ("postgres", {"postgres": (5432, 30432)}),
    "object_store": ("object-store", {"api": (9000, 30900), "console": (9001, 30901)}),
    "pgadmin": ("pgadmin", {"http": (80, 30050)}),
}

# Container -> env vars that carry credentials -> (Secret, key) of the contract; nothing else may
# set them (the SeaweedFS console reads its login from a mounted Secret file instead).
CONTRACT_SECRET_ENV = {
    "postgres": {"POSTGRES_PASSWORD": ("workbench-postgres-admin", "superuser_password"),
                 "WORKBENCH_ADMIN_USER": ("workbench-postgres-admin", "username"),
                 "WORKBENCH_ADMIN_PASSWORD": ("workbench-postgres-admin", "password")},
    "seaweedfs": {"AWS_ACCESS_KEY_ID": ("workbench-object-store-root", "root-user"),
                  "AWS_SECRET_ACCESS_KEY": ("workbench-object-store-root", "root-password")},
    "console": {},
    "pgadmin": {"PGADMIN_DEFAULT_EMAIL": ("workbench-pgadmin", "email"),
                "PGADMIN_DEFAULT_PASSWORD": ("workbench-pgadmin", "password")},
}


def lab_settings(role):
    """A lab cluster: own namespace and StorageClass, bigger volume, Services inside the cluster only."""
    return {"workbench_namespace": "lab-workbench", "workbench_storage_class": "longhorn",
            role + "_service_type": "ClusterIP", role + "_storage_size": "42Gi"}


VARIANTS = {
    "defaults": lambda role: {},
    "lab": lab_settings,
    "loadbalancer": lambda role: {role + "_service_type": "LoadBalancer"},
}


def workloads(docs):
    return [d for d in docs if d["kind"] in ("StatefulSet", "Deployment")]


def containers(docs):
    return [c for w in workloads(docs) for c in w["spec"]["template"]["spec"]["containers"]]


def volume_claims(docs):
    """(claim spec) of every PVC and volumeClaimTemplate."""
    claims = [d["spec"] for d in docs if d["kind"] == "PersistentVolumeClaim"]
    for workload in workloads(docs):
        claims += [t["spec"] for t in workload["spec"].get("volumeClaimTemplates", [])]
    return claims


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


@pytest.fixture(scope="module", params=[(r, v) for r in ROLES for v in VARIANTS],
                ids=["%s-%s" % (r, v) for r in ROLES for v in VARIANTS])
def rendered(request):
    role, variant = request.param
    settings = VARIANTS[variant](role)
    return role, variant, settings, all_documents(render_role(role, settings))


def test_every_manifest_is_valid_for_the_targeted_kubernetes(rendered, k8s_validate):
    role, _, _, docs = rendered
    assert docs, "%s rendered no manifests" % role
    assert k8s_validate(docs) == []


@pytest.mark.parametrize("role", ROLES)
def test_the_role_applies_every_template(role):
    """What is rendered here is what deploy.yml applies: no template left untested or unapplied."""
    tasks = yaml.safe_load((role_dir(role) / "tasks" / "deploy.yml").read_text())
    applied = [item for task in tasks if "kubernetes.core.k8s" in task for item in task["loop"]]
    assert sorted(applied) == role_templates(role)
    assert all(task["kubernetes.core.k8s"]["state"] == "present" and task["kubernetes.core.k8s"]["apply"]
               for task in tasks if "kubernetes.core.k8s" in task)


def test_namespace_follows_the_setting(rendered):
    _, _, settings, docs = rendered
    assert {d["metadata"]["namespace"] for d in docs} == {settings.get("workbench_namespace", "workbench")}


@pytest.mark.parametrize("role, major", [("postgres", "17."), ("object_store", "4.48"), ("pgadmin", "9.")])
def test_images_are_pinned(role, major):
    docs = all_documents(render_role(role))
    for container in containers(docs):
        reference, _, digest = container["image"].partition("@")
        assert not digest or re.fullmatch(r"sha256:[0-9a-f]{64}", digest), container["image"]
        repository, _, tag = reference.rpartition(":")
        assert repository and "/" not in tag, "%s has no tag" % container["image"]
        assert tag != "latest" and tag.startswith(major), container["image"]


def test_credentials_only_from_the_contract_secrets(rendered):
    role, _, _, docs = rendered
    assert not [d for d in docs if d["kind"] == "Secret"], "roles must not write Secrets"
    for container in containers(docs):
        env = env_of(container)
        for name, (secret, key) in CONTRACT_SECRET_ENV[container["name"]].items():
            assert env[name] == {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
        literal = [n for n, e in env.items() if "value" in e and any(
            word in n for word in ("PASSWORD", "SECRET", "TOKEN", "KEY"))]
        assert literal == [], "credentials given as literal values: %s" % literal


def test_services_match_the_contract_ports(rendered):
    role, variant, _, docs = rendered
    name, contract = CONTRACT_SERVICES[role]
    service = find(docs, "Service", name)
    ports = {p["name"]: (p["port"], p.get("nodePort")) for p in service["spec"]["ports"]}
    if variant == "lab":
        assert service["spec"]["type"] == "ClusterIP"
        assert ports == {n: (port, None) for n, (port, _) in contract.items()}
    else:
        assert service["spec"]["type"] == ("LoadBalancer" if variant == "loadbalancer" else "NodePort")
        assert ports == contract
    # The named target ports exist on the container, so the Service reaches the server.
    container_ports = {p["name"] for c in containers(docs) for p in c["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= container_ports


def test_volumes_have_the_size_and_class_asked_for(rendered):
    role, _, settings, docs = rendered
    claims = volume_claims(docs)
    assert len(claims) == 1
    claim = claims[0]
    expected_size = settings.get(role + "_storage_size", role_defaults(role)[role + "_storage_size"])
    assert claim["resources"]["requests"]["storage"] == expected_size
    # No class given: leave storageClassName out so the cluster's default class is used.
    assert claim.get("storageClassName") == settings.get("workbench_storage_class")
    assert claim["accessModes"] == ["ReadWriteOnce"]


def test_pods_run_unprivileged(rendered):
    _, _, _, docs = rendered
    for workload in workloads(docs):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsUser"] > 0
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]


def test_postgres_creates_the_mlflow_database_and_probes_with_pg_isready():
    docs = all_documents(render_role("postgres"))
    (container,) = containers(docs)
    assert env_of(container)["POSTGRES_DB"]["value"] == tenant.DATABASE
    for probe in ("readinessProbe", "livenessProbe"):
        assert "pg_isready -h 127.0.0.1" in " ".join(container[probe]["exec"]["command"])
    statefulset = find(docs, "StatefulSet", "postgres")
    assert statefulset["spec"]["serviceName"] == "postgres-headless"
    assert find(docs, "Service", "postgres-headless")["spec"]["clusterIP"] == "None"


def test_object_store_serves_api_and_console_and_makes_the_tenants_bucket():
    """The SeaweedFS specifics are in test_object_store_manifests.py."""
    assert role_defaults("object_store")["object_store_bucket"] == tenant.BUCKET
    server, console = containers(all_documents(render_role("object_store")))
    assert "-s3.port=9000" in server["args"] and "-port=9001" in console["args"]


def pgadmin_server_list(docs):
    return json.loads(find(docs, "ConfigMap", "pgadmin-servers")["data"]["servers.json"])


def keys_anywhere(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from keys_anywhere(item)
    elif isinstance(value, list):
        for item in value:
            yield from keys_anywhere(item)


@pytest.mark.parametrize("servers", [None, [
    {"name": "Workbench", "host": "postgres", "port": 5432, "maintenance_db": "mlflow", "username": "workbench_admin"},
    {"name": "Lab archive", "host": "archive.lab", "username": "reader", "group": "Lab", "sslmode": "require"},
]], ids=["default", "two-servers"])
def test_pgadmin_registers_the_servers_without_a_password(servers):
    docs = all_documents(render_role("pgadmin", {"pgadmin_servers": servers} if servers else {}))
    listing = pgadmin_server_list(docs)
    assert not [k for k in keys_anywhere(listing) if "pass" in k.lower()], listing
    first = listing["Servers"]["1"]
    assert (first["Host"], first["Port"], first["MaintenanceDB"], first["Username"]) == (
        "postgres", 5432, tenant.DATABASE, "workbench_admin")
    if servers:
        second = listing["Servers"]["2"]
        assert (second["Group"], second["Port"], second["ConnectionParameters"]["sslmode"]) == ("Lab", 5432, "require")
    # pgAdmin reads the list from the file the ConfigMap is mounted as.
    deployment = find(docs, "Deployment", "pgadmin")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "servers")
    assert env_of(container)["PGADMIN_SERVER_JSON_FILE"]["value"] == mount["mountPath"] + "/servers.json"


def test_pgadmin_restarts_when_its_server_list_changes():
    def checksum(settings):
        deployment = find(all_documents(render_role("pgadmin", settings)), "Deployment", "pgadmin")
        return deployment["spec"]["template"]["metadata"]["annotations"]["enertef.workbench/servers-checksum"]
    other = [{"name": "Other", "host": "elsewhere", "username": "workbench_admin"}]
    assert checksum({}) == checksum({}) != checksum({"pgadmin_servers": other})


def test_pgadmin_behind_a_path_and_config_settings():
    docs = all_documents(render_role("pgadmin", {
        "pgadmin_url_path": "/pgadmin",
        "pgadmin_config": {"ENHANCED_COOKIE_PROTECTION": "False"},
        "pgadmin_replace_servers_on_startup": True}))
    (container,) = containers(docs)
    env = env_of(container)
    assert env["SCRIPT_NAME"]["value"] == "/pgadmin"
    assert env["PGADMIN_CONFIG_ENHANCED_COOKIE_PROTECTION"]["value"] == "False"
    assert env["PGADMIN_REPLACE_SERVERS_ON_STARTUP"]["value"] == "True"
    assert "PGADMIN_CONFIG_ALLOW_SPECIAL_EMAIL_DOMAINS" not in env
    assert container["readinessProbe"]["httpGet"]["path"] == "/pgadmin/misc/ping"
    # Defaults: served at the root, the generated admin@workbench.local login accepted.
    default_env = env_of(containers(all_documents(render_role("pgadmin")))[0])
    assert "SCRIPT_NAME" not in default_env
    assert default_env["PGADMIN_CONFIG_ALLOW_SPECIAL_EMAIL_DOMAINS"]["value"] == "['local']"


# --- bad settings -----------------------------------------------------------------------------

@pytest.mark.parametrize("role, setting, where", [
    ("postgres", {"postgres_port": "five-four-three-two"}, "spec/ports/0/port"),
    ("postgres", {"postgres_run_as_user": "postgres"}, "spec/securityContext/"),
    ("object_store", {"object_store_node_ports": {"api": "9000/tcp", "console": 30901}}, "spec/ports/0/nodePort"),
    ("object_store", {"object_store_resources": ["1", "cpu"]}, "resources"),
    ("pgadmin", {"pgadmin_container_port": "http"}, "containerPort"),
    ("pgadmin", {"pgadmin_node_port": "30o50"}, "nodePort"),
], ids=["postgres-port", "postgres-uid", "object-store-node-port", "object-store-resources",
        "pgadmin-container-port", "pgadmin-node-port"])
def test_a_broken_setting_fails_validation(role, setting, where, k8s_validate):
    problems = k8s_validate(all_documents(render_role(role, setting)))
    assert problems and any(where in p for p in problems), problems


def refusal_case(name, role, settings):
    """A block running ``role`` with ``settings``; its rescue records the failure message under ``name``."""
    return {
        "name": "Refuse " + name,
        "block": [{"name": "Run " + role, "ansible.builtin.include_role": {"name": "enertef.workbench." + role},
                   "vars": settings}],
        "rescue": [{"name": "Record the refusal", "ansible.builtin.set_fact": {
            "refusals": "{{ (refusals | default({})) | combine({'%s': ansible_failed_result.msg}) }}" % name}}],
    }


ALL_SETTINGS = ["postgres_storage_size", "postgres_node_port", "object_store_node_ports", "object_store_bucket",
                "object_store_storage_size", "pgadmin_url_path", "pgadmin_node_port", "pgadmin_storage_size"]


def test_roles_refuse_bad_settings_before_touching_a_cluster(playbook):
    """Real ansible-playbook runs: the role's argument spec or preflight stops a setting no schema catches.

    There is no cluster here, so a role that got as far as a Kubernetes call would fail
    with a connection error instead of the message naming the setting.
    """
    cases = {
        "postgres_size": ("postgres", {"postgres_storage_size": "10 GB"}, "postgres_storage_size"),
        "postgres_node_port": ("postgres", {"postgres_node_port": 5432}, "postgres_node_port"),
        "postgres_port": ("postgres", {"postgres_port": "fast"}, "postgres_port"),
        "object_store_type": ("object_store", {"object_store_service_type": "Nodeport"}, "object_store_service_type"),
        "object_store_bucket": ("object_store", {"object_store_bucket": "MLflow_Artifacts"}, "object_store_bucket"),
        "object_store_backend": ("object_store", {"object_store_backend": "ceph"}, "object_store_backend"),
        "object_store_minio": ("object_store", {"object_store_backend": "minio"}, "object_store_minio_image"),
        "pgadmin_password": ("pgadmin", {"pgadmin_servers": [
            {"name": "x", "host": "postgres", "username": "u", "password": "{{ lookup('env', 'X') }}"}]},
            "must not carry a password"),
        "pgadmin_path": ("pgadmin", {"pgadmin_url_path": "pgadmin/"}, "pgadmin_url_path"),
    }
    play = {"name": "Each service role refuses a bad setting", "hosts": "localhost", "gather_facts": False,
            "tasks": [refusal_case(name, role, settings) for name, (role, settings, _) in cases.items()]
            + [{"name": "Show the refusals", "ansible.builtin.debug": {"var": "refusals"}}]}
    text = yaml.safe_dump([play], sort_keys=False)
    result = playbook(text)
    assert result.rc == 0, result
    shown = [r for name, _, r in result.task_results() if name == "Show the refusals"][0]["refusals"]
    assert sorted(shown) == sorted(cases), result
    for name, (_, _, expected) in cases.items():
        assert expected in shown[name], (name, shown[name])
        # Only the bad setting is named, not its well-set neighbours.
        assert sum(setting in shown[name] for setting in ALL_SETTINGS) <= 1, shown[name]
    # Nothing after the checks ran: no task of any role read from (or wrote to) a cluster.
    ran = {task for task, _, _ in result.task_results()}
    assert not [task for task in ran if task.startswith(("Read the", "Apply the", "Wait until", "Create the"))], ran
