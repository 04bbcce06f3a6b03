//! Read-ahead for files served with direct I/O (caching `None`). The kernel sends a direct
//! read only when the program asks for it, so a sequential reader (`dd`, `cp`, `qemu-img`)
//! keeps one request in flight: each waits for the backing read and the decryption of its
//! own range. When a handle's reads follow each other, the next range of the same length is
//! read and decrypted on a worker thread while the current reply travels to the program; the
//! next request then takes it.
//!
//! What keeps the promises: data read ahead is sent only if the disk's key is still present
//! and no write or discard completed since it was read ([`Volume::hold_if_unchanged`], held
//! while the reply is sent, so a revocation waits for it); otherwise it is dropped and the
//! request is served as usual. Buffers are wiped when dropped, at most [`MAX_BUFFERS`] exist at
//! once, and a handle keeps at most one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, OnceLock};

use parking_lot::{Condvar, Mutex};
use zeroize::Zeroizing;

use crate::log;
use crate::volume::Volume;

/// Requests shorter than this are not worth reading ahead (random 4 KiB I/O).
const MIN_LENGTH: u32 = 128 << 10;
/// The most read-ahead buffers alive at once, over all handles (1 MiB each at most).
const MAX_BUFFERS: usize = 16;

static BUFFERS: AtomicUsize = AtomicUsize::new(0);

/// Plaintext read ahead, wiped on drop; counts against [`MAX_BUFFERS`] while it lives.
struct Buffer(Zeroizing<Vec<u8>>);

impl Drop for Buffer {
    fn drop(&mut self) {
        BUFFERS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Where a worker leaves the result of one read-ahead.
#[derive(Default)]
struct Slot {
    /// `None` while reading; then the data, or `Err` when the read failed.
    done: Mutex<Option<Result<Buffer, ()>>>,
    ready: Condvar,
}

impl Slot {
    fn finish(&self, result: Result<Buffer, ()>) {
        *self.done.lock() = Some(result);
        self.ready.notify_all();
    }

    fn wait(&self) -> Result<Buffer, ()> {
        let mut done = self.done.lock();
        loop {
            if let Some(result) = done.take() {
                return result;
            }
            self.ready.wait(&mut done);
        }
    }
}

/// A read-ahead started for `[offset, offset + len)` when the disk was at `generation`.
struct Pending {
    offset: u64,
    len: u32,
    generation: u64,
    slot: Arc<Slot>,
}

/// One handle's read-ahead state.
#[derive(Default)]
pub(super) struct ReadAhead {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Where the last read ended: a read starting there is sequential.
    next: u64,
    pending: Option<Pending>,
}

/// Data read ahead that may answer a request.
pub(super) struct Ahead {
    pub(super) generation: u64,
    buffer: Buffer,
}

impl Ahead {
    pub(super) fn bytes(&self) -> &[u8] {
        &self.buffer.0
    }
}

impl ReadAhead {
    /// The data read ahead for exactly `[offset, offset + len)`, waiting for it if the worker
    /// is still reading; `None` if there is none (anything else read ahead is dropped).
    pub(super) fn take(&self, offset: u64, len: u32) -> Option<Ahead> {
        let pending = self.state.lock().pending.take()?;
        if pending.offset != offset || pending.len != len {
            return None;
        }
        let buffer = pending.slot.wait().ok()?;
        Some(Ahead {
            generation: pending.generation,
            buffer,
        })
    }

    /// Notes a read of `[offset, offset + len)` served; if it followed the previous one, reads
    /// the next range of the same length ahead.
    pub(super) fn after_read(&self, volume: &Arc<Volume>, offset: u64, len: u32) {
        let next = offset + u64::from(len);
        let mut state = self.state.lock();
        let sequential = state.next == offset;
        state.next = next;
        if !sequential || len < MIN_LENGTH || next >= volume.size() || state.pending.is_some() {
            return;
        }
        if BUFFERS.fetch_add(1, Ordering::AcqRel) >= MAX_BUFFERS {
            BUFFERS.fetch_sub(1, Ordering::AcqRel);
            return;
        }
        let slot = Arc::new(Slot::default());
        let generation = volume.generation();
        let job = Job {
            volume: volume.clone(),
            offset: next,
            len,
            slot: slot.clone(),
        };
        if worker().lock().send(job).is_err() {
            BUFFERS.fetch_sub(1, Ordering::AcqRel);
            return;
        }
        state.pending = Some(Pending {
            offset: next,
            len,
            generation,
            slot,
        });
    }
}

/// One read-ahead for the worker. The buffer it fills was counted by whoever queued it.
struct Job {
    volume: Arc<Volume>,
    offset: u64,
    len: u32,
    slot: Arc<Slot>,
}

impl Job {
    fn run(self) {
        let mut bytes = Zeroizing::new(vec![0u8; self.len as usize]);
        let result = match self.volume.read_at(&mut bytes, self.offset) {
            Ok(n) => {
                bytes.truncate(n);
                Ok(Buffer(bytes))
            }
            Err(_) => {
                // The request that wanted this range reads it again and reports the error.
                drop(Buffer(bytes));
                Err(())
            }
        };
        self.slot.finish(result);
    }
}

/// The queue of the mount's read-ahead worker, started at the first use. One thread: the
/// decryption of a large range already uses every core (see `volume`).
fn worker() -> &'static Mutex<Sender<Job>> {
    static WORKER: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    WORKER.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let spawned = std::thread::Builder::new()
            .name("ssefs-readahead".into())
            .spawn(move || {
                for job in rx {
                    job.run();
                }
            });
        if let Err(e) = spawned {
            // The receiver is gone with the closure: every send fails, and reads are served
            // without read-ahead.
            log::warn(&format!("no read-ahead: cannot start its thread: {e}"));
        }
        Mutex::new(tx)
    })
}
