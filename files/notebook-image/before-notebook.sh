#!/usr/bin/env bash
# Sourced by the docker-stacks start script (/usr/local/bin/before-notebook.d/)
# just before JupyterLab starts in the user's pod.
# 1. Put the notebook-scripts into the home, never over the user's edits.
# 2. (MLFLOW_TRACKING_URI is set by the lab itself: workbench_launchers.autostart starts the
#    user's MLflow server with the lab and points the kernels at it.)
# 3. Clone/update the project repositories ($WORKBENCH_PROJECT_REPOSITORIES), never over local changes.

python -m workbench_launchers.home_setup /opt/workbench/notebook-scripts "${HOME}/notebook-scripts" || \
    echo "workbench: could not install notebook-scripts into ${HOME} (continuing)" >&2
if [ "$(id -u)" = "0" ] && [ -n "${NB_UID:-}" ]; then
    # started as root (docker-stacks switches user later): hand the files to the user
    chown -R "${NB_UID}:${NB_GID:-100}" "${HOME}/notebook-scripts" || true
fi
if [ -n "${WORKBENCH_PROJECT_REPOSITORIES:-}" ]; then
    python -m workbench_launchers.repos --home "${HOME}" || \
        echo "workbench: some project repositories could not be cloned or updated (see above; continuing)" >&2
    if [ "$(id -u)" = "0" ] && [ -n "${NB_UID:-}" ]; then
        python -m workbench_launchers.repos --home "${HOME}" --print-targets | \
            while read -r target; do [ -d "${target}" ] && chown -R "${NB_UID}:${NB_GID:-100}" "${target}"; done || true
    fi
fi
export WORKBENCH_TENSORBOARD_LOGDIR="${WORKBENCH_TENSORBOARD_LOGDIR:-${HOME}/tensorboard-logs}"
