"""The launcher tiles for real: a Jupyter server with workbench-launchers installed,
MLflow behind the proxy on alice's PostgreSQL schema and SeaweedFS prefix,
TensorBoard over her log directory, and the error page when the database is down."""
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from fixtures.jupyter import ARTIFACTS, pod_environment, running_jupyter

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
    """The port jupyter-server-proxy gave MLflow: our Jupyter's process group, from ps."""
    # -ww: full command lines (ps cuts them to the terminal width otherwise)
    out = subprocess.run(["ps", "-ww", "-eo", "pgid=,args="], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        pgid, _, command = line.strip().partition(" ")
        args = command.split()
        if int(pgid) == jupyter_server.process.pid and "mlflow" in args and "server" in args and "--port" in args:
            return int(args[args.index("--port") + 1])
    raise AssertionError("no mlflow server process found")


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
    env["MLFLOW_BACKEND_STORE_URI"] = env["MLFLOW_BACKEND_STORE_URI"].replace(
        "host=" + researcher.pg.socket_dir, "host=" + str(tmp_path / "no-such-socket-dir"))
    # A launcher that only waited for the port would answer after this start timeout, far past
    # the request's own 60 s: the page must come from noticing the failure, however slow the machine.
    env["WORKBENCH_MLFLOW_START_TIMEOUT"] = "900"
    home = tmp_path / "home"
    home.mkdir()
    with running_jupyter(home, pod_environment(home, env), ARTIFACTS / "jupyter-db-down.log") as server:
        started = time.monotonic()
        status, _, body = server.get("mlflow/", timeout=60)
        elapsed = time.monotonic() - started
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
