//! The FUSE front end, and the only module that names fuser. Each handler is an adapter: find
//! the object, call the service or the volume, reply with data or with the error's errno. No
//! handler can panic: every failure is an errno and one log line naming the disk.
//!
//! Files: `inodes.rs` (the inode table, attributes, lookups, listings), `data.rs` (open
//! handles and the data path), `readahead.rs` (read-ahead for direct handles), `writeback.rs`
//! (writing the writeback cache back), `control_files.rs` (the control files' attributes,
//! reads and writes); this file holds the file system's state and its `Filesystem` handlers.
//!
//! ```text
//! MOUNT/disks/NAME        read-write plaintext of each disk (size fixed, O_TRUNC ignored)
//! MOUNT/snapshots/NAME    read-only plaintext of each snapshot
//! MOUNT/.control/...      the management plane (see crate::control)
//! ```
//!
//! Who may act: the mount uses `default_permissions` (the kernel checks the modes shown: disks
//! and control files are 0600 or 0400, owned by the store's owner), and, since a mode bit alone
//! is not trusted, every open and every control write checks the caller's uid itself: only
//! root and the store's owner are served, even with `--allow-other`.
//!
//! Host caching (`Caching`): direct I/O by default (optionally with our own read-ahead,
//! `readahead.rs`);
//! `ReadOnly` lets the page cache serve reads; `ReadWrite` adds the kernel's writeback cache,
//! written back before any command reads a disk's data (`writeback.rs`). A disk attached to a
//! VM follows its attachment's caching, and an `O_DIRECT` open is always direct.
//!
//! Revocation and the page cache: even direct files are read through the kernel's page cache
//! by a `MAP_PRIVATE` mapping, and cached modes keep pages there. When a key becomes unusable,
//! the service revokes the open volume first (every later read fails), then the hook installed by
//! [`StoreFs::revocation_hook_source`] asks the kernel to drop the inode's cached pages
//! (`FUSE_NOTIFY_INVAL_INODE`), so a mapped page faults again and its read is refused.
//!
//! Locks: `service` (the store's metadata, held for lookups, opens and closes, never for
//! reads or writes), then `inodes` and `handles` (leaf locks, never held while calling out).

mod control_files;
mod data;
mod inodes;
mod readahead;
pub mod ring;
pub mod session;
mod writeback;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::SystemTime;

use fuser::{
    Errno, FileHandle, Filesystem, FopenFlags, Generation, INodeNo, InitFlags, KernelConfig,
    LockOwner, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen,
    ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};
use parking_lot::{Mutex, RwLock};

use crate::error::{Error, Result};
use crate::ids::Kind;
use crate::log;
use crate::service::Service;
use data::Handle;
use inodes::{FIRST_DYNAMIC, Inodes, Object, ttl};
pub use writeback::{WritebackFlush, reads_disk_data};

/// Largest request we ask the kernel for: 1 MiB.
const MAX_WRITE: u32 = 1 << 20;

/// Builds the hook the service calls after revoking an open volume.
pub struct RevocationHookSource {
    inodes: Arc<Mutex<Inodes>>,
}

/// Invalidations queued by the hook and not yet done.
#[derive(Default)]
struct Pending {
    count: Mutex<usize>,
    done: parking_lot::Condvar,
}

