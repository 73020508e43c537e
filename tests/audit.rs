use std::collections::BTreeSet;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use eks_access_watch::audit::snapshot::{
    ClusterState, EntryState, PolicyState, ScopeState, Snapshot,
};
use eks_access_watch::audit::{self, AuditReport};
use eks_access_watch::config::{AlertFormat, AuditConfig};
use eks_access_watch::model::ScopeType;
use eks_access_watch::render;
use eks_access_watch::render::digest;
use eks_access_watch::rules::{CATALOGUE, Topic};
use eks_access_watch::{RuleConfig, Severity};

use crate::util::{BREAK_GLASS, TERRAFORM, check_golden, policy, sample_config};

pub fn snapshots_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots")
}

pub fn load(name: &str) -> Snapshot {
    let path = snapshots_dir().join(name);
    Snapshot::from_json(name, &std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The configuration the snapshot goldens are graded with (also in the audit example of
/// docs/audit.md): the samples' approved caller and break-glass role, and a required `Owner`
/// tag.
pub fn audit_config() -> AuditConfig {
    AuditConfig::new(&["Owner".to_string()], "--require-tag", 5).unwrap()
}

pub fn report(current: &str, baseline: Option<&str>) -> AuditReport {
    let baseline = baseline.map(load);
    audit::audit(
        &load(current),
        baseline.as_ref(),
        &sample_config(),
        &audit_config(),
        None,
    )
}

/// Text, Markdown, JSON and the digest the Lambda would publish.
fn render_report(report: &AuditReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# text\n{}", render::audit::text(report, false));
    let _ = writeln!(out, "# markdown\n{}", render::audit::markdown(report));
    let _ = writeln!(
        out,
        "# json\n{}\n",
        serde_json::to_string_pretty(report).unwrap()
    );
    let msg = digest::digest_message(
        report,
        Some("s3://example-bucket/snapshots/latest.json"),
        &[],
        false,
        AlertFormat::Default,
        262_144,
    );
    let body: serde_json::Value = serde_json::from_str(&msg.message).unwrap();
    let _ = writeln!(out, "# digest subject\n{}\n", msg.subject);
    let _ = writeln!(out, "# digest attributes");
    for a in &msg.attributes {
        let _ = writeln!(out, "{} ({}) = {}", a.name, a.data_type, a.value);
    }
    let _ = writeln!(
        out,
        "\n# digest e-mail\n{}",
        body["email"].as_str().unwrap()
    );
    out
}

/// Only the drift findings, and the alert the Lambda publishes for each.
fn render_drift(report: &AuditReport) -> String {
    let mut drift = report.clone();
    drift.findings.retain(|f| f.is_drift());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# text (drift findings only)\n{}",
        render::audit::text(&drift, false)
    );
    let _ = writeln!(
        out,
        "# json (drift findings)\n{}\n",
        serde_json::to_string_pretty(&drift.findings).unwrap()
    );
    for (i, f) in drift.findings.iter().enumerate() {
        let msg = digest::drift_message(f, report, false, AlertFormat::Default);
        let body: serde_json::Value = serde_json::from_str(&msg.message).unwrap();
        let _ = writeln!(
            out,
            "# drift alert {}: {}\n{}",
            i + 1,
            msg.subject,
            body["email"].as_str().unwrap()
        );
    }
    out
}

#[test]
fn the_sample_snapshot_matches_its_golden_report() {
    let dir = snapshots_dir();
    let got = render_report(&report("org.json", None));
    check_golden(&dir.join("org.json"), &dir.join("org.golden"), &got).unwrap();
}

#[test]
fn drift_against_yesterdays_snapshot_matches_its_golden() {
    let dir = snapshots_dir();
    let got = render_drift(&report("org.json", Some("org-yesterday.json")));
    check_golden(
        &dir.join("org-yesterday.json"),
        &dir.join("drift-yesterday.golden"),
        &got,
    )
    .unwrap();
}

#[test]
fn drift_against_a_declared_baseline_matches_its_golden() {
    let dir = snapshots_dir();
    let got = render_drift(&report("org.json", Some("declared-baseline.json")));
    check_golden(
        &dir.join("declared-baseline.json"),
        &dir.join("drift-declared.golden"),
        &got,
    )
    .unwrap();
}

fn fired(report: &AuditReport) -> BTreeSet<&'static str> {
    report.findings.iter().map(|f| f.finding.rule.id).collect()
}

/// The rules of `topic` that made no finding in `reports`.
fn silent(topic: Topic, reports: &[AuditReport]) -> Vec<&'static str> {
    let fired: BTreeSet<&str> = reports.iter().flat_map(fired).collect();
    CATALOGUE
        .iter()
        .filter(|r| r.topic == topic && !fired.contains(r.id))
        .map(|r| r.id)
        .collect()
}

