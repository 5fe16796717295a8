"""Project repositories in the hub values: the list reaches every user pod as
WORKBENCH_PROJECT_REPOSITORIES (what workbench_launchers.repos reads), deploy key
Secrets are mounted read-only where the entries point, the role's own schema
check passes, and the chart renders manifests that validate for 1.35."""
import json

import pytest

from _jupyterhub import find, helm_template, hub_config, role_values, template_values

pytestmark = pytest.mark.render

REPOSITORIES = [
    {"url": "https://git.example.org/lab/mlops-airflow-DAGs.git"},
    {"url": "git@git.example.org:lab/private.git", "branch": "develop", "target": "work/private",
     "deploy_key_secret": "lab-deploy-key"},
]


def test_repositories_reach_the_pods_with_their_deploy_keys(tmp_path, k8s_validate):
    values = template_values({"jupyterhub_project_repositories": REPOSITORIES})
    entries = json.loads(values["singleuser"]["extraEnv"]["WORKBENCH_PROJECT_REPOSITORIES"])
    assert entries == [
        {"url": REPOSITORIES[0]["url"], "branch": "main", "target": ""},
        {"url": REPOSITORIES[1]["url"], "branch": "develop", "target": "work/private",
         "deploy_key": "/etc/workbench/deploy-keys/lab-deploy-key/ssh-privatekey"},
    ]
    from workbench_launchers.repos import parse_entries  # the pod's reader accepts what the hub sends
    assert [e["target"] for e in parse_entries(json.dumps(entries))] == ["mlops-airflow-DAGs", "work/private"]

    storage = values["singleuser"]["storage"]
    assert storage["extraVolumes"] == [{"name": "deploy-key-1", "secret": {
        "secretName": "lab-deploy-key", "defaultMode": 0o400}}]
    assert storage["extraVolumeMounts"] == [{"name": "deploy-key-1", "readOnly": True,
                                             "mountPath": "/etc/workbench/deploy-keys/lab-deploy-key"}]
    docs = helm_template(values, tmp_path)
    assert k8s_validate(docs) == []
    config, _ = hub_config(docs, tmp_path)
    assert json.loads(config.KubeSpawner.environment["WORKBENCH_PROJECT_REPOSITORIES"]) == entries
    assert config.KubeSpawner.volumes["deploy-key-1"]["secret"]["secretName"] == "lab-deploy-key"
    assert find(docs, "Deployment", "hub")


def test_no_repositories_adds_nothing():
    values = template_values({})
    assert "WORKBENCH_PROJECT_REPOSITORIES" not in values["singleuser"]["extraEnv"]
    assert "extraVolumes" not in values["singleuser"]["storage"]


def test_role_schema_check_passes_with_repositories(tmp_path):
    result, values = role_values(tmp_path, {"jupyterhub_project_repositories": REPOSITORIES})
    assert result.rc == 0, result
    assert "WORKBENCH_PROJECT_REPOSITORIES" in values["singleuser"]["extraEnv"]
