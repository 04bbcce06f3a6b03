//! The on-disk format of a store (normative; `docs/FORMAT.md` has the worked example).
//!
//! ```text
//! STORE/                                  0700
//!   store.json                            StoreRecord: format tag, version, account, ids
//!   platform-key.pem                      0600  the platform KEK (RSA-2048, PKCS#8 PEM)
//!   lock                                  flock(2) target: one writer at a time
//!   vaults/VAULT/vault.json               VaultRecord: location, retention, policies
//!   vaults/VAULT/audit.log                one JSON object per line, append-only
//!   vaults/VAULT/keys/KEY/key.json        KeyRecord: versions, their attributes, rotation policy
//!   vaults/VAULT/keys/KEY/VERSION.pem     0600  that version's RSA private key (PKCS#8 PEM)
//!   vaults/backup.key                     0600  the backup key of key backups (crypto::BackupKey)
//!                                         (vaults/ is the setting vault.dir when it is set)
//!   diskEncryptionSets/NAME.json          DesRecord
//!   disks/NAME/volume.json                VolumeRecord (kind "disk")
//!   disks/NAME/data                       ciphertext, sparse, exactly sizeBytes long
//!   snapshots/NAME/volume.json            VolumeRecord (kind "snapshot")
//!   snapshots/NAME/data                   ciphertext, sparse
//!   virtualMachines/ENTRY.json            VmRecord (a VM, or an instance of a scale set)
//!   virtualMachineScaleSets/ENTRY.json    ScaleSetRecord
//! ```
//!
//! **Data files** carry no header: byte `o` of the disk lives in sector `o / 4096` at the same
//! offset of the file. Sector `i` is AES-256-XTS ciphertext under the disk's DEK with tweak `i`
//! (128-bit little-endian). A sector whose 4096 ciphertext bytes are all zero (a hole, or a
//! punched range) reads as zeros: it was never written or was discarded. Overhead: none.
//!
//! **Records** are JSON objects written atomically ([`crate::fsio::write_atomic`]). Each has
//! `"version": 1`; a reader refuses any other version and any unknown field rather than guess.
//! The wrapped DEK sits in the resource's own record together with the exact key that wrapped
//! it (`kek`), so that re-wrapping one resource is one atomic file replacement.

use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::error::{Error, Result};

/// The record version this build reads and writes.
pub const RECORD_VERSION: u32 = 1;

/// Tag in `store.json` that identifies a store directory.
pub const STORE_TAG: &str = "ssefs-store";

/// Implemented by every record so that readers can check the version in one place.
pub trait Versioned {
    /// The record's `version` field.
    fn version(&self) -> u32;

    /// Refuses versions this build does not know.
    fn check_version(&self, path: &Path) -> Result<()> {
        if self.version() == RECORD_VERSION {
            Ok(())
        } else {
            Err(Error::corrupt(
                path,
                format!(
                    "record version {} is not supported (this ssefs reads version {RECORD_VERSION})",
                    self.version()
                ),
            ))
        }
    }
}

macro_rules! versioned {
    ($($t:ty),*) => {$(impl Versioned for $t { fn version(&self) -> u32 { self.version } })*};
}
versioned!(
    StoreRecord,
    VaultRecord,
    KeyRecord,
    DesRecord,
    VolumeRecord,
    GroupRecord,
    VmRecord,
    ScaleSetRecord
);

/// `store.json`: what makes a directory a store, and the emulated account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoreRecord {
    pub format: String,
    pub version: u32,
    pub created: String,
    pub tenant_id: String,
    /// The signed-in user's object id: the caller of CLI vault operations.
    pub user_object_id: String,
    pub subscription_id: String,
    pub subscription_name: String,
    pub default_location: String,
    /// Every subscription the account has used, the current one included (absent in stores
    /// written before `account list`: then the current one is the only one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<Subscription>,
}

/// One emulated subscription of the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subscription {
    pub id: String,
    pub name: String,
}

