"""Check, with each user's own credentials, what the users role provisioned.

Reads the role's credentials file and connects to the test servers named in
WORKBENCH_TEST_* variables. Prints one JSON object: check name -> true/false.
"""
import json
import os
import sys

import boto3
import psycopg
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError

env = os.environ
creds = yaml.safe_load(open(sys.argv[1]))


def pg(user):
    return psycopg.connect(host=env["WORKBENCH_TEST_PG_SOCKET"], port=int(env["WORKBENCH_TEST_PG_PORT"]),
                           dbname="mlflow", user=user, password=creds[user]["db_password"],
                           connect_timeout=5, autocommit=True)


def can_query(user, query):
    try:
        with pg(user) as conn:
            conn.execute(query).fetchall()
        return True
    except psycopg.Error:
        return False


def s3(user):
    return boto3.client("s3", endpoint_url=env["WORKBENCH_TEST_S3_ENDPOINT"], region_name="us-east-1",
                        aws_access_key_id=creds[user]["s3_access_key"],
                        aws_secret_access_key=creds[user]["s3_secret_key"],
                        config=Config(retries={"max_attempts": 1}))


def allowed(call):
    try:
        call()
        return True
    except ClientError:
        return False


checks = {
    "alice reads her MLflow tables": can_query("alice", "SELECT count(*) FROM experiments"),
    "alice's search_path is her schema": can_query("alice", "SELECT 1 FROM alice.alembic_version"),
    "alice cannot read bob's tables": not can_query("alice", "SELECT * FROM bob.experiments"),
    "bob cannot read alice's tables": not can_query("bob", "SELECT * FROM alice.runs"),
    "alice (member of ml) reads the group's tables": can_query("alice", "SELECT count(*) FROM group_ml.experiments"),
    "bob (not in ml) cannot read the group's tables": not can_query("bob", "SELECT * FROM group_ml.experiments"),
    "alice writes her prefix": allowed(lambda: s3("alice").put_object(Bucket="mlflow", Key="alice/verify.txt", Body=b"ok")),
    "alice writes the group prefix": allowed(lambda: s3("alice").put_object(Bucket="mlflow", Key="group_ml/verify.txt", Body=b"ok")),
    "bob cannot read alice's objects": not allowed(lambda: s3("bob").get_object(Bucket="mlflow", Key="alice/verify.txt")),
    "bob cannot list alice's prefix": not allowed(lambda: s3("bob").list_objects_v2(Bucket="mlflow", Prefix="alice/")),
    "bob cannot write the group prefix": not allowed(lambda: s3("bob").put_object(Bucket="mlflow", Key="group_ml/x", Body=b"x")),
    "dave (absent) has no credentials kept for login": "dave" not in creds or not creds["dave"].get("s3_access_key"),
}
print(json.dumps(checks))
