# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MLflow's tables in many tenant schemas, fast.

Running ``mlflow db upgrade`` once per tenant costs seconds each (process
start, imports, 69 alembic migrations). Instead:

1. a *template* schema (``workbench_mlflow_template``) is migrated once with
   MLflow's own code (``_initialize_tables``: exactly what ``mlflow db upgrade``
   does on an empty database) and kept until MLflow's head revision changes;
2. its DDL is regenerated from the PostgreSQL catalog (tables, columns,
   defaults, identity and generated columns, named NOT NULL / primary / unique /
   check / foreign key constraints, indexes, sequences, trigger functions,
   triggers) with the schema left unqualified, plus its rows (the
   ``alembic_version`` row and MLflow's default rows);
3. that DDL runs in each new tenant schema with ``search_path = <tenant>``,
   so the tenant owns its tables.

Existing tenant schemas at an older revision are upgraded with MLflow's real
alembic migrations (connection option ``search_path`` set to the tenant),
which keep their rows. ``tests/integration/test_mlflow_schema*.py`` proves a
copy equals a real ``mlflow db upgrade``.

The admin never runs a tenant's code (issue 11): a user's schema is created
and migrated through **the user's own login** (a function the user planted
then runs as the user, who gains nothing); a group's schema, whose owner role
has no member but the admin and which members cannot put code into, as the
owner role, after checking that it holds no code the template does not have.
The revisions are read by the admin only from plain tables that run no code
when read (:func:`postgres.lock_plain_tables`).

No pg_dump is needed on the controller; only psycopg, and MLflow + SQLAlchemy
when the template must be (re)built or a tenant upgraded.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

try:
    from psycopg import sql
except ImportError:  # the modules report the missing library
    sql = None

from ansible_collections.enertef.workbench.plugins.module_utils.postgres import lock_plain_tables

TEMPLATE_SCHEMA = "workbench_mlflow_template"
# serialises template (re)builds of concurrent runs: pg_advisory_xact_lock key
TEMPLATE_LOCK_KEY = 0x77624D4C  # "wbML"
# relations and types the DDL copy knows how to reproduce
SUPPORTED_RELKINDS = ("r", "i", "S")


class MlflowSchemaError(Exception):
    """A tenant schema or the template cannot be handled; the message says why."""


# ------------------------------------------------------------ MLflow metadata

def installed_mlflow_version():
    """The installed MLflow version, without importing MLflow (slow)."""
    try:
        from importlib.metadata import version, PackageNotFoundError
    except ImportError:  # Python < 3.8
        return None
    try:
        return version("mlflow")
    except PackageNotFoundError:
        return None


def migrations_dir():
    import importlib.util
    spec = importlib.util.find_spec("mlflow")
    if spec is None or not spec.origin:
        raise MlflowSchemaError("MLflow is not installed on the host running the module")
    return os.path.join(os.path.dirname(spec.origin), "store", "db_migrations", "versions")


_REVISION = re.compile(r"^revision\s*=\s*['\"]([0-9a-zA-Z_]+)['\"]", re.M)
_DOWN_REVISION = re.compile(r"^down_revision\s*=\s*(.+)$", re.M)


def revision_graph(directory=None):
    """{revision: (down revisions)} read from MLflow's migration scripts.

    Alembic itself needs about 3 s here to import every script (they import
    MLflow); reading the two assignments takes milliseconds. A test checks the
    result against alembic's own answer.
    """
    directory = directory or migrations_dir()
    graph = {}
    for entry in sorted(os.listdir(directory)):
        if not entry.endswith(".py"):
            continue
        with open(os.path.join(directory, entry)) as handle:
            text = handle.read()
        revision = _REVISION.search(text)
        if not revision:
            continue
        down = _DOWN_REVISION.search(text)
        graph[revision.group(1)] = tuple(re.findall(r"['\"]([0-9a-zA-Z_]+)['\"]", down.group(1))) if down else ()
    return graph


