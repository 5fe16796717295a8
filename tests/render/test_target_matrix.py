"""Every target, rendered by Ansible itself and checked at the joins.

For each example inventory (laptop, lab single server, lab HA with a GPU node,
an existing cluster, an air-gapped lab) one ansible-playbook run over that
inventory renders what the playbooks would apply:

* on every k3s node, /etc/rancher/k3s/config.yaml and registries.yaml, by the
  k3s roles' own task files (into a temporary directory: nothing is installed);
* on the controller, the notebook image's name (the notebook_image role's own
  reference.yml, its content tag), then each role's manifest templates and
  variables through a probe role made of that role's defaults, templates and
  files, included with include_role (private, as rotate.yml and
  upgrade-workbench.yml include roles: a variable only another role defines is
  undefined there and fails the run);
* the hub chart, with ``helm template`` on the rendered values.

The secrets role needs a cluster: its fact (secrets_credentials) is stubbed
with generated values. Airflow's chart is not on this machine, so its pods are
represented by the labels the official chart gives them (tier/component/release).

Then the joins: every image is pullable by that target's registry
configuration; every NetworkPolicy admits each client the manifests say talks
to that server and nothing else; no laptop-only address or name in a lab
target; PostgreSQL runs where the controller's connection arrives.
"""
import hashlib
import json
import os
import pathlib
import re
import secrets
import subprocess
import sys

import pytest
import yaml

from _jupyterhub import helm_template
from _render import ROOT

# five ansible-playbook runs and five helm templates: minutes on a shared machine
pytestmark = [pytest.mark.render, pytest.mark.timeout(2400)]
VENV_BIN = pathlib.Path(sys.executable).parent

INVENTORIES = ["laptop", "onprem", "onprem-ha", "existing", "airgap"]
LAB = ["onprem", "onprem-ha", "existing", "airgap"]
K3S = ["onprem", "onprem-ha", "airgap"]
# role -> manifest templates the playbooks apply (relative to the role's templates/)
RENDERED = {
    "postgres": ["initdb.yaml.j2", "networkpolicy.yaml.j2", "service.yaml.j2", "statefulset.yaml.j2"],
    "object_store": ["networkpolicy.yaml.j2", "service.yaml.j2", "statefulset.yaml.j2"],
    "pgadmin": ["configmap.yaml.j2", "deployment.yaml.j2", "pvc.yaml.j2", "service.yaml.j2"],
    "model_serving": ["networkpolicy.yaml.j2", "api-service.yaml.j2", "api-deployment.yaml.j2",
                      "ui-service.yaml.j2", "ui-deployment.yaml.j2"],
    "airflow": ["postgres-networkpolicy.yaml.j2", "object-store-networkpolicy.yaml.j2"],
    "jupyterhub": ["helm/values.yaml.j2"],
    # variables only: the bundle's image list, the controller's addresses
    "airgap": [],
    "users": [],
}
K3S_RENDERED = {"k3s_server": ["nvidia-device-plugin.yaml.j2"]}
PUBLIC_REGISTRIES = {"docker.io", "quay.io", "registry.k8s.io", "ghcr.io", "nvcr.io"}
LAPTOP_ONLY = re.compile(r"localhost|127\.0\.0\.1|k3d-")
# what the official Airflow chart labels its pods with (release "airflow")
AIRFLOW_PODS = {component: {"tier": "airflow", "component": component, "release": "airflow"}
                for component in ("scheduler", "api-server", "dag-processor", "triggerer",
                                  "run-airflow-migrations", "worker")}
CA_HASH = hashlib.sha256(b"the cluster CA as token.yml reads it").hexdigest()

