//! What a patch of the aws-auth ConfigMap does to its `data`, read from the patch alone (the
//! audit event's `requestObject`): which sections it changes, what they hold after it when the
//! patch itself says, and how it reshaped them.
//!
//! A patch changes a section in more ways than writing it: a JSON patch (RFC 6902) may
//! `remove`, `move` or `copy`, and a `move` *away* from `/data/mapRoles` removes every role
//! mapping while its `path` names some other key; a strategic-merge patch may carry
//! `$patch: replace` or `$patch: delete` (on `data` or on the whole object) or `$retainKeys`,
//! which remove the sections they do not name. Reading only the `data` keys or `path`s a patch
//! names would report such a patch as "metadata only". So the operations are played, in order,
//! over a model of `data` in which every key holds what it held before the patch, a value the
//! patch wrote, or something the event does not show (a `copy` from a key or a field whose
//! content the event does not carry): what is not shown is reported as unknown, never as
//! unchanged.
//!
//! The audit event does not say which content type a patch was sent as. An object is read as a
//! strategic-merge patch (which `kubectl patch` sends by default, and which JSON merge and apply
//! patches agree with unless they carry directives); an array as a JSON patch.

use serde_json::Value;

use crate::awsauth::Section;
use crate::sanitize::clean;

const MAX_KEY: usize = 128;

/// What one data key holds after the operations played so far.
#[derive(Debug, Clone, PartialEq)]
enum Slot {
    /// A value the patch wrote (`Null`: the key is removed).
    Value(Value),
    /// What the data key of that name held before the patch.
    Previous(String),
    /// Content the event does not show, and why ("set to what data key `staged` held, ...").
    Unknown(String),
}

/// What the data keys the patch never named hold after it.
#[derive(Debug, Clone, PartialEq)]
enum Rest {
    /// What they held before.
    Previous,
    /// Nothing: `data` was replaced, removed or deleted as a whole.
    Removed,
    /// `data` was replaced by content the event does not show.
    Unknown(String),
}

/// A JSON pointer, as far as `data` is concerned.
#[derive(Debug, Clone, PartialEq)]
enum Pointer {
    /// `""`: the whole ConfigMap.
    Document,
    /// `/data`.
    Data,
    /// `/data/<key>`.
    Key(String),
    /// `/data/<key>/...`: inside a key's value (a string: the API server refuses it).
    Inside(String),
    /// Anywhere else (`/metadata/annotations/x`), as written.
    Elsewhere(String),
}

impl Pointer {
    fn parse(pointer: &str) -> Pointer {
        if pointer.is_empty() {
            return Pointer::Document;
        }
        let unescape = |s: &str| clean(&s.replace("~1", "/").replace("~0", "~"), MAX_KEY);
        let mut segments = pointer.split('/');
        // A pointer that does not start with `/` is refused by the API server.
        let (Some(""), Some("data")) = (segments.next(), segments.next()) else {
            return Pointer::Elsewhere(clean(pointer, MAX_KEY));
        };
        match (segments.next(), segments.next()) {
            (None, _) => Pointer::Data,
            (Some(key), None) => Pointer::Key(unescape(key)),
            (Some(key), Some(_)) => Pointer::Inside(unescape(key)),
        }
    }

    /// The pointer names `data` or a key of it.
    fn in_data(&self) -> bool {
        !matches!(self, Pointer::Elsewhere(_))
    }

    /// "mapRoles", "data key `staged`", "data", "the whole ConfigMap", "`/metadata/x`".
    fn describe(&self) -> String {
        match self {
            Pointer::Document => "the whole ConfigMap".into(),
            Pointer::Data => "data".into(),
            Pointer::Key(k) => key_name(k),
            Pointer::Inside(k) => format!("a path inside {}", key_name(k)),
            Pointer::Elsewhere(p) => format!("`{p}`"),
        }
    }
}

const EDITED_INSIDE: &str = "edited by a path inside it (the API server refuses that)";
const UNKNOWN_DIRECTIVE: &str = "the patch carries a `$patch` directive the watcher does not know";

/// Why content copied or moved from `source` is unknown.
fn unseen(source: &str) -> String {
    format!("set to what {source} held, which the audit event does not show")
}

fn section_of(key: &str) -> Option<Section> {
    Section::ALL.iter().copied().find(|s| s.as_str() == key)
}

/// A section by its name, any other key as "data key `x`".
fn key_name(key: &str) -> String {
    match section_of(key) {
        Some(s) => s.to_string(),
        None => format!("data key `{key}`"),
    }
}

