#!/usr/bin/env python3
"""Build every image the workbench runs, from Debian, PyPI, npm and Go packages only.

    python tests/cluster/images/build.py --registry 127.0.0.1:5000 --out images.json [--only NAME ...]

DOCKER_HOST comes from the environment. Each image is built once per content: its local tag
workbench-test/<name>:<hash> is the hash of what it is built from (its directory, the Dockerfile,
the build arguments, the images it is built FROM), so a rerun skips what exists. Every built image
is checked with a quick `docker run` (see SMOKE), tagged with the name the roles use, pushed to
--registry under the same path, and written to --out with the registry's manifest digest.

Nothing reaches an image registry on the internet: the base is debootstrap's Debian bookworm
(docker import), pip installs go through a caching mirror this script runs on 127.0.0.1 (builds
use the host network and take its address as a build argument: no certificate inside an image),
npm installs take this machine's CA bundle in a build stage that the final image does not keep.
"""

import argparse
import contextlib
import hashlib
import inspect
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]  # the collection root
CA_BUNDLE = os.environ.get("WORKBENCH_BUILD_CA", "/etc/ssl/certs/ca-certificates.crt")
CACHE = pathlib.Path(os.environ.get("XDG_CACHE_HOME", pathlib.Path.home() / ".cache")) / "enertef-workbench" / "images"
MLFLOW_VERSION = "3.17.2"
PLATFORM = "linux/amd64"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
PROXPI_VERSION = "1.3.1"
LOCAL_REPO = "workbench-test"
PIP_MIRROR_PORT = int(os.environ.get("WORKBENCH_PIP_MIRROR_PORT", "3141"))


def _role_notebook_tag():
    """The tag roles/notebook_image/tasks/reference.yml gives files/notebook-image (same files, same hash)."""
    lines = []
    for rel_dir in ("files/notebook-image", "files/notebook-scripts"):
        for path in sorted((ROOT / rel_dir).rglob("*")):
            rel = path.relative_to(ROOT).as_posix()
            # ansible.builtin.find (hidden: false) lists no dot-files
            if path.is_file() and not path.name.startswith(".") and not re.search(r"/__pycache__/|\.egg-info/", "/" + rel):
                lines.append(f"{rel} {hashlib.sha256(path.read_bytes()).hexdigest()}")
    for rel in ("plugins/module_utils/tenant.py",):
        lines.append(f"{rel} {hashlib.sha256((ROOT / rel).read_bytes()).hexdigest()}")
    lines.sort()
    text = "\n".join(lines + ["files/notebook-image/Dockerfile", PLATFORM, MLFLOW_VERSION])
    return f"mlflow{MLFLOW_VERSION}-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def _role_model_serving_tag():
    """The tag roles/model_serving/defaults/main.yml (model_serving_image_tag) computes."""
    files = ["Dockerfile", "requirements.txt", "serving_app.py", "streamlit_app.py"]
    text = "\n".join((ROOT / "files/model-serving" / name).read_text() for name in files)
    return f"mlflow{MLFLOW_VERSION}-" + hashlib.sha256(text.encode()).hexdigest()[:12]


def _notebook_dockerfile(text):
    """files/notebook-image/Dockerfile without its code-server part: that downloads a GitHub
    release and VS Code extensions, neither reachable here (see README.md)."""
    cut = text.find("# VS Code in the browser")
    if cut < 0:
        return text
    return text[:cut] + (
        "# (code-server left out by tests/cluster/images/build.py: its release and extensions are\n"
        "#  downloads from GitHub and the VS Code marketplace, not reachable from the test machine)\n"
    )


