//! Buffers of the data path, with a bound on their memory. A request needs one buffer: for the
//! whole sectors of a read (decrypted in it, then sent), or for the sectors of a write
//! (merged, encrypted, then written).
//!
//! - **Small** requests (up to [`SMALL_MAX`], which covers 4 KiB random I/O) use a buffer of
//!   their own thread, reused without any lock: 16 request threads keep at most 16 ×
//!   [`SMALL_MAX`].
//! - **Large** requests lease one of at most [`Pool::cap`] large buffers shared by every thread;
//!   a request beyond the cap waits until one is returned. Before this pool each request
//!   thread kept two buffers of up to 1 MiB for ever (one for reads, one for writes), and with
//!   asynchronous direct I/O keeping all 16 threads busy that was 32 MiB of the daemon's peak.
//!   At most [`Pool::keep`] idle large buffers are kept; the others are unmapped as soon as
//!   they are returned, so the memory goes back to the system. Large buffers are mapped with
//!   `mmap` rather than taken from `malloc`, because glibc keeps a freed 1 MiB chunk in the
//!   freeing thread's arena (its mmap threshold rises after the first such free), where it
//!   stays resident.
//!
//! What keeps the promises and rules out a deadlock:
//!
//! - every buffer is wiped over the bytes a request could have used before it is reused or
//!   unmapped, whether the request succeeded or not: plaintext outlives no request (a read
//!   over io_uring is decrypted in the ring entry's payload instead, see
//!   [`with_reply_buffer`]: the transport's buffer, which keeps the reply it carried, and
//!   nothing more, until the next request);
//! - a thread never waits for a large buffer while it holds one. The data path needs only one
//!   per request (a read decrypts whole sectors in its reply buffer, see
//!   [`crate::volume::Volume::read_span`]); should a thread that holds a lease ask for a
//!   second one, it gets a buffer outside the cap instead of waiting, so the cap can never
//!   deadlock (with cap `n`, `n` threads each holding one and each waiting for a second). A
//!   lease cannot leave its thread (it is not `Send`), so the per-thread count it keeps is
//!   exact.

use std::cell::{Cell, RefCell};
use std::io;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::OnceLock;

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};

/// The largest request served from its thread's own buffer. A request is split across cores
/// from this size on (see `volume.rs`), so everything that is not a small random I/O is large.
pub const SMALL_MAX: usize = 128 << 10;

/// The size a large buffer is mapped with: the largest request the kernel sends (1 MiB), plus
/// the two partial sectors at its edges when it is not aligned. A larger one (only from a
/// direct caller of `Volume::read_at` / `write_at`) is mapped at its size and unmapped when
/// returned.
const LARGE: usize = (1 << 20) + 2 * 4096;

thread_local! {
    /// This thread's small buffer (at most [`SMALL_MAX`] bytes): wiped after every use.
    static SMALL: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// How many counted leases this thread holds (0 or 1 on the data path).
    static HELD: Cell<usize> = const { Cell::new(0) };
    /// Where the reply to the request this thread serves is read by the kernel, when the
    /// transport lets it be built there (a ring entry's payload, fs/ring.rs): start and size.
    static REPLY_AREA: Cell<Option<(NonNull<u8>, usize)>> = const { Cell::new(None) };
}

/// Overwrites `buf` with zeros in a way the compiler cannot remove (glibc's `explicit_bzero`,
/// a `memset` at memory speed; `zeroize` writes byte by byte with volatile stores, which costs
/// about a third of a millisecond per MiB on the request path).
pub fn wipe(buf: &mut [u8]) {
    // SAFETY: the pointer and length come from a live mutable slice.
    unsafe { libc::explicit_bzero(buf.as_mut_ptr().cast(), buf.len()) }
}

/// Makes glibc give freed memory back instead of keeping it in each thread's arena; called
/// once when the daemon starts. By default glibc raises its trim and mmap thresholds after the
/// first large free, and each thread that serves a command keeps an arena of its own: measured,
/// the first 20 disk commands left 17 MiB resident in arenas (3 MiB with these thresholds),
/// a quarter of the daemon's 64 MiB budget. Fixed thresholds of 128 KiB (glibc's starting
/// values) keep large allocations mapped and returned on free, and trim arenas promptly.
pub fn tune_allocator() {
    const THRESHOLD: libc::c_int = 128 << 10;
    // SAFETY: mallopt only sets allocator parameters; it returns 0 on failure, which leaves
    // glibc's defaults (more memory kept, nothing wrong).
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, THRESHOLD);
        libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD);
    }
}

