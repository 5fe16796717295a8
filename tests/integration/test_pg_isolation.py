"""PostgreSQL isolation between tenants: the attack matrix.

Tenants are provisioned by the modules' own logic (pg_tenant.ensure_tenant,
mlflow_schema.ensure_mlflow_schemas, in-process: the Ansible path is tested in
test_pg_tenant.py / test_mlflow_schema.py). Tenant A then attacks B with A's own
credentials, one fresh connection per attempt; every attempt must be refused
by PostgreSQL, and B's rows must be unchanged afterwards.

Decision: A can see the *names* of B's schema and tables in pg_catalog (as in
any shared PostgreSQL database); the data is what is protected.
"""
import secrets

import psycopg
import pytest
from psycopg import errors

from ansible_collections.enertef.workbench.plugins.module_utils.postgres import get_conn_params
from ansible_collections.enertef.workbench.plugins.modules import mlflow_schema, pg_tenant

pytestmark = pytest.mark.integration

A, B, OUTSIDER, GROUP = "iso_a", "iso_b", "iso_c", "iso_team"
GROUP_ROLE = "group_" + GROUP
DENIED = (errors.InsufficientPrivilege, errors.InvalidSchemaName, errors.UndefinedTable,
          errors.UndefinedFunction)


def provision(server, name, kind="user", groups=None):
    login = dict(server.module_login_args(), login_host="", connect_timeout=5, ssl_mode="prefer", ca_cert=None)
    params = dict(name=name, kind=kind, state="present", purge=False, update_password="always",
                  groups=groups, password=secrets.token_urlsafe(18) if kind == "user" else None)
    conn_params = get_conn_params(login)
    with psycopg.connect(**conn_params) as conn:
        pg_tenant.ensure_tenant(conn, conn_params, params, check_mode=False)
    return params["password"], conn_params


@pytest.fixture(scope="module")
def tenants(tenant_postgres):
    provision(tenant_postgres, GROUP, kind="group")
    passwords = {}
    for name, groups in ((A, [GROUP]), (B, []), (OUTSIDER, [])):
        passwords[name], conn_params = provision(tenant_postgres, name, groups=groups)
    with psycopg.connect(autocommit=True, **conn_params) as conn:
        for kind, names in (("user", [A, B, OUTSIDER]), ("group", [GROUP])):
            roles = mlflow_schema.tenant_roles({"tenant": None, "tenants": names, "kind": kind})
            mlflow_schema.ensure_mlflow_schemas(conn, conn_params, roles, check_mode=False, passwords=passwords)
    with tenant_postgres.connect(B, passwords[B]) as conn:  # B's precious experiment
        conn.execute("INSERT INTO experiments (name, artifact_location, lifecycle_stage, workspace) "
                     "VALUES ('b-secret', 's3://mlflow/iso_b/1', 'active', 'default')")
    return passwords


def rows_of_b(server):
    with server.superuser_connect() as conn:
        return conn.execute("SELECT experiment_id, name, artifact_location FROM iso_b.experiments "
                            "ORDER BY 1").fetchall()


ATTACKS = {
    "select": "SELECT * FROM iso_b.experiments",
    "select via search_path": "SET search_path TO iso_b; SELECT * FROM experiments",
    "insert": "INSERT INTO iso_b.experiments (name, lifecycle_stage) VALUES ('x', 'active')",
    "update": "UPDATE iso_b.experiments SET name = 'pwned'",
    "delete": "DELETE FROM iso_b.experiments",
    "truncate": "TRUNCATE iso_b.experiments CASCADE",
    "alter table": "ALTER TABLE iso_b.experiments ADD COLUMN pwned int",
    "drop table": "DROP TABLE iso_b.experiments CASCADE",
    "copy out": "COPY iso_b.experiments TO STDOUT",
    "lock table": "BEGIN; LOCK TABLE iso_b.experiments IN ACCESS EXCLUSIVE MODE",
    "create in schema": "CREATE TABLE iso_b.trojan (x int)",
    "create function in schema": "CREATE FUNCTION iso_b.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "alter schema": "ALTER SCHEMA iso_b RENAME TO stolen",
    "drop schema": "DROP SCHEMA iso_b CASCADE",
    "grant self the role": "GRANT iso_b TO iso_a",
    "grant self the schema": "GRANT USAGE ON SCHEMA iso_b TO iso_a",
    "set role": "SET ROLE iso_b",
    "set session authorization": "SET SESSION AUTHORIZATION iso_b",
    "alter role password": "ALTER ROLE iso_b PASSWORD 'taken-over'",
    "read sequence": "SELECT nextval('iso_b.experiments_experiment_id_seq')",
    "join the group": "GRANT group_iso_team TO iso_c",
    "create role": "CREATE ROLE iso_a_helper",
    "read template": "SELECT * FROM workbench_mlflow_template.alembic_version",
}


