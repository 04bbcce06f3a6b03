//! FUSE over io_uring: the kernel hands requests to ring entries instead of `/dev/fuse` reads.
//!
//! With `/sys/module/fuse/parameters/enable_uring` at Y and `FUSE_OVER_IO_URING` granted at
//! init, the daemon registers entries for every queue: one queue per possible CPU, and a
//! request goes to the queue of the CPU its caller runs on. Once every queue has an entry, the
//! kernel sends every request through the rings except FORGET and INTERRUPT, which stay on
//! `/dev/fuse` with the notifications (the revocation's cache invalidation).
//!
//! The protocol, as libfuse's `lib/fuse_uring.c` speaks it: an entry is two buffers, the
//! 288-byte `fuse_uring_req_header` (in/out header, operation header, `fuse_uring_ent_in_out`)
//! and a payload of the connection's largest request. `FUSE_IO_URING_CMD_REGISTER`, an
//! `IORING_OP_URING_CMD` on the `/dev/fuse` descriptor with the two iovecs, completes when a
//! request is in the buffers; the reply goes into the same buffers, and
//! `FUSE_IO_URING_CMD_COMMIT_AND_FETCH` returns it and waits for the next request.
//!
//! Unlike libfuse, which serves a queue from one thread, every entry here has its own thread
//! and its own small io_uring, so a queue serves as many requests at once as it has entries,
//! as `/dev/fuse` does with its request threads: 4 KiB random I/O from one process (one CPU,
//! one queue) is not served one request after another (the README has the measurements).
//!
//! A request reaches fuser's parser and ssefs's handlers exactly as from `/dev/fuse`
//! (`fuse_in_header`, operation header, payload; vendor/fuser's `Dispatcher`), without copying
//! the payload: one mapping per entry holds the headers in its first page and the payload from
//! the second, and the two request headers are copied to just before the payload. A reply
//! is written straight into the entry when the request has no payload (reads: the large
//! replies), so that the bytes fuser is still reading and the bytes written never overlap;
//! otherwise (writes, lookups: small replies) it is staged and copied once the handler is done.
//! A read goes further: its sectors are decrypted in the entry's payload itself
//! (`buffers::with_reply_buffer`), so its bytes are never copied in user space.

use std::io::{self, IoSlice};
use std::os::fd::RawFd;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

use fuser::{Dispatcher, Filesystem, RawReplySender};
use io_uring::{IoUring, cqueue, opcode, squeue::Entry128, types};
use parking_lot::{Condvar, Mutex};

use crate::buffers::{self, Region};
use crate::log;

/// The opcodes that get no reply.
const FUSE_FORGET: u32 = 2;
const FUSE_BATCH_FORGET: u32 = 42;
/// `enum fuse_uring_cmd` (include/uapi/linux/fuse.h).
const CMD_REGISTER: u32 = 1;
const CMD_COMMIT_AND_FETCH: u32 = 2;
/// `struct fuse_uring_req_header`: the offsets of its three parts, and its size.
const HEADER_IN_OUT: usize = 0;
const HEADER_OP_IN: usize = 128;
const OP_IN_SIZE: usize = 128;
const HEADER_ENT_IN_OUT: usize = 256;
const HEADERS_SIZE: usize = 288;
/// `struct fuse_uring_ent_in_out`: `commit_id` and `payload_sz`.
const ENT_COMMIT_ID: usize = HEADER_ENT_IN_OUT + 8;
const ENT_PAYLOAD_SZ: usize = HEADER_ENT_IN_OUT + 16;
const IN_HEADER_SIZE: usize = 40;
const OUT_HEADER_SIZE: usize = 16;
const PAGE: usize = 4096;
/// How long an idle entry sleeps before it looks at the stop flag (only matters at unmount,
/// when the kernel has normally completed every entry with an error already).
const IDLE_WAKE_SECS: u64 = 1;

/// How a mount talks to the kernel (`ssefs mount --transport`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// io_uring when the kernel offers it, else `/dev/fuse`.
    Auto,
    /// `/dev/fuse` only.
    DevFuse,
    /// io_uring, and the mount fails when the kernel does not offer it.
    IoUring,
}

