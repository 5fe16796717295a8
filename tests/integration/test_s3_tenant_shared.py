"""enertef.workbench.s3_tenant with ``iam_policy: shared`` on a real SeaweedFS.

Every user has the one policy ``<policy_name>`` (its own prefix through
``${aws:username}``) and, for each of its groups, the group's policy
``<policy_name>-group_<group>``, which the group's own identity has too. Each
test uses its own ``policy_name`` so that the tests of this worker's SeaweedFS
(the users role's among them) do not share policies. The modules run through
ansible-playbook; the checks use boto3 with the SeaweedFS admin keys and with
each tenant's own keys.
"""
import json
import re

import pytest
from botocore.exceptions import ClientError

from ansible_collections.enertef.workbench.plugins.module_utils.object_store import (
    canonical_policy,
    shared_user_policy,
    tenant_policy,
)
from fixtures.seaweedfs import run_module

pytestmark = pytest.mark.integration

EVERYTHING = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::mlflow", "arn:aws:s3:::mlflow/*"]}]}


def bulk(seaweedfs, playbook, policy, entries, check=False):
    result = run_module(playbook, "s3_tenant", dict(seaweedfs.module_args(), tenants=entries, iam_policy="shared",
                                                    policy_name=policy, parallel=4), check=check)
    assert not result.get("failed"), result
    return result


def policies_of(seaweedfs, user):
    """(inline policy names, attached policy names) of IAM user ``user``."""
    return seaweedfs.tenant_policies(user)[:2]


def document(seaweedfs, name):
    iam = seaweedfs.admin_iam()
    arn = [p["Arn"] for p in iam.list_policies()["Policies"] if p["PolicyName"] == name][0]
    version = iam.get_policy(PolicyArn=arn)["Policy"].get("DefaultVersionId") or "v1"
    return canonical_policy(iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"])


def policy_names(seaweedfs):
    return sorted(p["PolicyName"] for p in seaweedfs.admin_iam().list_policies()["Policies"])


def denied(call):
    with pytest.raises(ClientError) as error:
        call()
    return error.value.response["ResponseMetadata"]["HTTPStatusCode"]


SHAPE = [{"name": "sh_team", "kind": "group"}, {"name": "sh_ann", "groups": ["sh_team"]}, {"name": "sh_ben"}]


def test_check_mode_then_real_then_rerun_and_isolation(seaweedfs, playbook):
    planned = bulk(seaweedfs, playbook, "shp", SHAPE, check=True)
    assert [u["UserName"] for u in seaweedfs.admin_iam().list_users()["Users"] if u["UserName"].startswith(
        ("sh_", "group_sh_"))] == [], "check mode made users"
    assert not [n for n in policy_names(seaweedfs) if n.startswith("shp")], "check mode made policies"

    made = bulk(seaweedfs, playbook, "shp", SHAPE)
    assert made["actions"] == planned["actions"]
    tenants = made["tenants"]
    # the group's policy is made by the group, the users' one by the first user, each once
    assert tenants["group_sh_team"]["actions"] == [
        "create_user group_sh_team", "create_access_key group_sh_team", "create_policy shp-group_sh_team",
        "attach_user_policy group_sh_team shp-group_sh_team"]
    assert tenants["sh_ann"]["actions"] == [
        "create_user sh_ann", "create_access_key sh_ann", "create_policy shp",
        "attach_user_policy sh_ann shp", "attach_user_policy sh_ann shp-group_sh_team"]
    assert tenants["sh_ben"]["actions"] == ["create_user sh_ben", "create_access_key sh_ben",
                                            "attach_user_policy sh_ben shp"]
    assert policies_of(seaweedfs, "sh_ann") == ([], ["shp", "shp-group_sh_team"])
    assert policies_of(seaweedfs, "sh_ben") == ([], ["shp"])
    assert policies_of(seaweedfs, "group_sh_team") == ([], ["shp-group_sh_team"])
    assert document(seaweedfs, "shp") == canonical_policy(shared_user_policy())
    assert document(seaweedfs, "shp-group_sh_team") == canonical_policy(tenant_policy("sh_team", "group"))
    # what each tenant is said to have in effect is its per-tenant policy
    assert tenants["sh_ann"]["policy"] == canonical_policy(tenant_policy("sh_ann", groups=["sh_team"]))

    held = [dict(entry, access_key=tenants[("group_" if entry.get("kind") == "group" else "") + entry["name"]][
        "access_key"]) for entry in SHAPE]
    again = bulk(seaweedfs, playbook, "shp", held)
    assert again["changed"] is False and again["actions"] == [], again["actions"]

    ann = seaweedfs.client("s3", tenants["sh_ann"]["access_key"], tenants["sh_ann"]["secret_key"])
    ben = seaweedfs.client("s3", tenants["sh_ben"]["access_key"], tenants["sh_ben"]["secret_key"])
    ben_iam = seaweedfs.client("iam", tenants["sh_ben"]["access_key"], tenants["sh_ben"]["secret_key"])
    arns = dict((p["PolicyName"], p["Arn"]) for p in seaweedfs.admin_iam().list_policies()["Policies"])
    shared_arn, team_arn = arns["shp"], arns["shp-group_sh_team"]
    ann.put_object(Bucket="mlflow", Key="sh_ann/run.txt", Body=b"ann")
    ann.put_object(Bucket="mlflow", Key="group_sh_team/shared.txt", Body=b"team")
    ben.put_object(Bucket="mlflow", Key="sh_ben/run.txt", Body=b"ben")
    assert [o["Key"] for o in ann.list_objects_v2(Bucket="mlflow", Prefix="sh_ann/")["Contents"]] == ["sh_ann/run.txt"]
    for call in (lambda: ben.get_object(Bucket="mlflow", Key="sh_ann/run.txt"),
                 lambda: ben.put_object(Bucket="mlflow", Key="sh_ann/planted.txt", Body=b"x"),
                 lambda: ben.list_objects_v2(Bucket="mlflow", Prefix="sh_ann/"),
                 lambda: ben.get_object(Bucket="mlflow", Key="group_sh_team/shared.txt"),
                 lambda: ben.list_objects_v2(Bucket="mlflow"),
                 lambda: ben.put_object(Bucket="mlflow", Key="${aws:username}/x", Body=b"x"),
                 lambda: ann.get_object(Bucket="mlflow", Key="sh_ben/run.txt"),
                 # the variable ends with the prefix's '/': sh_ann's prefix is not sh_annx's
                 lambda: ann.put_object(Bucket="mlflow", Key="sh_annx/run.txt", Body=b"x"),
                 lambda: ann.list_objects_v2(Bucket="mlflow", Prefix="sh_annx"),
                 # the shared policy is everyone's: a user must not be able to widen it
                 lambda: ben_iam.create_policy_version(PolicyArn=shared_arn, PolicyDocument=json.dumps(EVERYTHING),
                                                       SetAsDefault=True),
                 # nor join a group by attaching its policy
                 lambda: ben_iam.attach_user_policy(UserName="sh_ben", PolicyArn=team_arn)):
        assert denied(call) == 403
    assert document(seaweedfs, "shp") == canonical_policy(shared_user_policy())
    assert policies_of(seaweedfs, "sh_ben") == ([], ["shp"])


def test_a_widened_shared_policy_is_restored_and_a_stray_one_detached(seaweedfs, playbook):
    made = bulk(seaweedfs, playbook, "shd", [{"name": "sd_cal"}, {"name": "sd_dee"}])
    iam = seaweedfs.admin_iam()
    arn = [p["Arn"] for p in iam.list_policies()["Policies"] if p["PolicyName"] == "shd"][0]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(EVERYTHING), SetAsDefault=True)
    stray = iam.create_policy(PolicyName="shd-extra", PolicyDocument=json.dumps(EVERYTHING))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="sd_dee", PolicyArn=stray)
    entries = [{"name": name, "access_key": made["tenants"][name]["access_key"]} for name in ("sd_cal", "sd_dee")]
    repaired = bulk(seaweedfs, playbook, "shd", entries)
    assert repaired["tenants"]["sd_cal"]["actions"] == ["create_policy_version shd"]
    assert repaired["tenants"]["sd_dee"]["actions"] == ["detach_user_policy sd_dee shd-extra"]
    assert document(seaweedfs, "shd") == canonical_policy(shared_user_policy())
    dee = seaweedfs.client("s3", made["tenants"]["sd_dee"]["access_key"], made["tenants"]["sd_dee"]["secret_key"])
    assert denied(lambda: dee.put_object(Bucket="mlflow", Key="sd_cal/x", Body=b"x")) == 403
    assert bulk(seaweedfs, playbook, "shd", entries)["changed"] is False


def test_managed_and_shared_convert_both_ways_keeping_the_key(seaweedfs, playbook):
    name = "sc_eve"
    created = run_module(playbook, "s3_tenant", dict(seaweedfs.module_args(), name=name, groups=["sc_lab"],
                                                     policy_name="shc", iam_policy="managed"))
    assert policies_of(seaweedfs, name) == ([], ["shc-sc_eve"])
    eve = seaweedfs.client("s3", created["access_key"], created["secret_key"])
    args = dict(seaweedfs.module_args(), name=name, groups=["sc_lab"], policy_name="shc",
                access_key=created["access_key"])

    planned = run_module(playbook, "s3_tenant", dict(args, iam_policy="shared"), check=True)
    assert policies_of(seaweedfs, name) == ([], ["shc-sc_eve"]), "check mode changed the policies"
    moved = run_module(playbook, "s3_tenant", dict(args, iam_policy="shared"))
    assert moved["actions"] == planned["actions"] == [
        "create_policy shc", "create_policy shc-group_sc_lab", "attach_user_policy sc_eve shc",
        "attach_user_policy sc_eve shc-group_sc_lab", "detach_user_policy sc_eve shc-sc_eve", "delete_policy shc-sc_eve"]
    assert policies_of(seaweedfs, name) == ([], ["shc", "shc-group_sc_lab"])
    assert "shc-sc_eve" not in policy_names(seaweedfs)
    eve.put_object(Bucket="mlflow", Key="sc_eve/a.txt", Body=b"a")
    eve.put_object(Bucket="mlflow", Key="group_sc_lab/a.txt", Body=b"a")
    assert run_module(playbook, "s3_tenant", dict(args, iam_policy="shared"))["changed"] is False

    back = run_module(playbook, "s3_tenant", dict(args, iam_policy="managed"))
    assert back["actions"] == ["create_policy shc-sc_eve", "attach_user_policy sc_eve shc-sc_eve",
                               "detach_user_policy sc_eve shc", "detach_user_policy sc_eve shc-group_sc_lab"]
    assert policies_of(seaweedfs, name) == ([], ["shc-sc_eve"])
    eve.put_object(Bucket="mlflow", Key="sc_eve/b.txt", Body=b"b")


def test_leaving_a_group_and_removing_it_in_one_call(seaweedfs, playbook):
    shape = [{"name": "sg_lab", "kind": "group"}, {"name": "sg_fay", "groups": ["sg_lab"]},
             {"name": "sg_gus", "groups": ["sg_lab"]}]
    made = bulk(seaweedfs, playbook, "shg", shape)
    fay = seaweedfs.client("s3", made["tenants"]["sg_fay"]["access_key"], made["tenants"]["sg_fay"]["secret_key"])
    fay.put_object(Bucket="mlflow", Key="group_sg_lab/kept.txt", Body=b"kept")

    # the group goes, its members leave it: the group's policy is detached from them before it is deleted
    gone = bulk(seaweedfs, playbook, "shg", [
        {"name": "sg_lab", "kind": "group", "state": "absent"},
        {"name": "sg_fay", "access_key": made["tenants"]["sg_fay"]["access_key"]},
        {"name": "sg_gus", "access_key": made["tenants"]["sg_gus"]["access_key"]}])
    assert gone["failed_tenants"] == []
    assert gone["tenants"]["sg_fay"]["actions"] == ["detach_user_policy sg_fay shg-group_sg_lab"]
    assert gone["tenants"]["group_sg_lab"]["actions"][-1] == "delete_policy shg-group_sg_lab"
    assert "shg-group_sg_lab" not in policy_names(seaweedfs)
    assert policies_of(seaweedfs, "sg_fay") == ([], ["shg"])
    assert denied(lambda: fay.get_object(Bucket="mlflow", Key="group_sg_lab/kept.txt")) == 403
    # objects are kept
    assert seaweedfs.admin_s3().get_object(Bucket="mlflow", Key="group_sg_lab/kept.txt")["Body"].read() == b"kept"


def normalized(result, prefix, policy):
    text = repr({key: result.get(key) for key in ("changed", "actions", "key_created", "tenant", "policy")})
    return re.sub(r"\b%s\b" % policy, "POLICY", text.replace(prefix, "P_")), bool(result.get("access_key"))


def test_bulk_gives_the_per_tenant_results_in_check_mode_and_for_real(seaweedfs, playbook):
    def shape(prefix):
        return [{"name": prefix + "crew", "kind": "group"}, {"name": prefix + "hal", "groups": [prefix + "crew"]},
                {"name": prefix + "ida"}, {"name": prefix + "jon", "groups": [prefix + "crew"]}]

    def tenant(entry):
        return ("group_" if entry.get("kind") == "group" else "") + entry["name"]

    results = {}
    for check in (True, False):
        each = [run_module(playbook, "s3_tenant", dict(seaweedfs.module_args(), iam_policy="shared",
                                                       policy_name="she", **entry), check=check)
                for entry in shape("se_")]
        together = bulk(seaweedfs, playbook, "shb", shape("sb_"), check=check)["tenants"]
        results[check] = together
        first_seen = set()
        for entry, alone in zip(shape("se_"), each):
            expected = normalized(alone, "se_", "she")
            if check:
                # one call per tenant in check mode makes nothing, so each call plans the shared
                # policies again; one bulk call plans each once, at the first tenant needing it
                planned = [a for a in alone["actions"] if a.startswith("create_policy ")]
                repeated = [a for a in planned if a in first_seen]
                first_seen.update(planned)
                expected = normalized(dict(alone, actions=[a for a in alone["actions"] if a not in repeated]),
                                      "se_", "she")
            assert normalized(together[tenant(entry).replace("se_", "sb_")], "sb_", "shb") == expected, tenant(entry)
    # what bulk check mode plans is what the real bulk call does
    assert dict((t, r["actions"]) for t, r in results[True].items()) == dict(
        (t, r["actions"]) for t, r in results[False].items())
    for entry in shape("se_"):
        ours, theirs = policies_of(seaweedfs, tenant(entry)), policies_of(seaweedfs, tenant(entry).replace("se_", "sb_"))
        assert [p.replace("she", "P").replace("se_", "") for p in ours[1]] == [
            p.replace("shb", "P").replace("sb_", "") for p in theirs[1]] != []