/// `resourceGroups/NAME.json`: a resource group, the scope that names are unique in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupRecord {
    pub version: u32,
    pub name: String,
    pub subscription_id: String,
    pub location: String,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
    pub created: String,
}

/// A soft deletion: when it happened and when purging becomes possible.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Deletion {
    pub deleted_at: i64,
    pub scheduled_purge_at: i64,
}

/// One access-policy entry of a vault.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessPolicy {
    pub object_id: String,
    pub tenant_id: String,
    /// Canonical az spellings (`get`, `wrapKey`, …).
    pub key_permissions: Vec<String>,
    /// What `set-policy` records beyond key permissions (absent when empty).
    #[serde(default, skip_serializing_if = "PolicyExtras::is_empty")]
    pub extras: PolicyExtras,
}

/// The parts of an access policy that concern secrets, certificates and storage accounts
/// (ssefs holds none: recorded and shown) and the application id of a compound identity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyExtras {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificate_permissions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storage_permissions: Vec<String>,
}

impl PolicyExtras {
    pub fn is_empty(&self) -> bool {
        *self == PolicyExtras::default()
    }
}

/// `vaults/VAULT/vault.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VaultRecord {
    pub version: u32,
    pub name: String,
    pub resource_group: String,
    pub subscription_id: String,
    pub location: String,
    pub tenant_id: String,
    pub enable_soft_delete: bool,
    pub soft_delete_retention_in_days: u32,
    pub enable_purge_protection: bool,
    pub access_policies: Vec<AccessPolicy>,
    pub created: String,
    pub deleted: Option<Deletion>,
    /// Key access is decided by role assignments, not access policies (absent: false, so
    /// records of the first release read unchanged).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub enable_rbac_authorization: bool,
    /// `premium` for a vault that holds HSM-protected keys; absent means `standard`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// az's `tags` (`--tags KEY=VALUE ...`, `--set tags.KEY=VALUE`); absent when there are
    /// none, so records written before tags existed read unchanged.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
    /// az settings that have no local meaning (network access, zones, OS type, ...), recorded
    /// as given and shown at their place in the resource's JSON: key = dotted JSON path, e.g.
    /// `properties.publicNetworkAccess`. Absent when none.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub settings: std::collections::BTreeMap<String, serde_json::Value>,
}

/// One version of a key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyVersionRecord {
    pub id: String,
    pub key_size: usize,
    pub enabled: bool,
    pub created: i64,
    pub updated: i64,
    /// Public modulus and exponent, base64url (the JWK `n` and `e`).
    pub n: String,
    pub e: String,
    /// For an HSM-protected key: the label of the PKCS#11 token that holds the private key
    /// (object `CKA_ID` = the version id as bytes); there is then no PEM file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hsm: Option<String>,
    /// Unix seconds after which the version wraps no more (it still unwraps); absent: never.
    /// Optional fields, absent when unset, so records of the first release read unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    /// Unix seconds before which the version wraps nothing (it still unwraps); absent: always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
    /// The operations the version permits (`--ops`, az's spellings: encrypt, decrypt, sign,
    /// verify, wrapKey, unwrapKey); absent: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
}

/// `vaults/VAULT/keys/KEY/key.json`. Versions are in creation order; the last is the latest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyRecord {
    pub version: u32,
    pub name: String,
    pub kty: String,
    pub protection: String,
    pub deleted: Option<Deletion>,
    pub versions: Vec<KeyVersionRecord>,
    /// The key's rotation policy, once set (absent: Key Vault's default, which rotates
    /// nothing), so records of the first release read unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation_policy: Option<RotationPolicyRecord>,
    /// az's `tags` (`--tags KEY=VALUE ...`, `--set tags.KEY=VALUE`); absent when there are
    /// none, so records written before tags existed read unchanged.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
    /// az settings that have no local meaning (network access, zones, OS type, ...), recorded
    /// as given and shown at their place in the resource's JSON: key = dotted JSON path, e.g.
    /// `properties.publicNetworkAccess`. Absent when none.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub settings: std::collections::BTreeMap<String, serde_json::Value>,
}

