//! The data path of the mount: open handles, reads through a buffer of [`crate::buffers`] that
//! is wiped after every reply, writes, fsync, discards and preallocation, and closing.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use fuser::{FileHandle, OpenAccMode, OpenFlags, ReplyData};

use super::StoreFs;
use super::inodes::{FIRST_DYNAMIC, Object};
use super::readahead::ReadAhead;
use crate::buffers;
use crate::control;
use crate::error::{Error, Result};
use crate::ids::Kind;
use crate::log;
use crate::volume::Volume;

/// An open file.
pub(super) enum Handle {
    /// A disk or snapshot: the shared volume, and, when served with direct I/O, the
    /// handle's read-ahead.
    Volume {
        kind: Kind,
        name: String,
        volume: Arc<Volume>,
        readahead: Option<Arc<ReadAhead>>,
    },
    /// A control file.
    Control(control::Node),
}

impl StoreFs {
    pub(super) fn volume_of(&self, fh: FileHandle) -> Result<(Arc<Volume>, String)> {
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

    /// The volume of a handle, with its read-ahead.
    fn volume_for_read(
        &self,
        fh: FileHandle,
    ) -> Result<(Arc<Volume>, String, Option<Arc<ReadAhead>>)> {
        match self.handles.read().get(&fh.0) {
            Some(Handle::Volume {
                volume,
                name,
                readahead,
                ..
            }) => Ok((volume.clone(), name.clone(), readahead.clone())),
            _ => self
                .volume_of(fh)
                .map(|(volume, name)| (volume, name, None)),
        }
    }

    /// Opens a disk, snapshot or control file; `read_ahead` gives a disk or snapshot handle
    /// its own read-ahead (for files the kernel does not cache).
    pub(super) fn open_ino(&self, ino: u64, flags: OpenFlags, read_ahead: bool) -> Result<u64> {
        let write = flags.acc_mode() != OpenAccMode::O_RDONLY;
        let read = flags.acc_mode() != OpenAccMode::O_WRONLY;
        let handle = match self.object_of(ino) {
            Some(Object::Volume(kind, name)) => {
                let volume = self.service.lock().open_volume(kind, &name, write)?;
                Handle::Volume {
                    kind,
                    name,
                    volume,
                    readahead: read_ahead.then(Arc::default),
                }
            }
            Some(Object::VmDir(_)) => {
                return Err(Error::io(
                    "open",
                    std::io::Error::from_raw_os_error(libc::EISDIR),
                ));
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

    /// Reads a disk or snapshot into a request buffer and replies with the bytes. A buffer of
    /// the daemon's own is wiped afterwards so plaintext does not linger in its memory; over
    /// io_uring the buffer is the ring entry's payload, which keeps the reply (and only the
    /// reply) until the next request overwrites it, as the transport's buffers do.
    pub(super) fn read_volume(&self, fh: FileHandle, offset: u64, size: u32, reply: ReplyData) {
        let (volume, name, readahead) = match self.volume_for_read(fh) {
            Ok(v) => v,
            Err(e) => return reply.error(super::errno(&e)),
        };
        if log::debug_enabled() {
            log::debug(&format!("{name}: read {size} at {offset}"));
        }
        if let Some(readahead) = &readahead
            && let Some(ahead) = readahead.take(offset, size)
        {
            match volume.hold_if_unchanged(ahead.generation) {
                Some(hold) => {
                    // The next range is queued before this reply leaves, so the worker reads
                    // it while the reply travels.
                    readahead.after_read(&volume, &name, offset, size);
                    reply.data(ahead.bytes());
                    drop(hold);
                    return;
                }
                // Written since, or revoked: that plaintext must go, now.
                None => readahead.drop_window(),
            }
        }
        // One buffer for the whole sectors of the range, replied from in place: over io_uring
        // the ring entry's payload, where the kernel reads the reply; otherwise a small
        // request uses its thread's own, a large one waits for one of the bounded pool's.
        // The reply is taken inside only once the bytes are there, so any failure (reading,
        // revoked, or no buffer) is answered below with its errno.
        let mut reply = Some(reply);
        let span = volume.span_len(offset, size as usize);
        let read = |buf: &mut [u8]| {
            let range = volume.read_span(buf, offset, size as usize)?;
            if let Some(readahead) = &readahead {
                readahead.after_read(&volume, &name, offset, size);
            }
            // The reply starts the buffer (an unaligned read's bytes are moved there), and
            // the decrypted sector edges after it are wiped: only the bytes asked for remain.
            let len = range.len();
            if range.start != 0 {
                buf.copy_within(range, 0);
            }
            buffers::wipe(&mut buf[len..]);
            if let Some(reply) = reply.take() {
                reply.data(&buf[..len]);
            }
            Ok(())
        };
        // SAFETY: `read` replies from the start of its buffer, as its last step, and does
        // not fail or touch the buffer after that.
        let result = unsafe { buffers::with_reply_buffer(span, read) };
        if let (Err(e), Some(reply)) = (result, reply) {
            reply.error(self.report(&format!("read at {offset}"), &name, &e));
        }
    }

    /// Writes to a disk; returns the count written.
    pub(super) fn write_volume(&self, fh: FileHandle, offset: u64, data: &[u8]) -> Result<usize> {
        let (volume, name) = self.volume_of(fh)?;
        if log::debug_enabled() {
            log::debug(&format!("{name}: write {} at {offset}", data.len()));
        }
        volume
            .write_at(data, offset)
            .inspect_err(|e| log::warn(&format!("{name}: write at {offset}: {e}")))
    }

    /// Makes a disk's written data durable (a control file has nothing to flush: its write
    /// took effect before it returned).
    pub(super) fn fsync_handle(&self, fh: FileHandle) -> Result<()> {
        if self.control_of(fh).is_some() {
            return Ok(());
        }
        let (volume, name) = self.volume_of(fh)?;
        volume
            .sync()
            .inspect_err(|e| log::warn(&format!("{name}: fsync: {e}")))
    }

    /// Discard, write-zeroes and preallocation on a disk.
    pub(super) fn fallocate_volume(
        &self,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
    ) -> Result<()> {
        let (volume, name) = self.volume_of(fh)?;
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
        result.inspect_err(|e| log::warn(&format!("{name}: fallocate {offset}+{length}: {e}")))
    }

    /// Closes a handle: a disk is flushed, and its last close drops the volume and its DEK.
    pub(super) fn release_handle(&self, fh: FileHandle) {
        let handle = self.handles.write().remove(&fh.0);
        if let Some(Handle::Volume {
            kind, name, volume, ..
        }) = handle
        {
            if let Err(e) = volume.sync() {
                log::warn(&format!("{name}: sync on close: {e}"));
            }
            drop(volume);
            self.service.lock().close_volume(kind, &name);
        }
    }
}
