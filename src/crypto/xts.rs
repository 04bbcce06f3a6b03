//! AES-256-XTS over sectors (IEEE 1619), the hot path of every read and write.
//!
//! A sector of [`SECTOR_SIZE`] bytes is one XTS data unit; its tweak is the sector index as a
//! 128-bit little-endian number (dm-crypt's `plain64`). There is no ciphertext stealing: a data
//! unit is always a whole number of blocks, and any other length is refused before a cipher
//! sees it.
//!
//! Two engines compute the same thing. On x86-64 with AES-NI, [`super::aesni`] fuses the tweak
//! XORs with 8-way interleaved AES rounds (as OpenSSL does). Elsewhere the portable engine
//! computes a sector's 256 tweaks, XORs them in, and hands the sector to the `aes` crate's
//! multi-block path. Both are checked against the IEEE vectors and against each other.

use aes::Aes256;
use aes::cipher::array::Array;
use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use zeroize::Zeroize;

use super::DataKey;
#[cfg(target_arch = "x86_64")]
use super::aesni::AesNiXts;
use crate::error::{Error, Result};

/// Bytes per sector, the unit of encryption and of the backing file's layout.
pub const SECTOR_SIZE: usize = 4096;

const BLOCK: usize = 16;
const MAX_BLOCKS: usize = SECTOR_SIZE / BLOCK;

/// The XTS cipher of one disk, built from its [`DataKey`]. The AES key schedules are wiped on
/// drop. No `Clone` or `Debug`.
pub struct SectorCipher {
    engine: Engine,
}

enum Engine {
    /// AES-NI with fused tweaks (x86-64).
    #[cfg(target_arch = "x86_64")]
    AesNi(Box<AesNiXts>),
    /// The `aes` crate's multi-block path with precomputed tweaks (any CPU).
    Portable(Box<Portable>),
}

struct Portable {
    /// Encrypts the data blocks (first half of the DEK).
    data: Aes256,
    /// Encrypts the sector index into the first tweak (second half of the DEK).
    tweak: Aes256,
}

#[derive(Clone, Copy)]
enum Direction {
    Encrypt,
    Decrypt,
}

impl SectorCipher {
    /// Expands the two AES-256 keys of `key`, for the fastest engine this CPU has.
    pub fn new(key: &DataKey) -> Result<Self> {
        #[cfg(target_arch = "x86_64")]
        {
            let (data, tweak) = key.expose().split_at(32);
            if let (Ok(data), Ok(tweak)) =
                (<&[u8; 32]>::try_from(data), <&[u8; 32]>::try_from(tweak))
                && let Some(fast) = AesNiXts::new(data, tweak)
            {
                return Ok(SectorCipher {
                    engine: Engine::AesNi(fast),
                });
            }
        }
        Self::portable(key)
    }

    /// The portable engine, whatever the CPU (tests compare the two).
    fn portable(key: &DataKey) -> Result<Self> {
        let bytes = key.expose();
        let bad = |_| Error::Crypto("bad AES key length".into());
        Ok(SectorCipher {
            engine: Engine::Portable(Box::new(Portable {
                data: Aes256::new_from_slice(&bytes[..32]).map_err(bad)?,
                tweak: Aes256::new_from_slice(&bytes[32..]).map_err(bad)?,
            })),
        })
    }

    /// Encrypts whole sectors in place; `buf` starts at sector `first_sector`.
    pub fn encrypt_sectors(&self, first_sector: u64, buf: &mut [u8]) -> Result<()> {
        self.crypt_sectors(first_sector, buf, Direction::Encrypt)
    }

    /// Decrypts whole sectors in place; `buf` starts at sector `first_sector`.
    pub fn decrypt_sectors(&self, first_sector: u64, buf: &mut [u8]) -> Result<()> {
        self.crypt_sectors(first_sector, buf, Direction::Decrypt)
    }

    fn crypt_sectors(&self, first_sector: u64, buf: &mut [u8], dir: Direction) -> Result<()> {
        if !buf.len().is_multiple_of(SECTOR_SIZE) {
            return Err(Error::Crypto(format!(
                "{} bytes is not a whole number of {SECTOR_SIZE}-byte sectors",
                buf.len()
            )));
        }
        for (i, sector) in buf.chunks_exact_mut(SECTOR_SIZE).enumerate() {
            self.crypt_unit(first_sector.wrapping_add(i as u64), sector, dir)?;
        }
        Ok(())
    }