def head_revision(graph):
    referenced = set(rev for downs in graph.values() for rev in downs)
    heads = sorted(rev for rev in graph if rev not in referenced)
    if len(heads) != 1:
        raise MlflowSchemaError("MLflow's migrations have %d heads (%s), expected one" % (len(heads), heads))
    return heads[0]


# ------------------------------------------------------------ tenant schemas

def alembic_revisions(conn, schemas=None):
    """({schema: revision}, {schema: problem}) of the ``alembic_version`` tables
    in ``schemas`` (default: every schema that has one), read by the admin.

    A table that could run code when read (a view, rules, row-level security,
    a column that is not plain text ...) is not read: it is a problem. Several
    rows give ``"<n rows>"``. One transaction, rolled back.
    """
    revisions = {}
    with conn.transaction(force_rollback=True):
        cursor = conn.cursor()
        found = [r[0] for r in cursor.execute(
            "SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'alembic_version' AND (%s::text[] IS NULL OR n.nspname = ANY(%s::text[])) "
            "ORDER BY 1", (schemas and list(schemas), schemas and list(schemas))).fetchall()]
        problems = dict((schema, problem) for (schema, dummy), problem in lock_plain_tables(
            cursor, [(schema, "alembic_version") for schema in found], ["version_num"]).items())
        readable = [schema for schema in found if schema not in problems]
        if readable:
            rows = cursor.execute(sql.SQL(" UNION ALL ").join(
                sql.SQL("SELECT {}::pg_catalog.text, version_num::pg_catalog.text FROM ONLY {}").format(
                    sql.Literal(schema), sql.Identifier(schema, "alembic_version")) for schema in readable)).fetchall()
            for schema in readable:
                versions = [version for owner, version in rows if owner == schema]
                revisions[schema] = versions[0] if len(versions) == 1 else ("<%d rows>" % len(versions))
    return revisions, problems


def schema_states(conn, schemas, read_as_tenant=None):
    """{schema: (exists, relation count, alembic revision or None)}.

    A revision the admin will not read (see :func:`alembic_revisions`) is read
    by ``read_as_tenant(schema)`` (the tenant's own login) when it returns
    one, else MlflowSchemaError names each such schema.
    """
    # one join, not a subquery per schema: pg_class has no index by schema (200 tenants: 8 ms, not 850)
    rows = conn.execute(
        "SELECT n.nspname, count(c.oid) FROM pg_catalog.pg_namespace n LEFT JOIN pg_catalog.pg_class c "
        "  ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
        "WHERE n.nspname = ANY(%s) GROUP BY n.nspname", (list(schemas),)).fetchall()
    revisions, problems = alembic_revisions(conn, [row[0] for row in rows])
    for schema in sorted(problems):
        revision = read_as_tenant(schema) if read_as_tenant else None
        if revision is not None:
            revisions[schema] = revision
            del problems[schema]
    if problems:
        raise MlflowSchemaError("not an MLflow schema, left alone (the admin reads no tenant object that can "
                                "run code): %s" % "; ".join(problems[s] for s in sorted(problems)))
    states = dict((schema, (False, 0, None)) for schema in schemas)
    for schema, relations in rows:
        states[schema] = (True, relations, revisions.get(schema))
    return states


def plan(states, graph, head, missing_ok=False):
    """Sort schemas into create / upgrade / unchanged, or raise for a schema we must not touch.

    ``missing_ok`` (check mode, where pg_tenant made nothing before us): a schema
    that does not exist yet is one to create, not an error.
    """
    create, upgrade, unchanged = [], [], []
    for schema in sorted(states):
        exists, relations, revision = states[schema]
        if not exists:
            if missing_ok:
                create.append(schema)
                continue
            raise MlflowSchemaError("schema %s does not exist: create the tenant first "
                                    "(enertef.workbench.pg_tenant)" % schema)
        if revision is None:
            if relations:
                raise MlflowSchemaError("schema %s holds %d relations but no alembic_version table: "
                                        "not an MLflow schema, left alone" % (schema, relations))
            create.append(schema)
        elif revision == head:
            unchanged.append(schema)
        elif revision in graph:
            upgrade.append(schema)
        else:
            raise MlflowSchemaError("schema %s is at revision %s, unknown to the installed MLflow "
                                    "(made by a newer MLflow?)" % (schema, revision))
    return create, upgrade, unchanged


