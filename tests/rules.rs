use eks_access_watch::RuleConfig;
use eks_access_watch::Severity::{self, *};
use eks_access_watch::ingest::{self, ReadMode};
use eks_access_watch::model::EntryType;
use eks_access_watch::model::{AdminCensus, Enrichment, EnrichmentStatus, EntryInfo};
use eks_access_watch::render;
use serde_json::{Value, json};

use crate::util::*;

fn associate(principal: &str, policy_name: &str, scope: Value, caller: Value) -> Value {
    record(
        "AssociateAccessPolicy",
        json!({"name": "prod", "principalArn": encode(principal), "policyArn": policy(policy_name), "accessScope": scope}),
        caller,
    )
}

fn cluster_scope() -> Value {
    json!({"type": "cluster"})
}

fn ns(names: &[&str]) -> Value {
    json!({"type": "namespace", "namespaces": names})
}

fn human() -> Value {
    assumed(HUMAN, "jdoe")
}

fn terraform() -> Value {
    assumed(TERRAFORM, "run-1")
}

const CI: &str = "arn:aws:iam::111122223333:role/ci-deployer";

#[test]
fn cluster_admin_to_a_role_by_a_human_is_critical() {
    let a = alert_for(&associate(
        CI,
        "AmazonEKSClusterAdminPolicy",
        cluster_scope(),
        human(),
    ));
    assert_eq!(finding(&a, "cluster-admin-granted"), Some(Critical));
    assert_eq!(a.severity, Critical);
    assert_eq!(a.principal_arn.as_deref(), Some(CI), "principal decoded");
    let s = &a.findings[0].summary;
    assert!(s.contains("ClusterAdmin granted cluster-wide to role/ci-deployer by role/platform-engineer (jdoe), user agent says aws-cli"), "{s}");
}

#[test]
fn cluster_admin_by_approved_caller_to_break_glass_is_medium() {
    let a = alert_for(&associate(
        BREAK_GLASS,
        "AmazonEKSClusterAdminPolicy",
        cluster_scope(),
        terraform(),
    ));
    assert_eq!(finding(&a, "cluster-admin-granted"), Some(Medium));
    assert_eq!(finding(&a, "break-glass-modified"), Some(Medium));
    assert_eq!(a.severity, Medium);
}

#[test]
fn cluster_admin_by_unapproved_caller_to_break_glass_stays_critical() {
    let a = alert_for(&associate(
        BREAK_GLASS,
        "AmazonEKSClusterAdminPolicy",
        cluster_scope(),
        human(),
    ));
    assert_eq!(finding(&a, "cluster-admin-granted"), Some(Critical));
    assert_eq!(finding(&a, "break-glass-modified"), Some(High));
}

#[test]
fn admin_is_high_at_cluster_scope_and_medium_in_namespaces() {
    let a = alert_for(&associate(
        CI,
        "AmazonEKSAdminPolicy",
        cluster_scope(),
        terraform(),
    ));
    assert_eq!(finding(&a, "admin-granted"), Some(High));
    let a = alert_for(&associate(
        CI,
        "AmazonEKSAdminPolicy",
        ns(&["payments"]),
        terraform(),
    ));
    assert_eq!(finding(&a, "admin-granted"), Some(Medium));
    assert_eq!(finding(&a, "system-namespace-write"), None);
}

#[test]
fn a_star_namespace_scope_counts_as_cluster_scope() {
    let a = alert_for(&associate(
        CI,
        "AmazonEKSAdminPolicy",
        ns(&["*"]),
        terraform(),
    ));
    assert_eq!(finding(&a, "admin-granted"), Some(High));
    assert_eq!(finding(&a, "wildcard-namespace-scope"), Some(Medium));
    assert_eq!(finding(&a, "system-namespace-write"), Some(High));
}

#[test]
fn secret_reading_policies_grade_by_scope() {
    for p in ["AmazonEKSAdminViewPolicy", "AmazonEKSSecretReaderPolicy"] {
        let a = alert_for(&associate(CI, p, cluster_scope(), terraform()));
        assert_eq!(finding(&a, "secret-read-granted"), Some(High), "{p}");
        let a = alert_for(&associate(CI, p, ns(&["team"]), terraform()));
        assert_eq!(finding(&a, "secret-read-granted"), Some(Medium), "{p}");
    }
}

