"""The tenant naming rule (plugins/module_utils/tenant.py)."""
import pytest

from ansible_collections.enertef.workbench.plugins.module_utils import tenant

GOOD = ["alice", "bob", "abc", "carol_2", "x" * 32, "dr_who42", "a__b"]
BAD = {
    "": "empty",
    "Alice": "not allowed",
    "alice bob": "not allowed",
    "alice'": "not allowed",
    'al"ice': "not allowed",
    "alice;drop table x": "not allowed",
    "a;b": "not allowed",
    "../etc": "not allowed",
    "a/b": "not allowed",
    "a..b": "not allowed",
    "a-b": "not allowed",
    "1abc": "not allowed",
    "_abc": "not allowed",
    "jürgen": "not allowed",
    "alice\n": "not allowed",
    "x" * 33: "at most 32",
    "a": "at least 3",
    "ab": "at least 3",
    "alice_": "ends with '_'",
    "a__": "ends with '_'",
    "postgres": "reserved",
    "public": "reserved",
    "information_schema": "reserved",
    "mlflow": "reserved",
    "pg_monitor": "reserved prefix",
    "group_ml": "reserved prefix",
    "workbench_admin": "reserved prefix",
}


@pytest.mark.parametrize("name", GOOD)
def test_good_names_map_to_safe_identifiers(name):
    ids = tenant.tenant_for(name)
    assert ids["pg_role"] == ids["pg_schema"] == ids["s3_user"] == name
    assert ids["s3_prefix"] == name + "/"
    assert ids["artifact_uri"] == "s3://mlflow/" + name
    secret = ids["k8s_secret"]
    # a DNS-1123 subdomain name
    assert len(secret) <= 253 and secret == secret.lower() and "_" not in secret


@pytest.mark.parametrize("name,reason", sorted(BAD.items()))
def test_bad_names_are_refused_with_the_rule(name, reason):
    with pytest.raises(tenant.TenantNameError) as err:
        tenant.tenant_for(name)
    assert reason in str(err.value)
    assert tenant.name_problem(name) == str(err.value)


def test_group_tenants_cannot_collide_with_users():
    group = tenant.tenant_for("ml", kind="group")
    assert group["pg_role"] == "group_ml"
    assert group["k8s_secret"] == "workbench-group-ml"
    # no user may take the group's identifiers
    assert tenant.name_problem("group_ml")


def test_secret_names_are_injective():
    names = ["abc_d", "abcd", "abc_d_e", "abcd_e", "abc_de", "abc__d"]
    secrets = {tenant.tenant_for(n)["k8s_secret"] for n in names}
    assert len(secrets) == len(names)


def test_a_group_name_may_be_short_its_tenant_id_is_not():
    assert tenant.name_problem("ml", "group") is None
    assert tenant.tenant_for("ml", "group")["s3_user"] == "group_ml"
    assert "group name 'ml_'" in tenant.name_problem("ml_", "group")
    assert "at least 3" in tenant.name_problem("ml")


def test_declared_names_are_taken_as_written():
    # the hub lower-cases what a person types; a declared name must already obey the rule
    assert "upper case" in tenant.name_problem("Alice")
    assert tenant.name_problem("alice ") and tenant.name_problem(" alice")
