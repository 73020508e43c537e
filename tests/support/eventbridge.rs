//! EventBridge event-pattern matching for exactly the operators our templates use, following
//! the documented semantics ("Event patterns" and "Comparison operators" in the EventBridge
//! user guide): every field of the pattern must match; a list is a set of alternatives; an
//! event value that is a list matches when any element does; a pattern object inside a field
//! descends into the event (into every element of a list of objects); exact strings compare
//! exactly; `prefix`, `suffix` (both optionally `{"equals-ignore-case": ...}`),
//! `equals-ignore-case`, `wildcard` (`*` any run of characters, case-sensitive), `anything-but`
//! (a value, a list, or `{"prefix": ...}`), `exists` and `$or` (any of its patterns). Like every comparison, `exists` looks at
//! leaves: a field holding an object does not exist for it, and below an absent field every
//! nested field is absent (so `exists: false` holds there). An operator this evaluator does not
//! know panics, so a template that starts using one is noticed.

use eks_access_watch::model::wildcard_match;
use serde_json::Value;

/// True when `event` matches `pattern`.
pub fn matches(pattern: &Value, event: &Value) -> bool {
    let Some(fields) = pattern.as_object() else {
        panic!("a pattern is an object: {pattern}")
    };
    fields.iter().all(|(key, want)| match key.as_str() {
        // `$or`: any of the patterns listed matches (at the level it is written).
        "$or" => want
            .as_array()
            .expect("$or takes a list of patterns")
            .iter()
            .any(|p| matches(p, event)),
        _ => field(want, event.get(key)),
    })
}

fn field(want: &Value, got: Option<&Value>) -> bool {
    match want {
        Value::Object(_) => match got {
            Some(Value::Array(items)) if !items.is_empty() => {
                items.iter().any(|i| matches(want, i))
            }
            Some(v @ Value::Object(_)) => matches(want, v),
            // Nothing below (absent, a leaf, an empty array): every nested field is absent.
            _ => matches(want, &Value::Object(Default::default())),
        },
        Value::Array(options) => options.iter().any(|o| alternative(o, got)),
        other => panic!("a field pattern is a list or an object: {other}"),
    }
}

/// One alternative against the event value (`None`: the field is absent).
fn alternative(option: &Value, got: Option<&Value>) -> bool {
    if let Some(exists) = option.get("exists") {
        // Only leaves exist: a field holding an object is an intermediate node.
        let present = got.is_some_and(|v| !v.is_object());
        return exists.as_bool().expect("exists takes a boolean") == present;
    }
    let Some(got) = got else { return false };
    match got {
        Value::Array(items) => items.iter().any(|i| leaf(option, i)),
        other => leaf(option, other),
    }
}

fn leaf(option: &Value, value: &Value) -> bool {
    let text = value.as_str();
    let Some(op) = option.as_object() else {
        return option == value;
    };
    let (name, arg) = op.iter().next().expect("an operator object has one key");
    match name.as_str() {
        "prefix" => compare(arg, text, |v, a| v.starts_with(a)),
        "suffix" => compare(arg, text, |v, a| v.ends_with(a)),
        "equals-ignore-case" => text.is_some_and(|t| eq_ignore_case(t, arg.as_str().unwrap())),
        // EventBridge's `wildcard`: `*` matches any run of characters, none included, as in an
        // EKS namespace scope.
        "wildcard" => text.is_some_and(|t| wildcard_match(arg.as_str().unwrap(), t)),
        "anything-but" => match arg {
            Value::Array(list) => !list.iter().any(|a| a == value),
            Value::Object(inner) if inner.contains_key("prefix") => {
                !text.is_some_and(|t| t.starts_with(inner["prefix"].as_str().unwrap()))
            }
            Value::Object(other) => panic!("anything-but {other:?} not understood by this test"),
            single => single != value,
        },
        other => panic!("operator {other} not understood by this test"),
    }
}

/// `prefix`/`suffix` with a plain string (case-sensitive) or `{"equals-ignore-case": s}`.
fn compare(arg: &Value, text: Option<&str>, test: fn(&str, &str) -> bool) -> bool {
    let Some(t) = text else { return false };
    match arg {
        Value::String(a) => test(t, a),
        Value::Object(o) => {
            let a = o["equals-ignore-case"]
                .as_str()
                .expect("only equals-ignore-case is understood here");
            test(&t.to_lowercase(), &a.to_lowercase())
        }
        other => panic!("{other}"),
    }
}

fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// One decision the template tests ask of EventBridge: is `event` delivered through `route`, and
/// should it be? Shared by the tests that judge it with [`matches`] and those that ask moto too
/// (tests/eventbridge_moto.rs).
pub struct Case {
    /// Where the case comes from, for messages.
    pub what: String,
    /// The hops the event takes (a member account's forwarding rules, then the central bus's),
    /// each its rules' patterns by name: a hop passes the event on when any of them matches.
    pub route: Vec<Vec<(String, Value)>>,
    pub event: Value,
    /// What EventBridge should do: deliver the event (through every hop) or not.
    pub expected: bool,
}

impl Case {
    /// A case of one pattern.
    pub fn single(what: &str, pattern: Value, event: &Value, expected: bool) -> Case {
        Case {
            what: what.to_string(),
            route: vec![vec![(what.to_string(), pattern)]],
            event: event.clone(),
            expected,
        }
    }

    /// Whether this evaluator delivers the event through every hop.
    pub fn delivered(&self) -> bool {
        self.route
            .iter()
            .all(|hop| hop.iter().any(|(_, p)| matches(p, &self.event)))
    }
}

/// The documented behaviours this evaluator follows, as cases (moto judges them too).
pub fn documented_examples() -> Vec<Case> {
    use serde_json::json;
    let event = json!({"source": "aws.sts", "detail": {"requestParameters": {"roleArn": "arn:aws:iam::1:role/teams/EKS-Break-Glass"},
        "items": [{"roleArn": "x"}, {"other": 1}]}});
    let case =
        |what: &str, pattern: Value, expected: bool| Case::single(what, pattern, &event, expected);
    vec![
        case("exact", json!({"source": ["aws.sts"]}), true),
        case("exact, other value", json!({"source": ["aws.eks"]}), false),
        case(
            "suffix ignoring case",
            json!({"detail": {"requestParameters": {"roleArn": [{"suffix": {"equals-ignore-case": "/eks-break-glass"}}]}}}),
            true,
        ),
        case(
            "suffix, case-sensitive",
            json!({"detail": {"requestParameters": {"roleArn": [{"suffix": "/eks-break-glass"}]}}}),
            false,
        ),
        case(
            "exists in an element of an array of objects",
            json!({"detail": {"items": {"roleArn": [{"exists": true}]}}}),
            true,
        ),
        case(
            "exists in no element of an array of objects",
            json!({"detail": {"items": {"nope": [{"exists": true}]}}}),
            false,
        ),
        case(
            "exists false, absent field",
            json!({"detail": {"missing": [{"exists": false}]}}),
            true,
        ),
        // The user guide: comparison operators only work on leaf nodes (event-ruler's README,
        // "Exists matching", shows `exists: false` matching a field that holds an object).
        case(
            "exists false below an absent field",
            json!({"detail": {"nope": {"deeper": [{"exists": false}]}}}),
            true,
        ),
        case(
            "exists false on a field holding an object",
            json!({"detail": {"requestParameters": [{"exists": false}]}}),
            true,
        ),
        case(
            "exists true on a field holding an object",
            json!({"detail": {"requestParameters": [{"exists": true}]}}),
            false,
        ),
        case(
            "anything-but one value",
            json!({"source": [{"anything-but": "aws.eks"}]}),
            true,
        ),
        case(
            "anything-but a list holding the value",
            json!({"source": [{"anything-but": ["aws.sts"]}]}),
            false,
        ),
        case("wildcard", json!({"source": [{"wildcard": "aws.*"}]}), true),
        case(
            "$or, one branch matches",
            json!({"$or": [{"source": ["aws.eks"]}, {"detail": {"requestParameters": {"roleArn": [{"prefix": "arn:aws:iam::1:"}]}}}]}),
            true,
        ),
        case(
            "$or, no branch matches",
            json!({"$or": [{"source": ["aws.eks"]}, {"detail": {"absent": ["x"]}}]}),
            false,
        ),
        case(
            "a pattern field the event lacks",
            json!({"absent": ["x"]}),
            false,
        ),
    ]
}

#[test]
fn the_evaluator_follows_the_documented_examples() {
    for case in documented_examples() {
        assert_eq!(case.delivered(), case.expected, "{}", case.what);
    }
}
