"""The lab topology comes from the inventory alone (single server, HA, existing).

* The play's task list (``ansible-playbook --list-hosts --list-tasks`` of
  playbooks/onprem.yml) for the three inventories: who initialises, who joins,
  which agents, and that an existing cluster installs nothing.
* /etc/rancher/k3s/config.yaml and registries.yaml rendered by the roles' own
  tasks (tasks_from config.yml / registries.yml, run by ansible-playbook into a
  temporary directory) for every node of the single and HA inventories.
"""
import hashlib
import os
import pathlib
import re
import secrets
import subprocess
import sys

import pytest
import yaml

from fixtures.playbook import ROOT, run_playbook

pytestmark = pytest.mark.render
SINGLE = ROOT / "inventories" / "onprem"

HA_HOSTS = """
all:
  children:
    workbench_controller:
      hosts:
        localhost: {ansible_connection: local}
    k3s_cluster:
      children:
        k3s_servers:
          hosts:
            s1: {ansible_host: 10.0.0.1}
            s2: {ansible_host: 10.0.0.2}
            s3: {ansible_host: 10.0.0.3}
        k3s_agents:
          hosts:
            a1: {ansible_host: 10.0.0.11}
            g1: {ansible_host: 10.0.0.12, workbench_gpu: true}
"""
EXISTING_HOSTS = """
all:
  children:
    workbench_controller:
      hosts:
        localhost: {ansible_connection: local}
"""


def inventory(tmp_path, hosts, **group_vars):
    """An inventory directory like inventories/onprem, with the given hosts and settings."""
    directory = tmp_path / "inventory"
    (directory / "group_vars").mkdir(parents=True)
    (directory / "hosts.yml").write_text(hosts)
    settings = yaml.safe_load((SINGLE / "group_vars" / "all.yml").read_text())
    settings.update(group_vars)
    (directory / "group_vars" / "all.yml").write_text(yaml.safe_dump(settings))
    return directory


@pytest.fixture(scope="module")
def ha_inventory(tmp_path_factory):
    return inventory(tmp_path_factory.mktemp("ha"), HA_HOSTS, workbench_k3s_api_endpoint="10.0.0.100",
                     workbench_k3s_tls_san=["k3s.lab.example"], workbench_registry_mirror="https://registry.lab.example:5000")


@pytest.fixture(scope="module")
def existing_inventory(tmp_path_factory):
    return inventory(tmp_path_factory.mktemp("existing"), EXISTING_HOSTS, workbench_cluster="existing")


def plays(inventory_dir):
    """{play name: (hosts, [task names])} from --list-hosts --list-tasks of playbooks/onprem.yml."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory_dir),
                           "playbooks/onprem.yml", "--list-hosts", "--list-tasks"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = {}
    for block in re.split(r"\n\s*play #\d+ ", proc.stdout)[1:]:
        name = re.match(r"\(([^)]*)\): (.*?)\tTAGS", block).group(2)
        hosts = re.search(r"hosts \(\d+\):\n((?:      \S+\n)*)", block).group(1).split()
        hosts = sorted(hosts)  # --list-hosts does not keep inventory order
        tasks = [line.strip().split("\t")[0].split(" : ")[-1] for line in block.split("tasks:\n", 1)[1].splitlines() if line.strip()]
        found[name] = (hosts, tasks)
    return found


FIRST = "Start the first k3s server (initialises etcd in HA)"
JOIN = "Join the other k3s servers, one at a time (etcd quorum)"
AGENTS = "Join the k3s agents"
CHECK = "Check the lab hosts before anything changes"
CLUSTER = "Check, install tools and create the cluster"


def test_single_server_inits_alone_and_the_agent_joins_it():
    found = plays(SINGLE)
    assert found[CHECK][0] == ["lab-gpu-1", "lab-server-1"]
    assert found[FIRST][0] == ["lab-server-1"]
    assert found[JOIN][0] == []
    assert found[AGENTS][0] == ["lab-gpu-1"]
    assert "Write /etc/rancher/k3s/config.yaml" in found[FIRST][1]
    assert "Wait for this node to be Ready" in found[AGENTS][1]
    # the node plays come before the controller's cluster play and the workbench
    names = list(found)
    assert names.index(AGENTS) < names.index(CLUSTER) < names.index("Roll out the workbench services")


def test_ha_first_server_inits_the_others_join_and_agents_follow(ha_inventory):
    found = plays(ha_inventory)
    assert found[FIRST][0] == ["s1"]
    assert found[JOIN][0] == ["s2", "s3"]
    assert found[AGENTS][0] == ["a1", "g1"]
    assert "Warn about an even number of servers" in found[JOIN][1]


def test_existing_cluster_installs_nothing_on_nodes(existing_inventory):
    found = plays(existing_inventory)
    for play in (CHECK, FIRST, JOIN, AGENTS):
        assert found[play][0] == [], play
    assert found[CLUSTER][0] == ["localhost"]


RENDER = """
- name: Render each node's k3s configuration with the roles' own tasks
  hosts: k3s_cluster
  gather_facts: false
  connection: local
  vars:
    k3s_agent_config_dir: "{{ out }}/{{ inventory_hostname }}"
  tasks:
    - name: Create the node's directory
      ansible.builtin.file:
        path: "{{ k3s_agent_config_dir }}"
        state: directory
        mode: "0700"
    - name: Server config
      ansible.builtin.include_role:
        name: enertef.workbench.k3s_server
        tasks_from: config.yml
      when: inventory_hostname in groups['k3s_servers']
    - name: Agent config
      ansible.builtin.include_role:
        name: enertef.workbench.k3s_agent
        tasks_from: config.yml
      when: inventory_hostname in groups['k3s_agents']
    - name: Registry mirror
      ansible.builtin.include_role:
        name: enertef.workbench.k3s_agent
        tasks_from: registries.yml
