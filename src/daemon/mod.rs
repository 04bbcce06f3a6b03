//! The mount daemon's life: start (detached unless `--foreground`), refuse a second mount of
//! the same store, serve FUSE on several threads and forwarded commands on a socket, stop
//! cleanly on `ssefs unmount`, `umount` or SIGTERM/SIGINT, and recover from a `kill -9`.
//!
//! Files in the store while mounted: `daemon.lock` (flock held for the daemon's life),
//! `daemon.sock` (forwarded commands), `daemon.json` (pid and mount point, informative) and
//! `daemon.log` (the detached daemon's stderr).

pub mod notify;
pub mod remote;
pub mod schedule;
pub mod vms;

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::json;

use crate::error::{Error, IoContext, Result};
use crate::fs::StoreFs;
use crate::fs::ring::{self, Transport};
use crate::fsio::{self, FileLock};
use crate::log;
use crate::service::Service;

// The source shown in /proc/mounts is `ssefs:STORE`: it identifies our mounts and their store.
use crate::fs::session::SOURCE_PREFIX;
/// How long `ssefs unmount` retries a busy stale mount (see [`umount_stale_patiently`]).
const STALE_PATIENCE: Duration = Duration::from_secs(5);
/// How long `ssefs unmount` waits for the daemon to flush and exit.
const EXIT_PATIENCE: Duration = Duration::from_secs(60);

/// What `ssefs mount` was asked.
#[derive(Debug, Clone)]
pub struct MountArgs {
    pub mountpoint: PathBuf,
    pub store: PathBuf,
    pub foreground: bool,
    pub allow_other: bool,
    pub threads: usize,
    /// Host caching of disk files (`--caching`).
    pub caching: crate::fs::Caching,
    /// How the kernel's requests arrive (`--transport`).
    pub transport: crate::fs::ring::Transport,
    /// Internal: the pipe on which a detached daemon reports readiness to its parent.
    pub ready_fd: Option<RawFd>,
    pub debug: bool,
}

/// An absolute, lexically normalised path that is never stat'ed (a stale FUSE mount point
/// cannot be: stat fails with ENOTCONN).
pub fn absolute(path: &Path) -> Result<PathBuf> {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .ctx(|| "current directory")?
            .join(path)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Ok(out)
}

/// The path the kernel shows in /proc/mounts for `path`: absolute, with symbolic links resolved
/// (the last component by reading the link itself, never by stat'ing through it, since a stale
/// FUSE mount point cannot be stat'ed).
pub fn resolve_mountpoint(path: &Path) -> Result<PathBuf> {
    let mut current = absolute(path)?;
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&current)
                    .ctx(|| format!("read link {}", current.display()))?;
                let base = current.parent().map(Path::to_path_buf).unwrap_or_default();
                current = absolute(&base.join(target))?;
            }
            _ => break,
        }
    }
    match (current.parent(), current.file_name()) {
        (Some(parent), Some(name)) => match std::fs::canonicalize(parent) {
            Ok(parent) => Ok(parent.join(name)),
            Err(_) => Ok(current.clone()),
        },
        _ => Ok(current),
    }
}

/// Decodes the octal escapes of /proc/mounts (`\040` for a space).
fn unescape_mount_field(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The store served at `mountpoint`, if an ssefs mount is there (live or stale).
pub fn mounted_store(mountpoint: &Path) -> Result<Option<PathBuf>> {
    let mounts = std::fs::read_to_string("/proc/mounts").ctx(|| "read /proc/mounts")?;
    let want = mountpoint.to_string_lossy();
    for line in mounts.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() < 3 || !f[2].starts_with("fuse") || unescape_mount_field(f[1]) != want {
            continue;
        }
        if let Some(store) = unescape_mount_field(f[0]).strip_prefix(SOURCE_PREFIX) {
            return Ok(Some(PathBuf::from(store)));
        }
    }
    Ok(None)
}

