//! The JSON az shows for VMs and scale sets: `vm create`'s summary, `vm show [-d]`, the
//! instance view with its statuses, and the scale-set shapes.

use serde_json::{Value, json};

use crate::format::{ScaleSetRecord, VmDisk, VmImage, VmRecord, VolumeRecord};
use crate::ids::{Kind, ResourceId};

const GIB: u64 = 1 << 30;

/// The resource id of a VM (a scale-set instance's is below its scale set).
pub fn vm_id(rec: &VmRecord) -> String {
    match &rec.scale_set {
        Some(m) => format!(
            "{}/virtualMachines/{}",
            ResourceId::format(
                &rec.subscription_id,
                &rec.resource_group,
                Kind::ScaleSet,
                &m.name
            ),
            m.instance_id
        ),
        None => ResourceId::format(
            &rec.subscription_id,
            &rec.resource_group,
            Kind::VirtualMachine,
            &rec.name,
        ),
    }
}

/// The resource id of a scale set.
pub fn scale_set_id(rec: &ScaleSetRecord) -> String {
    ResourceId::format(
        &rec.subscription_id,
        &rec.resource_group,
        Kind::ScaleSet,
        &rec.name,
    )
}

/// az's display text of a power state (`VM running`).
pub fn power_display(state: &str) -> String {
    format!("VM {state}")
}

fn image_reference(img: &VmImage) -> Value {
    match (&img.id, &img.file) {
        (Some(id), _) => json!({ "id": id }),
        (None, Some(file)) => json!({ "id": null, "ssefsFile": file }),
        (None, None) => json!({
            "exactVersion": null,
            "offer": img.offer,
            "publisher": img.publisher,
            "sku": img.sku,
            "version": img.image_version,
        }),
    }
}

fn managed_disk(disk: &VmDisk, rec: Option<&VolumeRecord>) -> Value {
    json!({
        "diskEncryptionSet": rec.and_then(|r| r.disk_encryption_set_id.as_ref()).map(|id| json!({ "id": id })),
        "id": disk.disk_id,
        "resourceGroup": ResourceId::parse(&disk.disk_id, Kind::Disk).ok().map(|i| i.resource_group),
        "storageAccountType": rec.map(|r| r.sku.clone()),
    })
}

