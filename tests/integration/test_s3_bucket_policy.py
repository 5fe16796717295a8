"""enertef.workbench.s3_bucket_policy against a real SeaweedFS.

SeaweedFS implements Put/Get/DeleteBucketPolicy and enforces the policy (a
Deny applies even to its admin identity), and it hands the document back in
its own shape (one-item lists become strings). So this checks for real that
the canonical comparison keeps reruns unchanged. A bucket of its own is used
so the shared ``mlflow`` bucket is never at risk.
"""
import json

import pytest
from botocore.exceptions import ClientError

from ansible_collections.enertef.workbench.plugins.module_utils.object_store import canonical_policy

from fixtures.seaweedfs import module_play, result_dicts, run_module

pytestmark = pytest.mark.integration

BUCKET = "policy-test"
KEEP_BUCKET = {
    "Version": "2012-10-17",
    "Statement": [{
        "Sid": "KeepBucket",
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["s3:DeleteBucket"],
        "Resource": ["arn:aws:s3:::%s" % BUCKET],
    }],
}
# the same policy in another shape: strings for one-item lists, other key order
KEEP_BUCKET_RESHAPED = json.dumps({
    "Statement": {"Resource": "arn:aws:s3:::%s" % BUCKET, "Action": "s3:DeleteBucket",
                  "Principal": {"AWS": ["*"]}, "Effect": "Deny", "Sid": "KeepBucket"},
    "Version": "2012-10-17",
})
PUBLIC_READ = {
    "Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
    "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::%s/public/*" % BUCKET],
}


def server_policy(seaweedfs):
    try:
        return json.loads(seaweedfs.admin_s3().get_bucket_policy(Bucket=BUCKET)["Policy"])
    except ClientError as err:
        assert err.response["Error"]["Code"] == "NoSuchBucketPolicy"
        return None


def policy_args(seaweedfs, **extra):
    args = dict(seaweedfs.module_args(), bucket=BUCKET)
    args.update(extra)
    return args


def test_put_compare_delete(seaweedfs, playbook):
    s3 = seaweedfs.admin_s3()
    s3.create_bucket(Bucket=BUCKET)
    args = policy_args(seaweedfs, policy=KEEP_BUCKET)

    planned = run_module(playbook, "s3_bucket_policy", args, check=True, diff=True)
    assert planned["changed"] is True and planned["actions"] == ["put_bucket_policy %s" % BUCKET], planned
    assert planned["diff"]["before"] is None
    assert server_policy(seaweedfs) is None, "check mode put a policy"

    applied = run_module(playbook, "s3_bucket_policy", args)
    assert applied["changed"] is True, applied
    assert canonical_policy(server_policy(seaweedfs)) == canonical_policy(KEEP_BUCKET)
    # the server enforces it: even the admin identity cannot delete the bucket now
    with pytest.raises(ClientError) as denied:
        s3.delete_bucket(Bucket=BUCKET)
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    for same in (args, policy_args(seaweedfs, policy=KEEP_BUCKET_RESHAPED)):
        again = run_module(playbook, "s3_bucket_policy", same)
        assert again["changed"] is False and again["actions"] == [], again
    assert run_module(playbook, "s3_bucket_policy", args, check=True)["changed"] is False

    wider = dict(KEEP_BUCKET, Statement=KEEP_BUCKET["Statement"] + [PUBLIC_READ])
    changed = run_module(playbook, "s3_bucket_policy", policy_args(seaweedfs, policy=wider), diff=True)
    assert changed["changed"] is True
    assert len(changed["diff"]["before"]["Statement"]) == 1 and len(changed["diff"]["after"]["Statement"]) == 2
    assert canonical_policy(server_policy(seaweedfs)) == canonical_policy(wider)

    absent = policy_args(seaweedfs, state="absent")
    assert run_module(playbook, "s3_bucket_policy", absent, check=True)["changed"] is True
    assert server_policy(seaweedfs) is not None, "check mode deleted the policy"
    assert run_module(playbook, "s3_bucket_policy", absent)["changed"] is True
    assert server_policy(seaweedfs) is None
    assert run_module(playbook, "s3_bucket_policy", absent)["changed"] is False
    s3.delete_bucket(Bucket=BUCKET)  # allowed again once the Deny is gone


def test_bad_input_fails_clearly(seaweedfs, playbook):
    tasks = [
        ("s3_bucket_policy", dict(seaweedfs.module_args(), bucket="no-such-bucket-here", policy=KEEP_BUCKET)),
        ("s3_bucket_policy", dict(seaweedfs.module_args(), bucket="mlflow", policy="{not json")),
        ("s3_bucket_policy", dict(seaweedfs.module_args(), bucket="../mlflow", policy=KEEP_BUCKET)),
        ("s3_bucket_policy", dict(seaweedfs.module_args(), bucket="mlflow", policy={"Version": "2012-10-17"})),
    ]
    play = playbook(module_play(tasks))
    messages = [r.get("msg", "") for r in result_dicts(play)]
    assert len(messages) == 4, play
    assert "bucket 'no-such-bucket-here' does not exist" in messages[0]
    assert "policy is not valid JSON" in messages[1]
    assert "bucket name '../mlflow' is not allowed" in messages[2]
    assert "with a Statement" in messages[3]
    assert all("Traceback" not in m for m in messages)
