"""What each target publishes, rendered per example inventory (variables resolved by ansible-playbook).

A lab (k3s single, k3s HA, an existing cluster) serves the hub, pgAdmin, the
object-store console and S3 over TLS only: their Services are ClusterIP, the
k3s lab's traefik Ingresses carry TLS for every host (the certificate covers
them all), are bound to the HTTPS entrypoint with the HSTS middleware, and
port 80 redirects to 443. The only node port of a lab is PostgreSQL's. The
hub's public_url is the https lab URL. The laptop publishes NodePorts, which
k3d binds to 127.0.0.1 only.
"""
import pytest
import yaml

from _inventory import resolve_variables
from _jupyterhub import helm_template, template_values
from _render import all_documents, render_role, render_template

pytestmark = pytest.mark.render

LAB = ["onprem", "onprem-ha", "existing"]
K3S = ["onprem", "onprem-ha"]
ROLE_VARIABLES = ["jupyterhub_service_type", "jupyterhub_ingress_hosts", "jupyterhub_public_url",
                  "pgadmin_service_type", "object_store_service_type", "postgres_service_type", "postgres_tls_secret"]
K3S_VARIABLES = ["k3s_server_postgres_tls_secret", "k3s_server_lab_services", "k3s_server_tls_hosts", "k3s_server_ingress_annotations",
                 "k3s_server_namespace", "k3s_server_hsts_middleware", "k3s_server_tls_secret"]


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    values = resolve_variables(ROLE_VARIABLES, ["laptop"] + LAB, tmp_path_factory.mktemp("roles"))
    k3s = resolve_variables(K3S_VARIABLES, K3S, tmp_path_factory.mktemp("k3s"))
    for inventory in K3S:
        values[inventory].update(k3s[inventory])
    return values


def published_services(resolved_values, tmp_path):
    """{name: (type, [(port, nodePort)])} of every Service of the service roles and the hub chart."""
    services = {}
    for role in ("postgres", "object_store", "pgadmin"):
        key = role + "_service_type"
        for doc in all_documents(render_role(role, {key: resolved_values[key]})):
            if doc["kind"] == "Service":
                services[doc["metadata"]["name"]] = doc
    chart = helm_template(template_values({"jupyterhub_service_type": resolved_values["jupyterhub_service_type"],
                                           "jupyterhub_ingress_hosts": resolved_values["jupyterhub_ingress_hosts"]}),
                          tmp_path)
    services.update({d["metadata"]["name"]: d for d in chart if d["kind"] == "Service"})
    return services, chart


def node_exposed(services):
    return sorted(name for name, svc in services.items() if svc["spec"].get("type") in ("NodePort", "LoadBalancer"))


@pytest.mark.parametrize("inventory", LAB)
def test_a_lab_publishes_no_web_service_or_s3_on_a_node_port(resolved, inventory, tmp_path):
    services, _ = published_services(resolved[inventory], tmp_path)
    assert {"proxy-public", "pgadmin", "object-store", "postgres"} <= set(services)
    # PostgreSQL's node port is the controller's way in (TLS, see roles/postgres); nothing else
    assert node_exposed(services) == ["postgres"], inventory
    assert resolved[inventory]["jupyterhub_public_url"].startswith("https://")


def test_the_laptop_publishes_node_ports_that_k3d_binds_to_127_0_0_1(resolved, tmp_path):
    services, _ = published_services(resolved["laptop"], tmp_path)
    assert node_exposed(services) == ["object-store", "pgadmin", "postgres", "proxy-public"]
    config = yaml.safe_load(render_template("cluster", "k3d-config.yaml.j2", {
        "ansible_managed": "test", "workbench_state_dir": "/state", "cluster_state_dir": "/state"}))
    assert all(port["port"].startswith("127.0.0.1:") for port in config["ports"])
    assert config["kubeAPI"]["hostIP"] == "127.0.0.1", "the Kubernetes API too"
    assert config["registries"]["create"]["host"] == "127.0.0.1"


@pytest.mark.parametrize("inventory", K3S)
def test_k3s_lab_serves_every_web_service_and_s3_through_tls_ingress_only(resolved, inventory, tmp_path,
                                                                         k8s_validate):
    values = resolved[inventory]
    docs = [d for d in yaml.safe_load_all(render_template("k3s_server", "lab-ingress.yaml.j2", values)) if d]
    ingresses = [d for d in docs if d["kind"] == "Ingress"]
    assert k8s_validate(ingresses) == []
    services, chart = published_services(values, tmp_path)
    assert not [d for d in chart if d["kind"] == "Ingress"], "the hub's Ingress is k3s_server's, not a second one"
    backends = {}
    for ingress in ingresses:
        spec = ingress["spec"]
        hosts = [rule["host"] for rule in spec["rules"]]
        assert spec["tls"] == [{"hosts": hosts, "secretName": values["k3s_server_tls_secret"]}], ingress
        annotations = ingress["metadata"]["annotations"]
        assert annotations["traefik.ingress.kubernetes.io/router.entrypoints"] == "websecure"
        assert annotations["traefik.ingress.kubernetes.io/router.tls"] == "true"
        assert annotations["traefik.ingress.kubernetes.io/router.middlewares"] == "%s-%s@kubernetescrd" % (
            values["k3s_server_namespace"], values["k3s_server_hsts_middleware"])
        for rule in spec["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                backends[rule["host"]] = (backend["name"], backend["port"]["number"])
        # the certificate covers every name served
        assert set(hosts) <= set(values["k3s_server_tls_hosts"])
    domain = values["jupyterhub_public_url"].split("//", 1)[1]
    assert backends == {domain: ("proxy-public", 80), "pgadmin." + domain: ("pgadmin", 80),
                        "s3." + domain: ("object-store", 9000), "console." + domain: ("object-store", 9001)}
    for host, (name, port) in backends.items():
        assert port in [p["port"] for p in services[name]["spec"]["ports"]], (host, name, port)
    middleware = next(d for d in docs if d["kind"] == "Middleware")
    assert (middleware["apiVersion"], middleware["metadata"]["name"]) == ("traefik.io/v1alpha1",
                                                                         values["k3s_server_hsts_middleware"])
    assert middleware["spec"]["headers"]["stsSeconds"] >= 31536000
    # the one node port left, PostgreSQL's, takes TLS only, with the certificate k3s_server issues
    assert values["postgres_tls_secret"] == values["k3s_server_postgres_tls_secret"]
    assert middleware["spec"]["headers"]["forceSTSHeader"] is True
    redirect = next(d for d in docs if d["kind"] == "HelmChartConfig")
    assert (redirect["metadata"]["name"], redirect["metadata"]["namespace"]) == ("traefik", "kube-system")
    arguments = yaml.safe_load(redirect["spec"]["valuesContent"])["additionalArguments"]
    assert "--entrypoints.web.http.redirections.entrypoint.to=:443" in arguments
    assert "--entrypoints.web.http.redirections.entrypoint.scheme=https" in arguments


def test_an_existing_cluster_gets_the_hub_ingress_with_tls(resolved, tmp_path, k8s_validate):
    values = resolved["existing"]
    _, chart = published_services(values, tmp_path)
    ingress = next(d for d in chart if d["kind"] == "Ingress")
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert hosts == values["jupyterhub_ingress_hosts"] and ingress["spec"]["tls"][0]["hosts"] == hosts
    assert k8s_validate([ingress]) == []
