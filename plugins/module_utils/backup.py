# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the backup, restore and backup_info modules share.

A workbench backup is one directory::

    workbench-20260131T120000Z/
      manifest.json        what is in it: every file with size and sha256,
                           the objects (bucket, key, size, sha256, md5), the
                           PostgreSQL dump and the tenants it holds
      SHA256SUMS           the same checksums for `sha256sum -c` (and manifest.json's own)
      postgres/mlflow.dump pg_dump --format=custom of database mlflow
      objects/<bucket>/<sha256[:2]>/<sha256>
                           object contents, stored by checksum (keys are in the
                           manifest: any key is safe, equal contents stored once)
      files/...            extra files (credential files, the hub database)

``verify_backup`` checks a directory against its manifest and names the first
problems it finds; the restore module calls it before changing anything.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile

FORMAT = "enertef.workbench.backup/1"
MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
DUMP_FILE = "postgres/mlflow.dump"
CHUNK = 1024 * 1024
NAME_PATTERN = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")


class BackupError(Exception):
    """A backup cannot be made, read or restored; the message says why and what to do."""


# ------------------------------------------------------------------ names and paths

def default_name(now=None):
    """``workbench-<UTC time>``: sorts by date and is safe in any file system."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return "workbench-" + now.strftime("%Y%m%dT%H%M%SZ")


def name_problem(name):
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        return ("backup name %r is not allowed: use letters, digits, '.', '_' and '-' "
                "(at most 128, no '/')" % (name,))
    return None


def relative_path_problem(path):
    """Why ``path`` cannot be a file inside a backup (absolute, '..', empty), or None."""
    if not isinstance(path, str) or not path or path.startswith("/") or "\\" in path:
        return "%r is not a relative path" % (path,)
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "%r must not contain empty, '.' or '..' parts" % (path,)
    if path in (MANIFEST, CHECKSUMS):
        return "%r is reserved for the backup's own index" % (path,)
    return None


def inside(root, relative):
    """``root/relative``, refusing anything that would leave ``root``."""
    problem = relative_path_problem(relative)
    if problem:
        raise BackupError("bad path in backup: " + problem)
    return os.path.join(root, *relative.split("/"))


# ------------------------------------------------------------------ checksums

def file_digests(path):
    """(size, sha256 hex, md5 hex) of a file, read once."""
    sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            sha.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest(), md5.hexdigest()


def object_file(bucket, sha256):
    """Where an object's content is kept in a backup (content-addressed)."""
    return "objects/%s/%s/%s" % (bucket, sha256[:2], sha256)


# ------------------------------------------------------------------ manifest

def checksums_text(files):
    """SHA256SUMS in ``sha256sum`` format for the given manifest file entries."""
    return "".join("%s  %s\n" % (entry["sha256"], entry["path"]) for entry in sorted(files, key=lambda e: e["path"]))


def write_index(root, manifest):
    """Write manifest.json, then SHA256SUMS (which also lists manifest.json)."""
    manifest_path = os.path.join(root, MANIFEST)
    with open(manifest_path, "w") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
        handle.write("\n")
    size, sha, dummy = file_digests(manifest_path)
    entries = list(manifest["files"]) + [{"path": MANIFEST, "sha256": sha, "size": size}]
    with open(os.path.join(root, CHECKSUMS), "w") as handle:
        handle.write(checksums_text(entries))


def read_manifest(root):
    """The manifest of the backup in ``root``; BackupError naming the problem."""
    if not os.path.isdir(root):
        raise BackupError("backup directory %s does not exist (give the dated directory a backup "
                          "run printed, e.g. .../workbench-20260131T120000Z)" % root)
    path = os.path.join(root, MANIFEST)
    if not os.path.isfile(path):
        raise BackupError("%s has no %s: not a workbench backup, or an interrupted one; "
                          "nothing was restored" % (root, MANIFEST))
    try:
        with open(path) as handle:
            manifest = json.load(handle)
    except ValueError as err:
        raise BackupError("%s is not valid JSON (%s); nothing was restored" % (path, err))
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("%s is not a %s manifest (format %r)" % (
            path, FORMAT, manifest.get("format") if isinstance(manifest, dict) else None))
    for key in ("files", "objects", "postgres"):
        if key not in manifest:
            raise BackupError("%s lacks %r; nothing was restored" % (path, key))
    return manifest


def _listed_checksums(root):
    """{path: sha256} from SHA256SUMS, or {} when there is none."""
    path = os.path.join(root, CHECKSUMS)
    if not os.path.isfile(path):
        return {}
    listed = {}
    with open(path) as handle:
        for line in handle:
            line = line.rstrip("\n")
            if line:
                sha, dummy, name = line.partition("  ")
                listed[name] = sha
    return listed


def verify_backup(root):
    """Check every file of the backup in ``root`` against its manifest.

    Returns the manifest; raises BackupError naming every file that is
    missing or whose size or sha256 differs. Nothing is written.
    """
    manifest = read_manifest(root)
    problems = []
    listed = _listed_checksums(root)
    if listed.get(MANIFEST):
        dummy, sha, dummy_md5 = file_digests(os.path.join(root, MANIFEST))
        if sha != listed[MANIFEST]:
            problems.append("%s: checksum mismatch (sha256 %s, %s says %s): the manifest was changed"
                            % (MANIFEST, sha, CHECKSUMS, listed[MANIFEST]))
    known = set()
    for entry in manifest["files"]:
        known.add(entry["path"])
        path = inside(root, entry["path"])
        if not os.path.isfile(path):
            problems.append("%s: missing" % entry["path"])
            continue
        size, sha, dummy = file_digests(path)
        if sha != entry["sha256"] or size != entry["size"]:
            problems.append("%s: checksum mismatch (sha256 %s, size %d; the manifest says %s, size %d)"
                            % (entry["path"], sha, size, entry["sha256"], entry["size"]))
        elif entry["path"] in listed and listed[entry["path"]] != sha:
            problems.append("%s: checksum differs from %s" % (entry["path"], CHECKSUMS))
    for item in manifest["objects"].get("items", []):
        if item["file"] not in known:
            problems.append("object %s/%s: its content %s is not listed in the manifest"
                            % (item["bucket"], item["key"], item["file"]))
    dump = manifest["postgres"].get("file")
    if dump and dump not in known:
        problems.append("the PostgreSQL dump %s is not listed in the manifest" % dump)
    if problems:
        shown = problems[:20] + (["... and %d more" % (len(problems) - 20)] if len(problems) > 20 else [])
        raise BackupError("backup %s failed verification, nothing was restored:\n- %s"
                          % (root, "\n- ".join(shown)))
    return manifest


def summary(manifest):
    """The part of a manifest worth showing (no per-object list)."""
    objects = manifest["objects"]
    return {
        "name": manifest.get("name"),
        "created": manifest.get("created"),
        "mlflow_version": manifest.get("mlflow_version"),
        "postgres": dict((k, v) for k, v in manifest["postgres"].items() if k != "roles"),
        "objects": {"buckets": objects.get("buckets", []), "count": objects.get("count", 0),
                    "bytes": objects.get("bytes", 0)},
        "files": sorted(e["path"] for e in manifest["files"] if not e["path"].startswith("objects/")),
        "metadata": manifest.get("metadata", {}),
        "total_bytes": sum(e["size"] for e in manifest["files"]),
    }


# ------------------------------------------------------------------ PostgreSQL tools

def pg_tool(bin_dir, tool):
    """Path of ``pg_dump``/``pg_restore`` in ``bin_dir`` (or on PATH); BackupError if absent."""
    if bin_dir:
        path = os.path.join(bin_dir, tool)
        if not os.access(path, os.X_OK):
            raise BackupError("%s not found in %s: set the PostgreSQL client directory (e.g. "
                              "/usr/lib/postgresql/17/bin) or install postgresql-client" % (tool, bin_dir))
        return path
    found = shutil.which(tool)
    if not found:
        raise BackupError("%s is not on PATH: install postgresql-client (version >= the server's) "
                          "or give the directory of the PostgreSQL client binaries" % tool)
    return found


def libpq_env(conn_params):
    """Environment for pg_dump/pg_restore: the connection through PG* variables,
    so the password never shows in a process list."""
    env = dict(os.environ)
    mapping = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD",
               "dbname": "PGDATABASE", "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT",
               "connect_timeout": "PGCONNECT_TIMEOUT", "application_name": "PGAPPNAME"}
    for key, variable in mapping.items():
        env.pop(variable, None)
        if conn_params.get(key) is not None:
            env[variable] = str(conn_params[key])
    env.pop("PGOPTIONS", None)
    if conn_params.get("options"):
        env["PGOPTIONS"] = conn_params["options"]
    return env