impl RevocationHookSource {
    /// The hook, and what waits for its work. The hook drops the kernel's cached pages of the
    /// revoked file (a cached mode's, or a `MAP_PRIVATE` mapping's), so that none can be read
    /// after revocation: every inode the volume had (a resized one may have two). It runs on a
    /// thread of its own, because the service calls the hook under its lock, and with the
    /// writeback cache the kernel first writes dirty pages back through request threads that
    /// may be waiting for that lock; the command that revoked waits for it after releasing the
    /// lock (`RevocationWait`), so it still returns only once no cached page can be read.
    pub fn hook(
        self,
        notifier: fuser::Notifier,
    ) -> Result<(
        crate::service::RevocationHook,
        crate::service::RevocationWait,
    )> {
        let inodes = self.inodes;
        let pending = Arc::new(Pending::default());
        let (tx, rx) = std::sync::mpsc::channel::<(u64, String)>();
        let worker_pending = pending.clone();
        std::thread::Builder::new()
            .name("ssefs-invalidate".into())
            .spawn(move || {
                for (ino, name) in rx {
                    if let Err(e) = notifier.inval_inode(INodeNo(ino), 0, 0)
                        && e.raw_os_error() != Some(libc::ENOENT)
                    {
                        log::warn(&format!("{name}: cannot drop cached pages: {e}"));
                    }
                    let mut count = worker_pending.count.lock();
                    *count = count.saturating_sub(1);
                    worker_pending.done.notify_all();
                }
            })
            .map_err(|e| Error::io("start the cache invalidation thread", e))?;
        let tx = Mutex::new(tx);
        let hook_pending = pending.clone();
        let hook: crate::service::RevocationHook = Arc::new(move |kind: Kind, name: &str| {
            let wanted = Object::Volume(kind, name.to_string());
            let inos: Vec<u64> = inodes
                .lock()
                .by_ino
                .iter()
                .filter(|(_, object)| **object == wanted)
                .map(|(ino, _)| *ino)
                .collect();
            for ino in inos {
                *hook_pending.count.lock() += 1;
                if tx.lock().send((ino, name.to_string())).is_err() {
                    *hook_pending.count.lock() -= 1;
                    log::warn(&format!(
                        "{name}: cannot drop cached pages: no invalidation thread"
                    ));
                }
            }
        });
        let wait: crate::service::RevocationWait = Arc::new(move || {
            let mut count = pending.count.lock();
            while *count > 0 {
                pending.done.wait(&mut count);
            }
        });
        Ok((hook, wait))
    }
}

/// Host caching of disk and snapshot files, as the cloud names a disk's caching mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Caching {
    /// Direct I/O: no plaintext in the kernel's page cache (the default; a disk attached to a
    /// VM follows its attachment's caching instead).
    #[default]
    None,
    /// The page cache holds plaintext for reads (kernel read-ahead, several reads in flight);
    /// writes go through to the store at once.
    ReadOnly,
    /// The kernel's writeback cache as well: writes land in the page cache and reach the store
    /// in large batches; `fsync`, `close` and every command that reads a disk's data (a
    /// snapshot, a copy) write them out first.
    ReadWrite,
}

impl Caching {
    /// `None`, `ReadOnly` or `ReadWrite`, without case.
    pub fn parse(s: &str) -> Result<Caching, String> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(Caching::None),
            "readonly" => Ok(Caching::ReadOnly),
            "readwrite" => Ok(Caching::ReadWrite),
            _ => Err(format!("caching '{s}' is not None, ReadOnly or ReadWrite")),
        }
    }

    /// The name az uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Caching::None => "None",
            Caching::ReadOnly => "ReadOnly",
            Caching::ReadWrite => "ReadWrite",
        }
    }
}

/// The mounted store.
pub struct StoreFs {
    service: Arc<Mutex<Service>>,
    /// Shared with the revocation hook, which maps a revoked volume to its inode.
    inodes: Arc<Mutex<Inodes>>,
    handles: RwLock<HashMap<u64, Handle>>,
    next_fh: AtomicU64,
    /// The reason of the last refused control write (`/.control/last-error`).
    last_error: Arc<Mutex<String>>,
    uid: u32,
    gid: u32,
    started: SystemTime,
    caching: Caching,
    /// Set with caching ReadWrite: writes the host cache back before a control write that
    /// snapshots a disk.
    writeback: Option<Arc<WritebackFlush>>,
    /// Read-ahead for direct handles, on with `SSEFS_READAHEAD=on` only: measured on this
    /// 2-core machine it brings nothing (the request path already keeps both cores busy), so
    /// it stays an option for machines where reads wait on the backing disk (README).
    readahead: bool,
    /// Whether to ask for FUSE over io_uring at init, and (shared with the session) whether
    /// the kernel granted it.
    ring: Option<Arc<std::sync::atomic::AtomicBool>>,
}

