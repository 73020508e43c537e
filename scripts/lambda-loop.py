#!/usr/bin/env python3
"""Run the Lambda binary against a loopback Lambda Runtime API and loopback EKS/SNS endpoints.

Measures what a deployed function pays, with the real SDK clients and no AWS account:
  - init time: process start -> first `GET /runtime/invocation/next` (config read, clients built)
  - per-invocation latency: event handed out -> response posted (enrichment + publish included)
  - peak RSS (VmHWM) after N invocations, and RSS after the first 100 (to see growth)

Everything listens on 127.0.0.1 only. EKS and SNS calls reach this script through
AWS_ENDPOINT_URL; credentials are fake; the instance metadata service is disabled.

Usage:
  python3 scripts/lambda-loop.py --binary target/release/lambda [--runs 20] [--invocations 1000]
         [--aws-delay-ms 0] [--events events/ | --event FILE] [--compare OTHER_BINARY]
Prints a small table; --json prints the numbers as JSON.

--aws-delay-ms delays every EKS and SNS answer (the stand-ins answer at once by default).
--compare runs a second binary (e.g. target/release/examples/serial_baseline) on the same
events in the same process of this script, one after the other, and prints both.
"""

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


class State:
    def __init__(self, events, invocations, aws_delay):
        self.events = events
        self.invocations = invocations
        self.aws_delay = aws_delay
        self.lock = threading.Lock()
        self.first_next = None
        self.handed = 0
        self.started = {}
        self.latencies = []
        self.errors = 0
        self.publishes = 0
        self.publish_bytes = []
        self.eks_calls = 0
        self.done = threading.Event()
        self.rss_after_100 = None
        self.pid = None


def vm(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])  # kB
    except OSError:
        return None
    return None


def make_handler(state):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every request and the harness measures itself.
        disable_nagle_algorithm = True

        def log_message(self, *a):
            pass

        def send(self, code, body, ctype="application/json", headers=None):
            data = body if isinstance(body, bytes) else body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def do_GET(self):
            if self.path.startswith(PREFIX + "/invocation/next"):
                return self.next_event()
            # EKS (restJson1): describe entry / list policies / describe cluster / list entries
            with state.lock:
                state.eks_calls += 1
            if state.aws_delay:
                time.sleep(state.aws_delay)
            p = self.path.split("?")[0]
            if "/associated-access-policies" in p:
                return self.send(200, json.dumps({"associatedAccessPolicies": [
                    {"policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", "accessScope": {"type": "cluster", "namespaces": []}}]}))
            if "/access-entries/" in p:
                return self.send(200, json.dumps({"accessEntry": {"type": "STANDARD", "kubernetesGroups": ["team:payments"], "tags": {}}}))
            if p.endswith("/access-entries"):
                return self.send(200, json.dumps({"accessEntries": ["arn:aws:iam::111122223333:role/platform-admin"]}))
            if p.startswith("/clusters/"):
                return self.send(200, json.dumps({"cluster": {"name": "prod-eu", "version": "1.31", "accessConfig": {"authenticationMode": "API_AND_CONFIG_MAP"}, "resourcesVpcConfig": {"endpointPublicAccess": False, "publicAccessCidrs": []}}}))
            self.send(404, json.dumps({"message": "not found"}), headers={"x-amzn-errortype": "ResourceNotFoundException"})

        def next_event(self):
            with state.lock:
                if state.first_next is None:
                    state.first_next = time.perf_counter()
                if state.handed >= state.invocations:
                    state.done.set()
                    # Hold the connection: the function waits here until we kill it.
                    wait = True
                else:
                    wait = False
                    i = state.handed
                    state.handed += 1
                    if i == 100 and state.pid:
                        state.rss_after_100 = vm(state.pid, "VmRSS")
            if wait:
                time.sleep(3600)
                return
            event = state.events[i % len(state.events)]
            rid = f"req-{i}"
            with state.lock:
                state.started[rid] = time.perf_counter()
            self.send(200, event, headers={
                "Lambda-Runtime-Aws-Request-Id": rid,
                "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 30000),
                "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:eu-west-1:111122223333:function:eks-access-watch-watcher",
                "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
            })

        def do_POST(self):
            data = self.body()
            if self.path.startswith(PREFIX + "/invocation/"):
                rid = self.path.split("/")[4]
                end = time.perf_counter()
                with state.lock:
                    start = state.started.pop(rid, None)
                    if start is not None:
                        state.latencies.append(end - start)
                    if self.path.endswith("/error"):
                        state.errors += 1
                return self.send(202, "{}")
            if self.path.startswith(PREFIX + "/init/error"):
                sys.stderr.write("init error: " + data.decode(errors="replace") + "\n")
                with state.lock:
                    state.errors += 1
                state.done.set()
                return self.send(202, "{}")
            # SNS (query protocol): Action=Publish
            if b"Action=Publish" in data:
                if state.aws_delay:
                    time.sleep(state.aws_delay)
                with state.lock:
                    state.publishes += 1
                    state.publish_bytes.append(len(data))
                return self.send(200, "<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult></PublishResponse>", "text/xml")
            self.send(400, "{}")

    return H


def load_events(folder, single=None):
    paths = [single] if single else sorted(glob.glob(os.path.join(folder, "*.json")))
    out = []
    for path in paths:
        with open(path, "rb") as f:
            out.append(f.read())
    return out


