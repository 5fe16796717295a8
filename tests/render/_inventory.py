"""Role variables as Ansible resolves them for an example inventory.

``resolve_variables(names, inventories, work)``: ansible-playbook runs one probe
role per real role over each inventory, the probe having the real role's
defaults/main.yml (so role defaults, group_vars and host vars combine with
Ansible's own precedence) and one task printing those variables templated.
Returns {inventory: {variable: value}}.
"""
import json
import os
import pathlib
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
VENV_BIN = pathlib.Path(sys.executable).parent


def role_of(variable):
    roles = sorted((p.name for p in (ROOT / "roles").iterdir()), key=len, reverse=True)
    return next(r for r in roles if variable.startswith(r + "_"))


def resolve_variables(names, inventories, work):
    work = pathlib.Path(work)
    by_role = {}
    for name in sorted(set(names)):
        by_role.setdefault(role_of(name), []).append(name)
    plays = []
    for role, role_names in sorted(by_role.items()):
        probe = work / "roles" / ("probe_" + role)
        (probe / "tasks").mkdir(parents=True)
        (probe / "defaults").symlink_to(ROOT / "roles" / role / "defaults")
        (probe / "tasks" / "main.yml").write_text(yaml.safe_dump([{
            "name": "Print the resolved variables",
            "ansible.builtin.debug": {"msg": "{{ dict(%r | zip(query('ansible.builtin.vars', *%r))) }}" % (
                role_names, role_names)},
        }]))
        plays.append({"name": "probe " + role, "hosts": "workbench_controller", "gather_facts": False,
                      "roles": ["probe_" + role]})
    playbook = work / "probe.yml"
    playbook.write_text(yaml.safe_dump(plays))
    results = {}
    for inventory in inventories:
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_ROLES_PATH=str(work / "roles"),
                   ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_NOCOLOR="1", HOME=str(work),
                   USER="Alice.Example")
        proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(ROOT / "inventories" / inventory),
                               str(playbook)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (inventory, proc.stdout[-3000:], proc.stderr[-3000:])
        output = json.loads(proc.stdout[proc.stdout.index("{"):])
        values = {}
        for play in output["plays"]:
            for task in play["tasks"]:
                values.update(task["hosts"]["localhost"]["msg"])
        results[inventory] = values
    return results
