"""The test cluster: a one-node Kubernetes built here, started and stopped by the tests.

What runs (every binary from tests/cluster/build.py, every image from this machine):
  on the host   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
                kube-proxy (iptables), containerd + runc (Debian) with the CNI bridge plugin
                (Debian's containernetworking-plugins), dockerd (Debian: the controller's
                Docker that the notebook_image role builds with) and a registry (CNCF
                distribution: the lab's mirror for docker.io/quay.io/registry.k8s.io)
                and kube-router's NetworkPolicy controller (iptables + ipset, as k3s embeds it)
  in pods       CoreDNS, local-path-provisioner (the default StorageClass "local-path") and
                Traefik (the default IngressClass "traefik", on the node's 80/443), as in k3s

    python tests/cluster up        start (build what the cache lacks); prints the kubeconfig path
    python tests/cluster down      stop: no process, mount, netns, interface or rule left
    python tests/cluster status    which processes run
    python tests/cluster build     build (or find in the cache) every binary

It needs root (kubelet, containerd and iptables do), and says in one line what is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import shlex
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from . import build, pki

HERE = Path(__file__).resolve().parent
STATE = Path(os.environ.get("WORKBENCH_TEST_CLUSTER_DIR", "/var/lib/enertef-test-cluster"))
RUN = Path(os.environ.get("WORKBENCH_TEST_CLUSTER_RUN", "/run/enertef-test-cluster"))
POD_CIDR = "10.42.0.0/16"
NODE_POD_CIDR = "10.42.0.0/24"
SERVICE_CIDR = "10.43.0.0/16"
API_SERVICE_IP = "10.43.0.1"
DNS_SERVICE_IP = "10.43.0.10"
API_PORT = 6443
REGISTRY = "127.0.0.1:5000"
BRIDGE = "wbtest0"
# The bridge of the cluster's dockerd (image builds): its own, so another Docker on the machine is untouched.
DOCKER_BRIDGE = "wbdocker0"
DOCKER_BRIDGE_ADDRESS = "172.31.254.1/24"
FORWARD_CHAIN = "WORKBENCH-TEST-FORWARD"
# Registries whose images the cluster takes from the local mirror, as an offline lab's nodes do.
MIRRORED = ("docker.io", "quay.io", "registry.k8s.io", "ghcr.io", "nvcr.io", REGISTRY)
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
PROCESSES = ("registry", "dockerd", "etcd", "containerd", "kube-apiserver", "kube-controller-manager",
             "kube-scheduler", "kubelet", "kube-proxy", "kube-router")
HOST_COMMANDS = ("containerd", "runc", "dockerd", "docker", "iptables", "ipset", "nft", "ip", "mount", "umount", "gcc")


_BINARIES: dict[str, Path] = {}


def binary(name: str) -> Path:
    """A built binary's path (building what the cache lacks, once per process)."""
    if not _BINARIES:
        _BINARIES.update(build.build_all(log))
    return _BINARIES[name]


def log(message: str) -> None:
    print(f"test cluster: {message}", file=sys.stderr, flush=True)


def node_ip() -> str:
    """The address the node (and its NodePorts) answers on: the source of the default route."""
    route = subprocess.run(["ip", "-4", "-o", "route", "get", "192.0.2.200"], capture_output=True, text=True).stdout
    words = route.split()
    return words[words.index("src") + 1] if "src" in words else "127.0.0.1"


def node_name() -> str:
    return socket.gethostname().lower()


class Paths:
    def __init__(self):
        self.pki = STATE / "pki"
        self.etcd = STATE / "etcd"
        self.kubelet = STATE / "kubelet"
        self.containerd_root = STATE / "containerd"
        self.containerd_state = RUN / "containerd"
        self.containerd_sock = RUN / "containerd.sock"
        self.cni_conf = STATE / "cni"
        self.storage = STATE / "storage"
        self.logs = STATE / "logs"
        self.config = STATE / "config"
        self.pids = RUN / "pids"
        self.kubeconfig = STATE / "admin.kubeconfig"
        # Kept between runs (cache): built images and the registry's blobs.
        self.docker_root = build.cache_dir() / "docker"
        self.registry_root = Path(os.environ.get("WORKBENCH_TEST_REGISTRY_ROOT") or build.cache_dir() / "registry")
        self.docker_sock = RUN / "docker.sock"


