"""No literal password, token or key in any tracked file.

The scanner looks for the seed's known credentials, private keys, cloud access
keys and `password/secret/token/key = <literal>` assignments whose value is not
a template expression, a variable or an environment lookup. It is itself tested
on planted credentials so that it cannot silently pass.
"""
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

# The seed's own credentials, spelled in pieces so that this file does not hold them either.
SEED_CREDENTIALS = ["minio" + "_pwd", "Super" + "Secret", "password" + "1234", "mlflow:" + "mlflow@",
                    "admin@" + "admin.com"]
KNOWN = re.compile("|".join(re.escape(c) for c in SEED_CREDENTIALS), re.I)
PRIVATE_KEY = re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----")
# AWS's documented placeholders contain EXAMPLE (as in AKIAIOSFODNN7EXAMPLE).
AWS_KEY = re.compile(r"\b(?:AKIA|ASIA)(?![0-9A-Z]*EXAMPLE)[0-9A-Z]{16}\b")
URL_WITH_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@{}$]+:([^@\s/{}$]+)@", re.I)
ASSIGNMENT = re.compile(
    r"""(?ix)
    (?P<key>[\w.-]*(?:password|passwd|secret|token|api_?key|access_?key|secret_?key)[\w.-]*)
    ["']?\s*[:=]\s*
    (?P<value>"[^"\n]*"|'[^'\n]*'|[^\s,;#)\]}]+)
    """)
# A literal that looks like a secret: one word of 8+ characters mixing letters
# and digits. Names (workbench-postgres-admin), expressions (ids["k8s_secret"],
# f"{password}"), templates and environment references do not.
SECRET_LIKE = re.compile(r"^(?=.*[A-Za-z])(?=.*\d)[A-Za-z0-9+/=_!@#^&*~-]{8,}$")


def credential_findings(text):
    """(line number, what) for each literal credential in ``text``."""
    findings = []
    for number, line in enumerate(text.splitlines(), 1):
        for pattern, what in ((KNOWN, "known seed credential"), (PRIVATE_KEY, "private key"),
                              (AWS_KEY, "cloud access key")):
            if pattern.search(line):
                findings.append((number, what))
        match = URL_WITH_PASSWORD.search(line)
        if match and SECRET_LIKE.match(match.group(1)):
            findings.append((number, "password in a URL"))
        for match in ASSIGNMENT.finditer(line):
            value = match.group("value").strip("\"'")
            if SECRET_LIKE.match(value):
                findings.append((number, "literal %s" % match.group("key")))
    return findings


def tracked_files():
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split()
    skip = {"CHANGELOG.md", "tests/unit/test_no_literal_credentials.py"}
    for name in out:
        path = ROOT / name
        if name in skip or not path.is_file() or path.suffix in {".png", ".svg", ".ipynb"} and False:
            continue
        try:
            yield name, path.read_text()
        except (UnicodeDecodeError, OSError):
            continue


@pytest.mark.parametrize("planted", [
    'MINIO_ROOT_PASSWORD: "%s"' % SEED_CREDENTIALS[0],
    "postgres_password: %s" % SEED_CREDENTIALS[1],
    "url = 'postgresql://%spostgres:5432/mlflow'" % SEED_CREDENTIALS[3],
    "hub_token: 3f1a9c0e8b7d6a5f4e3d2c1b0a9f8e7d",
    "aws_access_key_id = AKIAABCDEFGHIJKLMNOP",
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    '"password": "hunter2hunter2"',
    "s3://admin:Sup3rs3cret@minio:9000",
])
def test_scanner_catches_planted_credentials(planted):
    assert credential_findings(planted), planted


@pytest.mark.parametrize("harmless", [
    'password: "{{ secrets_credentials.postgres_admin_password }}"',
    "PGPASSWORD: $PGPASSWORD",
    "password = os.environ['PGPASSWORD']",
    "password = secrets.token_urlsafe(24)",
    "login_password: null",
    "no_log: true  # password",
    "secretKeyRef:",
    "password: str",
])
def test_scanner_lets_references_pass(harmless):
    assert credential_findings(harmless) == [], harmless


def test_no_literal_credentials_in_tracked_files():
    found = ["%s:%d: %s" % (name, line, what)
             for name, text in tracked_files()
             for line, what in credential_findings(text)]
    assert found == [], "literal credentials found:\n" + "\n".join(found)
