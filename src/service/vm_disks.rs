//! Disks of a VM after its creation: `vm disk attach|detach`, and `vm encryption enable`
//! (Azure Disk Encryption), which ssefs refuses with the documented reason.
//!
//! Attaching or detaching rewrites the VM's record in one atomic write. A running VM's
//! runner sees the change at its next start (ssefs does not hot-plug disks into a guest); the
//! disk counts as the VM's at once, so it cannot be attached twice or deleted meanwhile.

use serde_json::Value;

use super::{Service, VolumeArgs, vms::ULTRA_SKU, volumes::canonical_disk_sku};
use crate::error::{Error, Result};
use crate::format::{EncryptionType, VmDisk};
use crate::ids::Kind;

/// `vm disk attach` arguments.
#[derive(Debug, Clone, Default)]
pub struct DiskAttachArgs {
    pub vm_name: String,
    /// The VM's group; when absent, the VM's name must be unique.
    pub resource_group: Option<String>,
    /// `--name` or `--ids`: the disk (with `--new`, the name of the disk to create).
    pub disk: String,
    pub lun: Option<u32>,
    pub new: bool,
    pub size_gb: Option<u64>,
    pub sku: Option<String>,
    pub disk_encryption_set: Option<String>,
    pub caching: Option<String>,
}

impl Service {
    /// `vm disk attach`: an existing disk, or a new one (`--new --size-gb`), at a free LUN.
    pub fn vm_disk_attach(&self, args: &DiskAttachArgs) -> Result<Value> {
        let mut vm = self.load_vm_by_ref(&args.vm_name, args.resource_group.as_deref())?;
        let lun = match args.lun {
            Some(l) if vm.data_disks.iter().any(|d| d.lun == l) => {
                return Err(Error::invalid(format!(
                    "LUN {l} of virtual machine '{}' is already used",
                    vm.name
                )));
            }
            Some(l) if l > 63 => {
                return Err(Error::invalid(format!("LUN {l} is not between 0 and 63")));
            }
            Some(l) => l,
            None => (0..64)
                .find(|l| !vm.data_disks.iter().any(|d| d.lun == *l))
                .ok_or_else(|| Error::invalid("every LUN (0-63) is used"))?,
        };
        let caching = super::one_of(args.caching.as_deref(), "None", super::CACHING, "--caching")?;
        let (disk, create_option) = if args.new {
            if args.disk.starts_with('/') {
                return Err(Error::invalid("--new takes a disk name, not an id"));
            }
            let sku = match &args.sku {
                Some(s) => canonical_disk_sku(s)?,
                None => "Premium_LRS".into(),
            };
            if sku == ULTRA_SKU && !vm.ultra_ssd_enabled {
                return Err(Error::invalid(format!(
                    "virtual machine '{}' does not have Ultra disks enabled (--ultra-ssd-enabled): it cannot use an UltraSSD_LRS disk",
                    vm.name
                )));
            }
            let created = self.volume_create(
                Kind::Disk,
                &VolumeArgs {
                    name: args.disk.clone(),
                    resource_group: vm.resource_group.clone(),
                    location: Some(vm.location.clone()),
                    size_gb: Some(
                        args.size_gb
                            .ok_or_else(|| Error::invalid("--new needs --size-gb"))?,
                    ),
                    sku: Some(sku),
                    disk_encryption_set: args.disk_encryption_set.clone(),
                    ..VolumeArgs::default()
                },
            )?;
            let _ = created;
            (
                self.load_volume_by_ref(Kind::Disk, &args.disk, Some(&vm.resource_group))?,
                "Empty",
            )
        } else {
            if args.size_gb.is_some() || args.sku.is_some() || args.disk_encryption_set.is_some() {
                return Err(Error::invalid(
                    "--size-gb, --sku and --disk-encryption-set are for a new disk: add --new",
                ));
            }
            let disk = self.load_volume_by_ref(Kind::Disk, &args.disk, Some(&vm.resource_group))?;
            self.refuse_if_exported(&disk, "attaching it")?;
            let holders = self.disk_holders()?;
            self.check_attachable(&disk, &holders, vm.ultra_ssd_enabled, &vm.location)?;
            (disk, "Attach")
        };
        vm.data_disks.push(VmDisk {
            disk_id: super::views::volume_id(&disk),
            lun,
            caching: if disk.sku == ULTRA_SKU {
                "None".into()
            } else {
                caching
            },
            create_option: create_option.into(),
            delete_option: "Detach".into(),
        });
        vm.data_disks.sort_by_key(|d| d.lun);
        self.save_vm(&vm)?;
        Ok(self.vm_value(&vm, false)["storageProfile"]["dataDisks"].clone())
    }

    /// `vm disk detach -n DISK`: the disk stays, unattached.
    pub fn vm_disk_detach(&self, vm_name: &str, group: Option<&str>, disk: &str) -> Result<Value> {
        let mut vm = self.load_vm_by_ref(vm_name, group)?;
        let before = vm.data_disks.len();
        vm.data_disks.retain(|d| {
            let name = d.disk_id.rsplit('/').next().unwrap_or_default();
            !(name.eq_ignore_ascii_case(disk) || d.disk_id.eq_ignore_ascii_case(disk))
        });
        if vm.data_disks.len() == before {
            return Err(Error::not_found(
                "data disk",
                format!("{disk}' of virtual machine '{}", vm.name),
            ));
        }
        self.save_vm(&vm)?;
        Ok(Value::Null)
    }

    /// `vm encryption enable` (Azure Disk Encryption, in-guest BitLocker/dm-crypt): refused.
    /// A VM with a customer-key disk gets the documented reason; any other is told that
    /// ssefs offers server-side encryption only.
    pub fn vm_encryption_enable(&self, vm_name: &str, group: Option<&str>) -> Result<Value> {
        let vm = self.load_vm_by_ref(vm_name, group)?;
        for d in std::iter::once(&vm.os_disk).chain(&vm.data_disks) {
            let disk = self.vm_disk_record(d)?;
            if disk.encryption_type == EncryptionType::EncryptionAtRestWithCustomerKey {
                return Err(Error::NotAllowed(format!(
                    "virtual machine '{}' has disk '{}' encrypted with a customer-managed key ({}): a disk encrypted with customer-managed keys cannot also use Azure Disk Encryption",
                    vm.name,
                    disk.name,
                    disk.disk_encryption_set_id.as_deref().unwrap_or_default()
                )));
            }
        }
        Err(Error::NotAllowed(format!(
            "Azure Disk Encryption (in-guest BitLocker or dm-crypt) is not offered by ssefs: virtual machine '{}' keeps server-side encryption of its disks (platform or customer-managed keys); use disk update --encryption-type EncryptionAtRestWithCustomerKey --disk-encryption-set to encrypt them with your key",
            vm.name
        )))
    }
}
