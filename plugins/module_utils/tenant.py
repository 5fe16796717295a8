# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a workbench user (or group) name becomes every identifier it owns.

This is the one place where that happens. The modules, the users role, the
hub configuration (this file is mounted into the hub and imported by its
pre_spawn_hook) and the notebook launcher all call :func:`tenant_for`.

The rule for a user name
------------------------
* 1 to 32 characters: lower-case ASCII letters, digits and ``_``;
* it starts with a letter;
* it is not reserved (``postgres``, ``public``, ``information_schema``,
  ``mlflow``, ``root``, ``admin`` ... see ``RESERVED_NAMES``) and does not
  start with a reserved prefix (``pg_``, ``group_``, ``workbench``, ...).

Such a name is at once a valid unquoted PostgreSQL identifier, an IAM/MinIO
user name, an S3 key prefix and (with ``_`` written ``-``, which is
unambiguous because ``-`` is never in a name) a Kubernetes DNS label.

A group ``ml`` is the tenant ``group_ml``: user names may not start with
``group_``, so a group tenant can never collide with a user tenant.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

NAME_MAX_LENGTH = 32
NAME_PATTERN = re.compile(r"\A[a-z][a-z0-9_]{0,%d}\Z" % (NAME_MAX_LENGTH - 1))

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


def name_problem(name):
    """Return why ``name`` is not an acceptable user name, or None if it is."""
    if not isinstance(name, str):
        return "user name must be a string, got %s" % type(name).__name__
    shown = repr(name)
    if not name:
        return "user name is empty"
    if len(name) > NAME_MAX_LENGTH:
        return "user name %s is %d characters long; at most %d are allowed" % (
            shown, len(name), NAME_MAX_LENGTH)
    if not NAME_PATTERN.match(name):
        return ("user name %s is not allowed: use 1-%d characters, lower-case ASCII "
                "letters, digits and '_', starting with a letter (no spaces, quotes, "
                "';', '/', '.', '-', upper case or non-ASCII)" % (shown, NAME_MAX_LENGTH))
    if name in RESERVED_NAMES:
        return "user name %s is reserved" % shown
    for prefix in RESERVED_PREFIXES:
        if name.startswith(prefix):
            return "user name %s starts with the reserved prefix %r" % (shown, prefix)
    return None


def validate_name(name):
    """Return ``name`` if it obeys the rule, else raise :class:`TenantNameError`."""
    problem = name_problem(name)
    if problem:
        raise TenantNameError(problem)
    return name


def tenant_id(name, kind="user"):
    """The identifier of a user tenant (``alice``) or group tenant (``group_ml``)."""
    validate_name(name)
    if kind == "user":
        return name
    if kind == "group":
        return GROUP_PREFIX + name
    raise TenantNameError("tenant kind must be 'user' or 'group', got %r" % (kind,))


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
