//! Who made the change and how: root credentials, break-glass use, self-grants, principals from
//! other accounts, denied attempts, callers outside the approved pipeline.

use super::{Case, Eval, Hit, OnFailure, Qualifier, Rule, Topic, hit};
use crate::arn;
use crate::model::Change;
use crate::policy::PolicyClass;
use crate::severity::Severity::{Critical, High, Low, Medium};

pub static ROOT_CALLER: Rule = Rule {
    id: "root-caller",
    topic: Topic::Caller,
    severities: &[Critical],
    on_failure: OnFailure::Keep,
    qualifier: Some(Qualifier {
        tag: "root credentials",
        raises_alert: false,
    }),
    fires_on: "any watched call made with the account's root credentials",
    why: "Root bypasses every IAM guardrail; nobody should use it for cluster access, so any use is either an emergency someone must own or a compromised root.",
    next_step: "Confirm who holds the root credentials right now; if nobody expected this, rotate root credentials and review CloudTrail for the same session.",
    eval: Eval::Change(root_caller),
};

fn root_caller(c: &Case) -> Option<Hit> {
    c.event.actor.is_root().then(|| Hit {
        severity: Critical,
        summary: format!(
            "Root credentials used for {}{}{}",
            c.event.event_name(),
            c.on_cluster(),
            c.by()
        ),
    })
}

pub static BREAK_GLASS_ASSUMED: Rule = Rule {
    id: "break-glass-assumed",
    topic: Topic::Caller,
    severities: &[Critical],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "sts AssumeRole / AssumeRoleWithSAML / AssumeRoleWithWebIdentity of a break-glass role",
    why: "The break-glass role is only for emergencies; its use must always be seen by a human, in the moment, and tied to an incident.",
    next_step: "Find the incident this use belongs to; if there is none, revoke the session (aws iam put-role-policy with an aws:TokenIssueTime deny) and investigate the caller.",
    eval: Eval::Change(break_glass_assumed),
};

fn break_glass_assumed(c: &Case) -> Option<Hit> {
    match &c.event.change {
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
    }
}

pub static SELF_GRANT: Rule = Rule {
    id: "self-grant",
    topic: Topic::Caller,
    severities: &[Critical],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "an access entry, policy association or new aws-auth mapping whose target is the caller's own role or user",
    why: "A principal widening its own cluster access is the classic privilege escalation of a compromised identity; legitimate automation grants others, not itself.",
    next_step: "Check whether the caller's credentials are compromised; remove the grant and the entry if the change was not planned.",
    eval: Eval::Change(self_grant),
};

fn self_grant(c: &Case) -> Option<Hit> {
    (c.event.change.grants() && c.self_target).then(|| Hit {
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
}

pub static CROSS_ACCOUNT_PRINCIPAL: Rule = Rule {
    id: "cross-account-principal",
    topic: Topic::Caller,
    severities: &[High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "an access entry, association or new aws-auth mapping for a principal in another account than the cluster's",
    why: "Access from outside the account is outside the account's IAM controls and audit; it is how vendors, and attackers with a foothold elsewhere, get in.",
    next_step: "Confirm the external account is a known partner or your own; otherwise delete the access entry.",
    eval: Eval::Change(cross_account_principal),
};

fn cross_account_principal(c: &Case) -> Option<Hit> {
    let account = arn::account_of(c.target?)?;
    let grants = c.event.change.grants();
    (grants && !c.event.account.is_empty() && account != c.event.account).then(|| Hit {
        severity: High,
        summary: format!(
            "Cluster access {} to {} in another account ({}){}",
            c.did("granted", "grant"),
            c.target_name(),
            account,
            c.by()
        ),
    })
}

pub static DENIED_ATTEMPT: Rule = Rule {
    id: "denied-attempt",
    topic: Topic::Caller,
    severities: &[Medium, High],
    on_failure: OnFailure::Keep,
    qualifier: Some(Qualifier {
        tag: "denied",
        raises_alert: false,
    }),
    fires_on: "a watched call that failed with AccessDenied*/Unauthorized* (Kubernetes: Forbidden, 403): medium; high when it aimed at Admin/ClusterAdmin (system:masters, cluster-admin) or at the caller itself",
    why: "Denied attempts at access changes are how a compromised identity probes what it can do; the one that aims at admin is the loudest signal we get before the one that succeeds.",
    next_step: "Identify the caller and why it tried; repeated denials from one identity warrant revoking its sessions.",
    eval: Eval::Change(denied_attempt),
};

fn denied_attempt(c: &Case) -> Option<Hit> {
    let e = c.event.error.as_ref().filter(|e| e.is_denied())?;
    let aims_high = c.self_target
        || c.event.change.aims_at_admin()
        || matches!(
            c.policy_class(),
            Some(PolicyClass::ClusterAdmin | PolicyClass::Admin)
        );
    hit(
        if aims_high { High } else { Medium },
        format!(
            "{} denied ({}) for {}{}{}",
            c.event.event_name(),
            e.code,
            c.event.actor.display,
            match (c.target, &c.policy) {
                (Some(_), Some(p)) => format!(": {} for {}", p.short_name(), c.target_name()),
                (Some(_), None) => format!(": target {}", c.target_name()),
                _ => String::new(),
            },
            if c.self_target { " (itself)" } else { "" }
        ),
    )
}

pub static UNAPPROVED_CALLER: Rule = Rule {
    id: "unapproved-caller",
    topic: Topic::Caller,
    severities: &[Low, Medium, High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: Some(Qualifier {
        tag: "unapproved caller",
        raises_alert: true,
    }),
    fires_on: "approved callers are configured and a change came from someone else: one level above the other findings, at most high",
    why: "Access should only change through the reviewed pipeline (the Terraform role); a change by anyone else skipped review, whatever it did.",
    next_step: "Ask the caller to route the change through the pipeline, or add it to the approved callers.",
    eval: Eval::Change(unapproved_caller),
};

/// Decides only whether it fires: the grade comes from the other findings (see the module docs).
/// Role assumptions are uses, not changes; the watcher's own check has no caller.
fn unapproved_caller(c: &Case) -> Option<Hit> {
    let is_change = !matches!(
        c.event.change,
        Change::AssumeRole { .. } | Change::TrailStatus { .. } | Change::TrailNotifications { .. }
    );
    (is_change && c.config.has_approved_callers() && !c.approved).then(|| Hit {
        severity: Low,
        summary: format!(
            "{} made by {}, not an approved caller",
            c.event.event_name(),
            c.event.actor.describe()
        ),
    })
}
