"""enertef.workbench.pg_tenant against a real PostgreSQL 18 (tests/fixtures/postgres.py).

Order of each test (as community.postgresql's): check mode -> verify with an
independent superuser connection that nothing changed -> real run -> verify ->
same run again reports changed=false. Modules run through ``ansible -m``.
"""
import secrets

import psycopg
from psycopg import sql
import pytest

pytestmark = pytest.mark.integration


def new_password():
    return secrets.token_urlsafe(18)


def catalog(server, role):
    """What PostgreSQL says about a tenant, read as the superuser (not with module code)."""
    with server.superuser_connect() as conn:
        row = conn.execute("SELECT rolcanlogin, rolconfig, rolsuper, rolcreaterole FROM pg_roles "
                           "WHERE rolname = %s", (role,)).fetchone()
        owner = conn.execute("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = %s",
                             (role,)).fetchone()
        groups = [r[0] for r in conn.execute(
            "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s ORDER BY 1", (role,))]
        connect = conn.execute("SELECT has_database_privilege(%s, 'mlflow', 'CONNECT')",
                               (role,)).fetchone()[0] if row else False
    return {
        "exists": row is not None,
        "login": bool(row and row[0]),
        "config": row[1] if row else None,
        "privileged": bool(row and (row[2] or row[3])),
        "schema_owner": owner[0] if owner else None,
        "groups": groups,
        "connect": connect,
    }


def can_login(server, role, password):
    try:
        with server.connect(role, password) as conn:
            return conn.execute("SELECT current_user, current_schemas(false)").fetchone()
    except psycopg.OperationalError:
        return None


def test_user_tenant_check_mode_create_idempotent(pg_module, tenant_postgres):
    password = new_password()
    args = dict(name="pgt_user", password=password)

    checked = pg_module("pg_tenant", check=True, **args)
    assert checked["changed"] is True and not checked.get("failed"), checked
    assert any("CREATE ROLE" in q for q in checked["queries"])
    assert password not in checked["_stdout"], "the password leaked into the output"
    assert catalog(tenant_postgres, "pgt_user")["exists"] is False
    assert catalog(tenant_postgres, "pgt_user")["schema_owner"] is None

    created = pg_module("pg_tenant", **args)
    assert created["changed"] is True and not created.get("failed"), created
    assert created["queries"] == checked["queries"]
    assert password not in created["_stdout"]
    state = catalog(tenant_postgres, "pgt_user")
    assert state["login"] and not state["privileged"]
    assert state["schema_owner"] == "pgt_user"
    assert state["config"] == ["search_path=pgt_user", "statement_timeout=15min",
                               "idle_in_transaction_session_timeout=10min"]
    assert state["connect"] is True
    assert created["diff"]["before"]["role"] is None
    assert created["diff"]["after"]["schema_owner"] == "pgt_user"

    # the tenant logs in with its password and lands in its own schema
    assert can_login(tenant_postgres, "pgt_user", password) == ("pgt_user", ["pgt_user"])
    with tenant_postgres.connect("pgt_user", password) as conn:
        conn.execute("CREATE TABLE notes (body text)")
        conn.execute("INSERT INTO notes VALUES ('mine')")
    # PUBLIC lost CONNECT on the database and CREATE on schema public
    with tenant_postgres.superuser_connect() as conn:
        assert conn.execute("SELECT has_database_privilege('public', 'mlflow', 'CONNECT')").fetchone()[0] is False
        assert conn.execute("SELECT has_schema_privilege('public', 'public', 'CREATE')").fetchone()[0] is False

    again = pg_module("pg_tenant", **args)
    assert again["changed"] is False and again["queries"] == [], again