#[test]
fn every_standing_rule_fires_on_the_sample_snapshot() {
    let silent = silent(Topic::Standing, &[report("org.json", None)]);
    assert!(
        silent.is_empty(),
        "standing rules that fire on no sample: {silent:?}"
    );
}

#[test]
fn every_drift_rule_fires_on_a_drift_sample() {
    let reports = [
        report("org.json", Some("org-yesterday.json")),
        report("org.json", Some("declared-baseline.json")),
    ];
    let silent = silent(Topic::Drift, &reports);
    assert!(
        silent.is_empty(),
        "drift rules that fire on no sample: {silent:?}"
    );
}

#[test]
fn every_audit_finding_is_graded_as_its_rule_declares() {
    for baseline in [
        None,
        Some("org-yesterday.json"),
        Some("declared-baseline.json"),
    ] {
        for f in report("org.json", baseline).findings {
            assert!(
                f.finding.rule.severities.contains(&f.severity()),
                "{} graded {}",
                f.finding.rule.id,
                f.severity()
            );
            assert!(matches!(
                f.finding.rule.topic,
                Topic::Standing | Topic::Drift
            ));
        }
    }
}

#[test]
fn findings_are_ordered_worst_cluster_first_and_counted() {
    let r = report("org.json", None);
    let groups = r.by_place();
    let worst: Vec<Severity> = groups
        .iter()
        .map(|(_, fs)| fs.iter().map(|f| f.severity()).max().unwrap())
        .collect();
    assert!(worst.windows(2).all(|w| w[0] >= w[1]), "{worst:?}");
    let total = r.counts.critical + r.counts.high + r.counts.medium + r.counts.low + r.counts.info;
    assert_eq!(total, r.findings.len());
    assert_eq!(
        r.clusters_without_findings,
        ["dev (111122223333, eu-west-1)"]
    );
    assert!(r.incomplete());
}

/// The sample snapshots are written exactly as `audit --write-snapshot` writes them (the
/// snapshot's stable order); `UPDATE_GOLDEN=1` rewrites them in that order.
#[test]
fn the_sample_snapshots_are_in_the_stable_order_they_are_written_in() {
    for name in ["org.json", "org-yesterday.json"] {
        let path = snapshots_dir().join(name);
        let mut s = load(name);
        s.normalise();
        check_golden(&path, &path, &s.to_json()).unwrap();
    }
}

#[test]
fn a_snapshot_compared_with_its_own_baseline_has_no_drift() {
    let current = load("org.json");
    let baseline = current.baseline();
    let text = baseline.to_json();
    for volatile in [
        "created_at",
        "modified_at",
        "associated_at",
        "taken_at",
        "\"tags\"",
        "\"version\": \"",
        "unreadable",
    ] {
        assert!(
            !text.contains(volatile),
            "{volatile} in the written baseline"
        );
    }
    let back = Snapshot::from_json("baseline", &text).unwrap();
    let r = audit::audit(
        &current,
        Some(&back),
        &sample_config(),
        &audit_config(),
        None,
    );
    assert_eq!(
        r.drift,
        0,
        "{:#?}",
        r.findings
            .iter()
            .filter(|f| f.is_drift())
            .collect::<Vec<_>>()
    );
}

