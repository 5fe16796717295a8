# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jupyter server extension: the user's MLflow server starts with the lab.

Seed 001 started MLflow together with the notebook; starting it only at the
first click on the tile made the researcher wait for MLflow's import and boot
(about 10 s on 2 cores). Here, when the Jupyter server (``jupyterhub-singleuser``
in the pod) loads its extensions:

* the MLflow port is fixed for the whole pod (``$WORKBENCH_MLFLOW_PORT``, or a
  free loopback port chosen now and written back into the environment), the
  one value the tile (:func:`workbench_launchers.servers.setup_mlflow`), the
  background server and the kernels share;
* ``workbench_launchers.mlflow_launcher`` is started in the background on that
  port (database check first, the error page when it fails), and its pid is put
  into ``$WORKBENCH_MLFLOW_PID`` so the tile attaches to it instead of starting a
  second server;
* kernels and terminals (children of this server) get
  ``MLFLOW_TRACKING_URI=http://127.0.0.1:<port>``, so a plain
  ``mlflow.set_experiment`` / ``log_artifact`` goes through the user's own
  server and its artifacts land under the user's S3 prefix, not in ``./mlruns``.

``WORKBENCH_MLFLOW_AUTOSTART=false`` turns the background start off: the tile
then starts MLflow at the first click (the earlier behaviour) and kernels log
straight to the user's database (``MLFLOW_TRACKING_URI`` = the backend store).
An ``MLFLOW_TRACKING_URI`` the admin set for the pod is never overridden.

Enabled by ``jupyter-config/jupyter_server_config.d/workbench_launchers.json``
(the image copies it to ``/etc/jupyter``).
"""

import atexit
import os
import subprocess
import sys
import threading

from workbench_launchers.servers import mlflow_port

FALSE_WORDS = ("0", "false", "no", "off")
STOP_SECONDS = 10


def autostart_enabled(environ):
    return environ.get("WORKBENCH_MLFLOW_AUTOSTART", "true").strip().lower() not in FALSE_WORDS


def tracking_uri(environ, port, autostart):
    """The ``MLFLOW_TRACKING_URI`` kernels get; None to leave the environment as it is."""
    if environ.get("MLFLOW_TRACKING_URI"):
        return None
    if autostart:
        return "http://127.0.0.1:%d" % port
    return environ.get("MLFLOW_BACKEND_STORE_URI") or None


def start_background_mlflow(port, environ):
    """Start the launcher on ``port``; its output goes to the Jupyter server's log."""
    command = [sys.executable, "-m", "workbench_launchers.mlflow_launcher", "--port", str(port)]
    return subprocess.Popen(command, env=dict(environ), stdin=subprocess.DEVNULL)


def _jupyter_server_extension_points():
    return [{"module": "workbench_launchers.autostart"}]


def _load_jupyter_server_extension(serverapp):
    environ = os.environ
    autostart = autostart_enabled(environ)
    try:
        port = mlflow_port(environ)
    except ValueError as error:
        serverapp.log.error("workbench: MLflow not started in the background: %s", error)
        return
    uri = tracking_uri(environ, port, autostart)
    if uri:
        environ["MLFLOW_TRACKING_URI"] = uri
    if not autostart:
        serverapp.log.info("workbench: WORKBENCH_MLFLOW_AUTOSTART is off; MLflow starts at the tile's first click")
        return
    process = start_background_mlflow(port, environ)
    environ["WORKBENCH_MLFLOW_PID"] = str(process.pid)
    serverapp.log.info("workbench: MLflow starting in the background on 127.0.0.1:%d (pid %d)", port, process.pid)

    # Reap it if it ever exits, so the tile's attach sees it gone (not a zombie) and starts one itself.
    threading.Thread(target=process.wait, name="workbench-mlflow-reaper", daemon=True).start()
    # And stop it with the lab (in the pod the container goes anyway; on a laptop it would linger).
    atexit.register(_stop, process)


def _stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()


# The name jupyter_server looked for before 2.0 (still honoured).
load_jupyter_server_extension = _load_jupyter_server_extension
