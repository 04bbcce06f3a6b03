//! Soft delete, recovery and purge of vaults and keys, and the retention rule that purge
//! protection enforces.

use std::fs;

use super::*;
use crate::clock;
use crate::error::{Error, IoContext, Result};
use crate::format::{Deletion, KeyRecord, VaultRecord};
use crate::fsio;

impl Vaults {
    /// Destroys the token objects of a key's HSM-protected versions (purge). Disabling or
    /// soft-deleting a key never does: only a purge destroys key material.
    fn destroy_hsm_versions(&self, rec: &KeyRecord) -> Result<()> {
        if rec.versions.iter().all(|v| v.hsm.is_none()) {
            return Ok(());
        }
        let token = self.token()?;
        for v in rec.versions.iter().filter(|v| v.hsm.is_some()) {
            token.destroy(&crate::hsm::object_id(&v.id))?;
        }
        Ok(())
    }

    /// [`Vaults::destroy_hsm_versions`] for every key of the vault at `dir`.
    fn destroy_vault_hsm_keys(&self, dir: &std::path::Path) -> Result<()> {
        let keys = dir.join("keys");
        for entry in fsio::list_entries(&keys)? {
            let rec = Self::load_key_at(&keys.join(entry))?;
            self.destroy_hsm_versions(&rec)?;
        }
        Ok(())
    }

    /// Soft-deletes a vault (or removes it when soft delete is off).
    pub fn delete_vault(&self, name: &str, caller: &Caller) -> Result<()> {
        let mut rec = self.vault(name)?;
        if !rec.enable_soft_delete {
            let dir = self.vault_dir(name)?;
            self.destroy_vault_hsm_keys(&dir)?;
            fs::remove_dir_all(&dir).ctx(|| format!("remove {}", dir.display()))?;
            return fsio::sync_dir(&self.dir);
        }
        rec.deleted = Some(deletion(rec.soft_delete_retention_in_days));
        self.save_vault(&rec)?;
        self.audit(&rec.name, "VaultDelete", caller, None, None, "Succeeded");
        Ok(())
    }

    /// Recovers a soft-deleted vault.
    pub fn recover_vault(&self, name: &str, caller: &Caller) -> Result<VaultRecord> {
        let mut rec = Self::load_vault_at(&self.vault_dir(name)?)?;
        if rec.deleted.is_none() {
            return Err(Error::not_found("deleted key vault", name));
        }
        rec.deleted = None;
        self.save_vault(&rec)?;
        self.audit(&rec.name, "VaultRecover", caller, None, None, "Succeeded");
        Ok(rec)
    }

    /// Purges a soft-deleted vault, refused while purge protection holds.
    pub fn purge_vault(&self, name: &str) -> Result<()> {
        let dir = self.vault_dir(name)?;
        let rec = Self::load_vault_at(&dir)?;
        let deleted = rec
            .deleted
            .as_ref()
            .ok_or_else(|| Error::not_found("deleted key vault", name))?;
        check_purge(
            rec.enable_purge_protection,
            deleted,
            &format!("key vault '{}'", rec.name),
        )?;
        self.destroy_vault_hsm_keys(&dir)?;
        fs::remove_dir_all(&dir).ctx(|| format!("remove {}", dir.display()))?;
        fsio::sync_dir(&self.dir)
    }

    /// Soft-deleted vaults (for `keyvault list-deleted` style views).
    pub fn deleted_vault(&self, name: &str) -> Result<VaultRecord> {
        let rec = Self::load_vault_at(&self.vault_dir(name)?)?;
        if rec.deleted.is_none() {
            return Err(Error::not_found("deleted key vault", name));
        }
        Ok(rec)
    }

