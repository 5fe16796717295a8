"""enertef.workbench.mlflow_schema against a real PostgreSQL 18 and MLflow 3.17.2.

* check mode -> nothing changed (independent catalog read) -> run -> verify -> rerun unchanged;
* the template copy equals a real ``mlflow db upgrade`` of a tenant schema
  (tables, columns, types, defaults, constraints, indexes, sequences,
  triggers, functions, owners, rows incl. alembic_version), and the
  comparison itself notices a missing index. One normalisation: a CHECK
  expression is compared as PostgreSQL re-reads its own definition (what
  pg_dump + restore also gives): ``x IN ('a', 'b')`` on a varchar column is
  stored as ``ANY ((ARRAY['a'::varchar, ...])::text[])``, which re-read puts
  the cast on each element; same rule, different tree;
* MLflow 3.17.2 logs params, metrics, tags and a registered model into a copy;
* an older tenant schema is upgraded by MLflow's migrations with its rows kept;
* refusals: MLflow version mismatch, missing tenant, a schema that is not MLflow's.
"""
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.enertef.workbench.plugins.module_utils import mlflow_schema as logic

pytestmark = pytest.mark.integration

MLFLOW_VERSION = "3.17.2"
MLFLOW_CLI = str(Path(sys.executable).parent / "mlflow")
# user name -> password of every tenant make_tenant made: mlflow_schema works in
# a user's schema through the user's own login
PASSWORDS = {}


@pytest.fixture(scope="module")
def make_tenant(pg_module):
    """make_tenant(name) -> password: a tenant provisioned by pg_tenant through Ansible."""
    def make(name):
        password = secrets.token_urlsafe(18)
        result = pg_module("pg_tenant", name=name, password=password)
        assert result["changed"] and not result.get("failed"), result
        PASSWORDS[name] = password
        return password
    return make


def revision_of(server, schema):
    with server.superuser_connect() as conn:
        found = conn.execute("SELECT to_regclass(%s)", (schema + ".alembic_version",)).fetchone()[0]
        if not found:
            return None
        return conn.execute("SELECT version_num FROM %s.alembic_version" % schema).fetchone()[0]


