# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The workbench's part of the hub configuration.

The jupyterhub role mounts this file and the collection's
``plugins/module_utils/tenant.py`` (as ``workbench_tenant.py``) next to the
chart's ``jupyterhub_config.py``, whose directory is on ``sys.path``; the
role's ``hub.extraConfig`` then runs::

    import workbench_hub
    workbench_hub.configure(c)

What it adds to the chart's configuration:

* the authenticator chosen in ``hub.config.JupyterHub.authenticator_class``
  (shared password on a laptop, OIDC or LDAP in a lab) gets the tenant name
  rule: a name that breaks it is refused at login with the rule's message,
  and names are not lower-cased behind the user's back (``Alice`` is refused,
  exactly as ``tenant.py`` refuses it, instead of silently becoming ``alice``);
* ``pre_spawn_hook``: the user's pod gets its environment from exactly that
  user's Secret (``envFrom``), and the spawn stops with a clear message when
  the Secret does not exist or lacks keys.
"""

import importlib
from importlib.metadata import entry_points

from tornado import web

import workbench_tenant as tenant

AUTHENTICATOR_ENTRY_POINTS = "jupyterhub.authenticators"
USERS_PLAYBOOK = "playbooks/users.yml"


class MissingWorkbenchCredentials(RuntimeError):
    """The user has no usable per-user Secret; the spawn must not go on."""


class WorkbenchNameRule:
    """Mixed into the configured Authenticator: the tenant name rule at login."""

    def normalize_username(self, username):
        # No case folding: the rule refuses upper case, and 'Alice' must not
        # quietly become the tenant 'alice'. username_map still applies.
        return self.username_map.get(username, username)

    def validate_username(self, username):
        problem = tenant.name_problem(username)
        if problem:
            self.log.warning("Refusing login: %s", problem)
            # JupyterHub shows an HTTPError's message on the login error page.
            raise web.HTTPError(403, "%s", problem)
        return super().validate_username(username)


def resolve_authenticator(spec):
    """The Authenticator class for ``spec``: a class, an entry point name or a dotted path."""
    if isinstance(spec, type):
        return spec
    for entry_point in entry_points(group=AUTHENTICATOR_ENTRY_POINTS):
        if entry_point.name == spec:
            return entry_point.load()
    if "." not in spec:
        raise ValueError("unknown authenticator %r: use an entry point name such as "
                         "'shared-password' or a dotted class path" % (spec,))
    module_name, class_name = spec.rsplit(".", 1)
    return getattr(importlib.import_module(module_name), class_name)


def workbench_authenticator(base):
    """A subclass of ``base`` that enforces the tenant name rule.

    Configuration written for ``base`` (e.g. ``c.GenericOAuthenticator``)
    still applies: traitlets reads config sections along the class's MRO.
    """
    if issubclass(base, WorkbenchNameRule):
        return base
    return type("Workbench" + base.__name__, (WorkbenchNameRule, base), {
        "__doc__": "%s with the workbench user name rule." % base.__name__,
        "__module__": __name__,
    })


def secret_problem(user_name, secret_name, secret):
    """Why ``secret`` (a V1Secret or None) cannot give ``user_name`` a workbench, or None."""
    if secret is None:
        return "no workbench credentials for %s: run %s (Secret %s does not exist)" % (
            user_name, USERS_PLAYBOOK, secret_name)
    missing = sorted(set(tenant.SECRET_KEYS) - set((secret.data or {}).keys()))
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


def configure(c):
    """Apply the workbench's hub configuration to the traitlets config ``c``."""
    spec = c.JupyterHub.get("authenticator_class") or "shared-password"
    c.JupyterHub.authenticator_class = workbench_authenticator(resolve_authenticator(spec))
    c.KubeSpawner.pre_spawn_hook = pre_spawn_hook
    return c
