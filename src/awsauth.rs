//! The `aws-auth` ConfigMap (kube-system): the pre-access-entry way IAM principals reach a
//! cluster, still honoured in `CONFIG_MAP` and `API_AND_CONFIG_MAP` modes.
//!
//! EKS stores `mapRoles`, `mapUsers` and `mapAccounts` as YAML *strings* inside `data`. This
//! module reads a whole ConfigMap (`kubectl get configmap aws-auth -n kube-system -o yaml` or
//! `-o json`), a file holding only its `data` section, or the `data` object of a ConfigMap found
//! elsewhere (a Kubernetes audit event), as eksctl, the Terraform EKS module and hand edits write
//! them: any indentation style, `groups` absent, username templates (`{{SessionName}}`,
//! `system:node:{{EC2PrivateDNSName}}`), account ids quoted or not.
//!
//! Parsing is all or nothing: a malformed section or row is an error naming the section, the row
//! and the line, never a partial result presented as complete; every problem is reported at once.

use std::fmt;

use serde_json::Value;

use crate::closed::closed_enum;

closed_enum! {
    /// The section of `data` a mapping comes from.
    pub enum MapKind ("aws-auth section") {
        Roles = "mapRoles",
        Users = "mapUsers",
    }
}

impl MapKind {
    /// The key naming the principal in a row: `rolearn` or `userarn`.
    pub fn arn_key(self) -> &'static str {
        match self {
            MapKind::Roles => "rolearn",
            MapKind::Users => "userarn",
        }
    }
}

/// One row of `mapRoles` or `mapUsers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub kind: MapKind,
    /// Position in its section, from 0.
    pub index: usize,
    /// The ARN as written (aws-auth matches role ARNs without their path).
    pub arn: String,
    /// The Kubernetes username, templates kept as written (`{{SessionName}}`).
    pub username: Option<String>,
    pub groups: Vec<String>,
}

/// The parsed ConfigMap data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsAuth {
    pub roles: Vec<Mapping>,
    pub users: Vec<Mapping>,
    /// Account ids from `mapAccounts`: every IAM principal of each account may authenticate.
    pub accounts: Vec<String>,
}

impl AwsAuth {
    /// Every role and user mapping, roles first.
    pub fn mappings(&self) -> impl Iterator<Item = &Mapping> {
        self.roles.iter().chain(&self.users)
    }
}

/// Every problem found in an aws-auth ConfigMap, each naming where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct AwsAuthError {
    pub problems: Vec<String>,
}

impl fmt::Display for AwsAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid aws-auth ConfigMap:")?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

/// The sections of `data` that map principals.
const SECTIONS: [&str; 3] = ["mapRoles", "mapUsers", "mapAccounts"];

/// Keys only a whole ConfigMap has (a file holding only its `data` has none of them).
const CONFIGMAP_KEYS: [&str; 4] = ["apiVersion", "kind", "metadata", "data"];

/// What a ConfigMap's `data` should look like, for the errors.
const SHAPE: &str = "`data:` with `mapRoles: |`, `mapUsers: |` or `mapAccounts: |` under it, each a YAML list, as `kubectl get configmap aws-auth -n kube-system -o yaml` prints it";

