//! Virtual machines: records, creation with their disks, and which disks they hold.
//!
//! A VM is a record (`virtualMachines/ENTRY.json`) naming its disks by resource id; the disks
//! are ordinary disks, created with az's names (`VM_OsDisk_1_<hex>`, `VM_disk2_<hex>`, …). The
//! record is the only place that says a disk belongs to a VM, so `managedBy` is derived from
//! it and attaching or detaching is one atomic write. Running, stopping and revocation are in
//! `vm_power.rs`; the JSON az shows is in `vm_views.rs`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde_json::Value;

use super::{
    Service, VolumeArgs, entries, group_matches, normalise_location, scoped_records, vm_views,
};
use crate::clock;
use crate::error::{Error, Result};
use crate::format::{
    RECORD_VERSION, ScaleSetMember, VmBoot, VmDisk, VmImage, VmRecord, VolumeRecord,
};
use crate::ids::{self, Kind, ResourceId};

/// The SKU of Ultra disks.
pub(super) const ULTRA_SKU: &str = "UltraSSD_LRS";

/// az's image aliases (`az vm image list --output table`): alias, publisher, offer, sku, OS.
const IMAGE_ALIASES: &[(&str, &str, &str, &str, &str)] = &[
    ("CentOS85Gen2", "OpenLogic", "CentOS", "8_5-gen2", "Linux"),
    (
        "Debian11",
        "Debian",
        "debian-11",
        "11-backports-gen2",
        "Linux",
    ),
    ("Debian12", "Debian", "debian-12", "12-gen2", "Linux"),
    (
        "FlatcarLinuxFreeGen2",
        "kinvolk",
        "flatcar-container-linux-free",
        "stable-gen2",
        "Linux",
    ),
    (
        "OpenSuseLeap154Gen2",
        "SUSE",
        "openSUSE-leap-15-4",
        "gen2",
        "Linux",
    ),
    ("RHELRaw8LVMGen2", "RedHat", "RHEL", "8-lvm-gen2", "Linux"),
    ("SuseSles15SP5", "SUSE", "sles-15-sp5", "gen2", "Linux"),
    (
        "Ubuntu2204",
        "Canonical",
        "0001-com-ubuntu-server-jammy",
        "22_04-lts-gen2",
        "Linux",
    ),
    (
        "Ubuntu2404",
        "Canonical",
        "ubuntu-24_04-lts",
        "server",
        "Linux",
    ),
    (
        "UbuntuLTS",
        "Canonical",
        "UbuntuServer",
        "18.04-LTS",
        "Linux",
    ),
    (
        "Win2012Datacenter",
        "MicrosoftWindowsServer",
        "WindowsServer",
        "2012-Datacenter",
        "Windows",
    ),
    (
        "Win2012R2Datacenter",
        "MicrosoftWindowsServer",
        "WindowsServer",
        "2012-R2-Datacenter",
        "Windows",
    ),
    (
        "Win2016Datacenter",
        "MicrosoftWindowsServer",
        "WindowsServer",
        "2016-Datacenter",
        "Windows",
    ),
    (
        "Win2019Datacenter",
        "MicrosoftWindowsServer",
        "WindowsServer",
        "2019-Datacenter",
        "Windows",
    ),
    (
        "Win2022AzureEditionCore",
        "MicrosoftWindowsServer",
        "WindowsServer",
        "2022-datacenter-azure-edition-core",
        "Windows",
    ),
    (
        "Win2022Datacenter",
        "MicrosoftWindowsServer",
        "WindowsServer",
        "2022-datacenter-g2",
        "Windows",
    ),
];

/// Size of a blank OS disk made for a marketplace image (az's defaults).
const LINUX_OS_DISK_GB: u64 = 30;
const WINDOWS_OS_DISK_GB: u64 = 127;

/// What `vm create` (and each scale-set instance) was asked.
#[derive(Debug, Clone, Default)]
pub struct VmArgs {
    pub name: String,
    pub resource_group: String,
    pub location: Option<String>,
    pub image: String,
    pub size: Option<String>,
    pub admin_username: Option<String>,
    pub os_disk_encryption_set: Option<String>,
    pub os_disk_size_gb: Option<u64>,
    pub os_disk_caching: Option<String>,
    pub os_disk_delete_option: Option<String>,
    /// `--storage-sku`: one SKU for every disk, or `os=SKU` / `LUN=SKU` items.
    pub storage_sku: Vec<String>,
    pub data_disk_sizes_gb: Vec<u64>,
    pub data_disk_encryption_sets: Vec<String>,
    pub data_disk_caching: Option<String>,
    pub data_disk_delete_option: Option<String>,
    pub attach_data_disks: Vec<String>,
    pub ultra_ssd_enabled: bool,
    pub boot: VmBoot,
    /// The scale set and instance id, for an instance.
    pub scale_set: Option<ScaleSetMember>,
    /// Whether to start the VM once created (`vm create` does; `--no-start` is ours).
    pub start: bool,
}

