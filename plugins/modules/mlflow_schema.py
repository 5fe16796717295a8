#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: mlflow_schema
short_description: MLflow's tables in tenant schemas, at the pinned MLflow version
version_added: 0.1.0
description:
  - Creates MLflow's tracking tables in the schema of each given tenant, owned by
    the tenant's role, and upgrades tenant schemas left at an older MLflow revision
    with MLflow's own alembic migrations (rows are kept). Schemas already at the head
    revision are left alone (C(changed=false)).
  - New schemas are not migrated one by one. A template schema
    (C(workbench_mlflow_template)) is migrated once with MLflow's own code and
    kept; its DDL is regenerated from the PostgreSQL catalog and run in each new
    tenant schema as the tenant role (about 0.1 s a tenant instead of the seconds of
    one C(mlflow db upgrade)). The template is rebuilt when MLflow's head revision changes.
  - The tenant schemas and roles must exist (M(enertef.workbench.pg_tenant)); a
    schema holding other tables without C(alembic_version) is refused, untouched.
  - Check mode reads the schemas' revisions and reports what would be done.
author:
  - EnerTEF workbench team (@enertef)
extends_documentation_fragment:
  - enertef.workbench.postgres
options:
  tenant:
    description:
      - One user name (or group name with O(kind=group)). Mutually exclusive with O(tenants).
    type: str
  tenants:
    description:
      - Several user names (or group names with O(kind=group)), handled in one run.
    type: list
    elements: str
  kind:
    description:
      - Whether the names are users or groups (a group C(ml) is the tenant C(group_ml)).
    type: str
    choices: [user, group]
    default: user
  mlflow_version:
    description:
      - The MLflow version the workbench is pinned to. It must equal the MLflow
        installed where the module runs, else the module fails naming both versions
        (the schema revision must match the MLflow in the notebook image).
    type: str
    required: true
  parallel:
    description:
      - How many connections copy MLflow's tables into new schemas at once (each
        schema in its own transaction). The server does the work, so about its
        number of cores is best.
    type: int
    default: 2
requirements:
  - mlflow (the pinned version), SQLAlchemy, psycopg >= 3
"""

EXAMPLES = r"""
- name: MLflow tables for every user in one run
  enertef.workbench.mlflow_schema:
    tenants: "{{ workbench_users | map(attribute='name') | list }}"
    mlflow_version: "3.17.2"
    login_host: localhost
    login_password: "{{ secrets_credentials.postgres_admin_password }}"

- name: MLflow tables for group ml
  enertef.workbench.mlflow_schema:
    tenant: ml
    kind: group
    mlflow_version: "3.17.2"
    login_host: localhost
    login_password: "{{ secrets_credentials.postgres_admin_password }}"
"""

RETURN = r"""
created:
  description: Tenant schemas that got MLflow's tables (would get, in check mode).
  returned: always
  type: list
  elements: str
  sample: [alice]
upgraded:
  description: Tenant schemas migrated from an older revision to the head revision.
  returned: always
  type: list
  elements: str
unchanged:
  description: Tenant schemas already at the head revision.
  returned: always
  type: list
  elements: str
revision:
  description: MLflow's head schema revision (alembic) of the installed MLflow.
  returned: always
  type: str
  sample: dc11669786a5
template_rebuilt:
  description: Whether the template schema was (re)built by MLflow's migrations in this run.
  returned: always
  type: bool
queries:
  description: What was done (or would be), one line per schema.
  returned: always
  type: list
  elements: str
diff:
  description: The alembic revision of each schema before and after (null = no MLflow tables).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.enertef.workbench.plugins.module_utils.mlflow_schema import (
    TEMPLATE_SCHEMA,
    MlflowSchemaError,
    check_can_act_as,
    copy_of_schema,
    ensure_template,
    head_revision,
    installed_mlflow_version,
    migrate,
    plan,
    revision_graph,
    schema_states,
)
from ansible_collections.enertef.workbench.plugins.module_utils.postgres import (
    connect_to_db,
    ensure_required_libs,
    get_conn_params,
    postgres_common_argument_spec,
    psycopg,
)
from ansible_collections.enertef.workbench.plugins.module_utils.tenant import (
    TenantNameError,
    tenant_for,
)


class MlflowVersionError(ValueError):
    pass


def tenant_roles(params):
    """{schema: role} of the requested tenants, validated (before connecting)."""
    names = [params["tenant"]] if params["tenant"] is not None else params["tenants"]
    roles = {}
    for name in names:
        ids = tenant_for(name, params["kind"])
        if ids["pg_schema"] in roles:
            raise TenantNameError("tenant %r is listed twice" % name)
        roles[ids["pg_schema"]] = ids["pg_role"]
    return roles


def check_mlflow_version(wanted):
    installed = installed_mlflow_version()
    if installed != wanted:
        raise MlflowVersionError(
            "mlflow_version is %s but the MLflow installed here is %s: install mlflow==%s where "
            "the module runs (the schema revision must match the notebook image's MLflow)"
            % (wanted, installed or "not installed", wanted))
    return installed


