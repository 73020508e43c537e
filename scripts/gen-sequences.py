#!/usr/bin/env python3
"""Write the correlation samples in events/sequences/: each folder is one sequence of inputs
(numbered files, read in name order as one replay or as successive Lambda invocations), built
from the captured single-event samples in events/ with only what the sequence needs changed
(ids, times, principals, clusters, the session's access key). Deterministic: rerun after
changing a base sample and review the diff. The goldens are written by the tests
(UPDATE_GOLDEN=1 cargo test -- golden::every_sequence aws::every_sequence).

    python3 scripts/gen-sequences.py
"""

import base64
import copy
import gzip
import json
import os
import shutil

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
EVENTS = os.path.join(ROOT, "events")
OUT = os.path.join(EVENTS, "sequences")

ACCOUNT = "111122223333"
BREAK_GLASS_KEY = "ASIA2XF2R5R7X4QVCDK6"
BREAK_GLASS_SESSION = "arn:aws:sts::111122223333:assumed-role/eks-break-glass/jdoe-incident-4411"
TERRAFORM = "arn:aws:iam::111122223333:role/terraform-deployer"


def load(name):
    with open(os.path.join(EVENTS, name)) as f:
        return json.load(f)


def k8s_lines(name):
    with open(os.path.join(EVENTS, name)) as f:
        return [json.loads(line) for line in f if line.strip()]


def at(event, time, n):
    """Give an EventBridge event (or a record) its time and fresh ids."""
    detail = event.get("detail", event)
    detail["eventTime"] = time
    detail["eventID"] = f"00000000-0000-4000-8000-{n:012d}"
    detail["requestID"] = f"10000000-0000-4000-8000-{n:012d}"
    if "detail" in event:
        event["time"] = time
        event["id"] = f"20000000-0000-4000-8000-{n:012d}"
    return event


def break_glass_session_identity():
    return {
        "type": "AssumedRole",
        "principalId": "AROABEZIPKLT56LMB5JGN:jdoe-incident-4411",
        "arn": BREAK_GLASS_SESSION,
        "accountId": ACCOUNT,
        "accessKeyId": BREAK_GLASS_KEY,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROABEZIPKLT56LMB5JGN",
                "arn": "arn:aws:iam::111122223333:role/eks-break-glass",
                "accountId": ACCOUNT,
                "userName": "eks-break-glass",
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": "2026-11-26T03:11:40Z", "mfaAuthenticated": "false"},
        },
    }


