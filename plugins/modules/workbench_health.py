#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: workbench_health
short_description: Report each workbench component and each tenant as healthy or not, with the reason
version_added: 0.1.0
description:
  - "Components: each URL in O(urls) answers with a status below 400; PostgreSQL accepts the admin
    login; the object store lists O(bucket) with the admin keys."
  - "Tenants: each tenant in O(tenants) logs in to PostgreSQL with its own password, its schema's
    C(alembic_version) is MLflow's head revision (of the MLflow installed here), and with its own
    keys it can put, read back and delete an object under its own prefix."
  - Never fails for an unhealthy part; RV(healthy) and each entry's C(reason) say what is wrong,
    so a playbook can print the whole report before failing.
  - In check mode the object-store check lists the tenant's prefix instead of writing to it.
author: enertef.workbench contributors (@enertef)
extends_documentation_fragment:
  - enertef.workbench.postgres
  - enertef.workbench.object_store
options:
  tenants:
    description:
      - The tenants to check, each C(name) with its credentials C(db_password), C(s3_access_key),
        C(s3_secret_key) (as in the C(users) role's credentials file).
    type: list
    elements: dict
    default: []
  urls:
    description:
      - Web endpoints to check, each C(name) and C(url).
    type: list
    elements: dict
    default: []
  bucket:
    description:
      - The shared bucket.
    type: str
    default: mlflow
"""

EXAMPLES = r"""
- name: Check the components and every tenant
  enertef.workbench.workbench_health:
    login_host: localhost
    login_password: "{{ secrets_credentials.postgres_admin_password }}"
    endpoint_url: http://localhost:9000
    admin_access_key: "{{ secrets_credentials.object_store_root_user }}"
    admin_secret_key: "{{ secrets_credentials.object_store_root_password }}"
    urls:
      - {name: JupyterHub, url: "http://localhost:8080/hub/health"}
    tenants:
      - name: alice
        db_password: "{{ users_credentials.alice.db_password }}"
        s3_access_key: "{{ users_credentials.alice.s3_access_key }}"
        s3_secret_key: "{{ users_credentials.alice.s3_secret_key }}"
  register: health
  no_log: true
"""

RETURN = r"""
healthy:
  description: Whether every component and every tenant is healthy.
  returned: always
  type: bool
components:
  description: One entry per component, C(name), C(healthy), C(reason).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "PostgreSQL", "healthy": true, "reason": "admin login works"}]
tenants:
  description: One entry per tenant, C(name), C(healthy), C(reason) (every failed check, or what passed).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "alice", "healthy": false, "reason": "schema alice is at revision 1b5f0d9ad7c1, head is cde88e5d53c0"}]
report:
  description: One line per component and tenant, for example C(tenant alice - healthy ...).
  returned: always
  type: list
  elements: str
revision:
  description: MLflow's head schema revision the tenants are compared with.
  returned: always
  type: str
"""

import secrets

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

from ansible_collections.enertef.workbench.plugins.module_utils.mlflow_schema import (
    MlflowSchemaError,
    head_revision,
    revision_graph,
)
from ansible_collections.enertef.workbench.plugins.module_utils.object_store import (
    HAS_BOTO3,
    boto3_client,
    describe_error,
    object_store_argument_spec,
)
from ansible_collections.enertef.workbench.plugins.module_utils.postgres import (
    describe_target,
    get_conn_params,
    postgres_common_argument_spec,
    psycopg,
    sql,
    tenant_conn_params,
)
from ansible_collections.enertef.workbench.plugins.module_utils.tenant import name_problem, tenant_for


def entry(name, problems, passed):
    return {"name": name, "healthy": not problems, "reason": "; ".join(problems) if problems else passed}


def check_url(item, timeout):
    try:
        response = open_url(item["url"], timeout=timeout, validate_certs=False)
        return entry(item.get("name", item["url"]), [], "HTTP %s from %s" % (response.getcode(), item["url"]))
    except Exception as err:  # pylint: disable=broad-exception-caught
        return entry(item.get("name", item["url"]), ["%s: %s" % (item["url"], err)], "")


def check_postgres(conn_params):
    if psycopg is None:
        return entry("PostgreSQL", ["psycopg (version 3) is not installed on the controller"], "")
    try:
        psycopg.connect(**conn_params).close()
        return entry("PostgreSQL", [], "admin login to %s works" % describe_target(conn_params))
    except psycopg.Error as err:
        return entry("PostgreSQL", ["%s: %s" % (describe_target(conn_params), str(err).strip())], "")


def s3_for(params, access_key=None, secret_key=None):
    keys = dict(params)
    if access_key:
        keys.update(admin_access_key=access_key, admin_secret_key=secret_key)
    return boto3_client(keys, "s3")


def check_object_store(params):
    if not HAS_BOTO3:
        return entry("Object store", ["boto3 is not installed on the controller"], "")
    try:
        s3_for(params).list_objects_v2(Bucket=params["bucket"], MaxKeys=1)
        return entry("Object store", [], "admin lists bucket %s at %s" % (params["bucket"], params["endpoint_url"]))
    except Exception as err:  # pylint: disable=broad-exception-caught
        return entry("Object store", [describe_error(err, params["endpoint_url"])], "")


def check_tenant_db(conn_params, ids, password, head):
    """Problems of one tenant's database side (own login, own schema at head)."""
    try:
        with psycopg.connect(**tenant_conn_params(conn_params, ids["pg_role"], password or "")) as conn:
            schema = conn.execute("SELECT current_schema()").fetchone()[0]
            if schema != ids["pg_schema"]:
                return ["search_path resolves to %r, not the tenant's schema %s" % (schema, ids["pg_schema"])]
            if conn.execute("SELECT to_regclass('alembic_version')").fetchone()[0] is None:
                return ["schema %s has no MLflow tables (alembic_version missing)" % ids["pg_schema"]]
            revisions = [r[0] for r in conn.execute(sql.SQL("SELECT version_num FROM {}").format(
                sql.Identifier(ids["pg_schema"], "alembic_version"))).fetchall()]
    except psycopg.Error as err:
        return ["PostgreSQL login as %s: %s" % (ids["pg_role"], str(err).strip().splitlines()[0])]
    if revisions != [head]:
        return ["schema %s is at revision %s, MLflow's head is %s (run playbooks/upgrade-workbench.yml)"
                % (ids["pg_schema"], ", ".join(revisions) or "none", head)]
    return []