// ---- bad snapshot and baseline files ----

fn problem(text: &str) -> String {
    Snapshot::from_json("baseline.json", text)
        .unwrap_err()
        .to_string()
}

#[test]
fn a_misspelt_field_is_an_error_naming_the_field_and_line() {
    let e = problem(
        "{\"version\": 1,\n \"clusters\": [{\"name\": \"prod\",\n \"authentication-mode\": \"API\"}]}",
    );
    assert!(e.starts_with("baseline.json: line 3 column"), "{e}");
    assert!(e.contains("unknown field `authentication-mode`"), "{e}");
    assert!(
        e.contains("authentication_mode"),
        "the valid names are listed: {e}"
    );
}

#[test]
fn an_unsupported_version_and_duplicates_are_all_reported() {
    let e = problem(
        r#"{"version": 2, "clusters": [{"name": "a"}, {"name": "a"}, {"name": "b", "access_entries": [{"principal_arn": "x"}, {"principal_arn": "x"}]}]}"#,
    );
    assert!(e.contains("3 problems"), "{e}");
    assert!(
        e.contains("version 2 is not supported; this build reads version 1"),
        "{e}"
    );
    assert!(e.contains("clusters[1]: cluster a"), "{e}");
    assert!(
        e.contains("principal x is listed twice for cluster b"),
        "{e}"
    );
}

#[test]
fn input_that_is_not_a_snapshot_says_what_is_expected() {
    let e = problem("[1, 2]");
    assert!(e.contains("expected an eks-access-watch snapshot"), "{e}");
    let e = problem(r#"{"version": 1}"#);
    assert!(e.contains("missing field `clusters`"), "{e}");
}

// ---- standing rules, case by case ----

const CLUSTER_ADMIN: &str = "AmazonEKSClusterAdminPolicy";

fn grant(name: &str) -> PolicyState {
    PolicyState {
        policy_arn: policy(name),
        access_scope: Some(ScopeState {
            scope_type: ScopeType::Cluster,
            namespaces: vec![],
        }),
        associated_at: None,
    }
}

fn holder(principal: &str, policies: Option<Vec<PolicyState>>) -> EntryState {
    EntryState {
        principal_arn: principal.to_string(),
        policies,
        ..EntryState::default()
    }
}

fn cluster(entries: Vec<EntryState>) -> ClusterState {
    ClusterState {
        account: Some("111122223333".into()),
        region: Some("eu-west-1".into()),
        name: "prod".into(),
        access_entries: Some(entries),
        ..ClusterState::default()
    }
}

fn snapshot(clusters: Vec<ClusterState>) -> Snapshot {
    let mut s = Snapshot::new(Some("2026-11-20T06:00:00Z".into()));
    s.clusters = clusters;
    s
}

fn run(
    s: &Snapshot,
    rules: &RuleConfig,
    config: &AuditConfig,
) -> Vec<(&'static str, Severity, Option<String>)> {
    audit::audit(s, None, rules, config, None)
        .findings
        .into_iter()
        .map(|f| (f.finding.rule.id, f.severity(), f.principal_arn))
        .collect()
}

fn ids(s: &Snapshot, rules: &RuleConfig) -> Vec<&'static str> {
    run(s, rules, &AuditConfig::default())
        .into_iter()
        .map(|(id, ..)| id)
        .collect()
}

#[test]
fn break_glass_without_cluster_admin_is_no_working_break_glass() {
    let s = snapshot(vec![cluster(vec![
        holder(TERRAFORM, Some(vec![grant(CLUSTER_ADMIN)])),
        holder(BREAK_GLASS, Some(vec![grant("AmazonEKSViewPolicy")])),
    ])]);
    assert_eq!(ids(&s, &sample_config()), ["no-working-break-glass"]);
}

