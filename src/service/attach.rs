//! Open disks and snapshots ("attached", in the cloud's words): one shared [`Volume`] per
//! resource, however many handles the mount has on it, so that read-modify-write of partial
//! sectors is serialised across all of them.
//!
//! Lock: `table` is a leaf lock: it guards the map only, is never held while calling out, and
//! never taken before the service's own lock by the mount (which always locks the service
//! first, then this table).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Service, views};
use crate::error::{Error, Result};
use crate::format::{Kek, VolumeRecord};
use crate::ids::{KeyUrl, Kind};
use crate::log;
use crate::volume::Volume;

use super::vms::ULTRA_SKU;

/// The id the cloud would show in `managedBy`: the mount plays the VM.
pub const MANAGED_BY_VM: &str = "ssefs-mount";

type Key = (Kind, String);

fn key(kind: Kind, name: &str) -> Key {
    (kind, name.to_ascii_lowercase())
}

struct Entry {
    volume: Arc<Volume>,
    handles: usize,
}

/// Called after an open volume is revoked, with its kind and reference (`NAME@GROUP`; the
/// mount drops the kernel's cached pages of the file).
pub type RevocationHook = Arc<dyn Fn(Kind, &str) + Send + Sync>;

/// Waits until what the revocation hook started is done (the mount's cache invalidations run on
/// their own thread, because with a writeback cache they write dirty pages back through request
/// threads that may be waiting for the service lock the hook is called under). Called after a
/// command, with the service lock released.
pub type RevocationWait = Arc<dyn Fn() + Send + Sync>;

/// The table of open volumes.
#[derive(Default)]
pub struct OpenVolumes {
    table: Mutex<HashMap<Key, Entry>>,
    /// Set by the mount once its session exists.
    on_revoke: Mutex<Option<RevocationHook>>,
    /// Set with the hook.
    revoke_wait: Mutex<Option<RevocationWait>>,
}

impl OpenVolumes {
    fn handles(&self, kind: Kind, name: &str) -> usize {
        self.table
            .lock()
            .get(&key(kind, name))
            .map_or(0, |e| e.handles)
    }

    /// Every open volume (to flush them all on unmount).
    pub fn all(&self) -> Vec<Arc<Volume>> {
        self.table
            .lock()
            .values()
            .map(|e| e.volume.clone())
            .collect()
    }
}

impl Service {
    /// Installs the hook called after each revocation of an open volume.
    pub fn set_revocation_hook(&self, hook: RevocationHook, wait: RevocationWait) {
        *self.open.on_revoke.lock() = Some(hook);
        *self.open.revoke_wait.lock() = Some(wait);
    }

    /// What waits for the revocation hook's work.
    fn revocation_wait(&self) -> Option<RevocationWait> {
        self.open.revoke_wait.lock().clone()
    }

    /// Whether the key that protects `rec` is usable now by its set's identity (the platform
    /// key always is). Records nothing: the mount asks after every change.
    pub(super) fn key_check(&self, rec: &VolumeRecord) -> Result<()> {
        match &rec.key.kek {
            Kek::Platform => Ok(()),
            Kek::Customer { key_url } => {
                let des = self.des_of(rec)?;
                self.check_des_access(&des)?;
                self.store
                    .vaults()
                    .check_unwrap(&KeyUrl::parse(key_url)?, &des.principal_id)
            }
        }
    }