    /// One XTS data unit: a whole number of 16-byte blocks, at most one sector. Used directly by
    /// the IEEE 1619 known-answer tests, whose data units are 512 bytes.
    fn crypt_unit(&self, unit: u64, data: &mut [u8], dir: Direction) -> Result<()> {
        let (blocks, rest) = data.as_chunks_mut::<BLOCK>();
        if blocks.is_empty() || !rest.is_empty() || blocks.len() > MAX_BLOCKS {
            return Err(Error::Crypto(format!(
                "an XTS data unit of {} bytes is not 1 to {MAX_BLOCKS} whole blocks",
                data.len()
            )));
        }
        match &self.engine {
            #[cfg(target_arch = "x86_64")]
            Engine::AesNi(fast) => {
                fast.crypt_unit(unit, blocks, matches!(dir, Direction::Decrypt));
                Ok(())
            }
            Engine::Portable(p) => {
                p.crypt_unit(unit, blocks, dir);
                Ok(())
            }
        }
    }
}

impl Portable {
    fn crypt_unit(&self, unit: u64, blocks: &mut [[u8; BLOCK]], dir: Direction) {
        let mut first = Array::from((unit as u128).to_le_bytes());
        self.tweak.encrypt_block(&mut first);
        let mut tweak = u128::from_le_bytes(first.into());

        let mut tweaks = [0u128; MAX_BLOCKS];
        for (block, t) in blocks.iter_mut().zip(tweaks.iter_mut()) {
            *t = tweak;
            xor_into(block, tweak);
            tweak = mul_alpha(tweak);
        }
        let aes_blocks = Array::cast_slice_from_core_mut(blocks);
        match dir {
            Direction::Encrypt => self.data.encrypt_blocks(aes_blocks),
            Direction::Decrypt => self.data.decrypt_blocks(aes_blocks),
        }
        let blocks = Array::cast_slice_to_core_mut(aes_blocks);
        for (block, t) in blocks.iter_mut().zip(tweaks.iter()) {
            xor_into(block, *t);
        }
        // The tweaks are derived from the second key half: do not leave them on the stack.
        tweaks.zeroize();
        tweak.zeroize();
    }
}

#[inline(always)]
fn xor_into(block: &mut [u8; BLOCK], tweak: u128) {
    *block = (u128::from_le_bytes(*block) ^ tweak).to_le_bytes();
}

