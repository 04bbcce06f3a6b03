//! `ssefs disk …` and `ssefs snapshot …`.

use clap::{Args, Subcommand};
use parking_lot::Mutex;
use serde_json::Value;

use crate::error::Result;
use crate::ids::Kind;
use crate::service::{self, Service, VolumeArgs, VolumeUpdate};

/// `-n` (name or id) and `-g`.
#[derive(Debug, Args)]
pub struct Target {
    #[arg(short = 'n', long)]
    name: String,
    #[arg(short = 'g', long)]
    resource_group: Option<String>,
}

impl Target {
    /// The name or id given with `-n`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The group given with `-g`, if any.
    pub fn group(&self) -> Option<&str> {
        self.resource_group.as_deref()
    }
}

/// Encryption flags shared by create and update.
#[derive(Debug, Args)]
pub struct Encryption {
    /// EncryptionAtRestWithPlatformKey (default) or EncryptionAtRestWithCustomerKey.
    #[arg(long)]
    encryption_type: Option<String>,
    /// Name or id of a disk encryption set.
    #[arg(long)]
    disk_encryption_set: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DiskCmd {
    /// Create an empty disk, a copy of a disk or snapshot (--source), or a disk from a managed
    /// image (--image-reference).
    Create {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: String,
        #[arg(short = 'l', long)]
        location: Option<String>,
        #[arg(short = 'z', long)]
        size_gb: Option<u64>,
        /// Standard_LRS, StandardSSD_LRS, Premium_LRS or UltraSSD_LRS.
        #[arg(long)]
        sku: Option<String>,
        /// A disk or snapshot (name or id) to copy; the new disk keeps its key unless another
        /// is asked for (then its data is re-encrypted under a fresh data key).
        #[arg(long)]
        source: Option<String>,
        /// A managed image (name or id) to make the disk from; it keeps the image's key.
        #[arg(long, conflicts_with = "source")]
        image_reference: Option<String>,
        #[command(flatten)]
        encryption: Encryption,
    },
    /// Show a disk.
    Show {
        #[command(flatten)]
        target: Target,
    },
    /// List disks.
    List {
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
    },
    /// Grow a disk, change its SKU, or switch it from the platform key to a customer key.
    Update {
        #[command(flatten)]
        target: Target,
        #[arg(short = 'z', long)]
        size_gb: Option<u64>,
        #[arg(long)]
        sku: Option<String>,
        #[command(flatten)]
        encryption: Encryption,
    },
    /// Delete a disk.
    Delete {
        #[command(flatten)]
        target: Target,
        /// Accepted for az compatibility: ssefs never prompts.
        #[arg(short = 'y', long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCmd {
    /// Snapshot a disk; the snapshot keeps the disk's key.
    Create {
        #[arg(short = 'n', long)]
        name: String,
        #[arg(short = 'g', long)]
        resource_group: String,
        #[arg(short = 'l', long)]
        location: Option<String>,
        /// The disk (or snapshot), by name or id.
        #[arg(long)]
        source: String,
        /// Standard_LRS (default), Premium_LRS or Standard_ZRS.
        #[arg(long)]
        sku: Option<String>,
        #[command(flatten)]
        encryption: Encryption,
    },
    /// Show a snapshot.
    Show {
        #[command(flatten)]
        target: Target,
    },
    /// List snapshots.
    List {
        #[arg(short = 'g', long)]
        resource_group: Option<String>,
    },
    /// Delete a snapshot.
    Delete {
        #[command(flatten)]
        target: Target,
        #[arg(short = 'y', long)]
        yes: bool,
    },
}

impl DiskCmd {
    /// Runs the command; copies and re-encryptions release the service lock while they work.
    pub fn run(self, shared: &Mutex<Service>) -> Result<Value> {
        match self {
            DiskCmd::Create {
                name,
                resource_group,
                location,
                size_gb,
                sku,
                source,
                image_reference,
                encryption,
            } => service::volume_create_shared(
                shared,
                Kind::Disk,
                &VolumeArgs {
                    name,
                    resource_group,
                    location,
                    size_gb,
                    sku,
                    source,
                    encryption_type: encryption.encryption_type,
                    disk_encryption_set: encryption.disk_encryption_set,
                    image_reference,
                    os_type: None,
                },
            ),
            DiskCmd::Show { target } => shared.lock().volume_show(
                Kind::Disk,
                &target.name,
                target.resource_group.as_deref(),
            ),
            DiskCmd::List { resource_group } => shared
                .lock()
                .volume_list(Kind::Disk, resource_group.as_deref()),
            DiskCmd::Update {
                target,
                size_gb,
                sku,
                encryption,
            } => service::disk_update_shared(
                shared,
                &target.name,
                target.resource_group.as_deref(),
                &VolumeUpdate {
                    size_gb,
                    sku,
                    encryption_type: encryption.encryption_type,
                    disk_encryption_set: encryption.disk_encryption_set,
                },
            ),
            DiskCmd::Delete { target, .. } => shared.lock().volume_delete(
                Kind::Disk,
                &target.name,
                target.resource_group.as_deref(),
            ),
        }
    }
}

impl SnapshotCmd {
    /// Runs the command; copies release the service lock while they work.
    pub fn run(self, shared: &Mutex<Service>) -> Result<Value> {
        let s = || shared.lock();
        match self {
            SnapshotCmd::Create {
                name,
                resource_group,
                location,
                source,
                sku,
                encryption,
            } => service::volume_create_shared(
                shared,
                Kind::Snapshot,
                &VolumeArgs {
                    name,
                    resource_group,
                    location,
                    size_gb: None,
                    sku,
                    source: Some(source),
                    encryption_type: encryption.encryption_type,
                    disk_encryption_set: encryption.disk_encryption_set,
                    image_reference: None,
                    os_type: None,
                },
            ),
            SnapshotCmd::Show { target } => s().volume_show(
                Kind::Snapshot,
                &target.name,
                target.resource_group.as_deref(),
            ),
            SnapshotCmd::List { resource_group } => {
                s().volume_list(Kind::Snapshot, resource_group.as_deref())
            }
            SnapshotCmd::Delete { target, .. } => s().volume_delete(
                Kind::Snapshot,
                &target.name,
                target.resource_group.as_deref(),
            ),
        }
    }
}
