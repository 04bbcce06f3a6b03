//! Role-based access: the built-in roles that matter for disk encryption (with the cloud's ids
//! and data actions), role assignments (`STORE/roleAssignments/NAME.json`), and the rule that
//! decides key access in a vault created with `--enable-rbac-authorization true`: a principal
//! may perform a key operation when a role assigned to it at the key's scope or above (the
//! vault, its resource group, its subscription) has the operation's data action.
//!
//! Control-plane roles (Owner, Contributor, Reader) have no data actions, so they grant no key
//! operation: the documented `--role Reader` assignment is accepted and changes nothing for
//! cryptography.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock;
use crate::error::{Error, Result};
use crate::fsio;
use crate::ids;

/// The record version of a role assignment.
const ASSIGNMENT_VERSION: u32 = 1;

/// A built-in role.
pub struct RoleDefinition {
    pub name: &'static str,
    pub id: &'static str,
    pub description: &'static str,
    pub actions: &'static [&'static str],
    pub data_actions: &'static [&'static str],
}

/// The built-in roles ssefs knows, with the cloud's ids and permissions.
pub const ROLES: &[RoleDefinition] = &[
    RoleDefinition {
        name: "Owner",
        id: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        description: "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
        actions: &["*"],
        data_actions: &[],
    },
    RoleDefinition {
        name: "Contributor",
        id: "b24988ac-6180-42a0-ab88-20f7382dd24c",
        description: "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC.",
        actions: &["*"],
        data_actions: &[],
    },
    RoleDefinition {
        name: "Reader",
        id: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        description: "View all resources, but does not allow you to make any changes.",
        actions: &["*/read"],
        data_actions: &[],
    },
    RoleDefinition {
        name: "Key Vault Administrator",
        id: "00482a5a-887f-4fb3-b363-3b7fe8e74483",
        description: "Perform all data plane operations on a key vault and all objects in it, including certificates, keys, and secrets. Cannot manage key vault resources or manage role assignments.",
        actions: &[
            "Microsoft.Authorization/*/read",
            "Microsoft.KeyVault/checkNameAvailability/read",
            "Microsoft.KeyVault/deletedVaults/read",
            "Microsoft.KeyVault/locations/*/read",
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/operations/read",
        ],
        data_actions: &["Microsoft.KeyVault/vaults/*"],
    },
    RoleDefinition {
        name: "Key Vault Crypto Officer",
        id: "14b46e9e-c2b7-41b4-b07b-48a6ebf60603",
        description: "Perform any action on the keys of a key vault, except manage permissions.",
        actions: &[
            "Microsoft.Authorization/*/read",
            "Microsoft.KeyVault/checkNameAvailability/read",
            "Microsoft.KeyVault/deletedVaults/read",
            "Microsoft.KeyVault/locations/*/read",
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/operations/read",
        ],
        data_actions: &[
            "Microsoft.KeyVault/vaults/keys/*",
            "Microsoft.KeyVault/vaults/keyrotationpolicies/*",
        ],
    },
    RoleDefinition {
        name: "Key Vault Crypto User",
        id: "12338af0-0e69-4776-bea7-57ae8d297424",
        description: "Perform cryptographic operations using keys.",
        actions: &[],
        data_actions: &[
            "Microsoft.KeyVault/vaults/keys/read",
            "Microsoft.KeyVault/vaults/keys/update/action",
            "Microsoft.KeyVault/vaults/keys/backup/action",
            "Microsoft.KeyVault/vaults/keys/encrypt/action",
            "Microsoft.KeyVault/vaults/keys/decrypt/action",
            "Microsoft.KeyVault/vaults/keys/wrap/action",
            "Microsoft.KeyVault/vaults/keys/unwrap/action",
            "Microsoft.KeyVault/vaults/keys/sign/action",
            "Microsoft.KeyVault/vaults/keys/verify/action",
        ],
    },
    RoleDefinition {
        name: "Key Vault Crypto Service Encryption User",
        id: "e147488a-f6f5-4113-8e2d-b22465e65bf6",
        description: "Read metadata of keys and perform wrap/unwrap operations.",
        actions: &[
            "Microsoft.EventGrid/eventSubscriptions/write",
            "Microsoft.EventGrid/eventSubscriptions/read",
            "Microsoft.EventGrid/eventSubscriptions/delete",
        ],
        data_actions: &[
            "Microsoft.KeyVault/vaults/keys/read",
            "Microsoft.KeyVault/vaults/keys/wrap/action",
            "Microsoft.KeyVault/vaults/keys/unwrap/action",
        ],
    },
    RoleDefinition {
        name: "Key Vault Reader",
        id: "21090545-7ca7-4776-b22c-e363652d74d2",
        description: "Read metadata of key vaults and its certificates, keys, and secrets. Cannot read sensitive values such as secret contents or key material.",
        actions: &[
            "Microsoft.Authorization/*/read",
            "Microsoft.KeyVault/checkNameAvailability/read",
            "Microsoft.KeyVault/deletedVaults/read",
            "Microsoft.KeyVault/locations/*/read",
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/operations/read",
        ],
        data_actions: &[
            "Microsoft.KeyVault/vaults/*/read",
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        ],
    },
];

