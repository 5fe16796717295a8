"""s3_tenant with backend=minio: the call sequence against a FAKE MinioAdmin.

No MinIO server can run here: there is no MinIO server on PyPI, npm or in
Debian, and nothing else may be downloaded. So this backend is tested with
``FakeMinioAdmin``, an in-memory stand-in with the method names, arguments,
JSON answers and 404/400 errors of ``minio.MinioAdmin`` (minio SDK 7.2.20,
the real ``MinioAdminException`` class). It shows which admin calls the
module makes and that reruns make none; it cannot show that a real MinIO
enforces the policy -- the same policy document is enforced by a real
SeaweedFS in tests/integration/test_s3_isolation.py.

The option checks shared by both backends are tested here too.
"""
import json
import secrets

import pytest
from minio.error import MinioAdminException

from ansible_collections.enertef.workbench.plugins.module_utils.object_store import canonical_policy, tenant_policy
from ansible_collections.enertef.workbench.plugins.modules import s3_tenant

MUTATING = {"user_add", "user_enable", "user_remove", "policy_add", "policy_remove", "attach_policy", "detach_policy",
            "add_service_account", "delete_service_account"}


class FakeMinioAdmin:
    """In-memory MinIO admin API with MinioAdmin's signatures and answers."""

    def __init__(self):
        self.users = {}  # access key -> {"secret", "status", "policies"}
        self.policies = {}  # name -> document
        self.service_accounts = {}  # access key -> parent user
        self.calls = []

    def _not_found(self, what):
        raise MinioAdminException("404", json.dumps({"Code": "XMinioAdminNoSuch" + what, "Message": "not found"}))

    def user_info(self, access_key):
        self.calls.append(("user_info", access_key))
        user = self.users.get(access_key) or self._not_found("User")
        return json.dumps({"policyName": ",".join(user["policies"]), "status": user["status"]})

    def user_add(self, access_key, secret_key):
        self.calls.append(("user_add", access_key))
        user = self.users.setdefault(access_key, {"policies": []})
        user.update(secret=secret_key, status="enabled")
        return ""

    def user_enable(self, access_key):
        self.calls.append(("user_enable", access_key))
        self.users[access_key]["status"] = "enabled"
        return ""

    def user_remove(self, access_key):
        self.calls.append(("user_remove", access_key))
        self.users.pop(access_key, None) or self._not_found("User")
        return ""

    def policy_info(self, policy_name):
        self.calls.append(("policy_info", policy_name))
        policy = self.policies.get(policy_name) or self._not_found("Policy")
        return json.dumps(policy)

    def policy_add(self, policy_name, policy_file=None, policy=None):
        self.calls.append(("policy_add", policy_name))
        self.policies[policy_name] = policy
        return ""

    def policy_remove(self, policy_name):
        self.calls.append(("policy_remove", policy_name))
        del self.policies[policy_name]
        return ""

    def attach_policy(self, policies, user=None, group=None):
        self.calls.append(("attach_policy", tuple(policies), user))
        attached = self.users[user]["policies"]
        if all(p in attached for p in policies):
            raise MinioAdminException("400", "XMinioAdminPolicyChangeAlreadyApplied")
        attached.extend(p for p in policies if p not in attached)
        return ""

    def detach_policy(self, policies, user=None, group=None):
        self.calls.append(("detach_policy", tuple(policies), user))
        attached = self.users[user]["policies"]
        if not all(p in attached for p in policies):
            raise MinioAdminException("400", "XMinioAdminPolicyChangeAlreadyApplied")
        attached[:] = [p for p in attached if p not in policies]
        return ""

    def add_service_account(self, *, access_key=None, secret_key=None, **ignored):
        """What a user may call for itself unless its policy denies admin:CreateServiceAccount."""
        self.calls.append(("add_service_account", access_key))
        self.service_accounts[access_key] = ignored.get("parent", "alice")
        return json.dumps({"credentials": {"accessKey": access_key}})

    def list_service_account(self, user):
        self.calls.append(("list_service_account", user))
        return json.dumps({"accounts": [{"parentUser": parent, "accountStatus": "on", "accessKey": key}
                                        for key, parent in sorted(self.service_accounts.items()) if parent == user]})

    def delete_service_account(self, access_key):
        self.calls.append(("delete_service_account", access_key))
        self.service_accounts.pop(access_key, None) or self._not_found("ServiceAccount")
        return ""

    def mutations(self):
        return [c for c in self.calls if c[0] in MUTATING]