impl Transport {
    /// The names `--transport` takes.
    pub fn parse(s: &str) -> std::result::Result<Transport, String> {
        match s {
            "auto" => Ok(Transport::Auto),
            "dev-fuse" => Ok(Transport::DevFuse),
            "io-uring" => Ok(Transport::IoUring),
            other => Err(format!(
                "'{other}' is not a transport: auto, dev-fuse or io-uring"
            )),
        }
    }

    /// The name `--transport` takes, to pass the choice on to a detached daemon.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Auto => "auto",
            Transport::DevFuse => "dev-fuse",
            Transport::IoUring => "io-uring",
        }
    }
}

/// The kernel's switch for FUSE over io_uring (`CONFIG_FUSE_IO_URING`; root writes Y or N).
pub const ENABLE_URING: &str = "/sys/module/fuse/parameters/enable_uring";

/// What the kernel's switch says: `None` when this kernel has no FUSE over io_uring.
pub fn kernel_switch() -> Option<String> {
    std::fs::read_to_string(ENABLE_URING)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Why a mount is not served over io_uring, when it is not (the transport line says it).
pub fn dev_fuse_reason(choice: Transport, switch: Option<&str>) -> Option<String> {
    match (choice, switch) {
        (Transport::DevFuse, _) => Some("--transport dev-fuse".into()),
        (_, None) => Some("this kernel has no FUSE over io_uring".into()),
        (_, Some("Y")) => None,
        (_, Some(v)) => Some(format!("io_uring disabled in the kernel: enable_uring={v}")),
    }
}

/// Why this mount will not be served over io_uring, from the choice, the kernel's switch and
/// whether this process may use io_uring at all ([`probe`]); `None`: it will try.
pub fn unavailable(choice: Transport) -> Option<String> {
    dev_fuse_reason(choice, kernel_switch().as_deref()).or_else(|| {
        probe()
            .err()
            .map(|e| format!("io_uring unavailable to this process: {e}"))
    })
}

/// The transport line for `/dev/fuse` and why.
pub fn dev_fuse_line(reason: &str) -> String {
    format!("transport: /dev/fuse ({reason})")
}

/// The transport line for a mount served by its rings.
pub fn ring_line(per_queue: &[usize]) -> String {
    let total: usize = per_queue.iter().sum();
    format!(
        "transport: io_uring ({} queues, {total} entries, each served by its own thread; enable_uring=Y)",
        per_queue.len()
    )
}

/// The queues the kernel keeps: one per possible CPU (`num_possible_cpus()`), every one of
/// which needs an entry before the kernel uses the rings.
pub fn possible_cpus() -> io::Result<usize> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible")?;
    parse_cpu_list(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("/sys/devices/system/cpu/possible: {:?}", text.trim()),
        )
    })
}

/// How many CPUs a list such as `0-3,8` names.
fn parse_cpu_list(text: &str) -> Option<usize> {
    let mut count = 0;
    for part in text.trim().split(',') {
        let (first, last) = part.split_once('-').unwrap_or((part, part));
        let (first, last) = (
            first.trim().parse::<usize>().ok()?,
            last.trim().parse::<usize>().ok()?,
        );
        count += last.checked_sub(first)? + 1;
    }
    Some(count)
}

/// Builds a ring as the entries do and drops it: whether this process may use io_uring at all
/// (`kernel.io_uring_disabled`, a seccomp filter, the descriptor limit). Asked before the
/// mount, because once the kernel has granted FUSE over io_uring at init it holds every request
/// until each queue has an entry or a registration is refused.
pub fn probe() -> io::Result<()> {
    new_ring().map(drop)
}

/// A ring for one entry: 128-byte SQEs (the command area), used by one thread only, which only
/// ever waits in io_uring_enter, so the kernel may run the command's completion work there
/// (no signal to interrupt the thread).
fn new_ring() -> io::Result<IoUring<Entry128, cqueue::Entry>> {
    IoUring::<Entry128, cqueue::Entry>::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(2)
}

/// One entry's memory: the request header in the first page, the payload from the second.
/// Both the kernel (between a command's submission and its completion) and this process write
/// it, so it is only ever reached through raw pointers, under the rules in the module doc.
struct EntryBuffer {
    region: Region,
    payload_len: usize,
}

