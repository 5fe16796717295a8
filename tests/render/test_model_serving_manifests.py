"""The model_serving role's manifests, rendered by Ansible's templar and validated for 1.31.

Besides validity: the API gets exactly the tenant's Secret (named by the
collection's naming function) and the model selection, the page gets no
credentials and points at the API's Service, images are the pinned ones, and
the role refuses bad settings (with ansible-playbook, before reaching a cluster).
"""
import pathlib

import pytest

from _render import render_role_isolated
from ansible_collections.enertef.workbench.plugins.module_utils.tenant import tenant_for

pytestmark = pytest.mark.render
ROOT = pathlib.Path(__file__).resolve().parents[2]


def render_model_serving(overrides):
    return render_role_isolated("model_serving", overrides)


SETTINGS = {"model_serving_tenant": "alice", "model_serving_model_name": "Iris Classifier"}


def by_name(docs):
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def env_of(container):
    return {e["name"]: e.get("value") for e in container.get("env", [])}


@pytest.mark.parametrize("overrides", [
    {},
    {"model_serving_service_type": "NodePort", "model_serving_node_ports": {"api": 30800, "ui": 30851},
     "model_serving_model_alias": "", "model_serving_model_version": "3", "workbench_namespace": "lab"},
])
def test_manifests_are_valid_and_wired(k8s_validate, overrides):
    docs = render_model_serving(dict(SETTINGS, **overrides))
    assert k8s_validate(docs) == []
    objects = by_name(docs)
    assert set(objects) == {("Deployment", "model-iris-classifier"), ("Service", "model-iris-classifier"),
                            ("Deployment", "model-iris-classifier-ui"), ("Service", "model-iris-classifier-ui")}
    api = objects[("Deployment", "model-iris-classifier")]["spec"]["template"]["spec"]["containers"][0]
    assert api["envFrom"] == [{"secretRef": {"name": tenant_for("alice")["k8s_secret"]}}]
    env = env_of(api)
    assert env["WORKBENCH_MODEL_NAME"] == "Iris Classifier"
    if overrides:
        assert (env["WORKBENCH_MODEL_ALIAS"], env["WORKBENCH_MODEL_VERSION"]) == ("", "3")
        assert objects[("Service", "model-iris-classifier")]["spec"]["ports"][0]["nodePort"] == 30800
        assert all(d["metadata"]["namespace"] == "lab" for d in docs)
    else:
        assert (env["WORKBENCH_MODEL_ALIAS"], env["WORKBENCH_MODEL_VERSION"]) == ("champion", "")
        assert "nodePort" not in objects[("Service", "model-iris-classifier")]["spec"]["ports"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/health"
    ui = objects[("Deployment", "model-iris-classifier-ui")]["spec"]["template"]["spec"]["containers"][0]
    assert "envFrom" not in ui and not any("SECRET" in name or "PASSWORD" in name for name in env_of(ui))
    assert env_of(ui)["WORKBENCH_SERVING_URL"].startswith("http://model-iris-classifier.")
    for container in (api, ui):
        assert container["image"].endswith("/workbench-model-serving:0.1.0-mlflow3.17.2")
        assert container["securityContext"]["allowPrivilegeEscalation"] is False


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
    ({"model_serving_model_name": "iris"}, "model_serving_tenant: not set"),
    ({"model_serving_model_name": "iris", "model_serving_tenant": "Robert'); DROP"}, "model_serving_tenant:"),
    ({"model_serving_tenant": "alice"}, "needs model_serving_model_name"),
    ({"model_serving_tenant": "alice", "model_serving_model_name": "iris", "model_serving_model_version": "2"},
     "exactly one of"),
    ({"model_serving_tenant": "alice", "model_serving_model_name": "iris", "model_serving_model_alias": "",
      "model_serving_model_version": "latest"}, "numeric model_serving_model_version"),
])
def test_role_refuses_bad_settings_before_any_change(tmp_path, extra, message):
    from fixtures.playbook import run_playbook

    result = run_playbook(PLAY, tmp_path, extra_vars=dict(extra, model_serving_image_build=False))
    assert result.rc != 0
    assert result.changed == 0
    assert any(message in m for m in result.failure_messages), result
