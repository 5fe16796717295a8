# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The login options shared by every enertef.workbench PostgreSQL module
    # (plugins/module_utils/postgres.py postgres_common_argument_spec()).
    DOCUMENTATION = r"""
options:
  login_user:
    description:
      - The role the module logs in as to provision tenants.
      - It needs C(CREATEROLE) (or superuser) and must own database O(db).
        Superuser is not required.
    type: str
    default: workbench_admin
    aliases: [login]
  login_password:
    description:
      - Password of O(login_user).
    type: str
    default: ''
  login_host:
    description:
      - Host name or IP address of the PostgreSQL server.
      - Ignored when O(login_unix_socket) is set.
    type: str
    default: ''
    aliases: [host]
  login_port:
    description:
      - Port of the server (also the suffix of the unix socket file name).
    type: int
    default: 5432
    aliases: [port]
  login_unix_socket:
    description:
      - Directory holding the server's unix socket; takes precedence over O(login_host).
    type: str
    default: ''
    aliases: [unix_socket]
  db:
    description:
      - The database holding every tenant schema.
    type: str
    default: mlflow
    aliases: [login_db]
  connect_timeout:
    description:
      - Seconds to wait for the connection before failing with a clear message.
    type: int
    default: 10
  ssl_mode:
    description:
      - libpq C(sslmode) of the connection; C(verify-full) with O(ca_cert) for a lab's TLS PostgreSQL.
      - If not set, the environment variable E(PGSSLMODE) is used, else C(prefer).
    type: str
    default: prefer
    choices: [allow, disable, prefer, require, verify-ca, verify-full]
  ca_cert:
    description:
      - CA certificate file to verify the server with (libpq C(sslrootcert)).
      - If not set, the environment variable E(PGSSLROOTCERT) is used.
    type: str
    aliases: [ssl_rootcert]
requirements:
  - psycopg >= 3 (psycopg[binary]) on the host that runs the module
notes:
  - An unreachable server fails the task with the server, port, user and the
    reason, before anything is changed.
"""
