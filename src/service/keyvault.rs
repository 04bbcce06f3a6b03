//! Key vault and key management on behalf of the signed-in user, plus the hook that moves
//! auto-rotating disk encryption sets to a key's new version.

use serde_json::Value;

use super::{Service, group_matches, normalise_location, views};
use crate::crypto::KeyPair;
use crate::error::{Error, Result};
use crate::ids::{self, Kind};
use crate::vault::{NewVault, Vaults, VersionDates, VersionSelector};

/// `keyvault create` arguments.
#[derive(Debug, Clone)]
pub struct VaultArgs {
    pub name: String,
    pub resource_group: String,
    pub location: Option<String>,
    pub enable_soft_delete: bool,
    pub retention_days: Option<u32>,
    pub enable_purge_protection: bool,
    /// `--enable-rbac-authorization`: key access by role assignments.
    pub enable_rbac_authorization: bool,
    /// `--sku`: standard or premium.
    pub sku: String,
}

/// `keyvault key create` / `import` arguments.
#[derive(Debug, Clone)]
pub struct KeyArgs {
    pub vault: String,
    pub name: String,
    pub kty: String,
    pub size: Option<usize>,
    pub protection: String,
    /// `import`: the private key, as the caller read it from its PEM file.
    pub pem: Option<ImportedPem>,
}

/// A PEM private key read by the caller (never by the service, which may be the mount daemon:
/// see [`crate::daemon::remote::ClientFiles`]).
#[derive(Clone)]
pub struct ImportedPem {
    /// Where it came from, for messages.
    pub source: String,
    /// The PEM text, wiped on drop.
    pub text: zeroize::Zeroizing<String>,
}

impl std::fmt::Debug for ImportedPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ImportedPem({})", self.source)
    }
}

impl Service {
    fn vaults(&self) -> &Vaults {
        self.store.vaults()
    }

    /// `keyvault create`.
    pub fn vault_create(&self, args: &VaultArgs) -> Result<Value> {
        ids::validate_name(Kind::ResourceGroup, &args.resource_group)?;
        ids::validate_name(Kind::Vault, &args.name)?;
        let rec = self.store.record();
        let location =
            normalise_location(args.location.as_deref().unwrap_or(&rec.default_location));
        let group = self.use_group(&args.resource_group, &location)?;
        let new = NewVault {
            name: args.name.clone(),
            resource_group: group.name,
            subscription_id: group.subscription_id,
            location,
            tenant_id: rec.tenant_id.clone(),
            enable_soft_delete: args.enable_soft_delete,
            retention_days: args.retention_days.unwrap_or(90),
            enable_purge_protection: args.enable_purge_protection,
            enable_rbac_authorization: args.enable_rbac_authorization,
            sku: args.sku.clone(),
        };
        if new.enable_purge_protection && !new.enable_soft_delete {
            return Err(Error::invalid(
                "purge protection needs soft delete: do not pass --enable-soft-delete false with --enable-purge-protection true",
            ));
        }
        Ok(views::vault(
            &self.vaults().create_vault(&new, &rec.user_object_id)?,
        ))
    }

    /// `keyvault show`.
    pub fn vault_show(&self, name: &str, group: Option<&str>) -> Result<Value> {
        if let Some(g) = group {
            self.read_group(g)?;
        }
        let rec = self.vaults().vault(name)?;
        if !group_matches(group, &rec.resource_group) {
            return Err(Error::not_found("key vault", name));
        }
        Ok(views::vault(&rec))
    }

    /// `keyvault list`.
    pub fn vault_list(&self, group: Option<&str>) -> Result<Value> {
        if let Some(g) = group {
            self.read_group(g)?;
        }
        let subscription = &self.store.record().subscription_id;
        let list: Vec<Value> = self
            .vaults()
            .all_vaults()?
            .iter()
            .filter(|v| {
                v.deleted.is_none()
                    && group_matches(group, &v.resource_group)
                    && &v.subscription_id == subscription
            })
            .map(views::vault)
            .collect();
        Ok(Value::Array(list))
    }