fn errno(e: &Error) -> Errno {
    Errno::from_i32(e.errno())
}

impl StoreFs {
    /// A file system over the service; `uid`/`gid` own every file.
    pub fn new(service: Arc<Mutex<Service>>, uid: u32, gid: u32, caching: Caching) -> Self {
        StoreFs {
            service,
            inodes: Arc::new(Mutex::new(Inodes {
                by_object: HashMap::new(),
                by_ino: HashMap::new(),
                next: FIRST_DYNAMIC,
                sizes: HashMap::new(),
            })),
            handles: RwLock::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            last_error: Arc::new(Mutex::new(String::new())),
            uid,
            gid,
            started: SystemTime::now(),
            caching,
            writeback: None,
            readahead: std::env::var("SSEFS_READAHEAD").is_ok_and(|v| v == "on"),
            ring: None,
        }
    }

    /// The flusher a ReadWrite mount uses before a snapshot made through `/.control`.
    pub fn with_writeback(mut self, writeback: Option<Arc<WritebackFlush>>) -> Self {
        self.writeback = writeback;
        self
    }

    /// Asks for FUSE over io_uring at init; the flag returned says, after the handshake,
    /// whether the kernel granted it.
    pub fn with_ring(mut self) -> (Self, Arc<std::sync::atomic::AtomicBool>) {
        let granted = Arc::new(std::sync::atomic::AtomicBool::new(false));
        self.ring = Some(granted.clone());
        (self, granted)
    }

    /// The largest request payload the kernel sends or takes (a ring entry's payload size).
    pub const MAX_PAYLOAD: usize = MAX_WRITE as usize;

    /// What the revocation hook needs from the file system (its inode table), taken before
    /// the file system moves into its session.
    pub fn revocation_hook_source(&self) -> RevocationHookSource {
        RevocationHookSource {
            inodes: self.inodes.clone(),
        }
    }

    /// Whether the caller of a request may act on this store: root and its owner only.
    fn admits(&self, req: &Request) -> bool {
        req.uid() == 0 || req.uid() == self.uid
    }

    fn report(&self, what: &str, name: &str, e: &Error) -> Errno {
        log::warn(&format!("{name}: {what}: {e}"));
        errno(e)
    }
}

