#!/usr/bin/env python3
"""Generate a realistic, deterministic CloudTrail archive for benchmarking eks-access-watch.

Usage
-----
    python3 scripts/gen-archive.py --out DIR [--size 1GiB] [--seed 42]
                                   [--files N | --file-size 64MiB] [--gzip both|plain|gz]
                                   [--eks-ratio 0.001] [--break-glass-ratio 0.000005]
                                   [--gz-level 3]

    # e.g. a 1 GiB archive (16 files of 64 MiB, plain + gzip), then time the replay:
    python3 scripts/gen-archive.py --out /tmp/ct-bench
    time eks-access-watch replay --summary --format ndjson /tmp/ct-bench/gz > /dev/null

What it writes
--------------
    DIR/plain/111122223333_CloudTrail_eu-west-1_20261120T0105Z_<16 alnum>.json
    DIR/gz/111122223333_CloudTrail_eu-west-1_20261120T0105Z_<16 alnum>.json.gz   (same bytes, gzipped)
    DIR/manifest.json

Each log file is what CloudTrail delivers to S3: exactly one compact JSON object
`{"Records":[...]}` on one line (no spaces after separators, no trailing newline, non-ASCII
written as raw UTF-8).  File N covers the 5-minute window ending at the timestamp in its name,
starting 2026-11-20T01:00Z; event times advance through the window as the file fills.
`--size` is the total *uncompressed* size of the archive; it is split evenly into files of
about `--file-size` (default 64 MiB) or into exactly `--files N`.  Every file stays at or just
below its share (a record that would overflow it is dropped), so the total is within one record
per file of `--size`.  Old CloudTrail-named files in DIR/plain and DIR/gz are removed first.

Records are CloudTrail management and data events with fields in CloudTrail's order, from many
services and callers (AssumedRole with sessionContext, IRSA web-identity sessions, IAMUser,
AWSService, AWSAccount, WebIdentityUser, SAMLUser, Root):

  * s3 GetObject/PutObject/HeadObject (largest share), ec2 Describe*/RunInstances/CreateTags,
    iam Get*/List*, sts AssumeRole (~5%, ordinary roles: they all contain "sts.amazonaws.com")
    / AssumeRoleWithWebIdentity / GetCallerIdentity, kms Decrypt/GenerateDataKey, lambda
    Invoke/GetFunction, logs, cloudwatch, dynamodb, ssm, secretsmanager, signin, and EKS
    read-only calls (~0.2%: DescribeCluster, ListClusters, DescribeNodegroup, ListAccessEntries,
    DescribeAccessEntry, ListAssociatedAccessPolicies -- the last three look like access calls but
    are read-only).  Some non-EKS records mention "eks.amazonaws.com" (the EKS service assuming its
    cluster role) or "oidc.eks.<region>.amazonaws.com" (IRSA), to exercise byte pre-filters.
  * EKS access changes at --eks-ratio (default 0.1% of records): CreateAccessEntry (principalArn
    plain), AssociateAccessPolicy / DisassociateAccessPolicy / DeleteAccessEntry /
    UpdateAccessEntry (principalArn URL-encoded, as CloudTrail records it; Disassociate's
    policyArn too) and UpdateClusterConfig(accessConfig.authenticationMode), with many policies,
    scopes, principals and callers (terraform-deployer via Terraform, platform-engineer/<user>
    via aws-cli, SSO console users, GitHub Actions, IAM users, occasionally Root); ~6% of them
    fail (mostly AccessDeniedException, responseElements null).
  * Break-glass: sts AssumeRole / AssumeRoleWithSAML of arn:aws:iam::111122223333:role/
    eks-break-glass at --break-glass-ratio (default 1 in 200,000 records).  No other assumed
    role's name contains "break-glass", "breakglass" or "break_glass" (the role does also appear
    as the principal of some EKS access-entry changes, which count as EKS access changes).
  * Odd records, each ~1 in 20,000: huge requestParameters (~200 KB string or array), unicode
    strings (S3 keys like "データ/ファイル.csv", emoji, U+2028, escaped quotes/backslashes/control
    characters), JSON null in optional fields (userAgent, requestParameters), responseElements
    null on calls that normally answer, and additionalEventData nested 20 deep.

"EKS access-change record" (manifest `eks_access_events`) means exactly: eventSource ==
"eks.amazonaws.com" and eventName in CreateAccessEntry, UpdateAccessEntry, DeleteAccessEntry,
AssociateAccessPolicy, DisassociateAccessPolicy, UpdateClusterConfig (failed calls included;
`eks_access_failed` counts those).  The manifest also has per-event counts, per-file counts and
`break_glass_assumptions`.  A one-line summary (files, records, EKS access-change records, bytes
uncompressed and gzipped, seconds, MB/s) goes to stderr.

Determinism
-----------
Everything comes from one random.Random(seed): the record templates, the record stream, IDs
(UUIDs are formatted from RNG bits; no uuid4/time calls), file-name suffixes.  Event times are
fixed by file index, not the wall clock.  gzip members are written with mtime=0 and no file name.
So the same seed + arguments give byte-identical files and manifest (manifest.json records the
arguments except --out and has no timings).  The gzip bytes additionally depend on the zlib
build; the plain files and their decompressed content do not.  --gzip only chooses what is
written: plain/ and the decompressed gz/ are the same for every --gzip value.

Speed
-----
A few thousand varied records are built once as dicts and serialised with json.dumps into
%-format strings whose only placeholders are fixed-width (eventTime, eventID, requestID, a
second UUID, session creation date).  Each record is then one dict + one `%` format, its byte
length known in advance; output goes out in 256 KiB writes.  gzip runs in other threads (zlib
releases the GIL; one per spare core, up to 4), so compression overlaps generation.  gzip is the
slow part: level 3 (default) compresses ~140 MB/s per core (ratio ~5.8), level 6 ~60-70 MB/s
(ratio ~7.1); generation alone runs at ~200 MB/s.  Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import queue
import random
import re
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

# --------------------------------------------------------------------------------------------
# Constants of the simulated estate
# --------------------------------------------------------------------------------------------

ACCOUNT = "111122223333"  # the account whose trail this is
PARTNER = "444455556666"  # a vendor (monitoring SaaS) account
SECURITY = "777788889999"  # the organisation's security-tooling account
REGION = "eu-west-1"
START = datetime(2026, 11, 20, 1, 0, 0, tzinfo=timezone.utc)
WINDOW = 300  # seconds of events per log file (CloudTrail delivers about every 5 minutes)
EPOCH0 = START.timestamp()

EKS_ACCESS_EVENTS = (
    "CreateAccessEntry",
    "UpdateAccessEntry",
    "DeleteAccessEntry",
    "AssociateAccessPolicy",
    "DisassociateAccessPolicy",
    "UpdateClusterConfig",
)
BREAK_GLASS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/eks-break-glass"
ODD_KINDS = ("huge", "unicode", "nulls", "response_null", "deep")
ODD_RATIO = 1 / 20000  # per odd kind

# Placeholders: put into template dicts as strings, turned into %(x)s after json.dumps. Every
# value substituted for one has a fixed width, so a record's byte length is known up front.
T, EID, RID, RH, U2, CT = "@@t@@", "@@eid@@", "@@rid@@", "@@rh@@", "@@u2@@", "@@ct@@"
SLOTS = {T: "t", EID: "eid", RID: "rid", RH: "rh", U2: "u2", CT: "ct"}
DUMMY = {"t": "x" * 20, "eid": "x" * 36, "rid": "x" * 36, "rh": "x" * 16, "u2": "x" * 36, "ct": "x" * 20}

# CloudTrail's field order inside a record.
ORDER = (
    "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
    "sourceIPAddress", "userAgent", "errorCode", "errorMessage", "requestParameters",
    "responseElements", "additionalEventData", "requestID", "eventID", "readOnly", "resources",
    "eventType", "managementEvent", "recipientAccountId", "sharedEventID", "vpcEndpointId",
    "vpcEndpointAccountId", "eventCategory", "tlsDetails", "sessionCredentialFromConsole",
)

R: random.Random  # the generator's only RNG (set in main); template builders draw from it

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
HEX = "0123456789abcdef"


# --------------------------------------------------------------------------------------------
# Small random helpers (template-building time only)
# --------------------------------------------------------------------------------------------

def rs(alphabet: str, n: int) -> str:
    return "".join(R.choice(alphabet) for _ in range(n))


def hexs(n: int) -> str:
    return "%0*x" % (n, R.getrandbits(4 * n))


def tuuid() -> str:
    h = hexs(32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def pick(weighted):
    """weighted: list of (weight, value)."""
    total = sum(w for w, _ in weighted)
    x = R.random() * total
    for w, v in weighted:
        x -= w
        if x < 0:
            return v
    return weighted[-1][1]


def temp_key() -> str:
    return "ASIA" + rs(UPPER, 16)


def user_key() -> str:
    return "AKIA" + rs(UPPER, 16)


ROLE_IDS: dict[str, str] = {}


def role_id(name: str) -> str:
    if name not in ROLE_IDS:
        ROLE_IDS[name] = "AROA" + rs(UPPER, 17)
    return ROLE_IDS[name]


USER_IDS: dict[str, str] = {}


def user_id(name: str) -> str:
    if name not in USER_IDS:
        USER_IDS[name] = "AIDA" + rs(UPPER, 17)
    return USER_IDS[name]


def instance_id() -> str:
    return "i-0" + hexs(16)


def private_ip() -> str:
    return f"10.{R.choice([0, 0, 1, 2])}.{R.randint(0, 63)}.{R.randint(2, 254)}"


NAT_IPS = ["34.250.17.88", "52.49.201.13", "54.171.88.102", "3.248.190.7", "18.202.41.220"]
OFFICE_IPS = ["203.0.113.45", "203.0.113.77", "198.51.100.23", "198.51.100.142"]
GHA_IPS = ["20.172.30.14", "4.227.246.113", "13.105.49.64", "172.183.51.90"]
LAMBDA_IPS = ["3.250.12.201", "52.30.95.17", "34.243.188.9", "54.77.143.66"]
PARTNER_IPS = ["3.233.147.10", "44.192.28.114", "54.90.21.4"]
VPCE = {"s3": "vpce-0a1b2c3d4e5f60718", "dynamodb": "vpce-09f8e7d6c5b4a3928"}


def epoch_near(offset_days: float = 0.0) -> float:
    return round(EPOCH0 + offset_days * 86400 + R.uniform(-3600, 300), 3)


def ct_time(secs_after_start: float) -> str:
    return (START + timedelta(seconds=secs_after_start)).strftime("%Y-%m-%dT%H:%M:%SZ")


def expiration() -> str:
    t = START + timedelta(seconds=R.randint(600, 7200))
    h = t.hour % 12 or 12
    return f"{t:%b} {t.day}, {t.year}, {h}:{t:%M:%S} {'AM' if t.hour < 12 else 'PM'}"


def kebab(op: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", re.sub(r"\d+v?\d*$", "", op)).lower()


# --------------------------------------------------------------------------------------------
# User agents
# --------------------------------------------------------------------------------------------

API = {
    "s3": "s3", "ec2": "ec2", "iam": "iam", "sts": "sts", "kms": "kms", "lambda": "lambda",
    "logs": "cloudwatchlogs", "monitoring": "cloudwatch", "dynamodb": "dynamodb", "ssm": "ssm",
    "secretsmanager": "secretsmanager", "eks": "eks", "signin": "signin", "cloudformation": "cloudformation",
}
CLI_CMD = {"s3": "s3api", "monitoring": "cloudwatch"}

CONSOLE_UAS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "AWS Internal",
]


def ua_cli(src: str, op: str) -> str:
    osname = R.choice(["macos#24.1.0 md/arch#arm64", "macos#23.6.0 md/arch#x86_64",
                       "linux#6.8.0-48-generic md/arch#x86_64", "windows#10 md/arch#amd64"])
    ver = R.choice(["2.22.10 md/awscrt#0.22.0", "2.21.3 md/awscrt#0.22.0", "2.18.11 md/awscrt#0.21.2"])
    return (f"aws-cli/{ver} ua/2.0 os/{osname} lang/python#3.12.7 md/pyimpl#CPython "
            f"cfg/retry-mode#standard md/installer#exe command/{CLI_CMD.get(src, src)}.{kebab(op)}")


def ua_boto(lambda_env: bool = False) -> str:
    n = R.choice(["1.35.54", "1.35.36", "1.34.162", "1.35.71"])
    py = R.choice(["3.11.10", "3.12.7", "3.9.20"])
    s = (f"Boto3/{n} md/Botocore#{n} ua/2.0 os/linux#5.10.227-219.884.amzn2.x86_64 md/arch#x86_64 "
         f"lang/python#{py} md/pyimpl#CPython cfg/retry-mode#legacy Botocore/{n}")
    if lambda_env:
        s += " exec-env/AWS_Lambda_python3.12"
    return s


def ua_go(src: str, extra: str = "") -> str:
    s = (f"aws-sdk-go-v2/1.{R.choice([30, 31, 32])}.{R.randint(0, 9)} ua/2.1 os/linux lang/go#1.23.{R.randint(1, 4)} "
         f"md/GOOS#linux md/GOARCH#{R.choice(['amd64', 'arm64'])} api/{API[src]}#1.{R.randint(20, 190)}.{R.randint(0, 9)}")
    return s + (" " + extra if extra else "")


def ua_java1() -> str:
    return ("[aws-sdk-java/1.12.778 Linux/5.10.227-219.884.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.13+11-LTS "
            "java/17.0.13 scala/2.12.18 vendor/Amazon.com_Inc. cfg/retry-mode/legacy cfg/auth-source#wif]")


def ua_java2(src: str) -> str:
    return (f"aws-sdk-java/2.29.{R.randint(0, 30)} md/io#sync md/http#Apache ua/2.1 api/{API[src].title()}#2.29.x "
            "os/Linux#5.10.227-219.884.amzn2.x86_64 lang/java#21.0.5 md/OpenJDK_64-Bit_Server_VM#21.0.5+11-LTS "
            "md/vendor#Amazon.com_Inc. md/en_US exec-env/AWS_ECS_EC2 cfg/retry-mode#legacy")


def ua_js(src: str) -> str:
    n = R.choice(["699", "693", "687"])
    return (f"aws-sdk-js/3.{n}.0 ua/2.1 os/linux#5.10.228-239.904.amzn2.x86_64 lang/js md/nodejs#20.18.0 "
            f"api/{API[src]}#3.{n}.0 exec-env/AWS_Lambda_nodejs20.x")


def ua_terraform(src: str) -> str:
    return ("APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.80.0 "
            "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.6 ua/2.1 os/linux "
            f"lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64 api/{API[src]}#1.{R.randint(20, 190)}.{R.randint(0, 9)}")


def ua_ssm_agent() -> str:
    return f"aws-sdk-go/1.55.5 (go1.22.8; linux; amd64) amazon-ssm-agent/3.3.{R.choice(['1142.0', '987.0', '1311.0'])}"


def sdk_ua(sdk: str, src: str) -> str:
    return {"go": lambda: ua_go(src), "boto": lambda: ua_boto(), "java1": ua_java1,
            "java2": lambda: ua_java2(src), "js": lambda: ua_js(src)}[sdk]()


# --------------------------------------------------------------------------------------------
# Identities (userIdentity shapes) and callers
# --------------------------------------------------------------------------------------------

OIDC_HOST = f"oidc.eks.{REGION}.amazonaws.com/id/5E1D4A7B9C2F3E6D8A0B1C2D3E4F5A6B"
OIDC = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC_HOST}"
SAML = f"arn:aws:iam::{ACCOUNT}:saml-provider/Okta"

# IRSA service accounts: (role, namespace, service account, SDK)
IRSA_APPS = [
    ("orders-api", "orders", "orders-api", "go"),
    ("payments-worker", "payments", "payments-worker", "java2"),
    ("data-pipeline", "data", "spark", "java1"),
    ("reporting-batch", "reporting", "reporting", "boto"),
    ("karpenter", "kube-system", "karpenter", "go"),
    ("aws-load-balancer-controller", "kube-system", "aws-load-balancer-controller", "go"),
    ("external-dns", "kube-system", "external-dns", "go"),
    ("ebs-csi-driver", "kube-system", "ebs-csi-controller-sa", "go"),
    ("cluster-autoscaler", "kube-system", "cluster-autoscaler", "go"),
    ("fluent-bit", "logging", "fluent-bit", "go"),
    ("external-secrets", "external-secrets", "external-secrets", "go"),
    ("ml-training", "ml", "trainer", "boto"),
    ("grafana", "monitoring", "grafana", "go"),
]
LAMBDAS = [("orders-processor", "js"), ("image-resizer", "boto"), ("audit-shipper", "boto"),
           ("invoice-generator", "js"), ("slack-notifier", "boto"), ("cost-reporter", "boto")]
PEOPLE = ["jdoe", "asmith", "mlee", "rkumar", "tnguyen", "ebrown", "opetrov", "lgarcia"]
SSO_ROLES = ["AWSReservedSSO_AdministratorAccess_0123456789abcdef",
             "AWSReservedSSO_ReadOnlyAccess_fedcba9876543210",
             "AWSReservedSSO_PlatformEngineer_a1b2c3d4e5f60718"]
SSO_PATH = f"aws-reserved/sso.amazonaws.com/{REGION}/"
IAM_USERS = [("ci-bot", "boto"), ("legacy-backup", "java1"), ("jdoe", "cli"), ("svc-reporting", "boto")]


def assumed(role, session, *, account=ACCOUNT, mfa=False, ec2=False, web=None, invoked_by=None, path=""):
    pid = role_id(role)
    sc = {
        "sessionIssuer": {"type": "Role", "principalId": pid, "arn": f"arn:aws:iam::{account}:role/{path}{role}",
                          "accountId": account, "userName": role},
        "webIdFederationData": {"federatedProvider": web, "attributes": {}} if web else {},
        "attributes": {"creationDate": CT, "mfaAuthenticated": "true" if mfa else "false"},
    }
    if ec2:
        sc["ec2RoleDelivery"] = "2.0"
    d = {"type": "AssumedRole", "principalId": f"{pid}:{session}",
         "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}", "accountId": account,
         "accessKeyId": temp_key(), "sessionContext": sc}
    if invoked_by:
        d["invokedBy"] = invoked_by
    return d


def iam_user(name, *, console=False, mfa=False):
    d = {"type": "IAMUser", "principalId": user_id(name), "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
         "accountId": ACCOUNT, "accessKeyId": temp_key() if console else user_key(), "userName": name}
    if console or mfa:
        d["sessionContext"] = {"sessionIssuer": {}, "webIdFederationData": {},
                               "attributes": {"creationDate": CT, "mfaAuthenticated": "true" if mfa else "false"}}
    return d


def root():
    return {"type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root", "accountId": ACCOUNT,
            "accessKeyId": temp_key(),
            "sessionContext": {"sessionIssuer": {}, "webIdFederationData": {},
                               "attributes": {"creationDate": CT, "mfaAuthenticated": "true"}}}


def service(principal):
    return {"type": "AWSService", "invokedBy": principal}


def sdk_session(sdk):
    if sdk == "go":
        return str(R.randint(10 ** 18, 10 ** 19 - 1))
    if sdk == "boto":
        return f"botocore-session-{R.randint(1795000000, 1795200000)}"
    if sdk in ("java1", "java2"):
        return f"aws-sdk-java-{R.randint(1795000000000, 1795200000000)}"
    return f"aws-sdk-js-session-{R.randint(1795000000000, 1795200000000)}"


class Caller:
    """Who made a call: userIdentity, user agent, source IP; console => sessionCredentialFromConsole."""

    __slots__ = ("ident", "ua", "ip", "console", "is_service", "in_vpc", "arn")

    def __init__(self, ident, ua, ip, *, console=False, is_service=False, in_vpc=False):
        self.ident, self.ua, self.ip = ident, ua, ip
        self.console, self.is_service, self.in_vpc = console, is_service, in_vpc
        self.arn = ident.get("arn", f"arn:aws:iam::{ident.get('accountId', ACCOUNT)}:root")


def caller(kind: str, src: str, op: str) -> Caller:
    """A caller of the given kind calling src:op (identity + matching user agent + IP)."""
    if kind == "irsa":
        role, _ns, _sa, sdk = R.choice(IRSA_APPS)
        ua = ua_go(src, "karpenter.sh-v1.1.1") if role == "karpenter" else sdk_ua(sdk, src)
        return Caller(assumed(role, sdk_session(sdk), web=OIDC), ua, R.choice(NAT_IPS), in_vpc=True)
    if kind == "ecs":
        return Caller(assumed("orders-api-task", hexs(32)), ua_java2(src), R.choice(NAT_IPS), in_vpc=True)
    if kind == "node":
        return Caller(assumed("eks-node-role", instance_id(), ec2=True), ua_go(src), R.choice(NAT_IPS), in_vpc=True)
    if kind == "lambda":
        fn, sdk = R.choice(LAMBDAS)
        ua = ua_js(src) if sdk == "js" else ua_boto(lambda_env=True)
        return Caller(assumed(f"{fn}-role", fn), ua, R.choice(LAMBDA_IPS))
    if kind == "human_cli":
        p = R.choice(PEOPLE)
        return Caller(assumed("platform-engineer", p), ua_cli(src, op), R.choice(OFFICE_IPS))
    if kind == "sso_console":
        p = R.choice(PEOPLE)
        ident = assumed(R.choice(SSO_ROLES[:2]), f"{p}@example.com", path=SSO_PATH)
        return Caller(ident, R.choice(CONSOLE_UAS), R.choice(OFFICE_IPS + ["AWS Internal"]), console=True)
    if kind == "sso_cli":
        p = R.choice(PEOPLE)
        return Caller(assumed(R.choice(SSO_ROLES), f"{p}@example.com", path=SSO_PATH), ua_cli(src, op),
                      R.choice(OFFICE_IPS))
    if kind == "terraform":
        return Caller(assumed("terraform-deployer", f"terraform-run-{R.randint(1000, 9999)}"), ua_terraform(src),
                      R.choice(NAT_IPS[:2]))
    if kind == "gha":
        ua = ua_cli(src, op) + " md/command#github-actions" if R.random() < 0.5 else ua_boto()
        return Caller(assumed("github-actions-deployer", "GitHubActions"), ua, R.choice(GHA_IPS))
    if kind == "datadog":
        return Caller(assumed("DatadogIntegrationRole", "DatadogAWSIntegration"),
                      "aws-sdk-go/1.55.5 (go1.22.7; linux; amd64)", R.choice(PARTNER_IPS))
    if kind == "audit":
        return Caller(assumed("SecurityAuditRole", f"prowler-{R.randint(100, 999)}"), ua_boto(), R.choice(PARTNER_IPS))
    if kind == "iam_user":
        name, sdk = R.choice(IAM_USERS)
        ua = ua_cli(src, op) if sdk == "cli" else sdk_ua(sdk, src)
        return Caller(iam_user(name), ua, R.choice(OFFICE_IPS + NAT_IPS))
    if kind == "root":
        return Caller(root(), R.choice(CONSOLE_UAS[:4]), R.choice(OFFICE_IPS), console=True)
    if kind.startswith("svc:"):
        p = kind[4:]
        return Caller(service(p), p, p, is_service=True)
    if kind.startswith("via:"):  # a role's call made on its behalf by a service (invokedBy)
        p = kind[4:]
        linked = {"autoscaling.amazonaws.com": ("AWSServiceRoleForAutoScaling", "AutoScaling"),
                  "config.amazonaws.com": ("AWSServiceRoleForConfig", "AWSConfig-Describe")}
        if p in linked:  # service-linked role
            role, session = linked[p]
            ident = assumed(role, session, invoked_by=p, path=f"aws-service-role/{p}/")
        else:  # the calling app's own role, e.g. S3 decrypting with KMS for it
            role, _ns, _sa, sdk = R.choice(IRSA_APPS)
            ident = assumed(role, sdk_session(sdk), web=OIDC, invoked_by=p)
        return Caller(ident, p, p, is_service=True)
    raise ValueError(kind)


# --------------------------------------------------------------------------------------------
# The record skeleton
# --------------------------------------------------------------------------------------------

def tls(host):
    v = pick([(80, ("TLSv1.3", "TLS_AES_128_GCM_SHA256")), (15, ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")),
              (5, ("TLSv1.3", "TLS_AES_256_GCM_SHA384"))])
    return {"tlsVersion": v[0], "cipherSuite": v[1], "clientProvidedHostHeader": host}


def rec(c: Caller, src: str, op: str, req, resp, *, region=REGION, error=None, add=None, rid=RID, ro=True,
        resources=None, mgmt=True, shared=False, vpce=None, host=None, ip=None, ver=None, etype="AwsApiCall"):
    """Build one record dict in CloudTrail's field order."""
    d = {
        "eventVersion": ver or pick([(50, "1.09"), (30, "1.10"), (10, "1.08"), (10, "1.11")]),
        "userIdentity": c.ident,
        "eventTime": T,
        "eventSource": f"{src}.amazonaws.com",
        "eventName": op,
        "awsRegion": region,
        "sourceIPAddress": ip or c.ip,
        "userAgent": c.ua,
    }
    if error:
        d["errorCode"] = error[0]
        if error[1] is not None:
            d["errorMessage"] = error[1]
    d["requestParameters"] = req
    d["responseElements"] = None if error else resp
    if add is not None:
        d["additionalEventData"] = add
    d["requestID"] = rid
    d["eventID"] = EID
    d["readOnly"] = ro
    if resources:
        d["resources"] = resources
    d["eventType"] = etype
    d["managementEvent"] = mgmt
    d["recipientAccountId"] = ACCOUNT
    if shared:
        d["sharedEventID"] = U2
    if vpce:
        d["vpcEndpointId"] = vpce
        d["vpcEndpointAccountId"] = ACCOUNT
    d["eventCategory"] = "Management" if mgmt else "Data"
    if not c.is_service:
        d["tlsDetails"] = tls(host or f"{src}.{region}.amazonaws.com")
    if c.console:
        d["sessionCredentialFromConsole"] = "true"
    return d


