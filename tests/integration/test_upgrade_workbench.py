"""playbooks/upgrade-workbench.yml on real servers (PostgreSQL 18, SeaweedFS, MLflow 3.17.2).

Tenants with MLflow data (logged by a real MLflow client) are taken back to an
older schema revision with MLflow's own alembic downgrade, as an MLflow of a few
releases ago would have left them. The upgrade path backs up first, migrates
every tenant to the pinned head (row counts of every table equal before and
after), and verifies each tenant; a tenant it cannot migrate stops the run with
the backup's location. Building the image and the chart upgrade need a cluster
and are switched off here (upgrade_workbench_build_image/charts=false).
"""
import pytest

from fixtures.day2 import assert_ok, counts, snapshot, workbench_with_data
from ansible_collections.enertef.workbench.plugins.module_utils import mlflow_schema as logic

pytestmark = pytest.mark.integration

USERS = [{"name": "up_ann", "groups": ["upteam"]}, "up_ben"]
SCHEMAS = ["up_ann", "up_ben", "group_upteam"]
STEPS_BACK = 3


def downgrade(pg, schema, revision):
    from alembic import command
    from mlflow.store.db.utils import _get_alembic_config
    engine = logic.sqlalchemy_engine(pg.url(pg.admin_user, pg.admin_password), schema, role=schema)
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


def row_counts(pg, schema):
    with pg.admin_connect() as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (schema,)).fetchall()]
        return {t: conn.execute('SELECT count(*) FROM "%s"."%s"' % (schema, t)).fetchone()[0]
                for t in tables if t != "alembic_version"}


@pytest.fixture(scope="module")
def old_workbench(seaweedfs, tmp_path_factory):
    with workbench_with_data(seaweedfs, tmp_path_factory, USERS, "upgrade") as bench:
        graph = logic.revision_graph()
        old = logic.head_revision(graph)
        for dummy in range(STEPS_BACK):
            old = graph[old][0]
        for schema in SCHEMAS:
            downgrade(bench.pg, schema, old)
        yield bench, old


def upgrade_vars(bench, dest, **extra):
    values = dict(workbench_users=USERS, backup_dest=str(dest), health_urls=[],
                  upgrade_workbench_build_image=False, upgrade_workbench_charts=False)
    values.update(extra)
    return values


def test_upgrade_migrates_every_tenant_with_rows_kept(old_workbench, tmp_path):
    bench, old = old_workbench
    pg = bench.pg
    head = logic.head_revision(logic.revision_graph())
    assert all(revision(pg, s) == old for s in SCHEMAS) and old != head
    before = {s: row_counts(pg, s) for s in SCHEMAS}
    assert before["up_ann"]["runs"] == 2 and before["up_ann"]["metrics"] == 6

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
        after = row_counts(pg, schema)
        assert {t: n for t, n in after.items() if t in before[schema]} == before[schema], schema
    report = [r for n, _, r in result.task_results() if n == "Report each component and tenant"][0]["msg"]
    assert any(line.startswith("tenant up_ann: healthy") for line in report), report
    shot = snapshot(bench, "up_ann", tmp_path / "snap")
    assert counts(shot)["runs"] == 2 and counts(shot)["artifacts"] == 4


def test_failed_upgrade_stops_with_the_backup_location(old_workbench, tmp_path):
    bench, dummy = old_workbench
    with bench.pg.admin_connect() as conn:  # a schema left by an MLflow newer than the pin
        conn.execute("UPDATE up_ben.alembic_version SET version_num = 'f00000000000'")
    dest = tmp_path / "backups"
    dest.mkdir()
    try:
        result = bench.play("upgrade-workbench", **upgrade_vars(bench, dest))
    finally:
        with bench.pg.admin_connect() as conn:
            conn.execute("UPDATE up_ben.alembic_version SET version_num = %s",
                         (logic.head_revision(logic.revision_graph()),))
    assert result.rc != 0
    (backup,) = list(dest.iterdir())
    message = " ".join(result.failure_messages)
    assert "The upgrade failed at" in message and "f00000000000" in message, result
    assert "restore_path=%s" % backup in message, result
