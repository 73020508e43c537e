//! Does a CloudTrail trail still record the calls this watcher depends on?
//!
//! EventBridge receives "AWS API Call via CloudTrail" events only while a trail logs management
//! write events, so a trail's event selectors decide whether the watcher sees anything at all.
//! One evaluation serves the `trail-modified` rule (selectors in a PutEventSelectors request)
//! and the scheduled self-check (selectors from GetEventSelectors).
//!
//! A selector set "logs management write events" here when it records every watched EKS call
//! made as a write: basic selectors with management events included and `All` or `WriteOnly`;
//! advanced selectors where some selector admits an event with `eventCategory=Management`,
//! `readOnly=false`, `eventSource=eks.amazonaws.com` and each watched EKS `eventName`. A field
//! we cannot evaluate (a filter on the caller, say) counts as restricting: never assume the
//! larger coverage.

pub mod digest;
pub mod layout;
pub mod selfcheck;

use serde_json::Value;

use crate::operation::{Operation, Source};

/// A basic event selector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BasicSelector {
    /// `All`, `ReadOnly` or `WriteOnly`; `None`: the default, `All`.
    pub read_write_type: Option<String>,
    /// `None`: the default, included.
    pub include_management_events: Option<bool>,
}

/// One field selector of an advanced event selector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    pub field: String,
    pub equals: Vec<String>,
    pub starts_with: Vec<String>,
    pub ends_with: Vec<String>,
    pub not_equals: Vec<String>,
    pub not_starts_with: Vec<String>,
    pub not_ends_with: Vec<String>,
}

impl FieldSelector {
    /// True when `value` passes every condition (values within a condition are alternatives).
    fn admits(&self, value: &str) -> bool {
        let any = |list: &[String], f: &dyn Fn(&str) -> bool| {
            list.is_empty() || list.iter().any(|v| f(v))
        };
        let none = |list: &[String], f: &dyn Fn(&str) -> bool| !list.iter().any(|v| f(v));
        any(&self.equals, &|v| v == value)
            && any(&self.starts_with, &|v| value.starts_with(v))
            && any(&self.ends_with, &|v| value.ends_with(v))
            && none(&self.not_equals, &|v| v == value)
            && none(&self.not_starts_with, &|v| value.starts_with(v))
            && none(&self.not_ends_with, &|v| value.ends_with(v))
    }
}

/// A trail's selectors, in either form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selectors {
    Basic(Vec<BasicSelector>),
    /// Each inner list is one advanced selector (its field selectors all apply).
    Advanced(Vec<Vec<FieldSelector>>),
}

impl Selectors {
    /// True when the selectors record every watched EKS call made as a management write.
    pub fn logs_management_writes(&self) -> bool {
        match self {
            Selectors::Basic(list) => list.iter().any(|s| {
                s.include_management_events != Some(false)
                    && matches!(
                        s.read_write_type.as_deref().unwrap_or("All"),
                        "All" | "WriteOnly"
                    )
            }),
            Selectors::Advanced(list) => list
                .iter()
                .any(|fields| Source::Eks.operations().all(|op| admits_write(fields, op))),
        }
    }

    /// The selectors a PutEventSelectors request sets (`eventSelectors` or
    /// `advancedEventSelectors`); `None` when it sets neither.
    pub fn from_request(req: &Value) -> Option<Selectors> {
        if let Some(list) = req.get("advancedEventSelectors").and_then(Value::as_array) {
            return Some(Selectors::Advanced(
                list.iter()
                    .map(|s| {
                        s.get("fieldSelectors")
                            .and_then(Value::as_array)
                            .map(|f| f.iter().map(field_selector).collect())
                            .unwrap_or_default()
                    })
                    .collect(),
            ));
        }
        let list = req.get("eventSelectors").and_then(Value::as_array)?;
        Some(Selectors::Basic(
            list.iter()
                .map(|s| BasicSelector {
                    read_write_type: s
                        .get("readWriteType")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    include_management_events: s
                        .get("includeManagementEvents")
                        .and_then(Value::as_bool),
                })
                .collect(),
        ))
    }
}

fn admits_write(fields: &[FieldSelector], op: Operation) -> bool {
    fields.iter().all(|f| {
        let value = match f.field.as_str() {
            "eventCategory" => "Management",
            "readOnly" => "false",
            "eventSource" => Source::Eks.as_str(),
            "eventName" => op.as_str(),
            // Any other field (caller, error code, resource) may exclude our calls.
            _ => return false,
        };
        f.admits(value)
    })
}

fn field_selector(v: &Value) -> FieldSelector {
    let list = |key: &str| -> Vec<String> {
        v.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    FieldSelector {
        field: v
            .get("field")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        equals: list("equals"),
        starts_with: list("startsWith"),
        ends_with: list("endsWith"),
        not_equals: list("notEquals"),
        not_starts_with: list("notStartsWith"),
        not_ends_with: list("notEndsWith"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn logs(req: Value) -> Option<bool> {
        Selectors::from_request(&req).map(|s| s.logs_management_writes())
    }

    #[test]
    fn basic_selectors_log_writes_unless_read_only_or_management_excluded() {
        assert_eq!(
            logs(
                json!({"eventSelectors": [{"readWriteType": "All", "includeManagementEvents": true}]})
            ),
            Some(true)
        );
        assert_eq!(
            logs(json!({"eventSelectors": [{}]})),
            Some(true),
            "defaults"
        );
        assert_eq!(
            logs(json!({"eventSelectors": [{"readWriteType": "ReadOnly"}]})),
            Some(false)
        );
        assert_eq!(
            logs(json!({"eventSelectors": [{"includeManagementEvents": false}]})),
            Some(false)
        );
        assert_eq!(
            logs(json!({"eventSelectors": []})),
            Some(false),
            "nothing selected"
        );
        assert_eq!(
            logs(json!({"trailName": "t"})),
            None,
            "no selectors in the request"
        );
    }

    #[test]
    fn advanced_selectors_must_admit_every_watched_eks_write() {
        let mgmt = json!({"field": "eventCategory", "equals": ["Management"]});
        assert_eq!(
            logs(json!({"advancedEventSelectors": [{"fieldSelectors": [mgmt]}]})),
            Some(true)
        );
        let read_only = json!({"field": "readOnly", "equals": ["true"]});
        assert_eq!(
            logs(json!({"advancedEventSelectors": [{"fieldSelectors": [mgmt, read_only]}]})),
            Some(false)
        );
        let not_eks = json!({"field": "eventSource", "notEquals": ["eks.amazonaws.com"]});
        assert_eq!(
            logs(json!({"advancedEventSelectors": [{"fieldSelectors": [mgmt, not_eks]}]})),
            Some(false)
        );
        let some_names = json!({"field": "eventName", "equals": ["CreateAccessEntry"]});
        assert_eq!(
            logs(json!({"advancedEventSelectors": [{"fieldSelectors": [mgmt, some_names]}]})),
            Some(false),
            "an allow-list drops the other watched calls"
        );
        let data_only = json!({"field": "eventCategory", "equals": ["Data"]});
        assert_eq!(
            logs(
                json!({"advancedEventSelectors": [{"fieldSelectors": [data_only]}, {"fieldSelectors": [mgmt]}]})
            ),
            Some(true),
            "any selector may log them"
        );
        let by_caller =
            json!({"field": "userIdentity.arn", "notStartsWith": ["arn:aws:iam::1:role/x"]});
        assert_eq!(
            logs(json!({"advancedEventSelectors": [{"fieldSelectors": [mgmt, by_caller]}]})),
            Some(false),
            "a field we cannot evaluate counts as restricting"
        );
    }
}
