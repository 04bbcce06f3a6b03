//! Property tests of the parsers that take hostile input: names, resource ids, key URLs,
//! control-file writes and stored records. Deterministic pseudo-random inputs (a fixed seed, so
//! a failure reproduces), mutations of valid inputs, and kept regression cases. The properties:
//! nothing panics; whatever is accepted is safe to use as a path component and round-trips.

use ssefs::control::{self, Node};
use ssefs::format::{DesRecord, KeyRecord, VaultRecord, VolumeRecord};
use ssefs::ids::{self, KeyUrl, Kind, ResourceId};

/// xorshift64*: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Bytes biased towards the characters parsers care about.
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        const INTERESTING: &[u8] = b"/.-_ \\0\n\r\t%:aZ9";
        let len = self.below(max + 1);
        (0..len)
            .map(|_| match self.below(4) {
                0 => INTERESTING[self.below(INTERESTING.len())],
                1 => self.next() as u8,
                _ => b'a' + self.below(26) as u8,
            })
            .collect()
    }
    /// A valid input with a few random edits.
    fn mutate(&mut self, valid: &str) -> Vec<u8> {
        let mut v = valid.as_bytes().to_vec();
        for _ in 0..=self.below(3) {
            let at = self.below(v.len() + 1);
            match self.below(3) {
                0 if at < v.len() => {
                    v.remove(at);
                }
                1 => v.insert(at, self.bytes(4).first().copied().unwrap_or(b'/')),
                _ if at < v.len() => v[at] = self.next() as u8,
                _ => v.push(b'/'),
            }
        }
        v
    }
}

/// Inputs that once needed care, kept as regression cases.
const REGRESSIONS: &[&str] = &[
    "",
    ".",
    "..",
    "../x",
    "x/..",
    "a/b",
    "a\0b",
    "a\nb",
    "-",
    "x.",
    ".hidden",
    "аbc",
    "ａbc",
    "/subscriptions//resourceGroups/rg/providers/Microsoft.Compute/disks/d",
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/../x",
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/d/extra",
    "https://kv.vault.azure.net/keys/k/0123456789abcdef0123456789abcdeg",
    "https://kv.vault.azure.net:443/keys/k",
    "https://../keys/k",
    "https://kv.vault.azure.net/keys//",
    "true\0",
    "true\nfalse",
    "d1 s1 des extra",
];

fn safe_component(name: &str) {
    assert!(!name.is_empty() && name != "." && name != "..", "{name:?}");
    assert!(
        !name.contains('/') && !name.contains('\0') && !name.starts_with('.'),
        "{name:?}"
    );
    assert!(
        name.is_ascii() && !name.chars().any(|c| c.is_control()),
        "{name:?}"
    );
}

const KINDS: [Kind; 5] = [
    Kind::Vault,
    Kind::Key,
    Kind::DiskEncryptionSet,
    Kind::Disk,
    Kind::Snapshot,
];

#[test]
fn accepted_names_are_safe_path_components() {
    let mut rng = Rng(0x5eed_0001);
    let mut inputs: Vec<Vec<u8>> = REGRESSIONS.iter().map(|s| s.as_bytes().to_vec()).collect();
    for _ in 0..20_000 {
        inputs.push(if rng.below(2) == 0 {
            rng.bytes(100)
        } else {
            rng.mutate("disk-1.data_2")
        });
    }
    inputs.push(vec![b'x'; 10_000]);
    let mut accepted = 0;
    for input in &inputs {
        let text = String::from_utf8_lossy(input);
        for kind in KINDS {
            if ids::validate_name(kind, &text).is_ok() {
                safe_component(&text);
                accepted += 1;
            }
        }
    }
    assert!(
        accepted > 100,
        "the generator also produces valid names ({accepted})"
    );
}

#[test]
fn resource_ids_and_key_urls_accept_only_what_they_can_round_trip() {
    let mut rng = Rng(0x5eed_0002);
    let id = ResourceId::format("0000-sub", "rg-1", Kind::Disk, "disk1");
    let url = KeyUrl::format("vault-1", "key-1", "0123456789abcdef0123456789abcdef");
    for i in 0..20_000 {
        let raw = match i % 3 {
            0 => rng.mutate(&id),
            1 => rng.mutate(&url),
            _ => rng.bytes(200),
        };
        let text = String::from_utf8_lossy(&raw);
        for kind in [
            Kind::Disk,
            Kind::Snapshot,
            Kind::DiskEncryptionSet,
            Kind::Vault,
        ] {
            if let Ok(parsed) = ResourceId::parse(&text, kind) {
                safe_component(&parsed.name);
                let again = ResourceId::format(
                    &parsed.subscription,
                    &parsed.resource_group,
                    kind,
                    &parsed.name,
                );
                assert_eq!(ResourceId::parse(&again, kind).unwrap(), parsed);
            }
        }
        if let Ok(k) = KeyUrl::parse(&text) {
            safe_component(&k.vault);
            safe_component(&k.key);
            if let Some(v) = &k.version {
                assert_eq!(KeyUrl::parse(&k.with_version(v)).unwrap(), k);
            }
        }
    }
    for r in REGRESSIONS {
        let _ = ResourceId::parse(r, Kind::Disk);
        let _ = KeyUrl::parse(r);
    }
}

#[test]
fn control_writes_never_panic_and_refuse_with_einval_or_accept_one_command() {
    let mut rng = Rng(0x5eed_0003);
    let nodes = [
        Node::Snapshot,
        Node::KeyEnabled("kv".into(), "k".into()),
        Node::KeyRotate("kv".into(), "k".into()),
        Node::SetKeyUrl("des".into()),
        Node::DiskEncryption("d".into()),
        Node::KeyKid("kv".into(), "k".into()),
        Node::Readme,
    ];
    let seeds = [
        "true\n",
        "d1 s1\n",
        "d1 s1 des\n",
        "https://kv.vault.azure.net/keys/k\n",
        "des\n",
    ];
    for i in 0..20_000 {
        let data = match i % 4 {
            0 => rng.bytes(64),
            1 => rng.bytes(6000),
            _ => {
                let seed = seeds[rng.below(seeds.len())];
                rng.mutate(seed)
            }
        };
        for node in &nodes {
            match control::parse(node, &data) {
                Ok(_) => assert!(node.writable() && data.len() <= control::MAX_WRITE),
                Err(e) => {
                    let errno = control::errno(&e);
                    assert!(
                        [libc::EINVAL, libc::EACCES].contains(&errno),
                        "{node:?}: {e} ({errno})"
                    );
                }
            }
        }
    }
}

#[test]
fn damaged_records_are_errors_not_panics() {
    let mut rng = Rng(0x5eed_0004);
    let valid = r#"{"version":1,"kind":"disk","name":"d","resourceGroup":"rg","subscriptionId":"s","location":"eastus","sku":"Premium_LRS","sizeBytes":1073741824,"created":"x","encryptionType":"EncryptionAtRestWithPlatformKey","diskEncryptionSetId":null,"createOption":"Empty","sourceResourceId":null,"key":{"kek":{"type":"platform"},"wrappedDek":"AA==","dekCheck":"00"}}"#;
    assert!(
        serde_json::from_str::<VolumeRecord>(valid).is_ok(),
        "the seed record is valid"
    );
    for _ in 0..20_000 {
        let data = rng.mutate(valid);
        let _ = serde_json::from_slice::<VolumeRecord>(&data);
        let _ = serde_json::from_slice::<DesRecord>(&data);
        let _ = serde_json::from_slice::<VaultRecord>(&data);
        let _ = serde_json::from_slice::<KeyRecord>(&data);
    }
}
