//! The rule catalogue: every rule's id, base severity, what it fires on, why it exists and what
//! to do, plus one small pure function per rule.
//!
//! **All matching rules fire** (not first-match): an alert carries every finding that applies
//! and takes the highest finding's severity. Two adjustments apply after the rules run:
//! - a *failed* call (CloudTrail `errorCode`) changed nothing, so its findings are capped at
//!   `high`, except `root-caller` (root credentials in use are the incident either way);
//!   `denied-attempt` grades the attempt itself;
//! - `unapproved-caller` is graded last: one level above the other findings, at most `high`.
//!
//! Rules never call AWS: enrichment is handed in as plain data ([`Enrichment`]), so every rule
//! is testable with a JSON fixture.

pub mod policies;

use crate::alert::{Alert, Finding, Severity};
use crate::arn;
use crate::config::RuleConfig;
use crate::enrichment::Enrichment;
use crate::event::{AccessEntryType, AccessEvent, AccessScope, AuthMode, Change, EntrySpec};
use policies::{PolicyClass, PolicyInfo, classify_policy};

/// What a rule sees: the event, the configuration, the enrichment, and facts derived once.
pub struct Ctx<'a> {
    pub event: &'a AccessEvent,
    pub config: &'a RuleConfig,
    pub enrichment: Option<&'a Enrichment>,
    /// The caller is a configured approved caller, or AWS itself (service-linked roles,
    /// `AWSService` identities: EKS creates node entries for managed node groups).
    pub approved: bool,
    pub target: Option<&'a str>,
    /// The target principal is a break-glass role (configured, by name, or tagged).
    pub target_break_glass: bool,
    /// The caller changes its own access.
    pub self_target: bool,
    pub policy: Option<PolicyInfo>,
}

impl Ctx<'_> {
    fn failed(&self) -> bool {
        self.event.error.is_some()
    }

    /// "granted" for a successful call, "grant attempted (failed: AccessDeniedException)" otherwise.
    fn did(&self, done: &str, attempt: &str) -> String {
        match &self.event.error {
            None => done.to_string(),
            Some(e) => format!("{attempt} attempted (failed: {})", e.code),
        }
    }

    fn target_name(&self) -> String {
        self.target
            .map(arn::short_name)
            .unwrap_or_else(|| "an unnamed principal".into())
    }

    /// " by role/platform-engineer (jdoe) via aws-cli"
    fn by(&self) -> String {
        format!(
            " by {} via {}",
            self.event.actor.display, self.event.actor.agent
        )
    }

    fn on_cluster(&self) -> String {
        match &self.event.cluster {
            Some(c) => format!(" on cluster {c}"),
            None => String::new(),
        }
    }

    fn policy_class(&self) -> Option<PolicyClass> {
        self.policy.as_ref().map(|p| p.class)
    }

    fn associate(&self) -> Option<&AccessScope> {
        match &self.event.change {
            Change::AssociateAccessPolicy { access_scope, .. } => Some(access_scope),
            _ => None,
        }
    }

    fn entry(&self) -> Option<&EntrySpec> {
        match &self.event.change {
            Change::CreateAccessEntry(e) | Change::UpdateAccessEntry(e) => Some(e),
            _ => None,
        }
    }

    /// Calls that give the target access (create/update entry, associate policy).
    fn grants(&self) -> bool {
        matches!(
            self.event.change,
            Change::CreateAccessEntry(_)
                | Change::UpdateAccessEntry(_)
                | Change::AssociateAccessPolicy { .. }
        )
    }

    /// The target is a person's identity (IAM user, IAM Identity Center role, or an entry the
    /// EKS API reports as STANDARD), as opposed to a node or service role.
    fn target_is_person(&self) -> bool {
        let Some(t) = self.target else { return false };
        let standard_entry = self
            .enrichment
            .and_then(|e| e.access_entry.as_ref())
            .and_then(|e| e.entry_type.as_deref())
            .is_some_and(|t| t.eq_ignore_ascii_case("STANDARD"));
        arn::is_iam_user(t) || t.contains("AWSReservedSSO_") || standard_entry
    }

    fn admin_removed(&self) -> bool {
        match &self.event.change {
            Change::DisassociateAccessPolicy { .. } => {
                matches!(
                    self.policy_class(),
                    Some(PolicyClass::ClusterAdmin | PolicyClass::Admin)
                )
            }
            // A deleted entry's policies are gone with it; offline we only know for break-glass.
            Change::DeleteAccessEntry { .. } => self.target_break_glass,
            _ => false,
        }
    }
}

/// A rule's verdict: severity and the human sentence.
pub struct Hit {
    pub severity: Severity,
    pub summary: String,
}

fn hit(severity: Severity, summary: String) -> Option<Hit> {
    Some(Hit { severity, summary })
}

/// One entry in the catalogue.
pub struct Rule {
    /// Stable kebab-case id (subscribers filter on it).
    pub id: &'static str,
    /// Severity as documented; the function may grade up or down as `fires_on` says.
    pub base: Severity,
    /// When it fires and how it grades, for the docs.
    pub fires_on: &'static str,
    /// Why the rule exists: the risk, the pitfall, the attack.
    pub why: &'static str,
    /// What the on-call engineer should do first.
    pub next_step: &'static str,
    /// Failed calls keep this finding's severity (not capped at high).
    pub uncapped_on_failure: bool,
    pub eval: fn(&Ctx) -> Option<Hit>,
}

use Severity::{Critical, High, Info, Low, Medium};

