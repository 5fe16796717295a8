# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A user's MLflow backend store URI, as SQLAlchemy renders it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

try:
    from urllib.parse import quote, quote_plus
except ImportError:  # Python 2 (ansible-test sanity imports every plugin)
    from urllib import quote, quote_plus


def users_mlflow_backend_uri(user, password, host, port):
    """MLFLOW_BACKEND_STORE_URI for ``user`` (a plan entry): any character of the password is
    escaped, and the search_path option pins the user's schema.

    The string is what SQLAlchemy's ``URL.create(...).render_as_string(hide_password=False)``
    gives (MLflow parses it with SQLAlchemy; tests/unit compare both on hostile passwords), built
    with the standard library: importing SQLAlchemy cost the users role half a second a run.
    """
    # "-csearch_path", no space: SQLAlchemy renders a space as "+", which SQLAlchemy reads back
    # but libpq does not (the MLflow tile's database check connects with the URL as a libpq URI
    # and got 'unrecognized configuration parameter "+search_path"').
    host = str(host)
    return "postgresql+psycopg://%s:%s@%s:%d/%s?options=%s" % (
        quote(user["pg_role"], safe=" +"), quote(str(password), safe=" +"),
        "[%s]" % host if ":" in host else host, int(port), quote(user["pg_database"], safe=" +/"),
        quote_plus("-csearch_path=%s" % user["pg_schema"]))


class FilterModule(object):
    def filters(self):
        return {"users_mlflow_backend_uri": users_mlflow_backend_uri}
