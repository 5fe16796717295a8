"""The users role's planning filters (plugins/filter/users_plan.py)."""
import json

import pytest
from ansible.errors import AnsibleFilterError
from sqlalchemy.engine import make_url

# Imported here, not inside the tests: once another test has run Ansible in this
# process, its collection finder refuses imports of collection modules not yet loaded.
from ansible_collections.enertef.workbench.plugins.filter.k8s_manifests import (
    k8s_changed_manifests, k8s_existing_of, k8s_manifests_from_yaml)
from ansible_collections.enertef.workbench.plugins.filter.users_hub_logins import users_hub_logins
from ansible_collections.enertef.workbench.plugins.filter.users_mlflow_backend_uri import users_mlflow_backend_uri
from ansible_collections.enertef.workbench.plugins.filter.users_plan import (
    users_credentials, users_merge_s3_keys, users_pg_tenants, users_plan, users_s3_tenants)
from ansible_collections.enertef.workbench.plugins.filter import users_plan as users_plan_module
from ansible_collections.enertef.workbench.plugins.module_utils import login

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
    (["alice"], "name\nalice\nalice\n", "CSV row 3: user 'alice' is declared twice (first in CSV row 2)"),
    ([{"name": "alice", "groups": ["ml"]}], "name,groups\nalice,vision\n",
     "CSV row 2: user 'alice' contradicts workbench_users[0] (groups ['ml'] vs ['vision'])"),
    (["ab"], "", "at least 3"),
    (["alice_"], "", "ends with '_'"),
    (["Alice"], "", "upper case"),
    ([], "name,groups,admin\nalice,,yes\n", "CSV row 2: unknown field(s) admin"),
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
        users_plan(["okay", "Bad", "pg_x", "okay"])
    text = str(err.value)
    assert "'Bad'" in text and "'pg_x'" in text and "declared twice" in text


def test_credentials_are_kept_generated_and_forgotten_on_purge():
    plan = users_plan(["alice", "bob", {"name": "carol", "state": "absent", "purge": True},
                       {"name": "dave", "state": "absent"}])
    kept = {"alice": {"db_password": "kept-one", "s3_secret_key": "kept-two"},
            "carol": {"db_password": "x"}, "dave": {"db_password": "y"}}
    creds = users_credentials(plan, kept, 24)
    assert {k: creds["alice"][k] for k in kept["alice"]} == kept["alice"]
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
    plan = users_plan([{"name": "alice", "groups": ["ml"]}, {"name": "bob", "state": "absent", "purge": True}])
    creds = users_credentials(plan, {}, 16)
    assert users_pg_tenants(plan, creds) == [
        {"name": "ml", "kind": "group"},
        {"name": "alice", "password": creds["alice"]["db_password"], "groups": ["ml"]},
        {"name": "bob", "state": "absent", "purge": True},
    ]


def test_the_same_user_in_the_inventory_and_the_csv_is_one_user():
    plan = users_plan([{"name": "carol", "groups": ["vision", "ml"]}], CSV)
    assert [u["name"] for u in plan["users"]] == ["carol", "dave"]


@pytest.mark.parametrize("users,csv_text,admins,expected", [
    (["alice"], "name\ncarol\n", ["carol"],
     "CSV row 2: 'carol' is in workbench_admins: admins are declared in the inventory's workbench_users, not in the CSV file"),
    (["alice"], "", ["zoe"], "workbench_admins[0]: 'zoe' is not a declared user"),
    ([{"name": "alice", "state": "absent"}], "", ["alice"], "'alice' is off-boarded (state: absent in workbench_users[0])"),
    (["alice"], "", ["Alice"], "workbench_admins[0]: user name 'Alice' is not allowed"),
])
def test_admin_contradictions_are_refused(users, csv_text, admins, expected):
    with pytest.raises(AnsibleFilterError) as err:
        users_plan(users, csv_text, admins)
    assert expected in str(err.value)


def test_every_kind_of_bad_input_is_reported_together():
    csv_text = "name,groups,color\nalice,vision,\ncarol,,\nbo,,\nzed_,,blue\n"
    with pytest.raises(AnsibleFilterError) as err:
        users_plan([{"name": "alice", "groups": ["ml"]}], csv_text, ["carol"])
    lines = str(err.value).splitlines()
    assert lines[0] == "workbench users refused, nothing was changed:"
    expected = ["CSV row 2: user 'alice' contradicts workbench_users[0]",
                "CSV row 3: 'carol' is in workbench_admins",
                "CSV row 4: user name 'bo' is 2 characters long; at least 3",
                "CSV row 5: unknown field(s) color",
                "CSV row 5: user name 'zed_' ends with '_'"]
    for start in expected:
        assert any(line.startswith("- " + start) for line in lines), (start, lines)
    assert len(lines) == 1 + len(expected)