P = Paths()


def missing_requirements() -> str | None:
    """One line naming what this machine lacks to run the cluster, or None."""
    if os.geteuid() != 0:
        return "the test cluster needs root (kubelet, containerd, iptables)"
    missing = [c for c in HOST_COMMANDS if not shutil.which(c)]
    if not shutil.which("go"):
        missing.append("go")
    if not Path("/usr/lib/cni/bridge").exists():
        missing.append("/usr/lib/cni/bridge (containernetworking-plugins)")
    if missing:
        return f"the test cluster needs {', '.join(missing)} (tests/tools/apt-install.sh installs them)"
    if not Path("/sys/fs/cgroup/memory").exists() and not Path("/sys/fs/cgroup/cgroup.controllers").exists():
        return "the test cluster needs cgroups (neither /sys/fs/cgroup/memory nor cgroup v2 is mounted)"
    return None


# ---- processes ------------------------------------------------------------------------------

def start(name: str, argv: list[str], env: dict | None = None) -> None:
    P.logs.mkdir(parents=True, exist_ok=True)
    P.pids.mkdir(parents=True, exist_ok=True)
    with open(P.logs / f"{name}.log", "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=dict(os.environ, **(env or {})), start_new_session=True)
    (P.pids / name).write_text(str(proc.pid))


def running(name: str) -> bool:
    try:
        pid = int((P.pids / name).read_text())
        os.kill(pid, 0)
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def stop(name: str, timeout: float = 20) -> None:
    try:
        pid = int((P.pids / name).read_text())
    except (FileNotFoundError, ValueError):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                break
        except ChildProcessError:
            pass
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    (P.pids / name).unlink(missing_ok=True)


def tail(name: str, lines: int = 15) -> str:
    try:
        return "\n".join((P.logs / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def wait_for(what: str, check, timeout: float, process: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if process and not running(process):
            raise RuntimeError(f"{process} exited while waiting for {what}:\n{tail(process)}")
        try:
            if check():
                return
        except Exception as error:  # noqa: BLE001 - any failure here means "not yet"
            last = error
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what} ({last})"
                       + (f":\n{tail(process)}" if process else ""))


def https_ok(url: str, cert: str = "admin") -> bool:
    context = ssl.create_default_context(cafile=str(P.pki / "ca.crt"))
    context.load_cert_chain(P.pki / f"{cert}.crt", P.pki / f"{cert}.key")
    with urllib.request.urlopen(url, context=context, timeout=5) as response:
        return response.status == 200


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status == 200


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        return s.connect_ex((host, port)) != 0


def kubectl(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary("kubectl")), "--kubeconfig", str(P.kubeconfig), *args],
                          input=input, capture_output=True, text=True, check=check)


# ---- configuration -------------------------------------------------------------------------

