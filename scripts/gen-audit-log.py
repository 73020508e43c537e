#!/usr/bin/env python3
"""Generate a realistic, deterministic EKS control-plane audit log for benchmarking
eks-access-watch on the Kubernetes plane (the companion of scripts/gen-archive.py).

Usage
-----
    python3 scripts/gen-audit-log.py --out DIR [--size 1GiB] [--files 8] [--seed 42]
                                     [--change-ratio 0.00005] [--gzip both|plain|gz]

    python3 scripts/gen-audit-log.py --out /tmp/audit-bench
    time eks-access-watch replay --cluster prod --summary --format ndjson /tmp/audit-bench/plain > /dev/null

What it writes
--------------
    DIR/plain/kube-apiserver-audit-<n>.ndjson      one audit.k8s.io/v1 Event per line
    DIR/gz/kube-apiserver-audit-<n>.ndjson.gz      the same bytes, gzipped (level 3)
    DIR/manifest.json                              counts, including the watched changes

Lines are what the API server writes: compact JSON with the Event's fields in its order (kind,
apiVersion, level, auditID, stage, requestURI, verb, user, sourceIPs, userAgent, objectRef,
responseStatus, [requestObject, responseObject,] requestReceivedTimestamp, stageTimestamp,
annotations), Go's escaping of `&`, `<`, `>` as \\u0026, \\u003c, \\u003e, and escaped quotes in
the RBAC authorization reasons, as EKS logs them.

The mix, for a 40-node cluster: kubelets renewing leases and patching pod and node status,
getting and watching their pods, secrets and configmaps; controller-manager controllers and
the scheduler listing and watching everything (leader election through leases); CoreDNS,
aws-node and kube-proxy watching endpoint slices and services; token and subject access reviews;
people with kubectl getting pods, logs and events; workloads created with their full objects
(RequestResponse, several KB); list/watch of RoleBindings and reads of aws-auth, which contain the
watched names but change nothing (the byte pre-filter lets them through to a parse).
Watched changes (--change-ratio of lines, default 1 in 20,000): aws-auth updates and patches and
ClusterRoleBinding/RoleBinding creates, patches and deletions, by Terraform, people and Argo CD.
`watched_changes` in the manifest is the number of alerts `replay` must report.

Determinism: one random.Random(seed); times advance by line number from 2026-11-20T00:00:00Z;
gzip with mtime 0. Standard library only.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import sys
import time
from datetime import datetime, timedelta, timezone

ACCOUNT = "111122223333"
START = datetime(2026, 11, 20, tzinfo=timezone.utc)
NODES = [f"ip-10-0-{i // 8}-{10 + i * 7 % 240}.eu-west-1.compute.internal" for i in range(40)]
R: random.Random

VERSION = "v1.31.2 (linux/amd64) kubernetes/5864a46"


def go_json(obj) -> str:
    """Compact JSON with Go's encoding/json escapes for &, < and >."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def node_user(node: str) -> dict:
    return {"username": f"system:node:{node}", "uid": f"aws-iam-authenticator:{ACCOUNT}:AROAQ3EXAMPLENODEROLE",
            "groups": ["system:bootstrappers", "system:nodes", "system:authenticated"],
            "extra": {"accessKeyId": ["ASIAQ3EXAMPLE" + "%07d" % (NODES.index(node) * 7919 % 10**7)],
                      "arn": [f"arn:aws:sts::{ACCOUNT}:assumed-role/eks-node-role/i-0{NODES.index(node):015x}"],
                      "canonicalArn": [f"arn:aws:iam::{ACCOUNT}:role/eks-node-role"],
                      "principalId": ["AROAQ3EXAMPLENODEROLE"],
                      "sessionName": [f"i-0{NODES.index(node):015x}"]}}


def sa_user(ns: str, name: str) -> dict:
    return {"username": f"system:serviceaccount:{ns}:{name}", "uid": "%08x-1b7f-4e39-8c55-2f9a1e7d3b60" % (hash(name) & 0xffffffff),
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]}