/// Runs `f` with a buffer of exactly `len` bytes (contents undefined), then wipes it: this
/// thread's own buffer for a small `len`, a leased large buffer of the global pool otherwise.
pub fn with_buffer<R>(len: usize, f: impl FnOnce(&mut [u8]) -> Result<R>) -> Result<R> {
    if len <= SMALL_MAX {
        with_small(len, f)
    } else {
        Pool::global().with(len, f)
    }
}

/// Runs `f` (the handling of one request) with `len` bytes at `area` as this thread's reply
/// area: [`with_reply_buffer`] may build the reply there, so that it reaches the kernel
/// without a copy. Cleared when `f` returns, or unwinds.
///
/// # Safety
///
/// `area` must be valid for reads and writes of `len` bytes until `f` returns, and nothing else
/// may read or write it meanwhile but the reply sent for this request (which finds its bytes
/// already in place).
pub(crate) unsafe fn with_reply_area<R>(area: NonNull<u8>, len: usize, f: impl FnOnce() -> R) -> R {
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            REPLY_AREA.with(|a| a.set(None));
        }
    }
    REPLY_AREA.with(|a| a.set(Some((area, len))));
    let _clear = Clear;
    f()
}

/// [`with_buffer`] for the buffer a reply is sent from: the transport's reply area when it
/// has one of at least `len` bytes ([`with_reply_area`]), so the bytes `f` decrypts are
/// already where the kernel reads them. The area serves one buffer per request. It is wiped
/// unless `f` succeeds (a failure or a panic); on success it holds what `f` left there.
///
/// # Safety
///
/// If `f` replies to its request from the buffer, the reply's bytes must start at the
/// buffer's start (the transport then finds them in place and writes nothing there), and the
/// reply must be `f`'s last use of the buffer, after which `f` returns `Ok`: the transport
/// owns those bytes from then on.
pub(crate) unsafe fn with_reply_buffer<R>(
    len: usize,
    f: impl FnOnce(&mut [u8]) -> Result<R>,
) -> Result<R> {
    /// Wipes the area's first `len` bytes when dropped armed: `f` failed or panicked.
    struct WipeUnlessDone {
        area: NonNull<u8>,
        len: usize,
        armed: bool,
    }
    impl Drop for WipeUnlessDone {
        fn drop(&mut self) {
            if self.armed {
                // SAFETY: with_reply_area's contract; `f` no longer uses the area.
                wipe(unsafe { std::slice::from_raw_parts_mut(self.area.as_ptr(), self.len) });
            }
        }
    }
    match REPLY_AREA.with(Cell::take) {
        Some((area, size)) if len <= size => {
            let mut guard = WipeUnlessDone {
                area,
                len,
                armed: true,
            };
            // SAFETY: with_reply_area's contract: the area is valid and ours alone until the
            // request is handled; taken out of the cell, it is handed out once.
            let buf = unsafe { std::slice::from_raw_parts_mut(area.as_ptr(), len) };
            let result = f(buf);
            guard.armed = result.is_err();
            result
        }
        other => {
            // Too small for this one: left for the request's reply buffer, if any fits.
            REPLY_AREA.with(|a| a.set(other));
            with_buffer(len, f)
        }
    }
}

fn with_small<R>(len: usize, f: impl FnOnce(&mut [u8]) -> Result<R>) -> Result<R> {
    SMALL.with(|cell| {
        let mut fresh = Vec::new();
        let mut guard = cell.try_borrow_mut();
        let buf = match guard.as_deref_mut() {
            Ok(buf) => buf,
            // Re-entered on the same thread (never on the data path): use a fresh buffer.
            Err(_) => &mut fresh,
        };
        if buf.len() < len {
            buf.resize(len, 0);
        }
        let used = &mut buf[..len];
        let result = f(used);
        wipe(used);
        result
    })
}

