"""A first lab run, as k3s behaves upstream.

* k3s registers a node under its kernel host name in lower case (os.Hostname, the
  FQDN on hosts named that way), not Ansible's short ``hostname`` fact: the task
  that waits for the node is evaluated here with the k3s_agent role's defaults and
  an FQDN host's facts, by Ansible's own Templar.
* Traefik's CRDs arrive after the nodes are Ready (k3s's helm-controller installs
  them): the TLSStore is applied only after a wait for its CRD. Checked on the task
  list (the order needs a cluster to watch it happen).
"""
import pytest
import yaml
from ansible.template import Templar, trust_as_template

from _render import ROOT, _ansible_loader, _as_inventory_value, role_defaults

pytestmark = pytest.mark.render
FQDN_FACTS = {"hostname": "lab-server-1", "nodename": "Lab-Server-1.lab.example", "architecture": "x86_64"}


def tasks(role, name):
    return yaml.safe_load((ROOT / "roles" / role / "tasks" / name).read_text())


def test_the_node_wait_asks_for_the_name_k3s_registers():
    wait = next(t for t in tasks("k3s_agent", "service.yml") if t["name"] == "Wait for this node to be Ready")
    variables = dict(role_defaults("k3s_agent"), ansible_facts=FQDN_FACTS)
    templar = Templar(loader=_ansible_loader(), variables=variables)
    argv = [str(templar.template(trust_as_template(arg))) for arg in wait["ansible.builtin.command"]["argv"]]
    assert argv[3:5] == ["node", "lab-server-1.lab.example"], argv
    # an explicit node-name wins, as it does for k3s
    variables["k3s_agent_extra_config"] = _as_inventory_value({"node-name": "GPU-1"})
    templar = Templar(loader=_ansible_loader(), variables=variables)
    assert str(templar.template(trust_as_template("{{ k3s_agent_node_name }}"))) == "gpu-1"


def test_the_tlsstore_waits_for_traefiks_crd():
    names = [t["name"] for t in tasks("k3s_server", "tls.yml")]
    wait = names.index("Wait until Traefik's TLSStore kind exists")
    assert wait < names.index("Store the certificate as the ingress's TLS Secret and default certificate")
    task = tasks("k3s_server", "tls.yml")[wait]["kubernetes.core.k8s_info"]
    assert (task["kind"], task["name"]) == ("CustomResourceDefinition", "tlsstores.traefik.io")
    assert task["wait_condition"] == {"type": "Established", "status": "True"}
    # the TLSStore's group is the one that CRD serves
    template = (ROOT / "roles" / "k3s_server" / "templates" / "tls.yaml.j2").read_text()
    assert "apiVersion: traefik.io/v1alpha1\nkind: TLSStore" in template
