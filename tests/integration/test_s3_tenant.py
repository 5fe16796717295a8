"""enertef.workbench.s3_tenant (backend iam) against a real SeaweedFS.

Every scenario in the order of community.postgresql's integration targets:
check mode -> verify on the server that nothing changed -> real run ->
verify -> the same run again reports changed=false. The modules run through
ansible-playbook (the ``playbook`` fixture), the checks use boto3 directly
with the SeaweedFS admin keys.
"""
import json
import secrets

import botocore
import pytest

from ansible_collections.enertef.workbench.plugins.module_utils.object_store import (
    canonical_policy,
    tenant_policy,
)
from fixtures.seaweedfs import free_ports, module_play, result_dicts, run_module

pytestmark = pytest.mark.integration

HOSTILE_NAMES = [
    "Alice", "alice bob", "alice'", 'al"ice', "a;b", "../etc", "a/b", "a..b", "jürgen",
    "postgres", "public", "pg_monitor", "information_schema", "group_x", "x" * 33, "",
]


def tenant_args(seaweedfs, name, **extra):
    args = dict(seaweedfs.module_args(), name=name)
    args.update(extra)
    return args


def users(seaweedfs):
    return sorted(u["UserName"] for u in seaweedfs.admin_iam().list_users()["Users"])


def access_keys(seaweedfs, user):
    metadata = seaweedfs.admin_iam().list_access_keys(UserName=user)["AccessKeyMetadata"]
    return sorted(k["AccessKeyId"] for k in metadata)


def user_policy(seaweedfs, user):
    """The policy document in force for ``user``, checking it is the user's only policy: the
    attached managed policy ``workbench-tenant-<user>`` and no inline one."""
    inline, attached, document = seaweedfs.tenant_policies(user)
    assert (inline, attached) == ([], ["workbench-tenant-%s" % user]), (inline, attached)
    return document


def managed_policy_names(seaweedfs):
    return sorted(p["PolicyName"] for p in seaweedfs.admin_iam().list_policies()["Policies"])


