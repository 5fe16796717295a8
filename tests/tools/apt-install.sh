#!/usr/bin/env bash
# Debian packages the tests need (called by tests/run.sh install when present).
#   chromium   headless browser for tests/browser (JupyterLab launcher screenshots)
#   fonts-dejavu-core  so screenshots render text instead of empty boxes
#   the linter for the shell scripts: package shellcheck (tests/run.sh lint, ansible-test sanity)
# Idempotent and non-interactive: does nothing when everything is installed.
set -euo pipefail
packages=(chromium fonts-dejavu-core shellcheck)
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
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "apt-install: installed ${missing[*]}"
