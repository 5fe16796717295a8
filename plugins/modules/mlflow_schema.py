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
    In check mode a schema that does not exist yet is reported as one to create
    (the same play's M(enertef.workbench.pg_tenant) made nothing either).
  - "The admin login never runs a tenant's code: a user's schema is created and
    upgraded through the user's own login (O(passwords)); a group's schema, which
    only the admin can put code into, as the group's owner role, and only when it
    holds no function, trigger, rule, policy or view the template lacks. The
    revisions are read by the admin only from plain tables (no view, rule, trigger,
    row-level security); anything else is refused, naming the schema."
  - When every schema is already at the head revision the module reads one catalog
    query per schema and imports neither MLflow nor SQLAlchemy.
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
  groups:
    description:
      - Group names handled in the same run as the users of O(tenant) or O(tenants)
        (one module run for a whole lab, as M(enertef.workbench.pg_tenant) does). Only with
        O(kind=user).
    type: list
    elements: str
    default: []
  mlflow_version:
    description:
      - The MLflow version the workbench is pinned to. It must equal the MLflow
        installed where the module runs, else the module fails naming both versions
        (the schema revision must match the MLflow in the notebook image).
    type: str
    required: true
  passwords:
    description:
      - "User name -> that user's PostgreSQL password (what M(enertef.workbench.pg_tenant) was
        given). Needed for each user whose schema is created or upgraded: that is done through
        the user's own login. Not used for groups."
    type: dict
    default: {}
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
    passwords: "{{ user_db_passwords }}"
    mlflow_version: "3.17.2"
    login_host: localhost
    login_password: "{{ secrets_credentials.postgres_admin_password }}"
  no_log: true

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
    foreign_code,
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
    sql,
    tenant_conn_params,
)
from ansible_collections.enertef.workbench.plugins.module_utils.tenant import (
    TenantNameError,
    tenant_for,
)


class MlflowVersionError(ValueError):
    pass


def tenant_roles(params):
    """{schema: tenant ids} of the requested tenants, validated (before connecting)."""
    groups = params.get("groups") or []
    if groups and params["kind"] == "group":
        raise TenantNameError("groups is for the groups of a kind=user call; with kind=group name them in tenants")
    names = [params["tenant"]] if params["tenant"] is not None else (params["tenants"] or [])
    tenants = {}
    for name, kind in [(name, params["kind"]) for name in names] + [(name, "group") for name in groups]:
        ids = tenant_for(name, kind)
        if ids["pg_schema"] in tenants:
            raise TenantNameError("tenant %r is listed twice" % name)
        tenants[ids["pg_schema"]] = ids
    return tenants


def check_mlflow_version(wanted):
    installed = installed_mlflow_version()
    if installed != wanted:
        raise MlflowVersionError(
            "mlflow_version is %s but the MLflow installed here is %s: install mlflow==%s where "
            "the module runs (the schema revision must match the notebook image's MLflow)"
            % (wanted, installed or "not installed", wanted))
    return installed


def sqlalchemy_url(conn_params):
    """The SQLAlchemy URL of a connection (for MLflow's migrations)."""
    from sqlalchemy.engine import URL
    query = {"sslmode": conn_params["sslmode"], "connect_timeout": str(conn_params["connect_timeout"])}
    if conn_params.get("host"):
        query["host"] = conn_params["host"]
    if conn_params.get("sslrootcert"):
        query["sslrootcert"] = conn_params["sslrootcert"]
    return URL.create("postgresql+psycopg", username=conn_params["user"],
                      password=conn_params.get("password"), port=conn_params["port"],
                      database=conn_params["dbname"], query=query)


def copy_in_parallel(copy, targets, parallel):
    """Apply ``copy`` to each (schema, connection parameters, role), over ``parallel`` workers.

    The server does the work (one backend per connection), so two workers
    about halve the time on a two-core server. Each schema is its own
    transaction; the first error is raised after the other workers finish.
    """
    import concurrent.futures

    def work(chunk):
        for schema, conn_params, role in chunk:
            with psycopg.connect(autocommit=True, **conn_params) as worker:
                copy.apply(worker, schema, role)

    chunks = [targets[i::parallel] for i in range(min(parallel, len(targets)))]
    with concurrent.futures.ThreadPoolExecutor(len(chunks)) as pool:
        for future in [pool.submit(work, chunk) for chunk in chunks]:
            future.result()


