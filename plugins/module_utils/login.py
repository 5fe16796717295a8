# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each user's own hub login: the users role writes it, the hub checks it.

The users role generates a login password per user (kept with that user's
other credentials), stores only its hash in the Kubernetes Secret
``workbench-hub-logins`` (key ``logins.json``) and the hub, which mounts that
Secret as a directory, checks a login against it. This file is mounted into
the hub next to ``workbench_tenant.py`` (as ``workbench_login.py``), so both
sides use the same code. Standard library only (it runs in the hub image).

``logins.json``::

    {"version": 1,
     "users": {"alice": {"password_hash": "pbkdf2_sha256$...", "admin": false}}}

Only users who may log in are listed: an off-boarded user is simply absent.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import hmac
import json
import os
import secrets

LOGINS_SECRET = "workbench-hub-logins"
LOGINS_KEY = "logins.json"
LOGINS_VERSION = 1
SCHEME = "pbkdf2_sha256"
# The passwords are generated (32 random characters), so the hash guards a
# high-entropy secret; this count keeps a check well under 100 ms.
ITERATIONS = 100000


class LoginsError(ValueError):
    """The logins document is malformed; the message says how."""


def hash_password(password, salt=None, iterations=ITERATIONS):
    """``pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>`` for ``password``."""
    if not isinstance(password, str) or not password:
        raise LoginsError("a login password must be a non-empty string")
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt.encode("ascii"), int(iterations))
    return "%s$%d$%s$%s" % (SCHEME, int(iterations), salt, digest.hex())


def password_matches(password, encoded):
    """True if ``password`` is the one ``encoded`` (from :func:`hash_password`) was made from."""
    if not isinstance(password, str) or not password or not isinstance(encoded, str):
        return False
    parts = encoded.split("$")
    if len(parts) != 4 or parts[0] != SCHEME or not parts[1].isdigit():
        return False
    expected = hash_password(password, salt=parts[2], iterations=int(parts[1]))
    return hmac.compare_digest(expected, encoded)


def logins_document(users):
    """The ``logins.json`` text for ``{name: {"password_hash": ..., "admin": bool}}``."""
    body = {}
    for name in sorted(users):
        entry = users[name]
        if not isinstance(entry.get("password_hash"), str) or not entry["password_hash"].startswith(SCHEME + "$"):
            raise LoginsError("login of %r has no password hash" % (name,))
        body[name] = {"password_hash": entry["password_hash"], "admin": bool(entry.get("admin", False))}
    return json.dumps({"version": LOGINS_VERSION, "users": body}, indent=1, sort_keys=True) + "\n"


def parse_logins(text):
    """``{name: {"password_hash", "admin"}}`` from a ``logins.json`` text."""
    try:
        document = json.loads(text)
    except ValueError as err:
        raise LoginsError("logins document is not JSON: %s" % err)
    if not isinstance(document, dict) or document.get("version") != LOGINS_VERSION:
        raise LoginsError("logins document must be an object with version %d" % LOGINS_VERSION)
    users = document.get("users")
    if not isinstance(users, dict):
        raise LoginsError("logins document has no 'users' object")
    return users


def read_logins(directory):
    """The logins in ``directory/logins.json`` (the mounted Secret)."""
    with open(os.path.join(directory, LOGINS_KEY)) as handle:
        return parse_logins(handle.read())
