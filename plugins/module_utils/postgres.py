# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every enertef.workbench PostgreSQL module shares.

* ``postgres_common_argument_spec()``: the login options (documented once in
  ``doc_fragments/postgres.py``);
* ``connect_to_db()``: one psycopg 3 connection, or a clear ``fail_json``
  naming the server and the reason (no traceback) when it cannot be reached;
* ``QueryLog``: runs statements and remembers them (secrets masked) for the
  ``queries`` result;
* ``encrypted_password()``: libpq's own SCRAM-SHA-256 hashing on the
  controller, so the plain text never travels to the server or into its logs;
* ``tenant_conn_params()``: the same server, logged in as a tenant;
* ``lock_plain_tables()``: before the admin reads a row of a tenant's table,
  make sure it is a plain table that runs no code when read.

The admin never runs a tenant's code (issue 11). Its sessions start with
``search_path`` pinned to ``pg_catalog, pg_temp``, so no name it uses
unqualified resolves to a tenant's function, operator or table; a tenant's
own data and DDL are read and migrated through the tenant's own login.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib

PSYCOPG_IMPORT_ERROR = None
try:
    import psycopg
    # re-exported: the modules build their SQL with it
    from psycopg import sql  # pylint: disable=unused-import
except ImportError:
    psycopg = None
    sql = None
    PSYCOPG_IMPORT_ERROR = traceback.format_exc()

SSL_MODES = ["allow", "disable", "prefer", "require", "verify-ca", "verify-full"]
APPLICATION_NAME = "enertef.workbench"
MASK = "********"
# The admin's sessions resolve unqualified names in the system catalog only.
ADMIN_OPTIONS = "-c search_path=pg_catalog,pg_temp"


def postgres_common_argument_spec():
    """The login options of every module (see the ``postgres`` doc fragment)."""
    return dict(
        login_user=dict(type="str", default="workbench_admin", aliases=["login"]),
        login_password=dict(type="str", default="", no_log=True),
        login_host=dict(type="str", default="", aliases=["host"]),
        login_port=dict(type="int", default=5432, aliases=["port"]),
        login_unix_socket=dict(type="str", default="", aliases=["unix_socket"]),
        db=dict(type="str", default="mlflow", aliases=["login_db"]),
        connect_timeout=dict(type="int", default=10),
        # libpq's own variables, so a lab's verify-full and CA reach every module from the environment
        ssl_mode=dict(type="str", default="prefer", choices=SSL_MODES, fallback=(env_fallback, ["PGSSLMODE"])),
        ca_cert=dict(type="str", aliases=["ssl_rootcert"], fallback=(env_fallback, ["PGSSLROOTCERT"])),
    )


def ensure_required_libs(module):
    if psycopg is None:
        module.fail_json(msg=missing_required_lib("psycopg (version 3)"), exception=PSYCOPG_IMPORT_ERROR)


def get_conn_params(params, **override):
    """psycopg.connect() keyword arguments from the module's login options."""
    conn = {
        "user": params["login_user"],
        "password": params["login_password"] or None,
        "host": params["login_unix_socket"] or params["login_host"] or None,
        "port": params["login_port"],
        "dbname": params["db"],
        "connect_timeout": params["connect_timeout"],
        "sslmode": params["ssl_mode"],
        "application_name": APPLICATION_NAME,
        "options": ADMIN_OPTIONS,
    }
    if params.get("ca_cert"):
        conn["sslrootcert"] = params["ca_cert"]
    conn.update(override)
    return dict((key, value) for key, value in conn.items() if value is not None)


def tenant_conn_params(conn_params, role, password):
    """The admin's connection parameters, logged in as tenant ``role`` instead
    (its own search_path, none of the admin's options)."""
    params = dict(conn_params, user=role, password=password)
    params.pop("options", None)
    return params


def describe_target(conn_params):
    return "database %r on %s port %s as %r" % (
        conn_params.get("dbname"), conn_params.get("host") or "localhost (default socket)",
        conn_params.get("port"), conn_params.get("user"))


def connect_to_db(module, conn_params, autocommit=False):
    """Connect, or fail the module with the server's reason and no traceback."""
    ensure_required_libs(module)
    try:
        return psycopg.connect(autocommit=autocommit, **conn_params)
    except psycopg.Error as err:
        module.fail_json(msg="Unable to connect to %s: %s" % (
            describe_target(conn_params), str(err).strip()))