def sqlalchemy_url(conn_params):
    """The SQLAlchemy URL of the admin connection (for MLflow's migrations)."""
    from sqlalchemy.engine import URL
    query = {"sslmode": conn_params["sslmode"], "connect_timeout": str(conn_params["connect_timeout"])}
    if conn_params.get("host"):
        query["host"] = conn_params["host"]
    if conn_params.get("sslrootcert"):
        query["sslrootcert"] = conn_params["sslrootcert"]
    return URL.create("postgresql+psycopg", username=conn_params["user"],
                      password=conn_params.get("password"), port=conn_params["port"],
                      database=conn_params["dbname"], query=query)


def copy_in_parallel(copy, conn_params, targets, parallel):
    """Apply ``copy`` to each (schema, role), over ``parallel`` connections.

    The server does the work (one backend per connection), so two connections
    about halve the time on a two-core server. Each schema is its own transaction;
    the first error is raised after the other workers finish.
    """
    import concurrent.futures

    def work(chunk):
        with psycopg.connect(autocommit=True, **conn_params) as worker:
            for schema, role in chunk:
                copy.apply(worker, schema, role)

    chunks = [targets[i::parallel] for i in range(min(parallel, len(targets)))]
    with concurrent.futures.ThreadPoolExecutor(len(chunks)) as pool:
        for future in [pool.submit(work, chunk) for chunk in chunks]:
            future.result()


def ensure_mlflow_schemas(conn, conn_params, roles, check_mode, parallel=2):
    """Create/upgrade MLflow's tables for ``roles`` ({schema: role}); return the module result.

    ``conn`` must be in autocommit mode: each schema gets its own transaction.
    """
    graph = revision_graph()
    head = head_revision(graph)
    before = schema_states(conn.cursor(), roles)
    create, upgrade, unchanged = plan(before, graph, head)
    check_can_act_as(conn.cursor(), [roles[s] for s in create + upgrade])

    queries = []
    rebuilt = False
    if not check_mode and (create or upgrade):
        url = sqlalchemy_url(conn_params)
        if create:
            rebuilt = ensure_template(conn, url, head)
            if rebuilt:
                queries.append("mlflow db upgrade (MLflow's migrations) of template schema %s" % TEMPLATE_SCHEMA)
            copy = copy_of_schema(conn, TEMPLATE_SCHEMA)
            copy_in_parallel(copy, conn_params, [(s, roles[s]) for s in create], parallel)
            queries.extend("SET ROLE %s; SET search_path TO %s; copy of %s (%d statements, %d tables of rows)"
                           % (roles[s], s, TEMPLATE_SCHEMA, copy.statement_count, len(copy.rows)) for s in create)
        for schema in upgrade:
            migrate(url, schema, roles[schema])
            queries.append("alembic upgrade heads in schema %s as role %s (from revision %s)"
                           % (schema, roles[schema], before[schema][2]))
    else:
        queries.extend("would copy %s into schema %s" % (TEMPLATE_SCHEMA, s) for s in create)
        queries.extend("would upgrade schema %s from revision %s" % (s, before[s][2]) for s in upgrade)

    return {
        "changed": bool(create or upgrade),
        "created": create,
        "upgraded": upgrade,
        "unchanged": unchanged,
        "revision": head,
        "template_rebuilt": rebuilt,
        "queries": queries,
        "diff": {"before": dict((s, before[s][2]) for s in sorted(roles)),
                 "after": dict((s, head if s in create + upgrade else before[s][2]) for s in sorted(roles))},
    }


def argument_spec():
    spec = postgres_common_argument_spec()
    spec.update(
        tenant=dict(type="str"),
        tenants=dict(type="list", elements="str"),
        kind=dict(type="str", default="user", choices=["user", "group"]),
        mlflow_version=dict(type="str", required=True),
        parallel=dict(type="int", default=2),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[("tenant", "tenants")],
                           required_one_of=[("tenant", "tenants")])
    try:
        roles = tenant_roles(module.params)
    except TenantNameError as err:
        module.fail_json(msg=str(err), changed=False)
    try:
        check_mlflow_version(module.params["mlflow_version"])
    except MlflowVersionError as err:
        if installed_mlflow_version() is None:
            module.fail_json(msg=missing_required_lib("mlflow==%s" % module.params["mlflow_version"]))
        module.fail_json(msg=str(err), changed=False)
    ensure_required_libs(module)
    conn_params = get_conn_params(module.params)
    conn = connect_to_db(module, conn_params, autocommit=True)
    try:
        result = ensure_mlflow_schemas(conn, conn_params, roles, module.check_mode,
                                       max(1, module.params["parallel"]))
    except MlflowSchemaError as err:
        module.fail_json(msg=str(err), changed=False)
    except psycopg.Error as err:
        module.fail_json(msg="PostgreSQL refused: %s" % str(err).strip())
    except ImportError as err:
        module.fail_json(msg=missing_required_lib("mlflow==%s (with SQLAlchemy)" % module.params["mlflow_version"]),
                         exception=str(err))
    finally:
        conn.close()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