def check_can_act_as(conn, roles):
    missing = [r[0] for r in conn.execute(
        "SELECT r FROM unnest(%s::text[]) AS r WHERE to_regrole(r) IS NULL "
        "OR NOT pg_has_role(current_user, r, 'SET')", (list(roles),)).fetchall()]
    if missing:
        raise MlflowSchemaError("the login role cannot act as %s: provision them with "
                                "enertef.workbench.pg_tenant first" % ", ".join(missing))


_CODE_OF_SCHEMA = (
    # what in a schema runs code or is not the owner's, as comparable (what, definition) rows
    "SELECT 'function ' || p.proname, p.prosrc || ' security definer: ' || p.prosecdef::text "
    "  || ' config: ' || coalesce(pg_catalog.array_to_string(p.proconfig, ','), '') "
    "  || ' owned by the owner: ' || (p.proowner = pg_catalog.to_regrole(%(owner)s))::text "
    "  FROM pg_catalog.pg_proc p WHERE p.pronamespace = pg_catalog.to_regnamespace(%(nsp)s) "
    "UNION ALL SELECT 'trigger ' || t.tgname || ' on ' || c.relname, f.proname || ' type ' || t.tgtype::text "
    "  || ' function in the schema: ' || (f.pronamespace = c.relnamespace)::text "
    "  FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid "
    "  JOIN pg_catalog.pg_proc f ON f.oid = t.tgfoid "
    "  WHERE c.relnamespace = pg_catalog.to_regnamespace(%(nsp)s) AND NOT t.tgisinternal "
    "UNION ALL SELECT 'rule ' || r.rulename || ' on ' || c.relname, '' FROM pg_catalog.pg_rewrite r "
    "  JOIN pg_catalog.pg_class c ON c.oid = r.ev_class WHERE c.relnamespace = pg_catalog.to_regnamespace(%(nsp)s) "
    "UNION ALL SELECT 'policy ' || p.polname || ' on ' || c.relname, '' FROM pg_catalog.pg_policy p "
    "  JOIN pg_catalog.pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = pg_catalog.to_regnamespace(%(nsp)s) "
    "UNION ALL SELECT 'row-level security on ' || c.relname, '' FROM pg_catalog.pg_class c "
    "  WHERE c.relnamespace = pg_catalog.to_regnamespace(%(nsp)s) AND (c.relrowsecurity OR c.relforcerowsecurity) "
    "UNION ALL SELECT 'relation ' || c.relname || ' (relkind ' || c.relkind::text || ')', '' FROM pg_catalog.pg_class c "
    "  WHERE c.relnamespace = pg_catalog.to_regnamespace(%(nsp)s) AND c.relkind NOT IN ('r', 'i', 'S') "
    "UNION ALL SELECT 'relation ' || c.relname || ' owned by ' || pg_catalog.pg_get_userbyid(c.relowner), '' "
    "  FROM pg_catalog.pg_class c WHERE c.relnamespace = pg_catalog.to_regnamespace(%(nsp)s) "
    "  AND c.relowner <> pg_catalog.to_regrole(%(owner)s) AND c.relkind IN ('r', 'S') "
    "UNION ALL SELECT 'type ' || t.typname || ' owned by ' || pg_catalog.pg_get_userbyid(t.typowner), '' "
    "  FROM pg_catalog.pg_type t WHERE t.typnamespace = pg_catalog.to_regnamespace(%(nsp)s) AND t.typowner <> pg_catalog.to_regrole(%(owner)s) "
    "  AND t.typrelid = 0 AND t.typcategory <> 'A'")


