# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Clone the project repositories into the user's home at pod start; later, update them safely.

The list comes from ``$WORKBENCH_PROJECT_REPOSITORIES`` (JSON, set by the hub
from the inventory's ``jupyterhub_project_repositories``): each entry has
``url``, optional ``branch`` (default ``main``), optional ``target`` (a folder
relative to the home; default: the repository's name) and optional
``deploy_key`` (path of an SSH private key mounted from a Secret).

For each repository:

* missing (or an empty folder): cloned;
* a clean clone of the same origin, behind ``origin/<branch>``: fast-forwarded;
* anything else (uncommitted changes to tracked files, local commits, another
  branch checked out, another origin, a folder that is not a clone): left
  exactly as it is, with a message that says why and what to do.

Nothing of the user's is ever overwritten, and the pod starts even when a
repository cannot be reached (the message says so).
"""

import argparse
import json
import os
import pathlib
import posixpath
import shutil
import subprocess
import sys
import tempfile

ENV_VARIABLE = "WORKBENCH_PROJECT_REPOSITORIES"
DEFAULT_BRANCH = "main"
# Per git command; a network policy that drops packets must not hold the pod's start forever.
GIT_TIMEOUT = float(os.environ.get("WORKBENCH_REPOS_GIT_TIMEOUT", "120"))


class RepositoryError(Exception):
    """A repository entry that cannot be used; the message names the problem."""


def parse_entries(raw):
    """The entries of the JSON list ``raw``, checked; RepositoryError naming the first problem."""
    try:
        entries = json.loads(raw) if raw.strip() else []
    except ValueError as error:
        raise RepositoryError("%s is not valid JSON: %s" % (ENV_VARIABLE, error))
    if not isinstance(entries, list):
        raise RepositoryError("%s must be a JSON list of {url, branch, target}" % ENV_VARIABLE)
    checked, targets = [], set()
    for index, entry in enumerate(entries):
        if isinstance(entry, str):
            entry = {"url": entry}
        if not isinstance(entry, dict) or not str(entry.get("url") or "").strip():
            raise RepositoryError("repository %d: a url is required" % index)
        url = entry["url"].strip()
        target = entry.get("target") or default_target(url)
        normal = posixpath.normpath(target)
        if posixpath.isabs(target) or normal == "." or normal.startswith(".."):
            raise RepositoryError("repository %s: target %r must be a folder inside the home" % (url, target))
        if normal in targets:
            raise RepositoryError("repository %s: target %r is used twice" % (url, normal))
        targets.add(normal)
        branch = str(entry.get("branch") or DEFAULT_BRANCH)
        if branch.startswith("-") or ".." in branch:
            raise RepositoryError("repository %s: %r is not a branch name" % (url, branch))
        checked.append({"url": url, "branch": branch, "target": normal, "deploy_key": entry.get("deploy_key")})
    return checked


def default_target(url):
    name = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return name[:-4] if name.endswith(".git") else name


def git_environment(deploy_key=None, workdir=None):
    """os.environ for git: never prompt; with a deploy key, ssh uses only that key.

    A key mounted from a Secret is readable by group/others, which ssh refuses, so a
    0600 copy is made in ``workdir``. A ``known_hosts`` file beside the key pins the host;
    without one the host key is accepted the first time (and then kept in ~/.ssh).
    """
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # The start hook may run as root over clones the user owns: git would refuse them.
        env.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="safe.directory", GIT_CONFIG_VALUE_0="*")
    if not deploy_key:
        return env
    source = pathlib.Path(deploy_key)
    if not source.is_file():
        raise RepositoryError("deploy key %s not found (is the Secret mounted?)" % source)
    copy = pathlib.Path(workdir or tempfile.mkdtemp(prefix="workbench-git-")) / "deploy-key"
    fd = os.open(str(copy), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(source.read_bytes())
    known_hosts = source.parent / "known_hosts"
    if known_hosts.is_file():
        host_check = "-o StrictHostKeyChecking=yes -o UserKnownHostsFile=%s" % known_hosts
    else:
        host_check = "-o StrictHostKeyChecking=accept-new"
    env["GIT_SSH_COMMAND"] = "ssh -i %s -o IdentitiesOnly=yes -o BatchMode=yes %s" % (copy, host_check)
    return env


def _git(args, cwd, env):
    """(returncode, stdout+stderr stripped) of one git command."""
    try:
        out = subprocess.run(["git"] + args, cwd=cwd, env=env, capture_output=True, text=True,
                             timeout=GIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        return 124, "git %s did not finish in %ss" % (args[0], GIT_TIMEOUT)
    return out.returncode, (out.stdout + out.stderr).strip()


def sync_repository(entry, home, env):
    """Clone or update one repository; returns (action, message). Never raises for git failures."""
    target = pathlib.Path(home) / entry["target"]
    url, branch = entry["url"], entry["branch"]
    if not target.exists() or (target.is_dir() and not any(target.iterdir())):
        target.parent.mkdir(parents=True, exist_ok=True)
        code, out = _git(["clone", "--branch", branch, "--", url, str(target)], home, env)
        if code:
            return "failed", "could not clone %s (branch %s): %s" % (url, branch, (out.splitlines() or [""])[-1])
        return "cloned", "cloned %s (branch %s)" % (url, branch)
    if not (target / ".git").exists():
        return "left", "%s exists and is not a git clone: not touched" % entry["target"]
    code, origin = _git(["remote", "get-url", "origin"], target, env)
    if code or origin != url:
        return "left", "%s: its origin is %r, not %s: not touched" % (entry["target"], origin, url)
    code, out = _git(["fetch", "--quiet", "origin", branch], target, env)
    if code:
        return "failed", "%s: could not fetch %s from %s: %s" % (entry["target"], branch, url, out)
    upstream = "refs/remotes/origin/%s" % branch
    # `git fetch origin B` only updates FETCH_HEAD with a single-branch refspec: keep the ref current too.
    _git(["update-ref", upstream, "FETCH_HEAD"], target, env)
    _, current = _git(["rev-parse", "--abbrev-ref", "HEAD"], target, env)
    _, behind = _git(["rev-list", "--count", "HEAD.." + upstream], target, env)
    _, ahead = _git(["rev-list", "--count", upstream + "..HEAD"], target, env)
    if current != branch:
        return "left", "%s: branch %s is checked out, not %s: fetched only (origin/%s is there to merge)" % (
            entry["target"], current, branch, branch)
    if behind == "0":
        return "unchanged", "%s: up to date with origin/%s" % (entry["target"], branch)
    _, dirty = _git(["status", "--porcelain", "--untracked-files=no"], target, env)
    if dirty:
        files = [line.split(None, 1)[-1] for line in dirty.splitlines()]
        return "left", ("%s: not updated, you have uncommitted changes in %s; origin/%s is %s commit(s) ahead. "
                        "Commit or stash them, then run: git -C ~/%s pull --ff-only" % (
                            entry["target"], ", ".join(files[:5]) + (" ..." if len(files) > 5 else ""),
                            branch, behind, entry["target"]))
    if ahead != "0":
        return "left", ("%s: not updated, %s local commit(s) are not on origin/%s, which is %s commit(s) ahead. "
                        "Merge or rebase yourself: git -C ~/%s pull" % (entry["target"], ahead, branch, behind,
                                                                       entry["target"]))
    code, out = _git(["merge", "--ff-only", "--quiet", upstream], target, env)
    if code:
        return "left", "%s: fast-forward to origin/%s refused by git (nothing changed): %s" % (
            entry["target"], branch, out)
    return "updated", "%s: fast-forwarded %s commit(s) from origin/%s" % (entry["target"], behind, branch)


def sync_all(entries, home):
    """sync_repository for each entry; returns [(entry, action, message)]."""
    results = []
    for entry in entries:
        workdir = tempfile.mkdtemp(prefix="workbench-git-")
        try:
            env = git_environment(entry.get("deploy_key"), workdir)
            action, message = sync_repository(entry, home, env)
        except RepositoryError as error:
            action, message = "failed", "%s: %s" % (entry["url"], error)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)  # the key copy goes with it
        results.append((entry, action, message))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--home", default=os.path.expanduser("~"), help="where the targets are (default: ~)")
    parser.add_argument("--repositories", default=None,
                        help="JSON list of {url, branch, target, deploy_key} (default: $%s)" % ENV_VARIABLE)
    parser.add_argument("--print-targets", action="store_true",
                        help="only print each repository's folder (the start hook hands them to the user)")
    args = parser.parse_args(argv)
    raw = args.repositories if args.repositories is not None else os.environ.get(ENV_VARIABLE, "")
    try:
        entries = parse_entries(raw)
    except RepositoryError as error:
        sys.stderr.write("workbench repositories: %s\n" % error)
        return 2
    if args.print_targets:
        for entry in entries:
            print(os.path.join(args.home, entry["target"]))
        return 0
    failed = 0
    for _entry, action, message in sync_all(entries, args.home):
        failed += action == "failed"
        sys.stderr.write("workbench repositories: %s\n" % message)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
