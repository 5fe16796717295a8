#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: workbench_restore
short_description: Put a workbench backup's PostgreSQL database and objects back
version_added: 0.1.0
description:
  - Restores a backup made by M(enertef.workbench.workbench_backup).
  - First, before anything changes, every file is checked against the manifest (a missing manifest,
    a missing file or a checksum mismatch fails naming the file), the roles owning the dumped
    objects must exist (provision the tenants first, e.g. with the C(users) role), and both servers
    must answer.
  - "O(parts) C(postgres): each user's schema is emptied (C(DROP SCHEMA ... CASCADE)), then
    C(pg_restore --clean --if-exists --single-transaction) of everything else (the groups' schemas,
    the template, the schemas themselves) as the admin, then each user's schema is restored through
    the user's own login (O(passwords)): what a user stored (CHECK constraints, defaults, triggers
    calling its functions) runs as that user while its rows go in, never with the admin's rights.
    A user whose restore fails is named; the others are restored."
  - "O(parts) C(objects): every object is put back under its key, unless the bucket already holds the
    same bytes (size and MD5 ETag). Missing buckets are created. Objects not in the backup are left alone."
  - Check mode verifies everything and reports what would be restored.
author: enertef.workbench contributors (@enertef)
extends_documentation_fragment:
  - enertef.workbench.postgres
  - enertef.workbench.object_store
options:
  path:
    description:
      - The backup directory (the dated one).
    type: path
    required: true
  parts:
    description:
      - What to restore.
    type: list
    elements: str
    choices: [postgres, objects]
    default: [postgres, objects]
  pg_bin_dir:
    description:
      - Directory holding C(pg_restore) (version at least the dump's). Empty means C(PATH).
    type: path
    default: ""
  passwords:
    description:
      - User name -> that user's PostgreSQL password, for every user whose schema is in the backup
        (the users role keeps them in C(user-credentials.yml)). Checked before anything changes.
    type: dict
    default: {}
notes:
  - Restoring the database replaces the data of the dumped schemas, so a run with C(postgres) always
    reports a change. Role passwords are not in a database dump; they stay as they are.
"""

EXAMPLES = r"""
- name: Put the database and the objects back
  enertef.workbench.workbench_restore:
    path: /backups/workbench-20260131T120000Z
    login_host: localhost
    login_password: "{{ secrets_credentials.postgres_admin_password }}"
    endpoint_url: http://localhost:9000
    admin_access_key: "{{ secrets_credentials.object_store_root_user }}"
    admin_secret_key: "{{ secrets_credentials.object_store_root_password }}"
"""

RETURN = r"""
manifest:
  description: Summary of the verified manifest.
  returned: always
  type: dict
schemas:
  description: The MLflow schemas (with their revision) put back.
  returned: when postgres is restored
  type: dict
objects_restored:
  description: Number of objects uploaded (would be, in check mode).
  returned: when objects are restored
  type: int
objects_unchanged:
  description: Number of objects the bucket already held with the same bytes.
  returned: when objects are restored
  type: int
commands:
  description: The pg_restore command line (would be, in check mode); the password is passed in the environment.
  returned: always
  type: list
  elements: str
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.enertef.workbench.plugins.module_utils import backup as lib
from ansible_collections.enertef.workbench.plugins.module_utils.object_store import (
    HAS_BOTO3,
    BOTO3_IMPORT_ERROR,
    boto3_client,
    describe_error,
    error_code,
    is_client_error,
    object_store_argument_spec,
)
from ansible_collections.enertef.workbench.plugins.module_utils.postgres import (
    connect_to_db,
    get_conn_params,
    postgres_common_argument_spec,
    sql,
    tenant_conn_params,
)
from ansible_collections.enertef.workbench.plugins.module_utils.tenant import tenant_for


def missing_roles(module, conn_params, roles):
    conn = connect_to_db(module, conn_params, autocommit=True)
    try:
        return [r[0] for r in conn.execute(
            "SELECT r FROM unnest(%s::text[]) AS r WHERE to_regrole(r) IS NULL ORDER BY 1", (list(roles),)).fetchall()]
    finally:
        conn.close()


def user_schemas(manifest):
    """{user name: schema} of the users whose schemas the dump holds."""
    names = [u["name"] for u in manifest["postgres"].get("tenants", {}).get("users", [])]
    schemas = manifest["postgres"].get("schemas", {})
    return dict((name, tenant_for(name)["pg_schema"]) for name in names if tenant_for(name)["pg_schema"] in schemas)


def restore_postgres(module, conn_params, dump, users):
    """Empty the users' schemas, restore the rest as the admin, then each user's schema as the user."""
    bin_dir = module.params["pg_bin_dir"]
    conn = connect_to_db(module, conn_params, autocommit=True)
    try:
        with conn.transaction():
            for schema in sorted(users.values()):
                # dropping runs no code of the schema's owner
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    finally:
        conn.close()
    commands = [" ".join(lib.pg_restore(bin_dir, conn_params, dump, sorted(users.values())))]
    conn = connect_to_db(module, conn_params, autocommit=True)
    try:
        for name, schema in sorted(users.items()):
            # a user may not create schemas: it restores into its own, empty one
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
                sql.Identifier(schema), sql.Identifier(tenant_for(name)["pg_role"])))
    finally:
        conn.close()
    failed = []
    for name, schema in sorted(users.items()):
        login = tenant_conn_params(conn_params, tenant_for(name)["pg_role"], module.params["passwords"][name])
        try:
            commands.append(" ".join(lib.pg_restore_schema(bin_dir, login, dump, schema)))
        except lib.BackupError as err:
            failed.append("%s: %s" % (name, err))
    if failed:
        module.fail_json(msg="restored all but these users' schemas (each left empty):\n- " + "\n- ".join(failed),
                         commands=commands, changed=True)
    return commands


