"""The PostgreSQL NodePort on a lab: only the controller's addresses, never the lab network.

The postgres role's own settings check (tasks_from preflight.yml, run by ansible-playbook)
refuses, before anything is applied, a lab whose NodePort nobody may use, one opened to
0.0.0.0/0, and a Local NodePort without a node to run on. The manifests for a lab are
rendered by Ansible's templar and validated."""
import pytest

from _render import find, render_role
from fixtures.playbook import run_playbook

pytestmark = pytest.mark.render
PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Check the postgres settings
      ansible.builtin.include_role:
        name: enertef.workbench.postgres
        tasks_from: preflight.yml
"""


@pytest.mark.parametrize("settings, message", [
    ({"workbench_cluster": "k3s"}, "no address may use it: set workbench_admin_cidrs"),
    ({"workbench_cluster": "k3s", "workbench_admin_cidrs": ["0.0.0.0/0"]}, "whole lab network and every pod"),
    ({"workbench_cluster": "existing", "workbench_admin_cidrs": ["198.51.100.5/32"]}, "set postgres_node_selector"),
], ids=["no-admin-cidrs", "open-to-all", "local-without-node"])
def test_a_lab_postgres_exposed_wrongly_is_refused_before_any_change(tmp_path, settings, message):
    result = run_playbook(PLAY, tmp_path, extra_vars=settings)
    assert result.rc != 0 and result.changed == 0
    assert any(message in m and "nothing was changed" in m for m in result.failure_messages), result


def test_a_lab_postgres_admits_its_controller_by_address_and_keeps_it(k8s_validate):
    rendered = render_role("postgres", {"workbench_cluster": "k3s", "workbench_admin_cidrs": ["192.0.2.5/32"]})
    docs = [d for docs in rendered.values() for d in docs]
    assert k8s_validate(docs) == []
    policy = find(docs, "NetworkPolicy", "postgres")
    blocks = [peer["ipBlock"] for rule in policy["spec"]["ingress"] for peer in rule["from"] if "ipBlock" in peer]
    assert blocks == [{"cidr": "192.0.2.5/32"}]
    # Local: kube-proxy does not NAT the controller's connection, so the policy sees 192.0.2.5
    assert find(docs, "Service", "postgres")["spec"]["externalTrafficPolicy"] == "Local"
    assert find(docs, "StatefulSet", "postgres")["spec"]["template"]["spec"]["nodeSelector"] == {
        "workbench.enertef.io/postgres": "true"}
