//! The Kubernetes plane: aws-auth and RBAC-binding rules graded from audit events, the
//! input shapes of the EKS audit log, and what an alert says when the event lacks a body.

use eks_access_watch::Alert;
use eks_access_watch::Severity::*;
use eks_access_watch::context::History;
use eks_access_watch::ingest::{self, Options, Outcome, ReadMode};
use eks_access_watch::kubernetes::Origin;
use serde_json::{Value, json};

use crate::util::*;

const NODE: &str = "- rolearn: arn:aws:iam::111122223333:role/eks-node-role\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:bootstrappers, system:nodes]\n";
const MASTERS: &str =
    "- rolearn: arn:aws:iam::111122223333:role/intruder\n  groups: [system:masters]\n";

/// An IAM caller as EKS's authenticator names it in `user`.
fn iam_user(role: &str, session: &str) -> Value {
    json!({"username": format!("{role}:{session}"), "uid": "aws-iam-authenticator:111122223333:AROAEXAMPLE",
        "groups": ["system:authenticated"],
        "extra": {"arn": [format!("arn:aws:sts::111122223333:assumed-role/{role}/{session}")],
                  "canonicalArn": [format!("arn:aws:iam::111122223333:role/{role}")],
                  "sessionName": [session]}})
}

fn audit(verb: &str, object_ref: Value, user: Value, request: Value, response: Value) -> Value {
    json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
        "auditID": "a1", "stage": "ResponseComplete", "requestURI": "/x", "verb": verb, "user": user,
        "sourceIPs": ["203.0.113.45"], "userAgent": "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
        "objectRef": object_ref, "responseStatus": {"metadata": {}, "code": 200},
        "requestObject": request, "responseObject": response,
        "requestReceivedTimestamp": "2026-11-20T01:47:12.412873Z"})
}

fn aws_auth_ref() -> Value {
    json!({"resource": "configmaps", "namespace": "kube-system", "name": "aws-auth", "apiVersion": "v1"})
}

fn configmap(map_roles: &str) -> Value {
    json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "aws-auth", "namespace": "kube-system"},
        "data": {"mapRoles": map_roles}})
}

fn binding_ref(resource: &str, name: &str) -> Value {
    json!({"resource": resource, "name": name, "apiGroup": "rbac.authorization.k8s.io", "apiVersion": "v1"})
}

fn binding(kind: &str, role: &str, subjects: Value) -> Value {
    json!({"kind": kind, "apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "b"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": subjects})
}

const PROD: Origin<'static> = Origin {
    cluster: Some("prod"),
    account: Some(ACCOUNT),
    region: Some("eu-west-1"),
};

/// The alert for one audit event under the sample configuration.
fn alert(event: &Value) -> Alert {
    let line = event.to_string();
    match ingest::decide_audit_line(line.as_bytes(), &PROD, ReadMode::Strict) {
        Ok(Ok(e)) => classify(&e, &sample_config(), None),
        other => panic!("not watched ({other:?}): {line}"),
    }
}

/// Every alert the library makes of an input, in order.
fn alerts_of(bytes: &[u8], cluster: Option<&str>) -> Vec<Alert> {
    let config = sample_config();
    let mut out = Vec::new();
    let options = Options::new(&config).cluster(cluster);
    let mut history = History::default();
    ingest::scan_slice("mem", bytes, &options, &mut |o| match o {
        Outcome::Watched { mut event, .. } => {
            if history.observe(&mut event).is_none() {
                out.push(classify(&event, &config, None))
            }
        }
        Outcome::Skipped { .. } | Outcome::Object { .. } => {}
        Outcome::Invalid(e) => panic!("{e}"),
    })
    .unwrap();
    out
}

#[test]
fn system_masters_added_by_a_human_patch_is_critical_and_unapproved() {
    let patch = json!({"data": {"mapRoles": format!("{NODE}{MASTERS}")}});
    let a = alert(&audit(
        "patch",
        aws_auth_ref(),
        iam_user("platform-engineer", "jdoe"),
        patch,
        configmap(&format!("{NODE}{MASTERS}")),
    ));
    assert_eq!(a.event_name, "patch configmaps/aws-auth");
    assert_eq!(a.cluster.as_deref(), Some("prod"));
    assert_eq!(
        a.actor,
        "role/platform-engineer (jdoe), user agent says kubectl"
    );
    assert_eq!(finding(&a, "aws-auth-system-masters"), Some(Critical));
    assert_eq!(finding(&a, "aws-auth-modified"), Some(Medium));
    assert_eq!(finding(&a, "unapproved-caller"), Some(High));
    assert_eq!(a.severity, Critical);
    assert!(
        eks_access_watch::render::subject(&a).starts_with(
            "[CRITICAL] prod: (unapproved caller) role/intruder mapped to system:masters"
        ),
        "{}",
        eks_access_watch::render::subject(&a)
    );
}

#[test]
fn the_approved_pipeline_is_low_and_eks_itself_too_but_a_kept_system_masters_stays_critical() {
    let by_terraform = alert(&audit(
        "update",
        aws_auth_ref(),
        iam_user("terraform-deployer", "run-1"),
        configmap(NODE),
        configmap(NODE),
    ));
    assert_eq!(finding(&by_terraform, "aws-auth-modified"), Some(Low));
    assert_eq!(finding(&by_terraform, "unapproved-caller"), None);
    let by_eks = alert(&audit(
        "update",
        aws_auth_ref(),
        json!({"username": "eks:node-manager"}),
        configmap(&format!("{NODE}{MASTERS}")),
        Value::Null,
    ));
    assert_eq!(finding(&by_eks, "aws-auth-modified"), Some(Low));
    assert_eq!(
        finding(&by_eks, "unapproved-caller"),
        None,
        "EKS is AWS itself"
    );
    assert_eq!(finding(&by_eks, "aws-auth-system-masters"), Some(Critical));
}

