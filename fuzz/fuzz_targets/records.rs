//! Stored records (volume, set, vault, key, store, config): a damaged file is refused with an
//! error, never a panic; an accepted record serialises and parses back to the same JSON.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssefs::config::Config;
use ssefs::format::{DesRecord, KeyRecord, StoreRecord, VaultRecord, Versioned, VolumeRecord};
use std::path::Path;

fn round_trip<T>(data: &[u8])
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    if let Ok(rec) = serde_json::from_slice::<T>(data) {
        let json = serde_json::to_value(&rec).expect("an accepted record serialises");
        let again: T = serde_json::from_value(json.clone()).expect("and parses back");
        assert_eq!(serde_json::to_value(&again).expect("serialises"), json);
    }
}

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.json");
    if let Ok(rec) = serde_json::from_slice::<VolumeRecord>(data) {
        let _ = rec.check_version(path);
    }
    if let Ok(rec) = serde_json::from_slice::<DesRecord>(data) {
        let _ = rec.check_version(path);
    }
    if let Ok(rec) = serde_json::from_slice::<VaultRecord>(data) {
        let _ = rec.check_version(path);
    }
    if let Ok(rec) = serde_json::from_slice::<KeyRecord>(data) {
        let _ = rec.check_version(path);
    }
    if let Ok(rec) = serde_json::from_slice::<StoreRecord>(data) {
        let _ = rec.check_version(path);
    }
    round_trip::<VolumeRecord>(data);
    round_trip::<DesRecord>(data);
    round_trip::<Config>(data);
});
