#!/usr/bin/env bash
# Replay throughput, side by side with what a user would otherwise run, on one generated archive.
#
#   scripts/bench.sh [SIZE]        # SIZE of the uncompressed archive, default 1GiB
#   scripts/bench.sh audit [SIZE]  # the same for an EKS audit log (scripts/gen-audit-log.py)
#
# Generates a deterministic CloudTrail archive (scripts/gen-archive.py, seed 42) under
# bench-data/, builds the release binary, then times each tool over the same files with
# /usr/bin/time (wall time and peak RSS), best of 3 runs:
#   replay plain (1 core, --jobs 1), replay plain (all cores), replay .gz (1 core), --strict,
#   zcat > /dev/null, jq -c '.Records[] | select(.eventSource=="eks.amazonaws.com")',
#   a straightforward Python json.load loop. In audit mode: replay of the audit NDJSON (1 core,
#   all cores, .gz, --strict), zcat, and jq selecting the same changes.
# Prints a Markdown table (MB/s of uncompressed data, ratio to replay, peak RSS) for
# BENCHMARKS.md. Installs jq and GNU time from Debian's packages when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=cloudtrail
if [ "${1:-}" = audit ]; then
  mode=audit
  shift
fi
size="${1:-1GiB}"
data="bench-data/$size"
[ "$mode" = audit ] && data="bench-data/audit-$size"
need=()
command -v jq >/dev/null || need+=(jq)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  (apt-get update -qq && apt-get install -y -qq "${need[@]}") >/dev/null
fi
if [ ! -f "$data/manifest.json" ]; then
  if [ "$mode" = audit ]; then
    python3 scripts/gen-audit-log.py --out "$data" --size "$size" --seed 42 >&2
  else
    python3 scripts/gen-archive.py --out "$data" --size "$size" --seed 42 >&2
  fi
fi
cargo build --release --quiet --bin eks-access-watch
bin=target/release/eks-access-watch
plain_bytes=$(python3 -c "import json;print(json.load(open('$data/manifest.json'))['plain_bytes'])")
if [ "$mode" = audit ]; then
  expected=$(python3 -c "import json;m=json.load(open('$data/manifest.json'));print(m['watched_changes'])")
else
  expected=$(python3 -c "import json;m=json.load(open('$data/manifest.json'));print(m['eks_access_events'])")
fi

# best of 3: prints "seconds peak_kib"
measure() {
  local best="" rss="" tf
  tf=$(mktemp)
  for _ in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$tf" "$@" >/dev/null 2>/dev/null
    local out
    out=$(tail -1 "$tf")
    local t=${out% *} m=${out#* }
    if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $t < $best else 1)"; then best=$t; rss=$m; fi
  done
  rm -f "$tf"
  echo "$best $rss"
}

pyloop='import json,sys,glob
n=0
for f in sorted(glob.glob(sys.argv[1]+"/*.json")):
    with open(f) as fh:
        for r in json.load(fh)["Records"]:
            if r.get("eventSource")=="eks.amazonaws.com": n+=1
print(n)'

mbs() { python3 -c "print(f'{$plain_bytes/1e6/$1:.0f}')"; }
ratio() { python3 -c "print(f'{$2/$1:.2f}x')"; }
declare -A T R
row() { echo "| $1 | ${T[$2]} | $(mbs ${T[$2]}) | $(ratio ${T[replay1]} ${T[$2]}) | $(( ${R[$2]} / 1024 )) MiB |"; }

