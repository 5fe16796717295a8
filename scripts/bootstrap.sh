#!/usr/bin/env bash
# Create the project's Python environment in .venv and make this checkout
# resolvable as the collection enertef.workbench.
#   scripts/bootstrap.sh          controller requirements (ansible-playbook site.yml)
#   scripts/bootstrap.sh --test   plus everything the tests need
# An existing .venv is reused only when its Python is the one asked for
# (PYTHON, default python3: same major.minor) and its stamp holds the sha256 of
# the requirement files installed; otherwise it is rebuilt or reinstalled.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
python=${PYTHON:-python3}
reqs=requirements.txt
[ "${1:-}" = "--test" ] && reqs=requirements-test.txt
stamp=.venv/.workbench-requirements.sha256

if ! command -v "$python" >/dev/null; then
    echo "bootstrap: $python not found; install Python 3 (Debian: tests/tools/apt-install.sh)" >&2
    exit 1
fi
want_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
have_version=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
if [ -n "$have_version" ] && [ "$have_version" != "$want_version" ]; then
    if [ -L .venv ]; then
        echo "bootstrap: .venv (a link to $(readlink .venv)) has Python $have_version, $python is $want_version;" \
             "not replacing a shared environment: point PYTHON at Python $have_version or remove the link" >&2
        exit 1
    fi
    echo "bootstrap: .venv has Python $have_version, $python is $want_version: rebuilding .venv"
    rm -rf .venv
    have_version=""
fi
if [ -z "$have_version" ]; then
    rm -rf .venv
    if ! "$python" -m venv .venv; then
        echo "bootstrap: '$python -m venv' failed; Debian needs python3-venv (tests/tools/apt-install.sh)" >&2
        exit 1
    fi
    .venv/bin/pip install --quiet --disable-pip-version-check --upgrade pip
fi

# What the requirement files say, including the files they include (-r) and the editable package.
requirements_digest() {
    sha256sum requirements.txt "$reqs" files/notebook-image/workbench-launchers/pyproject.toml \
        | sha256sum | cut -d' ' -f1
}
digest="$reqs $(requirements_digest)"
if [ -f "$stamp" ] && grep -qxF "$digest" "$stamp"; then
    echo "bootstrap: .venv already has $reqs (Python $want_version)"
else
    .venv/bin/pip install --quiet --disable-pip-version-check -r "$reqs"
    # requirements-test.txt includes requirements.txt: its stamp covers both
    { [ -f "$stamp" ] && grep -v "^$reqs " "$stamp"; echo "$digest"; } > "$stamp.new" || true
    mv "$stamp.new" "$stamp"
fi

mkdir -p .collections/ansible_collections/enertef
ln -sfn "$root" .collections/ansible_collections/enertef/workbench
echo "bootstrap: .venv ready ($reqs); run: .venv/bin/ansible-playbook site.yml"
