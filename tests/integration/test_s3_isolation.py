"""Attack matrix on a real SeaweedFS: tenants provisioned by s3_tenant cannot
touch each other's objects.

sara (member of group lab), tom and uma get their keys from the
``enertef.workbench.s3_tenant`` module run through ansible-playbook. tom puts
objects under ``mlflow/tom/``; sara, with her own keys, then tries every way
to read, write, list, delete or copy them, and to widen her rights through
the IAM or bucket-policy API. Every attempt must be denied, and afterwards
tom's prefix holds exactly the objects he put, with the same checksums.
Each attack has a positive control: the same call on sara's own prefix works,
so a denial is the policy's doing, not a broken key.
"""
import hashlib
import json

import pytest
from botocore.exceptions import ClientError

from fixtures.playbook import run_playbook
from fixtures.seaweedfs import module_play, result_dicts

pytestmark = pytest.mark.integration

BUCKET = "mlflow"
BOB_OBJECTS = {
    "tom/model.bin": b"\x00weights" * 4096,
    "tom/run1/metrics.json": b'{"loss": 0.1}',
    "tom/notes.txt": b"tom's private notes",
}


def provision(seaweedfs, tmp_dir, tenants):
    """Run s3_tenant for each (name, groups) in one playbook; return {name: (key, secret)}."""
    tasks = [("s3_tenant", dict(seaweedfs.module_args(), name=name, groups=groups)) for name, groups in tenants]
    play = run_playbook(module_play(tasks), tmp_dir)
    results = result_dicts(play)
    assert len(results) == len(tenants) and not any(r.get("failed") for r in results), play
    return {name: (r["access_key"], r["secret_key"]) for (name, _groups), r in zip(tenants, results)}


@pytest.fixture(scope="module")
def tenants(seaweedfs, tmp_path_factory):
    keys = provision(seaweedfs, tmp_path_factory.mktemp("isolation"),
                     [("sara", ["lab"]), ("tom", []), ("uma", [])])
    clients = {name: seaweedfs.client("s3", *pair) for name, pair in keys.items()}
    clients["sara_iam"] = seaweedfs.client("iam", *keys["sara"])
    clients["admin_iam"] = seaweedfs.admin_iam()
    for key, body in BOB_OBJECTS.items():
        clients["tom"].put_object(Bucket=BUCKET, Key=key, Body=body)
    clients["sara"].put_object(Bucket=BUCKET, Key="sara/own.txt", Body=b"sara")
    return clients


def tom_prefix_state(seaweedfs):
    """{key: sha256} of everything under tom/, read with the admin keys."""
    s3 = seaweedfs.admin_s3()
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix="tom/").get("Contents", [])
    return {obj["Key"]: hashlib.sha256(s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()).hexdigest()
            for obj in listing}


def expected_bob_state():
    return {key: hashlib.sha256(body).hexdigest() for key, body in BOB_OBJECTS.items()}


def multipart_into(s3, key):
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)
    part = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"p" * 1024)
    return s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"],
                                        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})


EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


def widen_own_policy(iam):
    return iam.put_user_policy(UserName="sara", PolicyName="mine", PolicyDocument=json.dumps(EVERYTHING))


def own_policy_arn(clients):
    """The ARN of sara's managed tenant policy (read with the admin keys)."""
    attached = clients["admin_iam"].list_attached_user_policies(UserName="sara")["AttachedPolicies"]
    return attached[0]["PolicyArn"]


def open_bucket_policy(s3):
    public = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*",
                                                      "Resource": ["arn:aws:s3:::mlflow", "arn:aws:s3:::mlflow/*"]}]}
    return s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(public))


# name -> (attack with sara's clients, the same call on her own prefix or None)
ATTACKS = {
    "get_object": (lambda c: c["sara"].get_object(Bucket=BUCKET, Key="tom/notes.txt"),
                   lambda c: c["sara"].get_object(Bucket=BUCKET, Key="sara/own.txt")),
    "head_object": (lambda c: c["sara"].head_object(Bucket=BUCKET, Key="tom/model.bin"),
                    lambda c: c["sara"].head_object(Bucket=BUCKET, Key="sara/own.txt")),
    "put_object_new": (lambda c: c["sara"].put_object(Bucket=BUCKET, Key="tom/planted.txt", Body=b"x"),
                       lambda c: c["sara"].put_object(Bucket=BUCKET, Key="sara/new.txt", Body=b"x")),
    "put_object_overwrite": (lambda c: c["sara"].put_object(Bucket=BUCKET, Key="tom/notes.txt", Body=b"gone"),
                             None),
    "delete_object": (lambda c: c["sara"].delete_object(Bucket=BUCKET, Key="tom/notes.txt"),
                      lambda c: c["sara"].delete_object(Bucket=BUCKET, Key="sara/new.txt")),
    "list_prefix_bob": (lambda c: c["sara"].list_objects_v2(Bucket=BUCKET, Prefix="tom/"),
                        lambda c: c["sara"].list_objects_v2(Bucket=BUCKET, Prefix="sara/")),
    "list_no_prefix": (lambda c: c["sara"].list_objects_v2(Bucket=BUCKET), None),
    "list_v1_prefix_bob": (lambda c: c["sara"].list_objects(Bucket=BUCKET, Prefix="tom/"),
                           lambda c: c["sara"].list_objects(Bucket=BUCKET, Prefix="sara/")),
    "list_prefix_b": (lambda c: c["sara"].list_objects_v2(Bucket=BUCKET, Prefix="b"), None),
    "copy_bob_to_own": (lambda c: c["sara"].copy_object(Bucket=BUCKET, Key="sara/stolen.txt",
                                                         CopySource={"Bucket": BUCKET, "Key": "tom/notes.txt"}),
                        lambda c: c["sara"].copy_object(Bucket=BUCKET, Key="sara/copy.txt",
                                                         CopySource={"Bucket": BUCKET, "Key": "sara/own.txt"})),
    "copy_own_to_bob": (lambda c: c["sara"].copy_object(Bucket=BUCKET, Key="tom/notes.txt",
                                                         CopySource={"Bucket": BUCKET, "Key": "sara/own.txt"}),
                        None),
    "multipart_into_bob": (lambda c: multipart_into(c["sara"], "tom/multipart.bin"),
                           lambda c: multipart_into(c["sara"], "sara/multipart.bin")),
    "get_object_via_dotdot": (lambda c: c["sara"].get_object(Bucket=BUCKET, Key="sara/../tom/notes.txt"), None),
    "put_object_via_dotdot": (lambda c: c["sara"].put_object(Bucket=BUCKET, Key="sara/../tom/planted.txt",
                                                              Body=b"x"), None),
    "iam_widen_own_policy": (lambda c: widen_own_policy(c["sara_iam"]), None),
    "iam_widen_own_managed_policy": (lambda c: c["sara_iam"].create_policy_version(
        PolicyArn=own_policy_arn(c), PolicyDocument=json.dumps(EVERYTHING), SetAsDefault=True), None),
    "iam_attach_policy_to_self": (lambda c: c["sara_iam"].attach_user_policy(
        UserName="sara", PolicyArn=own_policy_arn(c).replace("-sara", "-tom")), None),
    "iam_create_policy": (lambda c: c["sara_iam"].create_policy(
        PolicyName="mine", PolicyDocument=json.dumps(EVERYTHING)), None),
    "iam_key_for_bob": (lambda c: c["sara_iam"].create_access_key(UserName="tom"), None),
    "iam_list_users": (lambda c: c["sara_iam"].list_users(), None),
    "bucket_policy_open": (lambda c: open_bucket_policy(c["sara"]), None),
    "bucket_policy_read": (lambda c: c["sara"].get_bucket_policy(Bucket=BUCKET), None),
}