#[test]
fn accounts_sessions_and_role_paths_are_named() {
    let roles = "- rolearn: arn:aws:sts::111122223333:assumed-role/debug/jdoe\n- rolearn: arn:aws:iam::111122223333:role/teams/platform/admin\n";
    let object = json!({"kind": "ConfigMap", "data": {"mapRoles": roles, "mapAccounts": "- \"444455556666\"\n"}});
    let a = alert(&audit(
        "update",
        aws_auth_ref(),
        iam_user("terraform-deployer", "run-1"),
        object.clone(),
        object,
    ));
    assert_eq!(finding(&a, "aws-auth-account-mapped"), Some(High));
    assert_eq!(finding(&a, "aws-auth-session-arn"), Some(Low));
    assert_eq!(finding(&a, "aws-auth-role-path"), Some(Low));
    let path = a
        .findings
        .iter()
        .find(|f| f.rule.id == "aws-auth-role-path")
        .unwrap();
    assert!(
        path.summary
            .contains("arn:aws:iam::111122223333:role/teams/platform/admin"),
        "{}",
        path.summary
    );
}

#[test]
fn a_patch_of_other_sections_does_not_report_kept_rows_of_untouched_ones() {
    let stored = json!({"kind": "ConfigMap", "data": {"mapRoles": MASTERS, "mapUsers": "- userarn: arn:aws:iam::111122223333:user/bob\n"}});
    let a = alert(&audit(
        "patch",
        aws_auth_ref(),
        iam_user("terraform-deployer", "run-1"),
        json!({"data": {"mapUsers": "- userarn: arn:aws:iam::111122223333:user/bob\n"}}),
        stored,
    ));
    assert_eq!(
        finding(&a, "aws-auth-system-masters"),
        None,
        "mapRoles was not set"
    );
    let metadata_only = alert(&audit(
        "patch",
        aws_auth_ref(),
        iam_user("terraform-deployer", "run-1"),
        json!({"metadata": {"labels": {"team": "platform"}}}),
        configmap(MASTERS),
    ));
    assert_eq!(finding(&metadata_only, "aws-auth-modified"), Some(Info));
}

#[test]
fn earlier_events_of_the_same_input_give_rows_added_removed_and_changed() {
    let update = audit(
        "update",
        aws_auth_ref(),
        iam_user("terraform-deployer", "run-1"),
        configmap(NODE),
        configmap(NODE),
    );
    let swapped = NODE.replace("system:nodes]", "system:nodes, ops]");
    let patch = audit(
        "patch",
        aws_auth_ref(),
        iam_user("platform-engineer", "jdoe"),
        json!([{"op": "replace", "path": "/data/mapRoles", "value": format!("{swapped}{MASTERS}")}]),
        Value::Null,
    );
    let delete = audit(
        "delete",
        aws_auth_ref(),
        iam_user("platform-engineer", "jdoe"),
        Value::Null,
        json!({"kind": "Status", "status": "Success"}),
    );
    let input = format!("{update}\n{patch}\n{delete}\n");
    let alerts = alerts_of(input.as_bytes(), Some("prod"));
    assert_eq!(alerts.len(), 3);
    let modified = alerts[1]
        .findings
        .iter()
        .find(|f| f.rule.id == "aws-auth-modified")
        .unwrap();
    assert!(
        modified.summary.contains("~mapRoles role/eks-node-role"),
        "{}",
        modified.summary
    );
    assert!(
        modified
            .summary
            .contains("+mapRoles role/intruder [system:masters]"),
        "{}",
        modified.summary
    );
    let masters = alerts[1]
        .findings
        .iter()
        .find(|f| f.rule.id == "aws-auth-system-masters")
        .unwrap();
    assert!(
        masters.summary.starts_with("role/intruder (added) mapped"),
        "{}",
        masters.summary
    );
    let deleted = &alerts[2].findings[0];
    assert_eq!(deleted.rule.id, "aws-auth-deleted");
    assert!(
        deleted.summary.contains("2 mapping(s) gone"),
        "{}",
        deleted.summary
    );
}

/// The summary of `rule`'s finding in `alert`.
fn summary<'a>(alert: &'a Alert, rule: &str) -> &'a str {
    alert
        .findings
        .iter()
        .find(|f| f.rule.id == rule)
        .map(|f| f.summary.as_str())
        .unwrap_or_else(|| panic!("no {rule} finding: {:?}", alert.findings))
}

const BOB: &str = "- userarn: arn:aws:iam::111122223333:user/bob\n  groups: [platform:viewers]\n";

/// aws-auth as `update` leaves it, with its mapRoles and mapUsers.
fn both_sections() -> Value {
    json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "aws-auth", "namespace": "kube-system"},
        "data": {"mapRoles": NODE, "mapUsers": BOB}})
}

#[test]
fn a_json_patch_moving_a_section_away_removes_its_rows_though_its_path_names_another_key() {
    let update = audit(
        "update",
        aws_auth_ref(),
        iam_user("terraform-deployer", "run-1"),
        both_sections(),
        both_sections(),
    );
    let moved = json!({"kind": "ConfigMap", "data": {"mapRoles": NODE, "mapUsers-old": BOB}});
    let patch = audit(
        "patch",
        aws_auth_ref(),
        iam_user("platform-engineer", "jdoe"),
        json!([{"op": "move", "from": "/data/mapUsers", "path": "/data/mapUsers-old"}]),
        moved.clone(),
    );
    let alerts = alerts_of(&ndjson(&[update, patch.clone()]), Some("prod"));
    let modified = &alerts[1];
    assert_eq!(
        finding(modified, "aws-auth-modified"),
        Some(Medium),
        "not metadata only"
    );
    assert_eq!(
        summary(modified, "aws-auth-modified"),
        "aws-auth patched on cluster prod: -mapUsers user/bob [platform:viewers] (the patch moves mapUsers to data key `mapUsers-old`) \
         by role/platform-engineer (jdoe), user agent says kubectl; compared with aws-auth as an earlier event of this input left it (2026-11-20T01:47:12Z)"
    );
    // Alone, the stored object says what is left; without it, the patch does.
    let alone = alert(&patch);
    assert!(
        summary(&alone, "aws-auth-modified").starts_with(
            "aws-auth patched on cluster prod: mapUsers now empty (the patch moves mapUsers to data key `mapUsers-old`) by"
        ),
        "{:?}",
        alone.findings
    );
    let mut bare = patch;
    bare["responseObject"] = Value::Null;
    assert!(
        summary(&alert(&bare), "aws-auth-modified").contains("mapUsers now empty (the patch moves"),
    );
}