def run_tool(argv, conn_params, what):
    proc = subprocess.run(argv, env=libpq_env(conn_params), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, check=False)
    if proc.returncode != 0:
        raise BackupError("%s failed (exit %d): %s" % (what, proc.returncode, proc.stderr.strip()[-2000:]))
    return proc.stdout


def pg_dump(bin_dir, conn_params, dest, exclude_table_data=()):
    """pg_dump --format=custom of the connection's database into ``dest``.

    pg_dump reads tables with row security off, so it never evaluates a
    tenant's policy; a table whose owner forced row security would stop the
    whole dump, so its rows are left out (``exclude_table_data``, (schema,
    table) pairs) and the caller says so.
    """
    argv = [pg_tool(bin_dir, "pg_dump"), "--format=custom", "--no-password", "--file=" + dest]
    argv += ["--exclude-table-data=%s" % quoted_pattern(schema, table) for schema, table in exclude_table_data]
    run_tool(argv, conn_params, "pg_dump of database %s" % conn_params.get("dbname"))
    return argv


def quoted_pattern(*names):
    """A pg_dump/pg_restore pattern matching exactly these names (double-quoted: no wildcards)."""
    return ".".join('"%s"' % name.replace('"', '""') for name in names)


def dump_owners(bin_dir, dump):
    """Roles that own something in a custom-format dump (from ``pg_restore --list``)."""
    listing = run_tool([pg_tool(bin_dir, "pg_restore"), "--list", dump], {}, "pg_restore --list")
    owners = set()
    for line in listing.splitlines():
        if line.startswith(";") or not line.strip():
            continue
        # "<id>; <oid> <oid> <TYPE ...> <schema> <name> <owner>"
        fields = line.split()
        if len(fields) >= 6 and fields[-1] != "-":
            owners.add(fields[-1])
    return sorted(owners)


