"""The hub as the chart builds it from the role's values, with the real JupyterHub and KubeSpawner code.

The chart is rendered with ``helm template``; its hub ConfigMap and Secret are
laid out as the hub Deployment mounts them and the chart's own
jupyterhub_config.py runs (which runs our hub.extraConfig). From that config:

* the real configured Authenticator (workbench_hub's WorkbenchLoginAuthenticator,
  a JupyterHub 5.5 Authenticator) logs users in against a logins file written
  with the users role's own login.py;
* the real KubeSpawner (jupyterhub-kubespawner 7) runs the pre_spawn_hook and
  builds alice's pod manifest. Its Kubernetes API client is mocked because there
  is no cluster here: only ``read_namespaced_secret`` is answered (the Secret
  exists, does not exist, or lacks keys).
"""
import asyncio
import base64
import secrets
from unittest import mock

import pytest
from kubernetes_asyncio.client import ApiClient, V1ObjectMeta, V1Secret
from kubernetes_asyncio.client.rest import ApiException
from tornado import web

from fixtures.hub import write_logins
from _jupyterhub import ADMINS, NAMESPACE, helm_template, hub_config, template_values
from ansible_collections.enertef.workbench.plugins.module_utils import tenant

pytestmark = pytest.mark.render


LOGINS = {name: secrets.token_urlsafe(24) for name in ["alice", "carol", "dora", "a", "bob_2", "x" * 32]}


@pytest.fixture(scope="module")
def logins_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("logins")
    write_logins(directory, LOGINS, admins=ADMINS)
    return directory


@pytest.fixture(scope="module")
def hub(tmp_path_factory, logins_dir):
    tmp_path = tmp_path_factory.mktemp("hub")
    config, directory = hub_config(helm_template(template_values(), tmp_path), tmp_path, logins_dir=logins_dir)
    return config


# --- login -----------------------------------------------------------------

GOOD_NAMES = ["alice", "bob_2", "a", "x" * 32]
HOSTILE_NAMES = [
    " alice", "alice ", "al ice", "alice\n", "", "x" * 33, "1alice", "_alice",
    "robert'); drop table students;--", "alice\"", "a/b", "..", "../etc/passwd", "alice.smith",
    "al-ice", "\u00e5lice", "alice\u200b", "alice%s", "postgres", "public", "pg_monitor",
    "information_schema", "root", "admin", "mlflow", "group_ml", "workbench_x", "kube_system",
]


def authenticator(config):
    """An instance of the authenticator class the hub was configured with."""
    return config.JupyterHub.authenticator_class(config=config)


def login(instance, name, password):
    return asyncio.run(instance.get_authenticated_user(None, {"username": name, "password": password}))


def test_hub_checks_each_users_own_password_from_the_logins_file(hub, logins_dir):
    cls = hub.JupyterHub.authenticator_class
    assert cls.__name__ == "WorkbenchLoginAuthenticator" and cls.logins_dir == str(logins_dir)
    instance = authenticator(hub)
    assert login(instance, "alice", LOGINS["alice"]) == {"name": "alice", "admin": False, "auth_state": None}
    assert login(instance, "alice", LOGINS["carol"]) is None, "carol's password does not open alice's login"
    assert login(instance, "alice", LOGINS["alice"] + "x") is None, "wrong password"
    assert login(instance, "alice", "") is None
    assert login(instance, "mallory", LOGINS["alice"]) is None, "not in the logins file"


def test_login_is_case_insensitive(hub):
    assert login(authenticator(hub), "Alice", LOGINS["alice"])["name"] == "alice"
    assert login(authenticator(hub), "ALICE", LOGINS["alice"])["name"] == "alice"


@pytest.mark.parametrize("name", GOOD_NAMES + HOSTILE_NAMES)
def test_hub_login_and_tenant_rule_give_the_same_verdict(hub, name):
    """After lower-casing only the name rule decides; the hub refuses with the rule's message."""
    instance = authenticator(hub)
    problem = tenant.name_problem(name.lower())
    if problem is None:
        assert login(instance, name, LOGINS[name.lower()])["name"] == name.lower()
    else:
        with pytest.raises(web.HTTPError) as refused:
            login(instance, name, "any password")
        assert refused.value.status_code == 403
        assert refused.value.log_message % refused.value.args == problem