def with_field(d, key, value):
    """Set key to value, keeping CloudTrail's field order."""
    d = dict(d)
    d[key] = value
    return {k: d[k] for k in ORDER if k in d}


# --------------------------------------------------------------------------------------------
# Service builders: each returns one record dict (with placeholders)
# --------------------------------------------------------------------------------------------

BUCKETS = ["acme-data-lake-prod", "acme-app-assets", "acme-logs-archive", "acme-terraform-state",
           "acme-ml-artifacts", f"cdk-hnb659fds-assets-{ACCOUNT}-{REGION}", "acme-invoices-prod"]
KMS_KEYS = [f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{u}" for u in
            ("1a2b3c4d-5e6f-4a1b-9c2d-3e4f5a6b7c8d", "0f9e8d7c-6b5a-4f3e-8d2c-1b0a9f8e7d6c",
             "7c1d2e3f-4a5b-4c6d-ae8f-9a0b1c2d3e4f", "c0ffee00-1234-4abc-9def-0123456789ab")]


def s3_key(bucket, unicode=False):
    if unicode:
        return R.choice([
            "データ/ファイル.csv", "reports/2026/Q4 résumé 📊.xlsx", "uploads/用户/照片_🐱.jpg",
            "docs/Ünïcödé — “quotes” \u2028 line-sep.txt", "exports/Καλημέρα/κόσμε.parquet",
            'odd/"quoted" back\\slash\ttab\u0001ctl.csv', "emoji/🚀🔥/🎉 launch-notes.md",
            "multi/한국어/العربية/עברית.json",
        ])
    if bucket == "acme-data-lake-prod":
        return (f"raw/events/year=2026/month=11/day=20/hour={R.randint(0, 23):02d}/"
                f"part-{R.randint(0, 199):05d}-{tuuid()}.c000.snappy.parquet")
    if bucket == "acme-app-assets":
        return R.choice([f"img/products/{R.randint(10000, 99999)}/{R.choice(['thumb', 'large', 'orig'])}.webp",
                         f"static/js/main.{hexs(8)}.js", f"static/css/app.{hexs(8)}.css"])
    if bucket == "acme-logs-archive":
        return (f"AWSLogs/{ACCOUNT}/elasticloadbalancing/{REGION}/2026/11/20/{ACCOUNT}_elasticloadbalancing_"
                f"{REGION}_app.prod-alb.{hexs(16)}_20261120T{R.randint(0, 23):02d}{R.randint(0, 59):02d}Z_"
                f"{R.choice(NAT_IPS)}_{rs(ALNUM, 8).lower()}.log.gz")
    if bucket == "acme-terraform-state":
        return R.choice(["env:/prod/eks/terraform.tfstate", "env:/staging/eks/terraform.tfstate",
                         "global/iam/terraform.tfstate", "network/vpc/terraform.tfstate"])
    if bucket == "acme-ml-artifacts":
        return f"models/churn/v{R.randint(1, 40)}/checkpoint-{R.randint(1, 9999):04d}.pt"
    if bucket == "acme-invoices-prod":
        return f"2026/11/INV-{R.randint(100000, 999999)}.pdf"
    return f"{hexs(64)}.{R.choice(['zip', 'json'])}"


