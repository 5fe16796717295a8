"""The hub as the chart builds it from the role's values, with the real JupyterHub and KubeSpawner code.

The chart is rendered with ``helm template``; its hub ConfigMap and Secret are
laid out as the hub Deployment mounts them and the chart's own
jupyterhub_config.py runs (which runs our hub.extraConfig). From that config:

* the real configured Authenticator (JupyterHub 5.5 SharedPasswordAuthenticator
  wrapped by workbench_hub) logs users in;
* the real KubeSpawner (jupyterhub-kubespawner 7) runs the pre_spawn_hook and
  builds alice's pod manifest. Its Kubernetes API client is mocked because there
  is no cluster here: only ``read_namespaced_secret`` is answered (the Secret
  exists, does not exist, or lacks keys).
"""
import asyncio
import base64
from unittest import mock

import pytest
from kubernetes_asyncio.client import ApiClient, V1ObjectMeta, V1Secret
from kubernetes_asyncio.client.rest import ApiException
from tornado import web

from _jupyterhub import ADMINS, CREDENTIALS, NAMESPACE, helm_template, hub_config, template_values
from ansible_collections.enertef.workbench.plugins.module_utils import tenant

pytestmark = pytest.mark.render


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("hub")
    config, directory = hub_config(helm_template(template_values(), tmp_path), tmp_path)
    return config


# --- login -----------------------------------------------------------------

GOOD_NAMES = ["alice", "bob_2", "a", "x" * 32, "data_team_7"]
HOSTILE_NAMES = [
    "Alice", "ALICE", " alice", "alice ", "al ice", "alice\n", "", "x" * 33, "1alice", "_alice",
    "robert'); drop table students;--", "alice\"", "a/b", "..", "../etc/passwd", "alice.smith",
    "al-ice", "\u00e5lice", "alice\u200b", "alice%s", "postgres", "public", "pg_monitor",
    "information_schema", "root", "admin", "mlflow", "group_ml", "workbench_x", "kube_system",
]


def authenticator(config, **traits):
    """An instance of the authenticator class the hub was configured with."""
    cls = config.JupyterHub.authenticator_class
    instance = cls(config=config)
    for name, value in traits.items():
        setattr(instance, name, value)
    return instance


def login(instance, name, password):
    return asyncio.run(instance.get_authenticated_user(None, {"username": name, "password": password}))


def test_hub_uses_shared_password_login_wrapped_with_the_name_rule(hub):
    from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
    cls = hub.JupyterHub.authenticator_class
    assert issubclass(cls, SharedPasswordAuthenticator) and cls.__name__ == "WorkbenchSharedPasswordAuthenticator"
    # The password from secrets_credentials reached the configured instance.
    assert authenticator(hub).user_password == CREDENTIALS["hub_shared_password"]


@pytest.mark.parametrize("name", GOOD_NAMES + HOSTILE_NAMES)
def test_hub_login_and_tenant_rule_give_the_same_verdict(hub, name):
    """Every name is declared, so only the name rule decides; the hub refuses with the rule's message."""
    instance = authenticator(hub, allowed_users=set(GOOD_NAMES + HOSTILE_NAMES))
    problem = tenant.name_problem(name)
    if problem is None:
        assert login(instance, name, CREDENTIALS["hub_shared_password"]) == {
            "name": name, "admin": False, "groups": [], "auth_state": None}
    else:
        with pytest.raises(web.HTTPError) as refused:
            login(instance, name, CREDENTIALS["hub_shared_password"])
        assert refused.value.status_code == 403
        assert refused.value.log_message % refused.value.args == problem


def test_only_declared_users_log_in(hub):
    instance = authenticator(hub)
    password = CREDENTIALS["hub_shared_password"]
    assert login(instance, "alice", password)["name"] == "alice"
    assert login(instance, "carol", password)["name"] == "carol"
    assert login(instance, "bob", password) is None, "bob is declared absent (off-boarded)"
    assert login(instance, "mallory", password) is None, "mallory is not declared"
    assert login(instance, "alice", password + "x") is None, "wrong password"


def test_admins_need_the_admin_password(hub):
    instance = authenticator(hub)
    admin = ADMINS[0]
    assert login(instance, admin, CREDENTIALS["hub_shared_password"]) is None
    assert login(instance, admin, CREDENTIALS["hub_admin_password"])["admin"] is True


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


def test_alice_pod_has_the_workbench_image_resources_and_home(hub):
    pod = spawn(hub, "alice", {"workbench-user-alice": user_secret("alice")})[1]
    container = pod["spec"]["containers"][0]
    assert container["image"] == "k3d-workbench-registry.localhost:5001/workbench-notebook:latest"
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


def test_other_api_errors_are_not_hidden(hub):
    class Forbidden(dict):
        def __contains__(self, name):
            raise ApiException(status=403, reason="Forbidden")

    with pytest.raises(ApiException) as failed:
        spawn(hub, "alice", Forbidden())
    assert failed.value.status == 403
