//! The sealed envelope of a key backup, and the backup key that seals it.
//!
//! A backup file is useless on its own: its payload (a key's records and private keys) is
//! AES-256-GCM ciphertext under a random 256-bit *content key*, and the content key is itself
//! AES-256-GCM ciphertext under the *backup key*, a 256-bit secret kept beside the vaults
//! (`backup.key` in the vault directory). The subscription id is in the clear, so that a restore
//! into another subscription can be refused by name, but it is bound as associated data of both
//! seals: changing it breaks them. Every header byte is authenticated (the payload's associated
//! data is the whole header), so a damaged, truncated or edited file is refused, never guessed.
//!
//! Byte layout (version 1; all integers big-endian; `docs/FORMAT.md` has the table):
//!
//! ```text
//! 0        8   magic "SSEFSKB\0"
//! 8        2   format version = 1
//! 10       16  backup key id: SHA-256("ssefs backup key id v1\0" || backup key)[0..16]
//! 26       1   L, the subscription id's length (1..=64)
//! 27       L   subscription id, ASCII
//! H=27+L   12  nonce of the content key's seal
//! H+12     48  AES-256-GCM(backup key, content key), AAD = bytes [0, H)
//! H+60     12  nonce of the payload's seal
//! H+72     4   N, the sealed payload's length (tag included), 16 < N <= MAX_SEALED
//! H+76     N   AES-256-GCM(content key, payload), AAD = bytes [0, H+76)
//! ```
//!
//! The file ends exactly at `H+76+N`. Why two keys: the backup key only ever seals 32 random
//! bytes, so it could be rotated by re-sealing content keys without touching payloads, and each
//! payload gets a key of its own.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use base64ct::{Base64, Encoding};
use rand::TryRng;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};

/// The first 8 bytes of every backup file.
pub const BACKUP_MAGIC: &[u8; 8] = b"SSEFSKB\0";
/// The backup format this build writes and reads.
pub const BACKUP_VERSION: u16 = 1;
/// The largest sealed payload accepted (a key with hundreds of versions fits many times over).
pub const MAX_SEALED: usize = 8 << 20;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const KEY_ID_LEN: usize = 16;
const MAX_SUBSCRIPTION: usize = 64;
/// The first line of a backup key file; the second is the key in base64.
const KEY_FILE_TAG: &str = "ssefs backup key v1";

/// The backup key: 32 bytes that seal the content key of every backup made from one vault
/// directory. Boxed, wiped on drop, no `Clone` or `Debug`.
pub struct BackupKey(Box<[u8; KEY_LEN]>);

impl BackupKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self> {
        let mut key = Box::new([0u8; KEY_LEN]);
        random(&mut key[..])?;
        Ok(BackupKey(key))
    }

    /// The key file's text: a tag line and the key in base64 (wiped on drop).
    pub fn to_text(&self) -> Zeroizing<String> {
        let b64 = Zeroizing::new(Base64::encode_string(&self.0[..]));
        Zeroizing::new(format!("{KEY_FILE_TAG}\n{}\n", b64.as_str()))
    }

    /// Reads a key file's text; the error says what is wrong without echoing the text.
    pub fn from_text(text: &str) -> Result<Self> {
        let mut lines = text.lines();
        if lines.next() != Some(KEY_FILE_TAG) {
            return Err(Error::invalid(format!(
                "not an ssefs backup key (the first line is not '{KEY_FILE_TAG}')"
            )));
        }
        let b64 = lines.next().unwrap_or_default().trim();
        if lines.any(|l| !l.trim().is_empty()) {
            return Err(Error::invalid("not an ssefs backup key (extra lines)"));
        }
        let mut key = Box::new([0u8; KEY_LEN]);
        match Base64::decode(b64, &mut key[..]) {
            Ok(bytes) if bytes.len() == KEY_LEN => Ok(BackupKey(key)),
            _ => {
                key.zeroize();
                Err(Error::invalid(
                    "not an ssefs backup key (the key is not 32 bytes of base64)",
                ))
            }
        }
    }

    /// A public name of the key: a domain-separated hash, so a restore can tell "made with
    /// another backup key" from "damaged" without revealing anything usable.
    pub fn id(&self) -> [u8; KEY_ID_LEN] {
        let mut h = Sha256::new();
        h.update(b"ssefs backup key id v1\0");
        h.update(&self.0[..]);
        let digest = h.finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        id
    }
}

impl Drop for BackupKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for BackupKey {}

/// Hex of a backup key id, for messages.
pub fn key_id_hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

fn random(buf: &mut [u8]) -> Result<()> {
    rand::rngs::SysRng
        .try_fill_bytes(buf)
        .map_err(|e| Error::Crypto(format!("the system RNG failed: {e}")))
}

fn cipher(key: &[u8]) -> Result<Aes256Gcm> {
    Aes256Gcm::new_from_slice(key)
        .map_err(|_| Error::Crypto("an AES-256 key must be 32 bytes".into()))
}

