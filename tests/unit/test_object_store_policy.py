"""Policy documents and the canonical comparison (plugins/module_utils/object_store.py)."""
import json
from urllib.parse import quote

import pytest

from ansible_collections.enertef.workbench.plugins.module_utils.object_store import (
    bucket_name_problem,
    canonical_policy,
    canonical_policy_json,
    parse_policy,
    policies_differ,
    tenant_policy,
    tenant_prefixes,
)
from ansible_collections.enertef.workbench.plugins.module_utils.tenant import TenantNameError

ALICE = tenant_policy("alice", groups=["ml"])


def statement(policy, sid):
    return next(s for s in policy["Statement"] if s["Sid"] == sid)


def test_tenant_policy_allows_only_own_and_group_prefixes():
    objects = statement(ALICE, "TenantObjects")
    assert objects["Effect"] == "Allow"
    assert objects["Resource"] == ["arn:aws:s3:::mlflow/alice/*", "arn:aws:s3:::mlflow/group_ml/*"]
    assert set(objects["Action"]) == {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"}
    listing = statement(ALICE, "TenantListing")
    assert listing["Action"] == ["s3:ListBucket"] and listing["Resource"] == ["arn:aws:s3:::mlflow"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["alice/*", "group_ml/*"]}}
    assert statement(ALICE, "BucketLocation")["Action"] == ["s3:GetBucketLocation"]
    # nothing grants a bucket-wide object resource or a wildcard action
    text = json.dumps(ALICE)
    assert "mlflow/*" not in text and '"s3:*"' not in text and "iam:" not in text


def test_group_tenant_and_bucket_option():
    group = tenant_policy("ml", kind="group", bucket="lab-data")
    assert statement(group, "TenantObjects")["Resource"] == ["arn:aws:s3:::lab-data/group_ml/*"]
    assert tenant_prefixes("ml", kind="group", groups=["ignored"]) == ["group_ml/"]
    assert tenant_prefixes("bob", groups=["b", "a", "a"]) == ["bob/", "group_a/", "group_b/"]


@pytest.mark.parametrize("name, groups", [("Alice", []), ("alice", ["ml;drop"]), ("postgres", []), ("a/b", [])])
def test_tenant_policy_refuses_bad_names(name, groups):
    with pytest.raises(TenantNameError):
        tenant_policy(name, groups=groups)


def test_same_policy_in_the_shape_seaweedfs_returns_is_equal():
    # exactly what SeaweedFS 4.48 GetUserPolicy gave back for a put with one-item lists
    echoed = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": "arn:aws:s3:::mlflow/alice/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::mlflow",
         "Condition": {"StringLike": {"s3:prefix": "alice/*"}}}]}
    sent = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::mlflow"],
         "Condition": {"StringLike": {"s3:prefix": ["alice/*"]}}},
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject", "s3:GetObject"],
         "Resource": ["arn:aws:s3:::mlflow/alice/*"]}]}
    assert not policies_differ(echoed, sent)
    assert canonical_policy_json(echoed) == canonical_policy_json(sent)


@pytest.mark.parametrize("variant", [
    json.dumps(ALICE),  # JSON text
    json.dumps(ALICE, indent=4, sort_keys=True),
    quote(json.dumps(ALICE)),  # URL-encoded, as the raw IAM API returns it
    dict(ALICE, Statement=list(reversed(ALICE["Statement"]))),
    dict(ALICE, Statement=ALICE["Statement"] + [ALICE["Statement"][0]]),  # duplicate statement
])
def test_equivalent_forms_compare_equal(variant):
    assert not policies_differ(variant, ALICE)


def test_principal_star_bool_and_missing_version():
    a = {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket", "Resource": "arn:aws:s3:::b",
                        "Condition": {"Bool": {"aws:SecureTransport": False}}}]}
    b = {"Version": "2008-10-17",
         "Statement": {"Effect": "Deny", "Principal": {"AWS": ["*"]}, "Action": ["s3:DeleteBucket"],
                       "Resource": ["arn:aws:s3:::b"], "Condition": {"Bool": {"aws:SecureTransport": ["false"]}}}}
    assert not policies_differ(a, b)
    assert policies_differ(a, dict(b, Version="2012-10-17"))


@pytest.mark.parametrize("change", [
    lambda p: statement(p, "TenantObjects")["Resource"].append("arn:aws:s3:::mlflow/bob/*"),
    lambda p: statement(p, "TenantObjects").update(Effect="Deny"),
    lambda p: statement(p, "TenantListing")["Condition"]["StringLike"].update({"s3:prefix": ["*"]}),
    lambda p: statement(p, "TenantObjects")["Action"].remove("s3:DeleteObject"),
    lambda p: p["Statement"].pop(),
    lambda p: statement(p, "TenantObjects").update(Sid="Other"),
])
def test_real_differences_are_seen(change):
    changed = tenant_policy("alice", groups=["ml"])
    change(changed)
    assert policies_differ(ALICE, changed)
    assert policies_differ(None, ALICE) and policies_differ(ALICE, None)


def test_empty_and_invalid_policies():
    assert canonical_policy(None) is None and canonical_policy("") is None and canonical_policy({}) is None
    assert not policies_differ(None, "")
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_policy("{not json")
    with pytest.raises(ValueError, match="JSON object"):
        parse_policy("[1, 2]")


@pytest.mark.parametrize("bucket, ok", [
    ("mlflow", True), ("lab-data.2026", True), ("ab", False), ("../x", False), ("a..b", False),
    ("Mlflow", False), ("bucket/x", False), ("x" * 64, False), ("-abc", False),
])
def test_bucket_names(bucket, ok):
    assert (bucket_name_problem(bucket) is None) is ok
