//! Names, resource ids and key URLs: nothing panics; an accepted name is a safe path component;
//! an accepted id or URL round-trips through its formatter.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssefs::ids::{self, KeyUrl, Kind, ResourceId};

const KINDS: [Kind; 7] = [
    Kind::Vault,
    Kind::Key,
    Kind::DiskEncryptionSet,
    Kind::Disk,
    Kind::Snapshot,
    Kind::Image,
    Kind::ResourceGroup,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let kind = KINDS[selector as usize % KINDS.len()];
    if ids::validate_name(kind, text).is_ok() {
        assert!(!text.is_empty() && text != "." && text != "..", "{text:?}");
        assert!(!text.contains('/') && !text.contains('\0') && !text.starts_with('.'));
    }
    if let Ok(id) = ResourceId::parse(text, kind) {
        let again = ResourceId::format(&id.subscription, &id.resource_group, kind, &id.name);
        let reparsed = ResourceId::parse(&again, kind).expect("a formatted id parses");
        assert_eq!(reparsed.name, id.name);
        assert_eq!(reparsed.resource_group, id.resource_group);
    }
    let _ = ids::name_or_id(text, kind);
    if let Ok(url) = KeyUrl::parse(text) {
        let version = url.version.clone().unwrap_or_default();
        if !version.is_empty() {
            let again = KeyUrl::format(&url.vault, &url.key, &version);
            let reparsed = KeyUrl::parse(&again).expect("a formatted key URL parses");
            assert_eq!(reparsed.vault, url.vault);
            assert_eq!(reparsed.key, url.key);
        }
    }
    let _ = ids::validate_version(text);
});
