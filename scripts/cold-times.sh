#!/usr/bin/env bash
# Time the README's two commands cold, as a new user meets them: a fresh clone of a commit
# (default HEAD) in a temporary folder, an empty target directory, no incremental cache. The
# crates are taken from Cargo's registry cache (run once `cargo fetch` to measure without the
# download); moto's venv is installed by the test command itself, inside the clone.
#
#   bash scripts/cold-times.sh [COMMIT] [--old-readme]
#
# --old-readme times the first command as the README wrote it before the command line could be
# built without the AWS SDK (`cargo run --release --bin eks-access-watch -- replay events/`).
# Prints one line per command: wall seconds, CPU seconds, exit status.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
commit="${1:-HEAD}"
old=false
[ "${2:-}" = "--old-readme" ] && old=true
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git -C "$repo" worktree add --detach "$work/clone" "$commit" >/dev/null 2>&1 \
  || git clone --quiet "$repo" "$work/clone"
cleanup() { git -C "$repo" worktree remove --force "$work/clone" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
cd "$work/clone"
export CARGO_TARGET_DIR="$work/target" CARGO_INCREMENTAL=0
export APPROVED_CALLER_ARNS=arn:aws:iam::111122223333:role/terraform-deployer
export BREAK_GLASS_ROLE_ARNS=arn:aws:iam::111122223333:role/eks-break-glass
timed() {
  local label="$1"; shift
  local start end status=0
  start=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$work/cpu" "$@" >"$work/out" 2>"$work/err" || status=$?
  end=$(date +%s.%N)
  read -r user sys <"$work/cpu" || true
  printf '%s: %.0f s wall, %.0f s CPU, exit %s, %s lines of output\n' "$label" \
    "$(echo "$end - $start" | bc)" "$(echo "${user:-0} + ${sys:-0}" | bc)" "$status" "$(wc -l <"$work/out")"
}
if $old; then
  timed "replay (old README command)" cargo run --release --bin eks-access-watch -- replay events/
else
  timed "replay (README command 1)" cargo run --release --no-default-features --features cli -- replay events/
  rm -rf "$CARGO_TARGET_DIR"
  timed "tests (README command 2)" cargo test --locked
  tail -n 3 "$work/out" >&2
fi