def params(**override):
    base = dict(name="alice", kind="user", groups=["mlg"], state="present", backend="minio", bucket="mlflow",
                policy_name="workbench-tenant", access_key=None, secret_key=None, update_secret="on_create",
                rotate_key=False)
    base.update(override)
    return base


def run(admin, check_mode=False, **override):
    admin.calls.clear()
    return s3_tenant.run(params(**override), s3_tenant.MinioTenantStore(admin), check_mode)


def test_create_in_check_mode_calls_nothing_that_changes():
    admin = FakeMinioAdmin()
    result = run(admin, check_mode=True)
    assert result["changed"] is True
    assert result["actions"] == ["user_add alice", "policy_add workbench-tenant-alice",
                                 "attach_policy workbench-tenant-alice alice"]
    assert admin.mutations() == [] and admin.users == {} and admin.policies == {}


def test_create_then_rerun_makes_no_calls_that_change():
    admin = FakeMinioAdmin()
    created = run(admin)
    assert admin.mutations() == [("user_add", "alice"), ("policy_add", "workbench-tenant-alice"),
                                 ("attach_policy", ("workbench-tenant-alice",), "alice")]
    assert created["access_key"] == "alice" and created["key_created"] is True
    assert created["secret_key"] == admin.users["alice"]["secret"] and len(created["secret_key"]) >= 30
    assert canonical_policy(admin.policies["workbench-tenant-alice"]) == canonical_policy(
        tenant_policy("alice", groups=["mlg"], backend="minio"))

    again = run(admin)
    assert again["changed"] is False and again["actions"] == [] and admin.mutations() == []
    assert again["secret_key"] is None and again["diff"]["before"] == again["diff"]["after"]


def test_given_secret_is_used_and_not_echoed():
    admin = FakeMinioAdmin()
    chosen = "s" * 40
    result = run(admin, secret_key=chosen)
    assert admin.users["alice"]["secret"] == chosen
    assert result["secret_key"] is None  # the caller has it already
    assert run(admin, secret_key=chosen)["changed"] is False
    assert run(admin, secret_key=chosen, update_secret="always")["actions"] == ["user_add alice (set secret)"]


def test_group_change_rewrites_only_the_policy():
    admin = FakeMinioAdmin()
    run(admin)
    result = run(admin, groups=["mlg", "vision"])
    assert admin.mutations() == [("policy_add", "workbench-tenant-alice")]
    assert "arn:aws:s3:::mlflow/group_vision/*" in json.dumps(admin.policies["workbench-tenant-alice"])
    assert result["tenant"]["prefixes"] == ["alice/", "group_mlg/", "group_vision/"]


def test_disabled_user_is_enabled_and_only_the_tenant_policy_stays_attached():
    admin = FakeMinioAdmin()
    run(admin)
    admin.users["alice"].update(status="disabled", policies=["readwrite", "consoleAdmin"])
    result = run(admin)
    assert result["actions"] == ["user_enable alice", "attach_policy workbench-tenant-alice alice",
                                 "detach_policy readwrite,consoleAdmin alice"]
    assert admin.users["alice"]["policies"] == ["workbench-tenant-alice"]
    assert run(admin)["changed"] is False


def test_absent_removes_user_and_policy_then_nothing():
    admin = FakeMinioAdmin()
    run(admin)
    assert run(admin, state="absent", check_mode=True)["changed"] is True and admin.mutations() == []
    removed = run(admin, state="absent")
    assert admin.mutations() == [("user_remove", "alice"), ("policy_remove", "workbench-tenant-alice")]
    assert removed["diff"]["after"]["user"] is None
    assert run(admin, state="absent")["changed"] is False


def test_server_errors_other_than_not_found_propagate():
    admin = FakeMinioAdmin()

    def broken(access_key):
        raise MinioAdminException("403", "AccessDenied")
    admin.user_info = broken
    with pytest.raises(MinioAdminException):
        run(admin)


