"""Every image the workbench runs is pinned by digest, or built by us and named by its content.

Rendered: the service roles, model serving, the NVIDIA device plugin and the hub
chart (helm template with the role's values). Where no digest could be verified
from published data (pgAdmin 9.19, the chart's hub and proxy images) the digest is
a required variable: the test gives one (generated per run), and the roles refuse
to run without it, before anything changes.
"""
import re
import secrets

import pytest
import yaml

from _jupyterhub import helm_template, template_values
from _pod_security import workload_pod_specs
from _render import all_documents, render_role, render_role_isolated, render_template
from fixtures.playbook import run_playbook

pytestmark = pytest.mark.render

DIGEST = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$")
# Ours: built by the roles, tagged by the hash of what they are built from.
CONTENT_TAGGED = re.compile(r"^[a-z0-9.-]+(:[0-9]+)?/workbench-(notebook|model-serving):mlflow[0-9.]+-[0-9a-f]{12}$")


def given_digest():
    return "sha256:" + secrets.token_hex(32)


def images(docs):
    found = {}
    for name, spec in workload_pod_specs(docs).items():
        for kind in ("initContainers", "containers"):
            for container in spec.get(kind) or []:
                found["%s/%s" % (name, container["name"])] = container["image"]
    return found


def unpinned(found):
    return {where: image for where, image in found.items()
            if not DIGEST.match(image) and not CONTENT_TAGGED.match(image)}


def test_every_role_image_is_pinned_by_digest_or_content():
    docs = all_documents(render_role("postgres")) + all_documents(render_role("object_store"))
    docs += all_documents(render_role("pgadmin", {"pgadmin_image_digest": given_digest()}))
    docs += render_role_isolated("model_serving", {"model_serving_tenant": "alice", "model_serving_model_name": "iris",
                                                   "model_serving_model_version": "1"})
    docs += [d for d in yaml.safe_load_all(render_template("k3s_server", "nvidia-device-plugin.yaml.j2", {})) if d]
    found = images(docs)
    assert len(found) >= 6, found
    assert unpinned(found) == {}
    assert any(CONTENT_TAGGED.match(image) for image in found.values()), "the model-serving image"


def test_hub_chart_images_are_pinned_by_digest(tmp_path):
    hub, proxy = given_digest(), given_digest()
    values = template_values({"jupyterhub_hub_image_digest": hub, "jupyterhub_proxy_image_digest": proxy,
                              "jupyterhub_singleuser_image_tag": "mlflow3.17.2-0123456789ab"})
    found = images(helm_template(values, tmp_path))
    assert found["Deployment/hub/hub"] == "quay.io/jupyterhub/k8s-hub:4.4.0@" + hub
    assert found["Deployment/proxy/chp"] == "quay.io/jupyterhub/configurable-http-proxy:5.2.0@" + proxy
    assert unpinned(found) == {}
    assert CONTENT_TAGGED.match("%s:%s" % (values["singleuser"]["image"]["name"], values["singleuser"]["image"]["tag"]))


def test_the_checker_sees_a_tag_without_digest():
    assert unpinned({"a": "docker.io/dpage/pgadmin4:9.19", "b": "docker.io/library/postgres:17.6@sha256:abc",
                     "c": "localhost:5001/workbench-model-serving:latest"}) == {
        "a": "docker.io/dpage/pgadmin4:9.19", "b": "docker.io/library/postgres:17.6@sha256:abc",
        "c": "localhost:5001/workbench-model-serving:latest"}


PGADMIN = """
- hosts: localhost
  gather_facts: false
  roles:
    - enertef.workbench.pgadmin
"""
HUB_INSTALL = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: enertef.workbench.jupyterhub
        tasks_from: install.yml
"""


def test_pgadmin_refuses_to_run_without_its_digest_on_a_lab(tmp_path):
    result = run_playbook(PGADMIN, tmp_path, extra_vars={"workbench_state_dir": str(tmp_path),
                                                         "workbench_cluster": "k3s"})
    assert result.rc != 0 and result.changed == 0
    assert any("pgadmin_image_digest is required" in m for m in result.failure_messages), result


def test_pgadmin_on_the_laptop_does_not_stop_for_the_digest(tmp_path):
    result = run_playbook(PGADMIN, tmp_path, extra_vars={"workbench_state_dir": str(tmp_path)})
    assert not any("pgadmin_image_digest" in m for m in result.failure_messages), result


def test_hub_install_refuses_chart_images_without_digests_on_a_lab(tmp_path):
    result = run_playbook(HUB_INSTALL, tmp_path, extra_vars={"jupyterhub_values": {}, "workbench_cluster": "k3s"})
    assert result.rc != 0 and result.changed == 0
    assert any("jupyterhub_hub_image_digest and jupyterhub_proxy_image_digest must be set" in m
               for m in result.failure_messages), result


def test_hub_install_on_the_laptop_warns_and_goes_on(tmp_path):
    result = run_playbook(HUB_INSTALL, tmp_path, extra_vars={"jupyterhub_values": {}})
    assert not any("must be set" in m for m in result.failure_messages), result
    warned = [r for name, _, r in result.task_results() if name.endswith("Warn that the laptop runs the chart images by tag")]
    assert warned and "not set: the hub runs the chart's images by tag" in warned[0]["msg"], result
