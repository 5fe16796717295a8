"""End to end, two tenants made by the users role: a real MLflow 3.17.2 server
running as tenant ivy (her PostgreSQL role, her S3 keys) records a run with
params, metrics, an artifact and a registered model. jack, with his own
credentials, sees none of it in MLflow and cannot fetch ivy's artifact."""
import os
import subprocess

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from fixtures.mlflow_registry import running_mlflow_server


@pytest.fixture
def ivy_server(provision, postgres_server, seaweedfs, tmp_path):
    creds = provision(["ivy", "jack"])
    env = dict(os.environ,
               AWS_ACCESS_KEY_ID=creds["ivy"]["s3_access_key"],
               AWS_SECRET_ACCESS_KEY=creds["ivy"]["s3_secret_key"],
               AWS_DEFAULT_REGION=seaweedfs.region,
               MLFLOW_S3_ENDPOINT_URL=seaweedfs.endpoint)
    arguments = ["--backend-store-uri", postgres_server.url("ivy", creds["ivy"]["db_password"]),
                 "--artifacts-destination", "s3://mlflow/ivy", "--serve-artifacts"]
    # its own process group, stopped also when the start fails (no server left behind)
    with running_mlflow_server(arguments, env, tmp_path / "mlflow.log") as url:
        yield url, creds


@pytest.mark.integration
def test_what_ivy_records_stays_hers(ivy_server, postgres_server, seaweedfs):
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    url, creds = ivy_server
    ivy = MlflowClient(tracking_uri=url)
    experiment_id = ivy.create_experiment("ivy-private")
    run = ivy.create_run(experiment_id)
    run_id = run.info.run_id
    ivy.log_param(run_id, "learning_rate", "0.01")
    ivy.log_metric(run_id, "accuracy", 0.93)
    ivy.log_text(run_id, "only for ivy", "notes/readme.txt")
    ivy.set_terminated(run_id)
    ivy.create_registered_model("ivy-model")
    ivy.create_model_version("ivy-model", "runs:/%s/notes" % run_id, run_id=run_id)

    # ivy's server has it all, and the artifact is under her prefix in the bucket
    seen = ivy.get_run(run_id)
    assert seen.data.params == {"learning_rate": "0.01"} and seen.data.metrics == {"accuracy": 0.93}
    assert [a.path for a in ivy.list_artifacts(run_id, "notes")] == ["notes/readme.txt"]
    assert ivy.get_latest_versions("ivy-model")[0].run_id == run_id
    keys = [o["Key"] for o in seaweedfs.admin_s3().list_objects_v2(Bucket="mlflow", Prefix="ivy/")["Contents"]]
    artifact_key = [k for k in keys if k.endswith("notes/readme.txt") and run_id in k][0]

    # jack's tracking store (his role, his search_path) holds nothing of ivy's
    jack = MlflowClient(tracking_uri=postgres_server.url("jack", creds["jack"]["db_password"]))
    assert "ivy-private" not in [e.name for e in jack.search_experiments()]
    assert jack.search_registered_models() == []
    with pytest.raises(MlflowException) as hidden:
        jack.get_run(run_id)
    assert hidden.value.error_code == "RESOURCE_DOES_NOT_EXIST", hidden.value

    # jack's keys cannot fetch ivy's artifact; ivy's own keys can
    def s3_as(user):
        return boto3.client("s3", endpoint_url=seaweedfs.endpoint, region_name=seaweedfs.region,
                            aws_access_key_id=creds[user]["s3_access_key"],
                            aws_secret_access_key=creds[user]["s3_secret_key"],
                            config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as denied:
        s3_as("jack").get_object(Bucket="mlflow", Key=artifact_key)
    assert denied.value.response["Error"]["Code"] in ("AccessDenied", "403")
    assert s3_as("ivy").get_object(Bucket="mlflow", Key=artifact_key)["Body"].read() == b"only for ivy"


@pytest.mark.integration
def test_a_server_that_never_answers_is_not_left_running(tmp_path):
    """The start fails (here: no answer within 0.2 s): its whole process group is gone afterwards."""
    arguments = ["--backend-store-uri", "sqlite:///%s" % (tmp_path / "mlflow.db")]
    with pytest.raises(RuntimeError, match="did not answer"):
        with running_mlflow_server(arguments, dict(os.environ), tmp_path / "mlflow.log", timeout=0.2):
            pass
    log = (tmp_path / "mlflow.log").read_text()
    pids = [int(p) for p in subprocess.run(["pgrep", "-f", str(tmp_path / "mlflow.db")], capture_output=True,
                                           text=True).stdout.split()]
    assert pids == [], "left running: %s\n%s" % (pids, log[-2000:])
