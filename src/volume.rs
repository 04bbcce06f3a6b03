//! Plaintext access to one disk or snapshot: `read_at` / `write_at` at any offset and length
//! over the sector-encrypted backing file, with read-modify-write of partial sectors, and a key
//! that can be revoked (every request fails, the DEK is wiped) and restored while open.
//!
//! Offsets here are plaintext byte offsets; since the data file has no header, sector `i`'s
//! ciphertext lives at the same byte offset `i * SECTOR_SIZE` (see [`crate::format`]). A sector
//! whose ciphertext is all zeros (a hole) reads as zeros.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::RwLock;

use crate::buffers::with_buffer;
use crate::crypto::{DataKey, SECTOR_SIZE, SectorCipher};
use crate::error::{Error, IoContext, Result};

const SECTOR: u64 = SECTOR_SIZE as u64;

/// A request is split across threads only when each gets at least this much: below it, the
/// cost of starting a thread (tens of microseconds) outweighs the AES work (about 30 µs).
const MIN_BYTES_PER_THREAD: usize = 128 * 1024;

/// How many threads one request may use: the machine's cores.
fn crypto_threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Runs `work(first_sector, chunk)` over `buf` (whole sectors starting at `first`), split
/// across threads when the buffer is large: a 1 MiB request is encrypted on every core.
fn par_sectors<F>(first: u64, buf: &mut [u8], work: F) -> Result<()>
where
    F: Fn(u64, &mut [u8]) -> Result<()> + Sync,
{
    let sectors = buf.len() / SECTOR_SIZE;
    let threads = crypto_threads()
        .min(buf.len() / MIN_BYTES_PER_THREAD)
        .max(1);
    if threads == 1 {
        return work(first, buf);
    }
    let per = sectors.div_ceil(threads) * SECTOR_SIZE;
    std::thread::scope(|scope| {
        let handles: Vec<_> = buf
            .chunks_mut(per)
            .enumerate()
            .map(|(i, chunk)| {
                let work = &work;
                let at = first + (i * per / SECTOR_SIZE) as u64;
                scope.spawn(move || work(at, chunk))
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .map_err(|_| Error::Crypto("a crypto thread panicked".into()))?
        })
    })
}

/// Bytes re-encrypted per step by [`reencrypt_file`].
const REENCRYPT_CHUNK: usize = 1 << 20;

/// Re-encrypts the data file `src` (sectors under `old`) into a new file `dst` under `new`,
/// for a volume of `len` bytes: holes stay holes (only the data extents are read), `dst` ends
/// `len` bytes long and is fsynced. Plaintext exists only in a buffer wiped on return.
pub fn reencrypt_file(
    src: &Path,
    dst: &Path,
    len: u64,
    old: &DataKey,
    new: &DataKey,
    what: &str,
) -> Result<()> {
    let input = File::open(src).ctx(|| format!("open {}", src.display()))?;
    let output = crate::fsio::create_new_private(dst)?;
    let from = SectorCipher::new(old)?;
    let to = SectorCipher::new(new)?;
    let src_len = input
        .metadata()
        .ctx(|| format!("stat {}", src.display()))?
        .len()
        .min(len);
    let mut buf = zeroize::Zeroizing::new(vec![0u8; REENCRYPT_CHUNK]);
    let progress = crate::progress::Progress::new(what, src_len);
    let mut pos = 0u64;
    while pos < src_len {
        let Some((data, hole)) =
            next_extent(&input, pos).ctx(|| format!("find the data of {}", src.display()))?
        else {
            break;
        };
        let mut at = data / SECTOR * SECTOR;
        let end = hole.min(src_len).div_ceil(SECTOR) * SECTOR;
        while at < end {
            let n = ((end - at) as usize).min(REENCRYPT_CHUNK);
            let chunk = &mut buf[..n];
            read_full_at(&input, chunk, at).ctx(|| format!("read {}", src.display()))?;
            reencrypt_chunk(&from, &to, at / SECTOR, chunk, &output)
                .ctx(|| format!("write {}", dst.display()))?;
            at += n as u64;
            progress.update(at);
        }
        pos = end.max(hole);
    }
    // The rest is holes: done.
    progress.update(src_len);
    output
        .set_len(len)
        .ctx(|| format!("set length of {}", dst.display()))?;
    output.sync_all().ctx(|| format!("fsync {}", dst.display()))
}

