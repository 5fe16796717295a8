#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, enertef.workbench contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: s3_tenant
short_description: Object-store identity of a workbench tenant, allowed only its own prefix
version_added: "0.1.0"
description:
  - Creates (or removes) the object-store user of a workbench tenant, its access key, and a
    policy that lets it read, write, delete and list only C(<bucket>/<tenant>/) and, for a user,
    the prefixes of its groups (C(<bucket>/group_<group>/)).
  - That policy (with O(iam_policy=shared), those policies) is the user's only one; any other
    policy found on the user (an inline or attached IAM policy, an attached MinIO policy such as
    C(readwrite)) is removed, since it could grant more.
  - All names come from C(enertef.workbench.tenant.tenant_for); a name that breaks the naming
    rule is refused with the rule in the message, before any request is made.
  - Two backends. V(iam) speaks the AWS IAM API (SeaweedFS, Ceph RGW, AWS) with a managed policy
    per tenant attached to the user, or one shared policy for all users plus one per group, or an
    inline user policy (O(iam_policy)). V(minio) speaks the MinIO admin API through the C(minio) SDK with a canned policy
    per tenant attached to the user.
  - Policies are compared in canonical form (key order, list order and one-item lists do not
    matter), so a rerun reports no change.
  - Secrets. With V(iam) the server generates the secret of a new key; it is returned once, in
    RV(secret_key), and cannot be read back later. With V(minio) the MinIO user name is the access
    key (the tenant id) and the secret is O(secret_key), or generated when the user is created.
    Either way, store a returned secret at once (the C(users) role keeps it in a 0600 file and
    in the tenant's Kubernetes Secret) and run the task with C(no_log).
  - Objects are never deleted; O(state=absent) removes access, not data.
author:
  - EnerTEF workbench team (@enertef)
extends_documentation_fragment:
  - enertef.workbench.object_store
options:
  name:
    description:
      - User name, or group name when O(kind=group) (the tenant is then C(group_<name>)).
      - One of O(name) and O(tenants) is required.
    type: str
  kind:
    description:
      - Whether O(name) is a user or a group. A group tenant gets its own identity (used by
        the group's shared services) limited to the group prefix.
    type: str
    choices: [user, group]
    default: user
  groups:
    description:
      - Groups the user belongs to; the user may also use each group's prefix.
      - Only with O(kind=user).
    type: list
    elements: str
    default: []
  state:
    description:
      - V(present) creates or updates the user, key and policy.
      - V(absent) deletes the user's access keys, policy and user. Objects are kept.
    type: str
    choices: [present, absent]
    default: present
  backend:
    description:
      - Admin API of the object store.
    type: str
    choices: [iam, minio]
    default: iam
  bucket:
    description:
      - The shared bucket the tenant's prefix lives in.
    type: str
    default: mlflow
  policy_name:
    description:
      - The tenant policy is named C(<policy_name>-<tenant id>) (V(minio), and V(iam) with
        O(iam_policy=managed)) because those policies belong to the account, not to the user;
        with O(iam_policy=inline) it is the name of the inline user policy.
      - With O(iam_policy=shared) the users' policy is C(<policy_name>) and a group's is
        C(<policy_name>-group_<group>).
    type: str
    default: workbench-tenant
  iam_policy:
    description:
      - V(iam) only. How the tenant policy is given to the user.
      - V(managed) (default) creates a customer-managed policy per tenant (C(CreatePolicy), later
        C(CreatePolicyVersion)) and attaches it to the user, the only policy of the user (every
        inline policy and every other attached policy is removed). On SeaweedFS these calls write
        one record each, where C(PutUserPolicy) rewrites every identity of the server (see the notes).
      - V(inline) puts the policy inline on the user (C(PutUserPolicy)), for IAM servers without
        managed policies for users (Ceph RGW); every attached managed policy is then detached.
      - V(shared) gives every user the one managed policy C(<policy_name>), whose prefix is the
        C(${aws:username}) policy variable (a user tenant's prefix is its user name), and for each of
        its groups the group's managed policy C(<policy_name>-group_<group>), which the group's own
        identity has too. The server must substitute C(${aws:username}) in user policies
        (SeaweedFS 4.48 does, tested here; AWS documents it); where it does not, use V(managed).
        On SeaweedFS every write reloads every managed policy, so a few shared policies instead of
        one per tenant make each new key about 20 times cheaper at 200 users (see the notes).
      - A shared policy is made or repaired once per call, by the first tenant that needs it (its
        RV(tenants) entry shows the action); it is never deleted (attached to nobody it grants
        nothing), a group's policy goes with the group.
      - Switching is safe in every direction, the next run moves each tenant to the chosen kind (the
        tenant's own policy of V(managed) is deleted once detached).
    type: str
    choices: [managed, inline, shared]
    default: managed
  access_key:
    description:
      - V(iam) only. The access key id the caller already holds for this tenant. It is kept if the
        user still has it, and every other key of the user is deleted; if the user no longer has it,
        a new key is created and returned.
      - Without it, an existing key is left alone and a key is created only when the user has none.
      - With V(minio) the access key is always the tenant id; a different value is refused.
    type: str
  secret_key:
    description:
      - V(minio) only. The secret to give the user when it is created (or on every run with
        O(update_secret=always)). Generated when omitted.
      - Refused with V(iam), where the server always generates the secret.
    type: str
  update_secret:
    description:
      - V(minio) only. V(on_create) sets the secret only when the user is created; V(always) sets
        O(secret_key) on every run (MinIO cannot tell whether it already matches, so the task then
        always reports a change).
    type: str
    choices: [on_create, always]
    default: on_create
  rotate_key:
    description:
      - V(iam) only. Create a new access key and delete every other key of the user.
      - With O(tenants), the default of every entry.
    type: bool
    default: false
  tenants:
    description:
      - Many tenants in one call, instead of O(name) and its per-tenant options. Every entry is
        checked before any request is made (a bad name or a tenant listed twice changes nothing).
      - Each entry takes O(name), O(kind), O(groups), O(state), O(access_key), O(secret_key),
        O(rotate_key) and O(update_secret) with the same meaning; O(backend), O(bucket),
        O(policy_name), O(iam_policy) and the connection options apply to all of them.
      - The tenants' requests run concurrently, at most O(parallel) tenants at a time. Group entries
        are handled first.
      - If some tenants fail, the others are still brought to their state; the module then fails
        with a message naming each failed tenant and why, and still returns RV(tenants), so keys
        created for the others are not lost (register the result and store them before failing).
      - "Use it for many users: Ansible's cost of about a second per task makes a loop over 200
        users take minutes even when nothing changes."
    type: list
    elements: dict
    suboptions:
      name:
        description: User or group name.
        type: str
        required: true
      kind:
        description: C(user) or C(group).
        type: str
        choices: [user, group]
        default: user
      groups:
        description: Groups of the user (only with O(tenants[].kind=user)).
        type: list
        elements: str
        default: []
      state:
        description: C(present) or C(absent).
        type: str
        choices: [present, absent]
        default: present
      access_key:
        description: As O(access_key), for this tenant.
        type: str
      secret_key:
        description: As O(secret_key), for this tenant.
        type: str
      rotate_key:
        description: As O(rotate_key), for this tenant; O(rotate_key) when omitted.
        type: bool
      update_secret:
        description: As O(update_secret), for this tenant; O(update_secret) when omitted.
        type: str
        choices: [on_create, always]
  parallel:
    description:
      - With O(tenants), how many tenants are worked on at the same time (each tenant's own requests
        stay in order).
    type: int
    default: 8
attributes:
  check_mode:
    description: Reports what would be done (RV(actions)) without changing anything.
    support: full
  diff_mode:
    description: Shows the user/keys/policy (or bucket policy) before and after, in canonical form.
    support: full
notes:
  - "A tenant holds only the key this module made. V(minio): the tenant policy denies the
    C(admin:*ServiceAccount*) calls a MinIO user may otherwise make for itself, and every run deletes
    any service account the user holds. V(iam): SeaweedFS 4.48 lets a user create access keys for
    itself and accepts no C(Deny) statement, so pass O(access_key) (the users role does): every run
    then deletes every other key, and O(rotate_key) leaves exactly one."
  - "Cost on SeaweedFS (4.48, C(filer_etc) credential store). Every IAM request loads the whole
    identity configuration, and every C(CreateAccessKey), C(DeleteAccessKey), C(PutUserPolicy) or
    C(DeleteUserPolicy) saves it whole: one file per identity rewritten (each a filer event the S3
    server reloads all identities on; 4.47 coalesced those reloads). A new tenant therefore costs
    time growing with the number of identities already there. C(CreateUser), C(CreatePolicy), C(CreatePolicyVersion) and
    C(AttachUserPolicy) write one record; O(iam_policy=managed) uses them, leaving one full save (the
    key) per new tenant. Each saved identity also reloads the policies of every identity that has one
    attached, so O(tenants) runs in stages: every tenant's state is read, then every user and key
    is made, then every policy is created and attached (200 new tenants 18 s instead of 171 s), then
    absent tenants are removed. The reload reads every managed policy: with one per tenant, one key
    made at 200 attached users took 2.9 s, with O(iam_policy=shared) 0.14 s. A rerun that changes
    nothing only reads (four requests per tenant with O(iam_policy=managed), three with
    V(shared), plus one list of the managed policies per call)."
  - A client error that concerns the endpoint itself (unreachable, admin credentials refused) met
    on the first tenant of O(tenants) stops the call there, rather than failing every tenant in turn.
  - Tested against SeaweedFS (V(iam)). No MinIO server can run in this project's test
    environment, so the V(minio) backend is tested against a fake C(MinioAdmin) that records
    the calls.
requirements:
  - boto3 (O(backend=iam))
  - minio (O(backend=minio))
"""

EXAMPLES = r"""
- name: Give alice her prefix and a key (the secret is returned only when created)
  enertef.workbench.s3_tenant:
    name: alice
    groups: [ml]
    endpoint_url: http://127.0.0.1:8333
    admin_access_key: "{{ object_store_admin_access_key }}"
    admin_secret_key: "{{ object_store_admin_secret_key }}"
    access_key: "{{ stored_keys.alice.access_key | default(omit) }}"
  register: alice_s3
  no_log: true

- name: The ml group's own identity (limited to mlflow/group_ml/)
  enertef.workbench.s3_tenant:
    name: ml
    kind: group
    endpoint_url: http://127.0.0.1:8333
    admin_access_key: "{{ object_store_admin_access_key }}"
    admin_secret_key: "{{ object_store_admin_secret_key }}"
  no_log: true

- name: MinIO, with a secret generated by the secrets role
  enertef.workbench.s3_tenant:
    name: bob
    backend: minio
    endpoint_url: http://minio.workbench.svc:9000
    admin_access_key: "{{ secrets_credentials.object_store_root_user }}"
    admin_secret_key: "{{ secrets_credentials.object_store_root_password }}"
    secret_key: "{{ bob_s3_secret }}"
  no_log: true

- name: Every user and group in one call (10 at a time); keys are stored before a failure is reported
  enertef.workbench.s3_tenant:
    tenants:
      - {name: ml, kind: group}
      - {name: alice, groups: [ml], access_key: "{{ stored_keys.alice.access_key | default(omit) }}"}
      - {name: carol, state: absent}
    parallel: 10
    endpoint_url: http://127.0.0.1:8333
    admin_access_key: "{{ object_store_admin_access_key }}"
    admin_secret_key: "{{ object_store_admin_secret_key }}"
  register: all_s3
  failed_when: false
  no_log: true

- name: Off-board carol (her objects stay)
  enertef.workbench.s3_tenant:
    name: carol
    state: absent
    endpoint_url: http://127.0.0.1:8333
    admin_access_key: "{{ object_store_admin_access_key }}"
    admin_secret_key: "{{ object_store_admin_secret_key }}"
"""

RETURN = r"""
tenants:
  description:
    - With O(tenants), the outcome of each tenant, keyed by tenant id (the user name; C(group_<name>)
      for a group).
    - Each value has C(changed), C(actions), C(access_key), C(key_created), C(tenant) and C(policy)
      as for one tenant; C(secret_key) only when this run created a key or user; C(failed) and
      C(msg) for a tenant that failed.
  returned: when O(tenants) is given
  type: dict
  sample: {"alice": {"changed": true, "access_key": "(made by the server)", "secret_key": "...",
           "key_created": true, "actions": ["create_user alice", "create_access_key alice",
           "create_policy workbench-tenant-alice", "attach_user_policy alice workbench-tenant-alice"]}}
failed_tenants:
  description: With O(tenants), the ids of the tenants that failed (the module then fails).
  returned: when O(tenants) is given
  type: list
  elements: str
tenant:
  description: The tenant's identifiers.
  returned: with O(name)
  type: dict
  sample: {"id": "alice", "kind": "user", "s3_user": "alice", "bucket": "mlflow",
           "prefixes": ["alice/", "group_ml/"]}
access_key:
  description: The tenant's access key id (null when absent, or not yet created in check mode).
  returned: with O(name)
  type: str
  sample: AKIAEXAMPLEKEYID0001
secret_key:
  description:
    - Secret of a key or user created by this run, null otherwise (it cannot be read back later).
  returned: with O(name)
  type: str
key_created:
  description: Whether this run created a new key/secret (the caller must store it).
  returned: with O(name)
  type: bool
policy:
  description:
    - The policy document the tenant has (or would have) after the run; with O(iam_policy=shared),
      what its policies allow together, written out for its prefixes.
  returned: with O(name), when state is present
  type: dict
actions:
  description: What was done (or, in check mode, would be done), in order (with O(tenants), of every tenant).
  returned: always
  type: list
  elements: str
  sample: ["create_user alice", "create_access_key alice", "create_policy workbench-tenant-alice",
           "attach_user_policy alice workbench-tenant-alice"]
"""

import json
import secrets
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.enertef.workbench.plugins.module_utils.object_store import (
    BOTO3_IMPORT_ERROR,
    HAS_BOTO3,
    HAS_MINIO,
    MINIO_IMPORT_ERROR,
    MinioAdminException,
    boto3_client,
    bucket_name_problem,
    canonical_policy,
    canonical_policy_json,
    describe_error,
    is_client_error,
    is_endpoint_error,
    minio_admin_client,
    object_store_argument_spec,
    parse_policy,
    policies_differ,
    run_and_exit,
    shared_user_policy,
    tenant_policy,
    tenant_prefixes,
)
from ansible_collections.enertef.workbench.plugins.module_utils.tenant import (
    TenantNameError,
    tenant_for,
    validate_name,
)

NEW_KEY_PLACEHOLDER = "(new key)"


class Plan:
    """Steps of one run: recorded always, executed unless in check mode."""

    def __init__(self, check_mode):
        self.check_mode = check_mode
        self.actions = []

    def do(self, description, func, *args, **kwargs):
        self.actions.append(description)
        if self.check_mode:
            return None
        return func(*args, **kwargs)

    @property
    def changed(self):
        return bool(self.actions)


# ------------------------------------------------------------------ IAM API

class IamTenantStore:
    """Tenant users through the AWS IAM API (SeaweedFS, Ceph RGW, AWS).

    With ``policy_mode='managed'`` the tenant policy is a customer-managed
    policy per tenant attached to the user; with ``'inline'`` an inline user
    policy; with ``'shared'`` every user has the one own-prefix policy and one
    policy per group it is in. The managed policies of the account are listed
    once per call (one request, shared by every tenant of a bulk call) instead
    of once per tenant."""

    def __init__(self, iam, policy_mode="managed"):
        self.iam = iam
        self.policy_mode = policy_mode
        self._lock = threading.Lock()
        self._listed = None
        self._ensured = {}
        self._ensure_lock = threading.Lock()

    def _list_all(self, method, key, **request):
        """Every item of a paginated IAM list call."""
        items = []
        while True:
            page = method(**request)
            items += page.get(key, [])
            if not page.get("IsTruncated") or not page.get("Marker"):
                return items
            request["Marker"] = page["Marker"]

    def listed(self):
        """(user names, {managed policy name: (arn, default version id)}) as the server had them
        when first asked: two requests for the whole call instead of one per tenant. A call touches
        each tenant once, so what it changes itself never needs to be read back."""
        with self._lock:
            if self._listed is None:
                users = set(u["UserName"] for u in self._list_all(self.iam.list_users, "Users"))
                policies = {}
                if self.policy_mode in ("managed", "shared"):
                    for policy in self._list_all(self.iam.list_policies, "Policies", Scope="Local"):
                        policies[policy["PolicyName"]] = (policy["Arn"], policy.get("DefaultVersionId") or "v1")
                self._listed = (users, policies)
            return self._listed

    def read(self, user, policy_name):
        """Current state: exists, access key ids, inline policy names, attached managed policies
        (name -> arn), our policy document, and (managed) our policy's arn or None. With
        ``shared``, ``policy_arn`` is the tenant's own policy of the managed mode, if one is left, and
        the documents are read once per call by :meth:`ensure_policy`."""
        managed = self.policy_mode in ("managed", "shared")
        users, policies = self.listed()
        ours = policies.get(policy_name) if managed else None
        state = {"exists": user in users, "access_keys": [], "policy_names": [], "attached": {}, "policy": None,
                 "policy_arn": ours[0] if ours else None}
        if state["exists"]:
            state["access_keys"] = sorted(
                k["AccessKeyId"] for k in self.iam.list_access_keys(UserName=user)["AccessKeyMetadata"])
            state["policy_names"] = self.iam.list_user_policies(UserName=user).get("PolicyNames", [])
            state["attached"] = dict(
                (p["PolicyName"], p["PolicyArn"])
                for p in self.iam.list_attached_user_policies(UserName=user).get("AttachedPolicies", []))
        if self.policy_mode == "managed" and ours:
            version = self.iam.get_policy_version(PolicyArn=ours[0], VersionId=ours[1])["PolicyVersion"]
            state["policy"] = parse_policy(version["Document"])
        elif not managed and policy_name in state["policy_names"]:
            state["policy"] = parse_policy(
                self.iam.get_user_policy(UserName=user, PolicyName=policy_name)["PolicyDocument"])
        return state

    def ensure_policy(self, name, document, plan):
        """The arn of managed policy ``name`` with ``document``, made or updated through ``plan`` by
        the first tenant of the call that needs it (the others share it: read and written once)."""
        with self._ensure_lock:
            if name not in self._ensured:
                arn, current_document = None, None
                ours = self.listed()[1].get(name)
                if ours is not None:
                    arn = ours[0]
                    version = self.iam.get_policy_version(PolicyArn=arn, VersionId=ours[1])["PolicyVersion"]
                    current_document = parse_policy(version["Document"])
                self._ensured[name] = iam_managed_policy(self, plan, name, arn, current_document, document)
            return self._ensured[name]

    def create_access_key(self, user):
        key = self.iam.create_access_key(UserName=user)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def create_policy(self, name, document):
        return self.iam.create_policy(PolicyName=name, PolicyDocument=document)["Policy"]["Arn"]

    def update_policy(self, arn, document):
        """A new default version of managed policy ``arn`` (AWS keeps at most 5: the oldest
        non-default one goes first)."""
        versions = self.iam.list_policy_versions(PolicyArn=arn).get("Versions", [])
        old = sorted((v for v in versions if not v.get("IsDefaultVersion")), key=lambda v: str(v.get("CreateDate")))
        if len(versions) >= 5 and old:
            self.iam.delete_policy_version(PolicyArn=arn, VersionId=old[0]["VersionId"])
        self.iam.create_policy_version(PolicyArn=arn, PolicyDocument=document, SetAsDefault=True)


def iam_policy_name(params, tenant):
    """Name of the tenant's policy: the inline policy's, or (managed) ``<policy_name>-<tenant id>``
    since managed policies belong to the account, not to the user."""
    if params["iam_policy"] in ("managed", "shared"):
        return "%s-%s" % (params["policy_name"], tenant["id"])
    return params["policy_name"]


def iam_shared_policies(params, tenant):
    """With ``iam_policy=shared``: {policy name: document} a tenant has. A user: the one policy
    of every user (its own prefix through ``${aws:username}``) and one per group; a group
    identity: its group's policy, the same one its members have."""
    if tenant["kind"] == "group":
        return {iam_policy_name(params, tenant): tenant_policy(params["name"], "group", bucket=params["bucket"])}
    policies = {params["policy_name"]: shared_user_policy(params["bucket"])}
    for group in params["groups"]:
        group_tenant = tenant_for(group, "group")
        policies[iam_policy_name(params, group_tenant)] = tenant_policy(group, "group", bucket=params["bucket"])
    return policies


def iam_present_keys(store, params, tenant, plan, current):
    """The keys stage of a present IAM tenant: the user and its one key. Returns what the
    policy stage needs."""
    user = tenant["s3_user"]
    policy_name = iam_policy_name(params, tenant)
    result = {"access_key": None, "secret_key": None, "key_created": False}
    if not current["exists"]:
        plan.do("create_user %s" % user, store.iam.create_user, UserName=user)

    keys = current["access_keys"]
    held = params["access_key"]
    if params["rotate_key"] or not keys or (held and held not in keys):
        created = plan.do("create_access_key %s" % user, store.create_access_key, user)
        result["access_key"], result["secret_key"] = created or (None, None)
        result["key_created"] = True
        obsolete = keys if (params["rotate_key"] or held) else []
        kept = [result["access_key"] or NEW_KEY_PLACEHOLDER]
    elif held:
        result["access_key"] = held
        obsolete = [k for k in keys if k != held]
        kept = [held]
    else:
        result["access_key"] = keys[0]
        obsolete = []
        kept = keys
    for key in obsolete:
        plan.do("delete_access_key %s %s" % (user, key), store.iam.delete_access_key, UserName=user, AccessKeyId=key)
    return {"current": current, "result": result, "kept": kept, "policy_name": policy_name}


def iam_managed_policy(store, plan, name, arn, current_document, document):
    """Managed policy ``name`` (``arn``, or None if the server has none) brought to ``document``
    through ``plan``; returns its arn ("" when check mode would create it)."""
    if arn is None:
        arn = plan.do("create_policy %s" % name, store.create_policy, name, canonical_policy_json(document))
    elif policies_differ(current_document, document):
        plan.do("create_policy_version %s" % name, store.update_policy, arn, canonical_policy_json(document))
    return arn or ""


def iam_present_policy(store, params, tenant, desired_policy, plan, stage1):
    """The policy stage of a present IAM tenant: its policies attached (managed: its own; shared: the
    ones the ``shared`` stage made) or put inline, every other policy of the user removed (any other
    could grant more than the tenant's prefixes). Returns (result, diff before, diff after)."""
    user, mode = tenant["s3_user"], params["iam_policy"]
    current, policy_name = stage1["current"], stage1["policy_name"]
    if mode == "shared":
        attach = stage1["shared_arns"]
    elif mode == "managed":
        # CreatePolicy/CreatePolicyVersion/AttachUserPolicy write one policy or user record on
        # SeaweedFS; PutUserPolicy rewrites every identity (see the module's notes)
        attach = {policy_name: iam_managed_policy(store, plan, policy_name, current["policy_arn"],
                                                  current["policy"], desired_policy)}
    else:
        attach = {}
        if policies_differ(current["policy"], desired_policy):
            plan.do("put_user_policy %s %s" % (user, policy_name), store.iam.put_user_policy,
                    UserName=user, PolicyName=policy_name, PolicyDocument=canonical_policy_json(desired_policy))
    inline = [policy_name] if mode == "inline" else []
    for name in sorted(attach):
        if name not in current["attached"]:
            plan.do("attach_user_policy %s %s" % (user, name), store.iam.attach_user_policy,
                    UserName=user, PolicyArn=attach[name])
    for name in current["policy_names"]:
        if name not in inline:
            plan.do("delete_user_policy %s %s" % (user, name), store.iam.delete_user_policy,
                    UserName=user, PolicyName=name)
    for name, other_arn in sorted(current["attached"].items()):
        if name not in attach:
            plan.do("detach_user_policy %s %s" % (user, name), store.iam.detach_user_policy,
                    UserName=user, PolicyArn=other_arn)
    # shared: the tenant's own policy of the managed mode goes once detached
    if current["policy_arn"] and mode == "shared" and policy_name not in attach:
        plan.do("delete_policy %s" % policy_name, store.iam.delete_policy, PolicyArn=current["policy_arn"])
    before = {"user": user if current["exists"] else None, "access_keys": current["access_keys"],
              "policy_names": current["policy_names"], "attached_policies": sorted(current["attached"])}
    after = {"user": user, "access_keys": sorted(stage1["kept"]), "policy_names": inline,
             "attached_policies": sorted(attach)}
    if mode != "shared":  # with shared, the policies' documents are the call's, not the tenant's
        before["policy"], after["policy"] = canonical_policy(current["policy"]), canonical_policy(desired_policy)
    return stage1["result"], before, after


def iam_absent(store, params, tenant, plan, current):
    user = tenant["s3_user"]
    policy_name = iam_policy_name(params, tenant)
    before = {"user": user if current["exists"] else None, "access_keys": current["access_keys"],
              "policy_names": current["policy_names"], "attached_policies": sorted(current["attached"]),
              "policy": canonical_policy(current["policy"])}
    if current["exists"]:
        for key in current["access_keys"]:
            plan.do("delete_access_key %s %s" % (user, key), store.iam.delete_access_key,
                    UserName=user, AccessKeyId=key)
        # IAM refuses to delete a user that still has inline or attached policies
        for name in current["policy_names"]:
            plan.do("delete_user_policy %s %s" % (user, name), store.iam.delete_user_policy,
                    UserName=user, PolicyName=name)
        for name, arn in sorted(current["attached"].items()):
            plan.do("detach_user_policy %s %s" % (user, name), store.iam.detach_user_policy,
                    UserName=user, PolicyArn=arn)
        plan.do("delete_user %s" % user, store.iam.delete_user, UserName=user)
    # the tenant's own managed policy (named after it) goes with it
    if current["policy_arn"]:
        plan.do("delete_policy %s" % policy_name, store.iam.delete_policy, PolicyArn=current["policy_arn"])
    after = {"user": None, "access_keys": [], "policy_names": [], "attached_policies": [], "policy": None}
    return {"access_key": None, "secret_key": None, "key_created": False}, before, after


# ---------------------------------------------------------- MinIO admin API

def minio_not_found(err):
    """Whether a MinIO admin error means 'no such user/policy'."""
    text = str(err)
    return isinstance(err, MinioAdminException) and (
        getattr(err, "_code", None) == "404" or "NoSuch" in text or "Status: 404" in text)


class MinioTenantStore:
    """Tenant users through the MinIO admin API (``minio.MinioAdmin``)."""

    def __init__(self, admin):
        self.admin = admin

    def read(self, user, policy_name):
        try:
            info = json.loads(self.admin.user_info(user))
        except MinioAdminException as err:
            if not minio_not_found(err):
                raise
            info = None
        try:
            policy = parse_policy(self.admin.policy_info(policy_name))
        except MinioAdminException as err:
            if not minio_not_found(err):
                raise
            policy = None
        attached = [p for p in ((info or {}).get("policyName") or "").split(",") if p]
        return {"exists": info is not None, "enabled": (info or {}).get("status") == "enabled",
                "attached": attached, "policy": policy,
                "service_accounts": self.service_accounts(user) if info is not None else []}

    def service_accounts(self, user):
        """Access keys of the user's service accounts (madmin answers a list of
        objects with accessKey; releases before 2023 a list of strings)."""
        accounts = json.loads(self.admin.list_service_account(user) or "{}").get("accounts") or []
        return sorted(a if isinstance(a, str) else a["accessKey"] for a in accounts)


def minio_policy_name(params, tenant):
    return "%s-%s" % (params["policy_name"], tenant["id"])


def minio_present(store, params, tenant, desired_policy, plan, current):
    user = tenant["s3_user"]
    policy_name = minio_policy_name(params, tenant)
    result = {"access_key": user, "secret_key": None, "key_created": False}
    admin = store.admin
    if not current["exists"]:
        secret = params["secret_key"] or secrets.token_urlsafe(30)
        plan.do("user_add %s" % user, admin.user_add, user, secret)
        result["key_created"] = True
        if not params["secret_key"]:
            result["secret_key"] = secret
    else:
        if params["update_secret"] == "always" and params["secret_key"]:
            plan.do("user_add %s (set secret)" % user, admin.user_add, user, params["secret_key"])
        if not current["enabled"]:
            plan.do("user_enable %s" % user, admin.user_enable, user)
    if policies_differ(current["policy"], desired_policy):
        plan.do("policy_add %s" % policy_name, admin.policy_add, policy_name, policy=canonical_policy(desired_policy))
    if policy_name not in current["attached"]:
        plan.do("attach_policy %s %s" % (policy_name, user), admin.attach_policy, [policy_name], user=user)
    # any other attached policy (readwrite, ...) could grant more than the tenant's prefixes
    others = [name for name in current["attached"] if name != policy_name]
    if others:
        plan.do("detach_policy %s %s" % (",".join(others), user), admin.detach_policy, others, user=user)
    # a service account is a key the workbench did not make: it would outlive rotation
    for access_key in current["service_accounts"]:
        plan.do("delete_service_account %s (of %s)" % (access_key, user), admin.delete_service_account, access_key)
    before = {"user": user if current["exists"] else None, "enabled": current["enabled"],
              "attached_policies": current["attached"], "policy": canonical_policy(current["policy"]),
              "service_accounts": current["service_accounts"]}
    after = {"user": user, "enabled": True, "attached_policies": [policy_name],
             "policy": canonical_policy(desired_policy), "service_accounts": []}
    return result, before, after


def minio_absent(store, params, tenant, plan, current):
    user = tenant["s3_user"]
    policy_name = minio_policy_name(params, tenant)
    if current["exists"]:
        plan.do("user_remove %s" % user, store.admin.user_remove, user)
    if current["policy"] is not None:
        plan.do("policy_remove %s" % policy_name, store.admin.policy_remove, policy_name)
    before = {"user": user if current["exists"] else None, "enabled": current["enabled"],
              "attached_policies": current["attached"], "policy": canonical_policy(current["policy"])}
    after = {"user": None, "enabled": False, "attached_policies": [], "policy": None}
    return {"access_key": None, "secret_key": None, "key_created": False}, before, after


# ------------------------------------------------------------------- module

def input_problem(params):
    """Why the options of one tenant cannot work together (checked before any request), or None."""
    try:
        validate_name(params["name"], params["kind"])
        for group in params["groups"]:
            validate_name(group, "group")
    except TenantNameError as err:
        return str(err)
    problem = bucket_name_problem(params["bucket"])
    if problem:
        return problem
    if params["kind"] == "group" and params["groups"]:
        return "groups can only be given with kind=user"
    if params["backend"] == "iam" and params["secret_key"]:
        return ("secret_key cannot be used with backend=iam: the IAM API generates the secret of a "
                "new key (it is returned once as secret_key); pass access_key to keep an existing key")
    if params["backend"] == "minio":
        if params["access_key"] and params["access_key"] != tenant_for(params["name"], params["kind"])["s3_user"]:
            return ("with backend=minio the access key is the tenant id %r; access_key %r differs"
                    % (tenant_for(params["name"], params["kind"])["s3_user"], params["access_key"]))
        if params["rotate_key"]:
            return "rotate_key is for backend=iam; with backend=minio use secret_key and update_secret=always"
    return None


def tenant_requests(params):
    """The per-tenant parameters of every entry of ``params['tenants']``, groups first.

    Raises ValueError naming every refused entry, before any request is made."""
    problems, requests, seen = [], [], set()
    if params["parallel"] < 1:
        problems.append("parallel must be at least 1, got %d" % params["parallel"])
    for number, entry in enumerate(params["tenants"]):
        request = dict(params, tenants=None)
        # per-tenant rotation when given, else the call's own setting
        request.update((key, value) for key, value in entry.items()
                       if value is not None or key not in ("rotate_key", "update_secret"))
        request["groups"] = request["groups"] or []
        problem = input_problem(request)
        if problem:
            problems.append("tenants[%d] (%s): %s" % (number, entry["name"], problem))
            continue
        tenant_id = tenant_for(request["name"], request["kind"])["id"]
        if tenant_id in seen:
            problems.append("tenants[%d]: tenant %s is listed twice" % (number, tenant_id))
        seen.add(tenant_id)
        requests.append(request)
    if problems:
        raise ValueError("s3_tenant refused the tenants list, nothing was changed:\n- " + "\n- ".join(problems))
    return sorted(requests, key=lambda request: request["kind"] != "group")


class TenantRun:
    """One tenant brought to ``params['state']`` in stages (see :func:`run_many`).

    ``read`` reads the tenant's state; ``keys`` makes the user and its key (a present IAM
    tenant), or does all of it (MinIO); ``shared`` makes the policies tenants share
    (``iam_policy=shared``); ``policy`` then gives a present IAM tenant its policy; ``remove``
    removes an absent IAM tenant (after the others' policies, so that a group's policy is
    detached from its former members before it is deleted)."""

    def __init__(self, params, store, check_mode):
        self.params, self.store = params, store
        self.tenant = tenant_for(params["name"], params["kind"])
        self.plan = Plan(check_mode)
        self.desired_policy = None
        if params["state"] == "present":
            self.desired_policy = tenant_policy(params["name"], params["kind"], params["groups"], params["bucket"],
                                                params["backend"])
        self.current = self.stage1 = self.outcome = None

    def read(self):
        policy_name = (iam_policy_name if self.params["backend"] == "iam" else minio_policy_name)(
            self.params, self.tenant)
        self.current = self.store.read(self.tenant["s3_user"], policy_name)

    def keys(self):
        params, store, tenant, plan, current = self.params, self.store, self.tenant, self.plan, self.current
        if params["state"] == "present" and params["backend"] == "iam":
            self.stage1 = iam_present_keys(store, params, tenant, plan, current)
        elif params["state"] == "present":
            self.outcome = minio_present(store, params, tenant, self.desired_policy, plan, current)
        elif params["backend"] == "minio":
            self.outcome = minio_absent(store, params, tenant, plan, current)

    def shared(self):
        if self.stage1 is not None and self.params["iam_policy"] == "shared":
            self.stage1["shared_arns"] = dict(
                (name, self.store.ensure_policy(name, document, self.plan))
                for name, document in sorted(iam_shared_policies(self.params, self.tenant).items()))

    def policy(self):
        if self.stage1 is not None:
            self.outcome = iam_present_policy(self.store, self.params, self.tenant, self.desired_policy,
                                              self.plan, self.stage1)

    def remove(self):
        if self.params["state"] == "absent" and self.params["backend"] == "iam":
            self.outcome = iam_absent(self.store, self.params, self.tenant, self.plan, self.current)

    def result(self):
        """The module result of this tenant."""
        params = self.params
        outcome, before, after = self.outcome
        result = dict(
            changed=self.plan.changed,
            actions=self.plan.actions,
            tenant={"id": self.tenant["id"], "kind": self.tenant["kind"], "s3_user": self.tenant["s3_user"],
                    "bucket": params["bucket"],
                    "prefixes": tenant_prefixes(params["name"], params["kind"], params["groups"])},
            diff={"before": before, "after": after},
            **outcome
        )
        if self.desired_policy is not None:
            result["policy"] = canonical_policy(self.desired_policy)
        return result


# the order of the stages; ``shared`` runs one tenant at a time (groups first), the others in the pool
STAGES = ("read", "keys", "shared", "policy", "remove")


def run(params, store, check_mode):
    """Bring one tenant to ``params['state']`` in ``store``; returns the module result."""
    tenant_run = TenantRun(params, store, check_mode)
    for stage in STAGES:
        getattr(tenant_run, stage)()
    return tenant_run.result()


def failed_result(err, tenant_run):
    """A tenant's result when a stage raised: ``failed``/``msg`` (the others go on)."""
    message = describe_error(err, tenant_run.params["endpoint_url"])
    if not is_client_error(err):
        message += "\n" + traceback.format_exc()
    # the steps before the failure were made (or, in check mode, would be)
    return {"failed": True, "msg": message, "changed": tenant_run.plan.changed, "actions": tenant_run.plan.actions,
            "error": err}


def run_stage(tenant_run, stage):
    """One stage of one tenant of a bulk call: None, or its failed result (a failure must not
    stop the others, so that their new keys are kept)."""
    try:
        getattr(tenant_run, stage)()
        return None
    # reported per tenant, so that the others' new keys are kept
    except Exception as err:  # pylint: disable=broad-except
        return failed_result(err, tenant_run)


def run_many(requests, store, check_mode, parallel):
    """Every tenant of ``requests`` in a pool of ``parallel`` threads; returns the module result.

    Stage by stage: every tenant's state is read, then every tenant's user and key are made,
    then the shared policies (one tenant at a time, in order, so each is made by the first tenant
    that needs it, as with one call per tenant), then every tenant's policy, then the absent
    tenants are removed. On SeaweedFS each access-key write saves every identity, and
    each saved identity makes the server reload the policies of every identity that has one
    attached: keys written before any policy is attached cost 40 ms each for 200 users instead
    of 2 s, and reads made before that reload storm are not slowed by it (benchmarks/README.md).
    The first tenant's read runs alone: if the endpoint itself is the problem (unreachable,
    admin keys refused), the call stops there instead of failing every tenant in turn."""
    runs = [TenantRun(request, store, check_mode) for request in requests]
    failures = {}
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for stage in STAGES:
            pending = [number for number in range(len(runs)) if number not in failures]
            if stage == "read" and pending:
                first = run_stage(runs[pending[0]], stage)
                if first and is_endpoint_error(first["error"]):
                    raise first["error"]
                if first:
                    failures[pending[0]] = first
                pending = pending[1:]
            step = map if stage == "shared" else pool.map
            for number, failure in zip(pending, step(lambda number: run_stage(runs[number], stage), pending)):
                if failure:
                    failures[number] = failure

    tenants, failed, diff = {}, [], {"before": {}, "after": {}}
    for number, tenant_run in enumerate(runs):
        tenant_id = tenant_run.tenant["id"]
        result = failures.get(number) or tenant_run.result()
        result.pop("error", None)
        if result.get("failed"):
            failed.append(tenant_id)
        tenant_diff = result.pop("diff", None)
        if tenant_diff:
            diff["before"][tenant_id] = tenant_diff["before"]
            diff["after"][tenant_id] = tenant_diff["after"]
        if result.get("secret_key") is None:
            result.pop("secret_key", None)
        tenants[tenant_id] = result
    return {
        "changed": any(result["changed"] for result in tenants.values()),
        "tenants": tenants,
        "failed_tenants": failed,
        "actions": [action for result in tenants.values() for action in result["actions"]],
        "diff": diff,
    }


def failure_message(result):
    """One message naming each failed tenant of a bulk result and why."""
    failed = result["failed_tenants"]
    return "s3_tenant failed for %d of %d tenants (the others were done; their results are in tenants): %s" % (
        len(failed), len(result["tenants"]),
        "; ".join("%s: %s" % (tenant_id, result["tenants"][tenant_id]["msg"]) for tenant_id in failed))


def tenant_store(params):
    if params["backend"] == "iam":
        # one HTTP connection per worker thread (botocore's pool holds 10 by default)
        return IamTenantStore(boto3_client(params, "iam", max_pool_connections=max(10, params["parallel"])),
                              params["iam_policy"])
    return MinioTenantStore(minio_admin_client(params, max_pool_connections=max(10, params["parallel"])))


def main():
    tenant_options = dict(
        name=dict(type="str", required=True),
        kind=dict(type="str", choices=["user", "group"], default="user"),
        groups=dict(type="list", elements="str", default=[]),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        access_key=dict(type="str", no_log=False),
        secret_key=dict(type="str", no_log=True),
        rotate_key=dict(type="bool"),
        update_secret=dict(type="str", choices=["on_create", "always"]),
    )
    argument_spec = object_store_argument_spec(
        name=dict(type="str"),
        kind=dict(type="str", choices=["user", "group"], default="user"),
        groups=dict(type="list", elements="str", default=[]),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        backend=dict(type="str", choices=["iam", "minio"], default="iam"),
        bucket=dict(type="str", default="mlflow"),
        policy_name=dict(type="str", default="workbench-tenant"),
        iam_policy=dict(type="str", choices=["managed", "inline", "shared"], default="managed"),
        access_key=dict(type="str", no_log=False),
        secret_key=dict(type="str", no_log=True),
        update_secret=dict(type="str", choices=["on_create", "always"], default="on_create"),
        rotate_key=dict(type="bool", default=False),
        tenants=dict(type="list", elements="dict", options=tenant_options),
        parallel=dict(type="int", default=8),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=[("name", "tenants")],
                           required_one_of=[("name", "tenants")])
    params = module.params
    bulk = params["tenants"] is not None

    if bulk:
        try:
            requests = tenant_requests(params)
        except ValueError as err:
            module.fail_json(msg=str(err), changed=False)
    else:
        problem = input_problem(params)
        if problem:
            module.fail_json(msg=problem)
    if params["backend"] == "iam" and not HAS_BOTO3:
        module.fail_json(msg=missing_required_lib("boto3"), exception=str(BOTO3_IMPORT_ERROR))
    if params["backend"] == "minio" and not HAS_MINIO:
        module.fail_json(msg=missing_required_lib("minio"), exception=str(MINIO_IMPORT_ERROR))

    def work():
        store = tenant_store(params)
        if bulk:
            return run_many(requests, store, module.check_mode, params["parallel"])
        return run(params, store, module.check_mode)

    def finish(result):
        if result.get("failed_tenants"):
            module.fail_json(msg=failure_message(result), **result)

    run_and_exit(module, work, finish)


if __name__ == "__main__":
    main()
