//! Read-only views of the store for the management plane's files (`/.control`): names and
//! states, read from the records without auditing (listing is not a key operation).

use super::Service;
use crate::error::{Error, Result};
use crate::format::{DesRecord, EncryptionType, Kek, KeyRecord};
use crate::ids::KeyUrl;

impl Service {
    /// Names of the vaults that are not soft-deleted.
    pub fn vault_names(&self) -> Result<Vec<String>> {
        Ok(self
            .store
            .vaults()
            .all_vaults()?
            .into_iter()
            .filter(|v| v.deleted.is_none())
            .map(|v| v.name)
            .collect())
    }

    /// The vault's canonical name, if it exists and is not soft-deleted.
    pub fn vault_name(&self, vault: &str) -> Result<String> {
        Ok(self.store.vaults().vault(vault)?.name)
    }

    /// Names of a vault's keys that are not soft-deleted.
    pub fn key_names(&self, vault: &str) -> Result<Vec<String>> {
        Ok(self
            .store
            .vaults()
            .all_keys(vault)?
            .into_iter()
            .filter(|k| k.deleted.is_none())
            .map(|k| k.name)
            .collect())
    }

    /// A key that is not soft-deleted.
    pub fn key_record(&self, vault: &str, key: &str) -> Result<KeyRecord> {
        self.store.vaults().key(vault, key)
    }

    /// The URL of a key's latest version.
    pub fn key_latest_url(&self, vault: &str, key: &str) -> Result<String> {
        let vault = self.vault_name(vault)?;
        let rec = self.key_record(&vault, key)?;
        let latest = rec
            .versions
            .last()
            .ok_or_else(|| Error::not_found("key version", key))?;
        Ok(KeyUrl::format(&vault, &rec.name, &latest.id))
    }

    /// The disk encryption sets as `/.control` lists them: `(shown name, reference)`, the
    /// shown name qualified as `NAME@GROUP` when several groups hold the name.
    pub fn des_listing(&self) -> Result<Vec<(String, String)>> {
        let pairs: Vec<(String, String)> = self
            .all_des()?
            .into_iter()
            .map(|d| (d.name, d.resource_group))
            .collect();
        let mut out: Vec<(String, String)> = super::entries::display_names(&pairs)
            .into_iter()
            .zip(&pairs)
            .map(|(shown, (name, group))| (shown, crate::ids::reference(name, group)))
            .collect();
        out.sort();
        Ok(out)
    }

    /// A disk encryption set by name or id.
    pub fn des_record(&self, name_or_id: &str) -> Result<DesRecord> {
        self.load_des_by_ref(name_or_id, None)
    }

    /// The disks and snapshots of a set, each with the key URL that wraps its DEK now.
    pub fn des_resources(&self, name_or_id: &str) -> Result<Vec<(String, String)>> {
        let des = self.load_des_by_ref(name_or_id, None)?;
        Ok(self
            .volumes_of_des(&des)?
            .iter()
            .map(|v| {
                let kek = match &v.key.kek {
                    Kek::Platform => "platform".to_string(),
                    Kek::Customer { key_url } => key_url.clone(),
                };
                (super::views::volume_id(v), kek)
            })
            .collect())
    }

    /// A disk's encryption type and set id.
    pub fn disk_encryption(&self, disk: &str) -> Result<(EncryptionType, Option<String>)> {
        let rec = self.load_volume(crate::ids::Kind::Disk, disk)?;
        Ok((rec.encryption_type, rec.disk_encryption_set_id))
    }
}