/// The next data extent `[data, hole)` at or after `pos`, or `None` when only a hole is left.
fn next_extent(file: &File, pos: u64) -> io::Result<Option<(u64, u64)>> {
    let fd = file.as_raw_fd();
    // SAFETY: plain lseek on an open descriptor.
    let data = unsafe { libc::lseek(fd, pos as libc::off_t, libc::SEEK_DATA) };
    if data < 0 {
        let err = io::Error::last_os_error();
        return if err.raw_os_error() == Some(libc::ENXIO) {
            Ok(None)
        } else {
            Err(err)
        };
    }
    // SAFETY: as above.
    let hole = unsafe { libc::lseek(fd, data, libc::SEEK_HOLE) };
    if hole < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Some((data as u64, hole as u64)))
}

/// Reads `buf.len()` bytes at `offset`; bytes past the end of the file read as zeros.
fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let n = file.read_at(&mut buf[done..], offset + done as u64)?;
        if n == 0 {
            buf[done..].fill(0);
            break;
        }
        done += n;
    }
    Ok(())
}

/// Re-encrypts the sectors of `chunk` (starting at sector `first`) in place and writes each
/// run of written sectors to `out`; all-zero sectors are holes and stay unwritten.
fn reencrypt_chunk(
    from: &SectorCipher,
    to: &SectorCipher,
    first: u64,
    chunk: &mut [u8],
    out: &File,
) -> io::Result<()> {
    let to_io = |e: Error| io::Error::other(e.to_string());
    let sectors = chunk.len() / SECTOR_SIZE;
    let mut run_start: Option<usize> = None;
    for i in 0..=sectors {
        let is_data = i < sectors
            && chunk[i * SECTOR_SIZE..(i + 1) * SECTOR_SIZE]
                .iter()
                .any(|&b| b != 0);
        if is_data {
            let sector = &mut chunk[i * SECTOR_SIZE..(i + 1) * SECTOR_SIZE];
            from.decrypt_sectors(first + i as u64, sector)
                .map_err(to_io)?;
            to.encrypt_sectors(first + i as u64, sector)
                .map_err(to_io)?;
            run_start.get_or_insert(i);
        } else if let Some(start) = run_start.take() {
            out.write_all_at(
                &chunk[start * SECTOR_SIZE..i * SECTOR_SIZE],
                (first + start as u64) * SECTOR,
            )?;
        }
    }
    Ok(())
}

/// The key of an open volume, or why it is gone.
enum KeyState {
    /// Boxed: the two AES key schedules are large, and the revoked state small.
    Present {
        cipher: Box<SectorCipher>,
        dek: DataKey,
    },
    Revoked {
        errno: i32,
        why: String,
    },
}

/// An open disk or snapshot.
pub struct Volume {
    file: File,
    size: u64,
    /// The DEK and its cipher, or the reason they were revoked. Every request holds it shared
    /// for its whole duration; revocation takes it exclusively, so it waits for the requests in
    /// flight and no later request can encrypt or decrypt anything.
    key: RwLock<KeyState>,
    read_only: bool,
    /// Guards read-modify-write: a write that covers only part of a sector takes it
    /// exclusively, so no other write can land between its read and its write; writes of whole
    /// sectors take it shared (they never read) and reads do not take it at all.
    rmw: RwLock<()>,
    name: String,
    /// Counts completed writes and discards, so that data read ahead can tell whether it is
    /// still what the disk holds (see [`Volume::with_unchanged`]).
    changes: AtomicU64,
}

impl Volume {
    /// Opens the data file at `path` for a volume of `size` bytes; the volume keeps `dek`.
    pub fn open(
        path: &Path,
        size: u64,
        dek: DataKey,
        read_only: bool,
        name: &str,
    ) -> Result<Volume> {
        let file = OpenOptions::new()
            .read(true)
            .write(!read_only)
            .open(path)
            .ctx(|| format!("open {}", path.display()))?;
        Ok(Volume {
            file,
            size,
            key: RwLock::new(KeyState::Present {
                cipher: Box::new(SectorCipher::new(&dek)?),
                dek,
            }),
            read_only,
            rmw: RwLock::new(()),
            name: name.to_string(),
            changes: AtomicU64::new(0),
        })
    }

