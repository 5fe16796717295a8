"""An existing cluster's URLs: the collection makes every Ingress itself (hub, pgAdmin, S3, console).

The example inventory's URLs are https at four hosts; before, only the hub got an Ingress (the
chart's) and the admin had to route pgadmin., s3. and console. on their own, so a rollout stopped
at the object store's bucket (the controller reaches S3 at https://s3.<host>). Now each role makes
its Ingress at the host of the URL the inventory gives, with the TLS Secret workbench-tls (made by
the secrets role from workbench_tls_cert_file when set), on workbench_ingress_class. k3s (the
k3s_server role makes them) and the laptop (NodePorts) get none from the roles.
The real test: tests/cluster/test_rollout.py, through the test cluster's ingress controller.
"""
import pytest

from _inventory import resolve_variables
from _jupyterhub import template_values
from _render import all_documents, render_role

pytestmark = pytest.mark.render

OBJECT_STORE = ["object_store_ingress_enabled", "object_store_ingress_api_host", "object_store_ingress_console_host",
                "object_store_ingress_class_name", "object_store_ingress_annotations", "object_store_ingress_tls_secret"]
PGADMIN = ["pgadmin_ingress_enabled", "pgadmin_ingress_host", "pgadmin_ingress_class_name",
           "pgadmin_ingress_annotations", "pgadmin_ingress_tls_secret"]
HUB = ["jupyterhub_ingress_hosts", "jupyterhub_ingress_class_name", "jupyterhub_ingress_annotations",
       "jupyterhub_ingress_tls_secret"]
SECRETS = ["secrets_tls_cert_file", "secrets_tls_key_file", "secrets_tls_secret"]


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    return resolve_variables(OBJECT_STORE + PGADMIN + HUB + SECRETS, ["existing", "onprem", "laptop"],
                             tmp_path_factory.mktemp("ingress"))


def ingresses(role, values):
    return [d for d in all_documents(render_role(role, values)) if d["kind"] == "Ingress"]


def routes(docs):
    return {rule["host"]: (path["backend"]["service"]["name"], path["backend"]["service"]["port"]["name"])
            for d in docs for rule in d["spec"]["rules"] for path in rule["http"]["paths"]}


def test_existing_cluster_gets_an_ingress_with_tls_for_each_url(resolved, k8s_validate):
    values = resolved["existing"]
    store = ingresses("object_store", {k: values[k] for k in OBJECT_STORE})
    pgadmin = ingresses("pgadmin", {k: values[k] for k in PGADMIN})
    domain = values["jupyterhub_ingress_hosts"][0]
    assert routes(store) == {"s3." + domain: ("object-store", "api"), "console." + domain: ("object-store", "console")}
    assert routes(pgadmin) == {"pgadmin." + domain: ("pgadmin", "http")}
    for doc in store + pgadmin:
        assert doc["spec"]["tls"] == [{"hosts": [doc["spec"]["rules"][0]["host"]], "secretName": "workbench-tls"}]
        # the example leaves the class to the cluster's default IngressClass
        assert "ingressClassName" not in doc["spec"] and "annotations" not in doc["metadata"]
    assert values["jupyterhub_ingress_tls_secret"] == "workbench-tls"
    assert k8s_validate(store + pgadmin) == []


@pytest.mark.parametrize("inventory", ["onprem", "laptop"])
def test_k3s_and_the_laptop_get_no_ingress_from_the_service_roles(resolved, inventory):
    values = resolved[inventory]
    assert ingresses("object_store", {k: values[k] for k in OBJECT_STORE}) == []
    assert ingresses("pgadmin", {k: values[k] for k in PGADMIN}) == []
    # k3s_server stores the certificate there; the secrets role only on an existing cluster
    assert values["secrets_tls_cert_file"] == ""


def test_ingress_class_and_annotations_reach_every_ingress(resolved, k8s_validate):
    values = dict(resolved["existing"])
    chosen = {"class": "nginx", "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "0"}}
    store = ingresses("object_store", dict({k: values[k] for k in OBJECT_STORE}, object_store_ingress_class_name="nginx",
                                           object_store_ingress_annotations=chosen["annotations"]))
    pgadmin = ingresses("pgadmin", dict({k: values[k] for k in PGADMIN}, pgadmin_ingress_class_name="nginx",
                                        pgadmin_ingress_annotations=chosen["annotations"]))
    hub = template_values({"jupyterhub_ingress_hosts": values["jupyterhub_ingress_hosts"],
                           "jupyterhub_ingress_class_name": "nginx",
                           "jupyterhub_ingress_annotations": chosen["annotations"]})["ingress"]
    for doc in store + pgadmin:
        assert doc["spec"]["ingressClassName"] == "nginx"
        assert doc["metadata"]["annotations"] == chosen["annotations"]
    assert hub["ingressClassName"] == "nginx" and hub["annotations"] == chosen["annotations"]
    assert k8s_validate(store + pgadmin) == []


def test_no_console_url_no_console_ingress(resolved):
    values = {k: resolved["existing"][k] for k in OBJECT_STORE}
    values["object_store_ingress_console_host"] = ""
    assert [d["metadata"]["name"] for d in ingresses("object_store", values)] == ["object-store-api"]
