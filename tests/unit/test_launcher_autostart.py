"""The pieces of the MLflow background start that need no server: one port for the tile, the
background server and the kernels; the tracking URI kernels get; the tile's attach."""
import os
import subprocess
import sys
import time

import pytest

from workbench_launchers import autostart, mlflow_launcher, servers


def test_mlflow_port_is_chosen_once_and_shared_through_the_environment():
    environ = {}
    port = servers.mlflow_port(environ)
    assert 0 < port < 65536 and environ["WORKBENCH_MLFLOW_PORT"] == str(port)
    assert servers.mlflow_port(environ) == port  # the tile and the background server agree
    assert servers.mlflow_port({"WORKBENCH_MLFLOW_PORT": "5000"}) == 5000


@pytest.mark.parametrize("value", ["http", "0", "70000", "-1"])
def test_a_bad_mlflow_port_is_named(value):
    with pytest.raises(ValueError, match="WORKBENCH_MLFLOW_PORT.*%s" % value):
        servers.mlflow_port({"WORKBENCH_MLFLOW_PORT": value})


def test_the_tile_shows_a_bad_port_on_its_error_page(monkeypatch):
    monkeypatch.setenv("WORKBENCH_MLFLOW_PORT", "http")
    settings = servers.setup_mlflow()
    assert "port" not in settings  # the proxy picks one, so the error page can be served
    problem = settings["environment"]["WORKBENCH_MLFLOW_PORT_PROBLEM"]
    assert "WORKBENCH_MLFLOW_PORT" in problem and "'http'" in problem


def test_the_tile_attaches_on_the_shared_port(monkeypatch):
    monkeypatch.setenv("WORKBENCH_MLFLOW_PORT", "5123")
    settings = servers.setup_mlflow()
    assert settings["port"] == 5123
    assert settings["command"][-3:] == ["--port", "{port}", "--attach"]


def test_kernels_get_the_lab_server_unless_the_admin_chose_a_tracking_uri():
    db = "postgresql+psycopg://alice@db/mlflow"
    assert autostart.tracking_uri({"MLFLOW_BACKEND_STORE_URI": db}, 5000, True) == "http://127.0.0.1:5000"
    assert autostart.tracking_uri({"MLFLOW_TRACKING_URI": "https://mlflow.lab"}, 5000, True) is None
    # background start off: the tile starts MLflow at the click, kernels log to the database
    assert autostart.tracking_uri({"MLFLOW_BACKEND_STORE_URI": db}, 5000, False) == db
    assert autostart.tracking_uri({}, 5000, False) is None


@pytest.mark.parametrize("value, enabled", [(None, True), ("true", True), ("False", False), ("0", False),
                                            ("off", False)])
def test_autostart_switch(value, enabled):
    environ = {} if value is None else {"WORKBENCH_MLFLOW_AUTOSTART": value}
    assert autostart.autostart_enabled(environ) is enabled


def test_the_server_does_not_inherit_the_kernels_tracking_uri():
    _, env = mlflow_launcher.mlflow_command(4242, {
        "MLFLOW_BACKEND_STORE_URI": "postgresql://alice@db/mlflow", "MLFLOW_ARTIFACTS_DESTINATION": "s3://mlflow/alice",
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:4242"})
    assert "MLFLOW_TRACKING_URI" not in env


def test_a_zombie_counts_as_gone():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    # exited but not reaped (no wait()): kill(0) still succeeds on it
    while mlflow_launcher.process_alive(child.pid):
        assert time.monotonic() < deadline, "an exited child still counts as alive"
        time.sleep(0.05)
    os.kill(child.pid, 0)  # the zombie is there
    child.wait()
    assert mlflow_launcher.process_alive(os.getpid())


def test_attach_waits_while_the_background_server_lives():
    assert mlflow_launcher.wait_for_background({}) is False
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)"])
    try:
        started = time.monotonic()
        assert mlflow_launcher.wait_for_background({"WORKBENCH_MLFLOW_PID": str(child.pid)}, poll=0.1) is True
        assert time.monotonic() - started >= 1.0  # it waited for the server to go
    finally:
        child.kill()
        child.wait()
    # gone already: start at once
    assert mlflow_launcher.wait_for_background({"WORKBENCH_MLFLOW_PID": str(child.pid)}) is False


def test_the_server_environment_uses_the_names_installed_mlflow_reads():
    """The launcher runs mlflow's uvicorn worker without ``mlflow server``: the variables it sets
    must be the ones mlflow 3.17.2's ``_run_server`` hands the worker (renamed in an upgrade = fail)."""
    import pathlib

    from mlflow import environment_variables
    from mlflow.server import constants

    assert mlflow_launcher.SERVER_BACKEND_STORE == constants.BACKEND_STORE_URI_ENV_VAR
    assert mlflow_launcher.SERVER_REGISTRY_STORE == constants.REGISTRY_STORE_URI_ENV_VAR
    assert mlflow_launcher.SERVER_ARTIFACT_ROOT == constants.ARTIFACT_ROOT_ENV_VAR
    assert mlflow_launcher.SERVER_SERVE_ARTIFACTS == constants.SERVE_ARTIFACTS_ENV_VAR
    assert mlflow_launcher.SERVER_ARTIFACTS_DESTINATION == constants.ARTIFACTS_DESTINATION_ENV_VAR
    assert mlflow_launcher.SERVER_SGI_NAME == environment_variables._MLFLOW_SGI_NAME.name
    assert mlflow_launcher.SERVER_BOOT_ID == environment_variables._MLFLOW_SERVER_BOOT_ID.name
    assert mlflow_launcher.SERVER_IN_JOB_EXECUTOR == environment_variables._MLFLOW_IN_JOB_EXECUTOR.name
    assert environment_variables.MLFLOW_ENABLE_WORKSPACES.name == "MLFLOW_ENABLE_WORKSPACES"
    command, _ = mlflow_launcher.mlflow_command(4242, {
        "MLFLOW_BACKEND_STORE_URI": "postgresql://alice@db/mlflow", "MLFLOW_ARTIFACTS_DESTINATION": "s3://mlflow/alice"})
    # what _run_server would run for uvicorn: the same app and mlflow's own log config
    assert command[-1] == "mlflow.server.fastapi_app:app"
    assert pathlib.Path(command[command.index("--log-config") + 1]).is_file()
    assert command[command.index("--workers") + 1] == "1"