#[test]
fn edit_reaching_kube_system_by_wildcard_is_system_namespace_write() {
    for scope in [
        ns(&["kube-system"]),
        ns(&["kube-*"]),
        ns(&["apps", "*-system"]),
        cluster_scope(),
    ] {
        let a = alert_for(&associate(
            CI,
            "AmazonEKSEditPolicy",
            scope.clone(),
            terraform(),
        ));
        assert_eq!(finding(&a, "system-namespace-write"), Some(High), "{scope}");
    }
    let a = alert_for(&associate(
        CI,
        "AmazonEKSEditPolicy",
        ns(&["dev-*"]),
        terraform(),
    ));
    assert_eq!(finding(&a, "system-namespace-write"), None);
    assert_eq!(finding(&a, "wildcard-namespace-scope"), Some(Medium));
    let a = alert_for(&associate(
        CI,
        "AmazonEKSViewPolicy",
        ns(&["kube-system"]),
        terraform(),
    ));
    assert_eq!(
        finding(&a, "system-namespace-write"),
        None,
        "view does not write"
    );
}

#[test]
fn routine_view_by_terraform_stays_low() {
    let a = alert_for(&associate(
        CI,
        "AmazonEKSViewPolicy",
        cluster_scope(),
        terraform(),
    ));
    assert_eq!(a.rule_ids(), vec!["access-policy-associated"]);
    assert_eq!(a.severity, Low);
}

#[test]
fn unknown_policy_is_medium_and_service_policy_to_a_person_is_high() {
    let a = alert_for(&associate(
        CI,
        "AmazonEKSBrandNewPolicy",
        cluster_scope(),
        terraform(),
    ));
    assert_eq!(finding(&a, "unknown-access-policy"), Some(Medium));
    let alice = "arn:aws:iam::111122223333:user/alice";
    let a = alert_for(&associate(
        alice,
        "AmazonEKSAutoNodePolicy",
        cluster_scope(),
        terraform(),
    ));
    assert_eq!(finding(&a, "service-policy-granted"), Some(High));
    let node = "arn:aws:iam::111122223333:role/eks-auto-node";
    let a = alert_for(&associate(
        node,
        "AmazonEKSAutoNodePolicy",
        cluster_scope(),
        terraform(),
    ));
    assert_eq!(finding(&a, "service-policy-granted"), None);
    assert_eq!(finding(&a, "access-policy-associated"), Some(Low));
}

#[test]
fn service_policy_to_a_standard_entry_is_a_person_per_enrichment() {
    let node = "arn:aws:iam::111122223333:role/dev-laptop";
    let event = normalise(&associate(
        node,
        "AmazonEKSHybridPolicy",
        cluster_scope(),
        terraform(),
    ));
    let mut enrichment = Enrichment::skipped("test");
    enrichment.status = EnrichmentStatus::Complete;
    enrichment.access_entry = Some(EntryInfo {
        entry_type: Some(EntryType::Standard),
        ..EntryInfo::default()
    });
    let a = classify(&event, &sample_config(), Some(&enrichment));
    assert_eq!(finding(&a, "service-policy-granted"), Some(High));
}

#[test]
fn self_grant_compares_the_issuer_role_with_path() {
    let oncall = "arn:aws:iam::111122223333:role/teams/payments/oncall";
    let a = alert_for(&associate(
        oncall,
        "AmazonEKSViewPolicy",
        cluster_scope(),
        assumed(oncall, "asmith"),
    ));
    assert_eq!(finding(&a, "self-grant"), Some(Critical));
    let a = alert_for(&associate(
        CI,
        "AmazonEKSViewPolicy",
        cluster_scope(),
        assumed(oncall, "asmith"),
    ));
    assert_eq!(finding(&a, "self-grant"), None);
}

#[test]
fn cross_account_principal_is_high() {
    let vendor = "arn:aws:iam::444455556666:role/vendor";
    let a = alert_for(&associate(
        vendor,
        "AmazonEKSViewPolicy",
        cluster_scope(),
        terraform(),
    ));
    assert_eq!(finding(&a, "cross-account-principal"), Some(High));
    let a = alert_for(&associate(
        CI,
        "AmazonEKSViewPolicy",
        cluster_scope(),
        terraform(),
    ));
    assert_eq!(finding(&a, "cross-account-principal"), None);
}

