"""The airflow role's chart values, rendered by the role itself (ansible-playbook, tasks_from values.yml).

Checked: KubernetesExecutor without Redis or a bundled PostgreSQL, metadata from the
role's Secret, git-sync from the same repository the homes get
(jupyterhub_project_repositories), the deploy key handed over under the chart's key
name, the pipeline tenant's own Secret for MLflow, and bad settings refused.
The chart itself (and its values.schema.json) is rendered with helm only where it can
be fetched: set AIRFLOW_CHART to a local chart, or let helm pull it; on this machine
the chart repository is unreachable and that test skips with one line.
"""
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

from _render import SHARED, find, render_template, role_defaults
from ansible_collections.enertef.workbench.plugins.module_utils import tenant
from fixtures.external import unavailable
from fixtures.kubernetes import KUBERNETES_VERSION
from fixtures.playbook import run_playbook

pytestmark = pytest.mark.render

HELM = pathlib.Path(sys.executable).parent / "helm"
PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Render the Airflow values with the role
      ansible.builtin.include_role:
        name: enertef.workbench.airflow
        tasks_from: values.yml
    - name: Write them where the test reads them
      ansible.builtin.copy:
        content: "{{ airflow_values | to_nice_yaml }}"
        dest: "{{ values_file }}"
        mode: "0600"
