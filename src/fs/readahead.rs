//! Read-ahead for files served with direct I/O (caching `None`). The kernel sends a direct
//! read only when the program asks for it, so a sequential reader (`dd`, `cp`, `qemu-img`)
//! keeps one request in flight: each waits for the backing read and the decryption of its
//! own range. Once a handle's reads follow each other, the next MiB is read and decrypted on
//! a worker thread while the current reply travels to the program; the next requests are
//! served from it.
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

/// A reader is sequential once this much was read in a row (random 4 KiB I/O never is).
const MIN_RUN: u64 = 128 << 10;
/// How much is read ahead at a time: the largest request the kernel sends. A program's read
/// may arrive split in two (up to a page boundary of its buffer, then the rest), so the window
/// is fixed rather than the last request's length, and serves every request inside it.
const WINDOW: u32 = 1 << 20;
/// The most read-ahead buffers alive at once, over all handles.
const MAX_BUFFERS: usize = 16;

static BUFFERS: AtomicUsize = AtomicUsize::new(0);

/// Plaintext read ahead, wiped on drop; counts against [`MAX_BUFFERS`] while it lives.
pub(super) struct Buffer(Zeroizing<Vec<u8>>);

impl Drop for Buffer {
    fn drop(&mut self) {
        BUFFERS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Where the worker leaves the result of one read-ahead.
#[derive(Default)]
struct Slot {
    /// `None` while reading; then the data, or `Err` when the read failed.
    done: Mutex<Option<Result<Arc<Buffer>, ()>>>,
    ready: Condvar,
}

impl Slot {
    fn finish(&self, result: Result<Arc<Buffer>, ()>) {
        *self.done.lock() = Some(result);
        self.ready.notify_all();
    }

    fn wait(&self) -> Result<Arc<Buffer>, ()> {
        let mut done = self.done.lock();
        loop {
            if let Some(result) = done.as_ref() {
                return result.clone();
            }
            self.ready.wait(&mut done);
        }
    }
}

/// A read-ahead of `[offset, offset + WINDOW)` started when the disk was at `generation`.
struct Window {
    offset: u64,
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
    /// Bytes read in a row so far.
    run: u64,
    window: Option<Window>,
}

/// Data read ahead that answers a request: `len` bytes at `start` of the buffer.
pub(super) struct Ahead {
    pub(super) generation: u64,
    buffer: Arc<Buffer>,
    start: usize,
    len: usize,
}

impl Ahead {
    pub(super) fn bytes(&self) -> &[u8] {
        &self.buffer.0[self.start..self.start + self.len]
    }
}

impl ReadAhead {
    /// The data read ahead for `[offset, offset + len)`, waiting for it if the worker is still
    /// reading; `None` if the window does not hold the whole range (a window the reader left
    /// is dropped).
    pub(super) fn take(&self, offset: u64, len: u32) -> Option<Ahead> {
        let (window_offset, generation, slot) = {
            let mut state = self.state.lock();
            let window = state.window.as_ref()?;
            let inside = offset >= window.offset
                && offset + u64::from(len) <= window.offset + u64::from(WINDOW);
            if !inside {
                state.window = None;
                return None;
            }
            (window.offset, window.generation, window.slot.clone())
        };
        let Ok(buffer) = slot.wait() else {
            self.drop_window();
            return None;
        };
        // Short only at the end of the disk: serve what the disk has there (nothing past it;
        // a direct read is not clipped to the file's size by the kernel).
        let start = ((offset - window_offset) as usize).min(buffer.0.len());
        let len = (len as usize).min(buffer.0.len() - start);
        Some(Ahead {
            generation,
            buffer,
            start,
            len,
        })
    }

    /// Drops the window and its plaintext (data that may not be sent: the disk was written or
    /// its key revoked, or the read failed).
    pub(super) fn drop_window(&self) {
        self.state.lock().window = None;
    }

    /// Notes a read of `[offset, offset + len)`; once the reader is sequential and has used up
    /// the current window, reads the next one ahead.
    pub(super) fn after_read(&self, volume: &Arc<Volume>, name: &str, offset: u64, len: u32) {
        let next = offset + u64::from(len);
        let mut state = self.state.lock();
        state.run = if state.next == offset {
            state.run + u64::from(len)
        } else {
            u64::from(len)
        };
        state.next = next;
        let window_left = state
            .window
            .as_ref()
            .is_some_and(|w| next < w.offset + u64::from(WINDOW));
        if state.run < MIN_RUN || window_left || next >= volume.size() {
            return;
        }
        state.window = None;
        if BUFFERS.fetch_add(1, Ordering::AcqRel) >= MAX_BUFFERS {
            BUFFERS.fetch_sub(1, Ordering::AcqRel);
            return;
        }
        let slot = Arc::new(Slot::default());
        let generation = volume.generation();
        let job = Job {
            volume: volume.clone(),
            offset: next,
            slot: slot.clone(),
        };
        if worker().lock().send(job).is_err() {
            BUFFERS.fetch_sub(1, Ordering::AcqRel);
            return;
        }
        if log::debug_enabled() {
            log::debug(&format!("{name}: read ahead {WINDOW} at {next}"));
        }
        state.window = Some(Window {
            offset: next,
            generation,
            slot,
        });
    }
}

/// One read-ahead for the worker. The buffer it fills was counted by whoever queued it.
struct Job {
    volume: Arc<Volume>,
    offset: u64,
    slot: Arc<Slot>,
}

impl Drop for Job {
    /// A job dropped unrun (the worker gone) must not leave a reader waiting for its slot.
    fn drop(&mut self) {
        let mut done = self.slot.done.lock();
        if done.is_none() {
            *done = Some(Err(()));
            self.slot.ready.notify_all();
        }
    }
}

impl Job {
    fn run(self) {
        // Counted by whoever queued the job, and uncounted when dropped, on every path.
        let mut buffer = Buffer(Zeroizing::new(vec![0u8; WINDOW as usize]));
        let result = match self.volume.read_at(&mut buffer.0, self.offset) {
            Ok(n) => {
                buffer.0.truncate(n);
                Ok(Arc::new(buffer))
            }
            // The request that wanted this range reads it again and reports the error.
            Err(_) => Err(()),
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