#[test]
fn no_working_break_glass_is_silent_when_it_cannot_be_known() {
    let unread = snapshot(vec![cluster(vec![holder(BREAK_GLASS, None)])]);
    assert!(!ids(&unread, &sample_config()).contains(&"no-working-break-glass"));
    let none_configured = snapshot(vec![cluster(vec![holder(
        TERRAFORM,
        Some(vec![grant(CLUSTER_ADMIN)]),
    )])]);
    assert!(!ids(&none_configured, &RuleConfig::default()).contains(&"no-working-break-glass"));
    let mut config_map = cluster(vec![]);
    config_map.authentication_mode = Some(eks_access_watch::model::AuthMode::ConfigMap);
    assert!(
        !ids(&snapshot(vec![config_map]), &sample_config()).contains(&"no-working-break-glass")
    );
}

#[test]
fn a_session_entry_for_the_break_glass_role_is_not_a_working_break_glass_path() {
    let session = "arn:aws:sts::111122223333:assumed-role/eks-break-glass/oncall";
    let s = snapshot(vec![cluster(vec![holder(
        session,
        Some(vec![grant(CLUSTER_ADMIN)]),
    )])]);
    let got = ids(&s, &sample_config());
    assert!(got.contains(&"no-working-break-glass"), "{got:?}");
    assert!(got.contains(&"standing-session-principal"), "{got:?}");
    assert!(
        !got.contains(&"standing-cluster-admin"),
        "a session never matches: {got:?}"
    );
}

#[test]
fn cluster_admin_is_standing_unless_break_glass_approved_or_aws() {
    let s = snapshot(vec![cluster(vec![
        holder(TERRAFORM, Some(vec![grant(CLUSTER_ADMIN)])),
        holder(BREAK_GLASS, Some(vec![grant(CLUSTER_ADMIN)])),
        holder(
            "arn:aws:iam::111122223333:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS",
            Some(vec![grant(CLUSTER_ADMIN)]),
        ),
        holder(
            "arn:aws:iam::111122223333:role/platform-admin",
            Some(vec![grant(CLUSTER_ADMIN)]),
        ),
    ])]);
    let got = run(&s, &sample_config(), &AuditConfig::default());
    let admin: Vec<_> = got
        .iter()
        .filter(|(id, ..)| *id == "standing-cluster-admin")
        .collect();
    assert_eq!(admin.len(), 1, "{got:?}");
    assert_eq!(
        admin[0].2.as_deref(),
        Some("arn:aws:iam::111122223333:role/platform-admin")
    );
    assert_eq!(admin[0].1, Severity::High);
}

#[test]
fn too_many_admins_counts_cluster_admin_and_admin_holders_above_the_bound() {
    let admins: Vec<EntryState> = (0..4)
        .map(|i| {
            holder(
                &format!("arn:aws:iam::111122223333:role/team-{i}"),
                Some(vec![grant("AmazonEKSAdminPolicy")]),
            )
        })
        .chain([holder(TERRAFORM, Some(vec![grant(CLUSTER_ADMIN)]))])
        .collect();
    let s = snapshot(vec![cluster(admins)]);
    let with = |n| AuditConfig::new(&[], "x", n).unwrap();
    assert!(
        !ids(&s, &RuleConfig::default()).contains(&"too-many-admins"),
        "5 is not more than 5"
    );
    let got = run(&s, &RuleConfig::default(), &with(4));
    assert!(
        got.iter()
            .any(|(id, sev, _)| *id == "too-many-admins" && *sev == Severity::Medium)
    );
}

