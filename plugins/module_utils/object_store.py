# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the object-store modules share: tenant policy documents, the canonical
policy comparison, the connection options and the client constructors.

The tenant policy
-----------------
A tenant (user ``alice``, or group tenant ``group_ml``) may read, write and
delete objects under its own prefix ``mlflow/alice/`` and, for a user, under
the prefixes of the groups it belongs to (``mlflow/group_ml/``), list the
bucket only with ``prefix`` under those prefixes, and ask for the bucket's
location. Nothing else: no other prefix, no other bucket, no IAM call.

A tenant never holds a key the admin did not make: with MinIO the policy
denies the admin calls that mint or change service accounts (MinIO allows a
user those for itself unless a policy says no), and ``s3_tenant`` removes
any service account a user holds. SeaweedFS (4.48) accepts only ``Allow``
statements and lets a user create access keys for itself, so there the
module deletes every key but the one it handed out, on every run.

Canonical comparison
--------------------
Servers give policies back in their own shape: SeaweedFS turns a one-item
list into a plain string, MinIO and AWS reorder statements and keys. Two
documents are equal here when :func:`canonical_policy` of both is equal: key
order and list order do not matter, ``"x"`` equals ``["x"]``, ``Principal: "*"``
equals ``{"AWS": "*"}``, booleans/numbers equal their strings, a missing
``Version`` means ``2008-10-17`` (as in AWS).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

try:
    from urllib.parse import unquote, urlsplit
except ImportError:  # pragma: no cover  (Python 2 is not supported by this collection)
    from urlparse import urlsplit  # type: ignore
    from urllib import unquote  # type: ignore

try:
    import boto3
    from botocore.config import Config as BotoConfig
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
    from botocore.exceptions import ConnectionError as BotoConnectionError
    HAS_BOTO3 = True
    BOTO3_IMPORT_ERROR = None
except ImportError as import_error:
    HAS_BOTO3 = False
    BOTO3_IMPORT_ERROR = import_error

    class BotoCoreError(Exception):  # type: ignore
        """Placeholder so ``except`` clauses work without botocore."""

    class ClientError(Exception):  # type: ignore
        """Placeholder so ``except`` clauses work without botocore."""

    class EndpointConnectionError(Exception):  # type: ignore
        """Placeholder so ``except`` clauses work without botocore."""

    class BotoConnectionError(Exception):  # type: ignore
        """Placeholder so ``except`` clauses work without botocore."""

try:
    from minio.credentials import StaticProvider
    from minio.error import MinioAdminException
    from minio.minioadmin import MinioAdmin
    from urllib3 import PoolManager, Timeout
    from urllib3.exceptions import HTTPError as Urllib3Error
    HAS_MINIO = True
    MINIO_IMPORT_ERROR = None
except ImportError as import_error:
    HAS_MINIO = False
    MINIO_IMPORT_ERROR = import_error

    class MinioAdminException(Exception):  # type: ignore
        """Placeholder so ``except`` clauses work without the minio SDK."""

    class Urllib3Error(Exception):  # type: ignore
        """Placeholder so ``except`` clauses work without urllib3."""

from ansible.module_utils.basic import env_fallback

from ansible_collections.enertef.workbench.plugins.module_utils.tenant import (
    BUCKET,
    group_tenant_id,
    tenant_for,
)

POLICY_VERSION = "2012-10-17"
# What AWS assumes when a document has no Version.
DEFAULT_POLICY_VERSION = "2008-10-17"
# Keys whose value is one string by definition; every other scalar is a
# one-item list in canonical form.
SCALAR_POLICY_KEYS = frozenset(("Version", "Id", "Sid", "Effect"))

# Multipart uploads need only PutObject (+ Abort). s3:ListMultipartUploadParts
# is left out on purpose: SeaweedFS rejects it as "not a valid action".
OBJECT_ACTIONS = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
)

# MinIO allows a user these for its own service accounts unless a policy denies them.
MINIO_SELF_SERVICE_ACTIONS = (
    "admin:CreateServiceAccount",
    "admin:UpdateServiceAccount",
    "admin:RemoveServiceAccount",
    "admin:ListServiceAccounts",
)

# S3 bucket naming rules (the subset every server accepts).
BUCKET_NAME_PATTERN = re.compile(r"\A[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")


def bucket_name_problem(bucket):
    """Why ``bucket`` is not a valid bucket name, or None."""
    if not isinstance(bucket, str) or not BUCKET_NAME_PATTERN.match(bucket) or ".." in bucket:
        return ("bucket name %r is not allowed: use 3-63 characters, lower-case ASCII letters, "
                "digits, '.' and '-', starting and ending with a letter or digit" % (bucket,))
    return None


# Connection options of every object-store module (documented in the
# enertef.workbench.object_store doc fragment).
OBJECT_STORE_ARGUMENT_SPEC = dict(
    endpoint_url=dict(type="str", required=True),
    admin_access_key=dict(type="str", required=True, no_log=False),
    admin_secret_key=dict(type="str", required=True, no_log=True),
    region=dict(type="str", default="us-east-1"),
    validate_certs=dict(type="bool", default=True),
    # A lab's own CA (k3s_server's local CA): the standard AWS variable, as amazon.aws reads it.
    # (s3_: the backup/restore/health modules also take PostgreSQL's ca_cert)
    s3_ca_cert=dict(type="path", fallback=(env_fallback, ["AWS_CA_BUNDLE"])),
    timeout=dict(type="int", default=10),
)


