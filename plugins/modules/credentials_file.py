#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: credentials_file
short_description: Read or write a file of credentials, 0600 in a 0700 directory, in one step
version_added: "0.1.0"
description:
  - Without O(content), reads O(path) (an empty RV(content) when the file does not exist yet) and
    makes its directory, mode 0700, if it is missing or open to others.
  - With O(content), the file is made to hold exactly O(content) with mode 0600, in a 0700
    directory. It is written only when its text or mode differs, to a temporary file of the same
    directory that is flushed to disk and renamed over it, so a crash leaves the old file or the
    new one, never a part (a new object-store key's secret is returned once).
  - One module run for what M(ansible.builtin.file), M(ansible.builtin.slurp) and
    M(ansible.builtin.copy) (which runs M(ansible.builtin.stat) and then M(ansible.builtin.file)
    when nothing changed) did in four, each about 0.4 s of a rerun.
  - Run the task with C(no_log); the file's text is never shown in a diff.
author:
  - EnerTEF workbench team (@enertef)
options:
  path:
    description: The file.
    type: path
    required: true
  content:
    description:
      - The whole text the file must hold. Omit it to read the file.
    type: str
attributes:
  check_mode:
    description: Reports whether the directory or the file would change, changes nothing.
    support: full
  diff_mode:
    description: Whether the file existed and whether it would be written; never its text.
    support: full
"""

EXAMPLES = r"""
- name: Read the credentials of an earlier run
  enertef.workbench.credentials_file:
    path: "{{ workbench_state_dir }}/user-credentials.yml"
  register: users_kept
  no_log: true

- name: Keep the users' credentials
  enertef.workbench.credentials_file:
    path: "{{ workbench_state_dir }}/user-credentials.yml"
    content: "{{ users_credentials | to_nice_yaml }}"
  no_log: true
"""

RETURN = r"""
content:
  description: The file's text (read mode), empty when the file does not exist.
  returned: when O(content) is not given
  type: str
exists:
  description: Whether the file existed before the task.
  returned: always
  type: bool
directory_changed:
  description: Whether the directory was made or its mode set to 0700.
  returned: always
  type: bool
written:
  description: Whether the file was (or, in check mode, would be) written.
  returned: always
  type: bool
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.enertef.workbench.plugins.module_utils.private_files import (
    ensure_private_directory,
    is_current,
    write_private_file,
)


def handle(path, content, check_mode):
    """The module's result for ``path`` (read when ``content`` is None)."""
    directory = os.path.dirname(os.path.abspath(path))
    current = None
    if os.path.exists(path):
        if not os.path.isfile(path):
            raise ValueError("it exists and is not a regular file")
        # unreadable is an error, not "no credentials yet": they would all be made anew
        with open(path) as kept:
            current = kept.read()
    directory_changed = ensure_private_directory(directory, check_mode)
    result = {"exists": current is not None, "directory_changed": directory_changed, "written": False}
    if content is None:
        result["content"] = current or ""
    elif not (current is not None and is_current(path, content)):
        result["written"] = True
        if not check_mode:
            write_private_file(path, content)
    result["changed"] = directory_changed or result["written"]
    result["diff"] = {"before": {"path": path, "exists": result["exists"]},
                      "after": {"path": path, "exists": result["exists"] or result["written"],
                                "written": result["written"]}}
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            content=dict(type="str", no_log=True),
        ),
        supports_check_mode=True,
    )
    try:
        result = handle(module.params["path"], module.params["content"], module.check_mode)
    except (ValueError, IOError, OSError) as err:
        module.fail_json(msg="credentials_file %s: %s; nothing was written" % (module.params["path"], err))
    if not module._diff:  # pylint: disable=protected-access
        result.pop("diff")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
