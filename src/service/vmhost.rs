//! What runs VMs, as the service sees it: the mount daemon installs a [`VmHost`] (its runner
//! supervisor and its mount point); a CLI process has none, so a VM recorded as running shows
//! as stopped there (nothing can run without the daemon that supervises it).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::Result;
use crate::format::VmBoot;

/// Everything a runner needs to launch one VM.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// The VM's name (`{name}`).
    pub name: String,
    /// The OS disk's plaintext file in the mount (`{os}`).
    pub os_disk: PathBuf,
    /// The data disks' plaintext files, in LUN order (`{data}`).
    pub data_disks: Vec<PathBuf>,
    /// Each attachment's host caching, the OS disk's first, then the data disks' in LUN order.
    pub caching: Vec<String>,
    pub boot: VmBoot,
    pub memory_mib: u32,
    pub cpus: u32,
    /// The `vm.runner` template, or `None` for qemu.
    pub template: Option<String>,
    /// `auto`, `kvm` or `tcg`.
    pub accel: String,
}

/// The daemon's VM supervisor. Keys are VM references in lower case (`name@group`).
pub trait VmHost: Send + Sync {
    /// The mount point: runners find the disks' plaintext files below it.
    fn mountpoint(&self) -> &Path;
    /// Launches a runner; fails if that VM already runs or the runner cannot start.
    fn start(&self, key: &str, spec: &LaunchSpec) -> Result<u32>;
    fn is_running(&self, key: &str) -> bool;
    /// Whether any VM runs (so that checks over every VM record can be skipped when none does).
    fn any_running(&self) -> bool;
    /// Asks the runner to power off and returns at once; it is killed after `grace`.
    fn request_stop(&self, key: &str, grace: Duration);
    /// Waits (at most `limit`) until the runner has exited; true if it has.
    fn wait_gone(&self, key: &str, limit: Duration) -> bool;
    /// The guest's console output so far (qemu's serial port, or a runner's output).
    fn console_log(&self, key: &str) -> Option<PathBuf>;
}

/// A shared host.
pub type SharedVmHost = Arc<dyn VmHost>;