def b_s3(op, unicode=False):
    bucket = R.choice(BUCKETS)
    key = s3_key(bucket, unicode)
    if bucket == "acme-terraform-state":
        kind = "terraform"
    elif op == "PutObject" and bucket == "acme-logs-archive":
        kind = pick([(6, "svc:delivery.logs.amazonaws.com"), (3, "svc:logging.s3.amazonaws.com"), (1, "iam_user")])
    else:
        kind = pick([(40, "irsa"), (15, "ecs"), (15, "lambda"), (6, "node"), (6, "iam_user"), (5, "sso_console"),
                     (4, "human_cli"), (4, "gha"), (3, "datadog"), (2, "svc:cloudtrail.amazonaws.com")])
    c = caller(kind, "s3", op)
    if kind == "sso_console":
        c.ua = ("[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.750 Linux/5.10.225-191.878.amzn2int.x86_64 "
                "OpenJDK_64-Bit_Server_VM/25.412-b09 java/1.8.0_412 vendor/Oracle_Corporation cfg/retry-mode/standard]")
    host = R.choice([f"{bucket}.s3.{REGION}.amazonaws.com", f"{bucket}.s3.amazonaws.com", f"s3.{REGION}.amazonaws.com"])
    req = {"bucketName": bucket, "Host": host, "key": key}
    if R.random() < 0.3:
        req["x-id"] = op
    resp = None
    size = R.choice([0, 312, 4096, 18234, 65536, 1048576, 5242880, 13421772, R.randint(100, 50_000_000)])
    sse = pick([(60, "SSE_KMS"), (40, "Default_SSE_S3")])
    if op == "PutObject":
        if sse == "SSE_KMS":
            resp = {"x-amz-server-side-encryption": "aws:kms",
                    "x-amz-server-side-encryption-aws-kms-key-id": R.choice(KMS_KEYS),
                    "x-amz-server-side-encryption-bucket-key-enabled": "true"}
        else:
            resp = {"x-amz-server-side-encryption": "AES256"}
        if R.random() < 0.5:
            resp["x-amz-version-id"] = rs(ALNUM, 32)
        if R.random() < 0.3:
            req["x-amz-acl"] = "bucket-owner-full-control"
    error = None
    if op != "PutObject" and R.random() < 0.03:
        error = R.choice([("NoSuchKey", "The specified key does not exist."), ("AccessDenied", "Access Denied")])
    add = {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
           "bytesTransferredIn": size if op == "PutObject" else 0,
           "SSEApplied": sse, "AuthenticationMethod": "AuthHeader", "x-amz-id-2": base64.b64encode(R.randbytes(57)).decode(),
           "bytesTransferredOut": size if op == "GetObject" and not error else 0}
    if c.is_service:
        add.pop("CipherSuite")
    resources = [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                 {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}]
    vpce = VPCE["s3"] if c.in_vpc and R.random() < 0.6 else None
    return rec(c, "s3", op, req, resp, error=error, add=add, rid=RH, ro=op != "PutObject", resources=resources,
               mgmt=False, vpce=vpce, host=host, ip=private_ip() if vpce else None,
               ver=R.choice(["1.09", "1.10", "1.11"]))


def ec2_filter(name, *values):
    return {"name": name, "valueSet": {"items": [{"value": v} for v in values]}}