/// `data` as the operations played so far leave it.
#[derive(Debug)]
struct Data {
    keys: Vec<(String, Slot)>,
    rest: Rest,
    /// How the patch reshaped `data`, for the alert.
    how: Vec<String>,
}

impl Data {
    fn new() -> Data {
        Data {
            keys: Vec::new(),
            rest: Rest::Previous,
            how: Vec::new(),
        }
    }

    fn set(&mut self, key: &str, slot: Slot) {
        match self.keys.iter_mut().find(|(k, _)| k == key) {
            Some((_, s)) => *s = slot,
            None => self.keys.push((key.to_string(), slot)),
        }
    }

    fn get(&self, key: &str) -> Slot {
        match self.keys.iter().find(|(k, _)| k == key) {
            Some((_, slot)) => slot.clone(),
            None => match &self.rest {
                Rest::Previous => Slot::Previous(key.to_string()),
                Rest::Removed => Slot::Value(Value::Null),
                Rest::Unknown(what) => Slot::Unknown(what.clone()),
            },
        }
    }

    /// `data` as a whole is now `rest`, with no key written.
    fn reset(&mut self, rest: Rest) {
        self.keys.clear();
        self.rest = rest;
    }

    /// Every key, named or not, holds content the event does not show, for `why`.
    fn unknowable(&mut self, why: &str) {
        self.reset(Rest::Unknown(why.to_string()));
    }

    /// `data` (or the whole object, `document`) replaced by `value`'s data.
    fn replace_all(&mut self, data: Option<&Value>) {
        match data {
            None | Some(Value::Null) => self.reset(Rest::Removed),
            Some(Value::Object(map)) => {
                self.reset(Rest::Removed);
                for (k, v) in map.iter().filter(|(k, _)| !k.starts_with('$')) {
                    self.set(k, Slot::Value(v.clone()));
                }
            }
            Some(_) => self.unknowable("the patch's `data` is not a map"),
        }
    }

    /// What `at` holds now (the source of a `move` or `copy`).
    fn read(&self, at: &Pointer) -> Slot {
        match at {
            Pointer::Key(k) => self.get(k),
            Pointer::Document | Pointer::Data | Pointer::Inside(_) | Pointer::Elsewhere(_) => {
                Slot::Unknown(unseen(&at.describe()))
            }
        }
    }

    fn remove(&mut self, at: &Pointer) {
        match at {
            Pointer::Document | Pointer::Data => self.reset(Rest::Removed),
            Pointer::Key(k) => self.set(k, Slot::Value(Value::Null)),
            Pointer::Inside(k) => self.set(k, Slot::Unknown(EDITED_INSIDE.into())),
            Pointer::Elsewhere(_) => {}
        }
    }

    fn write(&mut self, at: &Pointer, slot: Slot) {
        match (at, slot) {
            (Pointer::Document, Slot::Value(object)) => self.replace_all(object.get("data")),
            (Pointer::Data, Slot::Value(data)) => self.replace_all(Some(&data)),
            (Pointer::Document | Pointer::Data, Slot::Previous(key)) => {
                self.reset(Rest::Unknown(unseen(&key_name(&key))))
            }
            (Pointer::Document | Pointer::Data, Slot::Unknown(what)) => {
                self.reset(Rest::Unknown(what))
            }
            (Pointer::Key(k), slot) => self.set(k, slot),
            (Pointer::Inside(k), _) => self.set(k, Slot::Unknown(EDITED_INSIDE.into())),
            (Pointer::Elsewhere(_), _) => {}
        }
    }

