#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: manifest_files
short_description: Write Kubernetes manifests as one file each, in one task
version_added: "0.1.0"
description:
  - Writes each manifest of O(manifests) as YAML to C(<path>/<kind>-<metadata.name>.yaml) (kind in
    lower case), with O(mode), rewriting a file only when its content or mode differs.
  - Files this module wrote earlier (they start with its header line) whose manifest is no longer
    listed are removed, so the directory holds exactly the listed manifests (for GitOps, and for
    tests where there is no cluster). Other files are left alone.
  - One task for any number of manifests (the C(users) role writes every user's Secret with it),
    since a task per file would make a directory of 200 Secrets take minutes.
author:
  - EnerTEF workbench team (@enertef)
options:
  path:
    description: Directory of the files; created (mode 0700) when missing.
    type: path
    required: true
  manifests:
    description: Kubernetes objects, each with C(kind) and C(metadata.name).
    type: list
    elements: dict
    required: true
  mode:
    description: Mode of every file (manifests of Secrets hold credentials).
    type: str
    default: "0600"
attributes:
  check_mode:
    description: Reports which files would be written or removed, writes nothing.
    support: full
  diff_mode:
    description: The names of the files written and removed.
    support: full
"""

EXAMPLES = r"""
- name: Keep every user's Secret as a 0600 file
  enertef.workbench.manifest_files:
    path: "{{ workbench_state_dir }}/manifests/users"
    manifests: "{{ users_secret_manifests }}"
  no_log: true
"""

RETURN = r"""
written:
  description: Files written (or that would be written in check mode).
  returned: always
  type: list
  elements: str
removed:
  description: Files of manifests no longer listed that were removed.
  returned: always
  type: list
  elements: str
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.enertef.workbench.plugins.module_utils.private_files import (
    ensure_private_directory,
    is_current,
    read_text,
    write_private_file,
)

try:
    import yaml
    HAS_YAML = True
    # libyaml's emitter writes the same text ten times faster (200 Secrets: 0.26 s -> 0.03 s)
    SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
except ImportError:  # pragma: no cover  (ansible-core depends on PyYAML)
    HAS_YAML = False

HEADER = "# Written by enertef.workbench.manifest_files; the next run rewrites or removes it.\n"
NAME_PATTERN = re.compile(r"\A[a-z0-9]([-a-z0-9.]*[a-z0-9])?\Z")


def file_name(manifest):
    """``<kind>-<name>.yaml`` of a manifest; ValueError naming what is missing."""
    kind = str(manifest.get("kind") or "").lower()
    name = str((manifest.get("metadata") or {}).get("name") or "")
    if not kind.isalnum() or not NAME_PATTERN.match(name):
        raise ValueError("every manifest needs a kind and a metadata.name that is a Kubernetes name; got kind %r, "
                         "name %r" % (manifest.get("kind"), name))
    return "%s-%s.yaml" % (kind, name)


def rendered(manifests):
    """{file name: text} of every manifest; ValueError on a bad or repeated one (before any write)."""
    texts = {}
    for manifest in manifests:
        name = file_name(manifest)
        if name in texts:
            raise ValueError("two manifests would be written to %s" % name)
        texts[name] = HEADER + yaml.dump(manifest, Dumper=SAFE_DUMPER, sort_keys=True, default_flow_style=False)
    return texts


def sync(path, texts, mode, check_mode):
    """Write what differs, remove our files no longer listed; returns (written, removed)."""
    present = sorted(os.listdir(path)) if os.path.isdir(path) else []
    written = []
    for name, text in sorted(texts.items()):
        target = os.path.join(path, name)
        if is_current(target, text, mode):
            continue
        written.append(name)
        if not check_mode:
            write_private_file(target, text, mode, durable=False)  # made again by every run
    removed = [name for name in present if name.endswith(".yaml") and name not in texts
               and (read_text(os.path.join(path, name)) or "").startswith(HEADER)]
    if not check_mode:
        for name in removed:
            os.unlink(os.path.join(path, name))
    return written, removed


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            manifests=dict(type="list", elements="dict", required=True, no_log=True),
            mode=dict(type="str", default="0600"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        mode = int(params["mode"], 8)
        texts = rendered(params["manifests"])
    except ValueError as err:
        module.fail_json(msg="manifest_files: %s; nothing was written" % err)
    created = not os.path.isdir(params["path"])
    if created:
        ensure_private_directory(params["path"], module.check_mode)
    written, removed = sync(params["path"], texts, mode, module.check_mode)
    result = dict(changed=bool(created or written or removed), written=written, removed=removed)
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = {"before": {"removed": removed}, "after": {"written": written}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
