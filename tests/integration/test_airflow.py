"""Airflow for real where it can run here.

1. The role's database tasks against a real PostgreSQL 18 (session server): Airflow
   gets its own login role and database; PUBLIC (so every workbench tenant) may not
   connect to it; Airflow's role cannot reach the tenants' database either; a rerun
   changes nothing. (The workbench's admin login only has CREATEROLE in the test
   server, so the server's superuser stands in for the in-cluster admin, who is one.)
2. A DAG from a test project repository, cloned by the pods' own repository code,
   parsed by Airflow's DagBag. apache-airflow is installed into a separate throwaway
   venv (never this one: its pins conflict with mlflow/jupyterhub) with every package
   pinned by tests/integration/airflow-constraints.txt; measured here: about 30-40 s
   with pip's cache warm, 6 minutes cold on a loaded machine (hence the 15-minute limit).
"""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap
import time

import psycopg
import pytest

from fixtures.playbook import run_playbook
from workbench_launchers import repos

pytestmark = pytest.mark.integration

AIRFLOW_VERSION = "3.3.2"
CONSTRAINTS = pathlib.Path(__file__).with_name("airflow-constraints.txt")
DB_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Airflow's database password (generated on the controller)
      ansible.builtin.include_role:
        name: enertef.workbench.airflow
        tasks_from: password.yml
    - name: Airflow's database on the workbench PostgreSQL
      ansible.builtin.include_role:
        name: enertef.workbench.airflow
        tasks_from: database.yml
"""


@pytest.fixture(scope="module")
def airflow_database(postgres_server, tmp_path_factory):
    state = tmp_path_factory.mktemp("airflow-state")
    variables = {
        "workbench_state_dir": str(state),
        "airflow_postgres_admin_unix_socket": postgres_server.socket_dir,
        "airflow_postgres_admin_port": postgres_server.port,
        "airflow_postgres_admin_user": postgres_server.superuser,
        "airflow_postgres_admin_password": postgres_server.superuser_password,
    }
    first = run_playbook(DB_PLAY, state, extra_vars=variables)
    second = run_playbook(DB_PLAY, state, extra_vars=variables)
    password = (state / "airflow-db-password").read_text().strip()
    return first, second, password, state


def test_airflow_gets_its_own_database_and_role(airflow_database, postgres_server):
    first, second, password, state = airflow_database
    assert first.rc == 0 and first.changed >= 2, first
    assert second.rc == 0 and second.changed == 0, "rerun changed something: %r" % second
    assert oct((state / "airflow-db-password").stat().st_mode & 0o777) == "0o600"
    assert len(password) >= 32
    with postgres_server.connect("airflow", password, dbname="airflow") as conn:
        conn.execute("CREATE TABLE dag_probe (id int)")  # it owns its database
        assert conn.execute("SELECT current_user").fetchone()[0] == "airflow"
    # the tenants' database: whether a login may CONNECT is the postgres role's rule for every role;
    # Airflow's role at least cannot create anything there
    try:
        with postgres_server.connect("airflow", password, dbname="mlflow") as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("CREATE TABLE public.airflow_probe (id int)")
    except psycopg.OperationalError as refused:
        assert "permission denied" in str(refused)
    with postgres_server.superuser_connect(dbname="airflow") as conn:
        owner, public_connect = conn.execute(
            "SELECT pg_get_userbyid(datdba), has_database_privilege('public', 'airflow', 'CONNECT') "
            "FROM pg_database WHERE datname = 'airflow'").fetchone()
        assert owner == "airflow" and public_connect is False
        flags = conn.execute("SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
                             "WHERE rolname = 'airflow'").fetchone()
        assert flags == (False, False, False)


def test_wrong_admin_password_fails_without_changes(postgres_server, tmp_path):
    result = run_playbook(DB_PLAY, tmp_path, extra_vars={
        "workbench_state_dir": str(tmp_path), "airflow_db_user": "airflow_other", "airflow_database": "airflow_other",
        "airflow_postgres_admin_unix_socket": postgres_server.socket_dir,
        "airflow_postgres_admin_port": postgres_server.port,
        "airflow_postgres_admin_user": postgres_server.superuser,
        "airflow_postgres_admin_password": "not-" + postgres_server.superuser_password})
    assert result.rc != 0
    with postgres_server.superuser_connect() as conn:
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'airflow_other'").fetchone()[0] == 0


DAG = textwrap.dedent('''\
    import datetime

    from airflow.sdk import dag, task


    @dag(schedule=None, start_date=datetime.datetime(2026, 1, 1), catchup=False, tags=["workbench"])
    def train_pipeline():
        @task
        def preprocess():
            return {"rows": 150}

        @task
        def train(data):
            import mlflow  # logs to the pipeline tenant in the cluster (MLFLOW_* from its Secret)
            return data["rows"]

        train(preprocess())


    train_pipeline()
    ''')


@pytest.fixture(scope="module")
def airflow_python(tmp_path_factory):
    """python of a throwaway venv with apache-airflow (fails the test if it cannot install in 15 min)."""
    assert "\napache-airflow==%s\n" % AIRFLOW_VERSION in CONSTRAINTS.read_text(), "constraints are for another Airflow"
    venv = tmp_path_factory.mktemp("airflow-venv")
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    out = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                          "--constraint", str(CONSTRAINTS), "apache-airflow==%s" % AIRFLOW_VERSION],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    print("apache-airflow %s installed in %.0f s" % (AIRFLOW_VERSION, time.monotonic() - started))
    return venv / "bin" / "python"


def test_dag_from_the_project_repository_parses_with_dagbag(airflow_python, tmp_path):
    # the project repository, as the homes and git-sync get it
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(git + ["init", "--quiet", "--initial-branch=main", str(upstream)], check=True)
    (upstream / "dags").mkdir()
    (upstream / "dags" / "airflow_kubernetes_DAG.py").write_text(DAG)
    (upstream / "dags" / "broken_DAG.py").write_text("from airflow.sdk import dag\nthis is not python\n")
    subprocess.run(git + ["-C", str(upstream), "add", "."], check=True)
    subprocess.run(git + ["-C", str(upstream), "commit", "--quiet", "-m", "dags"], check=True)
    home = tmp_path / "home"
    home.mkdir()
    [(_, action, message)] = repos.sync_all(repos.parse_entries(json.dumps(
        [{"url": upstream.as_uri(), "target": "mlops-airflow-DAGs"}])), str(home))
    assert action == "cloned", message

    script = textwrap.dedent('''\
        import json, sys
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder=sys.argv[1])
        print(json.dumps({"dags": {d: sorted(t.task_id for t in bag.dags[d].tasks) for d in bag.dag_ids},
                          "errors": sorted(bag.import_errors)}))
        ''')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "airflow-home"), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    out = subprocess.run([str(airflow_python), "-c", script, str(home / "mlops-airflow-DAGs" / "dags")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["dags"] == {"train_pipeline": ["preprocess", "train"]}
    # the broken file is reported, not silently dropped
    assert [pathlib.Path(p).name for p in result["errors"]] == ["broken_DAG.py"]
    shutil.rmtree(tmp_path / "airflow-home", ignore_errors=True)
