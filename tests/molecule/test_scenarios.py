"""The Molecule scenarios, run by the test command.

* ``users``: converge -> idempotence -> verify of the users role against the
  real PostgreSQL and SeaweedFS servers that this test session starts.
* ``laptop``: the whole k3d rollout end to end; it needs a Docker engine that
  can pull images, and skips with one line where there is none.
"""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent


def molecule(scenario, extra_env, timeout=1800):
    env = dict(os.environ)
    env.update(extra_env)
    env.update({
        "PATH": "%s:%s" % (BIN, env.get("PATH", "")),
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "MOLECULE_GLOB": "molecule/*/molecule.yml",
        "ANSIBLE_FORCE_COLOR": "0",
        "PY_COLORS": "0",
    })
    return subprocess.run([str(BIN / "molecule"), "test", "--scenario-name", scenario],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.molecule
@pytest.mark.integration
def test_users_scenario(postgres_server, seaweedfs, tmp_path):
    result = molecule("users", {
        "WORKBENCH_TEST_STATE_DIR": str(tmp_path),
        "WORKBENCH_TEST_PG_SOCKET": postgres_server.socket_dir,
        "WORKBENCH_TEST_PG_PORT": str(postgres_server.port),
        "WORKBENCH_TEST_PG_ADMIN_USER": postgres_server.admin_user,
        "WORKBENCH_TEST_PG_ADMIN_PASSWORD": postgres_server.admin_password,
        "WORKBENCH_TEST_S3_ENDPOINT": seaweedfs.endpoint,
        "WORKBENCH_TEST_S3_ADMIN_ACCESS_KEY": seaweedfs.admin_access_key,
        "WORKBENCH_TEST_S3_ADMIN_SECRET_KEY": seaweedfs.admin_secret_key,
    })
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    for step in ("converge", "idempotence", "verify"):
        assert "[users > %s] Executed: Successful" % step in output, output[-6000:]


def docker_can_pull():
    if not shutil.which("docker"):
        return "no docker command"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if info.returncode != 0:
        return "no Docker engine running"
    pull = subprocess.run(["docker", "pull", "--quiet", "rancher/k3s:v1.31.5-k3s1"],
                          capture_output=True, text=True, timeout=300)
    if pull.returncode != 0:
        return "Docker cannot pull images (%s)" % (pull.stderr.strip().splitlines() or ["no answer"])[-1]
    return None


@pytest.mark.molecule
@pytest.mark.slow
def test_laptop_scenario(tmp_path):
    missing = docker_can_pull()
    if missing:
        pytest.skip("molecule laptop (k3d end to end) needs Docker that can pull images: %s" % missing)
    result = molecule("laptop", {"WORKBENCH_TEST_STATE_DIR": str(tmp_path)}, timeout=3600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    for step in ("converge", "idempotence", "verify"):
        assert "[laptop > %s] Executed: Successful" % step in output, output[-6000:]


@pytest.mark.molecule
@pytest.mark.slow
def test_onprem_scenario(tmp_path):
    missing = docker_can_pull()
    if missing:
        pytest.skip("molecule onprem (k3s server + agent in systemd containers) needs Docker that can pull images: %s"
                    % missing)
    result = molecule("onprem", {"WORKBENCH_TEST_STATE_DIR": str(tmp_path)}, timeout=3600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    for step in ("converge", "idempotence", "verify"):
        assert "[onprem > %s] Executed: Successful" % step in output, output[-6000:]
