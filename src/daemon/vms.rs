//! The mount daemon's VM host: the runner supervisor (`crate::vm`), the mount point runners
//! use, and the runtime directory (pid files, QMP sockets, console logs) outside the store,
//! since a guest's console may print what its disks hold.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::log;
use crate::service::Service;
use crate::service::vmhost::{LaunchSpec, VmHost};
use crate::vm::accel::Accel;
use crate::vm::runner::{self, Boot, ExitInfo, RunnerSpec, Supervisor};

/// The daemon's [`VmHost`].
pub struct DaemonVmHost {
    supervisor: Supervisor,
    mountpoint: PathBuf,
    runtime: PathBuf,
}

/// `/run/ssefs/HASH` for root, else `$XDG_RUNTIME_DIR/ssefs/HASH`; `/tmp/ssefs-UID/HASH` when
/// those cannot be made (a minimal system without /run). Private: 0700, ours, not a symbolic
/// link. One per store.
pub fn runtime_dir(store: &Path) -> Result<PathBuf> {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let preferred = if uid == 0 {
        Some(PathBuf::from("/run/ssefs"))
    } else {
        std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|d| !d.is_empty())
            .map(|d| PathBuf::from(d).join("ssefs"))
    };
    let digest = Sha256::digest(store.as_os_str().as_encoded_bytes());
    let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let fallback = PathBuf::from(format!("/tmp/ssefs-{uid}"));
    let mut last = None;
    for base in preferred.into_iter().chain(std::iter::once(fallback)) {
        let dir = base.join(&hash);
        match private_dirs(&[&base, &dir], uid) {
            Ok(()) => return Ok(dir),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::invalid("no runtime directory for VMs")))
}

/// Makes each directory (0700) unless it exists, and checks it is ours and private.
fn private_dirs(dirs: &[&Path], uid: u32) -> Result<()> {
    for d in dirs {
        match std::fs::DirBuilder::new().mode(0o700).create(d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io(format!("create {}", d.display()), e)),
        }
        let meta = std::fs::symlink_metadata(d).ctx(|| format!("inspect {}", d.display()))?;
        if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
            return Err(Error::NotAllowed(format!(
                "{} is not a private directory of uid {uid}: remove it, it holds VM sockets",
                d.display()
            )));
        }
    }
    Ok(())
}

impl DaemonVmHost {
    /// Kills runners a killed daemon left behind, then starts the supervisor; a runner that
    /// exits tells the service (the VM is then stopped).
    pub fn start(
        store: &Path,
        mountpoint: &Path,
        service: Weak<Mutex<Service>>,
    ) -> Result<Arc<DaemonVmHost>> {
        let runtime = runtime_dir(store)?;
        match runner::kill_leftovers(&runtime) {
            Ok(0) => {}
            Ok(n) => log::warn(&format!(
                "killed {n} VM runner(s) left by a daemon that did not stop cleanly"
            )),
            Err(e) => log::warn(&format!("cannot clear VM runners left behind: {e}")),
        }
        let on_exit: runner::ExitHook = Arc::new(move |key: &str, info: &ExitInfo| {
            let detail = match (info.status, info.signal) {
                (Some(code), _) => format!("runner exited with status {code}"),
                (None, Some(sig)) => format!("runner ended by signal {sig}"),
                _ => "runner ended".to_string(),
            };
            if let Some(service) = service.upgrade() {
                service.lock().vm_runner_exited(key, &detail);
            }
        });
        let supervisor = Supervisor::new(runtime.clone(), on_exit)?;
        Ok(Arc::new(DaemonVmHost {
            supervisor,
            mountpoint: mountpoint.to_path_buf(),
            runtime,
        }))
    }

    /// Stops every runner (unmount), waiting at most `grace` plus the kill, then removes the
    /// runtime directory (pid files, sockets, console logs).
    pub fn stop_all(&self, grace: Duration) {
        self.supervisor.stop_all(grace);
        if self.supervisor.running().is_empty() {
            let _ = std::fs::remove_dir_all(&self.runtime);
        }
    }
}

impl VmHost for DaemonVmHost {
    fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    fn start(&self, key: &str, spec: &LaunchSpec) -> Result<u32> {
        let console = runner::runtime_file(&self.runtime, key, "console");
        // A fresh console log per run, so a boot log shows this boot.
        let _ = std::fs::remove_file(&console);
        let accel = Accel::parse(&spec.accel)?;
        let runner_spec = RunnerSpec {
            name: spec.name.clone(),
            os_disk: spec.os_disk.clone(),
            data_disks: spec.data_disks.clone(),
            caching: spec.caching.clone(),
            boot: Boot {
                kernel: spec.boot.kernel.as_ref().map(PathBuf::from),
                initrd: spec.boot.initrd.as_ref().map(PathBuf::from),
                append: spec.boot.append.clone(),
            },
            memory_mib: spec.memory_mib,
            cpus: spec.cpus,
            console_log: console,
            qmp_socket: runner::runtime_file(&self.runtime, key, "qmp"),
            template: spec.template.clone(),
            accel,
        };
        self.supervisor.start(key, &runner_spec)
    }

    fn is_running(&self, key: &str) -> bool {
        self.supervisor.is_running(key)
    }

    fn request_stop(&self, key: &str, grace: Duration) {
        self.supervisor.request_stop(key, grace);
    }

    fn wait_gone(&self, key: &str, limit: Duration) -> bool {
        self.supervisor.wait_gone(key, limit)
    }

    fn any_running(&self) -> bool {
        !self.supervisor.running().is_empty()
    }

    fn console_log(&self, key: &str) -> Option<PathBuf> {
        let path = runner::runtime_file(&self.runtime, key, "console");
        path.exists().then_some(path)
    }
}
