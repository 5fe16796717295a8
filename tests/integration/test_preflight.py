"""The preflight role, run for real by ansible-playbook on this machine.

Nothing is mocked: the ports are really bound by the test, docker is really
missing from PATH (or its daemon really not running), /proc/sys/fs/inotify is
the real one. Thresholds are set per test so a problem is present or absent on
purpose.
"""
import os
import shutil
import socket

import pytest
import yaml

PREFLIGHT_DEFAULT_PORTS = yaml.safe_load(open(os.path.join(
    os.path.dirname(__file__), "..", "..", "roles", "preflight", "defaults", "main.yml")))["preflight_host_ports"]

from fixtures.external import unavailable

PLAY = """
- hosts: localhost
  gather_facts: true
  roles:
    - enertef.workbench.preflight
"""

# Thresholds this machine surely meets, so each test isolates one problem.
LENIENT = {
    "preflight_min_inotify_max_user_instances": 1,
    "preflight_min_inotify_max_user_watches": 1,
    "preflight_min_free_disk_gb": 0,
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def problems(result):
    assert result.rc != 0, result
    (message,) = [m for m in result.failure_messages if "Preflight found" in m]
    return message


@pytest.fixture
def path_without_docker(tmp_path):
    """The system PATH without the docker command: a directory that holds one (on a machine with
    Docker that is /usr/bin itself) is replaced by a folder of links to everything else in it."""
    dirs = []
    for index, folder in enumerate(dict.fromkeys(os.environ["PATH"].split(os.pathsep) + ["/usr/bin", "/bin"])):
        if not folder or not os.path.isdir(folder):
            continue
        if os.path.exists(os.path.join(folder, "docker")):
            links = tmp_path / ("path-%d" % index)
            links.mkdir()
            for name in os.listdir(folder):
                if name != "docker":
                    (links / name).symlink_to(os.path.join(folder, name))
            folder = str(links)
        dirs.append(folder)
    path = os.pathsep.join(dirs)
    assert shutil.which("docker", path=path) is None
    return path


def test_unknown_cluster_type_is_named(playbook):
    result = playbook(PLAY, extra_vars=dict(LENIENT, workbench_cluster="foo"))
    message = problems(result)
    assert "workbench_cluster is 'foo'" in message
    assert "k3d, k3s, existing" in message


@pytest.mark.parametrize("busy_name, free_name", [
    ("hub", "pgadmin"),
    # the object-store console (SeaweedFS weed admin, 9001 by default) is checked like the others
    ("object_store_console", "object_store_api"),
])
def test_port_in_use_is_named(playbook, busy_name, free_name):
    assert {busy_name, free_name} <= set(PREFLIGHT_DEFAULT_PORTS)
    port = free_port()
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", port))
        busy.listen()
        result = playbook(PLAY, extra_vars=dict(
            LENIENT, preflight_host_ports={busy_name: port, free_name: free_port()}))
    message = problems(result)
    assert "host port %d (for %s) is already in use" % (port, busy_name) in message
    assert "(for %s)" % free_name not in message


def test_free_ports_pass(playbook):
    result = playbook(PLAY, extra_vars=dict(
        LENIENT, preflight_host_ports={"hub": free_port()}))
    message = "\n".join(result.failure_messages)
    assert "already in use" not in message


def test_missing_docker_binary_is_named(playbook, path_without_docker):
    result = playbook(PLAY, extra_vars=LENIENT, env={"PATH": path_without_docker})
    assert "the docker command is not on PATH" in problems(result)


def test_docker_daemon_not_reachable_is_named(playbook, tmp_path):
    if shutil.which("docker") is None:
        unavailable("needs the docker client on PATH")
    # A socket path where no daemon listens: the client is there, the engine is not.
    result = playbook(PLAY, extra_vars=LENIENT,
                      env={"DOCKER_HOST": "unix://%s/no-docker.sock" % tmp_path})
    message = problems(result)
    assert "Docker is not running or not reachable" in message
    assert "Cannot connect to the Docker daemon" in message


def test_low_inotify_limits_are_named_with_the_sysctl_fix(playbook):
    with open("/proc/sys/fs/inotify/max_user_watches") as f:
        current = int(f.read())
    result = playbook(PLAY, extra_vars=dict(
        LENIENT, preflight_min_inotify_max_user_watches=current + 1))
    message = problems(result)
    assert "fs.inotify.max_user_watches is %d" % current in message
    assert "sysctl -w fs.inotify.max_user_watches=%d" % (current + 1) in message
    assert "max_user_instances" not in message


def test_too_little_disk_is_named(playbook):
    result = playbook(PLAY, extra_vars=dict(LENIENT, preflight_min_free_disk_gb=10 ** 7))
    assert "GiB are free on the filesystem" in problems(result)


def test_existing_cluster_without_kubeconfig_is_named(playbook, tmp_path):
    result = playbook(PLAY, extra_vars=dict(
        LENIENT, workbench_cluster="existing", workbench_kubeconfig=str(tmp_path / "none")))
    assert "kubeconfig %s does not exist" % (tmp_path / "none") in problems(result)


def test_all_problems_are_reported_together(playbook, path_without_docker):
    result = playbook(PLAY, extra_vars=dict(LENIENT, preflight_min_free_disk_gb=10 ** 7),
                      env={"PATH": path_without_docker})
    message = problems(result)
    assert "docker command is not on PATH" in message and "GiB are free" in message


def test_a_node_of_another_cpu_than_the_images_is_refused(playbook):
    """The images are amd64-only (code-server, model serving): a k3d host or lab node of another
    CPU is refused up front. Here this machine plays the node, with the images' list set to exclude it."""
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    other = "arm64" if machine == "amd64" else "amd64"
    result = playbook(PLAY, extra_vars=dict(LENIENT, workbench_cluster="k3d", preflight_host_ports={},
                                            preflight_node_architectures=[other]))
    message = problems(result)
    assert "localhost has an %s CPU" % machine in message, message
    assert "built for linux/amd64 only" in message and "code-server" in message


def test_the_images_architecture_is_amd64_only_and_so_is_the_build():
    import yaml
    root = os.path.join(os.path.dirname(__file__), "../..")
    with open(os.path.join(root, "roles/preflight/defaults/main.yml")) as f:
        assert yaml.safe_load(f)["preflight_node_architectures"] == ["amd64"]
    with open(os.path.join(root, "files/notebook-image/Dockerfile")) as f:
        assert "linux-amd64.tar.gz" in f.read(), "code-server download changed: revisit preflight_node_architectures"
