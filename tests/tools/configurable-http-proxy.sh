#!/usr/bin/env bash
# configurable-http-proxy (npm, pinned) for the journey tests' real JupyterHub,
# installed with the machine's node/npm into .node/ (git-ignored; the tests look there first).
set -euo pipefail
cd "$(dirname "$0")/../.."
version=5.3.0
prefix=.node
proxy=$prefix/node_modules/.bin/configurable-http-proxy
if [ "$("$proxy" --version 2>/dev/null || true)" = "$version" ]; then
    echo "configurable-http-proxy $version already installed"
    exit 0
fi
command -v npm >/dev/null || { echo "npm is missing: install Node.js 18+ (apt-get install nodejs npm)" >&2; exit 1; }
npm install --no-audit --no-fund --prefix "$prefix" "configurable-http-proxy@$version"
"$proxy" --version