# name: logical name -> how to build it. Order matters: an image comes after what it is FROM.
#   tags:  (repository, tag) the roles use; pushed as <registry>/<repository without its registry host>
#   from:  build argument -> logical name of an image built before (its local tag is passed)
#   context/dockerfile: relative to this directory unless "root" (the collection root)
IMAGES = [
    {
        "name": "debian",
        "kind": "rootfs",
        "tags": [("docker.io/workbench-test/debian", DEBIAN_SUITE)],
        "base": f"debootstrap --variant=minbase {DEBIAN_SUITE} {DEBIAN_MIRROR}",
    },
    {
        "name": "python",
        "context": "python",
        "from": {"BASE_IMAGE": "debian"},
        "tags": [("docker.io/library/python", "3.11-slim-bookworm")],
    },
    {
        "name": "postgres",
        "context": "postgres",
        "from": {"BASE_IMAGE": "debian"},
        "tags": [("docker.io/library/postgres", "18.6")],
    },
    {
        "name": "seaweedfs",
        "context": "seaweedfs",
        "from": {"BASE_IMAGE": "debian"},
        "tags": [("docker.io/chrislusf/seaweedfs", "4.48")],
    },
    {
        "name": "configurable-http-proxy",
        "context": "configurable-http-proxy",
        "from": {"BASE_IMAGE": "debian"},
        "needs_ca": True,
        "tags": [("quay.io/jupyterhub/configurable-http-proxy", "5.2.0")],
    },
    {
        "name": "k8s-hub",
        "context": "k8s-hub",
        "from": {"PYTHON_IMAGE": "python"},
        "tags": [("quay.io/jupyterhub/k8s-hub", "4.4.0")],
    },
    {
        "name": "pgadmin",
        "context": "pgadmin",
        "from": {"BASE_IMAGE": "debian", "POSTGRES_IMAGE": "postgres"},
        "tags": [("docker.io/dpage/pgadmin4", "9.18")],
    },
    {
        "name": "scipy-notebook",
        "context": "scipy-notebook",
        "from": {"BASE_IMAGE": "debian"},
        "tags": [("quay.io/jupyter/scipy-notebook", "2025-12-31")],
    },
    {
        "name": "notebook",
        "root": True,
        "context": ".",
        "dockerfile": "files/notebook-image/Dockerfile",
        "dockerignore": "files/notebook-image/Dockerfile.dockerignore",
        "rewrite": _notebook_dockerfile,
        "from": {"BASE_IMAGE": "scipy-notebook"},
        "args": {"MLFLOW_VERSION": MLFLOW_VERSION},
        "tags": [("workbench-notebook", _role_notebook_tag)],
    },
    {
        "name": "model-serving",
        "root": True,
        "context": ".",
        "dockerfile": "files/model-serving/Dockerfile",
        "files": ["files/model-serving"],
        # its FROM is python:3.11-slim-bookworm: the python image above, tagged so
        "from_tag": "python",
        "args": {"MLFLOW_VERSION": MLFLOW_VERSION},
        "tags": [("workbench-model-serving", _role_model_serving_tag)],
    },
]