def check_tenant_objects(params, ids, tenant, check_mode):
    if not HAS_BOTO3:
        return ["boto3 is not installed on the controller"]
    if not tenant.get("s3_secret_key"):
        return ["no object-store key recorded for %s" % ids["name"]]
    key = "%s.workbench-verify-%s" % (ids["s3_prefix"], secrets.token_hex(6))
    body = secrets.token_bytes(32)
    try:
        # MinIO: the access key is the tenant id
        s3 = s3_for(params, tenant.get("s3_access_key") or ids["s3_user"], tenant["s3_secret_key"])
        if check_mode:
            s3.list_objects_v2(Bucket=params["bucket"], Prefix=ids["s3_prefix"], MaxKeys=1)
            return []
        s3.put_object(Bucket=params["bucket"], Key=key, Body=body)
        try:
            if s3.get_object(Bucket=params["bucket"], Key=key)["Body"].read() != body:
                return ["object read back from s3://%s/%s differs" % (params["bucket"], key)]
        finally:
            s3.delete_object(Bucket=params["bucket"], Key=key)
    except Exception as err:  # pylint: disable=broad-exception-caught
        return ["object store with own key: %s" % describe_error(err, params["endpoint_url"]).replace(
            "refused the admin credentials", "refused the tenant's key").replace(
            ": check admin_access_key/admin_secret_key", "")]
    return []


def check_tenant(params, conn_params, tenant, head, check_mode):
    name = tenant.get("name")
    problem = name_problem(name)
    if problem:
        return entry(str(name), [problem], "")
    ids = tenant_for(name, tenant.get("kind", "user"))
    problems = check_tenant_db(conn_params, ids, tenant.get("db_password"), head) if psycopg else \
        ["psycopg (version 3) is not installed on the controller"]
    problems += check_tenant_objects(params, ids, tenant, check_mode)
    passed = "own login, schema %s at %s, %s in own prefix %s" % (
        ids["pg_schema"], head, "list" if check_mode else "put/get/delete", ids["s3_prefix"])
    return entry(name, problems, passed)


def main():
    spec = postgres_common_argument_spec()
    spec.update(object_store_argument_spec(
        # the entries hold passwords, but no_log here would mask the tenant names in the report too
        tenants=dict(type="list", elements="dict", default=[], no_log=False),
        urls=dict(type="list", elements="dict", default=[]),
        bucket=dict(type="str", default="mlflow"),
    ))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params
    try:
        head = head_revision(revision_graph())
    except (MlflowSchemaError, OSError) as err:
        module.fail_json(msg="cannot read MLflow's schema revisions on the controller: %s" % err)
    conn_params = get_conn_params(params)
    components = [check_url(item, params["timeout"]) for item in params["urls"]]
    components += [check_postgres(conn_params), check_object_store(params)]
    tenants = [check_tenant(params, conn_params, tenant, head, module.check_mode) for tenant in params["tenants"]]
    healthy = all(c["healthy"] for c in components + tenants)
    report = ["%s %s: %s (%s)" % (kind, item["name"], "healthy" if item["healthy"] else "UNHEALTHY", item["reason"])
              for kind, items in (("component", components), ("tenant", tenants)) for item in items]
    module.exit_json(changed=False, healthy=healthy, components=components, tenants=tenants, revision=head,
                     report=report)


if __name__ == "__main__":
    main()
