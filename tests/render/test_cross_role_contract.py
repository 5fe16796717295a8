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
    # what each inventory resolves is tests/render/test_inventory_addresses.py; here the fallbacks
    users = role_defaults("users")
    assert "'postgres.' ~ users_namespace" in str(users["users_pod_postgres_host"])
    # contract 2: the object store's Service is object-store whatever the backend
    assert "'http://object-store.' ~ users_namespace" in str(users["users_pod_object_store_endpoint"])
    services = {d["metadata"]["name"] for d in all_documents(render_role("postgres")) + all_documents(render_role("object_store"))
                if d["kind"] == "Service"}
    assert {"postgres", "object-store"} <= services


def test_gpu_profile_selects_the_label_the_k3s_roles_put_on_gpu_hosts():
    label = role_defaults("k3s_agent")["k3s_agent_gpu_label"]
    profile = role_defaults("jupyterhub")["jupyterhub_gpu_profile"]
    assert profile["kubespawner_override"]["node_selector"] == {str(label): "true"}


def _selected(selector, labels):
    return all(labels.get(key) == value for key, value in selector.items())


def test_postgres_admits_user_pods_and_pgadmin_only(k8s_validate):
    from _jupyterhub import find as find_chart_doc, helm_template, template_values
    import tempfile
    import pathlib

    policy = find(render_role("postgres")["networkpolicy.yaml.j2"], "NetworkPolicy", "postgres")
    assert k8s_validate([policy]) == []
    selectors = [peer["podSelector"]["matchLabels"] for rule in policy["spec"]["ingress"]
                 for peer in rule["from"] if "podSelector" in peer]
    # the labels a user pod really gets: the chart's own singleuser selector
    with tempfile.TemporaryDirectory() as tmp:
        chart = helm_template(template_values(), pathlib.Path(tmp))
    user_pod_labels = find_chart_doc(chart, "NetworkPolicy", "singleuser")["spec"]["podSelector"]["matchLabels"]
    pgadmin_pod = find(all_documents(render_role("pgadmin")), "Deployment")["spec"]["template"]["metadata"]["labels"]
    hub_pod = find_chart_doc(chart, "Deployment", "hub")["spec"]["template"]["metadata"]["labels"]
    assert any(_selected(s, user_pod_labels) for s in selectors)
    assert any(_selected(s, pgadmin_pod) for s in selectors)
    assert not any(_selected(s, hub_pod) for s in selectors), "the hub has no business in PostgreSQL"
    outside = [peer["ipBlock"] for rule in policy["spec"]["ingress"] for peer in rule["from"] if "ipBlock" in peer]
    assert outside == [{"cidr": "0.0.0.0/0", "except": ["10.42.0.0/16"]}]
    closed = find(render_role("postgres", {"postgres_allow_outside_pod_network": False})["networkpolicy.yaml.j2"],
                  "NetworkPolicy", "postgres")
    assert not [p for r in closed["spec"]["ingress"] for p in r["from"] if "ipBlock" in p]
