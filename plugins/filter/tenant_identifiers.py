# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every identifier of one tenant (plugins/module_utils/tenant.py's tenant_for) for templates."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.enertef.workbench.plugins.module_utils.tenant import TenantNameError, tenant_for


def tenant_identifiers(name, kind="user"):
    """tenant_for(name, kind); a name breaking the rule fails with the rule's message."""
    try:
        return tenant_for(name, kind)
    except (TenantNameError, ValueError) as error:
        raise AnsibleFilterError("tenant %r: %s" % (name, error))


class FilterModule(object):
    def filters(self):
        return {"tenant_identifiers": tenant_identifiers}
