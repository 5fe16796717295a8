"""playbooks/upgrade-workbench.yml on real servers (PostgreSQL 18, SeaweedFS, MLflow 3.17.2).

Tenants with MLflow data (logged by a real MLflow client) are taken back to an
older schema revision with MLflow's own alembic downgrade, as an MLflow of a few
releases ago would have left them (before each test: no test depends on
another's leftovers). The upgrade path backs up first, migrates every tenant to
the pinned head (every row's values in the columns that existed before are
equal, and MLflow shows each tenant exactly what it showed before the
downgrade: runs, params, metric histories, tags, models, artifact checksums),
and verifies each tenant; a tenant it cannot migrate stops the run with the
backup's location. Building the image and the chart upgrade need a cluster
and are switched off here (upgrade_workbench_build_image/charts=false).
"""
import pytest
from psycopg import sql

from fixtures.day2 import assert_ok, counts, snapshot, workbench_with_data
from ansible_collections.enertef.workbench.plugins.module_utils import mlflow_schema as logic

pytestmark = pytest.mark.integration

USERS = [{"name": "up_ann", "groups": ["upteam"]}, "up_ben"]
SCHEMAS = ["up_ann", "up_ben", "group_upteam"]
STEPS_BACK = 3


def table_owner(pg, schema):
    """Who owns the schema's MLflow tables (a group's are owned by its owner role, not the group)."""
    with pg.admin_connect() as conn:
        # the catalog by name: to_regclass would need USAGE on the schema
        return conn.execute("SELECT pg_get_userbyid(c.relowner) FROM pg_class c JOIN pg_namespace n "
                            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = 'alembic_version'",
                            (schema,)).fetchone()[0]


def downgrade(pg, schema, revision):
    from alembic import command
    from mlflow.store.db.utils import _get_alembic_config
    engine = logic.sqlalchemy_engine(pg.url(pg.admin_user, pg.admin_password), schema,
                                     role=table_owner(pg, schema))
    config = _get_alembic_config(str(engine.url))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
    finally:
        engine.dispose()


def revision(pg, schema):
    with pg.admin_connect() as conn:
        return conn.execute('SELECT version_num FROM "%s".alembic_version' % schema).fetchone()[0]


def table_rows(pg, schema, columns_of=None):
    """{table: sorted rows} of every table but alembic_version; ``columns_of`` ({table: [column]})
    limits each table to those columns (the ones that existed before the upgrade)."""
    with pg.admin_connect() as conn:
        columns = {}
        for table, column in conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s "
                "AND table_name <> 'alembic_version' ORDER BY table_name, ordinal_position", (schema,)):
            columns.setdefault(table, []).append(column)
        if columns_of is not None:
            columns = {t: [c for c in columns_of[t] if c in columns.get(t, [])] for t in columns_of}
        return {t: sorted(conn.execute(sql.SQL("SELECT {} FROM {}").format(
            sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in cs),
            sql.Identifier(schema, t))).fetchall(), key=repr) for t, cs in columns.items()}, columns


@pytest.fixture(scope="module")
def workbench_and_snapshots(seaweedfs, tmp_path_factory):
    """The tenants with data at head, and what MLflow shows each of them (before any downgrade)."""
    with workbench_with_data(seaweedfs, tmp_path_factory, USERS, "upgrade") as bench:
        shots = {user: snapshot(bench, user, tmp_path_factory.mktemp("before")) for user in ("up_ann", "up_ben")}
        yield bench, shots


@pytest.fixture
def old_workbench(workbench_and_snapshots):
    """The tenants taken back STEPS_BACK revisions (again for every test, from wherever they are)."""
    bench, shots = workbench_and_snapshots
    graph = logic.revision_graph()
    old = logic.head_revision(graph)
    for dummy in range(STEPS_BACK):
        old = graph[old][0]
    for schema in SCHEMAS:
        downgrade(bench.pg, schema, old)
    return bench, old, shots


def upgrade_vars(bench, dest, **extra):
    values = dict(workbench_users=USERS, backup_dest=str(dest), health_urls=[],
                  upgrade_workbench_build_image=False, upgrade_workbench_charts=False)
    values.update(extra)
    return values


def test_upgrade_migrates_every_tenant_with_rows_kept(old_workbench, tmp_path):
    bench, old, shots = old_workbench
    pg = bench.pg
    head = logic.head_revision(logic.revision_graph())
    assert all(revision(pg, s) == old for s in SCHEMAS) and old != head
    before = {s: table_rows(pg, s) for s in SCHEMAS}
    assert len(before["up_ann"][0]["runs"]) == 2 and len(before["up_ann"][0]["metrics"]) == 6

    dest = tmp_path / "backups"
    dest.mkdir()
    checked = bench.play("upgrade-workbench", check=True, **upgrade_vars(bench, dest))
    assert checked.rc == 0, checked
    assert all(revision(pg, s) == old for s in SCHEMAS) and list(dest.iterdir()) == []

    result = bench.play("upgrade-workbench", **upgrade_vars(bench, dest))
    assert_ok(result)
    assert len(list(dest.iterdir())) == 1  # the backup came first
    for schema in SCHEMAS:
        assert revision(pg, schema) == head, schema
        rows_before, columns_before = before[schema]
        rows_after, dummy = table_rows(pg, schema, columns_of=columns_before)
        for table in rows_before:  # every value kept, not only the number of rows
            assert rows_after[table] == rows_before[table], (schema, table)
    report = [r for n, _, r in result.task_results() if n == "Report each component and tenant"][0]["msg"]
    assert any(line.startswith("tenant up_ann: healthy") for line in report), report
    for user, shot in shots.items():
        after = snapshot(bench, user, tmp_path / ("snap-" + user))
        assert counts(after)["runs"] == 2 and counts(after)["artifacts"] == 4
        assert after == shot, user


def test_failed_upgrade_stops_with_the_backup_location(old_workbench, tmp_path):
    bench, old, dummy = old_workbench
    with bench.pg.admin_connect() as conn:  # a schema left by an MLflow newer than the pin
        conn.execute("UPDATE up_ben.alembic_version SET version_num = 'f00000000000'")
    dest = tmp_path / "backups"
    dest.mkdir()
    try:
        result = bench.play("upgrade-workbench", **upgrade_vars(bench, dest))
    finally:
        with bench.pg.admin_connect() as conn:
            conn.execute("UPDATE up_ben.alembic_version SET version_num = %s", (old,))
    assert result.rc != 0
    (backup,) = list(dest.iterdir())
    message = " ".join(result.failure_messages)
    assert "The upgrade failed at" in message and "f00000000000" in message, result
    assert "restore_path=%s" % backup in message, result
