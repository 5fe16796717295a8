"""Credential rotation on real servers (PostgreSQL 18, SeaweedFS with its IAM API, MLflow 3.17.2),
through playbooks/rotate.yml: after rotating alice_rot, her old password and old key are refused,
the new ones work, her runs and artifacts are all there, and bob_rot is untouched."""
import base64

import psycopg
import pytest
import yaml
from botocore.exceptions import ClientError

from ansible_collections.enertef.workbench.plugins.module_utils.tenant import tenant_for
from fixtures.day2 import assert_ok, counts, snapshot, workbench_with_data

pytestmark = pytest.mark.integration

USERS = [{"name": "alice_rot", "groups": ["rotml"]}, "bob_rot"]


@pytest.fixture(scope="module")
def workbench(seaweedfs, tmp_path_factory):
    with workbench_with_data(seaweedfs, tmp_path_factory, USERS, "rotate") as bench:
        yield bench


def secret_values(manifests_dir, user):
    """The decoded data of ``user``'s Secret as the users role wrote it (users_manifests_dir)."""
    name = tenant_for(user)["k8s_secret"]
    document = yaml.safe_load((manifests_dir / ("secret-%s.yaml" % name)).read_text())
    values = dict((k, base64.b64decode(v).decode()) for k, v in (document.get("data") or {}).items())
    values.update(document.get("stringData") or {})
    return values


def can_log_in(pg, user, password):
    try:
        psycopg.connect(**pg.conninfo(user, password)).close()
        return True
    except psycopg.OperationalError as err:
        assert "password authentication failed" in str(err)
        return False


def can_use_key(s3, user, creds):
    client = s3.client("s3", creds["s3_access_key"], creds["s3_secret_key"])
    try:
        client.list_objects_v2(Bucket=s3.bucket, Prefix=user + "/")
        return True
    except ClientError as err:
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 403, err
        return False


def test_rotating_alice_locks_out_her_old_credentials_only(workbench, tmp_path):
    pg, s3 = workbench.pg, workbench.s3
    old = workbench.user_credentials()
    before = {user: snapshot(workbench, user, tmp_path / "before") for user in ("alice_rot", "bob_rot")}

    checked = workbench.play("rotate", check=True, workbench_users=USERS, rotate_users=["alice_rot"])
    assert_ok(checked)
    assert workbench.user_credentials() == old
    assert can_log_in(pg, "alice_rot", old["alice_rot"]["db_password"])
    assert can_use_key(s3, "alice_rot", old["alice_rot"])

    manifests = tmp_path / "manifests"
    assert_ok(workbench.play("rotate", workbench_users=USERS, rotate_users=["alice_rot"],
                             users_manifests_dir=str(manifests)))
    new = workbench.user_credentials()
    # the new credentials reach alice's Secret (what her pod gets), not only the credentials file
    secret = secret_values(manifests, "alice_rot")
    assert secret["PGPASSWORD"] == new["alice_rot"]["db_password"]
    assert secret["AWS_ACCESS_KEY_ID"] == new["alice_rot"]["s3_access_key"]
    assert secret["AWS_SECRET_ACCESS_KEY"] == new["alice_rot"]["s3_secret_key"]
    assert new["alice_rot"]["db_password"] != old["alice_rot"]["db_password"]
    assert new["alice_rot"]["s3_access_key"] != old["alice_rot"]["s3_access_key"]
    assert not can_log_in(pg, "alice_rot", old["alice_rot"]["db_password"])
    assert not can_use_key(s3, "alice_rot", old["alice_rot"])
    assert can_log_in(pg, "alice_rot", new["alice_rot"]["db_password"])
    assert can_use_key(s3, "alice_rot", new["alice_rot"])
    # bob untouched
    assert new["bob_rot"] == old["bob_rot"]
    assert can_log_in(pg, "bob_rot", old["bob_rot"]["db_password"]) and can_use_key(s3, "bob_rot", old["bob_rot"])
    # every run, metric, param, tag, model and artifact still there, read with the new credentials
    after = {user: snapshot(workbench, user, tmp_path / "after") for user in ("alice_rot", "bob_rot")}
    assert counts(after["alice_rot"])["runs"] == 2
    assert after == before
    # her group prefix is still hers
    s3.client("s3", new["alice_rot"]["s3_access_key"], new["alice_rot"]["s3_secret_key"]).put_object(
        Bucket=s3.bucket, Key="group_rotml/after-rotation.txt", Body=b"still a member")


def test_rotation_refuses_unknown_users_and_unrotatable_services(workbench):
    old = workbench.user_credentials()
    result = workbench.play("rotate", workbench_users=USERS, rotate_users=["alice_rot", "nobody_here"],
                            rotate_services=["postgres_admin_password"])
    assert result.rc != 0
    message = " ".join(result.failure_messages)
    assert "Not declared present users: nobody_here." in message, result
    assert "Cannot rotate postgres_admin_password" in message and "data volume" in message, result
    assert workbench.user_credentials() == old


def test_verify_reports_each_component_and_tenant_with_the_reason(workbench, tmp_path):
    """playbooks/verify.yml: healthy tenants pass; a wrong password and a dead URL are named."""
    creds = workbench.user_credentials()
    ok = workbench.play("verify", check=True, workbench_users=USERS, health_urls=[])
    assert_ok(ok)
    assert ok.changed == 0
    report = [r for n, _, r in ok.task_results() if n == "Report each component and tenant"][0]["msg"]
    assert any(line.startswith("tenant alice_rot: healthy") for line in report), report
    assert any(line.startswith("component PostgreSQL: healthy") for line in report), report

    broken = dict(creds, bob_rot=dict(creds["bob_rot"], db_password="not-" + creds["bob_rot"]["db_password"]))
    broken_file = tmp_path / "broken-credentials.yml"
    broken_file.write_text(__import__("yaml").safe_dump(broken))
    bad = workbench.play("verify", workbench_users=USERS, users_credentials_file=str(broken_file),
                         health_urls=[{"name": "pgAdmin", "url": "http://127.0.0.1:9/misc/ping"}])
    assert bad.rc != 0
    report = [r for n, _, r in bad.task_results() if n == "Report each component and tenant"][0]["msg"]
    assert any(line.startswith("tenant alice_rot: healthy") for line in report), report
    bob = [line for line in report if line.startswith("tenant bob_rot")][0]
    assert "UNHEALTHY" in bob and "password authentication failed" in bob, report
    assert any(line.startswith("component pgAdmin: UNHEALTHY") for line in report), report
    assert any("Unhealthy:" in m and "bob_rot" in m for m in bad.failure_messages), bad