// SAFETY: the mapping is plain memory owned by this value; who writes it when is ordered by the
// ring's commands and the reply's mutex (module doc).
unsafe impl Sync for EntryBuffer {}

impl std::fmt::Debug for EntryBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EntryBuffer({} bytes of payload)", self.payload_len)
    }
}

impl EntryBuffer {
    fn new(payload_len: usize) -> io::Result<EntryBuffer> {
        Ok(EntryBuffer {
            region: Region::map(PAGE + payload_len)?,
            payload_len,
        })
    }

    fn headers(&self) -> *mut u8 {
        self.region.as_ptr()
    }

    fn payload(&self) -> *mut u8 {
        // SAFETY: the mapping is PAGE + payload_len long.
        unsafe { self.region.as_ptr().add(PAGE) }
    }

    fn read_u32(&self, offset: usize) -> u32 {
        debug_assert!(offset + 4 <= HEADERS_SIZE);
        // SAFETY: within the header page; unaligned reads are allowed.
        unsafe { std::ptr::read_unaligned(self.headers().add(offset).cast::<u32>()) }
    }

    fn read_u64(&self, offset: usize) -> u64 {
        debug_assert!(offset + 8 <= HEADERS_SIZE);
        // SAFETY: as above.
        unsafe { std::ptr::read_unaligned(self.headers().add(offset).cast::<u64>()) }
    }

    /// The `unique` of the request in the entry (`fuse_in_header`, before any reply).
    fn request_unique(&self) -> u64 {
        self.read_u64(HEADER_IN_OUT + 8)
    }

    fn write_u32(&self, offset: usize, value: u32) {
        debug_assert!(offset + 4 <= HEADERS_SIZE);
        // SAFETY: as above.
        unsafe { std::ptr::write_unaligned(self.headers().add(offset).cast::<u32>(), value) }
    }

    /// Writes a reply (`fuse_out_header`, then its arguments) where the kernel reads it: the
    /// header into the in/out area, the rest into the payload. Returns the payload's length.
    /// The caller has checked that it fits.
    fn write_reply<P: std::ops::Deref<Target = [u8]>>(&self, parts: &[P]) -> usize {
        let mut pos = 0;
        for part in parts {
            let mut rest: &[u8] = part;
            while !rest.is_empty() {
                let (dest, n) = if pos < OUT_HEADER_SIZE {
                    // SAFETY: within the in/out area of the header page.
                    let dest = unsafe { self.headers().add(HEADER_IN_OUT + pos) };
                    (dest, rest.len().min(OUT_HEADER_SIZE - pos))
                } else {
                    // SAFETY: within the payload (the caller checked the total).
                    let dest = unsafe { self.payload().add(pos - OUT_HEADER_SIZE) };
                    (dest, rest.len())
                };
                // A read decrypted in the payload (buffers::with_reply_buffer) is already in
                // place: nothing to write, and nothing may be (its buffer is still borrowed).
                if !std::ptr::eq(rest.as_ptr(), dest) {
                    // SAFETY: `dest` has room for `n` bytes (above); the source is a separate
                    // buffer (a reply from the payload starts at its start, which is `dest`).
                    unsafe { std::ptr::copy_nonoverlapping(rest.as_ptr(), dest, n) };
                }
                pos += n;
                rest = &rest[n..];
            }
        }
        pos.saturating_sub(OUT_HEADER_SIZE)
    }
}

/// Where one request's reply stands.
enum ReplyState {
    /// The handler has not answered yet.
    Waiting,
    /// Written into the entry; the payload's length.
    Written(usize),
    /// Kept aside until the handler is done with the request's bytes.
    Staged(Vec<u8>),
}

/// The reply channel of one request on one entry (fuser's `RawReplySender`).
struct EntryReply {
    buffer: Arc<EntryBuffer>,
    /// Whether the reply may go straight into the entry: only when the request has no
    /// payload, so that it never overlaps the request bytes fuser reads.
    direct: bool,
    state: Mutex<ReplyState>,
    answered: Condvar,
}

impl std::fmt::Debug for EntryReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EntryReply(direct: {})", self.direct)
    }
}