    /// Play a JSON patch's operations in order.
    fn json_patch(&mut self, ops: &[Value]) {
        for op in ops {
            let field = |name: &str| op.get(name).and_then(Value::as_str).map(Pointer::parse);
            let (path, from) = (field("path"), field("from"));
            match (op.get("op").and_then(Value::as_str), path, from) {
                (Some("test"), _, _) => {}
                (Some("remove"), Some(path), _) => {
                    if path.in_data() {
                        self.how.push(format!("removes {}", path.describe()));
                    }
                    self.remove(&path);
                }
                (Some(verb @ ("add" | "replace")), Some(path), _) => {
                    let value = op.get("value").cloned().unwrap_or(Value::Null);
                    match &path {
                        // A section's new value: its rows say what it holds.
                        Pointer::Key(k) if section_of(k).is_some() => {}
                        Pointer::Elsewhere(_) => {}
                        Pointer::Document => self.how.push("replaces the whole ConfigMap".into()),
                        Pointer::Data => self.how.push("replaces data as a whole".into()),
                        Pointer::Key(_) | Pointer::Inside(_) => self.how.push(format!(
                            "{} {}",
                            if verb == "add" { "adds" } else { "replaces" },
                            path.describe()
                        )),
                    }
                    self.write(&path, Slot::Value(value));
                }
                (Some(verb @ ("move" | "copy")), Some(path), Some(from)) => {
                    let slot = self.read(&from);
                    if path.in_data() || (verb == "move" && from.in_data()) {
                        self.how.push(format!(
                            "{} {} to {}",
                            if verb == "move" { "moves" } else { "copies" },
                            from.describe(),
                            path.describe()
                        ));
                    }
                    // Moving a location onto itself changes nothing (RFC 6902, 4.4).
                    if verb == "move" && from != path {
                        self.remove(&from);
                    }
                    self.write(&path, slot);
                }
                // An operation the API server would refuse (the whole patch with it); read
                // as changing everything, so that nothing is claimed unchanged.
                _ => self.unknowable("the patch carries an operation the watcher cannot read"),
            }
        }
    }

    /// A strategic-merge (or JSON merge, or apply) patch: its directives, then its `data` keys.
    fn merge_patch(&mut self, patch: &serde_json::Map<String, Value>) {
        match patch.get("$patch").and_then(Value::as_str) {
            Some("replace") => {
                self.how
                    .push("replaces the whole ConfigMap (`$patch: replace`)".into());
                return self.replace_all(patch.get("data"));
            }
            Some("delete") => {
                self.how
                    .push("deletes the whole ConfigMap (`$patch: delete`)".into());
                return self.reset(Rest::Removed);
            }
            Some(_) => return self.unknowable(UNKNOWN_DIRECTIVE),
            None => {}
        }
        let data = match patch.get("data") {
            None => return,
            Some(Value::Null) => {
                self.how.push("removes data as a whole".into());
                return self.reset(Rest::Removed);
            }
            Some(Value::Object(data)) => data,
            Some(_) => return self.unknowable("the patch's `data` is not a map"),
        };
        match data.get("$patch").and_then(Value::as_str) {
            Some("replace") => {
                self.how
                    .push("replaces data as a whole (`$patch: replace`)".into());
                return self.replace_all(Some(&Value::Object(data.clone())));
            }
            Some("delete") => {
                self.how.push("deletes data (`$patch: delete`)".into());
                return self.reset(Rest::Removed);
            }
            Some(_) => return self.unknowable(UNKNOWN_DIRECTIVE),
            None => {}
        }
        if let Some(retain) = data.get("$retainKeys") {
            let Some(kept) = retain
                .as_array()
                .and_then(|keys| keys.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
            else {
                return self.unknowable("the patch's `$retainKeys` is not a list of keys");
            };
            let kept: Vec<String> = kept.iter().map(|k| clean(k, MAX_KEY)).collect();
            self.how.push(format!(
                "keeps only the data keys [{}] (`$retainKeys`)",
                kept.join(", ")
            ));
            self.reset(Rest::Removed);
            for k in &kept {
                self.set(k, Slot::Previous(k.clone()));
            }
        }
        for (k, v) in data.iter().filter(|(k, _)| !k.starts_with('$')) {
            let k = clean(k, MAX_KEY);
            match (section_of(&k), v) {
                (Some(_), Value::Null) => self.how.push(format!("removes {k}")),
                (Some(_), _) => {}
                (None, Value::Null) => self.how.push(format!("removes {}", key_name(&k))),
                (None, _) => self.how.push(format!("writes {}", key_name(&k))),
            }
            self.set(&k, Slot::Value(v.clone()));
        }
    }
}

/// What a section holds after a patch.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Outcome {
    /// The value the patch left (`Null`: removed).
    Known(Value),
    /// Content the event does not show, and why.
    Unknown(String),
}

/// What a patch does to aws-auth's sections.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Effect {
    /// The sections the patch changes, in [`Section::ALL`] order, with what they hold after it.
    pub sections: Vec<(Section, Outcome)>,
    /// How the patch reshaped `data` beyond writing sections' values, in the patch's order:
    /// "moves mapRoles to data key `old`", "replaces data as a whole (`$patch: replace`)".
    pub how: Vec<String>,
}