#[test]
fn strategic_merge_replace_and_delete_of_data_change_the_sections_they_do_not_name() {
    let update = audit(
        "update",
        aws_auth_ref(),
        iam_user("terraform-deployer", "run-1"),
        both_sections(),
        both_sections(),
    );
    let replace = audit(
        "patch",
        aws_auth_ref(),
        iam_user("platform-engineer", "jdoe"),
        json!({"data": {"$patch": "replace", "mapRoles": format!("{NODE}{MASTERS}")}}),
        Value::Null,
    );
    let delete = audit(
        "patch",
        aws_auth_ref(),
        iam_user("platform-engineer", "jdoe"),
        json!({"data": {"$patch": "delete"}}),
        json!({"kind": "ConfigMap", "metadata": {"name": "aws-auth", "namespace": "kube-system"}}),
    );
    let alerts = alerts_of(&ndjson(&[update, replace, delete]), Some("prod"));
    let replaced = summary(&alerts[1], "aws-auth-modified");
    assert!(
        replaced.contains(
            "+mapRoles role/intruder [system:masters], -mapUsers user/bob [platform:viewers] \
             (the patch replaces data as a whole (`$patch: replace`))"
        ),
        "{replaced}"
    );
    assert_eq!(
        finding(&alerts[1], "aws-auth-system-masters"),
        Some(Critical)
    );
    assert_eq!(finding(&alerts[2], "aws-auth-modified"), Some(Medium));
    let deleted = summary(&alerts[2], "aws-auth-modified");
    assert!(
        deleted.contains(
            "-mapRoles role/eks-node-role as system:node:{{EC2PrivateDNSName}} [system:bootstrappers, system:nodes], \
             -mapRoles role/intruder [system:masters] (the patch deletes data (`$patch: delete`))"
        ),
        "{deleted}"
    );
}

#[test]
fn a_patch_whose_result_the_event_does_not_show_says_so_rather_than_nothing_changed() {
    let update = audit(
        "update",
        aws_auth_ref(),
        iam_user("terraform-deployer", "run-1"),
        both_sections(),
        both_sections(),
    );
    let copy = audit(
        "patch",
        aws_auth_ref(),
        iam_user("platform-engineer", "jdoe"),
        json!([{"op": "copy", "from": "/data/mapRoles-staged", "path": "/data/mapRoles"}]),
        Value::Null,
    );
    let later = audit(
        "patch",
        aws_auth_ref(),
        iam_user("platform-engineer", "jdoe"),
        json!({"data": {"mapUsers": BOB}}),
        Value::Null,
    );
    let alerts = alerts_of(&ndjson(&[update, copy, later]), Some("prod"));
    let unknown = summary(&alerts[1], "aws-auth-modified");
    assert_eq!(finding(&alerts[1], "aws-auth-modified"), Some(Medium));
    assert!(
        unknown.starts_with(
            "aws-auth patched on cluster prod: mapRoles now unknown (set to what data key `mapRoles-staged` held, \
             which the audit event does not show) (the patch copies data key `mapRoles-staged` to mapRoles) by"
        ),
        "{unknown}"
    );
    assert!(!unknown.contains("no mapping changed"), "{unknown}");
    // What followed cannot be compared with a content that is no longer known.
    let after = summary(&alerts[2], "aws-auth-modified");
    assert!(
        after.contains("the previous content is not in the audit event"),
        "{after}"
    );

    let unreadable = alert(&audit(
        "patch",
        aws_auth_ref(),
        iam_user("platform-engineer", "jdoe"),
        json!("mapRoles: []"),
        Value::Null,
    ));
    let text = summary(&unreadable, "aws-auth-modified");
    assert!(
        text.contains("mapRoles now unknown (the patch is neither a JSON patch nor a merge patch)"),
        "{text}"
    );
}

#[test]
fn a_forbidden_attempt_is_a_denied_attempt_and_high_when_it_aims_at_admin() {
    let mut e = audit(
        "patch",
        aws_auth_ref(),
        iam_user("payments-dev", "mchen"),
        json!({"data": {"mapRoles": MASTERS}}),
        Value::Null,
    );
    e["responseStatus"] = json!({"status": "Failure", "reason": "Forbidden", "code": 403});
    let a = alert(&e);
    assert_eq!(a.error_code.as_deref(), Some("Forbidden"));
    assert_eq!(
        finding(&a, "denied-attempt"),
        Some(High),
        "it aimed at system:masters"
    );
    assert_eq!(
        finding(&a, "aws-auth-system-masters"),
        Some(High),
        "a failed call is capped"
    );
    e["requestObject"] = Value::Null;
    let bare = alert(&e);
    assert_eq!(finding(&bare, "denied-attempt"), Some(Medium));
    assert!(
        bare.findings[0]
            .summary
            .contains("no request or response body"),
        "{:?}",
        bare.findings
    );
}

