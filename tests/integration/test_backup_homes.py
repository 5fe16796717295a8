"""The users' homes and the hub database through playbooks/backup.yml and restore.yml.

PostgreSQL 18 and SeaweedFS are real (the backup's other parts), and so is every
file: the homes and the hub's sqlite database are real directories and a real
sqlite file, archived and unpacked by the tar commands the roles give their copy
pods. Kubernetes is the one thing this machine cannot run, so the kubernetes.core
modules are replaced by a fake (tests/fixtures/fake_kubernetes: a JSON state with
the hub Deployment and the volumes; exec and cp run on the volumes' directories)
that also writes a journal of every call. The journal shows the order: the hub
scaled to 0 and its pod gone before anything is written to its volume or to a
home, and scaled back afterwards, also when a step in between failed.
A real cluster run is molecule's (molecule/onprem, where Docker can pull).
"""
import hashlib
import json
import os
import pathlib
import shutil
import sqlite3
import stat
import subprocess
import tempfile

import pytest

from fixtures.day2 import Workbench, assert_ok
from fixtures.kubernetes import validation_errors
from fixtures.playbook import run_playbook
from fixtures.postgres import running_postgres

pytestmark = pytest.mark.integration

FAKE = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "fake_kubernetes"
NAMESPACE = "workbench"
HUB_IMAGE = "quay.io/jupyterhub/k8s-hub:4.4.0@sha256:" + "0" * 64
USERS = {"alice": "claim-alice", "bob": "claim-bob"}


def home_claim(user, claim):
    """A PVC as KubeSpawner makes it (get_pvc_manifest), bound as a cluster leaves it."""
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim, "namespace": NAMESPACE,
                         "labels": {"app": "jupyterhub", "heritage": "jupyterhub", "release": "jupyterhub",
                                    "chart": "jupyterhub-4.4.0", "hub.jupyter.org/username": user,
                                    "app.kubernetes.io/component": "singleuser-server",
                                    "component": "singleuser-storage"},
                         "annotations": {"hub.jupyter.org/username": user,
                                         "hub.jupyter.org/kubespawner-version": "7.0.0",
                                         "pv.kubernetes.io/bind-completed": "yes",
                                         "volume.kubernetes.io/selected-node": "lab-server-1"}},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local-path",
                     "resources": {"requests": {"storage": "10Gi"}}, "volumeName": "pvc-" + claim}}


def hub_deployment():
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "hub", "namespace": NAMESPACE},
            "spec": {"replicas": 1, "template": {
                "metadata": {"labels": {"app": "jupyterhub", "component": "hub", "release": "jupyterhub"}},
                "spec": {"containers": [{"name": "hub", "image": HUB_IMAGE,
                                         "volumeMounts": [{"name": "pvc", "mountPath": "/srv/jupyterhub"},
                                                          {"name": "tmp", "mountPath": "/tmp"}]}],
                         "volumes": [{"name": "pvc", "persistentVolumeClaim": {"claimName": "hub-db-dir"}},
                                     {"name": "tmp", "emptyDir": {}}]}}}}


def write_home(home, user):
    """What a researcher leaves in a home: notebooks, hidden config, a script, a link, nested data."""
    (home / "project" / "data").mkdir(parents=True)
    (home / "analysis.ipynb").write_text(json.dumps({"cells": [{"source": "print('%s')" % user}]}))
    (home / ".jupyter").mkdir()
    (home / ".jupyter" / "lab-settings.json").write_text('{"theme": "dark"}')
    (home / "project" / "data" / "weights.bin").write_bytes(os.urandom(50000))
    (home / "project" / "run.sh").write_text("#!/bin/sh\necho train\n")
    (home / "project" / "run.sh").chmod(0o755)
    (home / "project" / "private.txt").write_text("mine")
    (home / "project" / "private.txt").chmod(0o600)
    (home / "latest").symlink_to("project/data/weights.bin")
    (home / "Überblick – Ergebnisse.md").write_text("unicode names too")


