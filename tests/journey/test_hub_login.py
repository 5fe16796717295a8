"""The hub a researcher logs in to: a real JupyterHub 5.5 behind a real configurable-http-proxy.

The hub is configured exactly as the hub pod is (tests/fixtures/hub.py): the
jupyterhub role's values, ``helm template`` of the z2jh 4.4.0 chart, the
chart's own jupyterhub_config.py running our workbench_hub.configure(c). Only
Kubernetes is mocked: KubeSpawner is replaced by a local-process spawner that
runs the same pre_spawn_hook and whose environment is the decoded data of the
user's Secret as the users role renders it (roles/users/templates/user-secret.yaml.j2).

The users' plan, credentials (with each login password), Secrets and logins
Secret come from the users role's own code (users_plan/users_credentials
filters, its users-manifests.yaml.j2 template), laid out as users_manifests_dir
and as the hub's logins mount (contracts 1 and 4).
"""
import html
import time

import pytest
import requests
import yaml

from _render import render_template_isolated
from fixtures.hub import decoded_data, rendered_secrets, running_hub, server_environment, write_logins

from ansible_collections.enertef.workbench.plugins.filter.users_plan import users_credentials, users_plan
from ansible_collections.enertef.workbench.plugins.module_utils import login, tenant

pytestmark = pytest.mark.integration

# carol and alice share the group vision; bob is the README's plain-string entry;
# erin comes from the CSV file; frank may log in but has no Secret yet.
INVENTORY = [{"name": "alice", "groups": ["vision"]}, {"name": "carol", "groups": ["vision"]}, "bob"]
CSV = "name,groups,state,purge\nerin,,present,\n"
ADMIN = "dora"
NO_SECRET = "frank"
OFFBOARDING_INTERVAL = 2
AUTH_REFRESH_AGE = 3


@pytest.fixture(scope="module")
def workbench(tmp_path_factory):
    """The users role's own manifests template (every present user's Secret + the logins Secret)
    rendered for the plan, laid out as users_manifests_dir and the hub's logins mount."""
    tmp_path = tmp_path_factory.mktemp("hub-login")
    plan = users_plan(INVENTORY + [ADMIN, NO_SECRET], CSV, [ADMIN])
    creds = users_credentials(plan, {}, 32)
    docs = render_template_isolated("users", "users-manifests.yaml.j2", {
        "workbench_state_dir": str(tmp_path), "users_plan": plan, "users_credentials": creds,
        "users_present": [u for u in plan["users"] if u["state"] == "present"]})
    manifests, logins = tmp_path / "manifests", tmp_path / "logins"
    manifests.mkdir()
    logins.mkdir()
    for doc in docs:
        if doc["metadata"]["name"] == login.LOGINS_SECRET:
            for key, value in decoded_data(doc).items():
                (logins / key).write_text(value)
        elif doc["metadata"]["name"] != tenant.tenant_for(NO_SECRET)["k8s_secret"]:  # frank's is not there yet
            (manifests / ("secret-%s.yaml" % doc["metadata"]["name"])).write_text(yaml.safe_dump(doc))
    role_vars = {"workbench_admins": [ADMIN], "jupyterhub_cull_enabled": False,
                 "jupyterhub_offboarding_interval": OFFBOARDING_INTERVAL,
                 "jupyterhub_auth_refresh_age": AUTH_REFRESH_AGE}
    with running_hub(tmp_path, manifests, logins, role_vars) as hub:
        hub.passwords = {name: entry["login_password"] for name, entry in creds.items() if "login_password" in entry}
        hub.logins_dir = logins
        hub.manifests_dir = manifests
        yield hub


