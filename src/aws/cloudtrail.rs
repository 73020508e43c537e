//! The scheduled trail self-check's AWS side: read-only CloudTrail calls (DescribeTrails,
//! GetTrailStatus, GetEventSelectors) -> the plain [`Change::TrailStatus`] the
//! `no-trail-logging` rule grades, as an event ([`crate::trail::selfcheck`]) through the same
//! path as every alert.
//!
//! A trail that cannot be read is recorded as an error, never assumed to be logging: a
//! check that cannot confirm coverage reports it.

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::types::{AdvancedEventSelector, AdvancedFieldSelector, EventSelector};

use crate::aws::AwsError;
use crate::model::{Change, TrailState};
use crate::sanitize::clean;
use crate::trail::{BasicSelector, FieldSelector, Selectors};

/// Every trail visible from `region` (shadow copies of other regions' multi-region and
/// organisation trails included), with whether it logs the watched calls there.
pub async fn trail_status(client: &Client, region: &str) -> Change {
    let mut errors = Vec::new();
    let trails = match client
        .describe_trails()
        .include_shadow_trails(true)
        .send()
        .await
    {
        Ok(out) => out.trail_list().to_vec(),
        Err(e) => {
            errors.push(AwsError::from_sdk("DescribeTrails", &e).to_string());
            Vec::new()
        }
    };
    let mut states = Vec::new();
    for trail in trails {
        let name = trail
            .trail_arn()
            .or(trail.name())
            .unwrap_or_default()
            .to_string();
        let covers_region =
            trail.is_multi_region_trail() == Some(true) || trail.home_region() == Some(region);
        let logging = match client.get_trail_status().name(&name).send().await {
            Ok(status) => status.is_logging() == Some(true),
            Err(e) => {
                errors.push(AwsError::from_sdk("GetTrailStatus", &e).to_string());
                continue;
            }
        };
        let logs_management_writes =
            match client.get_event_selectors().trail_name(&name).send().await {
                Ok(out) => selectors(out.event_selectors(), out.advanced_event_selectors())
                    .logs_management_writes(),
                Err(e) => {
                    errors.push(AwsError::from_sdk("GetEventSelectors", &e).to_string());
                    continue;
                }
            };
        states.push(TrailState {
            name: clean(trail.name().unwrap_or(&name), 256),
            logging,
            covers_region,
            logs_management_writes,
        });
    }
    Change::TrailStatus {
        trails: states,
        errors: errors.into_iter().map(|e| clean(&e, 512)).collect(),
    }
}

fn selectors(basic: &[EventSelector], advanced: &[AdvancedEventSelector]) -> Selectors {
    if !advanced.is_empty() {
        return Selectors::Advanced(
            advanced
                .iter()
                .map(|s| s.field_selectors().iter().map(field_selector).collect())
                .collect(),
        );
    }
    Selectors::Basic(
        basic
            .iter()
            .map(|s| BasicSelector {
                read_write_type: s.read_write_type().map(|t| t.as_str().to_string()),
                include_management_events: s.include_management_events(),
            })
            .collect(),
    )
}

fn field_selector(f: &AdvancedFieldSelector) -> FieldSelector {
    FieldSelector {
        field: f.field().to_string(),
        equals: f.equals().to_vec(),
        starts_with: f.starts_with().to_vec(),
        ends_with: f.ends_with().to_vec(),
        not_equals: f.not_equals().to_vec(),
        not_starts_with: f.not_starts_with().to_vec(),
        not_ends_with: f.not_ends_with().to_vec(),
    }
}

/// CloudTrail's public keys valid from `from` to `to` (ListPublicKeys, every page), for
/// checking digest signatures.
pub async fn list_public_keys(
    client: &Client,
    from: std::time::SystemTime,
    to: std::time::SystemTime,
) -> Result<Vec<crate::trail::digest::PublicKey>, AwsError> {
    let mut keys = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .list_public_keys()
            .start_time(aws_smithy_types::DateTime::from(from))
            .end_time(aws_smithy_types::DateTime::from(to))
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListPublicKeys", &e))?;
        for k in out.public_key_list() {
            keys.push(crate::trail::digest::PublicKey {
                fingerprint: k.fingerprint().unwrap_or_default().to_ascii_lowercase(),
                der: k.value().map(|v| v.as_ref().to_vec()).unwrap_or_default(),
            });
        }
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(keys),
        }
    }
}
