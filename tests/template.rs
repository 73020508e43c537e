use std::path::Path;

use eks_access_watch::ingest::{self, ReadMode};
use eks_access_watch::operation::Source;
use eks_access_watch::{RuleConfig, Severity};
use serde_json::{Value as Json, json};
use serde_yaml_ng::Value as Yaml;

use crate::util::{BREAK_GLASS, events_dir};

fn load(name: &str) -> Yaml {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

fn at<'a>(v: &'a Yaml, path: &[&str]) -> &'a Yaml {
    path.iter().fold(v, |v, k| &v[*k])
}

fn strings(v: &Yaml) -> Vec<String> {
    v.as_sequence()
        .unwrap_or_else(|| panic!("not a list: {v:?}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Resolve `!If [HasBreakGlassRoles, !Split [",", !Ref BreakGlassRoleArns], fallback]` the way
/// CloudFormation would for the given parameter value.
fn resolve(v: &Yaml, break_glass: &str) -> Yaml {
    match v {
        Yaml::Tagged(t) if t.tag == "If" => {
            let args = t.value.as_sequence().unwrap();
            let branch = if break_glass.is_empty() {
                &args[2]
            } else {
                &args[1]
            };
            resolve(branch, break_glass)
        }
        Yaml::Tagged(t) if t.tag == "Split" => Yaml::Sequence(
            break_glass
                .split(',')
                .map(|s| Yaml::String(s.to_string()))
                .collect(),
        ),
        Yaml::Mapping(m) => Yaml::Mapping(
            m.iter()
                .map(|(k, v)| (k.clone(), resolve(v, break_glass)))
                .collect(),
        ),
        Yaml::Sequence(s) => Yaml::Sequence(s.iter().map(|v| resolve(v, break_glass)).collect()),
        other => other.clone(),
    }
}

/// The CloudTrail event names the library watches from one source, in catalogue order.
fn watched(source: Source) -> Vec<&'static str> {
    source.operations().map(|o| o.as_str()).collect()
}

/// Every CloudTrail record in a sample file (EventBridge `detail`, log-file `Records`,
/// lookup-events `Events`, bare records, NDJSON; gzip or not), as JSON text.
fn sample_records(path: &Path) -> Vec<String> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut ingest::open(path).unwrap(), &mut text).unwrap();
    let mut out = Vec::new();
    for value in serde_json::Deserializer::from_str(&text).into_iter::<Json>() {
        let value = value.unwrap();
        let values = match value {
            Json::Array(items) => items,
            other => vec![other],
        };
        for v in values {
            if let Some(records) = v["Records"].as_array() {
                out.extend(records.iter().map(Json::to_string));
            } else if let Some(events) = v["Events"].as_array() {
                out.extend(
                    events
                        .iter()
                        .map(|e| e["CloudTrailEvent"].as_str().unwrap().to_string()),
                );
            } else if v.get("detail").is_some() {
                out.push(v["detail"].to_string());
            } else {
                out.push(v.to_string());
            }
        }
    }
    out
}

fn glob(pattern: &str, text: &str) -> bool {
    eks_access_watch::event::wildcard_match(pattern, text)
}

/// EventBridge pattern matching for what our patterns use: value lists, nested fields,
/// `wildcard` and `prefix`.
fn matches(pattern: &Yaml, event: &Json) -> bool {
    let Some(fields) = pattern.as_mapping() else {
        return false;
    };
    fields.iter().all(|(key, want)| {
        let value = &event[key.as_str().unwrap()];
        match want {
            Yaml::Mapping(_) => matches(want, value),
            Yaml::Sequence(options) => options.iter().any(|o| match o {
                Yaml::String(s) => value.as_str() == Some(s.as_str()),
                Yaml::Mapping(m) => {
                    let (op, arg) = m.iter().next().unwrap();
                    let (Some(text), Some(arg)) = (value.as_str(), arg.as_str()) else {
                        return false;
                    };
                    match op.as_str().unwrap() {
                        "wildcard" => glob(arg, text),
                        "prefix" => text.starts_with(arg),
                        other => panic!("pattern operator {other} not understood by this test"),
                    }
                }
                other => panic!("unexpected pattern value {other:?}"),
            }),
            other => panic!("unexpected pattern {other:?}"),
        }
    })
}