fn disk_name(disk: &VmDisk) -> String {
    disk.disk_id
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// `vm show`: az's shape (`storageProfile`, `hardwareProfile`, `osProfile`, …).
pub fn vm(rec: &VmRecord, os: Option<&VolumeRecord>, data: &[Option<VolumeRecord>]) -> Value {
    let data_disks: Vec<Value> = rec
        .data_disks
        .iter()
        .zip(data)
        .map(|(d, r)| {
            json!({
                "caching": d.caching,
                "createOption": d.create_option,
                "deleteOption": d.delete_option,
                "detachOption": null,
                "diskSizeGb": r.as_ref().map(|r| r.size_bytes / GIB),
                "lun": d.lun,
                "managedDisk": managed_disk(d, r.as_ref()),
                "name": disk_name(d),
                "toBeDetached": false,
                "writeAcceleratorEnabled": null,
            })
        })
        .collect();
    let linux = rec.os_type == "Linux";
    json!({
        "additionalCapabilities": if rec.ultra_ssd_enabled {
            json!({ "hibernationEnabled": null, "ultraSsdEnabled": true })
        } else {
            Value::Null
        },
        "hardwareProfile": { "vmSize": rec.vm_size },
        "id": vm_id(rec),
        "instanceView": null,
        "location": rec.location,
        "name": rec.name,
        "osProfile": {
            "adminUsername": rec.admin_username,
            "computerName": rec.name,
            "linuxConfiguration": if linux {
                json!({ "disablePasswordAuthentication": true, "provisionVMAgent": true })
            } else {
                Value::Null
            },
            "windowsConfiguration": if linux { Value::Null } else { json!({ "provisionVMAgent": true }) },
        },
        "provisioningState": "Succeeded",
        "resourceGroup": rec.resource_group,
        "storageProfile": {
            "dataDisks": data_disks,
            "imageReference": image_reference(&rec.image),
            "osDisk": {
                "caching": rec.os_disk.caching,
                "createOption": rec.os_disk.create_option,
                "deleteOption": rec.os_disk.delete_option,
                "diskSizeGb": os.map(|r| r.size_bytes / GIB),
                "encryptionSettings": null,
                "managedDisk": managed_disk(&rec.os_disk, os),
                "name": disk_name(&rec.os_disk),
                "osType": rec.os_type,
            },
        },
        "tags": rec.tags,
        "type": "Microsoft.Compute/virtualMachines",
        "virtualMachineScaleSet": rec.scale_set.as_ref().map(|m| json!({
            "id": ResourceId::format(&rec.subscription_id, &rec.resource_group, Kind::ScaleSet, &m.name)
        })),
        "vmId": rec.vm_id,
        "zones": null,
    })
}

/// `vm show -d`: the details az adds (power state, addresses; ssefs has no network).
pub fn add_details(out: &mut Value, power: &str) {
    out["powerState"] = json!(power_display(power));
    out["fqdns"] = json!("");
    out["macAddresses"] = json!("");
    out["privateIps"] = json!("");
    out["publicIps"] = json!("");
}

/// `vm create`'s summary.
pub fn create_output(rec: &VmRecord, power: &str) -> Value {
    json!({
        "fqdns": "",
        "id": vm_id(rec),
        "location": rec.location,
        "macAddress": "",
        "powerState": power_display(power),
        "privateIpAddress": "",
        "publicIpAddress": "",
        "resourceGroup": rec.resource_group,
        "zones": "",
    })
}

fn status(
    code: &str,
    level: &str,
    display: &str,
    message: Option<&str>,
    time: Option<&str>,
) -> Value {
    json!({
        "code": code,
        "displayStatus": display,
        "level": level,
        "message": message,
        "time": time,
    })
}

/// `vm get-instance-view`'s `instanceView`.
pub fn instance_view(rec: &VmRecord, power: &str) -> Value {
    let mut statuses = vec![
        status(
            "ProvisioningState/succeeded",
            "Info",
            "Provisioning succeeded",
            None,
            Some(&rec.created),
        ),
        status(
            &format!("PowerState/{power}"),
            "Info",
            &power_display(power),
            None,
            None,
        ),
    ];
    if let (Some(stop), "stopped" | "stopping") = (&rec.platform_stop, power) {
        statuses.push(status(
            "PlatformStop/KeyUnusable",
            "Warning",
            "Stopped by the platform",
            Some(&stop.message),
            Some(&stop.time),
        ));
    }
    let disks: Vec<Value> = std::iter::once(&rec.os_disk)
        .chain(&rec.data_disks)
        .map(|d| {
            json!({
                "encryptionSettings": null,
                "name": disk_name(d),
                "statuses": [status("ProvisioningState/succeeded", "Info", "Provisioning succeeded", None, Some(&rec.created))],
            })
        })
        .collect();
    json!({
        "computerName": rec.name,
        "disks": disks,
        "hyperVGeneration": "V1",
        "osName": null,
        "statuses": statuses,
        "vmAgent": null,
    })
}

/// `vmss show`.
pub fn scale_set(rec: &ScaleSetRecord) -> Value {
    let data_disks: Vec<Value> = rec
        .data_disk_sizes_gb
        .iter()
        .enumerate()
        .map(|(lun, gb)| {
            json!({
                "caching": "None",
                "createOption": "Empty",
                "diskSizeGb": gb,
                "lun": lun,
                "managedDisk": {
                    "diskEncryptionSet": rec.data_disk_encryption_sets.get(lun).cloned().flatten().map(|id| json!({ "id": id })),
                    "storageAccountType": rec.storage_sku,
                },
            })
        })
        .collect();
    json!({
        "id": scale_set_id(rec),
        "location": rec.location,
        "name": rec.name,
        "provisioningState": "Succeeded",
        "resourceGroup": rec.resource_group,
        "sku": { "capacity": rec.capacity, "name": rec.vm_size, "tier": "Standard" },
        "tags": rec.tags,
        "type": "Microsoft.Compute/virtualMachineScaleSets",
        "uniqueId": rec.unique_id,
        "upgradePolicy": { "mode": rec.upgrade_policy_mode },
        "virtualMachineProfile": {
            "osProfile": {
                "adminUsername": rec.admin_username,
                "computerNamePrefix": rec.name.chars().take(9).collect::<String>(),
            },
            "storageProfile": {
                "dataDisks": data_disks,
                "imageReference": image_reference(&rec.image),
                "osDisk": {
                    "caching": "ReadWrite",
                    "createOption": "FromImage",
                    "diskSizeGb": rec.os_disk_size_gb,
                    "managedDisk": {
                        "diskEncryptionSet": rec.os_disk_encryption_set.as_ref().map(|id| json!({ "id": id })),
                        "storageAccountType": rec.storage_sku,
                    },
                    "osType": rec.os_type,
                },
            },
        },
    })
}

/// `vmss create`'s output: `{"vmss": …}`, as az prints it.
pub fn scale_set_create_output(rec: &ScaleSetRecord) -> Value {
    json!({ "vmss": scale_set(rec) })
}

/// `vmss list-instances`: one entry per instance.
pub fn instance(
    rec: &VmRecord,
    os: Option<&VolumeRecord>,
    data: &[Option<VolumeRecord>],
    power: &str,
) -> Value {
    let mut out = vm(rec, os, data);
    out["instanceId"] = json!(rec.scale_set.as_ref().map(|m| m.instance_id.clone()));
    out["type"] = json!("Microsoft.Compute/virtualMachineScaleSets/virtualMachines");
    out["latestModelApplied"] = json!(true);
    out["powerState"] = json!(power_display(power));
    out
}
