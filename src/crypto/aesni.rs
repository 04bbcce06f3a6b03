//! AES-256-XTS with AES-NI intrinsics: the fast path of [`super::SectorCipher`] on x86-64.
//!
//! Why hand-written: the `aes` crate encrypts blocks well but exposes no way to fuse XTS's
//! tweak XORs into its pipeline, and running them as separate passes halves throughput. Here
//! each group of 8 blocks is XORed with its tweaks, pushed through the 14 rounds interleaved
//! (so the AES unit's latency is hidden), and XORed again, in registers, as OpenSSL's
//! `aesni_xts_encrypt` does. Known-answer tests (IEEE 1619) and cross-checks against the
//! portable path, the `xts-mode` crate and OpenSSL cover it.
//!
//! Every function here requires the `aes` CPU feature; [`AesNiXts::new`] returns `None`
//! without it, and only an `AesNiXts` can call them.

#![allow(unsafe_code)]

use core::arch::x86_64::{
    __m128i, _mm_aesdec_si128, _mm_aesdeclast_si128, _mm_aesenc_si128, _mm_aesenclast_si128,
    _mm_aesimc_si128, _mm_aeskeygenassist_si128, _mm_loadu_si128, _mm_set_epi64x,
    _mm_setzero_si128, _mm_shuffle_epi32, _mm_slli_si128, _mm_storeu_si128, _mm_xor_si128,
};

const ROUNDS: usize = 14;
const LANES: usize = 8;
const BLOCK: usize = 16;

/// Expanded round keys: encryption and decryption schedules of the data key, and the
/// encryption schedule of the tweak key. Wiped on drop; no `Clone` or `Debug`.
pub(super) struct AesNiXts {
    enc: [__m128i; ROUNDS + 1],
    dec: [__m128i; ROUNDS + 1],
    tweak: [__m128i; ROUNDS + 1],
}

impl Drop for AesNiXts {
    fn drop(&mut self) {
        for schedule in [&mut self.enc, &mut self.dec, &mut self.tweak] {
            for rk in schedule.iter_mut() {
                // SAFETY: a plain store to a field we own; volatile so it is not elided.
                unsafe { core::ptr::write_volatile(rk, zero()) };
            }
        }
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
    }
}

fn zero() -> __m128i {
    // SAFETY: SSE2 is part of the x86-64 baseline.
    unsafe { _mm_setzero_si128() }
}

impl AesNiXts {
    /// Expands both keys, or `None` when the CPU has no AES-NI. The schedules are expanded in
    /// place, in the box that owns them, so that no copy of a round key is left behind in a
    /// moved-from stack slot.
    pub(super) fn new(data_key: &[u8; 32], tweak_key: &[u8; 32]) -> Option<Box<Self>> {
        if !std::arch::is_x86_feature_detected!("aes") {
            return None;
        }
        let mut out = Box::new(AesNiXts {
            enc: [zero(); ROUNDS + 1],
            dec: [zero(); ROUNDS + 1],
            tweak: [zero(); ROUNDS + 1],
        });
        // SAFETY: AES-NI is present (checked just above).
        unsafe {
            expand_into(data_key, &mut out.enc);
            out.dec[0] = out.enc[ROUNDS];
            for i in 1..ROUNDS {
                out.dec[i] = _mm_aesimc_si128(out.enc[ROUNDS - i]);
            }
            out.dec[ROUNDS] = out.enc[0];
            expand_into(tweak_key, &mut out.tweak);
        }
        Some(out)
    }

    /// Encrypts or decrypts one data unit of whole blocks (the caller checked the length).
    pub(super) fn crypt_unit(&self, unit: u64, data: &mut [[u8; BLOCK]], decrypt: bool) {
        // SAFETY: an AesNiXts exists only when AES-NI is present.
        unsafe { self.crypt_unit_aesni(unit, data, decrypt) }
    }

    #[target_feature(enable = "aes")]
    unsafe fn crypt_unit_aesni(&self, unit: u64, data: &mut [[u8; BLOCK]], decrypt: bool) {
        let first = _mm_set_epi64x(0, unit as i64);
        let mut tweak = to_u128(encrypt_block(&self.tweak, first));
        let mut groups = data.chunks_exact_mut(LANES);
        // Tweaks (encryptions under the tweak key) and whitened blocks: wiped before returning.
        let mut t = [zero(); LANES];
        let mut x = [zero(); LANES];
        for group in &mut groups {
            for i in 0..LANES {
                t[i] = from_u128(tweak);
                tweak = mul_alpha(tweak);
                // SAFETY: each block is 16 readable bytes; loadu has no alignment need.
                x[i] = _mm_xor_si128(unsafe { _mm_loadu_si128(group[i].as_ptr().cast()) }, t[i]);
            }
            if decrypt {
                decrypt8(&self.dec, &mut x);
            } else {
                encrypt8(&self.enc, &mut x);
            }
            for i in 0..LANES {
                // SAFETY: each block is 16 writable bytes.
                unsafe {
                    _mm_storeu_si128(group[i].as_mut_ptr().cast(), _mm_xor_si128(x[i], t[i]))
                };
            }
        }
        for block in groups.into_remainder() {
            let t = from_u128(tweak);
            tweak = mul_alpha(tweak);
            // SAFETY: as above.
            let x = _mm_xor_si128(unsafe { _mm_loadu_si128(block.as_ptr().cast()) }, t);
            let y = if decrypt {
                decrypt_block(&self.dec, x)
            } else {
                encrypt_block(&self.enc, x)
            };
            // SAFETY: as above.
            unsafe { _mm_storeu_si128(block.as_mut_ptr().cast(), _mm_xor_si128(y, t)) };
        }
        tweak = 0;
        core::hint::black_box(tweak);
        for v in t.iter_mut().chain(x.iter_mut()) {
            // SAFETY: a plain store to a local; volatile so it is not elided.
            unsafe { core::ptr::write_volatile(v, zero()) };
        }
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
    }
}