#[test]
fn creator_entry_is_the_earliest_cluster_admin_made_with_the_cluster() {
    let at = |principal: &str, created: &str| EntryState {
        created_at: Some(created.into()),
        ..holder(principal, Some(vec![grant(CLUSTER_ADMIN)]))
    };
    let mut c = cluster(vec![
        at(BREAK_GLASS, "2024-03-12T09:50:00Z"),
        at(TERRAFORM, "2024-03-12T09:15:42Z"),
    ]);
    c.created_at = Some("2024-03-12T09:15:42Z".into());
    let got = run(
        &snapshot(vec![c.clone()]),
        &sample_config(),
        &AuditConfig::default(),
    );
    let creators: Vec<_> = got
        .iter()
        .filter(|(id, ..)| *id == "creator-admin-present")
        .collect();
    assert_eq!(creators.len(), 1, "{got:?}");
    assert_eq!(creators[0].2.as_deref(), Some(TERRAFORM));
    // Made after the cluster (once it was ACTIVE, by the pipeline): not the bootstrap entry.
    c.created_at = Some("2024-03-12T09:10:00Z".into());
    assert!(!ids(&snapshot(vec![c.clone()]), &sample_config()).contains(&"creator-admin-present"));
    // Without the cluster's creation time nothing is recognised.
    c.created_at = None;
    assert!(!ids(&snapshot(vec![c]), &sample_config()).contains(&"creator-admin-present"));
}

#[test]
fn untagged_entries_are_reported_only_for_required_tags() {
    let mut e = holder("arn:aws:iam::111122223333:role/ci", Some(vec![]));
    e.tags = Some([("Team".to_string(), "x".to_string())].into());
    let s = snapshot(vec![cluster(vec![e])]);
    assert!(!ids(&s, &RuleConfig::default()).contains(&"untagged-entry"));
    let config = AuditConfig::new(&["Owner".into(), "Team".into()], "x", 5).unwrap();
    let got = audit::audit(&s, None, &RuleConfig::default(), &config, None);
    let f = got
        .findings
        .iter()
        .find(|f| f.finding.rule.id == "untagged-entry")
        .unwrap();
    assert_eq!(f.severity(), Severity::Low);
    assert!(
        f.finding.summary.ends_with("lacks required tag Owner"),
        "{}",
        f.finding.summary
    );
}

#[test]
fn cross_account_entries_are_standing_unless_known() {
    let s = snapshot(vec![ClusterState {
        account: Some("444455556666".into()),
        ..cluster(vec![
            holder(BREAK_GLASS, Some(vec![grant(CLUSTER_ADMIN)])),
            holder("arn:aws:iam::999988887777:role/vendor", Some(vec![])),
        ])
    }]);
    let got = run(&s, &sample_config(), &AuditConfig::default());
    let cross: Vec<_> = got
        .iter()
        .filter(|(id, ..)| *id == "standing-cross-account")
        .collect();
    assert_eq!(cross.len(), 1, "{got:?}");
    assert_eq!(
        cross[0].2.as_deref(),
        Some("arn:aws:iam::999988887777:role/vendor")
    );
}

#[test]
fn public_endpoints_are_high_open_to_the_world_and_low_otherwise() {
    let grade = |cidrs: &[&str]| {
        let mut c = cluster(vec![]);
        c.endpoint_public_access = Some(true);
        c.public_access_cidrs = Some(cidrs.iter().map(|s| s.to_string()).collect());
        run(
            &snapshot(vec![c]),
            &RuleConfig::default(),
            &AuditConfig::default(),
        )
        .into_iter()
        .find(|(id, ..)| *id == "public-endpoint-open")
        .map(|(_, s, _)| s)
    };
    assert_eq!(grade(&["0.0.0.0/0"]), Some(Severity::High));
    assert_eq!(grade(&[]), Some(Severity::High));
    assert_eq!(grade(&["203.0.113.0/24", "::/0"]), Some(Severity::High));
    assert_eq!(grade(&["203.0.113.0/24"]), Some(Severity::Low));
}

#[test]
fn what_a_snapshot_does_not_say_is_never_a_finding() {
    // A hand-made snapshot with names only: nothing known, nothing reported.
    let s = snapshot(vec![ClusterState {
        name: "bare".into(),
        ..ClusterState::default()
    }]);
    assert!(ids(&s, &sample_config()).is_empty());
}