def foreign_code(conn, schema, owner, template_owner):
    """What in ``schema`` (owned by ``owner``) runs code and is not in the
    template: the admin does not act as ``owner`` in a schema that has any."""
    params = {"nsp": schema, "owner": owner}
    found = set(conn.execute(_CODE_OF_SCHEMA, params).fetchall())
    known = set(conn.execute(_CODE_OF_SCHEMA, {"nsp": TEMPLATE_SCHEMA, "owner": template_owner}).fetchall())
    return sorted(name for name, definition in found - known)


# ------------------------------------------------------------ migrations

def sqlalchemy_engine(url, schema, role=None):
    """An engine whose sessions use ``schema`` (and act as ``role``) from the start.

    MLflow's alembic env opens its own connections, so a ``SET`` on a shared
    connection would not reach them; startup options do. ``role`` is only for
    the admin acting as a group's owner role (see the module docstring); a
    user's schema is migrated with the user's own login in ``url``.
    """
    import sqlalchemy
    options = "-c search_path=%s" % schema
    if role:
        options += " -c role=%s" % role
    return sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool,
                                    connect_args={"options": options})


def migrate(url, schema, role=None, empty=False):
    """Run MLflow's own migrations on one schema (as ``mlflow db upgrade`` would)."""
    import logging
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    from mlflow.store.db.utils import _initialize_tables, _upgrade_db
    engine = sqlalchemy_engine(url, schema, role)
    try:
        (_initialize_tables if empty else _upgrade_db)(engine)
    finally:
        engine.dispose()


def ensure_template(conn, url, head):
    """Make sure the template schema is at ``head``; return True if it was (re)built."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (TEMPLATE_LOCK_KEY,))
        state = schema_states(conn, [TEMPLATE_SCHEMA])[TEMPLATE_SCHEMA]
        if state[2] == head:
            return False
        template = sql.Identifier(TEMPLATE_SCHEMA)
        if state[0]:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(template))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(template))
    migrate(url, TEMPLATE_SCHEMA, empty=True)
    return True


# ------------------------------------------------------------ DDL from the catalog

def _replace_once(text, old, new, what):
    if old not in text:
        raise MlflowSchemaError("unexpected definition of %s: %r" % (what, text[:200]))
    return text.replace(old, new, 1)


def _quote_ident(cursor, name):
    """Quoted as the server's pg_get_*def functions quote (only when needed)."""
    return cursor.execute("SELECT quote_ident(%s)", (name,)).fetchone()[0]


def _unqualify_table(cursor, definition, schema, table, what):
    """pg_get_indexdef/pg_get_triggerdef always write "ON <schema>.<table> "."""
    unqualified = _quote_ident(cursor, table)
    qualified = " ON %s.%s " % (_quote_ident(cursor, schema), unqualified)
    return _replace_once(definition, qualified, " ON %s " % unqualified, what)


class SchemaCopy:
    """The DDL and rows of one schema, with the schema name left out.

    Build it with :func:`copy_of_schema`; apply it with :meth:`apply`.
    """

    def __init__(self, script, rows, sequences, statement_count):
        self.script = script              # one string, every DDL statement
        self.rows = rows                  # [(insert statement, [row, ...])]
        self.sequences = sequences        # [(sequence name, last_value)]
        self.statement_count = statement_count

    def apply(self, conn, schema, role=None):
        """Create everything in ``schema``, in one transaction: as the connection's
        login (a user's own), or as ``role`` (the admin acting as a group's owner)."""
        with conn.transaction():
            cursor = conn.cursor()
            # No wait for the WAL flush at commit (about 40% of a copy's time). The
            # copy stays atomic; a server crash can only lose the latest copies,
            # leaving empty schemas that the next run creates again.
            cursor.execute("SET LOCAL synchronous_commit TO off")
            if role:
                cursor.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
            cursor.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
            cursor.execute(self.script)
            for insert, rows in self.rows:
                cursor.executemany(insert, rows)
            for sequence, last_value in self.sequences:
                cursor.execute("SELECT setval(%s::regclass, %s, true)", (sequence, last_value))


