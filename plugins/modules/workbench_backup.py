#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: workbench_backup
short_description: Back up the workbench's PostgreSQL database, object-store buckets and files
version_added: 0.1.0
description:
  - Makes the dated directory O(dest)/O(name) with C(pg_dump --format=custom) of database O(db)
    (every tenant schema, the MLflow template, ownership and privileges), every object of every
    bucket in O(buckets), and the extra O(files) (credential files, the hub database), plus
    C(manifest.json) (what, sizes, sha256) and C(SHA256SUMS) (C(sha256sum -c) works on it).
  - The database is dumped first, then the objects are copied, so every artifact a dumped MLflow
    run refers to is in the backup (artifacts written later may be too).
  - Objects are stored by their sha256 (C(objects/<bucket>/<sha[:2]>/<sha>)), their keys are in the
    manifest, so any key is safe and equal contents are stored once.
  - O(dest) must exist (a missing backup disk is an error, not a directory to create). The dated
    directory must not exist yet. If anything fails, the partial directory is removed.
  - Check mode connects to both servers and checks the tools and files, writes nothing, and reports
    what would be backed up.
  - Restore with M(enertef.workbench.workbench_restore); check a backup with
    M(enertef.workbench.workbench_backup_info).
author: enertef.workbench contributors (@enertef)
extends_documentation_fragment:
  - enertef.workbench.postgres
  - enertef.workbench.object_store
