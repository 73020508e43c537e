//! The AWS adapters, one per service, and their shared pieces: the SDK configuration both
//! binaries use, built once, and [`AwsError`], the one error type every adapter returns with
//! the operation and AWS error code (the rest of the code never sees an SDK error), and its one
//! [`AwsError::retryable`] decision.
//!
//! - [`eks`]: EKS clients per account and region, and the reads enrichment, the audit and
//!   `migrate --live` share;
//! - [`sns`]: Publish; [`failure_queue`]: parking an event in the failure queue (SQS);
//! - [`ssm`]: the tuning file's parameter; [`cloudtrail`]: the trail self-check's reads;
//!   [`s3`]: the daily audit's snapshot; [`dynamodb`]: the Lambda's correlation state and
//!   delivered-once marks; [`securityhub`]: the Security Hub sink's findings (ASFF).
//!
//! One HTTPS client, rustls with ring, replaces the SDK's default (rustls with aws-lc): the
//! binary is smaller and there is no C crypto library to build. Credentials, region and
//! endpoints come from the usual chain (environment, profile, SSO, container/instance roles).

pub mod cloudtrail;
pub mod coverage;
pub mod dynamodb;
pub mod eks;
pub mod eks_reader;
pub mod failure_queue;
pub mod iam;
pub mod s3;
pub mod securityhub;
pub mod sns;
pub mod sqs;
pub mod ssm;
pub mod trail_verify;

use std::fmt;

use aws_config::BehaviorVersion;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Load the shared SDK configuration.
pub async fn load() -> aws_types::SdkConfig {
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https)
        .load()
        .await
}

/// The current time as RFC 3339 in UTC (`2026-11-20T06:00:00Z`), as AWS writes timestamps.
pub fn now() -> String {
    aws_smithy_types::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// What kind of failure an AWS call had, which decides whether trying again can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Throttling or a rate limit (`ThrottlingException`, `Throttled`, `KMSThrottling`).
    Throttled,
    /// The service failed (HTTP 5xx, `InternalError`, `ServiceUnavailable`).
    Server,
    /// No answer in time (the SDK's timeouts, our deadline).
    Timeout,
    /// The service could not be reached, or its answer could not be read.
    Network,
    /// The caller may not do this (`AccessDenied*`, `AuthorizationError`, invalid credentials).
    Denied,
    /// The resource does not exist (`NotFound`, `ResourceNotFoundException`).
    NotFound,
    /// The request itself is wrong (`InvalidParameter`, `ValidationException`, a disabled
    /// endpoint, a request that could not be built).
    Invalid,
    /// The KMS key behind the resource refused (`KMSAccessDenied`, `KMSDisabled`,
    /// `KMSInvalidState`, `KMSNotFound`, `KMSOptInRequired`).
    Kms,
    /// Anything else AWS answered with.
    Other,
}

/// A failed AWS call: which operation, what AWS said, and whether a retry can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// The API operation (`Publish`, `DescribeAccessEntry`).
    pub operation: &'static str,
    /// The AWS error code, when AWS answered with one.
    pub code: Option<String>,
    pub kind: ErrorKind,
    pub message: String,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{}: {code}: {}", self.operation, self.message),
            None => write!(f, "{}: {}", self.operation, self.message),
        }
    }
}

impl std::error::Error for AwsError {}

impl AwsError {
    /// Classify an SDK error (after the SDK's own retries).
    pub fn from_sdk<E>(operation: &'static str, e: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (code, kind, message) = match e {
            SdkError::ServiceError(s) => {
                let err = s.err();
                let code = err.code().map(str::to_string);
                let kind = code
                    .as_deref()
                    .map(kind_of_code)
                    .filter(|k| *k != ErrorKind::Other)
                    .unwrap_or_else(|| kind_of_status(s.raw().status().as_u16()));
                let message = err.message().unwrap_or("no message").to_string();
                (code, kind, message)
            }
            SdkError::TimeoutError(_) => (None, ErrorKind::Timeout, "timed out".to_string()),
            SdkError::DispatchFailure(d) => {
                let kind = if d.is_timeout() {
                    ErrorKind::Timeout
                } else {
                    ErrorKind::Network
                };
                (
                    None,
                    kind,
                    format!("could not reach AWS: {}", root_cause(e)),
                )
            }
            SdkError::ResponseError(_) => (
                None,
                ErrorKind::Network,
                format!("unreadable answer: {}", root_cause(e)),
            ),
            SdkError::ConstructionFailure(_) => (
                None,
                ErrorKind::Invalid,
                format!("request could not be built: {}", root_cause(e)),
            ),
            other => (
                None,
                ErrorKind::Other,
                format!("{other}: {}", root_cause(other)),
            ),
        };
        AwsError {
            operation,
            code,
            kind,
            message,
        }
    }

    /// A call that missed our own deadline.
    pub fn deadline(operation: &'static str, what: String) -> Self {
        AwsError {
            operation,
            code: None,
            kind: ErrorKind::Timeout,
            message: what,
        }
    }

    /// A request that could not be built.
    pub fn invalid(operation: &'static str, what: String) -> Self {
        AwsError {
            operation,
            code: None,
            kind: ErrorKind::Invalid,
            message: what,
        }
    }

    /// Throttling, server errors, timeouts and network failures pass; a retry cannot fix a
    /// refusal, a missing resource, a bad request or a KMS key that denies us.
    pub fn retryable(&self) -> bool {
        match self.kind {
            ErrorKind::Throttled
            | ErrorKind::Server
            | ErrorKind::Timeout
            | ErrorKind::Network
            | ErrorKind::Other => true,
            ErrorKind::Denied | ErrorKind::NotFound | ErrorKind::Invalid | ErrorKind::Kms => false,
        }
    }
}

