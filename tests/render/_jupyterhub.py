"""The jupyterhub role's values, the z2jh chart rendered with them, and the hub built from that rendering.

* ``template_values(overrides)``: the role's values template rendered by Ansible's
  own Templar (tests/render/_render.py), as a dict.
* ``role_values(tmp_path, extra_vars)``: the role itself (tasks_from render.yml:
  variable checks, template, schema check) run by ansible-playbook.
* ``helm_template(values, tmp_path)``: ``helm template`` of the pinned z2jh chart
  (tests/tools/hub_chart.py: ../shared/charts/jupyterhub as an offline cache, or downloaded
  and its digest checked; without either the test says in one line what it needs).
* ``hub_config(docs, tmp_path)``: the hub pod's configuration, built the way the hub
  pod builds it: the rendered hub ConfigMap and Secret are laid out as the hub
  Deployment mounts them, and the chart's own jupyterhub_config.py is executed
  (with its z2jh.py pointed at that directory instead of /usr/local/etc/jupyterhub).
"""
import base64
import os
import pathlib
import secrets
import subprocess
import sys

import yaml
from traitlets.config import Config

from _render import ROOT, render_template
from fixtures.external import unavailable
from fixtures.kubernetes import KUBERNETES_VERSION
from fixtures.playbook import run_playbook
from tools.hub_chart import ChartUnavailable, hub_chart

ROLE = ROOT / "roles" / "jupyterhub"
HELM = pathlib.Path(sys.executable).parent / "helm"
HUB_CONFIG_DIR = "/usr/local/etc/jupyterhub"
NAMESPACE = "workbench"
RELEASE = "jupyterhub"

# Generated per test run: no credential is written in the repository.
CREDENTIALS = {
    "hub_cookie_secret": secrets.token_hex(32),
    "hub_proxy_token": secrets.token_hex(32),
}
USERS = [{"name": "alice"}, {"name": "bob", "state": "absent"}, {"name": "carol", "state": "present"}]
ADMINS = ["dora"]
BASE_VARS = {
    "secrets_credentials": CREDENTIALS,
    "workbench_users": USERS,
    "workbench_admins": ADMINS,
    "workbench_namespace": NAMESPACE,
    # set by the notebook_image role (its content tag) before the hub role runs
    "notebook_image_reference": {"name": "k3d-workbench-registry.localhost:5001/workbench-notebook",
                                 "tag": "mlflow3.17.2-0123456789ab"},
}


def template_values(overrides=None):
    """The role's values template rendered with Ansible's Templar, over BASE_VARS and ``overrides``."""
    variables = dict(BASE_VARS, role_path=str(ROLE))
    variables.update(overrides or {})
    return yaml.safe_load(render_template("jupyterhub", "helm/values.yaml.j2", variables))


RENDER_PLAYBOOK = """
- name: Render the hub values with the jupyterhub role
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Check the variables, render the values, check them against the chart schema
      ansible.builtin.include_role:
        name: enertef.workbench.jupyterhub
        tasks_from: render.yml
    - name: Write the values where the test reads them
      ansible.builtin.copy:
        content: "{{ jupyterhub_values | to_nice_yaml }}"
        dest: "{{ values_file }}"
        mode: "0600"
"""


def role_values(tmp_path, extra_vars=None):
    """Run the role up to (not including) the install; return (PlayResult, values or None)."""
    values_file = pathlib.Path(tmp_path) / "values.yaml"
    variables = dict(BASE_VARS, values_file=str(values_file))
    variables.update(extra_vars or {})
    result = run_playbook(RENDER_PLAYBOOK, tmp_path, extra_vars=variables)
    values = yaml.safe_load(values_file.read_text()) if values_file.exists() else None
    return result, values