def test_password_changes_only_when_different(pg_module, tenant_postgres):
    first, second = new_password(), new_password()
    assert pg_module("pg_tenant", name="pgt_pw", password=first)["changed"]

    on_create = pg_module("pg_tenant", name="pgt_pw", password=second, update_password="on_create")
    assert on_create["changed"] is False
    assert can_login(tenant_postgres, "pgt_pw", first)

    checked = pg_module("pg_tenant", check=True, name="pgt_pw", password=second)
    assert checked["changed"] and checked["queries"] == ['ALTER ROLE "pgt_pw" PASSWORD \'********\'']
    assert can_login(tenant_postgres, "pgt_pw", first) and not can_login(tenant_postgres, "pgt_pw", second)

    changed = pg_module("pg_tenant", name="pgt_pw", password=second)
    assert changed["changed"] is True
    assert can_login(tenant_postgres, "pgt_pw", second) and not can_login(tenant_postgres, "pgt_pw", first)
    assert pg_module("pg_tenant", name="pgt_pw", password=second)["changed"] is False


def test_group_membership_follows_the_list(pg_module, tenant_postgres):
    for group in ("pgt_a", "pgt_b"):
        result = pg_module("pg_tenant", name=group, kind="group")
        assert result["changed"] and not result.get("failed"), result
        state = catalog(tenant_postgres, "group_" + group)
        assert state["exists"] and not state["login"] and state["schema_owner"] == "workbench_owner_group_" + group
    password = new_password()

    missing = pg_module("pg_tenant", name="pgt_member", password=password, groups=["pgt_nope"])
    assert missing.get("failed") and "group tenant group_pgt_nope does not exist" in missing["msg"]
    assert catalog(tenant_postgres, "pgt_member")["exists"] is False, "the failed run left a role behind"

    joined = pg_module("pg_tenant", name="pgt_member", password=password, groups=["pgt_a", "pgt_b"])
    assert catalog(tenant_postgres, "pgt_member")["groups"] == ["group_pgt_a", "group_pgt_b"]
    assert joined["diff"]["after"]["groups"] == ["group_pgt_a", "group_pgt_b"]
    assert pg_module("pg_tenant", name="pgt_member", password=password, groups=["pgt_b", "pgt_a"])["changed"] is False

    checked = pg_module("pg_tenant", check=True, name="pgt_member", password=password, groups=["pgt_b"])
    assert checked["queries"] == ['REVOKE "group_pgt_a" FROM "pgt_member"']
    assert catalog(tenant_postgres, "pgt_member")["groups"] == ["group_pgt_a", "group_pgt_b"]
    left = pg_module("pg_tenant", name="pgt_member", password=password, groups=["pgt_b"])
    assert left["changed"] and catalog(tenant_postgres, "pgt_member")["groups"] == ["group_pgt_b"]
    # omitting groups leaves memberships alone
    assert pg_module("pg_tenant", name="pgt_member", password=password)["changed"] is False


def test_foreign_grants_on_a_tenant_are_revoked(pg_module, tenant_postgres):
    owner_pw, other_pw = new_password(), new_password()
    pg_module("pg_tenant", name="pgt_owner", password=owner_pw)
    pg_module("pg_tenant", name="pgt_other", password=other_pw)
    with tenant_postgres.connect("pgt_owner", owner_pw) as conn:  # the owner shares, on purpose or not
        conn.execute("CREATE TABLE shared (x int)")
        conn.execute("GRANT USAGE ON SCHEMA pgt_owner TO pgt_other")
        conn.execute("GRANT SELECT ON shared TO pgt_other")
    repaired = pg_module("pg_tenant", name="pgt_owner", password=owner_pw)
    assert repaired["changed"]
    assert 'REVOKE ALL ON SCHEMA "pgt_owner" FROM "pgt_other"' in repaired["queries"]
    assert 'REVOKE ALL ON TABLE "pgt_owner"."shared" FROM "pgt_other"' in repaired["queries"]
    with tenant_postgres.connect("pgt_other", other_pw) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM pgt_owner.shared")


