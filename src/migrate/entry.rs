//! One aws-auth mapping as an access entry: its type, the username and groups EKS accepts for
//! that type, and a note for everything that could not be carried as written.

use crate::arn::{PrincipalKey, PrincipalKind};
use crate::model::EntryType;
use crate::sanitize::clean;

/// What one merged mapping becomes.
pub(super) struct Translation {
    pub entry_type: EntryType,
    pub username: Option<String>,
    pub groups: Vec<String>,
    /// `system:masters` was held (becomes ClusterAdmin on a STANDARD entry).
    pub masters: bool,
    /// Other `system:` groups EKS rejects on this entry.
    pub unsupported: Vec<String>,
    pub notes: Vec<String>,
}

const BOOTSTRAPPERS: &str = "system:bootstrappers";
const NODES: &str = "system:nodes";
const NODE_PROXIER: &str = "system:node-proxier";
const WINDOWS_PROXY: &str = "eks:kube-proxy-windows";
const MASTERS: &str = "system:masters";
/// Username templates EKS documents for access entries (only after a colon).
const SESSION_TEMPLATES: &[&str] = &["{{SessionName}}", "{{SessionNameRaw}}"];
/// Username prefixes EKS rejects.
const RESERVED_PREFIXES: &[&str] = &["system:", "eks:", "aws:", "amazon:", "iam:"];

/// The entry type aws-auth's groups and username imply: a role with `system:bootstrappers` and
/// `system:nodes` is a node (Fargate when its username is `system:node:{{SessionName}}`,
/// Windows when `eks:kube-proxy-windows` is also held); everything else is STANDARD.
fn entry_type(kind: PrincipalKind, username: Option<&str>, groups: &[String]) -> EntryType {
    let has = |g: &str| groups.iter().any(|x| x == g);
    if kind != PrincipalKind::Role || !(has(BOOTSTRAPPERS) && has(NODES)) {
        EntryType::Standard
    } else if username == Some("system:node:{{SessionName}}") {
        EntryType::FargateLinux
    } else if has(WINDOWS_PROXY) {
        EntryType::Ec2Windows
    } else {
        EntryType::Ec2Linux
    }
}

/// A group written other than it can be meant, and what was meant: `<system:nodes>` (a
/// documentation placeholder's brackets kept, as an eksctl example once showed node groups),
/// quotes or spaces around it (`"system:nodes"` inside a block that YAML already reads as text),
/// or nothing at all (`Some("")`). `None`: written as it can be meant.
pub(super) fn intended_group(written: &str) -> Option<String> {
    if written.trim().is_empty() {
        return Some(String::new());
    }
    let mut group = written.trim();
    while let Some(inner) = [('<', '>'), ('"', '"'), ('\'', '\'')]
        .iter()
        .find_map(|(open, close)| group.strip_prefix(*open)?.strip_suffix(*close))
    {
        group = inner.trim();
    }
    (group != written).then(|| group.to_string())
}

/// A row of a node role, as its groups were meant (`<system:nodes>` read as `system:nodes`) or
/// as its username says (`system:node:{{EC2PrivateDNSName}}`).
pub(super) fn meant_as_node(
    kind: PrincipalKind,
    username: Option<&str>,
    groups: &[String],
) -> bool {
    let meant: Vec<String> = groups
        .iter()
        .map(|g| intended_group(g).unwrap_or_else(|| g.clone()))
        .collect();
    kind == PrincipalKind::Role
        && (username.is_some_and(|u| u.starts_with("system:node:"))
            || [BOOTSTRAPPERS, NODES]
                .iter()
                .all(|n| meant.iter().any(|g| g == n)))
}

/// The groups EKS gives a node entry of this type.
pub(super) fn node_groups(ty: &EntryType) -> Vec<String> {
    node_identity(ty).1.iter().map(|g| g.to_string()).collect()
}

