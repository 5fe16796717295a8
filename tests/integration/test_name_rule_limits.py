"""Each limit of the tenant name rule (plugins/module_utils/tenant.py) checked
against the rule of the backend that enforces it, where that backend runs
here: PostgreSQL 18 and SeaweedFS's IAM API for real, Kubernetes names and
labels and KubeSpawner 7's pod/PVC slugs with KubeSpawner's own validators
(kubernetes-validate's schemas carry no name patterns). MinIO does not run
here: its limit (access keys of at least 3 characters, cmd/auth
accessKeyMinLen) is the rule's minimum, checked in tests/unit/test_tenant_naming.py."""
import pytest
from kubespawner import slugs
from psycopg import sql

from ansible_collections.enertef.workbench.plugins.module_utils import tenant

LONGEST = "l" * tenant.NAME_MAX_LENGTH
EDGE_NAMES = ["abc", LONGEST, "a_b__c", "a9_z"]


def _tenants():
    for name in EDGE_NAMES:
        yield tenant.tenant_for(name, "user")
        yield tenant.tenant_for(name, "group")


def test_the_rule_accepts_the_edge_names_and_refuses_the_others():
    for name in EDGE_NAMES:
        assert tenant.name_problem(name) is None, name
    for name in ("ab", LONGEST + "l", "alice_"):
        assert tenant.name_problem(name), name


def test_postgresql_keeps_every_tenant_identifier_whole(postgres_server):
    with postgres_server.superuser_connect() as conn:
        # the backend's limit is real: a 64-byte identifier is cut to 63 (NAMEDATALEN - 1)
        cut = conn.execute(sql.SQL("SELECT length({}::name)").format(sql.Literal("x" * 64))).fetchone()[0]
        assert cut == 63
        for ids in _tenants():
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(ids["pg_role"])))
            conn.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
                sql.Identifier(ids["pg_schema"]), sql.Identifier(ids["pg_role"])))
            found = conn.execute("SELECT nspname::text, pg_get_userbyid(nspowner)::text FROM pg_namespace "
                                 "WHERE nspname = %s", (ids["pg_schema"],)).fetchone()
            assert found == (ids["pg_schema"], ids["pg_role"]), ids
            # unquoted, as the Secret's PGOPTIONS and MLflow's search_path option write it
            conn.execute("SET search_path = %s" % ids["pg_schema"])
            assert conn.execute("SELECT current_schemas(false)").fetchone()[0] == [ids["pg_schema"]]
        conn.rollback()  # nothing kept on the session's server


def test_seaweedfs_iam_accepts_every_tenant_user_and_key(seaweedfs):
    iam = seaweedfs.admin_iam()
    for ids in _tenants():
        user = ids["s3_user"]
        iam.create_user(UserName=user)
        try:
            key = iam.create_access_key(UserName=user)["AccessKey"]
            assert key["UserName"] == user
            names = [u["UserName"] for u in iam.list_users()["Users"]]
            assert user in names
        finally:
            for old in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
                iam.delete_access_key(UserName=user, AccessKeyId=old["AccessKeyId"])
            iam.delete_user(UserName=user)


@pytest.mark.parametrize("name", EDGE_NAMES)
def test_kubernetes_names_and_labels_are_valid(name):
    for kind in ("user", "group"):
        ids = tenant.tenant_for(name, kind)
        # Secret names are DNS-1123 subdomains; ours even fit a DNS label
        assert slugs.is_valid_object_name(ids["k8s_secret"]), ids["k8s_secret"]
        # the Secret's label workbench.enertef.org/user carries the name itself
        assert slugs.is_valid_label(name), name


def test_the_old_rule_let_through_a_secret_name_kubernetes_refuses():
    # 'alice_' passed the old rule; its Secret name would end with '-'
    assert not slugs.is_valid_object_name("workbench-user-alice-")
    assert not slugs.is_valid_label("alice_")
    assert "ends with '_'" in tenant.name_problem("alice_")


@pytest.mark.parametrize("name", EDGE_NAMES)
def test_kubespawner_pod_and_volume_names_are_valid(name):
    # KubeSpawner 7, slug_scheme "safe": pod jupyter-{user_server}, PVC claim-{user_server}
    slug = slugs.safe_slug(name)
    for template in ("jupyter-%s", "claim-%s"):
        assert slugs.is_valid_object_name(template % slug), template % slug
    if "_" not in name:
        assert slug == name  # the pod is jupyter-<name>, as the README says
