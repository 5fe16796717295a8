# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tenant name rule (plugins/module_utils/tenant.py) for playbooks."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.enertef.workbench.plugins.module_utils.tenant import name_problem


def tenant_name_problems(names):
    """One message per name in ``names`` that breaks the tenant name rule (empty: all fine)."""
    if isinstance(names, str):
        names = [names]
    return [problem for problem in (name_problem(name) for name in names) if problem]


class FilterModule(object):
    def filters(self):
        return {"tenant_name_problems": tenant_name_problems}
