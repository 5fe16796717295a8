"""Build the test cluster's binaries from upstream Go modules, cached by version.

Each folder of tests/cluster/go is one Go module (go.mod + go.sum pin every
version); its binaries land in <cache>/bin/<module>-<key>/, where the key hashes
the module's files, the Go version and the build flags. A rerun with the same key
builds nothing; a changed pin builds that module only.

    python tests/cluster build      build (or reuse) every binary, print where
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

GO_DIR = Path(__file__).resolve().parent / "go"

# The Kubernetes release the components are built at: the minor of the pinned k3s.
KUBERNETES_VERSION = "v1.35.4"
_K8S_MAJOR, _K8S_MINOR = KUBERNETES_VERSION.lstrip("v").split(".")[:2]

# module folder -> (packages, extra -ldflags); the big one last, so a failure elsewhere shows first
MODULES = {
    "etcd": (["."], ""),
    "coredns": (["."], ""),
    "kube-router": (["github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"], ""),
    "provisioner": (["github.com/rancher/local-path-provisioner"], ""),
    "registry": (["github.com/distribution/distribution/v3/cmd/registry"], ""),
    "traefik": (["github.com/traefik/traefik/v3/cmd/traefik"], ""),
    "kubernetes": (
        [f"k8s.io/kubernetes/cmd/{name}" for name in
         ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl")],
        # What `make` stamps: without it every component reports v0.0.0-master.
        " ".join(f"-X {package}.{name}={value}" for package in
                 ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
                 for name, value in (("gitVersion", KUBERNETES_VERSION), ("gitMajor", _K8S_MAJOR),
                                     ("gitMinor", _K8S_MINOR), ("gitTreeState", "clean")))),
}
# go build names a binary after its package's last path element; these are renamed.
# Built only when asked for (build_module): not every test run needs them.
ON_DEMAND = {
    # docker buildx, which community.docker.docker_image_build drives (the notebook_image role)
    "buildx": (["github.com/docker/buildx/cmd/buildx"], ""),
}
RENAMES = {"buildx": {"buildx": "docker-buildx"}}


def cache_dir() -> Path:
    base = os.environ.get("WORKBENCH_TEST_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "enertef-workbench")
    return Path(base) / "cluster"


def go_version() -> str:
    if not shutil.which("go"):
        raise SystemExit("test cluster: the Go toolchain (go) is not on PATH; the cluster is built from Go modules")
    return subprocess.run(["go", "env", "GOVERSION"], check=True, capture_output=True, text=True).stdout.strip()


def _module(module: str) -> tuple[list[str], str]:
    return MODULES.get(module) or ON_DEMAND[module]


def module_key(module: str, goversion: str) -> str:
    digest = hashlib.sha256(goversion.encode())
    digest.update(_module(module)[1].encode())
    for path in sorted((GO_DIR / module).iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def build_module(module: str, goversion: str, log=print) -> Path:
    packages, ldflags = _module(module)
    target = cache_dir() / "bin" / f"{module}-{module_key(module, goversion)}"
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    log(f"test cluster: building {module} ({', '.join(p.rsplit('/', 1)[-1] for p in packages)}) from Go modules")
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        out = Path(tmp) / "bin"
        out.mkdir()
        env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=readonly -buildvcs=false")
        subprocess.run(["go", "build", "-trimpath", "-ldflags", f"-s -w {ldflags}".strip(),
                        "-o", str(out) + "/", *packages], cwd=GO_DIR / module, env=env, check=True)
        for old, new in RENAMES.get(module, {}).items():
            (out / old).rename(out / new)
        try:
            out.rename(target)
        except OSError:
            if not target.is_dir():  # another process built the same key meanwhile: use its copy
                raise
    log(f"test cluster: built {module} in {time.monotonic() - started:.0f} s")
    return target


def build_all(log=print) -> dict[str, Path]:
    """Every binary's path by name, building what the cache lacks."""
    goversion = go_version()
    binaries = {}
    for module in MODULES:
        folder = build_module(module, goversion, log)
        binaries.update({path.name: path for path in folder.iterdir()})
    return binaries