/// Parse a ConfigMap document: the whole object (YAML or JSON) or only its `data` section.
///
/// Stricter than [`parse_data`] about the document around the sections, because a plan from a
/// backup that lost them would be empty and look complete: a `data` that is `null` or holds
/// none of the sections, and sections beside `data` rather than inside it (a mis-indented
/// hand edit), are errors.
pub fn parse_document(text: &str) -> Result<AwsAuth, AwsAuthError> {
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| AwsAuthError {
        problems: vec![match e.location() {
            Some(l) => format!(
                "line {}, column {}: not valid YAML or JSON: {e}",
                l.line(),
                l.column()
            ),
            None => format!("not valid YAML or JSON: {e}"),
        }],
    })?;
    let Value::Object(o) = &doc else {
        return Err(AwsAuthError {
            problems: vec!["expected a ConfigMap object or its data section".into()],
        });
    };
    let outside: Vec<&str> = SECTIONS
        .into_iter()
        .filter(|k| o.contains_key(*k))
        .collect();
    let whole = CONFIGMAP_KEYS.iter().any(|k| o.contains_key(*k));
    if !whole && !outside.is_empty() {
        // A file holding only the data section.
        return parse_data(&doc);
    }
    let mut problems = Vec::new();
    if !outside.is_empty() {
        let (sits, it) = match outside.len() {
            1 => ("sits", "it"),
            _ => ("sit", "them"),
        };
        problems.push(format!(
            "{} {sits} at the top level of the ConfigMap, outside `data`, where the API server keeps no sections (it drops unknown fields): indent {it} under `data:` (expected {SHAPE})",
            outside.join(" and "),
        ));
    }
    match o.get("data") {
        None if outside.is_empty() => {
            let keys: Vec<&str> = o.keys().map(String::as_str).take(8).collect();
            problems.push(format!(
                "no `data` with mapRoles, mapUsers or mapAccounts (expected the output of `kubectl get configmap aws-auth -n kube-system -o yaml`, or its data section); keys: [{}]",
                keys.join(", ")
            ));
        }
        None => {}
        Some(Value::Null) => problems.push(format!(
            "`data` is null, so the ConfigMap maps nobody and a plan from it would be empty: take the backup again (expected {SHAPE})"
        )),
        Some(Value::Object(data)) if !SECTIONS.iter().any(|k| data.contains_key(*k)) => {
            let keys: Vec<&str> = data.keys().map(String::as_str).take(8).collect();
            problems.push(format!(
                "`data` holds none of mapRoles, mapUsers or mapAccounts (its keys: [{}]), so a plan from it would be empty: check the spelling, or take the backup again (expected {SHAPE})",
                keys.join(", ")
            ));
        }
        Some(data) if problems.is_empty() => return parse_data(data),
        Some(data) => {
            // Report the section problems too, all at once.
            if let Err(e) = parse_data(data) {
                problems.extend(e.problems);
            }
        }
    }
    Err(AwsAuthError { problems })
}

/// Parse the `data` object of an aws-auth ConfigMap (each section a YAML string). `null` or a
/// missing section is empty: a live object's `data` (the watcher's) may be emptied by an edit.
/// Rows are read as written, whatever their ARN or groups: whether a row can become an access
/// entry is `migrate`'s question ([`crate::migrate::check`]), and the watcher alerts on every row.
pub fn parse_data(data: &Value) -> Result<AwsAuth, AwsAuthError> {
    let mut problems = Vec::new();
    let mut auth = AwsAuth::default();
    if !(data.is_object() || data.is_null()) {
        problems.push("`data` is not an object".to_string());
    }
    for kind in MapKind::ALL {
        if let Some(rows) = section(data, kind.as_str(), &mut problems) {
            let mappings = rows
                .iter()
                .enumerate()
                .filter_map(|(i, row)| mapping(*kind, i, row, &mut problems));
            match kind {
                MapKind::Roles => auth.roles.extend(mappings),
                MapKind::Users => auth.users.extend(mappings),
            }
        }
    }
    if let Some(rows) = section(data, "mapAccounts", &mut problems) {
        for (i, row) in rows.iter().enumerate() {
            match row {
                Value::String(s) if !s.trim().is_empty() => auth.accounts.push(s.trim().into()),
                Value::Number(n) => auth.accounts.push(n.to_string()),
                other => problems.push(format!(
                    "mapAccounts[{i}]: expected an account id, found {other}"
                )),
            }
        }
    }
    if problems.is_empty() {
        Ok(auth)
    } else {
        Err(AwsAuthError { problems })
    }
}

/// A section's rows: the YAML string parsed as a list (or a list given directly).
fn section(data: &Value, key: &str, problems: &mut Vec<String>) -> Option<Vec<Value>> {
    let parsed = match data.get(key)? {
        Value::Null => return None,
        Value::String(text) if text.trim().is_empty() => return None,
        Value::String(text) => match serde_yaml_ng::from_str::<Value>(text) {
            Ok(v) => v,
            Err(e) => {
                problems.push(match e.location() {
                    Some(l) => format!(
                        "{key} line {}, column {}: not valid YAML: {e}",
                        l.line(),
                        l.column()
                    ),
                    None => format!("{key}: not valid YAML: {e}"),
                });
                return None;
            }
        },
        other => other.clone(),
    };
    match parsed {
        Value::Array(rows) => Some(rows),
        Value::Null => None,
        other => {
            problems.push(format!(
                "{key}: expected a list of mappings, found {}",
                kind_of(&other)
            ));
            None
        }
    }
}