    /// `keyvault update --enable-purge-protection / --retention-days`.
    pub fn vault_update(
        &self,
        name: &str,
        purge_protection: Option<bool>,
        retention: Option<u32>,
    ) -> Result<Value> {
        Ok(views::vault(&self.vaults().update_vault(
            name,
            purge_protection,
            retention,
        )?))
    }

    /// `keyvault delete` (soft).
    pub fn vault_delete(&self, name: &str) -> Result<Value> {
        self.vaults().delete_vault(name, &self.user())?;
        Ok(Value::Null)
    }

    /// `keyvault recover`.
    pub fn vault_recover(&self, name: &str) -> Result<Value> {
        Ok(views::vault(
            &self.vaults().recover_vault(name, &self.user())?,
        ))
    }

    /// `keyvault purge`.
    pub fn vault_purge(&self, name: &str) -> Result<Value> {
        self.vaults().purge_vault(name)?;
        Ok(Value::Null)
    }

    /// `keyvault show-deleted`.
    pub fn vault_show_deleted(&self, name: &str) -> Result<Value> {
        Ok(views::deleted_vault(&self.vaults().deleted_vault(name)?))
    }

    /// `keyvault set-policy --object-id --key-permissions`.
    pub fn vault_set_policy(
        &self,
        vault: &str,
        object_id: &str,
        perms: &[String],
    ) -> Result<Value> {
        Ok(views::vault(&self.vaults().set_policy(
            vault,
            object_id,
            perms,
            &self.user(),
        )?))
    }

    /// `keyvault delete-policy --object-id`.
    pub fn vault_delete_policy(&self, vault: &str, object_id: &str) -> Result<Value> {
        Ok(views::vault(&self.vaults().delete_policy(
            vault,
            object_id,
            &self.user(),
        )?))
    }

    /// `keyvault key create` and `keyvault key import`; then auto-rotating sets move on.
    pub fn key_create(&self, args: &KeyArgs) -> Result<Value> {
        self.key_create_dated(args, VersionDates::default())
    }

    /// [`Service::key_create`] with `--expires` and `--not-before` for the new version.
    pub fn key_create_dated(&self, args: &KeyArgs, dates: VersionDates) -> Result<Value> {
        let import = match &args.pem {
            Some(pem) => Some(
                KeyPair::from_pem(&pem.text)
                    .map_err(|e| Error::invalid(format!("{}: {e}", pem.source)))?,
            ),
            None => None,
        };
        let rec = self.vaults().create_key(
            &args.vault,
            &args.name,
            &args.kty,
            args.size,
            &args.protection,
            import,
            dates,
            &self.user(),
        )?;
        self.after_new_version(&args.vault, &rec.name);
        self.key_view(&args.vault, &rec.name, None)
    }

    /// `keyvault key rotate`.
    pub fn key_rotate(&self, vault: &str, key: &str) -> Result<Value> {
        let rec = self.vaults().rotate_key(vault, key, &self.user())?;
        self.after_new_version(vault, &rec.name);
        self.key_view(vault, &rec.name, None)
    }

    fn key_view(&self, vault: &str, key: &str, version: Option<&str>) -> Result<Value> {
        let vrec = self.vaults().vault(vault)?;
        let krec = self.vaults().key(vault, key)?;
        let v = match version {
            Some(id) => krec.versions.iter().find(|v| v.id.eq_ignore_ascii_case(id)),
            None => krec.versions.last(),
        }
        .ok_or_else(|| {
            Error::not_found("key version", format!("{key}/{}", version.unwrap_or("")))
        })?;
        Ok(views::key(&vrec, &krec, v))
    }

    /// `keyvault key show [--version]`.
    pub fn key_show(&self, vault: &str, key: &str, version: Option<&str>) -> Result<Value> {
        if let Some(v) = version {
            ids::validate_version(v)?;
        }
        self.vaults().show_key(vault, key, &self.user())?;
        self.key_view(vault, key, version)
    }