def object_store_argument_spec(**extra):
    """The shared connection options plus a module's own ``extra`` options."""
    spec = dict(OBJECT_STORE_ARGUMENT_SPEC)
    spec.update(extra)
    return spec


# ---------------------------------------------------------------- policies

def tenant_prefixes(name, kind="user", groups=()):
    """Key prefixes tenant ``name`` may use: its own, then its groups' (sorted)."""
    prefixes = [tenant_for(name, kind)["s3_prefix"]]
    if kind == "user":
        prefixes += sorted(set(group_tenant_id(group) + "/" for group in groups or ()))
    return prefixes


def tenant_policy(name, kind="user", groups=(), bucket=BUCKET, backend="iam"):
    """The policy document of tenant ``name`` for module backend ``backend``
    (``iam`` or ``minio``; see the module docstring)."""
    return prefix_policy(tenant_prefixes(name, kind, groups), bucket, backend)


# IAM's policy variable for the name of the user making the request; a user tenant's own
# prefix is its user name (tenant_for), so one policy serves every user
OWN_PREFIX = "${aws:username}/"


def shared_user_policy(bucket=BUCKET):
    """The one policy every user tenant gets with ``iam_policy=shared``: its own prefix only."""
    return prefix_policy([OWN_PREFIX], bucket, "iam")


def prefix_policy(prefixes, bucket=BUCKET, backend="iam"):
    """Objects and listing under ``prefixes`` of ``bucket``, nothing else."""
    bucket_arn = "arn:aws:s3:::%s" % bucket
    statements = [
        {
            "Sid": "TenantObjects",
            "Effect": "Allow",
            "Action": list(OBJECT_ACTIONS),
            "Resource": ["%s/%s*" % (bucket_arn, prefix) for prefix in prefixes],
        },
        {
            "Sid": "TenantListing",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [bucket_arn],
            "Condition": {"StringLike": {"s3:prefix": ["%s*" % prefix for prefix in prefixes]}},
        },
        {
            "Sid": "BucketLocation",
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation"],
            "Resource": [bucket_arn],
        },
    ]
    if backend == "minio":
        statements.append({
            "Sid": "NoSelfMadeKeys",
            "Effect": "Deny",
            "Action": list(MINIO_SELF_SERVICE_ACTIONS),
            "Resource": ["arn:aws:s3:::*"],
        })
    return {"Version": POLICY_VERSION, "Statement": statements}


def parse_policy(policy):
    """A policy document as a dict, from a dict or JSON text (also URL-encoded
    JSON, as the raw IAM API returns it). ``None``/empty stays ``None``."""
    if policy is None or policy == "" or policy == {}:
        return None
    if isinstance(policy, dict):
        return policy
    if isinstance(policy, bytes):
        policy = policy.decode("utf-8")
    text = policy.strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        try:
            parsed = json.loads(unquote(text))
        except ValueError:
            raise ValueError("policy is not valid JSON: %r" % text[:80])
    if not isinstance(parsed, dict):
        raise ValueError("policy must be a JSON object, got %s" % type(parsed).__name__)
    return parsed


