"""Where the tests find the JupyterHub (z2jh) chart of the pinned version, on any machine.

In this order:
1. ``$WORKBENCH_HUB_CHART``: a chart directory or .tgz you point at;
2. ``../shared/charts/jupyterhub`` beside the checkout: an offline cache (used
   when its Chart.yaml has the pinned version);
3. ``.cache/charts/jupyterhub-<version>.tgz``: downloaded earlier by this script;
4. otherwise ``<repository>/jupyterhub-<version>.tgz`` is downloaded, its sha256
   checked, and kept in 3.

The version and repository are the jupyterhub role's defaults (one truth). The
sha256 is checked against ``PINNED_SHA256`` when the version is pinned there;
otherwise against the digest the chart repository publishes in its index.yaml
(and the script says so): the digest of 4.4.0 could not be read where this
was written (no network, the repository's index not in any mirror), so fill
it in from ``sha256sum .cache/charts/jupyterhub-4.4.0.tgz`` on a connected machine.

usage: python tests/tools/hub_chart.py   prints the chart's path, or one line saying
                                          what is missing (exit status 1)
"""
import hashlib
import os
import pathlib
import sys
import urllib.error
import urllib.request

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULTS = ROOT / "roles" / "jupyterhub" / "defaults" / "main.yml"
DOWNLOADS = ROOT / ".cache" / "charts"
PINNED_SHA256 = {}  # version -> sha256 of jupyterhub-<version>.tgz


class ChartUnavailable(Exception):
    """No chart of the pinned version here; the message says what is needed."""


def pinned():
    defaults = yaml.safe_load(DEFAULTS.read_text())
    return defaults["jupyterhub_chart_version"], defaults["jupyterhub_chart_repo_url"].rstrip("/")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def offline_caches():
    """../shared/charts/jupyterhub beside the checkout (for a git worktree: also beside its main checkout)."""
    roots = [ROOT]
    dot_git = ROOT / ".git"
    if dot_git.is_file():  # a worktree: "gitdir: <main>/.git/worktrees/<name>"
        gitdir = pathlib.Path(dot_git.read_text().split("gitdir:", 1)[1].strip())
        roots.append(gitdir.parents[2])
    return [root.parent / "shared" / "charts" / "jupyterhub" for root in roots]


def chart_version(path):
    """The version in a chart directory's Chart.yaml (None if it is not one)."""
    chart_yaml = pathlib.Path(path) / "Chart.yaml"
    if not chart_yaml.is_file():
        return None
    return str(yaml.safe_load(chart_yaml.read_text()).get("version"))


def fetch(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (https, fixed host)
        return response.read()


def published_digest(repo, version):
    index = yaml.safe_load(fetch(repo + "/index.yaml"))
    for entry in index.get("entries", {}).get("jupyterhub", []):
        if str(entry.get("version")) == version:
            return entry["digest"]
    raise ChartUnavailable("the chart repository %s lists no jupyterhub %s" % (repo, version))


def download(version, repo, target):
    url = "%s/jupyterhub-%s.tgz" % (repo, version)
    try:
        data = fetch(url)
        expected = PINNED_SHA256.get(version)
        source = "pinned"
        if expected is None:
            expected, source = published_digest(repo, version), "published in %s/index.yaml" % repo
    except (urllib.error.URLError, OSError) as err:
        raise ChartUnavailable(
            "the hub render tests need the z2jh %s chart: ../shared/charts/jupyterhub (offline cache), "
            "WORKBENCH_HUB_CHART=<chart dir or .tgz>, or network access to %s (%s)"
            % (version, url, getattr(err, "reason", err)))
    if sha256(data) != expected:
        raise ChartUnavailable("%s: sha256 %s is not the %s digest %s; not used"
                               % (url, sha256(data), source, expected))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    partial.rename(target)
    if source != "pinned":
        print("hub_chart: %s checked against the digest %s (not pinned in tests/tools/hub_chart.py)"
              % (target.name, source), file=sys.stderr)
    return target


def hub_chart():
    """The path of the pinned chart (directory or .tgz) for ``helm template``; raises ChartUnavailable."""
    version, repo = pinned()
    chosen = os.environ.get("WORKBENCH_HUB_CHART")
    if chosen:
        if not pathlib.Path(chosen).exists():
            raise ChartUnavailable("WORKBENCH_HUB_CHART=%s does not exist" % chosen)
        return pathlib.Path(chosen)
    for cache in offline_caches():
        if chart_version(cache) == version:
            return cache
    target = DOWNLOADS / ("jupyterhub-%s.tgz" % version)
    if target.is_file():
        expected = PINNED_SHA256.get(version)
        if expected is None or sha256(target.read_bytes()) == expected:
            return target
        target.unlink()  # not the pinned chart: fetch it again
    return download(version, repo, target)


def main():
    try:
        print(hub_chart())
    except ChartUnavailable as err:
        print("hub_chart: %s" % err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
