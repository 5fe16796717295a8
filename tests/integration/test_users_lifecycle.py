"""One walk through a user's credentials on real servers (PostgreSQL 18,
SeaweedFS with its IAM API) with the collection's own playbooks:
create (users.yml) -> rotate (rotate.yml) -> backup (backup.yml) -> restore
(restore.yml, onto a fresh PostgreSQL and an object store that lost the
users' keys) -> health (verify.yml) -> off-board (users.yml).

After each step the credentials file, the manifests the users role rendered
(users_manifests_dir: the users' Secrets and the hub's logins Secret) and the
servers must agree: the file's passwords and keys work, the replaced ones are
refused, the Secrets carry the file's values, the logins carry the hash of
each present user's login password and nobody else. One of the users is
declared only in the CSV file: every step must know about them."""
import base64
import json
import pathlib

import botocore.exceptions
import psycopg
import pytest
import yaml

from fixtures.day2 import Workbench, assert_ok, wipe_object_store
from fixtures.postgres import running_postgres

from ansible_collections.enertef.workbench.plugins.module_utils import login

INVENTORY_USERS = [{"name": "lc_alice", "groups": ["lcteam"]}, "lc_bob"]
CSV = "name,groups\nlc_carol,lcteam\n"
ADMINS = ["lc_alice"]
NAMES = ["lc_alice", "lc_bob", "lc_carol"]


class Walk:
    def __init__(self, bench, tmp):
        self.bench = bench
        self.manifests = pathlib.Path(tmp) / "manifests"
        self.csv = pathlib.Path(tmp) / "users.csv"
        self.csv.write_text(CSV)

    def vars(self, **extra):
        values = {"workbench_users": INVENTORY_USERS, "workbench_admins": ADMINS,
                  "users_csv_file": str(self.csv), "users_manifests_dir": str(self.manifests)}
        values.update(extra)
        return values

    def play(self, name, **extra):
        result = self.bench.play(name, **self.vars(**extra))
        assert_ok(result)
        return result

    def secret(self, name):
        doc = yaml.safe_load((self.manifests / ("secret-%s.yaml" % name)).read_text())
        return {k: base64.b64decode(v).decode() for k, v in doc["data"].items()}

    def logins(self):
        return login.parse_logins(self.secret(login.LOGINS_SECRET)[login.LOGINS_KEY])


def pg_login(pg, user, password):
    try:
        with pg.connect(user, password) as conn:
            return conn.execute("SELECT current_user").fetchone()[0] == user
    except psycopg.OperationalError as err:
        # a wrong password, or a locked-out (off-boarded) role
        assert "password authentication failed" in str(err) or "not permitted to log in" in str(err), err
        return False


def s3_works(s3, user, access_key, secret_key):
    client = s3.client("s3", access_key, secret_key)
    try:
        client.put_object(Bucket=s3.bucket, Key="%s/lifecycle-probe" % user, Body=b"probe")
        return client.get_object(Bucket=s3.bucket, Key="%s/lifecycle-probe" % user)["Body"].read() == b"probe"
    except botocore.exceptions.ClientError as err:
        assert err.response["Error"]["Code"] in ("InvalidAccessKeyId", "AccessDenied", "SignatureDoesNotMatch"), err
        return False


def assert_all_agree(walk, present=NAMES, absent=()):
    """The credentials file, the rendered Secrets and the servers agree; returns the file."""
    bench = walk.bench
    creds = bench.user_credentials()
    logins = walk.logins()
    assert sorted(logins) == sorted(present), logins
    for user in present:
        mine = creds[user]
        env = walk.secret("workbench-user-" + user.replace("_", "-"))
        assert env["PGPASSWORD"] == mine["db_password"]
        assert env["AWS_ACCESS_KEY_ID"] == mine["s3_access_key"] and env["AWS_SECRET_ACCESS_KEY"] == mine["s3_secret_key"]
        assert mine["login_password"] not in json.dumps(env)
        assert login.password_matches(mine["login_password"], logins[user]["password_hash"]), user
        assert mine["login_password_hash"] == logins[user]["password_hash"]
        assert logins[user]["admin"] is (user in ADMINS)
        assert pg_login(bench.pg, user, mine["db_password"]), user
        assert s3_works(bench.s3, user, mine["s3_access_key"], mine["s3_secret_key"]), user
    for user in absent:
        assert not (walk.manifests / ("secret-workbench-user-%s.yaml" % user.replace("_", "-"))).exists()
        assert not pg_login(bench.pg, user, creds[user]["db_password"])
    return creds