@pytest.mark.parametrize("override, message", [
    (dict(name="Alice"), "not allowed"),
    (dict(name="public"), "reserved"),
    (dict(groups=["mlg", "x;y"]), "not allowed"),
    (dict(bucket="../x"), "bucket name"),
    (dict(kind="group", name="mlg", groups=["abc"]), "groups can only be given with kind=user"),
    (dict(access_key="someone_else"), "access key is the tenant id"),
    (dict(rotate_key=True), "rotate_key is for backend=iam"),
    (dict(backend="iam", secret_key="x" * 30), "secret_key cannot be used with backend=iam"),
])
def test_bad_options_are_refused_before_any_call(override, message):
    problem = s3_tenant.input_problem(params(**override))
    assert problem and message in problem


def test_policy_denies_self_made_service_accounts():
    """MinIO lets a user mint service accounts for itself unless a Deny says no (issue 11)."""
    denied = [st for st in tenant_policy("alice", backend="minio")["Statement"] if st["Effect"] == "Deny"]
    assert denied == [{"Sid": "NoSelfMadeKeys", "Effect": "Deny", "Resource": ["arn:aws:s3:::*"],
                       "Action": ["admin:CreateServiceAccount", "admin:UpdateServiceAccount",
                                  "admin:RemoveServiceAccount", "admin:ListServiceAccounts"]}]
    admin = FakeMinioAdmin()
    run(admin)
    assert admin.policies["workbench-tenant-alice"] == canonical_policy(tenant_policy("alice", groups=["mlg"],
                                                                                      backend="minio"))
    # SeaweedFS refuses any Deny statement: the iam document has none
    assert all(st["Effect"] == "Allow" for st in tenant_policy("alice")["Statement"])


def test_every_run_removes_service_accounts_so_rotation_leaves_one_key():
    admin = FakeMinioAdmin()
    run(admin)
    alice_made, bob_made = secrets.token_hex(8), secrets.token_hex(8)
    admin.add_service_account(access_key=alice_made, secret_key=secrets.token_hex(8), parent="alice")
    admin.add_service_account(access_key=bob_made, secret_key=secrets.token_hex(8), parent="bob")
    checked = run(admin, check_mode=True)
    assert "delete_service_account %s (of alice)" % alice_made in checked["actions"]
    assert alice_made in admin.service_accounts
    rotated = run(admin, secret_key=secrets.token_urlsafe(30), update_secret="always")
    assert ("delete_service_account", alice_made) in admin.mutations()
    assert admin.service_accounts == {bob_made: "bob"}
    assert rotated["diff"]["after"]["service_accounts"] == []
    assert run(admin)["changed"] is False


# ------------------------------------------------------------ bulk (tenants:)

BULK_ENTRIES = [
    dict(name="mlg", kind="group"),
    dict(name="alice", groups=["mlg"]),
    dict(name="bob", groups=[], secret_key="b" * 40),
    dict(name="carol", state="absent"),
]


def bulk_params(entries, **override):
    base = params(name=None, groups=[], tenants=[dict(dict(kind="user", groups=[], state="present",
                                                           access_key=None, secret_key=None), **e)
                                                  for e in entries], parallel=3,
                  endpoint_url="http://minio.test:9000")
    base.update(override)
    return base


def run_bulk(admin, entries, check_mode=False, **override):
    admin.calls.clear()
    requests = s3_tenant.tenant_requests(bulk_params(entries, **override))
    return s3_tenant.run_many(requests, s3_tenant.MinioTenantStore(admin), check_mode, 3)


def run_each(admin, entries, check_mode=False):
    """The per-tenant path: one run() per entry, as one module call each; and every change made."""
    results, mutations = {}, []
    for entry in entries:
        result = run(admin, check_mode=check_mode, **dict(dict(groups=[], kind="user"), **entry))
        results[result["tenant"]["id"]] = result
        mutations += admin.mutations()
    return results, mutations


def comparable(result):
    return {key: result.get(key) for key in ("changed", "actions", "access_key", "key_created", "policy", "tenant")}


