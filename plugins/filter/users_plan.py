# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the declared users (inventory list and/or CSV rows) into the users
role's plan, refusing every bad entry before anything is changed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: users_plan
short_description: Validate and normalize workbench users (inventory list and CSV rows)
version_added: 0.1.0
description:
  - Merges the inventory's users with rows read from a CSV file (columns C(name),
    C(groups) separated by C(;) or spaces, C(state), C(purge)), checks every user and
    group name against the tenant naming rule, refuses duplicates, unknown states
    and fields, and returns C(users) (present and absent) and C(groups).
  - All problems are reported together; nothing is returned when there is one.
options:
  _input:
    description: Users from the inventory (C(workbench_users)); names or dicts.
    type: list
    elements: raw
    required: true
  csv_rows:
    description: Rows read from a CSV file (for example with C(community.general.read_csv)).
    type: list
    elements: dict
    default: []
"""

EXAMPLES = r"""
users_plan: "{{ workbench_users | enertef.workbench.users_plan(csv_rows) }}"
"""

RETURN = r"""
_value:
  description: C(users) (each C(name), C(groups), C(state), C(purge), and the tenant identifiers) and C(groups) (names).
  type: dict
"""

import re

from ansible.errors import AnsibleFilterError
from ansible_collections.enertef.workbench.plugins.module_utils.tenant import name_problem, tenant_for

FIELDS = {"name", "groups", "state", "purge"}
STATES = {"present", "absent"}
TRUE = {"true", "yes", "1", "y", "on"}
FALSE = {"false", "no", "0", "n", "off", ""}


def _as_bool(value, where, problems):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE or text in FALSE:
        return text in TRUE
    problems.append("%s: purge must be true or false, got %r" % (where, value))
    return False


def _as_groups(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [g for g in re.split(r"[;,\s]+", value.strip()) if g]
    return list(value)


def users_plan(users, csv_rows=None):
    entries = [("workbench_users[%d]" % i, u) for i, u in enumerate(users or [])]
    entries += [("CSV row %d" % (i + 2), r) for i, r in enumerate(csv_rows or [])]  # row 1 is the header
    problems, plan, seen = [], [], {}
    for where, entry in entries:
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict):
            problems.append("%s: expected a name or a mapping, got %r" % (where, entry))
            continue
        unknown = set(entry) - FIELDS
        if unknown:
            problems.append("%s: unknown field(s) %s (allowed: %s)" % (
                where, ", ".join(sorted(unknown)), ", ".join(sorted(FIELDS))))
        name = entry.get("name")
        name = name.strip() if isinstance(name, str) and entry is not None else name
        problem = name_problem(name)
        if problem:
            problems.append("%s: %s" % (where, problem))
            continue
        if name in seen:
            problems.append("%s: user %r is declared twice (first in %s)" % (where, name, seen[name]))
            continue
        seen[name] = where
        state = str(entry.get("state") or "present").strip().lower()
        if state not in STATES:
            problems.append("%s: state of %r must be present or absent, got %r" % (where, name, state))
        groups = _as_groups(entry.get("groups"))
        for group in groups:
            group_problem = name_problem(group)
            if group_problem:
                problems.append("%s: group of %r: %s" % (where, name, group_problem.replace("user name", "group name")))
        user = dict(tenant_for(name))
        user.update(name=name, groups=sorted(set(groups)), state=state,
                    purge=_as_bool(entry.get("purge", False), where, problems))
        plan.append(user)
    if problems:
        raise AnsibleFilterError(
            "workbench users refused, nothing was changed:\n- " + "\n- ".join(problems))
    groups = sorted({g for u in plan if u["state"] == "present" for g in u["groups"]})
    return {"users": plan, "groups": groups}


class FilterModule(object):
    def filters(self):
        return {"users_plan": users_plan}
