"""The air-gap bundle, made and verified for real by the airgap role on a small bundle.

The test builds a fake k3s release (small random "binaries", a system-image
archive and the release's sha256sum file, served over file://), small image
archives standing in for ``docker save`` output and a chart archive. Pulling and
exporting real images, and building the notebook image, need Docker and the
internet, which this machine lacks: those tasks are the only part of
playbooks/bundle.yml not run here (the build is attempted and fails on the
missing Docker daemon in one test, which proves bundle.yml builds it).
Everything else runs as in a lab: the playbook writes the archive and its
manifest, and the role verifies it (checksums, unlisted files, missing images).
"""
import hashlib
import io
import json
import pathlib
import secrets
import shutil
import tarfile

import pytest

from fixtures.playbook import ROOT, run_playbook

pytestmark = pytest.mark.integration

IMAGES = ["docker.io/library/postgres:17.6", "quay.io/jupyterhub/k8s-hub:4.4.0"]
INVENTORY = """
all:
  children:
    workbench_controller:
      hosts:
        localhost:
          ansible_connection: local
"""
VERIFY = """
- name: Verify the bundle
  hosts: workbench_controller
  gather_facts: false
  tasks:
    - name: Verify it with the airgap role
      ansible.builtin.include_role:
        name: enertef.workbench.airgap
"""


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def tar_with(path, members):
    with tarfile.open(path, "w:gz" if str(path).endswith("gz") else "w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    base = tmp_path_factory.mktemp("airgap-sources")
    release = base / "release"
    release.mkdir()
    (release / "k3s").write_bytes(secrets.token_bytes(4096))
    (release / "k3s-airgap-images-amd64.tar.zst").write_bytes(secrets.token_bytes(2048))
    (release / "sha256sum-amd64.txt").write_text("".join(
        "%s  %s\n" % (sha256(release / name), name) for name in ("k3s", "k3s-airgap-images-amd64.tar.zst")))
    archives = {}
    for index, image in enumerate(IMAGES):
        archives[image] = str(base / ("image%d.tar" % index))
        tar_with(archives[image], {"manifest.json": json.dumps([{"RepoTags": [image]}]).encode()})
    chart = base / "jupyterhub-4.4.0.tgz"
    tar_with(chart, {"jupyterhub/Chart.yaml": b"name: jupyterhub\nversion: 4.4.0\n"})
    (base / "inventory.yml").write_text(INVENTORY)
    return {"release": release, "archives": archives, "chart": chart, "inventory": str(base / "inventory.yml")}


def bundle_vars(sources, state):
    return {
        "workbench_state_dir": str(state),
        "airgap_k3s_download_url": "file://%s" % sources["release"],
        "airgap_images": IMAGES,
        "airgap_image_archives": sources["archives"],
        "airgap_charts": [{"name": "jupyterhub", "version": "4.4.0", "repo_url": "", "path": str(sources["chart"])}],
        "airgap_bundle_output": str(state / "bundle.tar"),
        # no Docker daemon here to build the notebook and model-serving images with
        "notebook_image_build": False,
        "model_serving_image_build": False,
    }


@pytest.fixture(scope="module")
def bundle(sources, tmp_path_factory):
    state = tmp_path_factory.mktemp("airgap-state")
    run_dir = tmp_path_factory.mktemp("airgap-run")
    result = run_playbook("- name: Make the bundle\n  ansible.builtin.import_playbook: %s\n" % (ROOT / "playbooks" / "bundle.yml"),
                          run_dir, extra_vars=bundle_vars(sources, state), inventory=sources["inventory"])
    assert result.rc == 0, result
    return state / "bundle.tar"


def verify(sources, tmp_path, archive, **extra):
    variables = {"workbench_state_dir": str(tmp_path / "state"), "workbench_airgap_bundle": str(archive),
                 "airgap_images": IMAGES}
    variables.update(extra)
    return run_playbook(VERIFY, tmp_path, extra_vars=variables, inventory=sources["inventory"])


def members(archive):
    with tarfile.open(archive) as tar:
        return {pathlib.PurePath(m.name).as_posix().lstrip("./"): tar.extractfile(m).read()
                for m in tar.getmembers() if m.isfile()}


def test_the_bundle_holds_everything_with_a_true_manifest(bundle, sources):
    files = members(bundle)
    manifest = json.loads(files.pop("manifest.json"))
    assert sorted(files) == sorted([
        "bin/k3s-amd64", "images/k3s-airgap-images-amd64.tar.zst", "charts/jupyterhub-4.4.0.tgz",
        "images/docker.io_library_postgres_17.6.tar", "images/quay.io_jupyterhub_k8s-hub_4.4.0.tar"])
    assert manifest["files"] == {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    assert files["bin/k3s-amd64"] == (sources["release"] / "k3s").read_bytes()
    assert manifest["images"] == {IMAGES[0]: "images/docker.io_library_postgres_17.6.tar",
                                  IMAGES[1]: "images/quay.io_jupyterhub_k8s-hub_4.4.0.tar"}
    assert manifest["charts"] == {"jupyterhub": "charts/jupyterhub-4.4.0.tgz"}


def test_a_true_bundle_is_verified_once_and_a_rerun_changes_nothing(bundle, sources, tmp_path):
    first = verify(sources, tmp_path, bundle, workbench_airgap_bundle_sha256=sha256(bundle))
    assert first.rc == 0, first
    marker = tmp_path / "state" / "airgap" / "VERIFIED"
    assert marker.read_text().strip() == sha256(bundle)
    again = verify(sources, tmp_path, bundle)
    assert again.rc == 0 and again.changed == 0, again


def rewritten(bundle, target, change):
    """A copy of the bundle with one member changed (the manifest left as it was)."""
    files = members(bundle)
    change(files)
    tar_with(target, files)
    return target


def test_a_tampered_file_is_refused_and_named(bundle, sources, tmp_path):
    def tamper(files):
        files["bin/k3s-amd64"] = files["bin/k3s-amd64"][:-1] + b"\x00"
    result = verify(sources, tmp_path, rewritten(bundle, tmp_path / "tampered.tar", tamper))
    assert result.rc != 0
    message = " ".join(result.failure_messages)
    assert "bin/k3s-amd64 has sha256" in message and "nothing was installed" in message, message
    assert not (tmp_path / "state" / "airgap" / "VERIFIED").exists()


def test_a_file_slipped_into_the_bundle_is_refused(bundle, sources, tmp_path):
    def add(files):
        files["images/extra.tar"] = b"not in the manifest"
    result = verify(sources, tmp_path, rewritten(bundle, tmp_path / "padded.tar", add))
    assert result.rc != 0
    assert "images/extra.tar is not listed in the manifest" in " ".join(result.failure_messages), result


def test_a_missing_image_is_named(bundle, sources, tmp_path):
    needed = IMAGES + ["registry.lab.example/workbench-notebook:0.1.0"]
    result = verify(sources, tmp_path, bundle, airgap_images=needed)
    assert result.rc != 0
    message = " ".join(result.failure_messages)
    assert "image registry.lab.example/workbench-notebook:0.1.0 is not in the bundle" in message, message
    assert not (tmp_path / "state" / "airgap" / "VERIFIED").exists()


def test_an_archive_that_is_not_the_announced_one_is_refused(bundle, sources, tmp_path):
    result = verify(sources, tmp_path, bundle, workbench_airgap_bundle_sha256="0" * 64)
    assert result.rc != 0
    assert "not the announced" in " ".join(result.failure_messages), result
    assert not (tmp_path / "state" / "airgap").exists()


def test_a_release_file_that_does_not_match_its_sha256sum_stops_the_bundle(sources, tmp_path):
    release = tmp_path / "release"
    shutil.copytree(sources["release"], release)
    (release / "k3s").write_bytes(b"a different binary")
    variables = bundle_vars(dict(sources, release=release), tmp_path / "state")
    result = run_playbook("- name: Make the bundle\n  ansible.builtin.import_playbook: %s\n" % (ROOT / "playbooks" / "bundle.yml"),
                          tmp_path, extra_vars=variables, inventory=sources["inventory"])
    assert result.rc != 0
    # the failure is per loop item; get_url's own message names the checksum mismatch
    assert "did not match" in result.stdout and "k3s-amd64" in result.stdout, result
    assert not (tmp_path / "state" / "bundle.tar").exists()


def run_bundle(tmp_path, variables, env=None):
    return run_playbook("- name: Make the bundle\n  ansible.builtin.import_playbook: %s\n" % (ROOT / "playbooks" / "bundle.yml"),
                        tmp_path, extra_vars=variables, inventory=str(tmp_path / "inventory.yml"), env=env)


def test_the_bundle_builds_the_notebook_image_instead_of_pulling_it(sources, tmp_path):
    (tmp_path / "inventory.yml").write_text(INVENTORY)
    variables = bundle_vars(sources, tmp_path / "state")
    del variables["notebook_image_build"]
    # no Docker daemon here: the run stops at the build, before any pull of the notebook image
    result = run_bundle(tmp_path, dict(variables, airgap_images=IMAGES + ["{{ notebook_image_reference.image }}"]),
                        env={"DOCKER_HOST": "unix://%s/no-docker.sock" % tmp_path})
    assert result.rc != 0
    failed = [name for name, _, r in result.task_results() if r.get("failed")]
    assert failed == ["Build the JupyterLab image"], failed
    assert not [name for name, _, _ in result.task_results() if name == "Pull the other images"]


def test_the_bundle_builds_the_model_serving_image(sources, tmp_path):
    """serve-model.yml cannot build in an air gap (pip has no index there): bundle.yml builds it here."""
    (tmp_path / "inventory.yml").write_text(INVENTORY)
    variables = bundle_vars(sources, tmp_path / "state")
    del variables["model_serving_image_build"]
    # no Docker daemon here: the run stops at the build, named by its content tag
    result = run_bundle(tmp_path, variables, env={"DOCKER_HOST": "unix://%s/no-docker.sock" % tmp_path})
    assert result.rc != 0
    failed = [(name, r) for name, _, r in result.task_results() if r.get("failed")]
    assert [name for name, _ in failed] == ["Build the serving image"], failed
    named = [r["ansible_facts"]["model_serving_image_reference"] for name, _, r in result.task_results()
             if name == "Name the serving image by its content"]
    assert named and named[0]["tag"].startswith("mlflow") and named[0]["image"].endswith(":" + named[0]["tag"]), named


def test_the_bundle_finds_helm_in_the_state_dir(sources, tmp_path):
    """bundle.yml pulls charts with the helm the tools role put in <state dir>/bin, not one from PATH."""
    (tmp_path / "inventory.yml").write_text(INVENTORY)
    state = tmp_path / "state"
    (state / "bin").mkdir(parents=True)
    helm = state / "bin" / "helm"
    chart = sources["chart"]
    helm.write_text(
        "#!/bin/sh\n"
        "if [ \"$1\" = version ]; then echo 'version.BuildInfo{Version:\"v3.22.1\", GitCommit:\"\"}'; exit 0; fi\n"
        "while [ $# -gt 0 ]; do [ \"$1\" = --destination ] && cp %s \"$2\"/; shift; done\n" % chart)
    helm.chmod(0o755)
    variables = bundle_vars(sources, state)
    variables["airgap_charts"] = [{"name": "jupyterhub", "version": "4.4.0", "repo_url": "https://hub.jupyter.org/helm-chart/",
                                   "path": ""}]
    # no helm anywhere on PATH but in the state dir
    result = run_bundle(tmp_path, variables, env={"PATH": "/usr/bin:/bin"})
    assert result.rc == 0, result
    assert "charts/jupyterhub-4.4.0.tgz" in members(state / "bundle.tar")
