"""Project repositories in the user's home (workbench_launchers.repos) with real git.

The test makes a bare repository (the "remote") and a second clone that plays
the maintainer pushing to it. The user's home gets the first clone, then
updates; a local edit, a local commit, another checked-out branch, a folder
that is not a clone and an untracked file in the way are all left exactly as
they were, with a message saying why. The image's start hook does the same at
pod start. Only the SSH transport of deploy keys is not exercised (no SSH
server here): the key handling (0600 copy, ssh command) is checked directly.
"""
import json
import os
import stat
import subprocess

import pytest

from fixtures.jupyter import pod_environment, run_start_hook
from workbench_launchers import repos

pytestmark = pytest.mark.integration

GIT_IDENTITY = {"GIT_AUTHOR_NAME": "Maintainer", "GIT_AUTHOR_EMAIL": "maintainer@example.org",
                "GIT_COMMITTER_NAME": "Maintainer", "GIT_COMMITTER_EMAIL": "maintainer@example.org"}


def git(cwd, *args):
    env = dict(os.environ, **GIT_IDENTITY)
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


class Remote:
    """A bare repository and a maintainer's clone that pushes to it."""

    def __init__(self, base):
        self.bare = base / "project.git"
        self.url = self.bare.as_uri()
        git(base, "init", "--quiet", "--bare", "--initial-branch=main", str(self.bare))
        self.work = base / "maintainer"
        git(base, "clone", "--quiet", self.url, str(self.work))
        git(self.work, "checkout", "--quiet", "-b", "main")

    def commit(self, path, text, message):
        file = self.work / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)
        git(self.work, "add", path)
        git(self.work, "commit", "--quiet", "-m", message)
        git(self.work, "push", "--quiet", "origin", "main")
        return git(self.work, "rev-parse", "HEAD")


@pytest.fixture
def remote(tmp_path):
    remote = Remote(tmp_path)
    remote.commit("README.md", "# project\n", "first")
    remote.commit("airflow_dag.py", "VERSION = 1\n", "dag v1")
    return remote


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "home"
    path.mkdir()
    return path


def sync(home, entries):
    results = repos.sync_all(repos.parse_entries(json.dumps(entries)), str(home))
    return [(action, message) for _, action, message in results]


def test_first_clone_then_fast_forward(remote, home):
    entry = {"url": remote.url, "branch": "main", "target": "projects/demo"}
    [(action, message)] = sync(home, [entry])
    assert action == "cloned", message
    clone = home / "projects" / "demo"
    assert (clone / "airflow_dag.py").read_text() == "VERSION = 1\n"

    assert sync(home, [entry]) == [("unchanged", "projects/demo: up to date with origin/main")]

    head = remote.commit("airflow_dag.py", "VERSION = 2\n", "dag v2")
    [(action, message)] = sync(home, [entry])
    assert action == "updated" and "1 commit(s)" in message
    assert git(clone, "rev-parse", "HEAD") == head
    assert (clone / "airflow_dag.py").read_text() == "VERSION = 2\n"


def test_uncommitted_local_edit_is_kept_with_a_clear_message(remote, home):
    entry = {"url": remote.url, "target": "demo"}  # branch defaults to main
    sync(home, [entry])
    clone = home / "demo"
    before = git(clone, "rev-parse", "HEAD")
    (clone / "airflow_dag.py").write_text("VERSION = 'mine'\n")
    remote.commit("airflow_dag.py", "VERSION = 3\n", "dag v3")

    [(action, message)] = sync(home, [entry])
    assert action == "left"
    assert "uncommitted changes in airflow_dag.py" in message and "1 commit(s) ahead" in message
    assert "git -C ~/demo pull --ff-only" in message
    assert (clone / "airflow_dag.py").read_text() == "VERSION = 'mine'\n"
    assert git(clone, "rev-parse", "HEAD") == before

    # once the user drops the edit, the next start catches up
    git(clone, "checkout", "--", "airflow_dag.py")
    assert sync(home, [entry])[0][0] == "updated"
    assert (clone / "airflow_dag.py").read_text() == "VERSION = 3\n"


def test_local_commits_branches_and_foreign_folders_are_left_alone(remote, home):
    entry = {"url": remote.url, "target": "demo"}
    sync(home, [entry])
    clone = home / "demo"
    (clone / "notes.md").write_text("my notes\n")
    git(clone, "add", "notes.md")
    git(clone, "commit", "--quiet", "-m", "my notes")
    mine = git(clone, "rev-parse", "HEAD")
    remote.commit("README.md", "# project v2\n", "readme v2")
    [(action, message)] = sync(home, [entry])
    assert action == "left" and "1 local commit(s) are not on origin/main" in message
    assert git(clone, "rev-parse", "HEAD") == mine

    git(clone, "checkout", "--quiet", "-b", "experiment")
    [(action, message)] = sync(home, [entry])
    assert action == "left" and "branch experiment is checked out" in message
    assert git(clone, "rev-parse", "--abbrev-ref", "HEAD") == "experiment"

    (home / "plain").mkdir()
    (home / "plain" / "data.csv").write_text("a,b\n")
    [(action, message)] = sync(home, [{"url": remote.url, "target": "plain"}])
    assert action == "left" and "not a git clone" in message
    assert sorted(p.name for p in (home / "plain").iterdir()) == ["data.csv"]


