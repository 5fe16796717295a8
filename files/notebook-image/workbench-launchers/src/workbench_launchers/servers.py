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
import sys

ICONS = pathlib.Path(__file__).resolve().parent / "icons"

# Measured with benchmarks/mlflow_start.py: click to usable MLflow page (DB check,
# start, first API answer) took 11-21 s on 2 busy cores (imports dominate); the
# seed's unmigrated start took 42-55 s. The proxy waits well past ours, so a
# slow node still gets its page, and a dead start still ends in an error.
MLFLOW_START_TIMEOUT = 60.0
TENSORBOARD_START_TIMEOUT = 60.0

DEFAULT_TENSORBOARD_LOGDIR = "~/tensorboard-logs"


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
    """The MLflow tile: the user's own tracking server (see mlflow_launcher)."""
    return {
        "command": [sys.executable, "-m", "workbench_launchers.mlflow_launcher", "--port", "{port}"],
        "timeout": _timeout("WORKBENCH_MLFLOW_START_TIMEOUT", MLFLOW_START_TIMEOUT),
        "new_browser_tab": True,
        "launcher_entry": {
            "title": "MLflow",
            "icon_path": str(ICONS / "mlflow.svg"),
            "category": "Notebook",
        },
    }


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
