//! Running VMs: start, stop, deallocate, restart, delete, and the platform's stop when a key
//! becomes unusable.
//!
//! A VM runs only under the mount daemon, whose [`VmHost`] supervises its runner. The record
//! keeps the power state last asked for; what `vm show -d` says is derived from it and from
//! whether the runner is alive ([`Service::power_of`]), so a daemon that died leaves no VM
//! that claims to run. Waiting for a runner to power off never holds the service lock: the
//! guest's last writes go through the mount, which needs it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::Value;

use super::vmhost::{LaunchSpec, SharedVmHost};
use super::{Service, vms::ULTRA_SKU};
use crate::clock;
use crate::error::{Error, IoContext, Result};
use crate::format::{Kek, PlatformStop, VmRecord, VolumeRecord};
use crate::ids::Kind;
use crate::log;

/// Memory and vCPUs the default runner gives every VM (the size is recorded, not emulated).
const VM_MEMORY_MIB: u32 = 512;
const VM_CPUS: u32 = 1;
/// How long, after the kill that follows the grace period, a stop may still take.
const AFTER_KILL: Duration = Duration::from_secs(20);
/// How long the mount may take to see a stopped runner's files closed.
const CLOSE_PATIENCE: Duration = Duration::from_secs(30);

/// The supervisor's key of a VM: its reference in lower case.
pub(super) fn vm_key(rec: &VmRecord) -> String {
    rec.reference().to_ascii_lowercase()
}

impl Service {
    /// Installs the daemon's VM supervisor.
    pub fn set_vm_host(&self, host: SharedVmHost) {
        *self.vm_host.lock() = Some(host);
    }

    pub(super) fn vm_host(&self) -> Option<SharedVmHost> {
        self.vm_host.lock().clone()
    }

    fn require_host(&self) -> Result<SharedVmHost> {
        self.vm_host().ok_or_else(|| {
            Error::NotAllowed(
                "virtual machines run only while the store is mounted: run 'ssefs mount DIR' (vm create and vm start do so at the store's mount-point setting)".into(),
            )
        })
    }

    /// The mount point runners use.
    pub(super) fn vm_mountpoint(&self) -> Result<PathBuf> {
        Ok(self.require_host()?.mountpoint().to_path_buf())
    }