/// An image as `--image` named it.
#[derive(Debug, Clone)]
pub(super) enum ImageSource {
    /// A marketplace image (alias or URN): a blank OS disk of the usual size.
    Marketplace(VmImage, String),
    /// A managed image, by reference.
    Managed(Box<VolumeRecord>),
    /// A raw or qcow2 file: copied into the OS disk.
    File(PathBuf),
}

/// A planned VM: its record and the disks to create first.
pub(super) struct VmPlan {
    pub(super) rec: VmRecord,
    pub(super) new_disks: Vec<VolumeArgs>,
    /// A file to copy into the OS disk once it exists (through the mount).
    pub(super) os_file: Option<PathBuf>,
}

impl Service {
    fn vms_dir(&self) -> PathBuf {
        self.store.dir("virtualMachines")
    }

    fn locate_vm(&self, reference: &str) -> Result<(PathBuf, VmRecord)> {
        scoped_records::locate(&self.vms_dir(), reference)
    }

    /// A VM by name (in `group` when given), reference or resource id.
    pub(super) fn load_vm_by_ref(&self, name_or_id: &str, group: Option<&str>) -> Result<VmRecord> {
        scoped_records::load_by_ref(self, &self.vms_dir(), name_or_id, group)
    }

    /// A VM by its reference.
    pub(super) fn load_vm(&self, reference: &str) -> Result<VmRecord> {
        Ok(self.locate_vm(reference)?.1)
    }

    pub(super) fn save_vm(&self, rec: &VmRecord) -> Result<()> {
        scoped_records::save(&self.vms_dir(), rec)
    }

    pub(super) fn remove_vm_record(&self, rec: &VmRecord) -> Result<()> {
        scoped_records::remove(&self.vms_dir(), rec)
    }

    /// Every readable VM record (scale-set instances included); a damaged one is reported and
    /// skipped.
    pub(super) fn all_vms(&self) -> Result<Vec<VmRecord>> {
        scoped_records::all(&self.vms_dir())
    }

    /// Which VM holds each disk: lower-case disk id → the VM.
    pub(super) fn disk_holders(&self) -> Result<HashMap<String, VmRecord>> {
        let mut out = HashMap::new();
        for vm in self.all_vms()? {
            for d in std::iter::once(&vm.os_disk).chain(&vm.data_disks) {
                out.insert(d.disk_id.to_ascii_lowercase(), vm.clone());
            }
        }
        Ok(out)
    }

    /// The VM that holds a disk, if any.
    pub(super) fn holder_of(&self, rec: &VolumeRecord) -> Option<VmRecord> {
        if rec.kind != crate::format::VolumeKind::Disk || !self.vms_dir().exists() {
            return None;
        }
        let id = super::views::volume_id(rec).to_ascii_lowercase();
        match self.disk_holders() {
            Ok(mut map) => map.remove(&id),
            Err(e) => {
                crate::log::warn(&format!("cannot read the virtual machines: {e}"));
                None
            }
        }
    }

    /// The host caching of a disk's attachment to a VM (`None`, `ReadOnly`, `ReadWrite`), or
    /// `None` when no VM holds it.
    pub fn attachment_caching(&self, name: &str) -> Option<String> {
        let rec = self.load_volume(Kind::Disk, name).ok()?;
        let vm = self.holder_of(&rec)?;
        let id = super::views::volume_id(&rec);
        std::iter::once(&vm.os_disk)
            .chain(&vm.data_disks)
            .find(|d| d.disk_id.eq_ignore_ascii_case(&id))
            .map(|d| d.caching.clone())
    }

    /// A disk of a VM, by its id.
    pub(super) fn vm_disk_record(&self, disk: &VmDisk) -> Result<VolumeRecord> {
        self.load_volume_by_ref(Kind::Disk, &disk.disk_id, None)
    }

