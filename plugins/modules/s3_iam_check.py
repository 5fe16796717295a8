#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: s3_iam_check
short_description: Check that an S3 endpoint has the writable AWS IAM API tenants are provisioned through
version_added: "0.2.0"
description:
  - Before anything is created on an object store, checks the three things
    M(enertef.workbench.s3_tenant) with C(backend=iam) needs, in order, and fails naming the first
    one missing, with its fix.
  - The S3 API answers and accepts the admin key (C(ListBuckets)).
  - The AWS IAM API answers on the same URL (C(ListUsers)). SeaweedFS serves it unless started
    with C(-s3.iam=false); a plain S3 server (or MinIO, which has its own admin API, see
    C(backend=minio)) has none.
  - The IAM API accepts writes. This is probed by deleting a user that cannot exist (a random
    name that breaks the tenant name rule), which a writable API answers with C(NoSuchEntity);
    SeaweedFS refuses it unless started with C(-s3.iam.readOnly=false). Nothing is created or
    changed, so the module never reports a change and runs the same in check mode.
author:
  - EnerTEF workbench team (@enertef)
extends_documentation_fragment:
  - enertef.workbench.object_store
attributes:
  check_mode:
    description: Runs the same reads and the no-op probe; it never changes anything.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
"""

EXAMPLES = r"""
- name: Stop before provisioning when the object store cannot take tenants
  enertef.workbench.s3_iam_check:
    endpoint_url: http://127.0.0.1:9000
    admin_access_key: "{{ secrets_credentials.object_store_root_user }}"
    admin_secret_key: "{{ secrets_credentials.object_store_root_password }}"
"""

RETURN = r"""
s3:
  description: Whether the S3 API answered and accepted the admin key.
  returned: success
  type: bool
  sample: true
iam:
  description: Whether the AWS IAM API answered on the endpoint.
  returned: success
  type: bool
  sample: true
iam_writable:
  description: Whether the IAM API accepts writes.
  returned: success
  type: bool
  sample: true
"""

import secrets

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.enertef.workbench.plugins.module_utils.object_store import (
    BOTO3_IMPORT_ERROR,
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    HAS_BOTO3,
    boto3_client,
    describe_error,
    error_code,
    object_store_argument_spec,
)


class MissingIAM(Exception):
    """The endpoint lacks what tenant provisioning needs (the message says what and the fix)."""


def probe_user_name():
    """A user name no tenant can have (tenant names never start with 'workbench')."""
    return "workbench-iam-probe-%s" % secrets.token_hex(6)


def check(s3, iam, endpoint_url):
    """Raise MissingIAM (or a client error) unless ``endpoint_url`` can provision tenants."""
    s3.list_buckets()
    try:
        iam.list_users(MaxItems=1)
    except EndpointConnectionError:
        raise
    # Whatever else the answer is (an S3 error, a 404 page, an empty body botocore cannot parse,
    # which is not even a BotoCoreError), it is not the IAM API.
    except Exception as err:  # pylint: disable=broad-exception-caught
        if error_code(err) in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            raise
        raise MissingIAM(
            "%s answers S3 but has no AWS IAM API (ListUsers answered %s), through which the tenants' users, keys "
            "and policies are made; nothing was created. SeaweedFS serves it on the S3 port unless started "
            "with -s3.iam=false; for MinIO use backend minio" % (endpoint_url, error_code(err) or type(err).__name__))
    try:
        iam.delete_user(UserName=probe_user_name())
    except ClientError as err:
        if error_code(err) == "NoSuchEntity":
            return
        raise MissingIAM(
            "the AWS IAM API of %s is read-only (%s: %s): tenants cannot be provisioned; nothing was "
            "created. Start SeaweedFS with -s3.iam.readOnly=false (the object_store role does), or give "
            "an admin key the IAM API lets write"
            % (endpoint_url, error_code(err), err.response.get("Error", {}).get("Message", "")))
    raise MissingIAM("the AWS IAM API of %s deleted a user that does not exist instead of answering "
                     "NoSuchEntity: it is not an IAM API the tenants can be provisioned through" % endpoint_url)


def main():
    module = AnsibleModule(argument_spec=object_store_argument_spec(), supports_check_mode=True)
    if not HAS_BOTO3:
        module.fail_json(msg=missing_required_lib("boto3"), exception=str(BOTO3_IMPORT_ERROR))
    params = module.params
    try:
        check(boto3_client(params, "s3"), boto3_client(params, "iam"), params["endpoint_url"])
    except MissingIAM as err:
        module.fail_json(msg=str(err), s3=True, iam="no AWS IAM API" not in str(err), iam_writable=False)
    except (ClientError, BotoCoreError, ValueError, OSError) as err:
        module.fail_json(msg=describe_error(err, params["endpoint_url"]), s3=False, iam=False, iam_writable=False)
    module.exit_json(changed=False, s3=True, iam=True, iam_writable=True)


if __name__ == "__main__":
    main()
