"""The controller's clients verify a lab's own CA: S3 (``s3_ca_cert`` or AWS_CA_BUNDLE) and PostgreSQL (PGSSLMODE, PGSSLROOTCERT).

boto3's ``verify=True`` uses certifi's bundle and ignores AWS_CA_BUNDLE, so a lab
whose S3 URL is https with the workbench's local CA needs the file passed on; the
test checks what the real boto3 and minio clients were built with.
"""
import os

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.enertef.workbench.plugins.module_utils import object_store, postgres


def params(**more):
    base = {"endpoint_url": "https://s3.workbench.lab.example", "admin_access_key": "admin",
            "admin_secret_key": os.urandom(8).hex(), "region": "us-east-1", "validate_certs": True,
            "s3_ca_cert": None, "timeout": 5}
    base.update(more)
    return base


def test_the_shared_spec_takes_a_ca_file_from_aws_ca_bundle():
    spec = object_store.object_store_argument_spec()["s3_ca_cert"]
    assert spec["type"] == "path" and spec["fallback"][1] == ["AWS_CA_BUNDLE"]


def test_boto3_verifies_with_the_given_ca(tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    client = object_store.boto3_client(params(s3_ca_cert=str(ca)), "s3")
    assert client._endpoint.http_session._verify == str(ca)
    assert object_store.boto3_client(params(), "s3")._endpoint.http_session._verify is True
    # validate_certs=false wins: no CA file makes an unverified connection verified
    assert object_store.boto3_client(params(s3_ca_cert=str(ca), validate_certs=False), "s3")._endpoint.http_session._verify is False


def test_minio_admin_verifies_with_the_given_ca(tmp_path):
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    admin = object_store.minio_admin_client(params(s3_ca_cert=str(ca)))
    assert admin._http.connection_pool_kw["ca_certs"] == str(ca)
    assert admin._http.connection_pool_kw["cert_reqs"] == "CERT_REQUIRED"


def test_postgres_modules_take_libpq_tls_settings_from_the_environment(monkeypatch, tmp_path):
    """A lab's PostgreSQL is TLS only: PGSSLMODE/PGSSLROOTCERT reach every module's connection."""
    validator = ArgumentSpecValidator(postgres.postgres_common_argument_spec())
    login = {"login_user": "workbench_admin", "login_password": os.urandom(8).hex()}
    monkeypatch.setenv("PGSSLMODE", "verify-full")
    monkeypatch.setenv("PGSSLROOTCERT", str(tmp_path / "ca.crt"))
    params = validator.validate(login).validated_parameters
    conn = postgres.get_conn_params(params)
    assert (conn["sslmode"], conn["sslrootcert"]) == ("verify-full", str(tmp_path / "ca.crt"))
    monkeypatch.delenv("PGSSLMODE")
    monkeypatch.delenv("PGSSLROOTCERT")
    conn = postgres.get_conn_params(validator.validate(login).validated_parameters)
    assert conn["sslmode"] == "prefer" and "sslrootcert" not in conn


def test_the_postgres_and_object_store_options_do_not_collide():
    """workbench_backup/restore/health take both: one name for two CA files would silently pick one."""
    shared = set(postgres.postgres_common_argument_spec()) & set(object_store.object_store_argument_spec())
    assert shared == set()
