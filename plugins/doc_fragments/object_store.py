# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """Connection options shared by the object-store modules."""

    DOCUMENTATION = r"""
options:
  endpoint_url:
    description:
      - URL of the S3 API, for example V(http://minio.workbench.svc:9000) or V(http://127.0.0.1:8333).
      - M(enertef.workbench.s3_tenant) with C(backend=iam) expects the AWS IAM API on the same URL (SeaweedFS serves it there;
        start it with C(-s3.iam.readOnly=false)).
    type: str
    required: true
  admin_access_key:
    description:
      - Access key of an identity allowed to manage users and policies (MinIO root user,
        SeaweedFS admin identity).
    type: str
    required: true
  admin_secret_key:
    description:
      - Secret key of O(admin_access_key).
    type: str
    required: true
  region:
    description:
      - Region name used to sign requests.
    type: str
    default: us-east-1
  validate_certs:
    description:
      - Verify the server's TLS certificate when O(endpoint_url) is https.
    type: bool
    default: true
  s3_ca_cert:
    description:
      - CA certificate file (PEM) to verify the server with, e.g. the lab's local CA
        (C(<state dir>/tls/ca.crt)). Without it the system's CA bundle is used.
      - If not set, the environment variable E(AWS_CA_BUNDLE) is used.
    type: path
  timeout:
    description:
      - Seconds to wait for a connection. Requests are not retried, so an unreachable
        endpoint fails within this time with a clear message.
    type: int
    default: 10
requirements:
  - boto3 (S3 and IAM API)
"""