def test_untracked_file_in_the_way_is_not_overwritten(remote, home):
    entry = {"url": remote.url, "target": "demo"}
    sync(home, [entry])
    clone = home / "demo"
    (clone / "config.yml").write_text("mine: true\n")
    remote.commit("config.yml", "theirs: true\n", "add config")
    [(action, message)] = sync(home, [entry])
    assert action == "left" and "refused by git" in message
    assert (clone / "config.yml").read_text() == "mine: true\n"


def test_unreachable_repository_fails_alone_and_the_command_says_so(remote, home, tmp_path, capsys):
    entries = [{"url": (tmp_path / "missing.git").as_uri(), "target": "missing"},
               {"url": remote.url, "target": "demo"}]
    code = repos.main(["--home", str(home), "--repositories", json.dumps(entries)])
    err = capsys.readouterr().err
    assert code == 1
    assert "could not clone" in err and "cloned %s" % remote.url in err
    assert (home / "demo" / "README.md").exists() and not (home / "missing").exists()


@pytest.mark.parametrize("entries, message", [
    ('{"url": "x"}', "must be a JSON list"),
    ("[{", "not valid JSON"),
    ('[{"branch": "main"}]', "a url is required"),
    ('[{"url": "https://h/x.git", "target": "../outside"}]', "must be a folder inside the home"),
    ('[{"url": "https://h/x.git", "target": "/etc"}]', "must be a folder inside the home"),
    ('[{"url": "https://h/a.git", "target": "p"}, {"url": "https://h/b.git", "target": "p/"}]', "used twice"),
    ('[{"url": "https://h/x.git", "branch": "--upload-pack=evil"}]', "not a branch name"),
])
def test_bad_entries_are_refused_before_anything_is_cloned(home, entries, message, capsys):
    with pytest.raises(repos.RepositoryError, match=message):
        repos.parse_entries(entries)
    assert repos.main(["--home", str(home), "--repositories", entries]) == 2
    assert message in capsys.readouterr().err
    assert list(home.iterdir()) == []


def test_default_target_is_the_repository_name():
    entries = repos.parse_entries(json.dumps(["https://github.com/org/mlops-airflow-DAGs.git",
                                              {"url": "git@github.com:org/other"}]))
    assert [e["target"] for e in entries] == ["mlops-airflow-DAGs", "other"]
    assert all(e["branch"] == "main" for e in entries)


def test_deploy_key_is_used_from_a_private_copy(tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir()
    key = secret / "ssh-privatekey"
    key.write_bytes(os.urandom(64))  # content does not matter here, only how it is handed to ssh
    key.chmod(0o644)  # how a Secret volume mounts it by default: ssh would refuse that
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = repos.git_environment(str(key), str(workdir))
    copy = workdir / "deploy-key"
    assert copy.read_bytes() == key.read_bytes()
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert "-i %s" % copy in env["GIT_SSH_COMMAND"] and "IdentitiesOnly=yes" in env["GIT_SSH_COMMAND"]
    assert "StrictHostKeyChecking=accept-new" in env["GIT_SSH_COMMAND"]
    (secret / "known_hosts").write_text("git.example.org ssh-ed25519 AAAA\n")
    env = repos.git_environment(str(key), str(workdir))
    assert "StrictHostKeyChecking=yes" in env["GIT_SSH_COMMAND"] and str(secret / "known_hosts") in env["GIT_SSH_COMMAND"]
    with pytest.raises(repos.RepositoryError, match="is the Secret mounted"):
        repos.git_environment(str(secret / "nope"), str(workdir))


def test_start_hook_clones_into_the_home(remote, home, tmp_path):
    """The image's before-notebook.sh, run as docker-stacks runs it, with the hub's variable set."""
    env = pod_environment(home, {"WORKBENCH_PROJECT_REPOSITORIES": json.dumps(
        [{"url": remote.url, "branch": "main", "target": "mlops-airflow-DAGs"}])})
    run_start_hook(env)
    assert (home / "mlops-airflow-DAGs" / "airflow_dag.py").read_text() == "VERSION = 1\n"
    (home / "mlops-airflow-DAGs" / "airflow_dag.py").write_text("VERSION = 'edited'\n")
    remote.commit("README.md", "# project v2\n", "readme v2")
    run_start_hook(env)  # a second start: the edit survives
    assert (home / "mlops-airflow-DAGs" / "airflow_dag.py").read_text() == "VERSION = 'edited'\n"
    assert (home / "notebook-scripts").is_dir()
