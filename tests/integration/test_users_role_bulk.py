"""The users role through ansible-playbook on real PostgreSQL and SeaweedFS, no cluster:
one s3_tenant call for every tenant, every Secret written by one task into
``users_manifests_dir`` (0600, one file per Secret), a rerun changing nothing,
adding one user changing only that user's objects, off-boarding removing only
that user's Secret file."""
import base64
import pathlib
import stat

import pytest
import yaml

from fixtures.playbook import run_playbook
from fixtures.tenants import USERS_PLAY, users_role_vars

pytestmark = pytest.mark.integration

ROLE_TASKS = pathlib.Path(__file__).resolve().parents[2] / "roles" / "users" / "tasks"


def run_role(postgres_server, seaweedfs, state_dir, users, check=False):
    variables = users_role_vars(postgres_server, seaweedfs, state_dir, users)
    variables["users_manifests_dir"] = str(state_dir / "manifests")
    play = run_playbook(USERS_PLAY, state_dir, extra_vars=variables, check=check)
    assert play.rc == 0, (play, [(t, r.get("msg"), [i.get("msg") for i in r.get("results", [])])
                                 for t, _, r in play.task_results() if r.get("failed")])
    return play


def task_result(play, name):
    results = [result for task, _host, result in play.task_results() if task == name]
    assert len(results) == 1, (name, [task for task, _, _ in play.task_results()])
    return results[0]


LOGINS_FILE = "secret-workbench-hub-logins.yaml"


def manifests(state_dir):
    """The users' Secret files (the hub's logins file aside)."""
    return {path.name: path for path in sorted((state_dir / "manifests").glob("*.yaml")) if path.name != LOGINS_FILE}


def test_no_task_of_the_users_role_loops_over_users():
    for path in ROLE_TASKS.glob("*.yml"):
        for task in yaml.safe_load(path.read_text()) or []:
            # a loop over a literal list (mlflow.yml: the two kinds) is not a loop over users
            looped = " ".join(str(task.get(key)) for key in ("loop", "with_items") if isinstance(task.get(key), str))
            assert not any(word in looped for word in ("users_present", "users_absent", "users_plan")), \
                (path.name, task["name"])


S3_TASK = "Create, update or remove every object-store identity (objects of absent users kept)"
FILES_TASK = "Write the same manifests as 0600 files, one per Secret (tests, GitOps; off-boarded users' files removed)"
PG_TASK = "Create group and user tenants, lock out absent users (data kept unless purge)"
MLFLOW_TASK = "Create or upgrade MLflow's tables in the tenant schemas"