/// The kind an AWS error code names (the codes of the SNS, EKS, SQS, S3, SSM, STS, IAM and
/// DynamoDB APIs and the common ones every AWS API may answer).
pub fn kind_of_code(code: &str) -> ErrorKind {
    match code {
        "Throttling"
        | "ThrottlingException"
        | "Throttled"
        | "ThrottledException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "RequestThrottled"
        | "RequestThrottledException"
        | "SlowDown"
        | "KMSThrottling"
        | "KMSThrottlingException"
        | "ProvisionedThroughputExceededException"
        | "TransactionConflictException"
        | "TransactionInProgressException" => ErrorKind::Throttled,
        "InternalError"
        | "InternalFailure"
        | "InternalErrorException"
        | "ServerException"
        | "ServiceUnavailable"
        | "ServiceUnavailableException"
        | "ServiceFailure"
        | "InternalServerError" => ErrorKind::Server,
        "RequestTimeout" | "RequestTimeoutException" => ErrorKind::Timeout,
        // Session credentials expire and are refreshed: the next attempt signs with new ones.
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => ErrorKind::Network,
        "AccessDenied"
        | "AccessDeniedException"
        | "AuthorizationError"
        | "AuthorizationErrorException"
        | "UnauthorizedOperation"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "MissingAuthenticationToken"
        | "InvalidSecurity"
        | "OptInRequired" => ErrorKind::Denied,
        "NotFound"
        | "NotFoundException"
        | "ResourceNotFoundException"
        | "NoSuchEntity"
        | "NoSuchEntityException"
        | "AWS.SimpleQueueService.NonExistentQueue"
        | "QueueDoesNotExist"
        | "ParameterNotFound"
        | "ParameterVersionNotFound"
        | "NoSuchKey"
        | "NoSuchBucket" => ErrorKind::NotFound,
        "InvalidParameter"
        | "InvalidParameterValue"
        | "InvalidParameterException"
        | "InvalidParameterValueException"
        | "ValidationException"
        | "ValidationError"
        | "InvalidRequestException"
        | "EndpointDisabled"
        | "PlatformApplicationDisabled"
        | "InvalidMessageContents"
        | "UnsupportedOperation" => ErrorKind::Invalid,
        c if c.starts_with("KMS") => ErrorKind::Kms,
        _ => ErrorKind::Other,
    }
}

fn kind_of_status(status: u16) -> ErrorKind {
    match status {
        429 => ErrorKind::Throttled,
        403 => ErrorKind::Denied,
        404 => ErrorKind::NotFound,
        500..=599 => ErrorKind::Server,
        _ => ErrorKind::Other,
    }
}

/// The innermost error's message: what actually went wrong, without the wrapping layers.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current = e;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryability_follows_the_error_code() {
        for code in [
            "Throttled",
            "ThrottlingException",
            "InternalError",
            "KMSThrottling",
            "ExpiredToken",
        ] {
            let e = AwsError {
                operation: "Publish",
                code: Some(code.into()),
                kind: kind_of_code(code),
                message: String::new(),
            };
            assert!(e.retryable(), "{code}");
        }
        for code in [
            "AuthorizationError",
            "NotFound",
            "InvalidParameter",
            "KMSAccessDenied",
            "KMSDisabled",
            "AccessDeniedException",
        ] {
            assert!(
                matches!(
                    kind_of_code(code),
                    ErrorKind::Denied | ErrorKind::NotFound | ErrorKind::Invalid | ErrorKind::Kms
                ),
                "{code}"
            );
        }
        assert_eq!(kind_of_status(503), ErrorKind::Server);
    }
}