def b_ec2(op):
    kind = pick([(30, "irsa"), (15, "node"), (15, "datadog"), (12, "terraform"), (10, "sso_console"),
                 (8, "human_cli"), (5, "audit"), (5, "svc:autoscaling.amazonaws.com")])
    if op in ("RunInstances", "CreateTags"):
        kind = pick([(50, "via:autoscaling.amazonaws.com"), (30, "terraform"), (20, "irsa")])
    c = caller(kind, "ec2", op)
    ro, resp, req = True, None, {}
    if op == "DescribeInstances":
        if R.random() < 0.5:
            req = {"instancesSet": {"items": [{"instanceId": instance_id()} for _ in range(R.randint(1, 6))]},
                   "filterSet": {}}
        else:
            req = {"maxResults": 1000, "instancesSet": {}, "filterSet": {"items": [
                ec2_filter("tag:karpenter.sh/nodepool", R.choice(["default", "gpu", "spot-batch"])),
                ec2_filter("instance-state-name", "pending", "running", "stopping", "stopped", "shutting-down")]}}
    elif op == "DescribeNetworkInterfaces":
        if R.random() < 0.5:
            req = {"networkInterfaceIdSet": {"items": [{"networkInterfaceId": "eni-0" + hexs(16)}]}, "filterSet": {}}
        else:
            req = {"networkInterfaceIdSet": {}, "filterSet": {"items": [ec2_filter("attachment.instance-id", instance_id())]}}
    elif op == "DescribeSecurityGroups":
        req = {"securityGroupSet": {}, "securityGroupIdSet": {"items": [{"groupId": "sg-0" + hexs(16)}
                                                                       for _ in range(R.randint(1, 3))]}, "filterSet": {}}
    elif op == "DescribeSubnets":
        req = {"subnetSet": {}, "filterSet": {"items": [ec2_filter("tag:karpenter.sh/discovery", "prod-eu")]}}
    elif op == "DescribeVolumes":
        req = {"volumeSet": {"items": [{"volumeId": "vol-0" + hexs(16)}]}, "filterSet": {}}
    elif op == "DescribeInstanceTypes":
        req = {"instanceTypeSet": {}, "filterSet": {"items": [ec2_filter("supported-virtualization-type", "hvm")]},
               "maxResults": 100, "nextToken": base64.b64encode(R.randbytes(R.randint(60, 200))).decode()}
    elif op == "CreateTags":
        ro = False
        res = instance_id() if R.random() < 0.6 else "vol-0" + hexs(16)
        tags = [("Name", R.choice(["prod-eu-general", "karpenter-node", "batch-runner"])),
                ("kubernetes.io/cluster/prod-eu", "owned"), ("karpenter.sh/nodepool", "default"),
                ("eks:eks-cluster-name", "prod-eu"), ("CostCenter", str(R.randint(1000, 9999)))]
        req = {"resourcesSet": {"items": [{"resourceId": res}]},
               "tagSet": {"items": [{"key": k, "value": v} for k, v in R.sample(tags, R.randint(1, len(tags)))]}}
        resp = {"requestId": RID, "_return": True}
    elif op == "RunInstances":
        ro = False
        iid, ip, subnet, vpc = instance_id(), private_ip(), "subnet-0" + hexs(16), "vpc-0" + hexs(16)
        itype = R.choice(["m6i.large", "m7g.xlarge", "c6i.2xlarge", "r6i.large", "t3.medium"])
        ami = "ami-0" + hexs(16)
        lt = "lt-0" + hexs(16)
        req = {"instancesSet": {"items": [{"minCount": 1, "maxCount": 1}]}, "blockDeviceMapping": {},
               "monitoring": {"enabled": False}, "disableApiTermination": False, "disableApiStop": False,
               "clientToken": U2, "launchTemplate": {"launchTemplateId": lt, "version": str(R.randint(1, 30))},
               "networkInterfaceSet": {"items": [{"deviceIndex": 0, "subnetId": subnet}]}}
        resp = {"requestId": RID, "reservationId": "r-0" + hexs(16), "ownerId": ACCOUNT, "groupSet": {},
                "instancesSet": {"items": [{
                    "instanceId": iid, "imageId": ami, "currentInstanceBootMode": "uefi",
                    "instanceState": {"code": 0, "name": "pending"},
                    "privateDnsName": f"ip-{ip.replace('.', '-')}.{REGION}.compute.internal", "amiLaunchIndex": 0,
                    "productCodes": {}, "instanceType": itype, "launchTime": int(epoch_near() * 1000),
                    "placement": {"availabilityZone": f"{REGION}{R.choice('abc')}", "tenancy": "default"},
                    "monitoring": {"state": "disabled"}, "subnetId": subnet, "vpcId": vpc, "privateIpAddress": ip,
                    "stateReason": {"code": "pending", "message": "pending"}, "architecture": "x86_64",
                    "rootDeviceType": "ebs", "rootDeviceName": "/dev/xvda", "blockDeviceMapping": {},
                    "virtualizationType": "hvm", "clientToken": U2,
                    "tagSet": {"items": [{"key": "eks:nodegroup-name", "value": "general-2026"},
                                         {"key": "aws:ec2launchtemplate:id", "value": lt}]},
                    "groupSet": {"items": [{"groupId": "sg-0" + hexs(16), "groupName": "eks-cluster-sg-prod-eu"}]},
                    "sourceDestCheck": True, "hypervisor": "xen",
                    "networkInterfaceSet": {"items": [{
                        "networkInterfaceId": "eni-0" + hexs(16), "subnetId": subnet, "vpcId": vpc,
                        "ownerId": ACCOUNT, "status": "in-use", "macAddress": ":".join(hexs(2) for _ in range(6)),
                        "privateIpAddress": ip, "sourceDestCheck": True, "interfaceType": "interface",
                        "groupSet": {"items": [{"groupId": "sg-0" + hexs(16), "groupName": "eks-cluster-sg-prod-eu"}]},
                        "attachment": {"attachmentId": "eni-attach-0" + hexs(16), "deviceIndex": 0,
                                       "networkCardIndex": 0, "status": "attaching", "attachTime": int(epoch_near() * 1000),
                                       "deleteOnTermination": True},
                        "privateIpAddressesSet": {"item": [{"privateIpAddress": ip, "primary": True}]},
                        "ipv6AddressesSet": {}, "tagSet": {}}]},
                    "ebsOptimized": True, "enaSupport": True, "cpuOptions": {"coreCount": 1, "threadsPerCore": 2},
                    "capacityReservationSpecification": {"capacityReservationPreference": "open"},
                    "enclaveOptions": {"enabled": False},
                    "metadataOptions": {"state": "pending", "httpTokens": "required", "httpPutResponseHopLimit": 2,
                                        "httpEndpoint": "enabled", "httpProtocolIpv4": "ipv4",
                                        "httpProtocolIpv6": "disabled", "instanceMetadataTags": "disabled"},
                    "maintenanceOptions": {"autoRecovery": "default"},
                    "privateDnsNameOptions": {"hostnameType": "ip-name", "enableResourceNameDnsARecord": False,
                                              "enableResourceNameDnsAAAARecord": False}}]},
                "requesterId": "940372691376" if c.is_service else None}
        if not c.is_service:
            del resp["requesterId"]
    error = None
    if ro and R.random() < 0.02:
        error = ("Client.UnauthorizedOperation", "You are not authorized to perform this operation. User: "
                 f"{c.arn} is not authorized to perform: ec2:{op} because no identity-based policy allows the "
                 f"ec2:{op} action")
    return rec(c, "ec2", op, req, resp, error=error, rid=RID, ro=ro, host=f"ec2.{REGION}.amazonaws.com")


IAM_ROLES = ["orders-api", "payments-worker", "terraform-deployer", "eks-node-role", "karpenter",
             "DatadogIntegrationRole", "platform-engineer", "github-actions-deployer", "eks-cluster-role"]
IAM_POLICIES = ["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy", "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
                "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", f"arn:aws:iam::{ACCOUNT}:policy/orders-api-access",
                "arn:aws:iam::aws:policy/ReadOnlyAccess", f"arn:aws:iam::{ACCOUNT}:policy/karpenter-controller"]


def b_iam(op):
    kind = pick([(35, "terraform"), (20, "audit"), (15, "sso_console"), (10, "svc:access-analyzer.amazonaws.com"),
                 (10, "via:config.amazonaws.com"), (10, "human_cli")])
    c = caller(kind, "iam", op)
    role = R.choice(IAM_ROLES)
    req = {
        "GetRole": lambda: {"roleName": role},
        "GetRolePolicy": lambda: {"roleName": role, "policyName": R.choice(["inline-s3", "kms-decrypt", "eks-describe"])},
        "ListAttachedRolePolicies": lambda: {"roleName": role},
        "ListRolePolicies": lambda: {"roleName": role},
        "GetPolicy": lambda: {"policyArn": R.choice(IAM_POLICIES)},
        "GetPolicyVersion": lambda: {"policyArn": R.choice(IAM_POLICIES), "versionId": f"v{R.randint(1, 9)}"},
        "ListRoles": lambda: {"maxItems": 1000} if R.random() < 0.5 else {"pathPrefix": "/", "marker": base64.b64encode(R.randbytes(90)).decode()},
        "GetUser": lambda: {"userName": R.choice(IAM_USERS)[0]},
        "ListAccessKeys": lambda: {"userName": R.choice(IAM_USERS)[0]},
        "GetInstanceProfile": lambda: {"instanceProfileName": f"eks-{hexs(8)}-{hexs(4)}-{hexs(4)}"},
    }[op]()
    error = None
    if op in ("GetRole", "GetRolePolicy") and R.random() < 0.05:
        error = ("NoSuchEntityException", f"The role with name {role} cannot be found.")
    return rec(c, "iam", op, req, None, region="us-east-1", error=error, host="iam.amazonaws.com")


ASSUMABLE = ["terraform-deployer", "DatadogIntegrationRole", "SecurityAuditRole", "eks-cluster-role",
             "orders-api-task", "github-actions-deployer", "cross-account-readonly", "data-pipeline-emr"]


def sts_assume_resp(role_arn, session):
    role = role_arn.rsplit("/", 1)[1]
    return {"credentials": {"accessKeyId": temp_key(), "expiration": expiration()},
            "assumedRoleUser": {"assumedRoleId": f"{role_id(role)}:{session}",
                                "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"}}


def b_sts(op):
    region, host = pick([(60, ("us-east-1", "sts.amazonaws.com")), (40, (REGION, f"sts.{REGION}.amazonaws.com"))])
    if op == "GetCallerIdentity":
        c = caller(pick([(30, "human_cli"), (25, "terraform"), (20, "irsa"), (15, "gha"), (10, "sso_cli")]), "sts", op)
        return rec(c, "sts", op, None, None, region=region, host=host)
    if op == "AssumeRoleWithWebIdentity":
        role, ns, sa, sdk = R.choice(IRSA_APPS)
        sub = f"system:serviceaccount:{ns}:{sa}"
        c = Caller({"type": "WebIdentityUser", "principalId": f"{OIDC}:sts.amazonaws.com:{sub}", "userName": sub,
                    "identityProvider": OIDC}, sdk_ua(sdk, "sts"), R.choice(NAT_IPS))
        role_arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
        session = sdk_session(sdk)
        resp = sts_assume_resp(role_arn, session)
        resp.update({"subjectFromWebIdentityToken": sub, "provider": OIDC, "audience": "sts.amazonaws.com"})
        return rec(c, "sts", op, {"roleArn": role_arn, "roleSessionName": session}, resp, region=region,
                   add={"identityProviderConnectionVerificationMethod": "IAMTrustStore"},
                   resources=[{"accountId": ACCOUNT, "type": "AWS::IAM::Role", "ARN": role_arn},
                              {"accountId": ACCOUNT, "type": "AWS::IAM::OIDCProvider", "ARN": OIDC}], host=host)
    # AssumeRole of ordinary roles: the bulk of STS traffic
    kind = pick([(30, "svc:lambda.amazonaws.com"), (20, "svc:ecs-tasks.amazonaws.com"), (8, "svc:eks.amazonaws.com"),
                 (12, "gha"), (8, "iam_user"), (8, "sso_cli"), (7, "xacct_partner"), (7, "xacct_security")])
    shared = False
    req_extra = {}
    if kind == "svc:lambda.amazonaws.com":
        fn, _ = R.choice(LAMBDAS)
        role, session = f"{fn}-role", fn
    elif kind == "svc:ecs-tasks.amazonaws.com":
        role, session = "orders-api-task", hexs(32)
    elif kind == "svc:eks.amazonaws.com":
        role, session = "eks-cluster-role", f"aws-go-sdk-{R.randint(1795000000000000000, 1795200000000000000)}"
    elif kind == "gha":
        role, session = "terraform-deployer", f"terraform-run-{R.randint(1000, 9999)}"
    elif kind == "iam_user":
        role, session = R.choice(["terraform-deployer", "cross-account-readonly"]), f"ci-{R.randint(10000, 99999)}"
    elif kind == "sso_cli":
        role, session = R.choice(["cross-account-readonly", "data-pipeline-emr"]), R.choice(PEOPLE)
    elif kind == "xacct_partner":
        role, session = "DatadogIntegrationRole", "DatadogAWSIntegration"
        req_extra = {"externalId": hexs(32)}
    else:
        role, session = "SecurityAuditRole", f"prowler-{R.randint(100, 999)}"
    if kind.startswith("xacct_"):
        acct = PARTNER if kind == "xacct_partner" else SECURITY
        c = Caller({"type": "AWSAccount", "principalId": f"AROA{rs(UPPER, 17)}:{R.choice(['scanner', 'dd-crawler', 'audit'])}",
                    "accountId": acct}, ua_boto() if acct == SECURITY else "aws-sdk-go/1.55.5 (go1.22.7; linux; amd64)",
                   R.choice(PARTNER_IPS))
        shared = True
    else:
        c = caller(kind, "sts", op)
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    req = {"roleArn": role_arn, "roleSessionName": session}
    if R.random() < 0.4:
        req["durationSeconds"] = R.choice([900, 3600, 3600, 43200])
    req.update(req_extra)
    error = None
    if R.random() < 0.01:
        error = ("AccessDenied", f"User: {c.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}")
    return rec(c, "sts", "AssumeRole", req, sts_assume_resp(role_arn, session), region=region, error=error,
               resources=[{"accountId": ACCOUNT, "type": "AWS::IAM::Role", "ARN": role_arn}], shared=shared, host=host)


