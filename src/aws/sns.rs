//! SNS: Publish one prepared message ([`crate::render::sns`] builds it). The only code that
//! talks to SNS.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

use crate::aws::{AwsError, ErrorKind};
/// One message as SNS takes it (`MessageStructure=json`): what [`crate::sink::SnsSink`]
/// hands over from the rendered [`crate::render::sns::SnsMessage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    pub subject: &'a str,
    /// A JSON object keyed by protocol.
    pub message: &'a str,
    /// (name, data type, value).
    pub attributes: Vec<(&'a str, &'a str, &'a str)>,
    pub group_id: Option<&'a str>,
    pub dedup_id: Option<&'a str>,
}

/// Send one message. Returns the SNS message id, or why SNS did not take it (after the
/// SDK's own retries), with the AWS error code that decides whether to try again.
pub async fn publish(
    client: &Client,
    topic_arn: &str,
    msg: &Message<'_>,
) -> Result<String, AwsError> {
    let mut req = client
        .publish()
        .topic_arn(topic_arn)
        .subject(msg.subject)
        .message(msg.message)
        .message_structure("json");
    for &(name, data_type, value) in &msg.attributes {
        let value = MessageAttributeValue::builder()
            .data_type(data_type)
            .string_value(value)
            .build()
            .map_err(|e| AwsError {
                operation: "Publish",
                code: None,
                kind: ErrorKind::Invalid,
                message: format!("attribute {name}: {e}"),
            })?;
        req = req.message_attributes(name, value);
    }
    if let Some(g) = msg.group_id {
        req = req.message_group_id(g);
    }
    if let Some(d) = msg.dedup_id {
        req = req.message_deduplication_id(d);
    }
    let out = req
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("Publish", &e))?;
    Ok(out.message_id().unwrap_or_default().to_string())
}
