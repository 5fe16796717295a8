"""Confused deputy: what a hostile tenant can make the ADMIN do (issue 11).

The attack matrices (test_pg_isolation.py, test_s3_isolation.py) test what a
tenant can do with its own credentials. Here a tenant plants objects where
the admin's paths look, then every admin path runs, and the test checks that
no tenant gained a role, a privilege or another tenant's data.

Real servers: PostgreSQL 18 with the admin configured as the cluster does
(tests/fixtures/postgres.py: CREATEROLE, not superuser), SeaweedFS 4.48.
"""
import json

import botocore.exceptions
import pytest

from fixtures.seaweedfs import run_module as run_s3_module

pytestmark = pytest.mark.integration


# ------------------------------------------------------------------ object store

def _tenant_s3(seaweedfs, service, key):
    return seaweedfs.client(service, key["access_key"], key["secret_key"])


def _keys_of(seaweedfs, user):
    return sorted(k["AccessKeyId"] for k in
                  seaweedfs.admin_iam().list_access_keys(UserName=user)["AccessKeyMetadata"])


def _works(seaweedfs, access_key, secret_key, user):
    try:
        seaweedfs.client("s3", access_key, secret_key).list_objects_v2(Bucket="mlflow", Prefix=user + "/")
        return True
    except botocore.exceptions.ClientError:
        return False


def test_self_made_s3_key_is_removed_and_rotation_leaves_one_working_key(seaweedfs, playbook):
    """SeaweedFS 4.48 lets a user create access keys for itself through the IAM
    API and refuses any Deny statement (so no policy can forbid it): the next
    run with the key the workbench holds deletes the self-made key, and a
    rotation leaves exactly one key, which works."""
    user = "cd_s3_mallory"
    base = dict(seaweedfs.module_args(), name=user)
    first = run_s3_module(playbook, "s3_tenant", base)
    own_iam = _tenant_s3(seaweedfs, "iam", first)
    made = own_iam.create_access_key(UserName=user)["AccessKey"]
    assert _works(seaweedfs, made["AccessKeyId"], made["SecretAccessKey"], user)
    assert len(_keys_of(seaweedfs, user)) == 2

    rerun = run_s3_module(playbook, "s3_tenant", dict(base, access_key=first["access_key"]))
    assert rerun["actions"] == ["delete_access_key %s %s" % (user, made["AccessKeyId"])]
    assert _keys_of(seaweedfs, user) == [first["access_key"]]
    assert not _works(seaweedfs, made["AccessKeyId"], made["SecretAccessKey"], user)

    own_iam.create_access_key(UserName=user)
    rotated = run_s3_module(playbook, "s3_tenant", dict(base, access_key=first["access_key"], rotate_key=True))
    assert _keys_of(seaweedfs, user) == [rotated["access_key"]]
    assert _works(seaweedfs, rotated["access_key"], rotated["secret_key"], user)
    assert not _works(seaweedfs, first["access_key"], first["secret_key"], user)
    # the tenant's key creates no other user and widens no policy
    with pytest.raises(botocore.exceptions.ClientError):
        _tenant_s3(seaweedfs, "iam", rotated).create_user(UserName="cd_s3_minion")
    with pytest.raises(botocore.exceptions.ClientError):
        _tenant_s3(seaweedfs, "iam", rotated).put_user_policy(
            UserName=user, PolicyName="more", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}]}))