fn mapping(
    kind: MapKind,
    index: usize,
    row: &Value,
    problems: &mut Vec<String>,
) -> Option<Mapping> {
    let at = format!("{}[{index}]", kind.as_str());
    let Value::Object(fields) = row else {
        problems.push(format!("{at}: expected a mapping, found {}", kind_of(row)));
        return None;
    };
    let arn = match fields.get(kind.arn_key()) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(other) => {
            problems.push(format!(
                "{at}: `{}` must be an ARN, found {}",
                kind.arn_key(),
                kind_of(other)
            ));
            return None;
        }
        None => {
            problems.push(format!("{at}: no `{}`", kind.arn_key()));
            return None;
        }
    };
    let username = match fields.get("username") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            problems.push(format!(
                "{at}: `username` must be a string, found {}",
                kind_of(other)
            ));
            None
        }
    };
    let groups = match fields.get("groups") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|g| match g {
                Value::String(s) => Some(s.clone()),
                other => {
                    problems.push(format!("{at}: a group must be a string, found {other}"));
                    None
                }
            })
            .collect(),
        // A lone string is one group (a common hand-edit).
        Some(Value::String(s)) => vec![s.clone()],
        Some(other) => {
            problems.push(format!(
                "{at}: `groups` must be a list, found {}",
                kind_of(other)
            ));
            Vec::new()
        }
    };
    Some(Mapping {
        kind,
        index,
        arn,
        username,
        groups,
    })
}

closed_enum! {
    /// A section of the ConfigMap's `data`, as a request may set or remove it.
    pub enum Section ("aws-auth section") {
        Roles = "mapRoles",
        Users = "mapUsers",
        Accounts = "mapAccounts",
    }
}

impl From<MapKind> for Section {
    fn from(kind: MapKind) -> Self {
        match kind {
            MapKind::Roles => Section::Roles,
            MapKind::Users => Section::Users,
        }
    }
}

/// One row of a section: a role or user mapping, or a mapped account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    Mapping(Mapping),
    Account(String),
}

impl Row {
    pub fn section(&self) -> Section {
        match self {
            Row::Mapping(m) => m.kind.into(),
            Row::Account(_) => Section::Accounts,
        }
    }

    /// What the row maps: the ARN, or the account id.
    pub fn key(&self) -> &str {
        match self {
            Row::Mapping(m) => &m.arn,
            Row::Account(a) => a,
        }
    }

    /// Equal content, wherever the row sits in its section.
    fn same(&self, other: &Row) -> bool {
        match (self, other) {
            (Row::Mapping(a), Row::Mapping(b)) => {
                a.kind == b.kind
                    && a.arn == b.arn
                    && a.username == b.username
                    && a.groups == b.groups
            }
            (Row::Account(a), Row::Account(b)) => a == b,
            _ => false,
        }
    }
}

/// How one row differs between two versions of the ConfigMap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowChange {
    Added(Row),
    Removed(Row),
    /// The same ARN, mapped to another username or other groups.
    Changed {
        before: Mapping,
        after: Mapping,
    },
}

impl AwsAuth {
    /// The rows of one section, in order.
    pub fn rows(&self, section: Section) -> Vec<Row> {
        match section {
            Section::Roles => self.roles.iter().cloned().map(Row::Mapping).collect(),
            Section::Users => self.users.iter().cloned().map(Row::Mapping).collect(),
            Section::Accounts => self.accounts.iter().cloned().map(Row::Account).collect(),
        }
    }

    /// True when `row` (same content) is in this version.
    pub fn contains(&self, row: &Row) -> bool {
        self.rows(row.section()).iter().any(|r| r.same(row))
    }
}