fn patterns(break_glass: &str) -> Vec<Yaml> {
    let t = load("template.yaml");
    let events = at(
        &t,
        &["Resources", "WatcherFunction", "Properties", "Events"],
    );
    ["EksAccessChange", "BreakGlassAssumeRole"]
        .iter()
        .map(|name| resolve(at(events, &[name, "Properties", "Pattern"]), break_glass))
        .collect()
}

#[test]
fn the_template_watches_exactly_the_catalogue_event_names() {
    let p = patterns("");
    assert_eq!(
        strings(at(&p[0], &["detail", "eventName"])),
        watched(Source::Eks)
    );
    assert_eq!(
        strings(at(&p[0], &["detail", "eventSource"])),
        ["eks.amazonaws.com"]
    );
    assert_eq!(
        strings(at(&p[1], &["detail", "eventName"])),
        watched(Source::Sts)
    );
    for p in &p {
        assert_eq!(strings(&p["detail-type"]), [ingest::CLOUDTRAIL_DETAIL_TYPE]);
    }
}

#[test]
fn the_member_account_forwards_the_same_events() {
    let t = load("templates/member-account.yaml");
    let eks = resolve(
        at(
            &t,
            &[
                "Resources",
                "EksAccessForwardRule",
                "Properties",
                "EventPattern",
            ],
        ),
        "",
    );
    assert_eq!(
        strings(at(&eks, &["detail", "eventName"])),
        watched(Source::Eks)
    );
    let sts = resolve(
        at(
            &t,
            &[
                "Resources",
                "BreakGlassForwardRule",
                "Properties",
                "EventPattern",
            ],
        ),
        "",
    );
    assert_eq!(
        strings(at(&sts, &["detail", "eventName"])),
        watched(Source::Sts)
    );
}

