"""The notebook image built the way an offline lab builds it (the rollout on the test cluster does).

A lab without quay.io, PyPI or GitHub names its own base image, PyPI index and code-server copy (or
leaves VS Code out): notebook_image_base_image, notebook_image_build_args, notebook_image_code_server.
These reach the build as arguments; the base image, the VS Code switch and the arguments but PIP_*
are part of the content tag (a different image is a different tag), and the defaults keep the tag.
"""
import json
import re

import pytest
import yaml

from _render import ROOT, render_expression

pytestmark = pytest.mark.render

TASKS = yaml.safe_load((ROOT / "roles" / "notebook_image" / "tasks" / "main.yml").read_text())
BUILD = next(task for task in TASKS if "community.docker.docker_image_build" in task)
REFERENCE = yaml.safe_load((ROOT / "roles" / "notebook_image" / "tasks" / "reference.yml").read_text())
NAMING = next(task for task in REFERENCE if task["name"] == "Name the image by its content")
OFFLINE = {"notebook_image_base_image": "registry.lab.example:5000/jupyter/scipy-notebook:2025-12-31@sha256:" + "a" * 64,
           "notebook_image_code_server": False,
           "notebook_image_build_args": {"PIP_INDEX_URL": "http://127.0.0.1:3141/index/", "PIP_TRUSTED_HOST": "127.0.0.1"}}


def build_args(overrides):
    expression = BUILD["vars"]["notebook_image_args"]
    return json.loads(render_expression("notebook_image", "{{ (%s) | to_json }}" % expression.strip()[2:-2], overrides))


def recipe(overrides):
    variables = dict(overrides, notebook_image_tagged_args=NAMING["vars"]["notebook_image_tagged_args"])
    return json.loads(render_expression("notebook_image", "{{ (%s) | to_json }}"
                                        % NAMING["vars"]["notebook_image_recipe_lines"].strip()[2:-2], variables))


def test_default_build_gets_only_the_mlflow_version():
    assert build_args({"notebook_image_mlflow_version": "3.17.2"}) == {"MLFLOW_VERSION": "3.17.2"}
    assert recipe({}) == []


def test_offline_lab_settings_reach_the_build_as_arguments():
    args = build_args(dict(OFFLINE, notebook_image_mlflow_version="3.17.2"))
    assert args == {"MLFLOW_VERSION": "3.17.2", "BASE_IMAGE": OFFLINE["notebook_image_base_image"],
                    "CODE_SERVER_VERSION": "", **OFFLINE["notebook_image_build_args"]}
    assert BUILD["community.docker.docker_image_build"]["network"] == "{{ notebook_image_build_network or omit }}"


def test_base_image_and_vs_code_are_in_the_tag_where_packages_come_from_is_not():
    lines = recipe(OFFLINE)
    assert lines[:2] == ["BASE_IMAGE=" + OFFLINE["notebook_image_base_image"], "CODE_SERVER_VERSION="]
    assert not any("PIP_" in line for line in lines)
    assert recipe({"notebook_image_build_args": {"CODE_SERVER_URL": "https://files.lab.example/cs.tgz"}}) == [
        '{"CODE_SERVER_URL": "https://files.lab.example/cs.tgz"}']


def test_dockerfile_takes_every_argument_the_role_passes():
    dockerfile = (ROOT / "files" / "notebook-image" / "Dockerfile").read_text()
    declared = set(re.findall(r"^ARG ([A-Z_]+)", dockerfile, re.M))
    assert {"BASE_IMAGE", "MLFLOW_VERSION", "PIP_INDEX_URL", "PIP_TRUSTED_HOST", "CODE_SERVER_VERSION",
            "CODE_SERVER_URL", "CODE_SERVER_EXTENSIONS"} <= declared
    # an empty CODE_SERVER_VERSION skips the download; an unset index keeps pip on PyPI
    assert 'if [ -z "${CODE_SERVER_VERSION}" ]; then' in dockerfile
    assert '${PIP_INDEX_URL:+--index-url "$PIP_INDEX_URL"}' in dockerfile
    assert '"${CODE_SERVER_URL:-https://github.com/coder/code-server/releases/download/' in dockerfile


def test_the_roles_dockerfiles_need_no_frontend_image_from_a_registry():
    """A `# syntax=` line makes BuildKit pull that frontend image first: an offline lab's build
    stops there ("resolve image config for docker.io/docker/dockerfile:1": no such host), as the
    rollout on the test cluster showed. The built-in frontend covers what these files use."""
    for dockerfile in (ROOT / "files/notebook-image/Dockerfile", ROOT / "files/model-serving/Dockerfile"):
        directives = [line for line in dockerfile.read_text().splitlines() if line.lower().startswith("# syntax")]
        assert directives == [], f"{dockerfile}: {directives}"