def server_keys(seaweedfs, names):
    iam = seaweedfs.admin_iam()
    existing = {user["UserName"] for user in iam.list_users()["Users"]}
    return {name: sorted(k["AccessKeyId"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"])
            for name in names if name in existing}


# five role runs through ansible-playbook: about 2 minutes on a quiet machine, far more on a busy one
@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_users_role_bulk_first_run_rerun_add_one_and_offboard(postgres_server, seaweedfs, tmp_path):
    users = [{"name": "rb_ann", "groups": ["rb_team"]}, {"name": "rb_ben"}, {"name": "rb_cy", "groups": ["rb_team"]}]
    names = ["group_rb_team", "rb_ann", "rb_ben", "rb_cy", "rb_dee"]

    first = run_role(postgres_server, seaweedfs, tmp_path, users)
    assert task_result(first, S3_TASK)["changed"] is True
    assert result_files(tmp_path) == []
    credentials = yaml.safe_load((tmp_path / "user-credentials.yml").read_text())
    keys = server_keys(seaweedfs, names)
    assert sorted(keys) == names[:4] and all(len(held) == 1 for held in keys.values())
    files = manifests(tmp_path)
    assert len(files) == 3 and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files.values())
    assert (tmp_path / "manifests" / LOGINS_FILE).exists()
    for path in files.values():
        secret = yaml.safe_load(path.read_text())
        name = secret["metadata"]["labels"]["workbench.enertef.org/user"]
        assert base64.b64decode(secret["data"]["AWS_ACCESS_KEY_ID"]).decode() == credentials[name]["s3_access_key"]
        assert keys[name] == [credentials[name]["s3_access_key"]]
        assert base64.b64decode(secret["data"]["AWS_SECRET_ACCESS_KEY"]).decode() == credentials[name]["s3_secret_key"]

    for check in (True, False):
        again = run_role(postgres_server, seaweedfs, tmp_path, users, check=check)
        assert again.changed == 0, [t for t, _, r in again.task_results() if r.get("changed")]

    # --check previews the new user (the object store, PostgreSQL and MLflow tasks say
    # "changed") and makes nothing: no key, no role, no file, no result file left behind
    held_before = (tmp_path / "user-credentials.yml").read_bytes()
    preview = run_role(postgres_server, seaweedfs, tmp_path, users + [{"name": "rb_dee"}], check=True)
    assert all(task_result(preview, task)["changed"] is True for task in (S3_TASK, PG_TASK, MLFLOW_TASK))
    assert server_keys(seaweedfs, names) == keys
    assert (tmp_path / "user-credentials.yml").read_bytes() == held_before
    assert sorted(manifests(tmp_path)) == sorted(files) and result_files(tmp_path) == []
    with postgres_server.admin_connect() as conn:
        assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'rb_dee'").fetchone() is None

    added = run_role(postgres_server, seaweedfs, tmp_path, users + [{"name": "rb_dee"}])
    after = server_keys(seaweedfs, names)
    assert {name: held for name, held in after.items() if name != "rb_dee"} == keys and len(after["rb_dee"]) == 1
    written = task_result(added, FILES_TASK)
    # the new user's Secret and the hub's logins (file names are masked in the result:
    # they hold a manifest value, and manifests are no_log)
    assert len(written["written"]) == 2 and written["removed"] == []
    assert [name for name in manifests(tmp_path) if name not in files] == ["secret-workbench-user-rb-dee.yaml"]
    kept = yaml.safe_load((tmp_path / "user-credentials.yml").read_text())
    assert {name: kept[name] for name in credentials} == credentials

    gone = run_role(postgres_server, seaweedfs, tmp_path, users + [{"name": "rb_dee", "state": "absent"}])
    assert task_result(gone, S3_TASK)["changed"] is True
    assert server_keys(seaweedfs, names) == keys
    removed = task_result(gone, FILES_TASK)
    assert len(removed["written"]) == 1 and len(removed["removed"]) == 1  # the logins, the user's Secret
    assert sorted(manifests(tmp_path)) == sorted(files)


def result_files(state_dir):
    """What the background object-store call left in its result directory (new keys' secrets)."""
    return sorted(path.name for path in (state_dir / ".async").iterdir()) if (state_dir / ".async").exists() else []


def test_new_keys_are_kept_when_postgresql_fails_while_the_object_store_call_runs(postgres_server, seaweedfs,
                                                                                   tmp_path):
    """The object-store call runs in the background while PostgreSQL is provisioned. When the
    PostgreSQL step fails, the play still waits for it, keeps the new keys (their secrets are
    returned once) in the 0600 file, erases the call's result file, and then fails."""
    users = [{"name": "pf_ann"}, {"name": "pf_ben"}]
    variables = users_role_vars(postgres_server, seaweedfs, tmp_path, users)
    variables["users_postgres_admin_password"] = "not-the-admin-password"  # noqa: S105 (a wrong one on purpose)
    failed = run_playbook(USERS_PLAY, tmp_path, extra_vars=variables)
    assert failed.rc != 0
    failed_tasks = [task for task, _host, result in failed.task_results()
                    if result.get("failed") and result.get("failed_when_result") is not False]
    assert failed_tasks == ["Create group and user tenants, lock out absent users (data kept unless purge)"], failed
    held = yaml.safe_load((tmp_path / "user-credentials.yml").read_text())
    assert stat.S_IMODE((tmp_path / "user-credentials.yml").stat().st_mode) == 0o600
    keys = server_keys(seaweedfs, ["pf_ann", "pf_ben"])
    for name in ("pf_ann", "pf_ben"):
        assert keys[name] == [held[name]["s3_access_key"]]
        s3 = seaweedfs.client("s3", held[name]["s3_access_key"], held[name]["s3_secret_key"])
        s3.put_object(Bucket=seaweedfs.bucket, Key="%s/works.txt" % name, Body=b"ok")
    assert result_files(tmp_path) == []

    fixed = run_role(postgres_server, seaweedfs, tmp_path, users)  # the right password: the same keys
    assert server_keys(seaweedfs, ["pf_ann", "pf_ben"]) == keys
    assert task_result(fixed, S3_TASK)["changed"] is False
    assert result_files(tmp_path) == []


def test_a_user_whose_key_the_role_does_not_hold_gets_a_new_working_key(postgres_server, seaweedfs, tmp_path):
    """A lost credentials file (a new controller, another state dir): the user already has an
    identity whose secret nobody holds; the role must not leave their Secret without S3 keys."""
    users = [{"name": "lk_ann"}]
    for state_dir in ("first", "second"):
        (tmp_path / state_dir).mkdir()
    run_role(postgres_server, seaweedfs, tmp_path / "first", users)
    lost = yaml.safe_load((tmp_path / "first" / "user-credentials.yml").read_text())["lk_ann"]

    run_role(postgres_server, seaweedfs, tmp_path / "second", users)
    held = yaml.safe_load((tmp_path / "second" / "user-credentials.yml").read_text())["lk_ann"]
    assert held.get("s3_access_key") and held["s3_access_key"] != lost["s3_access_key"]
    assert server_keys(seaweedfs, ["lk_ann"]) == {"lk_ann": [held["s3_access_key"]]}  # the unheld key is gone
    s3 = seaweedfs.client("s3", held["s3_access_key"], held["s3_secret_key"])
    s3.put_object(Bucket=seaweedfs.bucket, Key="lk_ann/works.txt", Body=b"ok")
