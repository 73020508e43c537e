//! Integration tests: one binary, a module per area (ripgrep's layout).

// Shared helpers: sample configuration, running the library over a file, JSON record builders.
mod util;
// The fuzz harness body (shared with the cargo-fuzz target): its checks serve the tests too.
#[path = "support/fuzz_body.rs"]
mod fuzz_body;
// CloudFormation intrinsics and EventBridge pattern matching, for the template tests.
#[path = "support/cfn.rs"]
mod cfn;
#[path = "support/eventbridge.rs"]
mod eventbridge;
#[path = "support/logs_filter.rs"]
mod logs_filter;
// IAM's evaluation of the resource policies the templates write (queue, bucket, key).
#[path = "support/iam.rs"]
mod iam;
// A delay in front of the SDK's mock HTTP client (shared with the benchmarks).
#[path = "support/delayed.rs"]
mod delayed;
// moto's server on loopback, one per test process, for AWS services' real semantics.
#[path = "support/moto.rs"]
mod moto;
// A small JSON Schema checker for the schemas the tests write (the OCSF class).
#[path = "support/schema.rs"]
mod schema;

// src/: no two modules import each other, directly or through others; each stays in its layer.
mod layering;
// Every sample in events/ against its golden output; every rule fires on some sample.
mod golden;
// Rule catalogue behaviour: fires / does not fire / severity modifiers, one test per case.
mod rules;
// Input shapes, streaming and bad input through the public ingest API.
mod ingest;
// The Kubernetes plane: aws-auth and RBAC-binding rules, audit-log shapes, missing bodies.
mod kubernetes;
// The `eks-access-watch` binary: exit codes, output formats, errors naming inputs.
mod cli;
// AWS side with the SDK's test tools: enrichment, SNS delivery, handler errors, the wire.
mod aws;
// Payloads of any size within the time budget; records too big for an alert.
mod batch;
// `migrate` offline: sample ConfigMaps against their goldens, pitfalls, generated code read back.
mod migrate;
// `migrate --live`: EKS and IAM reads with the SDK's mocks; `--check` exit codes via the binary.
mod migrate_live;
// The audit: snapshot goldens, standing and drift rules case by case, bad snapshot files, the digest.
mod audit;
// The audit's AWS side with mocks: the EKS reader (pages, failures, throttling, concurrency) and
// the Lambda's daily schedule path (digest, drift alerts, the snapshot in S3).
mod audit_aws;
// The OCSF Detection Finding rendering against the class's schema, over every sample.
mod ocsf;
// Security Hub (SDK mocks) and PagerDuty (loopback server) sinks; one behaviour for every sink.
mod sinks;
// Correlation with state: windows, keys, look-alikes, the stores, replay --state.
mod correlation;
// The SAM templates agree with the catalogue; samples match the event patterns they should.
mod template;
// The template tests' pattern decisions judged by moto's EventBridge too, beside our evaluator.
mod eventbridge_moto;
// The DynamoDB state store on moto and with mocks; the Lambda's correlation path end to end.
mod dynamodb;
// The organisation trail's bucket: S3 notifications to the Lambda, objects read from moto's S3,
// partial batch failures, the time budget.
mod s3trail;
// CloudTrail digests (verify-trail's core): signatures, chains, hours, log-file hashes.
mod trail_digest;
// The bad-input table of docs/replay.md, one test per row.
mod badinput;
// The fuzz corpus kept as regression inputs.
mod fuzz;
// Arbitrary input never panics the parser, classifier or renderers.
mod props;
// The tuning file: parsing and its errors, overrides, exceptions, expiry.
mod tuning;
// `replay --config`: the tuning file through the binary.
mod tuning_cli;
// The Lambda's tuning file: read from SSM at init (mocked), applied to what it publishes.
mod tuning_lambda;
// README and docs/: every relative link and anchor resolves.
mod docs;
