"""The launcher tiles for real: a Jupyter server with workbench-launchers installed,
MLflow started with the lab (in the background) on alice's PostgreSQL schema and
SeaweedFS prefix, reached by the tile and by her kernels, TensorBoard over her log
directory, and the error page when the database is down."""
import json
import pathlib
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from fixtures.jupyter import ARTIFACTS, free_port, pod_environment, run_start_hook, running_jupyter

pytestmark = pytest.mark.integration


def test_launcher_tiles_are_registered(jupyter_server):
    status, _, body = jupyter_server.get("server-proxy/servers-info")
    assert status == 200, body
    servers = {s["name"]: s for s in json.loads(body)["server_processes"]}
    assert set(servers) >= {"mlflow", "tensorboard"}
    for name, title in (("mlflow", "MLflow"), ("tensorboard", "TensorBoard")):
        entry = servers[name]["launcher_entry"]
        assert entry["enabled"] and entry["title"] == title
        assert entry["icon_url"], "%s tile has no icon" % name
        icon_status, headers, icon = jupyter_server.get(entry["icon_url"].lstrip("/"))
        assert icon_status == 200 and b"<svg" in icon, "%s icon not served" % name


def test_mlflow_page_through_proxy_on_users_own_schema(jupyter_server, researcher):
    started = time.monotonic()
    status, _, body = jupyter_server.get("mlflow/")
    elapsed = time.monotonic() - started
    assert status == 200, jupyter_server.log_tail()
    assert b"<title>MLflow" in body or b"mlflow" in body.lower()
    print("first MLflow page through the proxy after %.1f s" % elapsed)

    # The API behind the page works and writes into alice's schema, as alice.
    payload = json.dumps({"name": "created-through-proxy"}).encode()
    status, _, body = jupyter_server.get(
        "mlflow/api/2.0/mlflow/experiments/create", method="POST", data=payload,
        headers={"Content-Type": "application/json"})
    assert status == 200, body
    experiment_id = json.loads(body)["experiment_id"]
    with researcher.pg.superuser_connect() as conn:
        owner_schema = conn.execute(
            "SELECT e.artifact_location FROM alice.experiments e WHERE e.experiment_id = %s",
            (int(experiment_id),)).fetchone()
        assert owner_schema is not None, "experiment not in alice's schema"
        assert owner_schema[0].startswith("s3://mlflow/alice/"), owner_schema
        in_group = conn.execute(
            "SELECT count(*) FROM group_ml.experiments WHERE name = 'created-through-proxy'").fetchone()[0]
        assert in_group == 0


def test_mlflow_refuses_a_foreign_host_header(jupyter_server):
    """DNS-rebinding protection is on: only localhost and the hub's origins are allowed hosts."""
    jupyter_server.get("mlflow/")  # make sure it runs
    # Talk to MLflow directly on its port, with a Host the launcher did not allow.
    port = _mlflow_port(jupyter_server)
    url = "http://127.0.0.1:%d/ajax-api/2.0/mlflow/experiments/search?max_results=1" % port
    # First the positive control, polled: on a loaded machine MLflow may still be starting.
    deadline = time.time() + 90
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as ok:
                assert ok.status == 200
                break
        except urllib.error.URLError:
            if time.time() > deadline:
                raise
            time.sleep(1)
    request = urllib.request.Request(url)
    request.add_header("Host", "evil.example")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code in (400, 403)


def _mlflow_port(jupyter_server):
    """The port the lab started MLflow on (the fixture fixed it, as WORKBENCH_MLFLOW_PORT)."""
    return int(jupyter_server.env["WORKBENCH_MLFLOW_PORT"])


def _processes(pgid):
    """{pid: (ppid, args)} of the processes in process group ``pgid`` (ps -ww: full command lines)."""
    out = subprocess.run(["ps", "-ww", "-eo", "pid=,ppid=,pgid=,args="], capture_output=True, text=True,
                         check=True).stdout
    found = {}
    for line in out.splitlines():
        pid, ppid, group, args = line.split(None, 3)
        if int(group) == pgid:
            found[int(pid)] = (int(ppid), args.split())
    return found


def _mlflow_servers(pgid):
    return {pid: (ppid, args) for pid, (ppid, args) in _processes(pgid).items()
            if "mlflow.server.fastapi_app:app" in args or args[1:4] == ["-m", "mlflow", "server"]}


def _wait_health(port, timeout=180):
    """Poll MLflow's /health on ``port`` directly (not through the proxy); seconds it took."""
    started = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=5) as answer:
                if answer.status == 200:
                    return time.monotonic() - started
        except OSError:
            pass
        if time.monotonic() - started > timeout:
            raise AssertionError("nothing answers on 127.0.0.1:%d after %ss" % (port, timeout))
        time.sleep(0.5)


