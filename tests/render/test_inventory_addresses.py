"""What every role resolves for each example inventory, resolved by Ansible
itself: ansible-playbook runs one probe role per real role over the example
inventory, the probe role having the real role's defaults/main.yml (so role
defaults, group_vars and host vars combine with Ansible's own precedence) and
one task that prints those variables templated.

A lab target (k3s single, k3s HA, existing cluster) must never be given a
localhost address, and every role must agree on each address and on the
object-store backend."""
import json

import pytest
import yaml

from _inventory import ROOT, resolve_variables

# concept -> the variables (role variable, or role variable + list item name) that must equal it
CONCEPTS = {
    "controller PostgreSQL host": ["users_postgres_host", "backup_postgres_host", "restore_postgres_host",
                                   "health_postgres_host", "airflow_postgres_admin_host",
                                   ("verify_tcp_services", "PostgreSQL", "host")],
    "controller PostgreSQL port": ["users_postgres_port", "backup_postgres_port", "restore_postgres_port",
                                   "health_postgres_port", "airflow_postgres_admin_port",
                                   ("verify_tcp_services", "PostgreSQL", "port")],
    "controller object store URL": ["users_object_store_endpoint", "backup_object_store_endpoint",
                                    "restore_object_store_endpoint", "health_object_store_endpoint",
                                    "object_store_endpoint_url",
                                    ("verify_urls", "Object store (S3 API)", "url")],
    # and any other role's *_object_store_backend (object_store, backup ...), found below
    "object-store backend": ["users_object_store_backend"],
    "pod PostgreSQL host": ["users_pod_postgres_host", "airflow_postgres_service_host"],
    "pod PostgreSQL port": ["users_pod_postgres_port", "airflow_postgres_service_port"],
    "pod object store URL": ["users_pod_object_store_endpoint"],
    "hub URL": ["jupyterhub_public_url", ("verify_urls", "JupyterHub", "url")],
}
for _defaults in sorted((ROOT / "roles").glob("*/defaults/main.yml")):
    for _name in yaml.safe_load(_defaults.read_text()) or {}:
        if _name.endswith("object_store_backend") and _name not in CONCEPTS["object-store backend"]:
            CONCEPTS["object-store backend"].append(_name)
INVENTORIES = ["laptop", "onprem", "onprem-ha", "existing"]
LAB = ["onprem", "onprem-ha", "existing"]
LOCAL = ("localhost", "127.0.0.1", "::1")


def _variable_names():
    names = set()
    for members in CONCEPTS.values():
        names.update(m if isinstance(m, str) else m[0] for m in members)
    names.update(["health_urls", "verify_urls"])
    return sorted(names)


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    """{inventory: {variable: value}} as ansible-playbook resolves them on the controller."""
    return resolve_variables(_variable_names(), INVENTORIES, tmp_path_factory.mktemp("inventory-probe"))


def _value(values, member):
    if isinstance(member, str):
        return values[member]
    variable, item_name, key = member
    items = [i for i in values[variable] if i["name"] == item_name]
    assert len(items) == 1, (variable, item_name, values[variable])
    return items[0][key]


def _label(member):
    return member if isinstance(member, str) else "%s[%s].%s" % member


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_every_role_agrees_on_each_address_and_the_backend(resolved, inventory):
    values = resolved[inventory]
    disagreements = []
    for concept, members in CONCEPTS.items():
        seen = {_label(m): str(_value(values, m)) for m in members}
        if len(set(seen.values())) != 1:
            disagreements.append("%s: %s" % (concept, seen))
        assert all(seen.values()), (inventory, concept, seen)
    assert not disagreements, (inventory, disagreements)


def _local_addresses(values):
    found = []
    for name, value in values.items():
        text = json.dumps(value)
        if any(word in text for word in LOCAL):
            found.append("%s = %s" % (name, text))
    return found


@pytest.mark.parametrize("inventory", LAB)
def test_a_lab_target_is_given_no_localhost_address(resolved, inventory):
    assert _local_addresses(resolved[inventory]) == [], inventory


def test_the_laptop_reaches_the_k3d_host_ports_on_127_0_0_1(resolved):
    laptop = resolved["laptop"]
    cluster = yaml.safe_load((ROOT / "roles/cluster/defaults/main.yml").read_text())
    host_ports = {p["name"]: p["host_port"] for p in cluster["cluster_k3d_ports"]}
    assert cluster["cluster_k3d_bind_address"] == "127.0.0.1"
    assert laptop["users_postgres_host"] == "127.0.0.1"
    assert int(laptop["users_postgres_port"]) == host_ports["postgres"]
    assert laptop["users_object_store_endpoint"] == "http://127.0.0.1:%d" % host_ports["object_store_api"]
    assert laptop["users_object_store_backend"] == "seaweedfs"


@pytest.mark.parametrize("inventory", LAB)
def test_a_lab_controller_reaches_postgres_on_a_node_and_s3_through_tls(resolved, inventory):
    values = resolved[inventory]
    postgres = yaml.safe_load((ROOT / "roles/postgres/defaults/main.yml").read_text())
    object_store = yaml.safe_load((ROOT / "roles/object_store/defaults/main.yml").read_text())
    assert int(values["users_postgres_port"]) == postgres["postgres_node_port"]
    # S3 through the TLS ingress only (test_lab_exposure.py), never the plain-HTTP NodePort
    assert values["users_object_store_endpoint"] == "https://s3." + values["jupyterhub_public_url"].split("//", 1)[1]
    assert str(object_store["object_store_node_ports"]["api"]) not in values["users_object_store_endpoint"]
    hosts = yaml.safe_load((ROOT / "inventories" / inventory / "hosts.yml").read_text())
    servers = hosts["all"]["children"].get("k3s_cluster", {}).get("children", {}).get("k3s_servers", {})
    addresses = [h["ansible_host"] for h in (servers.get("hosts") or {}).values()]
    if addresses:
        # HA: a server's own address, not the API VIP (which may forward the API port only)
        assert values["users_postgres_host"] in addresses, (values["users_postgres_host"], addresses)
    else:
        assert values["users_postgres_host"] and values["users_postgres_host"] not in LOCAL


def test_pods_get_the_in_cluster_service_names(resolved):
    for inventory in INVENTORIES:
        values = resolved[inventory]
        assert values["users_pod_postgres_host"] == "postgres.workbench.svc.cluster.local"
        assert values["users_pod_object_store_endpoint"] == "http://object-store.workbench.svc.cluster.local:9000"
