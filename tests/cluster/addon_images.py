"""The cluster's own images (pause, CoreDNS, the provisioner and its helper, the
built here and pushed to the test registry, which the
node's containerd uses as its mirror for registry.k8s.io and docker.io.

Each is FROM scratch: a binary from tests/cluster/build.py, or from this
machine's Debian packages (busybox-static).
A rebuild happens only when its content changes (the tag label is its hash).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from . import build
from .node import P, PAUSE_IMAGE, REGISTRY

HERE = Path(__file__).resolve().parent

# name -> (files to put in the image: destination -> source, entrypoint)
def _cluster_images(binaries: dict[str, Path], pause: Path) -> dict[str, tuple[dict[str, Path], list[str]]]:
    return {
        PAUSE_IMAGE: ({"/pause": pause}, ["/pause"]),
        "registry.k8s.io/coredns/coredns:v1.14.7": ({"/coredns": binaries["coredns"]}, ["/coredns"]),
        "docker.io/rancher/local-path-provisioner:v0.0.30": (
            {"/usr/bin/local-path-provisioner": binaries["local-path-provisioner"]}, ["local-path-provisioner"]),
        "docker.io/library/busybox:1.35": (_busybox(), ["/bin/sh"]),
        "docker.io/library/traefik:v3.6.12": ({"/usr/local/bin/traefik": binaries["traefik"]}, ["/usr/local/bin/traefik"]),
    }


def _busybox() -> dict[str, Path]:
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        raise RuntimeError("the test cluster needs /bin/busybox (Debian package busybox-static)")
    return {"/bin/busybox": busybox}


def pause_binary() -> Path:
    """Kubernetes' pause container, compiled from the pause.c of the pinned release, statically."""
    source = Path(subprocess.run(["go", "list", "-m", "-f", "{{.Dir}}", "k8s.io/kubernetes"], cwd=build.GO_DIR / "kubernetes",
                                 capture_output=True, text=True, check=True).stdout.strip()) / "build/pause/linux/pause.c"
    target = build.cache_dir() / "bin" / f"pause-{hashlib.sha256(source.read_bytes()).hexdigest()[:16]}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["gcc", "-Os", "-static", "-Wall", "-Werror", "-DVERSION=v3.10-workbench-test",
                        "-o", f"{target}.tmp", str(source)], check=True)
        os.replace(f"{target}.tmp", target)
    return target


def docker(*args: str, **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, DOCKER_HOST=f"unix://{P.docker_sock}", DOCKER_BUILDKIT="0")
    return subprocess.run(["docker", *args], env=env, capture_output=True, text=True, **kwargs)


def mirror_name(reference: str) -> str:
    """registry.k8s.io/pause:3.10 -> 127.0.0.1:5000/pause:3.10 (where the node's mirror config looks)."""
    host, _, path = reference.partition("/")
    return f"{REGISTRY}/{path}"


def build_scratch_image(reference: str, files: dict[str, Path], entrypoint: list[str]) -> str:
    digest = hashlib.sha256(repr(entrypoint).encode())
    for destination, source in sorted(files.items()):
        digest.update(destination.encode() + hashlib.sha256(source.read_bytes()).digest())
    content = digest.hexdigest()[:16]
    target = mirror_name(reference)
    have = docker("image", "inspect", "-f", "{{index .Config.Labels \"workbench.content\"}}", target).stdout.strip()
    if have != content:
        with tempfile.TemporaryDirectory() as context:
            root = Path(context) / "root"
            for destination, source in files.items():
                path = root / destination.lstrip("/")
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, path)
            if "/bin/busybox" in files:
                for applet in ("sh", "mkdir", "rm", "rmdir", "ls", "cat", "chmod", "sleep", "nc", "nslookup", "httpd",
                               "printf", "echo", "id", "touch", "grep"):
                    (root / "bin" / applet).symlink_to("busybox")
            (Path(context) / "Dockerfile").write_text(
                f"FROM scratch\nCOPY root/ /\nLABEL workbench.content={content}\n"
                f"ENTRYPOINT {entrypoint!r}\n".replace("'", '"'))
            result = docker("build", "-q", "-t", target, context)
            if result.returncode:
                raise RuntimeError(f"building {reference} failed: {result.stderr.strip()}")
    result = docker("push", target)
    if result.returncode:
        raise RuntimeError(f"pushing {target} failed: {result.stderr.strip()}")
    return target


def load_cluster_images(binaries: dict[str, Path], log=print) -> None:
    for reference, (files, entrypoint) in _cluster_images(binaries, pause_binary()).items():
        build_scratch_image(reference, files, entrypoint)
    log("cluster images pushed to the test registry")
