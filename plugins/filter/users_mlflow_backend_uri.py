# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A user's MLflow backend store URI, built by SQLAlchemy."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError


def users_mlflow_backend_uri(user, password, host, port):
    """MLFLOW_BACKEND_STORE_URI for ``user`` (a plan entry): SQLAlchemy builds the URL, so any
    character of the password is escaped; the search_path option pins the user's schema."""
    try:
        from sqlalchemy.engine import URL
    except ImportError:
        raise AnsibleFilterError("users_mlflow_backend_uri needs SQLAlchemy on the controller (pip install sqlalchemy)")
    # "-csearch_path", no space: SQLAlchemy renders a space as "+", which SQLAlchemy reads back
    # but libpq does not (the MLflow tile's database check connects with the URL as a libpq URI
    # and got 'unrecognized configuration parameter "+search_path"').
    url = URL.create("postgresql+psycopg", username=user["pg_role"], password=password, host=host,
                     port=int(port), database=user["pg_database"],
                     query={"options": "-csearch_path=%s" % user["pg_schema"]})
    return url.render_as_string(hide_password=False)


class FilterModule(object):
    def filters(self):
        return {"users_mlflow_backend_uri": users_mlflow_backend_uri}
