//! Cluster settings and the other ways in: authentication mode, control-plane logging, the
//! public endpoint, deletion protection, cluster creation and deletion, OIDC identity
//! providers, Pod Identity.

use super::{Case, Eval, Hit, OnFailure, Rule, Topic, hit};
use crate::arn;
use crate::model::{AuthMode, Change, PodIdentityAction};
use crate::severity::Severity::{High, Info, Low, Medium};

pub static AUTH_MODE_CHANGED: Rule = Rule {
    id: "auth-mode-changed",
    topic: Topic::Cluster,
    severities: &[Medium, High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "UpdateClusterConfig accessConfig.authenticationMode: API high, API_AND_CONFIG_MAP medium (a request for CONFIG_MAP or an unknown mode: medium)",
    why: "The mode is one-way. API ignores the aws-auth ConfigMap: everyone who got in through it loses access at once, including admins who never got an access entry.",
    next_step: "Check that every admin and node role has an access entry before sessions relying on aws-auth fail.",
    eval: Eval::Change(auth_mode_changed),
};

fn auth_mode_changed(c: &Case) -> Option<Hit> {
    let Change::UpdateClusterConfig(s) = &c.event.change else {
        return None;
    };
    let mode = s.authentication_mode.as_ref()?;
    let (severity, note) = match mode {
        AuthMode::Api => (High, " (aws-auth ConfigMap no longer honoured; one-way)"),
        AuthMode::ApiAndConfigMap => (Medium, " (access entries now honoured; one-way)"),
        AuthMode::ConfigMap => (Medium, " (going back is not allowed: the mode is one-way)"),
        AuthMode::Unknown(_) => (Medium, " (unrecognised mode)"),
    };
    hit(
        severity,
        format!(
            "Authentication mode change to {mode} {}{}{note}{}",
            c.did("made", "change"),
            c.on_cluster(),
            c.by()
        ),
    )
}

pub static AUDIT_LOGGING_DISABLED: Rule = Rule {
    id: "audit-logging-disabled",
    topic: Topic::Cluster,
    severities: &[High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "UpdateClusterConfig logging with enabled: false for `audit` or `authenticator`; CreateCluster that explicitly disables them while enabling other log types (a deliberate choice, unlike the all-off default)",
    why: "Turning off audit/authenticator logs blinds investigators; attackers do it before they act.",
    next_step: "Re-enable the log types (`aws eks update-cluster-config --logging ...enabled=true`) and ask who turned them off.",
    eval: Eval::Change(audit_logging_disabled),
};

fn audit_logging_disabled(c: &Case) -> Option<Hit> {
    let (s, deliberate) = match &c.event.change {
        Change::UpdateClusterConfig(s) => (s, true),
        // At creation everything is off by default; only an explicit "off" next to explicit
        // "on" types is a choice worth a page.
        Change::CreateCluster(s) => (s, !s.logging_enabled.is_empty()),
        _ => return None,
    };
    let off = s.investigation_logs_disabled();
    (deliberate && !off.is_empty()).then(|| Hit {
        severity: High,
        summary: format!(
            "Control-plane logging [{}] {}{}{}",
            off.join(", "),
            c.did("disabled", "disabling"),
            c.on_cluster(),
            c.by()
        ),
    })
}

pub static PUBLIC_ENDPOINT_OPENED: Rule = Rule {
    id: "public-endpoint-opened",
    topic: Topic::Cluster,
    severities: &[High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "UpdateClusterConfig with resourcesVpcConfig.endpointPublicAccess true and 0.0.0.0/0 (or ::/0, or no CIDRs). Not on CreateCluster: a public endpoint is EKS's and Terraform's default there, and `cluster-created` names it",
    why: "An API server open to the internet turns any leaked credential or token into remote access and exposes the endpoint to scanning.",
    next_step: "Restrict publicAccessCidrs to your egress ranges or turn the public endpoint off.",
    eval: Eval::Change(public_endpoint_opened),
};

fn public_endpoint_opened(c: &Case) -> Option<Hit> {
    let Change::UpdateClusterConfig(s) = &c.event.change else {
        return None;
    };
    let p = s.public_endpoint.as_ref().filter(|p| p.open_to_world())?;
    hit(
        High,
        format!(
            "Public API endpoint {} to {}{}{}",
            c.did("opened", "opening"),
            match &p.cidrs {
                Some(cidrs) if !cidrs.is_empty() => cidrs.join(", "),
                _ => "0.0.0.0/0 (no CIDRs given)".to_string(),
            },
            c.on_cluster(),
            c.by()
        ),
    )
}

pub static DELETION_PROTECTION_DISABLED: Rule = Rule {
    id: "deletion-protection-disabled",
    topic: Topic::Cluster,
    severities: &[Medium],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "UpdateClusterConfig with deletionProtection: false",
    why: "Deletion protection stops a single mistaken or malicious call from destroying the cluster.",
    next_step: "Re-enable deletion protection unless a deletion is planned.",
    eval: Eval::Change(deletion_protection_disabled),
};

fn deletion_protection_disabled(c: &Case) -> Option<Hit> {
    match &c.event.change {
        Change::UpdateClusterConfig(s) if s.deletion_protection == Some(false) => hit(
            Medium,
            format!(
                "Deletion protection {}{}{}",
                c.did("disabled", "disabling"),
                c.on_cluster(),
                c.by()
            ),
        ),
        _ => None,
    }
}

pub static CLUSTER_CONFIG_UPDATED: Rule = Rule {
    id: "cluster-config-updated",
    topic: Topic::Cluster,
    severities: &[Info],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "every UpdateClusterConfig (names the settings touched), so an update the other rules do not grade still explains itself",
    why: "A record of every cluster configuration change, kept quiet.",
    next_step: "No action needed if the change was planned.",
    eval: Eval::Change(cluster_config_updated),
};

fn cluster_config_updated(c: &Case) -> Option<Hit> {
    match &c.event.change {
        Change::UpdateClusterConfig(s) => hit(
            Info,
            format!(
                "Cluster configuration [{}] {}{}{}",
                s.keys.join(", "),
                c.did("updated", "update"),
                c.on_cluster(),
                c.by()
            ),
        ),
        _ => None,
    }
}

pub static BOOTSTRAP_CREATOR_ADMIN: Rule = Rule {
    id: "bootstrap-creator-admin",
    topic: Topic::Cluster,
    severities: &[Medium],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "CreateCluster with bootstrapClusterCreatorAdminPermissions true or absent (the default)",
    why: "The creating identity silently receives ClusterAdmin; with a shared pipeline role that is a standing admin nobody reviewed.",
    next_step: "Remove the creator's ClusterAdmin entry once real admin entries exist, or set bootstrapClusterCreatorAdminPermissions=false.",
    eval: Eval::Change(bootstrap_creator_admin),
};

fn bootstrap_creator_admin(c: &Case) -> Option<Hit> {
    match &c.event.change {
        Change::CreateCluster(s) if s.bootstrap_cluster_creator_admin != Some(false) => hit(
            Medium,
            format!(
                "Cluster creator {} gets ClusterAdmin by default{}{}",
                c.event.actor.display,
                if s.bootstrap_cluster_creator_admin.is_none() {
                    " (setting absent)"
                } else {
                    ""
                },
                c.on_cluster()
            ),
        ),
        _ => None,
    }
}

pub static LEGACY_AUTH_MODE: Rule = Rule {
    id: "legacy-auth-mode",
    topic: Topic::Cluster,
    severities: &[Low],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "CreateCluster with authenticationMode CONFIG_MAP or absent (the API default is CONFIG_MAP)",
    why: "CONFIG_MAP access lives in a Kubernetes object CloudTrail never sees: access changes there bypass this watcher.",
    next_step: "Plan the move to API_AND_CONFIG_MAP, then API.",
    eval: Eval::Change(legacy_auth_mode),
};

fn legacy_auth_mode(c: &Case) -> Option<Hit> {
    let Change::CreateCluster(s) = &c.event.change else {
        return None;
    };
    let legacy = matches!(s.authentication_mode, None | Some(AuthMode::ConfigMap));
    legacy.then(|| Hit {
        severity: Low,
        summary: format!(
            "Cluster {} with CONFIG_MAP authentication{}{}",
            c.did("created", "creation"),
            if s.authentication_mode.is_none() {
                " (default)"
            } else {
                ""
            },
            c.on_cluster()
        ),
    })
}

pub static CLUSTER_CREATED: Rule = Rule {
    id: "cluster-created",
    topic: Topic::Cluster,
    severities: &[Info],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "every CreateCluster",
    why: "A record of every new cluster, kept quiet.",
    next_step: "No action needed if the cluster was planned.",
    eval: Eval::Change(cluster_created),
};

fn cluster_created(c: &Case) -> Option<Hit> {
    let Change::CreateCluster(s) = &c.event.change else {
        return None;
    };
    hit(
        Info,
        format!(
            "Cluster {} {} (authentication mode {}{}){}",
            c.event.cluster.as_deref().unwrap_or("(unnamed)"),
            c.did("created", "creation"),
            s.authentication_mode
                .as_ref()
                .map(AuthMode::as_str)
                .unwrap_or("default"),
            if s.public_endpoint
                .as_ref()
                .is_some_and(|p| p.open_to_world())
            {
                ", public endpoint open to 0.0.0.0/0"
            } else {
                ""
            },
            c.by()
        ),
    )
}

pub static CLUSTER_DELETED: Rule = Rule {
    id: "cluster-deleted",
    topic: Topic::Cluster,
    severities: &[Medium],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "DeleteCluster",
    why: "Destroys the cluster and its workloads; also the last step of a destructive attack.",
    next_step: "Confirm the deletion was planned.",
    eval: Eval::Change(cluster_deleted),
};

fn cluster_deleted(c: &Case) -> Option<Hit> {
    match &c.event.change {
        Change::DeleteCluster => hit(
            Medium,
            format!(
                "Cluster {} deletion {}{}",
                c.event.cluster.as_deref().unwrap_or("(unnamed)"),
                c.did("started", "request"),
                c.by()
            ),
        ),
        _ => None,
    }
}

pub static OIDC_PROVIDER_ASSOCIATED: Rule = Rule {
    id: "oidc-provider-associated",
    topic: Topic::Cluster,
    severities: &[High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "AssociateIdentityProviderConfig",
    why: "An OIDC provider is a second way into the cluster, outside IAM and outside access entries: whoever controls the IdP controls the groups.",
    next_step: "Confirm the issuer URL belongs to your identity provider and review which groups it maps to RBAC.",
    eval: Eval::Change(oidc_provider_associated),
};

fn oidc_provider_associated(c: &Case) -> Option<Hit> {
    let Change::AssociateIdentityProviderConfig {
        config_name,
        issuer_url,
        ..
    } = &c.event.change
    else {
        return None;
    };
    hit(
        High,
        format!(
            "OIDC identity provider {} ({}) {}{}{}",
            config_name.as_deref().unwrap_or("(unnamed)"),
            issuer_url.as_deref().unwrap_or("issuer unknown"),
            c.did("associated", "association"),
            c.on_cluster(),
            c.by()
        ),
    )
}

pub static OIDC_PROVIDER_DISASSOCIATED: Rule = Rule {
    id: "oidc-provider-disassociated",
    topic: Topic::Cluster,
    severities: &[Medium],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "DisassociateIdentityProviderConfig",
    why: "Removing an identity provider cuts every user who reached the cluster through it: a planned clean-up, or a way to lock responders out.",
    next_step: "Confirm the removal was planned and that the people who used the provider have another way in.",
    eval: Eval::Change(oidc_provider_disassociated),
};

fn oidc_provider_disassociated(c: &Case) -> Option<Hit> {
    let Change::DisassociateIdentityProviderConfig { config_name } = &c.event.change else {
        return None;
    };
    hit(
        Medium,
        format!(
            "OIDC identity provider {} {}{}{}",
            config_name.as_deref().unwrap_or("(unnamed)"),
            c.did("disassociated", "disassociation"),
            c.on_cluster(),
            c.by()
        ),
    )
}

pub static POD_IDENTITY_ASSOCIATION: Rule = Rule {
    id: "pod-identity-association",
    topic: Topic::Cluster,
    severities: &[Info, Low, Medium],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "Create/UpdatePodIdentityAssociation: low; medium in kube-system. DeletePodIdentityAssociation: info",
    why: "Pod identity hands an IAM role to a service account; in kube-system it is usually a powerful controller role.",
    next_step: "Check the IAM role's permissions match what the service account needs.",
    eval: Eval::Change(pod_identity_association),
};

fn pod_identity_association(c: &Case) -> Option<Hit> {
    let Change::PodIdentityAssociation {
        action,
        namespace,
        service_account,
        role_arn,
    } = &c.event.change
    else {
        return None;
    };
    let (done, attempt, severity) = match action {
        PodIdentityAction::Create => ("created for", "creation", None),
        PodIdentityAction::Update => ("updated for", "update", None),
        PodIdentityAction::Delete => ("deleted for", "deletion", Some(Info)),
    };
    let severity = severity.unwrap_or(if namespace.as_deref() == Some("kube-system") {
        Medium
    } else {
        Low
    });
    hit(
        severity,
        format!(
            "Pod identity {} {}/{} -> {}{}",
            c.did(done, attempt),
            namespace.as_deref().unwrap_or("?"),
            service_account.as_deref().unwrap_or("?"),
            role_arn
                .as_deref()
                .map(arn::short_name)
                .unwrap_or_else(|| "?".into()),
            c.by()
        ),
    )
}

pub static ADDON_POD_IDENTITY: Rule = Rule {
    id: "addon-pod-identity",
    topic: Topic::Cluster,
    severities: &[Medium, High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "CreateAddon/UpdateAddon carrying podIdentityAssociations: high in kube-system (the default namespace of most add-ons, assumed when none is given) or for an admin-looking role, else medium",
    why: "An add-on's podIdentityAssociations hand IAM roles to its service accounts without any CreatePodIdentityAssociation call: a second, quieter way to give a workload an AWS role.",
    next_step: "Check each role's permissions against what the add-on needs; an admin role on an add-on service account is a node-wide escalation path.",
    eval: Eval::Change(addon_pod_identity),
};

/// Role names that suggest broad permissions (last segment, any case).
fn admin_looking(role_arn: &str) -> bool {
    let name = arn::short_name(role_arn).to_ascii_lowercase();
    let name = name.rsplit('/').next().unwrap_or(&name);
    ["admin", "poweruser", "fullaccess", "root"]
        .iter()
        .any(|w| name.contains(w))
}

pub static ADDON_SERVICE_ACCOUNT_ROLE: Rule = Rule {
    id: "addon-service-account-role",
    topic: Topic::Cluster,
    severities: &[Medium, High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "CreateAddon/UpdateAddon with serviceAccountRoleArn (IRSA): high for an admin-looking role or a role of another account, else medium",
    why: "serviceAccountRoleArn hands an IAM role to the add-on's service account through the cluster's OIDC provider: whoever can run pods as that service account (kube-system for most add-ons) holds the role.",
    next_step: "Check the role's permissions against what the add-on needs (`aws iam list-attached-role-policies`), and its trust policy's subject condition; replace an admin role with one scoped to the add-on.",
    eval: Eval::Change(addon_service_account_role),
};

pub static NODE_ROLE_GRANTED: Rule = Rule {
    id: "node-role-granted",
    topic: Topic::Cluster,
    severities: &[Medium, High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "CreateNodegroup (nodeRole) or CreateFargateProfile (podExecutionRoleArn): EKS creates a node access entry for the role (EC2_LINUX or FARGATE_LINUX, the system:nodes group); high for an admin-looking role or a role of another account, else medium",
    why: "EKS adds the node group's or Fargate profile's role to the cluster's access entries by itself: whoever can assume that role joins the cluster as a node, which reads the secrets and service-account tokens of the pods it runs. A role people can assume, or one from another account, is a quiet way in.",
    next_step: "Check the role's trust policy: only ec2.amazonaws.com (node groups) or eks-fargate-pods.amazonaws.com (Fargate) should assume it; a role humans or other accounts can assume should not be a node role.",
    eval: Eval::Change(node_role_granted),
};

fn node_role_granted(c: &Case) -> Option<Hit> {
    let Change::NodeRole {
        kind,
        name,
        role_arn: Some(role),
    } = &c.event.change
    else {
        return None;
    };
    let foreign =
        arn::account_of(role).is_some_and(|a| !c.event.account.is_empty() && a != c.event.account);
    let created = c.did("created", "creation");
    hit(
        if admin_looking(role) || foreign {
            High
        } else {
            Medium
        },
        format!(
            "{} {} {created} with role {}{}: EKS gives that role node access{}{}",
            if *kind == "nodegroup" {
                "Node group"
            } else {
                "Fargate profile"
            },
            name.as_deref().unwrap_or("(unnamed)"),
            arn::short_name(role),
            if foreign {
                format!(" of account {}", arn::account_of(role).unwrap_or_default())
            } else {
                String::new()
            },
            c.on_cluster(),
            c.by()
        ),
    )
}

fn addon_service_account_role(c: &Case) -> Option<Hit> {
    let Change::Addon {
        update,
        addon_name,
        service_account_role: Some(role),
        ..
    } = &c.event.change
    else {
        return None;
    };
    let foreign =
        arn::account_of(role).is_some_and(|a| !c.event.account.is_empty() && a != c.event.account);
    hit(
        if admin_looking(role) || foreign {
            High
        } else {
            Medium
        },
        format!(
            "Add-on {} {} with service account role {}{}{}{}",
            addon_name.as_deref().unwrap_or("(unnamed)"),
            c.did(
                if *update { "updated" } else { "created" },
                if *update { "update" } else { "creation" }
            ),
            arn::short_name(role),
            if foreign {
                format!(" of account {}", arn::account_of(role).unwrap_or_default())
            } else {
                String::new()
            },
            c.on_cluster(),
            c.by()
        ),
    )
}

fn addon_pod_identity(c: &Case) -> Option<Hit> {
    let Change::Addon {
        update,
        addon_name,
        namespace,
        grants,
        ..
    } = &c.event.change
    else {
        return None;
    };
    if grants.is_empty() {
        return None;
    }
    let in_kube_system = namespace.as_deref().is_none_or(|n| n == "kube-system");
    let admin = grants
        .iter()
        .any(|g| g.role_arn.as_deref().is_some_and(admin_looking));
    let pairs: Vec<String> = grants
        .iter()
        .map(|g| {
            format!(
                "{} -> {}",
                g.service_account.as_deref().unwrap_or("?"),
                g.role_arn
                    .as_deref()
                    .map(arn::short_name)
                    .unwrap_or_else(|| "?".into())
            )
        })
        .collect();
    hit(
        if in_kube_system || admin {
            High
        } else {
            Medium
        },
        format!(
            "Add-on {} {} with Pod Identity roles [{}] in namespace {}{}{}",
            addon_name.as_deref().unwrap_or("(unnamed)"),
            c.did(
                if *update { "updated" } else { "created" },
                if *update { "update" } else { "creation" }
            ),
            pairs.join(", "),
            namespace.as_deref().unwrap_or("kube-system (default)"),
            c.on_cluster(),
            c.by()
        ),
    )
}

pub static ACCESS_TAGS_CHANGED: Rule = Rule {
    id: "access-tags-changed",
    topic: Topic::Cluster,
    severities: &[Low, High],
    on_failure: OnFailure::CapAtHigh,
    qualifier: None,
    fires_on: "TagResource/UntagResource on a cluster or an access entry: high when the caller is not approved (or none are configured), else low",
    why: "Tags change how grants are graded (a `Purpose=break-glass` tag makes an entry break-glass) and what automation and audits trust: adding or removing one outside the pipeline can disguise a grant or hide the emergency path.",
    next_step: "Check which tags changed and whether the pipeline made the change; restore tags that mark break-glass or ownership.",
    eval: Eval::Change(access_tags_changed),
};

fn access_tags_changed(c: &Case) -> Option<Hit> {
    let Change::Tags {
        resource_arn,
        removed,
        keys,
    } = &c.event.change
    else {
        return None;
    };
    let what = resource_arn
        .as_deref()
        .map(tagged_resource)
        .unwrap_or_else(|| "a resource".into());
    hit(
        if c.approved { Low } else { High },
        format!(
            "Tags [{}] {} {} {}{}",
            keys.join(", "),
            c.did(
                if *removed { "removed" } else { "set" },
                if *removed { "removal" } else { "tagging" }
            ),
            if *removed { "from" } else { "on" },
            what,
            c.by()
        ),
    )
}

/// `cluster prod`, `access entry role/ci on cluster prod`.
fn tagged_resource(resource_arn: &str) -> String {
    let resource = resource_arn
        .split_once(":cluster/")
        .map(|(_, r)| ("cluster", r));
    let entry = resource_arn
        .split_once(":access-entry/")
        .map(|(_, r)| ("access entry", r));
    match resource.or(entry) {
        Some(("cluster", name)) => format!("cluster {name}"),
        Some((_, rest)) => {
            // <cluster>/<role|user>/<account>/<name>/<id>
            let parts: Vec<&str> = rest.split('/').collect();
            match parts.as_slice() {
                [cluster, kind, _, name, ..] => {
                    format!("access entry {kind}/{name} on cluster {cluster}")
                }
                _ => format!("access entry {rest}"),
            }
        }
        None => resource_arn.to_string(),
    }
}
