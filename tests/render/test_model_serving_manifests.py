"""The model_serving role's manifests, rendered by Ansible's templar and validated for 1.35.

Besides validity: the API gets exactly the tenant's Secret (named by the
collection's naming function) and the model selection, the page gets no
credentials and points at the API's Service, images are the pinned ones, and
the role refuses bad settings (with ansible-playbook, before reaching a cluster).
"""
import base64
import pathlib
import re
import secrets

import pytest

from _render import all_documents, render_role, render_role_isolated
from ansible_collections.enertef.workbench.plugins.module_utils.tenant import tenant_for

pytestmark = pytest.mark.render
ROOT = pathlib.Path(__file__).resolve().parents[2]


def render_model_serving(overrides):
    return render_role_isolated("model_serving", overrides)


# The token the role would have generated (per test run; nothing literal in the repository).
TOKEN = secrets.token_urlsafe(32)
SETTINGS = {"model_serving_tenant": "alice", "model_serving_model_name": "Iris Classifier",
            "model_serving_model_version": "7", "model_serving_token": TOKEN}


def by_name(docs):
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def env_of(container):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


@pytest.mark.parametrize("overrides", [
    {},
    {"model_serving_service_type": "NodePort", "model_serving_node_ports": {"api": 30800, "ui": 30851},
     "model_serving_model_version": "3", "workbench_namespace": "lab"},
])
def test_manifests_are_valid_and_wired(k8s_validate, overrides):
    docs = render_model_serving(dict(SETTINGS, **overrides))
    assert k8s_validate(docs) == []
    objects = by_name(docs)
    assert set(objects) == {("Deployment", "model-iris-classifier"), ("Service", "model-iris-classifier"),
                            ("Deployment", "model-iris-classifier-ui"), ("Service", "model-iris-classifier-ui"),
                            ("NetworkPolicy", "model-iris-classifier"), ("NetworkPolicy", "model-iris-classifier-ui"),
                            ("Secret", "model-iris-classifier-token")}
    api = objects[("Deployment", "model-iris-classifier")]["spec"]["template"]["spec"]["containers"][0]
    assert api["envFrom"] == [{"secretRef": {"name": tenant_for("alice")["k8s_secret"]}}]
    env = env_of(api)
    assert env["WORKBENCH_MODEL_NAME"] == "Iris Classifier"
    # a pinned version, never an alias that can be moved to other code
    assert "WORKBENCH_MODEL_ALIAS" not in env
    token_ref = {"secretKeyRef": {"name": "model-iris-classifier-token", "key": "token"}}
    assert env["WORKBENCH_SERVING_TOKEN"] == token_ref
    secret = objects[("Secret", "model-iris-classifier-token")]
    assert base64.b64decode(secret["data"]["token"]).decode() == TOKEN
    if overrides:
        assert env["WORKBENCH_MODEL_VERSION"] == "3"
        assert objects[("Service", "model-iris-classifier")]["spec"]["ports"][0]["nodePort"] == 30800
        assert all(d["metadata"]["namespace"] == "lab" for d in docs)
    else:
        assert env["WORKBENCH_MODEL_VERSION"] == "7"
        assert "nodePort" not in objects[("Service", "model-iris-classifier")]["spec"]["ports"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/health"
    ui = objects[("Deployment", "model-iris-classifier-ui")]["spec"]["template"]["spec"]["containers"][0]
    # the page gets the API's token and nothing of the tenant's
    assert "envFrom" not in ui and not any("SECRET" in name or "PASSWORD" in name for name in env_of(ui))
    assert env_of(ui)["WORKBENCH_SERVING_TOKEN"] == token_ref
    assert env_of(ui)["WORKBENCH_SERVING_URL"].startswith("http://model-iris-classifier.")
    for container in (api, ui):
        assert re.fullmatch(r"k3d-workbench-registry.localhost:5001/workbench-model-serving:mlflow3.17.2-[0-9a-f]{12}",
                            container["image"]), container["image"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False


def pod_labels(doc):
    return doc["spec"]["template"]["metadata"]["labels"]


def admits(policy, labels, namespace_labels=None):
    """Ports on which ``policy``'s ingress admits a pod with ``labels`` (same namespace unless namespace_labels)."""
    ports = []
    for rule in policy["spec"]["ingress"]:
        for peer in (p for p in rule["from"] if "ipBlock" not in p):  # addresses outside the pod network
            same_namespace = "namespaceSelector" not in peer
            namespace_ok = same_namespace if namespace_labels is None else (
                not same_namespace and peer["namespaceSelector"]["matchLabels"].items() <= namespace_labels.items())
            if namespace_ok and peer.get("podSelector", {}).get("matchLabels", {}).items() <= labels.items():
                ports += [p["port"] for p in rule["ports"]]
    return ports


def egress_to(policy, labels, namespace_labels=None):
    """Ports on which ``policy``'s egress reaches a pod with ``labels``."""
    ports = []
    for rule in policy["spec"]["egress"]:
        for peer in (p for p in rule["to"] if "ipBlock" not in p):
            same_namespace = "namespaceSelector" not in peer
            namespace_ok = same_namespace if namespace_labels is None else (
                not same_namespace and peer["namespaceSelector"]["matchLabels"].items() <= namespace_labels.items())
            if namespace_ok and peer.get("podSelector", {}).get("matchLabels", {}).items() <= labels.items():
                ports += [(p["port"], p["protocol"]) for p in rule["ports"]]
    return ports


USER_POD = {"component": "singleuser-server", "release": "jupyterhub", "hub.jupyter.org/username": "alice"}
TRAEFIK = ({"app.kubernetes.io/name": "traefik"}, {"kubernetes.io/metadata.name": "kube-system"})
KUBE_DNS = ({"k8s-app": "kube-dns"}, {"kubernetes.io/metadata.name": "kube-system"})


def test_network_policies_admit_the_clients_and_reach_only_the_data_servers():
    docs = render_model_serving(SETTINGS)
    objects = by_name(docs)
    api_policy = objects[("NetworkPolicy", "model-iris-classifier")]
    ui_policy = objects[("NetworkPolicy", "model-iris-classifier-ui")]
    api_pod = pod_labels(objects[("Deployment", "model-iris-classifier")])
    ui_pod = pod_labels(objects[("Deployment", "model-iris-classifier-ui")])
    # each policy selects its own pods, and only them
    assert api_policy["spec"]["podSelector"]["matchLabels"].items() <= api_pod.items()
    assert not api_policy["spec"]["podSelector"]["matchLabels"].items() <= ui_pod.items()
    assert ui_policy["spec"]["podSelector"]["matchLabels"].items() <= ui_pod.items()
    for policy in (api_policy, ui_policy):
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    # who may call: user pods, the page (API only), the ingress controller
    assert admits(api_policy, USER_POD) == [8000] and admits(api_policy, ui_pod) == [8000]
    assert admits(api_policy, *TRAEFIK) == [8000]
    assert admits(ui_policy, USER_POD) == [8501] and admits(ui_policy, *TRAEFIK) == [8501]
    pgadmin = {"app.kubernetes.io/name": "pgadmin", "app.kubernetes.io/part-of": "enertef-workbench"}
    hub = {"component": "hub", "release": "jupyterhub"}
    for stranger in (pgadmin, hub, {"app": "anything"}):
        assert admits(api_policy, stranger) == [] and admits(ui_policy, stranger) == []
    assert admits(api_policy, USER_POD, {"kubernetes.io/metadata.name": "other"}) == []
    # what the served (tenant) code may reach: PostgreSQL, the object store (contract 2's pod label), DNS
    postgres_pod = pod_labels(next(d for d in all_documents(render_role("postgres")) if d["kind"] == "StatefulSet"))
    assert egress_to(api_policy, postgres_pod) == [(5432, "TCP")]
    assert egress_to(api_policy, {"app.kubernetes.io/name": "object-store"}) == [(9000, "TCP")]
    assert sorted(egress_to(api_policy, *KUBE_DNS)) == [(53, "TCP"), (53, "UDP")]
    for forbidden in (pgadmin, hub, ui_pod, USER_POD):
        assert egress_to(api_policy, forbidden) == []
    assert not [peer for rule in api_policy["spec"]["egress"] for peer in rule["to"] if "ipBlock" in peer], \
        "no address block: not the kube API, not the internet"
    # the page reaches the API only (and DNS)
    assert egress_to(ui_policy, api_pod) == [(8000, "TCP")] and egress_to(ui_policy, postgres_pod) == []


def test_postgres_admits_the_serving_api_and_not_the_page():
    """The other side of the join: the postgres NetworkPolicy lets the API pod (tenant credentials) in."""
    objects = by_name(render_model_serving(SETTINGS))
    policy = next(d for d in all_documents(render_role("postgres")) if d["kind"] == "NetworkPolicy")
    assert 5432 in admits(policy, pod_labels(objects[("Deployment", "model-iris-classifier")]))
    assert admits(policy, pod_labels(objects[("Deployment", "model-iris-classifier-ui")])) == []


def test_validation_fails_on_a_broken_manifest(k8s_validate):
    docs = render_model_serving(SETTINGS)
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "eight thousand"
    assert k8s_validate(docs)


PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - enertef.workbench.model_serving
"""


@pytest.mark.parametrize("extra, message", [
    ({"model_serving_model_name": "iris", "model_serving_model_version": "1"}, "model_serving_tenant: not set"),
    ({"model_serving_model_name": "iris", "model_serving_model_version": "1", "model_serving_tenant": "Robert'); DROP"},
     "model_serving_tenant:"),
    ({"model_serving_tenant": "alice", "model_serving_model_version": "2"}, "needs model_serving_model_name"),
    ({"model_serving_tenant": "alice", "model_serving_model_name": "iris"}, "as a number in model_serving_model_version"),
    ({"model_serving_tenant": "alice", "model_serving_model_name": "iris", "model_serving_model_version": "latest"},
     "an alias or \"latest\" is refused"),
    ({"model_serving_tenant": "alice", "model_serving_model_name": "iris", "model_serving_model_version": "0"},
     "as a number in model_serving_model_version"),
])
def test_role_refuses_bad_settings_before_any_change(tmp_path, extra, message):
    from fixtures.playbook import run_playbook

    result = run_playbook(PLAY, tmp_path, extra_vars=dict(extra, model_serving_image_build=False,
                                                          workbench_state_dir=str(tmp_path / "state")))
    assert result.rc != 0
    assert result.changed == 0
    assert any(message in m for m in result.failure_messages), result
