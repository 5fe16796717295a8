"""The object_store role's provisioning tasks (bucket.yml) against real SeaweedFS servers.

bucket.yml checks the endpoint's IAM API (enertef.workbench.s3_iam_check), creates the
bucket and applies its policy (enertef.workbench.s3_bucket_policy), from the controller
through the S3 API, the same for a deployed SeaweedFS and an external endpoint. The role
normally reads the admin key from the Kubernetes Secret; with no cluster here, the test sets
that k8s_info result to what the API would return. Besides the session's SeaweedFS (IAM
API writable, as the role starts it), two more are started: one with the IAM API read-only
(4.48's default) and one with it off; both must be refused before the bucket exists.
"""
import base64
import secrets

import pytest
import yaml
from botocore.exceptions import ClientError

from ansible_collections.enertef.workbench.plugins.module_utils.object_store import canonical_policy
from fixtures.seaweedfs import PORT_NAMES, SeaweedFS, free_ports

pytestmark = pytest.mark.integration


def b64(text):
    return base64.b64encode(text.encode()).decode()


def bucket_play(server, bucket):
    return yaml.safe_dump([{"name": "bucket", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "The root Secret as k8s_info returns it (no cluster here)",
         "ansible.builtin.set_fact": {"object_store_root_secret_info": {"resources": [{"data": {
             "root-user": b64(server.admin_access_key),
             "root-password": b64(server.admin_secret_key)}}]}}},
        {"name": "Provision the bucket",
         "ansible.builtin.include_role": {"name": "enertef.workbench.object_store", "tasks_from": "bucket.yml"},
         "vars": {"object_store_bucket": bucket, "object_store_endpoint_url": server.endpoint}}]}])


def bucket_names(server):
    return [b["Name"] for b in server.admin_s3().list_buckets()["Buckets"]]


def test_bucket_and_policy_are_made_once(seaweedfs, playbook):
    bucket = "workbench-check"
    first = playbook(bucket_play(seaweedfs, bucket))
    assert first.rc == 0 and first.changed == 2, first  # the bucket, then its policy
    second = playbook(bucket_play(seaweedfs, bucket))
    assert second.rc == 0 and second.changed == 0, second
    assert bucket in bucket_names(seaweedfs)
    s3 = seaweedfs.admin_s3()
    assert canonical_policy(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == canonical_policy({
        "Version": "2012-10-17", "Statement": [{
            "Sid": "KeepTheSharedBucket", "Effect": "Deny", "Principal": "*",
            "Action": "s3:DeleteBucket", "Resource": "arn:aws:s3:::%s" % bucket}]})
    # enforced: the admin key itself cannot delete the shared bucket
    with pytest.raises(ClientError) as denied:
        s3.delete_bucket(Bucket=bucket)
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert bucket in bucket_names(seaweedfs)


class CrippledSeaweedFS(SeaweedFS):
    """SeaweedFS without a writable IAM API: read-only (4.48's default) or switched off."""

    def __init__(self, data_dir, iam):
        super().__init__(data_dir, dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)))),
                         "WBADMIN" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))
        self.iam = iam

    def command(self):
        command = [arg for arg in super().command() if arg != "-s3.iam.readOnly=false"]
        return command + (["-s3.iam=false"] if self.iam == "off" else [])


@pytest.mark.parametrize("iam, named", [
    ("read-only", "the AWS IAM API of %s is read-only"),
    ("off", "%s answers S3 but has no AWS IAM API"),
])
def test_endpoint_without_a_writable_iam_api_is_refused_before_the_bucket(iam, named, playbook, tmp_path):
    server = CrippledSeaweedFS(tmp_path, iam).start()
    try:
        users = (lambda: [u["UserName"] for u in server.admin_iam().list_users()["Users"]]) if iam == "read-only" else list
        users_before = users()
        result = playbook(bucket_play(server, "never-made"))
        assert result.rc != 0, result
        (message,) = [m for m in result.failure_messages if "IAM API" in m]
        assert named % server.endpoint in message and "nothing was created" in message, message
        assert "never-made" not in bucket_names(server)
        assert users() == users_before, "the probe created a user"
    finally:
        server.stop()