if [ "$mode" = audit ]; then
  # Correctness first: replay finds every watched change the generator wrote, fast and strict.
  found=$($bin replay --cluster prod --format ndjson --jobs 1 "$data/plain" | wc -l)
  strict=$($bin replay --cluster prod --format ndjson --jobs 1 --strict "$data/plain" | wc -l)
  echo "replay found $found alerts ($strict with --strict); the generator wrote $expected watched changes" >&2
  watched='select((.objectRef.name=="aws-auth" and .objectRef.namespace=="kube-system") or ((.objectRef.resource//"")|endswith("rolebindings"))) | select(.verb|IN("create","update","patch","delete","deletecollection"))'
  read -r T[replay1] R[replay1] < <(measure $bin replay --cluster prod --format ndjson --jobs 1 "$data/plain")
  read -r T[replayN] R[replayN] < <(measure $bin replay --cluster prod --format ndjson "$data/plain")
  read -r T[replaygz] R[replaygz] < <(measure $bin replay --cluster prod --format ndjson --jobs 1 "$data/gz")
  read -r T[strict] R[strict] < <(measure $bin replay --cluster prod --format ndjson --jobs 1 --strict "$data/plain")
  read -r T[zcat] R[zcat] < <(measure sh -c "zcat $data/gz/*.gz")
  read -r T[jq] R[jq] < <(measure sh -c "cat $data/plain/*.ndjson | jq -c '$watched'")
  echo
  echo "Audit log: $size uncompressed ($plain_bytes bytes), $(ls "$data/plain" | wc -l) files; $(nproc) cores: $(lscpu | sed -n 's/^Model name: *//p')"
  echo
  echo "| tool | seconds | MB/s (uncompressed) | time vs replay (1 core) | peak RSS |"
  echo "|---|---|---|---|---|"
  row "replay, audit NDJSON, 1 core (\`--jobs 1\`)" replay1
  row "replay, audit NDJSON, $(nproc) cores" replayN
  row "replay, .ndjson.gz, 1 core" replaygz
  row "replay --strict (every line parsed), 1 core" strict
  row "zcat > /dev/null (same .gz files)" zcat
  row "jq -c 'select(aws-auth or *rolebindings changes)'" jq
  echo
  python3 -c "print(f'replay .gz vs zcat: {${T[zcat]}/${T[replaygz]}*100:.0f}% of zcat throughput')"
  exit 0
fi

# Correctness first: the fast path finds every EKS access event the generator wrote, and the
# strict path (every record parsed) prints byte-identical alerts.
fast_out=$(mktemp)
strict_out=$(mktemp)
$bin replay --format ndjson --jobs 1 "$data/plain" >"$fast_out"
$bin replay --format ndjson --jobs 1 --strict "$data/plain" >"$strict_out"
found=$(wc -l <"$fast_out")
if cmp -s "$fast_out" "$strict_out"; then agree="identical to --strict"; else agree="DIFFERENT from --strict"; fi
rm -f "$fast_out" "$strict_out"
echo "replay found $found alerts ($agree); the generator wrote $expected EKS access events" >&2

read -r T[replay1] R[replay1] < <(measure $bin replay --format ndjson --jobs 1 "$data/plain")
read -r T[replayN] R[replayN] < <(measure $bin replay --format ndjson "$data/plain")
read -r T[replaygz] R[replaygz] < <(measure $bin replay --format ndjson --jobs 1 "$data/gz")
read -r T[strict] R[strict] < <(measure $bin replay --format ndjson --jobs 1 --strict "$data/plain")
read -r T[zcat] R[zcat] < <(measure sh -c "zcat $data/gz/*.gz")
read -r T[jq] R[jq] < <(measure sh -c "cat $data/plain/*.json | jq -c '.Records[] | select(.eventSource==\"eks.amazonaws.com\")'")
read -r T[py] R[py] < <(measure python3 -c "$pyloop" "$data/plain")

echo
echo "Archive: $size uncompressed ($plain_bytes bytes), $(ls "$data/plain" | wc -l) files; $(nproc) cores: $(lscpu | sed -n 's/^Model name: *//p')"
echo
echo "| tool | seconds | MB/s (uncompressed) | time vs replay (1 core) | peak RSS |"
echo "|---|---|---|---|---|"
row "replay, plain JSON, 1 core (\`--jobs 1\`)" replay1
row "replay, plain JSON, $(nproc) cores" replayN
row "replay, .json.gz, 1 core" replaygz
row "replay --strict (every record parsed), 1 core" strict
row "zcat > /dev/null (same .gz files)" zcat
row "jq -c '.Records[] \\| select(eventSource==eks)'" jq
row "Python json.load loop" py
echo
python3 -c "print(f'replay .gz vs zcat: {${T[zcat]}/${T[replaygz]}*100:.0f}% of zcat throughput')"
