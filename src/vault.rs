//! The local key vault: vaults, RSA keys with versions, attributes, access policies, soft
//! delete, and an audit log of every operation.
//!
//! The disk service reaches keys only through three calls, [`Vaults::get_key`],
//! [`Vaults::wrap_key`] and [`Vaults::unwrap_key`], each made on behalf of a caller object id
//! (a disk encryption set's identity) and for a named resource, checked against the vault's
//! access policy and recorded in the audit log. A hardware or remote key manager can stand
//! behind the same three calls later.
//!
//! Storage: `vaults/VAULT/vault.json`, `vaults/VAULT/keys/KEY/key.json` and one 0600 PEM file
//! per key version (see [`crate::format`]). Private keys are read only to unwrap and dropped
//! (and wiped by the `rsa` crate) right after.

use std::fs;
use std::path::{Path, PathBuf};

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::json;

use crate::clock;
use crate::crypto::{DataKey, KeyPair};
use crate::error::{Error, IoContext, Result};
use crate::format::{
    AccessPolicy, Deletion, KeyRecord, KeyVersionRecord, RECORD_VERSION, VaultRecord, Versioned,
};
use crate::fsio;
use crate::ids::{self, KeyUrl, Kind};

/// Key permissions az knows, in az's spelling. `all` expands to every one of them.
pub const KEY_PERMISSIONS: &[&str] = &[
    "backup",
    "create",
    "decrypt",
    "delete",
    "encrypt",
    "get",
    "getrotationpolicy",
    "import",
    "list",
    "purge",
    "recover",
    "release",
    "restore",
    "rotate",
    "setrotationpolicy",
    "sign",
    "unwrapKey",
    "update",
    "verify",
    "wrapKey",
];

/// RSA sizes a vault accepts (only 2048 is accepted for disk encryption).
pub const KEY_SIZES: &[usize] = &[2048, 3072, 4096];

/// Who asks and for what, recorded with every audited operation.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub object_id: &'a str,
    /// The resource the operation serves (a disk id), if any.
    pub resource: Option<&'a str>,
}

/// Parameters of a new vault.
#[derive(Debug, Clone)]
pub struct NewVault {
    pub name: String,
    pub resource_group: String,
    pub subscription_id: String,
    pub location: String,
    pub tenant_id: String,
    pub enable_soft_delete: bool,
    pub retention_days: u32,
    pub enable_purge_protection: bool,
}

/// Facts about one key version that the disk service needs.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    /// Versioned URL.
    pub url: String,
    pub key_size: usize,
    pub vault_location: String,
    pub vault_id: String,
}

/// The vaults of one store.
pub struct Vaults {
    dir: PathBuf,
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

impl Vaults {
    /// The vaults under `dir` (`STORE/vaults`).
    pub fn new(dir: PathBuf) -> Self {
        Vaults { dir }
    }

    fn vault_dir(&self, name: &str) -> Result<PathBuf> {
        ids::validate_name(Kind::Vault, name)?;
        fsio::find_entry(&self.dir, name)?.ok_or_else(|| Error::not_found("key vault", name))
    }

    fn vault_file(dir: &Path) -> PathBuf {
        dir.join("vault.json")
    }

    fn load_vault_at(dir: &Path) -> Result<VaultRecord> {
        let path = Self::vault_file(dir);
        let rec: VaultRecord = fsio::read_json(&path)?;
        rec.check_version(&path)?;
        Ok(rec)
    }

