"""Pod Security Standards, "restricted" profile (Kubernetes 1.35), checked on a rendered pod spec.

The checks of https://kubernetes.io/docs/concepts/security/pod-security-standards/
that a manifest can fail: baseline's host namespaces, privileged, capabilities,
hostPath/hostPort, and restricted's volume types, privilege escalation,
non-root, seccomp and capabilities. ``restricted_problems(pod_spec)`` lists
every violation with where it is; an empty list means the pod is admitted.
"""

RESTRICTED_VOLUME_TYPES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                           "persistentVolumeClaim", "projected", "secret"}
SECCOMP_ALLOWED = {"RuntimeDefault", "Localhost"}


def _all_containers(pod_spec):
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for container in pod_spec.get(kind) or []:
            yield "%s[%s]" % (kind, container.get("name")), container


def restricted_problems(pod_spec):
    """Why ``pod_spec`` would be refused by a namespace enforcing "restricted"."""
    problems = []
    pod_context = pod_spec.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(field):
            problems.append("%s is set" % field)
    for volume in pod_spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            problems.append("volume %s is of type %s" % (volume.get("name"), ", ".join(sorted(kinds))))
    if pod_context.get("runAsUser") == 0:
        problems.append("pod runAsUser is 0")
    pod_seccomp = (pod_context.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in SECCOMP_ALLOWED:
        problems.append("pod seccompProfile is %s" % pod_seccomp)
    for where, container in _all_containers(pod_spec):
        context = container.get("securityContext") or {}
        if context.get("privileged"):
            problems.append("%s is privileged" % where)
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append("%s: allowPrivilegeEscalation is not false" % where)
        if not context.get("runAsNonRoot", pod_context.get("runAsNonRoot")):
            problems.append("%s: runAsNonRoot is not true (pod or container)" % where)
        if context.get("runAsUser") == 0:
            problems.append("%s: runAsUser is 0" % where)
        seccomp = (context.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in SECCOMP_ALLOWED:
            problems.append("%s: seccompProfile is %s, not RuntimeDefault or Localhost" % (where, seccomp))
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append("%s: capabilities do not drop ALL" % where)
        added = set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}
        if added:
            problems.append("%s adds capabilities %s" % (where, ", ".join(sorted(added))))
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                problems.append("%s uses hostPort %s" % (where, port["hostPort"]))
    return problems


def workload_pod_specs(docs):
    """{kind/name: pod spec} of every workload among ``docs`` (Pods, Deployments, StatefulSets, DaemonSets, Jobs)."""
    specs = {}
    for doc in docs:
        kind, name = doc.get("kind"), doc.get("metadata", {}).get("name")
        if kind == "Pod":
            specs["%s/%s" % (kind, name)] = doc["spec"]
        elif kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
            specs["%s/%s" % (kind, name)] = doc["spec"]["template"]["spec"]
        elif kind == "CronJob":
            specs["%s/%s" % (kind, name)] = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return specs
