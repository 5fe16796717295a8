"""The shared ``k8s_validate`` fixture really rejects broken manifests.

Every rendering test trusts an empty problem list; these tests show the
fixture is strict (unknown fields), checks types and required fields for
Kubernetes 1.35, and reads multi-document YAML text as well as dicts.
"""
import copy

import pytest

pytestmark = pytest.mark.render

VALID_SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "postgres", "namespace": "workbench"},
    "spec": {"type": "NodePort", "selector": {"app": "postgres"},
             "ports": [{"name": "postgres", "port": 5432, "targetPort": "postgres", "nodePort": 30432}]},
}

VALID_DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "pgadmin"},
    "spec": {
        "selector": {"matchLabels": {"app": "pgadmin"}},
        "template": {
            "metadata": {"labels": {"app": "pgadmin"}},
            "spec": {"containers": [{"name": "pgadmin", "image": "docker.io/dpage/pgadmin4:9.8"}]},
        },
    },
}


def broken(doc, change):
    doc = copy.deepcopy(doc)
    change(doc)
    return doc


def test_valid_documents_have_no_problems(k8s_validate):
    assert k8s_validate([VALID_SERVICE, VALID_DEPLOYMENT]) == []


@pytest.mark.parametrize("doc, where", [
    # strict mode: a misspelt field is an error, not silently dropped by the API server
    (broken(VALID_SERVICE, lambda d: d["spec"].update(nodeport=30432)), "Service/postgres"),
    (broken(VALID_SERVICE, lambda d: d["spec"]["ports"][0].update(port="five")), "spec/ports/0/port"),
    (broken(VALID_DEPLOYMENT, lambda d: d["spec"]["template"]["spec"]["containers"][0].pop("name")),
     "Deployment/pgadmin"),
    (broken(VALID_DEPLOYMENT, lambda d: d["spec"].update(replicas="one")), "spec/replicas"),
    (broken(VALID_DEPLOYMENT, lambda d: d.update(kind="Deploymnet")), "Deploymnet/pgadmin"),
], ids=["unknown-field", "string-port", "container-without-name", "string-replicas", "unknown-kind"])
def test_broken_documents_are_reported(k8s_validate, doc, where):
    problems = k8s_validate([VALID_SERVICE, doc])
    assert len(problems) == 1, problems
    assert where in problems[0]


def test_reads_multi_document_yaml_text(k8s_validate):
    text = """
apiVersion: v1
kind: ConfigMap
metadata: {name: ok}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: bad}
data: {a: 1}
"""
    problems = k8s_validate(text)
    assert len(problems) == 1 and problems[0].startswith("ConfigMap/bad"), problems
