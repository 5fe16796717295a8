"""Every example notebook runs top to bottom (nbclient) in alice's pod environment,
logging to her real PostgreSQL schema and SeaweedFS prefix (and her group's), and
what it logged is checked through the MLflow server behind the Jupyter proxy."""
import json
import pathlib
import urllib.parse

import time

import pytest

from fixtures.jupyter import SCRIPTS, run_notebook, run_start_hook

pytestmark = pytest.mark.integration

NOTEBOOKS = sorted(p.name for p in SCRIPTS.glob("*.ipynb"))


def api(jupyter_server, path, **query):
    status, _, body = jupyter_server.get(
        "mlflow/api/2.0/mlflow/%s?%s" % (path, urllib.parse.urlencode(query)))
    assert status == 200, body
    return json.loads(body)


def test_every_example_notebook_is_tested():
    assert NOTEBOOKS == ["01_train_track_register.ipynb", "02_group_experiment.ipynb"]


@pytest.fixture(scope="module")
def trained(example_run):
    return example_run


def test_train_notebook_logs_run_metrics_artifact_and_model(trained, jupyter_server, researcher):
    experiment = api(jupyter_server, "experiments/get-by-name", experiment_name="workbench-examples")
    experiment = experiment["experiment"]
    assert experiment["artifact_location"].startswith("s3://mlflow/alice/")
    status, _, body = jupyter_server.get(
        "mlflow/api/2.0/mlflow/runs/search", method="POST",
        data=json.dumps({"experiment_ids": [experiment["experiment_id"]]}).encode(),
        headers={"Content-Type": "application/json"})
    runs = json.loads(body)["runs"]
    assert status == 200 and len(runs) == 1
    run = runs[0]
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    assert params["epochs"] == "15" and params["loss"] == "log_loss"
    history = api(jupyter_server, "metrics/get-history", run_id=run["info"]["run_id"], metric_key="test_accuracy")
    assert len(history["metrics"]) == 15
    assert history["metrics"][-1]["value"] > 0.6

    # The plot and the model are objects under alice's prefix, readable with her keys.
    artifact_root = run["info"]["artifact_uri"]
    assert artifact_root.startswith("s3://mlflow/alice/")
    prefix = artifact_root[len("s3://mlflow/"):] + "/"
    keys = [o["Key"] for o in researcher.s3().list_objects_v2(Bucket="mlflow", Prefix=prefix).get("Contents", [])]
    assert prefix + "plots/training_curve.png" in keys
    png = researcher.s3().get_object(Bucket="mlflow", Key=prefix + "plots/training_curve.png")["Body"].read()
    assert png.startswith(b"\x89PNG")
    # ... and the MLflow UI serves the plot through the proxy
    status, _, served = jupyter_server.get("mlflow/get-artifact?path=plots/training_curve.png&run_uuid=%s"
                                           % run["info"]["run_id"])
    assert status == 200 and served == png

    versions = api(jupyter_server, "registered-models/get", name="workbench-example-classifier")
    latest = versions["registered_model"]["latest_versions"]
    assert latest and latest[0]["run_id"] == run["info"]["run_id"]

    # the last cell loaded the registered model back and printed its predictions
    last_output = "".join(o.get("text", "") for o in trained.cells[-1].outputs)
    assert "workbench-example-classifier version" in last_output and "predicts" in last_output


def test_train_notebook_writes_tensorboard_events_that_tensorboard_serves(trained, jupyter_server):
    run_dir = jupyter_server.home / "tensorboard-logs" / "sgd-example"
    assert list(run_dir.rglob("events.out.tfevents.*"))
    # TensorBoard (behind the proxy) reads the same directory
    for _ in range(90):  # TensorBoard rereads its logs every few seconds; slower on a loaded machine
        status, _, body = jupyter_server.get("tensorboard/data/plugin/scalars/tags")
        tags = json.loads(body) if status == 200 else {}
        if "example/test_accuracy" in tags.get("sgd-example", {}) and tags.get("sgd-example/hparams"):
            break
        time.sleep(1)
    assert "example/test_accuracy" in tags.get("sgd-example", {}), tags
    # the hyper-parameters' summary is a run of its own, beside the scalars
    assert "hparam/test_accuracy" in tags.get("sgd-example/hparams", {}), tags


def test_group_notebook_logs_into_the_groups_schema_and_prefix(jupyter_server, researcher):
    notebook = run_notebook(jupyter_server, "02_group_experiment.ipynb")
    printed = "".join(o.get("text", "") for cell in notebook.cells for o in cell.get("outputs", []))
    assert "group ml (schema group_ml" in printed
    assert researcher.env["PGPASSWORD"] not in printed
    with researcher.pg.superuser_connect() as conn:
        rows = conn.execute(
            "SELECT r.name, e.artifact_location FROM group_ml.runs r "
            "JOIN group_ml.experiments e USING (experiment_id) WHERE e.name = 'group-shared-example'").fetchall()
        own = conn.execute("SELECT count(*) FROM alice.experiments WHERE name = 'group-shared-example'").fetchone()[0]
    assert [r[0] for r in rows] == ["from-alice"]
    assert rows[0][1].startswith("s3://mlflow/group_ml/")
    assert own == 0, "group run leaked into alice's own schema"
    listed = researcher.s3().list_objects_v2(Bucket="mlflow", Prefix="group_ml/").get("Contents", [])
    assert any(o["Key"].endswith("notes/who.txt") for o in listed)


def test_start_hook_keeps_the_users_edits(jupyter_server, tmp_path):
    """A second pod start must not overwrite an edited notebook-script."""
    edited = jupyter_server.home / "notebook-scripts" / "tensorboard_logger.py"
    edited.write_text(edited.read_text() + "\n# my own change\n")
    env = dict(jupyter_server.env)
    run_start_hook(env)
    assert edited.read_text().endswith("# my own change\n")
    assert pathlib.Path(str(edited) + ".new").exists()