def status_of(err):
    return err.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_alice_cannot_touch_bobs_objects(seaweedfs, tenants, attack):
    harmful, control = ATTACKS[attack]
    if control is not None:
        control(tenants)  # must work: sara's key is valid and the call allowed on her prefix
    with pytest.raises(ClientError) as denied:
        harmful(tenants)
    if "dotdot" in attack:
        # a key with '..' is either refused or a literal key; never tom's object
        assert status_of(denied.value) in (400, 403, 404), denied.value
    else:
        assert status_of(denied.value) == 403, denied.value
    # checked after each attack, so no test relies on running after the others
    assert tom_prefix_state(seaweedfs) == expected_bob_state(), attack


def test_batch_delete_of_bobs_objects_deletes_nothing(seaweedfs, tenants):
    result = tenants["sara"].delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in BOB_OBJECTS]})
    assert not result.get("Deleted"), result
    assert sorted(e["Key"] for e in result.get("Errors", [])) == sorted(BOB_OBJECTS)


def test_listing_own_prefix_shows_only_own_objects(seaweedfs, tenants):
    keys = [o["Key"] for o in tenants["sara"].list_objects_v2(Bucket=BUCKET, Prefix="sara/").get("Contents", [])]
    assert "sara/own.txt" in keys and all(k.startswith("sara/") for k in keys)


def test_group_prefix_is_shared_with_members_only(seaweedfs, tenants):
    sara, tom, uma = tenants["sara"], tenants["tom"], tenants["uma"]
    sara.put_object(Bucket=BUCKET, Key="group_lab/exp1/model.bin", Body=b"shared")
    assert sara.get_object(Bucket=BUCKET, Key="group_lab/exp1/model.bin")["Body"].read() == b"shared"
    listed = sara.list_objects_v2(Bucket=BUCKET, Prefix="group_lab/")["Contents"]
    assert [o["Key"] for o in listed] == ["group_lab/exp1/model.bin"]

    uma.put_object(Bucket=BUCKET, Key="uma/mine.txt", Body=b"c")  # uma's key works on her prefix
    for outsider in (uma, tom):
        for call in (lambda s: s.get_object(Bucket=BUCKET, Key="group_lab/exp1/model.bin"),
                     lambda s: s.put_object(Bucket=BUCKET, Key="group_lab/exp1/model.bin", Body=b"evil"),
                     lambda s: s.list_objects_v2(Bucket=BUCKET, Prefix="group_lab/"),
                     lambda s: s.delete_object(Bucket=BUCKET, Key="group_lab/exp1/model.bin")):
            with pytest.raises(ClientError) as denied:
                call(outsider)
            assert status_of(denied.value) == 403
    assert seaweedfs.admin_s3().get_object(Bucket=BUCKET, Key="group_lab/exp1/model.bin")["Body"].read() == b"shared"


def test_bobs_objects_are_intact_after_the_attacks(seaweedfs, tenants):
    # everything together (each attack also checks tom's prefix itself): nothing added, changed or removed
    assert tom_prefix_state(seaweedfs) == expected_bob_state()
    sara_keys = seaweedfs.admin_s3().list_objects_v2(Bucket=BUCKET, Prefix="sara/")["Contents"]
    assert "sara/stolen.txt" not in [o["Key"] for o in sara_keys]
    iam = seaweedfs.admin_iam()
    assert seaweedfs.tenant_policies("sara")[:2] == ([], ["workbench-tenant-sara"])
    assert len(iam.list_access_keys(UserName="tom")["AccessKeyMetadata"]) == 1
    try:
        policy = seaweedfs.admin_s3().get_bucket_policy(Bucket=BUCKET)["Policy"]
    except ClientError:
        policy = ""  # no bucket policy at all
    assert '"s3:*"' not in policy, policy
