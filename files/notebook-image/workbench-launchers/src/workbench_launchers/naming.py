# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one naming function (``plugins/module_utils/tenant.py``), inside the pod.

The image build copies ``tenant.py`` into this package (see the Dockerfile), so
the pod derives group schemas and prefixes exactly as the users role does. In
a checkout (tests) the collection's own module is used.
"""

try:
    from workbench_launchers.tenant import (  # noqa: F401  (copied in at image build)
        TenantNameError, name_problem, tenant_for, validate_name,
    )
except ImportError:
    from ansible_collections.enertef.workbench.plugins.module_utils.tenant import (  # noqa: F401
        TenantNameError, name_problem, tenant_for, validate_name,
    )

__all__ = ["TenantNameError", "name_problem", "tenant_for", "validate_name"]