/// The username EKS sets for a node type, and the groups it implies.
fn node_identity(ty: &EntryType) -> (&'static str, &'static [&'static str]) {
    match ty {
        EntryType::FargateLinux => (
            "system:node:{{SessionName}}",
            &[BOOTSTRAPPERS, NODES, NODE_PROXIER],
        ),
        EntryType::Ec2Windows => (
            "system:node:{{EC2PrivateDNSName}}",
            &[BOOTSTRAPPERS, NODES, WINDOWS_PROXY],
        ),
        _ => ("system:node:{{EC2PrivateDNSName}}", &[BOOTSTRAPPERS, NODES]),
    }
}

pub(super) fn translate(
    key: &PrincipalKey,
    arn: &str,
    username: Option<&str>,
    groups: &[String],
) -> Translation {
    let ty = entry_type(key.kind, username, groups);
    let mut t = Translation {
        entry_type: ty.clone(),
        username: None,
        groups: Vec::new(),
        masters: groups.iter().any(|g| g == MASTERS),
        unsupported: Vec::new(),
        notes: Vec::new(),
    };
    if arn.contains(":role/aws-service-role/") {
        t.notes.push(
            "this is a service-linked role, which EKS does not accept as an access-entry principal"
                .into(),
        );
    }
    if arn.contains(":role/AWSReservedSSO_") {
        t.notes.push(
            "an IAM Identity Center role's real ARN has the path aws-reserved/sso.amazonaws.com/ (and a region): the entry needs it (--live reads it from IAM)"
                .into(),
        );
    }
    if ty.is_node_identity() {
        let (eks_username, implied) = node_identity(&ty);
        let dropped: Vec<&str> = groups
            .iter()
            .map(String::as_str)
            .filter(|g| !implied.contains(g))
            .collect();
        t.notes.push(format!(
            "EKS sets the username ({eks_username}) and node groups of this {ty} entry itself; it takes no groups or access policies"
        ));
        if let Some(u) = username.filter(|u| *u != eks_username) {
            t.notes.push(format!(
                "the row's username `{}` is not carried (EKS uses {eks_username})",
                clean(u, 256)
            ));
        }
        if !dropped.is_empty() {
            t.notes.push(format!(
                "groups [{}] are dropped: this {ty} entry cannot hold them",
                clean(&dropped.join(", "), 512)
            ));
        }
        t.notes.push(match ty {
            EntryType::FargateLinux => "a Fargate profile's pod execution role gets its entry from EKS once access entries are enabled (check with --live before creating it); a hybrid nodes role takes HYBRID_LINUX instead".into(),
            _ => "a managed node group's role gets its entry from EKS once access entries are enabled (check with --live before creating it); create it for self-managed nodes".into(),
        });
        return t;
    }
    for g in groups {
        if g == MASTERS || t.groups.contains(g) || t.unsupported.contains(g) {
            continue;
        }
        if g.starts_with("system:") {
            t.unsupported.push(g.clone());
        } else {
            t.groups.push(g.clone());
        }
    }
    if let Some(u) = username {
        let (kept, notes) = standard_username(key, u);
        t.username = kept;
        t.notes.extend(notes);
    }
    t
}

/// The username of a STANDARD entry: kept where EKS accepts it, `{{AccountID}}` written out
/// (the entry's account is known), dropped with a note otherwise (EKS then sets its default:
/// the user's ARN, or `arn:aws:sts::<account>:assumed-role/<role>/{{SessionName}}`).
fn standard_username(key: &PrincipalKey, written: &str) -> (Option<String>, Vec<String>) {
    let shown = clean(written, 256);
    let default = match key.kind {
        PrincipalKind::User => "the user's ARN",
        _ => "the role's session ARN, arn:aws:sts::<account>:assumed-role/<role>/{{SessionName}}",
    };
    let drop = |why: String| {
        (
            None,
            vec![format!(
                "username `{shown}` is dropped: {why}; EKS sets its default ({default})"
            )],
        )
    };
    if written.trim().is_empty() {
        return drop("it is empty".into());
    }
    if let Some(p) = RESERVED_PREFIXES.iter().find(|p| written.starts_with(**p)) {
        return drop(format!("EKS rejects usernames starting with `{p}`"));
    }
    let mut notes = Vec::new();
    let mut name = written.to_string();
    if name.contains("{{AccountID}}") {
        name = name.replace("{{AccountID}}", &key.account);
        notes.push(format!(
            "{{{{AccountID}}}} in username `{shown}` is written out as {}",
            key.account
        ));
    }
    if let Some(first) = SESSION_TEMPLATES.iter().filter_map(|s| name.find(s)).min() {
        if key.kind != PrincipalKind::Role {
            return drop("an IAM user has no session name".into());
        }
        if !name[..first].contains(':') {
            return drop(format!(
                "EKS requires a colon before {{{{SessionName}}}} (e.g. `{}:{{{{SessionName}}}}`)",
                clean(name[..first].trim_end_matches(['-', '_', '.']), 200)
            ));
        }
    }
    let mut rest = name.clone();
    for s in SESSION_TEMPLATES {
        rest = rest.replace(s, "");
    }
    if let Some(start) = rest.find("{{") {
        let end = rest[start..]
            .find("}}")
            .map_or(rest.len(), |e| start + e + 2);
        return drop(format!(
            "EKS documents only {{{{SessionName}}}} and {{{{SessionNameRaw}}}} in access-entry usernames, not {}",
            clean(&rest[start..end], 64)
        ));
    }
    (Some(name), notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role() -> PrincipalKey {
        PrincipalKey::from_arn("arn:aws:iam::111122223333:role/ops").unwrap()
    }

    fn groups(g: &[&str]) -> Vec<String> {
        g.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn node_roles_get_their_type_and_nothing_settable() {
        let arn = "arn:aws:iam::111122223333:role/ng";
        let t = translate(
            &role(),
            arn,
            Some("system:node:{{EC2PrivateDNSName}}"),
            &groups(&[BOOTSTRAPPERS, NODES]),
        );
        assert_eq!(t.entry_type, EntryType::Ec2Linux);
        assert!(t.username.is_none() && t.groups.is_empty() && !t.masters);
        let t = translate(
            &role(),
            arn,
            Some("system:node:{{EC2PrivateDNSName}}"),
            &groups(&[BOOTSTRAPPERS, NODES, WINDOWS_PROXY]),
        );
        assert_eq!(t.entry_type, EntryType::Ec2Windows);
        let t = translate(
            &role(),
            arn,
            Some("system:node:{{SessionName}}"),
            &groups(&[BOOTSTRAPPERS, NODES, NODE_PROXIER, "monitoring"]),
        );
        assert_eq!(t.entry_type, EntryType::FargateLinux);
        assert!(
            t.notes
                .iter()
                .any(|n| n.contains("[monitoring] are dropped")),
            "{:?}",
            t.notes
        );
    }

    #[test]
    fn groups_in_brackets_quotes_or_spaces_are_malformed_and_name_what_was_meant() {
        assert_eq!(
            intended_group("<system:bootstrappers>").as_deref(),
            Some("system:bootstrappers")
        );
        assert_eq!(
            intended_group("\"system:nodes\"").as_deref(),
            Some("system:nodes")
        );
        assert_eq!(
            intended_group(" '<dev-readers>' ").as_deref(),
            Some("dev-readers")
        );
        assert_eq!(intended_group("").as_deref(), Some(""));
        assert_eq!(intended_group("  ").as_deref(), Some(""));
        assert_eq!(intended_group("system:nodes"), None);
        assert_eq!(
            intended_group("team<a>"),
            None,
            "brackets inside a name are a name"
        );
        let node = |groups: &[&str], username| {
            meant_as_node(PrincipalKind::Role, username, &self::groups(groups))
        };
        assert!(node(&["<system:bootstrappers>", "<system:nodes>"], None));
        assert!(node(&["<x>"], Some("system:node:{{EC2PrivateDNSName}}")));
        assert!(!node(&["<dev-readers>"], Some("dev")));
        assert!(!meant_as_node(
            PrincipalKind::User,
            None,
            &groups(&["<system:bootstrappers>", "<system:nodes>"])
        ));
    }

    #[test]
    fn a_user_with_node_groups_stays_standard_and_the_groups_are_unsupported() {
        let user = PrincipalKey::from_arn("arn:aws:iam::111122223333:user/bob").unwrap();
        let t = translate(
            &user,
            "arn:aws:iam::111122223333:user/bob",
            None,
            &groups(&[BOOTSTRAPPERS, NODES]),
        );
        assert_eq!(t.entry_type, EntryType::Standard);
        assert_eq!(t.unsupported, [BOOTSTRAPPERS, NODES]);
    }

    #[test]
    fn usernames_are_carried_as_eks_allows() {
        let r = role();
        assert_eq!(
            standard_username(&r, "ops:{{SessionName}}").0.as_deref(),
            Some("ops:{{SessionName}}")
        );
        assert_eq!(
            standard_username(&r, "ops-{{AccountID}}:{{SessionNameRaw}}")
                .0
                .as_deref(),
            Some("ops-111122223333:{{SessionNameRaw}}")
        );
        let (kept, notes) = standard_username(&r, "ops-{{SessionName}}");
        assert!(kept.is_none() && notes[0].contains("colon"), "{notes:?}");
        assert!(standard_username(&r, "system:admin").0.is_none());
        assert!(standard_username(&r, "eks:x").0.is_none());
        let (kept, notes) = standard_username(&r, "k:{{AccessKeyID}}");
        assert!(
            kept.is_none() && notes[0].contains("{{AccessKeyID}}"),
            "{notes:?}"
        );
        let user = PrincipalKey::from_arn("arn:aws:iam::111122223333:user/bob").unwrap();
        assert!(standard_username(&user, "bob:{{SessionName}}").0.is_none());
        assert_eq!(standard_username(&user, "bob").0.as_deref(), Some("bob"));
    }
}
