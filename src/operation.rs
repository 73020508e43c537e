//! The closed set of watched operations, and [`watch`]: the one decision "watched, or skipped
//! and why" that both the fast byte-level path and the full parse take.
//!
//! Adding a watched call starts here: a variant of [`Operation`] (with its source). Every match
//! over operations is exhaustive, so the compiler then names each place that must decide what
//! the new call means (normalisation, enrichment, undo, rules); the SAM event patterns are
//! checked against [`Operation::ALL`] by the template tests.

use std::fmt;

use crate::closed::closed_enum;
use crate::config::RuleConfig;
use crate::text::clean;

closed_enum! {
    /// The CloudTrail event source of a watched call.
    pub enum Source ("event source") {
        Eks = "eks.amazonaws.com",
        Sts = "sts.amazonaws.com",
    }
}

impl Source {
    /// The `source` EventBridge gives this service's CloudTrail events.
    pub fn eventbridge_source(self) -> &'static str {
        match self {
            Source::Eks => "aws.eks",
            Source::Sts => "aws.sts",
        }
    }

    /// The operations recorded under this source, in catalogue order.
    pub fn operations(self) -> impl Iterator<Item = Operation> {
        Operation::ALL
            .iter()
            .copied()
            .filter(move |o| o.source() == self)
    }
}

closed_enum! {
    /// Every call that changes who can reach a cluster, or how; the text is the CloudTrail
    /// `eventName`.
    pub enum Operation ("watched operation") {
        CreateAccessEntry = "CreateAccessEntry",
        UpdateAccessEntry = "UpdateAccessEntry",
        DeleteAccessEntry = "DeleteAccessEntry",
        AssociateAccessPolicy = "AssociateAccessPolicy",
        DisassociateAccessPolicy = "DisassociateAccessPolicy",
        UpdateClusterConfig = "UpdateClusterConfig",
        CreateCluster = "CreateCluster",
        DeleteCluster = "DeleteCluster",
        AssociateIdentityProviderConfig = "AssociateIdentityProviderConfig",
        CreatePodIdentityAssociation = "CreatePodIdentityAssociation",
        UpdatePodIdentityAssociation = "UpdatePodIdentityAssociation",
        AssumeRole = "AssumeRole",
        AssumeRoleWithSaml = "AssumeRoleWithSAML",
        AssumeRoleWithWebIdentity = "AssumeRoleWithWebIdentity",
    }
}

/// What an operation does to a cluster: enrichment reads the cluster fresh after a settings
/// change and from a short-lived cache otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touches {
    /// Access entries and their policies, Pod Identity: the cluster's settings are unchanged.
    Access,
    /// The cluster's own settings (authentication mode, endpoint, logging, identity providers).
    Settings,
    /// The cluster goes away: nothing to describe.
    Deletion,
    /// No cluster: a role assumption.
    Nothing,
}

/// The one-command reversal of a successful call, when there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undo {
    /// `aws eks disassociate-access-policy`
    DisassociateAccessPolicy,
    /// `aws eks delete-access-entry`
    DeleteAccessEntry,
}

/// Every fact about an operation that something downstream decides on, in one row per
/// operation: adding a watched call is a variant, its row here, and its parsing in
/// [`crate::cloudtrail`] (the compiler asks for both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub source: Source,
    pub touches: Touches,
    /// `None`: removals and settings changes have no one-command undo (the previous state is
    /// not in the event).
    pub undo: Option<Undo>,
}

impl Operation {
    pub fn facts(self) -> Facts {
        use Source::{Eks, Sts};
        use Touches::{Access, Deletion, Nothing, Settings};
        let (source, touches, undo) = match self {
            Operation::CreateAccessEntry => (Eks, Access, Some(Undo::DeleteAccessEntry)),
            Operation::UpdateAccessEntry => (Eks, Access, None),
            Operation::DeleteAccessEntry => (Eks, Access, None),
            Operation::AssociateAccessPolicy => (Eks, Access, Some(Undo::DisassociateAccessPolicy)),
            Operation::DisassociateAccessPolicy => (Eks, Access, None),
            Operation::UpdateClusterConfig => (Eks, Settings, None),
            Operation::CreateCluster => (Eks, Settings, None),
            Operation::DeleteCluster => (Eks, Deletion, None),
            Operation::AssociateIdentityProviderConfig => (Eks, Settings, None),
            Operation::CreatePodIdentityAssociation => (Eks, Access, None),
            Operation::UpdatePodIdentityAssociation => (Eks, Access, None),
            Operation::AssumeRole => (Sts, Nothing, None),
            Operation::AssumeRoleWithSaml => (Sts, Nothing, None),
            Operation::AssumeRoleWithWebIdentity => (Sts, Nothing, None),
        };
        Facts {
            source,
            touches,
            undo,
        }
    }

