//! What the EKS API says about the affected access entry and cluster: plain data, filled by
//! the context stage ([`crate::context`], through the EKS adapter) and read by the rules.
//!
//! Every part is optional: a lookup that failed leaves its part `None` and says why in
//! `status`/`errors`. Rules treat a missing part as "unknown", never as "safe".

use std::collections::BTreeMap;

use serde::Serialize;

use crate::closed::closed_enum;
use crate::model::{AccessScope, AuthMode, EntryType};

closed_enum! {
    /// How complete the context is.
    pub enum EnrichmentStatus ("enrichment status") {
        /// Every lookup answered.
        Complete = "complete",
        /// Some lookups failed; `errors` says which and why.
        Partial = "partial",
        /// No lookup answered.
        Failed = "failed",
        /// Not attempted (offline replay, disabled, no role for another account); `errors` says why.
        Skipped = "skipped",
    }
}

/// The access entry as it is now (after the change).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EntryInfo {
    pub entry_type: Option<EntryType>,
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
    pub authentication_mode: Option<AuthMode>,
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
}