    /// Opens a disk or snapshot for the mount: the first open unwraps the DEK (audited, with
    /// the set's identity); later opens share the same volume. Writing a snapshot is `EROFS`;
    /// a disabled, deleted or inaccessible key refuses the open (even of an Ultra disk that
    /// stays usable through the handles it already has).
    pub fn open_volume(&self, kind: Kind, name: &str, write: bool) -> Result<Arc<Volume>> {
        if write && kind == Kind::Snapshot {
            return Err(Error::io(
                format!("open snapshot '{name}' for writing"),
                std::io::Error::from_raw_os_error(libc::EROFS),
            ));
        }
        let rec = self.load_volume(kind, name)?;
        if let Some(crate::format::PendingChange::Rekey { .. }) = &rec.pending {
            return Err(Error::Busy(format!(
                "{} '{}' is being re-encrypted under a new key and cannot be opened until that has finished",
                kind.label(),
                rec.name
            )));
        }
        self.key_check(&rec)?;
        let k = key(kind, &rec.reference());
        let shared = self.open.table.lock().get(&k).map(|e| e.volume.clone());
        if let Some(volume) = shared {
            if volume.is_revoked() {
                volume.restore(self.unwrap_dek(&rec)?)?;
            }
            if let Some(entry) = self.open.table.lock().get_mut(&k) {
                entry.handles += 1;
            }
            return Ok(volume);
        }
        let dek = self.unwrap_dek(&rec)?;
        let volume = Arc::new(Volume::open(
            &self.data_path(kind, &rec.reference())?,
            rec.size_bytes,
            dek,
            kind == Kind::Snapshot,
            &rec.name,
        )?);
        self.open.table.lock().insert(
            k,
            Entry {
                volume: volume.clone(),
                handles: 1,
            },
        );
        Ok(volume)
    }

    /// Closes one handle (by the name or reference it was opened with); the last close drops
    /// the volume and with it the DEK.
    pub fn close_volume(&self, kind: Kind, name: &str) {
        let reference = if name.contains(crate::ids::GROUP_SEPARATOR) {
            name.to_string()
        } else {
            match self.load_volume(kind, name) {
                Ok(rec) => rec.reference(),
                Err(_) => name.to_string(),
            }
        };
        let mut table = self.open.table.lock();
        let k = key(kind, &reference);
        if let Some(entry) = table.get_mut(&k) {
            entry.handles = entry.handles.saturating_sub(1);
            if entry.handles == 0 {
                table.remove(&k);
            }
        }
    }

    /// Every open volume.
    pub fn open_volumes(&self) -> Vec<Arc<Volume>> {
        self.open.all()
    }

    /// The open volume of a resource, if the mount has it open.
    pub(super) fn open_volume_of(&self, rec: &VolumeRecord) -> Option<Arc<Volume>> {
        let k = key(rec.kind.resource_kind(), &rec.reference());
        self.open.table.lock().get(&k).map(|e| e.volume.clone())
    }

    /// Applies key changes to open volumes at once: a volume whose key became unusable is
    /// revoked (I/O fails with EKEYREVOKED, ENOKEY or EACCES and the DEK is wiped), except an
    /// Ultra disk, which keeps working until closed, as in the cloud; a revoked volume whose
    /// key is usable again gets it back through a fresh, audited unwrap.
    pub fn refresh_open_volumes(&self) {
        let open: Vec<(Key, Arc<Volume>)> = self
            .open
            .table
            .lock()
            .iter()
            .map(|(k, e)| (k.clone(), e.volume.clone()))
            .collect();
        // Running VMs first: the platform stops those whose keys became unusable.
        self.enforce_vm_keys();
        for ((kind, name), volume) in open {
            let rec = match self.load_volume(kind, &name) {
                Ok(rec) => rec,
                Err(e) => {
                    log::warn(&format!("{name}: cannot re-check its key: {e}"));
                    continue;
                }
            };
            match self.key_check(&rec) {
                Err(e) if rec.sku == ULTRA_SKU => {
                    log::warn(&format!(
                        "{}: key unusable ({e}); an Ultra disk keeps working until closed",
                        rec.name
                    ));
                }
                Err(e) => {
                    let newly = !volume.is_revoked();
                    volume.revoke(&e);
                    if newly {
                        log::warn(&format!("{}: I/O blocked: {e}", rec.name));
                        // Revoked first (no read can succeed any more), then the kernel's
                        // cached pages of the file are dropped.
                        let hook = self.open.on_revoke.lock().clone();
                        if let Some(hook) = hook {
                            hook(kind, &rec.reference());
                        }
                    }
                }
                Ok(()) if volume.is_revoked() => match self.unwrap_dek(&rec) {
                    Ok(dek) => match volume.restore(dek) {
                        Ok(()) => {
                            log::info(&format!("{}: key usable again, I/O resumed", rec.name))
                        }
                        Err(e) => log::warn(&format!("{}: {e}", rec.name)),
                    },
                    Err(e) => log::warn(&format!("{}: still blocked: {e}", rec.name)),
                },
                Ok(()) => {}
            }
        }
    }

