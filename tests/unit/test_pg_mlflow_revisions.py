"""mlflow_schema reads MLflow's revision graph from the migration scripts (milliseconds)
instead of asking alembic (seconds: it imports every script). Both must agree."""
from alembic.config import Config
from alembic.script import ScriptDirectory

from ansible_collections.enertef.workbench.plugins.module_utils import mlflow_schema


def test_revision_graph_and_head_match_alembic():
    directory = mlflow_schema.migrations_dir()
    config = Config()
    config.set_main_option("script_location", directory.rsplit("/versions", 1)[0])
    script = ScriptDirectory.from_config(config)
    graph = mlflow_schema.revision_graph(directory)
    assert mlflow_schema.head_revision(graph) == script.get_current_head()
    assert set(graph) == set(rev.revision for rev in script.walk_revisions())
    for rev in script.walk_revisions():
        assert graph[rev.revision] == tuple(rev._all_down_revisions), rev.revision


def test_head_needs_exactly_one_head():
    assert mlflow_schema.head_revision({"a": (), "b": ("a",)}) == "b"
    for broken in ({"a": (), "b": ("a",), "c": ("a",)}, {}):
        try:
            mlflow_schema.head_revision(broken)
        except mlflow_schema.MlflowSchemaError as err:
            assert "heads" in str(err)
        else:
            raise AssertionError("no error for %r" % broken)
