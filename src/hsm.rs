//! HSM-protected keys: RSA private keys generated (or imported) inside a PKCS#11 token as
//! sensitive, non-extractable objects, and used there to unwrap DEKs (`C_Decrypt` with
//! RSA-OAEP, SHA-256, MGF1-SHA-256, empty label: the same algorithm as software keys).
//! Wrapping needs only the public key, which the key record keeps.
//!
//! The token is named by the store's settings `hsm.module` (the PKCS#11 library, SoftHSM2's
//! by default) and `hsm.token` (its label); the user PIN comes from `SSEFS_HSM_PIN` or the
//! file `hsm.pin-file`, never from a command-line argument, and is never logged. Objects are
//! found by `CKA_ID` (the key version's id) and labelled `ssefs:VAULT/KEY/VERSION`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use parking_lot::Mutex;
use zeroize::{Zeroize, Zeroizing};

use crate::crypto::{DataKey, KeyPair};
use crate::error::{Error, Result};

/// SoftHSM2's module, where Debian's `softhsm2` package puts it.
pub const DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The token label used when `hsm.token` is not set.
pub const DEFAULT_TOKEN: &str = "ssefs";

/// Where the token is and how to log in to it.
pub struct TokenConfig {
    pub module: PathBuf,
    pub label: String,
    /// `hsm.pin-file`, read when `SSEFS_HSM_PIN` is not set.
    pub pin_file: Option<PathBuf>,
}

/// A PKCS#11 library can be initialised once per process: one context per module path.
type Contexts = Mutex<Vec<(PathBuf, Arc<Pkcs11>)>>;

fn contexts() -> &'static Contexts {
    static CONTEXTS: OnceLock<Contexts> = OnceLock::new();
    CONTEXTS.get_or_init(|| Mutex::new(Vec::new()))
}

fn p11(what: &str) -> impl Fn(cryptoki::error::Error) -> Error + '_ {
    move |e| Error::Crypto(format!("HSM: {what}: {e}"))
}

fn context(module: &Path) -> Result<Arc<Pkcs11>> {
    let mut all = contexts().lock();
    if let Some((_, ctx)) = all.iter().find(|(m, _)| m == module) {
        return Ok(ctx.clone());
    }
    if !module.is_file() {
        return Err(Error::Crypto(format!(
            "HSM: the PKCS#11 module {} does not exist (set hsm.module; SoftHSM2 is the softhsm2 package)",
            module.display()
        )));
    }
    let ctx = Pkcs11::new(module).map_err(p11("load the PKCS#11 module"))?;
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(p11("initialise the PKCS#11 module"))?;
    let ctx = Arc::new(ctx);
    all.push((module.to_path_buf(), ctx.clone()));
    Ok(ctx)
}

/// The user PIN: `SSEFS_HSM_PIN`, else the first line of the PIN file.
fn pin(config: &TokenConfig) -> Result<AuthPin> {
    if let Ok(p) = std::env::var("SSEFS_HSM_PIN")
        && !p.is_empty()
    {
        return Ok(AuthPin::new(p.into()));
    }
    let Some(file) = &config.pin_file else {
        return Err(Error::AccessDenied(
            "HSM: no PIN: set SSEFS_HSM_PIN, or the setting hsm.pin-file to a file holding it"
                .into(),
        ));
    };
    let mut text = std::fs::read_to_string(file)
        .map_err(|e| Error::io(format!("read the HSM PIN file {}", file.display()), e))?;
    let line = Zeroizing::new(text.lines().next().unwrap_or_default().trim().to_string());
    text.zeroize();
    if line.is_empty() {
        return Err(Error::AccessDenied(format!(
            "HSM: the PIN file {} is empty",
            file.display()
        )));
    }
    Ok(AuthPin::new(line.as_str().into()))
}

/// An open, logged-in session on the configured token.
pub struct Token {
    session: Session,
    label: String,
}