# A quick `docker run` per image: (docker run options, command, what the output must contain).
PG_SMOKE = (
    "set -e; docker-entrypoint.sh postgres -c listen_addresses=127.0.0.1 >/tmp/pg.log 2>&1 & "
    "for i in $(seq 60); do pg_isready -h 127.0.0.1 -U postgres -d smoke >/dev/null 2>&1 && break; sleep 1; done; "
    "pg_isready -h 127.0.0.1 -U postgres -d smoke || { tail -20 /tmp/pg.log; exit 1; }; "
    "PGPASSWORD=smoke-only psql -h 127.0.0.1 -U postgres -d smoke -Atc 'select version()'"
)
PING = "python3 -c 'import urllib.request; print(urllib.request.urlopen(\"http://127.0.0.1:8080/misc/ping\", timeout=5).read().decode())'"
PGADMIN_SMOKE = (
    "set -e; /entrypoint.sh >/tmp/pgadmin.log 2>&1 & "
    f"for i in $(seq 240); do {PING} >/dev/null 2>&1 && break; sleep 1; done; "
    f"{PING} || {{ grep -iE 'error|exception' /tmp/pgadmin.log | tail -5; tail -5 /tmp/pgadmin.log; exit 1; }}; "
    "python3 -c 'import sys; sys.path.insert(0, \"/pgadmin4\"); import version; print(\"pgadmin\", version.APP_VERSION)'"
)
SMOKE = {
    "debian": ([], ["sh", "-c", "tar --version | head -1 && . /etc/os-release && echo $VERSION_CODENAME"], "bookworm"),
    "python": ([], ["python", "-c", "import sys, ssl; print(sys.version)"], "3.11"),
    "postgres": (
        ["-e", "POSTGRES_PASSWORD=smoke-only", "-e", "POSTGRES_DB=smoke", "--user", "999:999", "--entrypoint", "bash"],
        ["-c", PG_SMOKE],
        "PostgreSQL 18",
    ),
    "seaweedfs": ([], ["version"], "4.48"),
    "configurable-http-proxy": ([], ["--version"], "5.2.0"),
    "k8s-hub": (
        [],
        ["sh", "-c", "jupyterhub --version && python -c 'import kubespawner, jupyterhub_idle_culler; print(\"kubespawner\", kubespawner.__version__)' && tar --version | head -1"],
        "kubespawner 7.0.0",
    ),
    "pgadmin": (
        ["-e", "PGADMIN_DEFAULT_EMAIL=smoke@example.org", "-e", "PGADMIN_DEFAULT_PASSWORD=smoke-only",
         "-e", "PGADMIN_DISABLE_POSTFIX=True", "-e", "PGADMIN_LISTEN_PORT=8080",
         "-e", "PGADMIN_CONFIG_UPGRADE_CHECK_ENABLED=False", "--entrypoint", "bash"],
        ["-c", PGADMIN_SMOKE],
        "PING",
    ),
    "scipy-notebook": (
        [],
        ["sh", "-c", "jupyter lab --version && jupyterhub-singleuser --version && python -c 'import numpy, pandas, scipy, sklearn, matplotlib; print(\"sklearn\", sklearn.__version__)' && id"],
        "uid=1000(jovyan) gid=100(users)",
    ),
    "notebook": (
        [],
        ["sh", "-c", "jupyter lab --version && python -c 'import importlib.metadata as m; print(\"mlflow\", m.version(\"mlflow\"))' && python -c 'import workbench_launchers, tensorboard, jupyter_server_proxy'"],
        f"mlflow {MLFLOW_VERSION}",
    ),
    "model-serving": (
        [],
        ["python", "-c", "import importlib.metadata as m, fastapi, uvicorn, streamlit, serving_app; print('mlflow', m.version('mlflow'))"],
        f"mlflow {MLFLOW_VERSION}",
    ),
}


class BuildError(Exception):
    pass


def run(cmd, *, check=True, capture=False, env=None, input=None, cwd=None):
    proc = subprocess.run(
        cmd, check=False, text=True, env=env, input=input, cwd=cwd,
        stdout=subprocess.PIPE if capture else None, stderr=subprocess.STDOUT if capture else None,
    )
    if check and proc.returncode != 0:
        tail = (proc.stdout or "").strip().splitlines()[-15:] if capture else []
        raise BuildError(f"{' '.join(map(str, cmd[:4]))} ... exited {proc.returncode}" + ("\n" + "\n".join(tail) if tail else ""))
    return proc


def docker(*args, capture=True, check=True):
    env = dict(os.environ, DOCKER_BUILDKIT="0")
    return run(["docker", *args], capture=capture, check=check, env=env)


def image_exists(ref):
    return docker("image", "inspect", "--format", "{{.Id}}", ref, check=False).returncode == 0


