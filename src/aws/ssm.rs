//! SSM Parameter Store: where the Lambda's tuning file lives, read once per cold start.

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::ParameterType;

use crate::aws::{AwsError, ErrorKind};

/// The value of a `String` parameter. A `SecureString` or `StringList` is refused, saying
/// why: the tuning file holds no secrets, so the function is given no key to decrypt with.
pub async fn get_text(client: &Client, name: &str) -> Result<String, AwsError> {
    let out = client
        .get_parameter()
        .name(name)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetParameter", &e))?;
    let invalid = |message: String| AwsError {
        operation: "GetParameter",
        code: None,
        kind: ErrorKind::Invalid,
        message,
    };
    let parameter = out
        .parameter()
        .ok_or_else(|| invalid(format!("the answer for {name} holds no parameter")))?;
    match parameter.r#type() {
        Some(ParameterType::String) | None => {}
        Some(other) => {
            return Err(invalid(format!(
                "{name} is a {} parameter; store the tuning file as a String parameter (it holds no secrets)",
                other.as_str()
            )));
        }
    }
    Ok(parameter.value().unwrap_or_default().to_string())
}

/// The value of version `version` of a `String` parameter (the `name:version` selector of
/// GetParameter, which the same `ssm:GetParameter` permission allows): how the Lambda reads
/// the tuning file before and after a write (`tuning-changed`).
pub async fn get_version(client: &Client, name: &str, version: i64) -> Result<String, AwsError> {
    get_text(client, &format!("{name}:{version}")).await
}

/// The decrypted value of a `SecureString` parameter (the PagerDuty routing key). Any other
/// type is refused, saying why: a secret kept in plain text is readable by anyone who can read
/// the parameter.
pub async fn get_secret(client: &Client, name: &str) -> Result<String, AwsError> {
    let out = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetParameter", &e))?;
    let invalid = |message: String| AwsError {
        operation: "GetParameter",
        code: None,
        kind: ErrorKind::Invalid,
        message,
    };
    let parameter = out
        .parameter()
        .ok_or_else(|| invalid(format!("the answer for {name} holds no parameter")))?;
    match parameter.r#type() {
        Some(ParameterType::SecureString) => {}
        other => {
            return Err(invalid(format!(
                "{name} is a {} parameter; store the secret as a SecureString parameter",
                other.map(|t| t.as_str()).unwrap_or("untyped")
            )));
        }
    }
    let value = parameter.value().unwrap_or_default().trim().to_string();
    if value.is_empty() {
        return Err(invalid(format!("{name} is empty")));
    }
    Ok(value)
}
