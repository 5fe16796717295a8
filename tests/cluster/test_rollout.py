"""``ansible-playbook site.yml`` with the existing-cluster target, for real, on the test cluster.

The inventory is tests/fixtures/rollout.py's (inventories/existing with the cluster's values, the
images the tests built, by digest). The first run rolls out from nothing; the second must change
nothing; then playbooks/verify.yml passes, every pod is Ready and the four https URLs answer
through the cluster's ingress controller with the certificate the collection stored.
"""
import ssl
import urllib.request

import pytest

from fixtures.rollout import HOSTS, ROLLOUT_INGRESS_CLASS

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


def changed_tasks(result):
    return sorted({f"{name}" for name, _host, outcome in result.task_results() if outcome.get("changed")})


@pytest.fixture(scope="module")
def first_run(rollout):
    return rollout.run("site.yml")


@pytest.mark.timeout(5400)
def test_site_yml_rolls_out_on_the_existing_cluster(first_run):
    assert first_run.rc == 0 and first_run.failed == 0, first_run


@pytest.mark.timeout(3600)
def test_second_run_changes_nothing(rollout, first_run):
    if first_run.rc:
        pytest.skip("the first run failed (see the test before)")
    second = rollout.run("site.yml")
    assert second.rc == 0, second
    assert second.changed == 0, f"changed on the rerun: {changed_tasks(second)}"


@pytest.mark.timeout(1800)
def test_verify_playbook_passes(rollout, first_run):
    if first_run.rc:
        pytest.skip("the first run failed (see the test before)")
    result = rollout.run("playbooks/verify.yml")
    assert result.rc == 0 and result.failed == 0, result
    assert result.changed == 0, f"verify changed: {changed_tasks(result)}"


def test_every_workbench_pod_is_ready(rollout, first_run):
    if first_run.rc:
        pytest.skip("the first run failed (see the test before)")
    pods = rollout.kube.get("pods", "-n", "workbench")["items"]
    ready = {p["metadata"]["name"]: all(c.get("ready") for c in p["status"].get("containerStatuses", []))
             for p in pods if p["status"].get("phase") != "Succeeded"}
    names = " ".join(ready)
    for wanted in ("postgres-0", "object-store-seaweedfs-0", "hub-", "proxy-", "pgadmin-"):
        assert wanted in names, f"no pod {wanted}* in {sorted(ready)}"
    assert all(ready.values()), f"not ready: {[n for n, ok in ready.items() if not ok]}"
    services = {s["metadata"]["name"]: s["spec"]["type"] for s in rollout.kube.get("services", "-n", "workbench")["items"]}
    # nothing but PostgreSQL (for this controller, its NetworkPolicy) leaves the cluster by a NodePort
    assert {name for name, kind in services.items() if kind != "ClusterIP"} == {"postgres"}, services
    ingresses = {i["metadata"]["name"]: i for i in rollout.kube.get("ingresses", "-n", "workbench")["items"]}
    hosts = sorted(h for i in ingresses.values() for rule in i["spec"]["rules"] for h in [rule["host"]])
    assert hosts == sorted(HOSTS), hosts
    for ingress in ingresses.values():
        assert ingress["spec"].get("ingressClassName") == ROLLOUT_INGRESS_CLASS, ingress["metadata"]["name"]
        assert ingress["spec"]["tls"][0]["secretName"] == "workbench-tls", ingress["metadata"]["name"]


@pytest.mark.parametrize("url, expected", [
    ("https://workbench.rollout.test/hub/health", 200),
    ("https://pgadmin.workbench.rollout.test/misc/ping", 200),
    ("https://s3.workbench.rollout.test/healthz", 200),
    ("https://console.workbench.rollout.test/", 200),
])
def test_urls_answer_over_tls_with_the_stored_certificate(rollout, first_run, url, expected):
    if first_run.rc:
        pytest.skip("the first run failed (see the test before)")
    context = ssl.create_default_context(cafile=str(rollout.folder / "tls" / "ca.crt"))
    with urllib.request.urlopen(url, context=context, timeout=30) as answer:
        assert answer.status == expected
