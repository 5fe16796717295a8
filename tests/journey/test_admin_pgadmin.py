"""The admin's view of the researchers' day: pgAdmin 4 as the pgadmin role deploys it.

Real PostgreSQL 18 with the tenants the users role provisions (alice and carol in
group vision); the secrets role generates the admin login (its credentials
file, rendered into the ``workbench-pgadmin`` Secret by its own template); the
pgadmin role's Deployment and ConfigMap are rendered by Ansible's templar.
pgAdmin 4 (PyPI, its own venv) is started with that Deployment's environment,
the Secret's values put in where it says ``secretKeyRef``, and the ConfigMap's
servers.json, the way the image's entrypoint starts it (tests/tools/pgadmin_local.py).
Only Kubernetes is replaced: the Service name ``postgres`` in servers.json is
the TCP forwarder to the test server's unix socket (tests/fixtures/hub.py).

Headless Chromium logs in with the generated login, finds "Workbench PostgreSQL",
is asked for its password, connects and sees the tenants' schemas.
Screenshots: test-artifacts/journey-pgadmin-*.png.
"""
import contextlib
import json
import pathlib
import sys

import pytest
import yaml

from _render import all_documents, find, render_role, render_template
from fixtures.hub import decoded_data, postgres_service
from fixtures.jupyter import ARTIFACTS
from fixtures.playbook import run_playbook
from fixtures.postgres import running_postgres
from fixtures.tenants import provision_users

from ansible_collections.enertef.workbench.plugins.module_utils import tenant

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tools"))
from pgadmin_local import running_pgadmin  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
SECRETS_PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - enertef.workbench.secrets
"""


def container_env(deployment, secrets):
    """The pgadmin container's environment as the kubelet resolves it (secretKeyRef from ``secrets``)."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = decoded_data(secrets[ref["name"]])[ref["key"]]
    return env


@pytest.fixture(scope="module")
def admin_view(seaweedfs, tmp_path_factory):
    with running_postgres() as postgres_server:  # its own: only the tenants provisioned here
        yield from admin_view_on(postgres_server, seaweedfs, tmp_path_factory)


def admin_view_on(postgres_server, seaweedfs, tmp_path_factory):
    users = [{"name": "alice", "groups": ["vision"]}, {"name": "carol", "groups": ["vision"]}]
    provision_users(postgres_server, seaweedfs, tmp_path_factory.mktemp("pgadmin-users"), users)
    state = tmp_path_factory.mktemp("pgadmin-state")
    result = run_playbook(SECRETS_PLAY, state, extra_vars={"workbench_state_dir": str(state),
                                                           "secrets_apply_to_cluster": False})
    assert result.rc == 0, result
    credentials = yaml.safe_load((state / "credentials.yml").read_text())
    secrets = {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all(render_template(
        "secrets", "secrets.yaml.j2", {"secrets_credentials": credentials})) if doc}
    docs = all_documents(render_role("pgadmin"))
    env = container_env(find(docs, "Deployment", "pgadmin"), secrets)
    servers = json.loads(find(docs, "ConfigMap", "pgadmin-servers")["data"]["servers.json"])
    with postgres_service(postgres_server.socket_dir, postgres_server.port) as service:
        for server in servers["Servers"].values():
            assert (server["Host"], server["Port"]) == ("postgres", 5432), server  # the Service
            server["Host"], server["Port"] = service.host, service.port
        with running_pgadmin(state / "pgadmin", env, json.dumps(servers)) as url:
            yield {"url": url, "email": env["PGADMIN_DEFAULT_EMAIL"], "password": env["PGADMIN_DEFAULT_PASSWORD"],
                   "db_password": postgres_server.admin_password, "db_user": postgres_server.admin_user,
                   "credentials": credentials}


def expand(page, label, child, timeout=30_000):
    """Open tree node ``label`` (double click) unless ``child`` shows already; wait for ``child``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    node = page.get_by_text(child, exact=True).first
    page.get_by_text(label, exact=True).first.wait_for(timeout=timeout)
    with contextlib.suppress(PlaywrightTimeout):
        node.wait_for(timeout=3000)
        return
    page.get_by_text(label, exact=True).first.dblclick()
    node.wait_for(timeout=timeout)


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / ("journey-pgadmin-%s.png" % name)))


def test_the_admin_logs_in_to_pgadmin_connects_and_sees_the_tenant_schemas(admin_view):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    assert admin_view["email"] == admin_view["credentials"]["pgadmin_email"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(admin_view["url"] + "/login")
            page.fill("input[name=email]", admin_view["email"])
            page.fill("input[name=password]", admin_view["password"] + "x")
            page.keyboard.press("Enter")
            page.get_by_text("Incorrect username or password").first.wait_for(timeout=30_000)
            page.fill("input[name=email]", admin_view["email"])
            page.fill("input[name=password]", admin_view["password"])
            page.keyboard.press("Enter")
            try:
                page.get_by_text("Servers", exact=True).first.wait_for(timeout=120_000)
                expand(page, "Servers", "Workbench")
                expand(page, "Workbench", "Workbench PostgreSQL")
                shot(page, "01-servers")
                dialog = page.get_by_text("Connect to Server")
                with contextlib.suppress(PlaywrightTimeout):  # selecting the server opens it, or a click does
                    dialog.wait_for(timeout=10_000)
                if not dialog.is_visible():
                    page.get_by_text("Workbench PostgreSQL", exact=True).first.dblclick()
                dialog.wait_for(timeout=30_000)
                assert "Please enter the password for the user '%s'" % admin_view["db_user"] in page.inner_text("body")
                shot(page, "02-password-asked")
                page.locator("input[type=password]:visible").first.fill(admin_view["db_password"])
                page.locator("button:visible", has_text="OK").last.click()
                expand(page, "Databases", "mlflow", timeout=60_000)
                expand(page, "mlflow", "Schemas")
                expand(page, "Schemas", tenant.tenant_for("alice")["pg_schema"])
                for name, kind in (("alice", "user"), ("carol", "user"), ("vision", "group")):
                    page.get_by_text(tenant.tenant_for(name, kind=kind)["pg_schema"], exact=True).first.wait_for(
                        timeout=30_000)
            finally:
                shot(page, "03-schemas")
        finally:
            browser.close()