def tree(root):
    """Every entry under root: file content hash, mode, link target."""
    found = {}
    for path in sorted(pathlib.Path(root).rglob("*")):
        info = path.lstat()
        key = str(path.relative_to(root))
        if stat.S_ISLNK(info.st_mode):
            found[key] = ("link", os.readlink(path))
        elif stat.S_ISDIR(info.st_mode):
            found[key] = ("dir", oct(info.st_mode & 0o777))
        else:
            found[key] = ("file", oct(info.st_mode & 0o777), hashlib.sha256(path.read_bytes()).hexdigest())
    return found


def hub_users(db):
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT name FROM users ORDER BY name")]


def make_hub_db(db, names):
    db.unlink(missing_ok=True)
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
        conn.executemany("INSERT INTO users VALUES (?)", [(n,) for n in names])


class FakeCluster:
    """The fake Kubernetes' state file: objects, volume directories, journal."""

    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.state_file = self.root / "state.json"
        state = {"root": str(self.root), "journal": [], "hub_deployment": NAMESPACE + "/hub", "objects": {}}
        objects = [hub_deployment(), {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                      "metadata": {"name": "hub-db-dir", "namespace": NAMESPACE}, "spec": {}}]
        objects += [home_claim(user, claim) for user, claim in USERS.items()]
        for obj in objects:
            state["objects"]["%s/%s/%s" % (obj["kind"], NAMESPACE, obj["metadata"]["name"])] = obj
            if obj["kind"] == "PersistentVolumeClaim":
                self.volume(obj["metadata"]["name"]).mkdir(parents=True)
        self.state_file.write_text(json.dumps(state))

    def volume(self, claim):
        return self.root / "volumes" / claim

    @property
    def state(self):
        return json.loads(self.state_file.read_text())

    def reset_journal(self):
        state = self.state
        state["journal"] = []
        self.state_file.write_text(json.dumps(state))

    def env(self, **extra):
        # the fake collection first: kubernetes.core resolves to it, everything else as usual
        return dict({"ANSIBLE_COLLECTIONS_PATH": "%s:%s" % (FAKE, pathlib.Path(__file__).resolve().parents[2] / ".collections"),
                     "FAKE_K8S_STATE": str(self.state_file)}, **extra)


@pytest.fixture
def lab(seaweedfs, tmp_path):
    """A workbench on real PostgreSQL and SeaweedFS, its cluster faked: two homes and a hub database."""
    with running_postgres() as pg:
        (tmp_path / "state").mkdir()
        workbench = Workbench(pg, seaweedfs, tmp_path / "state")
        cluster = FakeCluster(tmp_path / "cluster")
        for user, claim in USERS.items():
            write_home(cluster.volume(claim), user)
        make_hub_db(cluster.volume("hub-db-dir") / "jupyterhub.sqlite", list(USERS))
        yield workbench, cluster


def play(workbench, cluster, name, check=False, env=None, **extra):
    parts = dict(backup_include_homes=True, restore_include_homes=True,
                 backup_include_hub_db=True, restore_include_hub_db=True)
    return workbench.play(name, check=check, env=cluster.env(**(env or {})), **dict(parts, **extra))


def backed_up(workbench, cluster, tmp_path):
    dest = tmp_path / "backups"
    dest.mkdir()
    result = play(workbench, cluster, "backup", backup_dest=str(dest), backup_name="with-homes")
    assert_ok(result)
    return dest / "with-homes"


