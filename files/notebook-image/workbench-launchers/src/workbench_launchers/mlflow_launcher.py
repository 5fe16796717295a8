# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start the user's own MLflow tracking server (for the lab and its tile).

Everything comes from the pod's environment, i.e. the user's own Secret
(``plugins/module_utils/tenant.py`` SECRET_KEYS): the backend store is the
user's PostgreSQL role (its search_path pins the user's schema), artifacts go
to the user's S3 prefix with the user's keys. No superuser, no shared
credentials, nothing on the command line that ``ps`` would show.

Before MLflow starts, the database is checked (reachable, login works, schema
at the revision this MLflow expects). If the check fails, this process serves
a small error page on the proxy's port that says why, instead of leaving the
user in front of a spinner; it re-checks in the background and starts MLflow
as soon as the problem is gone.

Two ways this runs (see workbench_launchers.autostart):

* ``--port P``: the lab's background start, when JupyterLab starts;
* ``--port P --attach``: the tile's process (jupyter-server-proxy). While the
  background server (``$WORKBENCH_MLFLOW_PID``) lives, it only waits, and the
  proxy talks to that server on ``P``; if the background server is gone (or
  was never started), it checks and starts MLflow on ``P`` itself.
"""

import argparse
import html
import http.server
import importlib.util
import os
import pathlib
import re
import sys
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

REQUIRED_VARIABLES = ("MLFLOW_BACKEND_STORE_URI", "MLFLOW_ARTIFACTS_DESTINATION")
S3_VARIABLES = ("MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
CONNECT_TIMEOUT = 5
RECHECK_SECONDS = 10
ATTACH_POLL_SECONDS = 1.0
MLFLOW_POOL_SIZE = 2
MLFLOW_POOL_OVERFLOW = 2
LOCAL_HOSTS = ("localhost", "127.0.0.1", "localhost:*", "127.0.0.1:*")


class LaunchProblem(Exception):
    """Why MLflow cannot start; ``retry`` says whether waiting can help."""

    def __init__(self, message, retry=True):
        super().__init__(message)
        self.retry = retry


def redact(uri):
    """``uri`` with its password replaced by ``***``."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def libpq_uri(backend_uri):
    """The SQLAlchemy URL MLflow takes, as a libpq URI psycopg takes."""
    scheme, sep, rest = backend_uri.partition("://")
    if not sep or scheme.split("+", 1)[0] not in ("postgresql", "postgres"):
        raise LaunchProblem(
            "MLFLOW_BACKEND_STORE_URI must be a postgresql:// URL, got %s" % redact(backend_uri),
            retry=False)
    return "postgresql://" + rest


def expected_schema_revision():
    """The alembic head revision of the installed MLflow, read from its migration files.

    Parsing the few dozen small files is milliseconds; building alembic's
    ScriptDirectory would add about 2 s to every start.
    """
    spec = importlib.util.find_spec("mlflow")
    versions = pathlib.Path(spec.origin).parent / "store" / "db_migrations" / "versions"
    revisions, parents = set(), set()
    for path in versions.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        match = re.search(r'^revision\s*=\s*["\'](\w+)["\']', text, re.M)
        if match:
            revisions.add(match.group(1))
        down = re.search(r"^down_revision\s*=\s*(.+)$", text, re.M)
        if down:
            parents.update(re.findall(r'["\'](\w+)["\']', down.group(1)))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def mlflow_version():
    try:
        from importlib.metadata import version
        return version("mlflow")
    except Exception:  # pylint: disable=broad-except
        return "unknown"


