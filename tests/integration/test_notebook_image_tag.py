"""The notebook image is named by its content (roles/notebook_image/tasks/reference.yml run by
ansible-playbook on copies of the build context): an edited Dockerfile or notebook script is a
new tag, so it reaches new pods; an unchanged checkout keeps its tag; a lab without a registry
is refused before anything is built. Building and pushing need Docker, which this machine lacks."""
import json
import re
import shutil

import pytest

from fixtures.playbook import ROOT

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Name the notebook image
      ansible.builtin.include_role:
        name: enertef.workbench.notebook_image
        tasks_from: reference.yml
    - name: Write the reference where the test reads it
      ansible.builtin.copy:
        content: "{{ notebook_image_reference | to_json }}"
        dest: "{{ reference_file }}"
        mode: "0600"
"""


@pytest.fixture
def context(tmp_path):
    """A copy of what the image is built from (the dockerignore's list)."""
    root = tmp_path / "context"
    for directory in ("files/notebook-image", "files/notebook-scripts"):
        shutil.copytree(ROOT / directory, root / directory,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (root / "plugins/module_utils").mkdir(parents=True)
    shutil.copy(ROOT / "plugins/module_utils/tenant.py", root / "plugins/module_utils/tenant.py")
    return root


def reference(playbook, tmp_path, context, **variables):
    out = tmp_path / "reference.json"
    out.unlink(missing_ok=True)
    result = playbook(PLAY, extra_vars=dict(variables, notebook_image_context=str(context), reference_file=str(out)))
    return result, (json.loads(out.read_text()) if out.exists() else None)


def test_the_tag_is_the_content_and_follows_every_change(playbook, tmp_path, context):
    result, first = reference(playbook, tmp_path, context)
    assert result.rc == 0, result
    assert re.fullmatch(r"mlflow3\.17\.2-[0-9a-f]{12}", first["tag"]), first
    assert first["image"] == "k3d-workbench-registry.localhost:5001/workbench-notebook:" + first["tag"]
    assert first["push_name"] == "localhost:5001/workbench-notebook"
    assert reference(playbook, tmp_path, context)[1] == first, "same content, same tag"
    # bytecode the build never sees does not count
    (context / "files/notebook-scripts/__pycache__").mkdir()
    (context / "files/notebook-scripts/__pycache__/x.pyc").write_bytes(b"\0")
    assert reference(playbook, tmp_path, context)[1]["tag"] == first["tag"]
    tags = {first["tag"]}
    for path in ("files/notebook-image/Dockerfile", "files/notebook-scripts/tensorboard_logger.py",
                 "plugins/module_utils/tenant.py"):
        with open(context / path, "a") as changed:
            changed.write("\n# edited\n")
        tag = reference(playbook, tmp_path, context)[1]["tag"]
        assert tag not in tags, "%s changed but the tag did not" % path
        tags.add(tag)


def test_a_lab_image_goes_to_the_lab_registry(playbook, tmp_path, context):
    result, ref = reference(playbook, tmp_path, context, workbench_cluster="k3s",
                            workbench_registry="registry.lab.example:5000")
    assert result.rc == 0, result
    assert ref["name"] == ref["push_name"] == "registry.lab.example:5000/workbench-notebook"
    assert "k3d" not in json.dumps(ref) and "localhost" not in json.dumps(ref)


@pytest.mark.parametrize("cluster", ["k3s", "existing"])
def test_a_lab_without_a_registry_is_refused_before_anything_is_built(playbook, tmp_path, context, cluster):
    result, ref = reference(playbook, tmp_path, context, workbench_cluster=cluster)
    assert result.rc != 0 and ref is None
    message = " ".join(result.failure_messages)
    assert "set workbench_registry" in message and "Nothing was built or pushed" in message, message


def test_an_air_gap_lab_takes_the_image_from_the_bundle(playbook, tmp_path, context):
    result, ref = reference(playbook, tmp_path, context, workbench_cluster="k3s",
                            workbench_airgap_bundle="/srv/bundle.tar")
    assert result.rc == 0, result
    assert ref["name"] == "workbench.local/workbench-notebook"