def test_the_homes_and_the_hub_database_come_back(lab, tmp_path):
    workbench, cluster = lab
    before = {claim: tree(cluster.volume(claim)) for claim in USERS.values()}
    path = backed_up(workbench, cluster, tmp_path)
    manifest = json.loads((path / "manifest.json").read_text())
    files = {f["path"] for f in manifest["files"]}
    assert {"files/homes/claim-alice.tar.gz", "files/homes/claim-bob.tar.gz", "files/jupyterhub.sqlite"} <= files
    # each home through a read-only copy pod, on the hub's image, deleted afterwards
    pods = [e["definition"] for e in cluster.state["journal"] if e["module"] == "k8s" and e.get("kind") == "Pod"
            and e["state"] == "present"]
    assert len(pods) == 2 and all(p["spec"]["volumes"][0]["persistentVolumeClaim"]["readOnly"] is True
                                  and p["spec"]["containers"][0]["image"] == HUB_IMAGE for p in pods), pods
    assert validation_errors(pods) == []
    assert not [k for k in cluster.state["objects"] if k.startswith("Pod/")]
    # what a restore needs to make a volume again, never the old binding (it names the old node)
    homes = {h["claim"]: h for h in manifest["metadata"]["homes"]}
    assert homes["claim-bob"]["annotations"] == {"hub.jupyter.org/username": "bob",
                                                 "hub.jupyter.org/kubespawner-version": "7.0.0"}
    assert homes["claim-bob"]["labels"]["component"] == "singleuser-storage"
    assert (homes["claim-bob"]["storage"], homes["claim-bob"]["storage_class"]) == ("10Gi", "local-path")

    # the disaster: bob's volume gone, alice's notebook changed and a file deleted, the hub database replaced
    state = cluster.state
    del state["objects"]["PersistentVolumeClaim/%s/claim-bob" % NAMESPACE]
    cluster.state_file.write_text(json.dumps(state))
    shutil.rmtree(cluster.volume("claim-bob"))
    alice = cluster.volume("claim-alice")
    (alice / "analysis.ipynb").write_text("overwritten by mistake")
    (alice / "project" / "run.sh").unlink()
    (alice / "written-after-the-backup.txt").write_text("kept")
    make_hub_db(cluster.volume("hub-db-dir") / "jupyterhub.sqlite", ["mallory"])
    cluster.reset_journal()

    result = play(workbench, cluster, "restore", restore_path=str(path))
    assert_ok(result)
    after = tree(alice)
    assert after.pop("written-after-the-backup.txt")[0] == "file"
    assert after == before["claim-alice"]
    assert tree(cluster.volume("claim-bob")) == before["claim-bob"]
    assert hub_users(cluster.volume("hub-db-dir") / "jupyterhub.sqlite") == sorted(USERS)
    # bob's volume made again as KubeSpawner made it: his next spawn finds and mounts it
    remade = cluster.state["objects"]["PersistentVolumeClaim/%s/claim-bob" % NAMESPACE]
    assert remade["metadata"]["labels"] == home_claim("bob", "claim-bob")["metadata"]["labels"]
    assert "volume.kubernetes.io/selected-node" not in remade["metadata"]["annotations"]
    assert remade["spec"]["resources"] == {"requests": {"storage": "10Gi"}}

    # the order: nothing written while the hub runs, and the hub running again at the end
    journal = cluster.state["journal"]
    writes = [i for i, e in enumerate(journal) if e["module"] in ("k8s_cp", "k8s_exec")]
    stop = next(i for i, e in enumerate(journal) if e["module"] == "k8s_scale" and e["replicas"] == 0)
    gone = next(i for i, e in enumerate(journal) if i > stop and e["module"] == "k8s_info" and e["kind"] == "Pod"
                and e["found"] == 0)
    assert writes and stop < gone < writes[0], journal
    assert all(journal[i]["hub_replicas"] == 0 for i in writes)
    assert journal[-1]["module"] == "k8s_scale" and journal[-1]["replicas"] == 1
    assert cluster.state["objects"]["Deployment/%s/hub" % NAMESPACE]["spec"]["replicas"] == 1
    assert not [k for k in cluster.state["objects"] if k.startswith("Pod/")]
    pods = [e["definition"] for e in journal if e["module"] == "k8s" and e.get("kind") in ("Pod", "PersistentVolumeClaim")
            and e["state"] == "present"]
    assert validation_errors(pods) == []
    assert all(p["spec"]["volumes"][0]["persistentVolumeClaim"]["readOnly"] is False for p in pods if p["kind"] == "Pod")


def test_restore_check_mode_changes_nothing_in_the_cluster(lab, tmp_path):
    workbench, cluster = lab
    path = backed_up(workbench, cluster, tmp_path)
    (cluster.volume("claim-alice") / "analysis.ipynb").write_text("changed since")
    cluster.reset_journal()
    homes = {claim: tree(cluster.volume(claim)) for claim in USERS.values()}
    objects = cluster.state["objects"]
    result = play(workbench, cluster, "restore", check=True, restore_path=str(path))
    assert_ok(result)
    assert {claim: tree(cluster.volume(claim)) for claim in USERS.values()} == homes
    assert cluster.state["objects"] == objects
    # the steps are there, reported as what would change
    scaled = [e for e in cluster.state["journal"] if e["module"] == "k8s_scale"]
    assert [e["replicas"] for e in scaled] == [0, 1] and all(e["check"] for e in scaled)
    assert not [e for e in cluster.state["journal"] if e["module"] in ("k8s_cp", "k8s_exec")]


