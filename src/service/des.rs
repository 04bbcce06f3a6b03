//! Disk encryption sets: the link between disks and one customer key, with a system-assigned
//! identity that must be granted get, wrapKey and unwrapKey on the key's vault.

use std::fs;
use std::path::PathBuf;

use serde_json::Value;

use super::{Service, entries, group_matches, normalise_location, views};
use crate::clock;
use crate::error::{Error, IoContext, Result};
use crate::format::{DesRecord, KeyRef, RECORD_VERSION, Versioned};
use crate::fsio;
use crate::ids::{self, KeyUrl, Kind};
use crate::vault::Vaults;

/// `disk-encryption-set create` arguments.
#[derive(Debug, Clone)]
pub struct DesArgs {
    pub name: String,
    pub resource_group: String,
    pub location: Option<String>,
    pub key_url: String,
    pub source_vault: Option<String>,
    pub auto_rotation: bool,
}

impl Service {
    fn des_dir(&self) -> PathBuf {
        self.store.dir("diskEncryptionSets")
    }

    fn load_des_at(path: &std::path::Path) -> Result<DesRecord> {
        let rec: DesRecord = fsio::read_json(path)?;
        rec.check_version(path)?;
        Ok(rec)
    }

    /// Finds a set by reference (`NAME`, unique in the store, or `NAME@GROUP`).
    fn locate_des(&self, reference: &str) -> Result<(PathBuf, DesRecord)> {
        let (name, group) = entries::split(Kind::DiskEncryptionSet, reference)?;
        entries::locate(
            Kind::DiskEncryptionSet,
            &self.des_dir(),
            ".json",
            &name,
            group.as_deref(),
            Self::load_des_at,
            |rec| rec.resource_group.as_str(),
        )
    }

    /// Loads a set by name (in `group` when given) or by resource id (which must match the
    /// set's group and subscription).
    pub(super) fn load_des_by_ref(
        &self,
        name_or_id: &str,
        group: Option<&str>,
    ) -> Result<DesRecord> {
        if let Some(g) = group {
            self.read_group(g)?;
        }
        let (reference, id) = entries::resolve(Kind::DiskEncryptionSet, name_or_id, group)?;
        let rec = match self.locate_des(&reference) {
            Ok((_, rec)) => rec,
            Err(Error::NotFound { .. }) => {
                return Err(Error::not_found("disk encryption set", name_or_id));
            }
            Err(e) => return Err(e),
        };
        if let Some(id) = id
            && !id.subscription.eq_ignore_ascii_case(&rec.subscription_id)
        {
            return Err(Error::not_found("disk encryption set", name_or_id));
        }
        Ok(rec)
    }

    pub(super) fn save_des(&self, rec: &DesRecord) -> Result<()> {
        let path = match self.locate_des(&rec.reference()) {
            Ok((path, _)) => path,
            Err(Error::NotFound { .. }) => self.des_dir().join(entries::new_entry(
                &self.des_dir(),
                &rec.name,
                &rec.resource_group,
                ".json",
            )?),
            Err(e) => return Err(e),
        };
        fsio::write_json(&path, rec, 0o600)
    }

    pub(super) fn all_des(&self) -> Result<Vec<DesRecord>> {
        let mut out = Vec::new();
        for entry in fsio::list_entries(&self.des_dir())? {
            if entry.ends_with(".json") {
                out.push(Self::load_des_at(&self.des_dir().join(entry))?);
            }
        }
        Ok(out)
    }