    /// The plaintext size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Blocks all I/O with the errno of `reason` (EKEYREVOKED, ENOKEY or EACCES) and wipes the
    /// DEK; waits for the requests in flight.
    pub fn revoke(&self, reason: &Error) {
        *self.key.write() = KeyState::Revoked {
            errno: reason.errno(),
            why: reason.to_string(),
        };
    }

    /// Gives a revoked volume its key back (after a fresh unwrap).
    pub fn restore(&self, dek: DataKey) -> Result<()> {
        let cipher = Box::new(SectorCipher::new(&dek)?);
        *self.key.write() = KeyState::Present { cipher, dek };
        Ok(())
    }

    /// Fails with the revocation's errno when I/O is blocked.
    pub fn check_usable(&self) -> Result<()> {
        self.with_cipher(|_| Ok(()))
    }

    /// The count of completed writes and discards: take it before reading ahead.
    pub fn generation(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    /// A hold on the key, given only if the key is present and nothing was written since
    /// `generation`: data read ahead at `generation` may be sent while it is held. A revocation
    /// waits for it as it waits for any request in flight, so no such reply leaves after it.
    pub fn hold_if_unchanged(&self, generation: u64) -> Option<impl Sized + '_> {
        let key = self.key.read();
        if matches!(*key, KeyState::Revoked { .. }) || self.generation() != generation {
            return None;
        }
        Some(key)
    }

    /// Whether I/O is blocked.
    pub fn is_revoked(&self) -> bool {
        matches!(*self.key.read(), KeyState::Revoked { .. })
    }

    /// Runs `f` with the DEK unless revoked (rotation re-wraps an open disk's key from memory).
    pub fn with_dek<R>(&self, f: impl FnOnce(&DataKey) -> R) -> Option<R> {
        match &*self.key.read() {
            KeyState::Present { dek, .. } => Some(f(dek)),
            KeyState::Revoked { .. } => None,
        }
    }

    /// Runs `f` with the cipher, or fails with the revocation's errno.
    fn with_cipher<R>(&self, f: impl FnOnce(&SectorCipher) -> Result<R>) -> Result<R> {
        match &*self.key.read() {
            KeyState::Present { cipher, .. } => f(cipher),
            KeyState::Revoked { errno, why } => Err(Error::io(
                format!("{}: I/O blocked: {why}", self.name),
                io::Error::from_raw_os_error(*errno),
            )),
        }
    }

    fn os_error(&self, op: &str, errno: i32) -> Error {
        Error::io(
            format!("{op} {}", self.name),
            io::Error::from_raw_os_error(errno),
        )
    }

    /// Reads whole sectors `[first, first + buf.len()/SECTOR)` and decrypts them; holes and
    /// bytes past the end of the file read as zeros.
    fn read_sectors(&self, cipher: &SectorCipher, first: u64, buf: &mut [u8]) -> Result<()> {
        // Each thread reads its share of the ciphertext and decrypts it: a large request's
        // backing-file read and decryption overlap across cores.
        par_sectors(first, buf, |at, chunk| {
            let mut done = 0;
            while done < chunk.len() {
                let n = self
                    .file
                    .read_at(&mut chunk[done..], at * SECTOR + done as u64)
                    .ctx(|| format!("read {}", self.name))?;
                if n == 0 {
                    chunk[done..].fill(0);
                    break;
                }
                done += n;
            }
            for (i, sector) in chunk.chunks_exact_mut(SECTOR_SIZE).enumerate() {
                if sector.iter().all(|&b| b == 0) {
                    continue; // a hole: never written, or discarded
                }
                cipher.decrypt_sectors(at + i as u64, sector)?;
            }
            Ok(())
        })
    }

    /// The bytes of whole sectors that cover `len` bytes at `offset` (cut at the end of the
    /// disk): the buffer [`Volume::read_span`] needs. 0 at or past the end.
    pub fn span_len(&self, offset: u64, len: usize) -> usize {
        if offset >= self.size || len == 0 {
            return 0;
        }
        let len = len.min((self.size - offset) as usize);
        let first = offset / SECTOR;
        let end = (offset + len as u64).div_ceil(SECTOR);
        ((end - first) * SECTOR) as usize
    }

