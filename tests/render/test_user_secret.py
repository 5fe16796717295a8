"""The per-user Secret the users role writes: valid for Kubernetes 1.35, and
holding that user's credentials and nothing of anyone else."""
import base64

from _render import render_template_isolated

from ansible_collections.enertef.workbench.plugins.filter.users_plan import users_credentials, users_plan
from ansible_collections.enertef.workbench.plugins.module_utils.tenant import SECRET_KEYS


def render_for(name, plan, creds):
    user = [u for u in plan["users"] if u["name"] == name][0]
    (doc,) = render_template_isolated("users", "user-secret.yaml.j2", {
        "workbench_state_dir": "/tmp/state",
        "users_user": user,
        "users_credentials": creds,
    })
    return doc


def decoded(doc):
    return {k: base64.b64decode(v).decode() for k, v in doc["data"].items()}


def test_alice_secret_is_valid_and_hers_alone(k8s_validate):
    plan = users_plan([{"name": "alice", "groups": ["ml"]}, "bob"])
    creds = users_credentials(plan, {}, 32)
    creds["alice"]["s3_access_key"] = "alice"
    creds["bob"]["s3_access_key"] = "bob"
    doc = render_for("alice", plan, creds)
    assert k8s_validate([doc]) == []
    assert doc["metadata"]["name"] == "workbench-user-alice"
    env = decoded(doc)
    assert set(env) == set(SECRET_KEYS)
    assert env["PGUSER"] == "alice" and env["PGPASSWORD"] == creds["alice"]["db_password"]
    assert env["PGOPTIONS"] == "-c search_path=alice"
    assert env["MLFLOW_ARTIFACTS_DESTINATION"] == "s3://mlflow/alice"
    assert env["AWS_SECRET_ACCESS_KEY"] == creds["alice"]["s3_secret_key"]
    assert env["WORKBENCH_GROUPS"] == "ml"
    assert env["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg://alice:")
    assert "search_path%3Dalice" in env["MLFLOW_BACKEND_STORE_URI"]
    everything = "\n".join(env.values())
    for value in creds["bob"].values():
        assert value not in everything


def test_a_broken_secret_fails_validation(k8s_validate):
    plan = users_plan(["alice"])
    creds = users_credentials(plan, {}, 32)
    doc = render_for("alice", plan, creds)
    doc["data"]["PGPORT"] = 5432
    assert k8s_validate([doc])


def test_one_list_holds_every_user_secret_and_the_hub_logins(k8s_validate):
    import json
    from ansible_collections.enertef.workbench.plugins.module_utils import login
    plan = users_plan(["alice", {"name": "bob", "groups": ["ml"]}, {"name": "dave", "state": "absent"}],
                      "name\ncarol\n", ["alice"])
    creds = users_credentials(plan, {}, 32)
    docs = render_template_isolated("users", "users-manifests.yaml.j2", {
        "workbench_state_dir": "/tmp/state", "users_plan": plan, "users_credentials": creds,
        "users_present": [u for u in plan["users"] if u["state"] == "present"]})
    assert k8s_validate(docs) == []
    # bob's empty WORKBENCH_GROUPS is an empty string, not YAML's null
    assert all(isinstance(value, str) for doc in docs for value in doc["data"].values())
    assert [d["metadata"]["name"] for d in docs] == [
        "workbench-user-alice", "workbench-user-bob", "workbench-user-carol", login.LOGINS_SECRET]
    logins = login.parse_logins(base64.b64decode(docs[-1]["data"][login.LOGINS_KEY]).decode())
    assert sorted(logins) == ["alice", "bob", "carol"]  # dave is off-boarded: no login
    assert logins["alice"]["admin"] is True and logins["bob"]["admin"] is False
    assert login.password_matches(creds["carol"]["login_password"], logins["carol"]["password_hash"])
    # no login password (only hashes) in the logins, no login secret in a user's pod Secret
    text = json.dumps(docs)
    for name in ("alice", "bob", "carol"):
        assert creds[name]["login_password"] not in text
        assert base64.b64encode(creds[name]["login_password"].encode()).decode() not in text
