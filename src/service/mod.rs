//! The service: the rules of the domain, over the store, the vault and the volumes.
//!
//! The command line (and, later, the FUSE mount and `/.control`) are thin clients of
//! [`Service`]: each operation validates its input, applies the domain's rules (same-key
//! snapshots, no way back from a customer key, permissions of a set's identity, same location),
//! changes records atomically and returns az-shaped JSON. Nothing here prints.
//!
//! - `account.rs`, `keyvault.rs`: account and vault management, on behalf of the signed-in user;
//! - `key_policy.rs`: key rotation policies, and the rotations they make due;
//! - `des.rs`: disk encryption sets; `rotation.rs`: re-wrapping DEKs, resumable after a crash;
//! - `volumes.rs`: disks and snapshots; `dek.rs`: wrapping and unwrapping a resource's DEK;
//! - `views.rs`: the JSON each resource shows;
//! - `vms.rs`, `vm_power.rs`, `vm_disks.rs`, `vm_views.rs`, `vmss.rs`: virtual machines and
//!   scale sets, run by the mount daemon's supervisor (`vmhost.rs`).

mod account;
mod attach;
pub mod check;
mod dek;
mod des;
mod des_identity;
mod disk_access;
mod entries;
mod gallery;
mod groups;
mod inventory;
mod key_policy;
mod keyvault;
mod moves;
mod pending;
mod recorded;
mod roles;
mod rotation;
mod scoped_records;
mod vault_options;
mod views;
mod vm_disks;
mod vm_power;
mod vm_views;
pub mod vmhost;
mod vms;
mod vmss;
mod volumes;

use std::path::Path;

use crate::error::Result;
use crate::store::Store;
use crate::vault::Caller;

pub use attach::{MANAGED_BY_VM, RevocationHook, RevocationWait, wait_for_revocations};
pub use des::DesArgs;
pub use gallery::GalleryDefinition;
pub use groups::{GroupArgs, parse_tags};
pub use keyvault::{ImportedPem, KeyArgs, VaultArgs};
pub use pending::{disk_update_shared, volume_create_shared};
pub use recorded::{Recorded, Target as RecordTarget};
pub use roles::{AssignmentArgs, AssignmentFilter};
pub use vm_disks::DiskAttachArgs;
pub use vm_power::{
    vm_boot_log, vm_delete_shared, vm_power_off_all_shared, vm_restart_shared, vm_stop_shared,
};
pub use vms::{VmArgs, vm_create_shared};
pub use vmss::{
    ScaleSetArgs, vmss_create_shared, vmss_delete_shared, vmss_power_shared, vmss_scale_shared,
};
pub use volumes::{VolumeArgs, VolumeUpdate};

/// The service over one open store.
pub struct Service {
    store: Store,
    /// Disks and snapshots the mount has open.
    open: attach::OpenVolumes,
    /// Names of volumes being created (copied) and not yet in place.
    reserved: pending::Reservations,
    /// Warnings of the running command, for its caller's stderr (see [`Service::end_command`]).
    warnings: parking_lot::Mutex<Vec<String>>,
    /// Groups the running command created on first use, with their warnings: removed again
    /// if the command fails, so that a refused command changes nothing.
    auto_groups: parking_lot::Mutex<Vec<(crate::format::GroupRecord, String)>>,
    /// The mount daemon's VM supervisor (none in a CLI process).
    vm_host: parking_lot::Mutex<Option<vmhost::SharedVmHost>>,
}

impl Service {
    /// Opens the store at `root` (creating it on first use) and finishes any rotation a crash
    /// interrupted.
    pub fn open(root: &Path) -> Result<Service> {
        Ok(Self::with_store(Store::open(root)?))
    }

    /// Like [`Service::open`], but `None` when another process holds the store.
    pub fn try_open(root: &Path) -> Result<Option<Service>> {
        Ok(Store::try_open(root)?.map(Self::with_store))
    }

    fn with_store(store: Store) -> Service {
        let service = Service {
            store,
            open: attach::OpenVolumes::default(),
            reserved: pending::Reservations::default(),
            warnings: parking_lot::Mutex::new(Vec::new()),
            auto_groups: parking_lot::Mutex::new(Vec::new()),
            vm_host: parking_lot::Mutex::new(None),
        };
        if let Err(e) = service.upgrade_groups() {
            crate::log::warn(&format!(
                "could not create the records of resource groups: {e}"
            ));
        }
        service.resume_pending_changes();
        service.resume_rotations();
        service
    }

    /// The open store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Records a warning for the running command's caller (once per command).
    pub(crate) fn warn(&self, msg: &str) {
        let mut w = self.warnings.lock();
        if !w.iter().any(|m| m == msg) {
            w.push(msg.to_string());
        }
    }

    /// Ends a command: returns its warnings for the caller's stderr; when it failed, first
    /// removes the groups it created on first use (and their warnings).
    pub fn end_command(&self, succeeded: bool) -> Vec<String> {
        let created = std::mem::take(&mut *self.auto_groups.lock());
        let mut warnings = std::mem::take(&mut *self.warnings.lock());
        if !succeeded {
            for (group, warning) in created {
                warnings.retain(|w| w != &warning);
                if let Err(e) = self.remove_group_record(&group) {
                    crate::log::warn(&format!(
                        "could not remove resource group '{}' after a failed command: {e}",
                        group.name
                    ));
                }
            }
        }
        warnings
    }

    /// The signed-in user, as a vault caller.
    fn user(&self) -> Caller<'_> {
        Caller {
            object_id: &self.store.record().user_object_id,
            resource: None,
        }
    }
}

/// Checks a name or `NAME@GROUP` reference as the mount and `/.control` receive it (an
/// invalid one cannot exist).
pub fn check_reference(kind: crate::ids::Kind, reference: &str) -> Result<()> {
    entries::split(kind, reference).map(drop)
}

/// The resource id of a disk, snapshot or image.
pub fn volume_id(rec: &crate::format::VolumeRecord) -> String {
    views::volume_id(rec)
}

/// Normalises a location the way az does: lowercase, no spaces ("East US" -> "eastus").
pub fn normalise_location(location: &str) -> String {
    location
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// `value` (default `default` when absent) in az's spelling when it is one of `words`,
/// compared without case; else a refusal that names `what` and the words.
fn one_of(value: Option<&str>, default: &str, words: &[&str], what: &str) -> Result<String> {
    let Some(v) = value else {
        return Ok(default.to_string());
    };
    words
        .iter()
        .find(|w| w.eq_ignore_ascii_case(v))
        .map(|w| w.to_string())
        .ok_or_else(|| {
            crate::error::Error::invalid(format!(
                "{what} '{}' is not one of {}",
                v.chars().take(40).collect::<String>(),
                words.join(", ")
            ))
        })
}

/// Disk caching modes az knows.
const CACHING: &[&str] = &["None", "ReadOnly", "ReadWrite"];

/// Compares an optional `-g` with a record's resource group.
fn group_matches(wanted: Option<&str>, actual: &str) -> bool {
    wanted.is_none_or(|g| g.eq_ignore_ascii_case(actual))
}