/// Multiplies a tweak by α in GF(2^128), XTS's little-endian convention.
#[inline(always)]
fn mul_alpha(t: u128) -> u128 {
    (t << 1) ^ ((t >> 127) * 0x87)
}

#[inline(always)]
fn from_u128(v: u128) -> __m128i {
    // SAFETY: SSE2 is baseline on x86-64.
    unsafe { _mm_set_epi64x((v >> 64) as i64, v as i64) }
}

#[inline(always)]
fn to_u128(v: __m128i) -> u128 {
    let mut out = [0u8; 16];
    // SAFETY: 16 writable bytes.
    unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), v) };
    u128::from_le_bytes(out)
}

#[target_feature(enable = "aes")]
fn encrypt_block(rk: &[__m128i; ROUNDS + 1], b: __m128i) -> __m128i {
    let mut b = _mm_xor_si128(b, rk[0]);
    for k in &rk[1..ROUNDS] {
        b = _mm_aesenc_si128(b, *k);
    }
    _mm_aesenclast_si128(b, rk[ROUNDS])
}

#[target_feature(enable = "aes")]
fn decrypt_block(rk: &[__m128i; ROUNDS + 1], b: __m128i) -> __m128i {
    let mut b = _mm_xor_si128(b, rk[0]);
    for k in &rk[1..ROUNDS] {
        b = _mm_aesdec_si128(b, *k);
    }
    _mm_aesdeclast_si128(b, rk[ROUNDS])
}

#[target_feature(enable = "aes")]
fn encrypt8(rk: &[__m128i; ROUNDS + 1], x: &mut [__m128i; LANES]) {
    for b in x.iter_mut() {
        *b = _mm_xor_si128(*b, rk[0]);
    }
    for k in &rk[1..ROUNDS] {
        for b in x.iter_mut() {
            *b = _mm_aesenc_si128(*b, *k);
        }
    }
    for b in x.iter_mut() {
        *b = _mm_aesenclast_si128(*b, rk[ROUNDS]);
    }
}

#[target_feature(enable = "aes")]
fn decrypt8(rk: &[__m128i; ROUNDS + 1], x: &mut [__m128i; LANES]) {
    for b in x.iter_mut() {
        *b = _mm_xor_si128(*b, rk[0]);
    }
    for k in &rk[1..ROUNDS] {
        for b in x.iter_mut() {
            *b = _mm_aesdec_si128(*b, *k);
        }
    }
    for b in x.iter_mut() {
        *b = _mm_aesdeclast_si128(*b, rk[ROUNDS]);
    }
}

/// The AES-256 key schedule (FIPS 197), with AESKEYGENASSIST as in Intel's AES-NI paper,
/// written into `rk`; the working registers are cleared afterwards.
#[target_feature(enable = "aes")]
fn expand_into(key: &[u8; 32], rk: &mut [__m128i; ROUNDS + 1]) {
    #[inline(always)]
    fn mix(prev: __m128i, assist: __m128i) -> __m128i {
        // prev ^ prev<<32 ^ prev<<64 ^ prev<<96 ^ assist (SSE2 only: baseline).
        // SAFETY: SSE2 is baseline on x86-64.
        unsafe {
            let mut t = prev;
            let mut s = _mm_slli_si128(prev, 4);
            t = _mm_xor_si128(t, s);
            s = _mm_slli_si128(s, 4);
            t = _mm_xor_si128(t, s);
            s = _mm_slli_si128(s, 4);
            t = _mm_xor_si128(t, s);
            _mm_xor_si128(t, assist)
        }
    }

    // SAFETY: the key is 32 readable bytes.
    let (mut a, mut b) = unsafe {
        (
            _mm_loadu_si128(key.as_ptr().cast()),
            _mm_loadu_si128(key[16..].as_ptr().cast()),
        )
    };
    rk[0] = a;
    rk[1] = b;
    macro_rules! step {
        ($i:expr, $rcon:expr) => {
            a = mix(
                a,
                _mm_shuffle_epi32(_mm_aeskeygenassist_si128(b, $rcon), 0xff),
            );
            rk[$i] = a;
            b = mix(
                b,
                _mm_shuffle_epi32(_mm_aeskeygenassist_si128(a, 0x00), 0xaa),
            );
            rk[$i + 1] = b;
        };
    }
    step!(2, 0x01);
    step!(4, 0x02);
    step!(6, 0x04);
    step!(8, 0x08);
    step!(10, 0x10);
    step!(12, 0x20);
    a = mix(
        a,
        _mm_shuffle_epi32(_mm_aeskeygenassist_si128(b, 0x40), 0xff),
    );
    rk[14] = a;
    a = _mm_setzero_si128();
    b = _mm_setzero_si128();
    core::hint::black_box((a, b));
}