class QueryLog:
    """Executes statements on one cursor and records them for ``queries``.

    ``masked`` is the same statement with secrets replaced by ``********``;
    it is what gets recorded.
    """

    def __init__(self, conn):
        self.conn = conn
        self.cursor = conn.cursor()
        self.queries = []

    def execute(self, query, params=None, masked=None):
        self.cursor.execute(query, params)
        shown = masked if masked is not None else query
        if not isinstance(shown, str):
            shown = shown.as_string(self.conn)
        if params:
            shown = "%s %% %r" % (shown, tuple(params))
        self.queries.append(shown)
        return self.cursor

    def fetchall(self, query, params=None):
        """A read-only catalog query: not recorded."""
        return self.cursor.execute(query, params).fetchall()

    def fetchone(self, query, params=None):
        return self.cursor.execute(query, params).fetchone()


def encrypted_password(conn, role, password):
    """The SCRAM-SHA-256 verifier of ``password`` for ``role``, computed by libpq
    (``PQencryptPasswordConn``) on the controller.

    ``CREATE/ALTER ROLE ... PASSWORD '<verifier>'`` stores it as is, so the
    plain text password is never sent to (and never logged by) the server.
    """
    return conn.pgconn.encrypt_password(password.encode("utf-8"), role.encode("utf-8"),
                                        b"scram-sha-256").decode("ascii")


# Column types whose output function is the server's own (a tenant cannot make
# a base type; domains and composites are refused).
PLAIN_TEXT_TYPES = ("pg_catalog.varchar", "pg_catalog.text")


def plain_table_problems(cursor, tables, columns):
    """{(schema, table): why reading ``columns`` of it could run someone's code} for
    each of ``tables`` ((schema, table) pairs) that is not safe; one catalog query.

    Safe is a plain table (relkind 'r') with no rules, no triggers, no row-level
    security and only built-in text columns that are not generated: a SELECT
    from ONLY it runs nothing but the server's own code.
    """
    tables = list(tables)
    rows = cursor.execute(
        "SELECT t.schema, t.name, c.relkind, c.relrowsecurity OR c.relforcerowsecurity, "
        "  EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid), "
        "  EXISTS (SELECT 1 FROM pg_catalog.pg_trigger g WHERE g.tgrelid = c.oid), "
        "  EXISTS (SELECT 1 FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid), "
        "  ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid "
        "    AND a.attname = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' "
        "    AND a.atttypid = ANY(%s::pg_catalog.regtype[]) ORDER BY 1) "
        "FROM unnest(%s::text[], %s::text[]) AS t(schema, name) "
        "LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema "
        "LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.name",
        (list(columns), list(PLAIN_TEXT_TYPES), [t[0] for t in tables], [t[1] for t in tables])).fetchall()
    kinds = {"v": "a view", "m": "a materialized view", "f": "a foreign table", "p": "a partitioned table",
             "S": "a sequence", "i": "an index", "c": "a composite type", "I": "a partitioned index"}
    problems = {}
    for schema, table, relkind, row_security, rules, triggers, policies, plain_columns in rows:
        name = "%s.%s" % (schema, table)
        if relkind is None:
            problems[(schema, table)] = "%s does not exist" % name
        elif relkind != "r":
            problems[(schema, table)] = "%s is %s, not a table" % (name, kinds.get(relkind, "relkind %r" % relkind))
        elif rules or triggers or policies or row_security:
            problems[(schema, table)] = "%s has %s" % (name, "rules" if rules else "triggers" if triggers
                                                       else "row-level security")
        elif sorted(plain_columns) != sorted(columns):
            problems[(schema, table)] = "%s: columns %s are not plain text columns" % (
                name, ", ".join(sorted(set(columns) - set(plain_columns))))
    return problems


def lock_plain_tables(cursor, tables, columns, lock_timeout="5s"):
    """In the current transaction: check, lock (ACCESS SHARE) the safe ones and check
    again, so that none can become a view, gain a rule or row-level security
    before the caller reads it (all of those need a lock that conflicts).
    Returns the problems (see :func:`plain_table_problems`); the others are locked."""
    tables = list(tables)
    problems = plain_table_problems(cursor, tables, columns)
    safe = [t for t in tables if t not in problems]
    if safe:
        cursor.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(lock_timeout)))
        cursor.execute(sql.SQL("LOCK TABLE {} IN ACCESS SHARE MODE").format(
            sql.SQL(", ").join(sql.SQL("ONLY {}").format(sql.Identifier(*t)) for t in safe)))
        problems.update(plain_table_problems(cursor, safe, columns))
    return problems


def password_works(conn_params, user, password):
    """(True|False|None, reason): can ``user`` log in with ``password``?

    A non-superuser admin cannot read stored password hashes, so the only way
    to compare is to try. None means "could not tell" (not an auth failure).
    """
    try:
        psycopg.connect(**tenant_conn_params(conn_params, user, password)).close()
        return True, None
    except psycopg.OperationalError as err:
        text = str(err)
        if "password authentication failed" in text:
            return False, None
        return None, text.strip()