// ---- drift, case by case ----

fn drift(baseline: &Snapshot, current: &Snapshot) -> Vec<(&'static str, Severity, String)> {
    audit::audit(
        current,
        Some(baseline),
        &sample_config(),
        &AuditConfig::default(),
        None,
    )
    .findings
    .into_iter()
    .filter(|f| f.is_drift())
    .map(|f| (f.finding.rule.id, f.severity(), f.finding.summary))
    .collect()
}

#[test]
fn a_drifted_cluster_admin_association_is_graded_as_the_change_rule_grades_it() {
    let ci = "arn:aws:iam::111122223333:role/ci-deployer";
    let before = snapshot(vec![cluster(vec![holder(
        ci,
        Some(vec![grant("AmazonEKSViewPolicy")]),
    )])]);
    let after = snapshot(vec![cluster(vec![holder(
        ci,
        Some(vec![grant("AmazonEKSViewPolicy"), grant(CLUSTER_ADMIN)]),
    )])]);
    let got = drift(&before, &after);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (got[0].0, got[0].1),
        ("drift-policy-changed", Severity::Critical)
    );
    assert!(
        got[0].2.ends_with("(graded as cluster-admin-granted)"),
        "{}",
        got[0].2
    );
    // The removal is graded as DisassociateAccessPolicy by someone outside the pipeline.
    let got = drift(&after, &before);
    assert_eq!(
        (
            got[0].1,
            got[0].2.ends_with("(graded as admin-access-removed)")
        ),
        (Severity::High, true),
        "{got:?}"
    );
}

#[test]
fn entries_added_and_removed_are_graded_by_what_they_hold_and_who_they_are() {
    let before = snapshot(vec![cluster(vec![holder(
        BREAK_GLASS,
        Some(vec![grant(CLUSTER_ADMIN)]),
    )])]);
    let after = snapshot(vec![cluster(vec![
        holder(
            "arn:aws:iam::111122223333:role/x",
            Some(vec![grant("AmazonEKSAdminPolicy")]),
        ),
        holder(
            "arn:aws:iam::111122223333:role/y",
            Some(vec![grant("AmazonEKSViewPolicy")]),
        ),
    ])]);
    let got: Vec<(&str, Severity)> = drift(&before, &after)
        .into_iter()
        .map(|(id, s, _)| (id, s))
        .collect();
    assert_eq!(
        got,
        [
            ("drift-entry-added", Severity::High),
            ("drift-entry-removed", Severity::High),
            ("drift-entry-added", Severity::Medium),
        ]
    );
}

#[test]
fn entries_match_by_identity_not_spelling() {
    let with_path = "arn:aws:iam::111122223333:role/teams/ops/Deployer";
    let before = snapshot(vec![cluster(vec![holder(
        "arn:aws:iam::111122223333:role/deployer",
        Some(vec![]),
    )])]);
    let after = snapshot(vec![cluster(vec![holder(with_path, Some(vec![]))])]);
    assert!(drift(&before, &after).is_empty());
}

#[test]
fn fields_a_declaration_omits_are_not_checked_and_unlisted_clusters_are_not_compared() {
    let declared: Snapshot = Snapshot::from_json(
        "declared",
        r#"{"version": 1, "clusters": [{"name": "prod", "access_entries": [{"principal_arn": "arn:aws:iam::111122223333:role/ci"}]}]}"#,
    )
    .unwrap();
    let mut ci = holder(
        "arn:aws:iam::111122223333:role/ci",
        Some(vec![grant(CLUSTER_ADMIN)]),
    );
    ci.kubernetes_groups = Some(vec!["anything".into()]);
    let mut prod = cluster(vec![ci]);
    prod.authentication_mode = Some(eks_access_watch::model::AuthMode::ConfigMap);
    let other = ClusterState {
        name: "other".into(),
        ..cluster(vec![])
    };
    assert!(drift(&declared, &snapshot(vec![prod.clone(), other.clone()])).is_empty());
    // The same baseline as a snapshot (it has taken_at) is complete: `other` is new.
    let mut taken = declared.clone();
    taken.taken_at = Some("2026-11-19T06:00:00Z".into());
    let got = drift(&taken, &snapshot(vec![prod, other]));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (got[0].0, got[0].1),
        ("drift-cluster-setting", Severity::Low)
    );
}

