"""Render a role's manifest templates the way the role applies them.

The roles apply ``definition: "{{ lookup('ansible.builtin.template', NAME) }}"``;
``render_template`` evaluates that very expression with Ansible's own Templar,
over the role's ``defaults/main.yml`` plus overrides (given like inventory
variables, so templated strings in them are resolved too). Tests therefore
validate the same Jinja, filters and lookups that run against a cluster.

    from _render import render_role, render_template, role_defaults
    docs = render_role("postgres", {"postgres_service_type": "ClusterIP"})
"""
import json
import pathlib
import subprocess
import sys

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template

ROOT = pathlib.Path(__file__).resolve().parents[2]
# ../shared beside the checkout (/work/main), or beside the worktrees' directory (/work/wt/<room>).
SHARED = next((p for p in (ROOT.parent / "shared", ROOT.parent.parent / "shared") if p.is_dir()), ROOT.parent / "shared")
ROLES = ROOT / "roles"
_COLLECTIONS = [str(ROOT / ".collections")]
_loader = None


def _ansible_loader():
    """The DataLoader, after making ansible.builtin.* and enertef.workbench.* resolvable (once)."""
    global _loader
    if _loader is None:
        init_plugin_loader(_COLLECTIONS)
        _loader = DataLoader()
    return _loader


def _as_inventory_value(value):
    """Mark strings as templates, as Ansible does for variables read from an inventory."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {key: _as_inventory_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_inventory_value(item) for item in value]
    return value


def role_dir(role):
    path = ROLES / role
    if not (path / "defaults" / "main.yml").is_file():
        raise ValueError("no role %r with defaults/main.yml under %s" % (role, ROLES))
    return path


def role_defaults(role):
    """The role's defaults/main.yml as Ansible loads it (strings stay unrendered templates)."""
    return _ansible_loader().load_from_file(
        str(role_dir(role) / "defaults" / "main.yml"), trusted_as_template=True) or {}


def role_templates(role):
    """File names of the role's Kubernetes manifest templates (templates/*.yaml.j2)."""
    return sorted(p.name for p in (role_dir(role) / "templates").glob("*.yaml.j2"))


def render_template(role, template, overrides=None):
    """The text ``lookup('ansible.builtin.template', template)`` gives inside ``role``."""
    variables = dict(role_defaults(role))
    variables.update(_as_inventory_value(dict(overrides or {})))
    # What Ansible sets for a task of the role: the lookup finds templates/<name> here.
    variables["ansible_search_path"] = [str(role_dir(role))]
    variables.setdefault("role_path", str(role_dir(role)))
    templar = Templar(loader=_ansible_loader(), variables=variables)
    expression = "{{ lookup('ansible.builtin.template', %r) }}" % template
    return str(templar.template(trust_as_template(expression)))


def render_expression(role, expression, overrides=None):
    """A task's templated string as Ansible renders it inside ``role`` (defaults + overrides)."""
    variables = dict(role_defaults(role))
    variables.update(_as_inventory_value(dict(overrides or {})))
    templar = Templar(loader=_ansible_loader(), variables=variables)
    return str(templar.template(trust_as_template(expression)))


def load_documents(text):
    """The non-empty YAML documents in ``text``, as the kubernetes.core.k8s module reads them."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def render_role(role, overrides=None):
    """{template name: [documents]} for every manifest template of ``role``."""
    return {name: load_documents(render_template(role, name, overrides))
            for name in role_templates(role)}


def _isolated(expression, *args):
    code = ("import json, sys; sys.path[:0] = [%r, %r]; import _render; print(json.dumps(%s))"
            % (str(ROOT / "tests" / "render"), str(ROOT / ".collections"), expression))
    out = subprocess.run([sys.executable, "-c", code] + [json.dumps(a) for a in args], capture_output=True,
                         text=True, timeout=120)
    if out.returncode != 0:
        raise AssertionError("rendering %s failed: %s" % (args[0], out.stderr[-3000:]))
    return json.loads(out.stdout)


def render_role_isolated(role, overrides=None):
    """``all_documents(render_role(role, overrides))`` in a fresh interpreter.

    For roles whose templates use the collection's own filters: Ansible's collection loader
    finds them only when it imports ``ansible_collections`` itself, which a test session that
    imported tenant.py the plain way (tests/fixtures) has already done.
    """
    return _isolated("_render.all_documents(_render.render_role(json.loads(sys.argv[1]), json.loads(sys.argv[2])))",
                     role, overrides or {})


def render_template_isolated(role, template, overrides=None):
    """``load_documents(render_template(role, template, overrides))`` in a fresh interpreter (see above)."""
    return _isolated("_render.load_documents(_render.render_template(*[json.loads(a) for a in sys.argv[1:]]))",
                     role, template, overrides or {})


def all_documents(rendered):
    """Flatten render_role's result into one list of documents."""
    return [doc for docs in rendered.values() for doc in docs]


def find(docs, kind, name=None):
    """The one document of ``kind`` (and ``name``); fails loudly when absent or ambiguous."""
    found = [d for d in docs if d.get("kind") == kind
             and (name is None or d["metadata"]["name"] == name)]
    if len(found) != 1:
        raise AssertionError("expected one %s %s, found %d among %s" % (
            kind, name or "", len(found),
            [(d.get("kind"), d.get("metadata", {}).get("name")) for d in docs]))
    return found[0]