def terraform_identity():
    return {
        "type": "AssumedRole",
        "principalId": "AROATERRAFORMEXAMPLE:run-8841",
        "arn": "arn:aws:sts::111122223333:assumed-role/terraform-deployer/run-8841",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIATERRAFORMEXAMPLE1",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROATERRAFORMEXAMPLE",
                "arn": TERRAFORM,
                "accountId": ACCOUNT,
                "userName": "terraform-deployer",
            },
            "attributes": {"creationDate": "2026-11-20T01:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def assume(time, n, expiration):
    e = at(load("AssumeRole-break-glass.json"), time, n)
    e["detail"]["responseElements"]["credentials"]["expiration"] = expiration
    return e


def associate(time, n, principal, cluster, identity, policy="AmazonEKSClusterAdminPolicy", region="eu-west-1", account=ACCOUNT):
    e = at(load("AssociateAccessPolicy-cluster-admin-by-human.json"), time, n)
    d = e["detail"]
    d["userIdentity"] = identity
    d["awsRegion"] = region
    d["recipientAccountId"] = account
    e["region"] = region
    e["account"] = account
    d["requestParameters"]["name"] = cluster
    d["requestParameters"]["principalArn"] = principal.replace(":", "%3A").replace("/", "%2F")
    d["requestParameters"]["policyArn"] = f"arn:aws:eks::aws:cluster-access-policy/{policy}"
    d["responseElements"]["clusterName"] = cluster
    d["responseElements"]["principalArn"] = principal
    d["responseElements"]["associatedAccessPolicy"]["policyArn"] = d["requestParameters"]["policyArn"]
    return e


def create_entry(time, n, principal, cluster, identity):
    e = at(load("CreateAccessEntry-standard-by-terraform.json"), time, n)
    d = e["detail"]
    d["userIdentity"] = identity
    d["requestParameters"]["name"] = cluster
    d["requestParameters"]["principalArn"] = principal
    d["requestParameters"].pop("kubernetesGroups", None)
    d["requestParameters"].pop("tags", None)
    ae = d.get("responseElements", {}).get("accessEntry") or {}
    if ae:
        ae["clusterName"] = cluster
        ae["principalArn"] = principal
        ae.pop("kubernetesGroups", None)
        ae.pop("tags", None)
    return e


def delete_entry(time, n, principal, cluster, identity):
    e = at(load("DeleteAccessEntry-break-glass.json"), time, n)
    d = e["detail"]
    d["userIdentity"] = identity
    d["requestParameters"]["name"] = cluster
    d["requestParameters"]["principalArn"] = principal.replace(":", "%3A").replace("/", "%2F")
    return e


def denied(time, n, cluster):
    e = at(load("AssociateAccessPolicy-denied-self.json"), time, n)
    e["detail"]["requestParameters"]["name"] = cluster
    return e


def subscription(lines, cluster):
    document = {
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": f"/aws/eks/{cluster}/cluster",
        "logStream": "kube-apiserver-audit-5f9c6c2a3d1b4e7f",
        "subscriptionFilters": ["eks-access-watch-0"],
        "logEvents": [
            {"id": f"3800000000000000000000000000000000000000000000000{i:03d}", "timestamp": 1795000000000 + i, "message": json.dumps(l, separators=(",", ":"))}
            for i, l in enumerate(lines)
        ],
    }
    data = base64.b64encode(gzip.compress(json.dumps(document).encode(), mtime=0)).decode()
    return {"awslogs": {"data": data}}


def aws_auth_patch_by_break_glass(time):
    """The aws-auth patch of k8s-aws-auth.ndjson that adds a mapping, made by the session."""
    lines = k8s_lines("k8s-aws-auth.ndjson")
    patch = next(l for l in lines if l["verb"] == "patch")
    patch = copy.deepcopy(patch)
    patch["auditID"] = "4f1c2b9e-7d3a-4c8e-9b21-0000000b9a55"
    patch["requestReceivedTimestamp"] = time
    patch["stageTimestamp"] = time
    patch["user"] = {
        "username": "eks-break-glass:jdoe-incident-4411",
        "uid": "aws-iam-authenticator:111122223333:AROABEZIPKLT56LMB5JGN",
        "groups": ["system:masters", "system:authenticated"],
        "extra": {
            "accessKeyId": [BREAK_GLASS_KEY],
            "arn": [BREAK_GLASS_SESSION],
            "canonicalArn": ["arn:aws:iam::111122223333:role/eks-break-glass"],
            "principalId": ["AROABEZIPKLT56LMB5JGN"],
            "sessionName": ["jdoe-incident-4411"],
        },
    }
    return patch


def write(folder, files):
    path = os.path.join(OUT, folder)
    os.makedirs(path, exist_ok=True)
    for name, value in files:
        with open(os.path.join(path, name), "w") as f:
            json.dump(value, f, indent=2)
            f.write("\n")


def human():
    return load("AssociateAccessPolicy-cluster-admin-by-human.json")["detail"]["userIdentity"]


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    ci = "arn:aws:iam::111122223333:role/ci-deployer"
    vendor = "arn:aws:iam::444455556666:role/vendor-support"
    # 1. A break-glass session followed across both planes.
    write("break-glass-session", [
        ("1-AssumeRole.json", assume("2026-11-26T03:11:40Z", 101, "Nov 26, 2026, 4:11:40 AM")),
        ("2-AssociateAccessPolicy.json", associate("2026-11-26T03:14:02Z", 102, ci, "prod-eu", break_glass_session_identity())),
        ("3-aws-auth-patch.subscription.json", subscription([aws_auth_patch_by_break_glass("2026-11-26T03:16:30.512000Z")], "prod-eu")),
    ])
    # 2. Look-alike: the session's key used again after its credentials expired.
    write("session-key-after-expiry", [
        ("1-AssumeRole.json", assume("2026-11-26T03:11:40Z", 201, "Nov 26, 2026, 3:26:40 AM")),
        ("2-AssociateAccessPolicy.json", associate("2026-11-26T05:40:00Z", 202, ci, "prod-eu", break_glass_session_identity())),
    ])
    # 3. An entry created and deleted ten minutes later by a person; a look-alike pair for
    # different principals, and a replace (delete, then create) that is not this.
    write("created-then-deleted", [
        ("1-CreateAccessEntry.json", create_entry("2026-11-20T02:00:00Z", 301, vendor, "prod-eu", human())),
        ("2-CreateAccessEntry-other.json", create_entry("2026-11-20T02:01:00Z", 302, "arn:aws:iam::111122223333:role/analytics", "prod-eu", human())),
        ("3-DeleteAccessEntry.json", delete_entry("2026-11-20T02:10:00Z", 303, vendor, "prod-eu", human())),
        ("4-DeleteAccessEntry-replace.json", delete_entry("2026-11-20T02:20:00Z", 304, "arn:aws:iam::111122223333:role/reporting", "prod-eu", human())),
        ("5-CreateAccessEntry-replace.json", create_entry("2026-11-20T02:21:00Z", 305, "arn:aws:iam::111122223333:role/reporting", "prod-eu", human())),
    ])
    # 4. The same by approved automation: medium.
    write("created-then-deleted-by-terraform", [
        ("1-CreateAccessEntry.json", create_entry("2026-11-20T02:00:00Z", 401, vendor, "prod-eu", terraform_identity())),
        ("2-DeleteAccessEntry.json", delete_entry("2026-11-20T02:05:00Z", 402, vendor, "prod-eu", terraform_identity())),
    ])
    # 5. One role granted on three clusters in three accounts and regions within the hour.
    write("granted-on-many-clusters", [
        ("1-prod-eu.json", associate("2026-11-20T03:00:00Z", 501, vendor, "prod-eu", human())),
        ("2-prod-us.json", associate("2026-11-20T03:10:00Z", 502, vendor, "prod-us", human(), region="us-east-1")),
        ("3-payments.json", associate("2026-11-20T03:20:00Z", 503, vendor, "payments", human(), region="eu-west-1", account="777788889999")),
    ])
    # 6. Look-alike: approved automation fanning out (low).
    write("granted-on-many-clusters-by-terraform", [
        ("1-prod-eu.json", associate("2026-11-20T03:00:00Z", 601, ci, "prod-eu", terraform_identity(), policy="AmazonEKSViewPolicy")),
        ("2-staging.json", associate("2026-11-20T03:01:00Z", 602, ci, "staging", terraform_identity(), policy="AmazonEKSViewPolicy")),
        ("3-dev.json", associate("2026-11-20T03:02:00Z", 603, ci, "dev", terraform_identity(), policy="AmazonEKSViewPolicy")),
    ])
    # 7. Five denied attempts in four minutes.
    write("denied-burst", [
        (f"{i + 1}-denied.json", denied(f"2026-11-20T04:0{i}:00Z", 701 + i, c))
        for i, c in enumerate(["prod-eu", "prod-eu", "staging", "dev", "prod-eu"])
    ])
    # 8. Look-alike: five denials spread over 40 minutes.
    write("denied-spread", [
        (f"{i + 1}-denied.json", denied(f"2026-11-20T05:{i * 10:02d}:00Z", 801 + i, "prod-eu"))
        for i in range(5)
    ])


if __name__ == "__main__":
    main()
