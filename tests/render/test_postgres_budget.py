"""The connection budget as the postgres role renders it (roles/postgres/README.md).

max_connections and the memory limit follow the inventory's number of people
working at once; the budget holds every active user's MLflow pool (the
launcher's setting) within each tenant's connection limit (pg_tenant's default).
"""
import pytest

from _render import all_documents, find, render_role

from ansible_collections.enertef.workbench.plugins.modules import pg_tenant

pytestmark = pytest.mark.render


def server_container(overrides=None):
    statefulset = find(all_documents(render_role("postgres", overrides)), "StatefulSet", "postgres")
    return statefulset["spec"]["template"]["spec"]["containers"][0]


def settings(container):
    args = container["args"]
    return dict(args[i + 1].split("=", 1) for i in range(0, len(args), 2) if args[i] == "-c")


@pytest.mark.parametrize("active, max_connections, memory", [
    (20, 145, "1672Mi"),     # the laptop default
    (100, 625, "5512Mi"),    # a lab of 500 declared users, 100 working at once
])
def test_max_connections_and_memory_follow_the_active_users(active, max_connections, memory, k8s_validate):
    container = server_container({"postgres_active_users": active})
    assert settings(container)["max_connections"] == str(max_connections)
    assert container["resources"]["limits"]["memory"] == memory
    assert k8s_validate(all_documents(render_role("postgres", {"postgres_active_users": active}))) == []


def test_the_budget_covers_each_active_user_within_the_tenant_limit():
    from _render import role_defaults

    defaults = role_defaults("postgres")
    limit = pg_tenant.argument_spec()["connection_limit"]["default"]
    per_user = defaults["postgres_connections_per_active_user"]
    # a working user's share of the budget never exceeds what PostgreSQL lets the tenant hold
    assert per_user <= limit
    # and the superuser's reserved slots (3) and the services fit in the rest
    assert defaults["postgres_service_connections"] >= 3 + 10
