//! The FUSE front end, and the only module that names fuser. Each handler is an adapter: find
//! the object, call the service or the volume, reply with data or with the error's errno. No
//! handler can panic: every failure is an errno and one log line naming the disk.
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
//! Revocation and the page cache: files are served with direct I/O, but a `MAP_PRIVATE`
//! mapping still reads through the kernel's page cache. When a key becomes unusable, the
//! service revokes the open volume first (every later read fails), then the hook installed by
//! [`StoreFs::revocation_hook`] asks the kernel to drop the inode's cached pages
//! (`FUSE_NOTIFY_INVAL_INODE`), so a mapped page faults again and its read is refused.
//!
//! Locks: `service` (the store's metadata, held for lookups, opens and closes, never for
//! reads or writes), then `inodes` and `handles` (leaf locks, never held while calling out).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, LockOwner, OpenAccMode, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};
use parking_lot::{Mutex, RwLock};
use zeroize::Zeroize;

use crate::control;
use crate::error::{Error, Result};
use crate::ids::{self, Kind};
use crate::log;
use crate::service::Service;
use crate::volume::Volume;

const ROOT: u64 = 1;
const DISKS: u64 = 2;
const SNAPSHOTS: u64 = 3;
const CONTROL: u64 = 4;
const FIRST_DYNAMIC: u64 = 16;
/// The fixed directories never change.
const DIR_TTL: Duration = Duration::from_secs(60);
/// Disks and snapshots come, go and grow through the CLI while mounted: the kernel must ask
/// every time (a lookup reads one small record), so changes show at once.
const FILE_TTL: Duration = Duration::ZERO;
/// Largest request we ask the kernel for: 1 MiB.
const MAX_WRITE: u32 = 1 << 20;

/// What a dynamic inode is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Object {
    /// A disk or snapshot file (canonical name).
    Volume(Kind, String),
    /// A node of `/.control` below its root.
    Control(control::Node),
}

/// Stable inode numbers for disks, snapshots and control nodes, for the life of the mount.
struct Inodes {
    by_object: HashMap<Object, u64>,
    by_ino: HashMap<u64, Object>,
    next: u64,
}

impl Inodes {
    fn assign(&mut self, object: Object) -> u64 {
        if let Some(ino) = self.by_object.get(&object) {
            return *ino;
        }
        let ino = self.next;
        self.next += 1;
        self.by_object.insert(object.clone(), ino);
        self.by_ino.insert(ino, object);
        ino
    }
}

/// An open file.
enum Handle {
    /// A disk or snapshot: the shared volume.
    Volume {
        kind: Kind,
        name: String,
        volume: Arc<Volume>,
    },
    /// A control file.
    Control(control::Node),
}

/// Builds the hook the service calls after revoking an open volume.
pub struct RevocationHookSource {
    inodes: Arc<Mutex<Inodes>>,
}

