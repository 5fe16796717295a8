"""The Molecule scenarios, run by the test command.

* ``users``: converge -> idempotence -> verify of the users role against the
  real PostgreSQL and SeaweedFS servers that this test session starts.
* ``laptop``: the whole k3d rollout end to end; it needs a Docker engine that
  can pull images, and skips with one line where there is none (fails under
  WORKBENCH_REQUIRE_CLUSTER=1). Its names (cluster, registry, state directory)
  are checked here without Docker: a run on a developer's laptop must not touch
  their workbench.
"""
import json
import os
import pathlib
import subprocess
import sys

import pytest

from fixtures.external import docker_problem, unavailable

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent


def molecule(scenario, extra_env, timeout=1800, command="test"):
    env = dict(os.environ)
    env.update(extra_env)
    env.update({
        "PATH": "%s:%s" % (BIN, env.get("PATH", "")),
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "MOLECULE_GLOB": "molecule/*/molecule.yml",
        "ANSIBLE_FORCE_COLOR": "0",
        "PY_COLORS": "0",
    })
    return subprocess.run([str(BIN / "molecule"), command, "--scenario-name", scenario],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def molecule_reset(scenario, extra_env):
    """Forget the scenario's state from an earlier run (molecule skips steps it thinks are done)."""
    molecule(scenario, extra_env, command="reset", timeout=120)


@pytest.mark.molecule
@pytest.mark.integration
def test_users_scenario(postgres_server, seaweedfs, tmp_path):
    env = {
        "WORKBENCH_TEST_STATE_DIR": str(tmp_path),
        "WORKBENCH_TEST_PG_SOCKET": postgres_server.socket_dir,
        "WORKBENCH_TEST_PG_PORT": str(postgres_server.port),
        "WORKBENCH_TEST_PG_ADMIN_USER": postgres_server.admin_user,
        "WORKBENCH_TEST_PG_ADMIN_PASSWORD": postgres_server.admin_password,
        "WORKBENCH_TEST_S3_ENDPOINT": seaweedfs.endpoint,
        "WORKBENCH_TEST_S3_ADMIN_ACCESS_KEY": seaweedfs.admin_access_key,
        "WORKBENCH_TEST_S3_ADMIN_SECRET_KEY": seaweedfs.admin_secret_key,
    }
    # a second run on the same machine: molecule would skip prepare (henry's data) as done
    molecule_reset("users", env)
    result = molecule("users", env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "instances already prepared" not in output, "prepare was skipped: henry's data was never made"
    for step in ("converge", "idempotence", "verify"):
        assert "[users > %s] Executed: Successful" % step in output, output[-6000:]


K3S_IMAGE = "rancher/k3s:v1.35.9-k3s1"


def laptop_inventory_values(tmp_path, state_dir):
    """The laptop scenario's variables as Ansible resolves them (its inventory over the laptop group_vars)."""
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "hosts.yml").write_text((ROOT / "molecule" / "laptop" / "inventory" / "hosts.yml").read_text())
    (inventory / "group_vars").symlink_to(ROOT / "inventories" / "laptop" / "group_vars")
    names = ["workbench_cluster_name", "workbench_state_dir", "workbench_kubeconfig", "cluster_registry_name",
             "workbench_registry", "workbench_registry_push"]
    env = dict(os.environ, WORKBENCH_TEST_STATE_DIR=state_dir, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
               ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
    proc = subprocess.run([str(BIN / "ansible"), "workbench_controller", "-i", str(inventory / "hosts.yml"),
                           "-m", "ansible.builtin.debug", "-a", "msg={{ {%s} }}" % ", ".join(
                               "'%s': %s" % (n, n) for n in names)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    output = json.loads(proc.stdout[proc.stdout.index("{"):])
    return output["plays"][0]["tasks"][0]["hosts"]["localhost"]["msg"]


def test_laptop_scenario_has_its_own_cluster_registry_and_state_dir(tmp_path):
    values = laptop_inventory_values(tmp_path, str(tmp_path / "state"))
    assert values["workbench_cluster_name"] == "molecule-laptop"
    assert values["workbench_state_dir"] == str(tmp_path / "state")
    assert values["workbench_kubeconfig"] == str(tmp_path / "state" / "kubeconfig")
    # the notebook and model-serving images take workbench_registry(_push) over k3d's default registry
    assert values["cluster_registry_name"] == "k3d-molecule-laptop-registry.localhost"
    assert values["workbench_registry"] == "k3d-molecule-laptop-registry.localhost:5011"
    assert values["workbench_registry_push"] == "localhost:5011"


def test_laptop_destroy_refuses_without_its_state_dir(tmp_path):
    """Without WORKBENCH_TEST_STATE_DIR the purging destroy stops before the teardown."""
    env = {"WORKBENCH_TEST_STATE_DIR": ""}
    molecule_reset("laptop", env)
    result = molecule("laptop", env, command="destroy", timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-4000:]
    assert "molecule laptop needs WORKBENCH_TEST_STATE_DIR" in output, output[-4000:]
    assert "Tear the workbench down" not in output, output[-4000:]


@pytest.mark.molecule
@pytest.mark.slow
def test_laptop_scenario(tmp_path):
    missing = docker_problem(pull=K3S_IMAGE)
    if missing:
        unavailable("molecule laptop (k3d end to end) needs Docker that can pull images: %s" % missing)
    result = molecule("laptop", {"WORKBENCH_TEST_STATE_DIR": str(tmp_path)}, timeout=3600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "instances already prepared" not in output, "prepare was skipped: henry's data was never made"
    for step in ("converge", "idempotence", "verify"):
        assert "[laptop > %s] Executed: Successful" % step in output, output[-6000:]


@pytest.mark.molecule
@pytest.mark.slow
def test_onprem_scenario(tmp_path):
    missing = docker_problem(pull=K3S_IMAGE)
    if missing:
        unavailable("molecule onprem (k3s server + agent in systemd containers) needs Docker that can pull images: %s"
                    % missing)
    result = molecule("onprem", {"WORKBENCH_TEST_STATE_DIR": str(tmp_path)}, timeout=3600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "instances already prepared" not in output, "prepare was skipped: henry's data was never made"
    for step in ("converge", "idempotence", "verify"):
        assert "[onprem > %s] Executed: Successful" % step in output, output[-6000:]