NODE_PLAY = {
    "name": "Render each node's k3s configuration with the roles' own tasks",
    "hosts": "k3s_cluster",
    "gather_facts": False,
    "connection": "local",
    "vars": {"k3s_agent_config_dir": "{{ out }}/nodes/{{ inventory_hostname }}"},
    "tasks": [
        {"name": "Create the node's directory",
         "ansible.builtin.file": {"path": "{{ k3s_agent_config_dir }}", "state": "directory", "mode": "0700"}},
        {"name": "Server config", "when": "inventory_hostname in groups['k3s_servers']",
         "ansible.builtin.include_role": {"name": "enertef.workbench.k3s_server", "tasks_from": "config.yml"}},
        {"name": "Agent config", "when": "inventory_hostname in groups['k3s_agents']",
         "ansible.builtin.include_role": {"name": "enertef.workbench.k3s_agent", "tasks_from": "config.yml"}},
        {"name": "Registries", "ansible.builtin.include_role": {"name": "enertef.workbench.k3s_agent",
                                                              "tasks_from": "registries.yml"}},
    ],
}


def _probe_role(work, role, templates):
    """A role with the real role's defaults, templates and files, whose one task renders and resolves them."""
    probe = work / "roles" / ("probe_" + role)
    (probe / "tasks").mkdir(parents=True)
    for part in ("defaults", "templates", "files"):
        if (ROOT / "roles" / role / part).is_dir():
            (probe / part).symlink_to(ROOT / "roles" / role / part)
    names = sorted(yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text()))
    out = "{{ out }}/controller/%s" % role
    tasks = [
        {"name": "Create the output directory",
         "ansible.builtin.file": {"path": out, "state": "directory", "mode": "0700"}},
        {"name": "Resolve every variable of the role",
         "ansible.builtin.copy": {"content": "{{ dict(%r | zip(query('ansible.builtin.vars', *%r))) | to_json }}" % (
             names, names), "dest": out + "/vars.json", "mode": "0600"}},
    ]
    if templates:
        tasks.append({"name": "Render each manifest the role applies",
                      "ansible.builtin.copy": {"content": "{{ lookup('ansible.builtin.template', item) }}",
                                               "dest": out + "/{{ item | basename }}", "mode": "0600"},
                      "loop": templates})
    (probe / "tasks" / "main.yml").write_text(yaml.safe_dump(tasks, sort_keys=False))


def _controller_play(k3s):
    roles = dict(RENDERED, **(K3S_RENDERED if k3s else {}))
    tasks = [
        {"name": "Stand in for the secrets role (it reads and writes Kubernetes Secrets)",
         "ansible.builtin.set_fact": {"secrets_credentials": "{{ stub_credentials }}"}},
        {"name": "Name the notebook image as the playbooks do",
         "ansible.builtin.include_role": {"name": "enertef.workbench.notebook_image", "tasks_from": "reference.yml"}},
        # the airgap role's first task (the probe runs no task of the role it stands for)
        {"name": "Name the model-serving image as the airgap role does",
         "ansible.builtin.include_role": {"name": "enertef.workbench.model_serving", "tasks_from": "reference.yml"}},
    ] + [{"name": "Render " + role, "ansible.builtin.include_role": {"name": "probe_" + role}} for role in roles]
    return {"name": "Render the controller's manifests", "hosts": "workbench_controller", "gather_facts": False,
            "connection": "local", "tasks": tasks}


def _render_inventory(work, inventory):
    out = work / ("out-" + inventory)
    k3s = inventory in K3S
    playbook = work / ("render-%s.yml" % inventory)
    playbook.write_text(yaml.safe_dump(([NODE_PLAY] if k3s else []) + [_controller_play(k3s)], sort_keys=False))
    variables = {
        "out": str(out),
        # the nodes' plays run here (connection local), with this interpreter
        "ansible_python_interpreter": sys.executable,
        "k3s_agent_token": secrets.token_hex(16), "k3s_agent_agent_token": secrets.token_hex(16),
        "k3s_agent_ca_hash": CA_HASH,
        "stub_credentials": {key: secrets.token_urlsafe(24) for key in (
            "hub_shared_password", "hub_admin_password", "hub_cookie_secret", "hub_proxy_token",
            "postgres_admin_password", "object_store_root_password", "pgadmin_password")},
        # one served model, so the model-serving manifests exist
        "model_serving_tenant": "alice", "model_serving_model_name": "iris",
        # no Docker here: name the images, build nothing
        "model_serving_image_build": False, "notebook_image_build": False,
        "workbench_airflow_enabled": True,
    }
    (work / ("vars-%s.json" % inventory)).write_text(json.dumps(variables))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_ROLES_PATH=str(work / "roles"),
               ANSIBLE_NOCOLOR="1", HOME=str(work / "home"), USER="alice")
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(ROOT / "inventories" / inventory),
                           str(playbook), "-e", "@%s" % (work / ("vars-%s.json" % inventory))],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    failures = [line for line in proc.stdout.splitlines() if line.startswith(("fatal", "failed"))]
    assert proc.returncode == 0, (inventory, failures or proc.stdout[-4000:], proc.stderr[-2000:])
    return out


