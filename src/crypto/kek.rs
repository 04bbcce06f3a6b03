//! RSA key-encryption keys: generate, store as PEM, wrap and unwrap DEKs with RSA-OAEP-SHA256.
//!
//! This is the vault's "wrapKey"/"unwrapKey" (algorithm RSA-OAEP-256, empty label, as a cloud
//! vault does it). Unwrapping uses blinding (the `rsa` crate draws it from the OS RNG), checks
//! the ciphertext length first, and wipes the decrypted bytes after copying them into a
//! [`DataKey`].

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::sha2::Sha256;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use zeroize::{Zeroize, Zeroizing};

use super::DataKey;
use crate::error::{Error, Result};

/// An RSA private key (the `rsa` crate wipes it on drop). No `Clone` or `Debug`.
pub struct KeyPair(rsa::PrivateKey);

/// The public half, enough to wrap.
pub struct PublicKey(rsa::PublicKey);

impl KeyPair {
    /// Generates a key of `bits` (2048, 3072 or 4096; the caller checks the set).
    pub fn generate(bits: usize) -> Result<Self> {
        let mut rng = rand::rngs::SysRng;
        rsa::PrivateKey::new(&mut rng, bits)
            .map(KeyPair)
            .map_err(|e| Error::Crypto(format!("RSA key generation failed: {e}")))
    }

    /// Reads a PEM private key, PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    /// The error never echoes the input.
    pub fn from_pem(pem: &str) -> Result<Self> {
        if let Ok(key) = rsa::PrivateKey::from_pkcs8_pem(pem) {
            return Ok(KeyPair(key));
        }
        rsa::PrivateKey::from_pkcs1_pem(pem)
            .map(KeyPair)
            .map_err(|_| {
                Error::invalid(
                    "not an RSA private key in PEM form (expected BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)",
                )
            })
    }

    /// The key as PKCS#8 PEM, in a buffer wiped on drop.
    pub fn to_pem(&self) -> Result<Zeroizing<String>> {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| Zeroizing::new(pem.to_string()))
            .map_err(|e| Error::Crypto(format!("PEM encoding failed: {e}")))
    }

    /// The private components a PKCS#11 token needs to import the key (`n`, `e`, `d`, `p`, `q`,
    /// `d mod p-1`, `d mod q-1`, `q^-1 mod p`), big-endian, in buffers wiped on drop.
    pub fn private_components(&self) -> Result<PrivateComponents> {
        let k = &self.0;
        let be = |x: &rsa::BoxedUint| Zeroizing::new(x.to_be_bytes_trimmed_vartime().into_vec());
        let primes = k.primes();
        let (Some(dp), Some(dq), Some(qinv), [p, q]) =
            (k.dp(), k.dq(), k.crt_coefficient(), primes)
        else {
            return Err(Error::Crypto(
                "the key lacks its CRT components (two primes expected)".into(),
            ));
        };
        Ok(PrivateComponents {
            n: be(k.n()),
            e: be(k.e()),
            d: be(k.d()),
            p: be(p),
            q: be(q),
            dp: be(dp),
            dq: be(dq),
            qinv: be(&qinv),
        })
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.to_public_key())
    }

    /// Unwraps a DEK. A wrong key or damaged ciphertext is a [`Error::Crypto`] that says so.
    pub fn unwrap_key(&self, wrapped: &[u8]) -> Result<DataKey> {
        if wrapped.len() != self.0.size() {
            return Err(Error::Crypto(format!(
                "a wrapped key of {} bytes cannot come from this {}-bit key",
                wrapped.len(),
                self.0.size() * 8
            )));
        }
        let mut plain = self.0.oaep_decrypt::<Sha256>(wrapped).map_err(|_| {
            Error::Crypto("the wrapped data key does not decrypt under this key".into())
        })?;
        let key = DataKey::from_slice(&plain);
        plain.zeroize();
        key
    }
}

/// An RSA private key's components, for import into a token only. No `Clone` or `Debug`.
impl KeyPair {
    /// RSA-OAEP with SHA-256 decryption of an arbitrary message (Key Vault's `decrypt` with
    /// `RSA-OAEP-256`); the plaintext is wiped on drop.
    pub fn decrypt_oaep256(&self, cipher: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if cipher.len() != self.0.size() {
            return Err(Error::invalid(format!(
                "a ciphertext of {} bytes cannot come from this {}-bit key",
                cipher.len(),
                self.0.size() * 8
            )));
        }
        self.0
            .oaep_decrypt::<Sha256>(cipher)
            .map(Zeroizing::new)
            .map_err(|_| Error::Crypto("the value does not decrypt under this key".into()))
    }
}