impl Effect {
    pub fn touched(&self) -> Vec<Section> {
        self.sections.iter().map(|(s, _)| *s).collect()
    }

    /// The known sections, as a `data` object (removed ones as `null`).
    pub fn known_data(&self) -> Value {
        let data: serde_json::Map<String, Value> = self
            .sections
            .iter()
            .filter_map(|(s, o)| match o {
                Outcome::Known(v) => Some((s.to_string(), v.clone())),
                Outcome::Unknown(_) => None,
            })
            .collect();
        serde_json::json!({ "data": data })
    }

    /// The sections whose content after the patch the event does not show, with what it is.
    pub fn unknown(&self) -> Vec<(Section, String)> {
        self.sections
            .iter()
            .filter_map(|(s, o)| match o {
                Outcome::Unknown(what) => Some((*s, what.clone())),
                Outcome::Known(_) => None,
            })
            .collect()
    }
}

/// Play `patch` over aws-auth's `data`.
pub(super) fn effect(patch: &Value) -> Effect {
    let mut data = Data::new();
    match patch {
        Value::Array(ops) => data.json_patch(ops),
        Value::Object(o) => data.merge_patch(o),
        _ => data.unknowable("the patch is neither a JSON patch nor a merge patch"),
    }
    let sections = Section::ALL
        .iter()
        .filter_map(|s| {
            let outcome = match data.get(s.as_str()) {
                Slot::Previous(k) if k == s.as_str() => return None,
                Slot::Previous(k) => Outcome::Unknown(unseen(&key_name(&k))),
                Slot::Value(v) => Outcome::Known(v),
                Slot::Unknown(what) => Outcome::Unknown(what),
            };
            Some((*s, outcome))
        })
        .collect();
    Effect {
        sections,
        how: data.how,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ROLES: &str = "- rolearn: arn:aws:iam::111122223333:role/node\n";

    fn sections(patch: Value) -> Vec<(Section, Outcome)> {
        effect(&patch).sections
    }

    #[test]
    fn a_json_patch_moving_a_section_away_removes_it_whatever_its_path() {
        let e = effect(
            &json!([{"op": "move", "from": "/data/mapRoles", "path": "/data/mapRoles-old"}]),
        );
        assert_eq!(e.sections, [(Section::Roles, Outcome::Known(Value::Null))]);
        assert_eq!(e.how, ["moves mapRoles to data key `mapRoles-old`"]);
        let out = sections(
            json!([{"op": "move", "from": "/data/mapUsers", "path": "/metadata/annotations/x"}]),
        );
        assert_eq!(out, [(Section::Users, Outcome::Known(Value::Null))]);
    }

    #[test]
    fn a_json_patch_moving_or_copying_into_a_section_gives_the_source_when_the_patch_wrote_it() {
        let staged = json!([
            {"op": "add", "path": "/data/staged", "value": ROLES},
            {"op": "move", "from": "/data/staged", "path": "/data/mapRoles"}]);
        let e = effect(&staged);
        assert_eq!(e.sections, [(Section::Roles, Outcome::Known(json!(ROLES)))]);
        assert_eq!(
            e.how,
            [
                "adds data key `staged`",
                "moves data key `staged` to mapRoles"
            ]
        );
        let copied =
            sections(json!([{"op": "copy", "from": "/data/staged", "path": "/data/mapRoles"}]));
        assert_eq!(
            copied,
            [(
                Section::Roles,
                Outcome::Unknown(unseen("data key `staged`"))
            )]
        );
        let elsewhere = sections(
            json!([{"op": "copy", "from": "/metadata/annotations/x", "path": "/data/mapUsers"}]),
        );
        assert_eq!(
            elsewhere,
            [(
                Section::Users,
                Outcome::Unknown(unseen("`/metadata/annotations/x`"))
            )]
        );
    }

    #[test]
    fn a_copy_from_a_section_changes_only_its_target_and_a_round_trip_changes_nothing() {
        let copy =
            sections(json!([{"op": "copy", "from": "/data/mapRoles", "path": "/data/backup"}]));
        assert!(copy.is_empty(), "{copy:?}");
        let round_trip = sections(json!([
            {"op": "move", "from": "/data/mapRoles", "path": "/data/tmp"},
            {"op": "move", "from": "/data/tmp", "path": "/data/mapRoles"}]));
        assert!(round_trip.is_empty(), "{round_trip:?}");
        let onto_itself =
            sections(json!([{"op": "move", "from": "/data/mapRoles", "path": "/data/mapRoles"}]));
        assert!(onto_itself.is_empty(), "{onto_itself:?}");
        let swap =
            sections(json!([{"op": "move", "from": "/data/mapUsers", "path": "/data/mapRoles"}]));
        assert_eq!(
            swap,
            [
                (Section::Roles, Outcome::Unknown(unseen("mapUsers"))),
                (Section::Users, Outcome::Known(Value::Null)),
            ]
        );
    }

    #[test]
    fn a_json_patch_on_data_or_the_whole_object_changes_every_section() {
        let removed = Outcome::Known(Value::Null);
        let all_removed: Vec<(Section, Outcome)> =
            Section::ALL.iter().map(|s| (*s, removed.clone())).collect();
        assert_eq!(
            sections(json!([{"op": "remove", "path": "/data"}])),
            all_removed
        );
        let replaced = effect(
            &json!([{"op": "replace", "path": "", "value": {"kind": "ConfigMap", "data": {"mapRoles": ROLES}}}]),
        );
        assert_eq!(
            replaced.sections[0],
            (Section::Roles, Outcome::Known(json!(ROLES)))
        );
        assert_eq!(replaced.sections[1..], all_removed[1..]);
        assert_eq!(replaced.how, ["replaces the whole ConfigMap"]);
        let moved =
            effect(&json!([{"op": "move", "from": "/data", "path": "/metadata/annotations"}]));
        assert_eq!(moved.sections, all_removed);
        assert_eq!(moved.how, ["moves data to `/metadata/annotations`"]);
        let unreadable = sections(json!([{"op": "frobnicate", "path": "/metadata/x"}]));
        assert!(
            unreadable
                .iter()
                .all(|(_, o)| matches!(o, Outcome::Unknown(_)))
                && unreadable.len() == 3,
            "{unreadable:?}"
        );
        let metadata = effect(
            &json!([{"op": "add", "path": "/metadata/labels/x", "value": "y"}, {"op": "test", "path": "/data/mapRoles", "value": ROLES}]),
        );
        assert!(
            metadata.sections.is_empty() && metadata.how.is_empty(),
            "{metadata:?}"
        );
    }

    #[test]
    fn strategic_merge_directives_remove_the_sections_they_do_not_name() {
        let replace = effect(&json!({"data": {"$patch": "replace", "mapRoles": ROLES}}));
        assert_eq!(
            replace.sections,
            [
                (Section::Roles, Outcome::Known(json!(ROLES))),
                (Section::Users, Outcome::Known(Value::Null)),
                (Section::Accounts, Outcome::Known(Value::Null)),
            ]
        );
        assert_eq!(
            replace.how,
            ["replaces data as a whole (`$patch: replace`)"]
        );
        let delete = effect(&json!({"data": {"$patch": "delete"}}));
        assert_eq!(delete.touched(), Section::ALL);
        assert_eq!(delete.how, ["deletes data (`$patch: delete`)"]);
        let whole = effect(&json!({"$patch": "replace", "metadata": {"name": "aws-auth"}}));
        assert_eq!(whole.touched(), Section::ALL);
        let retain =
            effect(&json!({"data": {"$retainKeys": ["mapRoles", "mapUsers"], "mapUsers": ROLES}}));
        assert_eq!(
            retain.sections,
            [
                (Section::Users, Outcome::Known(json!(ROLES))),
                (Section::Accounts, Outcome::Known(Value::Null)),
            ]
        );
        let nulled = effect(&json!({"data": null}));
        assert_eq!(nulled.touched(), Section::ALL);
        let unknown = sections(json!({"data": {"$patch": "merge"}}));
        assert!(
            unknown
                .iter()
                .all(|(_, o)| matches!(o, Outcome::Unknown(_))),
            "{unknown:?}"
        );
    }

    #[test]
    fn a_plain_merge_patch_sets_only_its_keys() {
        let e = effect(
            &json!({"metadata": {"labels": {"a": "b"}}, "data": {"mapUsers": ROLES, "mapAccounts": null, "note": "x"}}),
        );
        assert_eq!(
            e.sections,
            [
                (Section::Users, Outcome::Known(json!(ROLES))),
                (Section::Accounts, Outcome::Known(Value::Null)),
            ]
        );
        assert_eq!(e.how, ["removes mapAccounts", "writes data key `note`"]);
        assert!(effect(&json!({"metadata": {}})).sections.is_empty());
        let unreadable = sections(json!("mapRoles: x"));
        assert_eq!(unreadable.len(), 3);
    }
}