#[test]
fn root_caller_is_critical_even_when_the_call_failed() {
    let mut r = associate(
        CI,
        "AmazonEKSViewPolicy",
        cluster_scope(),
        json!({"type": "Root", "arn": "arn:aws:iam::111122223333:root", "accountId": ACCOUNT}),
    );
    assert_eq!(finding(&alert_for(&r), "root-caller"), Some(Critical));
    r["errorCode"] = json!("ResourceNotFoundException");
    assert_eq!(finding(&alert_for(&r), "root-caller"), Some(Critical));
}

#[test]
fn denied_attempt_is_medium_and_high_when_aiming_at_admin_or_self() {
    let mut r = associate(CI, "AmazonEKSViewPolicy", cluster_scope(), human());
    r["errorCode"] = json!("AccessDeniedException");
    let a = alert_for(&r);
    assert_eq!(finding(&a, "denied-attempt"), Some(Medium));
    assert_eq!(a.error_code.as_deref(), Some("AccessDeniedException"));
    let mut r = associate(CI, "AmazonEKSClusterAdminPolicy", cluster_scope(), human());
    r["errorCode"] = json!("AccessDenied");
    let a = alert_for(&r);
    assert_eq!(finding(&a, "denied-attempt"), Some(High));
    assert_eq!(
        finding(&a, "cluster-admin-granted"),
        Some(High),
        "a failed call is capped at high"
    );
    assert!(
        a.findings
            .iter()
            .any(|f| f.summary.contains("attempted (failed: AccessDenied)"))
    );
    let mut r = associate(HUMAN, "AmazonEKSViewPolicy", cluster_scope(), human());
    r["errorCode"] = json!("UnauthorizedOperation");
    assert_eq!(finding(&alert_for(&r), "denied-attempt"), Some(High));
}

#[test]
fn other_failures_are_not_denied_attempts() {
    let mut r = associate(CI, "AmazonEKSViewPolicy", cluster_scope(), human());
    r["errorCode"] = json!("ResourceNotFoundException");
    assert_eq!(finding(&alert_for(&r), "denied-attempt"), None);
}

#[test]
fn unapproved_caller_raises_one_level_up_to_high() {
    let a = alert_for(&associate(
        CI,
        "AmazonEKSViewPolicy",
        cluster_scope(),
        human(),
    ));
    assert_eq!(finding(&a, "unapproved-caller"), Some(Medium));
    assert_eq!(a.severity, Medium);
    let a = alert_for(&associate(
        CI,
        "AmazonEKSAdminPolicy",
        cluster_scope(),
        human(),
    ));
    assert_eq!(
        finding(&a, "unapproved-caller"),
        Some(High),
        "high raised stays high"
    );
    let a = alert_for(&associate(
        CI,
        "AmazonEKSClusterAdminPolicy",
        cluster_scope(),
        human(),
    ));
    assert_eq!(a.severity, Critical);
    assert_eq!(finding(&a, "unapproved-caller"), Some(High));
}

#[test]
fn unapproved_caller_needs_configured_approved_callers() {
    let event = normalise(&associate(
        CI,
        "AmazonEKSViewPolicy",
        cluster_scope(),
        human(),
    ));
    let a = classify(&event, &RuleConfig::default(), None);
    assert_eq!(finding(&a, "unapproved-caller"), None);
}

#[test]
fn access_entry_lifecycle_is_low() {
    let create = record(
        "CreateAccessEntry",
        json!({"name": "prod", "principalArn": CI, "kubernetesGroups": ["team:a"]}),
        terraform(),
    );
    assert_eq!(alert_for(&create).rule_ids(), vec!["access-entry-created"]);
    let update = record(
        "UpdateAccessEntry",
        json!({"name": "prod", "principalArn": encode(CI), "kubernetesGroups": ["team:a"]}),
        terraform(),
    );
    assert_eq!(alert_for(&update).rule_ids(), vec!["access-entry-updated"]);
    let delete = record(
        "DeleteAccessEntry",
        json!({"name": "prod", "principalArn": encode(CI)}),
        terraform(),
    );
    let a = alert_for(&delete);
    assert_eq!(a.rule_ids(), vec!["access-entry-deleted"]);
    assert_eq!(a.principal_arn.as_deref(), Some(CI));
}