/// The row-level difference of `sections` between two versions: rows added, removed, or
/// changed (same ARN, other username or groups), in section order. Rows are matched by what
/// they map (ARN or account), so reordering a section is no change; a row repeated for the
/// same ARN is matched occurrence by occurrence.
pub fn diff(before: &AwsAuth, after: &AwsAuth, sections: &[Section]) -> Vec<RowChange> {
    let mut changes = Vec::new();
    for section in Section::ALL.iter().filter(|s| sections.contains(s)) {
        let old = before.rows(*section);
        let mut unmatched: Vec<Option<&Row>> = old.iter().map(Some).collect();
        let new = after.rows(*section);
        let mut added = Vec::new();
        for row in &new {
            // The same content first, else the same key with other content.
            let slot = unmatched
                .iter()
                .position(|o| o.is_some_and(|o| o.same(row)))
                .or_else(|| {
                    unmatched
                        .iter()
                        .position(|o| o.is_some_and(|o| o.key() == row.key()))
                });
            match slot.and_then(|i| unmatched[i].take().map(|o| (i, o))) {
                Some((_, old)) if old.same(row) => {}
                Some((_, Row::Mapping(b))) => {
                    if let Row::Mapping(a) = row {
                        changes.push(RowChange::Changed {
                            before: b.clone(),
                            after: a.clone(),
                        });
                    }
                }
                _ => added.push(RowChange::Added(row.clone())),
            }
        }
        changes.extend(added);
        changes.extend(
            unmatched
                .into_iter()
                .flatten()
                .map(|r| RowChange::Removed(r.clone())),
        );
    }
    changes
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EKSCTL: &str = r#"apiVersion: v1
data:
  mapRoles: |
    - groups:
      - system:bootstrappers
      - system:nodes
      rolearn: arn:aws:iam::111122223333:role/eksctl-prod-nodegroup-ng-1-NodeInstanceRole-1AB2CD3EF4GH
      username: system:node:{{EC2PrivateDNSName}}
    - rolearn: arn:aws:iam::111122223333:role/platform-admin
      username: platform-admin
      groups:
        - system:masters
  mapUsers: |
    - userarn: arn:aws:iam::111122223333:user/alice
      username: alice
  mapAccounts: |
    - "444455556666"
    - 777788889999
kind: ConfigMap
metadata:
  name: aws-auth
  namespace: kube-system
"#;

    #[test]
    fn a_whole_configmap_is_read_with_templates_and_accounts() {
        let auth = parse_document(EKSCTL).unwrap();
        assert_eq!(auth.roles.len(), 2);
        assert_eq!(
            auth.roles[0].username.as_deref(),
            Some("system:node:{{EC2PrivateDNSName}}")
        );
        assert_eq!(
            auth.roles[0].groups,
            ["system:bootstrappers", "system:nodes"]
        );
        assert_eq!(auth.roles[1].index, 1);
        assert_eq!(auth.users[0].arn, "arn:aws:iam::111122223333:user/alice");
        assert_eq!(auth.accounts, ["444455556666", "777788889999"]);
        assert_eq!(auth.mappings().count(), 3);
    }

    #[test]
    fn json_output_and_a_data_section_alone_are_read_the_same() {
        let whole = parse_document(EKSCTL).unwrap();
        let doc: Value = serde_yaml_ng::from_str(EKSCTL).unwrap();
        assert_eq!(parse_document(&doc.to_string()).unwrap(), whole, "-o json");
        let data = serde_yaml_ng::to_string(&doc["data"]).unwrap();
        assert_eq!(parse_document(&data).unwrap(), whole, "data section only");
    }

    #[test]
    fn groups_absent_and_a_lone_group_string_are_accepted() {
        let data = serde_json::json!({"mapRoles": "- rolearn: arn:aws:iam::111122223333:role/a\n- rolearn: arn:aws:iam::111122223333:role/b\n  groups: team:payments\n"});
        let auth = parse_data(&data).unwrap();
        assert!(auth.roles[0].groups.is_empty());
        assert_eq!(auth.roles[1].groups, ["team:payments"]);
    }

    #[test]
    fn every_problem_is_named_with_its_section_row_or_line() {
        let data = serde_json::json!({
            "mapRoles": "- username: x\n- rolearn: 7\n",
            "mapUsers": "- userarn: arn:aws:iam::1:user/a\n  groups: [\n",
            "mapAccounts": "- true\n",
        });
        let err = parse_data(&data).unwrap_err();
        let text = err.to_string();
        assert_eq!(err.problems.len(), 4, "{text}");
        assert!(text.contains("mapRoles[0]: no `rolearn`"), "{text}");
        assert!(
            text.contains("mapRoles[1]: `rolearn` must be an ARN, found a number"),
            "{text}"
        );
        assert!(text.contains("mapUsers line "), "{text}");
        assert!(
            text.contains("mapAccounts[0]: expected an account id"),
            "{text}"
        );
    }

    fn data(roles: &str) -> AwsAuth {
        parse_data(&serde_json::json!({ "mapRoles": roles })).unwrap()
    }

    #[test]
    fn diff_names_rows_added_removed_and_changed_and_ignores_order() {
        let before = data(
            "- rolearn: arn:aws:iam::1:role/a\n  groups: [team:a]\n- rolearn: arn:aws:iam::1:role/b\n  groups: [team:b]\n- rolearn: arn:aws:iam::1:role/c\n",
        );
        let after = data(
            "- rolearn: arn:aws:iam::1:role/c\n- rolearn: arn:aws:iam::1:role/a\n  groups: [system:masters]\n- rolearn: arn:aws:iam::1:role/d\n",
        );
        let changes = diff(&before, &after, Section::ALL);
        assert_eq!(changes.len(), 3, "{changes:?}");
        assert!(matches!(&changes[0], RowChange::Changed { before, after }
            if before.groups == ["team:a"] && after.groups == ["system:masters"]));
        assert!(matches!(&changes[1], RowChange::Added(r) if r.key() == "arn:aws:iam::1:role/d"));
        assert!(matches!(&changes[2], RowChange::Removed(r) if r.key() == "arn:aws:iam::1:role/b"));
        assert!(diff(&before, &before, Section::ALL).is_empty());
        assert!(
            diff(&before, &after, &[Section::Users]).is_empty(),
            "only the sections asked for"
        );
    }

    #[test]
    fn accounts_are_rows_too() {
        let before = AwsAuth::default();
        let after =
            parse_data(&serde_json::json!({"mapAccounts": "- \"444455556666\"\n"})).unwrap();
        assert_eq!(
            diff(&before, &after, Section::ALL),
            [RowChange::Added(Row::Account("444455556666".into()))]
        );
        assert!(after.contains(&Row::Account("444455556666".into())));
    }

    #[test]
    fn a_configmap_whose_data_is_null_or_holds_no_section_is_an_error_not_an_empty_configmap() {
        let err =
            parse_document("apiVersion: v1\nkind: ConfigMap\ndata:\nmetadata:\n  name: aws-auth\n")
                .unwrap_err();
        assert_eq!(err.problems.len(), 1, "{err}");
        assert!(
            err.problems[0].starts_with("`data` is null, so the ConfigMap maps nobody"),
            "{err}"
        );
        assert!(
            err.problems[0].contains("`kubectl get configmap aws-auth -n kube-system -o yaml`"),
            "{err}"
        );
        let err = parse_document(r#"{"kind": "ConfigMap", "data": null}"#).unwrap_err();
        assert!(
            err.problems[0].starts_with("`data` is null"),
            "-o json: {err}"
        );
        let err = parse_document("kind: ConfigMap\ndata:\n  mapRole: |\n    - rolearn: arn:aws:iam::111122223333:role/a\n").unwrap_err();
        assert!(
            err.problems[0].starts_with(
                "`data` holds none of mapRoles, mapUsers or mapAccounts (its keys: [mapRole])"
            ),
            "{err}"
        );
        // Sections that are present but empty are an aws-auth that maps nobody, as written.
        let empty = parse_document("kind: ConfigMap\ndata:\n  mapRoles: \"\"\n").unwrap();
        assert_eq!(empty, AwsAuth::default());
    }

    #[test]
    fn sections_outside_data_are_an_error_naming_them_and_the_shape() {
        // `data:` left empty and the sections not indented under it: a common hand edit.
        let err = parse_document(
            "apiVersion: v1\nkind: ConfigMap\ndata:\nmapRoles: |\n  - rolearn: arn:aws:iam::111122223333:role/a\nmapUsers: |\n  - userarn: arn:aws:iam::111122223333:user/b\n",
        )
        .unwrap_err();
        assert_eq!(err.problems.len(), 2, "{err}");
        assert!(
            err.problems[0].starts_with(
                "mapRoles and mapUsers sit at the top level of the ConfigMap, outside `data`"
            ) && err.problems[0].contains("indent them under `data:`"),
            "{err}"
        );
        assert!(err.problems[1].starts_with("`data` is null"), "{err}");
        // Beside a `data` that holds the other sections: still refused, not a partial plan.
        let err = parse_document(
            "kind: ConfigMap\ndata:\n  mapUsers: |\n    - userarn: arn:aws:iam::111122223333:user/b\nmapRoles: |\n  - rolearn: arn:aws:iam::111122223333:role/a\n",
        )
        .unwrap_err();
        assert_eq!(err.problems.len(), 1, "{err}");
        assert!(
            err.problems[0].starts_with("mapRoles sits at the top level"),
            "{err}"
        );
        // Without `data` at all, beside metadata.
        let err =
            parse_document("metadata:\n  name: aws-auth\nmapAccounts: |\n  - \"444455556666\"\n")
                .unwrap_err();
        assert_eq!(err.problems.len(), 1, "{err}");
        assert!(err.problems[0].starts_with("mapAccounts sits"), "{err}");
    }

    #[test]
    fn a_live_object_whose_data_is_null_is_an_empty_configmap() {
        // A live object's `data` (read by `parse_data`) may well be null: emptied by an edit.
        assert_eq!(parse_data(&Value::Null).unwrap(), AwsAuth::default());
    }

    #[test]
    fn a_document_that_is_not_a_configmap_says_what_was_expected() {
        let err = parse_document("kind: Secret\nmetadata: {}\n").unwrap_err();
        assert!(err.to_string().contains("keys: [kind, metadata]"), "{err}");
        assert!(parse_document("mapRoles: [\n").is_err());
    }
}
