"""s3_bucket_policy compares policies with amazon.aws's compare_policies (the comparison its
s3_bucket module uses), and with the collection's canonical form when amazon.aws is missing.
The real server's reshaping is checked in tests/integration/test_s3_bucket_policy.py."""
import pytest

from ansible_collections.amazon.aws.plugins.module_utils import policy as amazon_policy
from ansible_collections.enertef.workbench.plugins.module_utils.object_store import policies_differ
from ansible_collections.enertef.workbench.plugins.modules import s3_bucket_policy

KEEP = {"Version": "2012-10-17", "Statement": [{
    "Sid": "Keep", "Effect": "Deny", "Principal": "*", "Action": ["s3:DeleteBucket"],
    "Resource": ["arn:aws:s3:::mlflow"]}]}
# what SeaweedFS hands back: one-item lists as strings, the principal as an AWS list, other key order
KEEP_AS_SERVED = {"Statement": {"Resource": "arn:aws:s3:::mlflow", "Action": "s3:DeleteBucket",
                                "Principal": {"AWS": ["*"]}, "Effect": "Deny", "Sid": "Keep"},
                  "Version": "2012-10-17"}
TWO_ACTIONS = {"Version": "2012-10-17", "Statement": [dict(KEEP["Statement"][0],
                                                          Action=["s3:PutBucketPolicy", "s3:DeleteBucket"])]}
TWO_ACTIONS_REORDERED = {"Version": "2012-10-17", "Statement": [dict(KEEP["Statement"][0],
                                                                    Action=["s3:DeleteBucket", "s3:PutBucketPolicy"])]}
ALLOW = {"Version": "2012-10-17", "Statement": [dict(KEEP["Statement"][0], Effect="Allow")]}
NO_VERSION = {"Statement": KEEP["Statement"]}


def test_the_module_uses_amazon_aws_compare_policies():
    assert s3_bucket_policy.compare_policies is amazon_policy.compare_policies


@pytest.mark.parametrize("current, desired, changed", [
    (KEEP, KEEP, False),
    (KEEP_AS_SERVED, KEEP, False),
    (TWO_ACTIONS_REORDERED, TWO_ACTIONS, False),
    (None, KEEP, True),
    (ALLOW, KEEP, True),
    (TWO_ACTIONS, KEEP, True),
    # no Version means 2008-10-17, as in AWS: not the same document
    (NO_VERSION, KEEP, True),
], ids=["same", "as-served", "list-order", "no-policy-yet", "effect", "one-more-action", "no-version"])
def test_both_comparisons_agree(current, desired, changed, monkeypatch):
    assert s3_bucket_policy.policy_changed(current, desired) is changed
    monkeypatch.setattr(s3_bucket_policy, "compare_policies", None)  # amazon.aws not installed
    assert s3_bucket_policy.policy_changed(current, desired) is changed
    assert policies_differ(current, desired) is changed


def test_an_account_root_arn_equals_the_account_id_as_in_amazon_aws(monkeypatch):
    by_arn = {"Version": "2012-10-17", "Statement": [dict(KEEP["Statement"][0],
                                                         Principal={"AWS": "arn:aws:iam::123456789012:root"})]}
    by_id = {"Version": "2012-10-17", "Statement": [dict(KEEP["Statement"][0], Principal={"AWS": "123456789012"})]}
    assert s3_bucket_policy.policy_changed(by_arn, by_id) is False
    monkeypatch.setattr(s3_bucket_policy, "compare_policies", None)
    assert s3_bucket_policy.policy_changed(by_arn, by_id) is True  # the fallback's one difference