# what a container runs against itself (a probe of 127.0.0.1 inside the pod) is no address of the target
POD_LOCAL = ("command", "args", "readinessProbe", "livenessProbe", "startupProbe")


def _addresses_only(value):
    if isinstance(value, dict):
        return {k: _addresses_only(v) for k, v in value.items() if k not in POD_LOCAL}
    if isinstance(value, list):
        return [_addresses_only(v) for v in value]
    return value


def _load(out, tmp):
    rendered = {"roles": {}, "vars": {}, "nodes": {}, "texts": []}
    for role_dir in sorted((out / "controller").iterdir()):
        rendered["vars"][role_dir.name] = json.loads((role_dir / "vars.json").read_text())
        docs = {}
        for path in sorted(role_dir.glob("*.j2")):
            docs[path.name] = [d for d in yaml.safe_load_all(path.read_text()) if d]
            rendered["texts"].append((role_dir.name + "/" + path.name, yaml.safe_dump_all(_addresses_only(docs[path.name]))))
        rendered["roles"][role_dir.name] = docs
    for node in sorted((out / "nodes").iterdir()) if (out / "nodes").is_dir() else []:
        files = {name: yaml.safe_load((node / name).read_text())
                 for name in ("config.yaml", "registries.yaml") if (node / name).exists()}
        rendered["nodes"][node.name] = files
        rendered["texts"] += [(node.name + "/" + name, (node / name).read_text()) for name in files]
    values = rendered["roles"]["jupyterhub"]["values.yaml.j2"][0]
    tmp.mkdir(parents=True, exist_ok=True)
    rendered["chart"] = helm_template(values, tmp)
    rendered["values"] = values
    # the chart's own jupyterhub_config.py points the culler at the hub's API inside the hub pod
    chart_text = yaml.safe_dump_all(_addresses_only(rendered["chart"]))
    chart_text = chart_text.replace("--url=http://localhost:8081", "--url=<hub pod itself>")
    rendered["texts"].append(("jupyterhub chart", chart_text))
    return rendered


@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    """{inventory: rendered} for every example inventory."""
    work = tmp_path_factory.mktemp("target-matrix")
    # role_path/../.. of a probe role is the work directory: the collection's files and plugins there
    for part in ("files", "plugins"):
        (work / part).symlink_to(ROOT / part)
    (work / "home").mkdir()
    for role, templates in dict(RENDERED, **K3S_RENDERED).items():
        _probe_role(work, role, templates)
    return {inventory: _load(_render_inventory(work, inventory), work / ("chart-" + inventory))
            for inventory in INVENTORIES}


def _docs(rendered):
    return [doc for docs in rendered["roles"].values() for doc_list in docs.values() for doc in doc_list] \
        + rendered["chart"]


