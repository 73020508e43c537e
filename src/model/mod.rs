//! The model at the bottom of the library: what every stage reads and no stage owns.
//!
//! - [`event`]: the normalised [`AccessEvent`] (decoded ARNs, the resolved [`Actor`] with the
//!   tool behind its user agent, the typed [`Change`] and its closed sets);
//! - [`kubernetes`]: what a watched Kubernetes request changed (aws-auth rows, RBAC bindings,
//!   ClusterRoles);
//! - [`enrichment`]: what the EKS API says about the affected entry and cluster, as plain data.
//!
//! The CloudTrail and Kubernetes normalisers ([`crate::cloudtrail`], [`crate::kubernetes`])
//! build these types and depend on this module, never on each other.

pub mod enrichment;
pub mod event;
pub mod kubernetes;
pub mod snapshot;

pub use enrichment::*;
pub use event::*;
pub use kubernetes::*;