class Kernel:
    """A kernel the Jupyter server started (so it has the server's environment), driven over ZMQ."""

    def __init__(self, server):
        from jupyter_client import BlockingKernelClient

        self.server = server
        status, _, body = server.get("api/kernels", method="POST", data=b'{"name": "python3"}',
                                     headers={"Content-Type": "application/json"})
        assert status == 201, body
        self.id = json.loads(body)["id"]
        runtime = pathlib.Path(server.env["JUPYTER_RUNTIME_DIR"])
        self.client = BlockingKernelClient()
        self.client.load_connection_file(str(runtime / ("kernel-%s.json" % self.id)))
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    def run(self, code, timeout=180):
        """stdout of ``code``; fails with the traceback if it raised."""
        out, errors = [], []

        def hook(message):
            content = message["content"]
            if message["msg_type"] == "stream":
                out.append(content["text"])
            elif message["msg_type"] == "error":
                errors.append("\n".join(content["traceback"]))

        self.client.execute_interactive(code, timeout=timeout, output_hook=hook)
        assert not errors, errors[0]
        return "".join(out)

    def close(self):
        self.client.stop_channels()
        self.server.get("api/kernels/" + self.id, method="DELETE")


SEED_SNIPPET = """
import json, os, mlflow
mlflow.set_experiment("seed-snippet")
with mlflow.start_run() as run:
    mlflow.log_param("alpha", 0.5)
    mlflow.log_metric("rmse", 0.25)
    with open("seed-note.txt", "w") as note:
        note.write("logged by the seed's plain snippet")
    mlflow.log_artifact("seed-note.txt")
print(json.dumps({"tracking_uri": os.environ.get("MLFLOW_TRACKING_URI"), "run_id": run.info.run_id,
                  "artifact_uri": run.info.artifact_uri, "cwd": os.getcwd()}))
"""


def test_lab_start_starts_mlflow_in_the_background_and_the_tile_attaches(tmp_path, researcher):
    """No click yet: the lab's start already runs alice's MLflow server (a child of the Jupyter
    server). The tile's first click then reaches that same server: no second MLflow starts."""
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    env = run_start_hook(pod_environment(home, dict(researcher.env, WORKBENCH_MLFLOW_PORT=str(port))))
    with running_jupyter(home, env, ARTIFACTS / "jupyter-background-mlflow.log") as server:
        seconds = _wait_health(port)
        servers = _mlflow_servers(server.process.pid)
        assert len(servers) == 1, (servers, server.log_tail())
        (pid, (ppid, args)), = servers.items()
        assert ppid == server.process.pid, "MLflow is not the lab's own child: %s" % args
        assert args[args.index("--port") + 1] == str(port)
        print("MLflow answered %.1f s after the lab did, before any click" % seconds)

        started = time.monotonic()
        status, _, body = server.get("mlflow/")
        click = time.monotonic() - started
        assert status == 200 and b"<title>MLflow" in body, server.log_tail()
        status, _, body = server.get("mlflow/ajax-api/2.0/mlflow/experiments/search?max_results=5")
        assert status == 200, body
        print("first click on the warm lab: %.2f s" % click)
        assert list(_mlflow_servers(server.process.pid)) == [pid], "the tile started a second MLflow"
        attached = [args for ppid_, args in _processes(server.process.pid).values() if "--attach" in args]
        assert attached, "the tile's process (the launcher with --attach) is not running"


