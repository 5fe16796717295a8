"""One tenant cannot starve the others: connection limit and timeouts (pg_tenant)
on a real PostgreSQL 18, with the admin as the cluster configures it.

A tenant that opens connections past its limit is refused by PostgreSQL with
the limit named; another tenant still connects and works at the same time; a
statement over the tenant's timeout is cancelled; the tenant cannot lift its
own limit. The module is run through ``ansible -m`` (tests/fixtures/postgres.py).
"""
import contextlib
import secrets

import psycopg
import pytest

pytestmark = pytest.mark.integration


def password():
    return secrets.token_urlsafe(18)


@pytest.fixture(scope="module")
def tenants(pg_module):
    creds = {"fair_ann": password(), "fair_ben": password()}
    result = pg_module("pg_tenant", tenants=[
        {"name": "fair_ann", "password": creds["fair_ann"], "connection_limit": 3, "statement_timeout": "1s"},
        {"name": "fair_ben", "password": creds["fair_ben"]},
    ])
    assert result.get("failed") is not True, result
    return creds


def role_settings(server, role):
    with server.superuser_connect() as conn:
        return conn.execute("SELECT rolconnlimit, rolconfig FROM pg_roles WHERE rolname = %s", (role,)).fetchone()


def test_limits_are_set_per_tenant_and_a_rerun_changes_nothing(pg_module, tenant_postgres, tenants):
    assert role_settings(tenant_postgres, "fair_ann") == (
        3, ["search_path=fair_ann", "statement_timeout=1s", "idle_in_transaction_session_timeout=10min"])
    # the module's defaults for a tenant that sets nothing of its own
    assert role_settings(tenant_postgres, "fair_ben") == (
        8, ["search_path=fair_ben", "statement_timeout=15min", "idle_in_transaction_session_timeout=10min"])
    again = pg_module("pg_tenant", tenants=[
        {"name": "fair_ann", "password": tenants["fair_ann"], "connection_limit": 3, "statement_timeout": "1s"},
        {"name": "fair_ben", "password": tenants["fair_ben"]},
    ])
    assert again["changed"] is False, again["queries"]


def test_a_tenant_past_its_limit_is_refused_while_another_works(tenant_postgres, tenants):
    with contextlib.ExitStack() as stack:
        held = [stack.enter_context(tenant_postgres.connect("fair_ann", tenants["fair_ann"])) for _ in range(3)]
        assert all(conn.execute("SELECT 1").fetchone() == (1,) for conn in held)  # positive control
        with pytest.raises(psycopg.OperationalError, match='too many connections for role "fair_ann"'):
            tenant_postgres.connect("fair_ann", tenants["fair_ann"])
        # ann holds every slot she may have; ben is not affected
        with tenant_postgres.connect("fair_ben", tenants["fair_ben"]) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS work (n int)")
            conn.execute("INSERT INTO work VALUES (1)")
            assert conn.execute("SELECT count(*) FROM work").fetchone()[0] >= 1
    # the slots come back when ann closes her connections
    with tenant_postgres.connect("fair_ann", tenants["fair_ann"]) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("fair_ann",)


def test_a_statement_over_the_timeout_is_cancelled(tenant_postgres, tenants):
    with tenant_postgres.connect("fair_ann", tenants["fair_ann"]) as conn:
        assert conn.execute("SELECT pg_sleep(0.1)").fetchone() == ("",)  # under the limit: runs
        with pytest.raises(psycopg.errors.QueryCanceled, match="statement timeout"):
            conn.execute("SELECT pg_sleep(5)")


def test_a_tenant_cannot_lift_its_own_connection_limit(tenant_postgres, tenants):
    with tenant_postgres.connect("fair_ann", tenants["fair_ann"], autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("ALTER ROLE fair_ann CONNECTION LIMIT -1")
    assert role_settings(tenant_postgres, "fair_ann")[0] == 3


@pytest.mark.parametrize("option, value, named", [
    ("connection_limit", -2, "connection_limit of fair_bad must be -1"),
    ("statement_timeout", "10 minutes; DROP ROLE x", "statement_timeout of fair_bad must be a duration"),
    ("idle_in_transaction_session_timeout", "forever", "idle_in_transaction_session_timeout of fair_bad"),
])
def test_a_bad_limit_is_refused_before_anything_changes(pg_module, tenant_postgres, option, value, named):
    result = pg_module("pg_tenant", tenants=[{"name": "fair_bad", "password": password(), option: value}])
    assert result.get("failed") is True and named in result["msg"], result
    assert role_settings(tenant_postgres, "fair_bad") is None


def test_the_users_role_gives_every_user_the_limits(provision, postgres_server):
    """The join: users provisioned by the users role get pg_tenant's fairness settings."""
    provision([{"name": "fair_role"}])
    assert role_settings(postgres_server, "fair_role") == (
        8, ["search_path=fair_role", "statement_timeout=15min", "idle_in_transaction_session_timeout=10min"])