def test_absent_locks_out_and_keeps_data_purge_drops(pg_module, tenant_postgres):
    password = new_password()
    pg_module("pg_tenant", name="pgt_leaver", kind="group")
    pg_module("pg_tenant", name="pgt_gone", password=password, groups=["pgt_leaver"])
    with tenant_postgres.connect("pgt_gone", password) as conn:
        conn.execute("CREATE TABLE results (score int)")
        conn.execute("INSERT INTO results VALUES (42)")

    checked = pg_module("pg_tenant", check=True, name="pgt_gone", state="absent")
    assert checked["changed"]
    assert catalog(tenant_postgres, "pgt_gone")["login"] is True

    absent = pg_module("pg_tenant", name="pgt_gone", state="absent")
    assert absent["changed"]
    state = catalog(tenant_postgres, "pgt_gone")
    assert state["exists"] and not state["login"] and not state["connect"] and state["groups"] == []
    assert can_login(tenant_postgres, "pgt_gone", password) is None
    with tenant_postgres.superuser_connect() as conn:
        assert conn.execute("SELECT score FROM pgt_gone.results").fetchall() == [(42,)]
    assert pg_module("pg_tenant", name="pgt_gone", state="absent")["changed"] is False

    checked = pg_module("pg_tenant", check=True, name="pgt_gone", state="absent", purge=True)
    assert checked["queries"][0] == 'DROP SCHEMA "pgt_gone" CASCADE'
    assert catalog(tenant_postgres, "pgt_gone")["schema_owner"] == "pgt_gone"
    purged = pg_module("pg_tenant", name="pgt_gone", state="absent", purge=True)
    assert purged["changed"]
    state = catalog(tenant_postgres, "pgt_gone")
    assert not state["exists"] and state["schema_owner"] is None
    assert pg_module("pg_tenant", name="pgt_gone", state="absent", purge=True)["changed"] is False

    # coming back: a fresh tenant
    assert pg_module("pg_tenant", name="pgt_gone", password=password)["changed"]
    assert can_login(tenant_postgres, "pgt_gone", password) == ("pgt_gone", ["pgt_gone"])


def snapshot(server):
    with server.superuser_connect() as conn:
        return (conn.execute("SELECT array_agg(rolname ORDER BY rolname) FROM pg_roles").fetchone()[0],
                conn.execute("SELECT array_agg(nspname ORDER BY nspname) FROM pg_namespace").fetchone()[0])


# The whole list goes through the module's validation in tests/unit/test_pg_request.py;
# through Ansible (about a second per call) a sample of each kind of attack.
HOSTILE = ["alice'; DROP ROLE workbench_admin; --", 'al"ice', "../etc", "a/b", "Alice", "jürgen",
           "x" * 33, "postgres", "public", "pg_read_all_data", "workbench_admin", "group_ml", ""]


def test_hostile_names_are_refused_before_anything_changes(playbook, tenant_postgres):
    """Hostile user, group and membership names: all refused, nothing created."""
    before = snapshot(tenant_postgres)
    login = tenant_postgres.module_login_args()
    result = playbook("""
- hosts: localhost
  gather_facts: false
  tasks:
    - name: hostile user names
      enertef.workbench.pg_tenant: "{{ login | combine({'name': item, 'password': password}) }}"
      loop: "{{ names }}"
      ignore_errors: true
      register: users
    - name: hostile group names
      enertef.workbench.pg_tenant: "{{ login | combine({'name': item, 'kind': 'group'}) }}"
      loop: "{{ names[:5] }}"
      ignore_errors: true
      register: groups
    - name: hostile group membership
      enertef.workbench.pg_tenant: "{{ login | combine({'name': 'pgt_fine', 'password': password, 'groups': [item]}) }}"
      loop: "{{ names[5:10] }}"
      ignore_errors: true
      register: memberships
""", extra_vars={"login": login, "names": HOSTILE, "password": new_password()})
    assert result.rc == 0 or result.failed, result
    outcomes = [r for name, _, r in result.task_results() if name.startswith("hostile")]
    assert len(outcomes) == 3
    for task_result in outcomes:
        items = task_result["results"]
        assert len(items) in (5, len(HOSTILE))
        for item in items:
            assert item.get("failed") is True, item
            assert item["msg"].startswith(("user name ", "group name ")) or "must be a string" in item["msg"], \
                item["msg"]
            assert "Traceback" not in item.get("module_stderr", "")
    assert snapshot(tenant_postgres) == before


