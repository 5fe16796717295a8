"""Conventions every role keeps (DESIGN §3): meta/argument_specs.yml mirrors
defaults/main.yml, every variable is prefixed with the role's name, and the
laptop port mappings agree across the roles that name them."""
import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "tasks" / "main.yml").is_file())
PYTHON_TYPES = {"str": str, "int": int, "bool": bool, "dict": dict, "list": list, "path": str, "raw": object}


def load(path):
    return yaml.safe_load(path.read_text()) or {}


def test_the_rollout_roles_exist():
    for role in ("preflight", "tools", "cluster", "secrets", "notebook_image", "postgres",
                 "object_store", "jupyterhub", "pgadmin", "users", "verify"):
        assert role in ROLES


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_mirror_the_defaults(role):
    base = ROOT / "roles" / role
    defaults = load(base / "defaults" / "main.yml")
    spec = load(base / "meta" / "argument_specs.yml")["argument_specs"]["main"]
    options = spec["options"]
    assert sorted(options) == sorted(defaults), "argument_specs and defaults differ"
    assert spec.get("short_description")
    for name, option in options.items():
        assert name.startswith(role + "_"), "%s is not prefixed with %s_" % (name, role)
        assert option.get("description"), name
        value = defaults[name]
        if isinstance(value, str) and "{{" in value:
            # computed from workbench_* settings: documented, not repeated as a default
            assert "default" not in option, name
            continue
        if "default" in option:
            assert option["default"] == value, name
        if option.get("type") in PYTHON_TYPES and value is not None:
            assert isinstance(value, PYTHON_TYPES[option["type"]]), name


@pytest.mark.parametrize("role", ROLES)
def test_role_metadata(role):
    meta = load(ROOT / "roles" / role / "meta" / "main.yml")
    assert meta["galaxy_info"]["license"] == "GPL-3.0-or-later"
    assert meta["galaxy_info"]["description"]


def test_laptop_ports_agree_between_preflight_cluster_and_services():
    preflight = load(ROOT / "roles/preflight/defaults/main.yml")["preflight_host_ports"]
    cluster = load(ROOT / "roles/cluster/defaults/main.yml")
    mapped = {m["name"]: m for m in cluster["cluster_k3d_ports"]}
    registry = cluster["cluster_registry_port"]
    assert preflight == dict({n: m["host_port"] for n, m in mapped.items()}, registry=registry)
    node_ports = {
        "postgres": load(ROOT / "roles/postgres/defaults/main.yml")["postgres_node_port"],
        "pgadmin": load(ROOT / "roles/pgadmin/defaults/main.yml")["pgadmin_node_port"],
        "hub": load(ROOT / "roles/jupyterhub/defaults/main.yml")["jupyterhub_node_port"],
    }
    object_store = load(ROOT / "roles/object_store/defaults/main.yml")["object_store_node_ports"]
    node_ports["object_store_api"] = object_store["api"]
    node_ports["object_store_console"] = object_store["console"]
    for name, node_port in node_ports.items():
        assert mapped[name]["node_port"] == node_port, name