#[test]
fn cluster_admin_bindings_are_critical_for_people_and_high_for_kube_system_service_accounts() {
    let people = alert(&audit(
        "create",
        binding_ref("clusterrolebindings", "ops"),
        iam_user("terraform-deployer", "run-1"),
        binding(
            "ClusterRoleBinding",
            "cluster-admin",
            json!([{"kind": "Group", "name": "ops:admins"}]),
        ),
        Value::Null,
    ));
    assert_eq!(people.event_name, "create clusterrolebindings/ops");
    assert_eq!(finding(&people, "rbac-cluster-admin-bound"), Some(Critical));
    assert_eq!(finding(&people, "rbac-binding-changed"), None);
    let controller = alert(&audit(
        "create",
        binding_ref("clusterrolebindings", "csi"),
        iam_user("terraform-deployer", "run-1"),
        binding(
            "ClusterRoleBinding",
            "cluster-admin",
            json!([{"kind": "ServiceAccount", "name": "ebs-csi", "namespace": "kube-system"}, {"kind": "User", "name": "system:serviceaccount:kube-system:x"}]),
        ),
        Value::Null,
    ));
    assert_eq!(finding(&controller, "rbac-cluster-admin-bound"), Some(High));
    let view = alert(&audit(
        "create",
        binding_ref("clusterrolebindings", "viewers"),
        iam_user("terraform-deployer", "run-1"),
        binding(
            "ClusterRoleBinding",
            "view",
            json!([{"kind": "Group", "name": "team:viewers"}]),
        ),
        Value::Null,
    ));
    assert_eq!(finding(&view, "rbac-binding-changed"), Some(Low));
    assert_eq!(view.rule_ids(), ["rbac-binding-changed"]);
}

#[test]
fn bindings_to_anonymous_or_everyone_are_critical_unless_the_api_server_reconciles_its_defaults() {
    let subjects = json!([{"kind": "Group", "name": "system:unauthenticated"}]);
    let a = alert(&audit(
        "update",
        binding_ref("clusterrolebindings", "open"),
        iam_user("terraform-deployer", "run-1"),
        binding("ClusterRoleBinding", "view", subjects.clone()),
        Value::Null,
    ));
    assert_eq!(finding(&a, "rbac-anonymous-bound"), Some(Critical));
    let default = alert(&audit(
        "update",
        binding_ref("clusterrolebindings", "system:public-info-viewer"),
        json!({"username": "system:apiserver"}),
        binding("ClusterRoleBinding", "system:public-info-viewer", subjects),
        Value::Null,
    ));
    assert_eq!(default.rule_ids(), ["rbac-binding-changed"]);
}

#[test]
fn reads_dry_runs_other_objects_and_early_stages_are_skipped_not_graded() {
    let config = sample_config();
    let mut get = audit(
        "get",
        aws_auth_ref(),
        iam_user("x", "y"),
        Value::Null,
        Value::Null,
    );
    let mut dry = audit(
        "patch",
        aws_auth_ref(),
        iam_user("x", "y"),
        Value::Null,
        Value::Null,
    );
    dry["requestURI"] = json!("/api/v1/namespaces/kube-system/configmaps/aws-auth?dryRun=All");
    let mut coredns = dry.clone();
    coredns["requestURI"] = json!("/x");
    coredns["objectRef"]["name"] = json!("coredns");
    let mut early = coredns.clone();
    early["objectRef"]["name"] = json!("aws-auth");
    early["stage"] = json!("RequestReceived");
    get["level"] = json!("Metadata");
    let input = [get, dry, coredns, early].map(|v| v.to_string()).join("\n");
    let mut reasons = Vec::new();
    ingest::scan_slice(
        "mem",
        input.as_bytes(),
        &Options::new(&config),
        &mut |o| match o {
            Outcome::Skipped { reason, location } => reasons.push(format!("{location}: {reason}")),
            other => panic!("{other:?}"),
        },
    )
    .unwrap();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(
        reasons[0].starts_with("mem: line 1: Kubernetes request"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("dry run"), "{reasons:?}");
    assert!(reasons[2].contains("neither aws-auth"), "{reasons:?}");
    assert!(reasons[3].contains("RequestReceived"), "{reasons:?}");
}

#[test]
fn every_audit_shape_yields_the_same_alerts() {
    let events = crate::util::events_dir();
    let read = |name: &str, cluster| {
        let bytes = {
            let mut s = Vec::new();
            std::io::Read::read_to_end(&mut ingest::open(&events.join(name)).unwrap(), &mut s)
                .unwrap();
            s
        };
        alerts_of(&bytes, cluster)
    };
    let ndjson = read("k8s-rbac.ndjson", Some("prod"));
    let mut payload = read("k8s-rbac.subscription.json", None);
    assert_eq!(ndjson.len(), 7);
    for a in &mut payload {
        assert_eq!(a.account, ACCOUNT, "the subscription's owner");
        a.account.clear();
    }
    assert_eq!(
        ndjson, payload,
        "the log group names the cluster, --cluster does for NDJSON"
    );
}

#[test]
fn unreadable_audit_input_is_an_error_naming_its_position() {
    let config = sample_config();
    let mut problems = Vec::new();
    let good = audit(
        "delete",
        aws_auth_ref(),
        iam_user("x", "y"),
        Value::Null,
        Value::Null,
    )
    .to_string();
    // Cut after the object is named: a line that cannot name a watched object is skipped by
    // the byte pre-filter unparsed (`--strict` reports it too), like a log file's records.
    let cut = &good[..good.len() - 20];
    let input = format!("{good}\n{cut}\nnot json\n");
    let mut watched = 0;
    ingest::scan_slice(
        "audit.log",
        input.as_bytes(),
        &Options::new(&config),
        &mut |o| match o {
            Outcome::Invalid(e) => problems.push(e.to_string()),
            Outcome::Watched { .. } => watched += 1,
            Outcome::Skipped { .. } | Outcome::Object { .. } => {}
        },
    )
    .unwrap();
    assert_eq!(watched, 1);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("audit.log: line 2: not a usable Kubernetes audit event"),
        "{problems:?}"
    );
    assert!(
        problems[1].starts_with("audit.log: line 3: expected a Kubernetes audit event"),
        "{problems:?}"
    );
    let bad_payload = json!({"awslogs": {"data": "bm90IGd6aXA="}}).to_string();
    let err = ingest::scan_slice(
        "event",
        bad_payload.as_bytes(),
        &Options::new(&config),
        &mut |o| {
            if let Outcome::Invalid(e) = o {
                problems.push(e.to_string())
            }
        },
    );
    err.unwrap();
    assert!(
        problems[2].starts_with("event: awslogs.data is not base64-encoded gzip"),
        "{problems:?}"
    );
}