/// The data action a key permission word (as access policies spell it) needs in an RBAC vault.
pub fn data_action(permission: &str) -> String {
    let p = permission.to_ascii_lowercase();
    let action = match p.as_str() {
        "get" | "list" => "read",
        "wrapkey" => "wrap/action",
        "unwrapkey" => "unwrap/action",
        "create" => "create/action",
        "import" => "import/action",
        "update" => "update/action",
        "rotate" => "rotate/action",
        "delete" => "delete",
        "recover" => "recover/action",
        "purge" => "purge/action",
        "backup" => "backup/action",
        "restore" => "restore/action",
        "encrypt" => "encrypt/action",
        "decrypt" => "decrypt/action",
        "sign" => "sign/action",
        "verify" => "verify/action",
        "release" => "release/action",
        "getrotationpolicy" | "setrotationpolicy" => {
            return format!(
                "Microsoft.KeyVault/vaults/keyrotationpolicies/{}",
                if p.starts_with("get") {
                    "read"
                } else {
                    "write"
                }
            );
        }
        other => other,
    };
    format!("Microsoft.KeyVault/vaults/keys/{action}")
}

/// Whether a granted action pattern (`*` wildcards, case-insensitive) covers `action`.
fn covers(pattern: &str, action: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let action = action.to_ascii_lowercase();
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == action;
    }
    let mut rest = action.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// A role by name (case-insensitive), by GUID, or by role definition id.
pub fn find_role(name_or_id: &str) -> Result<&'static RoleDefinition> {
    let guid = name_or_id.rsplit('/').next().unwrap_or(name_or_id);
    ROLES
        .iter()
        .find(|r| r.name.eq_ignore_ascii_case(name_or_id) || r.id.eq_ignore_ascii_case(guid))
        .ok_or_else(|| {
            Error::not_found(
                "role definition",
                format!(
                    "{} (ssefs knows: {})",
                    name_or_id.chars().take(80).collect::<String>(),
                    ROLES.iter().map(|r| r.name).collect::<Vec<_>>().join(", ")
                ),
            )
        })
}

/// The id az shows for a role definition in a subscription.
pub fn role_definition_id(subscription: &str, role: &RoleDefinition) -> String {
    format!(
        "/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{}",
        role.id
    )
}

/// `role definition list` output for one role.
pub fn role_definition_view(subscription: &str, role: &RoleDefinition) -> Value {
    json!({
        "assignableScopes": ["/"],
        "createdBy": null,
        "createdOn": null,
        "description": role.description,
        "id": role_definition_id(subscription, role),
        "name": role.id,
        "permissions": [{
            "actions": role.actions,
            "condition": null,
            "conditionVersion": null,
            "dataActions": role.data_actions,
            "notActions": [],
            "notDataActions": [],
        }],
        "roleName": role.name,
        "roleType": "BuiltInRole",
        "type": "Microsoft.Authorization/roleDefinitions",
        "updatedBy": null,
        "updatedOn": null,
    })
}

/// `roleAssignments/NAME.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleAssignment {
    pub version: u32,
    /// A GUID: the assignment's name.
    pub name: String,
    pub principal_id: String,
    pub principal_type: String,
    /// The built-in role's GUID.
    pub role_id: String,
    /// The resource id (or subscription) the role applies to, and everything below it.
    pub scope: String,
    pub created: String,
}

impl RoleAssignment {
    /// az's id of the assignment.
    pub fn id(&self) -> String {
        format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/{}",
            self.scope, self.name
        )
    }

    /// Whether the assignment applies at `resource` (its scope or a scope above it).
    pub fn applies_to(&self, resource: &str) -> bool {
        let scope = self.scope.trim_end_matches('/').to_ascii_lowercase();
        let resource = resource.to_ascii_lowercase();
        resource == scope || resource.starts_with(&format!("{scope}/"))
    }

    /// az's view, in the subscription `subscription`.
    pub fn view(&self, subscription: &str) -> Value {
        let role = find_role(&self.role_id).ok();
        json!({
            "condition": null,
            "conditionVersion": null,
            "createdBy": null,
            "createdOn": self.created,
            "delegatedManagedIdentityResourceId": null,
            "description": null,
            "id": self.id(),
            "name": self.name,
            "principalId": self.principal_id,
            "principalType": self.principal_type,
            "roleDefinitionId": role.map(|r| role_definition_id(subscription, r)),
            "roleDefinitionName": role.map(|r| r.name),
            "scope": self.scope,
            "type": "Microsoft.Authorization/roleAssignments",
            "updatedBy": null,
            "updatedOn": self.created,
        })
    }
}

/// The role assignments of a store.
pub struct Assignments {
    dir: PathBuf,
}