/// The catalogue, in the order findings are listed.
pub static CATALOGUE: &[Rule] = &[
    Rule {
        id: "root-caller",
        base: Critical,
        fires_on: "any watched call made with the account's root credentials",
        why: "Root bypasses every IAM guardrail; nobody should use it for cluster access, so any use is either an emergency someone must own or a compromised root.",
        next_step: "Confirm who holds the root credentials right now; if nobody expected this, rotate root credentials and review CloudTrail for the same session.",
        uncapped_on_failure: true,
        eval: |c| {
            c.event.actor.is_root().then(|| Hit {
                severity: Critical,
                summary: format!(
                    "Root credentials used for {}{}{}",
                    c.event.event_name,
                    c.on_cluster(),
                    c.by()
                ),
            })
        },
    },
    Rule {
        id: "break-glass-assumed",
        base: Critical,
        fires_on: "sts AssumeRole / AssumeRoleWithSAML / AssumeRoleWithWebIdentity of a break-glass role",
        why: "The break-glass role is only for emergencies; its use must always be seen by a human, in the moment, and tied to an incident.",
        next_step: "Find the incident this use belongs to; if there is none, revoke the session (aws iam put-role-policy with an aws:TokenIssueTime deny) and investigate the caller.",
        uncapped_on_failure: false,
        eval: |c| match &c.event.change {
            Change::AssumeRole { session_name, .. } if c.target_break_glass => hit(
                Critical,
                format!(
                    "Break-glass role {} {}{}{}",
                    c.target_name(),
                    c.did("assumed", "assumption"),
                    session_name
                        .as_ref()
                        .map(|s| format!(" as session {s}"))
                        .unwrap_or_default(),
                    c.by()
                ),
            ),
            _ => None,
        },
    },
    Rule {
        id: "self-grant",
        base: Critical,
        fires_on: "an access entry or policy association whose target is the caller's own role or user",
        why: "A principal widening its own cluster access is the classic privilege escalation of a compromised identity; legitimate automation grants others, not itself.",
        next_step: "Check whether the caller's credentials are compromised; remove the grant and the entry if the change was not planned.",
        uncapped_on_failure: false,
        eval: |c| {
            (c.grants() && c.self_target).then(|| Hit {
                severity: Critical,
                summary: format!(
                    "{} {} its own cluster access{}{}",
                    c.event.actor.display,
                    match &c.event.error {
                        None => "widened".to_string(),
                        Some(e) => format!("tried (and failed: {}) to widen", e.code),
                    },
                    c.policy
                        .as_ref()
                        .map(|p| format!(" ({})", p.short_name()))
                        .unwrap_or_default(),
                    c.on_cluster()
                ),
            })
        },
    },
    Rule {
        id: "cluster-admin-granted",
        base: Critical,
        fires_on: "AssociateAccessPolicy of AmazonEKSClusterAdminPolicy; medium when the target is a break-glass role and the caller is approved",
        why: "ClusterAdmin is full control of the cluster and everything it can reach (secrets, service-account tokens, node roles). One association to the wrong role is a full compromise.",
        next_step: "Confirm the grant with the caller; if unexpected, run `aws eks disassociate-access-policy` for this principal and policy.",
        uncapped_on_failure: false,
        eval: |c| {
            let scope = c.associate()?;
            (c.policy_class() == Some(PolicyClass::ClusterAdmin)).then(|| Hit {
                severity: if c.target_break_glass && c.approved {
                    Medium
                } else {
                    Critical
                },
                summary: format!(
                    "ClusterAdmin {} {} to {}{}",
                    c.did("granted", "grant"),
                    scope.describe(),
                    c.target_name(),
                    c.by()
                ),
            })
        },
    },
    Rule {
        id: "admin-granted",
        base: High,
        fires_on: "AssociateAccessPolicy of AmazonEKSAdminPolicy: high at cluster scope (or `*`), medium in namespaces",
        why: "Admin can create RoleBindings and read Secrets in its scope; at cluster scope that is nearly cluster-admin.",
        next_step: "Confirm the grant and its scope with the caller; narrow it to the team's namespaces or disassociate it.",
        uncapped_on_failure: false,
        eval: |c| {
            let scope = c.associate()?;
            (c.policy_class() == Some(PolicyClass::Admin)).then(|| Hit {
                severity: if scope.is_cluster_wide() {
                    High
                } else {
                    Medium
                },
                summary: format!(
                    "Admin {} {} to {}{}",
                    c.did("granted", "grant"),
                    scope.describe(),
                    c.target_name(),
                    c.by()
                ),
            })
        },
    },
    Rule {
        id: "secret-read-granted",
        base: High,
        fires_on: "AssociateAccessPolicy of AmazonEKSAdminViewPolicy or AmazonEKSSecretReaderPolicy: high at cluster scope, medium in namespaces",
        why: "Reading Secrets yields service-account tokens and credentials: a read-only-looking grant that is an escalation path.",
        next_step: "Check that the principal needs Secrets; prefer AmazonEKSViewPolicy, or scope the grant to the namespaces it owns.",
        uncapped_on_failure: false,
        eval: |c| {
            let scope = c.associate()?;
            (c.policy_class() == Some(PolicyClass::SecretRead)).then(|| Hit {
                severity: if scope.is_cluster_wide() {
                    High
                } else {
                    Medium
                },
                summary: format!(
                    "{} (reads Secrets) {} {} to {}{}",
                    c.policy
                        .as_ref()
                        .map(|p| p.short_name())
                        .unwrap_or_default(),
                    c.did("granted", "grant"),
                    scope.describe(),
                    c.target_name(),
                    c.by()
                ),
            })
        },
    },
    Rule {
        id: "system-namespace-write",
        base: High,
        fires_on: "AssociateAccessPolicy of Edit or Admin whose scope reaches kube-system (cluster scope, `kube-system`, or a wildcard matching it)",
        why: "Write access to kube-system lets a principal replace system DaemonSets and controllers that run with node or cluster-wide privileges.",
        next_step: "Remove kube-system from the scope unless the principal operates cluster add-ons.",
        uncapped_on_failure: false,
        eval: |c| {
            let scope = c.associate()?;
            let writes = matches!(
                c.policy_class(),
                Some(PolicyClass::Edit | PolicyClass::Admin)
            );
            (writes && scope.covers("kube-system")).then(|| Hit {
                severity: High,
                summary: format!(
                    "{} write access to kube-system {} to {} ({}){}",
                    c.policy
                        .as_ref()
                        .map(|p| p.short_name())
                        .unwrap_or_default(),
                    c.did("granted", "grant"),
                    c.target_name(),
                    scope.describe(),
                    c.by()
                ),
            })
        },
    },
    Rule {
        id: "wildcard-namespace-scope",
        base: Medium,
        fires_on: "a namespace access scope containing a wildcard (`dev-*`); `*` alone is treated as cluster scope by the other rules",
        why: "A wildcard grants namespaces that do not exist yet: whoever can create `dev-anything` later inherits the grant.",
        next_step: "Replace the wildcard with the explicit namespaces, or confirm who may create matching namespaces.",
        uncapped_on_failure: false,
        eval: |c| match c.associate()? {
            AccessScope::Namespace { namespaces } if namespaces.iter().any(|n| n.contains('*')) => {
                hit(
                    Medium,
                    format!(
                        "{} {} with wildcard namespaces [{}]{} to {}{}",
                        c.policy
                            .as_ref()
                            .map(|p| p.short_name())
                            .unwrap_or("policy"),
                        c.did("granted", "grant"),
                        namespaces.join(", "),
                        if namespaces.iter().any(|n| n == "*") {
                            " (every namespace)"
                        } else {
                            ""
                        },
                        c.target_name(),
                        c.by()
                    ),
                )
            }
            _ => None,
        },
    },
    Rule {
        id: "service-policy-granted",
        base: High,
        fires_on: "AssociateAccessPolicy of a service policy (Auto Mode, hybrid, HyperPod, add-on policies) to a person: an IAM user, an IAM Identity Center role, or an entry the EKS API reports as STANDARD",
        why: "Service policies carry node- or controller-level permissions meant for AWS-managed roles; on a human identity they are an unreviewed privilege path.",
        next_step: "Disassociate the policy from the person; give the node or service role its own entry of the right type.",
        uncapped_on_failure: false,
        eval: |c| {
            c.associate()?;
            (c.policy_class() == Some(PolicyClass::Service) && c.target_is_person()).then(|| Hit {
                severity: High,
                summary: format!(
                    "Service policy {} {} to person {}{}",
                    c.policy
                        .as_ref()
                        .map(|p| p.name.as_str())
                        .unwrap_or_default(),
                    c.did("granted", "grant"),
                    c.target_name(),
                    c.by()
                ),
            })
        },
    },
    Rule {
        id: "unknown-access-policy",
        base: Medium,
        fires_on: "AssociateAccessPolicy of a policy ARN not in the known-policy table",
        why: "AWS adds access policies; a policy we cannot grade must be looked at by a human rather than assumed harmless.",
        next_step: "Look the policy up in the EKS user guide (access policy permissions) and add it to the known-policy table.",
        uncapped_on_failure: false,
        eval: |c| {
            c.associate()?;
            (c.policy_class().is_none_or(|p| p == PolicyClass::Unknown)).then(|| Hit {
                severity: Medium,
                summary: format!(
                    "Unknown access policy {} {} to {}{}",
                    c.policy
                        .as_ref()
                        .map(|p| p.name.as_str())
                        .unwrap_or("(none given)"),
                    c.did("associated", "association"),
                    c.target_name(),
                    c.by()
                ),
            })
        },
    },
    Rule {
        id: "access-policy-associated",
        base: Low,
        fires_on: "AssociateAccessPolicy of View, Edit, or a service policy to a non-person role (the grants the more specific rules do not grade)",
        why: "Routine grants are recorded so the history is complete, at a severity that stays quiet.",
        next_step: "No action needed if the change came from your usual pipeline.",
        uncapped_on_failure: false,
        eval: |c| {
            let scope = c.associate()?;
            let routine = match c.policy_class() {
                Some(PolicyClass::View | PolicyClass::Edit) => true,
                Some(PolicyClass::Service) => !c.target_is_person(),
                _ => false,
            };
            routine.then(|| Hit {
                severity: Low,
                summary: format!(
                    "{} {} {} to {}{}",
                    c.policy
                        .as_ref()
                        .map(|p| p.short_name())
                        .unwrap_or_default(),
                    c.did("associated", "association"),
                    scope.describe(),
                    c.target_name(),
                    c.by()
                ),
            })
        },
    },
    Rule {
        id: "admin-access-removed",
        base: High,
        fires_on: "DisassociateAccessPolicy of Admin/ClusterAdmin, or DeleteAccessEntry of a break-glass role; medium by an approved caller",
        why: "Removing admin paths is how an attacker locks responders out, and how a mistaken change leaves nobody able to fix the cluster.",
        next_step: "Check that at least one working admin path remains (`aws eks list-access-entries` + `list-associated-access-policies`).",
        uncapped_on_failure: false,
        eval: |c| {
            c.admin_removed().then(|| Hit {
                severity: if c.approved { Medium } else { High },
                summary: format!(
                    "Admin access {} from {}{}{}",
                    c.did("removed", "removal"),
                    c.target_name(),
                    c.policy
                        .as_ref()
                        .map(|p| format!(" ({})", p.short_name()))
                        .unwrap_or_else(|| " (entry deleted)".into()),
                    c.by()
                ),
            })
        },
    },
    Rule {
        id: "access-policy-disassociated",
        base: Low,
        fires_on: "DisassociateAccessPolicy of any policy other than Admin/ClusterAdmin",
        why: "Removals are recorded so the history is complete; they rarely add risk.",
        next_step: "No action needed if the change was planned.",
        uncapped_on_failure: false,
        eval: |c| match &c.event.change {
            Change::DisassociateAccessPolicy { .. } if !c.admin_removed() => hit(
                Low,
                format!(
                    "{} {} from {}{}",
                    c.policy
                        .as_ref()
                        .map(|p| p.short_name())
                        .unwrap_or("Access policy"),
                    c.did("disassociated", "disassociation"),
                    c.target_name(),
                    c.by()
                ),
            ),
            _ => None,
        },
    },
    Rule {
        id: "lockout-risk",
        base: Critical,
        fires_on: "a switch to API mode, an entry deletion or an admin disassociation after which the EKS API shows no STANDARD entry holding ClusterAdmin/Admin at cluster scope (needs enrichment)",
        why: "With no admin entry left (and the aws-auth ConfigMap ignored in API mode) nobody can administer the cluster; recovery needs the EKS API and someone allowed to call it.",
        next_step: "Create an access entry with AmazonEKSClusterAdminPolicy for the break-glass role now, before sessions expire.",
        uncapped_on_failure: false,
        eval: |c| {
            let risky = may_leave_no_admin(&c.event.change);
            (risky && !c.failed() && c.enrichment.is_some_and(Enrichment::no_admin_left)).then(
                || Hit {
                    severity: Critical,
                    summary: format!(
                        "No admin access entry is left{} after {}{}",
                        c.on_cluster(),
                        c.event.event_name,
                        c.by()
                    ),
                },
            )
        },
    },
    Rule {
        id: "break-glass-modified",
        base: High,
        fires_on: "any access-entry or policy change whose target is a break-glass role; medium by an approved caller",
        why: "The break-glass path must work when everything else is broken; any change to it (and above all its removal) can cost the only way back in.",
        next_step: "Verify the break-glass role still has its ClusterAdmin entry and that the change was reviewed.",
        uncapped_on_failure: false,
        eval: |c| {
            (c.event.change.is_access_change() && c.target_break_glass).then(|| Hit {
                severity: if c.approved { Medium } else { High },
                summary: format!(
                    "Break-glass role {} {} ({}){}",
                    c.target_name(),
                    c.did("changed", "change"),
                    c.event.event_name,
                    c.by()
                ),
            })
        },
    },
    Rule {
        id: "cross-account-principal",
        base: High,
        fires_on: "an access entry or association for a principal in another account than the cluster's",
        why: "Access from outside the account is outside the account's IAM controls and audit; it is how vendors, and attackers with a foothold elsewhere, get in.",
        next_step: "Confirm the external account is a known partner or your own; otherwise delete the access entry.",
        uncapped_on_failure: false,
        eval: |c| {
            let account = arn::account_of(c.target?)?;
            (c.grants() && !c.event.account.is_empty() && account != c.event.account).then(|| Hit {
                severity: High,
                summary: format!(
                    "Cluster access {} to {} in another account ({}){}",
                    c.did("granted", "grant"),
                    c.target_name(),
                    account,
                    c.by()
                ),
            })
        },
    },
    Rule {
        id: "system-group-requested",
        base: High,
        fires_on: "Create/UpdateAccessEntry with a kubernetesGroup or username starting with `system:`",
        why: "EKS rejects `system:` names; asking for `system:masters` is an attempt to become cluster-admin outside access policies, a red flag even when it fails.",
        next_step: "Ask the caller why it requested a system: identity; treat an unexplained attempt as hostile.",
        uncapped_on_failure: true,
        eval: |c| {
            let e = c.entry()?;
            let mut names: Vec<&str> = e.kubernetes_groups.iter().map(String::as_str).collect();
            names.extend(e.username.as_deref());
            let system: Vec<&str> = names
                .into_iter()
                .filter(|n| n.trim_start().to_ascii_lowercase().starts_with("system:"))
                .collect();
            (!system.is_empty()).then(|| Hit {
                severity: High,
                summary: format!(
                    "System identity [{}] {} for {}{}",
                    system.join(", "),
                    c.did("requested", "request"),
                    c.target_name(),
                    c.by()
                ),
            })
        },
    },
    Rule {
        id: "privileged-group-name",
        base: Medium,
        fires_on: "Create/UpdateAccessEntry with a group named like an admin group (cluster-admin(s), masters, admin(s), administrators, root, superuser(s))",
        why: "Groups are bound to RBAC roles inside the cluster, invisible to the EKS API; a group named for admins usually is one.",
        next_step: "Check the ClusterRoleBindings for that group (`kubectl get clusterrolebindings -o wide`).",
        uncapped_on_failure: false,
        eval: |c| {
            let e = c.entry()?;
            let privileged: Vec<&str> = e
                .kubernetes_groups
                .iter()
                .map(String::as_str)
                .filter(|g| is_privileged_group(g))
                .collect();
            (!privileged.is_empty()).then(|| Hit {
                severity: Medium,
                summary: format!(
                    "Privileged-looking group [{}] {} to {}{}",
                    privileged.join(", "),
                    c.did("given", "grant"),
                    c.target_name(),
                    c.by()
                ),
            })
        },
    },
    Rule {
        id: "node-identity-granted",
        base: Medium,
        fires_on: "CreateAccessEntry of type EC2, EC2_LINUX, EC2_WINDOWS, FARGATE_LINUX, HYBRID_LINUX, HYPERPOD_LINUX (or an unknown type): low by an approved caller or AWS, else medium",
        why: "Node entries put the role in `system:nodes`: any workload or person able to use that role acts as a node (read pods' secrets, impersonate kubelets).",
        next_step: "Confirm the role is only used by node instances (trust policy allows ec2.amazonaws.com only).",
        uncapped_on_failure: false,
        eval: |c| match &c.event.change {
            Change::CreateAccessEntry(e) => {
                let t = e.entry_type.as_deref()?;
                let node = t
                    .parse::<AccessEntryType>()
                    .map(AccessEntryType::is_node_identity)
                    .unwrap_or(true);
                node.then(|| Hit {
                    severity: if c.approved { Low } else { Medium },
                    summary: format!(
                        "Node identity ({t}) {} to {}{}",
                        c.did("granted", "grant"),
                        c.target_name(),
                        c.by()
                    ),
                })
            }
            _ => None,
        },
    },
    Rule {
        id: "session-principal-entry",
        base: Low,
        fires_on: "an access change whose principalArn is an STS assumed-role session ARN",
        why: "EKS matches roles, not sessions: such an entry never matches anyone (EKS rejects it). It signals a misunderstanding or a probe.",
        next_step: "Use the role ARN (arn:aws:iam::<account>:role/<name>) instead of the session ARN.",
        uncapped_on_failure: false,
        eval: |c| {
            (c.event.change.is_access_change() && c.target.is_some_and(arn::is_sts_session)).then(
                || Hit {
                    severity: Low,
                    summary: format!(
                        "Access entry for session ARN {} {} (never matches a caller){}",
                        c.target_name(),
                        c.did("requested", "request"),
                        c.by()
                    ),
                },
            )
        },
    },
    Rule {
        id: "access-entry-created",
        base: Low,
        fires_on: "CreateAccessEntry",
        why: "Every new way into the cluster is recorded.",
        next_step: "No action needed if the change came from your usual pipeline.",
        uncapped_on_failure: false,
        eval: |c| match &c.event.change {
            Change::CreateAccessEntry(e) => hit(Low, entry_summary(c, e, "created", "creation")),
            _ => None,
        },
    },
    Rule {
        id: "access-entry-updated",
        base: Low,
        fires_on: "UpdateAccessEntry",
        why: "Group and username changes alter RBAC bindings without any policy change.",
        next_step: "No action needed if the change came from your usual pipeline.",
        uncapped_on_failure: false,
        eval: |c| match &c.event.change {
            Change::UpdateAccessEntry(e) => hit(Low, entry_summary(c, e, "updated", "update")),
            _ => None,
        },
    },
    Rule {
        id: "access-entry-deleted",
        base: Low,
        fires_on: "DeleteAccessEntry",
        why: "Every removed way into the cluster is recorded.",
        next_step: "No action needed if the removal was planned.",
        uncapped_on_failure: false,
        eval: |c| match &c.event.change {
            Change::DeleteAccessEntry { .. } => hit(
                Low,
                format!(
                    "Access entry for {} {}{}",
                    c.target_name(),
                    c.did("deleted", "deletion"),
                    c.by()
                ),
            ),
            _ => None,
        },
    },
    Rule {
        id: "auth-mode-changed",
        base: High,
        fires_on: "UpdateClusterConfig accessConfig.authenticationMode: API high, API_AND_CONFIG_MAP medium (a request for CONFIG_MAP or an unknown mode: medium)",
        why: "The mode is one-way. API ignores the aws-auth ConfigMap: everyone who got in through it loses access at once, including admins who never got an access entry.",
        next_step: "Check that every admin and node role has an access entry before sessions relying on aws-auth fail.",
        uncapped_on_failure: false,
        eval: |c| match &c.event.change {
            Change::UpdateClusterConfig(s) => {
                let mode = s.authentication_mode.as_deref()?;
                let (severity, note) = match mode.parse::<AuthMode>() {
                    Ok(AuthMode::Api) => {
                        (High, " (aws-auth ConfigMap no longer honoured; one-way)")
                    }
                    Ok(AuthMode::ApiAndConfigMap) => {
                        (Medium, " (access entries now honoured; one-way)")
                    }
                    Ok(AuthMode::ConfigMap) => {
                        (Medium, " (going back is not allowed: the mode is one-way)")
                    }
                    Err(_) => (Medium, " (unrecognised mode)"),
                };
                hit(
                    severity,
                    format!(
                        "Authentication mode change to {mode} {}{}{note}{}",
                        c.did("made", "change"),
                        c.on_cluster(),
                        c.by()
                    ),
                )
            }
            _ => None,
        },
    },
    Rule {
        id: "audit-logging-disabled",
        base: High,
        fires_on: "UpdateClusterConfig logging with enabled: false for `audit` or `authenticator`",
        why: "Turning off audit/authenticator logs blinds investigators; attackers do it before they act.",
        next_step: "Re-enable the log types (`aws eks update-cluster-config --logging ...enabled=true`) and ask who turned them off.",
        uncapped_on_failure: false,
        eval: |c| match &c.event.change {
            Change::UpdateClusterConfig(s) => {
                let off: Vec<&str> = s
                    .logging_disabled
                    .iter()
                    .map(String::as_str)
                    .filter(|t| {
                        t.eq_ignore_ascii_case("audit") || t.eq_ignore_ascii_case("authenticator")
                    })
                    .collect();
                (!off.is_empty()).then(|| Hit {
                    severity: High,
                    summary: format!(
                        "Control-plane logging [{}] {}{}{}",
                        off.join(", "),
                        c.did("disabled", "disabling"),
                        c.on_cluster(),
                        c.by()
                    ),
                })
            }
            _ => None,
        },
    },
    Rule {
        id: "public-endpoint-opened",
        base: High,
        fires_on: "UpdateClusterConfig with resourcesVpcConfig.endpointPublicAccess true and 0.0.0.0/0 (or ::/0, or no CIDRs). Not on CreateCluster: a public endpoint is EKS's and Terraform's default there, and `cluster-created` names it",
        why: "An API server open to the internet turns any leaked credential or token into remote access and exposes the endpoint to scanning.",
        next_step: "Restrict publicAccessCidrs to your egress ranges or turn the public endpoint off.",
        uncapped_on_failure: false,
        eval: |c| match &c.event.change {
            Change::UpdateClusterConfig(s) => {
                let p = s.public_endpoint.as_ref().filter(|p| p.open_to_world())?;
                hit(
                    High,
                    format!(
                        "Public API endpoint {} to {}{}{}",
                        c.did("opened", "opening"),
                        match &p.cidrs {
                            Some(cidrs) if !cidrs.is_empty() => cidrs.join(", "),
                            _ => "0.0.0.0/0 (no CIDRs given)".to_string(),
                        },
                        c.on_cluster(),
                        c.by()
                    ),
                )
            }
            _ => None,
        },
    },
    Rule {
        id: "deletion-protection-disabled",
        base: Medium,
        fires_on: "UpdateClusterConfig with deletionProtection: false",
        why: "Deletion protection stops a single mistaken or malicious call from destroying the cluster.",
        next_step: "Re-enable deletion protection unless a deletion is planned.",
        uncapped_on_failure: false,
        eval: |c| match &c.event.change {
            Change::UpdateClusterConfig(s) if s.deletion_protection == Some(false) => hit(
                Medium,
                format!(
                    "Deletion protection {}{}{}",
                    c.did("disabled", "disabling"),
                    c.on_cluster(),
                    c.by()
                ),
            ),
            _ => None,
        },
    },
    Rule {
        id: "cluster-config-updated",
        base: Info,
        fires_on: "every UpdateClusterConfig (names the settings touched), so an update the other rules do not grade still explains itself",
        why: "A record of every cluster configuration change, kept quiet.",
        next_step: "No action needed if the change was planned.",
        uncapped_on_failure: false,
        eval: |c| match &c.event.change {
            Change::UpdateClusterConfig(s) => hit(
                Info,
                format!(
                    "Cluster configuration [{}] {}{}{}",
                    s.keys.join(", "),
                    c.did("updated", "update"),
                    c.on_cluster(),
                    c.by()
                ),
            ),
            _ => None,
        },
    },
    Rule {
        id: "bootstrap-creator-admin",
        base: Medium,
        fires_on: "CreateCluster with bootstrapClusterCreatorAdminPermissions true or absent (the default)",
        why: "The creating identity silently receives ClusterAdmin; with a shared pipeline role that is a standing admin nobody reviewed.",
        next_step: "Remove the creator's ClusterAdmin entry once real admin entries exist, or set bootstrapClusterCreatorAdminPermissions=false.",
        uncapped_on_failure: false,
        eval: |c| match &c.event.change {
            Change::CreateCluster(s) if s.bootstrap_cluster_creator_admin != Some(false) => hit(
                Medium,
                format!(
                    "Cluster creator {} gets ClusterAdmin by default{}{}",
                    c.event.actor.display,
                    if s.bootstrap_cluster_creator_admin.is_none() {
                        " (setting absent)"
                    } else {
                        ""
                    },
                    c.on_cluster()
                ),
            ),
            _ => None,
        },
    },
    Rule {
        id: "legacy-auth-mode",
        base: Low,
        fires_on: "CreateCluster with authenticationMode CONFIG_MAP or absent (the API default is CONFIG_MAP)",
        why: "CONFIG_MAP access lives in a Kubernetes object CloudTrail never sees: access changes there bypass this watcher.",
        next_step: "Plan the move to API_AND_CONFIG_MAP, then API.",
        uncapped_on_failure: false,
        eval: |c| match &c.event.change {
            Change::CreateCluster(s) => {
                let legacy = match s.authentication_mode.as_deref() {
                    None => true,
                    Some(m) => m.parse::<AuthMode>() == Ok(AuthMode::ConfigMap),
                };
                legacy.then(|| Hit {
                    severity: Low,
                    summary: format!(
                        "Cluster {} with CONFIG_MAP authentication{}{}",
                        c.did("created", "creation"),
                        if s.authentication_mode.is_none() {
                            " (default)"
                        } else {
                            ""
                        },
                        c.on_cluster()
                    ),
                })
            }
            _ => None,
        },
    },
    Rule {
        id: "cluster-created",
        base: Info,
        fires_on: "every CreateCluster",
        why: "A record of every new cluster, kept quiet.",
        next_step: "No action needed if the cluster was planned.",
        uncapped_on_failure: false,
        eval: |c| match &c.event.change {
            Change::CreateCluster(s) => hit(
                Info,
                format!(
                    "Cluster {} {} (authentication mode {}{}){}",
                    c.event.cluster.as_deref().unwrap_or("(unnamed)"),
                    c.did("created", "creation"),
                    s.authentication_mode.as_deref().unwrap_or("default"),
                    if s.public_endpoint
                        .as_ref()
                        .is_some_and(|p| p.open_to_world())
                    {
                        ", public endpoint open to 0.0.0.0/0"
                    } else {
                        ""
                    },
                    c.by()
                ),
            ),
            _ => None,
        },
    },
    Rule {
        id: "cluster-deleted",
        base: Medium,
        fires_on: "DeleteCluster",
        why: "Destroys the cluster and its workloads; also the last step of a destructive attack.",
        next_step: "Confirm the deletion was planned.",
        uncapped_on_failure: false,
        eval: |c| match &c.event.change {
            Change::DeleteCluster => hit(
                Medium,
                format!(
                    "Cluster {} deletion {}{}",
                    c.event.cluster.as_deref().unwrap_or("(unnamed)"),
                    c.did("started", "request"),
                    c.by()
                ),
            ),
            _ => None,
        },
    },
    Rule {
        id: "oidc-provider-associated",
        base: High,
        fires_on: "AssociateIdentityProviderConfig",
        why: "An OIDC provider is a second way into the cluster, outside IAM and outside access entries: whoever controls the IdP controls the groups.",
        next_step: "Confirm the issuer URL belongs to your identity provider and review which groups it maps to RBAC.",
        uncapped_on_failure: false,
        eval: |c| match &c.event.change {
            Change::AssociateIdentityProviderConfig {
                config_name,
                issuer_url,
                ..
            } => hit(
                High,
                format!(
                    "OIDC identity provider {} ({}) {}{}{}",
                    config_name.as_deref().unwrap_or("(unnamed)"),
                    issuer_url.as_deref().unwrap_or("issuer unknown"),
                    c.did("associated", "association"),
                    c.on_cluster(),
                    c.by()
                ),
            ),
            _ => None,
        },
    },
    Rule {
        id: "pod-identity-association",
        base: Low,
        fires_on: "Create/UpdatePodIdentityAssociation: low; medium in kube-system",
        why: "Pod identity hands an IAM role to a service account; in kube-system it is usually a powerful controller role.",
        next_step: "Check the IAM role's permissions match what the service account needs.",
        uncapped_on_failure: false,
        eval: |c| match &c.event.change {
            Change::PodIdentityAssociation {
                namespace,
                service_account,
                role_arn,
                update,
            } => hit(
                if namespace.as_deref() == Some("kube-system") {
                    Medium
                } else {
                    Low
                },
                format!(
                    "Pod identity {} {}/{} -> {}{}",
                    c.did(
                        if *update {
                            "updated for"
                        } else {
                            "created for"
                        },
                        if *update { "update" } else { "creation" }
                    ),
                    namespace.as_deref().unwrap_or("?"),
                    service_account.as_deref().unwrap_or("?"),
                    role_arn
                        .as_deref()
                        .map(arn::short_name)
                        .unwrap_or_else(|| "?".into()),
                    c.by()
                ),
            ),
            _ => None,
        },
    },
    Rule {
        id: "denied-attempt",
        base: Medium,
        fires_on: "a watched call that failed with AccessDenied*/Unauthorized*: medium; high when it aimed at Admin/ClusterAdmin or at the caller itself",
        why: "Denied attempts at access changes are how a compromised identity probes what it can do; the one that aims at admin is the loudest signal we get before the one that succeeds.",
        next_step: "Identify the caller and why it tried; repeated denials from one identity warrant revoking its sessions.",
        uncapped_on_failure: true,
        eval: |c| {
            let e = c.event.error.as_ref().filter(|e| e.is_denied())?;
            let aims_high = c.self_target
                || matches!(
                    c.policy_class(),
                    Some(PolicyClass::ClusterAdmin | PolicyClass::Admin)
                );
            hit(
                if aims_high { High } else { Medium },
                format!(
                    "{} denied ({}) for {}{}{}",
                    c.event.event_name,
                    e.code,
                    c.event.actor.display,
                    match (c.target, &c.policy) {
                        (Some(_), Some(p)) =>
                            format!(": {} for {}", p.short_name(), c.target_name()),
                        (Some(_), None) => format!(": target {}", c.target_name()),
                        _ => String::new(),
                    },
                    if c.self_target { " (itself)" } else { "" }
                ),
            )
        },
    },
    Rule {
        id: "unapproved-caller",
        base: Low,
        fires_on: "approved callers are configured and a change came from someone else: one level above the other findings, at most high",
        why: "Access should only change through the reviewed pipeline (the Terraform role); a change by anyone else skipped review, whatever it did.",
        next_step: "Ask the caller to route the change through the pipeline, or add it to the approved callers.",
        uncapped_on_failure: false,
        // Graded in `classify` from the other findings; this only decides whether it fires.
        eval: |c| {
            let is_change = !matches!(c.event.change, Change::AssumeRole { .. });
            (is_change && c.config.has_approved_callers() && !c.approved).then(|| Hit {
                severity: Low,
                summary: format!(
                    "{} made by {} via {}, not an approved caller",
                    c.event.event_name, c.event.actor.display, c.event.actor.agent
                ),
            })
        },
    },
];

