# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""jupyter-server-proxy entry points: one function per launcher tile.

Each returns the ``ServerProcess`` settings of jupyter-server-proxy. ``{port}``
is filled in by jupyter-server-proxy with a free port on 127.0.0.1; the proxy
strips ``/mlflow`` or ``/tensorboard`` from the path, so neither server needs a
path prefix.
"""

import os
import pathlib
import shutil
import socket
import sys

ICONS = pathlib.Path(__file__).resolve().parent / "icons"

# The MLflow server starts with the lab (workbench_launchers.autostart); the tile
# attaches to it and waits for it when clicked while it still boots (about 10 s on
# 2 busy cores, imports dominate; see benchmarks/mlflow_start.py). The proxy waits
# well past that, so a slow node still gets its page, and a dead start still ends
# in an error page (the launcher serves it at once).
MLFLOW_START_TIMEOUT = 60.0
TENSORBOARD_START_TIMEOUT = 60.0

DEFAULT_TENSORBOARD_LOGDIR = "~/tensorboard-logs"


def mlflow_port(environ=None):
    """The loopback port of the user's MLflow server, the same for the tile, the
    background server and the kernels' ``MLFLOW_TRACKING_URI``.

    ``$WORKBENCH_MLFLOW_PORT`` when set; otherwise a free port, chosen once and
    written back into the environment, so every later caller in this lab (and
    every child process) gets the same one.
    """
    environ = os.environ if environ is None else environ
    value = environ.get("WORKBENCH_MLFLOW_PORT", "").strip()
    if value:
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise ValueError("WORKBENCH_MLFLOW_PORT must be a TCP port number (1-65535), got %r" % value)
        return int(value)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    environ["WORKBENCH_MLFLOW_PORT"] = str(port)
    return port


def _timeout(variable, default):
    """A start timeout in seconds, overridable from the pod's environment."""
    value = os.environ.get(variable, "")
    try:
        return float(value) if value else default
    except ValueError:
        return default


def tensorboard_logdir(environ=None):
    """The directory TensorBoard shows: ``$WORKBENCH_TENSORBOARD_LOGDIR`` or ``~/tensorboard-logs``."""
    environ = os.environ if environ is None else environ
    raw = environ.get("WORKBENCH_TENSORBOARD_LOGDIR") or DEFAULT_TENSORBOARD_LOGDIR
    return pathlib.Path(os.path.expanduser(raw))


def setup_mlflow():
    """The MLflow tile: the user's own tracking server (see mlflow_launcher).

    The tile's process only attaches to the server the lab started in the
    background (``--attach``: it waits while that server lives, and starts one
    itself on the same port if it is gone or was never started).
    """
    settings = {
        "command": [sys.executable, "-m", "workbench_launchers.mlflow_launcher", "--port", "{port}", "--attach"],
        "timeout": _timeout("WORKBENCH_MLFLOW_START_TIMEOUT", MLFLOW_START_TIMEOUT),
        "new_browser_tab": True,
        "launcher_entry": {
            "title": "MLflow",
            "icon_path": str(ICONS / "mlflow.svg"),
            "category": "Notebook",
        },
    }
    try:
        settings["port"] = mlflow_port()
    except ValueError as error:
        # The proxy picks a port; the launcher shows this on the tile's error page.
        settings["environment"] = {"WORKBENCH_MLFLOW_PORT_PROBLEM": str(error)}
    return settings


def _tensorboard_command():
    logdir = tensorboard_logdir()
    # TensorBoard starts fine on an empty directory, not on a missing one's parent.
    logdir.mkdir(parents=True, exist_ok=True)
    return [
        sys.executable, "-m", "tensorboard.main",
        "--logdir", str(logdir),
        "--host", "127.0.0.1",
        "--port", "{port}",
        # The pure-Python loader: no extra data-server process in every pod, and
        # a few runs of small scalars load fast enough with it.
        "--load_fast", "false",
    ]


def setup_tensorboard():
    """The TensorBoard tile over the user's log directory."""
    return {
        # A callable, so the log directory is resolved when the tile is clicked.
        "command": _tensorboard_command,
        "timeout": _timeout("WORKBENCH_TENSORBOARD_START_TIMEOUT", TENSORBOARD_START_TIMEOUT),
        "new_browser_tab": True,
        "launcher_entry": {
            "title": "TensorBoard",
            "icon_path": str(ICONS / "tensorboard.svg"),
            "category": "Notebook",
        },
    }


# code-server (VS Code in the browser) loads a large web bundle; its own start is a few seconds.
CODE_SERVER_START_TIMEOUT = 60.0
# Where the image puts the preinstalled extensions (Python, Jupyter); copied into the home once,
# because the home volume hides anything the image puts there and users add their own later.
DEFAULT_CODE_SERVER_EXTENSIONS_SEED = "/opt/code-server-extensions"


def code_server_binary(environ=None):
    """Path of code-server: ``$WORKBENCH_CODE_SERVER`` or the one on PATH; None when not installed."""
    environ = os.environ if environ is None else environ
    explicit = environ.get("WORKBENCH_CODE_SERVER")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which("code-server", path=environ.get("PATH"))


def seed_code_server_extensions(extensions_dir, seed_dir):
    """Copy the image's extensions into the user's extensions folder the first time only."""
    extensions_dir, seed_dir = pathlib.Path(extensions_dir), pathlib.Path(seed_dir)
    if extensions_dir.exists() or not seed_dir.is_dir():
        return False
    shutil.copytree(seed_dir, extensions_dir, symlinks=True)
    return True


def _code_server_command():
    home = pathlib.Path(os.path.expanduser("~"))
    data_dir = home / ".local" / "share" / "code-server"
    extensions_dir = data_dir / "extensions"
    seed_code_server_extensions(
        extensions_dir, os.environ.get("WORKBENCH_CODE_SERVER_EXTENSIONS_SEED", DEFAULT_CODE_SERVER_EXTENSIONS_SEED))
    folder = os.path.expanduser(os.environ.get("WORKBENCH_CODE_SERVER_FOLDER") or "~")
    return [
        code_server_binary() or "code-server",
        # Only jupyter-server-proxy reaches it (loopback), and the proxy checks the Jupyter login.
        "--auth", "none",
        "--bind-addr", "127.0.0.1:{port}",
        "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
        "--user-data-dir", str(data_dir),
        "--extensions-dir", str(extensions_dir),
        folder,
    ]


def setup_code_server():
    """The VS Code tile: code-server on the user's home (shown only where code-server is installed)."""
    return {
        "command": _code_server_command,
        "timeout": _timeout("WORKBENCH_CODE_SERVER_START_TIMEOUT", CODE_SERVER_START_TIMEOUT),
        "new_browser_tab": True,
        "launcher_entry": {
            "enabled": code_server_binary() is not None,
            "title": "VS Code",
            "icon_path": str(ICONS / "vscode.svg"),
            "category": "Notebook",
        },
    }
