"""Check, with each user's own credentials, what the users role provisioned.

    verify_tenants.py prepare STATE_DIR   (prepare.yml) henry, present: keep his
        credentials aside and write a table and an object with them
    verify_tenants.py verify STATE_DIR    (verify.yml) print one JSON object:
        check name -> true/false

Reads the role's credentials file and connects to the test servers named in
WORKBENCH_TEST_* variables. Every "cannot" is a specific denial (permission
denied / AccessDenied, not any error) next to a positive control: the same
request by the owner succeeds.
"""
import json
import os
import pathlib
import sys

import boto3
import psycopg
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError

env = os.environ
mode, state_dir = sys.argv[1], pathlib.Path(sys.argv[2])
creds = yaml.safe_load((state_dir / "user-credentials.yml").read_text())
HENRY_BEFORE = state_dir / "henry-before-offboarding.yml"
DENIED_S3 = ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403")


def pg_connect(user, password):
    return psycopg.connect(host=env["WORKBENCH_TEST_PG_SOCKET"], port=int(env["WORKBENCH_TEST_PG_PORT"]),
                           dbname="mlflow", user=user, password=password, connect_timeout=5, autocommit=True)


def pg(user):
    return pg_connect(user, creds[user]["db_password"])


def query(user, statement):
    with pg(user) as conn:
        return conn.execute(statement).fetchall()


def can_query(user, statement):
    try:
        query(user, statement)
        return True
    except psycopg.Error:
        return False


def denied_query(user, statement):
    """True only when PostgreSQL refuses with 'permission denied'."""
    try:
        query(user, statement)
    except psycopg.errors.InsufficientPrivilege:
        return True
    except psycopg.Error:
        return False
    return False


def s3_with(access_key, secret_key):
    return boto3.client("s3", endpoint_url=env["WORKBENCH_TEST_S3_ENDPOINT"], region_name="us-east-1",
                        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                        config=Config(retries={"max_attempts": 1}))


def s3(user):
    return s3_with(creds[user]["s3_access_key"], creds[user]["s3_secret_key"])


def admin_s3():
    return s3_with(env["WORKBENCH_TEST_S3_ADMIN_ACCESS_KEY"], env["WORKBENCH_TEST_S3_ADMIN_SECRET_KEY"])


def allowed(call):
    try:
        call()
        return True
    except ClientError:
        return False


def denied(call):
    """True only when the object store refuses the credentials (not e.g. NoSuchKey)."""
    try:
        call()
    except ClientError as err:
        return err.response["Error"]["Code"] in DENIED_S3
    return False


def prepare():
    henry = creds["henry"]
    HENRY_BEFORE.write_text(yaml.safe_dump(henry))
    HENRY_BEFORE.chmod(0o600)
    with pg("henry") as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (body text)")
        conn.execute("INSERT INTO notes VALUES ('before off-boarding')")
    s3("henry").put_object(Bucket="mlflow", Key="henry/notes.txt", Body=b"before off-boarding")


def henry_can_log_in(before):
    try:
        pg_connect("henry", before["db_password"]).close()
        return True
    except psycopg.OperationalError:
        return False


def verify():
    before = yaml.safe_load(HENRY_BEFORE.read_text())
    henry_s3 = s3_with(before["s3_access_key"], before["s3_secret_key"])
    with pg_connect(env["WORKBENCH_TEST_PG_ADMIN_USER"], env["WORKBENCH_TEST_PG_ADMIN_PASSWORD"]) as conn:
        henry_table_kept = conn.execute("SELECT to_regclass('henry.notes') IS NOT NULL").fetchone()[0]
    checks = {
        "erin reads her MLflow tables": can_query("erin", "SELECT count(*) FROM experiments"),
        "erin's search_path is her schema (unqualified names)":
            query("erin", "SELECT current_schema(), (SELECT count(*) FROM alembic_version)") == [("erin", 1)],
        "frank's search_path is his schema": query("frank", "SELECT current_schema()") == [("frank",)],
        "frank reads his own tables (control)": can_query("frank", "SELECT * FROM frank.experiments"),
        "erin reads her own runs (control)": can_query("erin", "SELECT * FROM erin.runs"),
        "erin cannot read frank's tables": denied_query("erin", "SELECT * FROM frank.experiments"),
        "frank cannot read erin's tables": denied_query("frank", "SELECT * FROM erin.runs"),
        "erin (member of optics) reads the group's tables":
            can_query("erin", "SELECT count(*) FROM group_optics.experiments"),
        "frank (not in optics) cannot read the group's tables":
            denied_query("frank", "SELECT * FROM group_optics.experiments"),
        "erin writes her prefix": allowed(lambda: s3("erin").put_object(Bucket="mlflow", Key="erin/verify.txt",
                                                                        Body=b"ok")),
        "erin reads her object back (control)":
            allowed(lambda: s3("erin").get_object(Bucket="mlflow", Key="erin/verify.txt")),
        "erin writes the group prefix":
            allowed(lambda: s3("erin").put_object(Bucket="mlflow", Key="group_optics/verify.txt", Body=b"ok")),
        "frank writes and lists his own prefix (control)":
            allowed(lambda: s3("frank").put_object(Bucket="mlflow", Key="frank/verify.txt", Body=b"ok"))
            and allowed(lambda: s3("frank").list_objects_v2(Bucket="mlflow", Prefix="frank/")),
        "frank cannot read erin's objects":
            denied(lambda: s3("frank").get_object(Bucket="mlflow", Key="erin/verify.txt")),
        "frank cannot list erin's prefix":
            denied(lambda: s3("frank").list_objects_v2(Bucket="mlflow", Prefix="erin/")),
        "frank cannot write the group prefix":
            denied(lambda: s3("frank").put_object(Bucket="mlflow", Key="group_optics/x", Body=b"x")),
        "henry (absent) cannot log in to PostgreSQL with his old password": not henry_can_log_in(before),
        "henry's old key cannot read his own prefix":
            denied(lambda: henry_s3.get_object(Bucket="mlflow", Key="henry/notes.txt")),
        "henry's table is kept (no purge)": henry_table_kept,
        "henry's object is kept (no purge)":
            allowed(lambda: admin_s3().head_object(Bucket="mlflow", Key="henry/notes.txt")),
    }
    print(json.dumps(checks))


if __name__ == "__main__":
    try:
        {"prepare": prepare, "verify": verify}[mode]()
    except Exception as err:  # name the failure in one line: molecule's output is cut to its tail
        sys.exit("verify_tenants.py %s failed: %s: %s" % (mode, type(err).__name__, err))
