"""enertef.workbench.s3_tenant with ``tenants:`` (bulk mode, backend iam) on a real SeaweedFS.

The bulk path must give each tenant the result the per-tenant path gives
(one module call per tenant), in check mode and for real, and leave the
server in the same state. Two sets of tenants of the same shape are used
(prefix ``ea_`` for the per-tenant path, ``bk_`` for the bulk path) so the
two runs do not see each other's users. The failing-tenant test injects a
server error for one tenant in-process (SeaweedFS has no way to refuse one
user's request on demand), around a real SeaweedFS client.
"""
import re

import pytest

from ansible_collections.enertef.workbench.plugins.module_utils.object_store import (
    boto3_client,
    canonical_policy,
    tenant_policy,
)
from ansible_collections.enertef.workbench.plugins.modules import s3_tenant
from botocore.exceptions import ClientError
from fixtures.seaweedfs import module_play, result_dicts, run_module

pytestmark = pytest.mark.integration

# (name without prefix, kind, groups, state)
SHAPE = [
    ("team", "group", [], "present"),
    ("ann", "user", ["team"], "present"),
    ("ben", "user", [], "present"),
    ("cy", "user", ["team"], "present"),
    ("old", "user", [], "absent"),      # exists beforehand, is off-boarded
    ("never", "user", [], "absent"),    # never existed
] + [("u%02d" % n, "user", ["team"] if n % 2 else [], "present") for n in range(10)]


def entries(prefix):
    return [{"name": prefix + name, "kind": kind, "groups": [prefix + g for g in groups], "state": state}
            for name, kind, groups, state in SHAPE]


def tenant_id(entry):
    return ("group_" if entry["kind"] == "group" else "") + entry["name"]


def normalized(result, prefix):
    """A tenant result without what differs between the two sets (names, key ids, secrets)."""
    text = repr({key: result.get(key) for key in ("changed", "actions", "key_created", "tenant", "policy")})
    text = re.sub(r"(delete_access_key \S+) \w+", r"\1 KEY", text.replace(prefix, "P_"))
    return text, bool(result.get("access_key")), bool(result.get("secret_key"))


def server_state(seaweedfs, prefix):
    # Only this shape's tenants: the session's SeaweedFS also holds other tests' users (bk_ada of the backup test).
    ours = {tenant_id(entry) for entry in entries(prefix)}
    iam = seaweedfs.admin_iam()
    state = {}
    for user in iam.list_users()["Users"]:
        name = user["UserName"]
        if name not in ours:
            continue
        keys = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
        inline, attached, document = seaweedfs.tenant_policies(name)
        state[name.replace(prefix, "P_")] = (len(keys), inline, [p.replace(prefix, "P_") for p in attached],
                                             repr(canonical_policy(document)).replace(prefix, "P_"))
    return state


def run_each(seaweedfs, playbook, prefix, check=False):
    tasks = [("s3_tenant", dict(seaweedfs.module_args(), **entry)) for entry in entries(prefix)]
    results = result_dicts(playbook(module_play(tasks), check=check))
    assert len(results) == len(tasks)
    return {tenant_id(entry): result for entry, result in zip(entries(prefix), results)}


def run_bulk(seaweedfs, playbook, prefix, check=False):
    result = run_module(playbook, "s3_tenant", dict(seaweedfs.module_args(), tenants=entries(prefix), parallel=4),
                        check=check)
    assert not result.get("failed"), result
    return result


def test_bulk_gives_the_per_tenant_results_in_check_mode_and_for_real(seaweedfs, playbook):
    for prefix in ("ea_", "bk_"):
        run_module(playbook, "s3_tenant", dict(seaweedfs.module_args(), name=prefix + "old"))

    for check in (True, False):
        each = run_each(seaweedfs, playbook, "ea_", check=check)
        bulk = run_bulk(seaweedfs, playbook, "bk_", check=check)
        assert len(bulk["tenants"]) == len(each) == len(SHAPE)
        for ea_id, each_result in each.items():
            bk_id = ea_id.replace("ea_", "bk_")
            assert normalized(bulk["tenants"][bk_id], "bk_") == normalized(each_result, "ea_"), ea_id
        assert bulk["changed"] is True and bulk["failed_tenants"] == []
        assert server_state(seaweedfs, "bk_") == server_state(seaweedfs, "ea_")

    # the keys returned are the server's, and each works on its own prefix only
    state = server_state(seaweedfs, "bk_")
    assert len(state) == len(SHAPE) - 2 and all(keys == 1 for keys, _, _, _ in state.values())
    assert all((inline, attached) == ([], ["workbench-tenant-" + name]) for name, (_, inline, attached, _) in
               state.items()), state
    for name, result in bulk["tenants"].items():
        if result.get("secret_key"):
            client = seaweedfs.client("s3", result["access_key"], result["secret_key"])
            client.put_object(Bucket="mlflow", Key="%s/x.txt" % name, Body=b"x")
    assert canonical_policy(seaweedfs.tenant_policies("bk_ann")[2]) == canonical_policy(
        tenant_policy("bk_ann", groups=["bk_team"]))

    # rerun with the keys held: nothing changes, no secret comes back
    held = entries("bk_")
    for entry in held:
        if entry["state"] == "present":
            entry["access_key"] = bulk["tenants"][tenant_id(entry)]["access_key"]
    again = run_module(playbook, "s3_tenant", dict(seaweedfs.module_args(), tenants=held))
    assert again["changed"] is False and again["actions"] == [], again["actions"]
    assert all("secret_key" not in r for r in again["tenants"].values())


