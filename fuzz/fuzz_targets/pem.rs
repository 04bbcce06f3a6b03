//! PEM import (`keyvault key import --pem-file`): any text is refused or yields a key pair,
//! never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ssefs::crypto::KeyPair::from_pem(text);
    }
});