def test_the_logins_file_is_read_at_each_login_and_refresh(hub, tmp_path):
    """Off-boarding: a user dropped from the file cannot log in and their session ends, without a hub restart."""
    directory = tmp_path / "logins"
    write_logins(directory, {"alice": LOGINS["alice"], "carol": LOGINS["carol"]})
    instance = authenticator(hub)
    instance.__class__.logins_dir = str(directory)
    try:
        assert login(instance, "carol", LOGINS["carol"])["name"] == "carol"
        carol = mock.Mock()
        carol.name = "carol"
        assert asyncio.run(instance.refresh_user(carol)) is True
        write_logins(directory, {"alice": LOGINS["alice"]})
        assert login(instance, "carol", LOGINS["carol"]) is None
        assert asyncio.run(instance.refresh_user(carol)) is False, "the session must end"
        (directory / "logins.json").unlink()
        with pytest.raises(web.HTTPError, match="no hub logins yet"):
            login(instance, "alice", LOGINS["alice"])
    finally:
        instance.__class__.logins_dir = hub.JupyterHub.authenticator_class.logins_dir


def test_nobody_is_allowed_by_being_in_the_hub_database(hub):
    instance = authenticator(hub)
    assert instance.allow_all is False and instance.allow_existing_users is False
    assert instance.admin_users == set()


def test_lab_authenticators_use_the_logins_file_as_allow_list(tmp_path, logins_dir):
    """With OIDC/LDAP the identity provider checks the password and the logins file says who may enter.

    oauthenticator and ldapauthenticator are not installed here: JupyterHub's
    DummyAuthenticator (accepts any password, as if an identity provider had
    checked it) stands in for them, wrapped by the same configure() code.
    """
    from jupyterhub.auth import DummyAuthenticator
    values = template_values({"jupyterhub_authenticator": "ldap", "jupyterhub_ldap": {"server_address": "ldap.lab"},
                              "jupyterhub_authenticator_classes": {"ldap": "jupyterhub.auth.DummyAuthenticator"}})
    config = hub_config(helm_template(values, tmp_path), tmp_path, logins_dir=logins_dir)[0]
    cls = config.JupyterHub.authenticator_class
    assert issubclass(cls, DummyAuthenticator) and cls.__name__ == "WorkbenchDummyAuthenticator"
    instance = cls(config=config)
    assert login(instance, "Alice", "checked by the identity provider")["name"] == "alice"
    assert login(instance, "mallory", "checked by the identity provider") is None
    with pytest.raises(web.HTTPError):
        login(instance, "pg_monitor", "checked by the identity provider")


def test_admins_get_a_role_that_cannot_open_servers(hub):
    from jupyterhub.scopes import expand_scopes
    roles = {role["name"]: role for role in hub.JupyterHub.load_roles}
    assert roles["admin"]["users"] == [], "nobody holds JupyterHub's admin role (it includes access:servers)"
    admin = roles["workbench-admin"]
    assert admin["users"] == ADMINS
    scopes = expand_scopes(admin["scopes"])
    assert {"admin-ui", "list:users", "servers", "delete:servers"} <= scopes
    assert not scopes & {"access:servers", "tokens", "shares", "admin:users", "admin:auth_state",
                         "admin:server_state", "admin:services"}
    offboarding = roles["workbench-offboarding"]
    assert offboarding["services"] == ["workbench-offboarding"]
    assert expand_scopes(offboarding["scopes"]) == {"list:users", "read:users:name", "read:servers", "delete:servers"}
    service = [s for s in hub.JupyterHub.services if s["name"] == "workbench-offboarding"]
    assert len(service) == 1 and service[0]["command"][1].endswith("/workbench_hub.py")


# --- spawning ----------------------------------------------------------------

def user_secret(name, keys=tenant.SECRET_KEYS):
    return V1Secret(metadata=V1ObjectMeta(name=tenant.tenant_for(name)["k8s_secret"], namespace=NAMESPACE),
                    data={key: base64.b64encode(b"value").decode() for key in keys})


