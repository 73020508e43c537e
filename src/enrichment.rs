//! What the EKS API says about the affected access entry and cluster: plain data, filled by
//! [`crate::enrich`] (the only module that talks to AWS) and read by the rules.
//!
//! Every part is optional: a lookup that failed leaves its part `None` and says why in
//! `status`/`errors`. Rules treat a missing part as "unknown", never as "safe".

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::event::AccessScope;
use crate::rules::policies::{PolicyClass, classify_policy};

/// How complete the context is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrichmentStatus {
    /// Every lookup answered.
    Complete,
    /// Some lookups failed; `errors` says which and why.
    Partial,
    /// No lookup answered.
    Failed,
    /// Not attempted (offline replay, disabled, no role for another account); `errors` says why.
    Skipped,
}

impl fmt::Display for EnrichmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Complete => "complete",
            Self::Partial => "partial",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        })
    }
}

/// The access entry as it is now (after the change).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EntryInfo {
    pub entry_type: Option<String>,
    pub kubernetes_groups: Vec<String>,
    pub username: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub created_at: Option<String>,
}

/// One access policy associated with the entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyGrant {
    pub policy_arn: String,
    pub access_scope: AccessScope,
}

/// The cluster's access-relevant settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClusterInfo {
    pub authentication_mode: Option<String>,
    pub version: Option<String>,
    pub endpoint_public_access: Option<bool>,
    pub public_access_cidrs: Vec<String>,
    pub logging_enabled: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

/// Who still holds admin on the cluster (STANDARD entries with ClusterAdmin or Admin at
/// cluster scope), for the lockout check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AdminCensus {
    pub admins: Vec<String>,
    pub entries_checked: usize,
    /// True when the bound on entries was reached: `admins` may be incomplete (never used to
    /// conclude "nobody is left").
    pub truncated: bool,
}

/// Context for one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Enrichment {
    pub status: EnrichmentStatus,
    pub errors: Vec<String>,
    pub access_entry: Option<EntryInfo>,
    pub associated_policies: Option<Vec<PolicyGrant>>,
    pub cluster: Option<ClusterInfo>,
    pub remaining_admins: Option<AdminCensus>,
    /// "after this change role/ci-deployer holds: ClusterAdmin (cluster), View (cluster); groups: team:payments"
    pub effective_access: Option<String>,
    /// Set when enrichment detail was cut to fit a delivery size limit.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub trimmed: bool,
}

impl Enrichment {
    /// Enrichment that was not attempted, with the reason.
    pub fn skipped(reason: impl Into<String>) -> Self {
        Enrichment {
            status: EnrichmentStatus::Skipped,
            errors: vec![reason.into()],
            access_entry: None,
            associated_policies: None,
            cluster: None,
            remaining_admins: None,
            effective_access: None,
            trimmed: false,
        }
    }

    /// True when the entry is tagged as break-glass (`Purpose=break-glass`, any case).
    pub fn tagged_break_glass(&self) -> bool {
        self.access_entry.as_ref().is_some_and(|e| {
            e.tags.iter().any(|(k, v)| {
                k.eq_ignore_ascii_case("purpose")
                    && v.to_ascii_lowercase().replace(['_', ' '], "-") == "break-glass"
            })
        })
    }

    /// True only when the census is complete and found no admin left.
    pub fn no_admin_left(&self) -> bool {
        self.remaining_admins
            .as_ref()
            .is_some_and(|c| !c.truncated && c.admins.is_empty())
    }

    /// Build the effective-access sentence for `principal` from entry and policies.
    pub fn summarise_access(
        principal: &str,
        entry: Option<&EntryInfo>,
        policies: Option<&[PolicyGrant]>,
    ) -> Option<String> {
        if entry.is_none() && policies.is_none() {
            return None;
        }
        let mut parts = Vec::new();
        if let Some(policies) = policies {
            let grants: Vec<String> = policies
                .iter()
                .map(|p| {
                    let info = classify_policy(&p.policy_arn);
                    let name = info.short_name();
                    let scope = match &p.access_scope {
                        AccessScope::Cluster => "cluster".to_string(),
                        AccessScope::Namespace { namespaces } => {
                            format!("namespaces {}", namespaces.join(","))
                        }
                    };
                    format!("{name} ({scope})")
                })
                .collect();
            parts.push(if grants.is_empty() {
                "no access policies".to_string()
            } else {
                grants.join(", ")
            });
            let cluster_admin = policies.iter().any(|p| {
                classify_policy(&p.policy_arn).class == PolicyClass::ClusterAdmin
                    && p.access_scope.is_cluster_wide()
            });
            if cluster_admin && policies.len() > 1 {
                parts.push(
                    "(ClusterAdmin at cluster scope supersedes the other grants)".to_string(),
                );
            }
        }
        if let Some(entry) = entry {
            if !entry.kubernetes_groups.is_empty() {
                parts.push(format!("groups: {}", entry.kubernetes_groups.join(", ")));
            }
            if let Some(t) = &entry.entry_type {
                parts.push(format!("type: {t}"));
            }
        }
        Some(format!(
            "after this change {} holds: {}",
            crate::arn::short_name(principal),
            parts.join("; ")
        ))
    }

    /// Lines for the text rendering.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(a) = &self.effective_access {
            lines.push(a.clone());
        }
        if let Some(c) = &self.cluster {
            lines.push(format!(
                "cluster: auth mode {}, version {}, public endpoint {}",
                c.authentication_mode.as_deref().unwrap_or("?"),
                c.version.as_deref().unwrap_or("?"),
                match c.endpoint_public_access {
                    Some(true) => format!("on ({})", c.public_access_cidrs.join(", ")),
                    Some(false) => "off".into(),
                    None => "?".into(),
                }
            ));
        }
        if let Some(census) = &self.remaining_admins {
            lines.push(if census.admins.is_empty() {
                format!(
                    "admins left: none found among {} entries",
                    census.entries_checked
                )
            } else {
                format!("admins left: {}", census.admins.join(", "))
            });
        }
        for e in &self.errors {
            lines.push(format!("note: {e}"));
        }
        lines
    }
}