impl Assignments {
    /// The assignments kept in `dir` (`STORE/roleAssignments`).
    pub fn new(dir: PathBuf) -> Self {
        Assignments { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{}.json", name.to_ascii_lowercase()))
    }

    /// Every assignment; a damaged record is reported and skipped (it grants nothing).
    pub fn all(&self) -> Result<Vec<RoleAssignment>> {
        let mut out = Vec::new();
        for entry in fsio::list_entries(&self.dir)? {
            let path = self.dir.join(&entry);
            match load(&path) {
                Ok(a) => out.push(a),
                Err(e) => crate::log::warn(&format!("skipping a role assignment: {e}")),
            }
        }
        Ok(out)
    }

    /// Creates an assignment (or returns the same one if it exists, as the cloud does for an
    /// identical request).
    pub fn create(
        &self,
        principal_id: &str,
        principal_type: &str,
        role: &RoleDefinition,
        scope: &str,
    ) -> Result<RoleAssignment> {
        if let Some(existing) = self.all()?.into_iter().find(|a| {
            a.principal_id.eq_ignore_ascii_case(principal_id)
                && a.role_id.eq_ignore_ascii_case(role.id)
                && a.scope.eq_ignore_ascii_case(scope)
        }) {
            return Ok(existing);
        }
        fsio::create_private_dir(&self.dir)?;
        let rec = RoleAssignment {
            version: ASSIGNMENT_VERSION,
            name: ids::new_guid()?,
            principal_id: principal_id.to_string(),
            principal_type: principal_type.to_string(),
            role_id: role.id.to_string(),
            scope: scope.to_string(),
            created: clock::now_rfc3339(),
        };
        fsio::write_json(&self.path(&rec.name), &rec, 0o600)?;
        Ok(rec)
    }

    /// Deletes one assignment.
    pub fn delete(&self, name: &str) -> Result<()> {
        let path = self.path(name);
        std::fs::remove_file(&path)
            .map_err(|e| Error::io(format!("remove {}", path.display()), e))?;
        fsio::sync_dir(&self.dir)
    }

    /// Whether `principal` may perform `permission` (a key permission word) on `resource`
    /// (a key's id: `VAULT_ID/keys/KEY`, or a vault's id) through its role assignments.
    pub fn grants(&self, principal: &str, permission: &str, resource: &str) -> bool {
        let action = data_action(permission);
        let Ok(all) = self.all() else {
            return false;
        };
        all.iter()
            .filter(|a| a.principal_id.eq_ignore_ascii_case(principal) && a.applies_to(resource))
            .filter_map(|a| find_role(&a.role_id).ok())
            .any(|role| role.data_actions.iter().any(|p| covers(p, &action)))
    }
}

fn load(path: &Path) -> Result<RoleAssignment> {
    let rec: RoleAssignment = fsio::read_json(path)?;
    if rec.version != ASSIGNMENT_VERSION {
        return Err(Error::corrupt(
            path,
            format!("role assignment version {} is not supported", rec.version),
        ));
    }
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_exactly_their_data_actions() {
        let can = |role: &str, perm: &str| {
            let r = find_role(role).unwrap();
            r.data_actions.iter().any(|p| covers(p, &data_action(perm)))
        };
        for perm in ["get", "wrapKey", "unwrapKey"] {
            assert!(
                can("Key Vault Crypto Service Encryption User", perm),
                "{perm}"
            );
            assert!(can("Key Vault Crypto User", perm), "{perm}");
            assert!(can("Key Vault Administrator", perm), "{perm}");
            assert!(can("key vault crypto officer", perm), "{perm}");
            assert!(!can("Reader", perm), "{perm}");
            assert!(!can("Owner", perm), "{perm}");
        }
        assert!(can("Key Vault Reader", "get"));
        assert!(!can("Key Vault Reader", "unwrapKey"));
        assert!(!can("Key Vault Crypto Service Encryption User", "create"));
        assert!(can("Key Vault Crypto Officer", "create"));
        assert!(can("Key Vault Crypto Officer", "delete"));
        assert!(
            find_role("acdd72a7-3385-48ef-bd42-f606fba81ae7")
                .unwrap()
                .name
                == "Reader"
        );
        assert!(find_role("/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/e147488a-f6f5-4113-8e2d-b22465e65bf6").is_ok());
        assert!(find_role("Nope").is_err());
    }

    #[test]
    fn scopes_inherit_downward_only() {
        let a = RoleAssignment {
            version: 1,
            name: "n".into(),
            principal_id: "p".into(),
            principal_type: "ServicePrincipal".into(),
            role_id: "x".into(),
            scope: "/subscriptions/S/resourceGroups/rg".into(),
            created: String::new(),
        };
        assert!(a.applies_to(
            "/subscriptions/s/resourcegroups/RG/providers/Microsoft.KeyVault/vaults/v"
        ));
        assert!(a.applies_to("/subscriptions/S/resourceGroups/rg"));
        assert!(!a.applies_to("/subscriptions/S/resourceGroups/rg2/providers/x"));
        assert!(!a.applies_to("/subscriptions/S"));
    }
}