#[test]
fn what_could_not_be_read_now_is_not_drift() {
    let before = snapshot(vec![cluster(vec![holder(
        TERRAFORM,
        Some(vec![grant(CLUSTER_ADMIN)]),
    )])]);
    let mut unread = cluster(vec![holder(TERRAFORM, None)]);
    assert!(drift(&before, &snapshot(vec![unread.clone()])).is_empty());
    unread.access_entries = None;
    assert!(drift(&before, &snapshot(vec![unread])).is_empty());
}

#[test]
fn cluster_settings_drift_is_graded_by_the_update_cluster_config_rules() {
    let mut before = cluster(vec![]);
    before.authentication_mode = Some(eks_access_watch::model::AuthMode::ApiAndConfigMap);
    before.endpoint_public_access = Some(false);
    let mut after = before.clone();
    after.authentication_mode = Some(eks_access_watch::model::AuthMode::Api);
    after.endpoint_public_access = Some(true);
    after.public_access_cidrs = Some(vec!["0.0.0.0/0".into()]);
    let got = drift(&snapshot(vec![before]), &snapshot(vec![after]));
    let graded: Vec<(Severity, bool)> = got
        .iter()
        .map(|(_, s, summary)| {
            (
                *s,
                summary.contains("graded as auth-mode-changed")
                    || summary.contains("graded as public-endpoint-opened"),
            )
        })
        .collect();
    assert_eq!(
        graded,
        [(Severity::High, true), (Severity::High, true)],
        "{got:?}"
    );
}

// ---- the digest ----

#[test]
fn the_digest_subject_counts_clusters_and_the_worst_findings() {
    let r = report("org.json", Some("org-yesterday.json"));
    let subject = render::audit::posture_line(&r);
    assert!(
        subject.starts_with(&format!(
            "EKS access posture: 6 clusters, 0 critical, {} high",
            r.counts.high
        )),
        "{subject}"
    );
    assert!(
        subject.contains(&format!(", {} drift", r.drift)),
        "{subject}"
    );
    assert!(subject.len() <= 100);
}

#[test]
fn a_digest_too_large_for_sns_keeps_the_worst_findings_and_says_how_many_were_left_out() {
    let r = report("org.json", None);
    let full = digest::digest_message(&r, None, &[], false, AlertFormat::Default, 262_144);
    let limit = full.size() / 2;
    let cut = digest::digest_message(&r, None, &[], false, AlertFormat::Default, limit);
    assert!(cut.size() <= limit, "{} > {limit}", cut.size());
    let body: serde_json::Value = serde_json::from_str(&cut.message).unwrap();
    let doc: serde_json::Value = serde_json::from_str(body["default"].as_str().unwrap()).unwrap();
    let kept = doc["findings"].as_array().unwrap();
    assert!(!kept.is_empty());
    assert_eq!(
        kept.len() + doc["omitted_findings"].as_u64().unwrap() as usize,
        r.findings.len()
    );
    assert_eq!(
        kept[0]["severity"],
        r.findings[0].severity().as_str(),
        "the worst are kept"
    );
    assert_eq!(
        doc["counts"]["high"], r.counts.high,
        "counts describe every finding"
    );
    assert!(
        body["email"]
            .as_str()
            .unwrap()
            .contains("less severe findings are not shown")
    );
    assert_eq!(cut.subject, full.subject);
}

// ---- the tuning file ----

