//! Vault and key records: where they live, loading and saving them, and creating and
//! updating vaults. Keys' own life (versions, attributes) is in `keys.rs`.

use std::path::{Path, PathBuf};

use super::*;
use crate::clock;
use crate::error::{Error, Result};
use crate::format::{AccessPolicy, KeyRecord, RECORD_VERSION, VaultRecord, Versioned};
use crate::fsio;
use crate::ids::{self, Kind};

impl Vaults {
    /// The vault directory, when it can be reached: a missing or unreadable one is not "no
    /// vaults" but an outage, named as such.
    pub(super) fn root(&self) -> Result<&Path> {
        crate::vault_dir::reachable(&self.dir)
            .map_err(|why| crate::vault_dir::unreachable(&self.dir, why))?;
        Ok(&self.dir)
    }

    pub(super) fn vault_dir(&self, name: &str) -> Result<PathBuf> {
        ids::validate_name(Kind::Vault, name)?;
        fsio::find_entry(self.root()?, name)?.ok_or_else(|| Error::not_found("key vault", name))
    }

    pub(super) fn vault_file(dir: &Path) -> PathBuf {
        dir.join("vault.json")
    }

    pub(super) fn load_vault_at(dir: &Path) -> Result<VaultRecord> {
        let path = Self::vault_file(dir);
        let rec: VaultRecord = fsio::read_json(&path)?;
        rec.check_version(&path)?;
        Ok(rec)
    }

    pub(super) fn save_vault(&self, rec: &VaultRecord) -> Result<()> {
        let dir = self.dir.join(rec.name.to_ascii_lowercase());
        fsio::write_json(&Self::vault_file(&dir), rec, 0o600)
    }

    /// A vault that exists and is not soft-deleted.
    pub fn vault(&self, name: &str) -> Result<VaultRecord> {
        let rec = Self::load_vault_at(&self.vault_dir(name)?)?;
        if rec.deleted.is_some() {
            return Err(Error::not_found("key vault", name));
        }
        Ok(rec)
    }

    /// The resource id of a vault record.
    pub fn vault_id(rec: &VaultRecord) -> String {
        ids::ResourceId::format(
            &rec.subscription_id,
            &rec.resource_group,
            Kind::Vault,
            &rec.name,
        )
    }

    /// Every vault record, deleted ones included (the caller filters).
    pub fn all_vaults(&self) -> Result<Vec<VaultRecord>> {
        let root = self.root()?;
        fsio::list_entries(root)?
            .iter()
            // Only vault names: the backup key and a filesystem's lost+found live here too.
            .filter(|n| ids::validate_name(Kind::Vault, n).is_ok())
            .map(|n| Self::load_vault_at(&root.join(n)))
            .collect()
    }

    /// Creates a vault; its creator gets every key permission, as az does.
    pub fn create_vault(&self, new: &NewVault, creator: &str) -> Result<VaultRecord> {
        ids::validate_name(Kind::Vault, &new.name)?;
        if !(7..=90).contains(&new.retention_days) {
            return Err(Error::invalid(format!(
                "--retention-days must be between 7 and 90, not {}",
                new.retention_days
            )));
        }
        if let Some(dir) = fsio::find_entry(self.root()?, &new.name)? {
            let existing = Self::load_vault_at(&dir)?;
            return Err(if existing.deleted.is_some() {
                Error::AlreadyExists {
                    kind: "key vault",
                    name: format!(
                        "{}' is soft-deleted; recover it with 'keyvault recover' or purge it, and name '{}",
                        existing.name, new.name
                    ),
                }
            } else {
                Error::AlreadyExists {
                    kind: "key vault",
                    name: new.name.clone(),
                }
            });
        }
        let dir = self.dir.join(new.name.to_ascii_lowercase());
        fsio::create_private_dir(&dir.join("keys"))?;
        let sku = match new.sku.to_ascii_lowercase().as_str() {
            "standard" => None,
            "premium" => Some("premium".to_string()),
            other => {
                return Err(Error::invalid(format!(
                    "--sku must be standard or premium, not '{}'",
                    other.chars().take(20).collect::<String>()
                )));
            }
        };
        let rec = VaultRecord {
            sku,
            version: RECORD_VERSION,
            name: new.name.clone(),
            resource_group: new.resource_group.clone(),
            subscription_id: new.subscription_id.clone(),
            location: new.location.clone(),
            tenant_id: new.tenant_id.clone(),
            enable_soft_delete: new.enable_soft_delete,
            soft_delete_retention_in_days: new.retention_days,
            enable_purge_protection: new.enable_purge_protection,
            // An RBAC vault ignores access policies: its creator, like everyone, needs a role.
            access_policies: if new.enable_rbac_authorization {
                Vec::new()
            } else {
                vec![AccessPolicy {
                    object_id: creator.to_string(),
                    tenant_id: new.tenant_id.clone(),
                    key_permissions: KEY_PERMISSIONS.iter().map(|p| p.to_string()).collect(),
                    extras: Default::default(),
                }]
            },
            created: clock::now_rfc3339(),
            deleted: None,
            enable_rbac_authorization: new.enable_rbac_authorization,
            tags: Default::default(),
            settings: Default::default(),
        };
        self.save_vault(&rec)?;
        fsio::sync_dir(&self.dir)?;
        self.audit(
            &rec.name,
            "VaultCreate",
            &Caller {
                object_id: creator,
                resource: None,
            },
            None,
            None,
            "Succeeded",
        );
        Ok(rec)
    }

