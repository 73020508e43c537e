//! The SAM templates, resolved the way CloudFormation would for given parameters, agree with
//! the code: the patterns deliver exactly the events the library watches (the break-glass,
//! add-on and tag filters included, on path, case and encoding variants), the environment the
//! function reads, the deployment details issue by issue.

use std::path::Path;

use std::io::Read;

use eks_access_watch::config::{BREAK_GLASS_SPELLINGS, LAMBDA_ENV_VARS};
use eks_access_watch::ingest::{self, ReadMode};
use eks_access_watch::kubernetes::Origin;
use eks_access_watch::lambda::Task;
use eks_access_watch::operation::Source;
use eks_access_watch::{RuleConfig, Severity};
use serde_json::{Value as Json, json};
use serde_yaml_ng::Value as Yaml;

use crate::cfn::{ACCOUNT, Stack, json as to_json};
use crate::eventbridge::Case;
use crate::iam::{Decision, Request, decide};
use crate::logs_filter;
use crate::util::{BREAK_GLASS, events_dir};

const MEMBER_ACCOUNT: &str = "444455556666";

fn load(name: &str) -> Yaml {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

fn central(params: &[(&str, &str)]) -> Stack {
    Stack::new(load("template.yaml"), params)
}

fn member(params: &[(&str, &str)]) -> Stack {
    let mut all = vec![
        ("CentralAccountId", ACCOUNT),
        (
            "CentralEventBusArn",
            "arn:aws:events:eu-west-1:111122223333:event-bus/default",
        ),
        ("OrganizationId", "o-a1b2c3d4e5"),
    ];
    all.extend_from_slice(params);
    Stack::in_region(load("templates/member-account.yaml"), &all, "us-east-1")
}

/// The central function's EventBridge patterns, by event name.
fn central_patterns(stack: &Stack) -> Vec<(String, Json)> {
    let function = stack.resource("WatcherFunction").unwrap();
    function["Properties"]["Events"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, e)| e["Type"] == "EventBridgeRule")
        .map(|(name, e)| {
            (
                name.as_str().unwrap().to_string(),
                to_json(&e["Properties"]["Pattern"]),
            )
        })
        .collect()
}

/// The member stack's forwarding patterns (AWS::Events::Rule resources), by resource name.
fn member_patterns(stack: &Stack) -> Vec<(String, Json)> {
    stack.raw()["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Events::Rule")
        .filter_map(|(name, _)| {
            let name = name.as_str().unwrap();
            let r = stack.resource(name)?;
            Some((name.to_string(), to_json(&r["Properties"]["EventPattern"])))
        })
        .collect()
}

/// The EventBridge envelope of a CloudTrail record, as the bus delivers it from `account`.
fn envelope(record: &Json, account: &str) -> Json {
    let source = record["eventSource"].as_str().unwrap_or_default();
    let service = source.split('.').next().unwrap_or_default();
    json!({"version": "0", "id": "e", "source": format!("aws.{service}"), "account": account,
        "time": "2026-11-30T00:00:00Z", "region": "eu-west-1", "resources": [],
        "detail-type": "AWS API Call via CloudTrail", "detail": record})
}

fn watched(record: &Json, config: &RuleConfig) -> bool {
    let json = record.to_string();
    let fast = ingest::decide_record(&json, config, ReadMode::Fast);
    let strict = ingest::decide_record(&json, config, ReadMode::Strict);
    let watched = matches!(strict, Ok(Ok(_)));
    assert_eq!(
        matches!(fast, Ok(Ok(_))),
        watched,
        "fast and strict paths agree on {json}"
    );
    watched
}

/// A record in a sample: a CloudTrail record or a Kubernetes audit event, as JSON text.
enum SampleRecord {
    CloudTrail(String),
    Audit(String),
}

/// An audit event: `kind` `Event` of the audit API, or without `apiVersion` (older clusters,
/// re-exported logs), as the library reads it.
fn is_audit(v: &Json) -> bool {
    v["kind"] == "Event"
        && v.get("apiVersion").is_none_or(|a| {
            a.is_null()
                || a.as_str()
                    .is_some_and(eks_access_watch::kubernetes::is_audit_api_version)
        })
}

/// The messages of a CloudWatch Logs document or output that are audit events (other streams'
/// lines, such as the authenticator's, are not).
fn log_messages(events: &Json, out: &mut Vec<SampleRecord>) {
    for e in events.as_array().unwrap() {
        let message = e["message"].as_str().unwrap();
        if serde_json::from_str::<Json>(message).is_ok_and(|m| is_audit(&m)) {
            out.push(SampleRecord::Audit(message.to_string()));
        }
    }
}

/// Every record in a sample file: CloudTrail (EventBridge `detail`, log-file `Records`,
/// lookup-events `Events`, bare records, NDJSON) and audit events (subscription payloads,
/// their decoded documents, filter-log-events output, audit NDJSON, CloudWatch Logs exports);
/// gzip or not.
fn sample_records(path: &Path) -> Vec<SampleRecord> {
    use base64::Engine;
    let mut text = String::new();
    ingest::open(path)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let mut out = Vec::new();
    // An export's lines start with a timestamp: the event follows the first space.
    let exported = text.as_bytes().first().is_some_and(u8::is_ascii_digit);
    let values: Vec<Json> = if exported {
        text.lines()
            .map(|l| serde_json::from_str(l.split_once(' ').unwrap().1).unwrap())
            .collect()
    } else {
        serde_json::Deserializer::from_str(&text)
            .into_iter::<Json>()
            .map(Result::unwrap)
            .collect()
    };
    for value in values {
        let values = match value {
            Json::Array(items) => items,
            other => vec![other],
        };
        for v in values {
            if let Some(data) = v["awslogs"]["data"].as_str() {
                let gz = base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .unwrap();
                let mut doc = String::new();
                flate2::read::GzDecoder::new(&gz[..])
                    .read_to_string(&mut doc)
                    .unwrap();
                let doc: Json = serde_json::from_str(&doc).unwrap();
                log_messages(&doc["logEvents"], &mut out);
            } else if v.get("logEvents").is_some() {
                log_messages(&v["logEvents"], &mut out);
            } else if v.get("events").is_some() {
                log_messages(&v["events"], &mut out);
            } else if is_audit(&v) {
                out.push(SampleRecord::Audit(v.to_string()));
            } else if let Some(records) = v["Records"].as_array() {
                out.extend(
                    records
                        .iter()
                        .map(|r| SampleRecord::CloudTrail(r.to_string())),
                );
            } else if let Some(events) = v["Events"].as_array() {
                out.extend(events.iter().map(|e| {
                    SampleRecord::CloudTrail(e["CloudTrailEvent"].as_str().unwrap().to_string())
                }));
            } else if v.get("detail").is_some() {
                out.push(SampleRecord::CloudTrail(v["detail"].to_string()));
            } else {
                out.push(SampleRecord::CloudTrail(v.to_string()));
            }
        }
    }
    out
}

