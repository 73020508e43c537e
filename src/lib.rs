//! eks-access-watch: turns CloudTrail records about Amazon EKS access changes (access entries,
//! access policies, authentication mode, break-glass role use) into graded, self-explaining
//! alerts.
//!
//! The flow is one-way and the core is pure:
//! ```text
//! input bytes -> ingest -> pipeline (parse, normalise) -> [enrich] -> rules::classify -> Alert -> render
//! ```
//! [`ingest`] reads every input shape a user has; [`event`] is the normalised event (decoded
//! ARNs, resolved caller); [`rules`] is the documented catalogue; [`alert`] the document and its
//! renderings. Only the binaries read the environment, build AWS clients or print.

pub mod alert;
pub mod arn;
pub mod config;
#[cfg(feature = "aws")]
pub mod enrich;
pub mod enrichment;
pub mod event;
pub mod ingest;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod pipeline;
pub mod publish;
pub mod rules;
pub mod scan;
#[cfg(feature = "aws")]
pub mod sdk;
pub mod text;

pub use alert::{Alert, Finding, Severity};
pub use config::{ConfigError, RuleConfig};
pub use enrichment::Enrichment;
pub use event::AccessEvent;
pub use rules::classify;
