#!/usr/bin/env bash
# Create the project's Python environment in .venv and make this checkout
# resolvable as the collection enertef.workbench.
#   scripts/bootstrap.sh          controller requirements (ansible-playbook site.yml)
#   scripts/bootstrap.sh --test   plus everything the tests need
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
python=${PYTHON:-python3}
reqs=requirements.txt
[ "${1:-}" = "--test" ] && reqs=requirements-test.txt

if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
    .venv/bin/pip install --quiet --upgrade pip
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r "$reqs"

mkdir -p .collections/ansible_collections/enertef
ln -sfn "$root" .collections/ansible_collections/enertef/workbench
echo "bootstrap: .venv ready ($reqs); run: .venv/bin/ansible-playbook site.yml"