#[test]
fn the_function_reads_the_variables_the_template_sets() {
    let t = load("template.yaml");
    let mut set = variables(at(&t, &["Resources", "WatcherFunction"]));
    set.sort();
    let mut read: Vec<&str> = eks_access_watch::config::LAMBDA_ENV_VARS.to_vec();
    read.sort();
    assert_eq!(set, read);
    let allowed = strings(at(&t, &["Parameters", "MinSeverity", "AllowedValues"]));
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

/// Every record in the samples reaches the function exactly when the library watches it: the
/// patterns neither drop a watched event nor invoke the function for nothing.
#[test]
fn every_sample_matches_the_pattern_it_should() {
    for (break_glass, config) in [
        ("", RuleConfig::default()),
        (
            BREAK_GLASS,
            RuleConfig::new(&[], "a", &[BREAK_GLASS.to_string()], "b").unwrap(),
        ),
    ] {
        let pats = patterns(break_glass);
        let mut watched_count = 0;
        for sample in ingest::expand_paths(&[events_dir()]).unwrap() {
            for (i, json) in sample_records(&sample).iter().enumerate() {
                let record: Json = serde_json::from_str(json).unwrap();
                let source = record["eventSource"].as_str().unwrap_or_default();
                let service = source.split('.').next().unwrap_or_default();
                let envelope = json!({"source": format!("aws.{service}"), "detail-type": "AWS API Call via CloudTrail", "detail": record});
                let delivered = pats.iter().any(|p| matches(p, &envelope));
                let watched =
                    matches!(ingest::evaluate(json, &config, ReadMode::Strict), Ok(Ok(_)));
                watched_count += watched as usize;
                assert_eq!(
                    delivered,
                    watched,
                    "{} record {i} (break-glass parameter `{break_glass}`)",
                    sample.display()
                );
            }
        }
        assert!(watched_count > 30, "{watched_count}");
    }
}

// ---- the scheduled standing-access audit ----

fn audit_function(t: &Yaml) -> &Yaml {
    at(t, &["Resources", "AuditFunction"])
}

#[test]
fn the_audit_function_reads_the_variables_the_template_sets() {
    let t = load("template.yaml");
    let set = variables(audit_function(&t));
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
    let t = load("template.yaml");
    let f = audit_function(&t);
    assert_eq!(f["Condition"].as_str(), Some("AuditEnabled"));
    assert_eq!(
        at(&t, &["Parameters", "AuditSchedule", "Default"]).as_str(),
        Some("rate(1 day)")
    );
    let schedule = at(f, &["Properties", "Events", "Daily", "Properties"]);
    let input: Json = serde_json::from_str(schedule["Input"].as_str().unwrap()).unwrap();
    assert_eq!(input, json!({"task": "audit"}));
    for resource in [
        "SnapshotBucket",
        "SnapshotBucketPolicy",
        "AuditLogGroup",
        "AuditErrorsAlarm",
    ] {
        assert_eq!(
            at(&t, &["Resources", resource, "Condition"]).as_str(),
            Some("AuditEnabled"),
            "{resource}"
        );
    }
}

#[test]
fn the_snapshot_bucket_is_versioned_encrypted_and_private() {
    let t = load("template.yaml");
    let p = at(&t, &["Resources", "SnapshotBucket", "Properties"]);
    assert_eq!(
        p["VersioningConfiguration"]["Status"].as_str(),
        Some("Enabled")
    );
    let sse = &p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0];
    assert_eq!(
        sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"].as_str(),
        Some("AES256")
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

/// Every action a function's inline policy allows.
fn actions(function: &Yaml) -> Vec<String> {
    let statements = &function["Properties"]["Policies"][0]["Statement"];
    let mut out = Vec::new();
    for s in statements.as_sequence().unwrap() {
        // `!If [HasEnrichRole, statement, NoValue]`: the statement when the role is set.
        let s = match s {
            Yaml::Tagged(t) if t.tag == "If" => &t.value.as_sequence().unwrap()[1],
            other => other,
        };
        match &s["Action"] {
            Yaml::String(a) => out.push(a.clone()),
            list => out.extend(strings(list)),
        }
    }
    out.sort();
    out
}

#[test]
fn the_audit_may_make_exactly_its_read_calls_and_keep_its_snapshot() {
    let t = load("template.yaml");
    let f = audit_function(&t);
    assert_eq!(
        actions(f),
        [
            "eks:DescribeAccessEntry",
            "eks:DescribeCluster",
            "eks:ListAccessEntries",
            "eks:ListAssociatedAccessPolicies",
            "eks:ListClusters",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "s3:GetObject",
            "s3:ListBucket",
            "s3:PutObject",
            "sns:Publish",
            "sts:AssumeRole",
        ]
    );
    let statements = f["Properties"]["Policies"][0]["Statement"]
        .as_sequence()
        .unwrap();
    let snapshot = statements
        .iter()
        .find(|s| s["Sid"].as_str() == Some("ReadAndKeepSnapshot"))
        .unwrap();
    let Yaml::Tagged(sub) = &snapshot["Resource"] else {
        panic!("expected !Sub");
    };
    assert_eq!(
        sub.value.as_str(),
        Some(&*format!(
            "${{SnapshotBucket.Arn}}/{}",
            eks_access_watch::audit::daily::SNAPSHOT_KEY
        ))
    );
    // The reader role in member accounts can list clusters too.
    let member = load("templates/member-account.yaml");
    let reader = at(
        &member,
        &["Resources", "ReaderRole", "Properties", "Policies"],
    );
    let allowed: Vec<&str> = reader[0]["PolicyDocument"]["Statement"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|s| match &s["Action"] {
            Yaml::String(a) => vec![a.as_str()],
            list => list
                .as_sequence()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect(),
        })
        .collect();
    assert!(allowed.contains(&"eks:ListClusters"), "{allowed:?}");
}