def test_admins_are_flagged_in_the_plan_and_the_logins():
    plan = users_plan(["alice", "bob", {"name": "dave", "state": "absent"}], "name\ncarol\n", ["bob"])
    assert plan["admins"] == ["bob"] and plan["database"] == "mlflow" and plan["bucket"] == "mlflow"
    creds = users_credentials(plan, {"dave": {"login_password": "x", "login_password_hash": login.hash_password("x")}})
    document = json.loads(users_hub_logins(plan, creds))
    assert sorted(document["users"]) == ["alice", "bob", "carol"]  # off-boarded dave cannot log in
    assert document["users"]["bob"]["admin"] is True and document["users"]["carol"]["admin"] is False
    assert login.password_matches(creds["carol"]["login_password"], document["users"]["carol"]["password_hash"])
    assert not login.password_matches(creds["alice"]["login_password"], document["users"]["carol"]["password_hash"])


def test_login_passwords_are_hashed_once_and_rotated_on_request():
    plan = users_plan(["alice", "bob"])
    first = users_credentials(plan, {}, 24)
    assert len(first["alice"]["login_password"]) == 24
    assert login.password_matches(first["alice"]["login_password"], first["alice"]["login_password_hash"])
    again = users_credentials(plan, first, 24)
    assert again == first  # same hash: a rerun does not rehash (the Secret stays unchanged)
    rotated = users_credentials(plan, first, 24, ["alice"])
    assert rotated["bob"] == first["bob"]
    for key in ("db_password", "s3_secret_key", "login_password", "login_password_hash"):
        assert rotated["alice"][key] != first["alice"][key], key
    assert login.password_matches(rotated["alice"]["login_password"], rotated["alice"]["login_password_hash"])


def test_a_rerun_neither_hashes_nor_generates_for_users_whose_credentials_are_kept(monkeypatch):
    # the hash is slow by design (25 ms a user: 5 s of a 200-user rerun when it ran for every user)
    plan = users_plan(["alice", "bob"])
    first = users_credentials(plan, {}, 24)
    calls = []
    monkeypatch.setattr(users_plan_module, "hash_password", lambda password: calls.append(password) or "hashed")
    monkeypatch.setattr(users_plan_module, "_generate", lambda length: calls.append(length) or "generated")
    assert users_credentials(plan, first, 24) == first
    assert calls == []
    plan = users_plan(["alice", "bob", "carol"])
    assert users_credentials(plan, first, 24)["carol"]["login_password_hash"] == "hashed"
    assert calls == [24, 24, 24, "generated"]


def test_the_mlflow_uri_parses_back_in_sqlalchemy():
    user = users_plan(["alice"])["users"][0]
    awkward = "p@ss:w/rd%?#&= x"
    url = make_url(users_mlflow_backend_uri(user, awkward, "postgres.workbench.svc.cluster.local", "5432"))
    assert (url.drivername, url.username, url.password, url.host, url.port, url.database) == (
        "postgresql+psycopg", "alice", awkward, "postgres.workbench.svc.cluster.local", 5432, "mlflow")
    assert url.query == {"options": "-csearch_path=alice"}


def test_the_mlflow_uri_is_the_string_sqlalchemy_renders():
    """Built with the standard library (no SQLAlchemy import in the users role's render): the
    same string as SQLAlchemy's URL.create(...).render_as_string, for every printable
    character in the password and an IPv6 host."""
    import random
    import string

    from sqlalchemy.engine import URL

    rng = random.Random(16)
    passwords = ["p@ss:w/rd%?#&= x", "+ +", "ü€\\'\"", string.printable] + [
        "".join(rng.choice(string.printable + "äß€") for _ in range(rng.randint(1, 40))) for _ in range(300)]
    for name in ("alice", "bob_2"):
        user = users_plan([name])["users"][0]
        for password in passwords:
            for host in ("postgres.workbench.svc.cluster.local", "10.0.0.5", "fd00::5"):
                expected = URL.create("postgresql+psycopg", username=user["pg_role"], password=password, host=host,
                                      port=5432, database=user["pg_database"],
                                      query={"options": "-csearch_path=%s" % user["pg_schema"]})
                assert users_mlflow_backend_uri(user, password, host, "5432") == \
                    expected.render_as_string(hide_password=False), (password, host)