    fn save_vault(&self, rec: &VaultRecord) -> Result<()> {
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
        fsio::list_entries(&self.dir)?
            .iter()
            .map(|n| Self::load_vault_at(&self.dir.join(n)))
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
        if let Some(dir) = fsio::find_entry(&self.dir, &new.name)? {
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
        let rec = VaultRecord {
            version: RECORD_VERSION,
            name: new.name.clone(),
            resource_group: new.resource_group.clone(),
            subscription_id: new.subscription_id.clone(),
            location: new.location.clone(),
            tenant_id: new.tenant_id.clone(),
            enable_soft_delete: new.enable_soft_delete,
            soft_delete_retention_in_days: new.retention_days,
            enable_purge_protection: new.enable_purge_protection,
            access_policies: vec![AccessPolicy {
                object_id: creator.to_string(),
                tenant_id: new.tenant_id.clone(),
                key_permissions: KEY_PERMISSIONS.iter().map(|p| p.to_string()).collect(),
            }],
            created: clock::now_rfc3339(),
            deleted: None,
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

    /// Soft-deletes a vault (or removes it when soft delete is off).
    pub fn delete_vault(&self, name: &str, caller: &Caller) -> Result<()> {
        let mut rec = self.vault(name)?;
        if !rec.enable_soft_delete {
            let dir = self.vault_dir(name)?;
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
    pub fn has_permission(rec: &VaultRecord, object_id: &str, perm: &str) -> bool {
        rec.access_policies.iter().any(|p| {
            p.object_id.eq_ignore_ascii_case(object_id)
                && p.key_permissions
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(perm))
        })
    }

    fn require(
        &self,
        rec: &VaultRecord,
        caller: &Caller,
        perm: &str,
        op: &str,
        key: Option<&str>,
    ) -> Result<()> {
        if Self::has_permission(rec, caller.object_id, perm) {
            return Ok(());
        }
        let why = format!(
            "the caller {} does not have key permission '{perm}' on key vault '{}'",
            caller.object_id, rec.name
        );
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

    // ----- keys -------------------------------------------------------------------------------

    fn key_dir(&self, vault: &str, key: &str) -> Result<PathBuf> {
        ids::validate_name(Kind::Key, key)?;
        let keys = self.vault_dir(vault)?.join("keys");
        fsio::find_entry(&keys, key)?
            .ok_or_else(|| Error::not_found("key", format!("{key}' in vault '{vault}")))
    }

    fn load_key_at(dir: &Path) -> Result<KeyRecord> {
        let path = dir.join("key.json");
        let rec: KeyRecord = fsio::read_json(&path)?;
        rec.check_version(&path)?;
        if rec.versions.is_empty() {
            return Err(Error::corrupt(&path, "the key has no versions"));
        }
        Ok(rec)
    }

    fn save_key(&self, vault: &str, rec: &KeyRecord) -> Result<()> {
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

    /// Creates a key, or a new version of an existing one (as `az keyvault key create` does).
    /// `import` supplies the key material instead of generating it.
    #[allow(clippy::too_many_arguments)]
    pub fn create_key(
        &self,
        vault: &str,
        key: &str,
        kty: &str,
        size: Option<usize>,
        protection: &str,
        import: Option<KeyPair>,
        caller: &Caller,
    ) -> Result<KeyRecord> {
        ids::validate_name(Kind::Key, key)?;
        let (op, perm) = if import.is_some() {
            ("KeyImport", "import")
        } else {
            ("KeyCreate", "create")
        };
        let vrec = self.vault(vault)?;
        self.require(&vrec, caller, perm, op, Some(key))?;
        if !kty.eq_ignore_ascii_case("RSA") {
            return Err(Error::invalid(format!(
                "--kty {kty} is not supported: ssefs vaults hold RSA keys only"
            )));
        }
        if protection.eq_ignore_ascii_case("hsm") {
            return Err(Error::invalid(
                "--protection hsm is not supported yet: ssefs has no HSM-backed keys; use --protection software",
            ));
        }
        if !protection.eq_ignore_ascii_case("software") {
            return Err(Error::invalid(format!(
                "--protection must be software or hsm, not '{protection}'"
            )));
        }
        let pair = match import {
            Some(pair) => {
                let bits = pair.public().bits();
                if !KEY_SIZES.contains(&bits) {
                    return Err(Error::invalid(format!(
                        "the imported key has {bits} bits; RSA keys of 2048, 3072 or 4096 bits are accepted"
                    )));
                }
                pair
            }
            None => {
                let bits = size.unwrap_or(2048);
                if !KEY_SIZES.contains(&bits) {
                    return Err(Error::invalid(format!(
                        "--size {bits} is not supported; use 2048, 3072 or 4096"
                    )));
                }
                KeyPair::generate(bits)?
            }
        };
        self.store_version(&vrec, key, pair, op, caller)
    }

    /// Adds a version (`keyvault key rotate`) of the latest version's size.
    pub fn rotate_key(&self, vault: &str, key: &str, caller: &Caller) -> Result<KeyRecord> {
        let vrec = self.vault(vault)?;
        self.require(&vrec, caller, "rotate", "KeyRotate", Some(key))?;
        let rec = self.key(vault, key)?;
        let bits = rec.versions.last().map(|v| v.key_size).unwrap_or(2048);
        self.store_version(
            &vrec,
            &rec.name,
            KeyPair::generate(bits)?,
            "KeyRotate",
            caller,
        )
    }

    /// Writes a new version's private key (0600) and then the key record that names it, so a
    /// crash in between leaves only an unused file.
    fn store_version(
        &self,
        vrec: &VaultRecord,
        key: &str,
        pair: KeyPair,
        op: &str,
        caller: &Caller,
    ) -> Result<KeyRecord> {
        let keys_dir = self.vault_dir(&vrec.name)?.join("keys");
        let existing = fsio::find_entry(&keys_dir, key)?;
        let mut rec = match &existing {
            Some(dir) => {
                let rec = Self::load_key_at(dir)?;
                if rec.deleted.is_some() {
                    return Err(Error::AlreadyExists {
                        kind: "key",
                        name: format!(
                            "{}' is soft-deleted; recover or purge it before reusing the name '{key}",
                            rec.name
                        ),
                    });
                }
                rec
            }
            None => KeyRecord {
                version: RECORD_VERSION,
                name: key.to_string(),
                kty: "RSA".into(),
                protection: "software".into(),
                deleted: None,
                versions: Vec::new(),
            },
        };
        let dir = keys_dir.join(rec.name.to_ascii_lowercase());
        fsio::create_private_dir(&dir)?;
        let version = ids::new_version()?;
        let public = pair.public();
        let pem = pair.to_pem()?;
        fsio::write_atomic(&dir.join(format!("{version}.pem")), pem.as_bytes(), 0o600)?;
        let now = clock::now_secs();
        rec.versions.push(KeyVersionRecord {
            id: version.clone(),
            key_size: public.bits(),
            enabled: true,
            created: now,
            updated: now,
            n: Base64UrlUnpadded::encode_string(&public.modulus()),
            e: Base64UrlUnpadded::encode_string(&public.exponent()),
        });
        self.save_key(&vrec.name, &rec)?;
        if existing.is_none() {
            fsio::sync_dir(&keys_dir)?;
        }
        self.audit(
            &vrec.name,
            op,
            caller,
            Some(&rec.name),
            Some(&version),
            "Succeeded",
        );
        Ok(rec)
    }

    /// Reads a key for `key show` (needs `get`).
    pub fn show_key(&self, vault: &str, key: &str, caller: &Caller) -> Result<KeyRecord> {
        let vrec = self.vault(vault)?;
        self.require(&vrec, caller, "get", "KeyGet", Some(key))?;
        let rec = self.key(vault, key)?;
        self.audit(
            &vrec.name,
            "KeyGet",
            caller,
            Some(&rec.name),
            None,
            "Succeeded",
        );
        Ok(rec)
    }

    /// Lists keys (needs `list`).
    pub fn list_keys(&self, vault: &str, caller: &Caller) -> Result<Vec<KeyRecord>> {
        let vrec = self.vault(vault)?;
        self.require(&vrec, caller, "list", "KeyList", None)?;
        let keys = self.all_keys(vault)?;
        self.audit(&vrec.name, "KeyList", caller, None, None, "Succeeded");
        Ok(keys)
    }

    /// Sets `enabled` on one version, or on every version when `version` is `All`.
    pub fn set_enabled(
        &self,
        vault: &str,
        key: &str,
        which: VersionSelector,
        enabled: bool,
        caller: &Caller,
    ) -> Result<KeyRecord> {
        let vrec = self.vault(vault)?;
        let op = if enabled { "KeyEnable" } else { "KeyDisable" };
        self.require(&vrec, caller, "update", op, Some(key))?;
        let mut rec = self.key(vault, key)?;
        let now = clock::now_secs();
        let latest = rec
            .versions
            .last()
            .map(|v| v.id.clone())
            .unwrap_or_default();
        let mut touched = Vec::new();
        for v in rec.versions.iter_mut() {
            let hit = match &which {
                VersionSelector::All => true,
                VersionSelector::Latest => v.id == latest,
                VersionSelector::Exact(id) => v.id.eq_ignore_ascii_case(id),
            };
            if hit {
                v.enabled = enabled;
                v.updated = now;
                touched.push(v.id.clone());
            }
        }
        if let (true, VersionSelector::Exact(id)) = (touched.is_empty(), &which) {
            return Err(Error::not_found("key version", format!("{key}/{id}")));
        }
        self.save_key(vault, &rec)?;
        for v in &touched {
            self.audit(
                &vrec.name,
                op,
                caller,
                Some(&rec.name),
                Some(v),
                "Succeeded",
            );
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

    // ----- the narrow interface the disk service uses ------------------------------------------

    /// Resolves a key URL to a usable key version, checking vault, key, version state and the
    /// permission `perm` of `object_id`; records nothing. A versionless URL means the latest
    /// version. The error says which key and why: [`Error::KeyDeleted`] for a missing or
    /// soft-deleted vault, key or version, [`Error::AccessDenied`] for a missing permission,
    /// [`Error::KeyDisabled`] for a disabled version.
    fn state(
        &self,
        url: &KeyUrl,
        object_id: &str,
        perm: &str,
    ) -> Result<(VaultRecord, KeyRecord, KeyVersionRecord)> {
        let shown = match &url.version {
            Some(v) => url.with_version(v),
            None => format!(
                "https://{}.{}/keys/{}",
                url.vault,
                ids::VAULT_DOMAIN,
                url.key
            ),
        };
        let deleted = |why: String| Error::KeyDeleted {
            key: shown.clone(),
            why,
        };
        let vrec = match self.vault(&url.vault) {
            Ok(v) => v,
            Err(Error::NotFound { .. }) => {
                return Err(deleted(format!(
                    "key vault '{}' does not exist or is soft-deleted",
                    url.vault
                )));
            }
            Err(e) => return Err(e),
        };
        if !Self::has_permission(&vrec, object_id, perm) {
            return Err(Error::AccessDenied(format!(
                "the caller {object_id} does not have key permission '{perm}' on key vault '{}'",
                vrec.name
            )));
        }
        let krec = match self.key(&url.vault, &url.key) {
            Ok(k) => k,
            Err(Error::NotFound { .. }) => return Err(deleted("the key does not exist".into())),
            Err(Error::KeyDeleted { why, .. }) => return Err(deleted(why)),
            Err(e) => return Err(e),
        };
        let version = match &url.version {
            Some(v) => krec.versions.iter().find(|x| x.id.eq_ignore_ascii_case(v)),
            None => krec.versions.last(),
        }
        .cloned()
        .ok_or_else(|| deleted("no such key version".into()))?;
        if !version.enabled {
            return Err(Error::KeyDisabled {
                key: shown,
                why: "the key version is disabled; enable it with 'keyvault key set-attributes --enabled true'".into(),
            });
        }
        Ok((vrec, krec, version))
    }

    /// [`Vaults::state`], with a refusal recorded in the audit log.
    fn usable(
        &self,
        url: &KeyUrl,
        caller: &Caller,
        perm: &str,
        op: &str,
    ) -> Result<(VaultRecord, KeyRecord, KeyVersionRecord)> {
        let result = self.state(url, caller.object_id, perm);
        if let Err(e) = &result {
            let outcome = match e {
                Error::AccessDenied(_) => format!("Forbidden: {e}"),
                _ => format!("Failed: {e}"),
            };
            if self.vault(&url.vault).is_ok() {
                self.audit(
                    &url.vault,
                    op,
                    caller,
                    Some(&url.key),
                    url.version.as_deref(),
                    &outcome,
                );
            }
        }
        result
    }

    /// Whether `object_id` could unwrap with `url` now (enabled version, vault and key present,
    /// permission held), without recording anything: the mount asks after every change.
    pub fn check_unwrap(&self, url: &KeyUrl, object_id: &str) -> Result<()> {
        self.state(url, object_id, "unwrapKey").map(|_| ())
    }

    /// "get": the facts of a usable key version.
    pub fn get_key(&self, url: &KeyUrl, caller: &Caller) -> Result<KeyInfo> {
        let (vrec, krec, version) = self.usable(url, caller, "get", "KeyGet")?;
        self.audit(
            &vrec.name,
            "KeyGet",
            caller,
            Some(&krec.name),
            Some(&version.id),
            "Succeeded",
        );
        Ok(KeyInfo {
            url: KeyUrl::format(&vrec.name, &krec.name, &version.id),
            key_size: version.key_size,
            vault_location: vrec.location.clone(),
            vault_id: Self::vault_id(&vrec),
        })
    }

    fn load_pair(&self, vault: &str, key: &str, version: &str) -> Result<KeyPair> {
        let path = self.key_dir(vault, key)?.join(format!("{version}.pem"));
        let pem = zeroize::Zeroizing::new(
            fs::read_to_string(&path).ctx(|| format!("read key file {}", path.display()))?,
        );
        KeyPair::from_pem(&pem).map_err(|_| Error::corrupt(&path, "not a valid RSA private key"))
    }

    /// "wrapKey": wraps `dek` under the key version `url` names; returns the wrapped bytes and
    /// the versioned URL that did it.
    pub fn wrap_key(
        &self,
        url: &KeyUrl,
        dek: &DataKey,
        caller: &Caller,
    ) -> Result<(Vec<u8>, String)> {
        let (vrec, krec, version) = self.usable(url, caller, "wrapKey", "WrapKey")?;
        let pair = self.load_pair(&vrec.name, &krec.name, &version.id)?;
        let wrapped = pair.public().wrap_key(dek)?;
        self.audit(
            &vrec.name,
            "WrapKey",
            caller,
            Some(&krec.name),
            Some(&version.id),
            "Succeeded",
        );
        Ok((wrapped, KeyUrl::format(&vrec.name, &krec.name, &version.id)))
    }

    /// "unwrapKey": unwraps a DEK wrapped by the key version `url` names.
    pub fn unwrap_key(&self, url: &KeyUrl, wrapped: &[u8], caller: &Caller) -> Result<DataKey> {
        let (vrec, krec, version) = self.usable(url, caller, "unwrapKey", "UnwrapKey")?;
        let pair = self.load_pair(&vrec.name, &krec.name, &version.id)?;
        match pair.unwrap_key(wrapped) {
            Ok(dek) => {
                self.audit(
                    &vrec.name,
                    "UnwrapKey",
                    caller,
                    Some(&krec.name),
                    Some(&version.id),
                    "Succeeded",
                );
                Ok(dek)
            }
            Err(e) => {
                self.audit(
                    &vrec.name,
                    "UnwrapKey",
                    caller,
                    Some(&krec.name),
                    Some(&version.id),
                    &format!("Failed: {e}"),
                );
                Err(e)
            }
        }
    }

    // ----- audit ------------------------------------------------------------------------------

    /// Appends one audit line. Auditing never fails the operation it records (a full disk must
    /// not turn a refused unwrap into a different error), but a failure to audit is reported on
    /// stderr by the caller's log.
    fn audit(
        &self,
        vault: &str,
        op: &str,
        caller: &Caller,
        key: Option<&str>,
        version: Option<&str>,
        outcome: &str,
    ) {
        let mut line = json!({
            "time": clock::now_rfc3339(),
            "operation": op,
            "callerObjectId": caller.object_id,
            "vault": vault,
            "key": key,
            "version": version,
            "resource": caller.resource,
            "outcome": outcome,
        });
        // A time from the test clock is marked as such: it cannot pass for a real one.
        if clock::is_overridden() {
            line["clockOverridden"] = json!(true);
        }
        let path = self.dir.join(vault.to_ascii_lowercase()).join("audit.log");
        if let Err(e) = fsio::append_line(&path, &line.to_string()) {
            crate::log::warn(&format!("audit log of vault '{vault}' not written: {e}"));
        }
    }

    /// The audit log of a vault, oldest first, as JSON values.
    pub fn audit_log(&self, vault: &str) -> Result<Vec<serde_json::Value>> {
        let path = self.vault_dir(vault)?.join("audit.log");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io(format!("read {}", path.display()), e)),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .map_err(|e| Error::corrupt(&path, format!("bad audit line: {e}")))
            })
            .collect()
    }
}

/// Which versions an attribute change applies to.
#[derive(Debug, Clone)]
pub enum VersionSelector {
    Latest,
    All,
    Exact(String),
}

fn deletion(retention_days: u32) -> Deletion {
    let now = clock::now_secs();
    Deletion {
        deleted_at: now,
        scheduled_purge_at: now.saturating_add(i64::from(retention_days) * 86_400),
    }
}

fn check_purge(purge_protection: bool, deleted: &Deletion, what: &str) -> Result<()> {
    if purge_protection && clock::now_secs() < deleted.scheduled_purge_at {
        return Err(Error::not_allowed(format!(
            "{what} cannot be purged: purge protection is on and its retention period ends {}",
            clock::rfc3339(deleted.scheduled_purge_at)
        )));
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