/// An anonymous private mapping, unmapped on drop (also the ring entries' memory, fs/ring.rs).
pub(crate) struct Region {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a Region owns its mapping exclusively; moving it between threads moves that ownership.
unsafe impl Send for Region {}

impl Region {
    pub(crate) fn map(len: usize) -> io::Result<Region> {
        // SAFETY: a fresh anonymous mapping; the result is checked before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        match NonNull::new(ptr.cast::<u8>()) {
            Some(ptr) if ptr.as_ptr().cast() != libc::MAP_FAILED => Ok(Region { ptr, len }),
            _ => Err(io::Error::last_os_error()),
        }
    }

    /// [`Region::map`] for a request buffer, with the error the request reports.
    fn map_for_request(len: usize) -> Result<Region> {
        Region::map(len).map_err(|e| Error::io(format!("map a {len}-byte request buffer"), e))
    }

    /// The start of the mapping (`len` bytes, readable and writable).
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is `len` bytes, readable and writable, and owned by `self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `map`, which nothing borrows any more.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// Counts and idle buffers, under [`Pool::state`].
#[derive(Default)]
struct State {
    /// Counted large buffers that exist: leased plus idle. Never above the cap.
    live: usize,
    /// Returned buffers of the standard size, already wiped, at most `keep` of them.
    idle: Vec<Region>,
}

/// A bounded set of large buffers shared by the request threads.
pub struct Pool {
    cap: usize,
    keep: usize,
    /// Taken briefly to lease or return a buffer (never while mapping, wiping or unmapping).
    state: Mutex<State>,
    /// Signalled when a counted buffer is returned.
    returned: Condvar,
}

impl Pool {
    /// A pool of at most `cap` large buffers, keeping at most `keep` of them when idle.
    pub fn new(cap: usize, keep: usize) -> Pool {
        Pool {
            cap: cap.max(1),
            keep: keep.min(cap),
            state: Mutex::new(State::default()),
            returned: Condvar::new(),
        }
    }

    /// The daemon's pool: two large buffers per core (one being filled by the backing file
    /// while another is decrypted), at least 4 and at most 16, keeping half of them idle.
    pub fn global() -> &'static Pool {
        static POOL: OnceLock<Pool> = OnceLock::new();
        POOL.get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let cap = (2 * cores).clamp(4, 16);
            Pool::new(cap, cap / 2)
        })
    }

    /// The most large buffers that exist at once (leases outside the cap aside).
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// The most idle large buffers kept for the next requests.
    pub fn keep(&self) -> usize {
        self.keep
    }

    /// Counted large buffers that exist now (leased or idle).
    pub fn live(&self) -> usize {
        self.state.lock().live
    }

    /// Idle large buffers kept now.
    pub fn idle(&self) -> usize {
        self.state.lock().idle.len()
    }

    /// Runs `f` with a leased buffer of exactly `len` bytes (contents undefined), waiting for
    /// one if the cap is reached; the buffer is wiped when `f` returns.
    pub fn with<R>(&self, len: usize, f: impl FnOnce(&mut [u8]) -> Result<R>) -> Result<R> {
        let mut lease = self.lease(len)?;
        f(lease.bytes())
    }

    /// A buffer of at least `len` bytes; see the module doc for when it waits.
    fn lease(&self, len: usize) -> Result<Lease<'_>> {
        if HELD.with(Cell::get) > 0 {
            // This thread holds a counted lease: waiting here could deadlock, so the second
            // buffer is outside the cap, and unmapped when returned.
            return Ok(Lease {
                pool: self,
                region: Some(Region::map_for_request(len)?),
                len,
                counted: false,
                _not_send: PhantomData,
            });
        }
        let mut state = self.state.lock();
        let reused = loop {
            if let Some(region) = state.idle.pop() {
                break Some(region);
            }
            if state.live < self.cap {
                state.live += 1;
                break None;
            }
            self.returned.wait(&mut state);
        };
        drop(state);
        // From here the lease counts (live includes it): a failure to map gives the count back
        // through `Lease::drop`.
        HELD.with(|h| h.set(h.get() + 1));
        let mut lease = Lease {
            pool: self,
            region: None,
            len,
            counted: true,
            _not_send: PhantomData,
        };
        lease.region = Some(match reused {
            Some(region) if region.len >= len => region,
            // Too small for this request: replaced by one that fits.
            _ => Region::map_for_request(len.max(LARGE).next_multiple_of(4096))?,
        });
        Ok(lease)
    }

    /// Takes back a counted buffer (already wiped), keeping it if fewer than `keep` are idle.
    fn give_back(&self, region: Option<Region>) {
        let mut state = self.state.lock();
        let unmap = match region {
            Some(region) if region.len == LARGE.next_multiple_of(4096) => {
                if state.idle.len() < self.keep {
                    state.idle.push(region);
                    None
                } else {
                    state.live -= 1;
                    Some(region)
                }
            }
            other => {
                state.live -= 1;
                other
            }
        };
        drop(state);
        self.returned.notify_one();
        drop(unmap);
    }
}

/// A large buffer leased from a [`Pool`]; wiped and returned on drop. Not `Send`: the
/// per-thread count of leases must be decremented on the thread that leased it.
struct Lease<'a> {
    pool: &'a Pool,
    region: Option<Region>,
    /// The bytes a request may touch, wiped on return.
    len: usize,
    /// Whether it counts against the pool's cap (false for a second lease on one thread).
    counted: bool,
    _not_send: PhantomData<*const ()>,
}

impl Lease<'_> {
    fn bytes(&mut self) -> &mut [u8] {
        match &mut self.region {
            Some(region) => &mut region.bytes()[..self.len],
            None => &mut [],
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        wipe(self.bytes());
        if self.counted {
            HELD.with(|h| h.set(h.get() - 1));
            self.pool.give_back(self.region.take());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::channel;
    use std::time::Duration;

    #[test]
    fn a_reply_buffer_is_the_reply_area_once_per_request_and_wiped_on_failure() {
        let mut area = vec![7u8; 64 << 10];
        let start = NonNull::new(area.as_mut_ptr()).unwrap();
        let at = |buf: &mut [u8]| -> Result<usize> { Ok(buf.as_ptr() as usize) };
        // SAFETY: `area` outlives the call and nothing else touches it meanwhile.
        unsafe {
            with_reply_area(start, area.len(), || {
                // Too large for the area: an ordinary buffer, and the area stays available.
                assert_ne!(
                    with_reply_buffer((64 << 10) + 1, at).unwrap(),
                    start.as_ptr() as usize
                );
                assert_eq!(
                    with_reply_buffer(4096, at).unwrap(),
                    start.as_ptr() as usize
                );
                // One buffer per request: the second is an ordinary one.
                assert_ne!(
                    with_reply_buffer(4096, at).unwrap(),
                    start.as_ptr() as usize
                );
            });
            with_reply_area(start, area.len(), || {
                let failed = with_reply_buffer(8192, |buf| -> Result<()> {
                    buf.fill(0xAA);
                    Err(Error::Crypto("revoked".into()))
                });
                assert!(failed.is_err());
            });
        }
        // SAFETY: as above.
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
            with_reply_area(start, 64 << 10, || {
                with_reply_buffer(4096, |buf| -> Result<()> {
                    buf.fill(0xBB);
                    panic!("a handler panics");
                })
            })
        }));
        assert!(panicked.is_err());
        assert!(
            area[..8192].iter().all(|&b| b == 0),
            "a failed reply's bytes stay"
        );
        assert!(area[8192..].iter().all(|&b| b == 7));
        // Outside a request there is no area.
        // SAFETY: `at` does not reply.
        let outside = unsafe { with_reply_buffer(4096, at) };
        assert_ne!(outside.unwrap(), start.as_ptr() as usize);
    }

    #[test]
    fn small_requests_use_the_thread_buffer_and_never_the_pool() {
        // A test thread starts with an empty small buffer; the global pool is shared with
        // other tests running at once, so it is the thread's buffer that is looked at.
        let n = with_buffer(4096, |buf| {
            buf.fill(7);
            Ok(buf.len())
        })
        .unwrap();
        assert_eq!(n, 4096);
        SMALL.with(|cell| {
            let small = cell.borrow();
            assert_eq!(small.len(), 4096, "the thread's buffer was not used");
            assert!(small.iter().all(|&b| b == 0), "not wiped");
        });
        with_buffer(SMALL_MAX + 1, |buf| {
            assert_eq!(HELD.with(Cell::get), 1, "a large request did not lease");
            Ok(buf.len())
        })
        .unwrap();
        assert_eq!(HELD.with(Cell::get), 0);
        SMALL.with(|cell| assert_eq!(cell.borrow().len(), 4096, "the small buffer grew"));
    }

    #[test]
    fn the_cap_is_respected_and_waiters_are_served_when_a_buffer_returns() {
        let pool = Arc::new(Pool::new(2, 1));
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (pool, inside, most) = (pool.clone(), inside.clone(), most.clone());
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        pool.with(300 << 10, |buf| {
                            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            buf.fill(1);
                            std::thread::yield_now();
                            inside.fetch_sub(1, Ordering::SeqCst);
                            Ok(())
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(
            most.load(Ordering::SeqCst) <= 2,
            "more than the cap at once"
        );
        assert!(pool.live() <= 1, "more than `keep` stayed mapped when idle");
        assert_eq!(pool.idle(), pool.live());
    }

    #[test]
    fn a_waiter_blocks_until_a_buffer_is_returned() {
        let pool = Arc::new(Pool::new(1, 1));
        let (held_tx, held_rx) = channel();
        let (release_tx, release_rx) = channel::<()>();
        let holder = {
            let pool = pool.clone();
            std::thread::spawn(move || {
                pool.with(LARGE, |_| {
                    held_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                    Ok(())
                })
                .unwrap();
            })
        };
        held_rx.recv().unwrap();
        let (done_tx, done_rx) = channel();
        let waiter = {
            let pool = pool.clone();
            std::thread::spawn(move || {
                pool.with(LARGE, |_| Ok(())).unwrap();
                done_tx.send(()).unwrap();
            })
        };
        // Not a timing assertion on speed: the waiter must still be waiting while the only
        // buffer is held, however long we look.
        assert!(done_rx.recv_timeout(Duration::from_millis(200)).is_err());
        release_tx.send(()).unwrap();
        done_rx.recv().unwrap();
        holder.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(pool.live(), 1);
    }

    #[test]
    fn a_thread_holding_a_buffer_gets_a_second_without_waiting() {
        // Cap 1 and a thread that needs two at once (as a read would if it needed a reply
        // buffer and a scratch buffer): waiting for the second would deadlock for ever.
        let pool = Arc::new(Pool::new(1, 1));
        let (tx, rx) = channel();
        let worker = {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let r = pool.with(LARGE, |outer| {
                    outer.fill(1);
                    pool.with(LARGE, |inner| {
                        inner.fill(2);
                        Ok(inner.len())
                    })
                });
                tx.send(r.unwrap()).unwrap();
            })
        };
        assert_eq!(rx.recv_timeout(Duration::from_secs(60)), Ok(LARGE));
        worker.join().unwrap();
        assert_eq!(pool.live(), 1, "the nested buffer was counted");
    }

    #[test]
    fn buffers_are_wiped_before_reuse_even_after_a_failure() {
        let pool = Pool::new(1, 1);
        let failed: Result<()> = pool.with(LARGE, |buf| {
            buf.fill(0xA5);
            Err(Error::io("x", io::Error::from_raw_os_error(libc::EIO)))
        });
        assert!(failed.is_err());
        assert_eq!(pool.idle(), 1, "the buffer was not kept");
        pool.with(LARGE, |buf| {
            assert!(buf.iter().all(|&b| b == 0), "plaintext survived a request");
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn idle_buffers_beyond_keep_and_oversized_ones_are_unmapped() {
        let pool = Arc::new(Pool::new(4, 1));
        let (ready_tx, ready_rx) = channel();
        let (go_tx, go_rx) = channel::<()>();
        let go_rx = Arc::new(std::sync::Mutex::new(go_rx));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (pool, ready_tx, go_rx) = (pool.clone(), ready_tx.clone(), go_rx.clone());
                std::thread::spawn(move || {
                    pool.with(LARGE, |_| {
                        ready_tx.send(()).unwrap();
                        go_rx.lock().unwrap().recv().unwrap();
                        Ok(())
                    })
                    .unwrap();
                })
            })
            .collect();
        for _ in 0..3 {
            ready_rx.recv().unwrap();
        }
        assert_eq!(pool.live(), 3);
        for _ in 0..3 {
            go_tx.send(()).unwrap();
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!((pool.live(), pool.idle()), (1, 1));
        // A request larger than the standard size is served, then unmapped.
        pool.with(3 << 20, |buf| {
            assert_eq!(buf.len(), 3 << 20);
            Ok(())
        })
        .unwrap();
        assert_eq!((pool.live(), pool.idle()), (0, 0));
    }
}