#[test]
fn system_groups_and_usernames_are_red_flags() {
    let r = record(
        "CreateAccessEntry",
        json!({"name": "p", "principalArn": CI, "kubernetesGroups": ["system:masters"]}),
        terraform(),
    );
    assert_eq!(
        finding(&alert_for(&r), "system-group-requested"),
        Some(High)
    );
    let r = record(
        "UpdateAccessEntry",
        json!({"name": "p", "principalArn": encode(CI), "username": "system:admin"}),
        terraform(),
    );
    assert_eq!(
        finding(&alert_for(&r), "system-group-requested"),
        Some(High)
    );
    let r = record(
        "CreateAccessEntry",
        json!({"name": "p", "principalArn": CI, "kubernetesGroups": ["systems-team"]}),
        terraform(),
    );
    assert_eq!(finding(&alert_for(&r), "system-group-requested"), None);
}

#[test]
fn privileged_group_names_are_medium() {
    let r = record(
        "CreateAccessEntry",
        json!({"name": "p", "principalArn": CI, "kubernetesGroups": ["team:viewers", "masters"]}),
        terraform(),
    );
    assert_eq!(
        finding(&alert_for(&r), "privileged-group-name"),
        Some(Medium)
    );
}

#[test]
fn node_identity_is_low_by_approved_caller_else_medium() {
    let node = "arn:aws:iam::111122223333:role/node";
    for t in [
        "EC2",
        "EC2_LINUX",
        "EC2_WINDOWS",
        "FARGATE_LINUX",
        "HYBRID_LINUX",
        "HYPERPOD_LINUX",
    ] {
        let r = record(
            "CreateAccessEntry",
            json!({"name": "p", "principalArn": node, "type": t}),
            terraform(),
        );
        assert_eq!(
            finding(&alert_for(&r), "node-identity-granted"),
            Some(Low),
            "{t}"
        );
        let r = record(
            "CreateAccessEntry",
            json!({"name": "p", "principalArn": node, "type": t}),
            human(),
        );
        assert_eq!(
            finding(&alert_for(&r), "node-identity-granted"),
            Some(Medium),
            "{t}"
        );
    }
    let r = record(
        "CreateAccessEntry",
        json!({"name": "p", "principalArn": node, "type": "STANDARD"}),
        human(),
    );
    assert_eq!(finding(&alert_for(&r), "node-identity-granted"), None);
}

#[test]
fn node_entries_created_by_eks_itself_are_low_and_not_unapproved() {
    let slr = "arn:aws:iam::111122223333:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS";
    let r = record(
        "CreateAccessEntry",
        json!({"name": "p", "principalArn": "arn:aws:iam::111122223333:role/ng", "type": "EC2_LINUX"}),
        assumed(slr, "eks"),
    );
    let a = alert_for(&r);
    assert_eq!(finding(&a, "node-identity-granted"), Some(Low));
    assert_eq!(finding(&a, "unapproved-caller"), None);
}

#[test]
fn session_principal_entry_is_low() {
    let r = record(
        "CreateAccessEntry",
        json!({"name": "p", "principalArn": "arn:aws:sts::111122223333:assumed-role/x/y"}),
        terraform(),
    );
    assert_eq!(
        finding(&alert_for(&r), "session-principal-entry"),
        Some(Low)
    );
}

fn update_config(params: Value, caller: Value) -> Value {
    let mut p = json!({"name": "prod", "clientRequestToken": "t"});
    p.as_object_mut()
        .unwrap()
        .extend(params.as_object().unwrap().clone());
    record("UpdateClusterConfig", p, caller)
}

#[test]
fn auth_mode_changes_grade_by_target_mode() {
    let cases: [(&str, Severity); 4] = [
        ("API", High),
        ("API_AND_CONFIG_MAP", Medium),
        ("CONFIG_MAP", Medium),
        ("SOMETHING", Medium),
    ];
    for (mode, sev) in cases {
        let a = alert_for(&update_config(
            json!({"accessConfig": {"authenticationMode": mode}}),
            terraform(),
        ));
        assert_eq!(finding(&a, "auth-mode-changed"), Some(sev), "{mode}");
        assert_eq!(
            finding(&a, "lockout-risk"),
            None,
            "lockout needs enrichment"
        );
    }
}

fn census(admins: &[&str], truncated: bool) -> Enrichment {
    let mut e = Enrichment::skipped("test");
    e.status = EnrichmentStatus::Complete;
    e.errors.clear();
    e.remaining_admins = Some(AdminCensus {
        admins: admins.iter().map(|s| s.to_string()).collect(),
        entries_checked: 3,
        truncated,
    });
    e
}