#[test]
fn a_control_message_is_skipped_not_an_error() {
    use base64::Engine;
    let doc = json!({"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
        "subscriptionFilters": [], "logEvents": [{"id": "", "timestamp": 1, "message": "CWL CONTROL MESSAGE: Checking health of destination Lambda function."}]});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, doc.to_string().as_bytes()).unwrap();
    let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    let payload = json!({"awslogs": {"data": data}}).to_string();
    let config = sample_config();
    let mut reasons = Vec::new();
    ingest::scan_slice(
        "event",
        payload.as_bytes(),
        &Options::new(&config),
        &mut |o| match o {
            Outcome::Skipped { reason, .. } => reasons.push(reason.to_string()),
            other => panic!("{other:?}"),
        },
    )
    .unwrap();
    assert_eq!(
        reasons,
        ["CloudWatch Logs control message (subscription check, no log events)"]
    );
}

fn cluster_role(name: &str, rules: Value) -> Value {
    json!({"kind": "ClusterRole", "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": {"name": name}, "rules": rules})
}

/// NDJSON of audit events, in order.
fn ndjson(events: &[Value]) -> Vec<u8> {
    events
        .iter()
        .map(|e| format!("{e}\n"))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn a_binding_to_a_role_written_to_grant_everything_is_graded_like_cluster_admin() {
    let everything = json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]);
    let reads = json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]);
    let role_ref = binding_ref("clusterroles", "ci-superuser");
    let write = |verb: &str, rules: &Value| {
        let role = cluster_role("ci-superuser", rules.clone());
        audit(
            verb,
            role_ref.clone(),
            iam_user("ci-deployer", "run-7"),
            role.clone(),
            role,
        )
    };
    let bind = |name: &str| {
        audit(
            "create",
            binding_ref("clusterrolebindings", name),
            iam_user("ci-deployer", "run-7"),
            binding(
                "ClusterRoleBinding",
                "ci-superuser",
                json!([{"kind": "Group", "name": "ci:deployers"}]),
            ),
            Value::Null,
        )
    };
    // Bound before anything is known about the role: an ordinary binding.
    // Then the role is written to grant everything, bound again, narrowed, bound a third time.
    let alerts = alerts_of(
        &ndjson(&[
            bind("first"),
            write("create", &everything),
            bind("second"),
            write("update", &reads),
            bind("third"),
        ]),
        Some("prod"),
    );
    let names: Vec<&str> = alerts.iter().map(|a| a.event_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "create clusterrolebindings/first",
            "create clusterroles/ci-superuser",
            "create clusterrolebindings/second",
            "create clusterrolebindings/third",
        ],
        "the narrowing update is skipped: it grants less"
    );
    assert_eq!(
        alerts[0].rule_ids(),
        ["rbac-binding-changed", "unapproved-caller"]
    );
    assert_eq!(finding(&alerts[1], "rbac-wildcard-role"), Some(High));
    assert_eq!(
        finding(&alerts[2], "rbac-cluster-admin-bound"),
        Some(Critical)
    );
    assert_eq!(finding(&alerts[2], "rbac-binding-changed"), None);
    let summary = &alerts[2].findings[0].summary;
    assert!(
        summary.contains(
            "ClusterRole ci-superuser (as much as cluster-admin: verbs [*] on resources [*]"
        ),
        "{summary}"
    );
    assert_eq!(finding(&alerts[3], "rbac-cluster-admin-bound"), None);
    assert_eq!(finding(&alerts[3], "rbac-binding-changed"), Some(Low));

    // What one cluster's role grants says nothing about another cluster's role of that name.
    let payload_for = |cluster: &str, events: &[Value]| {
        json!({"messageType": "DATA_MESSAGE", "owner": ACCOUNT,
            "logGroup": format!("/aws/eks/{cluster}/cluster"), "logStream": "kube-apiserver-audit-1",
            "subscriptionFilters": ["f"],
            "logEvents": events.iter().enumerate().map(|(i, e)| json!({"id": i.to_string(), "timestamp": 0, "message": e.to_string()})).collect::<Vec<_>>()})
        .to_string()
    };
    let mut two = payload_for("prod", &[write("create", &everything)]);
    two.push('\n');
    two.push_str(&payload_for("staging", &[bind("second")]));
    let alerts = alerts_of(two.as_bytes(), None);
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[1].cluster.as_deref(), Some("staging"));
    assert_eq!(finding(&alerts[1], "rbac-cluster-admin-bound"), None);
}

