//! Virtual machine scale sets: a template (image, size, disks and their sets) and instances
//! made from it. Each instance is a VM record that names its scale set (`NAME_ID`, instance
//! id `ID`), with its own disks, encrypted as the template says, and runs like any VM.

use std::path::PathBuf;

use parking_lot::Mutex;
use serde_json::Value;

use super::vms::{VmArgs, vm_create_shared};
use super::{
    Service, entries, group_matches, normalise_location, scoped_records, vm_power, vm_views,
};
use crate::clock;
use crate::error::{Error, Result};
use crate::format::{RECORD_VERSION, ScaleSetMember, ScaleSetRecord, VmBoot};
use crate::ids::{self, Kind};

/// Largest scale set ssefs makes (each instance is a process with its disks).
const MAX_CAPACITY: u32 = 100;

/// What `vmss create` was asked.
#[derive(Debug, Clone, Default)]
pub struct ScaleSetArgs {
    pub name: String,
    pub resource_group: String,
    pub location: Option<String>,
    pub image: String,
    pub instance_count: Option<u32>,
    pub vm_sku: Option<String>,
    pub upgrade_policy_mode: Option<String>,
    pub admin_username: Option<String>,
    pub os_disk_encryption_set: Option<String>,
    pub os_disk_size_gb: Option<u64>,
    pub storage_sku: Option<String>,
    pub data_disk_sizes_gb: Vec<u64>,
    pub data_disk_encryption_sets: Vec<String>,
    pub boot: VmBoot,
}

impl Service {
    fn scale_sets_dir(&self) -> PathBuf {
        self.store.dir("virtualMachineScaleSets")
    }

    fn locate_scale_set(&self, reference: &str) -> Result<(PathBuf, ScaleSetRecord)> {
        scoped_records::locate(&self.scale_sets_dir(), reference)
    }

    pub(super) fn load_scale_set_by_ref(
        &self,
        name_or_id: &str,
        group: Option<&str>,
    ) -> Result<ScaleSetRecord> {
        scoped_records::load_by_ref(self, &self.scale_sets_dir(), name_or_id, group)
    }

    pub(super) fn save_scale_set(&self, rec: &ScaleSetRecord) -> Result<()> {
        scoped_records::save(&self.scale_sets_dir(), rec)
    }

    fn remove_scale_set_record(&self, rec: &ScaleSetRecord) -> Result<()> {
        scoped_records::remove(&self.scale_sets_dir(), rec)
    }

    /// Removes the scale-set records of a group (its instances' records are removed by the
    /// caller, `group delete`).
    pub(super) fn delete_scale_sets_of(&self, group: &str) -> Result<()> {
        for rec in scoped_records::all::<ScaleSetRecord>(&self.scale_sets_dir())? {
            if rec.resource_group.eq_ignore_ascii_case(group) {
                self.remove_scale_set_record(&rec)?;
            }
        }
        Ok(())
    }

    /// The instances of a scale set, by instance id.
    fn instances_of(&self, set: &ScaleSetRecord) -> Result<Vec<crate::format::VmRecord>> {
        let mut out: Vec<_> = self
            .all_vms()?
            .into_iter()
            .filter(|vm| {
                vm.resource_group.eq_ignore_ascii_case(&set.resource_group)
                    && vm
                        .scale_set
                        .as_ref()
                        .is_some_and(|m| m.name.eq_ignore_ascii_case(&set.name))
            })
            .collect();
        out.sort_by_key(|vm| {
            vm.scale_set
                .as_ref()
                .and_then(|m| m.instance_id.parse::<u32>().ok())
                .unwrap_or(u32::MAX)
        });
        Ok(out)
    }

