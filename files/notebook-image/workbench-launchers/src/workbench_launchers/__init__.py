# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""JupyterLab launcher tiles for the researcher's own MLflow and TensorBoard.

jupyter-server-proxy finds :mod:`workbench_launchers.servers` through the
``jupyter_serverproxy_servers`` entry points; MLflow is started through
:mod:`workbench_launchers.mlflow_launcher`, which checks the database first.
"""

__version__ = "0.1.0"