def image_id(ref):
    return docker("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()


# ---------------------------------------------------------------------------------------------
# the pip mirror
# ---------------------------------------------------------------------------------------------

def _free_port():
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def pip_mirror():
    """proxpi (a caching PyPI mirror) on 127.0.0.1, in its own venv under the cache directory."""
    venv = CACHE / f"proxpi-{PROXPI_VERSION}"
    python = venv / "bin" / "python"
    if not python.exists():
        run([sys.executable, "-m", "venv", str(venv)])
        run([str(python), "-m", "pip", "install", "-q", f"proxpi=={PROXPI_VERSION}", "gunicorn"])
    # a fixed port where free: the mirror's address is a build argument, and the classic builder's
    # layer cache keys on build arguments, so a new port every run would rebuild every RUN step
    port = PIP_MIRROR_PORT
    with contextlib.closing(socket.socket()) as sock:
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            port = _free_port()
    (CACHE / "pip-files").mkdir(parents=True, exist_ok=True)
    env = dict(
        os.environ,
        PROXPI_CACHE_DIR=str(CACHE / "pip-files"),
        PROXPI_CACHE_SIZE=str(30 * 2**30),
        PROXPI_DOWNLOAD_TIMEOUT="3600",
        PROXPI_LOGGING_LEVEL="WARNING",
        REQUESTS_CA_BUNDLE=os.environ.get("REQUESTS_CA_BUNDLE", CA_BUNDLE),
    )
    log = open(CACHE / "proxpi.log", "a")
    proc = subprocess.Popen(
        [str(venv / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--threads", "8", "--timeout", "3600",
         "proxpi.server:app"], env=env, stdout=log, stderr=log,
    )
    try:
        url = f"http://127.0.0.1:{port}/index/"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None:
                    raise BuildError(f"the pip mirror (proxpi) exited {proc.returncode}: see {CACHE / 'proxpi.log'}")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


# ---------------------------------------------------------------------------------------------
# content hashes and builds
# ---------------------------------------------------------------------------------------------

def _hash_tree(digest, base, rels):
    for rel in rels:
        path = base / rel
        paths = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for p in paths:
            if "__pycache__" in p.parts or any(part.endswith(".egg-info") for part in p.parts):
                continue
            digest.update(p.relative_to(base).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(p.read_bytes()).digest())


def _dockerignore_dirs(spec):
    """The paths a docker-stacks-style '*' then '!path' .dockerignore lets in."""
    keep = []
    for line in (ROOT / spec["dockerignore"]).read_text().splitlines():
        line = line.strip()
        if line.startswith("!"):
            keep.append(line[1:].strip().rstrip("/"))
    return keep


def content_tag(spec, local):
    digest = hashlib.sha256()
    recipe = {key: spec.get(key) for key in ("kind", "base", "context", "dockerfile", "files", "args", "from", "from_tag", "needs_ca")}
    digest.update(json.dumps(recipe, sort_keys=True).encode())
    if spec.get("rewrite"):
        digest.update(inspect.getsource(spec["rewrite"]).encode())
    if spec.get("kind") == "rootfs":
        digest.update(inspect.getsource(build_rootfs).encode())
    elif spec.get("root"):
        rels = spec.get("files") or _dockerignore_dirs(spec)
        _hash_tree(digest, ROOT, rels + [spec["dockerfile"]])
    else:
        _hash_tree(digest, HERE, [spec["context"]])
    for arg, dep in sorted(spec.get("from", {}).items()):
        digest.update(f"{arg}={image_id(local[dep])}".encode())
    if spec.get("from_tag"):
        digest.update(image_id(local[spec["from_tag"]]).encode())
    if spec.get("needs_ca"):
        digest.update(b"ca")
    return f"{LOCAL_REPO}/{spec['name']}:{digest.hexdigest()[:16]}"


def build_rootfs(spec, ref):
    """debootstrap's minimal bookworm, with its updates and security suites, imported as an image."""
    with tempfile.TemporaryDirectory(prefix="rootfs-", dir=CACHE) as tmp:
        root = pathlib.Path(tmp) / "rootfs"
        run(["debootstrap", "--variant=minbase", DEBIAN_SUITE, str(root), DEBIAN_MIRROR], capture=True)
        (root / "etc/apt/sources.list").write_text(
            f"deb {DEBIAN_MIRROR} {DEBIAN_SUITE} main\n"
            f"deb {DEBIAN_MIRROR} {DEBIAN_SUITE}-updates main\n"
            f"deb {DEBIAN_MIRROR.replace('/debian', '/debian-security')} {DEBIAN_SUITE}-security main\n"
        )
        # as in Debian's docker images: no recommends, no caches, no docs or man pages
        (root / "etc/apt/apt.conf.d/docker-no-recommends").write_text(
            'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n')
        (root / "etc/apt/apt.conf.d/docker-clean").write_text(
            'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb '
            '/var/cache/apt/*.bin || true"; };\nDir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n')
        (root / "etc/dpkg/dpkg.cfg.d/docker").write_text(
            "path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\n"
            "path-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\n")
        run(["chroot", str(root), "sh", "-c",
             "apt-get update && apt-get -y upgrade && apt-get clean && rm -rf /var/lib/apt/lists/* "
             "/var/cache/apt/*.bin /var/log/*.log /var/log/apt/* /tmp/*"], capture=True)
        for path in ("etc/hostname", "etc/resolv.conf"):
            (root / path).write_text("")
        tar = subprocess.Popen(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        env = dict(os.environ, DOCKER_BUILDKIT="0")
        imported = subprocess.run(
            ["docker", "import", "--change", 'CMD ["bash"]', "--change", "ENV LANG=C.UTF-8",
             "--message", f"debootstrap --variant=minbase {DEBIAN_SUITE} {DEBIAN_MIRROR}", "-", ref],
            stdin=tar.stdout, env=env, capture_output=True, text=True)
        tar.stdout.close()
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise BuildError(f"docker import failed: {imported.stderr.strip()[-500:]}")


def build_dockerfile(spec, ref, local, mirror_url, log):
    context = (ROOT if spec.get("root") else HERE) / spec["context"]
    dockerfile = (ROOT if spec.get("root") else context) / spec.get("dockerfile", "Dockerfile")
    args = dict(spec.get("args", {}))
    for arg, dep in spec.get("from", {}).items():
        args[arg] = local[dep]
    args["PIP_INDEX_URL"] = mirror_url
    args["PIP_TRUSTED_HOST"] = "127.0.0.1"
    with tempfile.TemporaryDirectory(prefix="ctx-", dir=CACHE) as tmp:
        tmp = pathlib.Path(tmp)
        if spec.get("root"):
            # only what the Dockerfile reads: the dockerignore's list, or the named files
            ctx = tmp / "context"
            for rel in spec.get("files") or _dockerignore_dirs(spec):
                src = ROOT / rel
                if src.is_dir():
                    shutil.copytree(src, ctx / rel, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
                else:
                    (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, ctx / rel)
        else:
            ctx = tmp / "context"
            shutil.copytree(context, ctx)
        if spec.get("needs_ca"):
            shutil.copy(CA_BUNDLE, ctx / "build-ca.crt")
        text = dockerfile.read_text()
        if spec.get("rewrite"):
            text = spec["rewrite"](text)
        (tmp / "Dockerfile").write_text(text)
        cmd = ["docker", "build", "--network", "host", "--pull=false", "-f", str(tmp / "Dockerfile"), "-t", ref]
        for key, value in args.items():
            cmd += ["--build-arg", f"{key}={value}"]
        cmd.append(str(ctx))
        with open(log, "w") as out:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ, DOCKER_BUILDKIT="0"))
        if proc.returncode != 0:
            lines = pathlib.Path(log).read_text().strip().splitlines()
            reason = next((l for l in reversed(lines) if l.strip()), "?")
            raise BuildError(f"docker build failed: {reason.strip()} (log: {log})")


def smoke(spec, ref):
    opts, command, expect = SMOKE[spec["name"]]
    proc = docker("run", "--rm", "--network", "none", *opts, ref, *command, check=False)
    out = (proc.stdout or "").strip()
    if proc.returncode != 0 or expect not in out:
        lines = [line.strip() for line in out.splitlines() if line.strip()]
        errors = [line for line in lines if re.search(r"error|exception|fatal|denied|not found", line, re.I)
                  and "warning" not in line.lower()]
        reason = (errors or lines or ["(no output)"])[0 if errors else -1]
        raise BuildError(f"smoke check of {spec['name']} failed (exit {proc.returncode}, wanted {expect!r}): {reason}")
    return out


def push(registry, repository, tag, ref):
    path = repository.split("/", 1)[1] if "." in repository.split("/")[0] else repository
    target = f"{registry}/{path}:{tag}"
    docker("tag", ref, target)
    out = docker("push", target).stdout
    match = re.search(r"digest: (sha256:[0-9a-f]{64})", out)
    if not match:
        raise BuildError(f"push of {target} printed no digest: {out.strip().splitlines()[-1:]}")
    return target, match.group(1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registry", required=True, help="host:port of the registry to push to (e.g. 127.0.0.1:5000)")
    parser.add_argument("--out", required=True, type=pathlib.Path, help="JSON file to write")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="build these (and what they are built from)")
    parser.add_argument("--no-push", action="store_true", help="build and check only")
    parser.add_argument("--verify", action="store_true", help="run the smoke checks of images that were already built")
    opts = parser.parse_args(argv)

    names = [spec["name"] for spec in IMAGES]
    wanted = set(opts.only or names)
    unknown = wanted - set(names)
    if unknown:
        parser.error(f"unknown image(s) {', '.join(sorted(unknown))}; known: {', '.join(names)}")
    for spec in reversed(IMAGES):  # what a wanted image is built from is wanted too
        if spec["name"] in wanted:
            wanted.update(spec.get("from", {}).values())
            if spec.get("from_tag"):
                wanted.add(spec["from_tag"])

    CACHE.mkdir(parents=True, exist_ok=True)
    logs = CACHE / "logs"
    logs.mkdir(exist_ok=True)
    result = json.loads(opts.out.read_text()) if opts.out.exists() else {}
    local = {}
    started = time.monotonic()
    try:
        with pip_mirror() as mirror_url:
            for spec in IMAGES:
                name = spec["name"]
                if name not in wanted:
                    continue
                t0 = time.monotonic()
                ref = content_tag(spec, local)
                built = False
                if not image_exists(ref):
                    # built under a provisional tag: only an image that passed its check gets ref,
                    # so a rerun never takes a failed image for a finished one
                    unchecked = f"{ref}-unchecked"
                    print(f"[{name}] building {ref}", flush=True)
                    if spec.get("kind") == "rootfs":
                        build_rootfs(spec, unchecked)
                    else:
                        build_dockerfile(spec, unchecked, local, mirror_url, logs / f"{name}.log")
                    smoke(spec, unchecked)
                    docker("tag", unchecked, ref)
                    docker("rmi", unchecked)
                    built = True
                elif opts.verify:
                    smoke(spec, ref)
                local[name] = ref
                # the names the roles use (and FROM lines of Dockerfiles we do not edit resolve locally)
                tags = [(repo, tag() if callable(tag) else tag) for repo, tag in spec["tags"]]
                for repo, tag in tags:
                    docker("tag", ref, f"{repo}:{tag}")
                t_build = time.monotonic() - t0
                entry = {}
                if not opts.no_push:
                    repo, tag = tags[0]
                    target, digest = push(opts.registry, repo, tag, ref)
                    entry = {
                        "name": repo if "/" in repo and "." in repo.split("/")[0] else f"{opts.registry}/{repo}",
                        "tag": tag,
                        "digest": digest,
                        "pushed": target,
                    }
                deps = dict(spec.get("from", {}))
                if spec.get("from_tag"):
                    deps["FROM"] = spec["from_tag"]
                entry["base_image"] = (
                    spec["base"] if spec.get("kind") == "rootfs"
                    else {arg: f"{result.get(dep, {}).get('name', dep)}:{result.get(dep, {}).get('tag', '')}"
                          + (f"@{result[dep]['digest']}" if result.get(dep, {}).get("digest") else "")
                          for arg, dep in deps.items()})
                entry["local"] = ref
                entry["image_id"] = image_id(ref)
                result[name] = entry
                print(f"[{name}] {'built' if built else 'up to date'} in {time.monotonic() - t0:.1f}s"
                      f" (build+check {t_build:.1f}s)" + (f" -> {entry.get('pushed')}@{entry.get('digest')}" if entry.get("digest") else ""),
                      flush=True)
                opts.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    except BuildError as err:
        print(f"FAILED: {err}", file=sys.stderr)
        return 1
    print(f"all done in {time.monotonic() - started:.1f}s; wrote {opts.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