"""


CA_HASH = hashlib.sha256(b"the cluster CA as token.yml reads it").hexdigest()


def render(tmp_path, inventory_dir):
    """(server token, agent token, configs, registries, modes) of every node."""
    out = tmp_path / "out"
    token, agent_token = secrets.token_hex(16), secrets.token_hex(16)
    result = run_playbook(RENDER, tmp_path, inventory=str(inventory_dir),
                          extra_vars={"out": str(out), "k3s_agent_token": token, "k3s_agent_agent_token": agent_token,
                                      "k3s_agent_ca_hash": CA_HASH})
    assert result.rc == 0, result
    configs = {node.name: yaml.safe_load((node / "config.yaml").read_text()) for node in out.iterdir()}
    registries = {node.name: yaml.safe_load((node / "registries.yaml").read_text())
                  for node in out.iterdir() if (node / "registries.yaml").exists()}
    modes = {node.name: (node / "config.yaml").stat().st_mode & 0o777 for node in out.iterdir()}
    return token, agent_token, configs, registries, modes


def test_single_server_config(tmp_path):
    token, agent_token, configs, registries, modes = render(tmp_path, SINGLE)
    server, agent = configs["lab-server-1"], configs["lab-gpu-1"]
    # the agent joins with the agent token in the secure format (CA pinned), never with the server token
    assert server["token"] == token and server["agent-token"] == agent_token
    assert agent["token"] == "K10%s::node:%s" % (CA_HASH, agent_token)
    assert token not in yaml.safe_dump(agent)
    assert server["secrets-encryption"] is True and "secrets-encryption" not in agent
    assert set(modes.values()) == {0o600}, "config.yaml holds the token"
    assert "cluster-init" not in server and "server" not in server  # sqlite, nothing to join
    assert {"192.0.2.10", "lab-server-1"} <= set(server["tls-san"])
    assert server["write-kubeconfig-mode"] == "0600"
    assert agent["server"] == "https://192.0.2.10:6443"
    # the GPU mark in the inventory, and only there
    assert agent["default-runtime"] == "nvidia"
    assert "workbench.enertef.io/gpu=true" in agent["node-label"]
    assert "default-runtime" not in server
    # the first server runs PostgreSQL (the node workbench_node_address names); no GPU label there
    assert server["node-label"] == ["workbench.enertef.io/postgres=true"]
    assert "workbench.enertef.io/postgres=true" not in agent["node-label"]
    # no mirror in the example, but the lab registry the workbench's images are pushed to
    assert sorted(registries) == ["lab-gpu-1", "lab-server-1"]
    for node in registries.values():
        assert node["mirrors"] == {"registry.lab.example:5000": {"endpoint": ["https://registry.lab.example:5000"]}}


def test_ha_config(tmp_path, ha_inventory):
    token, agent_token, configs, registries, _ = render(tmp_path, ha_inventory)
    assert configs["s1"]["cluster-init"] is True and "server" not in configs["s1"]
    assert configs["s1"]["token"] == token
    for joining in ("s2", "s3"):
        assert configs[joining]["server"] == "https://10.0.0.1:6443"
        assert configs[joining]["token"] == "K10%s::server:%s" % (CA_HASH, token)
        assert configs[joining]["agent-token"] == agent_token and configs[joining]["secrets-encryption"] is True
    for agent in ("a1", "g1"):
        assert configs[agent]["token"] == "K10%s::node:%s" % (CA_HASH, agent_token)
        assert "cluster-init" not in configs[joining]
    for server in ("s1", "s2", "s3"):
        assert {"10.0.0.100", "10.0.0.1", "10.0.0.2", "10.0.0.3", "k3s.lab.example"} <= set(configs[server]["tls-san"])
    # agents join through the VIP, not a single server
    assert configs["a1"]["server"] == configs["g1"]["server"] == "https://10.0.0.100:6443"
    assert "default-runtime" not in configs["a1"] and "node-label" not in configs["a1"]
    assert configs["s1"]["node-label"] == ["workbench.enertef.io/postgres=true"]
    assert "node-label" not in configs["s2"] and "node-label" not in configs["s3"]
    assert configs["g1"]["default-runtime"] == "nvidia"
    assert sorted(registries) == ["a1", "g1", "s1", "s2", "s3"]
    for node in registries.values():
        assert node["mirrors"]["docker.io"]["endpoint"] == ["https://registry.lab.example:5000"]
        assert node["mirrors"]["registry.k8s.io"]["endpoint"] == ["https://registry.lab.example:5000"]
        assert node["mirrors"]["registry.lab.example:5000"]["endpoint"] == ["https://registry.lab.example:5000"]


def test_a_plain_http_lab_registry_gets_an_http_endpoint_and_no_tls_config(tmp_path):
    directory = inventory(tmp_path, HA_HOSTS, workbench_registry="10.0.0.50:5000", workbench_registry_insecure=True,
                          workbench_registry_mirror="https://mirror.lab.example", workbench_registry_ca_file="/etc/lab-ca.pem")
    registries = render(tmp_path, directory)[3]
    for node in registries.values():
        assert node["mirrors"]["10.0.0.50:5000"] == {"endpoint": ["http://10.0.0.50:5000"]}
        assert node["configs"] == {"mirror.lab.example": {"tls": {"ca_file": "/etc/lab-ca.pem"}}}