#[test]
fn lockout_risk_fires_when_enrichment_finds_no_admin_left() {
    let event = normalise(&update_config(
        json!({"accessConfig": {"authenticationMode": "API"}}),
        human(),
    ));
    let a = classify(&event, &sample_config(), Some(&census(&[], false)));
    assert_eq!(finding(&a, "lockout-risk"), Some(Critical));
    let a = classify(&event, &sample_config(), Some(&census(&[CI], false)));
    assert_eq!(finding(&a, "lockout-risk"), None);
    let a = classify(&event, &sample_config(), Some(&census(&[], true)));
    assert_eq!(
        finding(&a, "lockout-risk"),
        None,
        "an incomplete census proves nothing"
    );
    let delete = normalise(&record(
        "DeleteAccessEntry",
        json!({"name": "prod", "principalArn": encode(CI)}),
        human(),
    ));
    assert_eq!(
        finding(
            &classify(&delete, &sample_config(), Some(&census(&[], false))),
            "lockout-risk"
        ),
        Some(Critical)
    );
}

#[test]
fn admin_removal_is_high_and_medium_by_approved_caller() {
    let r = record(
        "DisassociateAccessPolicy",
        json!({"name": "p", "principalArn": encode(CI), "policyArn": encode(&policy("AmazonEKSClusterAdminPolicy"))}),
        human(),
    );
    let a = alert_for(&r);
    assert_eq!(finding(&a, "admin-access-removed"), Some(High));
    assert_eq!(finding(&a, "access-policy-disassociated"), None);
    assert_eq!(
        a.policy_arn.as_deref(),
        Some(policy("AmazonEKSClusterAdminPolicy").as_str())
    );
    let r = record(
        "DisassociateAccessPolicy",
        json!({"name": "p", "principalArn": encode(CI), "policyArn": encode(&policy("AmazonEKSAdminPolicy"))}),
        terraform(),
    );
    assert_eq!(
        finding(&alert_for(&r), "admin-access-removed"),
        Some(Medium)
    );
    let r = record(
        "DisassociateAccessPolicy",
        json!({"name": "p", "principalArn": encode(CI), "policyArn": encode(&policy("AmazonEKSViewPolicy"))}),
        terraform(),
    );
    assert_eq!(
        alert_for(&r).rule_ids(),
        vec!["access-policy-disassociated"]
    );
}

#[test]
fn deleting_the_break_glass_entry_is_high() {
    let r = record(
        "DeleteAccessEntry",
        json!({"name": "p", "principalArn": encode(BREAK_GLASS)}),
        human(),
    );
    let a = alert_for(&r);
    assert_eq!(finding(&a, "break-glass-modified"), Some(High));
    assert_eq!(finding(&a, "admin-access-removed"), Some(High));
}

#[test]
fn break_glass_by_tag_counts_with_enrichment() {
    let role = "arn:aws:iam::111122223333:role/emergency-access";
    let event = normalise(&record(
        "DeleteAccessEntry",
        json!({"name": "p", "principalArn": encode(role)}),
        human(),
    ));
    let mut e = Enrichment::skipped("t");
    e.access_entry = Some(EntryInfo {
        tags: [("Purpose".to_string(), "break-glass".to_string())].into(),
        ..EntryInfo::default()
    });
    let a = classify(&event, &sample_config(), Some(&e));
    assert_eq!(finding(&a, "break-glass-modified"), Some(High));
    assert_eq!(
        finding(
            &classify(&event, &sample_config(), None),
            "break-glass-modified"
        ),
        None
    );
}

#[test]
fn cluster_config_risks() {
    let a = alert_for(&update_config(
        json!({"logging": {"clusterLogging": [{"types": ["audit"], "enabled": false}]}}),
        human(),
    ));
    assert_eq!(finding(&a, "audit-logging-disabled"), Some(High));
    let a = alert_for(&update_config(
        json!({"logging": {"clusterLogging": [{"types": ["api", "scheduler"], "enabled": false}]}}),
        human(),
    ));
    assert_eq!(finding(&a, "audit-logging-disabled"), None);
    let a = alert_for(&update_config(
        json!({"resourcesVpcConfig": {"endpointPublicAccess": true}}),
        human(),
    ));
    assert_eq!(
        finding(&a, "public-endpoint-opened"),
        Some(High),
        "no CIDRs means 0.0.0.0/0"
    );
    let a = alert_for(&update_config(
        json!({"resourcesVpcConfig": {"endpointPublicAccess": true, "publicAccessCidrs": ["203.0.113.0/24"]}}),
        human(),
    ));
    assert_eq!(finding(&a, "public-endpoint-opened"), None);
    let a = alert_for(&update_config(
        json!({"deletionProtection": false}),
        terraform(),
    ));
    assert_eq!(finding(&a, "deletion-protection-disabled"), Some(Medium));
    assert_eq!(finding(&a, "cluster-config-updated"), Some(Info));
}

