use std::path::Path;

use std::io::Read;

use eks_access_watch::ingest::{self, ReadMode};
use eks_access_watch::kubernetes::Origin;
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

/// A record in a sample: a CloudTrail record or a Kubernetes audit event, as JSON text.
enum SampleRecord {
    CloudTrail(String),
    Audit(String),
}

fn is_audit(v: &Json) -> bool {
    v["kind"] == "Event"
        && v["apiVersion"]
            .as_str()
            .is_some_and(|a| a.starts_with("audit.k8s.io/"))
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
    let vars = at(
        &t,
        &[
            "Resources",
            "WatcherFunction",
            "Properties",
            "Environment",
            "Variables",
        ],
    );
    let set: Vec<&str> = vars
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    let mut set = set;
    set.sort();
    let mut read: Vec<&str> = eks_access_watch::config::LAMBDA_ENV_VARS.to_vec();
    read.sort();
    assert_eq!(set, read);
    let allowed = strings(at(&t, &["Parameters", "MinSeverity", "AllowedValues"]));
    let valid: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(allowed, valid);
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
            for (i, record) in sample_records(&sample).iter().enumerate() {
                let SampleRecord::CloudTrail(json) = record else {
                    continue;
                };
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

// ---- the Kubernetes audit log: subscription filters and their pattern ----

/// A CloudWatch Logs JSON filter pattern, for what ours uses: `$.a.b = "text"` comparisons
/// joined by `&&` or `||`, grouped with parentheses (mixing `&&` and `||` at one level without
/// parentheses is refused, so precedence never decides).
#[derive(Debug)]
enum Filter {
    All(Vec<Filter>),
    Any(Vec<Filter>),
    Equals(Vec<String>, String),
}

fn tokens(pattern: &str) -> Vec<String> {
    let inner = pattern
        .trim()
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .expect("a JSON filter pattern is { ... }");
    let mut out = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\n' => {}
            '(' | ')' | '=' => out.push(c.to_string()),
            '&' | '|' => {
                assert_eq!(chars.next(), Some(c), "{c}{c} expected");
                out.push(format!("{c}{c}"));
            }
            '"' => {
                let text: String = chars.by_ref().take_while(|c| *c != '"').collect();
                out.push(format!("\"{text}"));
            }
            '$' => {
                let mut sel = String::from("$");
                while let Some(c) = chars.next_if(|c| c.is_alphanumeric() || *c == '.') {
                    sel.push(c);
                }
                out.push(sel);
            }
            other => panic!("unexpected `{other}` in the filter pattern"),
        }
    }
    out
}

fn parse_filter(tokens: &[String], at: &mut usize) -> Filter {
    let mut terms = vec![parse_term(tokens, at)];
    let mut joiner: Option<String> = None;
    while let Some(op) = tokens.get(*at).filter(|t| *t == "&&" || *t == "||") {
        assert!(
            joiner.as_ref().is_none_or(|j| j == op),
            "`&&` and `||` mixed without parentheses"
        );
        joiner = Some(op.clone());
        *at += 1;
        terms.push(parse_term(tokens, at));
    }
    match joiner.as_deref() {
        Some("||") => Filter::Any(terms),
        _ => Filter::All(terms),
    }
}

fn parse_term(tokens: &[String], at: &mut usize) -> Filter {
    let t = &tokens[*at];
    *at += 1;
    if t == "(" {
        let f = parse_filter(tokens, at);
        assert_eq!(tokens[*at], ")");
        *at += 1;
        return f;
    }
    let path: Vec<String> = t
        .strip_prefix("$.")
        .expect("a selector")
        .split('.')
        .map(str::to_string)
        .collect();
    assert_eq!(
        tokens[*at], "=",
        "only = comparisons are understood by this test"
    );
    let value = tokens[*at + 1]
        .strip_prefix('"')
        .expect("a quoted value")
        .to_string();
    *at += 2;
    Filter::Equals(path, value)
}

fn passes(filter: &Filter, event: &Json) -> bool {
    match filter {
        Filter::All(f) => f.iter().all(|f| passes(f, event)),
        Filter::Any(f) => f.iter().any(|f| passes(f, event)),
        Filter::Equals(path, value) => path
            .iter()
            .fold(event, |v, k| &v[k.as_str()])
            .as_str()
            .is_some_and(|s| glob(value, s)),
    }
}

/// The resources the template makes for each audit log group (Fn::ForEach's template).
fn audit_subscription() -> (Yaml, Yaml, String) {
    let t = load("template.yaml");
    let each = at(&t, &["Resources", "Fn::ForEach::AuditLogSubscriptions"]);
    let each = each
        .as_sequence()
        .expect("Fn::ForEach: [identifier, list, resources]");
    assert_eq!(each[0].as_str(), Some("LogGroup"));
    assert_eq!(
        format!("{:?}", each[1]),
        r#"TaggedValue { tag: !Ref, value: String("ClusterAuditLogGroups") }"#,
        "one subscription per listed log group"
    );
    let permission = at(&t, &["Resources", "AuditLogInvokePermission"]).clone();
    let filter = each[2]["AuditLogSubscription&{LogGroup}"].clone();
    let pattern = at(&filter, &["Properties", "FilterPattern"])
        .as_str()
        .unwrap()
        .to_string();
    (permission, filter, pattern)
}

#[test]
fn each_audit_log_group_gets_a_scoped_permission_and_a_subscription_to_the_function() {
    let (permission, filter, pattern) = audit_subscription();
    assert_eq!(
        at(&permission, &["Properties", "Principal"]).as_str(),
        Some("logs.amazonaws.com")
    );
    // Scoped by source: the EKS control-plane log groups of this account and region.
    let source = format!("{:?}", at(&permission, &["Properties", "SourceArn"]));
    assert!(
        source.contains("${AWS::AccountId}:log-group:/aws/eks/*/cluster:*"),
        "{source}"
    );
    assert_eq!(
        at(&filter, &["DependsOn"]).as_str(),
        Some("AuditLogInvokePermission")
    );
    let group = format!("{:?}", at(&filter, &["Properties", "LogGroupName"]));
    assert!(group.contains("LogGroup"), "{group}");
    let destination = format!("{:?}", at(&filter, &["Properties", "DestinationArn"]));
    assert!(destination.contains("WatcherFunction.Arn"), "{destination}");
    // PutSubscriptionFilter takes at most 1024 characters.
    assert!(pattern.len() <= 1024, "{} characters", pattern.len());
}

/// The pattern passes every audit event the library watches (nothing graded is lost before
/// the function sees it) and no get, list or watch (the function is not invoked for them).
#[test]
fn the_audit_filter_pattern_passes_every_watched_sample_and_no_read() {
    let (_, _, pattern) = audit_subscription();
    let filter = parse_filter(&tokens(&pattern), &mut 0);
    let (mut watched, mut reads) = (0, 0);
    for sample in ingest::expand_paths(&[events_dir()]).unwrap() {
        for record in sample_records(&sample) {
            let SampleRecord::Audit(line) = record else {
                continue;
            };
            let event: Json = serde_json::from_str(&line).unwrap();
            let delivered = passes(&filter, &event);
            let graded = matches!(
                ingest::evaluate_audit(line.as_bytes(), &Origin::default(), ReadMode::Strict),
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
    assert!(!passes(&filter, &other), "other ConfigMaps are not sent");
}
