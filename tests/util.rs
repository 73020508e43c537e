use std::path::{Path, PathBuf};

use eks_access_watch::RuleConfig;
use eks_access_watch::alert::Alert;
use eks_access_watch::context::state::MemoryStore;
use eks_access_watch::context::{Context, History, correlate};
use eks_access_watch::ingest::{self, Options, Outcome, ReadMode};
use eks_access_watch::model::AccessEvent;
use eks_access_watch::model::Enrichment;
use eks_access_watch::pipeline::{self, Judged};
use eks_access_watch::tuning::Tuning;
use serde_json::{Value, json};

pub const ACCOUNT: &str = "111122223333";
pub const TERRAFORM: &str = "arn:aws:iam::111122223333:role/terraform-deployer";
pub const BREAK_GLASS: &str = "arn:aws:iam::111122223333:role/eks-break-glass";
pub const HUMAN: &str = "arn:aws:iam::111122223333:role/platform-engineer";

/// The configuration the samples are graded with (also in the README's replay command).
pub fn sample_config() -> RuleConfig {
    RuleConfig::new(
        &[TERRAFORM.to_string()],
        "approved",
        &[BREAK_GLASS.to_string()],
        "break-glass",
    )
    .unwrap()
}

pub fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("events")
}

/// What the library makes of one input file: alerts, skip reasons and problems, in order.
pub struct FileResult {
    pub alerts: Vec<Alert>,
    pub skipped: Vec<String>,
    pub problems: Vec<String>,
}

pub fn run_file(path: &Path, config: &RuleConfig) -> FileResult {
    run_file_with(path, config, ReadMode::Fast)
}

/// The alert the pipeline makes of one event, with the given enrichment and no tuning file.
pub fn classify(
    event: &AccessEvent,
    config: &RuleConfig,
    enrichment: Option<&Enrichment>,
) -> Alert {
    judge(event, config, enrichment, None).expect("no tuning file, so an alert")
}

/// The pipeline's judgement with an optional tuning file (exceptions judged as of
/// 2026-11-20): `None` when the file disables every finding's rule.
pub fn judge(
    event: &AccessEvent,
    config: &RuleConfig,
    enrichment: Option<&Enrichment>,
    tuning: Option<(&Tuning, chrono::NaiveDate)>,
) -> Option<Alert> {
    let context = Context::with_enrichment(enrichment.cloned());
    let today = tuning.map_or(chrono::NaiveDate::MIN, |(_, d)| d);
    match pipeline::judge(event, &context, config, tuning.map(|(t, _)| t), today) {
        Judged::Alert(alert) => Some(*alert),
        Judged::Disabled { .. } => None,
    }
}

pub fn run_file_with(path: &Path, config: &RuleConfig, mode: ReadMode) -> FileResult {
    run_file_tuned(path, config, mode, None)
}

/// [`run_file_with`] with a tuning file: what the pipeline makes of each event (the context
/// stage's history applied in order, as replay and the Lambda do).
pub fn run_file_tuned(
    path: &Path,
    config: &RuleConfig,
    mode: ReadMode,
    tuning: Option<(&Tuning, chrono::NaiveDate)>,
) -> FileResult {
    let (events, mut result) = read_events(path, config, mode);
    result.alerts = correlated(&events, config, tuning);
    result
}