def execute(conn, statement):
    if statement.startswith("COPY"):  # psycopg runs COPY through its copy() API only
        with conn.cursor().copy(statement) as copy:
            for _ in copy:
                pass
    else:
        conn.execute(statement)


def run_as_superuser_and_roll_back(server, statements):
    """The positive control of an attack: the statements are valid and their
    targets exist (a denial by "does not exist" would otherwise prove nothing)."""
    with server.superuser_connect() as conn:
        for statement in statements:
            if statement != "BEGIN":
                execute(conn, statement)
        conn.rollback()


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_tenant_cannot_touch_another_tenant(tenant_postgres, tenants, attack):
    run_as_superuser_and_roll_back(tenant_postgres, ATTACKS[attack].split("; "))
    before = rows_of_b(tenant_postgres)
    with tenant_postgres.connect(A, tenants[A], autocommit=True) as conn:
        with pytest.raises(DENIED + (errors.ObjectNotInPrerequisiteState,)) as err:
            for statement in ATTACKS[attack].split("; "):
                execute(conn, statement)
    assert "permission denied" in str(err.value) or "must be" in str(err.value) or \
        "does not exist" in str(err.value), err.value
    assert rows_of_b(tenant_postgres) == before


def test_b_data_is_intact_and_names_are_only_visible(tenant_postgres, tenants):
    assert [r[1] for r in rows_of_b(tenant_postgres)] == ["b-secret"]
    with tenant_postgres.connect(A, tenants[A]) as conn:
        # names are in the catalog (documented decision), data is not readable
        visible = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'iso_b'").fetchone()[0]
        assert visible > 0
        assert conn.execute(
            "SELECT bool_or(has_table_privilege(c.oid, 'SELECT')), bool_or(has_schema_privilege(n.oid, 'USAGE')) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'iso_b'"
        ).fetchone() == (False, False)
        # statistics that would leak values are filtered by privilege
        assert conn.execute("SELECT count(*) FROM pg_stats WHERE schemaname = 'iso_b'").fetchone()[0] == 0


@pytest.mark.parametrize("target", ["iso_b", "iso_c"])
def test_cannot_log_in_as_someone_else(tenant_postgres, tenants, target):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        tenant_postgres.connect(target, tenants[A]).close()


@pytest.mark.parametrize("database", ["postgres", "template1"])
def test_cannot_connect_to_another_database(tenant_postgres, tenants, database):
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        tenant_postgres.connect(A, tenants[A], dbname=database).close()


def test_group_members_share_the_group_schema_outsiders_do_not(tenant_postgres, tenants):
    with tenant_postgres.connect(A, tenants[A]) as conn:  # member
        conn.execute("SET search_path TO group_iso_team")
        conn.execute("INSERT INTO experiments (name, artifact_location, lifecycle_stage, workspace) "
                     "VALUES ('team-run', 's3://mlflow/group_iso_team/1', 'active', 'default')")
        assert conn.execute("SELECT name FROM experiments").fetchall() == [("team-run",)]
        # the member's own default stays its own schema
        conn.execute("RESET search_path")
        assert conn.execute("SELECT current_schema()").fetchone()[0] == A
    for attack in ("SELECT * FROM group_iso_team.experiments",
                   "INSERT INTO group_iso_team.experiments (name, lifecycle_stage) VALUES ('x', 'active')",
                   "DELETE FROM group_iso_team.experiments",
                   "SET ROLE group_iso_team"):
        with tenant_postgres.connect(OUTSIDER, tenants[OUTSIDER], autocommit=True) as conn:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(attack)
    with tenant_postgres.superuser_connect() as conn:
        assert conn.execute("SELECT name FROM group_iso_team.experiments").fetchall() == [("team-run",)]
        # a member cannot reach a non-member's data through the group either
        assert conn.execute("SELECT pg_has_role('iso_a', 'iso_b', 'USAGE'), "
                            "pg_has_role('iso_c', 'group_iso_team', 'USAGE')").fetchone() == (False, False)
