# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the declared users (inventory list and/or CSV rows) into the users
role's plan, refusing every bad entry before anything is changed."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import io
import os
import re
import secrets
import string
from concurrent.futures import ThreadPoolExecutor

from ansible.errors import AnsibleFilterError
from ansible_collections.enertef.workbench.plugins.module_utils.login import hash_password
from ansible_collections.enertef.workbench.plugins.module_utils.tenant import BUCKET, DATABASE, name_problem, tenant_for

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


def _entry_problems(where, entry, problems):
    """The user of one declared entry (normalized), or None when it cannot be read."""
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict):
        problems.append("%s: expected a name or a mapping, got %r" % (where, entry))
        return None
    unknown = set(entry) - FIELDS
    if unknown:
        problems.append("%s: unknown field(s) %s (allowed: %s)" % (
            where, ", ".join(sorted(unknown)), ", ".join(sorted(FIELDS))))
    name = entry.get("name")
    problem = name_problem(name)
    if problem:
        problems.append("%s: %s" % (where, problem))
        return None
    state = str(entry.get("state") or "present").strip().lower()
    if state not in STATES:
        problems.append("%s: state of %r must be present or absent, got %r" % (where, name, state))
    groups = _as_groups(entry.get("groups"))
    for group in groups:
        group_problem = name_problem(group, "group")
        if group_problem:
            problems.append("%s: group of %r: %s" % (where, name, group_problem))
    return {"name": name, "groups": sorted(set(str(g) for g in groups)), "state": state,
            "purge": _as_bool(entry.get("purge", False), where, problems)}


def _admin_problems(admins, places_of, problems):
    """Admins are users declared in the inventory (present), never in the CSV file."""
    for index, name in enumerate(admins):
        where = "workbench_admins[%d]" % index
        problem = name_problem(name)
        if problem:
            problems.append("%s: %s" % (where, problem))
            continue
        places = places_of.get(name, [])
        if not places:
            problems.append("%s: %r is not a declared user: an admin is a user declared in workbench_users "
                            "(with a tenant and a login of their own)" % (where, name))
        for place, user in places:
            if place.startswith("CSV"):
                problems.append("%s: %r is in workbench_admins: admins are declared in the inventory's "
                                "workbench_users, not in the CSV file" % (place, name))
            elif user["state"] != "present":
                problems.append("%s: %r is off-boarded (state: %s in %s): an admin must be a present user"
                                % (where, name, user["state"], place))


def users_plan(users, csv_text="", admins=None):
    """Validate and normalize the declared users; see users_plan.yml."""
    if isinstance(admins, str):
        admins = [admins]
    admins = list(admins or [])
    entries = [("workbench_users[%d]" % i, u) for i, u in enumerate(users or [])]
    # row 1 of the file is the header
    entries += [("CSV row %d" % (i + 2), r) for i, r in enumerate(_csv_rows(csv_text))]
    problems, plan, places = [], [], {}
    for where, entry in entries:
        user = _entry_problems(where, entry, problems)
        if user is None:
            continue
        name = user["name"]
        earlier = places.setdefault(name, [])
        for first_where, first in earlier:
            if first_where.startswith("CSV") == where.startswith("CSV"):
                problems.append("%s: user %r is declared twice (first in %s)" % (where, name, first_where))
            elif first != user:
                differ = ", ".join("%s %r vs %r" % (k, first[k], user[k]) for k in sorted(user) if first[k] != user[k])
                problems.append("%s: user %r contradicts %s (%s): declare them once, or the same in both"
                                % (where, name, first_where, differ))
        earlier.append((where, user))
        if len(earlier) == 1:
            plan.append(user)
    _admin_problems(admins, places, problems)
    if problems:
        raise AnsibleFilterError(
            "workbench users refused, nothing was changed:\n- " + "\n- ".join(problems))
    declared = [dict(user) for user in plan]
    for user in plan:
        user.update(tenant_for(user["name"]))
        user["admin"] = user["name"] in admins
    groups = sorted({g for u in plan if u["state"] == "present" for g in u["groups"]})
    return {"users": plan, "declared": declared, "groups": groups, "admins": sorted(set(admins)),
            "database": DATABASE, "bucket": BUCKET}


ALPHABET = string.ascii_letters + string.digits


