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
    "erin reads her MLflow tables": can_query("erin", "SELECT count(*) FROM experiments"),
    "erin's search_path is her schema": can_query("erin", "SELECT 1 FROM erin.alembic_version"),
    "erin cannot read frank's tables": not can_query("erin", "SELECT * FROM frank.experiments"),
    "frank cannot read erin's tables": not can_query("frank", "SELECT * FROM erin.runs"),
    "erin (member of optics) reads the group's tables": can_query("erin", "SELECT count(*) FROM group_optics.experiments"),
    "frank (not in optics) cannot read the group's tables": not can_query("frank", "SELECT * FROM group_optics.experiments"),
    "erin writes her prefix": allowed(lambda: s3("erin").put_object(Bucket="mlflow", Key="erin/verify.txt", Body=b"ok")),
    "erin writes the group prefix": allowed(lambda: s3("erin").put_object(Bucket="mlflow", Key="group_optics/verify.txt", Body=b"ok")),
    "frank cannot read erin's objects": not allowed(lambda: s3("frank").get_object(Bucket="mlflow", Key="erin/verify.txt")),
    "frank cannot list erin's prefix": not allowed(lambda: s3("frank").list_objects_v2(Bucket="mlflow", Prefix="erin/")),
    "frank cannot write the group prefix": not allowed(lambda: s3("frank").put_object(Bucket="mlflow", Key="group_optics/x", Body=b"x")),
    "henry (absent) has no credentials kept for login": "henry" not in creds or not creds["henry"].get("s3_access_key"),
}
print(json.dumps(checks))