def test_the_hub_is_started_again_when_a_copy_fails(lab, tmp_path):
    workbench, cluster = lab
    path = backed_up(workbench, cluster, tmp_path)
    cluster.reset_journal()
    result = play(workbench, cluster, "restore", restore_path=str(path), env={"FAKE_K8S_FAIL": "k8s_cp"})
    assert result.rc != 0
    assert any("made to fail" in m for m in result.failure_messages), result
    assert cluster.state["objects"]["Deployment/%s/hub" % NAMESPACE]["spec"]["replicas"] == 1
    assert not [k for k in cluster.state["objects"] if k.startswith("Pod/")]


def test_backup_without_a_hub_deployment_says_what_to_do(lab, tmp_path):
    workbench, cluster = lab
    state = cluster.state
    del state["objects"]["Deployment/%s/hub" % NAMESPACE]
    cluster.state_file.write_text(json.dumps(state))
    dest = tmp_path / "backups"
    dest.mkdir()
    result = play(workbench, cluster, "backup", backup_dest=str(dest), backup_include_hub_db=False)
    assert result.rc != 0
    message = " ".join(result.failure_messages)
    assert "No Deployment hub in namespace workbench" in message and "backup_copy_image" in message, result
    assert list(dest.iterdir()) == []


COMMANDS = """
- name: Resolve the copy pods' commands as the roles define them
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read the backup and restore defaults
      ansible.builtin.include_vars:
        file: "{{ item }}"
      loop: ["%(root)s/roles/backup/defaults/main.yml", "%(root)s/roles/restore/defaults/main.yml"]
    - name: Write the commands
      ansible.builtin.copy:
        content: "{{ {'archive': backup_home_archive_command, 'extract': restore_home_extract_command,
                      'mount': backup_copy_mount_path, 'staging': backup_copy_staging,
                      'restore_mount': restore_copy_mount_path, 'restore_staging': restore_copy_staging} | to_json }}"
        dest: "%(out)s"
        mode: "0600"
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root here to play the notebook user (uid 1000) "
                                              "on a volume root owned by root, as local-path makes it")
def test_the_copy_pod_commands_work_as_the_notebook_user_on_a_fresh_volume(tmp_path, request):
    """The real commands, run as the copy pod runs them (1000:100), on a volume root owned by root
    with mode 0777 (what local-path provisions): tar must not try to change the root's mode."""
    out = tmp_path / "commands.json"
    root = pathlib.Path(__file__).resolve().parents[2]
    assert run_playbook(COMMANDS % {"root": root, "out": out}, tmp_path).rc == 0
    commands = json.loads(out.read_text())
    # pytest's own temporary directories are 0700 root: uid 1000 needs a way in
    base = pathlib.Path(tempfile.mkdtemp(prefix="workbench-copy-"))
    base.chmod(0o755)
    request.addfinalizer(lambda: shutil.rmtree(base))
    source, target, staging = base / "home", base / "fresh-volume", base / "staging"
    source.mkdir()
    write_home(source, "alice")
    for directory in (target, staging):
        directory.mkdir()
        directory.chmod(0o777)

    def run(argv):
        def demote():
            os.setgid(100)
            os.setuid(1000)
        return subprocess.run(argv, preexec_fn=demote, capture_output=True, text=True)

    archive = [a.replace(commands["staging"], str(staging)).replace("=" + commands["mount"], "=%s" % source)
               for a in commands["archive"]]
    # the notebook user owns the home it archives
    for path in [source] + list(source.rglob("*")):
        os.lchown(path, 1000, 100)
    created = run(archive)
    assert created.returncode == 0, created.stderr
    extract = [a.replace(commands["restore_staging"], str(staging)).replace("=" + commands["restore_mount"], "=%s" % target)
               for a in commands["extract"]]
    extracted = run(extract)
    assert extracted.returncode == 0, extracted.stderr
    assert tree(target) == tree(source)
    assert oct(target.stat().st_mode & 0o777) == "0o777" and target.stat().st_uid == 0
