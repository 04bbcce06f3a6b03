//! The FUSE session: how the store is mounted, and the loop that serves it.
//!
//! The mount shows in /proc/mounts as
//!
//! ```text
//! ssefs:/var/lib/ssefs /mnt/disks fuse.ssefs rw,nosuid,nodev,relatime,user_id=0,group_id=0,default_permissions 0 0
//! ```
//!
//! type `fuse.ssefs` (so that `mount -t fuse.ssefs`, fstab, `findmnt -t fuse.ssefs` and
//! systemd know it) and source `ssefs:STORE` (so that `ssefs unmount` finds the store).
//!
//! Two ways to get there. As root we mount ourselves: open /dev/fuse, call mount(2) with
//! fstype `fuse.ssefs`, and hand the descriptor to fuser. fuser's own mount(2) path cannot do
//! this: it always passes fstype `fuse` and keeps the subtype only for fusermount. Without the
//! privilege (EPERM: a regular user), fuser runs fuse3's setuid `fusermount3`, which turns
//! `subtype=ssefs` into the same `fuse.ssefs` type.

use std::ffi::CString;
use std::fs::OpenOptions;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, IoContext, Result};
use crate::fs::{StoreFs, ring};

/// The prefix of the mount's source (`ssefs:STORE`), which identifies our mounts.
pub const SOURCE_PREFIX: &str = "ssefs:";
/// The subtype: the mount's type is `fuse.ssefs`.
pub const SUBTYPE: &str = "ssefs";

/// What to mount where.
pub struct MountSpec<'a> {
    pub store: &'a Path,
    pub mountpoint: &'a Path,
    /// Let other users reach the mount (the handlers still serve only root and the owner).
    pub allow_other: bool,
    /// FUSE request threads.
    pub threads: usize,
}

/// How requests are to be carried, beside `/dev/fuse` (see ring.rs).
pub struct RingPlan {
    /// Set at init when the kernel granted FUSE over io_uring.
    pub granted: Arc<AtomicBool>,
    /// Request threads (`--threads`): the entries, each with its thread, spread evenly over
    /// the queues, at least two per queue: a reply given by another thread (a `/.control`
    /// write of a ReadWrite mount, which flushes the writeback cache through the same queue)
    /// keeps its entry busy meanwhile. Measured here, 4 to 8 entries per queue serve 4 KiB
    /// random I/O faster than 16 or 32 (README).
    pub threads: usize,
    /// `--transport io-uring`: the mount fails rather than fall back.
    pub required: bool,
}

/// A mounted, handshaken FUSE session, ready to serve.
pub struct Session {
    inner: fuser::Session<StoreFs>,
    mountpoint: std::path::PathBuf,
}

