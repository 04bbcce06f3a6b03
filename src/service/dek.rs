//! A resource's data encryption key: wrapping it under the platform key or a set's customer
//! key, and unwrapping it (checked against the stored check value) to open or re-key the resource.

use base64ct::{Base64, Encoding};

use super::Service;
use crate::crypto::DataKey;
use crate::error::{Error, Result};
use crate::format::{DesRecord, Kek, VolumeRecord, WrappedKey};
use crate::ids::KeyUrl;
use crate::vault::{Caller, Vaults};

/// What protects a DEK: the platform key or a disk encryption set's active key.
pub(super) enum Protector<'a> {
    Platform,
    Customer(&'a DesRecord),
}

/// Permissions a set's identity needs on its vault before any disk may use it.
const DES_PERMISSIONS: [&str; 3] = ["get", "wrapKey", "unwrapKey"];

impl Service {
    /// Refuses a set whose identity lacks get, wrapKey or unwrapKey on its key's vault.
    pub(super) fn check_des_access(&self, des: &DesRecord) -> Result<()> {
        let url = KeyUrl::parse(&des.active_key.key_url)?;
        let vault = self.store.vaults().vault(&url.vault).map_err(|e| match e {
            // An unreachable vault directory is named as such, not as a deleted vault.
            Error::KeysUnreachable { .. } => e,
            _ => Error::KeyDeleted {
                key: des.active_key.key_url.clone(),
                why: format!(
                    "key vault '{}' does not exist or is soft-deleted",
                    url.vault
                ),
            },
        })?;
        let missing: Vec<&str> = DES_PERMISSIONS
            .iter()
            .copied()
            .filter(|p| {
                !self
                    .store
                    .vaults()
                    .has_permission(&vault, &des.principal_id, p, Some(&url.key))
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        if vault.enable_rbac_authorization {
            return Err(Error::AccessDenied(format!(
                "the identity {} of disk encryption set '{}' has no role granting {} on key vault '{}' (it uses Azure RBAC); assign one with: role assignment create --assignee-object-id {} --role \"Key Vault Crypto Service Encryption User\" --scope {}",
                des.principal_id,
                des.name,
                missing.join(", "),
                vault.name,
                des.principal_id,
                Vaults::vault_id(&vault)
            )));
        }
        Err(Error::AccessDenied(format!(
            "the identity {} of disk encryption set '{}' lacks key permission(s) {} on key vault '{}'; grant them with: keyvault set-policy -n {} --object-id {} --key-permissions get wrapkey unwrapkey",
            des.principal_id,
            des.name,
            missing.join(", "),
            vault.name,
            vault.name,
            des.principal_id
        )))
    }

    /// Wraps `dek` for the resource `resource_id`.
    pub(super) fn wrap_dek(
        &self,
        dek: &DataKey,
        protector: &Protector,
        resource_id: &str,
    ) -> Result<WrappedKey> {
        let (wrapped, kek) = match protector {
            Protector::Platform => (
                self.store.platform_key()?.public().wrap_key(dek)?,
                Kek::Platform,
            ),
            Protector::Customer(des) => {
                self.check_des_access(des)?;
                let caller = Caller {
                    object_id: &des.principal_id,
                    resource: Some(resource_id),
                };
                let url = KeyUrl::parse(&des.active_key.key_url)?;
                let (wrapped, key_url) = self.store.vaults().wrap_key(&url, dek, &caller)?;
                (wrapped, Kek::Customer { key_url })
            }
        };
        Ok(WrappedKey {
            kek,
            wrapped_dek: Base64::encode_string(&wrapped),
            dek_check: dek.check_value(),
        })
    }

    /// Unwraps the DEK of a disk or snapshot with the key its record names. A disabled or
    /// deleted key, or a set without vault access, is refused with the reason.
    pub(super) fn unwrap_dek(&self, rec: &VolumeRecord) -> Result<DataKey> {
        let resource_id = super::views::volume_id(rec);
        let wrapped = Base64::decode_vec(&rec.key.wrapped_dek).map_err(|_| {
            Error::Crypto(format!(
                "the wrapped key of '{}' is not valid base64",
                rec.name
            ))
        })?;
        let dek = match &rec.key.kek {
            Kek::Platform => self.store.platform_key()?.unwrap_key(&wrapped)?,
            Kek::Customer { key_url } => {
                let des = self.des_of(rec)?;
                self.check_des_access(&des)?;
                let caller = Caller {
                    object_id: &des.principal_id,
                    resource: Some(&resource_id),
                };
                self.store
                    .vaults()
                    .unwrap_key(&KeyUrl::parse(key_url)?, &wrapped, &caller)?
            }
        };
        if dek.check_value() != rec.key.dek_check {
            return Err(Error::Crypto(format!(
                "the data key of '{}' unwrapped but does not match its check value: the record is damaged",
                rec.name
            )));
        }
        Ok(dek)
    }

    /// The set a customer-key resource uses.
    pub(super) fn des_of(&self, rec: &VolumeRecord) -> Result<DesRecord> {
        let id = rec.disk_encryption_set_id.as_deref().ok_or_else(|| {
            Error::Crypto(format!(
                "'{}' is wrapped by a customer key but names no disk encryption set",
                rec.name
            ))
        })?;
        self.load_des_by_ref(id, None)
    }
}
