# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hub's logins document (Secret workbench-hub-logins) for a users plan."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.enertef.workbench.plugins.module_utils.login import logins_document


def users_hub_logins(plan, credentials):
    """The ``logins.json`` text of the Secret workbench-hub-logins: who may log in now
    (present users, admins among them) with their password hash and admin flag."""
    return logins_document({
        user["name"]: {"password_hash": credentials[user["name"]]["login_password_hash"], "admin": user["admin"]}
        for user in plan["users"] if user["state"] == "present"})


class FilterModule(object):
    def filters(self):
        return {"users_hub_logins": users_hub_logins}
