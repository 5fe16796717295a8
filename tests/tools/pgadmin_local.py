"""pgAdmin 4 from PyPI started as the pgadmin role's Deployment starts the image (no Kubernetes here).

``running_pgadmin(workdir, container_env, servers_json)`` does what the image's
entrypoint (docker/entrypoint.sh of pgadmin4 9.x) does with the container's
environment, in the same order:

1. every ``PGADMIN_CONFIG_<KEY>=<python literal>`` becomes ``<KEY> = <literal>``
   in pgAdmin's config (here a ``config_local.py`` on its PYTHONPATH; the image
   writes ``config_distro.py``), plus the image's fixed settings: server mode,
   the data directory;
2. on the first start, ``setup.py setup-db`` creates the login
   ``PGADMIN_DEFAULT_EMAIL`` / ``PGADMIN_DEFAULT_PASSWORD`` (given as
   ``PGADMIN_SETUP_EMAIL``/``PGADMIN_SETUP_PASSWORD``), then
   ``setup.py load-servers $PGADMIN_SERVER_JSON_FILE --user <email>`` imports
   the server list (here ``servers_json``, the ConfigMap's content);
3. the web server on 127.0.0.1 and a free port (the image: gunicorn on
   ``PGADMIN_LISTEN_PORT``).

pgAdmin runs from its own virtualenv ``.pgadmin/`` (tests/tools/pgadmin.sh).
"""
import contextlib
import os
import pathlib
import socket
import subprocess
import time
import urllib.request

from fixtures.processes import stop_process_group

ROOT = pathlib.Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".pgadmin" / "bin" / "python"
START_TIMEOUT = 180


def package_dir():
    out = subprocess.run([str(PYTHON), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         check=True, capture_output=True, text=True, timeout=60)
    return pathlib.Path(out.stdout.strip()) / "pgadmin4"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def config_text(container_env, data_dir, port):
    lines = ["# written like the image's entrypoint writes config_distro.py",
             "SERVER_MODE = True",
             "DATA_DIR = %r" % str(data_dir),
             "SQLITE_PATH = %r" % str(data_dir / "pgadmin4.db"),
             "SESSION_DB_PATH = %r" % str(data_dir / "sessions"),
             "STORAGE_DIR = %r" % str(data_dir / "storage"),
             "LOG_FILE = %r" % str(data_dir / "pgadmin4.log"),
             "DEFAULT_SERVER = '127.0.0.1'",
             "DEFAULT_SERVER_PORT = %d" % port]
    for key, value in sorted(container_env.items()):
        if key.startswith("PGADMIN_CONFIG_"):
            lines.append("%s = %s" % (key[len("PGADMIN_CONFIG_"):], value))
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def running_pgadmin(workdir, container_env, servers_json):
    """Yields pgAdmin's URL; ``container_env`` is the Deployment's env with the Secret's values filled in."""
    if not PYTHON.exists():
        raise AssertionError("pgAdmin is missing: run tests/tools/pgadmin.sh")
    workdir = pathlib.Path(workdir)
    data_dir, conf_dir = workdir / "var-lib-pgadmin", workdir / "config"
    data_dir.mkdir(parents=True, exist_ok=True)
    conf_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (conf_dir / "config_local.py").write_text(config_text(container_env, data_dir, port))
    servers_file = workdir / "servers.json"
    servers_file.write_text(servers_json)
    pkg = package_dir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PG", "PGADMIN"))}
    env["PYTHONPATH"] = str(conf_dir)
    email, password = container_env["PGADMIN_DEFAULT_EMAIL"], container_env["PGADMIN_DEFAULT_PASSWORD"]
    log_path = workdir / "pgadmin.log"
    with open(log_path, "wb") as log:
        subprocess.run([str(PYTHON), str(pkg / "setup.py"), "setup-db"], cwd=str(pkg), check=True,
                       env=dict(env, PGADMIN_SETUP_EMAIL=email, PGADMIN_SETUP_PASSWORD=password),
                       stdout=log, stderr=subprocess.STDOUT, timeout=300)
        if container_env.get("PGADMIN_SERVER_JSON_FILE"):
            subprocess.run([str(PYTHON), str(pkg / "setup.py"), "load-servers", str(servers_file), "--user", email],
                           cwd=str(pkg), check=True, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=300)
        process = subprocess.Popen([str(PYTHON), str(pkg / "pgAdmin4.py")], cwd=str(pkg), env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    url = "http://127.0.0.1:%d" % port
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise AssertionError("pgAdmin exited: %s" % log_path.read_text(errors="replace")[-3000:])
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(url + "/misc/ping", timeout=5) as answer:
                    if answer.status == 200:
                        break
            if time.monotonic() > deadline:
                raise AssertionError("pgAdmin did not answer in %ss: %s" % (
                    START_TIMEOUT, log_path.read_text(errors="replace")[-3000:]))
            time.sleep(0.5)
        yield url
    finally:
        stop_process_group(process, timeout=20)