def test_bulk_many_tenants_at_once_lose_no_update(seaweedfs, playbook):
    """Concurrent writes to the server's identity store: every user gets its key and policy."""
    tenants = [{"name": "cc_%03d" % n, "groups": ["cc_g%d" % (n % 3)]} for n in range(40)]
    result = run_module(playbook, "s3_tenant", dict(seaweedfs.module_args(), tenants=tenants, parallel=8))
    assert not result.get("failed") and len(result["tenants"]) == 40, result.get("msg")
    iam = seaweedfs.admin_iam()
    for tenant in tenants:
        name = tenant["name"]
        keys = [k["AccessKeyId"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]]
        assert keys == [result["tenants"][name]["access_key"]], name
        inline, attached, document = seaweedfs.tenant_policies(name)
        assert (inline, attached) == ([], ["workbench-tenant-" + name]), name
        assert canonical_policy(document) == canonical_policy(tenant_policy(name, groups=tenant["groups"])), name


class FailingFor:
    """A real IAM client that answers one user's create_access_key with a server error."""

    def __init__(self, iam, user):
        self._iam, self._user = iam, user

    def __getattr__(self, name):
        return getattr(self._iam, name)

    def create_access_key(self, UserName):  # noqa: N803 (boto3's spelling)
        if UserName == self._user:
            raise ClientError({"Error": {"Code": "ServiceFailure", "Message": "disk full"},
                               "ResponseMetadata": {"HTTPStatusCode": 500}}, "CreateAccessKey")
        return self._iam.create_access_key(UserName=UserName)


def test_one_failing_tenant_is_named_and_the_others_keep_their_new_keys(seaweedfs):
    params = dict(seaweedfs.module_args(), validate_certs=True, timeout=10, backend="iam", bucket="mlflow",
                  policy_name="workbench-tenant", iam_policy="managed", update_secret="on_create", rotate_key=False, parallel=3,
                  name=None, kind="user", groups=[], state="present", access_key=None, secret_key=None,
                  tenants=[{"name": n, "kind": "user", "groups": [], "state": "present", "access_key": None,
                            "secret_key": None} for n in ("ff_a", "ff_b", "ff_c", "ff_d")])
    store = s3_tenant.IamTenantStore(FailingFor(boto3_client(params, "iam"), "ff_c"))
    result = s3_tenant.run_many(s3_tenant.tenant_requests(params), store, False, params["parallel"])
    assert result["failed_tenants"] == ["ff_c"]
    message = s3_tenant.failure_message(result)
    assert "1 of 4 tenants" in message and "ff_c: object store request failed" in message and "disk full" in message
    for name in ("ff_a", "ff_b", "ff_d"):
        new = result["tenants"][name]
        assert new["key_created"] and new["secret_key"]
        seaweedfs.client("s3", new["access_key"], new["secret_key"]).put_object(
            Bucket="mlflow", Key="%s/ok.txt" % name, Body=b"ok")


class Recording:
    """A real IAM client that records the name of each write request, in order."""

    WRITES = ("create_user", "create_access_key", "delete_access_key", "create_policy", "create_policy_version",
              "attach_user_policy", "put_user_policy", "detach_user_policy", "delete_user_policy")

    def __init__(self, iam):
        self._iam, self.calls = iam, []

    def __getattr__(self, name):
        method = getattr(self._iam, name)
        if name not in self.WRITES:
            return method

        def recorded(**request):
            self.calls.append(name)
            return method(**request)
        return recorded


def test_every_key_is_made_before_any_policy_is_attached(seaweedfs):
    # On SeaweedFS a key write saves every identity, and each saved identity makes the server
    # reload the policies of every identity with one attached: keys first is 40 ms a key for 200
    # users instead of 2 s (benchmarks/README.md). Not timed here: the order is what is tested.
    params = dict(seaweedfs.module_args(), validate_certs=True, timeout=10, backend="iam", bucket="mlflow",
                  policy_name="workbench-tenant", iam_policy="managed", update_secret="on_create", rotate_key=False,
                  parallel=3, name=None, kind="user", groups=[], state="present", access_key=None, secret_key=None,
                  tenants=[{"name": n, "kind": "user", "groups": [], "state": "present", "access_key": None,
                            "secret_key": None} for n in ("ko_a", "ko_b", "ko_c", "ko_d", "ko_e")])
    iam = Recording(boto3_client(params, "iam"))
    result = s3_tenant.run_many(s3_tenant.tenant_requests(params), s3_tenant.IamTenantStore(iam), False, 3)
    assert not result["failed_tenants"], result
    assert iam.calls.count("create_access_key") == 5 and iam.calls.count("attach_user_policy") == 5, iam.calls
    last_key = max(i for i, call in enumerate(iam.calls) if call in ("create_user", "create_access_key"))
    first_policy = min(i for i, call in enumerate(iam.calls) if call in ("create_policy", "attach_user_policy"))
    assert last_key < first_policy, iam.calls
    for name, tenant in result["tenants"].items():  # and each key works within its prefix
        seaweedfs.client("s3", tenant["access_key"], tenant["secret_key"]).put_object(
            Bucket="mlflow", Key="%s/ok.txt" % name, Body=b"ok")
