"""Confused deputy: what a hostile tenant can make the ADMIN do (issue 11).

The attack matrices (test_pg_isolation.py, test_s3_isolation.py) test what a
tenant can do with its own credentials. Here tenants plant code where the
admin's paths look -- views, functions, triggers (and event-trigger
attempts), rules, operators, row-level security policies and search_path
tricks, in their own schemas and in a group's -- then every admin path that
touches tenant schemas runs (pg_tenant rerun/repair/rotation/purge,
mlflow_schema create/upgrade/stale-template rebuild, workbench_backup,
workbench_restore, workbench_health). After each path no tenant has gained a
role, a privilege, superuser, or the victim's canary row.

Every planted function first records who runs it (``ran_as``) and then tries
to escalate, so a failure says which trap the admin walked into.

Real servers: PostgreSQL 18 with the admin configured as the cluster does
(tests/fixtures/postgres.py: CREATEROLE, not superuser), SeaweedFS 4.48.
"""
import json
import secrets
import sys
from pathlib import Path

import botocore.exceptions
import pytest
from psycopg import errors, sql

from fixtures.day2 import PG_BIN
from fixtures.postgres import run_module, running_postgres
from fixtures.seaweedfs import run_module as run_s3_module

pytestmark = pytest.mark.integration

MLFLOW_VERSION = __import__("importlib.metadata").metadata.version("mlflow")
ROOT = Path(__file__).resolve().parents[2]
VICTIM, MEMBER, GROUP = "cd_bob", "cd_eve", "cd_team"
GROUP_SCHEMA = "group_" + GROUP
# one attacker per trap, so a failure names the trap
TRAPS = ("cd_view", "cd_trig", "cd_rule", "cd_rls", "cd_oper", "cd_sp")
USERS = (VICTIM, MEMBER) + TRAPS
OLD_REVISION = "0584bdc529eb"  # an MLflow revision well before head: forces the upgrade path
CANARY = "secret of the victim " + secrets.token_hex(4)


# schemas an MLflow of a few releases ago left behind: mlflow_schema upgrades them
AT_OLD = ("cd_trig", "cd_rule")


def make_old_mlflow_schema(url, schema, steps=2):
    """MLflow's tables at ``steps`` revisions before head, made through the tenant's own login."""
    from alembic import command
    from mlflow.store.db.utils import _get_alembic_config
    from mlflow.store.tracking.dbmodels.initial_models import Base as InitialBase
    from ansible_collections.enertef.workbench.plugins.module_utils import mlflow_schema as logic
    graph = logic.revision_graph()
    revision = logic.head_revision(graph)
    for _ in range(steps):
        revision = graph[revision][0]
    engine = logic.sqlalchemy_engine(url, schema)
    InitialBase.metadata.create_all(engine)
    config = _get_alembic_config(str(engine.url))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()


def escalation(tenant, reset_role=False):
    """PL/pgSQL that records who runs it, then tries everything an attacker wants."""
    attempts = [
        "ALTER ROLE {t} SUPERUSER", "ALTER ROLE {t} CREATEROLE", "ALTER ROLE {t} BYPASSRLS",
        "GRANT {v} TO {t}", "GRANT workbench_admin TO {t}", "GRANT pg_read_all_data TO {t}",
        "GRANT USAGE ON SCHEMA {v} TO {t}", "GRANT SELECT ON {v}.canary TO {t}",
        "INSERT INTO {t}.loot SELECT secret FROM {v}.canary",
        "COPY (SELECT 1) TO PROGRAM 'true'",
    ]
    body = ["EXECUTE 'RESET ROLE';"] if reset_role else []
    body.append("BEGIN INSERT INTO {t}.ran_as VALUES (current_user, session_user); "
                "EXCEPTION WHEN OTHERS THEN NULL; END;")
    body += ["BEGIN EXECUTE '%s'; EXCEPTION WHEN OTHERS THEN NULL; END;" % a.replace("'", "''") for a in attempts]
    return "\n".join(body).replace("{t}", tenant).replace("{v}", VICTIM)