impl Token {
    /// Finds the token by label and logs in as its user.
    pub fn open(config: &TokenConfig) -> Result<Token> {
        let ctx = context(&config.module)?;
        let slot = find_slot(&ctx, &config.label)?;
        let session = ctx.open_rw_session(slot).map_err(p11("open a session"))?;
        // Login is per token and process: another open session may have logged in already.
        match session.login(UserType::User, Some(&pin(config)?)) {
            Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::UserAlreadyLoggedIn,
                _,
            )) => Ok(()),
            other => other,
        }
        .map_err(|e| match e {
            cryptoki::error::Error::Pkcs11(rv, _) => Error::AccessDenied(format!(
                "HSM: login to token '{}' refused ({rv}): check SSEFS_HSM_PIN or hsm.pin-file",
                config.label
            )),
            e => Error::Crypto(format!("HSM: login: {e}")),
        })?;
        Ok(Token {
            session,
            label: config.label.clone(),
        })
    }

    /// The token's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Generates an RSA key pair in the token: the private key sensitive, non-extractable, for
    /// decryption only. Returns the public modulus and exponent (big-endian).
    pub fn generate_rsa(&self, id: &[u8], label: &str, bits: usize) -> Result<(Vec<u8>, Vec<u8>)> {
        let public_template = vec![
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Id(id.to_vec()),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Encrypt(true),
            Attribute::ModulusBits((bits as u64).into()),
            Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
        ];
        let private_template = private_attributes(id, label);
        let (public, _private) = self
            .session
            .generate_key_pair(
                &Mechanism::RsaPkcsKeyPairGen,
                &public_template,
                &private_template,
            )
            .map_err(p11("generate an RSA key"))?;
        self.public_of(public)
    }

    /// Imports an RSA private key as a sensitive, non-extractable object, and its public half.
    /// The caller drops its copy (the PEM is not kept).
    pub fn import_rsa(&self, id: &[u8], label: &str, pair: &KeyPair) -> Result<(Vec<u8>, Vec<u8>)> {
        let c = pair.private_components()?;
        let mut template = private_attributes(id, label);
        template.extend([
            Attribute::Modulus(c.n.to_vec()),
            Attribute::PublicExponent(c.e.to_vec()),
            Attribute::PrivateExponent(c.d.to_vec()),
            Attribute::Prime1(c.p.to_vec()),
            Attribute::Prime2(c.q.to_vec()),
            Attribute::Exponent1(c.dp.to_vec()),
            Attribute::Exponent2(c.dq.to_vec()),
            Attribute::Coefficient(c.qinv.to_vec()),
        ]);
        let created = self.session.create_object(&template);
        // The template's copies of the private parts are wiped whatever happened.
        for attr in &mut template {
            wipe(attr);
        }
        created.map_err(p11("import the private key"))?;
        let public_template = vec![
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Id(id.to_vec()),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Encrypt(true),
            Attribute::Modulus(c.n.to_vec()),
            Attribute::PublicExponent(c.e.to_vec()),
        ];
        self.session
            .create_object(&public_template)
            .map_err(p11("import the public key"))?;
        Ok((c.n.to_vec(), c.e.to_vec()))
    }

    fn public_of(&self, public: ObjectHandle) -> Result<(Vec<u8>, Vec<u8>)> {
        let attrs = self
            .session
            .get_attributes(
                public,
                &[AttributeType::Modulus, AttributeType::PublicExponent],
            )
            .map_err(p11("read the public key"))?;
        let (mut n, mut e) = (None, None);
        for a in attrs {
            match a {
                Attribute::Modulus(v) => n = Some(v),
                Attribute::PublicExponent(v) => e = Some(v),
                _ => {}
            }
        }
        match (n, e) {
            (Some(n), Some(e)) => Ok((n, e)),
            _ => Err(Error::Crypto(
                "HSM: the token did not return the public key".into(),
            )),
        }
    }

    fn objects(&self, class: ObjectClass, id: &[u8]) -> Result<Vec<ObjectHandle>> {
        self.session
            .find_objects(&[Attribute::Class(class), Attribute::Id(id.to_vec())])
            .map_err(p11("find a key"))
    }

    fn private_key(&self, id: &[u8]) -> Result<ObjectHandle> {
        self.objects(ObjectClass::PRIVATE_KEY, id)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::KeyDeleted {
                key: hex(id),
                why: format!("the private key is not in HSM token '{}'", self.label),
            })
    }

    /// Unwraps a DEK with the token's private key (RSA-OAEP-SHA256). Tokens that implement
    /// OAEP with SHA-256 do it all inside; SoftHSM2 2.6 implements OAEP with SHA-1 only, so
    /// when the token refuses the mechanism's parameters the token performs the raw RSA
    /// private-key operation (`CKM_RSA_X_509`) and ssefs removes the OAEP-SHA-256 padding.
    /// Either way the private key never leaves the token; plaintext buffers are wiped.
    pub fn unwrap_key(&self, id: &[u8], wrapped: &[u8]) -> Result<DataKey> {
        let key = self.private_key(id)?;
        let oaep = Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
            MechanismType::SHA256,
            PkcsMgfType::MGF1_SHA256,
            PkcsOaepSource::empty(),
        ));
        let undecryptable = |e: cryptoki::error::Error| {
            Error::Crypto(format!(
                "the wrapped data key does not decrypt under this key (token: {e})"
            ))
        };
        let mut plain = match self.session.decrypt(&oaep, key, wrapped) {
            Ok(p) => Zeroizing::new(p),
            Err(cryptoki::error::Error::Pkcs11(rv, _)) if mechanism_refused(rv) => {
                let em = Zeroizing::new(
                    self.session
                        .decrypt(&Mechanism::RsaX509, key, wrapped)
                        .map_err(undecryptable)?,
                );
                oaep_sha256_decode(&em, wrapped.len())?
            }
            Err(e) => return Err(undecryptable(e)),
        };
        let dek = DataKey::from_slice(&plain);
        plain.zeroize();
        dek
    }

    /// Destroys the key's objects (purge). Missing objects are not an error.
    pub fn destroy(&self, id: &[u8]) -> Result<()> {
        for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
            for obj in self.objects(class, id)? {
                self.session
                    .destroy_object(obj)
                    .map_err(p11("destroy a key"))?;
            }
        }
        Ok(())
    }

    /// Whether the private key exists and is sensitive and not extractable, as created.
    pub fn is_protected(&self, id: &[u8]) -> Result<bool> {
        let key = self.private_key(id)?;
        let attrs = self
            .session
            .get_attributes(key, &[AttributeType::Sensitive, AttributeType::Extractable])
            .map_err(p11("read the key's attributes"))?;
        let mut sensitive = false;
        let mut extractable = true;
        for a in attrs {
            match a {
                Attribute::Sensitive(v) => sensitive = v,
                Attribute::Extractable(v) => extractable = v,
                _ => {}
            }
        }
        Ok(sensitive && !extractable)
    }
}