def ensure_bucket(s3, bucket, check_mode):
    try:
        s3.head_bucket(Bucket=bucket)
        return False
    except Exception as err:  # pylint: disable=broad-exception-caught
        if error_code(err) not in ("404", "NoSuchBucket", "NotFound"):
            raise
    if not check_mode:
        s3.create_bucket(Bucket=bucket)
    return True


def main():
    spec = postgres_common_argument_spec()
    spec.update(object_store_argument_spec(
        path=dict(type="path", required=True),
        parts=dict(type="list", elements="str", choices=["postgres", "objects"], default=["postgres", "objects"]),
        pg_bin_dir=dict(type="path", default=""),
        passwords=dict(type="dict", default={}, no_log=True),
    ))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params
    root = params["path"]
    try:
        manifest = lib.verify_backup(root)
    except lib.BackupError as err:
        module.fail_json(msg=str(err))
    if not HAS_BOTO3:
        module.fail_json(msg=missing_required_lib("boto3"), exception=str(BOTO3_IMPORT_ERROR))

    conn_params = get_conn_params(params)
    result = {"changed": False, "manifest": lib.summary(manifest), "commands": []}
    restore_pg = "postgres" in params["parts"]
    restore_objects = "objects" in params["parts"]
    try:
        # every precondition before the first change
        if restore_pg:
            lib.pg_tool(params["pg_bin_dir"], "pg_restore")
            absent = missing_roles(module, conn_params, manifest["postgres"].get("roles", []))
            if absent:
                module.fail_json(msg="roles %s own objects in the dump but do not exist: provision the "
                                     "backup's users and groups first (the restore playbook does, from the "
                                     "manifest's metadata); nothing was restored" % ", ".join(absent), **result)
        s3 = boto3_client(params, "s3") if restore_objects else None
        items = manifest["objects"].get("items", [])
        if restore_objects:
            new_buckets = [b for b in sorted(set(i["bucket"] for i in items) | set(manifest["objects"]["buckets"]))
                           if ensure_bucket(s3, b, check_mode=True)]
            pending = [i for i in items if i["bucket"] in new_buckets or not lib.object_is_current(s3, i)]

        if restore_pg:
            dump = lib.inside(root, manifest["postgres"]["file"])
            users = user_schemas(manifest)
            unknown = sorted(name for name in users if not params["passwords"].get(name))
            if unknown:
                module.fail_json(msg="no password given for %s: a user's schema is restored through the "
                                     "user's own login (option passwords); nothing was restored"
                                 % ", ".join(unknown), **result)
            if module.check_mode:
                result["commands"].append("pg_restore --clean --if-exists --single-transaction %s" % dump)
            else:
                result["commands"] += restore_postgres(module, conn_params, dump, users)
            result["schemas"] = manifest["postgres"].get("schemas", {})
            result["changed"] = True
        if restore_objects:
            for bucket in new_buckets:
                ensure_bucket(s3, bucket, module.check_mode)
            if not module.check_mode:
                for item in pending:
                    lib.upload_object(s3, root, item)
            result["objects_restored"] = len(pending)
            result["objects_unchanged"] = len(items) - len(pending)
            result["changed"] = result["changed"] or bool(pending or new_buckets)
    except lib.BackupError as err:
        module.fail_json(msg=str(err), **result)
    except Exception as err:  # pylint: disable=broad-exception-caught
        if not is_client_error(err):
            module.fail_json(msg="restore failed: %s" % err, exception=traceback.format_exc(), **result)
        module.fail_json(msg=describe_error(err, params["endpoint_url"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
