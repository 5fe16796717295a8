# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The workbench's part of the hub configuration.

The jupyterhub role mounts this file, the collection's
``plugins/module_utils/tenant.py`` (as ``workbench_tenant.py``) and
``plugins/module_utils/login.py`` (as ``workbench_login.py``) next to the
chart's ``jupyterhub_config.py``, whose directory is on ``sys.path``; the
role's ``hub.extraConfig`` then runs::

    import workbench_hub
    workbench_hub.configure(c)

What it adds to the chart's configuration:

* who may log in is the logins file the users role writes (Secret
  ``workbench-hub-logins``, mounted as a directory so that a change arrives
  without a hub restart), read on every login and every auth refresh;
* the default authenticator checks each user's own password against the hash
  in that file; with OIDC or LDAP the identity provider checks the password
  and the file is the allow-list;
* login names are lower-cased (``Alice`` logs in as ``alice``), then the
  tenant name rule applies: a name that breaks it is refused with the rule's
  message;
* off-boarding: a user missing from the file is logged out at the next auth
  refresh, and a hub-managed service (this file run as a script, with a token
  that may only list users and stop servers) stops their servers;
* admins get the role ``workbench-admin`` instead of JupyterHub's ``admin``
  (whose scopes cannot be changed): they manage users' servers but cannot
  open them, mint tokens for users or share their servers;
* ``pre_spawn_hook``: the user's pod gets its environment from exactly that
  user's Secret (``envFrom``), and the spawn stops with a clear message when
  the Secret does not exist or lacks keys.
"""

import importlib
import json
import os
import sys
import time
import urllib.parse
import urllib.request
from importlib.metadata import entry_points

from jupyterhub.auth import Authenticator
from tornado import web

import workbench_login as login
import workbench_tenant as tenant

AUTHENTICATOR_ENTRY_POINTS = "jupyterhub.authenticators"
# hub.config.JupyterHub.authenticator_class: each user's own password from the logins file.
WORKBENCH_LOGIN = "workbench-login"
USERS_PLAYBOOK = "playbooks/users.yml"
# Secret keys whose value may be empty: a user in no group has an empty group list.
MAY_BE_EMPTY = {"WORKBENCH_GROUPS"}
LOGINS_DIR = "/etc/workbench/logins"
OFFBOARDING_SERVICE = "workbench-offboarding"
OFFBOARDING_INTERVAL = 30
ADMIN_ROLE = "workbench-admin"
# Manage users' servers and groups, see the hub; never access:servers, tokens or
# shares (each would open a user's server, which holds that user's credentials).
ADMIN_SCOPES = [
    "admin-ui", "list:users", "read:users", "read:servers", "servers",
    "list:groups", "read:groups", "read:hub", "read:roles", "list:services",
    "read:services", "read:metrics", "proxy", "shutdown",
]
# What the off-boarding service needs: find users with servers, stop them.
OFFBOARDING_SCOPES = ["list:users", "read:users:name", "read:servers", "delete:servers"]


class MissingWorkbenchCredentials(RuntimeError):
    """The user has no usable per-user Secret; the spawn must not go on."""

    @property
    def jupyterhub_message(self):
        # JupyterHub shows this on the failed-spawn page (other errors stay generic).
        return str(self)


def current_logins(logins_dir):
    """``{name: entry}`` of who may log in now; a missing or broken file lets nobody in."""
    try:
        return login.read_logins(logins_dir)
    except FileNotFoundError:
        raise web.HTTPError(403, "no hub logins yet: run %s (%s has no %s)",
                            USERS_PLAYBOOK, logins_dir, login.LOGINS_KEY)
    except login.LoginsError as err:
        raise web.HTTPError(403, "the hub logins are unreadable (%s): run %s", err, USERS_PLAYBOOK)


def is_listed(logins_dir, name, log):
    """Whether ``name`` is in the logins file; False (with the reason logged) if it cannot be read."""
    try:
        return name in current_logins(logins_dir)
    except web.HTTPError as err:
        log.error(err.log_message, *err.args)
        return False


class WorkbenchNameRule:
    """Mixed into the configured Authenticator: logins file, lower-casing, tenant name rule."""

    # Where the Secret workbench-hub-logins is mounted (WorkbenchLogins.logins_dir in hub.config).
    logins_dir = LOGINS_DIR

    def normalize_username(self, username):
        # As seed 001 promises: Alice logs in as alice; the rule then applies.
        username = username.lower()
        return self.username_map.get(username, username)

    def validate_username(self, username):
        problem = tenant.name_problem(username)
        if problem:
            self.log.warning("Refusing login: %s", problem)
            # JupyterHub shows an HTTPError's message on the login error page.
            raise web.HTTPError(403, "%s", problem)
        return super().validate_username(username)

    def check_allowed(self, username, authentication=None):
        # The logins file is the allow-list, whatever checked the password.
        return username in current_logins(self.logins_dir)

    async def refresh_user(self, user, handler=None):
        # False ends the session: an off-boarded user must log in again, and cannot.
        if not is_listed(self.logins_dir, user.name, self.log):
            self.log.warning("%s is no longer in the hub logins: session ended", user.name)
            return False
        return await super().refresh_user(user, handler)


class WorkbenchLoginAuthenticator(WorkbenchNameRule, Authenticator):
    """Each user's own password, checked against its hash in the logins file."""

    async def authenticate(self, handler, data):
        name = self.normalize_username(data.get("username") or "")
        self.validate_username(name)  # the rule's message, not "invalid password"
        entry = current_logins(self.logins_dir).get(name)
        if entry is None or not login.password_matches(data.get("password") or "", entry.get("password_hash")):
            return None
        # Nobody gets JupyterHub's admin flag; admins hold the workbench-admin role.
        return {"name": name, "admin": False}


