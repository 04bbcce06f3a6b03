//! Vault and key options beyond the disk-encryption workflow: `keyvault list-deleted`, the
//! `--location` of recover/purge/show-deleted, vault settings that change access
//! (`--enable-rbac-authorization` on update, `--no-self-perms`), the other permission lists
//! of an access policy, key operations (`--ops`) and `keyvault key encrypt|decrypt`.

use serde_json::{Value, json};

use super::{Service, views};
use crate::error::{Error, Result};
use crate::ids::KeyUrl;

/// The algorithm `keyvault key encrypt|decrypt` implement.
pub const RSA_OAEP_256: &str = "RSA-OAEP-256";

impl Service {
    /// `keyvault list-deleted`: the soft-deleted vaults of the subscription.
    pub fn vault_list_deleted(&self) -> Result<Value> {
        let subscription = &self.store.record().subscription_id;
        Ok(Value::Array(
            self.store
                .vaults()
                .all_vaults()?
                .iter()
                .filter(|v| v.deleted.is_some() && &v.subscription_id == subscription)
                .map(views::deleted_vault)
                .collect(),
        ))
    }

    /// `--location` of `keyvault recover|purge|show-deleted`: a soft-deleted vault is found
    /// by name and location; another location does not hold it.
    pub fn vault_check_deleted_location(&self, name: &str, location: Option<&str>) -> Result<()> {
        let Some(location) = location else {
            return Ok(());
        };
        let rec = self.store.vaults().deleted_vault(name)?;
        let wanted = super::normalise_location(location);
        if !rec.location.eq_ignore_ascii_case(&wanted) {
            return Err(Error::not_found(
                "deleted key vault",
                format!("{name}' in location '{wanted}"),
            ));
        }
        Ok(())
    }

    /// `keyvault update --enable-rbac-authorization`: switches how key access is decided
    /// (the access policies stay recorded, unused while roles decide).
    pub fn vault_set_rbac(&self, name: &str, rbac: bool) -> Result<()> {
        self.store.vaults().edit_vault(name, |r| {
            r.enable_rbac_authorization = rbac;
            Ok(())
        })?;
        Ok(())
    }

    /// `keyvault create --no-self-perms`: the creator's access policy is not added.
    pub fn vault_drop_creator_policy(&self, name: &str) -> Result<()> {
        let user = self.store.record().user_object_id.clone();
        self.store.vaults().edit_vault(name, |r| {
            r.access_policies.retain(|p| p.object_id != user);
            Ok(())
        })?;
        Ok(())
    }

    /// `set-policy --secret-/--certificate-/--storage-permissions --application-id`: recorded
    /// on the object's policy and shown (ssefs holds keys only).
    pub fn vault_policy_extras(
        &self,
        name: &str,
        object_id: &str,
        extras: &crate::format::PolicyExtras,
    ) -> Result<()> {
        let tenant = self.store.record().tenant_id.clone();
        self.store.vaults().edit_vault(name, |r| {
            if r.enable_rbac_authorization {
                return Err(Error::not_allowed(format!(
                    "key vault '{}' uses role-based access (enableRbacAuthorization): access policies are not used; assign a role instead",
                    r.name
                )));
            }
            let policy = match r
                .access_policies
                .iter_mut()
                .position(|p| p.object_id.eq_ignore_ascii_case(object_id))
            {
                Some(i) => &mut r.access_policies[i],
                None => {
                    r.access_policies.push(crate::format::AccessPolicy {
                        object_id: object_id.to_string(),
                        tenant_id: tenant,
                        key_permissions: Vec::new(),
                        extras: Default::default(),
                    });
                    let last = r.access_policies.len() - 1;
                    &mut r.access_policies[last]
                }
            };
            // Lists not given stay as they were, as with az.
            let e = &mut policy.extras;
            if extras.application_id.is_some() {
                e.application_id = extras.application_id.clone();
            }
            for (mine, given) in [
                (&mut e.secret_permissions, &extras.secret_permissions),
                (&mut e.certificate_permissions, &extras.certificate_permissions),
                (&mut e.storage_permissions, &extras.storage_permissions),
            ] {
                if !given.is_empty() {
                    *mine = given.iter().map(|p| p.to_ascii_lowercase()).collect();
                }
            }
            Ok(())
        })?;
        Ok(())
    }

    /// `key create|import|set-attributes --ops`: the operations the latest version permits.
    pub fn key_set_ops(&self, vault: &str, key: &str, ops: &[String]) -> Result<()> {
        let mut canonical = Vec::new();
        for op in ops {
            let known = views::ALL_KEY_OPS
                .iter()
                .find(|k| k.eq_ignore_ascii_case(op))
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "--ops '{}' is not one of {}",
                        op.chars().take(20).collect::<String>(),
                        views::ALL_KEY_OPS.join(", ")
                    ))
                })?;
            if !canonical.contains(&known.to_string()) {
                canonical.push(known.to_string());
            }
        }
        self.store.vaults().edit_key(vault, key, |k| {
            if let Some(latest) = k.versions.last_mut() {
                latest.key_ops = Some(canonical);
            }
            Ok(())
        })?;
        Ok(())
    }

    /// `keyvault key encrypt --algorithm RSA-OAEP-256 --value V`, as the signed-in user.
    pub fn key_encrypt(&self, url: &KeyUrl, algorithm: &str, plain: &[u8]) -> Result<Value> {
        check_algorithm(algorithm)?;
        let (cipher, kid) = self.store.vaults().encrypt(url, plain, &self.user())?;
        use base64ct::{Base64, Encoding};
        Ok(json!({
            "aad": null,
            "algorithm": RSA_OAEP_256,
            "iv": null,
            "kid": kid,
            "result": Base64::encode_string(&cipher),
            "tag": null,
        }))
    }

    /// `keyvault key decrypt --algorithm RSA-OAEP-256 --value BASE64`; the result is base64,
    /// or the text itself with `--data-type plaintext`.
    pub fn key_decrypt(
        &self,
        url: &KeyUrl,
        algorithm: &str,
        cipher: &[u8],
        as_text: bool,
    ) -> Result<Value> {
        check_algorithm(algorithm)?;
        let (plain, kid) = self.store.vaults().decrypt(url, cipher, &self.user())?;
        use base64ct::{Base64, Encoding};
        let result = if as_text {
            String::from_utf8(plain.to_vec()).map_err(|_| {
                Error::invalid("the plaintext is not UTF-8 text: use --data-type base64")
            })?
        } else {
            Base64::encode_string(&plain)
        };
        Ok(json!({ "algorithm": RSA_OAEP_256, "kid": kid, "result": result }))
    }
}

fn check_algorithm(algorithm: &str) -> Result<()> {
    if algorithm.eq_ignore_ascii_case(RSA_OAEP_256) {
        return Ok(());
    }
    Err(Error::not_supported(format!(
        "--algorithm {}: ssefs implements RSA-OAEP-256 only",
        algorithm.chars().take(20).collect::<String>()
    )))
}
