# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the declared users (inventory list and/or CSV rows) into the users
role's plan, refusing every bad entry before anything is changed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io
import re
import secrets
import string

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


def _csv_rows(csv_text):
    if not csv_text or not csv_text.strip():
        return []
    reader = csv.DictReader(io.StringIO(csv_text))
    if not reader.fieldnames or "name" not in [f.strip() for f in reader.fieldnames]:
        raise AnsibleFilterError("the users CSV file needs a header line with a 'name' column "
                                 "(name,groups,state,purge); nothing was changed")
    return [{(k or "").strip(): (v or "").strip() for k, v in row.items() if (v or "").strip() or k == "name"}
            for row in reader]


def users_plan(users, csv_text=""):
    """Validate and normalize the declared users; see users_plan.yml."""
    entries = [("workbench_users[%d]" % i, u) for i, u in enumerate(users or [])]
    # row 1 of the file is the header
    entries += [("CSV row %d" % (i + 2), r) for i, r in enumerate(_csv_rows(csv_text))]
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


ALPHABET = string.ascii_letters + string.digits


def _generate(length):
    return "".join(secrets.choice(ALPHABET) for dummy in range(int(length)))


def users_credentials(plan, kept=None, length=32):
    """Credentials for every present user: kept ones reused, missing ones generated.

    Entries of users that are absent (off-boarded, data kept) stay, so that
    bringing a user back gives the same credentials; purged users are dropped.
    """
    kept = dict(kept or {})
    result = {}
    for user in plan["users"]:
        old = dict(kept.get(user["name"]) or {})
        if user["state"] == "absent" and user["purge"]:
            continue
        if user["state"] == "present":
            old.setdefault("db_password", _generate(length))
            old.setdefault("s3_secret_key", _generate(length))
        if old:
            result[user["name"]] = old
    return result


def users_merge_s3_keys(credentials, results, backend):
    """Record the object-store key of each user after s3_tenant ran.

    MinIO: the access key is the tenant id and the secret the one we generated.
    IAM: the server makes the key; its secret is returned once, when created.
    """
    merged = {name: dict(values) for name, values in (credentials or {}).items()}
    for result in results or []:
        user = result.get("item") or {}
        name = user.get("name")
        if name not in merged or result.get("skipped") or result.get("failed"):
            continue
        if backend == "minio":
            merged[name]["s3_access_key"] = user.get("s3_user", name)
        elif result.get("secret_key"):
            merged[name]["s3_access_key"] = result["access_key"]
            merged[name]["s3_secret_key"] = result["secret_key"]
    return merged


def users_pg_tenants(plan, credentials):
    """The ``tenants`` list of one enertef.workbench.pg_tenant call: groups, present users
    (with their password and groups), absent users (locked out, or dropped with purge)."""
    entries = [{"name": group, "kind": "group"} for group in plan["groups"]]
    for user in plan["users"]:
        if user["state"] == "present":
            entries.append({"name": user["name"], "password": credentials[user["name"]]["db_password"],
                            "groups": user["groups"]})
        else:
            entries.append({"name": user["name"], "state": "absent", "purge": user["purge"]})
    return entries


class FilterModule(object):
    def filters(self):
        return {
            "users_plan": users_plan,
            "users_pg_tenants": users_pg_tenants,
            "users_credentials": users_credentials,
            "users_merge_s3_keys": users_merge_s3_keys,
        }