/// `ssefs mount`: returns once the mount is ready (or, with `--foreground`, once it ends).
pub fn mount(args: &MountArgs, handler: Arc<remote::Handler>) -> Result<()> {
    if args.caching == crate::fs::Caching::ReadWrite && args.threads < 2 {
        // A flush of the writeback cache made while serving a request (a snapshot through
        // /.control) is served by another request thread: with one, it would wait forever.
        return Err(Error::invalid(
            "--caching ReadWrite needs --threads of at least 2",
        ));
    }
    if args.foreground {
        // The readiness pipe is taken over exactly once here; whoever reports on it consumes
        // it, so no later error can write into whatever file reuses the descriptor's number.
        let mut ready = match args.ready_fd {
            Some(fd) => Some(ready_pipe(fd)?),
            None => None,
        };
        let result = run(args, handler, &mut ready);
        if let Err(e) = &result {
            report_ready(
                &mut ready,
                &format!("{}\t({}) {e}", e.exit_code(), e.code()),
            );
        }
        result
    } else {
        let transport = spawn_detached(args)?;
        // The detached daemon's own line is in its log; `--debug` shows it to the caller too.
        log::debug(&transport);
        Ok(())
    }
}

/// Takes ownership of the write end of the readiness pipe, after checking that `fd` is open
/// and is a pipe (it comes from a command-line argument).
fn ready_pipe(fd: RawFd) -> Result<File> {
    // SAFETY: fstat writes into a zeroed local; an invalid descriptor fails with EBADF.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if fd < 0 || unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(Error::invalid(format!(
            "--ready-fd {fd} is not an open descriptor"
        )));
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFIFO {
        return Err(Error::invalid(format!("--ready-fd {fd} is not a pipe")));
    }
    // SAFETY: the descriptor is open, is a pipe, and is used through this File only.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Writes one line on the readiness pipe, once: the pipe is closed after it.
fn report_ready(pipe: &mut Option<File>, message: &str) {
    if let Some(mut f) = pipe.take() {
        let _ = writeln!(f, "{message}");
    }
}

