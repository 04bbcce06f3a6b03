//! Who may do what: access policies (set-policy, delete-policy), az's permission words, the
//! check every audited operation makes, and object ids.

use super::*;
use crate::error::{Error, Result};
use crate::format::{AccessPolicy, VaultRecord};

impl Vaults {
    /// Grants key permissions to an object id (replacing its previous key permissions).
    pub fn set_policy(
        &self,
        vault: &str,
        object_id: &str,
        perms: &[String],
        caller: &Caller,
    ) -> Result<VaultRecord> {
        let perms = canonical_permissions(perms)?;
        validate_object_id(object_id)?;
        let mut rec = self.vault(vault)?;
        refuse_policies_on_rbac(&rec)?;
        let tenant = rec.tenant_id.clone();
        match rec
            .access_policies
            .iter_mut()
            .find(|p| p.object_id.eq_ignore_ascii_case(object_id))
        {
            Some(p) => p.key_permissions = perms,
            None => rec.access_policies.push(AccessPolicy {
                object_id: object_id.to_string(),
                tenant_id: tenant,
                key_permissions: perms,
                extras: Default::default(),
            }),
        }
        self.save_vault(&rec)?;
        self.audit(
            &rec.name,
            "SetPolicy",
            caller,
            None,
            None,
            &format!("Succeeded: object {object_id}"),
        );
        Ok(rec)
    }

    /// Removes an object id's access policy.
    pub fn delete_policy(
        &self,
        vault: &str,
        object_id: &str,
        caller: &Caller,
    ) -> Result<VaultRecord> {
        let mut rec = self.vault(vault)?;
        refuse_policies_on_rbac(&rec)?;
        let before = rec.access_policies.len();
        rec.access_policies
            .retain(|p| !p.object_id.eq_ignore_ascii_case(object_id));
        if rec.access_policies.len() == before {
            return Err(Error::not_found("access policy for object id", object_id));
        }
        self.save_vault(&rec)?;
        self.audit(
            &rec.name,
            "DeletePolicy",
            caller,
            None,
            None,
            &format!("Succeeded: object {object_id}"),
        );
        Ok(rec)
    }

    /// Whether `object_id` holds `perm` on the vault.
    pub fn has_permission(
        &self,
        rec: &VaultRecord,
        object_id: &str,
        perm: &str,
        key: Option<&str>,
    ) -> bool {
        if rec.enable_rbac_authorization {
            let mut resource = Self::vault_id(rec);
            if let Some(key) = key {
                resource.push_str(&format!("/keys/{key}"));
            }
            return self.assignments.grants(object_id, perm, &resource);
        }
        rec.access_policies.iter().any(|p| {
            p.object_id.eq_ignore_ascii_case(object_id)
                && p.key_permissions
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(perm))
        })
    }

    pub(super) fn require(
        &self,
        rec: &VaultRecord,
        caller: &Caller,
        perm: &str,
        op: &str,
        key: Option<&str>,
    ) -> Result<()> {
        if self.has_permission(rec, caller.object_id, perm, key) {
            return Ok(());
        }
        let why = if rec.enable_rbac_authorization {
            format!(
                "the caller {} has no role assignment granting '{}' on key vault '{}' (it uses Azure RBAC)",
                caller.object_id,
                crate::rbac::data_action(perm),
                rec.name
            )
        } else {
            format!(
                "the caller {} does not have key permission '{perm}' on key vault '{}'",
                caller.object_id, rec.name
            )
        };
        self.audit(
            &rec.name,
            op,
            caller,
            key,
            None,
            &format!("Forbidden: {why}"),
        );
        Err(Error::AccessDenied(why))
    }
}

/// Turns a list of permission words into az's canonical spellings, case-insensitively.
pub fn canonical_permissions(words: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for word in words
        .iter()
        .flat_map(|w| w.split([',', ' ']))
        .filter(|w| !w.is_empty())
    {
        if word.eq_ignore_ascii_case("all") {
            out.extend(KEY_PERMISSIONS.iter().map(|p| p.to_string()));
            continue;
        }
        let canon = KEY_PERMISSIONS
            .iter()
            .find(|p| p.eq_ignore_ascii_case(word))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "'{}' is not a key permission; use one of: all, {}",
                    word.chars().take(40).collect::<String>(),
                    KEY_PERMISSIONS.join(", ")
                ))
            })?;
        out.push(canon.to_string());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// `set-policy` and `delete-policy` on a vault whose access is by role: refused as az refuses it.
fn refuse_policies_on_rbac(rec: &VaultRecord) -> Result<()> {
    if rec.enable_rbac_authorization {
        return Err(Error::not_allowed(
            "Cannot set policies to a vault with '--enable-rbac-authorization' specified",
        ));
    }
    Ok(())
}

/// Object ids are GUIDs (or, leniently, any 1-64 character token of letters, digits and '-').
pub fn validate_object_id(oid: &str) -> Result<()> {
    if !oid.is_empty()
        && oid.len() <= 64
        && oid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        Ok(())
    } else {
        let shown: String = oid
            .chars()
            .take(40)
            .flat_map(char::escape_default)
            .collect();
        Err(Error::invalid(format!(
            "'{shown}' is not an object id (a GUID)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_are_case_insensitive_and_checked() {
        let p =
            canonical_permissions(&["WRAPKEY".into(), "unwrapkey".into(), "Get".into()]).unwrap();
        assert_eq!(p, vec!["get", "unwrapKey", "wrapKey"]);
        assert!(canonical_permissions(&["fly".into()]).is_err());
        assert_eq!(
            canonical_permissions(&["all".into()]).unwrap().len(),
            KEY_PERMISSIONS.len()
        );
    }
}