def test_bulk_gives_the_per_tenant_results_in_check_mode_and_for_real():
    for check_mode in (True, False):
        each_admin, bulk_admin = FakeMinioAdmin(), FakeMinioAdmin()
        each, each_mutations = run_each(each_admin, BULK_ENTRIES, check_mode)
        bulk = run_bulk(bulk_admin, BULK_ENTRIES, check_mode)
        assert sorted(bulk["tenants"]) == sorted(each) == ["alice", "bob", "carol", "group_mlg"]
        for tenant_id, result in each.items():
            assert comparable(bulk["tenants"][tenant_id]) == comparable(result), tenant_id
            # a generated secret is returned (and differs); a given one is not echoed
            assert (bulk["tenants"][tenant_id].get("secret_key") is None) == (result["secret_key"] is None)
        assert bulk["changed"] is True and bulk["failed_tenants"] == []
        assert sorted(bulk_admin.mutations()) == sorted(each_mutations)
        assert bool(each_mutations) is not check_mode
        assert bulk_admin.users.keys() == each_admin.users.keys()
        assert bulk_admin.policies == each_admin.policies
    assert bulk_admin.users["alice"]["secret"] == bulk["tenants"]["alice"]["secret_key"]

    again = run_bulk(bulk_admin, BULK_ENTRIES)
    assert again["changed"] is False and bulk_admin.mutations() == []
    assert all("secret_key" not in r for r in again["tenants"].values())


def test_bulk_groups_come_first():
    admin = FakeMinioAdmin()
    run_bulk(admin, [dict(name="alice", groups=["mlg"]), dict(name="mlg", kind="group")])
    assert admin.mutations()[0] == ("user_add", "group_mlg")


def test_bulk_one_failing_tenant_is_named_and_the_others_keep_their_keys():
    admin = FakeMinioAdmin()
    real_user_add = admin.user_add

    def user_add(access_key, secret_key):
        if access_key == "bob":
            raise MinioAdminException("500", "XMinioStorageFull")
        return real_user_add(access_key, secret_key)
    admin.user_add = user_add
    entries = [dict(name=n) for n in ("alice", "bob", "dan", "erin")]
    result = run_bulk(admin, entries)
    assert result["failed_tenants"] == ["bob"]
    assert result["tenants"]["bob"]["failed"] is True and "XMinioStorageFull" in result["tenants"]["bob"]["msg"]
    for name in ("alice", "dan", "erin"):
        assert result["tenants"][name]["secret_key"] == admin.users[name]["secret"]
    message = s3_tenant.failure_message(result)
    assert message.startswith("s3_tenant failed for 1 of 4 tenants") and "bob: MinIO admin request failed" in message
    assert "alice" not in message


def test_bulk_endpoint_error_on_the_first_tenant_stops_the_call():
    admin = FakeMinioAdmin()

    def refused(access_key):
        raise MinioAdminException("403", "InvalidAccessKeyId")
    admin.user_info = refused
    with pytest.raises(MinioAdminException):
        run_bulk(admin, [dict(name=n) for n in ("alice", "bob", "dan")])
    assert admin.mutations() == []


@pytest.mark.parametrize("entries, override, message", [
    ([dict(name="alice"), dict(name="Bad;Name")], {}, "tenants[1] (Bad;Name): "),
    ([dict(name="alice"), dict(name="alice")], {}, "tenant alice is listed twice"),
    ([dict(name="mlg", kind="group", groups=["xyz"])], {}, "groups can only be given with kind=user"),
    ([dict(name="alice", access_key="other")], {}, "access key is the tenant id"),
    ([dict(name="alice")], dict(parallel=0), "parallel must be at least 1"),
])
def test_bulk_bad_entries_are_refused_before_any_call(entries, override, message):
    with pytest.raises(ValueError) as refused:
        s3_tenant.tenant_requests(bulk_params(entries, **override))
    assert message in str(refused.value) and "nothing was changed" in str(refused.value)


def test_bulk_group_and_user_of_the_same_name_are_two_tenants():
    admin = FakeMinioAdmin()
    result = run_bulk(admin, [dict(name="mlg", kind="group"), dict(name="mlg", groups=["mlg"])])
    assert sorted(result["tenants"]) == ["group_mlg", "mlg"]