/// Starts the daemon in a new session with its output in `STORE/daemon.log`, and waits for
/// it to say "ready" (or why not) on a pipe; returns the transport line it sent along.
fn spawn_detached(args: &MountArgs) -> Result<String> {
    fsio::create_private_dir(&args.store)?;
    let log_path = args.store.join("daemon.log");
    let log_file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&log_path)
        .ctx(|| format!("open {}", log_path.display()))?;
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe writes two descriptors into the array.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(Error::io("pipe", std::io::Error::last_os_error()));
    }
    let (read_fd, write_fd) = (fds[0], fds[1]);
    // SAFETY: the read end must not leak into the child.
    unsafe { libc::fcntl(read_fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    let exe = std::env::current_exe().ctx(|| "find the ssefs executable")?;
    let mut cmd = Command::new(exe);
    cmd.arg("mount")
        .arg(&args.mountpoint)
        .arg("--store")
        .arg(&args.store)
        .arg("--foreground")
        .arg("--threads")
        .arg(args.threads.to_string())
        .arg("--caching")
        .arg(args.caching.as_str())
        .arg("--transport")
        .arg(args.transport.name())
        .arg("--ready-fd")
        .arg(write_fd.to_string());
    if args.allow_other {
        cmd.arg("--allow-other");
    }
    if args.debug {
        cmd.arg("--debug");
    }
    cmd.stdin(Stdio::null())
        .stdout(log_file.try_clone().ctx(|| "dup log")?)
        .stderr(log_file);
    // SAFETY: setsid is async-signal-safe; it detaches the daemon from our terminal and
    // process group so that a Ctrl-C in the shell does not reach it.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let spawned = cmd.spawn();
    // SAFETY: we own the write end; the child has its own copy.
    unsafe { libc::close(write_fd) };
    // SAFETY: we own the read end.
    let mut pipe = unsafe { File::from_raw_fd(read_fd) };
    let mut child = spawned.ctx(|| "start the mount daemon")?;
    let mut said = String::new();
    let _ = pipe.read_to_string(&mut said);
    let said = said.trim();
    // "ready", then the transport line.
    if let Some(transport) = said.strip_prefix("ready") {
        return Ok(transport.trim().to_string());
    }
    let status = child.wait().ok();
    // The daemon said why, as "EXIT_CODE<TAB>(Code) message": pass it on as it is.
    if let Some((code, message)) = said.split_once('\t') {
        return Err(Error::Forwarded {
            code: code.parse().unwrap_or(1),
            stdout: String::new(),
            stderr: format!("{message}\n"),
        });
    }
    Err(Error::Busy(format!(
        "the mount daemon exited ({}) before the mount was ready; see {}",
        status.map(|s| s.to_string()).unwrap_or_default(),
        log_path.display()
    )))
}

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and the threads it spawns later);
/// returns the set. Also what vm::runner's tests start from, to stand for a daemon thread.
pub(crate) fn block_stop_signals() -> libc::sigset_t {
    // SAFETY: sigset manipulation on a local; pthread_sigmask on the calling thread. Threads
    // spawned afterwards inherit the mask, so only the signal thread receives these signals.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// The daemon proper.
fn run(args: &MountArgs, handler: Arc<remote::Handler>, ready: &mut Option<File>) -> Result<()> {
    crate::buffers::tune_allocator();
    // FUSE over io_uring when asked for and the kernel's switch allows it (fs::ring); with
    // `--transport io-uring` the mount fails here, before anything is set up, if it cannot.
    let dev_fuse_reason = ring::unavailable(args.transport);
    if let (Some(why), Transport::IoUring) = (&dev_fuse_reason, args.transport) {
        return Err(Error::not_supported(format!("--transport io-uring: {why}")));
    }
    let signals = block_stop_signals();
    let mountpoint = resolve_mountpoint(&args.mountpoint)?;
    let store = absolute(&args.store)?;
    fsio::create_private_dir(&store)?;
    let _daemon_lock =
        FileLock::try_exclusive(&remote::daemon_lock_path(&store))?.ok_or_else(|| {
            let info = std::fs::read_to_string(store.join("daemon.json")).unwrap_or_default();
            let v: serde_json::Value = serde_json::from_str(&info).unwrap_or_default();
            Error::Busy(format!(
                "the store {} is already mounted at {} (daemon pid {}): unmount it first",
                store.display(),
                v["mountpoint"].as_str().unwrap_or("?"),
                v["pid"]
            ))
        })?;
    match std::fs::metadata(&mountpoint) {
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
            return Err(Error::Busy(format!(
                "{} is a stale mount point (its daemon died): run 'ssefs unmount {}' first",
                mountpoint.display(),
                mountpoint.display()
            )));
        }
        Err(e) => {
            return Err(Error::io(
                format!("mount point {}", mountpoint.display()),
                e,
            ));
        }
        Ok(m) if !m.is_dir() => {
            return Err(Error::invalid(format!(
                "mount point {} is not a directory",
                mountpoint.display()
            )));
        }
        Ok(_) => {}
    }
    if let Some(other) = mounted_store(&mountpoint)? {
        return Err(Error::Busy(format!(
            "{} already has an ssefs mount (of {})",
            mountpoint.display(),
            other.display()
        )));
    }

    // Copies run here for other processes' commands: no progress lines in the log.
    crate::progress::disable();
    let service = Arc::new(Mutex::new(Service::open(&store)?));
    // VMs run under this daemon: its supervisor first clears runners a killed daemon left.
    // Disks are served even if VMs cannot run (VM commands then say why).
    let vm_host = match vms::DaemonVmHost::start(&store, &mountpoint, Arc::downgrade(&service)) {
        Ok(host) => {
            service.lock().set_vm_host(host.clone());
            Some(host)
        }
        Err(e) => {
            log::warn(&format!("VMs cannot run under this mount: {e}"));
            None
        }
    };
    fsio::write_json(
        &store.join("daemon.json"),
        &json!({ "pid": std::process::id(), "mountpoint": mountpoint, "started": crate::clock::now_rfc3339() }),
        0o600,
    )?;
    // ReadWrite caching: a forwarded command that reads a disk's data first writes the host
    // cache back, so that a snapshot or copy it makes holds what was written through the mount
    // (see fs::writeback).
    let writeback = (args.caching == crate::fs::Caching::ReadWrite)
        .then(|| Arc::new(crate::fs::WritebackFlush::new(mountpoint.clone())));
    let handler: Arc<remote::Handler> = match writeback.clone() {
        Some(flush) => Arc::new(move |service: &Mutex<Service>, request: remote::Request| {
            if crate::fs::reads_disk_data(&request.args) {
                flush.flush();
            }
            handler(service, request)
        }),
        None => handler,
    };
    let gate = remote::serve(&store, service.clone(), handler)?;
    schedule::start(Arc::downgrade(&service), gate)?;

    // Files belong to the store's owner (who, with root, is the only one served: the kernel
    // checks these modes under default_permissions, the handlers check the uid again).
    // SAFETY: getuid/getgid cannot fail.
    let (me, my_group) = unsafe { (libc::getuid(), libc::getgid()) };
    let (uid, gid) = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&store).map_or((me, my_group), |m| (m.uid(), m.gid()))
    };
    let fs = StoreFs::new(service.clone(), uid, gid, args.caching).with_writeback(writeback);
    let (fs, ring_plan) = match &dev_fuse_reason {
        Some(_) => (fs, None),
        None => {
            let (fs, granted) = fs.with_ring();
            let plan = crate::fs::session::RingPlan {
                granted,
                threads: args.threads.max(1),
                required: args.transport == Transport::IoUring,
            };
            (fs, Some(plan))
        }
    };
    // Install the revocation hook once the session exists (it needs the session's notifier).
    let hook_source = fs.revocation_hook_source();
    let session = crate::fs::session::Session::mount(
        fs,
        &crate::fs::session::MountSpec {
            store: &store,
            mountpoint: &mountpoint,
            // allow_other only when asked: by default only the mounting user sees the plaintext.
            allow_other: args.allow_other,
            threads: args.threads,
        },
    )?;
    let (hook, wait) = hook_source.hook(session.notifier())?;
    service.lock().set_revocation_hook(hook, wait);

    let stopper = mountpoint.clone();
    let vm_service = service.clone();
    std::thread::Builder::new()
        .name("ssefs-signals".into())
        .spawn(move || {
            wait_for_stop(signals, &stopper, || {
                // The VMs' runners hold disk files open: power them off before unmounting.
                if let Err(e) = crate::service::vm_power_off_all_shared(&vm_service) {
                    log::warn(&format!("stopping the VMs: {e}"));
                }
            })
        })
        .ctx(|| "start the signal thread")?;
    log::info(&format!(
        "serving {} at {}",
        store.display(),
        mountpoint.display()
    ));
    let served = session.run(
        ring_plan,
        dev_fuse_reason.as_deref().unwrap_or_default(),
        |transport| {
            log::info(transport);
            report_ready(ready, &format!("ready\n{transport}"));
            // Under systemd (Type=notify), the unit is up now.
            notify::ready();
        },
    );
    // Unmounted: no VM may outlive its daemon (a lazily detached mount could still have
    // one); then flush what is still open, tidy up, and leave (the locks go with us).
    if let Some(host) = &vm_host {
        host.stop_all(service.lock().store().config().vm_stop_timeout());
    }
    for volume in service.lock().open_volumes() {
        if let Err(e) = volume.sync() {
            log::warn(&format!("flush on unmount: {e}"));
        }
    }
    let _ = std::fs::remove_file(remote::socket_path(&store));
    let _ = std::fs::remove_file(store.join("daemon.json"));
    log::info(&format!("unmounted {}", mountpoint.display()));
    served
}