/// The tuning file applies to the audit as to the watcher: an override re-grades, an exception
/// in force suppresses (the finding stays, marked, and counts towards nothing), an expired one
/// stops applying and is reported as `exception-expired`, and its required tags join the flags'.
#[test]
fn the_tuning_file_tunes_the_audit() {
    let toml = r#"
required_tags = ["CostCentre"]

[rules.deletion-protection-off]
severity = "high"

[[exceptions]]
id = "vendor"
rule = "standing-cross-account"
principal = "arn:aws:iam::999988887777:role/vendor-observability"
reason = "Observability vendor, contract SEC-77"
expires = 2026-12-31

[[exceptions]]
id = "old-wildcard"
rule = "standing-wildcard-scope"
cluster = "prod-*"
reason = "Migrated by Q3"
expires = 2026-06-30
principal = "arn:aws:iam::999988887777:role/vendor-*"
"#;
    let tuning = eks_access_watch::Tuning::parse(toml, "tuning.toml").unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    let snapshot = load("org.json");
    let plain = audit::audit(&snapshot, None, &sample_config(), &audit_config(), None);
    let tuned = audit::audit(
        &snapshot,
        None,
        &sample_config(),
        &audit_config(),
        Some(audit::Tuned {
            tuning: &tuning,
            today,
        }),
    );
    let find = |r: &AuditReport, rule: &str, cluster: &str| {
        r.findings
            .iter()
            .find(|f| f.finding.rule.id == rule && f.cluster.as_deref() == Some(cluster))
            .cloned()
    };
    // Suppressed: still there, marked with its exception, but not counted.
    let vendor = find(&tuned, "standing-cross-account", "prod-eu").unwrap();
    let by = vendor.finding.suppressed_by.as_ref().unwrap();
    assert_eq!(by.exception, "vendor");
    assert!(!vendor.counts());
    assert_eq!(vendor.severity(), Severity::Medium);
    let counted_medium = |r: &AuditReport| {
        r.findings
            .iter()
            .filter(|f| f.counts() && f.severity() == Severity::Medium)
            .count()
    };
    assert_eq!(tuned.counts.medium, counted_medium(&tuned));
    assert!(
        tuned.counts.medium
            < tuned
                .findings
                .iter()
                .filter(|f| f.severity() == Severity::Medium)
                .count()
    );
    // Expired: applies no more, the finding says which exception lapsed, and the lapse is a
    // finding of its own.
    let wildcard = find(&tuned, "standing-wildcard-scope", "prod-eu").unwrap();
    assert!(wildcard.counts());
    assert_eq!(
        wildcard
            .finding
            .expired_exception
            .as_ref()
            .unwrap()
            .exception,
        "old-wildcard"
    );
    let expired: Vec<_> = tuned
        .findings
        .iter()
        .filter(|f| f.finding.rule.id == "exception-expired")
        .collect();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].place(), "the tuning file");
    assert!(expired[0].finding.summary.contains("old-wildcard"));
    // Override: graded high, the rule's own grade kept.
    let protection = find(&tuned, "deletion-protection-off", "prod-us").unwrap();
    assert_eq!(protection.severity(), Severity::High);
    assert_eq!(protection.finding.rule_severity, Some(Severity::Low));
    // Required tags: the file's join the flags'.
    let untagged = |r: &AuditReport| {
        r.findings
            .iter()
            .filter(|f| f.finding.rule.id == "untagged-entry")
            .count()
    };
    assert!(untagged(&tuned) > untagged(&plain));
    assert!(
        tuned
            .findings
            .iter()
            .any(|f| f.finding.rule.id == "untagged-entry"
                && f.finding.summary.contains("CostCentre"))
    );
    // The renderings say what the file did.
    let text = render::audit::text(&tuned, false);
    assert!(text.contains("suppressed by exception vendor"), "{text}");
    assert!(text.contains("exception old-wildcard expired"), "{text}");
}