    /// Checks a key for use by a set and returns the versioned reference: the vault must have
    /// soft delete and purge protection, be in `location`, and the key must be an enabled
    /// RSA-2048 version. A versionless URL means the latest version.
    pub(super) fn resolve_des_key(
        &self,
        key_url: &str,
        source_vault: Option<&str>,
        location: &str,
    ) -> Result<KeyRef> {
        let url = KeyUrl::parse(key_url)?;
        let vaults = self.store.vaults();
        let vault = vaults.vault(&url.vault)?;
        if let Some(sv) = source_vault {
            let (sv_name, _) = ids::name_or_id(sv, Kind::Vault)?;
            if !sv_name.eq_ignore_ascii_case(&vault.name) {
                return Err(Error::invalid(format!(
                    "--source-vault '{sv_name}' is not the vault of --key-url ('{}')",
                    vault.name
                )));
            }
        }
        if !vault.enable_soft_delete || !vault.enable_purge_protection {
            return Err(Error::not_allowed(format!(
                "key vault '{}' must have soft delete and purge protection enabled to be used for disk encryption (soft delete: {}, purge protection: {}); run: keyvault update -n {} --enable-purge-protection true",
                vault.name, vault.enable_soft_delete, vault.enable_purge_protection, vault.name
            )));
        }
        if vault.location != location {
            return Err(Error::not_allowed(format!(
                "key vault '{}' is in location '{}' but the disk encryption set is in '{location}': they must be in the same location",
                vault.name, vault.location
            )));
        }
        let key = vaults.key(&url.vault, &url.key)?;
        let version = match &url.version {
            Some(v) => key.versions.iter().find(|x| x.id.eq_ignore_ascii_case(v)),
            None => key.versions.last(),
        }
        .ok_or_else(|| Error::not_found("key version", key_url))?;
        if version.key_size != 2048 || !matches!(key.kty.as_str(), "RSA" | "RSA-HSM") {
            return Err(Error::not_allowed(format!(
                "key '{}' is {} {}: only RSA keys of size 2048 can be used for disk encryption",
                key.name, key.kty, version.key_size
            )));
        }
        if !version.enabled {
            return Err(Error::KeyDisabled {
                key: KeyUrl::format(&vault.name, &key.name, &version.id),
                why: "a disabled key version cannot be made a set's active key".into(),
            });
        }
        // A set's active key must be able to wrap (new disks, re-wraps after a rotation).
        crate::vault::check_can_wrap(
            &KeyUrl::format(&vault.name, &key.name, &version.id),
            version,
            clock::now_secs(),
        )?;
        Ok(KeyRef {
            key_url: KeyUrl::format(&vault.name, &key.name, &version.id),
            source_vault_id: Vaults::vault_id(&vault),
        })
    }