/// Waits for SIGINT/SIGTERM/SIGHUP, runs `before` (VMs power off) and unmounts, which ends
/// the session loop.
fn wait_for_stop(signals: libc::sigset_t, mountpoint: &Path, before: impl Fn()) {
    loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: sigwait on a set blocked in every thread.
        if unsafe { libc::sigwait(&signals, &mut sig) } != 0 {
            continue;
        }
        log::info(&format!(
            "signal {sig}: unmounting {}",
            mountpoint.display()
        ));
        before();
        match umount(mountpoint, 0) {
            Ok(()) => return,
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                // Files are still open (a loop device?): detach now, serve them until closed.
                log::warn(&format!(
                    "{} is busy: detaching it lazily",
                    mountpoint.display()
                ));
                if umount(mountpoint, libc::MNT_DETACH).is_ok() {
                    return;
                }
            }
            Err(e) => log::warn(&format!("unmount {}: {e}", mountpoint.display())),
        }
    }
}

fn umount(mountpoint: &Path, flags: libc::c_int) -> std::io::Result<()> {
    let c = CString::new(mountpoint.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: a NUL-terminated path.
    if unsafe { libc::umount2(c.as_ptr(), flags) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Unmounts; when the daemon is gone (a stale mount after a `kill -9`), EBUSY is retried for
/// a few seconds: the VM runners the dead daemon took with it may still be closing their files.
fn umount_stale_patiently(mountpoint: &Path, store: &Path) -> std::io::Result<()> {
    let started = Instant::now();
    loop {
        match umount(mountpoint, 0) {
            Err(e)
                if e.raw_os_error() == Some(libc::EBUSY)
                    && started.elapsed() < STALE_PATIENCE
                    && !remote::daemon_running(store).unwrap_or(true) =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// `ssefs unmount`: unmounts (also a stale mount left by a killed daemon) and waits until the
/// daemon has flushed and exited, so that the store can be mounted again at once.
pub fn unmount(mountpoint: &Path) -> Result<()> {
    let mountpoint = resolve_mountpoint(mountpoint)?;
    let store = mounted_store(&mountpoint)?.ok_or_else(|| {
        Error::invalid(format!(
            "{} is not an ssefs mount point",
            mountpoint.display()
        ))
    })?;
    // The VMs' runners hold disk files open: the daemon powers them off first.
    if remote::daemon_running(&store)? {
        remote::power_off_vms(&store)?;
    }
    match umount_stale_patiently(&mountpoint, &store) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            return Err(Error::Busy(format!(
                "{} is busy: close the files, loop devices and mounts that use it first",
                mountpoint.display()
            )));
        }
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            // Not root: fuse3's setuid helper may unmount for us.
            let status = Command::new("fusermount3")
                .arg("-u")
                .arg(&mountpoint)
                .status()
                .ctx(|| "run fusermount3 -u (install the fuse3 package)")?;
            if !status.success() {
                return Err(Error::io(format!("unmount {}", mountpoint.display()), e));
            }
        }
        Err(e) => return Err(Error::io(format!("unmount {}", mountpoint.display()), e)),
    }
    let started = Instant::now();
    while remote::daemon_running(&store)? {
        if started.elapsed() > EXIT_PATIENCE {
            return Err(Error::Busy(format!(
                "{} is unmounted but the daemon of {} has not exited after {}s",
                mountpoint.display(),
                store.display(),
                EXIT_PATIENCE.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Finding: the readiness pipe's fd was wrapped twice, so an error after "ready" wrote
    /// into whatever file then had that number. It is taken over once and consumed by the
    /// first report; a descriptor that is not a pipe is refused.
    #[test]
    fn the_readiness_pipe_is_reported_on_once() {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: pipe writes two descriptors into the array.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: we own the read end.
        let mut read_end = unsafe { File::from_raw_fd(fds[0]) };
        let mut ready = Some(ready_pipe(fds[1]).unwrap());
        report_ready(&mut ready, "ready");
        assert!(ready.is_none());
        report_ready(&mut ready, "1\t(Busy) a later error");
        let mut said = String::new();
        read_end.read_to_string(&mut said).unwrap();
        assert_eq!(said, "ready\n");
        let file = tempfile::tempfile().unwrap();
        use std::os::fd::AsRawFd;
        assert!(ready_pipe(file.as_raw_fd()).is_err());
        assert!(ready_pipe(-1).is_err());
    }

    #[test]
    fn mount_fields_unescape_and_paths_normalise() {
        assert_eq!(unescape_mount_field("/a\\040b"), "/a b");
        assert_eq!(unescape_mount_field("/plain"), "/plain");
        assert_eq!(
            absolute(Path::new("/a/./b/../c")).unwrap(),
            PathBuf::from("/a/c")
        );
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
        let canonical = std::fs::canonicalize(&real).unwrap();
        assert_eq!(
            resolve_mountpoint(&dir.path().join("link")).unwrap(),
            canonical
        );
        assert_eq!(resolve_mountpoint(&real).unwrap(), canonical);
    }
}
