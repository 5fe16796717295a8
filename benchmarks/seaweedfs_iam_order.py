#!/usr/bin/env python
"""What a SeaweedFS IAM request costs as tenants are added, in the order s3_tenant uses.

On a fresh SeaweedFS (the tests' ``weed server``), N users are made through the
IAM API one request at a time (boto3, in-process, no Ansible), stage by stage
as ``s3_tenant`` does: every ``create_user``, every ``create_access_key``,
then every ``create_policy`` (the real tenant policy) and ``attach_user_policy``.
Then one more user is added the same way, after the N attachments. It prints the
milliseconds per request of each stage. With ``--shared-policy`` the users share
one policy instead (``iam_policy: shared``: ``${aws:username}``, made once), and
each setting is run in turn, on its own fresh server:

    .venv/bin/python benchmarks/seaweedfs_iam_order.py --users 200 500
    .venv/bin/python benchmarks/seaweedfs_iam_order.py --users 200 --shared-policy
"""
import argparse
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / ".collections"))
sys.path.insert(0, str(ROOT / "tests"))

from ansible_collections.enertef.workbench.plugins.module_utils.object_store import (  # noqa: E402
    canonical_policy_json, shared_user_policy, tenant_policy)
from fixtures.seaweedfs import PORT_NAMES, SeaweedFS, free_ports  # noqa: E402


def timed(label, request, numbers):
    start = time.perf_counter()
    for number in numbers:
        request(number)
    seconds = time.perf_counter() - start
    print("  %-30s x%-4d %8.1f ms each  (%.1f s)" % (label, len(numbers), seconds * 1000 / len(numbers), seconds),
          flush=True)
    return seconds


def bench(count, shared=False):
    with tempfile.TemporaryDirectory(prefix="bench-iam-") as weed_dir:
        seaweedfs = SeaweedFS(weed_dir, dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)))),
                              "WBADMIN" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30))
        seaweedfs.start()
        try:
            iam, arns = seaweedfs.admin_iam(), {}

            def user(number):
                return "p%04d" % number

            def create_policy(number):
                if shared:  # made by the first user only
                    if "shared" not in arns:
                        arns["shared"] = iam.create_policy(PolicyName="workbench-tenant", PolicyDocument=(
                            canonical_policy_json(shared_user_policy())))["Policy"]["Arn"]
                    arns[number] = arns["shared"]
                    return
                document = canonical_policy_json(tenant_policy(user(number)))
                arns[number] = iam.create_policy(PolicyName="workbench-tenant-" + user(number),
                                                 PolicyDocument=document)["Policy"]["Arn"]

            stages = (("create_user", lambda n: iam.create_user(UserName=user(n))),
                      ("create_access_key", lambda n: iam.create_access_key(UserName=user(n))),
                      ("create_policy", create_policy),
                      ("attach_user_policy", lambda n: iam.attach_user_policy(UserName=user(n), PolicyArn=arns[n])))
            print("N = %d users, keys before policies, %s" % (
                count, "one shared policy" if shared else "a policy per user"))
            total = sum(timed(label, request, range(count)) for label, request in stages)
            print("  all %d users: %.1f s" % (count, total))
            print("one more user, after the %d attachments" % count)
            for label, request in stages:
                timed(label, request, [count])
        finally:
            seaweedfs.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, nargs="+", default=[200])
    parser.add_argument("--shared-policy", action="store_true",
                        help="also run with one shared policy (iam_policy: shared), side by side")
    args = parser.parse_args()
    for count in args.users:
        bench(count)
        if args.shared_policy:
            bench(count, shared=True)


if __name__ == "__main__":
    main()
