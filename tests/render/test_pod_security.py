"""Pod Security Admission: the workbench namespace enforces "restricted", and every pod meets it.

The namespace comes from the secrets role's template; the pods from every role
that runs something in that namespace (postgres, object_store, pgadmin,
model_serving) and from the hub chart (helm template with the role's values).
User pods are checked on the manifest KubeSpawner builds (test_jupyterhub_hub.py).
"""
import pytest
import yaml

from _jupyterhub import helm_template, template_values
from _pod_security import restricted_problems, workload_pod_specs
from _render import all_documents, render_role, render_role_isolated, render_template

pytestmark = pytest.mark.render


def test_namespace_enforces_audits_and_warns_restricted(k8s_validate):
    namespace = yaml.safe_load(render_template("secrets", "namespace.yaml.j2", {"workbench_namespace": "lab"}))
    assert k8s_validate([namespace]) == []
    labels = namespace["metadata"]["labels"]
    assert namespace["metadata"]["name"] == "lab"
    for mode in ("enforce", "audit", "warn"):
        assert labels["pod-security.kubernetes.io/" + mode] == "restricted"
        assert labels["pod-security.kubernetes.io/%s-version" % mode] == "v1.35"


@pytest.mark.parametrize("role", ["postgres", "object_store", "pgadmin"])
def test_service_pods_meet_restricted(role):
    specs = workload_pod_specs(all_documents(render_role(role)))
    assert specs, role
    assert {name: restricted_problems(spec) for name, spec in specs.items()} == {name: [] for name in specs}


def test_model_serving_pods_meet_restricted():
    docs = render_role_isolated("model_serving", {"model_serving_tenant": "alice", "model_serving_model_name": "iris",
                                                  "model_serving_model_version": "1", "model_serving_token": "t"})
    specs = workload_pod_specs(docs)
    assert len(specs) == 2
    assert {name: restricted_problems(spec) for name, spec in specs.items()} == {name: [] for name in specs}


def test_hub_chart_pods_meet_restricted(tmp_path):
    specs = workload_pod_specs(helm_template(template_values(), tmp_path))
    assert {"Deployment/hub", "Deployment/proxy"} <= set(specs)
    assert {name: restricted_problems(spec) for name, spec in specs.items()} == {name: [] for name in specs}


def test_checker_refuses_what_restricted_refuses():
    good = {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": False,
                                                             "capabilities": {"drop": ["ALL"]}}}]}
    assert restricted_problems(good) == []
    root = dict(good, securityContext={"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}})
    assert restricted_problems(root) == ["pod runAsUser is 0", "containers[c]: runAsNonRoot is not true (pod or container)"]
    host = dict(good, hostNetwork=True, volumes=[{"name": "h", "hostPath": {"path": "/"}}])
    assert restricted_problems(host) == ["hostNetwork is set", "volume h is of type hostPath"]
    caps = dict(good, containers=[{"name": "c", "securityContext": {"allowPrivilegeEscalation": False,
                                                                    "capabilities": {"add": ["NET_ADMIN"]}}}])
    assert restricted_problems(caps) == ["containers[c]: capabilities do not drop ALL", "containers[c] adds capabilities NET_ADMIN"]