    /// `disk-encryption-set create`.
    pub fn des_create(&self, args: &DesArgs) -> Result<Value> {
        ids::validate_name(Kind::DiskEncryptionSet, &args.name)?;
        ids::validate_name(Kind::ResourceGroup, &args.resource_group)?;
        match self.locate_des(&entries::reference(&args.name, &args.resource_group)) {
            Ok((_, existing)) => {
                return Err(Error::AlreadyExists {
                    kind: "disk encryption set",
                    name: existing.name,
                });
            }
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        let record = self.store.record();
        let location = match &args.location {
            Some(l) => normalise_location(l),
            None => {
                // Like az without -l: the location of the key's vault.
                let url = KeyUrl::parse(&args.key_url)?;
                self.store.vaults().vault(&url.vault)?.location
            }
        };
        let active_key =
            self.resolve_des_key(&args.key_url, args.source_vault.as_deref(), &location)?;
        let group = self.use_group(&args.resource_group, &location)?;
        let vault = self
            .store
            .vaults()
            .vault(&KeyUrl::parse(&args.key_url)?.vault)?;
        if !vault
            .subscription_id
            .eq_ignore_ascii_case(&group.subscription_id)
        {
            return Err(Error::not_allowed(format!(
                "disk encryption set '{}' is in subscription '{}' but key vault '{}' is in subscription '{}': a key vault and the disk encryption set that uses it must be in the same subscription and region",
                args.name, group.subscription_id, vault.name, vault.subscription_id
            )));
        }
        let rec = DesRecord {
            version: RECORD_VERSION,
            name: args.name.clone(),
            resource_group: group.name.clone(),
            subscription_id: group.subscription_id.clone(),
            location,
            principal_id: ids::new_guid()?,
            tenant_id: record.tenant_id.clone(),
            active_key,
            previous_keys: Vec::new(),
            rotation_to_latest_key_version_enabled: args.auto_rotation,
            last_key_rotation_timestamp: None,
            created: clock::now_rfc3339(),
            tags: Default::default(),
            settings: Default::default(),
            source_vault_implied: args.source_vault.is_none(),
            user_assigned_identities: Default::default(),
        };
        self.save_des(&rec)?;
        fsio::sync_dir(&self.des_dir())?;
        Ok(views::des(&rec))
    }

    /// `disk-encryption-set show`.
    pub fn des_show(&self, name_or_id: &str, group: Option<&str>) -> Result<Value> {
        let rec = self.load_des_by_ref(name_or_id, group)?;
        if !group_matches(group, &rec.resource_group) {
            return Err(Error::not_found("disk encryption set", name_or_id));
        }
        Ok(views::des(&rec))
    }

    /// `disk-encryption-set list`.
    pub fn des_list(&self, group: Option<&str>) -> Result<Value> {
        if let Some(g) = group {
            self.read_group(g)?;
        }
        let subscription = &self.store.record().subscription_id;
        Ok(Value::Array(
            self.all_des()?
                .iter()
                .filter(|d| {
                    group_matches(group, &d.resource_group) && &d.subscription_id == subscription
                })
                .map(views::des)
                .collect(),
        ))
    }

    /// `disk-encryption-set update [--key-url] [--source-vault] [--enable-auto-key-rotation]`:
    /// a new key re-wraps every disk and snapshot of the set (see rotation.rs).
    pub fn des_update(
        &self,
        name_or_id: &str,
        group: Option<&str>,
        key_url: Option<&str>,
        source_vault: Option<&str>,
        auto_rotation: Option<bool>,
    ) -> Result<Value> {
        let mut rec = self.load_des_by_ref(name_or_id, group)?;
        if source_vault.is_some() && rec.source_vault_implied {
            // Given now: `activeKey.sourceVault` shows it from here on.
            rec.source_vault_implied = false;
            self.save_des(&rec)?;
        }
        if let Some(auto) = auto_rotation {
            rec.rotation_to_latest_key_version_enabled = auto;
            self.save_des(&rec)?;
        }
        let target = match key_url {
            Some(url) => Some(self.resolve_des_key(url, source_vault, &rec.location)?),
            None if auto_rotation == Some(true) => self.latest_key_ref(&rec)?,
            None => None,
        };
        if let Some(new_key) = target {
            rec = self.rotate_des(rec, new_key)?;
        }
        Ok(views::des(&rec))
    }

    /// `disk-encryption-set delete`: refused while any disk or snapshot uses the set.
    pub fn des_delete(&self, name_or_id: &str, group: Option<&str>) -> Result<Value> {
        let rec = self.load_des_by_ref(name_or_id, group)?;
        let users = self.volumes_of_des(&rec)?;
        if !users.is_empty() {
            let names: Vec<String> = users.iter().map(views::volume_id).collect();
            return Err(Error::not_allowed(format!(
                "disk encryption set '{}' is used by {} resource(s) and cannot be deleted: {}",
                rec.name,
                names.len(),
                names.join(", ")
            )));
        }
        let (path, _) = self.locate_des(&rec.reference())?;
        fs::remove_file(&path).ctx(|| format!("remove {}", path.display()))?;
        fsio::sync_dir(&self.des_dir())?;
        Ok(Value::Null)
    }

    /// `disk-encryption-set list-associated-resources`: ids of the disks and snapshots using it.
    pub fn des_list_associated(&self, name_or_id: &str, group: Option<&str>) -> Result<Value> {
        let rec = self.load_des_by_ref(name_or_id, group)?;
        Ok(Value::Array(
            self.volumes_of_des(&rec)?
                .iter()
                .map(|v| Value::String(views::volume_id(v)))
                .collect(),
        ))
    }
}