/// Multiplies a tweak by the primitive element α of GF(2^128), in XTS's little-endian convention.
#[inline(always)]
fn mul_alpha(t: u128) -> u128 {
    (t << 1) ^ ((t >> 127) * 0x87)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const K1: &str = "2718281828459045235360287471352662497757247093699959574966967627";
    const K2: &str = "3141592653589793238462643383279502884197169399375105820974944592";

    fn ieee_cipher() -> SectorCipher {
        let mut key = hex(K1);
        key.extend(hex(K2));
        SectorCipher::new(&DataKey::from_slice(&key).unwrap()).unwrap()
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 256) as u8).collect()
    }

    /// IEEE 1619-2007, Annex B, vector 10: XTS-AES-256, data unit 0xff, 512 bytes.
    #[test]
    fn ieee_1619_vector_10() {
        let expected = hex(concat!(
            "1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b",
            "5d31e276f8fe4a8d66b317f9ac683f44680a86ac35adfc3345befecb4bb188fd",
            "5776926c49a3095eb108fd1098baec70aaa66999a72a82f27d848b21d4a741b0",
            "c5cd4d5fff9dac89aeba122961d03a757123e9870f8acf1000020887891429ca",
            "2a3e7a7d7df7b10355165c8b9a6d0a7de8b062c4500dc4cd120c0f7418dae3d0",
            "b5781c34803fa75421c790dfe1de1834f280d7667b327f6c8cd7557e12ac3a0f",
            "93ec05c52e0493ef31a12d3d9260f79a289d6a379bc70c50841473d1a8cc81ec",
            "583e9645e07b8d9670655ba5bbcfecc6dc3966380ad8fecb17b6ba02469a020a",
            "84e18e8f84252070c13e9f1f289be54fbc481457778f616015e1327a02b140f1",
            "505eb309326d68378f8374595c849d84f4c333ec4423885143cb47bd71c5edae",
            "9be69a2ffeceb1bec9de244fbe15992b11b77c040f12bd8f6a975a44a0f90c29",
            "a9abc3d4d893927284c58754cce294529f8614dcd2aba991925fedc4ae74ffac",
            "6e333b93eb4aff0479da9a410e4450e0dd7ae4c6e2910900575da401fc07059f",
            "645e8b7e9bfdef33943054ff84011493c27b3429eaedb4ed5376441a77ed4385",
            "1ad77f16f541dfd269d50d6a5f14fb0aab1cbb4c1550be97f7ab4066193c4caa",
            "773dad38014bd2092fa755c824bb5e54c4f36ffda9fcea70b9c6e693e148c151",
        ));
        let cipher = ieee_cipher();
        let mut buf = pattern(512);
        cipher
            .crypt_unit(0xff, &mut buf, Direction::Encrypt)
            .unwrap();
        assert_eq!(buf, expected);
        cipher
            .crypt_unit(0xff, &mut buf, Direction::Decrypt)
            .unwrap();
        assert_eq!(buf, pattern(512));
    }

    /// Cross-check whole 4096-byte sectors, at indices that exercise every byte of the tweak,
    /// against the `xts-mode` crate (a block-at-a-time reference implementation).
    #[test]
    fn matches_the_xts_mode_crate_on_full_sectors() {
        use xts_mode::{Xts128, get_tweak_default};
        let k1 = hex(K1);
        let k2 = hex(K2);
        let reference = Xts128::new(
            Aes256::new_from_slice(&k1).unwrap(),
            Aes256::new_from_slice(&k2).unwrap(),
        );
        let cipher = ieee_cipher();
        for index in [0u64, 1, 255, 0x1234_5678, u64::MAX] {
            let mut ours = pattern(SECTOR_SIZE * 2);
            let mut theirs = ours.clone();
            cipher.encrypt_sectors(index, &mut ours).unwrap();
            for (i, s) in theirs.chunks_mut(SECTOR_SIZE).enumerate() {
                let tweak = get_tweak_default(index.wrapping_add(i as u64) as u128);
                reference.encrypt_sector(s, tweak);
            }
            assert_eq!(ours, theirs, "sector index {index}");
            cipher.decrypt_sectors(index, &mut ours).unwrap();
            assert_eq!(ours, pattern(SECTOR_SIZE * 2));
        }
    }

    /// Cross-check against OpenSSL's EVP AES-256-XTS. OpenSSL 3's `openssl enc` refuses XTS
    /// ("enc XTS ciphers not supported"), so the test reaches the same EVP cipher through
    /// Python's `cryptography` package, which .ci/run installs. Missing tools fail the test.
    #[test]
    fn matches_openssl_evp_aes_256_xts() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        const SCRIPT: &str = "import sys\n\
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes\n\
key = bytes.fromhex(sys.argv[1]); tweak = bytes.fromhex(sys.argv[2])\n\
enc = Cipher(algorithms.AES(key), modes.XTS(tweak)).encryptor()\n\
sys.stdout.buffer.write(enc.update(sys.stdin.buffer.read()) + enc.finalize())\n";
        let index: u64 = 0x0102_0304_0506;
        let tweak: String = index
            .to_le_bytes()
            .iter()
            .chain([0u8; 8].iter())
            .map(|b| format!("{b:02x}"))
            .collect();
        let plain = pattern(SECTOR_SIZE);
        let mut child = Command::new("python3")
            .args(["-c", SCRIPT, &format!("{K1}{K2}"), &tweak])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 must be installed for this test");
        child.stdin.take().unwrap().write_all(&plain).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "python3 with the cryptography package is required"
        );
        let mut ours = plain.clone();
        ieee_cipher().encrypt_sectors(index, &mut ours).unwrap();
        assert_eq!(ours, out.stdout);
    }

    #[test]
    fn the_fast_and_portable_engines_agree() {
        let key = DataKey::generate().unwrap();
        let fast = SectorCipher::new(&key).unwrap();
        let portable = SectorCipher::portable(&key).unwrap();
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            matches!(fast.engine, Engine::AesNi(_)),
            std::arch::is_x86_feature_detected!("aes"),
            "AES-NI is used exactly when the CPU has it"
        );
        for index in [0u64, 1, 77, u64::MAX - 1] {
            let mut a = pattern(SECTOR_SIZE * 3);
            let mut b = a.clone();
            fast.encrypt_sectors(index, &mut a).unwrap();
            portable.encrypt_sectors(index, &mut b).unwrap();
            assert_eq!(a, b);
            fast.decrypt_sectors(index, &mut a).unwrap();
            assert_eq!(a, pattern(SECTOR_SIZE * 3));
        }
        // Units that are not a multiple of 8 blocks take the remainder path.
        for len in [16usize, 48, 112, 528] {
            let mut a = pattern(len);
            let mut b = a.clone();
            fast.crypt_unit(5, &mut a, Direction::Encrypt).unwrap();
            portable.crypt_unit(5, &mut b, Direction::Encrypt).unwrap();
            assert_eq!(a, b, "{len} bytes");
            fast.crypt_unit(5, &mut a, Direction::Decrypt).unwrap();
            assert_eq!(a, pattern(len));
        }
    }

    #[test]
    fn short_and_ragged_input_is_refused_not_panicking() {
        let cipher = ieee_cipher();
        for len in [0usize, 1, 15, 17, 4095, 4097] {
            let mut buf = vec![0u8; len];
            assert!(cipher.encrypt_sectors(0, &mut buf).is_err() || len == 0);
            assert!(cipher.crypt_unit(0, &mut buf, Direction::Encrypt).is_err());
        }
    }

    #[test]
    fn same_plaintext_differs_per_sector() {
        let cipher = ieee_cipher();
        let mut a = vec![0u8; SECTOR_SIZE];
        let mut b = vec![0u8; SECTOR_SIZE];
        cipher.encrypt_sectors(7, &mut a).unwrap();
        cipher.encrypt_sectors(8, &mut b).unwrap();
        assert_ne!(a, b);
    }
}
