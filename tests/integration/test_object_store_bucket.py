"""The object_store role's bucket task against a real S3 server (SeaweedFS).

MinIO itself cannot run here (no server package on the registries this machine
reaches), so the same amazon.aws.s3_bucket task runs against SeaweedFS's S3 API.
The role normally reads the root credentials from the Kubernetes Secret; with no
cluster here, the test sets that k8s_info result to what the API would return.
"""
import base64

import pytest
import yaml


def b64(text):
    return base64.b64encode(text.encode()).decode()


@pytest.mark.integration
def test_bucket_is_created_once(seaweedfs, playbook):
    play = [{"name": "bucket", "hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "The root Secret as k8s_info returns it (no cluster here)",
         "ansible.builtin.set_fact": {"object_store_root_secret_info": {"resources": [{"data": {
             "root-user": b64(seaweedfs.admin_access_key),
             "root-password": b64(seaweedfs.admin_secret_key)}}]}}},
        {"name": "Create the bucket",
         "ansible.builtin.include_role": {"name": "enertef.workbench.object_store", "tasks_from": "bucket.yml"},
         "vars": {"object_store_bucket": "workbench-check", "object_store_endpoint_url": seaweedfs.endpoint}}]}]
    first = playbook(yaml.safe_dump(play))
    assert first.rc == 0 and first.changed == 1, first
    second = playbook(yaml.safe_dump(play))
    assert second.rc == 0 and second.changed == 0, second
    names = [b["Name"] for b in seaweedfs.admin_s3().list_buckets()["Buckets"]]
    assert "workbench-check" in names
