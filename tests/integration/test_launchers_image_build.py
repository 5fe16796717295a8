"""The notebook image builds where a Docker engine can pull its base image.

Here (no Docker engine, no registry access) this skips with one line (fails
under WORKBENCH_REQUIRE_CLUSTER=1); the pieces inside the image are tested for
real in test_launchers.py and test_notebooks.py.
"""
import ast
import pathlib
import subprocess
import tomllib

import pytest

from fixtures.external import docker_problem, unavailable

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = pathlib.Path(__file__).resolve().parents[2]
LAUNCHERS = ROOT / "files" / "notebook-image" / "workbench-launchers" / "pyproject.toml"


def declared_launchers():
    """The jupyter-server-proxy entry points the launcher package declares (what the image must register)."""
    project = tomllib.loads(LAUNCHERS.read_text())["project"]
    return sorted(project["entry-points"]["jupyter_serverproxy_servers"])


def test_declared_launchers_include_the_tiles():
    assert {"mlflow", "tensorboard"} <= set(declared_launchers())


def test_notebook_image_builds_and_has_the_launchers():
    problem = docker_problem()
    if problem:
        unavailable("notebook image build needs a Docker engine that can pull quay.io: %s" % problem)
    tag = "workbench-notebook:test"
    build = subprocess.run(["docker", "build", "-f", "files/notebook-image/Dockerfile", "-t", tag, "."],
                           cwd=ROOT, capture_output=True, text=True, timeout=3600)
    if build.returncode and "failed to resolve source metadata" in build.stderr:
        unavailable("notebook image build: the base image cannot be pulled here")
    assert build.returncode == 0, build.stderr[-4000:]
    check = subprocess.run(
        ["docker", "run", "--rm", tag, "python", "-c",
         "from jupyter_server_proxy.config import get_entrypoint_server_processes as g;"
         "import mlflow; print(mlflow.__version__); print(sorted(p.name for p in g()))"],
        capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stderr
    version, names = check.stdout.strip().splitlines()[-2:]
    assert version == __import__("importlib.metadata").metadata.version("mlflow")
    # a launcher that fails to load is dropped with a warning: every declared one must be there
    assert set(declared_launchers()) <= set(ast.literal_eval(names)), (names, check.stderr)