def resolve_authenticator(spec):
    """The Authenticator class for ``spec``: a class, an entry point name or a dotted path."""
    if isinstance(spec, type):
        return spec
    if spec == WORKBENCH_LOGIN:
        return WorkbenchLoginAuthenticator
    for entry_point in entry_points(group=AUTHENTICATOR_ENTRY_POINTS):
        if entry_point.name == spec:
            return entry_point.load()
    if "." not in spec:
        raise ValueError("unknown authenticator %r: use %r, an entry point name or a dotted class path"
                         % (spec, WORKBENCH_LOGIN))
    module_name, class_name = spec.rsplit(".", 1)
    return getattr(importlib.import_module(module_name), class_name)


def workbench_authenticator(base, logins_dir=LOGINS_DIR):
    """A subclass of ``base`` with the logins file in ``logins_dir`` and the tenant name rule.

    Configuration written for ``base`` (e.g. ``c.GenericOAuthenticator``)
    still applies: traitlets reads config sections along the class's MRO.
    """
    bases = (base,) if issubclass(base, WorkbenchNameRule) else (WorkbenchNameRule, base)
    name = base.__name__ if issubclass(base, WorkbenchNameRule) else "Workbench" + base.__name__
    return type(name, bases, {
        "__doc__": "%s with the workbench logins file and user name rule." % base.__name__,
        "__module__": __name__,
        "logins_dir": logins_dir,
    })


def secret_problem(user_name, secret_name, secret):
    """Why ``secret`` (a V1Secret or None) cannot give ``user_name`` a workbench, or None."""
    if secret is None:
        return "no workbench credentials for %s: run %s (Secret %s does not exist)" % (
            user_name, USERS_PLAYBOOK, secret_name)
    # an empty value is as useless to the pod as a missing key (e.g. a failed generation);
    # only the group list may be empty (a user in no group)
    missing = sorted(key for key in tenant.SECRET_KEYS
                     if not (secret.data or {}).get(key) and not (key in MAY_BE_EMPTY and key in (secret.data or {})))
    if missing:
        return "workbench credentials for %s are incomplete: run %s (Secret %s lacks %s)" % (
            user_name, USERS_PLAYBOOK, secret_name, ", ".join(missing))
    return None


async def read_secret(spawner, secret_name):
    """The Secret ``secret_name`` in the spawner's namespace, or None if it does not exist."""
    # Imported here: kubespawner brings kubernetes_asyncio into the hub image.
    from kubernetes_asyncio.client.rest import ApiException

    try:
        return await spawner.api.read_namespaced_secret(name=secret_name, namespace=spawner.namespace)
    except ApiException as err:
        if err.status == 404:
            return None
        raise


async def pre_spawn_hook(spawner):
    """Give the pod its own user's Secret as environment, and nothing else."""
    user_name = spawner.user.name
    secret_name = tenant.tenant_for(user_name)["k8s_secret"]
    problem = secret_problem(user_name, secret_name, await read_secret(spawner, secret_name))
    if problem:
        spawner.log.error(problem)
        raise MissingWorkbenchCredentials(problem)
    # Replaces any envFrom: exactly one Secret, the user's own.
    spawner.extra_container_config = dict(
        spawner.extra_container_config,
        envFrom=[{"secretRef": {"name": secret_name, "optional": False}}],
    )
    # MLflow names a run's creator after getpass.getuser() (LOGNAME first): the
    # researcher, not the image's jovyan.
    spawner.environment = dict(spawner.environment, LOGNAME=user_name)