def test_the_tile_starts_mlflow_again_when_the_labs_server_died(tmp_path, researcher):
    """The lab's MLflow server is killed (OOM, a crash) after the tile was opened: the tile's
    process, which waited on it, starts a new one on the same port, so the tile works again and
    the kernels' MLFLOW_TRACKING_URI stays right."""
    import os
    import signal

    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    env = run_start_hook(pod_environment(home, dict(researcher.env, WORKBENCH_MLFLOW_PORT=str(port))))
    with running_jupyter(home, env, ARTIFACTS / "jupyter-mlflow-restart.log") as server:
        _wait_health(port)
        assert server.get("mlflow/")[0] == 200  # the tile's process now waits on the lab's server
        (dead, _), = _mlflow_servers(server.process.pid).items()
        deadline = time.monotonic() + 60
        while "attached to the MLflow server the lab started (pid %d)" % dead not in server.log_tail(100_000):
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.2)
        os.kill(dead, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while True:  # the proxy answers 5xx until the new server is up
            status, _, body = server.get("mlflow/ajax-api/2.0/mlflow/experiments/search?max_results=5")
            if status == 200:
                break
            assert time.monotonic() < deadline, (status, server.log_tail())
            time.sleep(1)
        servers = _mlflow_servers(server.process.pid)
        assert len(servers) == 1 and dead not in servers, servers
        (pid, (ppid, args)), = servers.items()
        assert args[args.index("--port") + 1] == str(port)
        # the tile's process (the launcher with --attach, exec'd into the server) is the new server
        assert ppid == server.process.pid and "--attach" not in args


def test_kernel_logs_the_seed_snippet_through_the_lab_server_into_alices_prefix(jupyter_server, researcher):
    """The seed's plain snippet in a kernel the lab started: MLFLOW_TRACKING_URI is the lab's own
    MLflow server, the artifact is an object under s3://mlflow/alice/ (not ./mlruns), and the tile
    shows the run."""
    port = _mlflow_port(jupyter_server)
    kernel = Kernel(jupyter_server)
    try:
        result = json.loads(kernel.run(SEED_SNIPPET).strip().splitlines()[-1])
    finally:
        kernel.close()
    scheme = (result["tracking_uri"] or "unset").split("://")[0]  # never print a database URI's password
    assert result["tracking_uri"] == "http://127.0.0.1:%d" % port, "kernel tracking URI: %s://..." % scheme
    assert result["artifact_uri"].startswith("s3://mlflow/alice/"), result
    assert not (pathlib.Path(result["cwd"]) / "mlruns").exists(), "artifacts went to ./mlruns"

    key = result["artifact_uri"][len("s3://mlflow/"):] + "/seed-note.txt"
    body = researcher.s3().get_object(Bucket="mlflow", Key=key)["Body"].read()
    assert body == b"logged by the seed's plain snippet"

    # the tile reaches the same server: the run, its param and metric, and the artifact through the UI
    status, _, raw = jupyter_server.get("mlflow/api/2.0/mlflow/runs/get?run_id=" + result["run_id"])
    assert status == 200, raw
    data = json.loads(raw)["run"]["data"]
    assert {p["key"]: p["value"] for p in data["params"]} == {"alpha": "0.5"}
    assert [(m["key"], m["value"]) for m in data["metrics"]] == [("rmse", 0.25)]
    status, _, served = jupyter_server.get("mlflow/get-artifact?path=seed-note.txt&run_uuid=" + result["run_id"])
    assert status == 200 and served == body


def test_proxied_artifacts_land_under_alices_prefix(jupyter_server, researcher):
    """--serve-artifacts: an upload through the server's artifact proxy (a client without S3 keys)
    is an object under alice's prefix, written with her keys."""
    port = _mlflow_port(jupyter_server)
    _wait_health(port)
    request = urllib.request.Request(
        "http://127.0.0.1:%d/api/2.0/mlflow-artifacts/artifacts/proxied/hello.txt" % port,
        data=b"through the proxy", method="PUT")
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 200
    body = researcher.s3().get_object(Bucket="mlflow", Key="alice/proxied/hello.txt")["Body"].read()
    assert body == b"through the proxy"


def test_tensorboard_through_proxy(jupyter_server):
    status, _, body = jupyter_server.get("tensorboard/")
    assert status == 200, jupyter_server.log_tail()
    assert b"TensorBoard" in body or b"tensorboard" in body.lower()
    status, _, body = jupyter_server.get("tensorboard/data/environment")
    assert status == 200
    logdir = json.loads(body)["data_location"]
    assert logdir == str(jupyter_server.home / "tensorboard-logs")


def test_database_down_shows_an_error_page_not_a_spinner(tmp_path, researcher):
    """MLflow's tile on a pod whose database is unreachable answers at once with the reason."""
    env = dict(researcher.env)
    # the Secret's database address, with a port nothing listens on
    from sqlalchemy.engine import make_url
    down = make_url(env["MLFLOW_BACKEND_STORE_URI"]).set(port=free_port())
    env["MLFLOW_BACKEND_STORE_URI"] = down.render_as_string(hide_password=False)
    env["PGPORT"] = str(down.port)
    # A launcher that only waited for the port would answer after this start timeout, far past
    # the request's own 60 s: the page must come from noticing the failure, however slow the machine.
    env["WORKBENCH_MLFLOW_START_TIMEOUT"] = "900"
    home = tmp_path / "home"
    home.mkdir()
    with running_jupyter(home, pod_environment(home, env), ARTIFACTS / "jupyter-db-down.log") as server:
        started = time.monotonic()
        status, _, body = server.get("mlflow/", timeout=60)
        elapsed = time.monotonic() - started
        # the lab's background launcher is the one that noticed (the tile only attached to it)
        launchers = [args for _, args in _processes(server.process.pid).values()
                     if "workbench_launchers.mlflow_launcher" in args]
    assert any("--attach" not in args for args in launchers), launchers
    text = body.decode()
    assert status == 503, text
    assert "MLflow could not start" in text and "Cannot reach the MLflow database" in text
    assert researcher.env["PGPASSWORD"] not in text, "password leaked into the error page"
    print("error page after %.1f s" % elapsed)


def test_missing_secret_names_the_missing_variables(tmp_path):
    """Without the user's Secret, the launcher says which variables are missing."""
    home = tmp_path / "home"
    home.mkdir()
    env = pod_environment(home, {"WORKBENCH_USER": "bob"})
    with running_jupyter(home, env, ARTIFACTS / "jupyter-no-secret.log") as server:
        status, _, body = server.get("mlflow/", timeout=60)
    text = body.decode()
    assert status == 503
    assert "MLFLOW_BACKEND_STORE_URI" in text and "MLFLOW_ARTIFACTS_DESTINATION" in text
    assert "bob" in text


def test_launcher_package_importable_without_jupyter():
    """The entry points load in a plain interpreter (what jupyter-server-proxy does)."""
    out = subprocess.run(
        [sys.executable, "-c", "from workbench_launchers.servers import setup_mlflow, setup_tensorboard;"
         "print(setup_mlflow()['launcher_entry']['title'], setup_tensorboard()['launcher_entry']['title'])"],
        capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["MLflow", "TensorBoard"]