/// Whether the token refused OAEP's parameters or the mechanism itself (not the data).
fn mechanism_refused(rv: cryptoki::error::RvError) -> bool {
    use cryptoki::error::RvError;
    matches!(
        rv,
        RvError::ArgumentsBad | RvError::MechanismParamInvalid | RvError::MechanismInvalid
    )
}

/// Removes RSA-OAEP padding with SHA-256 and MGF1-SHA-256 and an empty label (RFC 8017,
/// 7.1.2 steps 3a–3g) from the raw RSA output `em` of a `k`-byte modulus. Every check runs
/// whatever the outcome of the others, and a failure says only that decryption failed.
fn oaep_sha256_decode(em: &[u8], k: usize) -> Result<Zeroizing<Vec<u8>>> {
    use sha2::{Digest, Sha256};
    const H: usize = 32;
    let failed = || Error::Crypto("the wrapped data key does not decrypt under this key".into());
    if k < 2 * H + 2 || em.len() > k {
        return Err(failed());
    }
    // The token may drop leading zero bytes of the block.
    let mut block = Zeroizing::new(vec![0u8; k]);
    block[k - em.len()..].copy_from_slice(em);
    let mgf1 = |seed: &[u8], len: usize| -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(len + H));
        let mut counter: u32 = 0;
        while out.len() < len {
            let mut h = Sha256::new();
            h.update(seed);
            h.update(counter.to_be_bytes());
            out.extend_from_slice(&h.finalize());
            counter += 1;
        }
        out.truncate(len);
        out
    };
    let (y, rest) = block.split_at(1);
    let (masked_seed, masked_db) = rest.split_at(H);
    let seed_mask = mgf1(masked_db, H);
    let seed: Zeroizing<Vec<u8>> = Zeroizing::new(
        masked_seed
            .iter()
            .zip(seed_mask.iter())
            .map(|(a, b)| a ^ b)
            .collect(),
    );
    let db_mask = mgf1(&seed, k - H - 1);
    let db: Zeroizing<Vec<u8>> = Zeroizing::new(
        masked_db
            .iter()
            .zip(db_mask.iter())
            .map(|(a, b)| a ^ b)
            .collect(),
    );
    let label_hash = Sha256::digest(b"");
    let mut bad = y[0];
    for (a, b) in db[..H].iter().zip(label_hash.iter()) {
        bad |= a ^ b;
    }
    // Find the 0x01 after the zero padding without branching on secret bytes.
    let mut looking: u8 = 1;
    let mut index = 0usize;
    for (i, &b) in db[H..].iter().enumerate() {
        let is_one = u8::from(b == 1);
        let is_zero = u8::from(b == 0);
        index |= usize::from(looking & is_one) * (H + i);
        bad |= looking & (1 ^ is_zero) & (1 ^ is_one);
        looking &= is_zero;
    }
    bad |= looking;
    if bad != 0 {
        return Err(failed());
    }
    Ok(Zeroizing::new(db[index + 1..].to_vec()))
}