pub struct PrivateComponents {
    pub n: Zeroizing<Vec<u8>>,
    pub e: Zeroizing<Vec<u8>>,
    pub d: Zeroizing<Vec<u8>>,
    pub p: Zeroizing<Vec<u8>>,
    pub q: Zeroizing<Vec<u8>>,
    pub dp: Zeroizing<Vec<u8>>,
    pub dq: Zeroizing<Vec<u8>>,
    pub qinv: Zeroizing<Vec<u8>>,
}

impl PublicKey {
    /// A public key from its big-endian modulus and exponent (as a key record keeps them, in
    /// base64url): enough to wrap under a key whose private half never leaves a token.
    pub fn from_components(n: &[u8], e: &[u8]) -> Result<Self> {
        let n = rsa::BoxedUint::from_be_slice_vartime(n);
        let e = rsa::BoxedUint::from_be_slice_vartime(e);
        rsa::PublicKey::new(n, e)
            .map(PublicKey)
            .map_err(|e| Error::Crypto(format!("not a usable RSA public key: {e}")))
    }

    /// Wraps a DEK with RSA-OAEP-SHA256.
    pub fn wrap_key(&self, key: &DataKey) -> Result<Vec<u8>> {
        self.0
            .oaep_encrypt::<Sha256>(key.expose())
            .map_err(|e| Error::Crypto(format!("wrapping failed: {e}")))
    }

    /// Modulus size in bits.
    /// RSA-OAEP with SHA-256 encryption of an arbitrary message (Key Vault's `encrypt` with
    /// `RSA-OAEP-256`): at most the key's size in bytes minus 66.
    pub fn encrypt_oaep256(&self, plain: &[u8]) -> Result<Vec<u8>> {
        let max = self.0.size().saturating_sub(66);
        if plain.len() > max {
            return Err(Error::invalid(format!(
                "a value of {} bytes is too long for RSA-OAEP-256 with this {}-bit key (at most {max})",
                plain.len(),
                self.0.size() * 8
            )));
        }
        self.0
            .oaep_encrypt::<Sha256>(plain)
            .map_err(|e| Error::Crypto(format!("encryption failed: {e}")))
    }

    pub fn bits(&self) -> usize {
        self.0.size() * 8
    }

    /// Big-endian modulus, for the JWK `n` that `key show` prints.
    pub fn modulus(&self) -> Vec<u8> {
        self.0.n().to_be_bytes_trimmed_vartime().into_vec()
    }

    /// Big-endian public exponent, for the JWK `e`.
    pub fn exponent(&self) -> Vec<u8> {
        self.0.e().to_be_bytes_trimmed_vartime().into_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_key_rebuilt_from_its_components_wraps_for_the_private_key() {
        let kek = KeyPair::generate(2048).unwrap();
        let public =
            PublicKey::from_components(&kek.public().modulus(), &kek.public().exponent()).unwrap();
        let dek = DataKey::generate().unwrap();
        let back = kek.unwrap_key(&public.wrap_key(&dek).unwrap()).unwrap();
        assert_eq!(back.expose(), dek.expose());
        let parts = kek.private_components().unwrap();
        assert_eq!(&parts.n[..], &kek.public().modulus()[..]);
        assert!(!parts.d.is_empty() && !parts.qinv.is_empty());
    }

    #[test]
    fn wrap_unwrap_round_trip_and_wrong_key_is_detected() {
        let kek = KeyPair::generate(2048).unwrap();
        let other = KeyPair::generate(2048).unwrap();
        let dek = DataKey::generate().unwrap();
        let wrapped = kek.public().wrap_key(&dek).unwrap();
        assert_eq!(wrapped.len(), 256);
        let back = kek.unwrap_key(&wrapped).unwrap();
        assert_eq!(back.expose(), dek.expose());
        assert!(matches!(other.unwrap_key(&wrapped), Err(Error::Crypto(_))));
        assert!(matches!(
            kek.unwrap_key(&wrapped[1..]),
            Err(Error::Crypto(_))
        ));
        assert_eq!(kek.public().bits(), 2048);
    }

    #[test]
    fn pem_round_trip_and_garbage_is_refused() {
        let kek = KeyPair::generate(2048).unwrap();
        let pem = kek.to_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let again = KeyPair::from_pem(&pem).unwrap();
        assert_eq!(again.public().modulus(), kek.public().modulus());
        assert!(
            KeyPair::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .is_err()
        );
        assert!(KeyPair::from_pem("").is_err());
    }
}