def iam_user(role: str, session: str) -> dict:
    return {"username": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{{{{SessionName}}}}",
            "uid": f"aws-iam-authenticator:{ACCOUNT}:AROAQ3EXAMPLE{role.upper()[:8]}",
            "groups": ["system:authenticated"],
            "extra": {"accessKeyId": ["ASIAQ3EXAMPLEKEY0001"], "arn": [f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"],
                      "canonicalArn": [f"arn:aws:iam::{ACCOUNT}:role/{role}"], "principalId": ["AROAQ3EXAMPLEPRINCIPAL"],
                      "sessionName": [session]}}


def rbac_reason(kind: str, name: str, role: str, subject: str) -> str:
    return f'RBAC: allowed by {kind} "{name}" of ClusterRole "{role}" to {subject}'


def event(level, verb, uri, user, ua, ref, code=200, req=None, resp=None, ip="10.0.0.12", reason="", stage="ResponseComplete"):
    e = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level, "auditID": "@@id@@", "stage": stage,
         "requestURI": uri, "verb": verb, "user": user, "sourceIPs": [ip], "userAgent": ua, "objectRef": ref,
         "responseStatus": {"metadata": {}, "code": code}}
    if req is not None:
        e["requestObject"] = req
    if resp is not None:
        e["responseObject"] = resp
    e["requestReceivedTimestamp"] = "@@t1@@"
    e["stageTimestamp"] = "@@t2@@"
    e["annotations"] = {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": reason}
    return e


def pod_object(ns: str, name: str) -> dict:
    return {"kind": "Pod", "apiVersion": "v1", "metadata": {"generateName": name[:-5], "namespace": ns,
            "labels": {"app.kubernetes.io/name": name.split("-")[0], "pod-template-hash": "7d9f8c6b5"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name[:-6], "uid": "3c7e1a52-8b4d-4f06-a9d1-5e2b7c9f0a14", "controller": True, "blockOwnerDeletion": True}]},
            "spec": {"volumes": [{"name": "kube-api-access", "projected": {"sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}, {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}],
                     "containers": [{"name": "app", "image": f"111122223333.dkr.ecr.eu-west-1.amazonaws.com/{ns}/app:1.42.{R.randint(0, 9)}",
                                     "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                                     "env": [{"name": k, "value": v} for k, v in (("LOG_LEVEL", "info"), ("REGION", "eu-west-1"), ("FEATURES", "a,b,c<d>&e"))],
                                     "resources": {"limits": {"memory": "512Mi"}, "requests": {"cpu": "250m", "memory": "256Mi"}},
                                     "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 10}}],
                     "restartPolicy": "Always", "serviceAccountName": "default", "securityContext": {"runAsNonRoot": True}}}


NAMESPACES = ["payments", "checkout", "search", "ledger", "notifications", "identity", "monitoring", "argocd"]
RESOURCES = ["pods", "services", "endpoints", "configmaps", "secrets", "deployments", "replicasets", "events", "nodes", "persistentvolumeclaims"]


def reads() -> list[tuple[float, dict]]:
    """Weighted templates of the routine traffic (nothing watched)."""
    t: list[tuple[float, dict]] = []
    kcm = "kube-controller-manager/" + VERSION + "/system:serviceaccount:kube-system:{}"
    for node in NODES:
        nu = node_user(node)
        t.append((4.0, event("Metadata", "update", f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}?timeout=10s", nu,
                             "kubelet/" + VERSION, {"resource": "leases", "namespace": "kube-node-lease", "name": node, "apiGroup": "coordination.k8s.io", "apiVersion": "v1"},
                             reason="")))
        t.append((1.0, event("Request", "patch", f"/api/v1/nodes/{node}/status?timeout=10s", nu, "kubelet/" + VERSION,
                             {"resource": "nodes", "name": node, "apiVersion": "v1", "subresource": "status"},
                             req={"status": {"$setElementOrder/conditions": [{"type": t} for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")],
                                             "conditions": [{"lastHeartbeatTime": "2026-11-20T00:00:00Z", "type": "Ready"}]}})))
        t.append((0.6, event("Request", "watch", f"/api/v1/pods?allowWatchBookmarks=true&fieldSelector=spec.nodeName%3D{node}&resourceVersion=48102&timeoutSeconds=536&watch=true",
                             nu, "kubelet/" + VERSION, {"resource": "pods", "apiVersion": "v1"})))
        ns = R.choice(NAMESPACES)
        t.append((0.8, event("Metadata", "get", f"/api/v1/namespaces/{ns}/secrets/app-credentials", nu, "kubelet/" + VERSION,
                             {"resource": "secrets", "namespace": ns, "name": "app-credentials", "apiVersion": "v1"})))
        t.append((0.5, event("Metadata", "get", f"/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt", nu, "kubelet/" + VERSION,
                             {"resource": "configmaps", "namespace": ns, "name": "kube-root-ca.crt", "apiVersion": "v1"})))
    for ctl, res in (("replicaset-controller", "replicasets"), ("deployment-controller", "deployments"), ("endpointslice-controller", "endpointslices"),
                     ("node-lifecycle-controller", "nodes"), ("garbage-collector", "pods"), ("horizontal-pod-autoscaler", "horizontalpodautoscalers"),
                     ("job-controller", "jobs"), ("daemon-set-controller", "daemonsets"), ("namespace-controller", "namespaces")):
        user = sa_user("kube-system", ctl)
        t.append((2.0, event("Request", R.choice(["list", "watch"]), f"/apis/apps/v1/{res}?allowWatchBookmarks=true&resourceVersion=48102&timeout=9m12s&timeoutSeconds=552&watch=true",
                             user, kcm.format(ctl), {"resource": res, "apiGroup": "apps", "apiVersion": "v1"},
                             reason=rbac_reason("ClusterRoleBinding", f"system:controller:{ctl}", f"system:controller:{ctl}", f'ServiceAccount "{ctl}/kube-system"'))))
        ns = R.choice(NAMESPACES)
        t.append((1.5, event("Request", "update", f"/apis/apps/v1/namespaces/{ns}/{res}/app-7d9f8c6b5/status", user, kcm.format(ctl),
                             {"resource": res, "namespace": ns, "name": "app-7d9f8c6b5", "apiGroup": "apps", "apiVersion": "v1", "subresource": "status"},
                             req={"kind": "ReplicaSet", "apiVersion": "apps/v1", "metadata": {"name": "app-7d9f8c6b5", "namespace": ns, "resourceVersion": "48102"},
                                  "status": {"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3, "availableReplicas": 3, "observedGeneration": 12}},
                             reason=rbac_reason("ClusterRoleBinding", f"system:controller:{ctl}", f"system:controller:{ctl}", f'ServiceAccount "{ctl}/kube-system"'))))
    for comp in ("kube-controller-manager", "kube-scheduler", "cloud-controller-manager"):
        t.append((3.0, event("Metadata", "update", f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{comp}?timeout=5s",
                             {"username": f"system:{comp}", "groups": ["system:authenticated"]}, f"{comp}/" + VERSION + "/leader-election",
                             {"resource": "leases", "namespace": "kube-system", "name": comp, "apiGroup": "coordination.k8s.io", "apiVersion": "v1"},
                             reason=rbac_reason("ClusterRoleBinding", f"system:{comp}", f"system:{comp}", f'User "system:{comp}"'))))
    for name, res in (("coredns", "endpointslices"), ("aws-node", "pods"), ("kube-proxy", "services"), ("ebs-csi-controller-sa", "persistentvolumes")):
        t.append((2.0, event("Request", "watch", f"/apis/discovery.k8s.io/v1/{res}?allowWatchBookmarks=true&labelSelector=%21service.kubernetes.io%2Fheadless&resourceVersion=48102&timeout=6m0s&timeoutSeconds=360&watch=true",
                             sa_user("kube-system", name), f"{name}/v1.11.3 (linux/amd64) kubernetes/$Format", {"resource": res, "apiGroup": "discovery.k8s.io", "apiVersion": "v1"},
                             reason=rbac_reason("ClusterRoleBinding", f"system:{name}", f"system:{name}", f'ServiceAccount "{name}/kube-system"'))))
    t.append((2.0, event("Request", "create", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sa_user("kube-system", "metrics-server"), "metrics-server/v0.7.2 (linux/amd64) kubernetes/$Format",
                         {"resource": "subjectaccessreviews", "apiGroup": "authorization.k8s.io", "apiVersion": "v1"}, code=201,
                         req={"kind": "SubjectAccessReview", "apiVersion": "authorization.k8s.io/v1", "spec": {"resourceAttributes": {"verb": "get", "version": "v1beta1", "resource": "nodes", "subresource": "metrics"}, "user": "system:serviceaccount:monitoring:prometheus"}})))
    t.append((1.0, event("Metadata", "create", "/apis/authentication.k8s.io/v1/tokenreviews", sa_user("kube-system", "metrics-server"), "metrics-server/v0.7.2 (linux/amd64) kubernetes/$Format",
                         {"resource": "tokenreviews", "apiGroup": "authentication.k8s.io", "apiVersion": "v1"}, code=201)))
    for person, role in (("jdoe", "platform-engineer"), ("mchen", "payments-dev"), ("asmith", "platform-engineer")):
        u = iam_user(role, person)
        ns = R.choice(NAMESPACES)
        for res in ("pods", "events", "deployments", "services"):
            t.append((0.4, event("Request", "list", f"/api/v1/namespaces/{ns}/{res}?limit=500", u, "kubectl/" + VERSION,
                                 {"resource": res, "namespace": ns, "apiVersion": "v1"}, ip="203.0.113.45",
                                 reason=rbac_reason("ClusterRoleBinding", "platform-engineers", "view", 'Group "platform:engineers"'))))
        t.append((0.2, event("Request", "get", f"/api/v1/namespaces/{ns}/pods/app-7d9f8c6b5-x2k9q/log?container=app&follow=true&tailLines=100", u, "kubectl/" + VERSION,
                             {"resource": "pods", "namespace": ns, "name": "app-7d9f8c6b5-x2k9q", "apiVersion": "v1", "subresource": "log"}, ip="203.0.113.45")))
    for ns in NAMESPACES:
        name = "app-7d9f8c6b5-" + "".join(R.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        t.append((0.15, event("RequestResponse", "create", f"/api/v1/namespaces/{ns}/pods", sa_user("kube-system", "replicaset-controller"), kcm.format("replicaset-controller"),
                              {"resource": "pods", "namespace": ns, "apiVersion": "v1"}, code=201, req=pod_object(ns, name), resp=pod_object(ns, name) | {"status": {"phase": "Pending", "qosClass": "Burstable"}},
                              reason=rbac_reason("ClusterRoleBinding", "system:controller:replicaset-controller", "system:controller:replicaset-controller", 'ServiceAccount "replicaset-controller/kube-system"'))))
    # Names the pre-filter looks for, in requests that change nothing it watches.
    t.append((0.3, event("Request", "watch", "/apis/rbac.authorization.k8s.io/v1/rolebindings?allowWatchBookmarks=true&resourceVersion=48102&timeout=8m3s&timeoutSeconds=483&watch=true",
                         {"username": "system:kube-controller-manager", "groups": ["system:authenticated"]}, "kube-controller-manager/" + VERSION + "/shared-informers",
                         {"resource": "rolebindings", "apiGroup": "rbac.authorization.k8s.io", "apiVersion": "v1"})))
    t.append((0.1, event("Metadata", "get", "/api/v1/namespaces/kube-system/configmaps/aws-auth", iam_user("platform-engineer", "jdoe"), "kubectl/" + VERSION,
                         {"resource": "configmaps", "namespace": "kube-system", "name": "aws-auth", "apiVersion": "v1"}, ip="203.0.113.45")))
    return t


NODE_ROLE = "- groups:\n  - system:bootstrappers\n  - system:nodes\n  rolearn: arn:aws:iam::111122223333:role/eks-node-role\n  username: system:node:{{EC2PrivateDNSName}}\n"


def changes() -> list[tuple[float, dict, str]]:
    """Weighted templates of the watched changes, with the operation they are."""
    tf, jdoe = iam_user("terraform-deployer", "run-8841"), iam_user("platform-engineer", "jdoe")
    argo = sa_user("argocd", "argocd-application-controller")
    cm_ref = {"resource": "configmaps", "namespace": "kube-system", "name": "aws-auth", "apiVersion": "v1"}
    team = "- rolearn: arn:aws:iam::111122223333:role/team-{n}\n  username: team-{n}\n  groups:\n  - team:{n}\n"
    t: list[tuple[float, dict, str]] = []
    for n in range(4):
        roles = NODE_ROLE + "".join(team.format(n=i) for i in range(n + 1))
        obj = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "aws-auth", "namespace": "kube-system", "resourceVersion": str(48200 + n)}, "data": {"mapRoles": roles}}
        t.append((1.0, event("RequestResponse", "update", "/api/v1/namespaces/kube-system/configmaps/aws-auth?fieldManager=Terraform", tf, "HashiCorp/1.0 Terraform/1.9.8",
                             cm_ref, req=obj, resp=obj, ip="34.250.17.88"), "update configmaps/aws-auth"))
        t.append((0.5, event("RequestResponse", "patch", "/api/v1/namespaces/kube-system/configmaps/aws-auth?fieldManager=kubectl-edit", jdoe, "kubectl/" + VERSION,
                             cm_ref, req={"data": {"mapRoles": roles}}, resp=obj, ip="203.0.113.45"), "patch configmaps/aws-auth"))
    for i, (subject, role) in enumerate((("ops:admins", "cluster-admin"), ("team:viewers", "view"), ("team:deployers", "edit"))):
        b = {"kind": "ClusterRoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": f"binding-{i}"},
             "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": subject}],
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}}
        ref = {"resource": "clusterrolebindings", "name": f"binding-{i}", "apiGroup": "rbac.authorization.k8s.io", "apiVersion": "v1"}
        t.append((1.0, event("RequestResponse", "create", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?fieldManager=helm", tf, "Helm/3.16.2",
                             ref, code=201, req=b, resp=b, ip="34.250.17.88"), "create clusterrolebindings"))
        t.append((0.5, event("RequestResponse", "delete", f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/binding-{i}", jdoe, "kubectl/" + VERSION,
                             ref, req={"kind": "DeleteOptions", "apiVersion": "v1"}, resp={"kind": "Status", "apiVersion": "v1", "status": "Success"}, ip="203.0.113.45"), "delete clusterrolebindings"))
    for ns in NAMESPACES[:4]:
        b = {"kind": "RoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "deployers", "namespace": ns},
             "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": f"{ns}:deployers"}],
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"}}
        ref = {"resource": "rolebindings", "namespace": ns, "name": "deployers", "apiGroup": "rbac.authorization.k8s.io", "apiVersion": "v1"}
        t.append((1.0, event("RequestResponse", "patch", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings/deployers?fieldManager=argocd-controller&force=true",
                             argo, "argocd-controller/v2.13.1 (linux/amd64) kubernetes/$Format", ref, req=b, resp=b, ip="10.0.34.17"), "patch rolebindings"))
    return t


def compile_templates(items):
    """Each template as a %-format string with fixed-width placeholders."""
    out = []
    for item in items:
        text = go_json(item).replace("%", "%%")
        text = text.replace('"@@id@@"', '"%(id)s"').replace('"@@t1@@"', '"%(t1)s"').replace('"@@t2@@"', '"%(t2)s"')
        out.append(text + "\n")
    return out


def parse_size(s: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMG]i?B?)?", s.strip(), re.I)
    if not m:
        raise SystemExit(f"gen-audit-log: bad size {s!r} (e.g. 1GiB, 256MiB)")
    n, unit = float(m.group(1)), (m.group(2) or "").upper().rstrip("B")
    return int(n * {"": 1, "K": 1000, "KI": 1024, "M": 10**6, "MI": 2**20, "G": 10**9, "GI": 2**30}[unit])