    /// `keyvault key list`.
    pub fn key_list(&self, vault: &str) -> Result<Value> {
        let vrec = self.vaults().vault(vault)?;
        let keys = self.vaults().list_keys(vault, &self.user())?;
        Ok(Value::Array(
            keys.iter()
                .filter(|k| k.deleted.is_none())
                .map(|k| views::key_list_item(&vrec, k))
                .collect(),
        ))
    }

    /// `keyvault key list-versions`.
    pub fn key_list_versions(&self, vault: &str, key: &str) -> Result<Value> {
        let vrec = self.vaults().vault(vault)?;
        self.vaults().list_keys(vault, &self.user())?;
        let krec = self.vaults().key(vault, key)?;
        Ok(Value::Array(
            krec.versions
                .iter()
                .map(|v| views::key_version_item(&vrec, &krec, v))
                .collect(),
        ))
    }

    /// Enables or disables versions (`/.control`'s `enabled` file).
    pub fn key_set_enabled(
        &self,
        vault: &str,
        key: &str,
        version: VersionSelector,
        enabled: bool,
    ) -> Result<Value> {
        self.key_set_attributes(vault, key, version, Some(enabled), VersionDates::default())
    }

    /// `keyvault key set-attributes [--enabled] [--expires] [--not-before] [--version]` (no
    /// version: the latest, as in az).
    pub fn key_set_attributes(
        &self,
        vault: &str,
        key: &str,
        version: VersionSelector,
        enabled: Option<bool>,
        dates: VersionDates,
    ) -> Result<Value> {
        if let VersionSelector::Exact(v) = &version {
            ids::validate_version(v)?;
        }
        let shown = match &version {
            VersionSelector::Exact(v) => Some(v.clone()),
            _ => None,
        };
        let rec =
            self.vaults()
                .set_attributes(vault, key, version, enabled, dates, &self.user())?;
        self.key_view(vault, &rec.name, shown.as_deref())
    }

    /// `keyvault key delete` (soft).
    pub fn key_delete(&self, vault: &str, key: &str) -> Result<Value> {
        let rec = self.vaults().delete_key(vault, key, &self.user())?;
        let vrec = self.vaults().vault(vault)?;
        match rec.versions.last() {
            Some(v) => Ok(views::key(&vrec, &rec, v)),
            None => Ok(Value::Null),
        }
    }

    /// `keyvault key recover`.
    pub fn key_recover(&self, vault: &str, key: &str) -> Result<Value> {
        let rec = self.vaults().recover_key(vault, key, &self.user())?;
        self.key_view(vault, &rec.name, None)
    }

    /// `keyvault key purge`.
    pub fn key_purge(&self, vault: &str, key: &str) -> Result<Value> {
        self.vaults().purge_key(vault, key, &self.user())?;
        Ok(Value::Null)
    }

    /// `keyvault key show-deleted`.
    pub fn key_show_deleted(&self, vault: &str, key: &str) -> Result<Value> {
        let vrec = self.vaults().vault(vault)?;
        let rec = self.vaults().deleted_key(vault, key)?;
        match rec.versions.last() {
            Some(v) => Ok(views::key(&vrec, &rec, v)),
            None => Ok(Value::Null),
        }
    }

    /// `keyvault key backup`: the sealed backup file's bytes (written by the caller: see
    /// [`crate::daemon::remote::ReplyFile`]).
    pub fn key_backup(&self, vault: &str, key: &str) -> Result<Vec<u8>> {
        self.vaults().backup_key_file(vault, key, &self.user())
    }

    /// `keyvault key restore`: restores a backup the caller read from `source`.
    pub fn key_restore(&self, vault: &str, source: &str, bytes: &[u8]) -> Result<Value> {
        let rec = self
            .vaults()
            .restore_key_file(vault, source, bytes, &self.user())?;
        self.key_view(vault, &rec.name, None)
    }

    /// `keyvault audit`: the vault's audit log.
    pub fn vault_audit(&self, vault: &str) -> Result<Value> {
        Ok(Value::Array(self.vaults().audit_log(vault)?))
    }
}