impl RevocationHookSource {
    /// The hook: it drops the kernel's cached pages of the revoked file (a `MAP_PRIVATE`
    /// mapping's), so that none can be read after revocation.
    pub fn hook(self, notifier: fuser::Notifier) -> crate::service::RevocationHook {
        let inodes = self.inodes;
        Arc::new(move |kind: Kind, name: &str| {
            let wanted = Object::Volume(kind, name.to_string());
            let ino = inodes.lock().by_object.get(&wanted).copied();
            if let Some(ino) = ino
                && let Err(e) = notifier.inval_inode(INodeNo(ino), 0, 0)
                && e.raw_os_error() != Some(libc::ENOENT)
            {
                log::warn(&format!("{name}: cannot drop cached pages: {e}"));
            }
        })
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
    last_error: Mutex<String>,
    uid: u32,
    gid: u32,
    started: SystemTime,
}

thread_local! {
    /// Each request thread's read buffer, reused: allocating 1 MiB per request costs more in
    /// page faults than decrypting it. Wiped after every reply.
    static READ_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn ttl(attr: &FileAttr) -> Duration {
    if attr.kind == FileType::Directory {
        DIR_TTL
    } else {
        FILE_TTL
    }
}

fn errno(e: &Error) -> Errno {
    Errno::from_i32(e.errno())
}

impl StoreFs {
    /// A file system over the service; `uid`/`gid` own every file.
    pub fn new(service: Arc<Mutex<Service>>, uid: u32, gid: u32) -> Self {
        StoreFs {
            service,
            inodes: Arc::new(Mutex::new(Inodes {
                by_object: HashMap::new(),
                by_ino: HashMap::new(),
                next: FIRST_DYNAMIC,
            })),
            handles: RwLock::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            last_error: Mutex::new(String::new()),
            uid,
            gid,
            started: SystemTime::now(),
        }
    }

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

    fn attr(&self, ino: u64, kind: FileType, size: u64, perm: u16) -> FileAttr {
        FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: self.started,
            mtime: self.started,
            ctime: self.started,
            crtime: self.started,
            kind,
            perm,
            nlink: if kind == FileType::Directory { 2 } else { 1 },
            uid: self.uid,
            gid: self.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    fn dir_attr(&self, ino: u64) -> FileAttr {
        self.attr(ino, FileType::Directory, 0, 0o700)
    }

    fn kind_of_dir(ino: u64) -> Option<Kind> {
        match ino {
            DISKS => Some(Kind::Disk),
            SNAPSHOTS => Some(Kind::Snapshot),
            _ => None,
        }
    }

    /// The attributes of a disk or snapshot file, read from its record.
    fn volume_attr(&self, kind: Kind, name: &str) -> Result<FileAttr> {
        let rec = self.service.lock().load_volume(kind, name)?;
        let ino = self
            .inodes
            .lock()
            .assign(Object::Volume(kind, rec.name.clone()));
        let perm = if kind == Kind::Snapshot { 0o400 } else { 0o600 };
        Ok(self.attr(ino, FileType::RegularFile, rec.size_bytes, perm))
    }

    fn object_of(&self, ino: u64) -> Option<Object> {
        if ino == CONTROL {
            return Some(Object::Control(control::Node::Root));
        }
        self.inodes.lock().by_ino.get(&ino).cloned()
    }

    /// What an inode stands for, for log lines.
    fn name_of(&self, ino: u64) -> String {
        match self.object_of(ino) {
            Some(Object::Volume(_, name)) => name,
            Some(Object::Control(node)) => format!(".control {node:?}"),
            None => format!("inode {ino}"),
        }
    }

    fn volume_of(&self, fh: FileHandle) -> Result<(Arc<Volume>, String)> {
        match self.handles.read().get(&fh.0) {
            Some(Handle::Volume { volume, name, .. }) => Ok((volume.clone(), name.clone())),
            Some(Handle::Control(_)) => Err(Error::io(
                "a control file is not a disk",
                std::io::Error::from_raw_os_error(libc::EINVAL),
            )),
            None => Err(Error::io(
                "unknown file handle",
                std::io::Error::from_raw_os_error(libc::EBADF),
            )),
        }
    }

    fn control_of(&self, fh: FileHandle) -> Option<control::Node> {
        match self.handles.read().get(&fh.0) {
            Some(Handle::Control(node)) => Some(node.clone()),
            _ => None,
        }
    }

    /// Attributes of a control node (files show their current size).
    fn control_attr(&self, node: control::Node) -> Result<FileAttr> {
        let ino = match node {
            control::Node::Root => CONTROL,
            ref other => self.inodes.lock().assign(Object::Control(other.clone())),
        };
        if node.is_dir() {
            return Ok(self.dir_attr(ino));
        }
        let size = if node.readable() {
            let last_error = self.last_error.lock().clone();
            node.read(&self.service.lock(), &last_error)?.len() as u64
        } else {
            0
        };
        let perm = match (node.readable(), node.writable()) {
            (true, true) => 0o600,
            (true, false) => 0o400,
            _ => 0o200,
        };
        Ok(self.attr(ino, FileType::RegularFile, size, perm))
    }

    fn getattr_ino(&self, ino: u64) -> Result<FileAttr> {
        match ino {
            ROOT | DISKS | SNAPSHOTS | CONTROL => Ok(self.dir_attr(ino)),
            _ => match self.object_of(ino) {
                Some(Object::Volume(kind, name)) => self.volume_attr(kind, &name),
                Some(Object::Control(node)) => self.control_attr(node),
                None => Err(Error::not_found("inode", ino.to_string())),
            },
        }
    }

    fn lookup_name(&self, parent: u64, name: &OsStr) -> Result<FileAttr> {
        let name = name
            .to_str()
            .ok_or_else(|| Error::not_found("entry", name.to_string_lossy()))?;
        match (parent, name) {
            (ROOT, "disks") => Ok(self.dir_attr(DISKS)),
            (ROOT, "snapshots") => Ok(self.dir_attr(SNAPSHOTS)),
            (ROOT, ".control") => Ok(self.dir_attr(CONTROL)),
            (DISKS | SNAPSHOTS, _) => {
                let kind = Self::kind_of_dir(parent).unwrap_or(Kind::Disk);
                // An invalid name cannot exist: answer ENOENT rather than EINVAL.
                ids::validate_name(kind, name).map_err(|_| Error::not_found(kind.label(), name))?;
                self.volume_attr(kind, name)
            }
            _ => match self.object_of(parent) {
                Some(Object::Control(node)) => {
                    let child = node.child(&self.service.lock(), name)?;
                    self.control_attr(child)
                }
                _ => Err(Error::not_found("entry", name)),
            },
        }
    }

    fn entries(&self, ino: u64) -> Result<Vec<(u64, FileType, String)>> {
        let mut out = vec![
            (ino, FileType::Directory, ".".to_string()),
            (ROOT, FileType::Directory, "..".to_string()),
        ];
        match ino {
            ROOT => {
                out.push((DISKS, FileType::Directory, "disks".into()));
                out.push((SNAPSHOTS, FileType::Directory, "snapshots".into()));
                out.push((CONTROL, FileType::Directory, ".control".into()));
            }
            DISKS | SNAPSHOTS => {
                let kind = Self::kind_of_dir(ino).unwrap_or(Kind::Disk);
                let names = self.service.lock().volume_names(kind)?;
                let mut inodes = self.inodes.lock();
                for name in names {
                    let ino = inodes.assign(Object::Volume(kind, name.clone()));
                    out.push((ino, FileType::RegularFile, name));
                }
            }
            _ => match self.object_of(ino) {
                Some(Object::Control(node)) => {
                    let children = node.children(&self.service.lock())?;
                    let mut inodes = self.inodes.lock();
                    for (name, child) in children {
                        let kind = if child.is_dir() {
                            FileType::Directory
                        } else {
                            FileType::RegularFile
                        };
                        out.push((inodes.assign(Object::Control(child)), kind, name));
                    }
                }
                _ => {
                    return Err(Error::io(
                        "readdir",
                        std::io::Error::from_raw_os_error(libc::ENOTDIR),
                    ));
                }
            },
        }
        Ok(out)
    }

    fn open_ino(&self, ino: u64, flags: OpenFlags) -> Result<u64> {
        let write = flags.acc_mode() != OpenAccMode::O_RDONLY;
        let read = flags.acc_mode() != OpenAccMode::O_WRONLY;
        let handle = match self.object_of(ino) {
            Some(Object::Volume(kind, name)) => {
                let volume = self.service.lock().open_volume(kind, &name, write)?;
                Handle::Volume { kind, name, volume }
            }
            Some(Object::Control(node)) if node.is_dir() => {
                return Err(Error::io(
                    "open",
                    std::io::Error::from_raw_os_error(libc::EISDIR),
                ));
            }
            Some(Object::Control(node)) => {
                if (write && !node.writable()) || (read && !node.readable() && !write) {
                    return Err(Error::io(
                        "this control file does not allow that access",
                        std::io::Error::from_raw_os_error(libc::EACCES),
                    ));
                }
                Handle::Control(node)
            }
            None if ino < FIRST_DYNAMIC => {
                return Err(Error::io(
                    "open",
                    std::io::Error::from_raw_os_error(libc::EISDIR),
                ));
            }
            None => return Err(Error::not_found("inode", ino.to_string())),
        };
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        self.handles.write().insert(fh, handle);
        Ok(fh)
    }

    /// One control write: parse completely, apply, remember the reason of a refusal.
    fn control_write(&self, node: &control::Node, data: &[u8]) -> std::result::Result<(), i32> {
        let result = control::parse(node, data).and_then(|cmd| {
            log::info(&format!(".control: {cmd:?}"));
            control::apply(cmd, &self.service)
        });
        match result {
            Ok(()) => {
                self.last_error.lock().clear();
                Ok(())
            }
            Err(e) => {
                let line = format!("({}) {e}", e.code());
                log::warn(&format!(".control write refused: {line}"));
                *self.last_error.lock() = line;
                Err(control::errno(&e))
            }
        }
    }

    fn report(&self, what: &str, name: &str, e: &Error) -> Errno {
        log::warn(&format!("{name}: {what}: {e}"));
        errno(e)
    }
}

impl Filesystem for StoreFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // O_TRUNC arrives as an open flag (which we ignore: a disk's size is fixed) instead of a
        // truncate to zero, so `dd of=` and `qemu-img convert -n` just work.
        if let Err(e) = config.add_capabilities(InitFlags::FUSE_ATOMIC_O_TRUNC) {
            log::warn(&format!(
                "kernel lacks capabilities {e:?}; O_TRUNC will be refused"
            ));
        }
        let _ = config.set_max_write(MAX_WRITE);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.lookup_name(parent.0, name) {
            Ok(attr) => reply.entry(&ttl(&attr), &attr, Generation(0)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
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
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let is_volume = matches!(self.object_of(ino.0), Some(Object::Volume(..)));
        match self.getattr_ino(ino.0) {
            // A disk's size changes only with `disk update --size-gb`; other attributes are
            // fixed and silently kept (touch, chmod by tools that copy metadata). Control files
            // ignore truncation: each write is a whole command.
            Ok(attr) if is_volume && size.is_some_and(|s| s != attr.size) => {
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
        match self.open_ino(ino.0, flags) {
            // Direct I/O: no plaintext in the kernel's page cache, and no double copy.
            // Parallel direct writes: the kernel does not serialise writes to one file, so
            // several requests are encrypted at once (the volume orders partial sectors).
            Ok(fh) => reply.opened(
                FileHandle(fh),
                FopenFlags::FOPEN_DIRECT_IO | FopenFlags::FOPEN_PARALLEL_DIRECT_WRITES,
            ),
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
        if let Some(node) = self.control_of(fh) {
            let last_error = self.last_error.lock().clone();
            let content = node.read(&self.service.lock(), &last_error);
            return match content {
                Ok(text) => {
                    let bytes = text.as_bytes();
                    let from = (offset as usize).min(bytes.len());
                    let to = from.saturating_add(size as usize).min(bytes.len());
                    reply.data(&bytes[from..to])
                }
                Err(e) => reply.error(errno(&e)),
            };
        }
        let (volume, name) = match self.volume_of(fh) {
            Ok(v) => v,
            Err(e) => return reply.error(errno(&e)),
        };
        if log::debug_enabled() {
            log::debug(&format!("{name}: read {size} at {offset}"));
        }
        READ_BUFFER.with(|cell| {
            let mut fresh = Vec::new();
            let mut guard = cell.try_borrow_mut();
            let buf = match guard.as_deref_mut() {
                Ok(buf) => buf,
                // Re-entered on the same thread (never in practice): use a fresh buffer.
                Err(_) => &mut fresh,
            };
            if buf.len() < size as usize {
                buf.resize(size as usize, 0);
            }
            let buf = &mut buf[..size as usize];
            match volume.read_at(buf, offset) {
                Ok(n) => reply.data(&buf[..n]),
                Err(e) => reply.error(self.report(&format!("read at {offset}"), &name, &e)),
            }
            // Plaintext does not linger in the daemon's memory after the reply.
            buf.zeroize();
        })
    }

    fn write(
        &self,
        req: &Request,
        _ino: INodeNo,
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
            return match self.control_write(&node, data) {
                Ok(()) => reply.written(data.len() as u32),
                Err(code) => reply.error(Errno::from_i32(code)),
            };
        }
        let (volume, name) = match self.volume_of(fh) {
            Ok(v) => v,
            Err(e) => return reply.error(errno(&e)),
        };
        if log::debug_enabled() {
            log::debug(&format!("{name}: write {} at {offset}", data.len()));
        }
        match volume.write_at(data, offset) {
            Ok(n) => reply.written(n as u32),
            Err(e) => reply.error(self.report(&format!("write at {offset}"), &name, &e)),
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
        // A control write has taken effect (durably) before the write returned.
        if self.control_of(fh).is_some() {
            return reply.ok();
        }
        let (volume, name) = match self.volume_of(fh) {
            Ok(v) => v,
            Err(e) => return reply.error(errno(&e)),
        };
        match volume.sync() {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.report("fsync", &name, &e)),
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
        let handle = self.handles.write().remove(&fh.0);
        if let Some(Handle::Volume { kind, name, volume }) = handle {
            if let Err(e) = volume.sync() {
                log::warn(&format!("{name}: sync on close: {e}"));
            }
            drop(volume);
            self.service.lock().close_volume(kind, &name);
        }
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
        let (volume, name) = match self.volume_of(fh) {
            Ok(v) => v,
            Err(e) => return reply.error(errno(&e)),
        };
        let punch = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
        let zero = libc::FALLOC_FL_ZERO_RANGE;
        let result = if mode == punch || mode & !libc::FALLOC_FL_KEEP_SIZE == zero {
            // Discard and write-zeroes: both leave the range reading as zeros, and whole
            // sectors become holes again.
            volume.discard(offset, length)
        } else if mode == 0 || mode == libc::FALLOC_FL_KEEP_SIZE {
            // Preallocation: the disk's size is fixed, so only a range within it makes sense.
            if offset.saturating_add(length) <= volume.size() {
                Ok(())
            } else {
                Err(Error::io(
                    "fallocate past the end",
                    std::io::Error::from_raw_os_error(libc::ENOSPC),
                ))
            }
        } else {
            Err(Error::io(
                format!("fallocate mode {mode:#x}"),
                std::io::Error::from_raw_os_error(libc::EOPNOTSUPP),
            ))
        };
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.report(&format!("fallocate {offset}+{length}"), &name, &e)),
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
