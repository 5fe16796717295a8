"""The tools role with real downloads from file:// URLs (this machine has no
internet): the same get_url/checksum/unarchive path a laptop takes, fed with
small stand-in binaries the test makes, so a checksum can be right or wrong on
purpose."""
import hashlib
import io
import os
import tarfile

PLAY = """
- hosts: localhost
  gather_facts: true
  roles:
    - enertef.workbench.tools
"""


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_release(tmp_path):
    k3d = b"#!/bin/sh\necho k3d version v5.8.3\n"
    (tmp_path / "k3d").write_bytes(k3d)
    helm = b"#!/bin/sh\necho v3.22.1\n"
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("linux-amd64/helm")
        info.size = len(helm)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(helm))
    (tmp_path / "helm.tar.gz").write_bytes(archive.getvalue())
    return {
        "workbench_state_dir": str(tmp_path / "state"),
        "tools_names": ["k3d", "helm"],
        "tools_os": "linux",
        "tools_arch": "amd64",
        "tools_k3d_url": "file://%s" % (tmp_path / "k3d"),
        "tools_k3d_checksum": sha256(k3d),
        "tools_helm_url": "file://%s" % (tmp_path / "helm.tar.gz"),
        "tools_helm_checksum": sha256(archive.getvalue()),
    }


def test_install_then_rerun_changes_nothing(playbook, tmp_path):
    variables = make_release(tmp_path)
    first = playbook(PLAY, extra_vars=variables)
    assert first.rc == 0, first
    assert first.changed > 0
    bindir = tmp_path / "state" / "bin"
    assert os.access(bindir / "k3d", os.X_OK) and os.access(bindir / "helm", os.X_OK)
    assert oct((tmp_path / "state" / "bin").stat().st_mode & 0o777) == "0o700"
    second = playbook(PLAY, extra_vars=variables)
    assert second.rc == 0 and second.changed == 0, second


def test_check_mode_installs_nothing(playbook, tmp_path):
    variables = make_release(tmp_path)
    result = playbook(PLAY, extra_vars=variables, check=True)
    assert result.rc == 0, result
    assert not (tmp_path / "state" / "bin" / "k3d").exists()


def test_wrong_checksum_is_refused_and_nothing_installed(playbook, tmp_path):
    variables = make_release(tmp_path)
    variables["tools_k3d_checksum"] = sha256(b"what the release really was")
    result = playbook(PLAY, extra_vars=variables)
    assert result.rc != 0
    message = "\n".join(result.failure_messages)
    assert "k3d v5.8.3 was not installed" in message
    assert "does not match its pinned checksum" in message
    assert not (tmp_path / "state" / "bin" / "k3d").exists()


def test_pinned_k3d_checksums_cover_every_platform():
    import yaml
    with open(os.path.join(os.path.dirname(__file__), "../../roles/tools/defaults/main.yml")) as f:
        defaults = yaml.safe_load(f)
    sums = defaults["tools_k3d_checksums"]
    assert set(sums) == {"linux-amd64", "linux-arm64", "darwin-amd64", "darwin-arm64"}
    for value in sums.values():
        algo, digest = value.split(":")
        assert algo == "sha256" and len(digest) == 64 and int(digest, 16) >= 0


def test_helm_unpacks_with_the_bsd_tar_of_macos(playbook, tmp_path):
    """macOS has bsdtar only; unarchive refuses it ("GNU tar required"), tar -xzf does not."""
    variables = make_release(tmp_path)
    variables["tools_names"] = ["helm"]
    bsd_bin = tmp_path / "bsd-bin"
    bsd_bin.mkdir()
    real_tar = "/usr/bin/tar"
    (bsd_bin / "tar").write_text(
        "#!/bin/sh\n"
        "if [ \"$1\" = --version ]; then echo 'bsdtar 3.5.3 - libarchive 3.5.3 zlib/1.2.11'; exit 0; fi\n"
        "exec %s \"$@\"\n" % real_tar)
    (bsd_bin / "tar").chmod(0o755)
    # only the BSD-like tar: no gtar on PATH, the system directories after ours
    path = "%s:%s" % (bsd_bin, os.environ.get("PATH", ""))
    result = playbook(PLAY, extra_vars=variables, env={"PATH": path})
    assert result.rc == 0, result
    assert os.access(tmp_path / "state" / "bin" / "helm", os.X_OK)


def test_pinned_kubectl_and_helm_meet_the_floor():
    """kubectl >= 1.34 (within one minor of the 1.35 cluster) and helm >= 3.18.4 (CVE-2025-53547),
    checked against the published sha256."""
    import yaml
    with open(os.path.join(os.path.dirname(__file__), "../../roles/tools/defaults/main.yml")) as f:
        defaults = yaml.safe_load(f)

    def version(text):
        return tuple(int(part) for part in text.lstrip("v").split("."))

    assert version(defaults["tools_kubectl_version"]) >= (1, 34, 0)
    assert version(defaults["tools_helm_version"]) >= (3, 18, 4)
    # no hand-copied digest to go stale: the sha256 file published beside each download
    assert defaults["tools_kubectl_checksum"] == "sha256:{{ tools_kubectl_url }}.sha256"
    assert defaults["tools_helm_checksum"] == "sha256:{{ tools_helm_url }}.sha256sum"
