"""The NVIDIA device plugin the k3s branch applies: valid for Kubernetes 1.35, on GPU nodes only."""
import copy

import pytest
import yaml

from _render import render_template, role_defaults

pytestmark = pytest.mark.render


def test_device_plugin_is_valid_and_runs_only_on_gpu_nodes(k8s_validate):
    docs = [d for d in yaml.safe_load_all(render_template("k3s_server", "nvidia-device-plugin.yaml.j2", {})) if d]
    assert k8s_validate(docs) == []
    daemonset = next(d for d in docs if d["kind"] == "DaemonSet")
    label = role_defaults("k3s_server")["k3s_server_gpu_label"]
    assert daemonset["spec"]["template"]["spec"]["nodeSelector"] == {label: "true"}
    runtime_class = next(d for d in docs if d["kind"] == "RuntimeClass")
    assert runtime_class["handler"] == "nvidia"
    broken = copy.deepcopy(daemonset)
    broken["spec"]["template"]["spec"]["nodeSelektor"] = broken["spec"]["template"]["spec"].pop("nodeSelector")
    assert k8s_validate([broken]) != []