/// Seals `payload` for the subscription `subscription` under `key`: the bytes of a backup file.
pub fn seal(key: &BackupKey, subscription: &str, payload: &[u8]) -> Result<Vec<u8>> {
    if subscription.is_empty() || subscription.len() > MAX_SUBSCRIPTION || !subscription.is_ascii()
    {
        return Err(Error::invalid(format!(
            "'{}' cannot be a backup's subscription id",
            subscription.chars().take(40).collect::<String>()
        )));
    }
    if payload.len() + TAG_LEN > MAX_SEALED {
        return Err(Error::invalid(format!(
            "the key is too large to back up in one file ({} bytes; at most {} MiB)",
            payload.len(),
            MAX_SEALED >> 20
        )));
    }
    let mut out = Vec::with_capacity(27 + subscription.len() + 76 + payload.len() + TAG_LEN);
    out.extend_from_slice(BACKUP_MAGIC);
    out.extend_from_slice(&BACKUP_VERSION.to_be_bytes());
    out.extend_from_slice(&key.id());
    out.push(subscription.len() as u8);
    out.extend_from_slice(subscription.as_bytes());

    // The content key, sealed under the backup key with the header so far as associated data.
    let mut content_key = Zeroizing::new([0u8; KEY_LEN]);
    random(&mut content_key[..])?;
    let mut nonce_k = [0u8; NONCE_LEN];
    random(&mut nonce_k)?;
    let mut sealed_key = Zeroizing::new(*content_key);
    let tag_k = cipher(&key.0[..])?
        .encrypt_inout_detached(&Nonce::from(nonce_k), &out, (&mut sealed_key[..]).into())
        .map_err(|_| Error::Crypto("sealing the content key failed".into()))?;
    out.extend_from_slice(&nonce_k);
    out.extend_from_slice(&sealed_key[..]);
    out.extend_from_slice(&tag_k);

    // The payload, sealed under the content key with the whole header as associated data.
    let mut nonce_p = [0u8; NONCE_LEN];
    random(&mut nonce_p)?;
    out.extend_from_slice(&nonce_p);
    out.extend_from_slice(&((payload.len() + TAG_LEN) as u32).to_be_bytes());
    let header_len = out.len();
    out.extend_from_slice(payload);
    let (header, body) = out.split_at_mut(header_len);
    let tag_p = cipher(&content_key[..])?
        .encrypt_inout_detached(&Nonce::from(nonce_p), header, body.into())
        .map_err(|_| Error::Crypto("sealing the backup failed".into()))?;
    out.extend_from_slice(&tag_p);
    Ok(out)
}

/// A backup file whose header has been read: what it says in the clear, before anything is
/// decrypted.
pub struct Sealed<'a> {
    /// The id of the backup key that sealed it.
    pub key_id: [u8; KEY_ID_LEN],
    /// The subscription it was made in.
    pub subscription: &'a str,
    key_aad: &'a [u8],
    nonce_k: [u8; NONCE_LEN],
    sealed_key: &'a [u8],
    payload_aad: &'a [u8],
    nonce_p: [u8; NONCE_LEN],
    sealed_payload: &'a [u8],
}

/// Reads `n` bytes at `*at`, or says the file is truncated.
fn take<'a>(bytes: &'a [u8], at: &mut usize, n: usize, what: &str) -> Result<&'a [u8]> {
    let end = at
        .checked_add(n)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| {
            Error::invalid(format!(
                "the file is truncated: it ends at byte {} inside the {what}",
                bytes.len()
            ))
        })?;
    let out = &bytes[*at..end];
    *at = end;
    Ok(out)
}