@pytest.mark.parametrize("override, reason", [
    ({"login_port": 1}, "Unable to connect to database 'mlflow'"),
    ({"login_password": "not-the-password"}, "password authentication failed"),
    ({"login_unix_socket": "", "login_host": "127.0.0.1", "login_port": 9, "connect_timeout": 2},
     "Unable to connect to database 'mlflow' on 127.0.0.1 port 9"),
])
def test_unreachable_database_fails_with_a_clear_message(pg_module, tenant_postgres, override, reason):
    before = snapshot(tenant_postgres)
    result = pg_module("pg_tenant", name="pgt_unreached", password=new_password(), **override)
    assert result.get("failed") is True
    assert reason in result["msg"]
    assert "Traceback" not in result["msg"] and "module_stderr" not in result
    assert snapshot(tenant_postgres) == before


def test_bulk_call_is_one_transaction(pg_module, tenant_postgres):
    passwords = dict((name, new_password()) for name in ("pgt_bulk1", "pgt_bulk2"))
    tenants = [{"name": "pgt_bulk1", "password": passwords["pgt_bulk1"], "groups": ["pgt_bulkers"]},
               {"name": "pgt_bulk2", "password": passwords["pgt_bulk2"]},
               {"name": "pgt_bulkers", "kind": "group"}]

    checked = pg_module("pg_tenant", check=True, tenants=tenants)
    assert checked["changed"] and [r["tenant"]["role"] for r in checked["tenants"]] == \
        ["group_pgt_bulkers", "pgt_bulk1", "pgt_bulk2"]
    assert not any(catalog(tenant_postgres, role)["exists"] for role in ("group_pgt_bulkers", "pgt_bulk1"))
    for password in passwords.values():
        assert password not in checked["_stdout"]

    # one entry fails in the database (its group does not exist): nothing of the call stays
    broken = tenants + [{"name": "pgt_bulk3", "password": new_password(), "groups": ["pgt_nowhere"]}]
    failed = pg_module("pg_tenant", tenants=broken)
    assert failed.get("failed") and "group_pgt_nowhere does not exist" in failed["msg"]
    assert not any(catalog(tenant_postgres, role)["exists"] for role in ("group_pgt_bulkers", "pgt_bulk1"))

    created = pg_module("pg_tenant", tenants=tenants)
    assert created["changed"] and all(r["changed"] for r in created["tenants"])
    assert catalog(tenant_postgres, "pgt_bulk1")["groups"] == ["group_pgt_bulkers"]
    assert can_login(tenant_postgres, "pgt_bulk2", passwords["pgt_bulk2"]) == ("pgt_bulk2", ["pgt_bulk2"])
    again = pg_module("pg_tenant", tenants=tenants)
    assert again["changed"] is False and again["queries"] == []

    # adding one user to the list touches only that user (the others' passwords are
    # checked by logging in, while the newcomer's grants are still uncommitted)
    newcomer = {"name": "pgt_bulk4", "password": new_password()}
    added = pg_module("pg_tenant", tenants=[newcomer] + tenants)
    assert [(r["tenant"]["role"], r["changed"]) for r in added["tenants"]] == [
        ("group_pgt_bulkers", False), ("pgt_bulk4", True), ("pgt_bulk1", False), ("pgt_bulk2", False)]

    # a password changed behind the module's back is found by the call's logins (made a few
    # at a time before the transaction) and set again; nobody else's is touched
    with tenant_postgres.admin_connect(autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE pgt_bulk2 PASSWORD {}").format(sql.Literal(new_password())))
    repaired = pg_module("pg_tenant", tenants=[newcomer] + tenants)
    assert repaired["queries"] == ['ALTER ROLE "pgt_bulk2" PASSWORD \'********\''], repaired["queries"]
    assert can_login(tenant_postgres, "pgt_bulk2", passwords["pgt_bulk2"]) == ("pgt_bulk2", ["pgt_bulk2"])


def acts_as(server, role, password, target):
    """Whether ``role`` can become ``target`` (SET ROLE) and read its schema."""
    with server.connect(role, password, autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(target)))
            conn.execute(sql.SQL("SELECT count(*) FROM {}.notes").format(sql.Identifier(target)))
        except psycopg.errors.InsufficientPrivilege:
            return False
    return True


