"""What one role assumes about another, checked on the rendered manifests: the
hub's network policy selects the PostgreSQL and object-store pods by the labels
those roles really put on them, and the Services it targets exist."""
import pytest
from _render import all_documents, find, render_role, role_defaults


@pytest.mark.parametrize("role,kind,labels_var", [
    ("postgres", "StatefulSet", "jupyterhub_postgres_pod_labels"),
    ("object_store", "StatefulSet", "jupyterhub_object_store_pod_labels"),
])
def test_hub_network_policy_labels_match_the_service_pods(role, kind, labels_var):
    wanted = dict(role_defaults("jupyterhub")[labels_var])
    workload = find(all_documents(render_role(role)), kind)
    pod_labels = workload["spec"]["template"]["metadata"]["labels"]
    assert wanted.items() <= pod_labels.items(), (wanted, pod_labels)


def test_user_secret_addresses_match_the_services():
    users = role_defaults("users")
    assert str(users["users_pod_postgres_host"]).startswith("postgres.")
    assert str(users["users_pod_object_store_endpoint"]).startswith("http://minio.")
    services = {d["metadata"]["name"] for d in all_documents(render_role("postgres")) + all_documents(render_role("object_store"))
                if d["kind"] == "Service"}
    assert {"postgres", "minio"} <= services


def test_gpu_profile_selects_the_label_the_k3s_roles_put_on_gpu_hosts():
    label = role_defaults("k3s_agent")["k3s_agent_gpu_label"]
    profile = role_defaults("jupyterhub")["jupyterhub_gpu_profile"]
    assert profile["kubespawner_override"]["node_selector"] == {str(label): "true"}