/// One input's watched events (completed by its own history), with its skips and problems.
pub fn read_events(
    path: &Path,
    config: &RuleConfig,
    mode: ReadMode,
) -> (Vec<AccessEvent>, FileResult) {
    let mut result = FileResult {
        alerts: vec![],
        skipped: vec![],
        problems: vec![],
    };
    let reader = ingest::open(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let options = Options::new(config).mode(mode);
    let mut history = History::default();
    let mut events = Vec::new();
    let outcome = ingest::scan(&name, reader, &options, &mut |o| match o {
        Outcome::Watched {
            location,
            mut event,
        } => match history.observe(&mut event) {
            Some(reason) => result.skipped.push(format!("{location}: {reason}")),
            None => events.push(*event),
        },
        Outcome::Skipped { location, reason } => {
            result.skipped.push(format!("{location}: {reason}"))
        }
        Outcome::Object { location, object } => result
            .skipped
            .push(format!("{location}: object {object} (read by the Lambda)")),
        Outcome::Invalid(e) => result.problems.push(e.to_string()),
    });
    if let Err(e) = outcome {
        result.problems.push(e.to_string());
    }
    (events, result)
}

/// The sequences of events/sequences/: each folder's inputs, in name order.
pub fn sequences() -> Vec<(PathBuf, Vec<PathBuf>)> {
    let dir = events_dir().join("sequences");
    let mut out: Vec<(PathBuf, Vec<PathBuf>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| {
            let files = ingest::expand_paths(std::slice::from_ref(&p)).unwrap();
            (p, files)
        })
        .collect();
    out.sort();
    out
}

/// A sequence as one replay: every input read with its own history, then every event
/// correlated in event-time order, judged in input order.
pub fn run_sequence(files: &[PathBuf], config: &RuleConfig) -> FileResult {
    let mut all = Vec::new();
    let mut result = FileResult {
        alerts: vec![],
        skipped: vec![],
        problems: vec![],
    };
    for f in files {
        let (events, r) = read_events(f, config, ReadMode::Fast);
        all.extend(events);
        result.skipped.extend(r.skipped);
        result.problems.extend(r.problems);
    }
    result.alerts = correlated(&all, config, None);
    result
}

/// The alerts of one input's events as replay makes them: correlated in event-time order
/// against a store of the input's own (the samples are judged each on its own), judged in
/// input order.
pub fn correlated(
    events: &[AccessEvent],
    config: &RuleConfig,
    tuning: Option<(&Tuning, chrono::NaiveDate)>,
) -> Vec<Alert> {
    let store = MemoryStore::new();
    let settings = tuning.and_then(|(t, _)| t.correlation).unwrap_or_default();
    let mut order: Vec<(i64, usize)> = events
        .iter()
        .enumerate()
        .map(|(i, e)| (correlate::epoch(e).unwrap_or(i64::MAX), i))
        .collect();
    order.sort_unstable();
    let mut contexts: Vec<Option<Context>> = vec![None; events.len()];
    for (_, i) in order {
        let correlation = correlate::observe_in(&store, &events[i], config, &settings);
        contexts[i] = Some(Context {
            enrichment: None,
            correlation: Some(correlation),
            ..Context::default()
        });
    }
    let today = tuning.map_or(chrono::NaiveDate::MIN, |(_, d)| d);
    events
        .iter()
        .zip(contexts)
        .filter_map(|(event, context)| {
            let context = context.unwrap_or_default();
            match pipeline::judge(event, &context, config, tuning.map(|(t, _)| t), today) {
                Judged::Alert(alert) => Some(*alert),
                Judged::Disabled { .. } => None,
            }
        })
        .collect()
}

/// An assumed-role caller identity.
pub fn assumed(role_arn: &str, session: &str) -> Value {
    let name = role_arn.rsplit('/').next().unwrap();
    json!({
        "type": "AssumedRole",
        "principalId": format!("AROAEXAMPLE:{session}"),
        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{session}"),
        "accountId": ACCOUNT,
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role_arn, "userName": name}}
    })
}

/// A CloudTrail EKS record with the given call, parameters and caller.
pub fn record(event_name: &str, params: Value, identity: Value) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": "2026-11-20T01:47:12Z",
        "eventSource": "eks.amazonaws.com",
        "eventName": event_name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-cli/2.22.10",
        "requestParameters": params,
        "responseElements": null,
        "eventID": "00000000-0000-0000-0000-000000000001",
        "readOnly": false,
        "recipientAccountId": ACCOUNT
    })
}

/// The watched event a record becomes under the sample configuration (panics when skipped).
pub fn normalise(record: &Value) -> AccessEvent {
    let json = record.to_string();
    match ingest::decide_record(&json, &sample_config(), ReadMode::Strict) {
        Ok(Ok(event)) => *event,
        other => panic!("not a watched record ({other:?}): {json}"),
    }
}

/// Classify a record with the sample configuration.
pub fn alert_for(record: &Value) -> Alert {
    classify(&normalise(record), &sample_config(), None)
}

/// The severity of one rule's finding, if it fired.
pub fn finding(alert: &Alert, rule: &str) -> Option<eks_access_watch::Severity> {
    alert
        .findings
        .iter()
        .find(|f| f.rule.id == rule)
        .map(|f| f.severity)
}

pub fn encode(arn: &str) -> String {
    arn.replace(':', "%3A").replace('/', "%2F")
}

pub fn policy(name: &str) -> String {
    format!("arn:aws:eks::aws:cluster-access-policy/{name}")
}

/// Compare `got` with the golden file, or rewrite it when `UPDATE_GOLDEN` is set. A mismatch is
/// printed as a readable diff and returned as the failure's description.
pub fn check_golden(sample: &Path, golden: &Path, got: &str) -> Result<(), String> {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(golden, got).unwrap();
        return Ok(());
    }
    match std::fs::read_to_string(golden) {
        Ok(expected) if expected == got => Ok(()),
        Ok(expected) => {
            eprintln!("{} differs from {}:", sample.display(), golden.display());
            eprintln!("{}", pretty_assertions::StrComparison::new(&expected, got));
            Err(sample.display().to_string())
        }
        Err(_) => Err(format!(
            "{} (no {}; run with UPDATE_GOLDEN=1)",
            sample.display(),
            golden.display()
        )),
    }
}