#[test]
fn a_wildcard_role_denied_or_aggregated_is_still_reported() {
    let everything = json!([{"apiGroups": [""], "resources": ["*"], "verbs": ["*"]}]);
    let role = cluster_role("root", everything);
    let mut denied = audit(
        "create",
        binding_ref("clusterroles", "root"),
        iam_user("ci-deployer", "run-7"),
        role.clone(),
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403}),
    );
    denied["responseStatus"] =
        json!({"metadata": {}, "status": "Failure", "reason": "Forbidden", "code": 403});
    let a = alert(&denied);
    assert!(a.error_code.is_some(), "{a:?}");
    assert_eq!(finding(&a, "rbac-wildcard-role"), Some(High));
    let mut aggregated = role.clone();
    aggregated["aggregationRule"] =
        json!({"clusterRoleSelectors": [{"matchLabels": {"x": "true"}}]});
    let a = alert(&audit(
        "update",
        binding_ref("clusterroles", "root"),
        iam_user("ci-deployer", "run-7"),
        aggregated.clone(),
        aggregated,
    ));
    assert_eq!(finding(&a, "rbac-wildcard-role"), Some(Medium));
}

// ---- audit events without apiVersion, and Events of other APIs ----

/// Every problem the library reports for an input, in order.
fn problems_of(bytes: &[u8], mode: ReadMode) -> Vec<String> {
    let config = sample_config();
    let mut problems = Vec::new();
    ingest::scan_slice(
        "events.ndjson",
        bytes,
        &Options::new(&config).mode(mode),
        &mut |o| {
            if let Outcome::Invalid(e) = o {
                problems.push(e.to_string())
            }
        },
    )
    .unwrap();
    problems
}