def mocked_core_api(secrets):
    """A stand-in for the cluster's CoreV1Api that knows only ``secrets`` (name -> V1Secret)."""
    api = mock.Mock()

    async def read_namespaced_secret(name, namespace):
        assert namespace == NAMESPACE
        if name not in secrets:
            raise ApiException(status=404, reason="Not Found")
        return secrets[name]

    api.read_namespaced_secret = mock.AsyncMock(side_effect=read_namespaced_secret)
    return api


def spawn(config, user_name, secrets, profile=None):
    """Run the hub's pre_spawn_hook and build the pod manifest with the real KubeSpawner.

    ``profile``: the slug the user picked on the spawn page (None: the default profile).
    """
    from kubespawner import KubeSpawner
    from kubespawner.spawner import MockObject

    async def build():
        user = MockObject()
        user.name, user.id, user.url = user_name, 1, "/user/%s/" % user_name
        api = mocked_core_api(secrets)
        with mock.patch("kubespawner.spawner.load_config"), \
                mock.patch("kubespawner.spawner.shared_client", return_value=api):
            spawner = KubeSpawner(config=config, user=user, _mock=True)
        spawner.api_token = "token-of-the-hub-for-this-server"
        spawner.user_options = {"profile": profile} if profile else {}
        # What Spawner.start does first: apply the chosen profile, then the hook.
        await spawner.load_user_options()
        await spawner.run_pre_spawn_hook()
        pod = await spawner.get_pod_manifest()
        # The manifest as KubeSpawner sends it to the API server (camelCase JSON).
        async with ApiClient() as client:
            return api, client.sanitize_for_serialization(pod)
    return asyncio.run(build())


def secret_references(node):
    """Every Secret a pod manifest references, wherever (envFrom, env valueFrom, volumes)."""
    if isinstance(node, list):
        return [name for item in node for name in secret_references(item)]
    if not isinstance(node, dict):
        return []
    found = []
    for key, value in node.items():
        if key in ("secretRef", "secretKeyRef"):
            found.append(value["name"])
        elif key == "secret" and isinstance(value, dict):
            found.append(value["secretName"])
        else:
            found.extend(secret_references(value))
    return found


def test_alice_pod_gets_alice_secret_and_nothing_else(hub):
    secrets = {tenant.tenant_for(name)["k8s_secret"]: user_secret(name) for name in ("alice", "carol")}
    api, pod = spawn(hub, "alice", secrets)
    api.read_namespaced_secret.assert_awaited_once_with(name="workbench-user-alice", namespace=NAMESPACE)
    container = pod["spec"]["containers"][0]
    assert container["envFrom"] == [{"secretRef": {"name": "workbench-user-alice", "optional": False}}]
    assert secret_references(pod) == ["workbench-user-alice"]
    env = {var["name"]: var for var in container["env"]}
    # No credential is written into the pod spec: they come from alice's Secret only.
    assert not set(env) & set(tenant.SECRET_KEYS)
    assert not [name for name in env if "PASSWORD" in name or "SECRET" in name]
    assert not [var for var in env.values() if "valueFrom" in var]
    # MLflow records getpass.getuser() (LOGNAME first) as a run's creator: alice, not jovyan.
    assert env["LOGNAME"]["value"] == "alice"


