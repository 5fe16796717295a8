"""One k3s version and one image list: the lab roles agree with each other and with the service roles."""
import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def defaults(role):
    return yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())


def minor(version):
    return tuple(int(part) for part in re.match(r"v?(\d+)\.(\d+)", version).groups())


def test_one_k3s_version_everywhere():
    version = defaults("k3s_agent")["k3s_agent_version"]
    # a minor Kubernetes supports upstream (DESIGN section 10: 1.35-1.37 in 2026-12)
    assert re.fullmatch(r"v1\.3[5-7]\.\d+\+k3s\d+", version)
    assert "default('%s')" % version in defaults("airgap")["airgap_k3s_version"]
    # the laptop's k3d node image runs the same k3s
    assert defaults("cluster")["cluster_k3s_image"] == "rancher/k3s:" + version.replace("+", "-")


def test_one_kubernetes_minor_everywhere():
    """The Pod Security label names the cluster's minor; kubectl (the tools role's and the test
    cluster's, built from tests/cluster/go/kubernetes) is within one minor of it."""
    cluster = minor(defaults("k3s_agent")["k3s_agent_version"])
    assert defaults("secrets")["secrets_pod_security_version"] == "v%d.%d" % cluster
    test_kubectl = re.search(r"^require k8s.io/kubernetes (v\S+)$",
                             (ROOT / "tests/cluster/go/kubernetes/go.mod").read_text(), re.MULTILINE).group(1)
    for kubectl in (defaults("tools")["tools_kubectl_version"], test_kubectl):
        assert minor(kubectl)[0] == cluster[0] and abs(minor(kubectl)[1] - cluster[1]) <= 1, kubectl


def test_checksums_are_sha256_for_both_architectures():
    """Each a sha256:HEX pin, or the release's own sha256sum file (read before the download)."""
    checksums = defaults("k3s_agent")["k3s_agent_checksums"]
    assert sorted(checksums) == ["amd64", "arm64"]
    for arch, value in checksums.items():
        assert (re.fullmatch(r"sha256:[0-9a-f]{64}", value)
                or value == "sha256:{{ k3s_agent_download_url }}/sha256sum-%s.txt" % arch), value


def test_the_bundle_requires_the_images_the_service_roles_run():
    images = defaults("airgap")["airgap_images"]
    for role, key in (("postgres", "postgres_image"), ("object_store", "object_store_seaweedfs_image"), ("pgadmin", "pgadmin_image")):
        assert any("%s | default('%s')" % (key, defaults(role)[key]) in image for image in images), role
    # the notebook image by its content tag, named by the notebook_image role (no stale default)
    assert "{{ notebook_image_reference.image }}" in images
    assert defaults("k3s_server")["k3s_server_device_plugin_image"] in images


def test_gpu_label_agrees_between_node_and_device_plugin():
    assert defaults("k3s_agent")["k3s_agent_gpu_label"] == defaults("k3s_server")["k3s_server_gpu_label"]
