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
//! per key version (see [`crate::format`]), under the vault directory (`STORE/vaults`, or the
//! setting `vault.dir`: [`crate::vault_dir`]); a vault directory that cannot be reached is
//! [`crate::error::Error::KeysUnreachable`] for every operation. Private keys are read only to unwrap and dropped
//! (and wiped by the `rsa` crate) right after.
//!
//! Files, one concern each (as cryptsetup splits LUKS2 metadata):
//!
//! - `records.rs`: vault and key records: paths, load, save, create and update vaults;
//! - `keys.rs`: keys and versions: create, import, rotate, show, list, enable/disable;
//! - `access.rs`: access policies, permission words, the check behind every operation;
//! - `deletion.rs`: soft delete, recover and purge, and the purge-protection rule;
//! - `crypto_ops.rs`: get, wrap and unwrap for the disk service, and the key-state checks;
//! - `backup.rs`: key backup and restore, sealed under the vault directory's backup key;
//! - `lifetime.rs`: versions' activation and expiry dates, rotation policies, due rotations;
//! - `rotation_policy.rs`: the policy's shape and Key Vault's rules for it;
//! - `audit.rs`: the audit log.

use std::path::PathBuf;

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
    /// Key access by role assignments instead of access policies.
    pub enable_rbac_authorization: bool,
    /// `standard` or `premium` (only premium vaults hold HSM-protected keys).
    pub sku: String,
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
    /// The PKCS#11 token of HSM-protected keys.
    hsm: crate::hsm::TokenConfig,
    /// The store's role assignments, which decide key access in RBAC vaults.
    assignments: crate::rbac::Assignments,
}

mod access;
mod audit;
mod backup;
mod crypto_ops;
mod deletion;
mod keys;
mod lifetime;
mod records;
pub mod rotation_policy;

pub use access::{canonical_permissions, validate_object_id};
pub use backup::BACKUP_KEY_FILE;
pub use lifetime::{VAULT_SERVICE_OBJECT_ID, VersionDates, check_can_wrap, policy_id};

impl Vaults {
    /// The vaults under `dir` (the setting `vault.dir`, else `STORE/vaults`), with the store's
    /// role assignments under `assignments` (`STORE/roleAssignments`: they stay in the store).
    pub fn new(dir: PathBuf, assignments: PathBuf) -> Self {
        let assignments = crate::rbac::Assignments::new(assignments);
        Vaults {
            dir,
            assignments,
            hsm: crate::hsm::TokenConfig {
                module: PathBuf::from(crate::hsm::DEFAULT_MODULE),
                label: crate::hsm::DEFAULT_TOKEN.into(),
                pin_file: None,
            },
        }
    }

    /// Uses `token` for HSM-protected keys.
    pub fn with_hsm(mut self, token: crate::hsm::TokenConfig) -> Self {
        self.hsm = token;
        self
    }

    /// A session on the token of HSM-protected keys.
    pub(crate) fn token(&self) -> crate::error::Result<crate::hsm::Token> {
        crate::hsm::Token::open(&self.hsm)
    }

    /// The directory the vaults live in.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The store's role assignments.
    pub fn assignments(&self) -> &crate::rbac::Assignments {
        &self.assignments
    }
}

/// Which versions an attribute change applies to.
#[derive(Debug, Clone)]
pub enum VersionSelector {
    Latest,
    All,
    Exact(String),
}