def _generate(length):
    return "".join(secrets.choice(ALPHABET) for dummy in range(int(length)))


ROTATED = ("db_password", "s3_secret_key", "login_password", "login_password_hash")


def users_credentials(plan, kept=None, length=32, rotate=None):
    """Credentials for every present user: kept ones reused, missing ones generated.

    Each present user gets a database password, an object-store secret and a
    hub login password with its hash (hashed once: a rerun keeps the hash).
    Users named in ``rotate`` get all of them anew. Entries of users that are
    absent (off-boarded, data kept) stay, so that bringing a user back gives
    the same credentials; purged users are dropped.
    """
    kept = dict(kept or {})
    rotate = set(rotate or [])
    result = {}
    for user in plan["users"]:
        old = dict(kept.get(user["name"]) or {})
        if user["state"] == "absent" and user["purge"]:
            continue
        if user["name"] in rotate:
            for key in ROTATED:
                old.pop(key, None)
        if user["state"] == "present":
            # generated (and, the login, hashed) only when missing: dict.setdefault would
            # evaluate the slow hash for every user on every run
            for key in ("db_password", "s3_secret_key"):
                if key not in old:
                    old[key] = _generate(length)
            if "login_password" not in old:
                old.pop("login_password_hash", None)
                old["login_password"] = _generate(length)
        if old:
            result[user["name"]] = old
    _hash_missing_logins(result)
    return result


def _hash_missing_logins(credentials):
    """Hash each login password that has no hash yet (the first run, a rotation). pbkdf2
    releases the GIL: a thread per CPU (200 new users 4.7 s one at a time)."""
    missing = [entry for entry in credentials.values()
               if "login_password" in entry and "login_password_hash" not in entry]
    if not missing:
        return
    with ThreadPoolExecutor(max_workers=min(len(missing), os.cpu_count() or 1)) as pool:
        hashes = list(pool.map(hash_password, [entry["login_password"] for entry in missing]))
    for entry, encoded in zip(missing, hashes):
        entry["login_password_hash"] = encoded


def users_merge_s3_keys(credentials, results, backend):
    """Record the object-store key of each user after s3_tenant ran.

    ``results`` is the registered result of one bulk s3_tenant call (its
    ``tenants`` dict, keyed by tenant id) or, from a loop, the list of its
    ``results``. MinIO: the access key is the tenant id and the secret the one
    we generated. IAM: the server makes the key; its secret is returned once.
    """
    merged = {name: dict(values) for name, values in (credentials or {}).items()}
    if isinstance(results, dict):
        outcomes = list((results.get("tenants") or {}).items())
    else:
        outcomes = [((result.get("item") or {}).get("name"), result) for result in results or []]
    for name, outcome in outcomes:
        if name not in merged or outcome.get("skipped") or outcome.get("failed"):
            continue
        if backend == "minio":
            merged[name]["s3_access_key"] = (outcome.get("tenant") or {}).get("s3_user", name)
        elif outcome.get("secret_key"):
            merged[name]["s3_access_key"] = outcome["access_key"]
            merged[name]["s3_secret_key"] = outcome["secret_key"]
    return merged


def users_s3_tenants(plan, credentials, backend, rotate=()):
    """The ``tenants`` list of one enertef.workbench.s3_tenant call: groups, present users
    (with the key they hold: IAM access key, or MinIO secret; a new key for those in
    ``rotate`` and, IAM, for those whose key is not held), absent users."""
    entries = [{"name": group, "kind": "group"} for group in plan["groups"]]
    for user in plan["users"]:
        if user["state"] != "present":
            entries.append({"name": user["name"], "state": "absent"})
            continue
        entry = {"name": user["name"], "groups": user["groups"]}
        held = credentials.get(user["name"]) or {}
        if backend == "minio":
            entry["secret_key"] = held["s3_secret_key"]
            if user["name"] in (rotate or ()):
                entry["update_secret"] = "always"
        elif held.get("s3_access_key") and user["name"] not in (rotate or ()):
            entry["access_key"] = held["s3_access_key"]
        else:
            # a key we do not hold (lost credentials file, identity made elsewhere) is useless
            # to the user's pod: make a new one and delete the others
            entry["rotate_key"] = True
        entries.append(entry)
    return entries


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
            "users_s3_tenants": users_s3_tenants,
        }