impl Filesystem for StoreFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // O_TRUNC arrives as an open flag (which we ignore: a disk's size is fixed) instead of a
        // truncate to zero, so `dd of=` and `qemu-img convert -n` just work. Not with the
        // writeback cache: there the kernel would set its own size to zero on such an open and
        // trust it from then on; without the flag, O_TRUNC comes as a size-0 setattr without a
        // file handle, which `setattr` answers with the disk's real size.
        let wanted = if self.caching == Caching::ReadWrite {
            InitFlags::FUSE_WRITEBACK_CACHE
        } else {
            InitFlags::FUSE_ATOMIC_O_TRUNC
        };
        if let Err(e) = config.add_capabilities(wanted) {
            log::warn(&format!("kernel lacks capabilities {e:?}"));
        }
        // FUSE over io_uring: offered only with the kernel's enable_uring=Y; the rings are
        // registered once the session runs (ring.rs).
        if let Some(granted) = &self.ring {
            let ok = config
                .add_capabilities(InitFlags::FUSE_OVER_IO_URING)
                .is_ok();
            granted.store(ok, std::sync::atomic::Ordering::Relaxed);
        }
        // Asynchronous direct I/O: an AIO request (fio with libaio, a loop device with direct
        // I/O) is queued without blocking its submitter, so an iodepth of 16 really puts 16
        // requests in flight for the request threads, and a large one is split into several
        // requests in flight at once instead of one after another.
        let _ = config.add_capabilities(InitFlags::FUSE_ASYNC_DIO);
        let _ = config.set_max_write(MAX_WRITE);
        // Cached reads (the mount's caching, or a VM attachment's): let the kernel read ahead
        // as far as one request carries.
        let _ = config.set_max_readahead(MAX_WRITE);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.lookup_name(parent.0, name) {
            Ok(attr) => reply.entry(&ttl(&attr), &attr, Generation(0)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        // With the writeback cache a write() lands in the page cache without a request to us,
        // except this getattr on the writer's handle (file attributes never stay valid): a
        // revoked disk's answer is its revocation errno, so writes fail at once, as reads do.
        if self.caching == Caching::ReadWrite
            && let Some(fh) = fh
            && let Ok((volume, _)) = self.volume_of(fh)
            && let Err(e) = volume.check_usable()
        {
            // Not logged: every write (and fstat) of the revoked file asks; its reads log.
            return reply.error(errno(&e));
        }
        match self.getattr_ino(ino.0) {
            Ok(attr) => reply.attr(&ttl(&attr), &attr),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let is_volume = matches!(self.object_of(ino.0), Some(Object::Volume(..)));
        // With the writeback cache, `open(O_TRUNC)` arrives as this: a size of zero without a
        // file handle. It is ignored as an atomic O_TRUNC would be (the reply's real size
        // keeps the kernel's idea of the size right); a truncate by path to zero is then
        // ignored too (said in the README), while `ftruncate` still gets EPERM.
        let open_trunc = self.caching == Caching::ReadWrite && size == Some(0) && fh.is_none();
        match self.getattr_ino(ino.0) {
            // A disk's size changes only with `disk update --size-gb`; other attributes are
            // fixed and silently kept (touch, chmod by tools that copy metadata). Control files
            // ignore truncation: each write is a whole command.
            Ok(attr) if is_volume && !open_trunc && size.is_some_and(|s| s != attr.size) => {
                let name = self.name_of(ino.0);
                log::warn(&format!(
                    "{name}: truncate refused: resize with 'disk update --size-gb'"
                ));
                reply.error(Errno::EPERM)
            }
            Ok(attr) => reply.attr(&ttl(&attr), &attr),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        if !self.admits(req) {
            log::warn(&format!(
                "{}: open by uid {} refused: only root and the store's owner may",
                self.name_of(ino.0),
                req.uid()
            ));
            return reply.error(Errno::EACCES);
        }
        // Direct I/O (caching None, and control files always): no plaintext in the kernel's
        // page cache, and no double copy. Parallel direct writes: the kernel does not serialise
        // writes to one file, so several requests are encrypted at once (the volume orders
        // partial sectors). ReadOnly caching: the page cache serves reads; writes still reach
        // the store before they return (no writeback cache), and without FOPEN_KEEP_CACHE every
        // open drops what an earlier one cached. A revoked key drops the cached pages at once
        // (the revocation hook), before any read could see them.
        // ReadWrite adds the writeback cache (asked for at init): writes land in the page cache
        // and reach the store in batches, before `fsync` or `close` returns. An `O_DIRECT` open
        // (qemu's `cache=none`, a VM attachment with caching None) is direct in every mode.
        // A disk attached to a VM follows its attachment's caching instead of the mount's
        // (qemu opens it accordingly: see vm::runner), except that the writeback cache is
        // the whole mount's (FUSE asks for it at init), so `ReadWrite` writes back only in a
        // `ReadWrite` mount and goes through otherwise.
        let cached = flags.0 & libc::O_DIRECT == 0
            && match self.object_of(ino.0) {
                Some(Object::Volume(Kind::Disk, name)) => {
                    match self.service.lock().attachment_caching(&name) {
                        Some(attached) => !attached.eq_ignore_ascii_case("None"),
                        None => self.caching != Caching::None,
                    }
                }
                Some(Object::Volume(..)) => self.caching != Caching::None,
                _ => false,
            };
        let open_flags = if cached {
            FopenFlags::empty()
        } else {
            FopenFlags::FOPEN_DIRECT_IO | FopenFlags::FOPEN_PARALLEL_DIRECT_WRITES
        };
        match self.open_ino(ino.0, flags, !cached && self.readahead) {
            Ok(fh) => reply.opened(FileHandle(fh), open_flags),
            Err(e) => reply.error(self.report("open", &self.name_of(ino.0), &e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.control_of(fh) {
            Some(node) => match self.read_control(&node, offset, size) {
                Ok(bytes) => reply.data(&bytes),
                Err(e) => reply.error(errno(&e)),
            },
            None => self.read_volume(fh, offset, size, reply),
        }
    }

    fn write(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        if let Some(node) = self.control_of(fh) {
            if !self.admits(req) {
                log::warn(&format!(
                    ".control write by uid {} refused: only root and the store's owner may act",
                    req.uid()
                ));
                return reply.error(Errno::EACCES);
            }
            let writer = self.control_writer();
            let len = data.len() as u32;
            if writer.waits_for_requests() {
                // Off the request thread: see ControlWriter::waits_for_requests.
                let data = data.to_vec();
                let spawned = std::thread::Builder::new()
                    .name("ssefs-control".into())
                    .spawn(move || match writer.write(&node, &data) {
                        Ok(()) => reply.written(len),
                        Err(code) => reply.error(Errno::from_i32(code)),
                    });
                if let Err(e) = spawned {
                    log::warn(&format!(".control write: cannot start its thread: {e}"));
                }
                return;
            }
            return match writer.write(&node, data) {
                Ok(()) => reply.written(len),
                Err(code) => reply.error(Errno::from_i32(code)),
            };
        }
        match self.write_volume(fh, offset, data) {
            Ok(n) => reply.written(n as u32),
            Err(e) => {
                if self.caching == Caching::ReadWrite && e.errno() == libc::ENOSPC {
                    // A write past the end went into the writeback cache, and the kernel,
                    // which trusts its own size there, now thinks the file grew: the next
                    // lookup gives the disk a new inode, with its real size.
                    self.inodes.lock().forget_size(ino.0);
                }
                reply.error(errno(&e))
            }
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lo: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        match self.fsync_handle(fh) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.release_handle(fh);
        reply.ok();
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        match self.entries(ino.0) {
            Ok(entries) => {
                for (i, (ino, kind, name)) in entries.iter().enumerate().skip(offset as usize) {
                    if reply.add(INodeNo(*ino), (i + 1) as u64, *kind, name) {
                        break;
                    }
                }
                reply.ok()
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let root = self.service.lock().store().root().to_path_buf();
        match statvfs(&root) {
            Ok(s) => reply.statfs(
                s.f_blocks,
                s.f_bfree,
                s.f_bavail,
                s.f_files,
                s.f_ffree,
                s.f_bsize as u32,
                255,
                s.f_frsize as u32,
            ),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        match self.fallocate_volume(fh, offset, length, mode) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn unlink(&self, _req: &Request, _parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        log::warn(&format!(
            "{}: unlink refused: delete disks with 'disk delete'",
            name.to_string_lossy()
        ));
        reply.error(Errno::EPERM);
    }

    fn create(
        &self,
        _req: &Request,
        _parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: fuser::ReplyCreate,
    ) {
        log::warn(&format!(
            "{}: create refused: create disks with 'disk create'",
            name.to_string_lossy()
        ));
        reply.error(Errno::EPERM);
    }
}

fn statvfs(path: &std::path::Path) -> Result<libc::statvfs> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::invalid("store path contains NUL"))?;
    // SAFETY: statvfs writes into a zeroed struct we own; the path is NUL-terminated.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return Err(Error::io("statvfs", std::io::Error::last_os_error()));
    }
    Ok(s)
}