    /// Validates a `vmss create` and writes the scale set with no instances yet.
    fn vmss_create_record(&self, args: &ScaleSetArgs) -> Result<ScaleSetRecord> {
        ids::validate_name(Kind::ScaleSet, &args.name)?;
        ids::validate_name(Kind::ResourceGroup, &args.resource_group)?;
        match self.locate_scale_set(&entries::reference(&args.name, &args.resource_group)) {
            Ok(_) => {
                return Err(Error::AlreadyExists {
                    kind: "virtual machine scale set",
                    name: args.name.clone(),
                });
            }
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        let capacity = args.instance_count.unwrap_or(2);
        if capacity > MAX_CAPACITY {
            return Err(Error::invalid(format!(
                "--instance-count {capacity} is more than ssefs runs ({MAX_CAPACITY})"
            )));
        }
        let mode = super::one_of(
            args.upgrade_policy_mode.as_deref(),
            "Manual",
            &["Automatic", "Manual", "Rolling"],
            "upgrade policy",
        )?;
        let resolve_set = |d: &String| -> Result<String> {
            Ok(super::views::des_id(
                &self.load_des_by_ref(d, Some(&args.resource_group))?,
            ))
        };
        let os_set = args
            .os_disk_encryption_set
            .as_ref()
            .map(resolve_set)
            .transpose()?;
        let sets = &args.data_disk_encryption_sets;
        if !sets.is_empty() && sets.len() != 1 && sets.len() != args.data_disk_sizes_gb.len() {
            return Err(Error::invalid(format!(
                "--data-disk-encryption-sets has {} values for {} data disks: give one for all, or one per disk",
                sets.len(),
                args.data_disk_sizes_gb.len()
            )));
        }
        let data_sets = (0..args.data_disk_sizes_gb.len())
            .map(|i| sets.get(i).or(sets.first()).map(resolve_set).transpose())
            .collect::<Result<Vec<_>>>()?;
        let location = match (&args.location, &args.os_disk_encryption_set) {
            (Some(l), _) => normalise_location(l),
            (None, Some(d)) => {
                self.load_des_by_ref(d, Some(&args.resource_group))?
                    .location
            }
            _ => match self.group(&args.resource_group) {
                Ok(g) => g.location,
                Err(_) => self.store.record().default_location.clone(),
            },
        };
        // The image must resolve now (a typo is refused before anything is made).
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let image = self.image_source(&args.image, &args.resource_group, &cwd)?;
        let (vm_image, os_type) = match image {
            super::vms::ImageSource::Marketplace(img, os) => (img, os),
            super::vms::ImageSource::Managed(img) => (
                crate::format::VmImage {
                    id: Some(super::views::volume_id(&img)),
                    ..Default::default()
                },
                img.os_type.unwrap_or_else(|| "Linux".into()),
            ),
            super::vms::ImageSource::File(_) => {
                return Err(Error::invalid(
                    "a scale set's --image is an alias, a URN or a managed image, not a file",
                ));
            }
        };
        let storage_sku = match &args.storage_sku {
            Some(s) => super::volumes::canonical_disk_sku(s)?,
            None => "Premium_LRS".into(),
        };
        if storage_sku == super::vms::ULTRA_SKU {
            return Err(Error::invalid(
                "UltraSSD_LRS cannot be used for an OS disk: Ultra disks can only be data disks",
            ));
        }
        let group = self.use_group(&args.resource_group, &location)?;
        let rec = ScaleSetRecord {
            version: RECORD_VERSION,
            name: args.name.clone(),
            resource_group: group.name.clone(),
            subscription_id: group.subscription_id.clone(),
            location,
            unique_id: ids::new_guid()?,
            vm_size: args
                .vm_sku
                .clone()
                .unwrap_or_else(|| "Standard_DS1_v2".into()),
            capacity: 0,
            upgrade_policy_mode: mode,
            image: vm_image,
            os_type,
            admin_username: args.admin_username.clone(),
            os_disk_encryption_set: os_set,
            os_disk_size_gb: args.os_disk_size_gb,
            storage_sku,
            data_disk_sizes_gb: args.data_disk_sizes_gb.clone(),
            data_disk_encryption_sets: data_sets,
            boot: args.boot.clone(),
            next_instance_id: 0,
            tags: Default::default(),
            created: clock::now_rfc3339(),
        };
        self.save_scale_set(&rec)?;
        Ok(rec)
    }

    /// The `vm create` of one new instance.
    fn instance_args(set: &ScaleSetRecord, id: u32) -> VmArgs {
        let image = match (&set.image.id, &set.image.publisher) {
            (Some(id), _) => id.clone(),
            (None, Some(_)) => format!(
                "{}:{}:{}:{}",
                set.image.publisher.as_deref().unwrap_or_default(),
                set.image.offer.as_deref().unwrap_or_default(),
                set.image.sku.as_deref().unwrap_or_default(),
                set.image.image_version.as_deref().unwrap_or("latest"),
            ),
            (None, None) => String::new(),
        };
        VmArgs {
            name: format!("{}_{id}", set.name),
            resource_group: set.resource_group.clone(),
            location: Some(set.location.clone()),
            image,
            size: Some(set.vm_size.clone()),
            admin_username: set.admin_username.clone(),
            os_disk_encryption_set: set.os_disk_encryption_set.clone(),
            os_disk_size_gb: set.os_disk_size_gb,
            os_disk_delete_option: Some("Delete".into()),
            storage_sku: vec![set.storage_sku.clone()],
            data_disk_sizes_gb: set.data_disk_sizes_gb.clone(),
            data_disk_encryption_sets: set
                .data_disk_encryption_sets
                .iter()
                .flatten()
                .cloned()
                .collect(),
            data_disk_delete_option: Some("Delete".into()),
            boot: set.boot.clone(),
            scale_set: Some(ScaleSetMember {
                name: set.name.clone(),
                instance_id: id.to_string(),
            }),
            start: true,
            ..VmArgs::default()
        }
    }

    /// `vmss show`.
    pub fn vmss_show(&self, name_or_id: &str, group: Option<&str>) -> Result<Value> {
        Ok(vm_views::scale_set(
            &self.load_scale_set_by_ref(name_or_id, group)?,
        ))
    }

    /// `vmss list`.
    pub fn vmss_list(&self, group: Option<&str>) -> Result<Value> {
        if let Some(g) = group {
            self.read_group(g)?;
        }
        let subscription = self.store.record().subscription_id.clone();
        Ok(Value::Array(
            scoped_records::all::<ScaleSetRecord>(&self.scale_sets_dir())?
                .iter()
                .filter(|r| {
                    group_matches(group, &r.resource_group) && r.subscription_id == subscription
                })
                .map(vm_views::scale_set)
                .collect(),
        ))
    }

    /// `vmss list-instances`.
    pub fn vmss_list_instances(&self, name_or_id: &str, group: Option<&str>) -> Result<Value> {
        let set = self.load_scale_set_by_ref(name_or_id, group)?;
        Ok(Value::Array(
            self.instances_of(&set)?
                .iter()
                .map(|vm| {
                    let os = self.vm_disk_record(&vm.os_disk).ok();
                    let data: Vec<_> = vm
                        .data_disks
                        .iter()
                        .map(|d| self.vm_disk_record(d).ok())
                        .collect();
                    vm_views::instance(vm, os.as_ref(), &data, self.power_of(vm))
                })
                .collect(),
        ))
    }

    /// The references of a scale set's instances, all or those of `instance_ids`.
    fn instance_refs(&self, set: &ScaleSetRecord, instance_ids: &[String]) -> Result<Vec<String>> {
        let all = self.instances_of(set)?;
        if instance_ids.is_empty() || instance_ids.iter().any(|i| i == "*") {
            return Ok(all.iter().map(|vm| vm.reference()).collect());
        }
        instance_ids
            .iter()
            .map(|want| {
                all.iter()
                    .find(|vm| {
                        vm.scale_set
                            .as_ref()
                            .is_some_and(|m| &m.instance_id == want)
                    })
                    .map(|vm| vm.reference())
                    .ok_or_else(|| {
                        Error::not_found("instance", format!("{want}' of scale set '{}", set.name))
                    })
            })
            .collect()
    }
}

/// `vmss create`: the scale set, then its instances (each created and started like a VM).
pub fn vmss_create_shared(shared: &Mutex<Service>, args: &ScaleSetArgs) -> Result<Value> {
    let set = shared.lock().vmss_create_record(args)?;
    let reference = set.reference();
    scale_to(shared, &reference, args.instance_count.unwrap_or(2))?;
    let s = shared.lock();
    let (_, set) = s.locate_scale_set(&reference)?;
    Ok(vm_views::scale_set_create_output(&set))
}

/// `vmss scale --new-capacity N`: adds instances (new ids) or removes the newest.
pub fn vmss_scale_shared(
    shared: &Mutex<Service>,
    name_or_id: &str,
    group: Option<&str>,
    capacity: u32,
) -> Result<Value> {
    if capacity > MAX_CAPACITY {
        return Err(Error::invalid(format!(
            "--new-capacity {capacity} is more than ssefs runs ({MAX_CAPACITY})"
        )));
    }
    let reference = shared
        .lock()
        .load_scale_set_by_ref(name_or_id, group)?
        .reference();
    scale_to(shared, &reference, capacity)?;
    let s = shared.lock();
    Ok(vm_views::scale_set(&s.locate_scale_set(&reference)?.1))
}

fn scale_to(shared: &Mutex<Service>, reference: &str, capacity: u32) -> Result<()> {
    loop {
        let (set, instances) = {
            let s = shared.lock();
            let set = s.locate_scale_set(reference)?.1;
            let instances = s.instances_of(&set)?;
            (set, instances)
        };
        let have = instances.len() as u32;
        if have < capacity {
            let id = set.next_instance_id;
            let mut next = set.clone();
            next.next_instance_id += 1;
            shared.lock().save_scale_set(&next)?;
            let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
            vm_create_shared(shared, &Service::instance_args(&set, id), &cwd)?;
        } else if have > capacity {
            let Some(last) = instances.last() else { break };
            delete_instance(shared, &last.reference())?;
        } else {
            break;
        }
    }
    let s = shared.lock();
    let mut set = s.locate_scale_set(reference)?.1;
    set.capacity = s.instances_of(&set)?.len() as u32;
    s.save_scale_set(&set)
}

fn delete_instance(shared: &Mutex<Service>, reference: &str) -> Result<()> {
    vm_power::vm_stop_shared(shared, reference, None, true)?;
    vm_power::delete_vm_and_disks(shared, reference).map(drop)
}

/// `vmss start|stop|deallocate|restart [--instance-ids ...]`.
pub fn vmss_power_shared(
    shared: &Mutex<Service>,
    name_or_id: &str,
    group: Option<&str>,
    instance_ids: &[String],
    action: &str,
) -> Result<Value> {
    let refs = {
        let s = shared.lock();
        let set = s.load_scale_set_by_ref(name_or_id, group)?;
        s.instance_refs(&set, instance_ids)?
    };
    for r in refs {
        match action {
            "start" => shared.lock().vm_start_ref(&r)?,
            "stop" => drop(vm_power::vm_stop_shared(shared, &r, None, false)?),
            "deallocate" => drop(vm_power::vm_stop_shared(shared, &r, None, true)?),
            "restart" => drop(vm_power::vm_restart_shared(shared, &r, None)?),
            other => return Err(Error::invalid(format!("unknown action {other}"))),
        }
    }
    Ok(Value::Null)
}

/// `vmss delete`: every instance with its disks, then the scale set.
pub fn vmss_delete_shared(
    shared: &Mutex<Service>,
    name_or_id: &str,
    group: Option<&str>,
) -> Result<Value> {
    let (set, refs) = {
        let s = shared.lock();
        let set = s.load_scale_set_by_ref(name_or_id, group)?;
        let refs = s.instance_refs(&set, &[])?;
        (set, refs)
    };
    for r in refs {
        delete_instance(shared, &r)?;
    }
    shared.lock().remove_scale_set_record(&set)?;
    Ok(Value::Null)
}