/// A key's rotation policy (`keyvault key rotation-policy update`), validated when set:
/// durations are ISO 8601 texts as given (see [`crate::duration`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotationPolicyRecord {
    /// At most one `Rotate` and one `Notify` action.
    pub lifetime_actions: Vec<LifetimeActionRecord>,
    /// How long a version made by rotation lives: its `expires` is its creation plus this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_time: Option<String>,
    /// Unix seconds.
    pub created: i64,
    pub updated: i64,
}

/// One action of a rotation policy and its trigger (exactly one of the two times).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LifetimeActionRecord {
    /// `Rotate` or `Notify`.
    #[serde(rename = "type")]
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_after_create: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_before_expiry: Option<String>,
}

/// A key a disk encryption set points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyRef {
    /// Always a versioned key URL.
    pub key_url: String,
    pub source_vault_id: String,
}

/// `diskEncryptionSets/NAME.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DesRecord {
    pub version: u32,
    pub name: String,
    pub resource_group: String,
    pub subscription_id: String,
    pub location: String,
    pub principal_id: String,
    pub tenant_id: String,
    pub active_key: KeyRef,
    /// Non-empty while a rotation is unfinished: resources may still be wrapped by these.
    pub previous_keys: Vec<KeyRef>,
    pub rotation_to_latest_key_version_enabled: bool,
    pub last_key_rotation_timestamp: Option<String>,
    pub created: String,
    /// az's `tags` (`--tags KEY=VALUE ...`, `--set tags.KEY=VALUE`); absent when there are
    /// none, so records written before tags existed read unchanged.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
    /// az settings that have no local meaning (network access, zones, OS type, ...), recorded
    /// as given and shown at their place in the resource's JSON: key = dotted JSON path, e.g.
    /// `properties.publicNetworkAccess`. Absent when none.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub settings: std::collections::BTreeMap<String, serde_json::Value>,
    /// `--source-vault` was not given: `activeKey.sourceVault` shows null, as in az.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub source_vault_implied: bool,
    /// User-assigned identities (`identity assign --user-assigned`), by resource id; absent
    /// when none. The set reaches its vault with its system-assigned identity only.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub user_assigned_identities: std::collections::BTreeMap<String, UserIdentity>,
}

/// A user-assigned identity recorded on a disk encryption set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserIdentity {
    pub principal_id: String,
    pub client_id: String,
}

/// An export of a disk or snapshot (`disk grant-access`): while it lasts the disk's state is
/// `ActiveSAS` and changes to it are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessGrant {
    /// `Read` or `Write`.
    pub access: String,
    /// Unix seconds when the access ends by itself.
    pub expires_at: i64,
}

/// Whether a volume is a disk or a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum VolumeKind {
    Disk,
    Snapshot,
    /// A managed image (`image create`): read-only, like a snapshot; disks are made from it.
    Image,
}

impl VolumeKind {
    /// The resource kind of this volume kind (for names, ids and messages).
    pub fn resource_kind(self) -> crate::ids::Kind {
        match self {
            VolumeKind::Disk => crate::ids::Kind::Disk,
            VolumeKind::Snapshot => crate::ids::Kind::Snapshot,
            VolumeKind::Image => crate::ids::Kind::Image,
        }
    }
}

/// The two encryption types a disk can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EncryptionType {
    EncryptionAtRestWithPlatformKey,
    EncryptionAtRestWithCustomerKey,
}

impl EncryptionType {
    /// az's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EncryptionType::EncryptionAtRestWithPlatformKey => "EncryptionAtRestWithPlatformKey",
            EncryptionType::EncryptionAtRestWithCustomerKey => "EncryptionAtRestWithCustomerKey",
        }
    }
}