impl<'a> Sealed<'a> {
    /// Parses the header: magic, version, lengths. Nothing is authenticated yet.
    pub fn parse(bytes: &'a [u8]) -> Result<Sealed<'a>> {
        let mut at = 0;
        if bytes.len() < BACKUP_MAGIC.len() || &bytes[..BACKUP_MAGIC.len()] != BACKUP_MAGIC {
            return Err(Error::invalid(
                "not an ssefs key backup (it does not start with the magic bytes SSEFSKB)",
            ));
        }
        at += BACKUP_MAGIC.len();
        let version = take(bytes, &mut at, 2, "format version")?;
        let version = u16::from_be_bytes([version[0], version[1]]);
        if version != BACKUP_VERSION {
            return Err(Error::invalid(format!(
                "key backup format version {version} is not supported (this ssefs reads version {BACKUP_VERSION})"
            )));
        }
        let mut key_id = [0u8; KEY_ID_LEN];
        key_id.copy_from_slice(take(bytes, &mut at, KEY_ID_LEN, "backup key id")?);
        let sub_len = take(bytes, &mut at, 1, "subscription id length")?[0] as usize;
        if sub_len == 0 || sub_len > MAX_SUBSCRIPTION {
            return Err(Error::invalid(format!(
                "the header is damaged: a subscription id of {sub_len} bytes"
            )));
        }
        let subscription = std::str::from_utf8(take(bytes, &mut at, sub_len, "subscription id")?)
            .ok()
            .filter(|s| s.is_ascii())
            .ok_or_else(|| {
                Error::invalid("the header is damaged: the subscription id is not ASCII")
            })?;
        let key_aad = &bytes[..at];
        let mut nonce_k = [0u8; NONCE_LEN];
        nonce_k.copy_from_slice(take(bytes, &mut at, NONCE_LEN, "content key's nonce")?);
        let sealed_key = take(bytes, &mut at, KEY_LEN + TAG_LEN, "sealed content key")?;
        let mut nonce_p = [0u8; NONCE_LEN];
        nonce_p.copy_from_slice(take(bytes, &mut at, NONCE_LEN, "payload's nonce")?);
        let len = take(bytes, &mut at, 4, "payload length")?;
        let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if len <= TAG_LEN || len > MAX_SEALED {
            return Err(Error::invalid(format!(
                "the header is damaged: a sealed payload of {len} bytes"
            )));
        }
        let payload_aad = &bytes[..at];
        let sealed_payload = take(bytes, &mut at, len, "sealed payload")?;
        if at != bytes.len() {
            return Err(Error::invalid(format!(
                "the file has {} bytes after the end of the backup",
                bytes.len() - at
            )));
        }
        Ok(Sealed {
            key_id,
            subscription,
            key_aad,
            nonce_k,
            sealed_key,
            payload_aad,
            nonce_p,
            sealed_payload,
        })
    }

    /// Opens the seals with `key` (whose id the caller compared first); the payload comes back
    /// in a buffer wiped on drop. Any changed byte fails here.
    pub fn open(&self, key: &BackupKey) -> Result<Zeroizing<Vec<u8>>> {
        let damaged =
            || Error::invalid("the file is damaged: its authentication tag does not match");
        let mut content_key = Zeroizing::new([0u8; KEY_LEN]);
        content_key.copy_from_slice(&self.sealed_key[..KEY_LEN]);
        let tag_k = Tag::try_from(&self.sealed_key[KEY_LEN..]).map_err(|_| damaged())?;
        cipher(&key.0[..])?
            .decrypt_inout_detached(
                &Nonce::from(self.nonce_k),
                self.key_aad,
                (&mut content_key[..]).into(),
                &tag_k,
            )
            .map_err(|_| damaged())?;
        let body_len = self.sealed_payload.len() - TAG_LEN;
        let mut payload = Zeroizing::new(self.sealed_payload[..body_len].to_vec());
        let tag_p = Tag::try_from(&self.sealed_payload[body_len..]).map_err(|_| damaged())?;
        cipher(&content_key[..])?
            .decrypt_inout_detached(
                &Nonce::from(self.nonce_p),
                self.payload_aad,
                (&mut payload[..]).into(),
                &tag_p,
            )
            .map_err(|_| damaged())?;
        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "3220a494-c98d-49af-9f8b-9b8ffd657559";

    #[test]
    fn seal_open_round_trip_and_key_file_text() {
        let key = BackupKey::generate().unwrap();
        let file = seal(&key, SUB, b"payload bytes").unwrap();
        assert_eq!(&file[..8], BACKUP_MAGIC);
        assert_eq!(file.len(), 27 + SUB.len() + 76 + 13 + 16);
        let sealed = Sealed::parse(&file).unwrap();
        assert_eq!(sealed.subscription, SUB);
        assert_eq!(sealed.key_id, key.id());
        assert_eq!(&sealed.open(&key).unwrap()[..], b"payload bytes");
        let again = BackupKey::from_text(&key.to_text()).unwrap();
        assert_eq!(again.id(), key.id());
        assert!(BackupKey::from_text("ssefs backup key v1\nAAAA\n").is_err());
        assert!(BackupKey::from_text("").is_err());
    }

    #[test]
    fn every_flipped_byte_and_every_truncation_is_refused() {
        let key = BackupKey::generate().unwrap();
        let file = seal(&key, SUB, b"the payload").unwrap();
        for i in 0..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x01;
            let result = Sealed::parse(&bad).and_then(|s| {
                if s.key_id != key.id() {
                    return Err(Error::invalid("another key"));
                }
                s.open(&key)
            });
            assert!(result.is_err(), "a flip at byte {i} was accepted");
        }
        for len in 0..file.len() {
            assert!(Sealed::parse(&file[..len]).is_err(), "truncated to {len}");
        }
        let mut longer = file.clone();
        longer.push(0);
        assert!(Sealed::parse(&longer).is_err());
    }

    #[test]
    fn another_backup_key_cannot_open() {
        let key = BackupKey::generate().unwrap();
        let other = BackupKey::generate().unwrap();
        let file = seal(&key, SUB, b"x").unwrap();
        assert!(Sealed::parse(&file).unwrap().open(&other).is_err());
    }
}