impl RawReplySender for EntryReply {
    fn send(&self, data: &[IoSlice<'_>]) -> io::Result<()> {
        let total: usize = data.iter().map(|s| s.len()).sum();
        let mut state = self.state.lock();
        if !matches!(*state, ReplyState::Waiting) {
            return Err(io::Error::from_raw_os_error(libc::EALREADY));
        }
        if total < OUT_HEADER_SIZE || total - OUT_HEADER_SIZE > self.buffer.payload_len {
            // The entry must still be answered, or it would wait forever: with EIO.
            *state =
                ReplyState::Staged(error_header(self.buffer.request_unique(), libc::EIO).into());
            self.answered.notify_one();
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        *state = if self.direct {
            ReplyState::Written(self.buffer.write_reply(data))
        } else {
            let mut staged = Vec::with_capacity(total);
            for part in data {
                staged.extend_from_slice(part);
            }
            ReplyState::Staged(staged)
        };
        self.answered.notify_one();
        Ok(())
    }
}

impl EntryReply {
    /// Waits for the handler's reply (fuser answers EIO for a reply dropped unanswered) and
    /// leaves it in the entry; returns the payload's length.
    fn wait(&self) -> usize {
        let mut state = self.state.lock();
        loop {
            match &*state {
                ReplyState::Waiting => self.answered.wait(&mut state),
                ReplyState::Written(len) => return *len,
                ReplyState::Staged(bytes) => return self.buffer.write_reply(&[bytes.as_slice()]),
            }
        }
    }
}

/// A reply of `fuse_out_header` alone: the request `unique` failed with `errno`.
fn error_header(unique: u64, errno: i32) -> [u8; OUT_HEADER_SIZE] {
    let mut header = [0u8; OUT_HEADER_SIZE];
    header[0..4].copy_from_slice(&(OUT_HEADER_SIZE as u32).to_ne_bytes());
    header[4..8].copy_from_slice(&(-errno).to_ne_bytes());
    header[8..16].copy_from_slice(&unique.to_ne_bytes());
    header
}

/// One entry: its ring, its buffers, and the queue it serves.
struct RingEntry {
    ring: IoUring<Entry128, cqueue::Entry>,
    buffer: Arc<EntryBuffer>,
    /// The two iovecs REGISTER points at (read by the kernel at submission).
    iov: Box<[libc::iovec; 2]>,
    qid: u16,
    dev: RawFd,
}

/// `struct fuse_uring_cmd_req { flags, commit_id, qid, padding }` in an SQE's command area.
fn cmd_req(commit_id: u64, qid: u16) -> [u8; 80] {
    let mut cmd = [0u8; 80];
    cmd[8..16].copy_from_slice(&commit_id.to_ne_bytes());
    cmd[16..18].copy_from_slice(&qid.to_ne_bytes());
    cmd
}

/// Sets an SQE's `len` (offset 24 of `struct io_uring_sqe`), which REGISTER needs (the number
/// of iovecs) and the io-uring crate's `UringCmd80` has no setter for.
fn with_len(sqe: Entry128, len: u32) -> Entry128 {
    // SAFETY: Entry128 is repr(C): the 64-byte `io_uring_sqe` then 64 bytes of command, all
    // plain integers, so every byte pattern is valid and the round trip keeps it.
    let mut bytes: [u8; 128] = unsafe { std::mem::transmute(sqe) };
    bytes[24..28].copy_from_slice(&len.to_ne_bytes());
    // SAFETY: as above.
    unsafe { std::mem::transmute::<[u8; 128], Entry128>(bytes) }
}

impl RingEntry {
    /// Sets the entry up and registers it on queue `qid`; an error is the kernel's answer.
    fn register(dev: RawFd, qid: u16, payload_len: usize) -> io::Result<RingEntry> {
        let ring = new_ring()?;
        let buffer = Arc::new(EntryBuffer::new(payload_len)?);
        let iov = Box::new([
            libc::iovec {
                iov_base: buffer.headers().cast(),
                iov_len: HEADERS_SIZE,
            },
            libc::iovec {
                iov_base: buffer.payload().cast(),
                iov_len: payload_len,
            },
        ]);
        let mut entry = RingEntry {
            ring,
            buffer,
            iov,
            qid,
            dev,
        };
        let sqe = opcode::UringCmd80::new(types::Fd(dev), CMD_REGISTER)
            .cmd(cmd_req(0, qid))
            .addr(Some(entry.iov.as_ptr() as u64))
            .build();
        entry.submit(with_len(sqe, 2))?;
        // A refused registration completes at once; an accepted one waits for a request.
        if let Some(cqe) = entry.ring.completion().next() {
            return Err(io::Error::from_raw_os_error(-cqe.result()));
        }
        Ok(entry)
    }

    fn submit(&mut self, sqe: Entry128) -> io::Result<()> {
        // SAFETY: the SQE points only at `self.iov` and the entry's buffers, which live as
        // long as the ring (both are dropped with `self`, the ring first).
        unsafe { self.ring.submission().push(&sqe) }
            .map_err(|_| io::Error::from_raw_os_error(libc::EBUSY))?;
        loop {
            match self.ring.submit() {
                Ok(_) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits for the entry's command to complete: `Some(result)`, or `None` once `stop` is set.
    fn wait(&mut self, stop: &AtomicBool) -> io::Result<Option<i32>> {
        loop {
            if let Some(cqe) = self.ring.completion().next() {
                return Ok(Some(cqe.result()));
            }
            if stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            let timeout = types::Timespec::new().sec(IDLE_WAKE_SECS);
            let args = types::SubmitArgs::new().timespec(&timeout);
            match self.ring.submitter().submit_with_args(1, &args) {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Serves requests until the connection ends (or `stop`).
    fn serve<FS: Filesystem>(&mut self, dispatcher: &Dispatcher<FS>, stop: &AtomicBool) {
        loop {
            let result = match self.wait(stop) {
                Ok(Some(result)) => result,
                Ok(None) => return,
                Err(e) => {
                    log::warn(&format!("io_uring queue {}: {e}", self.qid));
                    return;
                }
            };
            if result < 0 {
                // ENOTCONN/ECONNABORTED/ECANCELED: the mount is gone, the normal way to end.
                if !matches!(
                    -result,
                    libc::ENOTCONN | libc::ECONNABORTED | libc::ECANCELED
                ) {
                    let e = io::Error::from_raw_os_error(-result);
                    log::warn(&format!("io_uring queue {}: {e}", self.qid));
                }
                return;
            }
            let commit_id = self.buffer.read_u64(ENT_COMMIT_ID);
            let payload_len = self.handle_request(dispatcher);
            self.buffer.write_u32(ENT_PAYLOAD_SZ, payload_len as u32);
            let sqe = opcode::UringCmd80::new(types::Fd(self.dev), CMD_COMMIT_AND_FETCH)
                .cmd(cmd_req(commit_id, self.qid))
                .build();
            // Queued only: the next wait submits it and waits for the next request in one
            // system call.
            // SAFETY: the SQE points at nothing but the entry's own command area.
            if unsafe { self.ring.submission().push(&sqe) }.is_err() {
                log::warn(&format!("io_uring queue {}: commit: no room", self.qid));
                return;
            }
        }
    }

    /// Hands the request in the entry to fuser and waits for its reply; returns the reply's
    /// payload length (the reply is in the entry).
    fn handle_request<FS: Filesystem>(&self, dispatcher: &Dispatcher<FS>) -> usize {
        let buffer = &self.buffer;
        let payload_len = buffer.read_u32(ENT_PAYLOAD_SZ) as usize;
        // fuse_in_header.len counts the header, the operation header and the payload.
        let total = buffer.read_u32(HEADER_IN_OUT) as usize;
        let op_len = total.checked_sub(IN_HEADER_SIZE + payload_len);
        let reply = Arc::new(EntryReply {
            buffer: buffer.clone(),
            direct: payload_len == 0,
            state: Mutex::new(ReplyState::Waiting),
            answered: Condvar::new(),
        });
        match op_len {
            // fuser reads the headers in place: they must start 8-byte aligned, as every
            // operation header's size keeps them.
            Some(op_len)
                if op_len <= OP_IN_SIZE && op_len % 8 == 0 && payload_len <= buffer.payload_len =>
            {
                let start = IN_HEADER_SIZE + op_len;
                // SAFETY: the request bytes go to the end of the header page (start <= 168 <
                // PAGE - HEADERS_SIZE), just before the payload; nothing else refers to them.
                let request = unsafe {
                    let dest = buffer.payload().sub(start);
                    let headers = buffer.headers();
                    std::ptr::copy_nonoverlapping(headers.add(HEADER_IN_OUT), dest, IN_HEADER_SIZE);
                    std::ptr::copy_nonoverlapping(
                        headers.add(HEADER_OP_IN),
                        dest.add(IN_HEADER_SIZE),
                        op_len,
                    );
                    std::slice::from_raw_parts(dest, start + payload_len)
                };
                // A handler that panics must not take the entry (and the request's caller)
                // with it: the request is answered with EIO.
                let dispatch = || dispatcher.dispatch(request, reply.clone());
                let dispatched = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    match NonNull::new(buffer.payload()) {
                        // A request without payload (a read) may build its reply in the
                        // payload, where the kernel reads it: no copy of a read's bytes.
                        // SAFETY: the payload is the entry's own mapping, alive as long as
                        // `buffer`; the request bytes end where it starts, and only this
                        // request's reply writes it until the entry is committed.
                        Some(payload) if reply.direct => unsafe {
                            buffers::with_reply_area(payload, buffer.payload_len, dispatch)
                        },
                        _ => dispatch(),
                    }
                }));
                match dispatched {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        log::warn(&format!("io_uring queue {}: {e}", self.qid));
                        self.error_reply(&reply, libc::EIO);
                    }
                    Err(_) => {
                        log::warn(&format!("io_uring queue {}: a handler panicked", self.qid));
                        self.error_reply(&reply, libc::EIO);
                    }
                }
                // FORGET expects no reply, and fuser gives none; the entry still has to be
                // committed (with an empty reply, as libfuse does). The kernel sends it over
                // the ring only from a READDIRPLUS, which ssefs does not ask for.
                if matches!(
                    buffer.read_u32(HEADER_IN_OUT + 4),
                    FUSE_FORGET | FUSE_BATCH_FORGET
                ) {
                    self.error_reply(&reply, 0);
                }
            }
            _ => {
                log::warn(&format!(
                    "io_uring queue {}: a request of {total} bytes with {payload_len} of payload",
                    self.qid
                ));
                self.error_reply(&reply, libc::EIO);
            }
        }
        reply.wait()
    }

    /// Answers the request in the entry with `errno` (when fuser could not; 0: an empty
    /// reply). Does nothing once the request is answered.
    fn error_reply(&self, reply: &EntryReply, errno: i32) {
        let header = error_header(self.buffer.request_unique(), errno);
        let _ = reply.send(&[IoSlice::new(&header)]);
    }
}

/// The rings of a mount: stop them (after the mount is gone) to end their threads.
pub struct Rings {
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl Rings {
    /// Ends every entry's thread (each notices within [`IDLE_WAKE_SECS`] at most).
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for worker in self.workers {
            if worker.join().is_err() {
                log::warn("io_uring: an entry's thread panicked");
            }
        }
    }
}

/// What [`start`] achieved.
pub struct Started {
    pub rings: Rings,
    /// Entries registered, per queue.
    pub per_queue: Vec<usize>,
    /// The first refusal, if any entry was refused (by the kernel or here).
    pub refused: Option<io::Error>,
    /// After a fallback: the kernel could not be told to give up io_uring, so it holds every
    /// request of the mount (the mount must go).
    pub stuck: Option<io::Error>,
}

impl Started {
    /// Whether the kernel serves requests through the rings: every queue has an entry.
    pub fn in_use(&self) -> bool {
        !self.per_queue.is_empty() && self.per_queue.iter().all(|&n| n > 0)
    }
}

/// Registers `per_queue` entries on each of `queues` queues of the connection on `dev`, each
/// served by its own thread through `dispatcher`. When a queue ends up without an entry, the
/// kernel never switches to the rings: every entry is stopped again, and `/dev/fuse` serves.
pub fn start<FS: Filesystem>(
    dev: RawFd,
    dispatcher: &Dispatcher<FS>,
    queues: usize,
    per_queue: usize,
    payload_len: usize,
) -> Started {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<(usize, io::Result<()>)>();
    let mut workers = Vec::new();
    let mut refused = None;
    // Test hook (tests/sh/16): the entries of this queue fail before they register, as when
    // this process runs out of descriptors or memory, to prove the fallback to /dev/fuse.
    let failing_queue = std::env::var("SSEFS_TEST_RING_FAIL_QUEUE")
        .ok()
        .and_then(|q| q.parse::<usize>().ok());
    for qid in 0..queues {
        for n in 0..per_queue {
            if failing_queue == Some(qid) {
                refused.get_or_insert(io::Error::other(format!(
                    "queue {qid}: failed before registering (SSEFS_TEST_RING_FAIL_QUEUE)"
                )));
                continue;
            }
            let dispatcher = dispatcher.clone();
            let stop = stop.clone();
            let tx = tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("ssefs-ring-{qid}-{n}"))
                .spawn(
                    move || match RingEntry::register(dev, qid as u16, payload_len) {
                        Ok(mut entry) => {
                            let _ = tx.send((qid, Ok(())));
                            entry.serve(&dispatcher, &stop);
                        }
                        Err(e) => {
                            let _ = tx.send((qid, Err(e)));
                        }
                    },
                );
            match spawned {
                Ok(worker) => workers.push(worker),
                Err(e) => {
                    refused.get_or_insert(e);
                }
            }
        }
    }
    drop(tx);
    let mut registered = vec![0; queues];
    for (qid, result) in rx.iter().take(workers.len()) {
        match result {
            Ok(()) => registered[qid] += 1,
            Err(e) => {
                refused.get_or_insert(e);
            }
        }
    }
    let started = Started {
        rings: Rings { stop, workers },
        per_queue: registered,
        refused,
        stuck: None,
    };
    if started.in_use() {
        if let Some(e) = &started.refused {
            log::warn(&format!("io_uring: some entries were not registered: {e}"));
        }
        return started;
    }
    // Not every queue has an entry, so the kernel never switches to the rings; but having
    // granted io_uring at init it holds every new request until it does, unless a
    // registration is refused. Make sure one is, then drop the rings (their commands are
    // cancelled with them): /dev/fuse serves.
    let stuck = refuse_registration(dev).err();
    let Started {
        rings,
        per_queue,
        refused,
        ..
    } = started;
    rings.stop();
    Started {
        rings: Rings {
            stop: Arc::new(AtomicBool::new(true)),
            workers: Vec::new(),
        },
        per_queue: vec![0; per_queue.len()],
        refused,
        stuck,
    }
}

/// Sends a registration the kernel must refuse (a queue that does not exist): a refused
/// REGISTER turns io_uring off for the connection and wakes the requests it was holding.
fn refuse_registration(dev: RawFd) -> io::Result<()> {
    let mut ring = new_ring()?;
    let sqe = opcode::UringCmd80::new(types::Fd(dev), CMD_REGISTER)
        .cmd(cmd_req(0, u16::MAX))
        .build();
    // SAFETY: the SQE points at nothing (the kernel checks the queue before the iovecs).
    unsafe { ring.submission().push(&with_len(sqe, 2)) }
        .map_err(|_| io::Error::from_raw_os_error(libc::EBUSY))?;
    ring.submit_and_wait(1)?;
    match ring.completion().next() {
        Some(cqe) if cqe.result() < 0 => Ok(()),
        _ => Err(io::Error::other(
            "the kernel accepted a registration for a queue that does not exist",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn possible_cpus_are_counted() {
        assert_eq!(parse_cpu_list("0-1\n"), Some(2));
        assert_eq!(parse_cpu_list("0\n"), Some(1));
        // A sparse list counts its CPUs, as the kernel's num_possible_cpus() does.
        assert_eq!(parse_cpu_list("0-3,8-9"), Some(6));
        assert_eq!(parse_cpu_list("0,2,5"), Some(3));
        assert_eq!(parse_cpu_list("x"), None);
        assert_eq!(parse_cpu_list("3-1"), None);
        assert!(possible_cpus().is_ok_and(|n| n >= 1));
    }

    #[test]
    fn the_command_area_holds_commit_id_and_queue() {
        let cmd = cmd_req(0x1122_3344_5566_7788, 3);
        assert_eq!(&cmd[0..8], &[0u8; 8]);
        assert_eq!(
            u64::from_ne_bytes(cmd[8..16].try_into().unwrap_or_default()),
            0x1122_3344_5566_7788
        );
        assert_eq!(u16::from_ne_bytes([cmd[16], cmd[17]]), 3);
    }

    #[test]
    fn the_sqe_length_lands_at_offset_24() {
        let sqe = opcode::UringCmd80::new(types::Fd(5), CMD_REGISTER)
            .addr(Some(0xdead_beef))
            .build();
        let bytes: [u8; 128] = unsafe { std::mem::transmute(with_len(sqe, 2)) };
        assert_eq!(
            u32::from_ne_bytes(bytes[24..28].try_into().unwrap_or_default()),
            2
        );
        assert_eq!(
            u64::from_ne_bytes(bytes[16..24].try_into().unwrap_or_default()),
            0xdead_beef
        );
        assert_eq!(
            i32::from_ne_bytes(bytes[4..8].try_into().unwrap_or_default()),
            5
        );
    }

    #[test]
    fn a_reply_is_split_into_header_and_payload() {
        let buffer = Arc::new(EntryBuffer::new(PAGE).unwrap_or_else(|e| panic!("{e}")));
        let reply = EntryReply {
            buffer: buffer.clone(),
            direct: false,
            state: Mutex::new(ReplyState::Waiting),
            answered: Condvar::new(),
        };
        let header = [7u8; OUT_HEADER_SIZE];
        let body = [9u8; 100];
        // The header arrives split over two slices, as a reply may.
        reply
            .send(&[
                IoSlice::new(&header[..10]),
                IoSlice::new(&header[10..]),
                IoSlice::new(&body),
            ])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            reply.send(&[IoSlice::new(&header)]).is_err(),
            "answered twice"
        );
        assert_eq!(reply.wait(), 100);
        // SAFETY: test-only reads of the mapping.
        unsafe {
            assert_eq!(
                std::slice::from_raw_parts(buffer.headers(), OUT_HEADER_SIZE),
                &header
            );
            assert_eq!(std::slice::from_raw_parts(buffer.payload(), 100), &body);
        }
        let too_big = vec![0u8; PAGE + OUT_HEADER_SIZE + 1];
        let reply = EntryReply {
            buffer,
            direct: true,
            state: Mutex::new(ReplyState::Waiting),
            answered: Condvar::new(),
        };
        assert!(reply.send(&[IoSlice::new(&too_big)]).is_err());
        // ... and the entry is answered with EIO instead, so that it never waits forever.
        assert_eq!(reply.wait(), 0);
        // SAFETY: test-only read of the mapping.
        let header = unsafe { std::slice::from_raw_parts(reply.buffer.headers(), 8) };
        assert_eq!(
            i32::from_ne_bytes(header[4..8].try_into().unwrap_or_default()),
            -libc::EIO
        );
    }

    #[test]
    fn the_transport_line_says_why() {
        let why = |c, s| dev_fuse_reason(c, s).map(|r| dev_fuse_line(&r));
        assert_eq!(
            why(Transport::Auto, Some("N")).as_deref(),
            Some("transport: /dev/fuse (io_uring disabled in the kernel: enable_uring=N)")
        );
        assert_eq!(
            why(Transport::Auto, None).as_deref(),
            Some("transport: /dev/fuse (this kernel has no FUSE over io_uring)")
        );
        assert_eq!(
            why(Transport::DevFuse, Some("Y")).as_deref(),
            Some("transport: /dev/fuse (--transport dev-fuse)")
        );
        assert_eq!(why(Transport::Auto, Some("Y")), None);
        assert_eq!(why(Transport::IoUring, Some("Y")), None);
        assert_eq!(
            ring_line(&[16, 16]),
            "transport: io_uring (2 queues, 32 entries, each served by its own thread; enable_uring=Y)"
        );
    }

    #[test]
    fn transports_parse_by_name() {
        for t in [Transport::Auto, Transport::DevFuse, Transport::IoUring] {
            assert_eq!(Transport::parse(t.name()), Ok(t));
        }
        assert!(Transport::parse("uring").is_err());
    }
}