def schema_snapshot(conn, schema):
    """Every catalog fact of ``schema`` that matters, with the schema's name taken out."""
    conn.execute("SET search_path TO %s" % schema)  # test-chosen safe names
    strip = lambda text: text.replace(schema + ".", "S.")  # noqa: E731
    q = lambda query: conn.execute(query, (schema,)).fetchall()  # noqa: E731
    return {
        "tables": q("SELECT c.relname, pg_get_userbyid(c.relowner) = %s FROM pg_class c "
                    "WHERE c.relnamespace = to_regnamespace(current_schema()) AND c.relkind = 'r' ORDER BY 1"),
        "columns": q("SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
                     "a.attidentity, a.attgenerated, pg_get_expr(d.adbin, d.adrelid), a.attcollation "
                     "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                     "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
                     "WHERE c.relnamespace = to_regnamespace(%s) AND c.relkind = 'r' AND a.attnum > 0 "
                     "AND NOT a.attisdropped ORDER BY 1, 2"),
        "constraints": q("SELECT t.relname, c.conname, c.contype, pg_get_constraintdef(c.oid), c.condeferrable "
                         "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
                         "WHERE t.relnamespace = to_regnamespace(%s) ORDER BY 1, 2"),
        "indexes": [(t, i, strip(d)) for t, i, d in q(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %s ORDER BY 1, 2")],
        "sequences": q("SELECT c.relname, s.seqtypid::regtype::text, s.seqstart, s.seqincrement, s.seqmin, "
                       "s.seqmax, s.seqcache, s.seqcycle, pg_get_userbyid(c.relowner) = %s FROM pg_sequence s "
                       "JOIN pg_class c ON c.oid = s.seqrelid "
                       "WHERE c.relnamespace = to_regnamespace(current_schema()) ORDER BY 1"),
        "triggers": [(t, n, strip(d)) for t, n, d in q(
            "SELECT c.relname, g.tgname, pg_get_triggerdef(g.oid) FROM pg_trigger g "
            "JOIN pg_class c ON c.oid = g.tgrelid WHERE c.relnamespace = to_regnamespace(%s) "
            "AND NOT g.tgisinternal ORDER BY 1, 2")],
        "functions": [(n, strip(d)) for n, d in q(
            "SELECT proname, pg_get_functiondef(oid) FROM pg_proc WHERE pronamespace = to_regnamespace(%s) "
            "ORDER BY 1")],
        "alembic_version": conn.execute("SELECT * FROM alembic_version").fetchall(),
        "workspaces": conn.execute("SELECT * FROM workspaces ORDER BY 1").fetchall(),
        "row_counts": [(t, conn.execute('SELECT count(*) FROM "%s"' % t).fetchone()[0]) for (t,) in q(
            "SELECT relname FROM pg_class WHERE relnamespace = to_regnamespace(%s) AND relkind = 'r' "
            "ORDER BY 1")],
    }


def reread_checks(conn, schema, constraints):
    """CHECK definitions of ``schema`` as PostgreSQL parses them again (see module doc)."""
    reread = []
    for table, name, kind, definition, deferrable in constraints:
        if kind == "c":
            conn.execute("CREATE TEMP TABLE reread (LIKE %s.%s)" % (schema, table))
            conn.execute("ALTER TABLE reread ADD CONSTRAINT %s %s" % (name, definition))
            definition = conn.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                                      "WHERE conrelid = 'reread'::regclass AND conname = %s", (name,)).fetchone()[0]
            conn.execute("DROP TABLE reread")
        reread.append((table, name, kind, definition, deferrable))
    return reread


def test_check_mode_create_idempotent(pg_module, tenant_postgres, make_tenant):
    for name in ("mls_one", "mls_two"):
        make_tenant(name)
    args = dict(tenants=["mls_one", "mls_two"], mlflow_version=MLFLOW_VERSION)

    checked = pg_module("mlflow_schema", passwords=PASSWORDS, check=True, **args)
    assert checked["changed"] and checked["created"] == ["mls_one", "mls_two"], checked
    assert checked["diff"]["before"] == {"mls_one": None, "mls_two": None}
    assert revision_of(tenant_postgres, "mls_one") is None and revision_of(tenant_postgres, "mls_two") is None

    created = pg_module("mlflow_schema", passwords=PASSWORDS, **args)
    assert created["changed"] and created["created"] == ["mls_one", "mls_two"], created
    head = created["revision"]
    assert revision_of(tenant_postgres, "mls_one") == revision_of(tenant_postgres, "mls_two") == head
    with tenant_postgres.superuser_connect() as conn:
        owners = conn.execute("SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class "
                              "WHERE relnamespace = 'mls_one'::regnamespace").fetchall()
    assert owners == [("mls_one",)]

    again = pg_module("mlflow_schema", passwords=PASSWORDS, **args)
    assert again["changed"] is False and again["unchanged"] == ["mls_one", "mls_two"], again
    assert again["created"] == again["upgraded"] == [] and not again["template_rebuilt"]


def test_copy_equals_a_real_mlflow_db_upgrade(pg_module, tenant_postgres, make_tenant):
    make_tenant("mls_copy")
    migrated_password = make_tenant("mls_migrated")
    assert not pg_module("mlflow_schema", passwords=PASSWORDS, tenant="mls_copy", mlflow_version=MLFLOW_VERSION).get("failed")
    # the seed's way, as the tenant itself: its search_path puts the tables in its schema
    proc = subprocess.run([MLFLOW_CLI, "db", "upgrade", tenant_postgres.url("mls_migrated", migrated_password)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    with tenant_postgres.superuser_connect() as conn:
        copied = schema_snapshot(conn, "mls_copy")
        migrated = schema_snapshot(conn, "mls_migrated")
        assert len(copied["tables"]) > 50 and len(copied["indexes"]) > 100 and copied["triggers"]
        migrated["constraints"] = reread_checks(conn, "mls_migrated", migrated["constraints"])
        for part in migrated:
            assert copied[part] == migrated[part], part
        # the comparison is able to fail: take one index away
        conn.execute("DROP INDEX mls_copy.index_metrics_run_uuid")
        assert schema_snapshot(conn, "mls_copy")["indexes"] != migrated["indexes"]
        conn.rollback()


def test_mlflow_logs_runs_and_models_into_a_copy(pg_module, tenant_postgres, make_tenant):
    password = make_tenant("mls_logger")
    assert pg_module("mlflow_schema", passwords=PASSWORDS, tenant="mls_logger", mlflow_version=MLFLOW_VERSION)["created"] == ["mls_logger"]
    from mlflow.tracking import MlflowClient

    url = tenant_postgres.url("mls_logger", password)
    client = MlflowClient(tracking_uri=url, registry_uri=url)
    experiment_id = client.create_experiment("training", artifact_location="s3://mlflow/mls_logger/training")
    run = client.create_run(experiment_id, tags={"team": "energy"})
    client.log_param(run.info.run_id, "learning_rate", "0.01")
    for step, loss in enumerate([0.9, 0.5, 0.2]):
        client.log_metric(run.info.run_id, "loss", loss, step=step)
    client.set_terminated(run.info.run_id)
    client.create_registered_model("load-forecaster")
    version = client.create_model_version("load-forecaster", source=run.info.artifact_uri + "/model",
                                          run_id=run.info.run_id)

    fetched = client.get_run(run.info.run_id)
    assert fetched.data.params == {"learning_rate": "0.01"}
    assert fetched.data.metrics == {"loss": 0.2} and fetched.data.tags["team"] == "energy"
    assert fetched.info.artifact_uri.startswith("s3://mlflow/mls_logger/training/")
    assert [h.value for h in client.get_metric_history(run.info.run_id, "loss")] == [0.9, 0.5, 0.2]
    assert client.get_model_version("load-forecaster", version.version).run_id == run.info.run_id
    with tenant_postgres.superuser_connect() as conn:  # stored in the tenant's schema, nowhere else
        assert conn.execute("SELECT count(*) FROM mls_logger.runs").fetchone()[0] == 1
        assert conn.execute("SELECT name FROM mls_logger.registered_models").fetchall() == [("load-forecaster",)]
        assert conn.execute("SELECT count(*) FROM workbench_mlflow_template.runs").fetchone()[0] == 0


def older_revision(steps=6):
    graph = logic.revision_graph()
    revision = logic.head_revision(graph)
    for _ in range(steps):
        revision = graph[revision][0]
    return revision


def test_older_schema_is_upgraded_with_rows_kept(pg_module, tenant_postgres, make_tenant):
    password = make_tenant("mls_old")
    old = older_revision()
    # an MLflow of a few releases ago left this tenant at revision `old`
    from alembic import command
    from mlflow.store.db.utils import _get_alembic_config
    from mlflow.store.tracking.dbmodels.initial_models import Base as InitialBase
    admin_url = tenant_postgres.url(tenant_postgres.admin_user, tenant_postgres.admin_password)
    engine = logic.sqlalchemy_engine(admin_url, "mls_old", role="mls_old")
    InitialBase.metadata.create_all(engine)
    config = _get_alembic_config(str(engine.url))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, old)
    engine.dispose()
    with tenant_postgres.connect("mls_old", password) as conn:
        conn.execute("INSERT INTO experiments (name, artifact_location, lifecycle_stage) "
                     "VALUES ('before-upgrade', 's3://mlflow/mls_old/1', 'active')")
        conn.execute("INSERT INTO experiment_tags (key, value, experiment_id) "
                     "SELECT 'owner', 'mls_old', experiment_id FROM experiments")
    assert revision_of(tenant_postgres, "mls_old") == old

    checked = pg_module("mlflow_schema", passwords=PASSWORDS, check=True, tenant="mls_old", mlflow_version=MLFLOW_VERSION)
    assert checked["upgraded"] == ["mls_old"] and revision_of(tenant_postgres, "mls_old") == old
    upgraded = pg_module("mlflow_schema", passwords=PASSWORDS, tenant="mls_old", mlflow_version=MLFLOW_VERSION)
    assert upgraded["changed"] and upgraded["upgraded"] == ["mls_old"], upgraded
    assert revision_of(tenant_postgres, "mls_old") == upgraded["revision"] != old
    with tenant_postgres.superuser_connect() as conn:
        assert conn.execute("SELECT e.name, t.value FROM mls_old.experiments e "
                            "JOIN mls_old.experiment_tags t USING (experiment_id)").fetchall() == \
            [("before-upgrade", "mls_old")]
        owners = conn.execute("SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class "
                              "WHERE relnamespace = 'mls_old'::regnamespace").fetchall()
    assert owners == [("mls_old",)]
    from mlflow.tracking import MlflowClient
    url = tenant_postgres.url("mls_old", password)
    assert MlflowClient(tracking_uri=url).get_experiment_by_name("before-upgrade").tags == {"owner": "mls_old"}
    assert pg_module("mlflow_schema", passwords=PASSWORDS, tenant="mls_old", mlflow_version=MLFLOW_VERSION)["changed"] is False


def test_stale_template_is_rebuilt_before_a_copy(pg_module, tenant_postgres, make_tenant):
    """MLflow's head moved since the template was built (simulated: the template
    is put back at an older revision, with an older shape): the next new tenant
    gets the head DDL, not the stale copy."""
    make_tenant("mls_fresh_ref")
    make_tenant("mls_after_move")
    assert not pg_module("mlflow_schema", passwords=PASSWORDS, tenant="mls_fresh_ref", mlflow_version=MLFLOW_VERSION).get("failed")
    template = logic.TEMPLATE_SCHEMA
    with tenant_postgres.superuser_connect() as conn:
        conn.execute("UPDATE %s.alembic_version SET version_num = %%s" % template, (older_revision(),))
        conn.execute("DROP INDEX %s.index_metrics_run_uuid" % template)
        conn.execute("CREATE TABLE %s.left_by_an_older_mlflow (x int)" % template)

    moved = pg_module("mlflow_schema", passwords=PASSWORDS, tenant="mls_after_move", mlflow_version=MLFLOW_VERSION)
    assert moved["changed"] and moved["template_rebuilt"] is True, moved
    assert moved["created"] == ["mls_after_move"]
    head = moved["revision"]
    assert revision_of(tenant_postgres, "mls_after_move") == head == revision_of(tenant_postgres, template)
    with tenant_postgres.superuser_connect() as conn:
        assert schema_snapshot(conn, "mls_after_move") == schema_snapshot(conn, "mls_fresh_ref")


def test_refusals_change_nothing(pg_module, tenant_postgres, make_tenant):
    password = make_tenant("mls_foreign")
    with tenant_postgres.connect("mls_foreign", password) as conn:
        conn.execute("CREATE TABLE my_own_table (x int)")

    mismatch = pg_module("mlflow_schema", passwords=PASSWORDS, tenant="mls_foreign", mlflow_version="3.16.0")
    assert mismatch.get("failed") and "mlflow_version is 3.16.0" in mismatch["msg"]
    assert "installed here is %s" % MLFLOW_VERSION in mismatch["msg"]

    foreign = pg_module("mlflow_schema", passwords=PASSWORDS, tenant="mls_foreign", mlflow_version=MLFLOW_VERSION)
    assert foreign.get("failed") and "not an MLflow schema" in foreign["msg"], foreign
    missing = pg_module("mlflow_schema", passwords=PASSWORDS, tenants=["mls_nobody"], mlflow_version=MLFLOW_VERSION)
    assert missing.get("failed") and "schema mls_nobody does not exist" in missing["msg"]
    # in check mode pg_tenant made no schema for a new user: a preview, not an error
    previewed = pg_module("mlflow_schema", check=True, passwords=PASSWORDS, tenants=["mls_nobody"],
                          mlflow_version=MLFLOW_VERSION)
    assert previewed["changed"] and previewed["created"] == ["mls_nobody"], previewed
    assert previewed["queries"] == ["would copy workbench_mlflow_template into schema mls_nobody (once its tenant is made)"]
    hostile = pg_module("mlflow_schema", passwords=PASSWORDS, tenants=["mls_fine", "x; DROP SCHEMA public"], mlflow_version=MLFLOW_VERSION)
    assert hostile.get("failed") and hostile["msg"].startswith("user name 'x; DROP SCHEMA public'")
    with tenant_postgres.superuser_connect() as conn:
        assert conn.execute("SELECT count(*) FROM pg_class WHERE relnamespace = 'mls_foreign'::regnamespace"
                            ).fetchone()[0] == 1
    assert os.environ.get("MLFLOW_TRACKING_URI") is None  # nothing here leaned on a global tracking URI
