//! eks-access-watch: turns records of changes to who can reach an Amazon EKS cluster (access
//! entries, access policies, authentication mode, break-glass role use, aws-auth and RBAC)
//! into graded, self-explaining alerts.
//!
//! The flow is one-way; everything between the adapters is pure:
//! ```text
//! input bytes -> ingest (one dispatcher over the shapes; byte pre-filter)
//!   -> operation::watch: a CloudTrailCall / Kubernetes operation, or Skip(reason)
//!   -> cloudtrail::normalise | kubernetes::normalise -> model::AccessEvent
//!   -> context (per-input History; EKS enrichment under one deadline) -> Context
//!   -> pipeline::judge (rules -> tuning -> one grade) -> Alert
//!   -> render (text, table, e-mail, chat, JSON, SNS) -> sink (SNS, stdout)
//! ```
//! - [`model`]: the normalised event, the Kubernetes change types, the EKS facts (the bottom);
//! - [`operation`]: the closed set of watched calls and the one "watched or skipped" decision;
//! - [`ingest`]: every input shape, streamed, each record decided once;
//! - [`context`]: what is known besides the event, as plain data; [`rules`]: the catalogue;
//!   [`tuning`]: the tuning file; [`pipeline`]: the one place an event is judged;
//! - [`render`]: every rendering; [`sink`]: where alerts go; [`aws`]: one adapter per service;
//! - [`audit`] (standing access and drift) and [`migrate`] (from aws-auth) use the same finding
//!   model; [`lambda`] is the handler the `lambda` binary runs.
//!
//! Only [`aws`], the context stage's enrichment, [`sink`] and the shells ([`lambda`], the
//! binaries) do I/O. `tests/layering.rs` checks that no two modules import each other.

mod closed;
mod cloudtrail;
mod policy;
mod sanitize;

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