    /// Changes purge protection or retention (`keyvault update`). Purge protection cannot be
    /// turned off once on.
    pub fn update_vault(
        &self,
        name: &str,
        purge_protection: Option<bool>,
        retention_days: Option<u32>,
    ) -> Result<VaultRecord> {
        let mut rec = self.vault(name)?;
        if let Some(pp) = purge_protection {
            if !pp && rec.enable_purge_protection {
                return Err(Error::not_allowed(format!(
                    "purge protection of key vault '{}' is on and cannot be turned off",
                    rec.name
                )));
            }
            rec.enable_purge_protection = pp;
        }
        if let Some(days) = retention_days {
            if !(7..=90).contains(&days) {
                return Err(Error::invalid(format!(
                    "--retention-days must be between 7 and 90, not {days}"
                )));
            }
            rec.soft_delete_retention_in_days = days;
        }
        self.save_vault(&rec)?;
        Ok(rec)
    }

    pub(super) fn key_dir(&self, vault: &str, key: &str) -> Result<PathBuf> {
        ids::validate_name(Kind::Key, key)?;
        let keys = self.vault_dir(vault)?.join("keys");
        fsio::find_entry(&keys, key)?
            .ok_or_else(|| Error::not_found("key", format!("{key}' in vault '{vault}")))
    }

    pub(super) fn load_key_at(dir: &Path) -> Result<KeyRecord> {
        let path = dir.join("key.json");
        let rec: KeyRecord = fsio::read_json(&path)?;
        rec.check_version(&path)?;
        if rec.versions.is_empty() {
            return Err(Error::corrupt(&path, "the key has no versions"));
        }
        Ok(rec)
    }

    pub(super) fn save_key(&self, vault: &str, rec: &KeyRecord) -> Result<()> {
        let dir = self
            .vault_dir(vault)?
            .join("keys")
            .join(rec.name.to_ascii_lowercase());
        fsio::write_json(&dir.join("key.json"), rec, 0o600)
    }

    /// A key that exists and is not soft-deleted.
    pub fn key(&self, vault: &str, key: &str) -> Result<KeyRecord> {
        let rec = Self::load_key_at(&self.key_dir(vault, key)?)?;
        if rec.deleted.is_some() {
            return Err(Error::KeyDeleted {
                key: format!("{vault}/{key}"),
                why: "the key is soft-deleted; recover it with 'keyvault key recover'".into(),
            });
        }
        Ok(rec)
    }

    /// Every key of a vault, soft-deleted ones included.
    pub fn all_keys(&self, vault: &str) -> Result<Vec<KeyRecord>> {
        let keys = self.vault_dir(vault)?.join("keys");
        fsio::list_entries(&keys)?
            .iter()
            .map(|n| Self::load_key_at(&keys.join(n)))
            .collect()
    }
}

impl Vaults {
    /// Changes a live vault's record with `edit` and saves it (tags and recorded settings).
    pub fn edit_vault(
        &self,
        name: &str,
        edit: impl FnOnce(&mut VaultRecord) -> Result<()>,
    ) -> Result<VaultRecord> {
        let mut rec = self.vault(name)?;
        edit(&mut rec)?;
        self.save_vault(&rec)?;
        Ok(rec)
    }

    /// Changes a live key's record with `edit` and saves it (tags, a version's operations).
    pub fn edit_key(
        &self,
        vault: &str,
        key: &str,
        edit: impl FnOnce(&mut KeyRecord) -> Result<()>,
    ) -> Result<KeyRecord> {
        let vrec = self.vault(vault)?;
        let mut rec = self.key(&vrec.name, key)?;
        edit(&mut rec)?;
        self.save_key(&vrec.name, &rec)?;
        Ok(rec)
    }
}