def write_configs(ip: str, name: str) -> None:
    P.config.mkdir(parents=True, exist_ok=True)
    server = f"https://127.0.0.1:{API_PORT}"
    for user in ("admin", "controller-manager", "scheduler", "kube-proxy", "kubelet"):
        path = P.kubeconfig if user == "admin" else P.config / f"{user}.kubeconfig"
        path.write_text(pki.kubeconfig(P.pki, server, user))
        path.chmod(0o600)
    certs = P.config / "certs.d"
    for registry in MIRRORED:
        folder = certs / registry
        folder.mkdir(parents=True, exist_ok=True)
        upstream = f"http://{registry}" if registry == REGISTRY else f"https://{registry}"
        (folder / "hosts.toml").write_text(
            f'server = "{upstream}"\n\n[host."http://{REGISTRY}"]\n  capabilities = ["pull", "resolve"]\n')
    (P.config / "containerd.toml").write_text(f"""version = 2
root = "{P.containerd_root}"
state = "{P.containerd_state}"
[grpc]
  address = "{P.containerd_sock}"
[ttrpc]
  address = "{P.containerd_sock}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{STATE / 'containerd-opt'}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  enable_unprivileged_ports = true
  # This machine's root lacks CAP_SYS_RESOURCE: the kubelet's -998 for sandboxes cannot be set.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "{RUN / 'runc'}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{P.cni_conf}"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{certs}"
""")
    P.cni_conf.mkdir(parents=True, exist_ok=True)
    (P.cni_conf / "10-workbench-test.conflist").write_text(json.dumps({
        "cniVersion": "1.0.0", "name": "workbench-test",
        "plugins": [
            {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": True, "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": NODE_POD_CIDR}]],
                      "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(STATE / "cni-ipam")}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ]}, indent=2))
    (P.config / "kubelet.yaml").write_text(f"""apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine offers cgroup v1 only; 1.35 refuses it unless told (KEP-5573).
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://{P.containerd_sock}
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: true}}
  x509: {{clientCAFile: {P.pki / 'ca.crt'}}}
authorization: {{mode: Webhook}}
tlsCertFile: {P.pki / 'kubelet-serving.crt'}
tlsPrivateKeyFile: {P.pki / 'kubelet-serving.key'}
clusterDNS: [{DNS_SERVICE_IP}]
clusterDomain: cluster.local
failSwapOn: false
serializeImagePulls: false
# A test machine's disk may be nearly full of caches: never evict for it.
evictionHard: {{memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
maxPods: 110
podPidsLimit: 4096
""")
    (P.config / "kube-proxy.yaml").write_text(f"""apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: {POD_CIDR}
hostnameOverride: {name}
bindAddress: {ip}
clientConnection: {{kubeconfig: {P.config / 'kube-proxy.kubeconfig'}}}
conntrack: {{maxPerCore: 0}}
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
nodePortAddresses: [primary]
""")


# ---- network and cleanup -------------------------------------------------------------------

def iptables(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(["iptables", "-w", *args], capture_output=True, text=True, check=check)


def open_forwarding() -> None:
    """Docker sets FORWARD's policy to DROP: let the pod network through (our own chain, removed on down)."""
    iptables("-N", FORWARD_CHAIN)
    iptables("-F", FORWARD_CHAIN)
    iptables("-A", FORWARD_CHAIN, "-s", POD_CIDR, "-j", "ACCEPT")
    iptables("-A", FORWARD_CHAIN, "-d", POD_CIDR, "-j", "ACCEPT")
    if iptables("-C", "FORWARD", "-j", FORWARD_CHAIN).returncode:
        iptables("-I", "FORWARD", "1", "-j", FORWARD_CHAIN, check=True)
    Path("/proc/sys/net/ipv4/ip_forward").write_text("1")
    if shutil.which("modprobe"):  # built in on kernels without modules
        subprocess.run(["modprobe", "br_netfilter"], capture_output=True)
    bridge_nf = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")
    if bridge_nf.exists():
        bridge_nf.write_text("1")


def remove_chains(table: str, prefixes: tuple[str, ...]) -> None:
    listing = iptables("-t", table, "-S").stdout.splitlines()
    chains = [line.split()[1] for line in listing if line.startswith("-N ") and line.split()[1].startswith(prefixes)]
    for line in listing:  # rules in other chains that jump to ours (comments are quoted: shlex)
        words = shlex.split(line)
        if line.startswith("-A ") and "-j" in words and words[words.index("-j") + 1] in chains \
                and not words[1].startswith(prefixes):
            iptables("-t", table, "-D", *words[1:])
    for chain in chains:
        iptables("-t", table, "-F", chain)
    for chain in chains:
        iptables("-t", table, "-X", chain)


def ipsets() -> list[str]:
    """kube-router's ipsets (KUBE-*, and inet6:KUBE-* for IPv6)."""
    names = subprocess.run(["ipset", "list", "-n"], capture_output=True, text=True).stdout.split()
    return [name for name in names if name.split(":")[-1].startswith("KUBE-")]


def processes():
    """(pid, command line) of every process on this machine."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            yield int(proc.name), (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # ended meanwhile
            continue


def our_mounts() -> list[str]:
    """Mount points under the cluster's folders and the pods' network namespaces."""
    targets = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    return [t for t in targets if t.startswith((str(STATE), str(RUN), "/run/netns/cni-"))]


def leftovers() -> list[str]:
    """What a stopped cluster must not leave: processes, mounts, netns, the bridge, rules."""
    found = []
    markers = (str(STATE), str(RUN), str(build.cache_dir() / "bin"))
    found += [f"process {pid}: {cmdline[:120]}" for pid, cmdline in processes()
              if any(marker in cmdline for marker in markers)]
    found += [f"mount {target}" for target in our_mounts()]
    found += [f"network namespace {netns}" for netns in Path("/run/netns").glob("cni-*")]
    found += [f"interface {name}" for name in (BRIDGE, DOCKER_BRIDGE) if Path(f"/sys/class/net/{name}").exists()]
    for table in ("filter", "nat", "mangle"):
        for line in iptables("-t", table, "-S").stdout.splitlines():
            if any(name in line for name in ("KUBE-", "CNI-", FORWARD_CHAIN)):
                found.append(f"iptables -t {table}: {line}")
                break
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    found += [f"nft {line}" for line in tables.splitlines() if "kube-proxy" in line]
    found += [f"ipset {name}" for name in ipsets()]
    for cgroup in Path("/sys/fs/cgroup").glob("*/kubepods"):
        found.append(f"cgroup {cgroup}")
    return found


def make_docker_bridge() -> None:
    if not Path(f"/sys/class/net/{DOCKER_BRIDGE}").exists():
        subprocess.run(["ip", "link", "add", DOCKER_BRIDGE, "type", "bridge"], check=True)
        subprocess.run(["ip", "addr", "add", DOCKER_BRIDGE_ADDRESS, "dev", DOCKER_BRIDGE], check=True)
    subprocess.run(["ip", "link", "set", DOCKER_BRIDGE, "up"], check=True)


def other_docker_running() -> bool:
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "comm").read_text().strip() == "dockerd":
                return True
        except OSError:
            continue
    return False


def remove_docker_network() -> None:
    """The cluster dockerd's rules and bridge; Docker's own chains too when no other dockerd runs."""
    for table in ("filter", "nat"):
        for line in iptables("-t", table, "-S").stdout.splitlines():
            if line.startswith("-A ") and DOCKER_BRIDGE in line.split():
                iptables("-t", table, "-D", *shlex.split(line)[1:])
    if not other_docker_running():
        for table in ("filter", "nat"):
            remove_chains(table, ("DOCKER",))
    subprocess.run(["ip", "link", "delete", DOCKER_BRIDGE], capture_output=True)


def kill_cgroup_tree(root: Path) -> None:
    """Kills every process in a cgroup tree, then removes its folders (they vanish as runc cleans up)."""
    def pids() -> list[int]:
        found = []
        for procs in root.rglob("cgroup.procs"):
            try:
                found += [int(pid) for pid in procs.read_text().split()]
            except OSError:  # removed meanwhile
                pass
        return found

    for _ in range(20):
        alive = pids()
        if not alive:
            break
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.3)
    folders = []
    try:
        folders = [p for p in root.rglob("*") if p.is_dir()]
    except OSError:
        pass
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True) + [root]:
        try:
            folder.rmdir()
        except OSError:
            pass


def kill_marked_processes() -> None:
    markers = (str(STATE), str(RUN))
    for pid, cmdline in processes():
        if pid != os.getpid() and any(marker in cmdline for marker in markers):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def unmount_all() -> None:
    for _ in range(3):
        ours = our_mounts()
        if not ours:
            break
        for target in sorted(ours, key=len, reverse=True):
            subprocess.run(["umount", "-l", target], capture_output=True)
    for netns in Path("/run/netns").glob("cni-*"):
        netns.unlink(missing_ok=True)


def down() -> None:
    """Stops everything in reverse order and removes what it made (the caches stay)."""
    for name in ("kube-router", "kubelet", "kube-proxy", "kube-scheduler", "kube-controller-manager"):
        stop(name)
    for cgroup in Path("/sys/fs/cgroup").glob("*/kubepods"):
        kill_cgroup_tree(cgroup)
    for name in ("containerd", "kube-apiserver", "etcd", "registry", "dockerd"):
        stop(name)
    kill_marked_processes()  # containerd shims and anything else started from our folders
    for cgroup in Path("/sys/fs/cgroup").glob("*/kubepods"):
        kill_cgroup_tree(cgroup)
    unmount_all()
    binaries = build.cache_dir() / "bin"
    proxies = sorted(binaries.glob("kubernetes-*/kube-proxy"))
    if proxies:
        subprocess.run([str(proxies[-1]), "--cleanup"], capture_output=True)
    routers = sorted(binaries.glob("kube-router-*/kube-router"))
    if routers:
        subprocess.run([str(routers[-1]), "--cleanup-config"], capture_output=True)
    for table in ("filter", "nat", "mangle"):
        remove_chains(table, ("KUBE-", "CNI-", FORWARD_CHAIN))
    for ipset in ipsets():
        subprocess.run(["ipset", "destroy", ipset], capture_output=True)
    for table in ("ip kube-proxy", "ip6 kube-proxy"):
        subprocess.run(["nft", "delete", "table", *table.split()], capture_output=True)
    subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True)
    remove_docker_network()
    shutil.rmtree(STATE, ignore_errors=True)
    shutil.rmtree(RUN, ignore_errors=True)


# ---- start ---------------------------------------------------------------------------------

def up(log=log) -> Path:
    """Starts the cluster (stopping a previous one first) and returns the admin kubeconfig."""
    reason = missing_requirements()
    if reason:
        raise RuntimeError(reason)
    started = time.monotonic()
    binary("kubectl")
    binaries = dict(_BINARIES)
    down()
    busy = [port for port in (API_PORT, 2379, 2380, 5000, 10250, 10257, 10259) if not port_free(port)]
    if busy:
        raise RuntimeError(f"the test cluster needs ports {busy} on 127.0.0.1, which something else is using")
    ip, name = node_ip(), node_name()
    for folder in (STATE, RUN, P.storage, P.docker_root, P.registry_root):
        folder.mkdir(parents=True, exist_ok=True)
    pki.make_pki(P.pki, name, ip, API_SERVICE_IP)
    write_configs(ip, name)
    open_forwarding()
    b = {key: str(value) for key, value in binaries.items()}

    (P.config / "registry.yml").write_text(f"""version: 0.1
storage:
  filesystem: {{rootdirectory: {P.registry_root}}}
  delete: {{enabled: true}}
http: {{addr: {REGISTRY}}}
log: {{level: warn}}
""")
    start("registry", [b["registry"], "serve", str(P.config / "registry.yml")])
    make_docker_bridge()
    (P.config / "docker" / "cli-plugins").mkdir(parents=True, exist_ok=True)  # install_buildx() fills it
    start("dockerd", ["dockerd", "--data-root", str(P.docker_root), "--exec-root", str(RUN / "docker"),
                      "-H", f"unix://{P.docker_sock}", "--pidfile", str(RUN / "docker.pid"),
                      "--bridge", DOCKER_BRIDGE,
                      "--containerd-namespace", "workbench-test", "--containerd-plugins-namespace", "workbench-test-plugins"])
    start("etcd", [b["etcd"], "--data-dir", str(P.etcd), "--listen-client-urls", "http://127.0.0.1:2379",
                   "--advertise-client-urls", "http://127.0.0.1:2379", "--listen-peer-urls", "http://127.0.0.1:2380",
                   "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
                   "--initial-cluster", "default=http://127.0.0.1:2380", "--log-level", "warn",
                   "--quota-backend-bytes", str(2 * 1024 ** 3)])
    start("containerd", ["containerd", "--config", str(P.config / "containerd.toml")])
    wait_for("etcd", lambda: http_ok("http://127.0.0.1:2379/health"), 60, "etcd")
    c = P.pki
    start("kube-apiserver", [
        b["kube-apiserver"], "--etcd-servers=http://127.0.0.1:2379", f"--secure-port={API_PORT}",
        f"--advertise-address={ip}", f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
        f"--client-ca-file={c / 'ca.crt'}", f"--tls-cert-file={c / 'apiserver.crt'}",
        f"--tls-private-key-file={c / 'apiserver.key'}",
        f"--kubelet-client-certificate={c / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={c / 'apiserver-kubelet-client.key'}",
        f"--service-account-key-file={c / 'sa.pub'}", f"--service-account-signing-key-file={c / 'sa.key'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--allow-privileged=true", "--profiling=false", "--v=1"])
    wait_for("kube-apiserver", lambda: https_ok(f"https://127.0.0.1:{API_PORT}/readyz"), 120, "kube-apiserver")
    start("kube-controller-manager", [
        b["kube-controller-manager"], f"--kubeconfig={P.config / 'controller-manager.kubeconfig'}",
        f"--authentication-kubeconfig={P.config / 'controller-manager.kubeconfig'}",
        f"--authorization-kubeconfig={P.config / 'controller-manager.kubeconfig'}",
        f"--cluster-signing-cert-file={c / 'ca.crt'}", f"--cluster-signing-key-file={c / 'ca.key'}",
        f"--service-account-private-key-file={c / 'sa.key'}", f"--root-ca-file={c / 'ca.crt'}",
        "--use-service-account-credentials=true", "--allocate-node-cidrs=true", f"--cluster-cidr={POD_CIDR}",
        f"--service-cluster-ip-range={SERVICE_CIDR}", "--node-cidr-mask-size=24",
        "--leader-elect=false", "--bind-address=127.0.0.1", "--profiling=false"])
    start("kube-scheduler", [b["kube-scheduler"], f"--kubeconfig={P.config / 'scheduler.kubeconfig'}",
                             f"--authentication-kubeconfig={P.config / 'scheduler.kubeconfig'}",
                             f"--authorization-kubeconfig={P.config / 'scheduler.kubeconfig'}",
                             "--leader-elect=false", "--bind-address=127.0.0.1", "--profiling=false"])
    wait_for("containerd", lambda: P.containerd_sock.exists(), 30, "containerd")
    wait_for("dockerd", lambda: P.docker_sock.exists(), 60, "dockerd")
    wait_for("registry", lambda: http_ok(f"http://{REGISTRY}/v2/"), 30, "registry")

    from . import addon_images  # noqa: PLC0415 - it needs the docker started above
    addon_images.load_cluster_images(binaries, log)

    start("kubelet", [b["kubelet"], f"--config={P.config / 'kubelet.yaml'}",
                      f"--kubeconfig={P.config / 'kubelet.kubeconfig'}", f"--root-dir={P.kubelet}",
                      f"--hostname-override={name}", f"--node-ip={ip}", "--v=1"])
    start("kube-proxy", [b["kube-proxy"], f"--config={P.config / 'kube-proxy.yaml'}"])
    wait_for(f"node {name} Ready", lambda: "True" in kubectl(
        "get", "node", name, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}", check=False).stdout,
        120, "kubelet")
    # NetworkPolicy: kube-router's firewall controller alone, a host process as k3s embeds it,
    # once the node is registered (it looks itself up by name).
    # (kube-network-policies, kind's enforcer, needs the nftables queue expression, which this
    # machine's kernel lacks: "nft ... queue num 98" answers "No such file or directory".)
    start("kube-router", [b["kube-router"], f"--kubeconfig={P.kubeconfig}", f"--hostname-override={name}",
                          "--run-firewall=true", "--run-router=false", "--run-service-proxy=false",
                          "--enable-cni=false", "--enable-ipv6=false", "--metrics-port=0",
                          "--health-port=20244", "--iptables-sync-period=30s"])
    wait_for("kube-router", lambda: http_ok("http://127.0.0.1:20244/healthz"), 60, "kube-router")
    apply_addons(ip)
    log(f"up in {time.monotonic() - started:.0f} s; KUBECONFIG={P.kubeconfig}")
    return P.kubeconfig


def install_buildx() -> Path:
    """docker buildx for the cluster's Docker (DOCKER_CONFIG=<config>/docker), built on first use."""
    plugin = P.config / "docker" / "cli-plugins" / "docker-buildx"
    if not plugin.exists():
        plugin.symlink_to(build.build_module("buildx", build.go_version(), log) / "docker-buildx")
    return plugin


def apply_addons(ip: str) -> None:
    """CoreDNS, local-path-provisioner and Traefik, with this run's values."""
    values = {"DNS_SERVICE_IP": DNS_SERVICE_IP, "STORAGE_DIR": str(P.storage), "API_HOST": ip,
              "API_PORT": str(API_PORT)}
    for manifest in sorted((HERE / "manifests").glob("*.yaml")):
        text = manifest.read_text()
        for key, value in values.items():
            text = text.replace(f"${{{key}}}", value)
        kubectl("apply", "-f", "-", input=text)
    for namespace, kind, name in (("kube-system", "deployment", "coredns"),
                                  ("kube-system", "deployment", "local-path-provisioner"),
                                  ("kube-system", "deployment", "traefik")):
        result = kubectl("-n", namespace, "rollout", "status", f"{kind}/{name}", "--timeout=180s", check=False)
        if result.returncode:
            pods = kubectl("-n", namespace, "get", "pods", "-o", "wide", check=False).stdout
            events = kubectl("-n", namespace, "get", "events", "--sort-by=.lastTimestamp", check=False).stdout
            raise RuntimeError(f"{kind}/{name} did not become ready: {result.stderr.strip()}\n{pods}\n"
                               + "\n".join(events.splitlines()[-15:]))


def status_quiet() -> bool:
    """True when every process of the cluster runs and the API answers."""
    try:
        return all(running(name) for name in PROCESSES) and https_ok(f"https://127.0.0.1:{API_PORT}/readyz")
    except OSError:
        return False


def status() -> int:
    for name in PROCESSES:
        print(f"{name:26} {'running' if running(name) else 'stopped'}")
    return 0 if status_quiet() else 1


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "status"
    if command == "up":
        try:
            print(up())
        except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
            detail = getattr(error, "stderr", "") or ""
            print(f"test cluster: cannot start: {error} {detail}".strip(), file=sys.stderr)
            return 1
        return 0
    if command == "down":
        down()
        left = leftovers()
        for line in left:
            print(f"test cluster: left behind: {line}", file=sys.stderr)
        return 1 if left else 0
    if command == "status":
        return status()
    if command == "build":
        for name, path in sorted(build.build_all(log).items()):
            print(f"{name}\t{path}")
        return 0
    if command == "leftovers":
        left = leftovers()
        print("\n".join(left))
        return 1 if left else 0
    print(__doc__, file=sys.stderr)
    return 2