@pytest.fixture
def walk_postgres():
    with running_postgres() as pg:
        yield pg


# seven playbook runs and two PostgreSQL servers: about 15 minutes on a busy machine
@pytest.mark.timeout(2700)
def test_create_rotate_backup_restore_health_offboard(walk_postgres, seaweedfs, tmp_path):
    (tmp_path / "state").mkdir()
    walk = Walk(Workbench(walk_postgres, seaweedfs, tmp_path / "state"), tmp_path)

    # create: the inventory's two entry forms and the CSV's user, admin flagged
    walk.play("users")
    created = assert_all_agree(walk)
    again = walk.play("users")
    assert again.changed == 0, again  # nothing rehashed, no Secret rewritten

    # rotate the CSV user: new password, key and login; the old ones are refused
    walk.play("rotate", rotate_users=["lc_carol"])
    rotated = assert_all_agree(walk)
    old, new = created["lc_carol"], rotated["lc_carol"]
    for key in ("db_password", "s3_access_key", "s3_secret_key", "login_password", "login_password_hash"):
        assert old[key] != new[key], key
    assert not pg_login(walk_postgres, "lc_carol", old["db_password"])
    assert not s3_works(seaweedfs, "lc_carol", old["s3_access_key"], old["s3_secret_key"])
    assert not login.password_matches(old["login_password"], walk.logins()["lc_carol"]["password_hash"])
    assert {u: rotated[u] for u in ("lc_alice", "lc_bob")} == {u: created[u] for u in ("lc_alice", "lc_bob")}

    # backup: the users role's plan (CSV user and admins included) goes into the manifest
    dest = tmp_path / "backups"
    dest.mkdir()
    walk.play("backup", backup_dest=str(dest))
    (backup,) = list(dest.iterdir())
    manifest = json.loads((backup / "manifest.json").read_text())
    assert sorted(u["name"] for u in manifest["metadata"]["users"]) == NAMES
    assert manifest["metadata"]["admins"] == ADMINS

    # the disaster: a new PostgreSQL, the users' object-store identities and every local file gone
    wipe_object_store(seaweedfs, NAMES + ["group_lcteam"])
    for name in ("user-credentials.yml", "credentials.yml"):
        (walk.bench.state_dir / name).unlink()
    for path in walk.manifests.iterdir():
        path.unlink()
    with running_postgres() as fresh:
        walk.bench = Workbench(fresh, seaweedfs, walk.bench.state_dir)
        # restore puts the file back; the users role applies it (new keys where the store lost them)
        walk.play("restore", restore_path=str(backup), workbench_users=[], users_csv_file="")
        restored = assert_all_agree(walk)
        for user in NAMES:
            for key in ("db_password", "login_password", "login_password_hash"):
                assert restored[user][key] == rotated[user][key], (user, key)

        # health: every tenant of the plan, the CSV user too, checked with the file's credentials
        health = walk.play("verify", health_urls=[])
        report = [r for n, _, r in health.task_results() if n == "Report each component and tenant"][0]["msg"]
        for user in NAMES:
            assert any(line.startswith("tenant %s: healthy" % user) for line in report), report

        # off-board bob: no login, no Secret, no database login; his entry is kept for a return
        walk.play("users", workbench_users=[INVENTORY_USERS[0], {"name": "lc_bob", "state": "absent"}])
        after = assert_all_agree(walk, present=["lc_alice", "lc_carol"], absent=["lc_bob"])
        assert after["lc_bob"]["db_password"] == restored["lc_bob"]["db_password"]