    /// How many handles the mount has open on a volume (by reference).
    pub(super) fn open_handles(&self, kind: Kind, reference: &str) -> usize {
        self.open.handles(kind, reference)
    }

    /// Who holds a resource: the VM whose record names it (`Attached`, or `Reserved` while
    /// that VM is deallocated), else the mount while a file is open (`Attached`).
    pub(super) fn attachment(&self, rec: &VolumeRecord) -> Option<views::Attachment> {
        self.attachment_with(rec, self.holder_of(rec).as_ref())
    }

    /// [`Service::attachment`] with the holding VM already known (a listing reads the VM
    /// records once, not once per disk).
    pub(super) fn attachment_with(
        &self,
        rec: &VolumeRecord,
        holder: Option<&crate::format::VmRecord>,
    ) -> Option<views::Attachment> {
        if let Some(vm) = holder {
            let state = if self.power_of(vm) == "deallocated" {
                "Reserved"
            } else {
                "Attached"
            };
            return Some(views::Attachment {
                managed_by: super::vm_views::vm_id(vm),
                disk_state: state,
            });
        }
        (self
            .open
            .handles(rec.kind.resource_kind(), &rec.reference())
            > 0)
        .then(|| views::Attachment {
            managed_by: mount_vm_id(rec),
            disk_state: "Attached",
        })
    }

    /// Refuses an operation on an attached resource (held by a VM, or open in the mount).
    pub(super) fn refuse_if_attached(&self, rec: &VolumeRecord, what: &str) -> Result<()> {
        if let Some(vm) = self.holder_of(rec) {
            return Err(Error::Busy(format!(
                "{} is attached to virtual machine {}: {what} is not allowed until it is detached (vm disk detach) or the VM is deleted",
                views::volume_id(rec),
                super::vm_views::vm_id(&vm)
            )));
        }
        self.refuse_if_open(rec, what)
    }

    /// Refuses an operation on a resource that is in use: open in the mount, or a disk of a
    /// running VM (a stopped or deallocated VM's disk may change its encryption, as
    /// documented).
    pub(super) fn refuse_if_in_use(&self, rec: &VolumeRecord, what: &str) -> Result<()> {
        if let Some(vm) = self.holder_of(rec)
            && matches!(self.power_of(&vm), "running" | "stopping")
        {
            return Err(Error::Busy(format!(
                "{} is attached to the running virtual machine {}: {what} is allowed only while the disk is not attached to a running VM; stop or deallocate it first",
                views::volume_id(rec),
                super::vm_views::vm_id(&vm)
            )));
        }
        self.refuse_if_open(rec, what)
    }

    pub(super) fn refuse_if_open(&self, rec: &VolumeRecord, what: &str) -> Result<()> {
        if self
            .open
            .handles(rec.kind.resource_kind(), &rec.reference())
            > 0
        {
            return Err(Error::Busy(format!(
                "{} is attached (open in the mount, managed by {}): {what} is not allowed until it is closed",
                views::volume_id(rec),
                mount_vm_id(rec)
            )));
        }
        Ok(())
    }
}

/// The id `managedBy` shows for a file open in the mount, which plays a VM.
fn mount_vm_id(rec: &VolumeRecord) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/virtualMachines/{MANAGED_BY_VM}",
        rec.subscription_id, rec.resource_group
    )
}

/// Waits until the revocation hook's work (the mount's cache invalidations) is done; takes the
/// service lock only to find the waiter, and waits without it (see [`RevocationWait`]).
pub fn wait_for_revocations(service: &parking_lot::Mutex<Service>) {
    let wait = service.lock().revocation_wait();
    if let Some(wait) = wait {
        wait();
    }
}