def check_environment(environ):
    """Raise LaunchProblem naming every missing variable of the user's Secret."""
    needed = REQUIRED_VARIABLES
    if environ.get("MLFLOW_ARTIFACTS_DESTINATION", "").startswith("s3://"):
        needed += S3_VARIABLES
    missing = [name for name in needed if not environ.get(name)]
    if missing:
        user = environ.get("WORKBENCH_USER") or environ.get("JUPYTERHUB_USER") or "this user"
        raise LaunchProblem(
            "The pod has no %s. These come from the per-user Secret of %s "
            "(created by the users role and mounted by the hub); ask the workbench "
            "admin to provision the user, then restart the server from the hub's "
            "control panel." % (", ".join(missing), user),
            retry=False)


def check_database(backend_uri, expected_revision):
    """Connect as the user and compare the schema revision; raise LaunchProblem on failure.

    Returns a note for the log (e.g. that MLflow will create its tables itself).
    """
    import psycopg  # the image installs it; imported here so --help works without it

    conninfo = libpq_uri(backend_uri)
    try:
        with psycopg.connect(conninfo, connect_timeout=CONNECT_TIMEOUT, autocommit=True) as conn:
            schema = conn.execute("SELECT current_schema()").fetchone()[0]
            if schema is None:
                raise LaunchProblem(
                    "Connected to PostgreSQL, but the search_path of this role names no "
                    "existing schema: the user's schema is missing. Ask the admin to "
                    "provision the user (users role).", retry=False)
            exists = conn.execute(
                "SELECT to_regclass(format('%I.alembic_version', current_schema()))"
            ).fetchone()[0]
            if exists is None:
                return ("schema %s has no MLflow tables yet; MLflow creates them on its "
                        "first start, which takes a while" % schema)
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except psycopg.OperationalError as error:
        reason = str(error).strip().replace(conninfo, redact(conninfo))
        raise LaunchProblem(
            "Cannot reach the MLflow database as %s: %s" % (redact(backend_uri), reason))
    found = row[0] if row else None
    if expected_revision and found != expected_revision:
        raise LaunchProblem(
            "The MLflow tables in schema %s are at revision %s, but MLflow %s in this "
            "image expects revision %s. The admin upgrades every tenant's schema with "
            "the users role (MLflow schema upgrade); your data is kept."
            % (schema, found, mlflow_version(), expected_revision), retry=False)
    return "schema %s is at revision %s" % (schema, found)


def _origin(url):
    parts = urlsplit(url)
    return "%s://%s" % (parts.scheme, parts.netloc) if parts.scheme and parts.netloc else None


def public_origins(environ):
    """Browser origins the hub is reached at (``WORKBENCH_PUBLIC_ORIGINS``, ``JUPYTERHUB_PUBLIC_URL``)."""
    origins = []
    for item in environ.get("WORKBENCH_PUBLIC_ORIGINS", "").split(","):
        origin = _origin(item.strip())
        if origin and origin not in origins:
            origins.append(origin)
    for variable in ("JUPYTERHUB_PUBLIC_URL", "JUPYTERHUB_PUBLIC_HUB_URL"):
        origin = _origin(environ.get(variable, ""))
        if origin and origin not in origins:
            origins.append(origin)
    return origins


# What ``mlflow server`` (mlflow/server/__init__.py ``_run_server``, mlflow 3.17.2) hands
# its uvicorn worker through the environment; tests/unit/test_launcher_autostart.py checks
# these names against the installed mlflow.
SERVER_BACKEND_STORE = "_MLFLOW_SERVER_FILE_STORE"
SERVER_REGISTRY_STORE = "_MLFLOW_SERVER_REGISTRY_STORE"
SERVER_ARTIFACT_ROOT = "_MLFLOW_SERVER_ARTIFACT_ROOT"
SERVER_SERVE_ARTIFACTS = "_MLFLOW_SERVER_SERVE_ARTIFACTS"
SERVER_ARTIFACTS_DESTINATION = "_MLFLOW_SERVER_ARTIFACT_DESTINATION"
SERVER_SGI_NAME = "_MLFLOW_SGI_NAME"
SERVER_BOOT_ID = "_MLFLOW_SERVER_BOOT_ID"
SERVER_IN_JOB_EXECUTOR = "_MLFLOW_IN_JOB_EXECUTOR"
FASTAPI_APP = "mlflow.server.fastapi_app:app"


