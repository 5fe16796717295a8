#!/usr/bin/env python
"""The users role end to end through ``ansible-playbook``: N users on a real
PostgreSQL 18 and a real SeaweedFS (no cluster: ``users_apply_to_cluster`` off,
``users_manifests_dir`` set, so every Secret is still rendered and written).

For each N it prints, measured in this one run on fresh servers:

  first run      N users (every 5th in group ``team``) from nothing;
  no-op rerun    the same list again (must report changed=0);
  add one        N + 1 users (only the new user's objects may change);
  seed's way     one ``mlflow db upgrade`` per user plus one object-store user
                 made by hand (create_user, create_access_key, put_user_policy),
                 measured on ``--seed-sample`` users after the runs above and
                 extrapolated per user to N (said in the output). The seed
                 users' PostgreSQL roles/schemas are made beforehand, untimed;

with the wall time of the slowest tasks of the first run and the load
average (the machine is shared) beside each figure.

    .venv/bin/python benchmarks/users_playbook.py --users 50 200
"""
import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / ".collections"))
sys.path.insert(0, str(ROOT / "tests"))

import psycopg  # noqa: E402

from ansible_collections.enertef.workbench.plugins.module_utils.object_store import (  # noqa: E402
    canonical_policy_json, tenant_policy)
from ansible_collections.enertef.workbench.plugins.module_utils.postgres import get_conn_params  # noqa: E402
from ansible_collections.enertef.workbench.plugins.modules import pg_tenant  # noqa: E402
from fixtures.postgres import running_postgres  # noqa: E402
from fixtures.seaweedfs import PORT_NAMES, SeaweedFS, free_ports  # noqa: E402
from fixtures.tenants import USERS_PLAY, users_role_vars  # noqa: E402

MLFLOW_CLI = str(Path(sys.executable).parent / "mlflow")


def user_list(count):
    return [{"name": "u%04d" % i, "groups": ["team"] if i % 5 == 0 else []} for i in range(count)]


def load():
    return "%.1f" % os.getloadavg()[0]


def run_role(variables, workdir):
    """ansible-playbook of the users role; returns (seconds, recap changed, [(seconds, task, changed)])."""
    playbook, extra_vars = Path(workdir) / "users.yml", Path(workdir) / "vars.json"
    playbook.write_text(USERS_PLAY)
    extra_vars.write_text(json.dumps(variables))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
               PATH="%s:%s" % (Path(sys.executable).parent, os.environ.get("PATH", "")))
    start = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(playbook), "-i", "localhost,",
                           "-c", "local", "-e", "ansible_python_interpreter=%s" % sys.executable,
                           "-e", "@%s" % extra_vars], capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - start
    data = json.loads(proc.stdout[proc.stdout.index("{"):])
    if proc.returncode:
        raise SystemExit("the users role failed:\n" + proc.stdout[-3000:] + proc.stderr[-2000:])
    tasks = []
    for play in data["plays"]:
        for task in play["tasks"]:
            duration = task["task"]["duration"]
            took = _seconds(duration["end"]) - _seconds(duration["start"])
            result = task["hosts"].get("localhost", {})
            tasks.append((took, task["task"]["name"].split(" : ")[-1], bool(result.get("changed"))))
    return seconds, data["stats"]["localhost"]["changed"], tasks


def _seconds(stamp):
    from datetime import datetime
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def seed_way(pg, seaweedfs, sample):
    """Seconds per user of the seed's way: mlflow db upgrade + an S3 user by hand."""
    login = dict(pg.module_login_args(), login_host="", connect_timeout=10, ssl_mode="prefer", ca_cert=None)
    conn_params = get_conn_params(login)
    iam = seaweedfs.admin_iam()
    upgrade, by_hand = [], []
    for number in range(sample):
        name, password = "seed_%03d" % number, secrets.token_urlsafe(18)
        with psycopg.connect(**conn_params) as conn:  # untimed: the seed's role and schema
            pg_tenant.ensure_tenant(conn, conn_params, dict(name=name, kind="user", state="present", purge=False,
                                                            password=password, update_password="always",
                                                            groups=None), check_mode=False)
        start = time.perf_counter()
        proc = subprocess.run([MLFLOW_CLI, "db", "upgrade", pg.url(name, password)], capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit("mlflow db upgrade failed:\n" + proc.stderr[-2000:])
        upgrade.append(time.perf_counter() - start)
        start = time.perf_counter()
        iam.create_user(UserName=name)
        iam.create_access_key(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="workbench-tenant",
                            PolicyDocument=canonical_policy_json(tenant_policy(name)))
        by_hand.append(time.perf_counter() - start)
    return sum(upgrade) / sample, sum(by_hand) / sample


def bench(count, sample):
    with running_postgres() as pg, tempfile.TemporaryDirectory(prefix="bench-weed-") as weed_dir, \
            tempfile.TemporaryDirectory(prefix="bench-users-") as state:
        seaweedfs = SeaweedFS(weed_dir, dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)))),
                              "WBADMIN" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))
        seaweedfs.start()
        try:
            variables = users_role_vars(pg, seaweedfs, Path(state), user_list(count))
            variables["users_manifests_dir"] = str(Path(state) / "manifests")
            rows = {}
            rows["first"] = (load(),) + run_role(variables, state)
            rows["noop"] = (load(),) + run_role(variables, state)
            variables["users_list"] = user_list(count + 1)
            rows["add"] = (load(),) + run_role(variables, state)
            seed_load = load()
            upgrade, by_hand = seed_way(pg, seaweedfs, sample)
        finally:
            seaweedfs.stop()
    return rows, (seed_load, upgrade, by_hand)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[50], help="values of N (default 50)")
    parser.add_argument("--seed-sample", type=int, default=3, help="users run the seed's way, extrapolated to N")
    options = parser.parse_args()
    summary = []
    for count in options.users:
        rows, (seed_load, upgrade, by_hand) = bench(count, options.seed_sample)
        seed_total = (upgrade + by_hand) * count
        first_seconds = rows["first"][1]
        print("N = %d users (%d CPUs)" % (count, os.cpu_count()))
        for key, label in (("first", "first run"), ("noop", "no-op rerun"), ("add", "add one user")):
            loadavg, seconds, changed, tasks = rows[key]
            changed_tasks = [name for _took, name, was in tasks if was]
            print("  %-13s %8.2f s  (%.3f s a user)  changed=%d  load %s  %s" % (
                label, seconds, seconds / count, changed, loadavg,
                ("changed tasks: " + "; ".join(changed_tasks)) if key != "first" and changed_tasks else ""))
        for key, label in (("first", "first run"), ("noop", "no-op rerun"), ("add", "add one")):
            print("  slowest tasks of the %s: " % label + "; ".join(
                "%s %.1f s" % (name, took) for took, name, _ in sorted(rows[key][3], reverse=True)[:4]))
        print("  seed's way    %8.2f s  (%.2f s a user: mlflow db upgrade %.2f s + S3 user by hand %.2f s; "
              "measured on %d users after the runs above, extrapolated to %d)  load %s"
              % (seed_total, upgrade + by_hand, upgrade, by_hand, options.seed_sample, count, seed_load))
        print("  ratio seed / first run: %.1fx" % (seed_total / first_seconds))
        summary.append((count, first_seconds / count))
        sys.stdout.flush()
    if len(summary) > 1:
        base = summary[0][1]
        print("growth: " + ", ".join("N=%d %.3f s a user (%.2fx of N=%d)" % (n, per, per / base, summary[0][0])
                                     for n, per in summary))


if __name__ == "__main__":
    main()
