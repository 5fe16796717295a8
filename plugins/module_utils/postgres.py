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
* ``scram_sha256_verifier()``: hash a password on the controller, so the
  plain text never travels to the server or into its logs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import hmac
import os
import traceback

from ansible.module_utils.basic import missing_required_lib

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
        ssl_mode=dict(type="str", default="prefer", choices=SSL_MODES),
        ca_cert=dict(type="str", aliases=["ssl_rootcert"]),
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
    }
    if params.get("ca_cert"):
        conn["sslrootcert"] = params["ca_cert"]
    conn.update(override)
    return dict((key, value) for key, value in conn.items() if value is not None)


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


def scram_sha256_verifier(password, salt=None, iterations=4096):
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password``.

    ``CREATE/ALTER ROLE ... PASSWORD '<verifier>'`` stores it as is, so the
    plain text password is never sent to (and never logged by) the server.
    """
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return "SCRAM-SHA-256$%d:%s$%s:%s" % (iterations, _b64(salt), _b64(stored_key), _b64(server_key))


def _b64(raw):
    return base64.b64encode(raw).decode("ascii")


def password_works(conn_params, user, password):
    """(True|False|None, reason): can ``user`` log in with ``password``?

    A non-superuser admin cannot read stored password hashes, so the only way
    to compare is to try. None means "could not tell" (not an auth failure).
    """
    params = dict(conn_params, user=user, password=password)
    try:
        psycopg.connect(**params).close()
        return True, None
    except psycopg.OperationalError as err:
        text = str(err)
        if "password authentication failed" in text:
            return False, None
        return None, text.strip()