# --- off-boarding: a hub-managed service stops the servers of users no longer listed ---

def hub_api(url, token, method="GET", headers=None):
    """The JSON answer of the hub's REST API (None when the answer has no body)."""
    request = urllib.request.Request(url, method=method, headers=dict(headers or {}, Authorization="token " + token))
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return json.loads(body) if body else None


def users_with_servers(api_url, token):
    """``{name: [server names]}`` of every user with a running or starting server."""
    found, offset = {}, 0
    while True:
        query = urllib.parse.urlencode({"state": "active", "offset": offset, "limit": 200})
        page = hub_api("%s/users?%s" % (api_url, query), token,
                       headers={"Accept": "application/jupyterhub-pagination+json"})
        for user in page["items"]:
            found[user["name"]] = sorted(user.get("servers") or {})
        offset = (page["_pagination"].get("next") or {}).get("offset")
        if not offset:
            return found


def stop_offboarded_servers(api_url, token, logins_dir):
    """Stop every server whose user is not in the logins file; returns ``[(user, server name)]`` stopped."""
    listed = set(login.read_logins(logins_dir))
    stopped = []
    for name, servers in sorted(users_with_servers(api_url, token).items()):
        if name in listed:
            continue
        for server in servers:
            path = "server" if server == "" else "servers/" + urllib.parse.quote(server)
            hub_api("%s/users/%s/%s" % (api_url, urllib.parse.quote(name), path), token, method="DELETE")
            stopped.append((name, server))
    return stopped


def run_offboarding(logins_dir, interval):
    """The service's loop: check every ``interval`` seconds; a failed round is reported and retried."""
    api_url, token = os.environ["JUPYTERHUB_API_URL"].rstrip("/"), os.environ["JUPYTERHUB_API_TOKEN"]
    while True:
        try:
            for name, server in stop_offboarded_servers(api_url, token, logins_dir):
                print("stopped server %r of %s: no longer in the hub logins" % (server, name), flush=True)
        except Exception as err:  # the hub restarting, the Secret being replaced: try again next round
            print("off-boarding check failed: %s" % (err,), file=sys.stderr, flush=True)
        time.sleep(interval)


def configure(c):
    """Apply the workbench's hub configuration to the traitlets config ``c``."""
    logins_dir = c.WorkbenchLogins.get("logins_dir", LOGINS_DIR)
    interval = int(c.WorkbenchLogins.get("offboarding_interval", OFFBOARDING_INTERVAL))
    spec = c.JupyterHub.get("authenticator_class") or WORKBENCH_LOGIN
    c.JupyterHub.authenticator_class = workbench_authenticator(resolve_authenticator(spec), logins_dir)
    # Who may log in is the logins file only: not everyone in the hub's database.
    c.Authenticator.allow_all = False
    c.Authenticator.allow_existing_users = False
    c.Authenticator.admin_users = set()
    c.Authenticator.refresh_pre_spawn = True
    c.KubeSpawner.pre_spawn_hook = pre_spawn_hook
    admins = sorted(c.WorkbenchLogins.get("admins", []))
    services = list(c.JupyterHub.get("services", []))
    services.append({"name": OFFBOARDING_SERVICE, "command": [
        sys.executable, os.path.abspath(__file__), "--logins-dir", logins_dir, "--interval", str(interval)]})
    c.JupyterHub.services = services
    c.JupyterHub.load_roles = list(c.JupyterHub.get("load_roles", [])) + [
        # An exact (empty) member list: nobody keeps JupyterHub's all-powerful admin role.
        {"name": "admin", "users": [], "services": []},
        {"name": ADMIN_ROLE, "description": "Manage users' servers without opening them",
         "scopes": ADMIN_SCOPES, "users": admins},
        {"name": OFFBOARDING_SERVICE, "description": "Stop servers of users no longer in the hub logins",
         "scopes": OFFBOARDING_SCOPES, "services": [OFFBOARDING_SERVICE]},
    ]
    return c


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Stop the servers of users no longer in the hub logins.")
    parser.add_argument("--logins-dir", default=LOGINS_DIR)
    parser.add_argument("--interval", type=int, default=OFFBOARDING_INTERVAL)
    arguments = parser.parse_args()
    run_offboarding(arguments.logins_dir, arguments.interval)
