#!/usr/bin/env bash
# Debian packages the test command needs (tests/run.sh install runs this first,
# so a fresh Debian 12 with only python3 and sudo or root is enough):
#   python3-venv       scripts/bootstrap.sh creates .venv with it
#   git                the collection's file list (lint), test repositories (project repos, Airflow DAGs)
#   procps             ps/pkill: the launcher tests read server command lines
#   curl ca-certificates  downloads over https (the hub chart when there is no offline cache)
#   chromium           headless browser for tests/browser (JupyterLab launcher screenshots)
#   fonts-dejavu-core  so screenshots render text instead of empty boxes
#   the linter for the shell scripts, package shellcheck (tests/run.sh lint, ansible-test sanity)
#   nodejs npm         node for configurable-http-proxy (the hub's proxy in the hub tests);
#                      only when node/npm are not there already (e.g. from NodeSource)
#   the test cluster (tests/cluster/README.md): containerd runc containernetworking-plugins
#                      iptables ipset nftables conntrack (the node), docker.io (the controller's
#                      image builds), busybox-static libc6-dev (its small images: busybox, pause),
#                      debootstrap (the Debian root of the workbench's images)
# Idempotent and non-interactive: does nothing when everything is installed.
set -euo pipefail
packages=(python3-venv git procps curl ca-certificates chromium fonts-dejavu-core shellcheck
          containerd runc containernetworking-plugins iptables ipset nftables conntrack docker.io
          busybox-static libc6-dev debootstrap)
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "apt-install: already installed: ${packages[*]}"
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "apt-install: missing ${missing[*]}; run as root or install sudo" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "apt-install: installed ${missing[*]}"