def copy_of_schema(conn, schema):
    """Read ``schema``'s objects from the catalog (see :class:`SchemaCopy`)."""
    with conn.transaction():
        cursor = conn.cursor()
        # with the schema on the search path, pg_get_expr / pg_get_constraintdef
        # print its objects unqualified
        cursor.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        nsp = cursor.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()[0]
        prefix = _quote_ident(cursor, schema) + "."

        unsupported = cursor.execute(
            "SELECT relname, relkind FROM pg_class WHERE relnamespace = %s AND NOT relkind = ANY(%s) "
            "UNION ALL SELECT typname, typtype FROM pg_type WHERE typnamespace = %s "
            "AND typtype NOT IN ('c', 'e') AND typcategory <> 'A'",
            (nsp, list(SUPPORTED_RELKINDS), nsp)).fetchall()
        if unsupported:
            raise MlflowSchemaError("the template holds objects the copy does not reproduce: %s"
                                    % ", ".join("%s (%s)" % row for row in unsupported))
        statements = []
        for name, labels in cursor.execute(
                "SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_type t "
                "JOIN pg_enum e ON e.enumtypid = t.oid WHERE t.typnamespace = %s GROUP BY t.oid, t.typname "
                "ORDER BY t.oid", (nsp,)).fetchall():
            statements.append(sql.SQL("CREATE TYPE {} AS ENUM ({})").format(
                sql.Identifier(name), sql.SQL(", ").join(sql.Literal(label) for label in labels)))

        for name, definition in cursor.execute(
                "SELECT proname, pg_get_functiondef(oid) FROM pg_proc WHERE pronamespace = %s ORDER BY oid",
                (nsp,)).fetchall():
            # "CREATE OR REPLACE FUNCTION <schema>.<name>(...)": drop the schema
            statements.append(sql.SQL(_replace_once(
                definition, "FUNCTION " + prefix, "FUNCTION ", "function " + name)))

        # free-standing sequences (serial columns); identity sequences come with their column
        owned_by = []
        for name, typ, start, inc, low, high, cache, cycle, owner_table, owner_column in cursor.execute(
                "SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, "
                "  s.seqmax, s.seqcache, s.seqcycle, t.relname, a.attname "
                "FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid "
                "LEFT JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass "
                "  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
                "LEFT JOIN pg_class t ON t.oid = d.refobjid "
                "LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
                "WHERE c.relnamespace = %s AND (d.deptype IS NULL OR d.deptype = 'a') ORDER BY c.oid",
                (nsp,)).fetchall():
            statements.append(sql.SQL(
                "CREATE SEQUENCE {} AS %s INCREMENT BY %d MINVALUE %d MAXVALUE %d START WITH %d CACHE %d %s"
                % (typ, inc, low, high, start, cache, "CYCLE" if cycle else "NO CYCLE")).format(
                    sql.Identifier(name)))
            if owner_table:
                owned_by.append(sql.SQL("ALTER SEQUENCE {} OWNED BY {}").format(
                    sql.Identifier(name), sql.Identifier(owner_table, owner_column)))

        tables = cursor.execute("SELECT oid, relname FROM pg_class WHERE relnamespace = %s AND relkind = 'r' "
                                "ORDER BY oid", (nsp,)).fetchall()
        for table_oid, table in tables:
            statements.append(sql.SQL("CREATE TABLE {} ({})").format(
                sql.Identifier(table), sql.SQL(", ").join(_columns(cursor, table_oid))))
        statements.extend(owned_by)

        # constraints (NOT NULL ones are in the column definitions); foreign keys last
        for table, name, definition in cursor.execute(
                "SELECT t.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
                "JOIN pg_class t ON t.oid = c.conrelid WHERE t.relnamespace = %s AND c.contype <> 'n' "
                "ORDER BY c.contype = 'f', c.oid", (nsp,)).fetchall():
            statements.append(sql.SQL("ALTER TABLE ONLY {} ADD CONSTRAINT {} " + definition.replace("{", "{{").replace("}", "}}"))
                              .format(sql.Identifier(table), sql.Identifier(name)))

        for table, definition in cursor.execute(
                "SELECT t.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
                "WHERE c.relnamespace = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint k "
                "  WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x')) ORDER BY c.oid",
                (nsp,)).fetchall():
            statements.append(sql.SQL(_unqualify_table(cursor, definition, schema, table, "index on " + table)))

        for table, name, definition in cursor.execute(
                "SELECT t.relname, g.tgname, pg_get_triggerdef(g.oid) FROM pg_trigger g "
                "JOIN pg_class t ON t.oid = g.tgrelid WHERE t.relnamespace = %s AND NOT g.tgisinternal "
                "ORDER BY g.oid", (nsp,)).fetchall():
            definition = _unqualify_table(cursor, definition, schema, table, "trigger " + name)
            # a trigger function of the schema itself is called unqualified too
            statements.append(sql.SQL(definition.replace("FUNCTION " + prefix, "FUNCTION ", 1)))

        rows = []
        for table_oid, table in tables:
            columns = [r[0] for r in cursor.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped "
                "AND attgenerated = '' ORDER BY attnum", (table_oid,)).fetchall()]
            identifiers = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
            data = cursor.execute(sql.SQL("SELECT {} FROM {}").format(
                identifiers, sql.Identifier(schema, table))).fetchall()
            if data:
                insert = sql.SQL("INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE VALUES ({})").format(
                    sql.Identifier(table), identifiers, sql.SQL(", ").join(sql.Placeholder() * len(columns)))
                rows.append((insert.as_string(conn), data))

        sequences = []
        for (name,) in cursor.execute("SELECT relname FROM pg_class WHERE relnamespace = %s AND relkind = 'S' "
                                      "ORDER BY oid", (nsp,)).fetchall():
            last_value, is_called = cursor.execute(sql.SQL("SELECT last_value, is_called FROM {}").format(
                sql.Identifier(schema, name))).fetchone()
            if is_called:
                sequences.append((sql.Identifier(name).as_string(conn), last_value))

    script = ";\n".join(s.as_string(conn) for s in statements) + ";\n"
    return SchemaCopy(script, rows, sequences, len(statements))


