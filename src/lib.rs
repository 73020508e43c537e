//! eks-access-watch: turns records of changes to who can reach an Amazon EKS cluster (access
//! entries, access policies, authentication mode, break-glass role use) into graded,
//! self-explaining alerts.
//!
//! The flow is one-way and the core is pure:
//! ```text
//! input bytes -> ingest (shapes, splitter, byte pre-filter) -> operation::watch
//!   -> cloudtrail::normalise -> AccessEvent -> [enrich] -> rules -> Alert -> render -> sink
//! ```
//! [`ingest`] reads every input shape a user has and decides each record once
//! ([`operation::watch`]); [`event`] is the normalised event (decoded ARNs, resolved caller,
//! typed change); [`rules`] is the documented catalogue; [`alert`] the document and
//! [`render`] every rendering of it. [`audit`] grades the access that exists now (a snapshot
//! read from the EKS API or a file) and its drift from a baseline, with the same finding model.
//! Only the binaries read the environment or print, and only the AWS adapters ([`enrich`],
//! [`publish`], the failure queue, the audit's reader and daily run) call AWS.

mod closed;
mod cloudtrail;
mod policy;
mod text;

pub mod alert;
pub mod arn;
pub mod audit;
#[cfg(feature = "aws")]
pub mod aws;
pub mod awsauth;
pub mod config;
pub mod context;

pub mod ingest;
pub mod kubernetes;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod migrate;
pub mod model;
pub mod operation;
pub mod pipeline;

pub mod render;
pub mod rules;
pub mod severity;
#[cfg(feature = "aws")]
pub mod sink;
pub mod trail;
pub mod tuning;

pub use alert::Alert;
pub use closed::UnknownValue;
pub use config::{ConfigError, RuleConfig};
pub use model::AccessEvent;
pub use model::Enrichment;
pub use rules::Finding;
pub use severity::Severity;
pub use tuning::Tuning;