/// Changes after which nobody may hold admin any more: a switch to API mode (aws-auth stops
/// counting), an entry deletion, an Admin/ClusterAdmin disassociation. Enrichment takes the
/// admin census for exactly these; `lockout-risk` reads the census for exactly these.
pub fn may_leave_no_admin(change: &Change) -> bool {
    match change {
        Change::UpdateClusterConfig(s) => {
            s.authentication_mode
                .as_deref()
                .and_then(|m| m.parse::<AuthMode>().ok())
                == Some(AuthMode::Api)
        }
        Change::DeleteAccessEntry { .. } => true,
        Change::DisassociateAccessPolicy { policy_arn, .. } => {
            policy_arn.as_deref().is_some_and(|p| {
                matches!(
                    classify_policy(p).class,
                    PolicyClass::ClusterAdmin | PolicyClass::Admin
                )
            })
        }
        _ => false,
    }
}

/// A catalogue entry by id.
pub fn find(id: &str) -> Option<&'static Rule> {
    CATALOGUE.iter().find(|r| r.id == id)
}

/// Group names that conventionally carry admin RBAC bindings (last `:`/`/` segment, any case).
fn is_privileged_group(group: &str) -> bool {
    const NAMES: &[&str] = &[
        "admin",
        "admins",
        "administrator",
        "administrators",
        "cluster-admin",
        "cluster-admins",
        "clusteradmin",
        "clusteradmins",
        "masters",
        "master",
        "root",
        "superuser",
        "superusers",
    ];
    let last = group
        .rsplit([':', '/'])
        .next()
        .unwrap_or(group)
        .trim()
        .to_ascii_lowercase();
    NAMES.contains(&last.as_str())
        || last.ends_with("-cluster-admin")
        || last.ends_with("-cluster-admins")
}