def pg_restore(bin_dir, conn_params, dump, exclude_schemas=()):
    """Replace the dumped objects with the dump's, all or nothing, as the admin,
    leaving out ``exclude_schemas`` (the users' schemas: see :func:`pg_restore_schema`)."""
    argv = [pg_tool(bin_dir, "pg_restore"), "--no-password", "--clean", "--if-exists",
            "--single-transaction", "--exit-on-error", "--dbname=" + conn_params["dbname"]]
    argv += ["--exclude-schema=%s" % schema for schema in exclude_schemas]
    run_tool(argv + [dump], conn_params, "pg_restore into database %s (rolled back, nothing changed)"
             % conn_params.get("dbname"))
    return argv + [dump]


def pg_restore_schema(bin_dir, tenant_params, dump, schema):
    """Restore one user's (empty) schema from the dump through the user's own login.

    The dump holds what the user put in its schema: CHECK constraints, defaults
    and triggers that run its functions while the rows go in. Run as the user,
    they can do nothing the user could not do anyway; run as the admin, they
    would run with the admin's rights. Owners and grants are left out (the
    user owns what it creates; pg_tenant allows no grants to others).
    """
    argv = [pg_tool(bin_dir, "pg_restore"), "--no-password", "--single-transaction", "--exit-on-error",
            "--no-owner", "--no-acl", "--schema=" + schema, "--dbname=" + tenant_params["dbname"], dump]
    run_tool(argv, tenant_params, "pg_restore of schema %s as %s" % (schema, tenant_params.get("user")))
    return argv


# ------------------------------------------------------------------ objects

def list_objects(s3, bucket):
    """Every object of ``bucket`` as dicts with Key and Size."""
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        found.extend({"Key": o["Key"], "Size": o["Size"]} for o in page.get("Contents", []))
    return found


def download_object(s3, bucket, key, root):
    """Copy one object into the backup; return its manifest item and file entry."""
    response = s3.get_object(Bucket=bucket, Key=key)
    body = response["Body"]
    sha, md5, size = hashlib.sha256(), hashlib.md5(), 0
    handle = tempfile.NamedTemporaryFile(dir=root, prefix=".object-", delete=False)
    try:
        with handle:
            for chunk in iter(lambda: body.read(CHUNK), b""):
                sha.update(chunk)
                md5.update(chunk)
                size += len(chunk)
                handle.write(chunk)
        relative = object_file(bucket, sha.hexdigest())
        target = inside(root, relative)
        if not os.path.exists(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.rename(handle.name, target)
    finally:
        if os.path.exists(handle.name):
            os.unlink(handle.name)
    item = {"bucket": bucket, "key": key, "size": size, "sha256": sha.hexdigest(), "md5": md5.hexdigest(),
            "content_type": response.get("ContentType") or "binary/octet-stream", "file": relative}
    return item


def object_is_current(s3, item, not_found_codes=("404", "NoSuchKey", "NotFound")):
    """Whether the bucket already holds exactly this object (size and MD5 ETag)."""
    try:
        head = s3.head_object(Bucket=item["bucket"], Key=item["key"])
    except Exception as err:  # pylint: disable=broad-exception-caught
        code = ((getattr(err, "response", None) or {}).get("Error") or {}).get("Code", "")
        if code in not_found_codes:
            return False
        raise
    etag = (head.get("ETag") or "").strip('"')
    return head.get("ContentLength") == item["size"] and etag == item["md5"]


def upload_object(s3, root, item):
    with open(inside(root, item["file"]), "rb") as handle:
        s3.put_object(Bucket=item["bucket"], Key=item["key"], Body=handle, ContentType=item["content_type"])