/// A pattern's event names: exact ones and `prefix` ones (Lambda's versioned names).
fn event_names(pattern: &Json) -> Vec<String> {
    pattern["detail"]["eventName"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|n| {
                    n.as_str()
                        .or_else(|| n["prefix"].as_str())
                        .unwrap()
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A pattern as the patterns its top-level `$or` stands for (each branch with the fields
/// around it); a pattern without `$or` is itself.
fn branches(pattern: &Json) -> Vec<Json> {
    let Some(or) = pattern.get("$or").and_then(Json::as_array) else {
        return vec![pattern.clone()];
    };
    or.iter()
        .map(|branch| {
            let mut whole = pattern.as_object().unwrap().clone();
            whole.remove("$or");
            for (k, v) in branch.as_object().unwrap() {
                assert!(whole.insert(k.clone(), v.clone()).is_none(), "{k} twice");
            }
            Json::Object(whole)
        })
        .collect()
}

/// Each CloudTrail source's watched operations appear in the patterns for that source, and
/// nothing else does.
fn assert_names_match_the_catalogue(patterns: &[(String, Json)], which: &str) {
    for source in Source::ALL {
        let Some(eb) = source.eventbridge_source() else {
            continue;
        };
        let mut named: Vec<String> = patterns
            .iter()
            .flat_map(|(_, p)| branches(p))
            .filter(|p| p["source"] == json!([eb]))
            .flat_map(|p| event_names(&p))
            .collect();
        named.sort();
        named.dedup();
        let mut expected: Vec<String> = source.operations().map(|o| o.to_string()).collect();
        expected.sort();
        assert_eq!(named, expected, "{which}: {eb}");
    }
}

#[test]
fn the_templates_watch_exactly_the_catalogue_operations() {
    assert_names_match_the_catalogue(&central_patterns(&central(&[])), "template.yaml");
    assert_names_match_the_catalogue(&member_patterns(&member(&[])), "member-account.yaml");
    for (name, p) in central_patterns(&central(&[])) {
        assert_eq!(
            p["detail-type"],
            json!([ingest::CLOUDTRAIL_DETAIL_TYPE]),
            "{name}"
        );
    }
}

#[test]
fn the_function_reads_the_variables_the_template_sets() {
    let stack = central(&[]);
    let function = stack.resource("WatcherFunction").unwrap();
    let mut set: Vec<String> = function["Properties"]["Environment"]["Variables"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    set.sort();
    let mut read: Vec<&str> = LAMBDA_ENV_VARS.to_vec();
    read.sort();
    assert_eq!(set, read);
    let allowed: Vec<String> = stack.raw()["Parameters"]["MinSeverity"]["AllowedValues"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let valid: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(allowed, valid);
}

/// The environment variables a function sets.
fn variables(function: &Yaml) -> Vec<&str> {
    function["Properties"]["Environment"]["Variables"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect()
}

/// Every CloudTrail record in the samples, with break-glass roles configured as `break_glass`
/// (or none): from this account through the central rules, and from a member account through
/// its forwarding rules and then the central rules; delivered exactly when the library watches
/// it.
pub(crate) fn sample_cases(break_glass: &str) -> Vec<Case> {
    let config = if break_glass.is_empty() {
        RuleConfig::default()
    } else {
        RuleConfig::new(&[], "a", &[break_glass.to_string()], "b").unwrap()
    };
    let params = [("BreakGlassRoleArns", break_glass)];
    let (central, member) = (
        central_patterns(&central(&params)),
        member_patterns(&member(&params)),
    );
    let mut cases = Vec::new();
    for sample in ingest::expand_paths(&[events_dir()]).unwrap() {
        for (i, record) in sample_records(&sample).iter().enumerate() {
            let SampleRecord::CloudTrail(json) = record else {
                continue;
            };
            let record: &Json = &serde_json::from_str(json).unwrap();
            let at = format!(
                "{} record {i} (break-glass `{break_glass}`)",
                sample.display()
            );
            let watched = watched(record, &config);
            cases.push(Case {
                what: at.clone(),
                route: vec![central.clone()],
                event: envelope(record, ACCOUNT),
                expected: watched,
            });
            cases.push(Case {
                what: format!("{at}, from a member account"),
                route: vec![member.clone(), central.clone()],
                event: envelope(record, MEMBER_ACCOUNT),
                expected: watched,
            });
        }
    }
    cases
}

/// Every record in the samples reaches the function exactly when the library watches it: the
/// patterns neither drop a watched event nor invoke the function for nothing; from a member
/// account, through its forwarding rules and the central rules in turn.
#[test]
fn every_sample_matches_the_pattern_it_should() {
    for break_glass in ["", BREAK_GLASS] {
        let cases = sample_cases(break_glass);
        for case in &cases {
            assert_eq!(case.delivered(), case.expected, "{}", case.what);
        }
        // Two cases a record: from this account and from a member account.
        let watched_count = cases.iter().filter(|c| c.expected).count() / 2;
        assert!(watched_count > 40, "{watched_count}");
    }
}

/// The state in which a rule sees read-only CloudTrail management events too (EventBridge user
/// guide, "Receiving read-only management events from AWS services"); a rule that is plainly
/// `ENABLED` never matches them.
const ALL_MANAGEMENT_EVENTS: &str = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS";

/// A stack's rules with their state (SAM's and CloudFormation's default: `ENABLED`): the central
/// function's EventBridge events, or the member stack's rule resources.
fn rule_states(stack: &Stack, central: bool) -> Vec<(String, Json, String)> {
    let state = |p: &Yaml| p["State"].as_str().unwrap_or("ENABLED").to_string();
    if central {
        let function = stack.resource("WatcherFunction").unwrap();
        let events = function["Properties"]["Events"].as_mapping().unwrap();
        events
            .iter()
            .filter(|(_, e)| e["Type"] == "EventBridgeRule")
            .map(|(name, e)| {
                let p = &e["Properties"];
                let name = name.as_str().unwrap().to_string();
                (name, to_json(&p["Pattern"]), state(p))
            })
            .collect()
    } else {
        member_patterns(stack)
            .into_iter()
            .map(|(name, pattern)| {
                let rule = stack.resource(&name).unwrap();
                let state = state(&rule["Properties"]);
                (name, pattern, state)
            })
            .collect()
    }
}

/// Every read-only CloudTrail record in the samples that the library watches (role assumptions)
/// reaches the function, from this account and forwarded from a member account: on every hop,
/// a rule that matches it is in the state that receives read-only events; and no read-only
/// record the library skips is delivered.
#[test]
fn read_only_events_the_code_watches_reach_it_through_every_hop() {
    let central_stack = central(&[]);
    let (central, member) = (
        rule_states(&central_stack, true),
        rule_states(&member(&[]), false),
    );
    let config = RuleConfig::default();
    let mut read_only_watched = 0;
    for sample in ingest::expand_paths(&[events_dir()]).unwrap() {
        for record in sample_records(&sample) {
            let SampleRecord::CloudTrail(json) = record else {
                continue;
            };
            let record: Json = serde_json::from_str(&json).unwrap();
            if record["readOnly"] != json!(true) {
                continue;
            }
            let watched = watched(&record, &config);
            read_only_watched += usize::from(watched);
            for (from, route) in [
                (ACCOUNT, vec![&central]),
                (MEMBER_ACCOUNT, vec![&member, &central]),
            ] {
                let event = envelope(&record, from);
                let through_every_hop = route.iter().all(|hop| {
                    hop.iter().any(|(_, pattern, state)| {
                        state == ALL_MANAGEMENT_EVENTS
                            && crate::eventbridge::matches(pattern, &event)
                    })
                });
                assert_eq!(
                    through_every_hop,
                    watched,
                    "{} {} from {from}: the matching rules are {:?}",
                    sample.display(),
                    record["eventName"],
                    route
                        .iter()
                        .flat_map(|hop| hop.iter())
                        .filter(|(_, p, _)| crate::eventbridge::matches(p, &event))
                        .map(|(n, _, s)| format!("{n} ({s})"))
                        .collect::<Vec<_>>()
                );
            }
        }
    }
    assert!(
        read_only_watched >= 2,
        "{read_only_watched} read-only samples watched"
    );
}

fn assume(role_arn: &str) -> Json {
    json!({"eventSource": "sts.amazonaws.com", "eventName": "AssumeRole",
        "recipientAccountId": ACCOUNT, "requestParameters": {"roleArn": role_arn, "roleSessionName": "s"}})
}

/// Path, case and naming variants of break-glass roles, assumed in this account (the central
/// rules) and in a member account (its forwarding rules): with roles configured (a suffix
/// `/<name>` ignoring case in the pattern; the code compares names ignoring path and case, and
/// also checks the account and partition) and with none (the same spellings on both sides).
/// Delivered exactly when the code watches the assumption, except that with roles configured
/// the pattern cannot see accounts and partitions in a suffix: those are delivered, and the code
/// drops them.
pub(crate) fn break_glass_cases() -> Vec<Case> {
    let configured = "arn:aws:iam::111122223333:role/eks-break-glass,arn:aws:iam::111122223333:role/Incident-Admin";
    let variants = [
        "arn:aws:iam::111122223333:role/eks-break-glass",
        "arn:aws:iam::111122223333:role/teams/eks-break-glass",
        "arn:aws:iam::111122223333:role/EKS-Break-Glass",
        "arn:aws:iam::111122223333:role/teams/oncall/EKS-BREAK-GLASS",
        "arn:aws:iam::111122223333:role/incident-admin",
        "arn:aws:iam::111122223333:role/eks-break-glass-2",
        "arn:aws:iam::111122223333:role/not-eks-break-glass",
        "arn:aws:iam::111122223333:role/break-glass/ops-admin",
        "arn:aws:iam::111122223333:role/BreakGlass",
        "arn:aws:iam::111122223333:role/eks-Break-glass",
        "arn:aws:iam::111122223333:role/ci-deployer",
        "arn:aws:iam::999988887777:role/eks-break-glass",
        "arn:aws-cn:iam::111122223333:role/eks-break-glass",
    ];
    let mut cases = Vec::new();
    for list in [configured, ""] {
        let config = RuleConfig::new(&[], "a", &RuleConfig::split_list(list), "b").unwrap();
        let patterns = central_patterns(&central(&[("BreakGlassRoleArns", list)]));
        let member = member_patterns(&member(&[("BreakGlassRoleArns", list)]));
        for role in variants {
            let record = assume(role);
            let watched = watched(&record, &config);
            let other_account_or_partition = !role.starts_with("arn:aws:iam::111122223333:");
            let expected = watched || (!list.is_empty() && other_account_or_partition);
            let what = format!("{role} (configured `{list}`, watched: {watched})");
            cases.push(Case {
                what: format!("{what}, in this account"),
                route: vec![patterns.clone()],
                event: envelope(&record, ACCOUNT),
                expected,
            });
            cases.push(Case {
                what: format!("{what}, forwarded from a member account"),
                route: vec![member.clone()],
                event: envelope(&record, MEMBER_ACCOUNT),
                expected,
            });
        }
    }
    cases
}

/// The rule and the code decide alike on path, case and naming variants of break-glass roles.
#[test]
fn break_glass_matching_agrees_on_path_and_case_variants() {
    let cases = break_glass_cases();
    for case in &cases {
        assert_eq!(case.delivered(), case.expected, "{}", case.what);
    }
    // Where the pattern and the code differ: the two variants of another account or partition,
    // with roles configured, in either account.
    let differ = cases
        .iter()
        .filter(|c| c.expected && c.what.contains("watched: false"))
        .count();
    assert_eq!(
        differ,
        2 * 2,
        "other account and partition, here and forwarded"
    );
}

#[test]
fn the_fallback_wildcards_are_the_code_s_spellings() {
    let patterns = central_patterns(&central(&[("BreakGlassRoleArns", "")]));
    let (_, sts) = patterns
        .iter()
        .find(|(n, _)| n == "BreakGlassAssumeRole")
        .unwrap();
    let wildcards: Vec<String> = sts["detail"]["requestParameters"]["roleArn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["wildcard"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = BREAK_GLASS_SPELLINGS
        .iter()
        .map(|s| format!("arn:*:iam::*:role/*{s}*"))
        .collect();
    assert_eq!(wildcards, expected);
}

/// Tag calls on clusters, access entries and node groups (plain, URL-encoded, lower-case
/// encoded) and add-on calls with and without pod identity roles: delivered, from this account
/// and through a member's forwarding rules, exactly when the code watches them.
pub(crate) fn tag_and_add_on_cases() -> Vec<Case> {
    let config = RuleConfig::default();
    let patterns = central_patterns(&central(&[]));
    let member = member_patterns(&member(&[]));
    let encode = |s: &str| s.replace(':', "%3A").replace('/', "%2F");
    let cluster = "arn:aws:eks:eu-west-1:111122223333:cluster/prod";
    let entry = "arn:aws:eks:eu-west-1:111122223333:access-entry/prod/role/111122223333/ci/ab12";
    let nodegroup = "arn:aws:eks:eu-west-1:111122223333:nodegroup/prod/ng/ab12";
    let mut records = Vec::new();
    for arn in [
        cluster.to_string(),
        entry.to_string(),
        encode(cluster),
        encode(entry),
        encode(entry).to_lowercase(),
        nodegroup.to_string(),
        encode(nodegroup),
    ] {
        for name in ["TagResource", "UntagResource"] {
            records.push(json!({"eventSource": "eks.amazonaws.com", "eventName": name,
                "recipientAccountId": ACCOUNT, "requestParameters": {"resourceArn": arn, "tagKeys": ["Purpose"]}}));
        }
    }
    for params in [
        json!({"name": "prod", "addonName": "vpc-cni", "podIdentityAssociations": [{"serviceAccount": "aws-node", "roleArn": "arn:aws:iam::111122223333:role/cni"}]}),
        json!({"name": "prod", "addonName": "vpc-cni", "podIdentityAssociations": [{"serviceAccount": "aws-node"}]}),
        json!({"name": "prod", "addonName": "vpc-cni", "podIdentityAssociations": []}),
        json!({"name": "prod", "addonName": "coredns", "addonVersion": "v1.11.3-eksbuild.2"}),
    ] {
        for name in ["CreateAddon", "UpdateAddon"] {
            records.push(
                json!({"eventSource": "eks.amazonaws.com", "eventName": name,
                "recipientAccountId": ACCOUNT, "requestParameters": params}),
            );
        }
    }
    let mut cases = Vec::new();
    for record in &records {
        let watched = watched(record, &config);
        cases.push(Case {
            what: record.to_string(),
            route: vec![patterns.clone()],
            event: envelope(record, ACCOUNT),
            expected: watched,
        });
        cases.push(Case {
            what: format!("{record}, from a member account"),
            route: vec![member.clone()],
            event: envelope(record, MEMBER_ACCOUNT),
            expected: watched,
        });
    }
    cases
}

#[test]
fn tag_and_add_on_filters_agree_with_the_code() {
    let cases = tag_and_add_on_cases();
    for case in &cases {
        assert_eq!(case.delivered(), case.expected, "{}", case.what);
    }
    assert_eq!(
        cases.iter().filter(|c| c.expected).count(),
        2 * (10 + 2),
        "5 tag variants x 2 calls, 1 add-on x 2 calls; from this account and a member account"
    );
}

#[test]
fn resolved_patterns_stay_within_eventbridge_size_limits() {
    let five = (0..5)
        .map(|i| format!("arn:aws:iam::111122223333:role/a-long-break-glass-role-name-{i:02}-with-64-chars-xxxxxxxxx"))
        .collect::<Vec<_>>()
        .join(",");
    for (which, patterns) in [
        (
            "central",
            central_patterns(&central(&[("BreakGlassRoleArns", &five)])),
        ),
        (
            "member",
            member_patterns(&member(&[("BreakGlassRoleArns", &five)])),
        ),
        ("central fallback", central_patterns(&central(&[]))),
    ] {
        for (name, p) in patterns {
            let size = p.to_string().len();
            assert!(size <= 2048, "{which} {name}: {size} characters");
        }
    }
}

fn allowed(stack: &Stack, parameter: &str, value: &str) -> bool {
    let pattern = stack.raw()["Parameters"][parameter]["AllowedPattern"]
        .as_str()
        .unwrap();
    regex::Regex::new(pattern).unwrap().is_match(value)
}

#[test]
fn parameters_refuse_what_would_deploy_wrong() {
    let stack = central(&[]);
    assert!(
        !allowed(
            &stack,
            "ExistingTopicArn",
            "arn:aws:sns:eu-west-1:111122223333:alerts.fifo"
        ),
        "FIFO topics take no e-mail and no alarms"
    );
    assert!(allowed(
        &stack,
        "ExistingTopicArn",
        "arn:aws:sns:eu-west-1:111122223333:alerts"
    ));
    assert!(
        !allowed(&stack, "EnrichRoleName", "/eks-access-watch-reader"),
        "no role//"
    );
    assert!(!allowed(&stack, "EnrichRoleName", "team/"));
    assert!(allowed(
        &stack,
        "EnrichRoleName",
        "team/eks-access-watch-reader"
    ));
    let role = |n: &str| format!("arn:aws:iam::111122223333:role/{n}");
    assert!(
        !allowed(&stack, "BreakGlassRoleArns", &role("teams/eks-break-glass")),
        "without path"
    );
    let six = (0..6)
        .map(|i| role(&format!("bg-{i}")))
        .collect::<Vec<_>>()
        .join(",");
    assert!(
        !allowed(&stack, "BreakGlassRoleArns", &six),
        "at most five slots"
    );
    let five = (0..5)
        .map(|i| role(&format!("bg-{i}")))
        .collect::<Vec<_>>()
        .join(",");
    assert!(allowed(&stack, "BreakGlassRoleArns", &five));
    for schedule in ["rate(1 day)", "cron(0 6 * * ? *)", ""] {
        assert!(
            allowed(&stack, "TrailCheckSchedule", schedule),
            "{schedule}"
        );
    }
}

#[test]
fn alarms_notify_their_own_topic_on_every_new_failure() {
    // Every optional part on, so that its alarms are checked too.
    let stack = central(&[("OrgTrailBucketName", "org-trail-logs")]);
    let resources = stack.raw()["Resources"].as_mapping().unwrap();
    let mut alarms = 0;
    for (name, r) in resources {
        if r["Type"] != "AWS::CloudWatch::Alarm" {
            continue;
        }
        let name = name.as_str().unwrap();
        let Some(alarm) = stack.resource(name) else {
            continue;
        };
        alarms += 1;
        let p = &alarm["Properties"];
        assert_eq!(
            p["AlarmActions"][0], "<AlarmTopic>",
            "{name}: the alarm topic"
        );
        assert_ne!(
            p["MetricName"], "DeadLetterErrors",
            "the function has no DLQ"
        );
        if p["Namespace"] == "AWS/SQS" {
            // Every new message (a sum of sends), or what waits (the most seen in a period).
            let statistic = match p["MetricName"].as_str() {
                Some("NumberOfMessagesSent") => "Sum",
                Some("ApproximateNumberOfMessagesVisible") => "Maximum",
                other => panic!("{name}: {other:?}"),
            };
            assert_eq!(p["Statistic"], statistic, "{name}");
            assert_eq!(
                p["Threshold"].as_u64(),
                Some(0),
                "{name}: the first message"
            );
            assert_eq!(p["ComparisonOperator"], "GreaterThanThreshold", "{name}");
        }
    }
    assert_eq!(
        alarms, 17,
        "the watcher's errors, throttles, destination failures, correlation unavailable, both \
         queues' new messages, the failure queue's depth; the audit's errors and throttles; \
         member alarms not forwarded; the heartbeat, trail self-check and audit missing; the \
         trail bucket's unread notifications; the trail verification's errors, throttles and \
         missing run"
    );
    let topic = stack.resource("AlarmTopic").unwrap();
    assert!(
        topic["Properties"]["FifoTopic"].is_null(),
        "a standard topic"
    );
    assert_ne!(
        topic["Properties"]["KmsMasterKeyId"],
        stack.resource("AlertTopic").unwrap()["Properties"]["KmsMasterKeyId"],
        "its own key"
    );
}

/// The alarms on one AWS/Lambda metric, by the function they watch (`<Function>`), and whom
/// they notify.
fn function_alarms(stack: &Stack, metric: &str) -> Vec<(String, Yaml)> {
    stack.raw()["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .filter_map(|(name, _)| stack.resource(name.as_str().unwrap()))
        .filter(|a| a["Properties"]["Namespace"] == "AWS/Lambda")
        .filter(|a| a["Properties"]["MetricName"] == metric)
        .map(|a| {
            let dimensions = &a["Properties"]["Dimensions"];
            assert_eq!(dimensions[0]["Name"], "FunctionName");
            let function = dimensions[0]["Value"].as_str().unwrap().to_string();
            (function, a["Properties"]["AlarmActions"].clone())
        })
        .collect()
}

/// Every function of the stack (the watcher and the audit) keeps what failed after its retries in
/// FailureQueue, through a destination its own role may write (SAM adds no policy to a role it
/// did not create), and alarms to the alarm topic when it fails or is throttled.
#[test]
fn every_function_keeps_its_failures_and_alarms_when_it_fails_or_is_throttled() {
    for (params, expected) in [
        (&[][..], &["WatcherFunction", "AuditFunction"][..]),
        (
            &[("OrgTrailBucketName", "org-trail-logs")][..],
            &["WatcherFunction", "AuditFunction", "TrailVerifyFunction"][..],
        ),
    ] {
        functions_keep_their_failures(&central(params), expected);
    }
}

fn functions_keep_their_failures(stack: &Stack, expected: &[&str]) {
    let mut functions = Vec::new();
    for (name, r) in stack.raw()["Resources"].as_mapping().unwrap() {
        if r["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let name = name.as_str().unwrap();
        // A function whose condition is false is not created.
        let Some(function) = stack.resource(name) else {
            continue;
        };
        functions.push(name.to_string());
        let p = &function["Properties"];
        let on_failure = &p["EventInvokeConfig"]["DestinationConfig"]["OnFailure"];
        assert_eq!(on_failure["Type"], "SQS", "{name}");
        assert_eq!(on_failure["Destination"], "<FailureQueue.Arn>", "{name}");
        let role = p["Role"].as_str().unwrap();
        let role = role
            .strip_prefix('<')
            .unwrap()
            .strip_suffix(".Arn>")
            .unwrap();
        let (_, statements) = role_actions(&stack.resource(role).unwrap());
        assert!(
            statements.iter().any(|s| s["Effect"] == "Allow"
                && s["Action"] == "sqs:SendMessage"
                && s["Resource"] == "<FailureQueue.Arn>"),
            "{name}: {role} may write its destination"
        );
        for metric in ["Errors", "Throttles"] {
            let alarms = function_alarms(stack, metric);
            let watched = format!("<{name}>");
            let (_, actions) = alarms
                .iter()
                .find(|(f, _)| *f == watched)
                .unwrap_or_else(|| panic!("{name}: no {metric} alarm"));
            assert_eq!(*actions, yaml_list(&["<AlarmTopic>"]), "{name} {metric}");
        }
    }
    assert_eq!(functions, expected);
}

/// The alarms of a stack on one SQS metric, by the queue they watch (`<Queue.QueueName>`).
fn queue_alarms(stack: &Stack, metric: &str) -> Vec<(String, Yaml)> {
    stack.raw()["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .filter_map(|(name, _)| stack.resource(name.as_str().unwrap()))
        .filter(|a| a["Properties"]["Namespace"] == "AWS/SQS")
        .filter(|a| a["Properties"]["MetricName"] == metric)
        .map(|a| {
            let dimensions = &a["Properties"]["Dimensions"];
            assert_eq!(dimensions[0]["Name"], "QueueName");
            (dimensions[0]["Value"].as_str().unwrap().to_string(), a)
        })
        .collect()
}

/// A message a queue's redrive policy moves to its dead-letter queue is not counted in the
/// dead-letter queue's NumberOfMessagesSent (the SQS developer guide says so under "Creating
/// alarms for dead-letter queues"): each such queue has an alarm on its depth as well.
#[test]
fn every_queue_a_redrive_policy_feeds_alarms_on_its_depth() {
    for (params, expected) in [
        (&[][..], &["FailureQueue"][..]),
        (
            &[("OrgTrailBucketName", "org-trail-logs")][..],
            &["FailureQueue", "OrgTrailDeadLetterQueue"][..],
        ),
    ] {
        queues_with_redrive_alarm_on_depth(&central(params), expected);
    }
}

fn queues_with_redrive_alarm_on_depth(stack: &Stack, expected: &[&str]) {
    let mut targets = Vec::new();
    for (name, r) in stack.raw()["Resources"].as_mapping().unwrap() {
        if r["Type"] != "AWS::SQS::Queue" {
            continue;
        }
        // A queue whose condition is false is not created.
        let Some(queue) = stack.resource(name.as_str().unwrap()) else {
            continue;
        };
        if let Some(arn) = queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"].as_str() {
            let target = arn
                .strip_prefix('<')
                .unwrap()
                .strip_suffix(".Arn>")
                .unwrap();
            targets.push(target.to_string());
        }
    }
    targets.sort();
    assert_eq!(targets, expected, "the dead-letter queues");
    let depth = queue_alarms(stack, "ApproximateNumberOfMessagesVisible");
    for target in &targets {
        let watched = format!("<{target}.QueueName>");
        let (_, alarm) = depth
            .iter()
            .find(|(queue, _)| *queue == watched)
            .unwrap_or_else(|| panic!("no depth alarm on {target}"));
        let p = &alarm["Properties"];
        assert_eq!(p["AlarmActions"], yaml_list(&["<AlarmTopic>"]));
        assert_eq!(p["Statistic"], "Maximum");
        assert_eq!(p["Threshold"].as_u64(), Some(0));
        assert_eq!(p["ComparisonOperator"], "GreaterThanThreshold");
        assert_eq!(p["TreatMissingData"], "notBreaching");
    }
    // Its sends still alarm on every new direct failure.
    let sent = queue_alarms(stack, "NumberOfMessagesSent");
    assert!(sent.iter().any(|(q, _)| q == "<FailureQueue.QueueName>"));
}

/// A YAML list of strings, to compare with a resolved property.
fn yaml_list(items: &[&str]) -> Yaml {
    Yaml::Sequence(items.iter().map(|i| Yaml::String(i.to_string())).collect())
}

/// A role of this account that is not the watcher's (an operator, or whoever took one over).
const OPERATOR: &str = "arn:aws:iam::111122223333:role/ops-admin";
/// The same role name in another account.
const OUTSIDER: &str = "arn:aws:iam::999988887777:role/ops-admin";

/// What `policy` decides for each request, with the statements that applied, for messages.
fn assert_decisions(policy: &Yaml, cases: &[(&str, Request, Decision)]) {
    for (what, request, expected) in cases {
        assert_eq!(
            decide(policy, request),
            *expected,
            "{what}: statements applying: {:?}",
            crate::iam::applying(policy, request)
        );
    }
}

/// RedriveQueue holds events not yet alerted on: principals of this account may use it (an
/// operator starts the redrive into it), only the watcher's role takes messages out of it, no
/// other account may touch it whatever its own policies say, and nothing goes over plain HTTP.
#[test]
fn only_the_watcher_takes_from_the_redrive_queue_and_only_this_account_uses_it() {
    let stack = central(&[]);
    let policy = stack.resource("RedriveQueuePolicy").unwrap();
    assert_eq!(
        policy["Properties"]["Queues"],
        yaml_list(&["<RedriveQueue>"])
    );
    let doc = &policy["Properties"]["PolicyDocument"];
    let queue = "<RedriveQueue.Arn>";
    let watcher = "<WatcherRole.Arn>";
    let by = |arn: &str, account: &str, action: &str| Request::by(arn, account, action, queue);
    // What the watcher's role may do on the queue (the event source mapping's reads) is not
    // denied; its own policy allows it (the queue policy allows nothing itself).
    let (_, statements) = role_actions(&stack.resource("WatcherRole").unwrap());
    let reads: Vec<String> = statements
        .iter()
        .filter(|s| s["Resource"] == queue)
        .flat_map(|s| s["Action"].as_sequence().unwrap().clone())
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert!(
        reads.contains(&"sqs:ReceiveMessage".to_string()),
        "{reads:?}"
    );
    let mut cases = Vec::new();
    for action in &reads {
        cases.push((
            "the watcher reads",
            by(watcher, ACCOUNT, action),
            Decision::NotAllowed,
        ));
        cases.push((
            "the watcher, over plain HTTP",
            by(watcher, ACCOUNT, action).insecure(),
            Decision::Deny,
        ));
    }
    for action in [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:PurgeQueue",
    ] {
        cases.push((
            "another principal of this account takes messages",
            by(OPERATOR, ACCOUNT, action),
            Decision::Deny,
        ));
    }
    for action in [
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:SetQueueAttributes",
    ] {
        cases.push((
            "an operator redrives into it, or the stack updates it",
            by(OPERATOR, ACCOUNT, action),
            Decision::NotAllowed,
        ));
        cases.push((
            "another account, whatever its own policy allows",
            by(OUTSIDER, "999988887777", action),
            Decision::Deny,
        ));
    }
    cases.push((
        "another account cannot take messages either",
        by(OUTSIDER, "999988887777", "sqs:ReceiveMessage"),
        Decision::Deny,
    ));
    cases.push((
        "the watcher's role name in another account",
        by(
            "arn:aws:iam::999988887777:role/eks-access-watch-eu-west-1",
            "999988887777",
            "sqs:ReceiveMessage",
        ),
        Decision::Deny,
    ));
    cases.push((
        "a service principal gets nothing from this policy",
        Request::by_service("events.amazonaws.com", "sqs:SendMessage", queue),
        Decision::NotAllowed,
    ));
    assert_decisions(doc, &cases);
}

/// The alarm topic's key lets EventBridge (member accounts' forwarded alarms) encrypt and decrypt
/// only the alarm topic's messages: SNS names the topic in the encryption context of each of its
/// KMS requests (`aws:sns:topicArn`), and the topic, unnamed in the template, gets the name
/// CloudFormation generates (`<stack>-<logical id>-<random>`). CloudWatch's own grant, which the
/// stack's alarms use, is unchanged; and a forward refused anyway alarms through it.
#[test]
fn eventbridge_may_use_the_alarm_key_only_for_the_alarm_topic() {
    let stack = central(&[]);
    let topic = stack.resource("AlarmTopic").unwrap();
    assert_eq!(topic["Properties"]["KmsMasterKeyId"], "<AlarmTopicKey>");
    assert!(
        topic["Properties"]["TopicName"].is_null(),
        "the key policy expects the generated name"
    );
    let key = stack.resource("AlarmTopicKey").unwrap();
    let policy = &key["Properties"]["KeyPolicy"];
    let sns = |name: &str| format!("arn:aws:sns:eu-west-1:111122223333:{name}");
    let alarm_topic = sns("eks-access-watch-AlarmTopic-1QX7RZ4C9MVB2");
    let key_arn = "<AlarmTopicKey.Arn>";
    let events = |action: &str, topic: Option<&str>| {
        let r = Request::by_service("events.amazonaws.com", action, key_arn);
        match topic {
            Some(t) => r.with("kms:EncryptionContext:aws:sns:topicArn", t),
            None => r,
        }
    };
    let mut cases = Vec::new();
    for action in ["kms:GenerateDataKey", "kms:Decrypt"] {
        cases.push((
            "the alarm topic's messages",
            events(action, Some(&alarm_topic)),
            Decision::Allow,
        ));
        for other in [
            sns("eks-access-watch-AlertTopic-1QX7RZ4C9MVB2"),
            sns("other-stack-AlarmTopic-1QX7RZ4C9MVB2"),
            sns("eks-access-watch-AlarmTopicCopy"),
            "arn:aws:sns:eu-west-1:999988887777:eks-access-watch-AlarmTopic-1QX7RZ4C9MVB2"
                .to_string(),
            "arn:aws:sns:us-east-1:111122223333:eks-access-watch-AlarmTopic-1QX7RZ4C9MVB2"
                .to_string(),
        ] {
            cases.push((
                "another topic this key might encrypt",
                events(action, Some(&other)),
                Decision::NotAllowed,
            ));
        }
        cases.push((
            "a request that names no topic",
            events(action, None),
            Decision::NotAllowed,
        ));
        cases.push((
            "the stack's own alarms, through CloudWatch",
            Request::by_service("cloudwatch.amazonaws.com", action, key_arn)
                .with("aws:SourceAccount", ACCOUNT)
                .with("kms:EncryptionContext:aws:sns:topicArn", &alarm_topic),
            Decision::Allow,
        ));
    }
    assert_decisions(policy, &cases);
    // A forward refused all the same is seen.
    let forward_failures: Vec<Yaml> = stack.raw()["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .filter_map(|(name, _)| stack.resource(name.as_str().unwrap()))
        .filter(|a| {
            let p = &a["Properties"];
            p["Namespace"] == "AWS/Events"
                && p["MetricName"] == "FailedInvocations"
                && p["Dimensions"][0]["Name"] == "RuleName"
                && p["Dimensions"][0]["Value"] == "<MemberAlarmRule>"
        })
        .collect();
    assert_eq!(
        forward_failures.len(),
        1,
        "an alarm on MemberAlarmRule's failures"
    );
    assert_eq!(
        forward_failures[0]["Properties"]["AlarmActions"],
        yaml_list(&["<AlarmTopic>"])
    );
}

#[test]
fn queues_keys_and_logs_outlive_the_stack_and_the_function_is_least_privilege() {
    let stack = central(&[]);
    for name in [
        "EventDeadLetterQueue",
        "FailureQueue",
        "RedriveQueue",
        "TopicKey",
        "AlarmTopicKey",
        "WatcherLogGroup",
    ] {
        let r = &stack.raw()["Resources"][name];
        assert_eq!(r["DeletionPolicy"], "Retain", "{name}");
        assert_eq!(r["UpdateReplacePolicy"], "Retain", "{name}");
    }
    let function = stack.resource("WatcherFunction").unwrap();
    let p = &function["Properties"];
    assert_eq!(p["ReservedConcurrentExecutions"], "10");
    assert_eq!(
        p["Role"], "<WatcherRole.Arn>",
        "our role, without the managed wildcard policy"
    );
    assert!(p["Policies"].is_null());
    let role = stack.resource("WatcherRole").unwrap();
    assert!(role["Properties"]["ManagedPolicyArns"].is_null());
    let statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap();
    let logs = statements
        .iter()
        .find(|s| s["Sid"] == "OwnLogGroup")
        .unwrap();
    assert_eq!(logs["Resource"], "<WatcherLogGroup.Arn>");
    for s in statements {
        let actions = match &s["Action"] {
            Yaml::String(a) => vec![a.clone()],
            Yaml::Sequence(a) => a.iter().map(|a| a.as_str().unwrap().to_string()).collect(),
            other => panic!("{other:?}"),
        };
        assert!(
            actions.iter().all(|a| !a.ends_with(":*") && a != "*"),
            "{actions:?}"
        );
    }
    let enrich = central(&[("EnrichRoleName", "eks-access-watch-reader")]);
    let role = enrich.resource("WatcherRole").unwrap();
    let assume = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "AssumeMemberReaderRole")
        .cloned()
        .unwrap();
    assert_eq!(
        assume["Resource"], "arn:aws:iam::*:role/eks-access-watch-reader",
        "only that role name"
    );
}

#[test]
fn the_schedule_runs_the_trail_self_check_the_function_knows() {
    let stack = central(&[]);
    let function = stack.resource("WatcherFunction").unwrap();
    let schedule = &function["Properties"]["Events"]["TrailSelfCheck"]["Properties"];
    assert_eq!(schedule["Schedule"], "rate(1 day)");
    assert_eq!(schedule["State"], "ENABLED");
    let input: Json = serde_json::from_str(schedule["Input"].as_str().unwrap()).unwrap();
    let task: Task = input["task"].as_str().unwrap().parse().unwrap();
    assert_eq!(task, Task::TrailSelfCheck);
    let off = central(&[("TrailCheckSchedule", "")]);
    let function = off.resource("WatcherFunction").unwrap();
    assert_eq!(
        function["Properties"]["Events"]["TrailSelfCheck"]["Properties"]["State"],
        "DISABLED"
    );
    let redrive = &function["Properties"]["Events"]["Redrive"]["Properties"];
    assert_eq!(redrive["Queue"], "<RedriveQueue.Arn>");
}

/// Reading the redrive queue is capped (Lambda's `MaximumConcurrency`, at least 2), well below
/// the concurrency reserved for the function, so a large redrive leaves live events most of it.
#[test]
fn a_redrive_leaves_live_events_most_of_the_reserved_concurrency() {
    let stack = central(&[]);
    let function = stack.resource("WatcherFunction").unwrap();
    let p = &function["Properties"];
    let reserved: u64 = p["ReservedConcurrentExecutions"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let sqs: Vec<&Yaml> = p["Events"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|e| e["Type"] == "SQS")
        .collect();
    assert_eq!(sqs.len(), 1, "one queue is read: the redrive queue");
    let redrive = &sqs[0]["Properties"];
    assert_eq!(redrive["Queue"], "<RedriveQueue.Arn>");
    // A redriven S3 notification's unreadable object is reported, not deleted with the batch.
    assert_eq!(
        redrive["FunctionResponseTypes"],
        yaml_list(&["ReportBatchItemFailures"])
    );
    let most = redrive["ScalingConfig"]["MaximumConcurrency"]
        .as_u64()
        .expect("a maximum concurrency");
    assert!(
        (2..=1000).contains(&most),
        "Lambda accepts 2 to 1000: {most}"
    );
    assert!(
        reserved - most >= reserved * 3 / 4,
        "{most} of {reserved} reserved for redrives"
    );
}

/// Organisations: the central bus accepts the organisation's events; a member's reader role is
/// created once per account and trusts only the central function's role, from the
/// organisation; a failed forward in a member account alarms, and that alarm's state change
/// reaches the central alarm topic.
#[test]
fn member_accounts_forward_alarm_and_trust_only_the_central_function() {
    let c = central(&[("OrganizationId", "o-a1b2c3d4e5")]);
    let policy = c.resource("OrganizationBusPolicy").unwrap();
    assert_eq!(
        policy["Properties"]["Statement"]["Condition"]["StringEquals"]["aws:PrincipalOrgID"],
        "o-a1b2c3d4e5"
    );
    assert!(central(&[]).resource("OrganizationBusPolicy").is_none());

    let m = member(&[]);
    let role = m
        .resource("ReaderRole")
        .expect("created in ReaderRoleRegion");
    let trust = &role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(
        trust["Principal"]["AWS"][0],
        "arn:aws:iam::111122223333:role/eks-access-watch-eu-west-1"
    );
    assert_eq!(
        trust["Condition"]["StringEquals"]["aws:PrincipalOrgID"],
        "o-a1b2c3d4e5"
    );
    assert_eq!(
        c.resource("WatcherRole").unwrap()["Properties"]["RoleName"],
        "eks-access-watch-eu-west-1",
        "the name the member trusts"
    );
    let elsewhere = Stack::in_region(
        load("templates/member-account.yaml"),
        &[
            ("CentralAccountId", ACCOUNT),
            (
                "CentralEventBusArn",
                "arn:aws:events:eu-west-1:111122223333:event-bus/default",
            ),
            ("OrganizationId", "o-a1b2c3d4e5"),
        ],
        "eu-central-1",
    );
    assert!(
        elsewhere.resource("ReaderRole").is_none(),
        "once per account"
    );

    let alarm = m.resource("ForwardDeadLetterAlarm").unwrap();
    assert_eq!(alarm["Properties"]["MetricName"], "NumberOfMessagesSent");
    for case in member_alarm_cases() {
        assert_eq!(case.delivered(), case.expected, "{}", case.what);
    }
}

/// The state change of a member account's forwarding alarm: forwarded by the member's rule and
/// taken to the alarm topic by the central rule; the central account's own alarms are not.
pub(crate) fn member_alarm_cases() -> Vec<Case> {
    let c = central(&[("OrganizationId", "o-a1b2c3d4e5")]);
    let m = member(&[]);
    let alarm = m.resource("ForwardDeadLetterAlarm").unwrap();
    let alarm_name = alarm["Properties"]["AlarmName"]
        .as_str()
        .unwrap()
        .to_string();
    let state_change = json!({"version": "0", "id": "a", "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change", "account": MEMBER_ACCOUNT,
        "time": "2026-11-30T00:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {"alarmName": alarm_name, "state": {"value": "ALARM", "reason": "Threshold Crossed"}}});
    let forward = to_json(&m.resource("AlarmForwardRule").unwrap()["Properties"]["EventPattern"]);
    let central_rule =
        to_json(&c.resource("MemberAlarmRule").unwrap()["Properties"]["EventPattern"]);
    let mut own = state_change.clone();
    own["account"] = json!(ACCOUNT);
    vec![
        Case::single(
            "AlarmForwardRule: forwarded from the member account",
            forward,
            &state_change,
            true,
        ),
        Case::single(
            "MemberAlarmRule: taken to the alarm topic",
            central_rule.clone(),
            &state_change,
            true,
        ),
        Case::single(
            "MemberAlarmRule: the central account's own alarms notify directly",
            central_rule,
            &own,
            false,
        ),
    ]
}

// ---- the Kubernetes audit log: subscription filters and their pattern ----

const AUDIT_SLOTS: usize = 10;

fn groups(n: usize) -> String {
    (0..n)
        .map(|i| format!("/aws/eks/cluster-{i}/cluster"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The subscription filters a stack creates, by log group, each checked for what every one must
/// be: a filter of that group, to the function, with the one pattern; and the permission it is
/// created after.
fn audit_subscriptions(stack: &Stack) -> Vec<(String, String)> {
    let pattern = stack.raw()["Mappings"]["AuditLog"]["Filter"]["Pattern"]
        .as_str()
        .unwrap();
    let mut groups = Vec::new();
    for (name, r) in stack.raw()["Resources"].as_mapping().unwrap() {
        if r["Type"] != "AWS::Logs::SubscriptionFilter" {
            continue;
        }
        let name = name.as_str().unwrap();
        let Some(filter) = stack.resource(name) else {
            continue;
        };
        let p = &filter["Properties"];
        assert_eq!(p["DestinationArn"], "<WatcherFunction.Arn>", "{name}");
        assert_eq!(p["FilterPattern"].as_str(), Some(pattern), "{name}");
        assert_eq!(p["FilterName"], "eks-access-watch-aws-auth-rbac", "{name}");
        let after = filter["DependsOn"].as_str().unwrap().to_string();
        groups.push((p["LogGroupName"].as_str().unwrap().to_string(), after));
    }
    groups
}

/// The permissions a stack gives CloudWatch Logs to invoke the function, by resource name, each
/// checked for what every one must be: for the function, from this account.
fn logs_permissions(stack: &Stack) -> Vec<(String, String)> {
    let mut permissions = Vec::new();
    for (name, r) in stack.raw()["Resources"].as_mapping().unwrap() {
        if r["Type"] != "AWS::Lambda::Permission" {
            continue;
        }
        let name = name.as_str().unwrap();
        let Some(permission) = stack.resource(name) else {
            continue;
        };
        let p = &permission["Properties"];
        assert_eq!(p["Principal"], "logs.amazonaws.com", "{name}");
        assert_eq!(p["Action"], "lambda:InvokeFunction", "{name}");
        assert_eq!(p["FunctionName"], "<WatcherFunction.Arn>", "{name}");
        assert_eq!(p["SourceAccount"], ACCOUNT, "{name}");
        let source = p["SourceArn"].as_str().unwrap().to_string();
        permissions.push((name.to_string(), source));
    }
    permissions
}

/// The SourceArn CloudWatch Logs invokes a function with, for a subscription of `group`.
fn log_group_arn(group: &str) -> String {
    format!("arn:aws:logs:eu-west-1:111122223333:log-group:{group}:*")
}

/// Each listed audit log group gets a subscription, created after the permission that lets
/// CloudWatch Logs invoke the function for that group; no permission covers any other group (a
/// subscription someone adds to another cluster's log group cannot invoke the function).
#[test]
fn each_audit_log_group_gets_a_subscription_and_the_permission_is_scoped() {
    assert!(audit_subscriptions(&central(&[])).is_empty());
    assert!(logs_permissions(&central(&[])).is_empty());
    assert!(central(&[]).resource("AuditLogInvokePermission").is_none());
    for n in [1, 3, AUDIT_SLOTS] {
        let list = groups(n);
        let stack = central(&[("ClusterAuditLogGroups", &list)]);
        let subscriptions = audit_subscriptions(&stack);
        let got: Vec<&str> = subscriptions.iter().map(|(g, _)| g.as_str()).collect();
        assert_eq!(got.join(","), list, "one filter per listed group, in order");
        let permissions = logs_permissions(&stack);
        assert_eq!(permissions.len(), n, "one permission per listed group");
        for (group, after) in &subscriptions {
            let (_, source) = permissions
                .iter()
                .find(|(name, _)| name == after)
                .unwrap_or_else(|| panic!("{group}: created after {after}, not a permission"));
            assert_eq!(*source, log_group_arn(group), "{after}");
        }
        for other in ["/aws/eks/other/cluster", "/aws/eks/cluster-1x/cluster"] {
            let arn = log_group_arn(other);
            assert!(
                !permissions
                    .iter()
                    .any(|(_, source)| crate::iam::glob(source, &arn)),
                "{other} may invoke the function with {n} groups listed"
            );
        }
    }
    // The parameter refuses what the slots cannot hold, rather than dropping a group.
    let spec = &load("template.yaml")["Parameters"]["ClusterAuditLogGroups"];
    let allowed = regex::Regex::new(spec["AllowedPattern"].as_str().unwrap()).unwrap();
    assert!(allowed.is_match(&groups(AUDIT_SLOTS)));
    assert!(!allowed.is_match(&groups(AUDIT_SLOTS + 1)));
    assert!(!allowed.is_match("/aws/eks/a/cluster, /aws/eks/b/cluster"));
    assert!(allowed.is_match(""));
    // PutSubscriptionFilter takes at most 1024 characters.
    let pattern = load("template.yaml")["Mappings"]["AuditLog"]["Filter"]["Pattern"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(pattern.len() <= 1024, "{} characters", pattern.len());
}

/// The pattern passes every audit event the library watches (nothing graded is lost before
/// the function sees it) and no get, list or watch (the function is not invoked for them).
#[test]
fn the_audit_filter_pattern_passes_every_watched_sample_and_no_read() {
    let template = load("template.yaml");
    let pattern = template["Mappings"]["AuditLog"]["Filter"]["Pattern"]
        .as_str()
        .unwrap();
    let filter = logs_filter::parse(pattern);
    let (mut watched, mut reads) = (0, 0);
    for sample in ingest::expand_paths(&[events_dir()]).unwrap() {
        for record in sample_records(&sample) {
            let SampleRecord::Audit(line) = record else {
                continue;
            };
            let event: Json = serde_json::from_str(&line).unwrap();
            let delivered = filter.passes(&event);
            let graded = matches!(
                ingest::decide_audit_line(line.as_bytes(), &Origin::default(), ReadMode::Strict),
                Ok(Ok(_))
            );
            if graded {
                watched += 1;
                assert!(
                    delivered,
                    "{}: the filter drops a watched event: {line}",
                    sample.display()
                );
            }
            if ["get", "list", "watch"].contains(&event["verb"].as_str().unwrap_or_default()) {
                reads += 1;
                assert!(
                    !delivered,
                    "{}: the filter passes a read: {line}",
                    sample.display()
                );
            }
        }
    }
    assert!(
        watched >= 20 && reads >= 3,
        "watched {watched}, reads {reads}"
    );
    let other = serde_json::json!({"stage": "ResponseComplete", "verb": "patch",
        "objectRef": {"resource": "configmaps", "namespace": "kube-system", "name": "coredns"}});
    assert!(!filter.passes(&other), "other ConfigMaps are not sent");
    let team_role = serde_json::json!({"stage": "ResponseComplete", "verb": "create",
        "objectRef": {"resource": "roles", "namespace": "payments", "name": "debug"}});
    assert!(
        !filter.passes(&team_role),
        "Roles of other namespaces than kube-system are not sent"
    );
}

/// The tuning file's parameter: optional, passed to the function by name, and readable with
/// exactly `ssm:GetParameter` on exactly that parameter (a String: no KMS permission).
#[test]
fn the_tuning_parameter_is_read_with_least_privilege() {
    let ssm_statements = |stack: &Stack| -> Vec<Yaml> {
        let role = stack.resource("WatcherRole").unwrap();
        role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter(|s| serde_yaml_ng::to_string(s).unwrap().contains("ssm"))
            .cloned()
            .collect()
    };
    let off = central(&[]);
    assert!(
        ssm_statements(&off).is_empty(),
        "no SSM without a parameter"
    );
    let env = &off.resource("WatcherFunction").unwrap()["Properties"]["Environment"]["Variables"];
    assert_eq!(env["TUNING_PARAMETER_NAME"], "");

    let name = "/eks-access-watch/tuning";
    let on = central(&[("TuningParameterName", name)]);
    let env = &on.resource("WatcherFunction").unwrap()["Properties"]["Environment"]["Variables"];
    assert_eq!(env["TUNING_PARAMETER_NAME"], name);
    let statements = ssm_statements(&on);
    assert_eq!(statements.len(), 1, "one statement mentions SSM");
    let s = &statements[0];
    assert_eq!(s["Sid"], "ReadTuningFile");
    assert_eq!(s["Action"], "ssm:GetParameter");
    assert_eq!(
        s["Resource"],
        "arn:aws:ssm:eu-west-1:111122223333:parameter/eks-access-watch/tuning"
    );
    assert!(s.get("Condition").is_none());
    let spec = &load("template.yaml")["Parameters"]["TuningParameterName"];
    let allowed = regex::Regex::new(spec["AllowedPattern"].as_str().unwrap()).unwrap();
    assert!(allowed.is_match(name) && allowed.is_match(""));
    assert!(
        !allowed.is_match("eks-access-watch/tuning"),
        "starts with /"
    );
}

// ---- the scheduled standing-access audit ----

#[test]
fn the_audit_function_reads_the_variables_the_template_sets() {
    let stack = central(&[]);
    let function = stack.resource("AuditFunction").unwrap();
    let set = variables(&function);
    let config = eks_access_watch::config::LAMBDA_ENV_VARS;
    let audit = eks_access_watch::config::AUDIT_ENV_VARS;
    for v in &set {
        assert!(
            config.contains(v) || audit.contains(v),
            "{v} is set but never read"
        );
    }
    for v in audit {
        assert!(set.contains(v), "{v} is read but not set");
    }
}

#[test]
fn the_schedule_runs_the_audit_task_daily_unless_disabled() {
    let stack = central(&[]);
    let f = stack.resource("AuditFunction").unwrap();
    let schedule = &f["Properties"]["Events"]["Daily"]["Properties"];
    assert_eq!(schedule["Schedule"], "rate(1 day)");
    let input: Json = serde_json::from_str(schedule["Input"].as_str().unwrap()).unwrap();
    let task: Task = input["task"].as_str().unwrap().parse().unwrap();
    assert_eq!(task, Task::Audit);
    assert_eq!(f["Properties"]["Role"], "<AuditRole.Arn>");
    let off = central(&[("AuditSchedule", "disabled")]);
    for resource in [
        "AuditFunction",
        "AuditRole",
        "SnapshotBucket",
        "SnapshotBucketPolicy",
        "AuditLogGroup",
        "AuditErrorsAlarm",
        "AuditThrottlesAlarm",
    ] {
        assert!(stack.resource(resource).is_some(), "{resource}");
        assert!(off.resource(resource).is_none(), "{resource} when disabled");
    }
    let alarm = stack.resource("AuditErrorsAlarm").unwrap();
    assert_eq!(alarm["Properties"]["AlarmActions"][0], "<AlarmTopic>");
}

#[test]
fn the_snapshot_bucket_is_versioned_encrypted_private_and_kept() {
    let stack = central(&[]);
    let bucket = stack.resource("SnapshotBucket").unwrap();
    assert_eq!(bucket["DeletionPolicy"], "Retain");
    let p = &bucket["Properties"];
    assert_eq!(p["VersioningConfiguration"]["Status"], "Enabled");
    let sse = &p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
    assert_eq!(
        sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "AES256"
    );
    let block = &p["PublicAccessBlockConfiguration"];
    for k in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(block[k].as_bool(), Some(true), "{k}");
    }
}

/// The snapshot bucket's objects are written and deleted by the audit's role alone: no other
/// principal of this account (an administrator, the watcher, the account's root), no other
/// account, nothing over plain HTTP. Reading stays with IAM, and the bucket's own settings stay
/// with the stack (it must be able to update this policy).
#[test]
fn only_the_audit_writes_or_deletes_snapshots() {
    let stack = central(&[]);
    let policy = stack.resource("SnapshotBucketPolicy").unwrap();
    assert_eq!(policy["Properties"]["Bucket"], "<SnapshotBucket>");
    let doc = &policy["Properties"]["PolicyDocument"];
    let bucket = "<SnapshotBucket.Arn>";
    let latest = format!(
        "{bucket}/{}",
        eks_access_watch::lambda::daily_audit::SNAPSHOT_KEY
    );
    let audit = "<AuditRole.Arn>";
    let root = "arn:aws:iam::111122223333:root";
    // What the audit's role may do to objects (read and keep its snapshot) is not denied.
    let (actions, _) = role_actions(&stack.resource("AuditRole").unwrap());
    let object_actions: Vec<&String> = actions
        .iter()
        .filter(|a| ["s3:GetObject", "s3:PutObject"].contains(&a.as_str()))
        .collect();
    assert_eq!(object_actions.len(), 2, "{actions:?}");
    let mut cases = Vec::new();
    for action in object_actions {
        cases.push((
            "the audit reads and keeps its snapshot",
            Request::by(audit, ACCOUNT, action, &latest),
            Decision::NotAllowed,
        ));
        cases.push((
            "the audit, over plain HTTP",
            Request::by(audit, ACCOUNT, action, &latest).insecure(),
            Decision::Deny,
        ));
    }
    let writes = [
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:ReplicateObject",
        "s3:ReplicateDelete",
    ];
    for action in writes {
        for (who, account) in [
            (OPERATOR, ACCOUNT),
            ("<WatcherRole.Arn>", ACCOUNT),
            (root, ACCOUNT),
            (OUTSIDER, "999988887777"),
        ] {
            cases.push((
                "anyone else writes or deletes a snapshot or a version of it",
                Request::by(who, account, action, &latest),
                Decision::Deny,
            ));
        }
        cases.push((
            "anyone else writes elsewhere in the bucket",
            Request::by(OPERATOR, ACCOUNT, action, &format!("{bucket}/other.json")),
            Decision::Deny,
        ));
    }
    cases.push((
        "an operator reads a snapshot, with IAM's leave",
        Request::by(OPERATOR, ACCOUNT, "s3:GetObject", &latest),
        Decision::NotAllowed,
    ));
    for action in ["s3:PutBucketPolicy", "s3:PutBucketVersioning"] {
        cases.push((
            "the stack updates the bucket's settings",
            Request::by(OPERATOR, ACCOUNT, action, bucket),
            Decision::NotAllowed,
        ));
    }
    assert_decisions(doc, &cases);
}

/// Every action a role's inline policy allows, and its statements.
fn role_actions(role: &Yaml) -> (Vec<String>, Vec<Yaml>) {
    let statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap()
        .clone();
    let mut out = Vec::new();
    for s in &statements {
        match &s["Action"] {
            Yaml::String(a) => out.push(a.clone()),
            list => out.extend(
                list.as_sequence()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string()),
            ),
        }
    }
    out.sort();
    (out, statements)
}

#[test]
fn the_audit_may_make_exactly_its_read_calls_and_keep_its_snapshot() {
    let stack = central(&[
        ("EnrichRoleName", "eks-access-watch-reader"),
        ("TuningParameterName", "/eks-access-watch/tuning"),
    ]);
    let role = stack.resource("AuditRole").unwrap();
    assert_eq!(
        role["Properties"]["RoleName"],
        "eks-access-watch-audit-eu-west-1"
    );
    let (actions, statements) = role_actions(&role);
    assert_eq!(
        actions,
        [
            "eks:DescribeAccessEntry",
            "eks:DescribeCluster",
            "eks:ListAccessEntries",
            "eks:ListAssociatedAccessPolicies",
            "eks:ListClusters",
            "events:ListRules",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "logs:CreateLogStream",
            "logs:DescribeSubscriptionFilters",
            "logs:PutLogEvents",
            "s3:GetObject",
            "s3:ListBucket",
            "s3:ListBucketVersions",
            "s3:PutObject",
            "sns:Publish",
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
            "sqs:SendMessage",
            "ssm:GetParameter",
            "sts:AssumeRole",
        ]
    );
    let failed_runs = statements
        .iter()
        .find(|s| s["Action"] == "sqs:SendMessage")
        .unwrap();
    assert_eq!(
        failed_runs["Resource"], "<FailureQueue.Arn>",
        "only its on-failure destination"
    );
    let snapshot = statements
        .iter()
        .find(|s| s["Sid"] == "ReadAndKeepSnapshot")
        .unwrap();
    assert_eq!(
        snapshot["Resource"].as_str().unwrap(),
        format!(
            "<SnapshotBucket.Arn>/{}",
            eks_access_watch::lambda::daily_audit::SNAPSHOT_KEY
        )
    );
    let logs = statements
        .iter()
        .find(|s| s["Sid"] == "OwnLogGroup")
        .unwrap();
    assert_eq!(logs["Resource"], "<AuditLogGroup.Arn>");
    // The reader role in member accounts can list clusters, and trusts the audit's role too.
    let m = member(&[]);
    let reader = m.resource("ReaderRole").unwrap();
    let (allowed, _) = role_actions(&reader);
    assert!(
        allowed.contains(&"eks:ListClusters".to_string()),
        "{allowed:?}"
    );
    let trusted =
        &reader["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"];
    assert!(
        trusted
            .as_sequence()
            .unwrap()
            .iter()
            .any(|p| p == "arn:aws:iam::111122223333:role/eks-access-watch-audit-eu-west-1"),
        "{trusted:?}"
    );
}

// ---- correlation state (issue 16) ----

#[test]
fn the_state_table_is_keyed_expiring_on_demand_encrypted_recoverable_and_kept() {
    use eks_access_watch::aws::dynamodb::{EXPIRES_AT, KEY};
    let stack = central(&[]);
    let raw = &stack.raw()["Resources"]["StateTable"];
    assert_eq!(raw["DeletionPolicy"], "Retain");
    assert_eq!(raw["UpdateReplacePolicy"], "Retain");
    let table = stack.resource("StateTable").unwrap();
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    let p = &table["Properties"];
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    assert!(
        p["TableName"].is_null(),
        "named by CloudFormation: a kept table never blocks a redeploy"
    );
    assert_eq!(
        to_json(&p["KeySchema"]),
        json!([{"AttributeName": KEY, "KeyType": "HASH"}]),
        "the key the code writes (src/aws/dynamodb.rs) and tests/dynamodb.rs creates on moto"
    );
    assert_eq!(
        to_json(&p["AttributeDefinitions"]),
        json!([{"AttributeName": KEY, "AttributeType": "S"}])
    );
    assert_eq!(
        to_json(&p["TimeToLiveSpecification"]),
        json!({"AttributeName": EXPIRES_AT, "Enabled": true})
    );
    assert_eq!(p["SSESpecification"]["SSEEnabled"], true);
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    let function = stack.resource("WatcherFunction").unwrap();
    assert_eq!(
        function["Properties"]["Environment"]["Variables"]["STATE_TABLE_NAME"],
        "<StateTable>"
    );
    // The audit function keeps no correlation state.
    let audit = stack.resource("AuditFunction").unwrap();
    assert!(!variables(&audit).contains(&"STATE_TABLE_NAME"));
}

#[test]
fn the_function_may_make_exactly_its_dynamodb_calls_on_exactly_the_state_table() {
    let stack = central(&[]);
    let role = stack.resource("WatcherRole").unwrap();
    let (actions, statements) = role_actions(&role);
    let dynamodb: Vec<&str> = actions
        .iter()
        .map(String::as_str)
        .filter(|a| a.starts_with("dynamodb:"))
        .collect();
    // BatchGetItem, and the actions TransactWriteItems performs: Put (claims, delivered
    // marks), Update (records), Delete (released claims). IAM has no TransactWriteItems action.
    assert_eq!(
        dynamodb,
        [
            "dynamodb:BatchGetItem",
            "dynamodb:DeleteItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem"
        ]
    );
    let state: Vec<&Yaml> = statements
        .iter()
        .filter(|s| format!("{:?}", s["Action"]).contains("dynamodb:"))
        .collect();
    assert_eq!(state.len(), 1);
    assert_eq!(state[0]["Sid"], "CorrelationState");
    assert_eq!(state[0]["Resource"], "<StateTable.Arn>");
    assert!(state[0]["Condition"].is_null());
    let audit = stack.resource("AuditRole").unwrap();
    let (audit_actions, _) = role_actions(&audit);
    assert!(audit_actions.iter().all(|a| !a.starts_with("dynamodb:")));
}

#[test]
fn correlation_unavailable_is_alarmed_on_the_metric_the_function_prints() {
    let line = eks_access_watch::lambda::correlation_unavailable_metric(3, 1_700_000_000_000);
    let emf: Json = serde_json::from_str(&line).unwrap();
    let metrics = &emf["_aws"]["CloudWatchMetrics"][0];
    let stack = central(&[]);
    let alarm = stack.resource("CorrelationUnavailableAlarm").unwrap();
    let p = &alarm["Properties"];
    assert_eq!(to_json(&p["Namespace"]), metrics["Namespace"]);
    assert_eq!(to_json(&p["MetricName"]), metrics["Metrics"][0]["Name"]);
    assert_eq!(emf["CorrelationUnavailable"], 3);
    // The line has one empty dimension set: the metric has no dimensions, nor may the alarm.
    assert_eq!(metrics["Dimensions"], json!([[]]));
    assert!(p["Dimensions"].is_null());
    assert_eq!(p["Statistic"], "Sum");
    assert_eq!(p["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(p["Threshold"], 0);
    assert_eq!(p["TreatMissingData"], "notBreaching");
    assert_eq!(p["AlarmActions"][0], "<AlarmTopic>");
}

/// The dead man's switch: each scheduled task's `TaskSucceeded` line (as the function prints
/// it) is what an alarm watches, and its absence alarms: missing data is breaching, for 26
/// hours for the daily tasks and 2 for the hourly heartbeat, every period of it.
#[test]
fn the_dead_mans_switch_alarms_when_a_task_stops_printing_its_metric() {
    // With the trail's bucket, so that the trail verification's alarm is there too.
    let stack = central(&[("OrgTrailBucketName", "org-trail-logs")]);
    let function = stack.resource("WatcherFunction").unwrap();
    let heartbeat = &function["Properties"]["Events"]["Heartbeat"]["Properties"];
    assert_eq!(heartbeat["Schedule"], "rate(1 hour)");
    let input: Json = serde_json::from_str(heartbeat["Input"].as_str().unwrap()).unwrap();
    let task: Task = input["task"].as_str().unwrap().parse().unwrap();
    assert_eq!(task, Task::Heartbeat);
    for (alarm, task, hours) in [
        ("HeartbeatMissingAlarm", Task::Heartbeat, 2),
        ("TrailSelfCheckMissingAlarm", Task::TrailSelfCheck, 26),
        ("AuditMissingAlarm", Task::Audit, 26),
        ("VerifyTrailMissingAlarm", Task::VerifyTrail, 26),
    ] {
        let line = eks_access_watch::lambda::task_metric(task, 1_700_000_000_000);
        let emf: Json = serde_json::from_str(&line).unwrap();
        let metrics = &emf["_aws"]["CloudWatchMetrics"][0];
        let p = &stack.resource(alarm).unwrap()["Properties"];
        assert_eq!(to_json(&p["Namespace"]), metrics["Namespace"], "{alarm}");
        assert_eq!(
            to_json(&p["MetricName"]),
            metrics["Metrics"][0]["Name"],
            "{alarm}"
        );
        assert_eq!(metrics["Dimensions"], json!([["Task"]]));
        assert_eq!(p["Dimensions"][0]["Name"], "Task", "{alarm}");
        assert_eq!(
            to_json(&p["Dimensions"][0]["Value"]),
            emf["Task"],
            "{alarm}"
        );
        assert_eq!(emf["TaskSucceeded"], 1);
        assert_eq!(p["TreatMissingData"], "breaching", "{alarm}");
        assert_eq!(p["Statistic"], "Sum", "{alarm}");
        assert_eq!(p["ComparisonOperator"], "LessThanThreshold", "{alarm}");
        assert_eq!(p["Threshold"], 1, "{alarm}");
        let period = p["Period"].as_u64().unwrap();
        let periods = p["EvaluationPeriods"].as_u64().unwrap();
        assert_eq!(
            p["DatapointsToAlarm"].as_u64(),
            Some(periods),
            "{alarm}: every period"
        );
        assert_eq!(period * periods, hours * 3600, "{alarm}");
        // CloudWatch: periods of an hour or more may span at most seven days.
        assert!(period >= 3600 && period * periods <= 7 * 86400, "{alarm}");
        assert_eq!(p["AlarmActions"][0], "<AlarmTopic>", "{alarm}");
    }
    let off = central(&[("TrailCheckSchedule", ""), ("AuditSchedule", "disabled")]);
    assert!(off.resource("TrailSelfCheckMissingAlarm").is_none());
    assert!(off.resource("AuditMissingAlarm").is_none());
    assert!(off.resource("HeartbeatMissingAlarm").is_some());
}

/// Every audit-log subscription the stack creates alarms on CloudWatch Logs' delivery errors
/// and throttling for exactly that subscription (its group, a Lambda destination, its filter).
#[test]
fn every_audit_log_subscription_alarms_on_delivery_errors_and_throttling() {
    for n in [0, 1, 4, 10] {
        let params = [("ClusterAuditLogGroups", groups(n))];
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let stack = central(&params);
        let subscriptions = audit_subscriptions(&stack);
        assert_eq!(subscriptions.len(), n);
        let alarms: Vec<Yaml> = stack.raw()["Resources"]
            .as_mapping()
            .unwrap()
            .iter()
            .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
            .filter_map(|(name, _)| stack.resource(name.as_str().unwrap()))
            .filter(|a| a["Properties"]["Namespace"] == "AWS/Logs")
            .collect();
        assert_eq!(alarms.len(), 2 * n, "two alarms per subscription");
        for (group, _) in &subscriptions {
            for metric in ["DeliveryErrors", "DeliveryThrottling"] {
                let found: Vec<&Yaml> = alarms
                    .iter()
                    .filter(|a| a["Properties"]["MetricName"] == metric)
                    .filter(|a| {
                        let d = &a["Properties"]["Dimensions"];
                        d[0]["Name"] == "LogGroupName"
                            && d[0]["Value"].as_str() == Some(group.as_str())
                            && d[1]["Name"] == "DestinationType"
                            && d[1]["Value"] == "Lambda"
                            && d[2]["Name"] == "FilterName"
                            && d[2]["Value"] == "eks-access-watch-aws-auth-rbac"
                    })
                    .collect();
                assert_eq!(found.len(), 1, "{metric} for {group}");
                let p = &found[0]["Properties"];
                assert_eq!(p["Statistic"], "Sum");
                assert_eq!(p["Threshold"], 0);
                assert_eq!(p["ComparisonOperator"], "GreaterThanThreshold");
                assert_eq!(p["AlarmActions"][0], "<AlarmTopic>");
            }
        }
    }
}

/// The alarm topic has somewhere to go: without an e-mail address or an existing topic the
/// stack is refused; an existing topic receives every alarm of this stack through an
/// EventBridge rule; the outputs say who receives them.
#[test]
fn alarms_reach_someone_or_the_stack_refuses_to_deploy() {
    let refused = central(&[("AlertEmail", ""), ("ExistingAlarmTopicArn", "")]).refusals();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].contains("reach no one"), "{refused:?}");
    assert!(
        central(&[("AlertEmail", "sec@example.com")])
            .refusals()
            .is_empty()
    );
    let topic = "arn:aws:sns:eu-west-1:111122223333:security-oncall";
    let stack = central(&[("ExistingAlarmTopicArn", topic)]);
    assert!(stack.refusals().is_empty());
    let rule = stack.resource("AlarmToExistingTopicRule").unwrap();
    let p = &rule["Properties"];
    assert_eq!(p["State"], "ENABLED");
    assert_eq!(p["Targets"][0]["Arn"], topic);
    let pattern = to_json(&p["EventPattern"]);
    let prefix = pattern["resources"][0]["prefix"].as_str().unwrap();
    assert_eq!(
        prefix,
        "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:eks-access-watch-"
    );
    // Every alarm of the stack is named with that prefix, so the rule forwards them all.
    let all = central(&[
        ("ExistingAlarmTopicArn", topic),
        ("ClusterAuditLogGroups", &groups(10)),
        ("OrganizationId", "o-a1b2c3d4e5"),
    ]);
    for (name, r) in all.raw()["Resources"].as_mapping().unwrap() {
        if r["Type"] != "AWS::CloudWatch::Alarm" {
            continue;
        }
        let Some(alarm) = all.resource(name.as_str().unwrap()) else {
            continue;
        };
        let alarm_name = alarm["Properties"]["AlarmName"].as_str().unwrap();
        assert!(
            format!("arn:aws:cloudwatch:eu-west-1:111122223333:alarm:{alarm_name}")
                .starts_with(prefix),
            "{alarm_name}"
        );
    }
    assert!(
        central(&[("AlertEmail", "sec@example.com")])
            .resource("AlarmToExistingTopicRule")
            .is_none()
    );
    let outputs = &stack.raw()["Outputs"]["AlarmsReach"];
    let said = stack.resolve(&outputs["Value"]);
    assert_eq!(said.as_str(), Some(format!("topic {topic}").as_str()));
}

/// The member stack's forwarding is what the central audit checks (forwarding-broken): its
/// rules carry exactly the names the code expects, its dead-letter queue the name the code
/// reads, the reader role may read them and the audit-log subscriptions, and its alarm has an
/// action in the member account itself.
#[test]
fn the_member_forwarding_the_audit_checks_is_named_readable_and_alarms_at_home() {
    use eks_access_watch::model::snapshot::{FORWARD_DEAD_LETTER_QUEUE, FORWARD_RULES};
    let m = member(&[("ReaderRoleRegion", "us-east-1")]);
    let mut names: Vec<String> = m.raw()["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Events::Rule")
        .filter_map(|(name, _)| m.resource(name.as_str().unwrap()))
        .map(|r| r["Properties"]["Name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    let mut expected: Vec<String> = FORWARD_RULES.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(names, expected);
    assert!(
        names
            .iter()
            .all(|n| n.starts_with(eks_access_watch::aws::coverage::FORWARD_RULE_PREFIX))
    );
    let queue = m.resource("ForwardDeadLetterQueue").unwrap();
    assert_eq!(queue["Properties"]["QueueName"], FORWARD_DEAD_LETTER_QUEUE);
    let alarm = m.resource("ForwardDeadLetterAlarm").unwrap();
    assert_eq!(alarm["Properties"]["AlarmActions"][0], "<MemberAlarmTopic>");
    let policy = m.resource("MemberAlarmTopicPolicy").unwrap();
    let statement = &policy["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(
        statement["Principal"]["Service"],
        "cloudwatch.amazonaws.com"
    );
    assert_eq!(
        statement["Condition"]["StringEquals"]["aws:SourceAccount"],
        ACCOUNT
    );
    assert!(m.resource("MemberAlarmEmailSubscription").is_none());
    let mailed = member(&[("AlarmEmail", "ops@example.com")]);
    let sub = mailed.resource("MemberAlarmEmailSubscription").unwrap();
    assert_eq!(sub["Properties"]["Endpoint"], "ops@example.com");
    assert_eq!(sub["Properties"]["TopicArn"], "<MemberAlarmTopic>");

    let reader = m.resource("ReaderRole").unwrap();
    let (allowed, statements) = role_actions(&reader);
    for action in [
        "events:ListRules",
        "sqs:GetQueueUrl",
        "sqs:GetQueueAttributes",
        "logs:DescribeSubscriptionFilters",
    ] {
        assert!(
            allowed.contains(&action.to_string()),
            "{action}: {allowed:?}"
        );
    }
    let queue_read = statements
        .iter()
        .find(|s| s["Sid"] == "ForwardingDeadLettersRead")
        .unwrap();
    assert_eq!(
        queue_read["Resource"].as_str().unwrap(),
        format!("arn:aws:sqs:*:{ACCOUNT}:{FORWARD_DEAD_LETTER_QUEUE}")
    );
    let logs_read = statements
        .iter()
        .find(|s| s["Sid"] == "AuditLogSubscriptionsRead")
        .unwrap();
    assert_eq!(
        logs_read["Resource"].as_str().unwrap(),
        format!("arn:aws:logs:*:{ACCOUNT}:log-group:/aws/eks/*")
    );
}

/// The tampering calls (`watcher-tampered`) reach the alarm topic twice: through the
/// function's rules and straight from EventBridge rules with the same patterns, whose target is
/// the alarm topic with one readable line; the topic lets exactly those rules (and the member
/// alarms) publish, and what EventBridge cannot deliver waits in the dead-letter queue.
#[test]
fn tampering_calls_reach_the_alarm_topic_directly_with_the_function_s_patterns() {
    for params in [
        vec![],
        vec![("ExistingTopicArn", "arn:aws:sns:eu-west-1:111122223333:sec")],
    ] {
        let stack = central(&params);
        let function: std::collections::HashMap<String, Json> =
            central_patterns(&stack).into_iter().collect();
        for (event, rule) in [
            ("WatcherTampered", "TamperedAlarmRule"),
            ("WatcherTamperedDelivery", "TamperedDeliveryAlarmRule"),
        ] {
            let r = stack.resource(rule).unwrap();
            assert_eq!(
                to_json(&r["Properties"]["EventPattern"]),
                function[event],
                "{rule}"
            );
            assert_eq!(r["Properties"]["State"], "ENABLED");
            let targets = r["Properties"]["Targets"].as_sequence().unwrap();
            assert_eq!(targets.len(), 1, "{rule}");
            let t = &targets[0];
            assert_eq!(t["Arn"], "<AlarmTopic>");
            assert_eq!(t["DeadLetterConfig"]["Arn"], "<EventDeadLetterQueue.Arn>");
            let line = t["InputTransformer"]["InputTemplate"].as_str().unwrap();
            assert!(line.starts_with('"') && line.ends_with('"') && !line.contains('\n'));
            assert!(line.contains("WATCHER TAMPERED"), "{line}");
            let paths = t["InputTransformer"]["InputPathsMap"].as_mapping().unwrap();
            for placeholder in line
                .split('<')
                .skip(1)
                .map(|p| p.split('>').next().unwrap())
            {
                assert!(
                    paths.contains_key(placeholder),
                    "{rule}: <{placeholder}> has no input path"
                );
            }
            let arn = format!("<{rule}.Arn>");
            let topic_policy = stack.resource("AlarmTopicPolicy").unwrap();
            assert_decisions(
                &topic_policy["Properties"]["PolicyDocument"],
                &[
                    (
                        "the tampering rule publishes to the alarm topic",
                        Request::by_service("events.amazonaws.com", "sns:Publish", "<AlarmTopic>")
                            .with("aws:SourceArn", &arn),
                        Decision::Allow,
                    ),
                    (
                        "another rule does not",
                        Request::by_service("events.amazonaws.com", "sns:Publish", "<AlarmTopic>")
                            .with(
                                "aws:SourceArn",
                                "arn:aws:events:eu-west-1:111122223333:rule/other",
                            ),
                        Decision::NotAllowed,
                    ),
                ],
            );
            let dlq = stack.resource("EventDeadLetterQueuePolicy").unwrap();
            let sources = &dlq["Properties"]["PolicyDocument"]["Statement"][0]["Condition"]["ArnEquals"]
                ["aws:SourceArn"];
            for source in [arn.clone(), format!("<WatcherFunction{event}.Arn>")] {
                assert!(
                    sources
                        .as_sequence()
                        .unwrap()
                        .iter()
                        .any(|s| s == source.as_str()),
                    "{source} may not dead-letter"
                );
            }
        }
    }
}

/// The function learns the parts CloudFormation does not name after the stack (the alarm
/// topic, the keys, the watched log groups) from the variables the template sets, and a
/// tampering call on one of them is both delivered by the patterns and watched by the code.
#[test]
fn the_function_knows_the_parts_the_template_does_not_name_after_the_stack() {
    use eks_access_watch::config::WatcherResources;
    let stack = central(&[("ClusterAuditLogGroups", "/aws/eks/prod/cluster")]);
    let function = stack.resource("WatcherFunction").unwrap();
    let vars = &function["Properties"]["Environment"]["Variables"];
    assert_eq!(vars["WATCHER_STACK_NAME"], "eks-access-watch");
    let get = |k: &str| vars[k].as_str().map(str::to_string);
    let resources = get("WATCHER_RESOURCES").unwrap();
    for part in [
        "<AlarmTopic>",
        "<AlarmTopicKey.Arn>",
        "<TopicKey.Arn>",
        "/aws/eks/prod/cluster",
    ] {
        assert!(
            resources.split(',').any(|r| r == part),
            "{part} in {resources}"
        );
    }
    let config = RuleConfig::default().with_watcher(WatcherResources::from_env(None, &get));
    let patterns = central_patterns(&stack);
    let record = |source: &str, name: &str, request: Json| {
        json!({"eventSource": source, "eventName": name, "eventID": "e", "eventTime": "2026-11-30T00:00:00Z",
            "awsRegion": "eu-west-1", "recipientAccountId": ACCOUNT, "requestParameters": request})
    };
    for (what, record, expected) in [
        (
            "the alarm key disabled",
            record(
                "kms.amazonaws.com",
                "DisableKey",
                json!({"keyId": "<AlarmTopicKey.Arn>"}),
            ),
            true,
        ),
        (
            "another key disabled",
            record(
                "kms.amazonaws.com",
                "DisableKey",
                json!({"keyId": "arn:aws:kms:eu-west-1:111122223333:key/other"}),
            ),
            false,
        ),
        (
            "the watched log group's filter deleted",
            record(
                "logs.amazonaws.com",
                "DeleteSubscriptionFilter",
                json!({"logGroupName": "/aws/eks/prod/cluster", "filterName": "x"}),
            ),
            true,
        ),
        (
            "another group's filter deleted",
            record(
                "logs.amazonaws.com",
                "DeleteSubscriptionFilter",
                json!({"logGroupName": "/aws/eks/dev/cluster", "filterName": "x"}),
            ),
            false,
        ),
        (
            "the alarm topic deleted",
            record(
                "sns.amazonaws.com",
                "DeleteTopic",
                json!({"topicArn": "arn:aws:sns:eu-west-1:111122223333:eks-access-watch-AlarmTopic-1QX7"}),
            ),
            true,
        ),
        (
            "the function deleted under its versioned name",
            record(
                "lambda.amazonaws.com",
                "DeleteFunction20150331",
                json!({"functionName": "arn:aws:lambda:eu-west-1:111122223333:function:eks-access-watch-watcher"}),
            ),
            true,
        ),
        (
            "another function's concurrency removed",
            record(
                "lambda.amazonaws.com",
                "DeleteFunctionConcurrency20171031",
                json!({"functionName": "payments"}),
            ),
            false,
        ),
    ] {
        let event = envelope(&record, ACCOUNT);
        let delivered = patterns
            .iter()
            .any(|(_, p)| crate::eventbridge::matches(p, &event));
        assert_eq!(delivered, expected, "{what}: delivered");
        assert_eq!(watched(&record, &config), expected, "{what}: watched");
    }
}

// ---- Security Hub and PagerDuty (issue 19) ----

/// The watcher's statements whose actions start with one of `prefixes`.
fn statements_for(stack: &Stack, prefixes: &[&str]) -> Vec<Yaml> {
    let role = stack.resource("WatcherRole").unwrap();
    let (_, statements) = role_actions(&role);
    statements
        .into_iter()
        .filter(|s| {
            let actions = format!("{:?}", s["Action"]);
            prefixes.iter().any(|p| actions.contains(p))
        })
        .collect()
}

#[test]
fn security_hub_is_off_by_default_and_then_grants_nothing() {
    let stack = central(&[]);
    assert!(statements_for(&stack, &["securityhub:"]).is_empty());
    let env = &stack.resource("WatcherFunction").unwrap()["Properties"]["Environment"]["Variables"];
    assert_eq!(env["SECURITY_HUB"], "false");
    assert_eq!(env["SECURITY_HUB_MIN_SEVERITY"], "medium");
    let defaults = eks_access_watch::config::SinkSettings::default();
    assert_eq!(defaults.security_hub_min_severity.as_str(), "medium");
    assert!(!defaults.security_hub);
}

#[test]
fn security_hub_imports_on_exactly_the_default_product_and_resolves_only() {
    let stack = central(&[("SecurityHub", "true"), ("SecurityHubMinSeverity", "high")]);
    let env = &stack.resource("WatcherFunction").unwrap()["Properties"]["Environment"]["Variables"];
    assert_eq!(env["SECURITY_HUB"], "true");
    assert_eq!(env["SECURITY_HUB_MIN_SEVERITY"], "high");
    // The account the findings are imported under (the default product's rule).
    assert_eq!(env["HOME_ACCOUNT_ID"], ACCOUNT);
    let statements = statements_for(&stack, &["securityhub:"]);
    assert_eq!(statements.len(), 2, "{statements:?}");
    let import = &statements[0];
    assert_eq!(import["Sid"], "SecurityHubImportFindings");
    assert_eq!(import["Action"], "securityhub:BatchImportFindings");
    assert_eq!(
        import["Resource"],
        "arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default"
    );
    assert_eq!(
        import["Resource"].as_str().unwrap(),
        eks_access_watch::aws::securityhub::default_product_arn("aws", "eu-west-1", ACCOUNT)
    );
    assert!(import["Condition"].is_null());
    let update = &statements[1];
    assert_eq!(update["Sid"], "SecurityHubResolveFindings");
    assert_eq!(update["Action"], "securityhub:BatchUpdateFindings");
    assert_eq!(
        update["Resource"],
        "arn:aws:securityhub:eu-west-1:111122223333:hub/default"
    );
    assert_eq!(
        update["Condition"]["StringEquals"]["securityhub:ASFFSyntaxPath/Workflow.Status"],
        "RESOLVED"
    );
    // Nothing else of Security Hub, and no wildcard action.
    let role = stack.resource("WatcherRole").unwrap();
    let (actions, _) = role_actions(&role);
    let hub: Vec<&String> = actions
        .iter()
        .filter(|a| a.starts_with("securityhub:"))
        .collect();
    assert_eq!(
        hub,
        [
            "securityhub:BatchImportFindings",
            "securityhub:BatchUpdateFindings"
        ]
    );
}

#[test]
fn pagerduty_reads_exactly_its_secure_string_and_decrypts_only_it_through_ssm() {
    let off = central(&[]);
    let env = &off.resource("WatcherFunction").unwrap()["Properties"]["Environment"]["Variables"];
    assert_eq!(env["PAGERDUTY_ROUTING_KEY_PARAMETER"], "");
    assert_eq!(env["PAGERDUTY_MIN_SEVERITY"], "high");
    assert_eq!(
        env["PAGERDUTY_EVENTS_URL"].as_str().unwrap(),
        eks_access_watch::config::DEFAULT_PAGERDUTY_EVENTS_URL
    );
    assert!(
        statements_for(&off, &["kms:Decrypt\""])
            .iter()
            .all(|s| s["Sid"] == "EncryptAlerts")
    );
    assert!(statements_for(&off, &["ssm:"]).is_empty());

    let name = "/eks-access-watch/pagerduty";
    let on = central(&[
        ("PagerDutyRoutingKeyParameter", name),
        ("PagerDutyMinSeverity", "critical"),
    ]);
    let env = &on.resource("WatcherFunction").unwrap()["Properties"]["Environment"]["Variables"];
    assert_eq!(
        env["PAGERDUTY_ROUTING_KEY_PARAMETER"], name,
        "the parameter's name, never the key"
    );
    assert_eq!(env["PAGERDUTY_MIN_SEVERITY"], "critical");
    let param = format!("arn:aws:ssm:eu-west-1:111122223333:parameter{name}");
    let read = statements_for(&on, &["ssm:"]);
    assert_eq!(read.len(), 1);
    assert_eq!(read[0]["Sid"], "ReadPagerDutyRoutingKey");
    assert_eq!(read[0]["Action"], "ssm:GetParameter");
    assert_eq!(read[0]["Resource"].as_str(), Some(param.as_str()));
    let role = on.resource("WatcherRole").unwrap();
    let (_, statements) = role_actions(&role);
    let decrypt: Vec<&Yaml> = statements
        .iter()
        .filter(|s| s["Sid"] == "DecryptPagerDutyRoutingKey")
        .collect();
    assert_eq!(decrypt.len(), 1);
    let d = decrypt[0];
    assert_eq!(d["Action"], "kms:Decrypt");
    assert_eq!(
        d["Condition"]["StringEquals"]["kms:ViaService"],
        "ssm.eu-west-1.amazonaws.com"
    );
    assert_eq!(
        d["Condition"]["StringEquals"]["kms:EncryptionContext:PARAMETER_ARN"].as_str(),
        Some(param.as_str())
    );
    let spec = &load("template.yaml")["Parameters"]["PagerDutyRoutingKeyParameter"];
    let allowed = regex::Regex::new(spec["AllowedPattern"].as_str().unwrap()).unwrap();
    assert!(allowed.is_match(name) && allowed.is_match(""));
    assert!(
        !allowed.is_match("R0UTINGKEY"),
        "a key is not a parameter name"
    );
    let url = &load("template.yaml")["Parameters"]["PagerDutyEventsUrl"];
    let allowed = regex::Regex::new(url["AllowedPattern"].as_str().unwrap()).unwrap();
    assert!(allowed.is_match(eks_access_watch::config::DEFAULT_PAGERDUTY_EVENTS_URL));
    assert!(
        !allowed.is_match("http://events.pagerduty.com/v2/enqueue"),
        "https only"
    );
}

#[test]
fn the_sink_severity_parameters_allow_exactly_the_severities() {
    let template = load("template.yaml");
    let valid: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
    for p in ["SecurityHubMinSeverity", "PagerDutyMinSeverity"] {
        let allowed: Vec<&str> = template["Parameters"][p]["AllowedValues"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(allowed, valid, "{p}");
    }
    for v in eks_access_watch::config::SINK_ENV_VARS {
        assert!(
            eks_access_watch::config::LAMBDA_ENV_VARS.contains(v),
            "{v} is read by the Lambda"
        );
    }
}

// ---- the organisation trail's bucket ----

const TRAIL_BUCKET: &str = "org-trail-logs";
const TRAIL_KEY: &str =
    "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn org_trail_resources(stack: &Stack) -> Vec<String> {
    stack.raw()["Resources"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .filter(|k| k.starts_with("OrgTrail"))
        .filter(|k| stack.resource(k).is_some())
        .collect()
}

fn watcher_statements(stack: &Stack) -> Vec<Yaml> {
    stack.resource("WatcherRole").unwrap()["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"]
        .as_sequence()
        .unwrap()
        .clone()
}

fn statement<'a>(statements: &'a [Yaml], sid: &str) -> Option<&'a Yaml> {
    statements.iter().find(|s| s["Sid"] == sid)
}

/// Off by default: no queue, no mapping, no S3 or KMS permission, empty variables.
#[test]
fn the_trail_bucket_path_is_off_without_a_bucket_name() {
    let stack = central(&[]);
    assert!(org_trail_resources(&stack).is_empty());
    let statements = watcher_statements(&stack);
    let text = serde_yaml_ng::to_string(&statements).unwrap();
    assert!(!text.contains("s3:GetObject"), "{text}");
    assert!(statement(&statements, "DecryptTrailLogFiles").is_none());
    let env = &stack.resource("WatcherFunction").unwrap()["Properties"]["Environment"]["Variables"];
    assert_eq!(env["ORG_TRAIL_BUCKET"], "");
    assert_eq!(env["ORG_TRAIL_QUEUE_ARN"], "");
}

/// With a bucket: a queue with its own dead-letter queue and a visibility timeout of at least
/// six times the function's timeout, read by a mapping that reports partial failures, with a
/// batching window and a maximum concurrency; the function may read AWSLogs/* of that bucket
/// only, and decrypt with the trail's key only when one is given.
#[test]
fn the_trail_bucket_gets_a_queue_a_mapping_and_least_privilege() {
    let stack = central(&[("OrgTrailBucketName", TRAIL_BUCKET)]);
    let queue = stack.resource("OrgTrailQueue").unwrap();
    let q = &queue["Properties"];
    let function = stack.resource("WatcherFunction").unwrap();
    let timeout = function["Properties"]["Timeout"].as_u64().unwrap();
    let visibility = q["VisibilityTimeout"].as_u64().unwrap();
    assert!(
        visibility >= 6 * timeout,
        "{visibility} s < 6 x {timeout} s"
    );
    assert_eq!(
        q["RedrivePolicy"]["deadLetterTargetArn"],
        "<OrgTrailDeadLetterQueue.Arn>"
    );
    assert!(q["RedrivePolicy"]["maxReceiveCount"].as_u64().unwrap() >= 1);
    for name in ["OrgTrailQueue", "OrgTrailDeadLetterQueue"] {
        let r = &stack.raw()["Resources"][name];
        assert_eq!(r["DeletionPolicy"], "Retain", "{name}");
        assert_eq!(
            stack.resource(name).unwrap()["Properties"]["SqsManagedSseEnabled"],
            true
        );
    }
    let mapping = stack.resource("OrgTrailQueueMapping").unwrap();
    let m = &mapping["Properties"];
    assert_eq!(m["EventSourceArn"], "<OrgTrailQueue.Arn>");
    assert_eq!(m["FunctionName"], "<WatcherFunction>");
    assert_eq!(
        m["FunctionResponseTypes"],
        yaml_list(&["ReportBatchItemFailures"])
    );
    let window = m["MaximumBatchingWindowInSeconds"].as_u64().unwrap();
    assert!((1..=300).contains(&window), "{window}");
    let most: u64 = m["ScalingConfig"]["MaximumConcurrency"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((2..=1000).contains(&most), "{most}");

    let env = &function["Properties"]["Environment"]["Variables"];
    assert_eq!(env["ORG_TRAIL_BUCKET"], TRAIL_BUCKET);
    assert_eq!(env["ORG_TRAIL_QUEUE_ARN"], "<OrgTrailQueue.Arn>");

    let statements = watcher_statements(&stack);
    let get: Vec<&Yaml> = statements
        .iter()
        .filter(|s| {
            serde_yaml_ng::to_string(&s["Action"])
                .unwrap()
                .contains("s3:GetObject")
        })
        .collect();
    assert_eq!(get.len(), 1, "{get:?}");
    assert_eq!(get[0]["Action"], "s3:GetObject");
    assert_eq!(
        get[0]["Resource"],
        format!("arn:aws:s3:::{TRAIL_BUCKET}/AWSLogs/*")
    );
    let check = statement(&statements, "CheckTrailNotifications").unwrap();
    assert_eq!(check["Action"], "s3:GetBucketNotification");
    assert_eq!(check["Resource"], format!("arn:aws:s3:::{TRAIL_BUCKET}"));
    let reads = statement(&statements, "ReadTrailNotifications").unwrap();
    assert_eq!(reads["Resource"], "<OrgTrailQueue.Arn>");
    assert!(
        statement(&statements, "DecryptTrailLogFiles").is_none(),
        "no key, no kms:Decrypt"
    );

    let keyed = central(&[
        ("OrgTrailBucketName", TRAIL_BUCKET),
        ("OrgTrailKmsKeyArn", TRAIL_KEY),
    ]);
    let statements = watcher_statements(&keyed);
    let decrypt = statement(&statements, "DecryptTrailLogFiles").unwrap();
    assert_eq!(decrypt["Action"], "kms:Decrypt");
    assert_eq!(decrypt["Resource"], TRAIL_KEY);
    // A key without a bucket grants nothing.
    let key_only = central(&[("OrgTrailKmsKeyArn", TRAIL_KEY)]);
    assert!(statement(&watcher_statements(&key_only), "DecryptTrailLogFiles").is_none());

    // Its dead-letter queue's depth alarms.
    let depth = queue_alarms(&stack, "ApproximateNumberOfMessagesVisible");
    assert!(
        depth
            .iter()
            .any(|(q, _)| q == "<OrgTrailDeadLetterQueue.QueueName>"),
        "{depth:?}"
    );
}

/// Only S3, for that bucket of the bucket's account, and EventBridge, for the stack's rule,
/// may send to the queue; nothing over plain HTTP.
#[test]
fn only_the_trail_bucket_may_send_to_the_notification_queue() {
    for (params, owner) in [
        (vec![("OrgTrailBucketName", TRAIL_BUCKET)], ACCOUNT),
        (
            vec![
                ("OrgTrailBucketName", TRAIL_BUCKET),
                ("OrgTrailBucketAccountId", "777788889999"),
            ],
            "777788889999",
        ),
    ] {
        let stack = central(&params);
        let policy = stack.resource("OrgTrailQueuePolicy").unwrap();
        assert_eq!(
            policy["Properties"]["Queues"],
            yaml_list(&["<OrgTrailQueue>"])
        );
        let doc = &policy["Properties"]["PolicyDocument"];
        let queue = "<OrgTrailQueue.Arn>";
        let s3 = |bucket: &str, account: &str| {
            Request::by_service("s3.amazonaws.com", "sqs:SendMessage", queue)
                .with("aws:SourceArn", &format!("arn:aws:s3:::{bucket}"))
                .with("aws:SourceAccount", account)
        };
        assert_decisions(
            doc,
            &[
                (
                    "the bucket's notifications",
                    s3(TRAIL_BUCKET, owner),
                    Decision::Allow,
                ),
                (
                    "the same bucket name in another account",
                    s3(TRAIL_BUCKET, "999988887777"),
                    Decision::NotAllowed,
                ),
                (
                    "another bucket",
                    s3("someone-elses-bucket", owner),
                    Decision::NotAllowed,
                ),
                (
                    "over plain HTTP",
                    s3(TRAIL_BUCKET, owner).insecure(),
                    Decision::Deny,
                ),
                (
                    "the stack's EventBridge rule",
                    Request::by_service("events.amazonaws.com", "sqs:SendMessage", queue)
                        .with("aws:SourceArn", "<OrgTrailObjectCreatedRule.Arn>"),
                    Decision::Allow,
                ),
                (
                    "another rule",
                    Request::by_service("events.amazonaws.com", "sqs:SendMessage", queue).with(
                        "aws:SourceArn",
                        "arn:aws:events:eu-west-1:111122223333:rule/other",
                    ),
                    Decision::NotAllowed,
                ),
                (
                    "anyone else",
                    Request::by(OUTSIDER, "999988887777", "sqs:SendMessage", queue),
                    Decision::NotAllowed,
                ),
            ],
        );
    }
    let stack = central(&[("OrgTrailBucketName", TRAIL_BUCKET)]);
    let rule = stack.resource("OrgTrailObjectCreatedRule").unwrap();
    let pattern = to_json(&rule["Properties"]["EventPattern"]);
    assert_eq!(
        pattern,
        json!({"source": ["aws.s3"], "detail-type": ["Object Created"],
               "detail": {"bucket": {"name": [TRAIL_BUCKET]}}})
    );
}

#[test]
fn the_trail_bucket_parameters_refuse_what_would_deploy_wrong() {
    let params = &load("template.yaml")["Parameters"];
    let pattern =
        |name: &str| regex::Regex::new(params[name]["AllowedPattern"].as_str().unwrap()).unwrap();
    let bucket = pattern("OrgTrailBucketName");
    assert!(bucket.is_match("") && bucket.is_match("org-trail-logs.example"));
    assert!(!bucket.is_match("Org_Trail") && !bucket.is_match("s3://org-trail"));
    let key = pattern("OrgTrailKmsKeyArn");
    assert!(key.is_match("") && key.is_match(TRAIL_KEY));
    assert!(!key.is_match("alias/aws/s3"));
}

/// With a bucket, the daily trail verification: its own function (15 minutes) on the
/// schedule's `{"task": "verify-trail"}`, a role that lists and reads the trail's AWSLogs/*
/// only, reads CloudTrail's public keys and decrypts with the trail's key only when given, and
/// a missing-run alarm that treats no data as breaching; off with an empty schedule or without
/// a bucket.
#[test]
fn the_trail_verification_runs_daily_with_read_only_access_and_alarms_when_it_stops() {
    let stack = central(&[("OrgTrailBucketName", TRAIL_BUCKET)]);
    let function = stack.resource("TrailVerifyFunction").unwrap();
    let p = &function["Properties"];
    assert_eq!(p["Timeout"].as_u64(), Some(900));
    assert_eq!(
        p["Environment"]["Variables"]["ORG_TRAIL_BUCKET"],
        TRAIL_BUCKET
    );
    // The function starts on exactly what the template sets (the topic stands in for its Ref).
    let env: Vec<(String, String)> = p["Environment"]["Variables"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let v = v.as_str().unwrap_or_default();
            let v = if v == "<AlertTopic>" {
                "arn:aws:sns:eu-west-1:111122223333:alerts"
            } else {
                v
            };
            (k.as_str().unwrap().to_string(), v.to_string())
        })
        .collect();
    let settings = eks_access_watch::config::LambdaSettings::from_env(|k| {
        env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    })
    .unwrap_or_else(|e| panic!("{e}: {env:?}"));
    let trail = settings.org_trail.unwrap();
    assert_eq!(
        (trail.bucket.as_str(), trail.prefix.as_str()),
        (TRAIL_BUCKET, "AWSLogs/")
    );
    let schedule = &p["Events"]["Daily"];
    assert_eq!(schedule["Type"], "Schedule");
    let input: Json =
        serde_json::from_str(schedule["Properties"]["Input"].as_str().unwrap()).unwrap();
    assert_eq!(input, serde_json::json!({"task": "verify-trail"}));
    assert!(
        schedule["Properties"]["Schedule"]
            .as_str()
            .unwrap()
            .starts_with("cron(")
    );
    let (actions, statements) = role_actions(&stack.resource("TrailVerifyRole").unwrap());
    assert_eq!(
        actions,
        [
            "cloudtrail:ListPublicKeys",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "s3:GetObject",
            "s3:ListBucket",
            "sns:Publish",
            "sqs:SendMessage",
        ]
    );
    let list = statement(&statements, "ListTrailFiles").unwrap();
    assert_eq!(
        list["Resource"],
        format!("arn:aws:s3:::{TRAIL_BUCKET}").as_str()
    );
    assert_eq!(list["Condition"]["StringLike"]["s3:prefix"], "AWSLogs/*");
    assert_eq!(
        statement(&statements, "ReadTrailFiles").unwrap()["Resource"],
        format!("arn:aws:s3:::{TRAIL_BUCKET}/AWSLogs/*").as_str()
    );
    assert!(statement(&statements, "DecryptTrailFiles").is_none());
    let alarm = stack.resource("VerifyTrailMissingAlarm").unwrap();
    let a = &alarm["Properties"];
    assert_eq!(a["MetricName"], "TaskSucceeded");
    assert_eq!(a["Dimensions"][0]["Value"], "verify-trail");
    assert_eq!(a["TreatMissingData"], "breaching");
    assert_eq!(a["AlarmActions"], yaml_list(&["<AlarmTopic>"]));
    assert!(a["EvaluationPeriods"].as_u64().unwrap() * a["Period"].as_u64().unwrap() <= 26 * 3600);

    // The trail's key: kms:Decrypt on it, and only it.
    let key = "arn:aws:kms:eu-west-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let keyed = central(&[
        ("OrgTrailBucketName", TRAIL_BUCKET),
        ("OrgTrailKmsKeyArn", key),
    ]);
    let (_, statements) = role_actions(&keyed.resource("TrailVerifyRole").unwrap());
    let decrypt = statement(&statements, "DecryptTrailFiles").unwrap();
    assert_eq!(decrypt["Action"], "kms:Decrypt");
    assert_eq!(decrypt["Resource"], key);

    // Off: no schedule, or no bucket.
    for params in [
        &[
            ("OrgTrailBucketName", TRAIL_BUCKET),
            ("VerifyTrailSchedule", ""),
        ][..],
        &[][..],
    ] {
        let stack = central(params);
        for name in [
            "TrailVerifyFunction",
            "TrailVerifyRole",
            "VerifyTrailMissingAlarm",
        ] {
            assert!(stack.resource(name).is_none(), "{name} with {params:?}");
        }
    }
}
