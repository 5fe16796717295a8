#!/usr/bin/env bash
# pgAdmin 4 (PyPI, pinned) for the journey's admin step, in its own virtualenv .pgadmin/
# (git-ignored): its pinned Flask stack must not change the test venv's (MLflow, JupyterHub).
# PyPI's newest pgadmin4 is 9.18; the role's image is 9.19 (see roles/pgadmin/defaults/main.yml).
set -euo pipefail
cd "$(dirname "$0")/../.."
version=9.18
prefix=.pgadmin
python=${PGADMIN_PYTHON:-python3}
if [ "$("$prefix/bin/python" -c 'import importlib.metadata as m; print(m.version("pgadmin4"))' 2>/dev/null || true)" = "$version" ]; then
    echo "pgadmin4 $version already installed"
    exit 0
fi
"$python" -m venv "$prefix"
"$prefix/bin/pip" install --quiet --disable-pip-version-check "pgadmin4==$version"
"$prefix/bin/python" -c 'import importlib.metadata as m; print("pgadmin4", m.version("pgadmin4"))'
