//! One test per row of the bad-input table in docs/replay.md: what the user sees for each.

use std::io::Write;
use std::process::{Command, Output};

fn replay_file(name: &str, bytes: &[u8], extra: &[&str]) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_eks-access-watch"))
        .args(["replay", "--format", "ndjson"])
        .args(extra)
        .arg(&path)
        .env_remove("APPROVED_CALLER_ARNS")
        .env_remove("BREAK_GLASS_ROLE_ARNS")
        .output()
        .unwrap();
    let shown = path.display().to_string();
    (o, shown)
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn out_lines(o: &Output) -> usize {
    String::from_utf8_lossy(&o.stdout).lines().count()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

const EKS_RECORD: &str = r#"{"eventVersion":"1.09","eventSource":"eks.amazonaws.com","eventName":"AssociateAccessPolicy","awsRegion":"eu-west-1","recipientAccountId":"111122223333","eventID":"e1","requestParameters":{"name":"prod","principalArn":"arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fci","policyArn":"arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy","accessScope":{"type":"cluster"}}}"#;

fn records_file(records: &[&str]) -> Vec<u8> {
    format!("{{\"Records\":[{}]}}", records.join(",")).into_bytes()
}

#[test]
fn truncated_gzip_is_an_error_naming_the_file_and_earlier_records_still_print() {
    let many = vec![EKS_RECORD; 2000];
    let gz = gzip(&records_file(&many));
    let (o, path) = replay_file("trail.json.gz", &gz[..gz.len() * 3 / 4], &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = err(&o);
    assert!(
        e.contains(&path) && (e.contains("corrupt or truncated") || e.contains("truncated")),
        "{e}"
    );
    assert!(
        out_lines(&o) > 0,
        "records before the cut are still reported"
    );
}

#[test]
fn an_empty_file_is_an_error_naming_the_file() {
    let (o, path) = replay_file("empty.json", b"", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains(&format!("{path}: the file is empty")),
        "{}",
        err(&o)
    );
}

#[test]
fn a_50_mb_single_record_is_processed() {
    let big = "x".repeat(50 * 1024 * 1024);
    let record = EKS_RECORD.replace(
        r#""eventID":"e1""#,
        &format!(r#""eventID":"e1","additionalEventData":{{"blob":"{big}"}}"#),
    );
    let (o, _) = replay_file("big.json", &records_file(&[&record]), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out_lines(&o), 1);
}

#[test]
fn non_utf8_bytes_in_a_watched_record_are_an_error_naming_file_and_record() {
    let mut bytes = records_file(&[EKS_RECORD, "__RAW__"]);
    let raw = {
        let mut r = EKS_RECORD.as_bytes().to_vec();
        let at = EKS_RECORD.find("prod").unwrap();
        r[at] = 0xff;
        r
    };
    let pos = bytes.windows(7).position(|w| w == b"__RAW__").unwrap();
    bytes.splice(pos..pos + 7, raw);
    let (o, path) = replay_file("trail.json", &bytes, &[]);
    assert_eq!(o.status.code(), Some(2));
    let e = err(&o);
    assert!(e.contains(&path) && e.contains("Records[1]"), "{e}");
    assert_eq!(out_lines(&o), 1, "the good record still prints");
}

#[test]
fn kubernetes_groups_as_a_string_is_read_as_one_group() {
    let rec = r#"{"eventSource":"eks.amazonaws.com","eventName":"CreateAccessEntry","requestParameters":{"name":"p","principalArn":"arn:aws:iam::111122223333:role/x","kubernetesGroups":"system:masters"}}"#;
    let (o, _) = replay_file("r.json", rec.as_bytes(), &[]);
    assert_eq!(o.status.code(), Some(0));
    let alert: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        alert["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "system-group-requested")
    );
}

#[test]
fn null_everywhere_still_alerts_with_unknowns() {
    let rec = r#"{"eventVersion":null,"userIdentity":null,"eventTime":null,"eventSource":"eks.amazonaws.com","eventName":"AssociateAccessPolicy","awsRegion":null,"sourceIPAddress":null,"userAgent":null,"requestParameters":null,"responseElements":null,"eventID":null,"recipientAccountId":null}"#;
    let (o, _) = replay_file("r.json", rec.as_bytes(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let alert: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        alert["findings"][0]["rule"], "unknown-access-policy",
        "no policy given: graded as unknown"
    );
    assert_eq!(alert["actor"], "unknown caller, user agent says unknown");
}

#[test]
fn deeply_nested_json_is_an_error_not_a_crash() {
    let nested = format!(
        r#"{{"eventSource":"eks.amazonaws.com","eventName":"CreateCluster","requestParameters":{}1{}}}"#,
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    let (o, path) = replay_file("deep.json", &records_file(&[&nested]), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains(&path) && err(&o).contains("recursion limit"),
        "{}",
        err(&o)
    );
    let (o, _) = replay_file("deep.json", nested.as_bytes(), &[]);
    assert_eq!(o.status.code(), Some(2), "also as a bare record");
}

#[test]
fn an_unknown_event_name_is_skipped_with_a_reason() {
    let rec = r#"{"eventSource":"eks.amazonaws.com","eventName":"CreateNodeRocket"}"#;
    let (o, _) = replay_file("r.json", rec.as_bytes(), &["--summary"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(out_lines(&o), 0);
    assert!(
        err(&o).contains("`CreateNodeRocket` does not change cluster access"),
        "{}",
        err(&o)
    );
}

#[test]
fn a_record_without_event_source_is_skipped_with_a_reason() {
    let rec = r#"{"eventName":"AssociateAccessPolicy","eventVersion":"1.09"}"#;
    let (o, _) = replay_file("r.json", rec.as_bytes(), &["--summary"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(out_lines(&o), 0);
    assert!(err(&o).contains("no eventSource"), "{}", err(&o));
}

// ---- the EKS audit log ----

fn audit_lines() -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events/k8s-aws-auth.ndjson");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn an_audit_line_cut_short_is_an_error_naming_file_and_line_and_the_rest_still_prints() {
    let lines = audit_lines();
    // The last line deletes aws-auth; cut it after its object is named.
    let cut = &lines[8][..lines[8].len() - 40];
    let input = format!("{}\n{cut}\n{}\n", lines[2], lines[3]);
    let (o, path) = replay_file("audit.ndjson", input.as_bytes(), &["--cluster", "prod"]);
    assert_eq!(o.status.code(), Some(2));
    let e = err(&o);
    assert!(
        e.contains(&format!(
            "{path}: line 2: not a usable Kubernetes audit event"
        )),
        "{e}"
    );
    assert_eq!(out_lines(&o), 2, "the lines around it still print");
}

#[test]
fn a_subscription_payload_that_is_not_base64_gzip_is_an_error() {
    let (o, path) = replay_file(
        "payload.json",
        br#"{"awslogs":{"data":"H4sI-not-base64!"}}"#,
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains(&format!("{path}: awslogs.data is not base64-encoded gzip")),
        "{}",
        err(&o)
    );
}

#[test]
fn lines_of_other_control_plane_logs_in_an_export_are_skipped_with_their_reason() {
    let lines = audit_lines();
    let input = format!(
        "2026-11-20T01:52:40.660Z {}\n2026-11-20T01:52:41.002Z time=\"2026-11-20T01:52:41Z\" level=info msg=\"access granted\" arn=\"arn:aws:iam::111122223333:role/x\"\n",
        lines[8]
    );
    let (o, _) = replay_file("000000.gz", &gzip(input.as_bytes()), &["--summary"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out_lines(&o), 1);
    assert!(
        err(&o).contains("is not a Kubernetes audit event (another control-plane log)"),
        "{}",
        err(&o)
    );
}

#[test]
fn an_audit_event_without_api_version_is_read_like_any_other() {
    let with = audit_lines().join("\n");
    let without = with.replace(
        r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","#,
        r#"{"kind":"Event","#,
    );
    assert!(!without.contains("audit.k8s.io"));
    let (o, _) = replay_file("audit.ndjson", without.as_bytes(), &["--cluster", "prod"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let (expected, _) = replay_file("audit.ndjson", with.as_bytes(), &["--cluster", "prod"]);
    assert!(out_lines(&o) > 0);
    assert_eq!(
        o.stdout, expected.stdout,
        "the same alerts as with apiVersion"
    );
}

#[test]
fn a_kubernetes_event_of_another_api_is_an_error_naming_file_line_and_api_version() {
    let cluster_event = r#"{"kind":"Event","apiVersion":"v1","metadata":{"name":"aws-auth.18a","namespace":"kube-system"},"involvedObject":{"kind":"ConfigMap","name":"aws-auth","namespace":"kube-system"},"reason":"Updated","type":"Normal"}"#;
    let input = format!("{cluster_event}\n{}\n", audit_lines()[8]);
    let (o, path) = replay_file("events.ndjson", input.as_bytes(), &["--cluster", "prod"]);
    assert_eq!(o.status.code(), Some(2));
    let e = err(&o);
    assert!(
        e.contains(&format!(
            "{path}: line 1: a Kubernetes Event of apiVersion `v1` is not an audit event"
        )) && e.contains("replay the API server's audit log instead"),
        "{e}"
    );
    assert_eq!(out_lines(&o), 1, "the audit line still prints");
}