def victim_and_intruder(pg_module, tenant_postgres, victim, intruder, grant_as):
    """Two tenants, the victim with a table, and ``GRANT victim TO intruder`` run on the
    connection ``grant_as`` opens; returns (victim password, intruder password)."""
    victim_pw, intruder_pw = new_password(), new_password()
    pg_module("pg_tenant", name=victim, password=victim_pw)
    pg_module("pg_tenant", name=intruder, password=intruder_pw)
    with tenant_postgres.connect(victim, victim_pw) as conn:
        conn.execute("CREATE TABLE notes (body text)")
    with grant_as() as conn:
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(victim), sql.Identifier(intruder)))
    return victim_pw, intruder_pw


def test_foreign_membership_in_a_user_role_is_revoked(pg_module, tenant_postgres):
    """``GRANT victim TO intruder`` run with the provisioning login (an operator's
    slip): the next run of the victim's tenant takes it back."""
    victim_pw, intruder_pw = victim_and_intruder(pg_module, tenant_postgres, "pgt_victim", "pgt_intruder",
                                                 tenant_postgres.admin_connect)
    assert acts_as(tenant_postgres, "pgt_intruder", intruder_pw, "pgt_victim"), "positive control"

    repaired = pg_module("pg_tenant", name="pgt_victim", password=victim_pw)
    assert repaired["changed"] and 'REVOKE "pgt_victim" FROM "pgt_intruder"' in repaired["queries"], repaired
    assert not acts_as(tenant_postgres, "pgt_intruder", intruder_pw, "pgt_victim")
    assert pg_module("pg_tenant", name="pgt_victim", password=victim_pw)["changed"] is False


def test_foreign_membership_granted_by_a_superuser_is_revoked_or_reported(pg_module, tenant_postgres):
    victim_pw, intruder_pw = victim_and_intruder(pg_module, tenant_postgres, "pgt_victim2", "pgt_intruder2",
                                                 tenant_postgres.superuser_connect)
    repaired = pg_module("pg_tenant", name="pgt_victim2", password=victim_pw)
    assert repaired.get("failed") or not acts_as(tenant_postgres, "pgt_intruder2", intruder_pw, "pgt_victim2")
    if repaired.get("failed"):  # the run names who granted it and what to run, instead of claiming a repair
        assert "pgt_intruder2 is a member of pgt_victim2 by a grant of postgres" in repaired["msg"], repaired


def test_absent_group_loses_its_members(pg_module, tenant_postgres):
    member_pw = new_password()
    pg_module("pg_tenant", name="pgt_closing", kind="group")
    pg_module("pg_tenant", name="pgt_in_closing", password=member_pw, groups=["pgt_closing"])
    with tenant_postgres.superuser_connect() as conn:  # the group's data, owned by the group
        conn.execute("CREATE TABLE group_pgt_closing.notes (body text)")
        conn.execute("ALTER TABLE group_pgt_closing.notes OWNER TO group_pgt_closing")
        conn.execute("INSERT INTO group_pgt_closing.notes VALUES ('team')")
    with tenant_postgres.connect("pgt_in_closing", member_pw) as conn:  # positive control: a member reads
        assert conn.execute("SELECT body FROM group_pgt_closing.notes").fetchall() == [("team",)]

    closed = pg_module("pg_tenant", name="pgt_closing", kind="group", state="absent")
    assert closed["changed"], closed
    with tenant_postgres.connect("pgt_in_closing", member_pw, autocommit=True) as conn:
        for attack in ("SELECT * FROM group_pgt_closing.notes", "SET ROLE group_pgt_closing"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(attack)
    with tenant_postgres.superuser_connect() as conn:  # data kept (no purge), nobody inherits the group
        assert conn.execute("SELECT body FROM group_pgt_closing.notes").fetchall() == [("team",)]
        assert conn.execute("SELECT pg_has_role('pgt_in_closing', 'group_pgt_closing', 'USAGE')").fetchone()[0] is False
    assert pg_module("pg_tenant", name="pgt_closing", kind="group", state="absent")["changed"] is False
