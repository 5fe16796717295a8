# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write TensorBoard event files that the TensorBoard tile shows.

    from tensorboard_logger import TensorBoardLogger
    with TensorBoardLogger("my-first-run") as tb:
        for step, loss in enumerate(losses):
            tb.log_scalar("loss/train", loss, step)

Runs go to ``$WORKBENCH_TENSORBOARD_LOGDIR`` (default ``~/tensorboard-logs``),
the directory the TensorBoard launcher watches, one sub-directory per run.
The writer is tensorboardX's (no TensorFlow or PyTorch needed).
"""

import datetime
import os
import pathlib
import re

from tensorboardX import SummaryWriter

DEFAULT_LOGDIR = "~/tensorboard-logs"


def default_logdir():
    """The directory the TensorBoard tile shows."""
    return pathlib.Path(os.path.expanduser(
        os.environ.get("WORKBENCH_TENSORBOARD_LOGDIR") or DEFAULT_LOGDIR))


def _safe_run_name(run_name):
    if not run_name:
        return datetime.datetime.now().strftime("run-%Y%m%d-%H%M%S-%f")
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", str(run_name)).strip(".-")
    if not cleaned:
        raise ValueError("run name %r has no letters or digits to name a directory" % (run_name,))
    return cleaned


class TensorBoardLogger:
    """One TensorBoard run: scalars, histograms, figures, text and hyper-parameters."""

    def __init__(self, run_name=None, logdir=None):
        self.run_dir = pathlib.Path(logdir or default_logdir()) / _safe_run_name(run_name)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._writer = SummaryWriter(logdir=str(self.run_dir))

    def log_scalar(self, tag, value, step):
        self._writer.add_scalar(tag, float(value), global_step=step)

    def log_scalars(self, values, step, prefix=""):
        """Each ``name: value`` of ``values`` as its own scalar ``prefix + name``."""
        for name, value in values.items():
            self.log_scalar(prefix + name, value, step)

    def log_histogram(self, tag, values, step):
        self._writer.add_histogram(tag, values, global_step=step)

    def log_figure(self, tag, figure, step=0):
        """A matplotlib figure as an image (the figure is left open)."""
        self._writer.add_figure(tag, figure, global_step=step, close=False)

    def log_text(self, tag, text, step=0):
        self._writer.add_text(tag, text, global_step=step)

    def log_hparams(self, hparams, metrics):
        """Hyper-parameters and final metrics, for TensorBoard's HParams tab.

        They go to the run's ``hparams`` subdirectory (as torch's SummaryWriter
        does): a second event file in the run's own directory would make a
        running TensorBoard move on to it and never read the scalars file again.
        """
        self._writer.flush()
        self._writer.add_hparams(dict(hparams), dict(metrics), name="hparams")

    def event_files(self):
        """The event files written so far (flushes first)."""
        self.flush()
        return sorted(self.run_dir.rglob("events.out.tfevents.*"))

    def flush(self):
        self._writer.flush()

    def close(self):
        self._writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
