"""The test cluster itself: what the workbench's rollout takes for granted of a cluster.

Real components (tests/cluster/README.md): these tests fail if DNS, the default
StorageClass, NetworkPolicy enforcement or the pinned Kubernetes minor is not there.
"""
import json
import socket
import ssl
import time

import pytest

from cluster import build

pytestmark = [pytest.mark.cluster]

BUSYBOX = "docker.io/library/busybox:1.35"


def pod(name, command, labels=None, volumes=None, mounts=None):
    spec = {"containers": [{"name": "main", "image": BUSYBOX, "command": command,
                            "volumeMounts": mounts or []}],
            "volumes": volumes or [], "terminationGracePeriodSeconds": 0}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def apply_in(kube, namespace, *manifests):
    kube.kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                                          "items": list(manifests)}))


@pytest.fixture
def namespace(test_cluster):
    name = test_cluster.namespace("cluster")
    yield name
    test_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_node_runs_the_pinned_kubernetes_minor(test_cluster):
    nodes = test_cluster.get("nodes")["items"]
    assert len(nodes) == 1
    info = nodes[0]["status"]["nodeInfo"]
    assert info["kubeletVersion"] == build.KUBERNETES_VERSION
    assert info["containerRuntimeVersion"].startswith("containerd://")
    version = json.loads(test_cluster.kubectl("version", "-o", "json").stdout)["serverVersion"]
    assert version["gitVersion"] == build.KUBERNETES_VERSION


def test_cluster_dns_resolves_services_and_the_outside_name_server(test_cluster, namespace):
    apply_in(test_cluster, namespace, pod("dns", ["sleep", "3600"]))
    test_cluster.wait_pod_ready(namespace, "dns")
    answer = test_cluster.exec(namespace, "dns", "nslookup", "kubernetes.default.svc.cluster.local")
    assert "10.43.0.1" in answer.stdout, answer.stdout + answer.stderr
    short = test_cluster.exec(namespace, "dns", "nslookup", "kube-dns.kube-system")
    assert "10.43.0.10" in short.stdout, short.stdout + short.stderr
    missing = test_cluster.exec(namespace, "dns", "nslookup", "no-such-service.default.svc.cluster.local")
    assert missing.returncode != 0


def test_default_storage_class_provisions_a_volume_that_keeps_data(test_cluster, namespace):
    classes = test_cluster.get("storageclass")["items"]
    defaults = [c["metadata"]["name"] for c in classes
                if c["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class") == "true"]
    assert defaults == ["local-path"]
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}}
    volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    mounts = [{"name": "data", "mountPath": "/data"}]
    apply_in(test_cluster, namespace, claim, pod("writer", ["sh", "-c", "echo kept > /data/f; sleep 3600"],
                                                 volumes=volumes, mounts=mounts))
    test_cluster.wait_pod_ready(namespace, "writer")
    bound = test_cluster.get("-n", namespace, "pvc", "data")
    assert bound["status"]["phase"] == "Bound"
    assert bound["spec"]["storageClassName"] == "local-path"
    test_cluster.kubectl("-n", namespace, "delete", "pod", "writer", "--wait=true")
    apply_in(test_cluster, namespace, pod("reader", ["sleep", "3600"], volumes=volumes, mounts=mounts))
    test_cluster.wait_pod_ready(namespace, "reader")
    assert test_cluster.exec(namespace, "reader", "cat", "/data/f").stdout.strip() == "kept"


def _can_connect(kube, namespace, client, address, attempts=1):
    # busybox nc, not wget: Debian's busybox-static wget crashes (SIGSEGV) on this machine.
    request = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {address} 8080"
    for _ in range(attempts):
        result = kube.exec(namespace, client, "sh", "-c", request)
        if "hello" in result.stdout:
            return True
        time.sleep(1)
    return False


def test_network_policies_are_enforced_between_pods(test_cluster, namespace):
    server = pod("server", ["sh", "-c", "mkdir -p /www && echo hello > /www/index.html && httpd -f -p 8080 -h /www"],
                 labels={"app": "server"})
    apply_in(test_cluster, namespace, server, pod("friend", ["sleep", "3600"], labels={"role": "friend"}),
             pod("stranger", ["sleep", "3600"], labels={"role": "stranger"}))
    for name in ("server", "friend", "stranger"):
        test_cluster.wait_pod_ready(namespace, name)
    address = test_cluster.get("-n", namespace, "pod", "server")["status"]["podIP"]
    assert _can_connect(test_cluster, namespace, "stranger", address, attempts=10), "no policy yet: must connect"
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "only-friends"},
              "spec": {"podSelector": {"matchLabels": {"app": "server"}}, "policyTypes": ["Ingress"],
                       "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "friend"}}}],
                                    "ports": [{"port": 8080}]}]}}
    apply_in(test_cluster, namespace, policy)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _can_connect(test_cluster, namespace, "stranger", address):
        time.sleep(1)
    assert not _can_connect(test_cluster, namespace, "stranger", address), "the policy must stop the stranger"
    assert _can_connect(test_cluster, namespace, "friend", address, attempts=5), "the policy must admit the friend"


def test_ingress_controller_serves_an_ingress_with_its_tls_secret(test_cluster, namespace, tmp_path):
    from cluster import pki  # noqa: PLC0415 - the test cluster's own certificate helper

    host = f"{namespace}.ingress.test"
    pki.make_pki(tmp_path, host, test_cluster.node_ip, "10.43.0.1")  # a CA and a serving cert naming host
    test_cluster.kubectl("-n", namespace, "create", "secret", "tls", "site-tls",
                         f"--cert={tmp_path / 'kubelet-serving.crt'}", f"--key={tmp_path / 'kubelet-serving.key'}")
    server = pod("site", ["sh", "-c", "mkdir -p /www && echo hello > /www/index.html && httpd -f -p 8080 -h /www"],
                 labels={"app": "site"})
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "site"},
               "spec": {"selector": {"app": "site"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "site"},
               "spec": {"tls": [{"hosts": [host], "secretName": "site-tls"}],
                        "rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
                            "service": {"name": "site", "port": {"number": 80}}}}]}}]}}
    apply_in(test_cluster, namespace, server, service, ingress)
    test_cluster.wait_pod_ready(namespace, "site")
    context = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    body, deadline = None, time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((test_cluster.node_ip, 443), timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname=host) as tls:
                    tls.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
                    body = tls.recv(4096).decode(errors="replace")
            if "hello" in body:
                break
        except OSError as error:
            body = repr(error)
        time.sleep(1)
    assert "hello" in body, body  # the certificate verified against the CA of the Secret: no other