EVERYTHING = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::mlflow", "arn:aws:s3:::mlflow/*"]}]}


def test_create_check_mode_then_real_then_rerun(seaweedfs, playbook):
    name = "tn_alice"
    args = tenant_args(seaweedfs, name, groups=["ml"])

    planned = run_module(playbook, "s3_tenant", args, check=True, diff=True)
    assert planned["changed"] is True, planned
    assert planned["actions"] == ["create_user %s" % name, "create_access_key %s" % name,
                                  "create_policy workbench-tenant-%s" % name,
                                  "attach_user_policy %s workbench-tenant-%s" % (name, name)]
    assert planned["diff"]["before"]["user"] is None
    assert name not in users(seaweedfs), "check mode created the user"
    assert "workbench-tenant-%s" % name not in managed_policy_names(seaweedfs), "check mode created the policy"

    created = run_module(playbook, "s3_tenant", args)
    assert created["changed"] is True and not created.get("failed"), created
    assert created["key_created"] is True
    key, secret = created["access_key"], created["secret_key"]
    assert key and secret and len(secret) >= 20
    assert name in users(seaweedfs)
    assert access_keys(seaweedfs, name) == [key]
    assert canonical_policy(user_policy(seaweedfs, name)) == canonical_policy(tenant_policy(name, groups=["ml"]))
    assert created["tenant"]["prefixes"] == ["%s/" % name, "group_ml/"]

    # the returned key is real and works on the tenant's own prefix
    own = seaweedfs.client("s3", key, secret)
    own.put_object(Bucket="mlflow", Key="%s/hello.txt" % name, Body=b"hello")
    assert own.get_object(Bucket="mlflow", Key="%s/hello.txt" % name)["Body"].read() == b"hello"

    again = run_module(playbook, "s3_tenant", dict(args, access_key=key), diff=True)
    assert again["changed"] is False, again
    assert again["actions"] == [] and again["secret_key"] is None and again["access_key"] == key
    assert again["diff"]["before"] == again["diff"]["after"]
    assert run_module(playbook, "s3_tenant", args, check=True)["changed"] is False
    assert access_keys(seaweedfs, name) == [key]


def test_group_membership_change_rewrites_only_the_policy(seaweedfs, playbook):
    name = "tn_dave"
    created = run_module(playbook, "s3_tenant", tenant_args(seaweedfs, name))
    key = created["access_key"]

    joined = run_module(playbook, "s3_tenant", tenant_args(seaweedfs, name, groups=["ml", "vision"], access_key=key))
    assert joined["changed"] is True
    assert joined["actions"] == ["create_policy_version workbench-tenant-%s" % name]
    assert canonical_policy(user_policy(seaweedfs, name)) == canonical_policy(
        tenant_policy(name, groups=["vision", "ml"]))
    # group order does not matter
    same = run_module(playbook, "s3_tenant", tenant_args(seaweedfs, name, groups=["vision", "ml"], access_key=key))
    assert same["changed"] is False, same


def test_rotate_key_replaces_the_old_key(seaweedfs, playbook):
    name = "tn_erin"
    first = run_module(playbook, "s3_tenant", tenant_args(seaweedfs, name))
    old_client = seaweedfs.client("s3", first["access_key"], first["secret_key"])
    old_client.put_object(Bucket="mlflow", Key="%s/a" % name, Body=b"a")

    rotated = run_module(playbook, "s3_tenant", tenant_args(seaweedfs, name, rotate_key=True))
    assert rotated["changed"] is True and rotated["key_created"] is True
    assert rotated["access_key"] != first["access_key"]
    assert access_keys(seaweedfs, name) == [rotated["access_key"]]
    with pytest.raises(botocore.exceptions.ClientError):
        old_client.get_object(Bucket="mlflow", Key="%s/a" % name)
    new_client = seaweedfs.client("s3", rotated["access_key"], rotated["secret_key"])
    assert new_client.get_object(Bucket="mlflow", Key="%s/a" % name)["Body"].read() == b"a"


def test_extra_inline_policy_is_removed(seaweedfs, playbook):
    """A policy someone added by hand (here: everything on the bucket) goes."""
    name = "tn_jane"
    created = run_module(playbook, "s3_tenant", tenant_args(seaweedfs, name))
    seaweedfs.admin_iam().put_user_policy(UserName=name, PolicyName="by-hand", PolicyDocument=json.dumps(EVERYTHING))
    tenant_s3 = seaweedfs.client("s3", created["access_key"], created["secret_key"])
    tenant_s3.list_objects_v2(Bucket="mlflow")  # the hand-made policy really widened access

    fixed = run_module(playbook, "s3_tenant", tenant_args(seaweedfs, name, access_key=created["access_key"]))
    assert fixed["actions"] == ["delete_user_policy %s by-hand" % name]
    user_policy(seaweedfs, name)  # the tenant policy is the only one left
    with pytest.raises(botocore.exceptions.ClientError):
        tenant_s3.list_objects_v2(Bucket="mlflow")


def test_extra_attached_policy_is_detached(seaweedfs, playbook):
    """A managed policy someone attached by hand (everything on the bucket) is detached, not deleted."""
    name = "tn_kim"
    created = run_module(playbook, "s3_tenant", tenant_args(seaweedfs, name))
    iam = seaweedfs.admin_iam()
    arn = iam.create_policy(PolicyName="tn-by-hand", PolicyDocument=json.dumps(EVERYTHING))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=name, PolicyArn=arn)
    tenant_s3 = seaweedfs.client("s3", created["access_key"], created["secret_key"])
    tenant_s3.list_objects_v2(Bucket="mlflow")  # the attached policy really widened access

    fixed = run_module(playbook, "s3_tenant", tenant_args(seaweedfs, name, access_key=created["access_key"]))
    assert fixed["actions"] == ["detach_user_policy %s tn-by-hand" % name]
    assert canonical_policy(user_policy(seaweedfs, name)) == canonical_policy(tenant_policy(name))
    assert "tn-by-hand" in managed_policy_names(seaweedfs)  # not the tenant's: left to its owner
    with pytest.raises(botocore.exceptions.ClientError):
        tenant_s3.list_objects_v2(Bucket="mlflow")


def test_inline_and_managed_policies_convert_both_ways(seaweedfs, playbook):
    """A tenant made with iam_policy=inline (the kind before 0.x) is moved to the managed policy by
    the next run, and back; its key is kept and works on its prefix throughout."""
    name = "tn_lea"
    created = run_module(playbook, "s3_tenant", tenant_args(seaweedfs, name, iam_policy="inline"))
    assert created["actions"][-1] == "put_user_policy %s workbench-tenant" % name
    assert seaweedfs.tenant_policies(name)[:2] == (["workbench-tenant"], [])
    key = created["access_key"]
    tenant_s3 = seaweedfs.client("s3", key, created["secret_key"])

    args = tenant_args(seaweedfs, name, access_key=key)
    planned = run_module(playbook, "s3_tenant", args, check=True)
    assert seaweedfs.tenant_policies(name)[:2] == (["workbench-tenant"], []), "check mode changed the policies"
    moved = run_module(playbook, "s3_tenant", args)
    assert moved["actions"] == planned["actions"] == [
        "create_policy workbench-tenant-%s" % name, "attach_user_policy %s workbench-tenant-%s" % (name, name),
        "delete_user_policy %s workbench-tenant" % name]
    assert canonical_policy(user_policy(seaweedfs, name)) == canonical_policy(tenant_policy(name))
    tenant_s3.put_object(Bucket="mlflow", Key="%s/a.txt" % name, Body=b"a")
    with pytest.raises(botocore.exceptions.ClientError):
        tenant_s3.put_object(Bucket="mlflow", Key="tn_alice/a.txt", Body=b"a")
    assert run_module(playbook, "s3_tenant", args)["changed"] is False

    back = run_module(playbook, "s3_tenant", dict(args, iam_policy="inline"))
    assert back["actions"] == ["put_user_policy %s workbench-tenant" % name,
                               "detach_user_policy %s workbench-tenant-%s" % (name, name)]
    assert seaweedfs.tenant_policies(name)[:2] == (["workbench-tenant"], [])
    tenant_s3.put_object(Bucket="mlflow", Key="%s/b.txt" % name, Body=b"b")


def test_lost_key_is_replaced_and_strays_removed(seaweedfs, playbook):
    """A caller holding a key the server no longer has gets a new one; keys
    the caller does not hold are deleted when it names the one it holds."""
    name = "tn_frank"
    first = run_module(playbook, "s3_tenant", tenant_args(seaweedfs, name))
    stray = seaweedfs.admin_iam().create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    assert len(access_keys(seaweedfs, name)) == 2

    kept = run_module(playbook, "s3_tenant", tenant_args(seaweedfs, name, access_key=first["access_key"]))
    assert kept["actions"] == ["delete_access_key %s %s" % (name, stray)]
    assert access_keys(seaweedfs, name) == [first["access_key"]]

    seaweedfs.admin_iam().delete_access_key(UserName=name, AccessKeyId=first["access_key"])
    replaced = run_module(playbook, "s3_tenant", tenant_args(seaweedfs, name, access_key=first["access_key"]))
    assert replaced["key_created"] is True and replaced["secret_key"]
    assert access_keys(seaweedfs, name) == [replaced["access_key"]]


def test_absent_check_mode_then_real_then_rerun_keeps_objects(seaweedfs, playbook):
    name = "tn_gina"
    created = run_module(playbook, "s3_tenant", tenant_args(seaweedfs, name))
    seaweedfs.client("s3", created["access_key"], created["secret_key"]).put_object(
        Bucket="mlflow", Key="%s/keep.txt" % name, Body=b"keep")
    args = tenant_args(seaweedfs, name, state="absent")

    planned = run_module(playbook, "s3_tenant", args, check=True)
    assert planned["changed"] is True
    assert name in users(seaweedfs) and access_keys(seaweedfs, name) == [created["access_key"]]

    assert "workbench-tenant-%s" % name in managed_policy_names(seaweedfs)

    removed = run_module(playbook, "s3_tenant", args)
    assert removed["changed"] is True
    assert removed["actions"][-3:] == ["detach_user_policy %s workbench-tenant-%s" % (name, name),
                                       "delete_user %s" % name, "delete_policy workbench-tenant-%s" % name]
    assert name not in users(seaweedfs)
    assert "workbench-tenant-%s" % name not in managed_policy_names(seaweedfs)
    with pytest.raises(botocore.exceptions.ClientError):
        seaweedfs.client("s3", created["access_key"], created["secret_key"]).get_object(
            Bucket="mlflow", Key="%s/keep.txt" % name)
    # off-boarding revokes access, the data stays
    assert seaweedfs.admin_s3().get_object(Bucket="mlflow", Key="%s/keep.txt" % name)["Body"].read() == b"keep"
    assert run_module(playbook, "s3_tenant", args)["changed"] is False


def test_group_tenant_gets_only_the_group_prefix(seaweedfs, playbook):
    result = run_module(playbook, "s3_tenant", tenant_args(seaweedfs, "tn_team", kind="group"))
    assert result["tenant"]["s3_user"] == "group_tn_team"
    assert result["tenant"]["prefixes"] == ["group_tn_team/"]
    group = seaweedfs.client("s3", result["access_key"], result["secret_key"])
    group.put_object(Bucket="mlflow", Key="group_tn_team/shared.txt", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError):
        group.put_object(Bucket="mlflow", Key="tn_alice/x.txt", Body=b"x")


def test_hostile_names_are_refused_before_anything_changes(seaweedfs, playbook):
    before = users(seaweedfs)
    base = seaweedfs.module_args()
    tasks = [("s3_tenant", dict(base, name=name)) for name in HOSTILE_NAMES]
    tasks.append(("s3_tenant", dict(base, name="tn_ok", groups=["ml", "Bad;Group"])))
    tasks.append(("s3_tenant", dict(base, name="tn_ok", bucket="../other")))
    play = playbook(module_play(tasks))
    results = result_dicts(play)
    assert len(results) == len(tasks), play
    for (_module, args), result in zip(tasks, results):
        assert result.get("failed") is True, (args["name"], result)
        assert result.get("changed") is False
        assert "not allowed" in result["msg"] or "reserved" in result["msg"] or "empty" in result["msg"] \
            or "at most" in result["msg"], result["msg"]
        assert "Traceback" not in json.dumps(result)
    assert users(seaweedfs) == before


def test_option_conflicts_are_refused(seaweedfs, playbook):
    result = run_module(playbook, "s3_tenant", tenant_args(seaweedfs, "tn_hank", secret_key=secrets.token_urlsafe(20)))
    assert result["failed"] and "secret_key cannot be used with backend=iam" in result["msg"]
    result = run_module(playbook, "s3_tenant", tenant_args(seaweedfs, "tn_hank", kind="group", groups=["ml"]))
    assert result["failed"] and "groups can only be given with kind=user" in result["msg"]
    assert "tn_hank" not in users(seaweedfs)


def test_unreachable_endpoint_and_wrong_credentials_fail_clearly(seaweedfs, playbook):
    (port,) = free_ports(1)
    unreachable = dict(seaweedfs.module_args(), endpoint_url="http://127.0.0.1:%d" % port, name="tn_ivan", timeout=3)
    result = run_module(playbook, "s3_tenant", unreachable)
    assert result["failed"] and "cannot reach the object store at http://127.0.0.1:%d" % port in result["msg"]
    assert "Traceback" not in json.dumps(result)

    wrong = tenant_args(seaweedfs, "tn_ivan", admin_secret_key=secrets.token_urlsafe(30))
    result = run_module(playbook, "s3_tenant", wrong)
    assert result["failed"] and "refused the admin credentials" in result["msg"], result["msg"]
    assert wrong["admin_secret_key"] not in json.dumps(result)
    assert "tn_ivan" not in users(seaweedfs)