/// Which key-encryption key wrapped a DEK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type", deny_unknown_fields)]
pub enum Kek {
    /// The store's platform key.
    Platform,
    /// A customer key, by versioned URL, used through a disk encryption set.
    #[serde(rename_all = "camelCase")]
    Customer { key_url: String },
}

/// A DEK as stored: wrapped, with the key that wrapped it and a check value.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WrappedKey {
    pub kek: Kek,
    /// RSA-OAEP-SHA256 ciphertext of the 64-byte DEK, standard base64.
    pub wrapped_dek: String,
    /// First 8 bytes of SHA-256("ssefs data key check v1\0" || DEK), hex.
    pub dek_check: String,
}

/// `disks/NAME/volume.json` and `snapshots/NAME/volume.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumeRecord {
    pub version: u32,
    pub kind: VolumeKind,
    pub name: String,
    pub resource_group: String,
    pub subscription_id: String,
    pub location: String,
    pub sku: String,
    pub size_bytes: u64,
    pub created: String,
    pub encryption_type: EncryptionType,
    pub disk_encryption_set_id: Option<String>,
    /// `Empty` or `Copy`.
    pub create_option: String,
    pub source_resource_id: Option<String>,
    pub key: WrappedKey,
    /// A change begun but not finished (absent when there is none, so records written before
    /// this field existed read unchanged). The store finishes it when it is next opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingChange>,
    /// An image's operating system type (`Linux` or `Windows`); absent for disks and snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_type: Option<String>,
    /// az's `tags` (`--tags KEY=VALUE ...`, `--set tags.KEY=VALUE`); absent when there are
    /// none, so records written before tags existed read unchanged.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
    /// az settings that have no local meaning (network access, zones, OS type, ...), recorded
    /// as given and shown at their place in the resource's JSON: key = dotted JSON path, e.g.
    /// `properties.publicNetworkAccess`. Absent when none.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub settings: std::collections::BTreeMap<String, serde_json::Value>,
    /// An export in force (`disk grant-access`), until `revoke-access` or its expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessGrant>,
}

impl VolumeRecord {
    /// The internal reference that finds this record: `NAME@GROUP`.
    pub fn reference(&self) -> String {
        crate::ids::reference(&self.name, &self.resource_group)
    }
}

impl DesRecord {
    /// The internal reference that finds this record: `NAME@GROUP`.
    pub fn reference(&self) -> String {
        crate::ids::reference(&self.name, &self.resource_group)
    }
}

/// A multi-step change of a volume, recorded before its first step so that a crash at any
/// point can be finished (see `docs/FORMAT.md`, "Interrupted changes").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type", deny_unknown_fields)]
pub enum PendingChange {
    /// The disk grows from `fromBytes` to the record's `sizeBytes`: the data file may still
    /// have its old length (the missing tail reads as zeros either way).
    #[serde(rename_all = "camelCase")]
    Resize { from_bytes: u64 },
    /// The disk moves to a fresh DEK, `key`, wrapped by its new protector: its data is being
    /// re-encrypted from `data` into `data.rekey`. Until `copied` is true the old key and data
    /// stay authoritative; once it is, `data.rekey` (if still present) replaces `data` and
    /// `key` replaces the record's key.
    #[serde(rename_all = "camelCase")]
    Rekey {
        key: WrappedKey,
        encryption_type: EncryptionType,
        disk_encryption_set_id: Option<String>,
        copied: bool,
    },
}

