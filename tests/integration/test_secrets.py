"""The secrets role run for real on the controller: generated once, kept in a
0600 file, reused on rerun, nothing written in check mode. The Kubernetes
Secrets it applies are rendered from the same template and validated (there is
no cluster here to apply them to)."""
import os
import stat
import string

import yaml

PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - enertef.workbench.secrets
"""
RENDER = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: enertef.workbench.secrets
        public: true
    - ansible.builtin.copy:
        content: "{{ lookup('ansible.builtin.template', role_path_secrets + '/templates/secrets.yaml.j2') }}"
        dest: "{{ rendered }}"
        mode: "0600"
      vars:
        role_path_secrets: "{{ repo_root }}/roles/secrets"
"""
KEYS = {"postgres_admin_password", "object_store_root_password", "object_store_console_password", "pgadmin_password",
        "hub_cookie_secret", "hub_proxy_token"}


def variables(tmp_path, **more):
    return dict({"workbench_state_dir": str(tmp_path / "state"),
                 "secrets_apply_to_cluster": False}, **more)


def read(tmp_path):
    path = tmp_path / "state" / "credentials.yml"
    return path, yaml.safe_load(path.read_text())


def test_generated_once_kept_0600_and_reused(playbook, tmp_path):
    first = playbook(PLAY, extra_vars=variables(tmp_path))
    assert first.rc == 0, first
    path, creds = read(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert KEYS <= set(creds)
    values = [creds[k] for k in KEYS]
    assert len(set(values)) == len(values), "every credential is its own"
    for key in ("postgres_admin_password", "object_store_root_password", "object_store_console_password",
                "pgadmin_password"):
        assert len(creds[key]) == 32 and set(creds[key]) <= set(string.ascii_letters + string.digits)
    # no shared hub password: each user has a login of their own (users role)
    assert not {"hub_shared_password", "hub_admin_password"} & set(creds)
    for key in ("hub_cookie_secret", "hub_proxy_token"):
        assert len(creds[key]) == 64 and set(creds[key]) <= set(string.hexdigits.lower())

    second = playbook(PLAY, extra_vars=variables(tmp_path))
    assert second.rc == 0 and second.changed == 0, second
    assert read(tmp_path)[1] == creds


def test_a_credentials_path_that_is_not_a_file_stops_the_play_before_any_password_is_made(playbook, tmp_path):
    # generating anew would hand the Secrets passwords the running services do not have
    (tmp_path / "state" / "credentials.yml").mkdir(parents=True)
    result = playbook(PLAY, extra_vars=variables(tmp_path))
    assert result.rc != 0 and result.changed == 0, result
    assert any("credentials.yml: it exists and is not a regular file" in message
               for message in result.failure_messages), result
    assert [task for task, _, r in result.task_results() if r.get("failed")] == [
        "Stop if the credentials file cannot be read (nothing generated, nothing written)"]
    assert list((tmp_path / "state" / "credentials.yml").iterdir()) == []


def test_check_mode_writes_nothing(playbook, tmp_path):
    result = playbook(PLAY, extra_vars=variables(tmp_path), check=True)
    assert result.rc == 0, result
    assert not (tmp_path / "state" / "credentials.yml").exists()


def test_rotation_replaces_only_the_named_credential(playbook, tmp_path):
    assert playbook(PLAY, extra_vars=variables(tmp_path)).rc == 0
    _, before = read(tmp_path)
    result = playbook(PLAY, extra_vars=variables(tmp_path, secrets_rotate=["hub_cookie_secret"]))
    assert result.rc == 0 and result.changed == 1, result
    _, after = read(tmp_path)
    assert after["hub_cookie_secret"] != before["hub_cookie_secret"]
    assert {k: v for k, v in after.items() if k != "hub_cookie_secret"} == \
        {k: v for k, v in before.items() if k != "hub_cookie_secret"}


def test_secret_manifests_are_valid_and_carry_the_kept_values(playbook, tmp_path, k8s_validate):
    rendered = tmp_path / "secrets.yaml"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = playbook(RENDER, extra_vars=variables(tmp_path, rendered=str(rendered), repo_root=root))
    assert result.rc == 0, result
    docs = [d for d in yaml.safe_load_all(rendered.read_text()) if d]
    # no workbench-hub Secret: nothing mounts it, the hub gets its credentials through its values
    assert [d["metadata"]["name"] for d in docs] == [
        "workbench-postgres-admin", "workbench-object-store-root", "workbench-object-store-console",
        "workbench-pgadmin"]
    assert k8s_validate(docs) == []
    _, creds = read(tmp_path)
    import base64
    # the SeaweedFS console reads its login as weed admin flags from this key
    console = {k: base64.b64decode(v).decode() for k, v in docs[2]["data"].items()}
    assert console["admin.options"].splitlines() == [
        "adminUser=%s" % creds["object_store_console_user"], "adminPassword=%s" % creds["object_store_console_password"]]
    assert console["password"] == creds["object_store_console_password"]
    pgadmin = docs[3]["data"]
    assert base64.b64decode(pgadmin["password"]).decode() == creds["pgadmin_password"]
    broken = dict(docs[0], data={"password": 42})
    assert k8s_validate([broken]), "a non-string data value must fail validation"


def test_the_shared_hub_passwords_of_earlier_runs_are_dropped(playbook, tmp_path):
    assert playbook(PLAY, extra_vars=variables(tmp_path)).rc == 0
    path, creds = read(tmp_path)
    path.write_text(yaml.safe_dump(dict(creds, hub_shared_password="x" * 20, hub_admin_password="y" * 32)))
    assert playbook(PLAY, extra_vars=variables(tmp_path)).rc == 0
    assert read(tmp_path)[1] == creds
