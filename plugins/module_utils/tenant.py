# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a workbench user (or group) name becomes every identifier it owns.

This is the one place where that happens. The modules, the users role, the
hub configuration (this file is mounted into the hub and imported by its
pre_spawn_hook) and the notebook launcher all call :func:`tenant_for`.

The rule for a user name
------------------------
* 3 to 32 characters: lower-case ASCII letters, digits and ``_``;
* it starts with a letter and does not end with ``_``;
* it is not reserved (``postgres``, ``public``, ``information_schema``,
  ``mlflow``, ``root``, ``admin`` ... see ``RESERVED_NAMES``) and does not
  start with a reserved prefix (``pg_``, ``group_``, ``workbench``, ...).

Why each limit (each is tested against the backend that enforces it):

* at least 3: MinIO refuses access keys shorter than 3 characters, and the
  MinIO access key is the tenant id;
* at most 32: the group tenant ``group_<name>`` (38) stays within PostgreSQL's
  63-byte identifiers and IAM's 64-character user names; the Secret
  ``workbench-group-<name>`` (48) within a 63-character DNS label;
* no trailing ``_``: the Secret name ends with the name (``_`` written ``-``)
  and a DNS label, like a label value, must end with a letter or digit;
* lower case as written: a declared ``Alice`` is refused (the hub lower-cases
  what a person types at login, never the declared names).

Such a name is at once a valid unquoted PostgreSQL identifier, an IAM/MinIO
user name, an S3 key prefix, a Kubernetes label value and (with ``_`` written
``-``, which is unambiguous because ``-`` is never in a name) a DNS label.
KubeSpawner 7's ``safe`` slug scheme keeps a name without ``_`` as it is
(pod ``jupyter-alice``) and gives any other a valid hashed slug.

A group ``ml`` is the tenant ``group_ml``: user names may not start with
``group_``, so a group tenant can never collide with a user tenant.

The database and the bucket are constants here (``DATABASE``, ``BUCKET``),
not settings: every tenant lives in them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

NAME_MIN_LENGTH = 3
NAME_MAX_LENGTH = 32
NAME_PATTERN = re.compile(r"\A[a-z][a-z0-9_]*\Z")

GROUP_PREFIX = "group_"
RESERVED_PREFIXES = ("pg_", GROUP_PREFIX, "workbench", "system_", "kube")
RESERVED_NAMES = frozenset((
    "admin", "administrator", "root", "postgres", "public", "information_schema",
    "mlflow", "minio", "seaweedfs", "pgadmin", "hub", "jupyterhub", "proxy",
    "default", "none", "null", "all", "user", "current_user", "session_user",
    "template0", "template1", "groups", "shared", "tmp",
))

# The shared database every tenant schema lives in, and the shared bucket
# every tenant prefix lives in.
DATABASE = "mlflow"
BUCKET = "mlflow"

# Environment variables the per-user Kubernetes Secret provides to the pod
# (the contract between the users role, the hub and the notebook launchers).
SECRET_KEYS = (
    "WORKBENCH_USER",
    "PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGOPTIONS",
    "MLFLOW_BACKEND_STORE_URI", "MLFLOW_ARTIFACTS_DESTINATION",
    "MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "WORKBENCH_GROUPS",
)


class TenantNameError(ValueError):
    """A name breaks the rule; the message names the rule that was broken."""


def name_problem(name, kind="user"):
    """Return why ``name`` is not an acceptable user (or group) name, or None if it is.

    A group name may be shorter than 3 characters: its tenant id ``group_<name>``
    is what MinIO sees."""
    problem = _name_problem(name, kind)
    return problem if kind == "user" or problem is None else problem.replace("user name", "group name", 1)


def _name_problem(name, kind):
    if not isinstance(name, str):
        return "user name must be a string, got %s" % type(name).__name__
    shown = repr(name)
    if not name:
        return "user name is empty"
    if len(name) > NAME_MAX_LENGTH:
        return "user name %s is %d characters long; at most %d are allowed" % (
            shown, len(name), NAME_MAX_LENGTH)
    if kind == "user" and len(name) < NAME_MIN_LENGTH:
        return ("user name %s is %d characters long; at least %d are needed (MinIO access keys "
                "have at least %d)" % (shown, len(name), NAME_MIN_LENGTH, NAME_MIN_LENGTH))
    if not NAME_PATTERN.match(name):
        return ("user name %s is not allowed: use %d-%d characters, lower-case ASCII "
                "letters, digits and '_', starting with a letter (no spaces, quotes, "
                "';', '/', '.', '-', upper case or non-ASCII)" % (shown, NAME_MIN_LENGTH, NAME_MAX_LENGTH))
    if name.endswith("_"):
        return ("user name %s ends with '_': it must end with a letter or digit (its Kubernetes "
                "Secret name and labels must)" % shown)
    if name in RESERVED_NAMES:
        return "user name %s is reserved" % shown
    for prefix in RESERVED_PREFIXES:
        if name.startswith(prefix):
            return "user name %s starts with the reserved prefix %r" % (shown, prefix)
    return None


def validate_name(name, kind="user"):
    """Return ``name`` if it obeys the rule, else raise :class:`TenantNameError`."""
    problem = name_problem(name, kind)
    if problem:
        raise TenantNameError(problem)
    return name


def tenant_id(name, kind="user"):
    """The identifier of a user tenant (``alice``) or group tenant (``group_ml``)."""
    if kind not in ("user", "group"):
        raise TenantNameError("tenant kind must be 'user' or 'group', got %r" % (kind,))
    validate_name(name, kind)
    return name if kind == "user" else GROUP_PREFIX + name


def tenant_for(name, kind="user"):
    """Every identifier of one tenant, as a dict.

    >>> tenant_for("alice")["k8s_secret"]
    'workbench-user-alice'
    """
    ident = tenant_id(name, kind)
    dns = name.replace("_", "-")
    return {
        "name": name,
        "kind": kind,
        "id": ident,
        "pg_role": ident,
        "pg_owner": group_owner_role(ident) if kind == "group" else ident,
        "pg_schema": ident,
        "pg_database": DATABASE,
        "s3_user": ident,
        "s3_bucket": BUCKET,
        "s3_prefix": ident + "/",
        "artifact_uri": "s3://%s/%s" % (BUCKET, ident),
        "k8s_secret": "workbench-%s-%s" % (kind, dns),
    }


def group_owner_role(group_tenant):
    """The NOLOGIN role that owns a group's schema and tables. Nobody but the
    admin is its member: members get DML through the group role, never the
    owner's rights (a member who could add a trigger would run code as the
    next member who logs a group run). ``workbench`` is a reserved prefix, so
    no user or group name can be it."""
    return "workbench_owner_" + group_tenant


def group_tenant_id(group):
    """The tenant id of group ``group``."""
    return tenant_id(group, "group")