/// `virtualMachines/ENTRY.json`: a VM, or an instance of a scale set. The VM's disks are
/// ordinary disk records; this record is the only place that says which disks a VM uses
/// (a disk's `managedBy` is derived from it), so attaching is one atomic write.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmRecord {
    pub version: u32,
    pub name: String,
    pub resource_group: String,
    pub subscription_id: String,
    pub location: String,
    /// The VM's unique id (a GUID), as az shows in `vmId`.
    pub vm_id: String,
    pub vm_size: String,
    /// What the OS disk was made from.
    pub image: VmImage,
    /// `Linux` or `Windows`.
    pub os_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_username: Option<String>,
    pub os_disk: VmDisk,
    /// Data disks, in LUN order.
    #[serde(default)]
    pub data_disks: Vec<VmDisk>,
    #[serde(default)]
    pub ultra_ssd_enabled: bool,
    /// How the default qemu runner boots the VM (`--boot-kernel/--boot-initrd/--boot-append`).
    #[serde(default, skip_serializing_if = "VmBoot::is_empty")]
    pub boot: VmBoot,
    /// The power state last asked for or observed: `running`, `stopped` or `deallocated`. A
    /// VM recorded `running` runs only while the mount daemon supervises its runner; otherwise
    /// it shows as stopped.
    pub power_state: String,
    /// Set when the platform stopped the VM because a key became unusable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_stop: Option<PlatformStop>,
    /// The scale set this VM is an instance of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_set: Option<ScaleSetMember>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
    pub created: String,
}

impl VmRecord {
    /// The internal reference that finds this record: `NAME@GROUP`.
    pub fn reference(&self) -> String {
        crate::ids::reference(&self.name, &self.resource_group)
    }
}

/// The image a VM's OS disk came from: exactly one of a marketplace reference (an alias
/// such as `UbuntuLTS` resolves to one), a managed image's id, or a local file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmImage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_version: Option<String>,
    /// A managed image's resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A raw or qcow2 file the OS disk was copied from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// One disk of a VM.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmDisk {
    /// The disk's resource id.
    pub disk_id: String,
    /// Data disks only: the LUN (0 for the OS disk, where it means nothing).
    #[serde(default)]
    pub lun: u32,
    /// `None`, `ReadOnly` or `ReadWrite`.
    pub caching: String,
    /// `FromImage`, `Empty` or `Attach`.
    pub create_option: String,
    /// `Delete` (deleted with the VM) or `Detach`.
    pub delete_option: String,
}

/// Boot options of the default runner.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmBoot {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initrd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub append: Option<String>,
}

impl VmBoot {
    pub fn is_empty(&self) -> bool {
        self.kernel.is_none() && self.initrd.is_none() && self.append.is_none()
    }
}

/// Why and when the platform stopped a VM.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlatformStop {
    pub time: String,
    /// The key (version URL) that became unusable, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_url: Option<String>,
    pub message: String,
}

/// Which scale set a VM belongs to, and its instance id there.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScaleSetMember {
    pub name: String,
    pub instance_id: String,
}

/// `virtualMachineScaleSets/ENTRY.json`: a scale set; its instances are VM records that name
/// it, created from this template.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScaleSetRecord {
    pub version: u32,
    pub name: String,
    pub resource_group: String,
    pub subscription_id: String,
    pub location: String,
    pub unique_id: String,
    pub vm_size: String,
    pub capacity: u32,
    /// `Automatic`, `Manual` or `Rolling`.
    pub upgrade_policy_mode: String,
    pub image: VmImage,
    pub os_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_username: Option<String>,
    /// The set (resource id) of each instance's OS disk; none means the platform key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_disk_encryption_set: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_disk_size_gb: Option<u64>,
    pub storage_sku: String,
    #[serde(default)]
    pub data_disk_sizes_gb: Vec<u64>,
    /// One set id (or none, for the platform key) per data disk.
    #[serde(default)]
    pub data_disk_encryption_sets: Vec<Option<String>>,
    #[serde(default, skip_serializing_if = "VmBoot::is_empty")]
    pub boot: VmBoot,
    /// The next instance id to give.
    pub next_instance_id: u32,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tags: std::collections::BTreeMap<String, String>,
    pub created: String,
}

impl ScaleSetRecord {
    /// The internal reference that finds this record: `NAME@GROUP`.
    pub fn reference(&self) -> String {
        crate::ids::reference(&self.name, &self.resource_group)
    }
}