options:
  dest:
    description:
      - The existing directory that receives the dated backup directory.
    type: path
    required: true
  name:
    description:
      - Name of the backup directory. Defaults to C(workbench-<UTC time>), e.g. C(workbench-20260131T120000Z).
    type: str
  buckets:
    description:
      - Buckets whose every object is copied.
    type: list
    elements: str
    default: [mlflow]
  files:
    description:
      - Extra files to include, as I(path inside the backup) -> I(file on the controller), for example
        C(files/credentials.yml) -> C(~/.local/share/enertef-workbench/workbench/credentials.yml).
      - Every file must exist. Paths inside the backup are relative, without C(..).
    type: dict
    default: {}
  pg_bin_dir:
    description:
      - Directory holding C(pg_dump) (version at least the server's). Empty means C(PATH).
    type: path
    default: ""
  metadata:
    description:
      - Free data kept in the manifest, e.g. the declared users and groups (the restore playbook
        provisions them again from it) and the MLflow version.
    type: dict
    default: {}
notes:
  - The files are written with mode 0600 in directories with mode 0700 from the first byte (umask 077
    while the backup is written); the backup holds every credential.
  - "The admin runs no tenant's code: MLflow revisions are read only from plain C(alembic_version)
    tables (a view, rule, trigger or row-level security there gives revision C(null) and a warning);
    pg_dump reads with row security off, and the rows of a table whose owner forced row-level
    security are left out, with a warning naming it."
  - Running it twice makes two backups, so it always reports a change.
"""

EXAMPLES = r"""
- name: Back up the laptop workbench into /backups
  enertef.workbench.workbench_backup:
    dest: /backups
    login_host: localhost
    login_password: "{{ secrets_credentials.postgres_admin_password }}"
    endpoint_url: http://localhost:9000
    admin_access_key: "{{ secrets_credentials.object_store_root_user }}"
    admin_secret_key: "{{ secrets_credentials.object_store_root_password }}"
    files:
      files/credentials.yml: "{{ workbench_state_dir }}/credentials.yml"
    metadata:
      mlflow_version: "3.17.2"
  register: backup
"""

RETURN = r"""
path:
  description: The backup directory (would be, in check mode).
  returned: always
  type: str
  sample: /backups/workbench-20260131T120000Z
manifest:
  description: Summary of the manifest (no per-object list).
  returned: success, not in check mode
  type: dict
objects:
  description: Number and total size of the objects copied (found, in check mode).
  returned: always
  type: dict
  sample: {"count": 12, "bytes": 40960}
schemas:
  description: The tenant schemas with MLflow tables in the dumped database, with their alembic revision.
  returned: always
  type: dict
  sample: {"alice": "1b5f0d9ad7c1"}
tenants:
  description: The users (name, groups, state) and groups owning those schemas, as the users role declares them.
  returned: always
  type: dict
  sample: {"users": [{"name": "alice", "groups": ["ml"], "state": "present"}], "groups": ["ml"]}
commands:
  description: The pg_dump command line (the password is passed in the environment, never here).
  returned: always
  type: list
  elements: str
"""

import datetime
import os
import shutil
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.enertef.workbench.plugins.module_utils import backup as lib
from ansible_collections.enertef.workbench.plugins.module_utils.object_store import (
    HAS_BOTO3,
    BOTO3_IMPORT_ERROR,
    boto3_client,
    bucket_name_problem,
    describe_error,
    is_client_error,
    object_store_argument_spec,
)
from ansible_collections.enertef.workbench.plugins.module_utils.mlflow_schema import alembic_revisions
from ansible_collections.enertef.workbench.plugins.module_utils.postgres import (
    connect_to_db,
    get_conn_params,
    postgres_common_argument_spec,
)
from ansible_collections.enertef.workbench.plugins.module_utils.tenant import GROUP_PREFIX, name_problem


def mlflow_schemas(conn):
    """({schema: alembic revision or None}, warnings) of every schema with an
    alembic_version table. The admin reads none that could run a tenant's code
    (a view, rules, row-level security ...): those are None, with a warning."""
    revisions, problems = alembic_revisions(conn)
    found = dict(revisions)
    found.update((schema, None) for schema in problems)
    warnings = ["schema %s: revision not read (%s)" % (schema, problems[schema]) for schema in sorted(problems)]
    return found, warnings


def forced_row_security_tables(conn):
    """(schema, table) of tables whose owner forced row-level security: pg_dump
    (row security off, so no policy of a tenant ever runs) cannot read them."""
    return conn.execute(
        "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
        "ON n.oid = c.relnamespace WHERE c.relforcerowsecurity AND c.relkind IN ('r', 'p') "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2").fetchall()


def tenants(conn, schemas):
    """The users and groups owning the MLflow schemas, as the users role declares them.

    Read from the catalog, so the restore can provision exactly the tenants the
    dump holds, whatever the inventory says now.
    """
    users, groups = [], []
    for schema, login, member_of in conn.execute(
            "SELECT n.nspname, r.rolcanlogin, ARRAY(SELECT g.rolname FROM pg_auth_members m "
            "  JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid "
            "  AND starts_with(g.rolname, %s) ORDER BY 1) "
            "FROM pg_namespace n JOIN pg_roles r ON r.rolname = n.nspname "
            "WHERE n.nspname = ANY(%s) ORDER BY 1", (GROUP_PREFIX, sorted(schemas))).fetchall():
        if schema.startswith(GROUP_PREFIX):
            groups.append(schema[len(GROUP_PREFIX):])
        elif not name_problem(schema):
            users.append({"name": schema, "groups": [g[len(GROUP_PREFIX):] for g in member_of],
                          "state": "present" if login else "absent"})
    return {"users": users, "groups": groups}


def input_problems(params):
    problems = []
    if not os.path.isdir(params["dest"]):
        problems.append("backup destination %s does not exist: create it or mount the backup disk"
                        % params["dest"])
    name = params["name"]
    if name is not None and lib.name_problem(name):
        problems.append(lib.name_problem(name))
    for bucket in params["buckets"]:
        if bucket_name_problem(bucket):
            problems.append(bucket_name_problem(bucket))
    for inner, source in sorted(params["files"].items()):
        problem = lib.relative_path_problem(inner)
        if problem or inner.startswith(("objects/", "postgres/")):
            problems.append("files: %s" % (problem or "%r is inside a part the backup writes itself" % inner))
        if not os.path.isfile(str(source)):
            problems.append("files: %s (for %s) does not exist or is not a file" % (source, inner))
    return problems


def make_backup(module, conn_params, s3, root, schemas, found_tenants, without_rows):
    params = module.params
    os.makedirs(os.path.join(root, "postgres"), mode=0o700)
    dump = os.path.join(root, *lib.DUMP_FILE.split("/"))
    argv = lib.pg_dump(params["pg_bin_dir"], conn_params, dump, without_rows)
    files = []

    def add(relative):
        size, sha, dummy = lib.file_digests(lib.inside(root, relative))
        files.append({"path": relative, "size": size, "sha256": sha})

    add(lib.DUMP_FILE)
    items = []
    for bucket in params["buckets"]:
        for listed in lib.list_objects(s3, bucket):
            items.append(lib.download_object(s3, bucket, listed["Key"], root))
    for relative in sorted(set(item["file"] for item in items)):
        add(relative)
    for inner, source in sorted(params["files"].items()):
        target = lib.inside(root, inner)
        os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
        shutil.copyfile(source, target)
        add(inner)
    manifest = {
        "format": lib.FORMAT,
        "name": os.path.basename(root),
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "postgres": {"database": conn_params["dbname"], "file": lib.DUMP_FILE, "format": "custom",
                     "schemas": schemas, "tenants": found_tenants,
                     "roles": lib.dump_owners(params["pg_bin_dir"], dump)},
        "objects": {"buckets": params["buckets"], "count": len(items),
                    "bytes": sum(i["size"] for i in items), "items": items},
        "files": files,
        "metadata": params["metadata"],
    }
    lib.write_index(root, manifest)
    return manifest, argv


def main():
    spec = postgres_common_argument_spec()
    spec.update(object_store_argument_spec(
        dest=dict(type="path", required=True),
        name=dict(type="str"),
        buckets=dict(type="list", elements="str", default=["mlflow"]),
        files=dict(type="dict", default={}),
        pg_bin_dir=dict(type="path", default=""),
        metadata=dict(type="dict", default={}),
    ))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params
    problems = input_problems(params)
    if problems:
        module.fail_json(msg="backup refused, nothing was written:\n- " + "\n- ".join(problems))
    if not HAS_BOTO3:
        module.fail_json(msg=missing_required_lib("boto3"), exception=str(BOTO3_IMPORT_ERROR))
    root = os.path.join(params["dest"], params["name"] or lib.default_name())
    if os.path.exists(root):
        module.fail_json(msg="%s already exists: give another name (backups are never overwritten)" % root)

    conn_params = get_conn_params(params)
    conn = connect_to_db(module, conn_params, autocommit=True)
    try:
        schemas, warnings = mlflow_schemas(conn)
        found_tenants = tenants(conn, schemas)
        without_rows = forced_row_security_tables(conn)
    finally:
        conn.close()
    warnings += ["table %s.%s: its rows are not in the backup (its owner forced row-level security, "
                 "which the admin does not evaluate)" % pair for pair in without_rows]
    for warning in warnings:
        module.warn(warning)
    result = {"changed": True, "path": root, "schemas": schemas, "tenants": found_tenants, "commands": []}
    try:
        lib.pg_tool(params["pg_bin_dir"], "pg_dump")
        s3 = boto3_client(params, "s3")
        if module.check_mode:
            listed = [o for b in params["buckets"] for o in lib.list_objects(s3, b)]
            result["objects"] = {"count": len(listed), "bytes": sum(o["Size"] for o in listed)}
            module.exit_json(**result)
        # 0600 files in 0700 directories from the first byte: a backup holds every credential
        previous_umask = os.umask(0o077)
        try:
            manifest, argv = make_backup(module, conn_params, s3, root, schemas, found_tenants, without_rows)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        finally:
            os.umask(previous_umask)
    except lib.BackupError as err:
        module.fail_json(msg=str(err), path=root)
    except Exception as err:  # pylint: disable=broad-exception-caught
        if not is_client_error(err):
            module.fail_json(msg="backup failed: %s" % err, exception=traceback.format_exc())
        module.fail_json(msg=describe_error(err, params["endpoint_url"]), path=root)
    result["commands"] = [" ".join(argv)]
    result["manifest"] = lib.summary(manifest)
    result["objects"] = result["manifest"]["objects"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