"""
PROJECT_REPOS = [{"url": "git@git.example.org:lab/notebooks.git", "branch": "main",
                  "deploy_key_secret": "lab-deploy-key"}, {"url": "https://git.example.org/lab/other.git"}]
DAGS_REPO = {"url": "git@git.example.org:admins/airflow-dags.git", "branch": "main"}
KNOWN_HOSTS = "git.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtleW9mdGhlZ2l0c2VydmVyZm9ydGhldGVzdA"


def role_values(tmp_path, extra=None):
    values_file = tmp_path / "airflow-values.yaml"
    variables = {"values_file": str(values_file), "workbench_state_dir": str(tmp_path)}
    variables.update(extra or {})
    result = run_playbook(PLAY, tmp_path, extra_vars=variables)
    return result, (yaml.safe_load(values_file.read_text()) if values_file.exists() else None)


def dags_settings(tmp_path, **more):
    key = tmp_path / "dags-deploy-key"
    key.write_text("a key file for the test\n")
    return dict({"jupyterhub_project_repositories": PROJECT_REPOS, "airflow_dags_repository": DAGS_REPO,
                 "airflow_dags_ssh_key_file": str(key), "airflow_dags_known_hosts": KNOWN_HOSTS,
                 "airflow_dags_sub_path": "dags"}, **more)


def test_values_isolate_the_launcher_the_dags_and_the_tenant(tmp_path):
    result, values = role_values(tmp_path, dags_settings(tmp_path))
    assert result.rc == 0, result
    assert values["executor"] == "KubernetesExecutor"
    assert values["postgresql"]["enabled"] is False and values["redis"]["enabled"] is False
    assert values["data"] == {"metadataSecretName": "airflow-metadata"}
    # the chart's pod-launcher Role (pods/exec) is not made; the role's own is bound to this account
    assert values["allowPodLaunching"] is False
    assert values["scheduler"]["serviceAccount"] == {"create": True, "name": "airflow-scheduler"}
    assert values["securityContexts"]["containers"]["capabilities"] == {"drop": ["ALL"]}
    assert values["securityContexts"]["pod"]["seccompProfile"] == {"type": "RuntimeDefault"}
    git_sync = values["dags"]["gitSync"]
    assert git_sync["enabled"] is True
    assert (git_sync["repo"], git_sync["branch"], git_sync["subPath"]) == (DAGS_REPO["url"], "main", "dags")
    assert git_sync["sshKeySecret"] == "airflow-git-ssh" and git_sync["knownHosts"] == KNOWN_HOSTS
    # tenant credentials: the task pods' env only, from the copy in Airflow's namespace, every key
    assert "extraEnvFrom" not in values and "env" not in values
    env = values["workers"]["env"]
    assert [e["name"] for e in env] == list(tenant.SECRET_KEYS)
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in env} == {"airflow-pipeline-tenant"}
    assert values["defaultAirflowTag"] == values["airflowVersion"]


def test_without_a_dag_repository_git_sync_is_off_and_extra_values_merge(tmp_path):
    result, values = role_values(tmp_path, {"airflow_mlflow_tenant": "", "jupyterhub_project_repositories": PROJECT_REPOS,
                                            "airflow_extra_values": {"scheduler": {"replicas": 2}}})
    assert result.rc == 0, result
    assert values["dags"]["gitSync"] == {"enabled": False}, "the users' project repository is never the default"
    assert "workers" not in values
    assert values["scheduler"] == {"replicas": 2, "serviceAccount": {"create": True, "name": "airflow-scheduler"}}


@pytest.mark.parametrize("extra, problem", [
    ({"airflow_database": "mlflow"}, "not mlflow"),
    ({"airflow_db_user": "alice", "workbench_users": [{"name": "alice"}]}, "not a workbench user"),
    ({"airflow_mlflow_tenant": "Robert'); DROP"}, "airflow_mlflow_tenant a valid workbench user name"),
    ({"airflow_dags_repository": {"branch": "main"}}, "a mapping with a url"),
    ({"airflow_release_name": "Airflow_1"}, "DNS label"),
    ({"airflow_namespace": "workbench"}, "airflow_namespace Airflow's own, not the workbench namespace"),
    ({"airflow_dags_repository": PROJECT_REPOS[0]}, "is a users' project repository"),
    ({"airflow_dags_repository": dict(DAGS_REPO, deploy_key_secret="lab-deploy-key")}, "deploy_key_secret is not used"),
    ({"airflow_dags_known_hosts": ""}, "needs airflow_dags_ssh_key_file and airflow_dags_known_hosts"),
    ({"airflow_dags_repository": {"url": "ssh://git@git.example.org/admins/dags.git"}, "airflow_dags_ssh_key_file": ""},
     "needs airflow_dags_ssh_key_file and airflow_dags_known_hosts"),
])
def test_bad_settings_are_refused_before_anything_changes(tmp_path, extra, problem):
    result, values = role_values(tmp_path, dict(dags_settings(tmp_path), **extra))
    assert result.rc != 0 and values is None
    assert any(problem in message for message in result.failure_messages), result


def test_tenant_keys_are_the_users_secret_keys():
    assert role_defaults("airflow")["airflow_tenant_secret_keys"] == list(tenant.SECRET_KEYS)


def test_own_namespace_launcher_without_exec_and_network_policy(k8s_validate):
    settings = {"workbench_namespace": "workbench"}
    docs = [d for name in ("namespace.yaml.j2", "rbac.yaml.j2", "networkpolicy.yaml.j2")
            for d in yaml.safe_load_all(render_template("airflow", name, settings)) if d]
    assert k8s_validate(docs) == []
    namespace = find(docs, "Namespace")
    assert namespace["metadata"]["name"] == "workbench-airflow"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/warn"] == "restricted"
    role = find(docs, "Role")
    granted = {(resource, verb) for rule in role["rules"] for resource in rule["resources"] for verb in rule["verbs"]}
    assert ("pods", "create") in granted and ("pods/log", "get") in granted
    assert not [g for g in granted if g[0] in ("pods/exec", "pods/attach", "secrets", "pods/portforward")], granted
    assert all(d["metadata"].get("namespace", "workbench-airflow") == "workbench-airflow" for d in docs)
    binding = find(docs, "RoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "airflow-scheduler",
                                    "namespace": "workbench-airflow"}]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    policy = find(docs, "NetworkPolicy")
    assert policy["spec"]["podSelector"] == {} and policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["ingress"] == [{"from": [
        {"podSelector": {}}, {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]}]


def _chart(tmp_path):
    """A local Airflow chart: $AIRFLOW_CHART, ../shared/charts/airflow, or helm pull; None when unreachable."""
    candidates = [os.environ.get("AIRFLOW_CHART", ""),
                  str(SHARED / "charts" / "airflow")]
    for candidate in candidates:
        if candidate and pathlib.Path(candidate).exists():
            return candidate
    defaults = yaml.safe_load((pathlib.Path(__file__).resolve().parents[2] / "roles" / "airflow" / "defaults"
                               / "main.yml").read_text())
    pulled = subprocess.run([str(HELM), "pull", "airflow", "--repo", defaults["airflow_chart_repo_url"],
                             "--version", defaults["airflow_chart_version"], "--untar", "--destination",
                             str(tmp_path)], capture_output=True, text=True, timeout=60)
    return str(tmp_path / "airflow") if pulled.returncode == 0 else None


def test_chart_renders_with_the_values_and_its_schema(tmp_path, k8s_validate):
    chart = _chart(tmp_path)
    if chart is None:
        unavailable("Airflow chart not reachable here (helm pull from airflow.apache.org failed): "
                    "schema check and rendering skipped; set AIRFLOW_CHART to a local chart to run them")
    result, values = role_values(tmp_path, dags_settings(tmp_path))
    assert result.rc == 0, result
    values_file = tmp_path / "helm-values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    # helm template validates the values against the chart's values.schema.json first
    out = subprocess.run([str(HELM), "template", "airflow", chart, "--namespace", "workbench",
                          "--kube-version", KUBERNETES_VERSION, "--values", str(values_file)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert k8s_validate(docs) == []
    assert not any(d["kind"] == "StatefulSet" and "postgresql" in d["metadata"]["name"] for d in docs)