    /// Resolves `--image`: a file path, a marketplace alias or URN, or a managed image.
    pub(super) fn image_source(&self, image: &str, group: &str, cwd: &Path) -> Result<ImageSource> {
        if image.contains('/') && !image.starts_with("/subscriptions/") || image.starts_with('.') {
            let path = cwd.join(image);
            return Ok(ImageSource::File(path));
        }
        if let Some((alias, publisher, offer, sku, os)) = IMAGE_ALIASES
            .iter()
            .find(|(a, ..)| a.eq_ignore_ascii_case(image))
        {
            let _ = alias;
            return Ok(ImageSource::Marketplace(
                VmImage {
                    publisher: Some(publisher.to_string()),
                    offer: Some(offer.to_string()),
                    sku: Some(sku.to_string()),
                    image_version: Some("latest".into()),
                    ..VmImage::default()
                },
                os.to_string(),
            ));
        }
        let parts: Vec<&str> = image.split(':').collect();
        if parts.len() == 4 && parts.iter().all(|p| !p.is_empty()) {
            let os = if parts[0].to_ascii_lowercase().contains("windows") {
                "Windows"
            } else {
                "Linux"
            };
            return Ok(ImageSource::Marketplace(
                VmImage {
                    publisher: Some(parts[0].into()),
                    offer: Some(parts[1].into()),
                    sku: Some(parts[2].into()),
                    image_version: Some(parts[3].into()),
                    ..VmImage::default()
                },
                os.into(),
            ));
        }
        match self.load_volume_by_ref(Kind::Image, image, Some(group)) {
            Ok(rec) => Ok(ImageSource::Managed(Box::new(rec))),
            Err(Error::NotFound { .. }) | Err(Error::InvalidArgument(_)) => {
                Err(Error::invalid(format!(
                    "'{}' is not a file, a known image alias ({}), a URN publisher:offer:sku:version, or a managed image in resource group '{group}'",
                    image.chars().take(200).collect::<String>(),
                    IMAGE_ALIASES
                        .iter()
                        .map(|a| a.0)
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
            Err(e) => Err(e),
        }
    }

    /// Validates a `vm create` and plans its record and disks; changes nothing.
    pub(super) fn plan_vm_create(&self, args: &VmArgs, cwd: &Path) -> Result<VmPlan> {
        ids::validate_name(Kind::VirtualMachine, &args.name)?;
        ids::validate_name(Kind::ResourceGroup, &args.resource_group)?;
        match self.locate_vm(&entries::reference(&args.name, &args.resource_group)) {
            Ok(_) => {
                return Err(Error::AlreadyExists {
                    kind: "virtual machine",
                    name: args.name.clone(),
                });
            }
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        let image = self.image_source(&args.image, &args.resource_group, cwd)?;
        let os_des = match &args.os_disk_encryption_set {
            Some(d) => Some(self.load_des_by_ref(d, Some(&args.resource_group))?),
            None => None,
        };
        let location = match (&args.location, &image, &os_des) {
            (Some(l), ..) => normalise_location(l),
            (None, ImageSource::Managed(img), _) => img.location.clone(),
            (None, _, Some(des)) => des.location.clone(),
            // As az: the resource group's location.
            _ => match self.group(&args.resource_group) {
                Ok(g) => g.location,
                Err(_) => self.store.record().default_location.clone(),
            },
        };
        let group = self.use_group(&args.resource_group, &location)?;
        let skus = parse_storage_skus(&args.storage_sku)?;
        let os_sku = skus.sku_for(None).unwrap_or("Premium_LRS").to_string();
        if os_sku == ULTRA_SKU {
            return Err(Error::invalid(
                "UltraSSD_LRS cannot be used for an OS disk: Ultra disks can only be data disks",
            ));
        }
        let tag = ids::new_version()?;
        let delete_option = |o: &Option<String>, default: &str| {
            super::one_of(
                o.as_deref(),
                default,
                &["Delete", "Detach"],
                "delete option",
            )
        };
        let caching = |o: &Option<String>, default: &str| {
            super::one_of(o.as_deref(), default, super::CACHING, "caching")
        };
        let disk_id =
            |name: &str| ResourceId::format(&group.subscription_id, &group.name, Kind::Disk, name);

        // The OS disk.
        let os_name = format!("{}_OsDisk_1_{tag}", args.name);
        let (vm_image, os_type, mut os_args, os_file) = match &image {
            ImageSource::Marketplace(img, os) => {
                let gb = args.os_disk_size_gb.unwrap_or(if os == "Windows" {
                    WINDOWS_OS_DISK_GB
                } else {
                    LINUX_OS_DISK_GB
                });
                (
                    img.clone(),
                    os.clone(),
                    disk_args(&os_name, &group.name, gb),
                    None,
                )
            }
            ImageSource::Managed(img) => {
                let mut a = disk_args(&os_name, &group.name, 0);
                a.size_gb = args.os_disk_size_gb;
                a.image_reference = Some(super::views::volume_id(img));
                (
                    VmImage {
                        id: Some(super::views::volume_id(img)),
                        ..VmImage::default()
                    },
                    img.os_type.clone().unwrap_or_else(|| "Linux".into()),
                    a,
                    None,
                )
            }
            ImageSource::File(path) => {
                let gb = args.os_disk_size_gb.unwrap_or(LINUX_OS_DISK_GB);
                (
                    VmImage {
                        file: Some(path.display().to_string()),
                        ..VmImage::default()
                    },
                    "Linux".into(),
                    disk_args(&os_name, &group.name, gb),
                    Some(path.clone()),
                )
            }
        };
        os_args.location = Some(location.clone());
        os_args.sku = Some(os_sku);
        os_args.disk_encryption_set = os_des.as_ref().map(super::views::des_id);
        let os_disk = VmDisk {
            disk_id: disk_id(&os_name),
            lun: 0,
            caching: caching(&args.os_disk_caching, "ReadWrite")?,
            create_option: "FromImage".into(),
            delete_option: delete_option(&args.os_disk_delete_option, "Delete")?,
        };
        let mut new_disks = vec![os_args];

        // New data disks, then attached ones, in LUN order.
        let sets = &args.data_disk_encryption_sets;
        if !sets.is_empty() && sets.len() != 1 && sets.len() != args.data_disk_sizes_gb.len() {
            return Err(Error::invalid(format!(
                "--data-disk-encryption-sets has {} values for {} data disks: give one for all, or one per disk",
                sets.len(),
                args.data_disk_sizes_gb.len()
            )));
        }
        if !sets.is_empty() && args.data_disk_sizes_gb.is_empty() {
            return Err(Error::invalid(
                "--data-disk-encryption-sets needs --data-disk-sizes-gb",
            ));
        }
        let data_caching = caching(&args.data_disk_caching, "None")?;
        let data_delete = delete_option(&args.data_disk_delete_option, "Detach")?;
        let mut data_disks = Vec::new();
        for (i, gb) in args.data_disk_sizes_gb.iter().enumerate() {
            let lun = i as u32;
            let name = format!("{}_disk{}_{}", args.name, lun + 2, ids::new_version()?);
            let mut a = disk_args(&name, &group.name, *gb);
            a.location = Some(location.clone());
            let sku = skus.sku_for(Some(lun)).unwrap_or("Premium_LRS").to_string();
            if sku == ULTRA_SKU && !args.ultra_ssd_enabled {
                return Err(ultra_needs_flag(&name));
            }
            a.sku = Some(sku);
            a.disk_encryption_set = match sets.get(i).or(sets.first()) {
                Some(d) => Some(super::views::des_id(
                    &self.load_des_by_ref(d, Some(&args.resource_group))?,
                )),
                None => None,
            };
            new_disks.push(a);
            data_disks.push(VmDisk {
                disk_id: disk_id(&name),
                lun,
                caching: data_caching.clone(),
                create_option: "Empty".into(),
                delete_option: data_delete.clone(),
            });
        }
        let holders = self.disk_holders()?;
        for d in &args.attach_data_disks {
            let disk = self.load_volume_by_ref(Kind::Disk, d, Some(&args.resource_group))?;
            self.check_attachable(&disk, &holders, args.ultra_ssd_enabled, &location)?;
            data_disks.push(VmDisk {
                disk_id: super::views::volume_id(&disk),
                lun: data_disks.len() as u32,
                caching: if disk.sku == ULTRA_SKU {
                    "None".into()
                } else {
                    data_caching.clone()
                },
                create_option: "Attach".into(),
                delete_option: "Detach".into(),
            });
        }
        let rec = VmRecord {
            version: RECORD_VERSION,
            name: args.name.clone(),
            resource_group: group.name.clone(),
            subscription_id: group.subscription_id.clone(),
            location,
            vm_id: ids::new_guid()?,
            vm_size: args
                .size
                .clone()
                .unwrap_or_else(|| "Standard_DS1_v2".into()),
            image: vm_image,
            os_type,
            admin_username: args.admin_username.clone(),
            os_disk,
            data_disks,
            ultra_ssd_enabled: args.ultra_ssd_enabled,
            boot: absolute_boot(&args.boot, cwd),
            power_state: "stopped".into(),
            platform_stop: None,
            scale_set: args.scale_set.clone(),
            tags: Default::default(),
            created: clock::now_rfc3339(),
        };
        Ok(VmPlan {
            rec,
            new_disks,
            os_file,
        })
    }

    /// Refuses a disk that cannot be attached: held by a VM, open in the mount, an Ultra disk
    /// without `--ultra-ssd-enabled`, or in another location.
    pub(super) fn check_attachable(
        &self,
        disk: &VolumeRecord,
        holders: &HashMap<String, VmRecord>,
        ultra_enabled: bool,
        location: &str,
    ) -> Result<()> {
        let id = super::views::volume_id(disk);
        if let Some(vm) = holders.get(&id.to_ascii_lowercase()) {
            return Err(Error::Busy(format!(
                "disk '{}' is already attached to virtual machine '{}'",
                disk.name,
                vm_views::vm_id(vm)
            )));
        }
        self.refuse_if_attached(disk, "attaching it to a virtual machine")?;
        if disk.sku == ULTRA_SKU && !ultra_enabled {
            return Err(ultra_needs_flag(&disk.name));
        }
        if disk.location != location {
            return Err(Error::invalid(format!(
                "disk '{}' is in '{}' and the virtual machine in '{location}': a disk can only be attached to a virtual machine in its location",
                disk.name, disk.location
            )));
        }
        Ok(())
    }

    /// Deletes disks a failed create made (best effort: the error that caused it wins).
    pub(super) fn remove_new_disks(&self, names: &[String], group: &str) {
        for name in names {
            if let Err(e) = self.volume_delete(Kind::Disk, name, Some(group)) {
                crate::log::warn(&format!(
                    "could not remove disk '{name}' after a failed create: {e}"
                ));
            }
        }
    }

    /// `vm show [-d]`.
    pub fn vm_show(&self, name_or_id: &str, group: Option<&str>, details: bool) -> Result<Value> {
        let rec = self.load_vm_by_ref(name_or_id, group)?;
        Ok(self.vm_value(&rec, details))
    }

    /// `vm list [-d]`: the VMs of the current subscription (not scale-set instances).
    pub fn vm_list(&self, group: Option<&str>, details: bool) -> Result<Value> {
        if let Some(g) = group {
            self.read_group(g)?;
        }
        let subscription = self.store.record().subscription_id.clone();
        Ok(Value::Array(
            self.all_vms()?
                .iter()
                .filter(|r| {
                    r.scale_set.is_none()
                        && group_matches(group, &r.resource_group)
                        && r.subscription_id == subscription
                })
                .map(|r| self.vm_value(r, details))
                .collect(),
        ))
    }

    /// `vm get-instance-view`.
    pub fn vm_instance_view(&self, name_or_id: &str, group: Option<&str>) -> Result<Value> {
        let rec = self.load_vm_by_ref(name_or_id, group)?;
        let mut out = self.vm_value(&rec, false);
        out["instanceView"] = vm_views::instance_view(&rec, self.power_of(&rec));
        Ok(out)
    }

    /// A VM's JSON, with its disks' current sizes and keys.
    pub(super) fn vm_value(&self, rec: &VmRecord, details: bool) -> Value {
        let disk = |d: &VmDisk| self.vm_disk_record(d).ok();
        let os = disk(&rec.os_disk);
        let data: Vec<Option<VolumeRecord>> = rec.data_disks.iter().map(disk).collect();
        let mut out = vm_views::vm(rec, os.as_ref(), &data);
        if details {
            vm_views::add_details(&mut out, self.power_of(rec));
        }
        out
    }
}

/// `vm create` for a shared service: disks are created (and copied) without the lock, then
/// the record is written and the VM started. A failure removes the disks it made.
pub fn vm_create_shared(shared: &Mutex<Service>, args: &VmArgs, cwd: &Path) -> Result<Value> {
    let plan = shared.lock().plan_vm_create(args, cwd)?;
    let group = plan.rec.resource_group.clone();
    let mut made: Vec<String> = Vec::new();
    let result = (|| -> Result<Value> {
        for disk in &plan.new_disks {
            super::volume_create_shared(shared, Kind::Disk, disk)?;
            made.push(disk.name.clone());
        }
        if let Some(file) = &plan.os_file {
            let mountpoint = shared.lock().vm_mountpoint()?;
            let target = mountpoint
                .join("disks")
                .join(entries::reference(&plan.new_disks[0].name, &group));
            super::vm_power::copy_image_file(file, &target)?;
        }
        let s = shared.lock();
        s.save_vm(&plan.rec)?;
        Ok(Value::Null)
    })();
    if let Err(e) = result {
        shared.lock().remove_new_disks(&made, &group);
        return Err(e);
    }
    let reference = plan.rec.reference();
    if args.start {
        let s = shared.lock();
        s.vm_start_ref(&reference)?;
        let rec = s.load_vm(&reference)?;
        return Ok(vm_views::create_output(&rec, s.power_of(&rec)));
    }
    let s = shared.lock();
    let rec = s.load_vm(&reference)?;
    Ok(vm_views::create_output(&rec, s.power_of(&rec)))
}

/// `disk create` arguments of a VM's disk.
fn disk_args(name: &str, group: &str, gb: u64) -> VolumeArgs {
    VolumeArgs {
        name: name.to_string(),
        resource_group: group.to_string(),
        size_gb: (gb > 0).then_some(gb),
        ..VolumeArgs::default()
    }
}

fn ultra_needs_flag(disk: &str) -> Error {
    Error::invalid(format!(
        "disk '{disk}' is an Ultra disk (UltraSSD_LRS): the virtual machine needs --ultra-ssd-enabled true to use it"
    ))
}

/// Boot files, made absolute against the caller's working directory.
fn absolute_boot(boot: &VmBoot, cwd: &Path) -> VmBoot {
    let abs = |p: &Option<String>| p.as_ref().map(|p| cwd.join(p).display().to_string());
    VmBoot {
        kernel: abs(&boot.kernel),
        initrd: abs(&boot.initrd),
        append: boot.append.clone(),
    }
}

/// `--storage-sku`: one SKU for all disks, or `os=SKU` and `LUN=SKU` items.
#[derive(Debug, Default)]
pub(super) struct StorageSkus {
    all: Option<String>,
    os: Option<String>,
    luns: HashMap<u32, String>,
}

impl StorageSkus {
    pub(super) fn sku_for(&self, lun: Option<u32>) -> Option<&str> {
        let specific = match lun {
            None => self.os.as_deref(),
            Some(l) => self.luns.get(&l).map(String::as_str),
        };
        specific.or(self.all.as_deref())
    }
}

pub(super) fn parse_storage_skus(items: &[String]) -> Result<StorageSkus> {
    let mut out = StorageSkus::default();
    for item in items {
        let canonical = |s: &str| super::volumes::canonical_disk_sku(s);
        match item.split_once('=') {
            None => {
                if out.all.is_some() {
                    return Err(Error::invalid(
                        "--storage-sku takes one SKU for every disk, or os=SKU and LUN=SKU items",
                    ));
                }
                out.all = Some(canonical(item)?);
            }
            Some((k, v)) if k.eq_ignore_ascii_case("os") => out.os = Some(canonical(v)?),
            Some((k, v)) => {
                let lun: u32 = k.parse().map_err(|_| {
                    Error::invalid(format!(
                        "--storage-sku item '{}' is not os=SKU or LUN=SKU",
                        item.chars().take(60).collect::<String>()
                    ))
                })?;
                out.luns.insert(lun, canonical(v)?);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_skus_apply_to_all_or_per_disk() {
        let s = parse_storage_skus(&["premium_lrs".into()]).unwrap();
        assert_eq!(s.sku_for(None), Some("Premium_LRS"));
        assert_eq!(s.sku_for(Some(3)), Some("Premium_LRS"));
        let s = parse_storage_skus(&["os=Standard_LRS".into(), "0=UltraSSD_LRS".into()]).unwrap();
        assert_eq!(s.sku_for(None), Some("Standard_LRS"));
        assert_eq!(s.sku_for(Some(0)), Some("UltraSSD_LRS"));
        assert_eq!(s.sku_for(Some(1)), None);
        assert!(parse_storage_skus(&["x=Premium_LRS".into()]).is_err());
        assert!(parse_storage_skus(&["Premium_LRS".into(), "Standard_LRS".into()]).is_err());
        assert!(parse_storage_skus(&["Gold".into()]).is_err());
    }
}
