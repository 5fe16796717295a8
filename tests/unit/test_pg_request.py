"""Pure logic of the PostgreSQL tenant modules (no server)."""

import pytest

from ansible_collections.enertef.workbench.plugins.module_utils import postgres
from ansible_collections.enertef.workbench.plugins.module_utils.tenant import TenantNameError, name_problem
from ansible_collections.enertef.workbench.plugins.modules import mlflow_schema, pg_tenant
from unit.test_tenant_naming import BAD as BAD_NAMES

HOSTILE = sorted(set(BAD_NAMES) | {"bob; DROP ROLE workbench_admin", "x'); --", "pg_read_all_data",
                                   "workbench_admin", "a\x00b", "ａｌｉｃｅ"})


def request(**options):
    params = dict(name="alice", kind="user", state="present", purge=False, password="pw",
                  update_password="always", groups=None)
    params.update(options)
    return params


@pytest.mark.parametrize("name", HOSTILE)
def test_every_hostile_name_is_refused_before_connecting(name):
    assert name_problem(name) is not None, "every hostile name breaks the user rule"
    for options, kind in (({"name": name}, "user"), ({"name": name, "kind": "group", "password": None}, "group"),
                          ({"groups": ["ml", name]}, "group")):
        if name_problem(name, kind) is None:  # e.g. 'ab': short group names are allowed (group_ab)
            continue
        with pytest.raises(TenantNameError) as err:
            pg_tenant.check_request(request(**options))
        assert str(err.value).startswith(kind + " name "), err.value
    with pytest.raises(TenantNameError):
        mlflow_schema.tenant_roles({"tenant": None, "tenants": ["bob", name], "kind": "user"})


@pytest.mark.parametrize("options, message", [
    ({"purge": True}, "purge=true needs state=absent"),
    ({"password": None}, "password is required"),
    ({"kind": "group", "password": None, "groups": ["ml"]}, "only for kind=user"),
    ({"kind": "group"}, "cannot log in"),
    ({"groups": ["ml", "ml"]}, "listed twice"),
])
def test_contradicting_options_are_refused(options, message):
    with pytest.raises(pg_tenant.TenantRequestError) as err:
        pg_tenant.check_request(request(**options))
    assert message in str(err.value)


def test_valid_request_maps_groups_to_group_tenants():
    ids, groups = pg_tenant.check_request(request(groups=["zeta", "ml"]))
    assert ids["pg_role"] == ids["pg_schema"] == "alice"
    assert groups == ["group_ml", "group_zeta"]
    ids, groups = pg_tenant.check_request(request(name="ml", kind="group", password=None))
    assert ids["pg_role"] == "group_ml" and groups is None


def test_mlflow_schema_refuses_duplicates_and_maps_groups():
    with pytest.raises(TenantNameError, match="listed twice"):
        mlflow_schema.tenant_roles({"tenant": None, "tenants": ["bob", "bob"], "kind": "user"})
    group = mlflow_schema.tenant_roles({"tenant": "ml", "tenants": None, "kind": "group"})
    assert list(group) == ["group_ml"] and group["group_ml"]["pg_owner"] == "workbench_owner_group_ml"
    # one call for a lab: users and their groups, each schema once
    both = mlflow_schema.tenant_roles({"tenant": None, "tenants": ["bob"], "kind": "user", "groups": ["ml"]})
    assert sorted((schema, ids["kind"]) for schema, ids in both.items()) == [("bob", "user"), ("group_ml", "group")]
    with pytest.raises(TenantNameError, match="groups is for the groups of a kind=user call"):
        mlflow_schema.tenant_roles({"tenant": None, "tenants": ["ml"], "kind": "group", "groups": ["vision"]})


def test_mlflow_version_mismatch_names_both_versions():
    with pytest.raises(mlflow_schema.MlflowVersionError) as err:
        mlflow_schema.check_mlflow_version("3.0.0")
    installed = mlflow_schema.installed_mlflow_version()
    assert installed and "mlflow_version is 3.0.0" in str(err.value)
    assert "installed here is %s" % installed in str(err.value)
    assert mlflow_schema.check_mlflow_version(installed) == installed


def test_connection_parameters_prefer_the_unix_socket():
    options = dict((key, spec.get("default")) for key, spec in postgres.postgres_common_argument_spec().items())
    assert "host" not in postgres.get_conn_params(options), "no host: libpq's default socket"
    options.update(login_host="db.example", login_unix_socket="/run/pg", login_password="pw")
    params = postgres.get_conn_params(options)
    assert params["host"] == "/run/pg" and params["dbname"] == "mlflow" and params["user"] == "workbench_admin"
    options["login_unix_socket"] = ""
    assert postgres.get_conn_params(options)["host"] == "db.example"
    assert "sslrootcert" not in params


def bulk(*entries, update_password="always"):
    defaults = dict(kind="user", state="present", purge=False, password="pw", groups=None)
    return {"tenants": [dict(defaults, **entry) for entry in entries], "update_password": update_password}


def test_bulk_requests_are_all_checked_and_groups_come_first():
    requests = pg_tenant.tenant_requests(bulk({"name": "alice", "groups": ["ml"]},
                                              {"name": "ml", "kind": "group", "password": None}))
    assert [ids["pg_role"] for _, ids, _ in requests] == ["group_ml", "alice"]
    assert all(request["update_password"] == "always" for request, _, _ in requests)
    with pytest.raises(TenantNameError):
        pg_tenant.tenant_requests(bulk({"name": "alice"}, {"name": "Robert'); DROP TABLE students;--"}))
    with pytest.raises(pg_tenant.TenantRequestError, match="listed twice"):
        pg_tenant.tenant_requests(bulk({"name": "alice"}, {"name": "alice"}))
    with pytest.raises(pg_tenant.TenantRequestError, match="purge=true needs state=absent"):
        pg_tenant.tenant_requests(bulk({"name": "alice"}, {"name": "bob", "purge": True}))