    /// Soft-deletes a key (every version); with soft delete off the key is removed.
    pub fn delete_key(&self, vault: &str, key: &str, caller: &Caller) -> Result<KeyRecord> {
        let vrec = self.vault(vault)?;
        self.require(&vrec, caller, "delete", "KeyDelete", Some(key))?;
        let mut rec = self.key(vault, key)?;
        if !vrec.enable_soft_delete {
            let dir = self.key_dir(vault, key)?;
            self.destroy_hsm_versions(&rec)?;
            fs::remove_dir_all(&dir).ctx(|| format!("remove {}", dir.display()))?;
        } else {
            rec.deleted = Some(deletion(vrec.soft_delete_retention_in_days));
            self.save_key(vault, &rec)?;
        }
        self.audit(
            &vrec.name,
            "KeyDelete",
            caller,
            Some(&rec.name),
            None,
            "Succeeded",
        );
        Ok(rec)
    }

    /// Recovers a soft-deleted key.
    pub fn recover_key(&self, vault: &str, key: &str, caller: &Caller) -> Result<KeyRecord> {
        let vrec = self.vault(vault)?;
        self.require(&vrec, caller, "recover", "KeyRecover", Some(key))?;
        let mut rec = Self::load_key_at(&self.key_dir(vault, key)?)?;
        if rec.deleted.is_none() {
            return Err(Error::not_found(
                "deleted key",
                format!("{key}' in vault '{vault}"),
            ));
        }
        rec.deleted = None;
        self.save_key(vault, &rec)?;
        self.audit(
            &vrec.name,
            "KeyRecover",
            caller,
            Some(&rec.name),
            None,
            "Succeeded",
        );
        Ok(rec)
    }

    /// Purges a soft-deleted key: refused while purge protection holds and the retention period
    /// has not ended.
    pub fn purge_key(&self, vault: &str, key: &str, caller: &Caller) -> Result<()> {
        let vrec = self.vault(vault)?;
        self.require(&vrec, caller, "purge", "KeyPurge", Some(key))?;
        let dir = self.key_dir(vault, key)?;
        let rec = Self::load_key_at(&dir)?;
        let deleted = rec
            .deleted
            .as_ref()
            .ok_or_else(|| Error::not_found("deleted key", format!("{key}' in vault '{vault}")))?;
        if let Err(e) = check_purge(
            vrec.enable_purge_protection,
            deleted,
            &format!("key '{}'", rec.name),
        ) {
            self.audit(
                &vrec.name,
                "KeyPurge",
                caller,
                Some(&rec.name),
                None,
                &format!("Refused: {e}"),
            );
            return Err(e);
        }
        // The token's objects go first: were the record removed first, a failure would leave
        // private keys in the token that nothing names.
        self.destroy_hsm_versions(&rec)?;
        fs::remove_dir_all(&dir).ctx(|| format!("remove {}", dir.display()))?;
        self.audit(
            &vrec.name,
            "KeyPurge",
            caller,
            Some(&rec.name),
            None,
            "Succeeded",
        );
        Ok(())
    }

    /// A soft-deleted key (for `key recover`/`purge` output).
    pub fn deleted_key(&self, vault: &str, key: &str) -> Result<KeyRecord> {
        let rec = Self::load_key_at(&self.key_dir(vault, key)?)?;
        if rec.deleted.is_none() {
            return Err(Error::not_found(
                "deleted key",
                format!("{key}' in vault '{vault}"),
            ));
        }
        Ok(rec)
    }
}

pub(super) fn deletion(retention_days: u32) -> Deletion {
    let now = clock::now_secs();
    Deletion {
        deleted_at: now,
        scheduled_purge_at: now.saturating_add(i64::from(retention_days) * 86_400),
    }
}

pub(super) fn check_purge(purge_protection: bool, deleted: &Deletion, what: &str) -> Result<()> {
    if purge_protection && clock::now_secs() < deleted.scheduled_purge_at {
        return Err(Error::not_allowed(format!(
            "{what} cannot be purged: purge protection is on and its retention period ends {}",
            clock::rfc3339(deleted.scheduled_purge_at)
        )));
    }
    Ok(())
}
