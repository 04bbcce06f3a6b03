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
use crate::format::VolumeRecord;
use crate::ids::Kind;
use crate::volume::Volume;

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

/// The table of open volumes.
#[derive(Default)]
pub struct OpenVolumes {
    table: Mutex<HashMap<Key, Entry>>,
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
    /// Opens a disk or snapshot for the mount: the first open unwraps the DEK (audited, with
    /// the set's identity); later opens share the same volume. Writing a snapshot is `EROFS`.
    pub fn open_volume(&self, kind: Kind, name: &str, write: bool) -> Result<Arc<Volume>> {
        if write && kind == Kind::Snapshot {
            return Err(Error::io(
                format!("open snapshot '{name}' for writing"),
                std::io::Error::from_raw_os_error(libc::EROFS),
            ));
        }
        let k = key(kind, name);
        if let Some(entry) = self.open.table.lock().get_mut(&k) {
            entry.handles += 1;
            return Ok(entry.volume.clone());
        }
        let rec = self.load_volume(kind, name)?;
        let dek = self.unwrap_dek(&rec)?;
        let volume = Arc::new(Volume::open(
            &self.data_path(kind, &rec.name)?,
            rec.size_bytes,
            &dek,
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

    /// Closes one handle; the last close drops the volume and with it the DEK.
    pub fn close_volume(&self, kind: Kind, name: &str) {
        let mut table = self.open.table.lock();
        let k = key(kind, name);
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

    /// `managedBy` of a resource: set while the mount has it open.
    pub(super) fn managed_by(&self, rec: &VolumeRecord) -> Option<String> {
        let kind = if rec.kind == crate::format::VolumeKind::Snapshot {
            Kind::Snapshot
        } else {
            Kind::Disk
        };
        (self.open.handles(kind, &rec.name) > 0).then(|| {
            format!(
                "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/virtualMachines/{MANAGED_BY_VM}",
                rec.subscription_id, rec.resource_group
            )
        })
    }

    /// Refuses an operation on an attached resource.
    pub(super) fn refuse_if_attached(&self, rec: &VolumeRecord, what: &str) -> Result<()> {
        match self.managed_by(rec) {
            Some(vm) => Err(Error::Busy(format!(
                "{} is attached (open in the mount, managed by {vm}): {what} is not allowed until it is closed",
                views::volume_id(rec)
            ))),
            None => Ok(()),
        }
    }
}
