#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: workbench_backup_info
short_description: Check a workbench backup against its manifest and describe it
version_added: 0.1.0
description:
  - Reads C(manifest.json) of a backup made by M(enertef.workbench.workbench_backup) and checks
    every file it lists (size and sha256), and C(manifest.json) itself against C(SHA256SUMS).
  - Fails naming each missing or changed file, or a missing or broken manifest. Reads only.
author: enertef.workbench contributors (@enertef)
options:
  path:
    description:
      - The backup directory (the dated one, e.g. C(/backups/workbench-20260131T120000Z)).
    type: path
    required: true
attributes:
  check_mode:
    description: Reads only; runs the same in check mode.
    support: full
"""

EXAMPLES = r"""
- name: Check the backup before restoring it
  enertef.workbench.workbench_backup_info:
    path: /backups/workbench-20260131T120000Z
  register: backup
"""

RETURN = r"""
manifest:
  description: Summary of the verified manifest (name, creation time, PostgreSQL schemas, object
    count and size, extra files, metadata such as the users and groups).
  returned: success
  type: dict
files_checked:
  description: Number of files whose checksum was verified.
  returned: success
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.enertef.workbench.plugins.module_utils import backup as lib


def main():
    module = AnsibleModule(argument_spec=dict(path=dict(type="path", required=True)), supports_check_mode=True)
    try:
        manifest = lib.verify_backup(module.params["path"])
    except lib.BackupError as err:
        module.fail_json(msg=str(err))
    module.exit_json(changed=False, manifest=lib.summary(manifest), files_checked=len(manifest["files"]))


if __name__ == "__main__":
    main()