    pub fn source(self) -> Source {
        self.facts().source
    }

    /// Role assumptions (every STS call we watch) are watched only when the role is
    /// break-glass: the decision needs the record's `requestParameters.roleArn`.
    pub fn needs_break_glass_role(self) -> bool {
        self.source() == Source::Sts
    }

    /// The watched operation a CloudTrail record names, or why the record is not watched
    /// (before any role check). Names compare exactly, as CloudTrail and EventBridge do.
    pub fn from_cloudtrail(source: &str, name: &str) -> Result<Operation, Skip> {
        if source.is_empty() {
            return Err(Skip::NoEventSource);
        }
        let Some(source) = Source::ALL.iter().find(|s| s.as_str() == source) else {
            return Err(Skip::OtherService(clean(source, 256)));
        };
        source
            .operations()
            .find(|o| o.as_str() == name)
            .ok_or_else(|| Skip::NotWatched(clean(name, 256)))
    }
}

/// Decide whether a CloudTrail record is watched under `config`, from its `eventSource`,
/// `eventName` and (for role assumptions) `requestParameters.roleArn`.
///
/// The fast path calls this with values read by byte search, the full parse with parsed
/// values; a role assumption whose role cannot be read is never watched (it names no role).
pub fn watch(
    source: &str,
    name: &str,
    role_arn: Option<&str>,
    config: &RuleConfig,
) -> Result<Operation, Skip> {
    let operation = Operation::from_cloudtrail(source, name)?;
    if operation.needs_break_glass_role() && !config.is_break_glass(role_arn) {
        return Err(Skip::NotBreakGlass);
    }
    Ok(operation)
}

/// Why a record produced no alert. Not an error: the record is simply not ours to judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// Another service's event (`eventSource`).
    OtherService(String),
    /// A record without `eventSource`: nothing says which service it is from.
    NoEventSource,
    /// An EKS or STS call we do not watch (read-only calls, unrelated APIs).
    NotWatched(String),
    /// An STS role assumption of a role that is not break-glass.
    NotBreakGlass,
    /// An EventBridge event that does not carry a CloudTrail record.
    NotCloudTrail(String),
    /// A CloudTrail digest file (integrity validation, no events).
    DigestFile,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::OtherService(s) => write!(f, "event source `{s}` is not watched"),
            Skip::NoEventSource => f.write_str("the record has no eventSource"),
            Skip::NotWatched(n) => write!(f, "`{n}` does not change cluster access"),
            Skip::NotBreakGlass => f.write_str("role assumed is not a break-glass role"),
            Skip::NotCloudTrail(t) => write!(
                f,
                "EventBridge detail-type `{t}` is not a CloudTrail API call"
            ),
            Skip::DigestFile => f.write_str("CloudTrail digest file (no events)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_round_trips_through_its_cloudtrail_name() {
        for op in Operation::ALL {
            assert_eq!(
                Operation::from_cloudtrail(op.source().as_str(), op.as_str()),
                Ok(*op)
            );
        }
    }

    #[test]
    fn unwatched_records_say_why() {
        assert_eq!(
            Operation::from_cloudtrail("eks.amazonaws.com", "DescribeCluster"),
            Err(Skip::NotWatched("DescribeCluster".into()))
        );
        assert_eq!(
            Operation::from_cloudtrail("s3.amazonaws.com", "GetObject"),
            Err(Skip::OtherService("s3.amazonaws.com".into()))
        );
        assert_eq!(
            Operation::from_cloudtrail("", "GetObject"),
            Err(Skip::NoEventSource)
        );
        // Names compare exactly, as the EventBridge pattern does.
        assert!(Operation::from_cloudtrail("eks.amazonaws.com", "createaccessentry").is_err());
        assert!(Operation::from_cloudtrail("sts.amazonaws.com", "CreateAccessEntry").is_err());
    }

    #[test]
    fn role_assumptions_are_watched_only_for_break_glass_roles() {
        let config = RuleConfig::default();
        let bg = Some("arn:aws:iam::111122223333:role/eks-break-glass");
        let other = Some("arn:aws:iam::111122223333:role/ci");
        assert_eq!(
            watch("sts.amazonaws.com", "AssumeRole", bg, &config),
            Ok(Operation::AssumeRole)
        );
        assert_eq!(
            watch("sts.amazonaws.com", "AssumeRole", other, &config),
            Err(Skip::NotBreakGlass)
        );
        assert_eq!(
            watch("sts.amazonaws.com", "AssumeRole", None, &config),
            Err(Skip::NotBreakGlass)
        );
        assert_eq!(
            watch("eks.amazonaws.com", "DeleteCluster", None, &config),
            Ok(Operation::DeleteCluster)
        );
    }
}