/// The private key's template: on the token, private, sensitive, never extractable, and good
/// for decryption only.
fn private_attributes(id: &[u8], label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Id(id.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Decrypt(true),
        Attribute::Sign(false),
        Attribute::Unwrap(false),
    ]
}

fn wipe(attr: &mut Attribute) {
    match attr {
        Attribute::PrivateExponent(v)
        | Attribute::Prime1(v)
        | Attribute::Prime2(v)
        | Attribute::Exponent1(v)
        | Attribute::Exponent2(v)
        | Attribute::Coefficient(v) => v.zeroize(),
        _ => {}
    }
}

fn find_slot(ctx: &Pkcs11, label: &str) -> Result<Slot> {
    for slot in ctx
        .get_slots_with_token()
        .map_err(p11("list the token slots"))?
    {
        let info = ctx
            .get_token_info(slot)
            .map_err(p11("read a token's information"))?;
        if info.label().trim_end() == label {
            return Ok(slot);
        }
    }
    Err(Error::KeyDeleted {
        key: format!("HSM token '{label}'"),
        why: "no token with that label is present (check hsm.module, hsm.token and, for SoftHSM2, SOFTHSM2_CONF)".into(),
    })
}

/// A key version's `CKA_ID`: its 32 hex digits as 16 bytes.
pub fn object_id(version: &str) -> Vec<u8> {
    (0..version.len() / 2)
        .filter_map(|i| u8::from_str_radix(version.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_are_the_version_bytes() {
        assert_eq!(object_id("00ff10"), vec![0x00, 0xff, 0x10]);
        assert_eq!(
            hex(&object_id("0123456789abcdef0123456789abcdef")),
            "0123456789abcdef0123456789abcdef"
        );
    }

    #[test]
    fn oaep_padding_is_removed_as_rsa_oaep_sha256_put_it() {
        use rsa::traits::PublicKeyParts;
        let pair = rsa::PrivateKey::new(&mut rand::rngs::SysRng, 2048).unwrap();
        let public = crate::crypto::PublicKey::from_components(
            &pair.n().to_be_bytes_trimmed_vartime(),
            &pair.e().to_be_bytes_trimmed_vartime(),
        )
        .unwrap();
        let dek = DataKey::generate().unwrap();
        let wrapped = public.wrap_key(&dek).unwrap();
        // What CKM_RSA_X_509 returns: the raw private-key operation on the ciphertext.
        let c = rsa::BoxedUint::from_be_slice(&wrapped, pair.n().bits_precision()).unwrap();
        let m = rsa::hazmat::rsa_decrypt::<rand::rngs::SysRng>(None, &pair, &c).unwrap();
        let em = m.to_be_bytes_trimmed_vartime();
        let plain = oaep_sha256_decode(&em, 256).unwrap();
        assert_eq!(&plain[..], &dek.expose()[..]);
        // A flipped bit anywhere is refused, and says nothing more.
        let mut bad = em.to_vec();
        bad[100] ^= 1;
        assert!(oaep_sha256_decode(&bad, 256).is_err());
        assert!(oaep_sha256_decode(&em, 16).is_err());
    }

    #[test]
    fn a_missing_module_is_a_clear_error() {
        let cfg = TokenConfig {
            module: PathBuf::from("/nonexistent/libpkcs11.so"),
            label: "x".into(),
            pin_file: None,
        };
        match Token::open(&cfg) {
            Err(e) => assert!(e.to_string().contains("does not exist"), "{e}"),
            Ok(_) => panic!("opened a missing module"),
        }
    }
}
