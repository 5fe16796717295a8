#!/usr/bin/env bash
# The test command: installs everything the tests need, then runs every test.
#   tests/run.sh            everything (what CI runs)
#   tests/run.sh pytest -k naming    only pytest, with extra pytest arguments
#   tests/run.sh cluster | cluster-down   start / stop the Kubernetes test cluster only
set -euo pipefail
cd "$(dirname "$0")/.."
export ANSIBLE_CONFIG=$PWD/ansible.cfg
export PATH=$PWD/.venv/bin:$PATH
stage=${1:-all}
[ $# -gt 0 ] && shift

step() { printf '\n==> %s\n' "$*"; }

install() {
    # System packages first: bootstrap needs python3-venv on a fresh Debian.
    step "install: system packages (tests/tools/apt-install.sh)"
    tests/tools/apt-install.sh
    step "install: Python environment (.venv) and test requirements"
    scripts/bootstrap.sh --test
    step "install: kubectl and helm built from the Go module proxy, cached (tests/tools/k8s_binaries.py)"
    python tests/tools/k8s_binaries.py .venv/bin
    tests/tools/configurable-http-proxy.sh  # the journey tests' real JupyterHub proxy (npm, pinned)
    tests/tools/pgadmin.sh  # the journey's pgAdmin 4 (PyPI, pinned, in its own venv .pgadmin/)
    step "install: the pinned hub chart (tests/tools/hub_chart.py: offline cache or download)"
    # Not fatal here: without it the hub render tests say in one line what they need.
    python tests/tools/hub_chart.py || true
}

lint() {
    step "lint: ansible-lint --profile production"
    ansible-lint --profile production --offline
    step "lint: ruff (undefined names, unused imports, mutable defaults) on every Python file"
    ruff check --isolated --select F,E9,B006,B008 plugins tests benchmarks files molecule
    step "lint: shellcheck on every shell script"
    git ls-files -z '*.sh' .ci/run | xargs -0 shellcheck
    step "lint: ansible-playbook --syntax-check"
    for playbook in site.yml playbooks/*.yml; do
        ansible-playbook --syntax-check "$playbook" >/dev/null
        echo "syntax ok: $playbook"
    done
}

sanity() {
    step "sanity: ansible-test sanity"
    tests/tools/sanity.sh
}

cluster_up() {
    step "cluster: build (or reuse) and start the Kubernetes test cluster (tests/cluster)"
    # Not fatal here: the cluster tests then try once more and fail with the reason.
    python tests/cluster up || echo "cluster: did not start (the cluster tests will say why)"
}

cluster_down() {
    step "cluster: stop the test cluster; nothing may be left behind"
    python tests/cluster down
}

run_pytest() {
    step "pytest: unit, rendering, integration (real PostgreSQL, SeaweedFS, MLflow), molecule"
    # Exit 5 (no tests collected) is a failure here like any other non-zero.
    # Two workers (the tests wait on servers and playbooks as much as they compute); each
    # worker has its own PostgreSQL and SeaweedFS, and runs a file's tests in order.
    python -m pytest -n "${WORKBENCH_TEST_WORKERS:-2}" --dist loadfile "$@"
}

case "$stage" in
    all) install
         # The cluster's Go builds (minutes on a cold cache) use the core that lint and sanity leave idle.
         mkdir -p test-artifacts
         python tests/cluster build > test-artifacts/cluster-build.log 2>&1 &
         cluster_build=$!
         lint; sanity
         step "cluster: waiting for its build (test-artifacts/cluster-build.log)"
         wait "$cluster_build" || echo "cluster: build failed (cluster_up says why)"
         cat test-artifacts/cluster-build.log
         trap 'cluster_down || exit 1' EXIT
         cluster_up; run_pytest ;;
    cluster) cluster_up ;;
    cluster-down) cluster_down ;;
    install) install ;;
    lint) lint ;;
    sanity) sanity ;;
    pytest) run_pytest "$@" ;;
    *) echo "usage: tests/run.sh [all|install|lint|sanity|cluster|cluster-down|pytest [pytest args]]" >&2; exit 2 ;;
esac