fn entry_summary(c: &Ctx, e: &EntrySpec, done: &str, attempt: &str) -> String {
    let mut detail = Vec::new();
    if let Some(t) = &e.entry_type {
        detail.push(format!("type {t}"));
    }
    if !e.kubernetes_groups.is_empty() {
        detail.push(format!("groups [{}]", e.kubernetes_groups.join(", ")));
    }
    if let Some(u) = &e.username {
        detail.push(format!("username {u}"));
    }
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(" ({})", detail.join(", "))
    };
    format!(
        "Access entry for {} {}{detail}{}",
        c.target_name(),
        c.did(done, attempt),
        c.by()
    )
}

/// True for callers that are AWS itself: `AWSService` identities and service-linked roles.
fn is_aws_service(event: &AccessEvent) -> bool {
    event.actor.identity_type == "AWSService"
        || event
            .actor
            .arn
            .as_deref()
            .is_some_and(|a| a.contains(":role/aws-service-role/"))
}

/// Classify one watched event. Pure: no I/O, no panics, deterministic.
pub fn classify(
    event: &AccessEvent,
    config: &RuleConfig,
    enrichment: Option<&Enrichment>,
) -> Alert {
    let target = event.change.principal_arn();
    let aws_service_caller = is_aws_service(event);
    let ctx = Ctx {
        event,
        config,
        enrichment,
        approved: aws_service_caller || config.is_approved(event.actor.arn.as_deref()),
        target,
        target_break_glass: config.is_break_glass(target)
            || enrichment.is_some_and(Enrichment::tagged_break_glass),
        self_target: match (event.actor.arn.as_deref(), target) {
            (Some(a), Some(t)) => arn::same_principal(a, t),
            _ => false,
        },
        policy: event.change.policy_arn().map(classify_policy),
    };
    let mut findings: Vec<Finding> = Vec::new();
    let mut unapproved: Option<Hit> = None;
    for rule in CATALOGUE {
        let Some(mut h) = (rule.eval)(&ctx) else {
            continue;
        };
        if rule.id == "unapproved-caller" {
            unapproved = Some(h);
            continue;
        }
        if ctx.failed() && !rule.uncapped_on_failure {
            h.severity = h.severity.min(High);
        }
        findings.push(Finding {
            rule: rule.id.to_string(),
            severity: h.severity,
            summary: h.summary,
        });
    }
    let mut severity = findings.iter().map(|f| f.severity).max().unwrap_or(Info);
    if let Some(h) = unapproved {
        let raised = severity.raised().min(High);
        findings.push(Finding {
            rule: "unapproved-caller".into(),
            severity: raised,
            summary: h.summary,
        });
        severity = severity.max(raised);
    }
    Alert {
        event_id: event.event_id.clone(),
        event_name: event.event_name.clone(),
        event_time: event.event_time.clone(),
        account: event.account.clone(),
        region: event.region.clone(),
        cluster: event.cluster.clone(),
        principal_arn: target.map(str::to_string),
        actor_arn: event.actor.arn.clone(),
        actor: format!("{} via {}", event.actor.display, event.actor.agent),
        actor_type: event.actor.identity_type.clone(),
        source_ip: event.source_ip.clone(),
        error_code: event.error.as_ref().map(|e| e.code.clone()),
        policy_arn: event.change.policy_arn().map(str::to_string),
        access_scope: match &event.change {
            Change::AssociateAccessPolicy { access_scope, .. } => Some(access_scope.clone()),
            _ => None,
        },
        severity,
        findings,
        enrichment: enrichment.cloned(),
    }
}

/// True when a role assumption is one we watch (break-glass roles only).
pub fn is_watched_assumption(event: &AccessEvent, config: &RuleConfig) -> bool {
    match &event.change {
        Change::AssumeRole { role_arn, .. } => config.is_break_glass(role_arn.as_deref()),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_kebab_case_and_documented() {
        let mut seen = std::collections::HashSet::new();
        for r in CATALOGUE {
            assert!(seen.insert(r.id), "duplicate rule id {}", r.id);
            assert!(
                r.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{}",
                r.id
            );
            assert!(
                !r.why.is_empty() && !r.next_step.is_empty() && !r.fires_on.is_empty(),
                "{}",
                r.id
            );
        }
    }

    #[test]
    fn privileged_group_names() {
        for g in [
            "cluster-admins",
            "masters",
            "team:admins",
            "org/Administrators",
            "eks-cluster-admin",
        ] {
            assert!(is_privileged_group(g), "{g}");
        }
        for g in ["team:payments", "viewers", "admin-tools-readers"] {
            assert!(!is_privileged_group(g), "{g}");
        }
    }
}
