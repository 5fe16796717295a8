"""The users role's planning filters (plugins/filter/users_plan.py)."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.enertef.workbench.plugins.filter.users_plan import (
    users_credentials, users_merge_s3_keys, users_plan)

CSV = "name,groups,state,purge\ncarol,ml;vision,,\ndave,,absent,true\n"


def test_inventory_and_csv_are_merged_and_normalized():
    plan = users_plan(["alice", {"name": "bob", "groups": ["ml"]}], CSV)
    by_name = {u["name"]: u for u in plan["users"]}
    assert list(by_name) == ["alice", "bob", "carol", "dave"]
    assert by_name["carol"]["groups"] == ["ml", "vision"]
    assert by_name["dave"]["state"] == "absent" and by_name["dave"]["purge"] is True
    assert by_name["alice"]["k8s_secret"] == "workbench-user-alice"
    assert plan["groups"] == ["ml", "vision"]


@pytest.mark.parametrize("users,csv_text,expected", [
    (["alice", "alice"], "", "declared twice"),
    (["alice"], "name\nalice\n", "declared twice (first in workbench_users[0])"),
    (["Robert'); DROP TABLE students;--"], "", "is not allowed"),
    (["postgres"], "", "reserved"),
    (["../etc"], "", "is not allowed"),
    (["x" * 40], "", "at most 32"),
    ([{"name": "alice", "groups": ["Bad Group"]}], "", "group of 'alice': group name"),
    ([{"name": "alice", "state": "gone"}], "", "must be present or absent"),
    ([{"name": "alice", "role": "admin"}], "", "unknown field(s) role"),
    ([], "user,groups\nalice,\n", "header line with a 'name' column"),
])
def test_bad_entries_are_refused_with_the_reason(users, csv_text, expected):
    with pytest.raises(AnsibleFilterError) as err:
        users_plan(users, csv_text)
    assert expected in str(err.value)
    assert "nothing was changed" in str(err.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(AnsibleFilterError) as err:
        users_plan(["ok", "Bad", "pg_x", "ok"])
    text = str(err.value)
    assert "'Bad'" in text and "'pg_x'" in text and "declared twice" in text


def test_credentials_are_kept_generated_and_forgotten_on_purge():
    plan = users_plan(["alice", "bob", {"name": "carol", "state": "absent", "purge": True},
                       {"name": "dave", "state": "absent"}])
    kept = {"alice": {"db_password": "kept-one", "s3_secret_key": "kept-two"},
            "carol": {"db_password": "x"}, "dave": {"db_password": "y"}}
    creds = users_credentials(plan, kept, 24)
    assert creds["alice"] == kept["alice"]
    assert len(creds["bob"]["db_password"]) == 24 and creds["bob"]["db_password"] != creds["bob"]["s3_secret_key"]
    assert "carol" not in creds
    assert creds["dave"] == {"db_password": "y"}


def test_iam_keys_are_recorded_only_when_returned():
    creds = {"alice": {"db_password": "p"}, "bob": {"db_password": "q", "s3_access_key": "OLD"}}
    results = [
        {"item": {"name": "alice", "s3_user": "alice"}, "access_key": "NEWKEY", "secret_key": "shown-once"},
        {"item": {"name": "bob", "s3_user": "bob"}, "access_key": "OLD", "secret_key": None},
    ]
    merged = users_merge_s3_keys(creds, results, "iam")
    assert merged["alice"]["s3_access_key"] == "NEWKEY" and merged["alice"]["s3_secret_key"] == "shown-once"
    assert merged["bob"] == creds["bob"]
    minio = users_merge_s3_keys(creds, results, "minio")
    assert minio["alice"]["s3_access_key"] == "alice"


def test_one_pg_tenant_call_covers_groups_present_and_absent_users():
    from ansible_collections.enertef.workbench.plugins.filter.users_plan import users_pg_tenants
    plan = users_plan([{"name": "alice", "groups": ["ml"]}, {"name": "bob", "state": "absent", "purge": True}])
    creds = users_credentials(plan, {}, 16)
    assert users_pg_tenants(plan, creds) == [
        {"name": "ml", "kind": "group"},
        {"name": "alice", "password": creds["alice"]["db_password"], "groups": ["ml"]},
        {"name": "bob", "state": "absent", "purge": True},
    ]