#[test]
fn audit_events_without_api_version_give_the_alerts_they_give_with_it() {
    let events = crate::util::events_dir();
    let without = std::fs::read_to_string(events.join("k8s-no-api-version.ndjson")).unwrap();
    assert!(!without.contains(r#""apiVersion":"audit.k8s.io/"#));
    // The same lines as the API server writes them: apiVersion second.
    let with: String = without
        .lines()
        .map(|line| {
            let mut event: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
            let mut ordered = serde_json::Map::new();
            ordered.insert("kind".into(), event.remove("kind").unwrap());
            ordered.insert("apiVersion".into(), json!("audit.k8s.io/v1"));
            ordered.extend(event);
            format!("{}\n", Value::Object(ordered))
        })
        .collect();
    assert!(with.starts_with(r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","#));
    let read = alerts_of(without.as_bytes(), Some("prod"));
    assert_eq!(read.len(), 2, "the aws-auth patch and the binding");
    assert_eq!(read, alerts_of(with.as_bytes(), Some("prod")));
    let mut payload = std::fs::read_to_string(events.join("k8s-no-api-version.subscription.json"))
        .map(|p| alerts_of(p.as_bytes(), None))
        .unwrap();
    for a in &mut payload {
        a.account.clear();
    }
    assert_eq!(read, payload, "a subscription payload of the same lines");
}

#[test]
fn kubernetes_events_of_another_api_are_refused_naming_the_api_version_in_every_order() {
    // `kubectl get events -o json | jq -c '.items[]'` (keys sorted, apiVersion first), the
    // API server's order, and an audit line's order with another apiVersion later.
    let sorted = r#"{"apiVersion":"v1","involvedObject":{"kind":"ConfigMap","name":"aws-auth","namespace":"kube-system"},"kind":"Event","message":"updated","metadata":{"name":"aws-auth.18a","namespace":"kube-system"},"reason":"Updated","type":"Normal"}"#;
    let kind_first = r#"{"kind":"Event","apiVersion":"events.k8s.io/v1","metadata":{"name":"x"},"reason":"Pulled","regarding":{"kind":"Pod","name":"aws-node-7xk2q"}}"#;
    let later = r#"{"kind":"Event","stage":"ResponseComplete","verb":"delete","objectRef":{"resource":"configmaps","namespace":"kube-system","name":"aws-auth"},"apiVersion":"v1"}"#;
    let values = format!("{sorted}\n{kind_first}\n");
    let lines = format!("{kind_first}\n{sorted}\n{later}\n");
    for mode in [ReadMode::Fast, ReadMode::Strict] {
        for (input, expected) in [
            // Not started as the API server starts a line: read as JSON values.
            (
                &values,
                &[
                    "events.ndjson: a Kubernetes Event of apiVersion `v1`",
                    "events.ndjson: value 2: a Kubernetes Event of apiVersion `events.k8s.io/v1`",
                ][..],
            ),
            // Started with kind Event: read line by line.
            (
                &lines,
                &[
                    "events.ndjson: line 1: a Kubernetes Event of apiVersion `events.k8s.io/v1`",
                    "events.ndjson: line 2: a Kubernetes Event of apiVersion `v1`",
                    "events.ndjson: line 3: a Kubernetes Event of apiVersion `v1`",
                ][..],
            ),
        ] {
            let problems = problems_of(input.as_bytes(), mode);
            assert_eq!(problems.len(), expected.len(), "{mode:?} {problems:?}");
            for (problem, start) in problems.iter().zip(expected) {
                assert!(
                    problem.starts_with(start)
                        && problem.contains(
                            "is not an audit event (expected apiVersion audit.k8s.io/v1, or none)"
                        )
                        && problem.contains("replay the API server's audit log"),
                    "{mode:?} {problem}"
                );
            }
        }
    }
}

// ---- rows `migrate` refuses are still read and alerted by the watcher ----

#[test]
fn a_live_aws_auth_change_with_rows_migrate_refuses_is_still_alerted_row_by_row() {
    // What `migrate` refuses (a wildcard, an account id that is not 12 digits) or flags
    // (node groups in brackets) is a row like any other to the watcher.
    let roles = "- rolearn: arn:aws:iam::111122223333:role/teams/*\n  groups: [system:masters]\n- rolearn: arn:aws:iam::111122223333:role/legacy-node-role\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: ['<system:bootstrappers>', '<system:nodes>']\n";
    let object =
        json!({"kind": "ConfigMap", "data": {"mapRoles": roles, "mapAccounts": "- 4444555566\n"}});
    let a = alert(&audit(
        "update",
        aws_auth_ref(),
        iam_user("platform-engineer", "jdoe"),
        object.clone(),
        object,
    ));
    assert_eq!(finding(&a, "aws-auth-system-masters"), Some(Critical));
    assert_eq!(finding(&a, "aws-auth-account-mapped"), Some(High));
    let modified = a
        .findings
        .iter()
        .find(|f| f.rule.id == "aws-auth-modified")
        .unwrap();
    for row in [
        "role/teams/*",
        "role/legacy-node-role as system:node:{{EC2PrivateDNSName}} [<system:bootstrappers>, <system:nodes>]",
        "account 4444555566",
    ] {
        assert!(
            modified.summary.contains(row),
            "{row}: {}",
            modified.summary
        );
    }
    assert!(
        !modified.summary.contains("malformed"),
        "the content is read, not refused: {}",
        modified.summary
    );
}

#[test]
fn a_live_aws_auth_emptied_to_data_null_is_alerted_as_mapping_nobody() {
    let emptied = json!({"kind": "ConfigMap", "apiVersion": "v1",
        "metadata": {"name": "aws-auth", "namespace": "kube-system"}, "data": null});
    let input = ndjson(&[
        audit(
            "update",
            aws_auth_ref(),
            iam_user("terraform-deployer", "run-1"),
            configmap(NODE),
            configmap(NODE),
        ),
        audit(
            "update",
            aws_auth_ref(),
            iam_user("platform-engineer", "jdoe"),
            emptied.clone(),
            emptied,
        ),
    ]);
    let alerts = alerts_of(&input, Some("prod"));
    assert_eq!(alerts.len(), 2);
    let modified = alerts[1]
        .findings
        .iter()
        .find(|f| f.rule.id == "aws-auth-modified")
        .unwrap();
    assert!(
        modified
            .summary
            .contains("-mapRoles role/eks-node-role as system:node:"),
        "the node row is gone, as the previous event showed it: {}",
        modified.summary
    );
}

fn role_ref(namespace: &str, name: &str) -> Value {
    json!({"resource": "roles", "namespace": namespace, "name": name,
        "apiGroup": "rbac.authorization.k8s.io", "apiVersion": "v1"})
}

fn kube_system_role(name: &str, rules: Value) -> Value {
    json!({"kind": "Role", "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": {"name": name, "namespace": "kube-system"}, "rules": rules})
}

/// A binding in `namespace` (`None`: a ClusterRoleBinding) of the role `role_kind`/`role`.
fn bind_to(namespace: Option<&str>, name: &str, role_kind: &str, role: &str) -> Value {
    let (resource, kind) = match namespace {
        Some(_) => ("rolebindings", "RoleBinding"),
        None => ("clusterrolebindings", "ClusterRoleBinding"),
    };
    let mut object_ref = binding_ref(resource, name);
    let mut body = binding(
        kind,
        role,
        json!([{"kind": "Group", "name": "ci:deployers"}]),
    );
    body["roleRef"]["kind"] = json!(role_kind);
    if let Some(ns) = namespace {
        object_ref["namespace"] = json!(ns);
        body["metadata"]["namespace"] = json!(ns);
    }
    audit(
        "create",
        object_ref,
        iam_user("ci-deployer", "run-7"),
        body,
        Value::Null,
    )
}

#[test]
fn a_role_that_grants_an_escalation_primitive_is_high_and_one_that_grants_less_is_skipped() {
    let escalator = cluster_role(
        "ci-escalator",
        json!([{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["escalate", "bind"]},
               {"apiGroups": [""], "resources": ["*"], "verbs": ["impersonate"]}]),
    );
    let a = alert(&audit(
        "create",
        binding_ref("clusterroles", "ci-escalator"),
        iam_user("ci-deployer", "run-7"),
        escalator.clone(),
        escalator,
    ));
    assert_eq!(a.event_name, "create clusterroles/ci-escalator");
    assert_eq!(finding(&a, "rbac-escalation-role"), Some(High));
    assert_eq!(finding(&a, "rbac-wildcard-role"), None);
    assert_eq!(
        summary(&a, "rbac-escalation-role"),
        "ClusterRole ci-escalator created to grant escalate on clusterroles, bind on clusterroles, \
         impersonate on [users, groups, serviceaccounts] on cluster prod by role/ci-deployer (run-7), user agent says kubectl"
    );
    let minter = kube_system_role(
        "token-minter",
        json!([{"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}]),
    );
    let role = alert(&audit(
        "patch",
        role_ref("kube-system", "token-minter"),
        iam_user("ci-deployer", "run-7"),
        json!({"rules": minter["rules"].clone()}),
        minter,
    ));
    assert_eq!(role.event_name, "patch roles/token-minter");
    assert!(
        summary(&role, "rbac-escalation-role").starts_with(
            "Role kube-system/token-minter changed to grant create on serviceaccounts/token"
        ),
        "{:?}",
        role.findings
    );

    // Neither everything nor a primitive: read to grade later bindings, not alerted.
    let leases = kube_system_role(
        "leases",
        json!([{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["*"]},
               {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]),
    );
    let config = sample_config();
    let mut reasons = Vec::new();
    let input = ndjson(&[audit(
        "update",
        role_ref("kube-system", "leases"),
        iam_user("ci-deployer", "run-7"),
        leases.clone(),
        leases,
    )]);
    let mut history = History::default();
    ingest::scan_slice("mem", &input, &Options::new(&config), &mut |o| match o {
        Outcome::Watched { mut event, .. } => reasons.push(history.observe(&mut event)),
        other => panic!("{other:?}"),
    })
    .unwrap();
    assert_eq!(
        reasons
            .iter()
            .map(|r| r.as_ref().map(|s| s.to_string()))
            .collect::<Vec<_>>(),
        [Some("the Role grants no escalation primitive".to_string())],
        "a Role's Secrets are its namespace's, not every Secret"
    );
}

#[test]
fn an_aggregation_label_is_named_and_the_control_plane_or_an_aggregated_role_is_medium() {
    let mut role = cluster_role(
        "monitoring-secrets",
        json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]),
    );
    role["metadata"]["labels"] = json!({"rbac.authorization.k8s.io/aggregate-to-view": "true"});
    let labelled = alert(&audit(
        "create",
        binding_ref("clusterroles", "monitoring-secrets"),
        iam_user("platform-engineer", "jdoe"),
        role.clone(),
        role.clone(),
    ));
    assert_eq!(finding(&labelled, "rbac-escalation-role"), Some(High));
    assert!(
        summary(&labelled, "rbac-escalation-role").contains(
            "to grant get/list on secrets (labelled rbac.authorization.k8s.io/aggregate-to-view: \
             its rules join the built-in ClusterRole view, and so every binding of it)"
        ),
        "{:?}",
        labelled.findings
    );
    let reconciled = alert(&audit(
        "update",
        binding_ref("clusterroles", "system:controller:token-cleaner"),
        json!({"username": "system:apiserver"}),
        role.clone(),
        role.clone(),
    ));
    assert_eq!(finding(&reconciled, "rbac-escalation-role"), Some(Medium));
    let mut aggregated = role;
    aggregated["aggregationRule"] =
        json!({"clusterRoleSelectors": [{"matchLabels": {"x": "true"}}]});
    let a = alert(&audit(
        "update",
        binding_ref("clusterroles", "monitoring-secrets"),
        iam_user("platform-engineer", "jdoe"),
        aggregated.clone(),
        aggregated,
    ));
    assert_eq!(finding(&a, "rbac-escalation-role"), Some(Medium));
}

#[test]
fn a_binding_to_an_escalation_role_is_high_where_its_primitives_apply() {
    let write = |rules: Value| {
        let role = cluster_role("ci-escalator", rules);
        audit(
            "create",
            binding_ref("clusterroles", "ci-escalator"),
            iam_user("ci-deployer", "run-7"),
            role.clone(),
            role,
        )
    };
    let namespaced = json!([{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
                            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]);
    let cluster_only = json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]);
    let alerts = alerts_of(
        &ndjson(&[
            write(namespaced),
            bind_to(None, "everywhere", "ClusterRole", "ci-escalator"),
            bind_to(Some("payments"), "here", "ClusterRole", "ci-escalator"),
            write(cluster_only),
            bind_to(
                Some("payments"),
                "secrets-here",
                "ClusterRole",
                "ci-escalator",
            ),
        ]),
        Some("prod"),
    );
    assert_eq!(alerts.len(), 5);
    assert_eq!(finding(&alerts[1], "rbac-escalation-bound"), Some(High));
    assert_eq!(finding(&alerts[1], "rbac-binding-changed"), None);
    assert_eq!(
        summary(&alerts[1], "rbac-escalation-bound"),
        "ClusterRoleBinding everywhere binds ClusterRole ci-escalator (which grants create on pods/exec, \
         list on secrets; written at 2026-11-20T01:47:12Z) to Group ci:deployers on cluster prod by \
         role/ci-deployer (run-7), user agent says kubectl"
    );
    // In one namespace, exec is there; Secrets of one namespace are not every Secret.
    let here = summary(&alerts[2], "rbac-escalation-bound");
    assert!(
        here.contains("(which grants create on pods/exec; written at"),
        "{here}"
    );
    assert_eq!(finding(&alerts[4], "rbac-escalation-bound"), None);
    assert_eq!(finding(&alerts[4], "rbac-binding-changed"), Some(Low));

    // A Role is its namespace's: a RoleBinding elsewhere names another Role of that name.
    let minter = kube_system_role(
        "token-minter",
        json!([{"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}]),
    );
    let alerts = alerts_of(
        &ndjson(&[
            audit(
                "create",
                role_ref("kube-system", "token-minter"),
                iam_user("ci-deployer", "run-7"),
                minter.clone(),
                minter,
            ),
            bind_to(Some("kube-system"), "minters", "Role", "token-minter"),
            bind_to(Some("payments"), "minters", "Role", "token-minter"),
            bind_to(
                Some("kube-system"),
                "cluster-role",
                "ClusterRole",
                "token-minter",
            ),
        ]),
        Some("prod"),
    );
    assert_eq!(finding(&alerts[0], "rbac-escalation-role"), Some(High));
    assert_eq!(finding(&alerts[1], "rbac-escalation-bound"), Some(High));
    assert_eq!(finding(&alerts[2], "rbac-escalation-bound"), None);
    assert_eq!(finding(&alerts[3], "rbac-escalation-bound"), None);
}

#[test]
fn a_cluster_wide_binding_of_admin_or_edit_is_medium_and_a_namespaced_one_stays_low() {
    let graded = |namespace: Option<&str>, role: &str| {
        let a = alert(&bind_to(namespace, "b", "ClusterRole", role));
        (
            finding(&a, "rbac-escalation-bound"),
            finding(&a, "rbac-binding-changed"),
        )
    };
    assert_eq!(graded(None, "edit"), (Some(Medium), None));
    assert_eq!(graded(None, "admin"), (Some(Medium), None));
    assert_eq!(graded(Some("kube-system"), "admin"), (Some(Medium), None));
    assert_eq!(graded(Some("payments"), "edit"), (None, Some(Low)));
    assert_eq!(graded(None, "view"), (None, Some(Low)));
    let a = alert(&bind_to(None, "payments-edit", "ClusterRole", "edit"));
    assert_eq!(
        summary(&a, "rbac-escalation-bound"),
        "ClusterRoleBinding payments-edit binds the built-in ClusterRole edit in every namespace to \
         Group ci:deployers on cluster prod by role/ci-deployer (run-7), user agent says kubectl"
    );
}
