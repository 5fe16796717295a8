# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Log to your own MLflow experiments or to a group's shared ones.

    import mlflow_group_utils as wb
    wb.use_user()                 # your own schema and S3 prefix
    wb.ensure_experiment("my-experiment")
    ...
    wb.use_group("ml")            # the shared experiments of group "ml"

How groups work (the workbench's group design): a group ``ml`` is a tenant of
its own, ``group_ml``, named by the collection's one naming function
(``tenant_for(name, kind="group")``): a PostgreSQL schema ``group_ml`` with
MLflow's tables, owned by a role ``group_ml`` that its members are granted,
and the S3 prefix ``mlflow/group_ml/`` that members' keys may read and write.
There is no shared password: you connect with *your own* credentials (the
``MLFLOW_BACKEND_STORE_URI`` of your Secret) and only the ``search_path`` is
switched to the group's schema. PostgreSQL decides what you may touch; a user
who is not a member gets "permission denied".

Experiments created here get an explicit artifact location under the tenant's
prefix, so runs logged straight to the database put their artifacts where the
MLflow tile (and the MinIO console) finds them.
"""

import os
import re
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import mlflow
from mlflow.tracking import MlflowClient

from workbench_launchers.naming import tenant_for

_STATE = {"artifact_root": None, "label": None}


def current_user():
    """This pod's workbench user (``WORKBENCH_USER`` from the user's Secret)."""
    return os.environ.get("WORKBENCH_USER") or os.environ.get("JUPYTERHUB_USER") or ""


def user_groups():
    """The groups this user belongs to (``WORKBENCH_GROUPS``: comma or space separated)."""
    return [g for g in re.split(r"[,\s]+", os.environ.get("WORKBENCH_GROUPS", "")) if g]


def _require(variable):
    value = os.environ.get(variable)
    if not value:
        raise RuntimeError(
            "%s is not set: this pod did not get your workbench Secret. Ask the admin "
            "to provision your user, then restart your server from the hub." % variable)
    return value


def redact(uri):
    """``uri`` without its password, for printing."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    return urlunsplit(parts._replace(
        netloc=parts.netloc.replace(":" + parts.password + "@", ":***@", 1)))


def user_tracking_uri():
    """Your own tracking URI: ``MLFLOW_TRACKING_URI`` if set, else your backend store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or _require("MLFLOW_BACKEND_STORE_URI")


def with_search_path(database_uri, schema):
    """``database_uri`` with PostgreSQL's search_path set to ``schema`` (other options kept)."""
    parts = urlsplit(database_uri)
    if not parts.scheme.startswith("postgresql"):
        raise ValueError("a group tracking URI needs a postgresql:// backend, got %s"
                         % redact(database_uri))
    query = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "options":
            # drop "-csearch_path=x" and "-c search_path=x", keep every other setting
            value = re.sub(r"-c\s*search_path=\S+", "", value).strip()
            if not value:
                continue
        query.append((key, value))
    query.append(("options", "-csearch_path=%s" % schema))
    return urlunsplit(parts._replace(query=urlencode(query)))


def group_tenant(group):
    """The group's tenant (schema, prefix, ...); refuses groups this user is not in."""
    tenant = tenant_for(group, kind="group")  # raises TenantNameError naming the rule
    groups = user_groups()
    if group not in groups:
        raise PermissionError(
            "you (%s) are not a member of group %r; your groups: %s"
            % (current_user() or "unknown user", group, ", ".join(groups) or "none"))
    return tenant


def group_tracking_uri(group):
    """Your own credentials, pointed at the group's schema."""
    backend = _require("MLFLOW_BACKEND_STORE_URI")
    return with_search_path(backend, group_tenant(group)["pg_schema"])


def _activate(tracking_uri, artifact_root, label):
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    _STATE.update(artifact_root=artifact_root, label=label)
    return label


def use_user():
    """Log to your own experiments from now on; returns a printable description."""
    return _activate(user_tracking_uri(), os.environ.get("MLFLOW_ARTIFACTS_DESTINATION"),
                     "your own experiments (%s)" % (current_user() or "this user"))


def use_group(group):
    """Log to the experiments of ``group`` from now on; returns a printable description."""
    tenant = group_tenant(group)
    return _activate(group_tracking_uri(group), tenant["artifact_uri"],
                     "group %s (schema %s, s3://%s/%s)" % (
                         group, tenant["pg_schema"], tenant["s3_bucket"], tenant["s3_prefix"]))


def group_client(group):
    """An MlflowClient on the group's experiments (the global tracking URI is unchanged)."""
    uri = group_tracking_uri(group)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _logs_to_database(tracking_uri):
    return not urlsplit(tracking_uri).scheme.startswith(("http", "databricks"))


def ensure_experiment(name, client=None):
    """Get or create experiment ``name`` and make it the active one; returns its id.

    Through a database URI, a new experiment gets ``<tenant prefix>/<random id>``
    as artifact location (MLflow would otherwise pick a local ./mlruns folder);
    through an HTTP tracking server, the server decides.
    """
    client = client or MlflowClient()
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        location = None
        if _logs_to_database(client.tracking_uri) and _STATE["artifact_root"]:
            location = "%s/%s" % (_STATE["artifact_root"].rstrip("/"), uuid.uuid4().hex)
        experiment_id = client.create_experiment(name, artifact_location=location)
    else:
        experiment_id = experiment.experiment_id
    if client.tracking_uri == mlflow.get_tracking_uri():
        mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def describe():
    """Where runs go right now, without passwords."""
    return "MLflow: %s via %s, artifacts under %s" % (
        _STATE["label"] or "not configured (call use_user() or use_group())",
        redact(mlflow.get_tracking_uri()), _STATE["artifact_root"] or "the server's default")
