"""The test cluster's certificates: one CA, a serving certificate for the API
server, a client certificate per component (each with the identity RBAC and the
Node authorizer expect), and the service-account signing key."""

from __future__ import annotations

import base64
import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _builder(subject: x509.Name, issuer: x509.Name, public_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=7)))


def make_pki(pki: Path, node_name: str, node_ip: str, service_ip: str) -> None:
    """Writes ca.crt/ca.key, apiserver, the clients and sa.key/sa.pub into pki/ (new every start)."""
    pki.mkdir(parents=True, exist_ok=True)
    pki.chmod(0o700)
    ca_key = _key()
    ca_name = _name("enertef-workbench-test-cluster-ca")
    ca = (_builder(ca_name, ca_name, ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    (pki / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    _write_key(pki / "ca.key", ca_key)

    def issue(name: str, subject: x509.Name, usage, sans=()) -> None:
        key = _key()
        builder = (_builder(subject, ca_name, key.public_key())
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
        (pki / f"{name}.crt").write_bytes(builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
        _write_key(pki / f"{name}.key", key)

    dns = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
           "localhost", node_name]
    ips = ["127.0.0.1", node_ip, service_ip]
    issue("apiserver", _name("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH,
          [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips])
    clients = {
        "admin": ("admin", "system:masters"),
        "apiserver-kubelet-client": ("kube-apiserver-kubelet-client", "system:masters"),
        "controller-manager": ("system:kube-controller-manager", None),
        "scheduler": ("system:kube-scheduler", None),
        "kube-proxy": ("system:kube-proxy", None),
        "kubelet": (f"system:node:{node_name}", "system:nodes"),
    }
    for name, (common_name, organization) in clients.items():
        issue(name, _name(common_name, organization), ExtendedKeyUsageOID.CLIENT_AUTH)
    issue("kubelet-serving", _name(f"system:node:{node_name}", "system:nodes"), ExtendedKeyUsageOID.SERVER_AUTH,
          [x509.DNSName(node_name), x509.DNSName("localhost"),
           x509.IPAddress(ipaddress.ip_address(node_ip)), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    sa_key = _key()
    _write_key(pki / "sa.key", sa_key)
    (pki / "sa.pub").write_bytes(sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def kubeconfig(pki: Path, server: str, user: str) -> str:
    """A self-contained kubeconfig (certificates embedded) for one of the client certificates."""
    def data(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()
    return f"""apiVersion: v1
kind: Config
clusters:
- name: workbench-test
  cluster:
    server: {server}
    certificate-authority-data: {data('ca.crt')}
users:
- name: {user}
  user:
    client-certificate-data: {data(user + '.crt')}
    client-key-data: {data(user + '.key')}
contexts:
- name: workbench-test
  context: {{cluster: workbench-test, user: {user}}}
current-context: workbench-test
"""