class Acting:
    """How the module acts in each tenant schema (see the module's description)."""

    def __init__(self, conn_params, tenants, passwords):
        self.conn_params = conn_params
        self.tenants = tenants
        self.passwords = passwords
        self.template_owner = conn_params["user"]

    def check(self, conn, schemas):
        """Fail before any change when a schema cannot be acted on safely."""
        users = [s for s in schemas if self.tenants[s]["kind"] == "user"]
        missing = [self.tenants[s]["name"] for s in users if not self.passwords.get(self.tenants[s]["name"])]
        if missing:
            raise MlflowSchemaError("no password given for %s: a user's schema is created and upgraded "
                                    "through the user's own login (option passwords)" % ", ".join(missing))
        groups = [s for s in schemas if self.tenants[s]["kind"] == "group"]
        check_can_act_as(conn, [self.tenants[s]["pg_owner"] for s in groups])
        for schema in groups:
            found = foreign_code(conn, schema, self.tenants[schema]["pg_owner"], self.template_owner)
            if found:
                raise MlflowSchemaError("group schema %s holds what no MLflow migration makes (%s): the admin "
                                        "does not act in it; remove them or restore the group" % (
                                            schema, ", ".join(found)))

    def read_as_tenant(self, schema):
        """The revision in a user's schema, read through the user's own login (whatever
        code the user put there runs as the user), or None for a group or without password."""
        ids = self.tenants.get(schema)
        if not ids or ids["kind"] != "user" or not self.passwords.get(ids["name"]):
            return None
        params, dummy = self.target(schema)
        try:
            with psycopg.connect(autocommit=True, **params) as tenant:
                rows = tenant.execute(sql.SQL("SELECT version_num::text FROM {}").format(
                    sql.Identifier(schema, "alembic_version"))).fetchall()
        except psycopg.Error as err:
            raise MlflowSchemaError("schema %s: reading its alembic_version as %s failed: %s"
                                    % (schema, ids["pg_role"], str(err).strip()))
        return rows[0][0] if len(rows) == 1 else "<%d rows>" % len(rows)

    def target(self, schema):
        """(connection parameters, role to SET or None) for ``schema``."""
        ids = self.tenants[schema]
        if ids["kind"] == "user":
            return tenant_conn_params(self.conn_params, ids["pg_role"], self.passwords[ids["name"]]), None
        return self.conn_params, ids["pg_owner"]


def ensure_mlflow_schemas(conn, conn_params, tenants, check_mode, parallel=2, passwords=None):
    """Create/upgrade MLflow's tables for ``tenants`` ({schema: tenant ids}); return the module result.

    ``conn`` (the admin's) must be in autocommit mode: each schema gets its own
    transaction. ``passwords``: user name -> password, for the users whose
    schemas change.
    """
    graph = revision_graph()
    head = head_revision(graph)
    acting = Acting(conn_params, tenants, passwords or {})
    before = schema_states(conn, tenants, acting.read_as_tenant)
    # --check of a run that adds users: their tenants are not made (pg_tenant was in check mode too)
    create, upgrade, unchanged = plan(before, graph, head, missing_ok=check_mode)
    pending = [schema for schema in create if not before[schema][0]]
    acting.check(conn, [schema for schema in create + upgrade if schema not in pending])
    queries = []
    rebuilt = False
    if not check_mode and (create or upgrade):
        if create:
            rebuilt = ensure_template(conn, sqlalchemy_url(conn_params), head)
            if rebuilt:
                queries.append("mlflow db upgrade (MLflow's migrations) of template schema %s" % TEMPLATE_SCHEMA)
            copy = copy_of_schema(conn, TEMPLATE_SCHEMA)
            copy_in_parallel(copy, [(s,) + acting.target(s) for s in create], parallel)
            queries.extend("%s; SET search_path TO %s; copy of %s (%d statements, %d tables of rows)"
                           % (describe_acting(acting.target(s)), s, TEMPLATE_SCHEMA, copy.statement_count,
                              len(copy.rows)) for s in create)
        for schema in upgrade:
            params, role = acting.target(schema)
            try:
                migrate(sqlalchemy_url(params), schema, role)
            except ImportError:
                raise
            except Exception as err:  # pylint: disable=broad-exception-caught
                # MLflow's migrations raise SQLAlchemy's errors: name the schema, not a traceback
                raise MlflowSchemaError("upgrade of schema %s (%s) failed, that schema is left as it was: %s"
                                        % (schema, describe_acting((params, role)), str(err).strip()[:2000]))
            queries.append("alembic upgrade heads in schema %s, %s (from revision %s)"
                           % (schema, describe_acting((params, role)), before[schema][2]))
    else:
        queries.extend("would copy %s into schema %s%s" % (TEMPLATE_SCHEMA, s, " (once its tenant is made)"
                                                           if s in pending else "") for s in create)
        queries.extend("would upgrade schema %s from revision %s" % (s, before[s][2]) for s in upgrade)
    return {
        "changed": bool(create or upgrade),
        "created": create,
        "upgraded": upgrade,
        "unchanged": unchanged,
        "revision": head,
        "template_rebuilt": rebuilt,
        "queries": queries,
        "diff": {"before": dict((s, before[s][2]) for s in sorted(tenants)),
                 "after": dict((s, head if s in create + upgrade else before[s][2]) for s in sorted(tenants))},
    }


def describe_acting(target):
    params, role = target
    return "SET ROLE %s" % role if role else "logged in as %s" % params["user"]


def argument_spec():
    spec = postgres_common_argument_spec()
    spec.update(
        tenant=dict(type="str"),
        tenants=dict(type="list", elements="str"),
        kind=dict(type="str", default="user", choices=["user", "group"]),
        groups=dict(type="list", elements="str", default=[]),
        mlflow_version=dict(type="str", required=True),
        passwords=dict(type="dict", default={}, no_log=True),
        parallel=dict(type="int", default=2),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           mutually_exclusive=[("tenant", "tenants")],
                           required_one_of=[("tenant", "tenants", "groups")])
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
                                       max(1, module.params["parallel"]), module.params["passwords"])
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