def _find(docs, kind, name):
    found = [d for d in docs if d.get("kind") == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def _pod_labels(rendered, role, kind, name=None):
    docs = _docs(rendered) if role is None else \
        [d for docs in rendered["roles"][role].values() for d in docs]
    found = [d for d in docs if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, (role, kind, name, [d["metadata"]["name"] for d in found])
    return found[0]["spec"]["template"]["metadata"]["labels"]


def _images(rendered):
    images = set()
    for doc in _docs(rendered):
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            images.add(container["image"])
    singleuser = rendered["values"]["singleuser"]["image"]
    images.add("%s:%s" % (singleuser["name"], singleuser["tag"]))
    return images


def _registry(image):
    first = image.split("/", 1)[0]
    return first if "/" in image and ("." in first or ":" in first or first == "localhost") else "docker.io"


def _resolved(rendered, name):
    role = next(r for r in sorted(rendered["vars"], key=len, reverse=True) if name.startswith(r + "_"))
    return rendered["vars"][role][name]


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_every_image_is_pullable_by_the_targets_registry_configuration(targets, inventory):
    rendered = targets[inventory]
    images = _images(rendered)
    notebook = rendered["values"]["singleuser"]["image"]
    assert notebook["tag"] != "latest" and re.fullmatch(r"mlflow[\d.]+-[0-9a-f]{12}", notebook["tag"]), notebook
    for image in images:
        assert not image.endswith(":latest") and ":" in image.rsplit("/", 1)[-1] or "@sha256:" in image, image
    if inventory == "laptop":
        allowed = PUBLIC_REGISTRIES | {"k3d-workbench-registry.localhost:5001"}
        assert {_registry(i) for i in images} <= allowed, images
    elif inventory == "airgap":
        # nothing is pulled: every image must be in the bundle, which is verified before a node is touched
        bundled = set(_resolved(rendered, "airgap_images"))
        assert any("/workbench-model-serving:" in i for i in images), images
        assert images - bundled == set(), "not in the air-gap bundle: %s" % sorted(images - bundled)
        # the workbench's own images under the name bundle.yml exports them with (no registry in the lab)
        assert {_registry(i) for i in images if "/workbench-" in i} == {"workbench.local"}, images
        # and no node is pointed at a registry or mirror: k3s imports the bundle's images
        assert rendered["nodes"]
        pointed = {name: files["registries.yaml"] for name, files in rendered["nodes"].items() if "registries.yaml" in files}
        assert not pointed, pointed
    elif inventory == "existing":
        registry = _registry(notebook["name"])
        assert registry == "registry.example.org:5000"
        assert {_registry(i) for i in images} <= PUBLIC_REGISTRIES | {registry}, images
    else:
        # every node is told how to reach the registry the controller pushed the workbench's images to
        nodes = rendered["nodes"]
        assert nodes
        for name, files in nodes.items():
            mirrors = files["registries.yaml"]["mirrors"]
            for image in images:
                registry = _registry(image)
                assert registry in PUBLIC_REGISTRIES or registry in mirrors, (name, image, sorted(mirrors))
        assert _registry(notebook["name"]) == "registry.lab.example:5000"


def _selects(selector, labels):
    return all(labels.get(key) == value for key, value in (selector.get("matchLabels") or {}).items())


def _admitted(policies, server_labels, port, client):
    """Does some NetworkPolicy selecting the server let the client (labels, namespace) in on port?"""
    client_labels, client_namespace = client
    for policy in policies:
        spec = policy["spec"]
        if not _selects(spec["podSelector"], server_labels):
            continue
        for rule in spec.get("ingress", []):
            ports = [p["port"] for p in rule.get("ports", [])]
            if ports and port not in ports:
                continue
            peers = rule.get("from")
            if peers is None:
                return True
            for peer in peers:
                namespaces = peer.get("namespaceSelector", {}).get("matchLabels", {})
                same = namespaces.get("kubernetes.io/metadata.name", policy["metadata"]["namespace"])
                if "podSelector" in peer and same == client_namespace and _selects(peer["podSelector"], client_labels):
                    return True
    return False


def _ip_blocks(policies, server_labels):
    return [peer["ipBlock"] for policy in policies if _selects(policy["spec"]["podSelector"], server_labels)
            for rule in policy["spec"].get("ingress", []) for peer in rule.get("from", []) if "ipBlock" in peer]


def _clients(rendered):
    chart = rendered["chart"]
    workbench = _resolved(rendered, "postgres_namespace")
    airflow = _resolved(rendered, "airflow_namespace")
    return dict(
        {"user pod": (_find(chart, "NetworkPolicy", "singleuser")["spec"]["podSelector"]["matchLabels"], workbench),
         "hub": (_pod_labels(rendered, None, "Deployment", "hub"), workbench),
         "pgAdmin": (_pod_labels(rendered, "pgadmin", "Deployment"), workbench),
         "model API": (_pod_labels(rendered, "model_serving", "Deployment", "model-iris"), workbench),
         "model page": (_pod_labels(rendered, "model_serving", "Deployment", "model-iris-ui"), workbench),
         "object store": (_pod_labels(rendered, "object_store", "StatefulSet"), workbench)},
        **{"Airflow " + name: (labels, airflow) for name, labels in AIRFLOW_PODS.items()})


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_postgres_admits_its_clients_and_nothing_else(targets, inventory):
    rendered = targets[inventory]
    policies = [d for d in _docs(rendered) if d.get("kind") == "NetworkPolicy"]
    server = _pod_labels(rendered, "postgres", "StatefulSet")
    wanted = {"user pod", "pgAdmin", "model API"} | {"Airflow " + name for name in AIRFLOW_PODS}
    admitted = {name for name, labels in _clients(rendered).items() if _admitted(policies, server, 5432, labels)}
    assert admitted == wanted, "missing %s, extra %s" % (sorted(wanted - admitted), sorted(admitted - wanted))
    blocks = _ip_blocks(policies, server)
    if inventory == "laptop":
        # published on 127.0.0.1 only; the pod network k3d creates is not an outside client
        assert blocks == [{"cidr": "0.0.0.0/0", "except": ["10.42.0.0/16"]}]
    else:
        # the provisioning path is this controller, by address: no pod CIDR assumed, no lab network
        assert blocks == [{"cidr": cidr} for cidr in _resolved(rendered, "postgres_admin_cidrs")]
        assert blocks and all(b["cidr"] != "0.0.0.0/0" and "except" not in b for b in blocks), blocks


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_notebooks_reach_the_model_api_and_only_they_and_its_page_do(targets, inventory):
    rendered = targets[inventory]
    policies = [d for d in _docs(rendered) if d.get("kind") == "NetworkPolicy"]
    api = _pod_labels(rendered, "model_serving", "Deployment", "model-iris")
    port = _resolved(rendered, "model_serving_api_port")
    admitted = {name for name, labels in _clients(rendered).items() if _admitted(policies, api, port, labels)}
    assert admitted == {"user pod", "model page"}, admitted
    # and the user pods' own egress policy lets them out to it
    egress = _find(rendered["chart"], "NetworkPolicy", "singleuser")["spec"]["egress"]
    assert any(_selects(peer.get("podSelector", {"matchLabels": {"": None}}), api)
               and port in [p["port"] for p in rule.get("ports", [])]
               for rule in egress for peer in rule["to"]), egress


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_the_object_store_admits_every_pod_holding_a_tenant_key(targets, inventory):
    rendered = targets[inventory]
    policies = [d for d in _docs(rendered) if d.get("kind") == "NetworkPolicy"]
    server = _pod_labels(rendered, "object_store", "StatefulSet")
    clients = _clients(rendered)
    for name in ("user pod", "model API"):
        assert _admitted(policies, server, 9000, clients[name]), name
    assert not _admitted(policies, server, 9000, clients["hub"])


TRAEFIK = ({"app.kubernetes.io/name": "traefik", "app.kubernetes.io/instance": "traefik-kube-system"}, "kube-system")


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_the_object_store_admits_exactly_its_clients_per_target(targets, inventory):
    """Pods with a tenant key on S3; the controller and the console's browsers the way each target
    routes them: k3d's NodePort on the laptop, the TLS ingress elsewhere, never a guessed pod CIDR."""
    rendered = targets[inventory]
    policies = [d for d in _docs(rendered) if d.get("kind") == "NetworkPolicy"]
    server = _pod_labels(rendered, "object_store", "StatefulSet")
    clients = dict(_clients(rendered), **{"ingress controller": TRAEFIK})
    on_api = {name for name, labels in clients.items() if _admitted(policies, server, 9000, labels)}
    on_console = {name for name, labels in clients.items() if _admitted(policies, server, 9001, labels)}
    blocks = _ip_blocks(policies, server)
    if inventory == "laptop":
        assert on_api == {"user pod", "model API", "Airflow worker"}, on_api
        assert on_console == set(), on_console
        # published on 127.0.0.1 only; the pod network k3d creates is not an outside client
        assert blocks == [{"cidr": "0.0.0.0/0", "except": ["10.42.0.0/16"]}]
    else:
        assert on_api == {"user pod", "model API", "Airflow worker", "ingress controller"}, on_api
        assert on_console == {"ingress controller"}, on_console
        # the controller comes in through the ingress (workbench_object_store_url is https://s3.<host>)
        assert _resolved(rendered, "object_store_endpoint_url").startswith("https://s3.")
        assert blocks == [], blocks


@pytest.mark.parametrize("inventory", LAB)
def test_no_laptop_only_address_or_name_leaks_into_a_lab_target(targets, inventory):
    rendered = targets[inventory]
    leaks = [(where, match.group(0)) for where, text in rendered["texts"] for match in LAPTOP_ONLY.finditer(text)]
    for role, variables in rendered["vars"].items():
        leaks += [("%s (resolved)" % name, LAPTOP_ONLY.search(json.dumps(value)).group(0))
                  for name, value in variables.items() if LAPTOP_ONLY.search(json.dumps(value))]
    assert not leaks, leaks


@pytest.mark.parametrize("inventory", K3S)
def test_postgres_runs_on_the_node_the_controller_connects_to(targets, inventory):
    rendered = targets[inventory]
    docs = [d for docs in rendered["roles"]["postgres"].values() for d in docs]
    statefulset = _find(docs, "StatefulSet", "postgres")
    service = _find(docs, "Service", "postgres")
    # Local: the NodePort keeps the controller's address (Cluster NATs it to a node address)
    assert service["spec"]["type"] == "NodePort" and service["spec"]["externalTrafficPolicy"] == "Local"
    selector = statefulset["spec"]["template"]["spec"]["nodeSelector"]
    labelled = [node for node, files in rendered["nodes"].items()
                if all("%s=%s" % item in files["config.yaml"].get("node-label", []) for item in selector.items())]
    hosts = yaml.safe_load((ROOT / "inventories" / inventory / "hosts.yml").read_text())
    servers = hosts["all"]["children"]["k3s_cluster"]["children"]["k3s_servers"]["hosts"]
    first = next(iter(servers))
    assert labelled == [first], labelled
    assert _resolved(rendered, "users_postgres_host") == servers[first]["ansible_host"]


def _included_roles(tasks):
    for task in tasks or []:
        for key in ("ansible.builtin.include_role", "ansible.builtin.import_role"):
            if key in task:
                yield task[key]["name"].split(".")[-1], task[key].get("tasks_from", "main")
        for block in ("block", "rescue", "always"):
            yield from _included_roles(task.get(block))


@pytest.mark.parametrize("playbook", sorted(p.name for p in (ROOT / "playbooks").glob("*.yml")))
def test_the_image_is_named_before_any_role_that_uses_it(playbook):
    """jupyterhub and airgap read notebook_image_reference: a play includes notebook_image first."""
    for play in yaml.safe_load((ROOT / "playbooks" / playbook).read_text()):
        order = [(r if isinstance(r, str) else r["role"]).split(".")[-1] for r in play.get("roles", [])]
        order = [(name, "main") for name in order] + list(_included_roles(play.get("tasks")))
        for index, (role, tasks_from) in enumerate(order):
            if role == "jupyterhub" or (role == "airgap" and tasks_from in ("main", "bundle.yml")):
                assert ("notebook_image" in [r for r, _ in order[:index]]), (playbook, play["name"], role)


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_the_gpu_profile_is_offered_where_the_inventory_marks_a_gpu_host(targets, inventory):
    rendered = targets[inventory]
    slugs = [p["slug"] for p in rendered["values"]["singleuser"]["profileList"]]
    gpu_nodes = [node for node, files in rendered["nodes"].items()
                 if "workbench.enertef.io/gpu=true" in files["config.yaml"].get("node-label", [])]
    assert ("gpu" in slugs) == bool(gpu_nodes), (slugs, gpu_nodes)
    if gpu_nodes:
        profile = next(p for p in rendered["values"]["singleuser"]["profileList"] if p["slug"] == "gpu")
        assert profile["kubespawner_override"]["node_selector"] == {"workbench.enertef.io/gpu": "true"}
