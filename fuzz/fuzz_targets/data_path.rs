//! The data path: a sequence of writes, reads, discards, syncs and revocations on a small
//! volume, checked against a plain in-memory model. Every read equals the model; while revoked
//! every request fails; after the key is restored the model reads back again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssefs::crypto::DataKey;
use ssefs::error::Error;
use ssefs::volume::Volume;

const SIZE: usize = 64 * 1024;

fn key() -> DataKey {
    // A fixed key: the fuzzer explores the operations, not the key.
    DataKey::from_slice(&[7u8; 64]).expect("64 bytes")
}

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("data");
    std::fs::File::create(&path)
        .and_then(|f| f.set_len(SIZE as u64))
        .expect("data file");
    let volume = Volume::open(&path, SIZE as u64, key(), false, "fuzz").expect("open");
    let mut model = vec![0u8; SIZE];
    let mut revoked = false;
    let mut ops = data.chunks_exact(6);
    for op in &mut ops {
        let offset = (u32::from(op[1]) << 8 | u32::from(op[2])) as usize % (SIZE + 4096);
        let len = (u32::from(op[3]) << 8 | u32::from(op[4])) as usize % 20_000;
        match op[0] % 6 {
            0 | 1 => {
                let buf: Vec<u8> = (0..len).map(|i| op[5].wrapping_add(i as u8)).collect();
                match volume.write_at(&buf, offset as u64) {
                    Ok(n) => {
                        assert!(!revoked || n == 0, "a write succeeded while revoked");
                        assert_eq!(n, len.min(SIZE.saturating_sub(offset)));
                        model[offset..offset + n].copy_from_slice(&buf[..n]);
                    }
                    Err(_) => assert!(revoked || offset >= SIZE || len == 0),
                }
            }
            2 => {
                let mut buf = vec![0xAAu8; len];
                match volume.read_at(&mut buf, offset as u64) {
                    Ok(n) => {
                        assert!(!revoked || n == 0, "a read succeeded while revoked");
                        let end = (offset + n).min(SIZE);
                        assert_eq!(&buf[..n], &model[offset.min(SIZE)..end]);
                    }
                    Err(_) => assert!(revoked),
                }
            }
            3 => match volume.discard(offset as u64, len as u64) {
                Ok(()) => {
                    assert!(!revoked || offset >= SIZE || len == 0);
                    let end = (offset + len).min(SIZE);
                    if offset < end {
                        model[offset..end].fill(0);
                    }
                }
                Err(_) => assert!(revoked),
            },
            4 => {
                volume.revoke(&Error::KeyDisabled {
                    key: "k".into(),
                    why: "fuzz".into(),
                });
                revoked = true;
            }
            _ => {
                if revoked {
                    volume.restore(key()).expect("restore");
                    revoked = false;
                }
                volume.sync().expect("sync");
            }
        }
    }
    if revoked {
        volume.restore(key()).expect("restore");
    }
    let mut all = vec![0u8; SIZE];
    assert_eq!(volume.read_at(&mut all, 0).expect("read"), SIZE);
    assert_eq!(all, model);
});