    /// The power state to show: `running`, `stopping`, `stopped` or `deallocated`.
    pub(super) fn power_of(&self, rec: &VmRecord) -> &'static str {
        let alive = self.vm_host().is_some_and(|h| h.is_running(&vm_key(rec)));
        match (rec.power_state.as_str(), alive) {
            ("running", true) => "running",
            (_, true) => "stopping",
            ("deallocated", false) => "deallocated",
            _ => "stopped",
        }
    }

    /// `vm start`.
    pub fn vm_start(&self, name_or_id: &str, group: Option<&str>) -> Result<Value> {
        let rec = self.load_vm_by_ref(name_or_id, group)?;
        self.vm_start_ref(&rec.reference())?;
        Ok(Value::Null)
    }

    /// Starts a VM by reference: every disk's key must be usable (the vault's error if not);
    /// a VM that runs already is left alone.
    pub(super) fn vm_start_ref(&self, reference: &str) -> Result<()> {
        let host = self.require_host()?;
        let mut rec = self.load_vm(reference)?;
        let key = vm_key(&rec);
        if host.is_running(&key) {
            if rec.power_state != "running" {
                return Err(Error::Busy(format!(
                    "virtual machine '{}' is stopping: start it once it has stopped",
                    rec.name
                )));
            }
            return Ok(());
        }
        // Each disk is read once: checked here, then named in the runner's command.
        let disks = std::iter::once(&rec.os_disk)
            .chain(&rec.data_disks)
            .map(|d| self.vm_disk_record(d))
            .collect::<Result<Vec<_>>>()?;
        for d in &disks {
            if let Some(crate::format::PendingChange::Rekey { .. }) = &d.pending {
                return Err(Error::Busy(format!(
                    "disk '{}' is being re-encrypted under a new key: start the virtual machine when that has finished",
                    d.name
                )));
            }
            self.key_check(d)?;
        }
        let spec = self.launch_spec(&rec, &disks, host.mountpoint());
        host.start(&key, &spec)?;
        rec.power_state = "running".into();
        rec.platform_stop = None;
        self.save_vm(&rec)?;
        log::info(&format!("virtual machine {} started", rec.name));
        Ok(())
    }

    /// The runner's view of a VM: `disks` are its OS disk then its data disks, in LUN order.
    fn launch_spec(&self, rec: &VmRecord, disks: &[VolumeRecord], mountpoint: &Path) -> LaunchSpec {
        let mut paths = disks
            .iter()
            .map(|d| mountpoint.join("disks").join(d.reference()));
        let config = self.store.config();
        LaunchSpec {
            name: rec.name.clone(),
            os_disk: paths.next().unwrap_or_default(),
            data_disks: paths.collect(),
            caching: std::iter::once(&rec.os_disk)
                .chain(&rec.data_disks)
                .map(|d| d.caching.clone())
                .collect(),
            boot: rec.boot.clone(),
            memory_mib: VM_MEMORY_MIB,
            cpus: VM_CPUS,
            template: config.vm_runner(),
            accel: config.vm_accel(),
        }
    }

    /// Marks a VM stopping or stopped and asks its runner to power off; returns the key to
    /// wait for when a runner was alive.
    fn vm_request_stop(&self, reference: &str, deallocate: bool) -> Result<Option<String>> {
        let mut rec = self.load_vm(reference)?;
        let key = vm_key(&rec);
        rec.power_state = if deallocate { "deallocated" } else { "stopped" }.into();
        self.save_vm(&rec)?;
        match self.vm_host() {
            Some(host) if host.is_running(&key) => {
                host.request_stop(&key, self.store.config().vm_stop_timeout());
                Ok(Some(key))
            }
            _ => Ok(None),
        }
    }

    /// Whether the mount still has any of a VM's disks open.
    fn vm_disks_open(&self, rec: &VmRecord) -> bool {
        std::iter::once(&rec.os_disk)
            .chain(&rec.data_disks)
            .filter_map(|d| self.vm_disk_record(d).ok())
            .any(|d| self.open_handles(Kind::Disk, &d.reference()) > 0)
    }

    /// Called by the supervisor when a runner has exited: a VM that was meant to run is now
    /// stopped (its guest powered off, or it failed). A newer runner of the same VM (a
    /// restart) is left alone.
    pub fn vm_runner_exited(&self, key: &str, detail: &str) {
        if self.vm_host().is_some_and(|h| h.is_running(key)) {
            return;
        }
        let Ok(mut rec) = self.load_vm(key) else {
            return;
        };
        if rec.power_state == "running" {
            rec.power_state = "stopped".into();
            if let Err(e) = self.save_vm(&rec) {
                log::warn(&format!("virtual machine {}: {e}", rec.name));
            }
        }
        log::info(&format!("virtual machine {} stopped ({detail})", rec.name));
    }

    /// The platform's rule: a running VM with a non-Ultra disk whose key became unusable is
    /// stopped at once, with the key and the reason in its instance view; one whose affected
    /// disks are all Ultra keeps running. Called after every change of keys and access.
    pub fn enforce_vm_keys(&self) {
        // Runs after every command: read no VM record while no VM runs.
        let Some(host) = self.vm_host().filter(|h| h.any_running()) else {
            return;
        };
        let vms = match self.all_vms() {
            Ok(vms) => vms,
            Err(e) => {
                log::warn(&format!("cannot check the keys of running VMs: {e}"));
                return;
            }
        };
        for mut vm in vms {
            let key = vm_key(&vm);
            if vm.power_state != "running" || !host.is_running(&key) {
                continue;
            }
            let mut blocked = None;
            for disk in std::iter::once(&vm.os_disk).chain(&vm.data_disks) {
                let Ok(d) = self.vm_disk_record(disk) else {
                    continue;
                };
                if let Err(e) = self.key_check(&d) {
                    if d.sku == ULTRA_SKU {
                        log::warn(&format!(
                            "virtual machine {}: the key of Ultra disk {} is unusable ({e}); the VM keeps running until it is stopped",
                            vm.name, d.name
                        ));
                        continue;
                    }
                    let key_url = match &d.key.kek {
                        Kek::Customer { key_url } => Some(key_url.clone()),
                        Kek::Platform => None,
                    };
                    blocked = Some((d.name.clone(), key_url, e));
                    break;
                }
            }
            let Some((disk, key_url, why)) = blocked else {
                continue;
            };
            let message = format!(
                "The virtual machine was stopped by the platform because the key {} of disk '{disk}' is unusable: {why}",
                key_url.as_deref().unwrap_or("(platform key)")
            );
            log::warn(&format!("virtual machine {}: {message}", vm.name));
            vm.power_state = "stopped".into();
            vm.platform_stop = Some(PlatformStop {
                time: clock::now_rfc3339(),
                key_url,
                message,
            });
            if let Err(e) = self.save_vm(&vm) {
                log::warn(&format!("virtual machine {}: {e}", vm.name));
            }
            host.request_stop(&key, self.store.config().vm_stop_timeout());
        }
    }

    /// The running VMs as the mount's `vms/` lists them: `(shown name, reference)`; a name
    /// that several groups use shows as `NAME@GROUP`.
    pub fn running_vm_listing(&self) -> Result<Vec<(String, String)>> {
        let Some(host) = self.vm_host().filter(|h| h.any_running()) else {
            return Ok(Vec::new());
        };
        let running: Vec<VmRecord> = self
            .all_vms()?
            .into_iter()
            .filter(|vm| host.is_running(&vm_key(vm)))
            .collect();
        let pairs: Vec<(String, String)> = running
            .iter()
            .map(|vm| (vm.name.clone(), vm.resource_group.clone()))
            .collect();
        let mut out: Vec<(String, String)> = super::entries::display_names(&pairs)
            .into_iter()
            .zip(&running)
            .map(|(shown, vm)| (shown, vm.reference()))
            .collect();
        out.sort();
        Ok(out)
    }

    /// A running VM's disks as `vms/VM/` lists them: `("os" | "lunN", disk reference)`;
    /// `None` when the VM does not run.
    pub fn running_vm_disks(&self, reference: &str) -> Result<Option<Vec<(String, String)>>> {
        let Some(host) = self.vm_host() else {
            return Ok(None);
        };
        let vm = match self.load_vm(reference) {
            Ok(vm) => vm,
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if !host.is_running(&vm_key(&vm)) {
            return Ok(None);
        }
        let mut out = Vec::new();
        for (slot, disk) in std::iter::once(("os".to_string(), &vm.os_disk))
            .chain(vm.data_disks.iter().map(|d| (format!("lun{}", d.lun), d)))
        {
            if let Ok(rec) = self.vm_disk_record(disk) {
                out.push((slot, rec.reference()));
            }
        }
        Ok(Some(out))
    }

    /// Records every running VM as stopped and asks its runner to power off (unmount).
    /// Returns the keys to wait for.
    pub fn vm_power_off_all(&self) -> Vec<String> {
        let Some(host) = self.vm_host().filter(|h| h.any_running()) else {
            return Vec::new();
        };
        let mut waiting = Vec::new();
        for mut vm in self.all_vms().unwrap_or_default() {
            let key = vm_key(&vm);
            if !host.is_running(&key) {
                continue;
            }
            if vm.power_state == "running" {
                vm.power_state = "stopped".into();
                if let Err(e) = self.save_vm(&vm) {
                    log::warn(&format!("virtual machine {}: {e}", vm.name));
                }
            }
            host.request_stop(&key, self.store.config().vm_stop_timeout());
            waiting.push(key);
        }
        waiting
    }
}

