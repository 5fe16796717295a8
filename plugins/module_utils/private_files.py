# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files that hold credentials: read, compared and written whole, never readable by others."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat
import tempfile

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def read_text(path):
    """The text of ``path``, or None when it cannot be read (missing)."""
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def file_mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def is_current(path, text, mode=FILE_MODE):
    """``path`` holds exactly ``text`` with ``mode``."""
    return read_text(path) == text and file_mode(path) == mode


def ensure_private_directory(path, check_mode):
    """Make ``path`` a directory only its owner can enter (0700). Returns True if it was made or
    its mode changed (or would be, in check mode)."""
    if not os.path.isdir(path):
        if not check_mode:
            os.makedirs(path, DIRECTORY_MODE)
            os.chmod(path, DIRECTORY_MODE)  # makedirs applies the umask
        return True
    if file_mode(path) != DIRECTORY_MODE:
        if not check_mode:
            os.chmod(path, DIRECTORY_MODE)
        return True
    return False


def write_private_file(path, text, mode=FILE_MODE, durable=True):
    """Replace ``path`` by ``text`` at once: written to a temporary file of the same directory
    (made with ``mode`` before anything is in it), then renamed over ``path``. ``durable``: on
    disk before the rename (a secret returned once must not become an empty file in a crash);
    files made again on every run need not wait for it."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".%s." % os.path.basename(path))
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "w") as out:
            out.write(text)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.rename(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