def uvicorn_log_config():
    """mlflow's own uvicorn log configuration (found without importing mlflow)."""
    spec = importlib.util.find_spec("mlflow")
    return str(pathlib.Path(spec.origin).parent / "server" / "uvicorn_log_config.yaml")


def mlflow_command(port, environ):
    """The MLflow tracking server's command line and the environment it runs with.

    This is what ``mlflow server --workers 1 --serve-artifacts`` runs, without
    ``mlflow server`` itself: that CLI is a second Python process that imports
    all of mlflow and initialises the stores only to spawn uvicorn and wait on
    it (about 250 MiB and half the start time on 2 cores, benchmarks/README.md).
    The uvicorn worker gets the same environment the CLI would give it.

    The Host header MLflow sees behind jupyter-server-proxy is the one the
    browser sent to the hub, and state-changing requests carry the hub's
    Origin: both are allowed explicitly (localhost for the laptop, plus the
    hub's public origins), nothing else.
    """
    origins = public_origins(environ)
    hosts = list(LOCAL_HOSTS) + [urlsplit(origin).netloc for origin in origins]
    workers = environ.get("WORKBENCH_MLFLOW_WORKERS", "1")
    command = [
        sys.executable, "-m", "uvicorn",
        "--log-config", uvicorn_log_config(),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", workers,
        FASTAPI_APP,
    ]
    env = dict(environ)
    backend = environ["MLFLOW_BACKEND_STORE_URI"]
    destination = environ["MLFLOW_ARTIFACTS_DESTINATION"]
    # Secrets reach mlflow through the environment, not argv.
    env[SERVER_BACKEND_STORE] = backend
    env[SERVER_REGISTRY_STORE] = backend
    # Artifacts: new experiments get the user's S3 prefix as location, so kernels
    # (which have the user's keys) write there directly, and runs keep s3:// URIs
    # that the group utilities, model serving and backups resolve. Serving
    # artifacts proxies the rest (mlflow-artifacts:/ URIs, clients without keys)
    # to the same prefix.
    env[SERVER_ARTIFACT_ROOT] = destination
    env["MLFLOW_DEFAULT_ARTIFACT_ROOT"] = destination
    env[SERVER_SERVE_ARTIFACTS] = "true"
    env[SERVER_ARTIFACTS_DESTINATION] = destination
    env["MLFLOW_SERVER_ALLOWED_HOSTS"] = ",".join(dict.fromkeys(hosts))
    env["MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"] = ",".join(origins or ["http://localhost:*", "http://127.0.0.1:*"])
    env[SERVER_SGI_NAME] = "uvicorn"
    env[SERVER_BOOT_ID] = uuid.uuid4().hex
    env[SERVER_IN_JOB_EXECUTOR] = "false"
    env["MLFLOW_ENABLE_WORKSPACES"] = "false"
    # The kernels' tracking URI points at this very server; the server itself
    # reads its backend store only from the variables above.
    env.pop("MLFLOW_TRACKING_URI", None)
    # One user's UI needs no background job runner (huey workers, scheduled jobs).
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    # At most 4 database connections for this server (SQLAlchemy's default is
    # 5 + 10): the tenant's connection limit (pg_tenant, 8) leaves the rest to
    # the user's own kernels; see roles/postgres/README.md for the budget.
    env.setdefault("MLFLOW_SQLALCHEMYSTORE_POOL_SIZE", str(MLFLOW_POOL_SIZE))
    env.setdefault("MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW", str(MLFLOW_POOL_OVERFLOW))
    return command, env


