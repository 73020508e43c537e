#!/usr/bin/env bash
# Lint the SAM/CloudFormation templates offline with cfn-lint and `sam validate --lint`,
# installing both from PyPI into a local virtualenv the first time.
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
echo "templates OK: ${templates[*]}"