/// Waits, without the lock, until the runner `key` has exited and the mount has closed the
/// VM's disks.
fn wait_stopped(shared: &Mutex<Service>, reference: &str, key: &str) -> Result<()> {
    let (host, grace) = {
        let s = shared.lock();
        (s.require_host()?, s.store.config().vm_stop_timeout())
    };
    if !host.wait_gone(key, grace + AFTER_KILL) {
        return Err(Error::Busy(format!(
            "the runner of virtual machine '{reference}' did not exit after it was killed"
        )));
    }
    let started = Instant::now();
    loop {
        {
            let s = shared.lock();
            let rec = s.load_vm(reference)?;
            if !s.vm_disks_open(&rec) {
                return Ok(());
            }
        }
        if started.elapsed() > CLOSE_PATIENCE {
            return Err(Error::Busy(format!(
                "virtual machine '{reference}' stopped, but the mount still has its disks open"
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Powers off every running VM and waits until they are gone and their disks closed (before
/// the mount goes away).
pub fn vm_power_off_all_shared(shared: &Mutex<Service>) -> Result<Value> {
    let keys = shared.lock().vm_power_off_all();
    for key in keys {
        wait_stopped(shared, &key, &key)?;
    }
    Ok(Value::Null)
}

/// `vm stop` / `vm deallocate`: asks the guest to power off, kills it after the grace
/// period, and returns once it is gone and its disks are closed.
pub fn vm_stop_shared(
    shared: &Mutex<Service>,
    name_or_id: &str,
    group: Option<&str>,
    deallocate: bool,
) -> Result<Value> {
    let (reference, key) = {
        let s = shared.lock();
        let rec = s.load_vm_by_ref(name_or_id, group)?;
        let reference = rec.reference();
        (
            reference.clone(),
            s.vm_request_stop(&reference, deallocate)?,
        )
    };
    if let Some(key) = key {
        wait_stopped(shared, &reference, &key)?;
    }
    Ok(Value::Null)
}

/// `vm restart`: stop, then start.
pub fn vm_restart_shared(
    shared: &Mutex<Service>,
    name_or_id: &str,
    group: Option<&str>,
) -> Result<Value> {
    let reference = shared.lock().load_vm_by_ref(name_or_id, group)?.reference();
    vm_stop_shared(shared, &reference, None, false)?;
    shared.lock().vm_start_ref(&reference)?;
    Ok(Value::Null)
}

/// `vm delete`: stops the VM, removes its record, then deletes the disks whose delete option
/// is `Delete` (the others are detached and stay).
pub fn vm_delete_shared(
    shared: &Mutex<Service>,
    name_or_id: &str,
    group: Option<&str>,
) -> Result<Value> {
    let rec = shared.lock().load_vm_by_ref(name_or_id, group)?;
    if rec.scale_set.is_some() {
        return Err(Error::NotAllowed(format!(
            "'{}' is an instance of scale set '{}': use vmss delete-instances or vmss scale",
            rec.name,
            rec.scale_set
                .as_ref()
                .map(|m| m.name.as_str())
                .unwrap_or("")
        )));
    }
    vm_stop_shared(shared, &rec.reference(), None, true)?;
    delete_vm_and_disks(shared, &rec.reference())
}

/// Removes a stopped VM's record and the disks it deletes with it.
pub(super) fn delete_vm_and_disks(shared: &Mutex<Service>, reference: &str) -> Result<Value> {
    let s = shared.lock();
    let rec = s.load_vm(reference)?;
    let doomed: Vec<String> = std::iter::once(&rec.os_disk)
        .chain(&rec.data_disks)
        .filter(|d| d.delete_option == "Delete")
        .map(|d| d.disk_id.clone())
        .collect();
    s.remove_vm_record(&rec)?;
    for id in doomed {
        match s.volume_delete(Kind::Disk, &id, None) {
            Ok(_) | Err(Error::NotFound { .. }) => {}
            Err(e) => {
                return Err(Error::Busy(format!(
                    "virtual machine '{}' was deleted, but not its disk {id}: {e}",
                    rec.name
                )));
            }
        }
    }
    Ok(Value::Null)
}

/// Copies a raw or qcow2 image file into a disk's plaintext file in the mount
/// (`qemu-img convert -n`: the disk keeps its size, the image is written from its start).
pub(super) fn copy_image_file(file: &Path, target: &Path) -> Result<()> {
    let meta = std::fs::metadata(file).ctx(|| format!("image file {}", file.display()))?;
    if !meta.is_file() {
        return Err(Error::invalid(format!(
            "image {} is not a regular file",
            file.display()
        )));
    }
    let info = Command::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(file)
        .output()
        .ctx(|| "run qemu-img (install qemu-utils)")?;
    if !info.status.success() {
        return Err(Error::invalid(format!(
            "qemu-img cannot read {}: {}",
            file.display(),
            String::from_utf8_lossy(&info.stderr).trim()
        )));
    }
    let v: Value = serde_json::from_slice(&info.stdout)
        .map_err(|e| Error::invalid(format!("qemu-img info: {e}")))?;
    let format = match v["format"].as_str() {
        Some(f @ ("raw" | "qcow2")) => f.to_string(),
        other => {
            return Err(Error::invalid(format!(
                "image {} is {}: use a raw or qcow2 file",
                file.display(),
                other.unwrap_or("of an unknown format")
            )));
        }
    };
    let virtual_size = v["virtual-size"].as_u64().unwrap_or(0);
    let disk_size = std::fs::metadata(target)
        .ctx(|| format!("disk file {}", target.display()))?
        .len();
    if virtual_size > disk_size {
        return Err(Error::invalid(format!(
            "image {} holds {virtual_size} bytes, more than the OS disk's {disk_size}: give a larger --os-disk-size-gb",
            file.display()
        )));
    }
    let out = Command::new("qemu-img")
        .args(["convert", "-n", "-f", &format, "-O", "raw"])
        .arg(file)
        .arg(target)
        .output()
        .ctx(|| "run qemu-img convert")?;
    if !out.status.success() {
        return Err(Error::io(
            format!("copy image {} into the OS disk", file.display()),
            std::io::Error::other(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        ));
    }
    Ok(())
}

/// `vm boot-diagnostics get-boot-log`: the guest's console output.
pub fn vm_boot_log(service: &Service, name_or_id: &str, group: Option<&str>) -> Result<Value> {
    let rec = service.load_vm_by_ref(name_or_id, group)?;
    let host = service.require_host()?;
    let path = host
        .console_log(&vm_key(&rec))
        .ok_or_else(|| Error::not_found("boot log", &rec.name))?;
    let text = std::fs::read(&path).ctx(|| format!("read {}", path.display()))?;
    Ok(Value::String(String::from_utf8_lossy(&text).into_owned()))
}
