"""The backup role's hub-database step, the part that runs inside the hub pod.

roles/backup/tasks/hub.yml makes a copy of the hub's sqlite database with
sqlite's online backup API inside the hub pod (the live file may be mid-write),
then copies it out with kubernetes.core.k8s_cp. Finding the pod and copying the
file need a cluster (not here); the copy command itself is taken from the task
file, rendered with Ansible's Templar over the role's defaults, and run here
against a real JupyterHub 5.5 database while another process keeps writing it.
"""
import multiprocessing
import pathlib
import shlex
import sqlite3
import subprocess
import sys

import pytest
import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "render"))
from _render import ROLES, render_expression  # noqa: E402

pytestmark = pytest.mark.integration

COPY_TASK = "Make a consistent copy of the hub database in the pod"


def copy_command(db_path, copy_path):
    tasks = yaml.safe_load((ROLES / "backup" / "tasks" / "hub.yml").read_text())
    task = next(t for t in tasks if t["name"] == COPY_TASK)
    command = render_expression("backup", task["kubernetes.core.k8s_exec"]["command"],
                                {"backup_hub_db_path": str(db_path), "backup_hub_db_pod_copy": str(copy_path)})
    argv = shlex.split(command)  # k8s_exec splits the command the same way
    assert argv[0] == "python3"
    return [sys.executable] + argv[1:]


def hub_db(path, names):
    from jupyterhub import orm
    session = orm.new_session_factory("sqlite:///%s" % path)()
    for name in names:
        session.add(orm.User(name=name))
    session.commit()
    session.close()


def keep_writing(path, stop):
    """The live hub: a user added and committed every few milliseconds."""
    from jupyterhub import orm
    session = orm.new_session_factory("sqlite:///%s" % path)()
    n = 0
    while not stop.is_set():
        session.add(orm.User(name="live%05d" % n))
        session.commit()
        n += 1


def users_in(path):
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return [row[0] for row in conn.execute("SELECT name FROM users ORDER BY id")]


def test_the_pod_copy_is_a_whole_hub_database_while_the_hub_writes(tmp_path):
    live, copy = tmp_path / "jupyterhub.sqlite", tmp_path / "copy" / "workbench-hub-backup.sqlite"
    copy.parent.mkdir()
    hub_db(live, ["alice", "carol"])
    stop = multiprocessing.Event()
    writer = multiprocessing.Process(target=keep_writing, args=(live, stop))
    writer.start()
    try:
        while len(users_in(live)) < 50:  # the writer is under way
            pass
        done = subprocess.run(copy_command(live, copy), capture_output=True, text=True, timeout=60)
    finally:
        stop.set()
        writer.join(30)
    assert done.returncode == 0, done.stderr
    names = users_in(copy)
    # a committed state: the users before the copy, then the writer's, in order, none torn
    assert names[:2] == ["alice", "carol"] and len(names) >= 50
    assert names[2:] == ["live%05d" % n for n in range(len(names) - 2)]
    from jupyterhub import orm
    orm.check_db_revision(orm.new_session_factory("sqlite:///%s" % copy)().get_bind())  # JupyterHub opens it


def test_a_missing_hub_database_fails_the_copy_instead_of_backing_up_an_empty_one(tmp_path):
    done = subprocess.run(copy_command(tmp_path / "nothing-here.sqlite", tmp_path / "copy.sqlite"),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0, "an empty database was backed up as the hub's"