def pwn_function(tenant, name="pwn", returns="text", result="'%s'" % OLD_REVISION, reset_role=False, args=""):
    return ("CREATE FUNCTION {t}.%s(%s) RETURNS %s LANGUAGE plpgsql AS $f$ BEGIN %s RETURN %s; END $f$"
            % (name, args, returns, escalation(tenant, reset_role), result)).replace("{t}", tenant)


@pytest.fixture(scope="module")
def hostile():
    """Tenants provisioned by the modules, then the traps planted by the tenants themselves,
    on a server of their own: the backup/restore below take every tenant on the server."""
    with running_postgres() as server:
        yield plant_traps(server)


def plant_traps(server):
    passwords = dict((name, secrets.token_urlsafe(18)) for name in USERS)
    login = server.module_login_args()
    tenants = [{"name": GROUP, "kind": "group"}] + [
        {"name": name, "password": passwords[name], "groups": [GROUP] if name in (VICTIM, MEMBER) else []}
        for name in USERS]
    done = run_module("pg_tenant", dict(login, tenants=tenants))
    assert not done.get("failed"), done.get("msg", done)
    for kind, names in (("group", [GROUP]), ("user", [n for n in USERS if n not in ("cd_oper",) + AT_OLD])):
        done = run_module("mlflow_schema", dict(login, tenants=names, kind=kind, mlflow_version=MLFLOW_VERSION,
                                                passwords=passwords))
        assert not done.get("failed"), done.get("msg", done)

    def as_tenant(name, *statements):
        with server.connect(name, passwords[name], autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    as_tenant(VICTIM, "CREATE TABLE canary (secret text)",
              "INSERT INTO canary VALUES ('%s')" % CANARY)
    for name in [n for n in USERS if n != "cd_oper"]:  # cd_oper's schema must stay empty for the copy
        as_tenant(name, "CREATE TABLE ran_as (current_user_name name, session_user_name name)",
                  "CREATE TABLE loot (secret text)")
    as_tenant("cd_view", pwn_function("cd_view"), "DROP TABLE alembic_version",
              "CREATE VIEW alembic_version AS SELECT cd_view.pwn()::varchar(32) AS version_num")
    for name in AT_OLD:  # left at an older revision (by the tenant itself): the upgrade path
        make_old_mlflow_schema(server.url(name, passwords[name]), name)
    as_tenant("cd_trig", pwn_function("cd_trig", "pwn_trigger", "trigger", "NULL", reset_role=True),
              "CREATE TRIGGER pwn BEFORE INSERT OR UPDATE OR DELETE ON alembic_version "
              "FOR EACH STATEMENT EXECUTE FUNCTION cd_trig.pwn_trigger()")
    as_tenant("cd_rule", pwn_function("cd_rule", reset_role=True),
              "CREATE RULE pwn AS ON UPDATE TO alembic_version DO ALSO SELECT cd_rule.pwn()")
    as_tenant("cd_rls", pwn_function("cd_rls", "pwn_policy", "boolean", "true"),
              "ALTER TABLE alembic_version ENABLE ROW LEVEL SECURITY",
              "ALTER TABLE alembic_version FORCE ROW LEVEL SECURITY",
              "CREATE POLICY pwn ON alembic_version USING (cd_rls.pwn_policy())")
    # no MLflow tables yet: the copy's CHECK constraints would resolve "=" to this operator
    as_tenant("cd_oper", pwn_function("cd_oper", "eq", "boolean", "$1::text = $2::text", reset_role=True,
                                      args="varchar, varchar"),
              "CREATE OPERATOR cd_oper.= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = cd_oper.eq)")
    # names the admin's catalog queries use, and the tenant's own search_path first
    as_tenant("cd_sp", pwn_function("cd_sp", "to_regclass", "regclass", "NULL", args="text"),
              pwn_function("cd_sp", "quote_ident", "text", "$1", args="text"),
              pwn_function("cd_sp", "starts_with", "boolean", "true", args="text, text"),
              "ALTER ROLE cd_sp SET search_path = cd_sp, pg_catalog")
    return {"server": server, "login": login, "passwords": passwords}


def group_attacks():
    """What the member plants in the group's schema (each is refused now)."""
    steal = ("CREATE FUNCTION cd_eve.steal() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
             "INSERT INTO cd_eve.loot SELECT secret FROM cd_bob.canary; RETURN NEW; END $f$")
    return {
        "trigger on a group table": [steal, "GRANT USAGE ON SCHEMA cd_eve TO group_cd_team",
                                     "GRANT INSERT ON cd_eve.loot TO group_cd_team",
                                     "CREATE TRIGGER steal BEFORE INSERT ON group_cd_team.runs "
                                     "FOR EACH ROW EXECUTE FUNCTION cd_eve.steal()"],
        "function in the group schema": ["CREATE FUNCTION group_cd_team.f() RETURNS int LANGUAGE sql AS 'SELECT 1'"],
        "view in the group schema": ["CREATE VIEW group_cd_team.v AS SELECT 1 AS x"],
        "rule on a group table": ["CREATE RULE r AS ON INSERT TO group_cd_team.tags DO ALSO NOTIFY x"],
        "policy on a group table": ["CREATE POLICY p ON group_cd_team.runs USING (true)"],
        "foreign key to a group table": ["CREATE TABLE cd_eve.fk (run_uuid varchar(32) "
                                         "REFERENCES group_cd_team.runs (run_uuid) ON DELETE CASCADE)"],
        "truncate a group table": ["TRUNCATE group_cd_team.tags"],
        "alter a group table": ["ALTER TABLE group_cd_team.runs ADD COLUMN pwn int"],
        "act as the group's owner": ["SET ROLE workbench_owner_group_cd_team"],
        "join the owner role": ["GRANT workbench_owner_group_cd_team TO cd_eve"],
        "event trigger": ["CREATE FUNCTION cd_eve.on_ddl() RETURNS event_trigger LANGUAGE plpgsql "
                          "AS $f$ BEGIN PERFORM 1; END $f$",
                          "CREATE EVENT TRIGGER pwn ON ddl_command_start EXECUTE FUNCTION cd_eve.on_ddl()"],
    }


def invariants(hostile, after):
    """No tenant gained a role, a privilege, superuser or the canary (read as the superuser)."""
    server = hostile["server"]
    with server.superuser_connect() as conn:
        privileged = conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE 'cd\\_%%' AND (rolsuper OR rolcreaterole "
            "OR rolcreatedb OR rolbypassrls OR rolreplication)").fetchall()
        memberships = conn.execute(
            "SELECT u.rolname, g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname LIKE 'cd\\_%%' ORDER BY 1, 2").fetchall()
        unexpected = [m for m in memberships if m[1] != GROUP_SCHEMA or m[0] not in (VICTIM, MEMBER)]
        reach = conn.execute(
            "SELECT r.rolname FROM pg_roles r WHERE r.rolname LIKE 'cd\\_%%' AND r.rolname <> %s "
            "AND (has_table_privilege(r.oid, 'cd_bob.canary', 'SELECT') "
            "  OR has_schema_privilege(r.oid, 'cd_bob', 'USAGE') OR pg_has_role(r.oid, 'cd_bob', 'USAGE') "
            "  OR pg_has_role(r.oid, 'workbench_admin', 'USAGE') "
            "  OR coalesce(pg_has_role(r.oid, to_regrole('workbench_owner_group_cd_team'), 'USAGE'), false))",
            (VICTIM,)).fetchall()
        loot, ran_as_admin = [], []
        for (schema,) in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'cd\\_%%'").fetchall():
            if conn.execute("SELECT to_regclass(%s)", (schema + ".loot",)).fetchone()[0]:
                loot += [(schema,) + r for r in conn.execute(sql.SQL("SELECT secret FROM {}").format(
                    sql.Identifier(schema, "loot"))).fetchall()]
            if conn.execute("SELECT to_regclass(%s)", (schema + ".ran_as",)).fetchone()[0]:
                ran_as_admin += [(schema,) + r for r in conn.execute(sql.SQL(
                    "SELECT * FROM {} WHERE session_user_name NOT LIKE 'cd\\_%%'").format(
                    sql.Identifier(schema, "ran_as"))).fetchall()]
    problems = dict((k, v) for k, v in (
        ("tenants with role attributes", privileged), ("unexpected memberships", unexpected),
        ("tenants reaching the victim or the admin", reach), ("canary copied", loot),
        ("tenant code run by the admin (schema, current_user, session_user)", ran_as_admin)) if v)
    assert not problems, "after %s: %s" % (after, problems)


def module(hostile, module_name, **args):
    return run_module(module_name, dict(hostile["login"], **args))


def test_planted_objects_are_in_place(hostile):
    """The positive control: the traps exist (a trap that was never planted proves nothing)."""
    with hostile["server"].superuser_connect() as conn:
        kinds = dict(conn.execute(
            "SELECT n.nspname, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'alembic_version' AND n.nspname LIKE 'cd\\_%%'").fetchall())
        assert kinds["cd_view"] == "v" and kinds["cd_trig"] == kinds["cd_rule"] == kinds["cd_rls"] == "r"
        assert conn.execute("SELECT count(*) FROM pg_operator WHERE oprnamespace = 'cd_oper'::regnamespace"
                            ).fetchone()[0] == 1
    invariants(hostile, "planting")


@pytest.mark.parametrize("attack", sorted(group_attacks()))
def test_a_member_cannot_put_code_into_the_group(hostile, attack):
    statements = group_attacks()[attack]
    with hostile["server"].connect(MEMBER, hostile["passwords"][MEMBER], autocommit=True) as conn:
        for statement in statements[:-1]:
            conn.execute(statement)
        with pytest.raises((errors.InsufficientPrivilege, errors.WrongObjectType)) as refused:
            conn.execute(statements[-1])
    assert "must be" in str(refused.value) or "permission denied" in str(refused.value)
    invariants(hostile, "group attack " + attack)


def test_mlflow_works_for_a_member_logging_to_the_group(hostile):
    """DML only is enough for MLflow: the victim logs a group run with mlflow_group_utils'
    tracking URI; the member's (refused) trigger did not copy anything."""
    sys.path.insert(0, str(ROOT / "files" / "notebook-scripts"))
    import mlflow_group_utils
    from mlflow.tracking import MlflowClient
    server = hostile["server"]
    uri = mlflow_group_utils.with_search_path(server.url(VICTIM, hostile["passwords"][VICTIM]), GROUP_SCHEMA)
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("cd-shared", artifact_location="s3://mlflow/%s/cd" % GROUP_SCHEMA)
    run = client.create_run(experiment)
    client.log_param(run.info.run_id, "alpha", "0.5")
    client.log_metric(run.info.run_id, "loss", 0.25)
    client.set_terminated(run.info.run_id)
    client.delete_run(run.info.run_id)
    client.restore_run(run.info.run_id)
    with server.connect(MEMBER, hostile["passwords"][MEMBER]) as conn:
        assert conn.execute("SELECT count(*) FROM group_cd_team.runs WHERE run_uuid = %s",
                            (run.info.run_id,)).fetchone()[0] == 1
    invariants(hostile, "a group run")


def test_pg_tenant_rerun_repair_and_rotation(hostile):
    passwords = hostile["passwords"]
    with hostile["server"].connect("cd_sp", passwords["cd_sp"], autocommit=True) as conn:
        conn.execute("GRANT USAGE ON SCHEMA cd_sp TO cd_view")  # something for the repair to revoke
    passwords["cd_trig"] = secrets.token_urlsafe(18)  # the rotate role's database part: a new password
    tenants = [{"name": GROUP, "kind": "group"}] + [
        {"name": n, "password": passwords[n], "groups": [GROUP] if n in (VICTIM, MEMBER) else []} for n in USERS]
    done = module(hostile, "pg_tenant", tenants=tenants)
    assert not done.get("failed") and 'REVOKE ALL ON SCHEMA "cd_sp" FROM "cd_view"' in done["queries"], done
    invariants(hostile, "pg_tenant rerun, repair and rotation")


@pytest.mark.parametrize("trap, outcome", [
    # the admin reads none of these alembic_version tables; the tenant's own login does
    ("cd_view", "upgrade of schema cd_view (logged in as cd_view) failed"),
    ("cd_rule", "upgraded"), ("cd_rls", "unchanged"), ("cd_trig", "upgraded"),
    ("cd_oper", "created"), ("cd_sp", "unchanged")])
def test_mlflow_schema_as_the_admin_runs_no_tenant_code(hostile, trap, outcome):
    done = module(hostile, "mlflow_schema", tenant=trap, mlflow_version=MLFLOW_VERSION,
                  passwords=hostile["passwords"])
    invariants(hostile, "mlflow_schema on " + trap)
    if outcome.startswith("upgrade of"):
        assert done.get("failed") and outcome in done["msg"], done
    else:
        assert not done.get("failed"), done.get("msg", done)
        assert done[outcome] == [trap], done


def test_the_admin_refuses_what_it_cannot_read_safely(hostile):
    """Without the tenant's password the admin names the trap and reads nothing."""
    done = module(hostile, "mlflow_schema", tenants=["cd_view", "cd_rls", "cd_trig", "cd_sp"],
                  mlflow_version=MLFLOW_VERSION)
    assert done.get("failed"), done
    for refusal in ("cd_view.alembic_version is a view, not a table", "cd_trig.alembic_version has triggers",
                    "cd_rls.alembic_version has row-level security"):
        assert refusal in done["msg"], done["msg"]
    invariants(hostile, "mlflow_schema without passwords")


def test_mlflow_schema_stale_template_rebuild_and_group(hostile):
    with hostile["server"].superuser_connect() as conn:
        conn.execute("UPDATE workbench_mlflow_template.alembic_version SET version_num = %s", (OLD_REVISION,))
    late = hostile["passwords"]["cd_late"] = secrets.token_urlsafe(18)
    assert not module(hostile, "pg_tenant", name="cd_late", password=late).get("failed")
    done = module(hostile, "mlflow_schema", tenant="cd_late", mlflow_version=MLFLOW_VERSION,
                  passwords={"cd_late": late})
    assert not done.get("failed") and done["template_rebuilt"] and done["created"] == ["cd_late"], done
    group = module(hostile, "mlflow_schema", tenant=GROUP, kind="group", mlflow_version=MLFLOW_VERSION)
    assert not group.get("failed") and group["unchanged"] == [GROUP_SCHEMA], group
    invariants(hostile, "template rebuild")


@pytest.fixture(scope="module")
def backup_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cd-backup")


def watching_pg_dump(directory):
    """A pg_bin_dir whose pg_dump is the real one, followed by a look at the modes of the
    dump file and its directories while the backup is still being written."""
    directory.mkdir()
    seen = directory / "modes-while-running"
    (directory / "pg_dump").write_text(
        "#!/bin/sh\n\"%s/pg_dump\" \"$@\" || exit $?\n"
        "for a in \"$@\"; do case $a in --file=*) f=${a#--file=};; esac; done\n"
        "stat -c '%%a %%n' \"$f\" \"$(dirname \"$f\")\" \"$(dirname \"$(dirname \"$f\")\")\" > %s\n"
        % (PG_BIN, seen))
    (directory / "pg_dump").chmod(0o755)
    (directory / "pg_restore").symlink_to(PG_BIN / "pg_restore")
    return seen


def test_backup_reads_no_tenant_object_that_runs_code(hostile, seaweedfs, backup_dir, tmp_path):
    seen = watching_pg_dump(tmp_path / "bin")
    done = module(hostile, "workbench_backup", dest=str(backup_dir), name="cd", pg_bin_dir=str(tmp_path / "bin"),
                  buckets=[], **seaweedfs.module_args())
    invariants(hostile, "workbench_backup")
    assert not done.get("failed"), done.get("msg", done)
    assert done["schemas"]["cd_bob"] and done["schemas"]["cd_view"] is None, done["schemas"]
    assert any("cd_rls.alembic_version" in w for w in done.get("warnings", [])), done.get("warnings")
    # never readable by others, not even while the backup runs (the modes pg_dump's wrapper saw)
    modes = dict(line.split(" ", 1)[::-1] for line in seen.read_text().splitlines())
    assert sorted(modes.values()) == ["600", "700", "700"], modes


def test_health_as_the_tenants(hostile, seaweedfs):
    tenants = [{"name": n, "db_password": hostile["passwords"][n]} for n in ("cd_sp", "cd_view", "cd_rls")]
    module(hostile, "workbench_health", tenants=tenants, **seaweedfs.module_args())
    invariants(hostile, "workbench_health")


def test_restore_runs_no_tenant_code_as_the_admin(hostile, seaweedfs, backup_dir):
    done = module(hostile, "workbench_restore", path=str(backup_dir / "cd"), parts=["postgres"],
                  pg_bin_dir=str(PG_BIN), passwords=hostile["passwords"], **seaweedfs.module_args())
    invariants(hostile, "workbench_restore")
    assert not done.get("failed"), done.get("msg", done)


def test_purge_of_hostile_tenants(hostile):
    done = module(hostile, "pg_tenant", tenants=[{"name": n, "state": "absent", "purge": True}
                                                 for n in ("cd_view", "cd_rule", "cd_rls")])
    assert not done.get("failed"), done.get("msg", done)
    invariants(hostile, "purge")


# ------------------------------------------------------------------ object store

def _tenant_s3(seaweedfs, service, key):
    return seaweedfs.client(service, key["access_key"], key["secret_key"])


def _keys_of(seaweedfs, user):
    return sorted(k["AccessKeyId"] for k in
                  seaweedfs.admin_iam().list_access_keys(UserName=user)["AccessKeyMetadata"])


def _works(seaweedfs, access_key, secret_key, user):
    try:
        seaweedfs.client("s3", access_key, secret_key).list_objects_v2(Bucket="mlflow", Prefix=user + "/")
        return True
    except botocore.exceptions.ClientError:
        return False


def test_self_made_s3_key_is_removed_and_rotation_leaves_one_working_key(seaweedfs, playbook):
    """SeaweedFS 4.48 lets a user create access keys for itself through the IAM
    API and refuses any Deny statement (so no policy can forbid it): the next
    run with the key the workbench holds deletes the self-made key, and a
    rotation leaves exactly one key, which works."""
    user = "cd_s3_mallory"
    base = dict(seaweedfs.module_args(), name=user)
    first = run_s3_module(playbook, "s3_tenant", base)
    own_iam = _tenant_s3(seaweedfs, "iam", first)
    made = own_iam.create_access_key(UserName=user)["AccessKey"]
    assert _works(seaweedfs, made["AccessKeyId"], made["SecretAccessKey"], user)
    assert len(_keys_of(seaweedfs, user)) == 2

    rerun = run_s3_module(playbook, "s3_tenant", dict(base, access_key=first["access_key"]))
    assert rerun["actions"] == ["delete_access_key %s %s" % (user, made["AccessKeyId"])]
    assert _keys_of(seaweedfs, user) == [first["access_key"]]
    assert not _works(seaweedfs, made["AccessKeyId"], made["SecretAccessKey"], user)

    own_iam.create_access_key(UserName=user)
    rotated = run_s3_module(playbook, "s3_tenant", dict(base, access_key=first["access_key"], rotate_key=True))
    assert _keys_of(seaweedfs, user) == [rotated["access_key"]]
    assert _works(seaweedfs, rotated["access_key"], rotated["secret_key"], user)
    assert not _works(seaweedfs, first["access_key"], first["secret_key"], user)
    # the tenant's key creates no other user and widens no policy
    with pytest.raises(botocore.exceptions.ClientError):
        _tenant_s3(seaweedfs, "iam", rotated).create_user(UserName="cd_s3_minion")
    with pytest.raises(botocore.exceptions.ClientError):
        _tenant_s3(seaweedfs, "iam", rotated).put_user_policy(
            UserName=user, PolicyName="more", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}]}))