def _columns(cursor, table_oid):
    columns = []
    for (name, typ, not_null_name, identity, generated, default, collation, seq_start, seq_inc, seq_min,
         seq_max, seq_cache, seq_cycle) in cursor.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), nn.conname, a.attidentity, "
            "  a.attgenerated, pg_get_expr(d.adbin, d.adrelid), "
            "  CASE WHEN a.attcollation <> t.typcollation THEN co.collname END, "
            "  s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle "
            "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "LEFT JOIN pg_collation co ON co.oid = a.attcollation "
            "LEFT JOIN pg_constraint nn ON nn.conrelid = a.attrelid AND nn.contype = 'n' "
            "  AND nn.conkey = ARRAY[a.attnum] "
            "LEFT JOIN pg_sequence s ON a.attidentity <> '' AND s.seqrelid = "
            "  pg_get_serial_sequence(a.attrelid::regclass::text, a.attname)::regclass "
            "WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (table_oid,)).fetchall():
        parts = [sql.Identifier(name), sql.SQL(typ)]
        if collation:
            parts.append(sql.SQL("COLLATE {}").format(sql.Identifier(collation)))
        if identity:
            parts.append(sql.SQL(
                "GENERATED %s AS IDENTITY (INCREMENT BY %d MINVALUE %d MAXVALUE %d START WITH %d CACHE %d %s)"
                % ("ALWAYS" if identity == "a" else "BY DEFAULT", seq_inc, seq_min, seq_max, seq_start,
                   seq_cache, "CYCLE" if seq_cycle else "NO CYCLE")))
        elif generated:
            parts.append(sql.SQL("GENERATED ALWAYS AS (%s) %s" % (
                default, "STORED" if generated == "s" else "VIRTUAL")))
        elif default is not None:
            parts.append(sql.SQL("DEFAULT " + default))
        if not_null_name:
            parts.append(sql.SQL("CONSTRAINT {} NOT NULL").format(sql.Identifier(not_null_name)))
        columns.append(sql.SQL(" ").join(parts))
    return columns