def test_alice_pod_has_the_workbench_image_resources_and_home(hub):
    pod = spawn(hub, "alice", {"workbench-user-alice": user_secret("alice")})[1]
    container = pod["spec"]["containers"][0]
    assert container["image"] == "k3d-workbench-registry.localhost:5001/workbench-notebook:mlflow3.17.2-0123456789ab"
    gigabyte = 1024 ** 3  # KubeSpawner reads "1G" as 1 GiB
    assert container["resources"] == {"requests": {"cpu": 0.5, "memory": gigabyte},
                                      "limits": {"cpu": 2.0, "memory": 4 * gigabyte}}
    claims = [v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"] if "persistentVolumeClaim" in v]
    assert claims == ["claim-alice"]
    labels = pod["metadata"]["labels"]
    # User pods may talk to the hub, never to each other (network-access-singleuser is the proxy's).
    assert labels["hub.jupyter.org/network-access-hub"] == "true"
    assert "hub.jupyter.org/network-access-singleuser" not in labels


def test_profiles_set_the_pod_resources(hub, tmp_path):
    gigabyte = 1024 ** 3
    large = spawn(hub, "alice", {"workbench-user-alice": user_secret("alice")}, profile="large")[1]
    assert large["spec"]["containers"][0]["resources"] == {"requests": {"cpu": 2.0, "memory": 4 * gigabyte},
                                                           "limits": {"cpu": 4.0, "memory": 16 * gigabyte}}
    with pytest.raises(ValueError, match="gpu"):
        spawn(hub, "alice", {"workbench-user-alice": user_secret("alice")}, profile="gpu")
    gpu_hub = hub_config(helm_template(template_values({"jupyterhub_gpu_enabled": True}), tmp_path), tmp_path)[0]
    gpu = spawn(gpu_hub, "alice", {"workbench-user-alice": user_secret("alice")}, profile="gpu")[1]
    assert gpu["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert secret_references(gpu) == ["workbench-user-alice"]


def test_spawn_stops_when_the_user_has_no_secret(hub):
    with pytest.raises(Exception) as stopped:
        spawn(hub, "alice", {"workbench-user-carol": user_secret("carol")})
    assert type(stopped.value).__name__ == "MissingWorkbenchCredentials"
    assert str(stopped.value).startswith("no workbench credentials for alice: run playbooks/users.yml")


def test_spawn_stops_when_the_secret_lacks_keys(hub):
    incomplete = user_secret("alice", keys=[k for k in tenant.SECRET_KEYS if k != "PGPASSWORD"])
    with pytest.raises(Exception) as stopped:
        spawn(hub, "alice", {"workbench-user-alice": incomplete})
    assert "incomplete" in str(stopped.value) and "PGPASSWORD" in str(stopped.value)


def test_spawn_stops_when_a_secret_value_is_empty(hub):
    emptied = user_secret("alice")
    emptied.data["AWS_SECRET_ACCESS_KEY"] = ""
    with pytest.raises(Exception) as stopped:
        spawn(hub, "alice", {"workbench-user-alice": emptied})
    assert "incomplete" in str(stopped.value) and "AWS_SECRET_ACCESS_KEY" in str(stopped.value)


def test_a_user_in_no_group_spawns_with_an_empty_group_list(hub):
    no_group = user_secret("alice")
    no_group.data["WORKBENCH_GROUPS"] = ""  # what the users role renders for a user in no group
    pod = spawn(hub, "alice", {"workbench-user-alice": no_group})[1]
    assert secret_references(pod) == ["workbench-user-alice"]
    del no_group.data["WORKBENCH_GROUPS"]
    with pytest.raises(Exception, match="lacks WORKBENCH_GROUPS"):
        spawn(hub, "alice", {"workbench-user-alice": no_group})


def test_other_api_errors_are_not_hidden(hub):
    class Forbidden(dict):
        def __contains__(self, name):
            raise ApiException(status=403, reason="Forbidden")

    with pytest.raises(ApiException) as failed:
        spawn(hub, "alice", Forbidden())
    assert failed.value.status == 403


def test_user_pods_meet_pod_security_restricted(hub):
    from _pod_security import restricted_problems

    pod = spawn(hub, "alice", {"workbench-user-alice": user_secret("alice")})[1]
    assert restricted_problems(pod["spec"]) == []
    assert pod["spec"]["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_user_pod_without_the_role_security_contexts_is_refused(tmp_path):
    """The checker's control: the chart's own user pod (no seccomp, capabilities kept) is not restricted."""
    from _pod_security import restricted_problems

    values = template_values({"jupyterhub_singleuser_pod_security_context": {},
                              "jupyterhub_singleuser_container_security_context": {}})
    config = hub_config(helm_template(values, tmp_path), tmp_path)[0]
    problems = restricted_problems(spawn(config, "alice", {"workbench-user-alice": user_secret("alice")})[1]["spec"])
    assert any("seccompProfile" in p for p in problems) and any("drop ALL" in p for p in problems), problems


@pytest.mark.parametrize("public_url", ["https://workbench.lab.example", "http://localhost:8080"])
def test_hub_public_url_is_the_lab_url_so_cookies_are_secure_behind_tls(public_url, tmp_path):
    config = hub_config(helm_template(template_values({"jupyterhub_public_url": public_url}), tmp_path), tmp_path)[0]
    assert config.JupyterHub.public_url == public_url
