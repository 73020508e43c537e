//! SNS: Publish one prepared message ([`crate::render::sns`] builds it). The only code that
//! talks to SNS.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

use crate::aws::{AwsError, ErrorKind};
use crate::render::sns::SnsMessage;

/// Send one message. Returns the SNS message id, or why SNS did not take it (after the
/// SDK's own retries), with the AWS error code that decides whether to try again.
pub async fn publish(
    client: &Client,
    topic_arn: &str,
    msg: &SnsMessage,
) -> Result<String, AwsError> {
    let mut req = client
        .publish()
        .topic_arn(topic_arn)
        .subject(&msg.subject)
        .message(&msg.message)
        .message_structure("json");
    for a in &msg.attributes {
        let value = MessageAttributeValue::builder()
            .data_type(a.data_type)
            .string_value(&a.value)
            .build()
            .map_err(|e| AwsError {
                operation: "Publish",
                code: None,
                kind: ErrorKind::Invalid,
                message: format!("attribute {}: {e}", a.name),
            })?;
        req = req.message_attributes(a.name, value);
    }
    if let Some(g) = &msg.group_id {
        req = req.message_group_id(g);
    }
    if let Some(d) = &msg.dedup_id {
        req = req.message_deduplication_id(d);
    }
    let out = req
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("Publish", &e))?;
    Ok(out.message_id().unwrap_or_default().to_string())
}
