"""The filters the jupyterhub role relies on, and the hub's authenticator resolution."""
import importlib
import pathlib
import sys

import pytest

from ansible_collections.enertef.workbench.plugins.filter.chart_values import chart_values_problems
from ansible_collections.enertef.workbench.plugins.filter.tenant_names import tenant_name_problems
from ansible_collections.enertef.workbench.plugins.module_utils import login, tenant

HUB_FILES = pathlib.Path(__file__).resolve().parents[2] / "roles" / "jupyterhub" / "files"
SCHEMA = {"type": "object", "additionalProperties": False,
          "properties": {"cull": {"type": "object", "additionalProperties": False,
                                  "properties": {"timeout": {"type": ["integer", "null"]}}}}}


def test_tenant_name_problems_reports_each_bad_name_with_the_rule():
    assert tenant_name_problems(["alice", "bob"]) == []
    assert tenant_name_problems(["alice", "Bob", "pg_x"]) == [tenant.name_problem("Bob"), tenant.name_problem("pg_x")]
    assert tenant_name_problems("public") == [tenant.name_problem("public")]


def test_chart_values_problems_names_path_and_problem():
    assert chart_values_problems({"cull": {"timeout": 60}}, SCHEMA, {"cull": {"timeout": None}}) == []
    assert chart_values_problems({"cull": {"timeout": "1h"}}, SCHEMA) == ["cull.timeout: '1h' is not of type 'integer', 'null'"]
    assert chart_values_problems({"cul": {}}, SCHEMA) == [
        "(top level): Additional properties are not allowed ('cul' was unexpected)"]
    assert chart_values_problems(["not", "a", "mapping"], SCHEMA) == ["values must be a mapping, got list"]


@pytest.fixture
def workbench_hub(monkeypatch):
    """workbench_hub imported as the hub imports it: tenant.py available as workbench_tenant."""
    monkeypatch.setitem(sys.modules, "workbench_tenant", tenant)
    monkeypatch.setitem(sys.modules, "workbench_login", login)
    monkeypatch.syspath_prepend(str(HUB_FILES))
    monkeypatch.delitem(sys.modules, "workbench_hub", raising=False)
    return importlib.import_module("workbench_hub")


def test_authenticator_resolution(workbench_hub):
    from jupyterhub.auth import DummyAuthenticator
    from jupyterhub.authenticators.shared import SharedPasswordAuthenticator
    assert workbench_hub.resolve_authenticator("workbench-login") is workbench_hub.WorkbenchLoginAuthenticator
    assert workbench_hub.resolve_authenticator("shared-password") is SharedPasswordAuthenticator
    assert workbench_hub.resolve_authenticator("jupyterhub.auth.DummyAuthenticator") is DummyAuthenticator
    with pytest.raises(ValueError, match="unknown authenticator 'nosuch'"):
        workbench_hub.resolve_authenticator("nosuch")
    wrapped = workbench_hub.workbench_authenticator(DummyAuthenticator)
    assert wrapped.__mro__[1:3] == (workbench_hub.WorkbenchNameRule, DummyAuthenticator)
    again = workbench_hub.workbench_authenticator(wrapped, "/elsewhere")
    assert again.__mro__.count(workbench_hub.WorkbenchNameRule) == 1, "wrapping twice adds the rule once"
    assert (wrapped.logins_dir, again.logins_dir) == ("/etc/workbench/logins", "/elsewhere")