def test_the_mlflow_uri_connects_with_libpq_too():
    """libpq reads the URL as a URI (the MLflow tile's database check does): no '+' for a space."""
    import psycopg

    user = users_plan(["alice"])["users"][0]
    uri = users_mlflow_backend_uri(user, "pw", "db.example", "5432").replace("postgresql+psycopg://", "postgresql://")
    assert psycopg.conninfo.conninfo_to_dict(uri)["options"] == "-csearch_path=alice"


def test_bulk_result_keys_are_recorded_and_failed_tenants_left_alone():
    plan = users_plan([{"name": "alice", "groups": ["mlg"]}, {"name": "bob"}, {"name": "carol", "state": "absent"}])
    creds = {"alice": {"db_password": "p", "s3_secret_key": "m" * 8},
             "bob": {"db_password": "q", "s3_access_key": "HELD", "s3_secret_key": "s"}}
    assert users_s3_tenants(plan, creds, "iam") == [
        {"name": "mlg", "kind": "group"}, {"name": "alice", "groups": ["mlg"], "rotate_key": True},
        {"name": "bob", "groups": [], "access_key": "HELD"}, {"name": "carol", "state": "absent"}]
    assert users_s3_tenants(plan, creds, "minio")[1] == {"name": "alice", "groups": ["mlg"], "secret_key": "m" * 8}
    registered = {"failed": True, "tenants": {
        "group_mlg": {"changed": True, "access_key": "GKEY", "secret_key": "g"},
        "alice": {"changed": True, "access_key": "NEWKEY", "secret_key": "shown-once", "tenant": {"s3_user": "alice"}},
        "bob": {"failed": True, "msg": "disk full", "changed": False}}}
    merged = users_merge_s3_keys(creds, registered, "iam")
    assert merged["alice"]["s3_access_key"] == "NEWKEY" and merged["alice"]["s3_secret_key"] == "shown-once"
    assert merged["bob"] == creds["bob"] and "group_mlg" not in merged
    assert users_merge_s3_keys(creds, registered, "minio")["alice"]["s3_access_key"] == "alice"


def test_only_new_or_changed_secrets_are_sent_and_only_existing_ones_deleted():

    def secret(name, value, **labels):
        return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": {"K": value},
                "metadata": {"name": name, "namespace": "wb", "labels": dict({"a": "1"}, **labels)}}
    server = [dict(secret("s-ann", "x"), metadata=dict(secret("s-ann", "x")["metadata"], uid="u1",
                                                         resourceVersion="7")),
              secret("s-ben", "old"), secret("s-cy", "x"), secret("s-old", "x")]
    desired = [secret("s-ann", "x"), secret("s-ben", "new"), secret("s-cy", "x", b="2"), secret("s-dee", "x")]
    assert [s["metadata"]["name"] for s in k8s_changed_manifests(desired, server)] == ["s-ben", "s-cy", "s-dee"]
    assert k8s_changed_manifests(desired[:1], server) == []
    assert k8s_existing_of(["s-old", "s-gone"], server) == [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s-old", "namespace": "wb"}}]


def test_many_new_logins_each_get_the_hash_of_their_own_password():
    # new users' hashes are made on a thread per CPU: each must still pair with its own user
    plan = users_plan(["u%02d" % n for n in range(6)] + [{"name": "gone", "state": "absent"}])
    creds = users_credentials(plan, {}, 24)
    assert sorted(creds) == ["u%02d" % n for n in range(6)]
    for name, entry in creds.items():
        assert login.password_matches(entry["login_password"], entry["login_password_hash"]), name
        other = creds["u00" if name != "u00" else "u01"]
        assert not login.password_matches(other["login_password"], entry["login_password_hash"]), name


def test_rendered_manifests_parse_as_from_yaml_all_would():
    """The users role parses its rendered Secrets with libyaml: the same data as Ansible's
    from_yaml_all (empty documents, comments and all), and a YAML error is named."""
    import yaml

    text = ("# a comment\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s-ann\n"
            "data:\n  K: \"eA==\"\n  N: \"0700\"\n---\n---\n\n---\nkind: Secret\nmetadata: {name: s-ben}\n")
    assert k8s_manifests_from_yaml(text) == [d for d in yaml.safe_load_all(text) if d]
    assert [m["metadata"]["name"] for m in k8s_manifests_from_yaml(text)] == ["s-ann", "s-ben"]
    assert k8s_manifests_from_yaml(text)[0]["data"]["N"] == "0700"
    with pytest.raises(AnsibleFilterError, match="not YAML"):
        k8s_manifests_from_yaml("kind: [unclosed\n")