def main() -> None:
    global R
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--size", default="1GiB", help="total uncompressed size")
    p.add_argument("--files", type=int, default=8)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--change-ratio", type=float, default=0.00005, help="share of lines that are watched changes")
    p.add_argument("--gzip", choices=["both", "plain", "gz"], default="both")
    a = p.parse_args()
    R = random.Random(a.seed)
    total = parse_size(a.size)
    routine = reads()
    weights = [w for w, _ in routine]
    routine_fmt = compile_templates([e for _, e in routine])
    watched = changes()
    watched_fmt = compile_templates([e for _, e, _ in watched])
    watched_weights = [w for w, _, _ in watched]
    os.makedirs(os.path.join(a.out, "plain"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "gz"), exist_ok=True)
    started = time.perf_counter()
    per_file = total // a.files
    lines = 0
    by_op: dict[str, int] = {}
    files = []
    clock = 0
    for f in range(a.files):
        name = f"kube-apiserver-audit-{f:02d}.ndjson"
        plain = open(os.path.join(a.out, "plain", name), "wb") if a.gzip != "gz" else None
        gz = gzip.GzipFile(os.path.join(a.out, "gz", name + ".gz"), "wb", compresslevel=3, mtime=0) if a.gzip != "plain" else None
        size, buf, n_file = 0, [], 0
        picks = R.choices(range(len(routine_fmt)), weights=weights, k=1 << 16)
        pi = 0
        while True:
            if R.random() < a.change_ratio:
                i = R.choices(range(len(watched_fmt)), weights=watched_weights)[0]
                fmt, op = watched_fmt[i], watched[i][2]
            else:
                fmt, op = routine_fmt[picks[pi]], None
                pi = (pi + 1) & 0xffff
            t = START + timedelta(microseconds=clock * 4000)
            clock += 1
            stamp = t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
            line = (fmt % {"id": "%08x-%04x-4%03x-8%03x-%012x" % (R.getrandbits(32), R.getrandbits(16), R.getrandbits(12), R.getrandbits(12), lines),
                           "t1": stamp, "t2": stamp}).encode()
            if size + len(line) > per_file:
                break
            size += len(line)
            buf.append(line)
            lines += 1
            n_file += 1
            if op:
                by_op[op] = by_op.get(op, 0) + 1
            if len(buf) >= 4096:
                data = b"".join(buf)
                buf.clear()
                if plain:
                    plain.write(data)
                if gz:
                    gz.write(data)
        data = b"".join(buf)
        if plain:
            plain.write(data)
            plain.close()
        if gz:
            gz.write(data)
            gz.close()
        files.append({"name": name, "lines": n_file, "plain_bytes": size})
    elapsed = time.perf_counter() - started
    plain_bytes = sum(f["plain_bytes"] for f in files)
    manifest = {"generator": "scripts/gen-audit-log.py", "seed": a.seed,
                "args": {"size": a.size, "files": a.files, "change_ratio": a.change_ratio, "gzip": a.gzip},
                "lines": lines, "watched_changes": sum(by_op.values()), "watched_by_operation": dict(sorted(by_op.items())),
                "plain_bytes": plain_bytes, "files": files}
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"gen-audit-log: files={a.files} lines={lines} watched_changes={manifest['watched_changes']} "
          f"plain_bytes={plain_bytes} seconds={elapsed:.1f}", file=sys.stderr)


if __name__ == "__main__":
    main()
