"""Translate each SAM template with samtranslator, the library behind `sam deploy` and
CloudFormation's AWS::Serverless transform, and fail on any error. `sam validate --lint` and
cfn-lint expand some constructs themselves (Fn::ForEach of AWS::LanguageExtensions, for one)
that the transform alone rejects; this catches those. A function's local CodeUri is replaced by
an S3 URI first, as `sam package` would."""

import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    def load(self):
        return {}


failed = False
for path in sys.argv[1:]:
    with open(path) as f:
        template = yaml_parse(f.read())
    for resource in template.get("Resources", {}).values():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = "s3://bucket/function.zip"
    try:
        out = transform(template, {}, NoManagedPolicies())
    except Exception as e:  # samtranslator raises several exception types
        print(f"{path}: the SAM transform fails: {e}", file=sys.stderr)
        failed = True
        continue
    print(f"{path}: translates to {len(out['Resources'])} resources")
sys.exit(1 if failed else 0)