ERROR_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>MLflow could not start</title>
{refresh}
<style>body{{font-family:sans-serif;max-width:46em;margin:3em auto;color:#222}}
h1{{color:#b3261e;font-size:1.4em}}pre{{white-space:pre-wrap;background:#f4f4f4;padding:1em}}</style>
</head><body>
<h1>MLflow could not start</h1>
<pre>{reason}</pre>
<p>{hint}</p>
</body></html>
"""


class ErrorPage(http.server.ThreadingHTTPServer):
    """Answers every request with 503 and the reason MLflow is not running."""

    daemon_threads = True

    def __init__(self, port, problem):
        self.problem = problem
        super().__init__(("127.0.0.1", port), _ErrorHandler)

    def body(self):
        problem = self.problem
        if problem.retry:
            refresh = '<meta http-equiv="refresh" content="%d">' % RECHECK_SECONDS
            hint = ("This page checks again every %d seconds and MLflow starts as soon as "
                    "the problem is gone." % RECHECK_SECONDS)
        else:
            refresh = ""
            hint = ("Waiting will not fix this. After the admin fixed it, restart your "
                    "server (File &gt; Hub Control Panel &gt; Stop My Server, then Start).")
        return ERROR_PAGE.format(refresh=refresh, reason=html.escape(str(problem)), hint=hint)


class _ErrorHandler(http.server.BaseHTTPRequestHandler):
    def _answer(self, with_body):
        body = self.server.body().encode("utf-8")
        self.send_response(503, "MLflow could not start")
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self._answer(True)

    def do_HEAD(self):  # noqa: N802
        self._answer(False)

    do_POST = do_GET

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        sys.stderr.write("workbench-mlflow error page: %s\n" % (format % args))


def serve_error_until_fixed(port, problem, check):
    """Serve the error page; return once ``check()`` stops raising (never if it cannot)."""
    server = ErrorPage(port, problem)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    while True:
        time.sleep(RECHECK_SECONDS)
        if not server.problem.retry:
            continue
        try:
            note = check()
        except LaunchProblem as again:
            server.problem = again
            continue
        server.shutdown()
        server.server_close()
        return note


def log(message):
    sys.stderr.write("workbench-mlflow: %s\n" % message)
    sys.stderr.flush()


def process_alive(pid):
    """Whether ``pid`` runs (a zombie, i.e. exited but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = pathlib.Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return True  # no procfs: trust kill(0)
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def background_pid(environ):
    """The pid of the lab's background MLflow launcher, or None."""
    value = environ.get("WORKBENCH_MLFLOW_PID", "")
    return int(value) if value.isdigit() else None


def wait_for_background(environ, poll=ATTACH_POLL_SECONDS):
    """Block while the background server lives; return whether there was one."""
    pid = background_pid(environ)
    if pid is None or not process_alive(pid):
        return False
    log("attached to the MLflow server the lab started (pid %d)" % pid)
    while process_alive(pid):
        time.sleep(poll)
    log("the lab's MLflow server (pid %d) is gone; starting one here" % pid)
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True, help="port to serve on (127.0.0.1)")
    parser.add_argument("--attach", action="store_true",
                        help="the tile's process: wait on the lab's background server ($WORKBENCH_MLFLOW_PID) "
                             "while it lives, start one only when it is gone")
    args = parser.parse_args(argv)
    environ = dict(os.environ)

    def check():
        if environ.get("WORKBENCH_MLFLOW_PORT_PROBLEM"):
            raise LaunchProblem(environ["WORKBENCH_MLFLOW_PORT_PROBLEM"], retry=False)
        check_environment(environ)
        return check_database(environ["MLFLOW_BACKEND_STORE_URI"], expected_schema_revision())

    if args.attach:
        wait_for_background(environ)

    try:
        note = check()
    except LaunchProblem as problem:
        log("not starting MLflow: %s" % problem)
        note = serve_error_until_fixed(args.port, problem, check)
    log(note)
    command, env = mlflow_command(args.port, environ)
    log("starting: %s" % " ".join(command))
    sys.stderr.flush()
    os.execve(command[0], command, env)


if __name__ == "__main__":
    main()