#[test]
fn create_cluster_defaults_are_flagged() {
    let r = record("CreateCluster", json!({"name": "new"}), terraform());
    let a = alert_for(&r);
    assert_eq!(finding(&a, "bootstrap-creator-admin"), Some(Medium));
    assert_eq!(finding(&a, "legacy-auth-mode"), Some(Low));
    let r = record(
        "CreateCluster",
        json!({"name": "new", "accessConfig": {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": false}}),
        terraform(),
    );
    assert_eq!(alert_for(&r).rule_ids(), vec!["cluster-created"]);
}

#[test]
fn identity_providers_pod_identity_and_deletion() {
    let r = record(
        "AssociateIdentityProviderConfig",
        json!({"name": "p", "oidc": {"identityProviderConfigName": "okta", "issuerUrl": "https://idp"}}),
        human(),
    );
    assert_eq!(
        finding(&alert_for(&r), "oidc-provider-associated"),
        Some(High)
    );
    let r = record(
        "CreatePodIdentityAssociation",
        json!({"name": "p", "namespace": "kube-system", "serviceAccount": "x", "roleArn": CI}),
        terraform(),
    );
    assert_eq!(
        finding(&alert_for(&r), "pod-identity-association"),
        Some(Medium)
    );
    let r = record(
        "CreatePodIdentityAssociation",
        json!({"name": "p", "namespace": "apps", "serviceAccount": "x", "roleArn": CI}),
        terraform(),
    );
    assert_eq!(
        finding(&alert_for(&r), "pod-identity-association"),
        Some(Low)
    );
    let r = record("DeleteCluster", json!({"name": "p"}), terraform());
    assert_eq!(finding(&alert_for(&r), "cluster-deleted"), Some(Medium));
}

#[test]
fn break_glass_assumption_is_critical_and_other_roles_are_not_watched() {
    let mut r = record(
        "AssumeRole",
        json!({"roleArn": BREAK_GLASS, "roleSessionName": "incident"}),
        human(),
    );
    r["eventSource"] = json!("sts.amazonaws.com");
    let a = alert_for(&r);
    assert_eq!(
        a.rule_ids(),
        vec!["break-glass-assumed"],
        "no unapproved-caller on an assumption"
    );
    assert_eq!(a.severity, Critical);
    r["requestParameters"]["roleArn"] = json!(CI);
    for mode in [ReadMode::Fast, ReadMode::Strict] {
        assert!(matches!(
            ingest::decide_record(&r.to_string(), &sample_config(), mode),
            Ok(Err(_))
        ));
    }
}

#[test]
fn attacker_controlled_text_is_sanitised_in_summaries_and_subject() {
    let r = record(
        "CreateAccessEntry",
        json!({"name": "p\nx", "principalArn": CI, "kubernetesGroups": ["cluster-admins\u{1b}[2J\n[CRITICAL] all clear"]}),
        assumed(HUMAN, "evil\r\nsession"),
    );
    let a = alert_for(&r);
    for f in &a.findings {
        assert!(!f.summary.chars().any(char::is_control), "{:?}", f.summary);
    }
    let subject = render::subject(&a);
    assert!(
        subject.len() <= 100 && subject.chars().all(|c| (' '..='~').contains(&c)),
        "{subject}"
    );
}

#[test]
fn classification_is_deterministic() {
    let r = associate(CI, "AmazonEKSClusterAdminPolicy", cluster_scope(), human());
    assert_eq!(alert_for(&r), alert_for(&r));
}

#[test]
fn successful_grants_carry_a_decoded_undo_command_and_failed_ones_none() {
    let r = associate(CI, "AmazonEKSClusterAdminPolicy", cluster_scope(), human());
    let cmd = render::undo_command(&alert_for(&r)).unwrap();
    assert_eq!(
        cmd,
        format!(
            "aws eks disassociate-access-policy --region eu-west-1 --cluster-name prod --principal-arn {CI} --policy-arn {}",
            policy("AmazonEKSClusterAdminPolicy")
        )
    );
    let mut r = r;
    r["errorCode"] = json!("AccessDeniedException");
    assert_eq!(render::undo_command(&alert_for(&r)), None);
}