def kms_context():
    return pick([
        (35, lambda: {"aws:s3:arn": f"arn:aws:s3:::{R.choice(BUCKETS)}"}),
        (15, lambda: {"aws:s3:arn": f"arn:aws:s3:::{R.choice(BUCKETS[:2])}/{s3_key(BUCKETS[0])}"}),
        (15, lambda: {"SecretARN": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{R.choice(SECRETS)}-{rs(ALNUM, 6)}",
                      "SecretVersionId": tuuid()}),
        (10, lambda: {"PARAMETER_ARN": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{R.choice(PARAMS)}"}),
        (10, lambda: {"aws:lambda:FunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{R.choice(LAMBDAS)[0]}"}),
        (10, lambda: {"aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/eks/prod-eu/cluster"}),
        (5, lambda: {"aws:cloudtrail:arn": f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/org-trail",
                     "aws:s3:arn": f"arn:aws:s3:::acme-cloudtrail-logs/AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/2026/11/20/"
                                   f"{ACCOUNT}_CloudTrail_{REGION}_20261120T0105Z_{rs(ALNUM, 16)}.json.gz"}),
    ])()


def b_kms(op):
    kind = pick([(30, "irsa"), (15, "lambda"), (15, "via:s3.amazonaws.com"), (10, "via:secretsmanager.amazonaws.com"),
                 (8, "via:ssm.amazonaws.com"), (7, "svc:cloudtrail.amazonaws.com"), (5, "ecs"), (5, "node"),
                 (5, "svc:logs.amazonaws.com")])
    c = caller(kind, "kms", op)
    key = R.choice(KMS_KEYS)
    ctx = kms_context()
    if op == "Decrypt":
        req = {"encryptionContext": ctx, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
    else:
        req = {"keyId": R.choice([key, "alias/aws/s3", f"alias/{R.choice(['app-data', 'logs', 'secrets'])}"]),
               "encryptionContext": ctx, "keySpec": "AES_256"}
    return rec(c, "kms", op, req, None, resources=[{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key}],
               shared=kind.startswith("svc:") and R.random() < 0.3)


def b_lambda(op):
    fn = R.choice(LAMBDAS)[0]
    fn_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn}"
    if op == "Invoke":
        kind = pick([(30, "irsa"), (20, "svc:events.amazonaws.com"), (15, "svc:s3.amazonaws.com"),
                     (15, "svc:sqs.amazonaws.com"), (10, "svc:apigateway.amazonaws.com"), (10, "ecs")])
        c = caller(kind, "lambda", op)
        req = {"functionName": fn_arn if R.random() < 0.7 else fn}
        if c.is_service:
            req["sourceArn"] = {"events.amazonaws.com": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{fn}-schedule",
                                "s3.amazonaws.com": f"arn:aws:s3:::{R.choice(BUCKETS)}",
                                "sqs.amazonaws.com": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{fn}-queue",
                                "apigateway.amazonaws.com": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{rs(ALNUM, 10).lower()}/prod/POST/orders"}[c.ident["invokedBy"]]
        else:
            req["invocationType"] = R.choice(["RequestResponse", "Event"])
        ver = R.choice(["$LATEST", str(R.randint(1, 80))])
        return rec(c, "lambda", "Invoke", req, None, add={"functionVersion": f"{fn_arn}:{ver}"}, ro=False,
                   resources=[{"accountId": ACCOUNT, "type": "AWS::Lambda::Function", "ARN": fn_arn}], mgmt=False)
    c = caller(pick([(40, "terraform"), (30, "sso_console"), (20, "datadog"), (10, "human_cli")]), "lambda", op)
    req = {"functionName": fn} if op.startswith("GetFunction") else ({"maxItems": 50} if R.random() < 0.5 else None)
    return rec(c, "lambda", op, req, None)


LOG_GROUPS = ["/aws/eks/prod-eu/cluster", "/aws/containerinsights/prod-eu/application", "/ecs/orders-api",
              "/aws/vpc/flow-logs", "/aws/rds/cluster/orders-db/postgresql"] + [f"/aws/lambda/{fn}" for fn, _ in LAMBDAS]


def b_logs(op):
    if op == "CreateLogStream":
        fn = R.choice(LAMBDAS)[0]
        c = Caller(assumed(f"{fn}-role", fn), f"awslambda-worker/1.0 rusoto/0.48.0 rust/1.7{R.randint(4, 9)}.0 linux",
                   R.choice(LAMBDA_IPS))
        req = {"logGroupName": f"/aws/lambda/{fn}", "logStreamName": f"2026/11/20/[$LATEST]{hexs(32)}"}
        return rec(c, "logs", op, req, None, ro=False)
    c = caller(pick([(30, "irsa"), (25, "datadog"), (20, "sso_console"), (15, "human_cli"), (10, "terraform")]), "logs", op)
    g = R.choice(LOG_GROUPS)
    req = {
        "DescribeLogGroups": lambda: {"logGroupNamePrefix": g} if R.random() < 0.6 else {"limit": 50},
        "DescribeLogStreams": lambda: {"logGroupName": g, "orderBy": "LastEventTime", "descending": True, "limit": 50},
        "FilterLogEvents": lambda: {"logGroupName": g, "startTime": int(EPOCH0 * 1000) - 3600000, "endTime": int(EPOCH0 * 1000),
                                    "filterPattern": R.choice(["ERROR", "\"AccessDenied\"", "{ $.level = \"error\" }", ""]),
                                    "interleaved": True},
        "GetLogEvents": lambda: {"logGroupName": g, "logStreamName": f"kube-apiserver-audit-{hexs(32)}", "startFromHead": False},
    }[op]()
    return rec(c, "logs", op, req, None)


def b_monitoring(op):
    c = caller(pick([(40, "datadog"), (25, "irsa"), (20, "sso_console"), (15, "terraform")]), "monitoring", op)
    if c.console and R.random() < 0.5:
        c.ua = c.ip = "AWS Internal"
    if op == "GetMetricData":
        qs = []
        for i in range(R.randint(1, 8)):
            ns, mn, dim = R.choice([("AWS/EC2", "CPUUtilization", ("InstanceId", instance_id())),
                                    ("AWS/ApplicationELB", "TargetResponseTime", ("LoadBalancer", f"app/prod-alb/{hexs(16)}")),
                                    ("AWS/Lambda", "Errors", ("FunctionName", R.choice(LAMBDAS)[0])),
                                    ("ContainerInsights", "pod_cpu_utilization", ("ClusterName", "prod-eu")),
                                    ("AWS/DynamoDB", "ConsumedReadCapacityUnits", ("TableName", "orders"))])
            qs.append({"id": f"m{i}", "metricStat": {"metric": {"namespace": ns, "metricName": mn,
                                                                 "dimensions": [{"name": dim[0], "value": dim[1]}]},
                                                      "period": R.choice([60, 300]), "stat": R.choice(["Average", "Sum", "p99"])},
                       "returnData": True})
        req = {"metricDataQueries": qs, "startTime": "Nov 20, 2026, 12:00:00 AM", "endTime": "Nov 20, 2026, 1:00:00 AM"}
    elif op == "DescribeAlarms":
        req = {"alarmNames": [f"{R.choice(['orders', 'payments', 'eks'])}-{R.choice(['5xx', 'latency', 'cpu'])}-high"]} \
            if R.random() < 0.5 else {"maxRecords": 100}
    elif op == "ListMetrics":
        req = {"namespace": R.choice(["AWS/EKS", "AWS/EC2", "ContainerInsights", "AWS/Lambda"])}
    else:  # GetMetricStatistics
        req = {"namespace": "AWS/EC2", "metricName": "CPUUtilization", "dimensions": [{"name": "InstanceId", "value": instance_id()}],
               "startTime": "Nov 20, 2026, 12:00:00 AM", "endTime": "Nov 20, 2026, 1:00:00 AM", "period": 300,
               "statistics": ["Average", "Maximum"]}
    return rec(c, "monitoring", op, req, None)


TABLES = ["orders", "payments-ledger", "sessions", "feature-flags", "inventory"]
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"


def b_dynamodb(op):
    table = R.choice(TABLES)
    if op in ("GetItem", "PutItem") and R.random() < 0.08:
        table = "terraform-locks"
    kind = "terraform" if table == "terraform-locks" else pick([(45, "irsa"), (30, "lambda"), (20, "ecs"), (5, "iam_user")])
    c = caller(kind, "dynamodb", op)
    key = {"pk": HIDDEN, "sk": HIDDEN} if R.random() < 0.6 else {"id": HIDDEN}
    if table == "terraform-locks":
        key = {"LockID": HIDDEN}
    ro, mgmt = True, False
    if op == "GetItem":
        req = {"tableName": table, "key": key, "consistentRead": R.random() < 0.3}
    elif op == "PutItem":
        ro = False
        req = {"tableName": table, "key": key, "item": list(key) + R.sample(["status", "total", "updatedAt", "ttl", "owner"], 3)}
        if R.random() < 0.5:
            req["conditionExpression"] = "attribute_not_exists(#pk)"
            req["expressionAttributeNames"] = {"#pk": "pk"}
    elif op == "UpdateItem":
        ro = False
        req = {"tableName": table, "key": key, "updateExpression": "SET #s = :s, updatedAt = :u",
               "expressionAttributeNames": {"#s": "status"}, "expressionAttributeValues": {":s": HIDDEN, ":u": HIDDEN},
               "returnValues": "ALL_NEW"}
    elif op == "Query":
        req = {"tableName": table, "keyConditionExpression": "#pk = :pk", "expressionAttributeNames": {"#pk": "pk"},
               "expressionAttributeValues": {":pk": HIDDEN}, "limit": R.choice([25, 50, 100])}
        if R.random() < 0.4:
            req["indexName"] = "gsi1"
    else:  # DescribeTable
        mgmt = True
        req = {"tableName": table}
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"
    error = ("ConditionalCheckFailedException", "The conditional request failed") \
        if op == "PutItem" and "conditionExpression" in req and R.random() < 0.1 else None
    vpce = VPCE["dynamodb"] if c.in_vpc and R.random() < 0.5 else None
    return rec(c, "dynamodb", op, req, None, error=error, ro=ro, mgmt=mgmt, vpce=vpce,
               ip=private_ip() if vpce else None,
               resources=None if mgmt else [{"accountId": ACCOUNT, "type": "AWS::DynamoDB::Table", "ARN": table_arn}])


PARAMS = ["/prod/orders/db-host", "/prod/orders/db-password", "/prod/payments/stripe-webhook-secret",
          "/eks/prod-eu/karpenter/ami-id", "/aws/service/eks/optimized-ami/1.31/amazon-linux-2023/x86_64/standard/recommended/image_id"]
SECRETS = ["prod/orders/db", "prod/payments/stripe-key", "prod/datadog/api-key", "staging/orders/db", "prod/github/app-key"]


def b_ssm(op):
    if op in ("UpdateInstanceInformation", "ListInstanceAssociations"):
        iid = instance_id()
        c = Caller(assumed("eks-node-role", iid, ec2=True), ua_ssm_agent(), R.choice(NAT_IPS))
        if op == "ListInstanceAssociations":
            return rec(c, "ssm", op, {"instanceId": iid, "maxResults": 20}, None)
        ip = private_ip()
        req = {"instanceId": iid, "agentVersion": c.ua.rsplit("/", 1)[1], "agentStatus": "Active", "platformType": "Linux",
               "platformName": "Amazon Linux", "platformVersion": "2023", "iPAddress": ip,
               "computerName": f"ip-{ip.replace('.', '-')}.{REGION}.compute.internal", "agentName": "amazon-ssm-agent",
               "availabilityZone": f"{REGION}{R.choice('abc')}", "availabilityZoneId": f"euw1-az{R.randint(1, 3)}",
               "sSMConnectionChannel": "ssmmessages"}
        return rec(c, "ssm", op, req, None, ro=False)
    c = caller(pick([(40, "irsa"), (30, "lambda"), (15, "terraform"), (15, "node")]), "ssm", op)
    if op == "GetParameter":
        req = {"name": R.choice(PARAMS), "withDecryption": R.random() < 0.7}
    else:
        req = {"names": R.sample(PARAMS, R.randint(2, 4)), "withDecryption": True}
    return rec(c, "ssm", op, req, None)


def b_secrets(op):
    c = caller(pick([(45, "irsa"), (30, "lambda"), (15, "ecs"), (10, "sso_console")]), "secretsmanager", op)
    sid = R.choice(SECRETS)
    if R.random() < 0.5:
        sid = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{sid}-{rs(ALNUM, 6)}"
    req = {"secretId": sid}
    if op == "GetSecretValue" and R.random() < 0.2:
        req["versionStage"] = "AWSCURRENT"
    error = ("ResourceNotFoundException", "Secrets Manager can't find the specified secret.") if R.random() < 0.01 else None
    return rec(c, "secretsmanager", op, req, None, error=error)


CLUSTERS = ["prod-eu", "staging-eu", "dev-eu", "data-platform"]


def b_eks_read(op):
    kind = pick([(30, "irsa"), (20, "terraform"), (20, "human_cli"), (15, "sso_console"), (10, "datadog"), (5, "gha")])
    c = caller(kind, "eks", op)
    if kind == "human_cli" and op == "DescribeCluster":
        c.ua = c.ua.rsplit("command/", 1)[0] + "command/eks.update-kubeconfig"
    cluster = R.choice(CLUSTERS)
    principal = f"arn:aws:iam::{ACCOUNT}:role/{R.choice(['payments-dev', 'ci-deployer', 'readonly-auditors'])}"
    req = {
        "DescribeCluster": lambda: {"name": cluster},
        "ListClusters": lambda: None if R.random() < 0.5 else {"maxResults": 100},
        "DescribeNodegroup": lambda: {"name": cluster, "nodegroupName": R.choice(["general-2026", "system", "gpu-a10g"])},
        "ListAccessEntries": lambda: {"name": cluster, "maxResults": 100},
        "DescribeAccessEntry": lambda: {"name": cluster, "principalArn": quote(principal, safe="")},
        "ListAssociatedAccessPolicies": lambda: {"name": cluster, "principalArn": quote(principal, safe="")},
        "DescribeAddon": lambda: {"name": cluster, "addonName": R.choice(["vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver"])},
    }[op]()
    return rec(c, "eks", op, req, None)


def b_signin(op):
    p = R.choice(PEOPLE)
    if R.random() < 0.7:
        c = Caller(assumed(R.choice(SSO_ROLES), f"{p}@example.com", path=SSO_PATH), R.choice(CONSOLE_UAS[:4]),
                   R.choice(OFFICE_IPS))
        add = {"MobileVersion": "No", "MFAUsed": "No"}
    else:
        c = Caller(iam_user(p), R.choice(CONSOLE_UAS[:4]), R.choice(OFFICE_IPS))
        add = {"LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
               "MobileVersion": "No", "MFAIdentifier": f"arn:aws:iam::{ACCOUNT}:mfa/{p}", "MFAUsed": "Yes"}
    d = rec(c, "signin", op, None, {"ConsoleLogin": "Success"}, region="us-east-1", add=add, ro=False,
            etype="AwsConsoleSignIn", ver="1.08")
    d.pop("requestID")
    return d


# (source key, eventName, weight in % of ordinary records, templates to build, builder)
OPS = [
    ("s3", "GetObject", 24.0, 400, b_s3), ("s3", "PutObject", 9.0, 200, b_s3), ("s3", "HeadObject", 7.0, 150, b_s3),
    ("ec2", "DescribeInstances", 3.0, 80, b_ec2), ("ec2", "DescribeNetworkInterfaces", 1.6, 40, b_ec2),
    ("ec2", "DescribeSecurityGroups", 1.0, 30, b_ec2), ("ec2", "DescribeSubnets", 0.8, 20, b_ec2),
    ("ec2", "DescribeVolumes", 0.8, 20, b_ec2), ("ec2", "DescribeInstanceTypes", 0.5, 20, b_ec2),
    ("ec2", "CreateTags", 1.0, 40, b_ec2), ("ec2", "RunInstances", 0.3, 30, b_ec2),
    ("iam", "GetRole", 1.0, 40, b_iam), ("iam", "GetRolePolicy", 0.5, 30, b_iam),
    ("iam", "ListAttachedRolePolicies", 0.6, 30, b_iam), ("iam", "ListRolePolicies", 0.4, 20, b_iam),
    ("iam", "GetPolicy", 0.4, 20, b_iam), ("iam", "GetPolicyVersion", 0.4, 20, b_iam), ("iam", "ListRoles", 0.2, 20, b_iam),
    ("iam", "GetUser", 0.2, 15, b_iam), ("iam", "ListAccessKeys", 0.2, 15, b_iam), ("iam", "GetInstanceProfile", 0.2, 15, b_iam),
    ("sts", "AssumeRole", 5.0, 250, b_sts), ("sts", "AssumeRoleWithWebIdentity", 1.5, 80, b_sts),
    ("sts", "GetCallerIdentity", 1.0, 50, b_sts),
    ("kms", "Decrypt", 7.0, 200, b_kms), ("kms", "GenerateDataKey", 3.0, 100, b_kms),
    ("lambda", "Invoke", 4.5, 150, b_lambda), ("lambda", "GetFunction20150331v2", 0.3, 20, b_lambda),
    ("lambda", "ListFunctions20150331", 0.2, 10, b_lambda),
    ("logs", "CreateLogStream", 1.5, 40, b_logs), ("logs", "DescribeLogGroups", 1.0, 40, b_logs),
    ("logs", "DescribeLogStreams", 0.7, 30, b_logs), ("logs", "FilterLogEvents", 0.4, 20, b_logs),
    ("logs", "GetLogEvents", 0.4, 20, b_logs),
    ("monitoring", "GetMetricData", 1.5, 60, b_monitoring), ("monitoring", "DescribeAlarms", 0.7, 30, b_monitoring),
    ("monitoring", "ListMetrics", 0.5, 20, b_monitoring), ("monitoring", "GetMetricStatistics", 0.3, 20, b_monitoring),
    ("dynamodb", "GetItem", 2.5, 80, b_dynamodb), ("dynamodb", "PutItem", 1.5, 60, b_dynamodb),
    ("dynamodb", "Query", 1.2, 50, b_dynamodb), ("dynamodb", "UpdateItem", 0.5, 30, b_dynamodb),
    ("dynamodb", "DescribeTable", 0.3, 20, b_dynamodb),
    ("ssm", "UpdateInstanceInformation", 2.5, 60, b_ssm), ("ssm", "ListInstanceAssociations", 1.0, 30, b_ssm),
    ("ssm", "GetParameter", 1.0, 40, b_ssm), ("ssm", "GetParameters", 0.5, 20, b_ssm),
    ("secretsmanager", "GetSecretValue", 2.0, 60, b_secrets), ("secretsmanager", "DescribeSecret", 0.3, 15, b_secrets),
    ("signin", "ConsoleLogin", 0.05, 10, b_signin),
    ("eks", "DescribeCluster", 0.12, 30, b_eks_read), ("eks", "ListClusters", 0.02, 8, b_eks_read),
    ("eks", "DescribeNodegroup", 0.03, 10, b_eks_read), ("eks", "ListAccessEntries", 0.01, 5, b_eks_read),
    ("eks", "DescribeAccessEntry", 0.008, 5, b_eks_read), ("eks", "ListAssociatedAccessPolicies", 0.008, 5, b_eks_read),
    ("eks", "DescribeAddon", 0.004, 5, b_eks_read),
]


# --------------------------------------------------------------------------------------------
# EKS access changes and break-glass role assumptions (the events the tool alerts on)
# --------------------------------------------------------------------------------------------

POLICY_PREFIX = "arn:aws:eks::aws:cluster-access-policy/"
# (policy, weight, allowed scopes)
EKS_POLICIES = [
    ("AmazonEKSViewPolicy", 25), ("AmazonEKSEditPolicy", 15), ("AmazonEKSAdminPolicy", 15),
    ("AmazonEKSClusterAdminPolicy", 15), ("AmazonEKSAdminViewPolicy", 8), ("AmazonEKSSecretReaderPolicy", 4),
    ("AmazonEKSAutoNodePolicy", 2), ("AmazonEKSBlockStoragePolicy", 2), ("AmazonEKSComputePolicy", 2),
    ("AmazonEKSLoadBalancingPolicy", 2), ("AmazonEKSNetworkingPolicy", 2), ("AmazonEKSClusterInsightsPolicy", 2),
    ("AmazonEKSHybridPolicy", 1), ("AmazonEKSFutureAdminPolicy", 1), ("AmazonEKSCustomAuditPolicy", 1),
]
NAMESPACE_SETS = [["payments"], ["orders"], ["kube-system"], ["*"], ["team-a", "team-b"], ["monitoring", "logging"],
                  ["data-*"], ["default"], ["ml"]]
# (principal ARN, weight, entry type, kubernetes groups)
EKS_PRINCIPALS = [
    (f"arn:aws:iam::{ACCOUNT}:role/ci-deployer", 12, "STANDARD", []),
    (f"arn:aws:iam::{ACCOUNT}:role/payments-dev", 10, "STANDARD", ["team:payments"]),
    (f"arn:aws:iam::{ACCOUNT}:role/data-scientists", 8, "STANDARD", ["team:data"]),
    (f"arn:aws:iam::{ACCOUNT}:role/readonly-auditors", 8, "STANDARD", ["view-only"]),
    (f"arn:aws:iam::{ACCOUNT}:role/platform-admin", 6, "STANDARD", []),
    (f"arn:aws:iam::{ACCOUNT}:role/team-a-developers", 6, "STANDARD", ["team:a"]),
    (f"arn:aws:iam::{ACCOUNT}:role/github-actions-deployer", 6, "STANDARD", []),
    (f"arn:aws:iam::{ACCOUNT}:role/monitoring-readonly", 5, "STANDARD", ["monitoring"]),
    (f"arn:aws:iam::{ACCOUNT}:role/eks-node-role", 6, "EC2_LINUX", []),
    (f"arn:aws:iam::{ACCOUNT}:role/karpenter-node-role", 5, "EC2_LINUX", []),
    (f"arn:aws:iam::{ACCOUNT}:role/windows-node-role", 1, "EC2_WINDOWS", []),
    (f"arn:aws:iam::{ACCOUNT}:role/fargate-pod-execution", 1, "FARGATE_LINUX", []),
    (f"arn:aws:iam::{ACCOUNT}:role/eks-break-glass", 2, "STANDARD", []),
    (f"arn:aws:iam::{ACCOUNT}:role/{SSO_PATH}AWSReservedSSO_PlatformEngineer_a1b2c3d4e5f60718", 4, "STANDARD", []),
    (f"arn:aws:iam::{PARTNER}:role/vendor-support", 2, "STANDARD", ["vendor"]),
    (f"arn:aws:iam::{ACCOUNT}:user/jdoe", 3, "STANDARD", ["system:masters"]),
    (f"arn:aws:iam::{ACCOUNT}:user/contractor-alice", 2, "STANDARD", ["team:a"]),
    (f"arn:aws:iam::{ACCOUNT}:user/ci-bot", 2, "STANDARD", []),
    (f"arn:aws:sts::{ACCOUNT}:assumed-role/platform-engineer/jdoe", 1, "STANDARD", []),
]
EKS_CALLERS = [(45, "terraform"), (20, "human_cli"), (10, "sso_console"), (8, "gha"), (10, "iam_user"), (3, "root"),
               (4, "sso_cli")]
EKS_OP_WEIGHTS = [(20, "CreateAccessEntry"), (30, "AssociateAccessPolicy"), (15, "DisassociateAccessPolicy"),
                  (12, "DeleteAccessEntry"), (13, "UpdateAccessEntry"), (10, "UpdateClusterConfig")]


def entry_arn(cluster, principal):
    kind = "role" if ":role/" in principal else ("user" if ":user/" in principal else "assumed-role")
    name = principal.rsplit("/", 1)[1]
    acct = principal.split(":")[4]
    return f"arn:aws:eks:{REGION}:{ACCOUNT}:access-entry/{cluster}/{kind}/{acct}/{name}/{tuuid()}"


def access_entry(cluster, principal, etype, groups, tags, created, modified, username=None):
    name = principal.rsplit("/", 1)[1]
    if etype == "EC2_LINUX" or etype == "EC2_WINDOWS":
        groups, username = ["system:nodes"] + (["eks:kube-proxy-windows"] if etype == "EC2_WINDOWS" else []), \
            "system:node:{{EC2PrivateDNSName}}"
    elif etype == "FARGATE_LINUX":
        groups, username = ["system:node-proxier", "system:nodes"], "system:node:{{SessionName}}"
    elif username is None:
        username = (f"arn:aws:sts::{principal.split(':')[4]}:assumed-role/{name}/{{{{SessionName}}}}"
                    if ":role/" in principal else principal)
    return {"clusterName": cluster, "principalArn": principal, "kubernetesGroups": groups,
            "accessEntryArn": entry_arn(cluster, principal), "createdAt": created, "modifiedAt": modified,
            "tags": tags, "username": username, "type": etype}


def b_eks_access(op):
    kind = pick(EKS_CALLERS)
    c = caller(kind, "eks", op)
    cluster = pick([(50, "prod-eu"), (25, "staging-eu"), (15, "dev-eu"), (10, "data-platform")])
    principal, _w, etype, groups = pick([(w, p) for p in EKS_PRINCIPALS for w in [p[1]]])
    enc = quote(principal, safe="")
    created, now = epoch_near(-R.randint(1, 400)), epoch_near()
    tags = pick([(60, {}), (30, {"ManagedBy": "terraform"}), (10, {"ManagedBy": "terraform", "Team": "platform"})])
    quirk = R.random()
    if quirk < 0.02:
        tags = {"owner": "データ基盤チーム 🚀", "note": "équipe — “plateforme”"}
    error = None
    r = R.random()
    if r < 0.05:
        action = op
        error = ("AccessDeniedException", f"User: {c.arn} is not authorized to perform: eks:{action} on resource: "
                                          f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{cluster}")
    elif r < 0.06:
        error = {
            "CreateAccessEntry": ("ResourceInUseException", "The specified access entry resource is already in use on this cluster."),
            "UpdateClusterConfig": ("InvalidParameterException", "Unsupported authentication mode update from API to API_AND_CONFIG_MAP"),
        }.get(op, ("ResourceNotFoundException", "The specified principalArn could not be found. You can view your "
                                                "available access entries with 'list-access-entries'."))
    if op == "CreateAccessEntry":
        req = {"name": cluster, "principalArn": principal}
        if groups and R.random() < 0.8:
            req["kubernetesGroups"] = groups
        if etype != "STANDARD" or R.random() < 0.5:
            req["type"] = etype
        if R.random() < 0.1 and etype == "STANDARD":
            req["username"] = principal.rsplit("/", 1)[1]
        req["tags"] = tags
        req["clientRequestToken"] = U2
        resp = {"accessEntry": access_entry(cluster, principal, etype, req.get("kubernetesGroups", []), tags, now, now,
                                            req.get("username"))}
    elif op == "UpdateAccessEntry":
        groups = R.choice([["team:payments", "team:payments-oncall"], ["view-only"], [], ["system:masters"], ["team:a"]])
        req = {"name": cluster, "principalArn": enc, "kubernetesGroups": groups, "clientRequestToken": U2}
        if R.random() < 0.2:
            req["username"] = principal.rsplit("/", 1)[1] + "-renamed"
        resp = {"accessEntry": access_entry(cluster, principal, "STANDARD", groups, tags, created, now, req.get("username"))}
    elif op == "DeleteAccessEntry":
        req = {"name": cluster, "principalArn": enc}
        resp = None
    elif op in ("AssociateAccessPolicy", "DisassociateAccessPolicy"):
        policy = POLICY_PREFIX + pick([(w, p) for p, w in EKS_POLICIES])
        if op == "DisassociateAccessPolicy":
            req = {"name": cluster, "principalArn": enc, "policyArn": quote(policy, safe="")}
            resp = None
        else:
            if R.random() < 0.45 and not policy.endswith("ClusterAdminPolicy"):
                scope = {"type": "namespace", "namespaces": R.choice(NAMESPACE_SETS)}
            else:
                scope = {"type": "cluster"}
            if policy.endswith("ClusterAdminPolicy") and R.random() < 0.1:
                scope = {"type": "namespace", "namespaces": ["kube-system"]}
            req = {"name": cluster, "principalArn": enc, "policyArn": policy, "accessScope": scope}
            resp = {"clusterName": cluster, "principalArn": principal,
                    "associatedAccessPolicy": {"policyArn": policy, "accessScope": scope, "associatedAt": now, "modifiedAt": now}}
    else:  # UpdateClusterConfig: authentication mode
        mode = pick([(60, "API"), (35, "API_AND_CONFIG_MAP"), (5, "CONFIG_MAP")])
        req = {"name": cluster, "accessConfig": {"authenticationMode": mode}, "clientRequestToken": U2}
        resp = {"update": {"id": tuuid(), "status": "InProgress", "type": "AccessConfigUpdate",
                           "params": [{"type": "AuthenticationMode", "value": mode}], "createdAt": now, "errors": []}}
    d = rec(c, "eks", op, req, resp, error=error, ro=False, ver="1.09")
    if 0.02 <= quirk < 0.03:
        d["userAgent"] = None
    return d


def b_break_glass(_op):
    p = R.choice(PEOPLE)
    session = R.choice([f"{p}-incident-{R.randint(1000, 9999)}", p, f"{p}@example.com", f"breakglass-{p}"])
    region, host = R.choice([("us-east-1", "sts.amazonaws.com"), (REGION, f"sts.{REGION}.amazonaws.com")])
    resources = [{"accountId": ACCOUNT, "type": "AWS::IAM::Role", "ARN": BREAK_GLASS_ROLE}]
    if R.random() < 0.25:
        email = f"{p}@example.com"
        c = Caller({"type": "SAMLUser", "principalId": f"{base64.b64encode(R.randbytes(20)).decode()}:{email}",
                    "userName": email, "identityProvider": SAML}, R.choice(CONSOLE_UAS[:4]), R.choice(OFFICE_IPS))
        req = {"sAMLAssertionID": f"id{R.randint(10 ** 26, 10 ** 27)}", "roleSessionName": email, "roleArn": BREAK_GLASS_ROLE,
               "principalArn": SAML, "durationSeconds": 3600}
        resp = sts_assume_resp(BREAK_GLASS_ROLE, email)
        resp.update({"subject": email, "subjectType": "unspecified", "issuer": "http://www.okta.com/exk1a2b3c4d5e6f7g8h9",
                     "audience": "https://signin.aws.amazon.com/saml",
                     "nameQualifier": base64.b64encode(R.randbytes(20)).decode()})
        return rec(c, "sts", "AssumeRoleWithSAML", req, resp, region=region, ver="1.09",
                   resources=resources + [{"accountId": ACCOUNT, "type": "AWS::IAM::SAMLProvider", "ARN": SAML}], host=host)
    kind = pick([(50, "human_cli"), (30, "sso_cli"), (20, "iam_user_mfa")])
    if kind == "iam_user_mfa":
        c = Caller(iam_user(p, mfa=True), ua_cli("sts", "AssumeRole"), R.choice(OFFICE_IPS))
    else:
        c = caller(kind, "sts", "AssumeRole")
    req = {"roleArn": BREAK_GLASS_ROLE, "roleSessionName": session, "durationSeconds": 3600}
    if kind == "iam_user_mfa":
        req["serialNumber"] = f"arn:aws:iam::{ACCOUNT}:mfa/{p}"
        req["tokenCode"] = "HIDDEN_DUE_TO_SECURITY_REASONS"
    return rec(c, "sts", "AssumeRole", req, sts_assume_resp(BREAK_GLASS_ROLE, session), region=region, ver="1.09",
               resources=resources, host=host)


# --------------------------------------------------------------------------------------------
# Odd records
# --------------------------------------------------------------------------------------------

def b_odd(kind, i):
    """The i-th template of an odd kind (i picks the variant, so every variant is in the pool)."""
    if kind == "huge":
        v = i % 3
        if v == 0:  # CloudFormation template body as one ~200 KB string (escaped newlines)
            lines = ["AWSTemplateFormatVersion: '2010-09-09'", "Description: generated queues", "Resources:"]
            i = length = 0
            while length < 200_000:
                more = [f"  Queue{i}:", "    Type: AWS::SQS::Queue", "    Properties:",
                        f"      QueueName: !Sub '${{AWS::StackName}}-q-{i}-{hexs(6)}'",
                        "      VisibilityTimeout: 120", f"      Tags: [{{Key: team, Value: \"t{i % 17}\"}}]"]
                lines += more
                length += sum(len(x) + 1 for x in more)
                i += 1
            c = caller("terraform", "cloudformation", "CreateChangeSet")
            stack = f"queues-{hexs(6)}"
            req = {"stackName": stack, "templateBody": "\n".join(lines), "capabilities": ["CAPABILITY_IAM"],
                   "changeSetName": f"terraform-{hexs(8)}", "changeSetType": "UPDATE"}
            resp = {"id": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/terraform/{tuuid()}",
                    "stackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack}/{tuuid()}"}
            return rec(c, "cloudformation", "CreateChangeSet", req, resp, ro=False)
        if v == 1:  # DescribeInstances with a ~230 KB array of ids
            c = caller("datadog", "ec2", "DescribeInstances")
            req = {"instancesSet": {"items": [{"instanceId": instance_id()} for _ in range(5500)]}, "filterSet": {}}
            return rec(c, "ec2", "DescribeInstances", req, None)
        # PutRolePolicy with a ~200 KB policy document string (JSON inside a JSON string: many \" escapes)
        stmts = [{"Sid": f"S{i}", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                  "Resource": f"arn:aws:s3:::acme-tenant-{i:05d}/*"} for i in range(1100)]
        c = caller("terraform", "iam", "PutRolePolicy")
        req = {"roleName": "data-pipeline", "policyName": "tenant-buckets",
               "policyDocument": json.dumps({"Version": "2012-10-17", "Statement": stmts}, indent=1)}
        return rec(c, "iam", "PutRolePolicy", req, None, region="us-east-1", ro=False, host="iam.amazonaws.com")
    if kind == "unicode":
        v = i % 4
        if v <= 1:
            return b_s3(R.choice(["GetObject", "PutObject", "HeadObject"]), unicode=True)
        if v == 2:
            d = b_ec2("CreateTags")
            d["requestParameters"]["tagSet"] = {"items": [
                {"key": "Name", "value": R.choice(["🚀 launch – équipe", "サーバー-01", "naïve café ☕", "Ωmega\u2028node"])},
                {"key": "Owner", "value": R.choice(["Zoë Ångström", "José Müller", "李雷", "Даша"])}]}
            return d
        c = caller("irsa", "secretsmanager", "GetSecretValue")
        return rec(c, "secretsmanager", "GetSecretValue",
                   {"secretId": R.choice(["prod/データベース/パスワード", "prod/clé-secrète/€uro", "prod/🔑/key"])}, None)
    if kind == "nulls":
        v = i % 4
        if v == 0:
            return with_field(b_iam("GetRole"), "userAgent", None)
        if v == 1:
            d = with_field(b_ec2("DescribeInstances"), "requestParameters", None)
            return with_field(d, "userAgent", None)
        if v == 2:
            return with_field(b_s3("GetObject"), "requestParameters", None)
        return with_field(b_sts("GetCallerIdentity"), "userAgent", None)
    if kind == "response_null":
        op = ("CreateTags", "RunInstances", "AssumeRole", "PutObject")[i % 4]
        d = b_sts("AssumeRole") if op == "AssumeRole" else (b_s3(op) if op == "PutObject" else b_ec2(op))
        return with_field(d, "responseElements", None)
    # deep: additionalEventData nested 20 levels (objects and arrays alternating)
    node = {"leaf": True, "value": None, "n": 20}
    for depth in range(19, 0, -1):
        node = {f"level{depth}": node, "i": depth} if depth % 2 else [depth, node]
    d = (lambda: b_kms("Decrypt"), lambda: b_ec2("DescribeSubnets"), lambda: b_logs("DescribeLogGroups"))[i % 3]()
    return with_field(d, "additionalEventData", {"trace": node})


# --------------------------------------------------------------------------------------------
# Templates: serialised once, filled per record
# --------------------------------------------------------------------------------------------

class Templates:
    def __init__(self):
        self.info = []  # tid -> (eventSource, eventName, category, failed)

    def add(self, d, category):
        """Serialise a record dict into a %-format template: (fmt, byte length, tid, needs u2)."""
        s = json.dumps(d, ensure_ascii=False, separators=(",", ":"))
        assert "@@" not in s.replace(T, "").replace(EID, "").replace(RID, "").replace(RH, "").replace(U2, "").replace(CT, "")
        s = s.replace("%", "%%")
        for tok, name in SLOTS.items():
            s = s.replace(tok, f"%({name})s")
        blen = len((s % DUMMY).encode("utf-8"))
        tid = len(self.info)
        self.info.append((d["eventSource"], d["eventName"], category, "errorCode" in d))
        return (s, blen, tid, "%(u2)s" in s)


def build_templates():
    tp = Templates()
    # Ordinary records: a 65536-slot table, each event getting slots in proportion to its weight
    total_w = sum(o[2] for o in OPS)
    table = []
    for src, op, w, n, fn in OPS:
        pool = [tp.add(fn(op), "common") for _ in range(n)]
        slots = max(1, round(w / total_w * 65536))
        table += [pool[i % n] for i in range(slots)]
    table = table[:65536]
    while len(table) < 65536:
        table.append(table[R.randrange(len(table))])
    R.shuffle(table)

    # EKS access changes: 1024-slot table by operation weight
    eks_pools = {op: [tp.add(b_eks_access(op), "eks_access") for _ in range(120)] for _w, op in EKS_OP_WEIGHTS}
    eks_table = []
    tw = sum(w for w, _ in EKS_OP_WEIGHTS)
    for w, op in EKS_OP_WEIGHTS:
        eks_table += [eks_pools[op][i % 120] for i in range(round(w / tw * 1024))]
    eks_table = (eks_table + eks_table)[:1024]
    R.shuffle(eks_table)

    bg_pool = [tp.add(b_break_glass(None), "break_glass") for _ in range(16)]
    odd_pools = [[tp.add(b_odd(k, i), "odd:" + k) for i in range(6 if k == "huge" else 24)] for k in ODD_KINDS]
    return tp, table, eks_table, bg_pool, odd_pools


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

class GzWorker(threading.Thread):
    """Compresses chunks into the current .json.gz in a second thread (zlib releases the GIL)."""

    def __init__(self, level):
        super().__init__(daemon=True)
        self.q = queue.Queue(maxsize=64)
        self.level = level
        self.error = None

    def run(self):
        f = gz = None
        while True:
            item = self.q.get()
            if item is None:
                return
            if self.error:
                continue  # keep draining so the producer never blocks
            try:
                kind, val = item
                if kind == "open":
                    f = open(val, "wb")
                    gz = gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=self.level, mtime=0)
                elif kind == "data":
                    gz.write(val)
                else:
                    gz.close()
                    f.close()
            except BaseException as e:  # reported by the main thread
                self.error = e


HEX_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in HEX}
HEX_INDEX = {c: int(c, 16) for c in HEX}
CHUNK = 256 << 10  # small writes stay in cache; 8 MiB strings cost page faults


def parse_size(s: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*", s, re.I)
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {s!r} (use e.g. 1GiB, 64MiB, 512KiB, 1000000)")
    num, unit, i, b = m.groups()
    base = 1000 if (b and not i and unit) else 1024
    return int(float(num) * base ** " kmgt".index(unit.lower() or " "))


def main(argv=None):
    global R
    ap = argparse.ArgumentParser(description="Generate a deterministic CloudTrail archive for benchmarking.",
                                 epilog="Sizes: 1GiB, 64MiB, 512KiB (1024-based; KB/MB/GB are 1000-based) or bytes.")
    ap.add_argument("--out", required=True, help="output directory (plain/, gz/, manifest.json)")
    ap.add_argument("--size", type=parse_size, default=parse_size("1GiB"), help="total uncompressed size (default 1GiB)")
    ap.add_argument("--seed", type=int, default=42)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--files", type=int, help="number of log files (overrides --file-size)")
    g.add_argument("--file-size", type=parse_size, default=parse_size("64MiB"),
                   help="approximate uncompressed size of each file (default 64MiB)")
    ap.add_argument("--gzip", choices=["both", "plain", "gz"], default="both", help="what to write (default both)")
    ap.add_argument("--eks-ratio", type=float, default=0.001, help="share of EKS access-change records (default 0.001)")
    ap.add_argument("--break-glass-ratio", type=float, default=1 / 200000,
                    help="share of break-glass role assumptions (default 0.000005)")
    ap.add_argument("--gz-level", type=int, default=3, choices=range(1, 10), metavar="1-9",
                    help="gzip level (default 3: ~2.4x faster than 6, files ~20%% larger)")
    a = ap.parse_args(argv)
    if a.size <= 0 or (a.files is not None and a.files <= 0) or a.file_size <= 0:
        ap.error("sizes and --files must be positive")
    if a.size // (a.files or max(1, -(-a.size // a.file_size))) < 4096:
        ap.error("each file must be at least 4 KiB (raise --size or lower --files)")
    if not (0 <= a.eks_ratio and 0 <= a.break_glass_ratio and a.eks_ratio + a.break_glass_ratio + 5 * ODD_RATIO < 1):
        ap.error("ratios out of range")

    t_start = time.perf_counter()
    R = random.Random(a.seed)
    tp, table, eks_table, bg_pool, odd_pools = build_templates()

    nfiles = a.files if a.files is not None else max(1, -(-a.size // a.file_size))
    targets = [a.size // nfiles + (1 if i < a.size % nfiles else 0) for i in range(nfiles)]

    out = a.out
    want_plain, want_gz = a.gzip in ("both", "plain"), a.gzip in ("both", "gz")
    name_re = re.compile(r"^\d{12}_CloudTrail_[a-z0-9-]+_\d{8}T\d{4}Z_[A-Za-z0-9]{16}\.json(\.gz)?$")
    for sub, want in (("plain", want_plain), ("gz", want_gz)):
        d = os.path.join(out, sub)
        if os.path.isdir(d):
            for fn in os.listdir(d):
                if name_re.match(fn):
                    os.remove(os.path.join(d, fn))
        if want:
            os.makedirs(d, exist_ok=True)
    os.makedirs(out, exist_ok=True)

    # One gzip thread per spare core (files are assigned round-robin; each file's bytes depend only
    # on its content, so the number of threads never changes the output).
    workers = [GzWorker(a.gz_level) for _ in range(max(1, min(4, (os.cpu_count() or 2) - 1)))] if want_gz else []
    for w in workers:
        w.start()

    c_eks = a.eks_ratio
    c_bg = c_eks + a.break_glass_ratio
    rare_cut = c_bg + len(ODD_KINDS) * ODD_RATIO
    nodd = len(ODD_KINDS)
    head, tail = '{"Records":[', "]}"
    tcount = [0] * len(tp.info)
    eks_tids = [i for i, x in enumerate(tp.info) if x[2] == "eks_access"]
    files_meta = []
    total_records = 0
    rnd, bits = R.random, R.getrandbits
    VAR, HIX = HEX_VARIANT, HEX_INDEX

    for fi in range(nfiles):
        target = targets[fi]
        t0 = START + timedelta(seconds=fi * WINDOW)
        times = [(t0 + timedelta(seconds=k)).strftime("%Y-%m-%dT%H:%M:%SZ") for k in range(WINDOW)]
        cts = [ct_time(fi * WINDOW - R.randint(30, 3500)) for _ in range(16)]
        stamp = (t0 + timedelta(seconds=WINDOW)).strftime("%Y%m%dT%H%MZ")
        name = f"{ACCOUNT}_CloudTrail_{REGION}_{stamp}_{rs(ALNUM, 16)}.json"
        pf = open(os.path.join(out, "plain", name), "wb") if want_plain else None
        gz_path = os.path.join(out, "gz", name + ".gz")
        worker = workers[fi % len(workers)] if workers else None
        if worker:
            worker.q.put(("open", gz_path))
        eks_before = sum(tcount[i] for i in eks_tids)

        def emit(data: bytes):
            if pf:
                pf.write(data)
            if worker:
                worker.q.put(("data", data))

        emit(head.encode())
        written = len(head)
        size = len(head) + len(tail)  # bytes the file would have if closed now
        parts = []
        app = parts.append
        chunk = 0
        n = 0
        first_chunk = True
        while True:
            r = rnd()
            if r >= rare_cut:
                tpl = table[bits(16)]
            elif r < c_eks:
                tpl = eks_table[bits(10)]
            elif r < c_bg:
                tpl = bg_pool[bits(4)]
            else:
                k = min(nodd - 1, int((r - c_bg) / ODD_RATIO))
                pool = odd_pools[k]
                tpl = pool[int(rnd() * len(pool))]
            fmt, blen, tid, need_u2 = tpl
            if n:
                blen += 1  # the comma before it
                if size + blen > target:
                    break
            h = "%064x" % bits(256)
            v = {
                "t": times[(size * (WINDOW - 4)) // target + bits(2)],  # advances with the file, within its window
                "eid": f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{VAR[h[16]]}{h[17:20]}-{h[20:32]}",
                "rid": f"{h[32:40]}-{h[40:44]}-4{h[45:48]}-{VAR[h[48]]}{h[49:52]}-{h[52:]}",
                "rh": h[48:].upper(),
                "ct": cts[HIX[h[33]]],
            }
            if need_u2:
                u = "%032x" % bits(128)
                v["u2"] = f"{u[:8]}-{u[8:12]}-4{u[13:16]}-{VAR[u[16]]}{u[17:20]}-{u[20:]}"
            app(fmt % v)
            size += blen
            chunk += blen
            n += 1
            tcount[tid] += 1
            if chunk >= CHUNK:
                data = ("" if first_chunk else ",") + ",".join(parts)
                b = data.encode("utf-8")
                emit(b)
                written += len(b)
                parts.clear()
                chunk = 0
                first_chunk = False
        if parts:
            data = ("" if first_chunk else ",") + ",".join(parts)
            b = data.encode("utf-8")
            emit(b)
            written += len(b)
        emit(tail.encode())
        written += len(tail)
        assert written == size, f"byte accounting is off in {name}: {written} != {size}"
        if pf:
            pf.close()
        if worker:
            worker.q.put(("close", None))
        total_records += n
        files_meta.append({"name": name, "records": n, "plain_bytes": size,
                           "eks_access_events": sum(tcount[i] for i in eks_tids) - eks_before})

    for w in workers:
        w.q.put(None)
    for w in workers:
        w.join()
        if w.error:
            raise w.error
    gz_total = 0
    for m in files_meta:
        m["gz_bytes"] = os.path.getsize(os.path.join(out, "gz", m["name"] + ".gz")) if want_gz else None
        gz_total += m["gz_bytes"] or 0
    elapsed = time.perf_counter() - t_start

    by_event, eks_by, odd, failed, bg = {}, {}, {k: 0 for k in ODD_KINDS}, 0, 0
    for (src, op, cat, fail), cnt in zip(tp.info, tcount):
        if not cnt:
            continue
        key = f"{src} {op}"
        by_event[key] = by_event.get(key, 0) + cnt
        if cat == "eks_access":
            eks_by[op] = eks_by.get(op, 0) + cnt
            failed += cnt if fail else 0
        elif cat == "break_glass":
            bg += cnt
        elif cat.startswith("odd:"):
            odd[cat[4:]] += cnt
    plain_total = sum(m["plain_bytes"] for m in files_meta)
    eks_total = sum(eks_by.values())
    manifest = {
        "generator": "scripts/gen-archive.py",
        "seed": a.seed,
        "args": {"size": a.size, "files": a.files, "file_size": a.file_size if a.files is None else None,
                 "gzip": a.gzip, "eks_ratio": a.eks_ratio, "break_glass_ratio": a.break_glass_ratio,
                 "gz_level": a.gz_level},
        "records": total_records,
        "eks_access_events": eks_total,
        "eks_access_events_definition": "eventSource == eks.amazonaws.com and eventName in " + ",".join(EKS_ACCESS_EVENTS),
        "eks_access_by_event": dict(sorted(eks_by.items())),
        "eks_access_failed": failed,
        "break_glass_assumptions": bg,
        "break_glass_role": BREAK_GLASS_ROLE,
        "odd_records": odd,
        "plain_bytes": plain_total,
        "gz_bytes": gz_total if want_gz else None,
        "records_by_event": dict(sorted(by_event.items(), key=lambda kv: (-kv[1], kv[0]))),
        "files": files_meta,
    }
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"gen-archive: files={nfiles} records={total_records} eks_access_events={eks_total} "
          f"break_glass={bg} plain_bytes={plain_total} gz_bytes={gz_total if want_gz else 0} "
          f"seconds={elapsed:.2f} ({plain_total / 1e6 / elapsed:.1f} MB/s uncompressed)", file=sys.stderr)


if __name__ == "__main__":
    main()
