#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection laid out as
# ansible_collections/enertef/workbench (ansible-test's required layout).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/enertef/workbench
mkdir -p "$dest"
# The collection's Ansible content: tracked and new (not ignored) files. Left out:
# the vendored pip bootstrap (.ci/), and what is not Ansible code but runs under
# pytest or inside containers (tests/, benchmarks/, molecule/, files/); pytest
# exercises those, and ansible-test's plugin rules do not apply to them.
git ls-files -co --exclude-standard -z \
    | grep -zvE '^(\.ci|tests|benchmarks|molecule|files)/' \
    | xargs -0 cp --parents -t "$dest"
# ansible-test downloads get-pip.py from a host this machine cannot reach; use
# the offline stand-in (installs pip with ensurepip). See ../shared/tools/README.md.
# The pip version this ansible-test bootstraps (24.2 for ansible-core 2.19).
pip_version=$(python - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages


class Python:  # get_venv_packages only reads .version
    version = "%d.%d" % __import__("sys").version_info[:2]


print(get_venv_packages(Python())["pip"].replace(".", "_"))
PY
)
mkdir -p ~/.ansible/test/cache
cp "$root/.ci/ansible-test-get-pip.py" ~/.ansible/test/cache/get_pip_"${pip_version}".py
cd "$dest"
git init -q && git add -A >/dev/null
python_version=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
ansible-test sanity --python "$python_version" --requirements --color no "$@"
