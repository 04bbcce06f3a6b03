//! The data encryption key type.

use rand::TryRng;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{Error, Result};

/// A disk's data encryption key: 64 bytes, two AES-256 keys for XTS.
///
/// Boxed so that moving it never leaves copies on the stack, wiped on drop, and deliberately
/// without `Clone` or `Debug`: the bytes are exposed only to the sector cipher and to the
/// key-wrapping code, through [`DataKey::expose`].
pub struct DataKey(Box<[u8; DataKey::LEN]>);

impl DataKey {
    /// Length in bytes (AES-256-XTS takes two 256-bit keys).
    pub const LEN: usize = 64;

    /// A fresh random key from the operating system's RNG.
    pub fn generate() -> Result<Self> {
        let mut key = Box::new([0u8; Self::LEN]);
        rand::rngs::SysRng
            .try_fill_bytes(&mut key[..])
            .map_err(|e| Error::Crypto(format!("the system RNG failed: {e}")))?;
        Ok(DataKey(key))
    }

    /// Takes the bytes of an unwrapped key; the caller wipes its own buffer.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != Self::LEN {
            return Err(Error::Crypto(format!(
                "an unwrapped data key has {} bytes, expected {}",
                bytes.len(),
                Self::LEN
            )));
        }
        let mut key = Box::new([0u8; Self::LEN]);
        key.copy_from_slice(bytes);
        Ok(DataKey(key))
    }

    /// The raw key bytes, for the cipher and the wrapper only.
    pub(crate) fn expose(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    /// A short public fingerprint stored beside the wrapped key, so that an unwrap that yields a
    /// different key (a damaged record, a key mix-up) is detected before any sector is decrypted.
    /// It is a hash with a domain label and reveals nothing usable about the key.
    pub fn check_value(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"ssefs data key check v1\0");
        hasher.update(&self.0[..]);
        let digest = hasher.finalize();
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl Drop for DataKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for DataKey {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_differ_and_check_values_match_the_key() {
        let a = DataKey::generate().unwrap();
        let b = DataKey::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        let a2 = DataKey::from_slice(a.expose()).unwrap();
        assert_eq!(a.check_value(), a2.check_value());
        assert_ne!(a.check_value(), b.check_value());
        assert_eq!(a.check_value().len(), 16);
    }

    #[test]
    fn wrong_length_is_refused() {
        assert!(DataKey::from_slice(&[0u8; 32]).is_err());
    }
}
