#!/usr/bin/env bash
# Lint the SAM/CloudFormation templates offline with cfn-lint and `sam validate --lint`, and
# translate them with the SAM transform itself (scripts/sam-translate.py),
# installing both from PyPI into a local virtualenv the first time; then lint the CloudFormation
# that `eks-access-watch migrate` generates from each sample ConfigMap.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=".venv-lint"
if [ ! -x "$venv/bin/cfn-lint" ] || [ ! -x "$venv/bin/sam" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet cfn-lint aws-sam-cli
fi
templates=(template.yaml)
[ -d templates ] && templates+=(templates/*.yaml)
"$venv/bin/cfn-lint" "${templates[@]}"
for t in "${templates[@]}"; do
  # sam validate needs a region but makes no AWS call with --lint.
  SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 "$venv/bin/sam" validate --lint --template-file "$t"
done
AWS_DEFAULT_REGION=us-east-1 "$venv/bin/python" scripts/sam-translate.py "${templates[@]}"
echo "templates OK: ${templates[*]}"

# The CloudFormation `eks-access-watch migrate` writes for each sample ConfigMap must pass
# cfn-lint as well: generate it with the built binary and lint it.
generated="$(mktemp -d)"
trap 'rm -rf "$generated"' EXIT
for configmap in events/aws-auth/*.yaml; do
  out="$generated/$(basename "$configmap" .yaml).yaml"
  cargo run --quiet --locked --bin eks-access-watch -- \
    migrate --format cloudformation --cluster prod "$configmap" > "$out"
done
"$venv/bin/cfn-lint" "$generated"/*.yaml
echo "generated migration templates OK: $(cd "$generated" && echo *.yaml)"
