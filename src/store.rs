//! The store directory: opening and initialising it, its lock, its paths and its platform key.
//!
//! A store is created on first use. Opening takes an exclusive `flock` on `STORE/lock` for as
//! long as the [`Store`] lives, so concurrent commands on one store run one after another, and a
//! killed command releases the lock with its process. Opening also removes the leftovers of
//! interrupted writes (`.tmp-*`).

use std::fs;
use std::path::{Path, PathBuf};

use crate::clock;
use crate::config::Config;
use crate::crypto::KeyPair;
use crate::error::{Error, IoContext, Result};
use crate::format::{RECORD_VERSION, STORE_TAG, StoreRecord, Versioned};
use crate::fsio::{self, FileLock};
use crate::ids;
use crate::vault::Vaults;

/// Location given to resources created without `-l` and without a set to inherit one from.
pub const DEFAULT_LOCATION: &str = "eastus";

/// Entries a directory may already hold when it is turned into a store: the store lock, a
/// platform key from an interrupted initialisation, and what a mount daemon started on an
/// empty directory creates before it opens the store.
const INIT_TOLERATED: &[&str] = &[
    "lock",
    "platform-key.pem",
    "daemon.lock",
    "daemon.log",
    "daemon.json",
    "daemon.sock",
];

/// An open, locked store.
pub struct Store {
    root: PathBuf,
    _lock: FileLock,
    record: StoreRecord,
    config: Config,
    vaults: Vaults,
}

impl Store {
    /// The store directory: `$SSEFS_STORE`, else `$XDG_DATA_HOME/ssefs`, else
    /// `~/.local/share/ssefs`.
    pub fn default_root() -> PathBuf {
        if let Some(dir) = std::env::var_os("SSEFS_STORE").filter(|v| !v.is_empty()) {
            return PathBuf::from(dir);
        }
        if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(dir).join("ssefs");
        }
        let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
        PathBuf::from(home).join(".local/share/ssefs")
    }

    /// Opens (creating on first use) and locks the store at `root`, waiting for other holders.
    pub fn open(root: &Path) -> Result<Store> {
        fsio::create_private_dir(root)?;
        let lock = FileLock::exclusive(&root.join("lock"))?;
        Self::open_locked(root, lock)
    }

    /// Like [`Store::open`], but `None` at once when another process holds the store.
    pub fn try_open(root: &Path) -> Result<Option<Store>> {
        fsio::create_private_dir(root)?;
        match FileLock::try_exclusive(&root.join("lock"))? {
            Some(lock) => Self::open_locked(root, lock).map(Some),
            None => Ok(None),
        }
    }

    fn open_locked(root: &Path, lock: FileLock) -> Result<Store> {
        let record_path = root.join("store.json");
        let record = if record_path.exists() {
            let rec: StoreRecord = fsio::read_json(&record_path)?;
            if rec.format != STORE_TAG {
                return Err(Error::corrupt(&record_path, "not an ssefs store"));
            }
            rec.check_version(&record_path)?;
            rec
        } else {
            Self::initialise(root)?
        };
        fsio::remove_temporaries(root)?;
        let config = Config::load(root)?;
        let vault_dir = config.vault_dir(root);
        if config.vaults_elsewhere(root) {
            // A temporary there may hold a private key, as in the store; but an unreachable
            // vault directory must not stop the store (platform-key disks keep working).
            if let Err(e) = fsio::remove_temporaries(&vault_dir) {
                crate::log::warn(&format!("vault directory {}: {e}", vault_dir.display()));
            }
        }
        Ok(Store {
            root: root.to_path_buf(),
            _lock: lock,
            record,
            vaults: Vaults::new(vault_dir, root.join("roleAssignments")).with_hsm(config.hsm()),
            config,
        })
    }

    fn initialise(root: &Path) -> Result<StoreRecord> {
        for name in fsio::list_entries(root)? {
            if !INIT_TOLERATED.contains(&name.as_str()) {
                return Err(Error::invalid(format!(
                    "{} is not empty and is not an ssefs store (it holds '{name}'); choose another --store",
                    root.display()
                )));
            }
        }
        let platform = KeyPair::generate(2048)?;
        fsio::write_atomic(
            &root.join("platform-key.pem"),
            platform.to_pem()?.as_bytes(),
            0o600,
        )?;
        for dir in [
            "disks",
            "snapshots",
            "diskEncryptionSets",
            "vaults",
            "resourceGroups",
        ] {
            fsio::create_private_dir(&root.join(dir))?;
        }
        let rec = StoreRecord {
            format: STORE_TAG.into(),
            version: RECORD_VERSION,
            created: clock::now_rfc3339(),
            tenant_id: ids::new_guid()?,
            user_object_id: ids::new_guid()?,
            subscription_id: ids::new_guid()?,
            subscription_name: "ssefs".into(),
            default_location: DEFAULT_LOCATION.into(),
            subscriptions: Vec::new(),
        };
        // store.json last: its presence means the store is complete.
        fsio::write_json(&root.join("store.json"), &rec, 0o600)?;
        fsio::sync_dir(root)?;
        Ok(rec)
    }

    /// The store directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store's account record.
    pub fn record(&self) -> &StoreRecord {
        &self.record
    }

    /// Replaces the account record.
    pub fn save_record(&mut self, rec: StoreRecord) -> Result<()> {
        fsio::write_json(&self.root.join("store.json"), &rec, 0o600)?;
        self.record = rec;
        Ok(())
    }

    /// The store's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Replaces the store's settings. A new `vault.dir` moves the vaults there first, with the
    /// settings' write as the commit point (see [`crate::vault_dir`]); what the move did is
    /// returned for the caller's warnings.
    pub fn save_config(&mut self, config: Config) -> Result<crate::vault_dir::Moved> {
        // Absolute, so that a relative --store compares rightly with the setting's path.
        let root =
            std::path::absolute(&self.root).ctx(|| format!("resolve {}", self.root.display()))?;
        let old = self.config.vault_dir(&root);
        let new = config.vault_dir(&root);
        let moved = crate::vault_dir::change(&root, &old, &new, || config.save(&self.root))?;
        self.vaults = Vaults::new(new, self.root.join("roleAssignments"));
        self.config = config;
        Ok(moved)
    }

    /// The key vaults.
    pub fn vaults(&self) -> &Vaults {
        &self.vaults
    }

    /// `STORE/disks`, `STORE/snapshots` or `STORE/diskEncryptionSets`.
    pub fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Loads the platform key-encryption key.
    pub fn platform_key(&self) -> Result<KeyPair> {
        let path = self.root.join("platform-key.pem");
        let pem = zeroize::Zeroizing::new(
            fs::read_to_string(&path).ctx(|| format!("read platform key {}", path.display()))?,
        );
        KeyPair::from_pem(&pem).map_err(|_| Error::corrupt(&path, "not a valid RSA private key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn initialises_once_with_private_modes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let first = Store::open(&root).unwrap().record().subscription_id.clone();
        let again = Store::open(&root).unwrap().record().subscription_id.clone();
        assert_eq!(first, again);
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("platform-key.pem")), 0o600);
    }

    #[test]
    fn refuses_a_foreign_directory() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("precious.txt"), b"x").unwrap();
        assert!(matches!(
            Store::open(dir.path()),
            Err(Error::InvalidArgument(_))
        ));
    }
}