def _canonical_scalar(value):
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _canonical_value(value):
    """Canonical form of any part of a policy (lists become sorted sets)."""
    if isinstance(value, dict):
        return dict((key, _canonical_member(key, item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        items = dict((_sort_key(c), c) for c in (_canonical_value(item) for item in value))
        return [items[key] for key in sorted(items)]
    return _canonical_scalar(value)


def _canonical_member(key, value):
    """Canonical form of ``value`` stored under ``key`` in a policy object."""
    if key in ("Principal", "NotPrincipal") and value == "*":
        value = {"AWS": "*"}
    if key in SCALAR_POLICY_KEYS:
        return _canonical_scalar(value)
    if not isinstance(value, (list, tuple, dict)) or (key == "Statement" and isinstance(value, dict)):
        value = [value]
    return _canonical_value(value)


def _sort_key(value):
    return json.dumps(value, sort_keys=True)


def canonical_policy(policy):
    """The canonical form of ``policy`` (dict or JSON text); None if empty."""
    parsed = parse_policy(policy)
    if parsed is None:
        return None
    canonical = _canonical_value(parsed)
    canonical.setdefault("Version", DEFAULT_POLICY_VERSION)
    return canonical


def canonical_policy_json(policy):
    """Canonical policy as stable, readable JSON text (used in diffs)."""
    return json.dumps(canonical_policy(policy), sort_keys=True, indent=2)


def policies_differ(current, desired):
    """True when ``current`` and ``desired`` are not the same policy."""
    return canonical_policy(current) != canonical_policy(desired)


# ----------------------------------------------------------------- clients

def endpoint_parts(endpoint_url):
    """(scheme, host:port) of an endpoint URL; ValueError if it is not http(s)."""
    parts = urlsplit(endpoint_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("endpoint_url must look like http(s)://host:port, got %r" % endpoint_url)
    return parts.scheme, parts.netloc


def boto3_client(params, service, max_pool_connections=10):
    """A boto3 ``s3`` or ``iam`` client for the module's endpoint and admin keys.

    One attempt and short timeouts: an unreachable endpoint must fail fast
    with a clear message, not hang in retries. The client may be shared by
    threads; give it one pooled connection per thread."""
    endpoint_parts(params["endpoint_url"])
    return boto3.client(
        service,
        endpoint_url=params["endpoint_url"],
        region_name=params["region"],
        aws_access_key_id=params["admin_access_key"],
        aws_secret_access_key=params["admin_secret_key"],
        verify=tls_verify(params),
        config=BotoConfig(
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=params["timeout"],
            read_timeout=max(params["timeout"], 30),
            max_pool_connections=max_pool_connections,
        ),
    )


def tls_verify(params):
    """What boto3 takes as ``verify``: the CA file when one is given, else validate_certs."""
    if params["validate_certs"] and params.get("s3_ca_cert"):
        return params["s3_ca_cert"]
    return params["validate_certs"]


def minio_admin_client(params):
    """A ``minio.MinioAdmin`` for the module's endpoint and root credentials."""
    scheme, netloc = endpoint_parts(params["endpoint_url"])
    http_client = None
    if isinstance(tls_verify(params), str):
        http_client = PoolManager(timeout=Timeout(connect=params["timeout"], read=max(params["timeout"], 30)),
                                  cert_reqs="CERT_REQUIRED", ca_certs=tls_verify(params))
    return MinioAdmin(
        endpoint=netloc,
        credentials=StaticProvider(params["admin_access_key"], params["admin_secret_key"]),
        region=params["region"] or "",
        secure=scheme == "https",
        cert_check=params["validate_certs"],
        http_client=http_client,
    )


def error_code(err):
    """The AWS error code of a botocore ClientError ('' if there is none)."""
    response = getattr(err, "response", None) or {}
    return (response.get("Error") or {}).get("Code", "")


def is_endpoint_error(err):
    """Whether ``err`` concerns the endpoint itself (unreachable, admin credentials
    refused) rather than one request: every other request would fail the same way."""
    if isinstance(err, (BotoConnectionError, Urllib3Error)):
        return True
    if isinstance(err, MinioAdminException):
        return getattr(err, "_code", None) in ("401", "403")
    if isinstance(err, ClientError):
        response = getattr(err, "response", None) or {}
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        return status == 403 or error_code(err) in ADMIN_REFUSED_CODES
    return False


# The server's answers to admin keys it does not accept.
ADMIN_REFUSED_CODES = ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch")


def describe_error(err, endpoint_url):
    """One line that says what went wrong talking to the object store."""
    if isinstance(err, EndpointConnectionError):
        return "cannot reach the object store at %s: %s" % (endpoint_url, err)
    if isinstance(err, ClientError):
        response = getattr(err, "response", None) or {}
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        code = error_code(err) or "HTTP %s" % status
        if status == 403 or code in ADMIN_REFUSED_CODES:
            return ("the object store at %s refused the admin credentials (%s): check "
                    "admin_access_key/admin_secret_key" % (endpoint_url, code))
        return "object store request failed at %s: %s" % (endpoint_url, err)
    if isinstance(err, MinioAdminException):
        return "MinIO admin request failed at %s: %s" % (endpoint_url, err)
    if isinstance(err, Urllib3Error):
        return "cannot reach the object store at %s: %s" % (endpoint_url, err)
    return "object store request failed at %s: %s: %s" % (endpoint_url, type(err).__name__, err)


# Errors a module turns into fail_json with describe_error (never a traceback):
# the server's answers, the connection, and bad input found while talking to it.
CLIENT_ERRORS = (BotoCoreError, ClientError, MinioAdminException, Urllib3Error, OSError, ValueError)


def is_client_error(err):
    """Whether ``err`` is one of CLIENT_ERRORS (anything else is a bug: let it raise)."""
    return isinstance(err, CLIENT_ERRORS)


def run_and_exit(module, work, check_result=None):
    """Exit ``module`` with the result of ``work()``, the end of every object-store module.

    A client error (unreachable endpoint, refused credentials, ...) becomes one
    line naming the endpoint, with no traceback; any other exception is a bug
    and is raised. The ``diff`` key is kept only in diff mode. ``check_result``,
    if given, sees the final result first (and may fail the module with it).
    """
    try:
        result = work()
    # CLIENT_ERRORS holds placeholder classes when an SDK is missing; pylint cannot tell.
    except CLIENT_ERRORS as err:  # pylint: disable=catching-non-exception
        module.fail_json(msg=describe_error(err, module.params["endpoint_url"]))
    if not module._diff:  # pylint: disable=protected-access
        result.pop("diff", None)
    if check_result is not None:
        check_result(result)
    module.exit_json(**result)
