#!/usr/bin/env python3
"""Wrap Kubernetes audit events (NDJSON, one event per line) into the payload a CloudWatch Logs
subscription filter hands to a Lambda function: {"awslogs": {"data": "<base64 gzip>"}}.

Usage
-----
    python3 scripts/subscription-payload.py --log-group /aws/eks/prod/cluster \
        [--owner 111122223333] [--stream kube-apiserver-audit-0a1b2c3d] [--filter NAME] \
        [--control] AUDIT.ndjson > payload.json

    # then, locally:
    cargo lambda invoke lambda --data-file payload.json
    eks-access-watch replay payload.json

The decoded document is what CloudWatch Logs writes: messageType DATA_MESSAGE, owner,
logGroup, logStream, subscriptionFilters, logEvents [{id, timestamp, message}], in that order.
Timestamps come from each event's requestReceivedTimestamp; ids are derived from the line
number, so the output is deterministic (gzip mtime 0). --control writes the CONTROL_MESSAGE
CloudWatch Logs sends when a subscription is created. Standard library only.
"""

import argparse
import base64
import gzip
import json
import sys
from datetime import datetime


def millis(event: dict) -> int:
    stamp = event.get("requestReceivedTimestamp") or event.get("stageTimestamp")
    if not stamp:
        return 0
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", help="audit NDJSON (one audit.k8s.io/v1 Event per line)")
    p.add_argument("--log-group", required=True, help="/aws/eks/<cluster>/cluster")
    p.add_argument("--owner", default="111122223333", help="the log group's account")
    p.add_argument("--stream", default="kube-apiserver-audit-5e1d4a7b9c2f3e6d8a0b1c2d3e4f5a6b")
    p.add_argument("--filter", default="eks-access-watch-audit", help="subscription filter name")
    p.add_argument("--control", action="store_true", help="write a CONTROL_MESSAGE instead")
    a = p.parse_args()

    if a.control:
        doc = {"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "",
               "logStream": "", "subscriptionFilters": [],
               "logEvents": [{"id": "", "timestamp": 1794000000000,
                              "message": "CWL CONTROL MESSAGE: Checking health of destination Lambda function."}]}
    else:
        events = []
        with open(a.input, encoding="utf-8") as f:
            for n, line in enumerate(f):
                line = line.strip()
                if not line:
                    continue
                ts = millis(json.loads(line))
                events.append({"id": f"{ts:d}{n:030d}"[:56], "timestamp": ts, "message": line})
        doc = {"messageType": "DATA_MESSAGE", "owner": a.owner, "logGroup": a.log_group,
               "logStream": a.stream, "subscriptionFilters": [a.filter], "logEvents": events}
    raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    data = base64.b64encode(gzip.compress(raw, mtime=0)).decode("ascii")
    json.dump({"awslogs": {"data": data}}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