impl Session {
    /// Mounts `fs` as `spec` says (see the module doc for how).
    pub fn mount(fs: StoreFs, spec: &MountSpec) -> Result<Session> {
        let source = format!("{SOURCE_PREFIX}{}", spec.store.display());
        let acl = if spec.allow_other {
            fuser::SessionACL::All
        } else {
            fuser::SessionACL::Owner
        };
        let mut config = fuser::Config::default();
        config.acl = acl;
        config.n_threads = Some(spec.threads.max(1));
        config.clone_fd = true;
        let mounted = match mount_fuse_ssefs(&source, spec) {
            Ok(fd) => {
                let session = fuser::Session::from_fd(fs, fd, acl, config);
                // A failed handshake leaves a dead mount behind: take it away.
                if session.is_err() {
                    let _ = detach(spec.mountpoint);
                }
                session
            }
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                // Not root: fusermount3 mounts for us, and sets the type from the subtype.
                config.mount_options = vec![
                    fuser::MountOption::FSName(source),
                    fuser::MountOption::Subtype(SUBTYPE.into()),
                    fuser::MountOption::NoSuid,
                    fuser::MountOption::NoDev,
                    fuser::MountOption::DefaultPermissions,
                ];
                fuser::Session::new(fs, spec.mountpoint, &config)
            }
            Err(e) => Err(e),
        };
        let inner =
            mounted.map_err(|e| Error::io(format!("mount {}", spec.mountpoint.display()), e))?;
        Ok(Session {
            inner,
            mountpoint: spec.mountpoint.to_path_buf(),
        })
    }

    /// Sends notifications to the kernel (the revocation hook drops cached pages with it).
    pub fn notifier(&self) -> fuser::Notifier {
        self.inner.notifier()
    }

    /// Serves requests until the file system is unmounted. `ring`: the io_uring entries to
    /// register first, or `None` for `/dev/fuse` only, whose reason `dev_fuse_reason` gives.
    /// `serving` gets the transport line (ring.rs) once the transport is settled, before any
    /// request is served.
    pub fn run(
        self,
        ring: Option<RingPlan>,
        dev_fuse_reason: &str,
        serving: impl FnOnce(&str),
    ) -> Result<()> {
        let dev = self.inner.as_fd().as_raw_fd();
        let mountpoint = self.mountpoint;
        // Why the mount cannot be served, found before serving began.
        let mut failure: Option<Error> = None;
        let mut serving_began = false;
        let not_served = || Err(std::io::Error::from_raw_os_error(libc::EIO));
        let required = |line: &str| {
            Error::not_supported(format!(
                "--transport io-uring: {}",
                line.trim_start_matches("transport: ")
            ))
        };
        let served = self.inner.run_with(|dispatcher| {
            let mut rings = None;
            let line = match ring {
                None => ring::dev_fuse_line(dev_fuse_reason),
                Some(plan) if !plan.granted.load(Ordering::Relaxed) => {
                    let line =
                        ring::dev_fuse_line("the kernel did not grant FUSE_OVER_IO_URING at init");
                    if plan.required {
                        failure = Some(required(&line));
                        return not_served();
                    }
                    line
                }
                Some(plan) => {
                    let queues = match ring::possible_cpus() {
                        Ok(queues) => queues,
                        Err(e) => {
                            failure = Some(Error::io("count the CPUs (io_uring queues)", e));
                            return not_served();
                        }
                    };
                    let per_queue = plan.threads.div_ceil(queues).max(2);
                    let started =
                        ring::start(dev, &dispatcher, queues, per_queue, StoreFs::MAX_PAYLOAD);
                    if started.in_use() {
                        let line = ring::ring_line(&started.per_queue);
                        rings = Some(started.rings);
                        line
                    } else {
                        if let Some(e) = started.stuck {
                            failure = Some(Error::io("fall back from io_uring to /dev/fuse", e));
                            return not_served();
                        }
                        let why = started.refused.map_or_else(
                            || "io_uring entries not registered".to_string(),
                            |e| format!("io_uring entries refused: {e}"),
                        );
                        let line = ring::dev_fuse_line(&why);
                        if plan.required {
                            failure = Some(required(&line));
                            return not_served();
                        }
                        line
                    }
                }
            };
            serving_began = true;
            serving(&line);
            Ok(Box::new(move || {
                if let Some(rings) = rings {
                    rings.stop();
                }
            }))
        });
        if !serving_began {
            // Nothing served the mount: take it away, and say why.
            let _ = detach(&mountpoint);
        }
        if let Some(e) = failure {
            return Err(e);
        }
        served.map_err(|e| Error::io("serve the mount", e))
    }
}

/// mount(2) of type `fuse.ssefs` on a fresh /dev/fuse descriptor, returned for the session.
/// Options as libfuse and fusermount3 give them: the kernel checks the modes shown
/// (`default_permissions`: 0600/0400, the store's owner), never setuid or device files.
fn mount_fuse_ssefs(source: &str, spec: &MountSpec) -> std::io::Result<OwnedFd> {
    let root_mode = std::fs::metadata(spec.mountpoint)?.mode() & libc::S_IFMT;
    let dev: OwnedFd = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")?
        .into();
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let mut data = format!(
        "fd={},rootmode={root_mode:o},user_id={uid},group_id={gid},default_permissions",
        dev.as_raw_fd()
    );
    if spec.allow_other {
        data.push_str(",allow_other");
    }
    let invalid = |_| std::io::Error::from_raw_os_error(libc::EINVAL);
    let c_source = CString::new(source).map_err(invalid)?;
    let c_target = CString::new(spec.mountpoint.as_os_str().as_bytes()).map_err(invalid)?;
    let c_type = CString::new(format!("fuse.{SUBTYPE}")).map_err(invalid)?;
    let c_data = CString::new(data).map_err(invalid)?;
    // SAFETY: NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::mount(
            c_source.as_ptr(),
            c_target.as_ptr(),
            c_type.as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            c_data.as_ptr().cast(),
        )
    };
    if rc == 0 {
        Ok(dev)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Lazily unmounts `mountpoint` (after a failed handshake nothing can be serving it).
fn detach(mountpoint: &Path) -> Result<()> {
    let c = CString::new(mountpoint.as_os_str().as_bytes())
        .map_err(|_| Error::invalid("mount point contains NUL"))?;
    // SAFETY: a NUL-terminated path.
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error()).ctx(|| format!("unmount {}", mountpoint.display()))
    }
}