    /// Reads the whole sectors that cover `len` bytes at `offset` into `buf` (at least
    /// [`Volume::span_len`] bytes) and returns where the requested bytes are in it (empty at
    /// or past the end). The request path replies straight from `buf`, so an unaligned read
    /// needs one buffer, not a second to copy from.
    pub fn read_span(
        &self,
        buf: &mut [u8],
        offset: u64,
        len: usize,
    ) -> Result<std::ops::Range<usize>> {
        let span = self.span_len(offset, len);
        if span == 0 {
            return Ok(0..0);
        }
        let len = len.min((self.size - offset) as usize);
        let first = offset / SECTOR;
        let skip = (offset - first * SECTOR) as usize;
        self.with_cipher(|cipher| self.read_sectors(cipher, first, &mut buf[..span]))?;
        Ok(skip..skip + len)
    }

    /// Reads up to `buf.len()` bytes at `offset`; returns how many (0 at or past the end).
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        let span = self.span_len(offset, buf.len());
        if span == 0 {
            return Ok(0);
        }
        if span <= buf.len() && offset.is_multiple_of(SECTOR) {
            // Aligned (what loop devices, filesystems and dd bs=4k.. send): decrypt in place.
            return Ok(self.read_span(buf, offset, span)?.len());
        }
        with_buffer(span, |plain| {
            let range = self.read_span(plain, offset, buf.len())?;
            buf[..range.len()].copy_from_slice(&plain[range.clone()]);
            Ok(range.len())
        })
    }

    /// Writes `data` at `offset`. A write that starts at or past the end fails with `ENOSPC`;
    /// one that straddles the end writes what fits and returns the count, as a block device does.
    pub fn write_at(&self, data: &[u8], offset: u64) -> Result<usize> {
        if self.read_only {
            return Err(self.os_error("write to read-only snapshot", libc::EROFS));
        }
        if data.is_empty() {
            return Ok(0);
        }
        if offset >= self.size {
            return Err(self.os_error("write past the end of", libc::ENOSPC));
        }
        let len = data.len().min((self.size - offset) as usize);
        let first = offset / SECTOR;
        let end = (offset + len as u64).div_ceil(SECTOR);
        // The buffer is wiped when it returns: after a failure it may hold a decrypted edge
        // sector or the caller's plaintext that never got encrypted.
        let written = with_buffer(((end - first) * SECTOR) as usize, |buf| {
            self.write_sectors(data, len, offset, first, end, buf)
        });
        // Counted even when it failed: part of it may have reached the file.
        self.changes.fetch_add(1, Ordering::AcqRel);
        written?;
        Ok(len)
    }

    /// The body of [`Volume::write_at`], with `buf` covering sectors `[first, end)`; every byte
    /// of `buf` is set before use (merged old sectors at partial edges, `data` in between).
    fn write_sectors(
        &self,
        data: &[u8],
        len: usize,
        offset: u64,
        first: u64,
        end: u64,
        buf: &mut [u8],
    ) -> Result<()> {
        let skip = (offset - first * SECTOR) as usize;
        let partial_head = skip != 0;
        let partial_tail = !(offset + len as u64).is_multiple_of(SECTOR);
        let _guard_shared;
        let _guard_exclusive;
        if partial_head || partial_tail {
            _guard_exclusive = self.rmw.write();
        } else {
            _guard_shared = self.rmw.read();
        }
        self.with_cipher(|cipher| {
            if partial_head {
                self.read_sectors(cipher, first, &mut buf[..SECTOR_SIZE])?;
            }
            if partial_tail && (end - 1 != first || !partial_head) {
                let at = buf.len() - SECTOR_SIZE;
                self.read_sectors(cipher, end - 1, &mut buf[at..])?;
            }
            buf[skip..skip + len].copy_from_slice(&data[..len]);
            par_sectors(first, buf, |at, chunk| cipher.encrypt_sectors(at, chunk))?;
            self.file
                .write_all_at(buf, first * SECTOR)
                .ctx(|| format!("write {}", self.name))
        })
    }

    /// Makes written data durable.
    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().ctx(|| format!("fsync {}", self.name))
    }

    /// Discards `[offset, offset + len)`: whole sectors become holes in the backing file,
    /// partial ones are overwritten with zeros. The range reads as zeros afterwards.
    pub fn discard(&self, offset: u64, len: u64) -> Result<()> {
        let result = self.discard_range(offset, len);
        self.changes.fetch_add(1, Ordering::AcqRel);
        result
    }

    /// The body of [`Volume::discard`].
    fn discard_range(&self, offset: u64, len: u64) -> Result<()> {
        if self.read_only {
            return Err(self.os_error("discard on read-only snapshot", libc::EROFS));
        }
        let end = offset.saturating_add(len).min(self.size);
        if offset >= end {
            return Ok(());
        }
        let whole_first = offset.div_ceil(SECTOR) * SECTOR;
        let whole_end = (end / SECTOR) * SECTOR;
        if whole_first < whole_end {
            let _guard = self.rmw.read();
            // A revoked volume refuses discards too.
            self.with_cipher(|_| Ok(()))?;
            // SAFETY: fallocate on an open descriptor with in-range offsets.
            let rc = unsafe {
                libc::fallocate(
                    self.file.as_raw_fd(),
                    libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                    whole_first as libc::off_t,
                    (whole_end - whole_first) as libc::off_t,
                )
            };
            if rc != 0 {
                return Err(Error::io(
                    format!("punch hole in {}", self.name),
                    io::Error::last_os_error(),
                ));
            }
        }
        let zeros = vec![0u8; SECTOR_SIZE];
        let zero_range = |from: u64, to: u64| -> Result<()> {
            if from < to {
                self.write_at(&zeros[..(to - from) as usize], from)?;
            }
            Ok(())
        };
        if whole_first >= whole_end {
            // No whole sector: the range lies within one or two sectors.
            let mid = whole_first.min(end);
            zero_range(offset, mid)?;
            zero_range(mid, end)?;
        } else {
            zero_range(offset, whole_first)?;
            zero_range(whole_end, end)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(size: u64) -> (tempfile::TempDir, std::path::PathBuf, DataKey) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        File::create(&path).unwrap().set_len(size).unwrap();
        (dir, path, DataKey::generate().unwrap())
    }

    #[test]
    fn unwritten_sectors_read_as_zeros() {
        let (_d, path, key) = scratch(1 << 20);
        let vol = Volume::open(&path, 1 << 20, key, false, "t").unwrap();
        let mut buf = vec![1u8; 10_000];
        assert_eq!(vol.read_at(&mut buf, 5).unwrap(), 10_000);
        assert!(buf.iter().all(|&b| b == 0));
    }

    #[test]
    fn unaligned_writes_match_a_plain_model_and_never_store_plaintext() {
        let size = 256 * 1024;
        let (_d, path, key) = scratch(size);
        let vol = Volume::open(&path, size, key, false, "t").unwrap();
        let mut model = vec![0u8; size as usize];
        let mut seed = 12345u64;
        for round in 0..200 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let off = (seed >> 33) % (size - 1);
            let len = 1 + ((seed >> 13) % 9000).min(size - off - 1);
            let byte = (round % 250 + 1) as u8;
            let data = vec![byte; len as usize];
            assert_eq!(vol.write_at(&data, off).unwrap(), len as usize);
            model[off as usize..(off + len) as usize].fill(byte);
        }
        let mut back = vec![0u8; size as usize];
        vol.read_at(&mut back, 0).unwrap();
        assert_eq!(back, model);
        let raw = std::fs::read(&path).unwrap();
        let pattern = vec![model[1000]; 64];
        assert!(model[1000] == 0 || !raw.windows(64).any(|w| w == pattern.as_slice()));
    }

    #[test]
    fn end_of_disk_and_read_only_rules() {
        let size = 64 * 1024;
        let (_d, path, key) = scratch(size);
        let vol = Volume::open(&path, size, key, false, "t").unwrap();
        assert_eq!(vol.write_at(&[1; 100], size - 10).unwrap(), 10);
        assert_eq!(
            vol.write_at(&[1; 1], size).unwrap_err().errno(),
            libc::ENOSPC
        );
        let mut buf = [0u8; 10];
        assert_eq!(vol.read_at(&mut buf, size).unwrap(), 0);
        let ro = Volume::open(&path, size, DataKey::generate().unwrap(), true, "t").unwrap();
        assert_eq!(ro.write_at(&[1; 1], 0).unwrap_err().errno(), libc::EROFS);
    }

    #[test]
    fn revoked_volumes_refuse_io_until_restored() {
        let size = 64 * 1024;
        let (_d, path, key) = scratch(size);
        let copy = DataKey::from_slice(key.expose()).unwrap();
        let vol = Volume::open(&path, size, key, false, "t").unwrap();
        vol.write_at(&[5u8; 8192], 0).unwrap();
        let reason = Error::KeyDisabled {
            key: "k".into(),
            why: "test".into(),
        };
        vol.revoke(&reason);
        assert!(vol.is_revoked());
        let mut buf = [0u8; 4096];
        assert_eq!(
            vol.read_at(&mut buf, 0).unwrap_err().errno(),
            libc::EKEYREVOKED
        );
        assert_eq!(
            vol.write_at(&buf, 0).unwrap_err().errno(),
            libc::EKEYREVOKED
        );
        assert_eq!(vol.discard(0, 8192).unwrap_err().errno(), libc::EKEYREVOKED);
        assert!(vol.with_dek(|_| ()).is_none());
        vol.restore(copy).unwrap();
        vol.read_at(&mut buf, 0).unwrap();
        assert_eq!(buf, [5u8; 4096]);
    }

    #[test]
    fn large_requests_split_across_threads_match_small_ones() {
        let size = 4 << 20;
        let (_d, path, key) = scratch(size);
        let vol = Volume::open(&path, size, key, false, "t").unwrap();
        let data: Vec<u8> = (0..3 << 20).map(|i| (i * 7 % 251) as u8).collect();
        vol.write_at(&data, 4096 * 3 + 100).unwrap();
        let mut whole = vec![0u8; data.len()];
        vol.read_at(&mut whole, 4096 * 3 + 100).unwrap();
        assert_eq!(whole, data);
        let mut piecewise = vec![0u8; data.len()];
        for (i, chunk) in piecewise.chunks_mut(5000).enumerate() {
            vol.read_at(chunk, 4096 * 3 + 100 + (i * 5000) as u64)
                .unwrap();
        }
        assert_eq!(piecewise, data);
    }

    #[test]
    fn read_span_reads_whole_sectors_and_points_at_the_request() {
        let size = 64 * 1024;
        let (_d, path, key) = scratch(size);
        let vol = Volume::open(&path, size, key, false, "t").unwrap();
        let data: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
        vol.write_at(&data, 0).unwrap();
        for (offset, len) in [(0u64, 4096usize), (100, 5000), (4095, 2), (size - 10, 100)] {
            let mut buf = vec![0u8; vol.span_len(offset, len)];
            let range = vol.read_span(&mut buf, offset, len).unwrap();
            let want = len.min((size - offset) as usize);
            assert_eq!(range.len(), want);
            assert_eq!(&buf[range], &data[offset as usize..offset as usize + want]);
        }
        assert_eq!(vol.span_len(100, 5000), 2 * SECTOR_SIZE);
        assert_eq!(vol.span_len(size, 1), 0);
        assert_eq!(vol.read_span(&mut [], size, 1).unwrap(), 0..0);
    }

    #[test]
    fn discard_zeroes_the_range_and_punches_whole_sectors() {
        let size = 64 * 1024;
        let (_d, path, key) = scratch(size);
        let vol = Volume::open(&path, size, key, false, "t").unwrap();
        vol.write_at(&vec![9u8; size as usize], 0).unwrap();
        vol.discard(100, 3 * SECTOR).unwrap();
        let mut back = vec![0u8; size as usize];
        vol.read_at(&mut back, 0).unwrap();
        assert!(back[..100].iter().all(|&b| b == 9));
        assert!(back[100..100 + 3 * SECTOR as usize].iter().all(|&b| b == 0));
        assert!(back[100 + 3 * SECTOR as usize..].iter().all(|&b| b == 9));
        let raw = std::fs::read(&path).unwrap();
        assert!(
            raw[SECTOR_SIZE..3 * SECTOR_SIZE].iter().all(|&b| b == 0),
            "whole sectors are holes"
        );
    }
}