def helm_template(values, tmp_path):
    """The chart's manifests for ``values``, as a list of documents."""
    values_file = pathlib.Path(tmp_path) / "helm-values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    try:
        chart = hub_chart()
    except ChartUnavailable as err:
        unavailable(str(err))
    proc = subprocess.run(
        [str(HELM), "template", RELEASE, str(chart), "--namespace", NAMESPACE,
         "--kube-version", KUBERNETES_VERSION, "--values", str(values_file)],
        capture_output=True, text=True, check=False, timeout=120)
    if proc.returncode != 0:
        raise AssertionError("helm template failed: %s" % proc.stderr)
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def find(docs, kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, "expected one %s %s" % (kind, name)
    return found[0]


def lay_out_hub_mounts(docs, directory):
    """Write the hub ConfigMap and Secret where the hub Deployment mounts them (under ``directory``)."""
    directory = pathlib.Path(directory)
    deployment = find(docs, "Deployment", "hub")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    secret = find(docs, "Secret", "hub")
    sources = {
        "configMap": find(docs, "ConfigMap", "hub")["data"],
        # What the API server stores: data decoded, stringData merged in.
        "secret": dict({key: base64.b64decode(value).decode() for key, value in secret["data"].items()},
                       **secret.get("stringData", {})),
    }
    for mount in container["volumeMounts"]:
        if not mount["mountPath"].startswith(HUB_CONFIG_DIR):
            continue
        volume = volumes[mount["name"]]
        kind = "configMap" if "configMap" in volume else "secret" if "secret" in volume else None
        if kind is None:
            continue
        data = sources[kind]
        target = directory / os.path.relpath(mount["mountPath"], HUB_CONFIG_DIR)
        if "subPath" in mount:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(data[mount["subPath"]])
        else:
            target.mkdir(parents=True, exist_ok=True)
            for key, value in data.items():
                (target / key).write_text(value)
    return directory


HUB_MODULES = ("z2jh", "workbench_hub", "workbench_tenant", "workbench_login")
# Where the hub Deployment mounts the Secret workbench-hub-logins.
LOGINS_MOUNT = "/etc/workbench/logins"


def prepare_hub_directory(docs, tmp_path, logins_dir=None):
    """The hub pod's /usr/local/etc/jupyterhub, laid out under ``tmp_path``/hub from the rendered chart.

    The only changes: z2jh.py reads its mounts from this directory instead of
    /usr/local/etc/jupyterhub (that path is where the hub pod mounts them), and
    the logins Secret's mount path is ``logins_dir`` when given.
    """
    directory = lay_out_hub_mounts(docs, pathlib.Path(tmp_path) / "hub")
    z2jh = directory / "z2jh.py"
    z2jh.write_text(z2jh.read_text().replace(HUB_CONFIG_DIR, str(directory)))
    if logins_dir:
        values = directory / "secret" / "values.yaml"  # hub.config lives in the hub Secret
        values.write_text(values.read_text().replace(LOGINS_MOUNT, str(logins_dir)))
    return directory


def hub_config(docs, tmp_path, logins_dir=None):
    """The traitlets Config the hub pod would load from the rendered chart.

    Runs the chart's jupyterhub_config.py (which runs our hub.extraConfig) in
    the directory prepare_hub_directory() lays out.
    """
    directory = prepare_hub_directory(docs, tmp_path, logins_dir)
    for name in HUB_MODULES:
        sys.modules.pop(name, None)
    config = Config()
    environ = dict(os.environ)
    # Set by Kubernetes in the hub pod (Service environment variables, downward API).
    os.environ.update({"PROXY_API_SERVICE_PORT": "8001", "HUB_SERVICE_PORT": "8081",
                       "POD_NAMESPACE": NAMESPACE})
    path = list(sys.path)
    try:
        source = (directory / "jupyterhub_config.py").read_text()
        code = compile(source, str(directory / "jupyterhub_config.py"), "exec")
        exec(code, {"get_config": lambda: config, "__file__": str(directory / "jupyterhub_config.py"),
                    "__name__": "jupyterhub_config"})
    finally:
        os.environ.clear()
        os.environ.update(environ)
        sys.path[:] = path
    return config, directory


def shipped_files(values):
    """{file name: content} of the hub's extraFiles."""
    return {pathlib.PurePosixPath(spec["mountPath"]).name: spec["stringData"]
            for spec in values["hub"]["extraFiles"].values()}
