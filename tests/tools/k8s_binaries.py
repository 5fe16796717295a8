"""Put kubectl and helm into a directory, built from the Go module proxy (no binary download).

kubectl is the test cluster's (tests/cluster/build.py: k8s.io/kubernetes v1.35.4, built with the
other components from tests/cluster/go/kubernetes, the one place that pins Kubernetes).
tests/tools/k8s-binaries/helm/ is a small Go module whose go.mod and go.sum pin helm.sh/helm/v3
v3.22.1 (its own module: helm 3.22 needs the k8s.io v0.37 libraries, kubectl 1.35 the v0.35 ones).

Each binary is built once into ~/.cache/enertef-workbench/k8s-binaries/<tool>-<version>-<key>/
(XDG_CACHE_HOME is honoured; key: sha256 of go.mod, go.sum, the build flags and the platform),
then copied into DEST_DIR. A rerun finds the cached binary and builds nothing, and Go is only
needed when something must be built. A binary already in DEST_DIR is kept only when it is byte
for byte the cached one.

Measured on the 2-core test machine while another Go build and a pip install shared the CPU
(load 14-17): cold (empty Go build cache, the modules already in the module cache) kubectl 9 min
0 s, helm 7 min 0 s, 16 min 7 s in all; warm (both cached) 0.4-0.6 s, no Go run at all.

usage: python tests/tools/k8s_binaries.py DEST_DIR
"""
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile

MODULES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "k8s-binaries")


def module_version(gomod, path):
    """The version go.mod requires of module PATH (a replace line's target is not a require)."""
    found = re.search(r"^\s*(?:require\s+)?%s\s+(v\S+)" % re.escape(path), gomod, re.MULTILINE)
    if not found:
        sys.exit("k8s_binaries: go.mod requires no %s" % path)
    return found.group(1)


def helm_build(gomod):
    version = module_version(gomod, "helm.sh/helm/v3")
    client_go = module_version(gomod, "k8s.io/client-go")
    # helm's Makefile: the version of a tagged build, and the Kubernetes version that
    # `helm template`/`helm lint` assume by default, derived from client-go (v0.X -> 1.X).
    k8s_minor = client_go[1:].split(".")[1]
    ldflags = ["-X helm.sh/helm/v3/internal/version.version=" + version,
               "-X helm.sh/helm/v3/internal/version.metadata=",
               "-X helm.sh/helm/v3/internal/version.gitTreeState=clean",
               "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1",
               "-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=" + k8s_minor,
               "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1",
               "-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=" + k8s_minor]
    return version, "helm.sh/helm/v3/cmd/helm", ldflags


TOOLS = {"helm": helm_build}


def cluster_kubectl():
    """(version, path) of the test cluster's kubectl, built with its other components."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from cluster import build as cluster_build  # noqa: PLC0415 - tests/ is not on the path of a script
    folder = cluster_build.build_module("kubernetes", cluster_build.go_version())
    return cluster_build.KUBERNETES_VERSION, str(folder / "kubectl")


def read(path):
    with open(path, "rb") as source:
        return source.read()


def file_sha256(path):
    try:
        with open(path, "rb") as existing:
            return hashlib.file_digest(existing, "sha256").hexdigest()
    except OSError:
        return None


def cache_root():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "enertef-workbench", "k8s-binaries")


def plan(name):
    """(version, package, go build argv, cached binary path) of tool NAME."""
    module = os.path.join(MODULES, name)
    gomod = read(os.path.join(module, "go.mod"))
    version, package, ldflags = TOOLS[name](gomod.decode())
    argv = ["build", "-trimpath", "-ldflags", " ".join(["-s", "-w"] + ldflags), "-o"]
    key = hashlib.sha256()
    for part in (gomod, read(os.path.join(module, "go.sum")), " ".join(argv + [package]).encode(),
                 ("%s-%s" % (sys.platform, platform.machine())).encode()):
        key.update(hashlib.sha256(part).digest())
    cached = os.path.join(cache_root(), "%s-%s-%s" % (name, version, key.hexdigest()[:16]), name)
    return version, package, argv, cached


def build(name, version, package, argv, cached, go):
    print("building %s %s from the Go module proxy (minutes on a cold cache)" % (name, version), flush=True)
    os.makedirs(os.path.dirname(cached), exist_ok=True)
    partial = tempfile.mkdtemp(prefix=".build-", dir=os.path.dirname(cached))
    try:
        env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=readonly")
        subprocess.run([go] + argv + [os.path.join(partial, name), package],
                       cwd=os.path.join(MODULES, name), env=env, check=True)
        os.replace(os.path.join(partial, name), cached)
    except subprocess.CalledProcessError as error:
        sys.exit("k8s_binaries: building %s %s failed (go exit %d)" % (name, version, error.returncode))
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def main(dest):
    plans = {name: plan(name) for name in TOOLS}
    missing = [name for name, (_, _, _, cached) in plans.items() if not os.path.isfile(cached)]
    go = shutil.which("go")
    if missing and not go:
        sys.exit("k8s_binaries: go not found: %s built from the Go module proxy need Go 1.26 or newer"
                 " (https://go.dev/doc/install)" % ", ".join("%s %s" % (name, plans[name][0]) for name in missing))
    for name, (version, package, argv, cached) in plans.items():
        if name in missing:
            build(name, version, package, argv, cached, go)
        install(dest, name, version, cached)
    install(dest, "kubectl", *cluster_kubectl())


def install(dest, name, version, cached):
    target = os.path.join(dest, name)
    if file_sha256(target) == file_sha256(cached) and os.access(target, os.X_OK):
        print("%s %s already in %s" % (name, version, dest))
        return
    partial = target + ".partial"
    shutil.copyfile(cached, partial)
    os.chmod(partial, 0o755)
    os.replace(partial, target)
    print("installed %s (%s)" % (target, version))

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/tools/k8s_binaries.py DEST_DIR")
    main(sys.argv[1])