def run_once(args, binary, events, invocations):
    state = State(events, invocations, args.aws_delay_ms / 1000.0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    server.daemon_threads = True
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": "eks-access-watch-watcher",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": os.environ.get("LOOP_LOG_LEVEL", "WARN"),
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "not-a-secret",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "ALERT_TOPIC_ARN": "arn:aws:sns:eu-west-1:111122223333:eks-access-alerts",
        "APPROVED_CALLER_ARNS": "arn:aws:iam::111122223333:role/terraform-deployer",
        "BREAK_GLASS_ROLE_ARNS": "arn:aws:iam::111122223333:role/eks-break-glass",
        "MIN_SEVERITY": "info",
        "ENRICH": "true",
    }
    t0 = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    state.pid = proc.pid
    finished = state.done.wait(timeout=args.timeout)
    hwm = vm(proc.pid, "VmHWM")
    rss = vm(proc.pid, "VmRSS")
    proc.kill()
    _, err = proc.communicate()
    server.shutdown()
    if not finished:
        raise SystemExit(f"timed out; stderr: {err.decode(errors='replace')[-2000:]}")
    if state.first_next is None:
        raise SystemExit(f"the function never asked for an event; stderr: {err.decode(errors='replace')[-2000:]}")
    return {
        "init_ms": (state.first_next - t0) * 1000,
        "latencies_ms": [x * 1000 for x in state.latencies],
        "errors": state.errors,
        "publishes": state.publishes,
        "publish_bytes": state.publish_bytes,
        "eks_calls": state.eks_calls,
        "peak_rss_kib": hwm,
        "rss_end_kib": rss,
        "rss_after_100_kib": state.rss_after_100,
    }


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def measure(args, binary, events):
    inits = [run_once(args, binary, events, 0)["init_ms"] for _ in range(args.runs)]
    long = run_once(args, binary, events, args.invocations)
    # The first invocations warm connections and caches: the warm figures leave out 20.
    warm = long["latencies_ms"][20:] or long["latencies_ms"]
    sizes = long["publish_bytes"]
    return {
        "binary": binary,
        "init_ms_median": statistics.median(inits) if inits else float("nan"),
        "init_ms_min": min(inits) if inits else float("nan"),
        "init_ms_max": max(inits) if inits else float("nan"),
        "invocations": len(long["latencies_ms"]),
        "invoke_ms_p50": pct(warm, 50),
        "invoke_ms_p99": pct(warm, 99),
        "errors": long["errors"],
        "publishes": long["publishes"],
        "publish_body_bytes_median": statistics.median(sizes) if sizes else 0,
        "publish_body_bytes_max": max(sizes) if sizes else 0,
        "eks_calls": long["eks_calls"],
        "eks_calls_per_invocation": long["eks_calls"] / max(1, len(long["latencies_ms"])),
        "peak_rss_mib": (long["peak_rss_kib"] or 0) / 1024,
        "rss_after_100_mib": (long["rss_after_100_kib"] or 0) / 1024,
        "rss_end_mib": (long["rss_end_kib"] or 0) / 1024,
        "aws_delay_ms": args.aws_delay_ms,
    }


def report(r, runs):
    print(f"{r['binary']}")
    print(f"  init (process start -> first /next), {runs} runs: median {r['init_ms_median']:.1f} ms "
          f"(min {r['init_ms_min']:.1f}, max {r['init_ms_max']:.1f})")
    print(f"  {r['invocations']} invocations (AWS delay {r['aws_delay_ms']} ms): warm p50 {r['invoke_ms_p50']:.2f} ms, "
          f"p99 {r['invoke_ms_p99']:.2f} ms, errors {r['errors']}, publishes {r['publishes']}, "
          f"EKS calls {r['eks_calls']} ({r['eks_calls_per_invocation']:.2f}/invocation)")
    print(f"  Publish request body: median {r['publish_body_bytes_median']} bytes, max {r['publish_body_bytes_max']} bytes")
    print(f"  RSS: after 100 invocations {r['rss_after_100_mib']:.1f} MiB, at the end {r['rss_end_mib']:.1f} MiB, "
          f"peak {r['peak_rss_mib']:.1f} MiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default="target/release/lambda")
    ap.add_argument("--compare", help="a second binary measured on the same events")
    ap.add_argument("--events", default="events")
    ap.add_argument("--event", help="one event file instead of the folder")
    ap.add_argument("--runs", type=int, default=20, help="process starts for the init-time figure")
    ap.add_argument("--invocations", type=int, default=1000, help="invocations in the long run")
    ap.add_argument("--aws-delay-ms", type=float, default=0.0, help="latency added to every EKS and SNS call")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    events = load_events(args.events, args.event)
    if not events:
        raise SystemExit(f"no *.json events in {args.events}")
    results = [measure(args, args.binary, events)]
    if args.compare:
        results.append(measure(args, args.compare, events))
    if args.json:
        print(json.dumps(results if args.compare else results[0], indent=2))
        return
    for r in results:
        report(r, args.runs)
    if args.compare:
        a, b = results
        print(f"warm p50 ratio {a['binary']} / {b['binary']}: {a['invoke_ms_p50'] / b['invoke_ms_p50']:.2f}x")


if __name__ == "__main__":
    main()
