#!/usr/bin/env bash
# Smoke test of the local Lambda loop: start `cargo lambda watch` on a loopback port, invoke four
# samples (three EventBridge events, one audit-log subscription payload), check the dry-run
# alerts (severity and rules) in the responses, stop the watcher.
# Installs cargo-lambda from PyPI when it is missing. Nothing leaves 127.0.0.1: dry run (no
# topic), no enrichment, instance metadata disabled, fake credentials.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo-lambda >/dev/null 2>&1; then
  python3 -m pip install --quiet cargo-lambda
fi
port="${SMOKE_PORT:-9399}"
log="$(mktemp)"
cargo build --quiet --bin lambda
cargo lambda watch --bin lambda -A 127.0.0.1 -P "$port" \
  --env-var ENRICH=false --env-var AWS_EC2_METADATA_DISABLED=true --env-var AWS_REGION=eu-west-1 \
  --env-var AWS_ACCESS_KEY_ID=AKIDEXAMPLE --env-var AWS_SECRET_ACCESS_KEY=not-a-secret \
  --env-var APPROVED_CALLER_ARNS=arn:aws:iam::111122223333:role/terraform-deployer \
  --env-var BREAK_GLASS_ROLE_ARNS=arn:aws:iam::111122223333:role/eks-break-glass \
  >"$log" 2>&1 &
watcher=$!
cleanup() { kill "$watcher" 2>/dev/null || true; pkill -f "lambda watch .*-P $port" 2>/dev/null || true; wait "$watcher" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT

invoke() { cargo lambda invoke lambda -A 127.0.0.1 -P "$port" --data-file "$1"; }

# Wait for the watcher (it compiles the function on first start).
# An error the function itself returned (its error type is `EksAccessWatch.*`) fails at once:
# only a watcher still compiling is waited for.
for _ in $(seq 1 600); do
  if out="$(invoke events/AssociateAccessPolicy-cluster-admin-by-human.json 2>&1)"; then break; fi
  case "$out" in *EksAccessWatch.*) echo "the function failed: $out"; cat "$log"; exit 1 ;; esac
  out=""
  sleep 1
done
[ -n "${out:-}" ] || { echo "cargo lambda watch did not answer within 10 minutes"; cat "$log"; exit 1; }
check() { # file, expected severity, expected rule
  local out
  out="$(invoke "$1")"
  python3 - "$out" "$2" "$3" "$1" <<'PY'
import json, sys
out, severity, rule, name = sys.argv[1:]
alerts = json.loads(out)["alerts"]
assert len(alerts) == 1, f"{name}: expected one alert, got {out}"
a = alerts[0]
assert a["delivery"] == "dry-run", f"{name}: {a}"
assert a["severity"] == severity and rule in a["rules"], f"{name}: {a}"
print(f"ok  {name}: {a['severity']} {','.join(a['rules'])}")
PY
}
check events/AssociateAccessPolicy-cluster-admin-by-human.json critical cluster-admin-granted
check events/AssumeRole-break-glass.json critical break-glass-assumed
check events/AssociateAccessPolicy-view-routine.json low access-policy-associated
# A CloudWatch Logs subscription payload of the EKS audit log (base64 gzip), as a subscription
# filter delivers it: several alerts, one of them the system:masters mapping.
out="$(invoke events/k8s-aws-auth.subscription.json)"
python3 - "$out" <<'PY'
import json, sys
alerts = json.loads(sys.argv[1])["alerts"]
assert len(alerts) > 1 and all(a["delivery"] == "dry-run" for a in alerts), alerts
assert any("aws-auth-system-masters" in a["rules"] and a["severity"] == "critical" for a in alerts), alerts
print(f"ok  events/k8s-aws-auth.subscription.json: {len(alerts)} alerts")
PY
grep -q "dry run (ALERT_TOPIC_ARN not set)" "$log" || { echo "no dry-run log line"; cat "$log"; exit 1; }
echo "smoke test passed: 4 invocations through cargo lambda watch"