class Browser(requests.Session):
    """A cookie-keeping HTTP client that speaks to the hub as a browser does (form login, xsrf)."""

    def __init__(self, hub):
        super().__init__()
        self.hub = hub

    def xsrf(self):
        return self.cookies.get("_xsrf", path="/hub/") or self.cookies.get("_xsrf")

    def login(self, name, password):
        self.get(self.hub.url + "/hub/login")
        return self.post(self.hub.url + "/hub/login?next=", data={"username": name, "password": password,
                                                                  "_xsrf": self.xsrf()}, allow_redirects=False)

    def api(self, method, path, **kwargs):
        headers = {"X-XSRFToken": self.xsrf() or "", "Referer": self.hub.url + "/hub/"}
        return self.request(method, self.hub.url + "/hub/api" + path, headers=headers, **kwargs)

    def logged_in_as(self):
        answer = self.api("GET", "/user")
        return answer.json()["name"] if answer.status_code == 200 else None

    def start_server(self, name):
        return self.api("POST", "/users/%s/server" % name)

    def wait_ready(self, name, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.api("GET", "/users/%s" % name).json()
            server = model.get("servers", {}).get("")
            if server and server.get("ready"):
                return server
            if server is None and not model.get("pending"):
                return None
            time.sleep(0.5)
        raise AssertionError("%s's server was not ready in %ss" % (name, timeout))


def logged_in(hub, name):
    browser = Browser(hub)
    answer = browser.login(name, hub.passwords[name.lower()])
    assert answer.status_code == 302, (answer.status_code, answer.text[-2000:])
    assert browser.logged_in_as() == name.lower()
    return browser


# --- logging in ---------------------------------------------------------------------

def test_alice_logs_in_with_her_own_password_and_gets_her_secret_as_environment(workbench):
    alice = logged_in(workbench, "alice")
    assert alice.start_server("alice").status_code in (201, 202)
    assert alice.wait_ready("alice") is not None, workbench.log.read_text()[-3000:]
    lab = alice.get(workbench.url + "/user/alice/lab")  # through the hub's OAuth, as a browser goes
    assert lab.status_code == 200 and lab.url.endswith("/user/alice/lab"), (lab.status_code, lab.url)
    assert alice.get(workbench.url + "/user/alice/api/status").status_code == 200
    env = server_environment("alice", workbench)
    secret = decoded_data(rendered_secrets(workbench.manifests_dir)[("workbench", "workbench-user-alice")])
    assert set(secret) == set(tenant.SECRET_KEYS)
    assert {key: env.get(key) for key in secret} == secret, "the server's environment is alice's Secret"
    assert env["LOGNAME"] == "alice", "MLflow names the run's creator after LOGNAME"
    carol_secret = decoded_data(rendered_secrets(workbench.manifests_dir)[("workbench", "workbench-user-carol")])
    assert not {value for key, value in carol_secret.items() if "PASSWORD" in key or "SECRET" in key} \
        & set(env.values()), "nothing of carol's credentials"


def test_wrong_or_someone_elses_password_is_refused(workbench):
    for password in (workbench.passwords["alice"] + "x", workbench.passwords["carol"], ""):
        browser = Browser(workbench)
        answer = browser.login("alice", password)
        assert answer.status_code == 403 and "Invalid username or password" in answer.text
        assert browser.logged_in_as() is None


def test_login_is_case_insensitive(workbench):
    assert logged_in(workbench, "Alice").logged_in_as() == "alice"


def test_a_plain_string_user_and_a_csv_only_user_log_in(workbench):
    logged_in(workbench, "bob")
    logged_in(workbench, "erin")


def test_a_bad_name_is_refused_with_the_rule(workbench):
    for name in ("pg_monitor", "al-ice", "Robert'); DROP TABLE x;--"):
        answer = Browser(workbench).login(name, "anything")
        assert answer.status_code == 403
        rule = tenant.name_problem(name.lower())
        assert rule and rule in html.unescape(answer.text), answer.text[-2000:]


def test_a_user_without_secret_cannot_spawn_and_is_told_to_run_users_yml(workbench):
    frank = logged_in(workbench, NO_SECRET)
    frank.start_server(NO_SECRET)
    assert frank.wait_ready(NO_SECRET, timeout=30) is None
    page = frank.get(workbench.url + "/hub/spawn-pending/%s" % NO_SECRET)
    message = "no workbench credentials for frank: run playbooks/users.yml (Secret workbench-user-frank does not exist)"
    assert page.status_code == 500 and message in html.unescape(page.text), page.text[-2000:]
    assert server_environment(NO_SECRET, workbench) is None, "no server process was started"


# --- admins ---------------------------------------------------------------------------

def test_an_admin_manages_servers_but_gets_403_on_another_users_server(workbench):
    dora = logged_in(workbench, ADMIN)
    users = dora.api("GET", "/users")
    assert users.status_code == 200 and "alice" in {u["name"] for u in users.json()}
    assert dora.get(workbench.url + "/hub/admin").status_code == 200
    lab = dora.get(workbench.url + "/user/alice/lab", allow_redirects=True)
    assert lab.status_code == 403, (lab.status_code, lab.url)
    assert dora.api("POST", "/users/alice/tokens", json={"scopes": ["access:servers!user=alice"]}).status_code == 403
    assert dora.api("GET", "/users/alice").json()["admin"] is False


# --- off-boarding ---------------------------------------------------------------------

def test_offboarded_user_is_logged_out_refused_and_their_server_stopped(workbench):
    carol = logged_in(workbench, "carol")
    assert carol.start_server("carol").status_code in (201, 202)
    assert carol.wait_ready("carol") is not None
    dora = logged_in(workbench, ADMIN)
    remaining = {name: password for name, password in workbench.passwords.items() if name != "carol"}
    write_logins(workbench.logins_dir, remaining, admins=[ADMIN])
    started = time.monotonic()
    deadline = started + OFFBOARDING_INTERVAL * 3 + 30
    while time.monotonic() < deadline and dora.api("GET", "/users/carol").json().get("servers"):
        time.sleep(0.5)
    assert not dora.api("GET", "/users/carol").json().get("servers"), workbench.log.read_text()[-3000:]
    assert server_environment("carol", workbench) is None, "carol's server process is gone"
    time.sleep(AUTH_REFRESH_AGE + 1)
    assert carol.logged_in_as() is None, "carol's session ended"
    assert Browser(workbench).login("carol", workbench.passwords["carol"]).status_code == 403
    assert "stopped server '' of carol" in workbench.log.read_text()
    # alice, still listed, keeps her session
    assert logged_in(workbench, "alice").logged_in_as() == "alice"
