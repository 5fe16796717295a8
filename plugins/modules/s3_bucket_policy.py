#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: s3_bucket_policy
short_description: Put, compare or delete the policy of an S3 bucket
version_added: "0.1.0"
description:
  - Sets the bucket policy of O(bucket) to O(policy), or deletes it.
  - The current and the desired policy are compared with C(compare_policies) of the
    amazon.aws collection, the comparison its C(s3_bucket) module uses (key order, list order,
    one-item lists versus strings, a C(*) principal written as a string or as an AWS list, an
    account's root ARN versus its id, booleans and numbers versus strings, a missing C(Version)
    do not matter), so a rerun with the same document reports no change even when the server
    rewrites it. Without amazon.aws the collection's own canonical form is compared instead,
    with the same rules except the root ARN.
  - Works with any server that implements the S3 bucket policy API (PutBucketPolicy,
    GetBucketPolicy, DeleteBucketPolicy); tested against SeaweedFS, which also enforces the
    policy (including Deny statements for its admin identity and Allow statements for
    anonymous requests).
author:
  - EnerTEF workbench team (@enertef)
extends_documentation_fragment:
  - enertef.workbench.object_store
options:
  bucket:
    description:
      - Name of the bucket. It must exist.
    type: str
    default: mlflow
  policy:
    description:
      - The policy document, as a dict or JSON text. Required with O(state=present).
    type: json
  state:
    description:
      - V(present) puts O(policy) unless the bucket already has the same policy.
      - V(absent) deletes the bucket policy if there is one.
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    description: Reports what would be done (RV(actions)) without changing anything.
    support: full
  diff_mode:
    description: Shows the user/keys/policy (or bucket policy) before and after, in canonical form.
    support: full
"""

EXAMPLES = r"""
- name: Nobody, not even the admin identity, may delete the shared bucket
  enertef.workbench.s3_bucket_policy:
    bucket: mlflow
    endpoint_url: http://127.0.0.1:8333
    admin_access_key: "{{ object_store_admin_access_key }}"
    admin_secret_key: "{{ object_store_admin_secret_key }}"
    policy:
      Version: "2012-10-17"
      Statement:
        - Sid: KeepSharedBucket
          Effect: Deny
          Principal: "*"
          Action: s3:DeleteBucket
          Resource: arn:aws:s3:::mlflow

- name: Remove the bucket policy
  enertef.workbench.s3_bucket_policy:
    bucket: mlflow
    state: absent
    endpoint_url: http://127.0.0.1:8333
    admin_access_key: "{{ object_store_admin_access_key }}"
    admin_secret_key: "{{ object_store_admin_secret_key }}"
"""

RETURN = r"""
policy:
  description: The bucket policy after the run, in canonical form (null when there is none).
  returned: always
  type: dict
actions:
  description: What was done (or, in check mode, would be done).
  returned: always
  type: list
  elements: str
  sample: ["put_bucket_policy mlflow"]
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    # One comparison for bucket policies across collections: amazon.aws's (a galaxy.yml dependency).
    from ansible_collections.amazon.aws.plugins.module_utils.policy import compare_policies
except ImportError:
    compare_policies = None

from ansible_collections.enertef.workbench.plugins.module_utils.object_store import (
    BOTO3_IMPORT_ERROR,
    ClientError,
    HAS_BOTO3,
    boto3_client,
    bucket_name_problem,
    canonical_policy,
    canonical_policy_json,
    error_code,
    object_store_argument_spec,
    parse_policy,
    policies_differ,
    run_and_exit,
)


def policy_changed(current, desired):
    """Whether ``current`` (None when the bucket has no policy) is not ``desired``."""
    if compare_policies is None:
        return policies_differ(current, desired)
    return compare_policies(current, desired)


def current_bucket_policy(s3, bucket):
    """The bucket's policy as a dict, or None when it has none."""
    try:
        return parse_policy(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as err:
        if error_code(err) == "NoSuchBucketPolicy":
            return None
        raise


def run(s3, bucket, state, desired, check_mode):
    """Bring the policy of ``bucket`` to ``desired`` (state present) or remove it."""
    try:
        current = current_bucket_policy(s3, bucket)
    except ClientError as err:
        if error_code(err) == "NoSuchBucket":
            raise ValueError("bucket %r does not exist" % bucket)
        raise
    actions = []
    if state == "present" and policy_changed(current, desired):
        actions.append("put_bucket_policy %s" % bucket)
        if not check_mode:
            s3.put_bucket_policy(Bucket=bucket, Policy=canonical_policy_json(desired))
    elif state == "absent" and current is not None:
        actions.append("delete_bucket_policy %s" % bucket)
        if not check_mode:
            s3.delete_bucket_policy(Bucket=bucket)
    after = canonical_policy(desired) if state == "present" else None
    return dict(
        changed=bool(actions),
        actions=actions,
        policy=after if actions else canonical_policy(current),
        diff={"before": canonical_policy(current), "after": after if actions else canonical_policy(current)},
    )


def main():
    module = AnsibleModule(
        argument_spec=object_store_argument_spec(
            bucket=dict(type="str", default="mlflow"),
            policy=dict(type="json"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        required_if=[("state", "present", ("policy",))],
        supports_check_mode=True,
    )
    params = module.params
    problem = bucket_name_problem(params["bucket"])
    if problem:
        module.fail_json(msg=problem)
    desired = None
    if params["state"] == "present":
        try:
            desired = parse_policy(params["policy"])
        except ValueError as err:
            module.fail_json(msg=str(err))
        if not desired or not desired.get("Statement"):
            module.fail_json(msg="policy must be a JSON object with a Statement")
    if not HAS_BOTO3:
        module.fail_json(msg=missing_required_lib("boto3"), exception=str(BOTO3_IMPORT_ERROR))
    run_and_exit(module, lambda: run(boto3_client(params, "s3"), params["bucket"], params["state"],
                                     desired, module.check_mode))


if __name__ == "__main__":
    main()
