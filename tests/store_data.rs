//! Data through the library: what is written to a disk reads back, snapshots and copies keep
//! their contents, the backing files hold no plaintext, and re-wrapping (rotation, key switch,
//! crash recovery) never changes a byte of ciphertext.

mod common;

use std::io::Read;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};
use ssefs::ids::Kind;
use ssefs::service::{DesArgs, KeyArgs, Service, VaultArgs, VolumeArgs, VolumeUpdate};
use ssefs::volume::Volume;

const MIB: usize = 1 << 20;

fn sha256_file(p: &Path) -> Vec<u8> {
    let mut f = std::fs::File::open(p).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 4 * MIB];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finalize().to_vec()
}

fn open(s: &Service, kind: Kind, name: &str, read_only: bool) -> Volume {
    let rec = s.load_volume(kind, name).unwrap();
    let dek = s.volume_key(kind, name).unwrap();
    Volume::open(
        &s.data_path(kind, name).unwrap(),
        rec.size_bytes,
        dek,
        read_only,
        name,
    )
    .unwrap()
}

fn read_all(v: &Volume, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    assert_eq!(v.read_at(&mut buf, 0).unwrap(), len);
    buf
}

/// A vault, a key, a set and its access policy, through the service API.
fn setup(s: &Service) -> String {
    s.vault_create(&VaultArgs {
        name: "kv-data".into(),
        resource_group: "rg".into(),
        location: Some("eastus".into()),
        enable_soft_delete: true,
        retention_days: None,
        enable_purge_protection: true,
        enable_rbac_authorization: false,
        sku: "standard".into(),
    })
    .unwrap();
    let key = s
        .key_create(&KeyArgs {
            vault: "kv-data".into(),
            name: "k".into(),
            kty: "RSA".into(),
            size: None,
            protection: "software".into(),
            pem: None,
        })
        .unwrap();
    let des = s
        .des_create(&DesArgs {
            name: "des".into(),
            resource_group: "rg".into(),
            location: None,
            key_url: key["key"]["kid"].as_str().unwrap().into(),
            source_vault: None,
            auto_rotation: false,
        })
        .unwrap();
    let principal = des["identity"]["principalId"].as_str().unwrap();
    s.vault_set_policy(
        "kv-data",
        principal,
        &["get".into(), "wrapKey".into(), "unwrapKey".into()],
    )
    .unwrap();
    des["id"].as_str().unwrap().to_string()
}

fn disk(name: &str, gb: u64, des: Option<&str>) -> VolumeArgs {
    VolumeArgs {
        name: name.into(),
        resource_group: "rg".into(),
        size_gb: Some(gb),
        disk_encryption_set: des.map(str::to_string),
        ..Default::default()
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 12) as u8)
        .collect()
}

#[test]
fn data_round_trips_snapshots_copies_and_never_stores_plaintext() {
    let env = common::Env::new();
    let s = Service::open(&env.store()).unwrap();
    let des_id = setup(&s);
    s.volume_create(Kind::Disk, &disk("d", 1, Some(&des_id)))
        .unwrap();

    let marker = b"SSEFS-PLAINTEXT-MARKER-0123456789".repeat(200);
    let first = pattern(8 * MIB, 1);
    {
        let v = open(&s, Kind::Disk, "d", false);
        assert_eq!(v.write_at(&first, 0).unwrap(), first.len());
        v.write_at(&marker, 3 * MIB as u64 + 777).unwrap();
        v.sync().unwrap();
    }
    let mut expected = first.clone();
    expected[3 * MIB + 777..3 * MIB + 777 + marker.len()].copy_from_slice(&marker);
    assert_eq!(
        read_all(&open(&s, Kind::Disk, "d", true), 8 * MIB),
        expected
    );

    // Snapshot = disk at snapshot time, unchanged by later writes.
    s.volume_create(
        Kind::Snapshot,
        &VolumeArgs {
            name: "snap".into(),
            resource_group: "rg".into(),
            source: Some("d".into()),
            ..Default::default()
        },
    )
    .unwrap();
    open(&s, Kind::Disk, "d", false)
        .write_at(&pattern(MIB, 9), 0)
        .unwrap();
    let snap = open(&s, Kind::Snapshot, "snap", true);
    assert_eq!(read_all(&snap, 8 * MIB), expected);
    assert_eq!(snap.write_at(b"x", 0).unwrap_err().errno(), libc::EROFS);

    // A disk back from the snapshot, grown, reads the same plus zeros.
    let mut from_snap = disk("restored", 2, None);
    from_snap.source = Some("snap".into());
    let shown = s.volume_create(Kind::Disk, &from_snap).unwrap();
    assert_eq!(
        shown["encryption"]["type"],
        "EncryptionAtRestWithCustomerKey"
    );
    let restored = open(&s, Kind::Disk, "restored", true);
    assert_eq!(restored.size(), 2 << 30);
    assert_eq!(read_all(&restored, 8 * MIB), expected);
    let mut tail = vec![1u8; MIB];
    restored.read_at(&mut tail, (2 << 30) - MIB as u64).unwrap();
    assert!(tail.iter().all(|&b| b == 0));

    // No file of the store contains the marker (data was written only in the first 16 MiB of
    // each data file, so that is all that needs searching).
    let needle = &marker[..32];
    let mut files = 0;
    for entry in walk(&env.store()) {
        let mut bytes = Vec::new();
        std::fs::File::open(&entry)
            .unwrap()
            .take(16 * MIB as u64)
            .read_to_end(&mut bytes)
            .unwrap();
        files += 1;
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "plaintext in {}",
            entry.display()
        );
    }
    assert!(files > 10);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.file_name().unwrap() != "lock" {
            out.push(p);
        }
    }
    out
}

#[test]
fn key_switch_and_rotation_rewrap_without_touching_ciphertext() {
    let env = common::Env::new();
    let s = Service::open(&env.store()).unwrap();
    let des_id = setup(&s);
    s.volume_create(Kind::Disk, &disk("p", 1, None)).unwrap();
    let data = pattern(4 * MIB, 3);
    open(&s, Kind::Disk, "p", false)
        .write_at(&data, 12345)
        .unwrap();
    let path = s.data_path(Kind::Disk, "p").unwrap();
    let before = sha256_file(&path);

    // Platform -> customer key.
    let upd = VolumeUpdate {
        disk_encryption_set: Some(des_id.clone()),
        ..Default::default()
    };
    s.disk_update("p", None, &upd).unwrap();
    assert_eq!(sha256_file(&path), before);
    let mut back = vec![0u8; data.len()];
    open(&s, Kind::Disk, "p", true)
        .read_at(&mut back, 12345)
        .unwrap();
    assert_eq!(back, data);

    // Rotation to a new version.
    let key = s.key_rotate("kv-data", "k").unwrap();
    let new_url = key["key"]["kid"].as_str().unwrap().to_string();
    let des = s
        .des_update("des", None, Some(&new_url), None, None)
        .unwrap();
    assert_eq!(des["previousKeys"], serde_json::json!([]));
    assert_eq!(sha256_file(&path), before);
    open(&s, Kind::Disk, "p", true)
        .read_at(&mut back, 12345)
        .unwrap();
    assert_eq!(back, data);
}

#[test]
fn a_rotation_interrupted_by_a_crash_is_finished_by_the_next_open() {
    let env = common::Env::new();
    let (old_url, new_url) = {
        let s = Service::open(&env.store()).unwrap();
        let des_id = setup(&s);
        for i in 0..5 {
            s.volume_create(Kind::Disk, &disk(&format!("d{i}"), 1, Some(&des_id)))
                .unwrap();
            open(&s, Kind::Disk, &format!("d{i}"), false)
                .write_at(&pattern(MIB, i), 0)
                .unwrap();
        }
        let old = s.des_show("des", None).unwrap()["activeKey"]["keyUrl"]
            .as_str()
            .unwrap()
            .to_string();
        let new = s.key_rotate("kv-data", "k").unwrap()["key"]["kid"]
            .as_str()
            .unwrap()
            .to_string();
        (old, new)
    };
    // Simulate a crash right after step 1 of the rotation: the set already points at the new
    // key and lists the old one in previousKeys, but no resource has been re-wrapped yet.
    // (A rotation stuck half-way is covered by the CLI revocation test.)
    let des_path = env.path("diskEncryptionSets/des.json");
    let mut des: Value = serde_json::from_slice(&std::fs::read(&des_path).unwrap()).unwrap();
    let old_ref = des["activeKey"].clone();
    des["activeKey"]["keyUrl"] = Value::String(new_url.clone());
    des["previousKeys"] = serde_json::json!([old_ref]);
    std::fs::write(&des_path, serde_json::to_vec_pretty(&des).unwrap()).unwrap();
    // The next open finishes the job.
    {
        let s = Service::open(&env.store()).unwrap();
        assert_eq!(
            s.des_show("des", None).unwrap()["previousKeys"],
            serde_json::json!([])
        );
    }
    for i in 0..5 {
        let rec: Value = serde_json::from_slice(
            &std::fs::read(env.path(&format!("disks/d{i}/volume.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(
            rec["key"]["kek"]["keyUrl"],
            Value::String(new_url.clone()),
            "d{i} finished"
        );
    }
    assert_ne!(old_url, new_url);
    let s = Service::open(&env.store()).unwrap();
    for i in 0..5u8 {
        let mut buf = vec![0u8; MIB];
        open(&s, Kind::Disk, &format!("d{i}"), true)
            .read_at(&mut buf, 0)
            .unwrap();
        assert_eq!(buf, pattern(MIB, i));
    }
    // The audit log shows the re-wraps of the resumed rotation.
    let log = s.vault_audit("kv-data").unwrap();
    let rewraps = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["operation"] == "WrapKey"
                && e["version"] == Value::String(new_url.rsplit('/').next().unwrap().into())
        })
        .count();
    assert_eq!(rewraps, 5);
}

#[test]
fn auto_rotation_follows_new_key_versions() {
    let env = common::Env::new();
    let s = Service::open(&env.store()).unwrap();
    let des_id = setup(&s);
    s.des_update("des", None, None, None, Some(true)).unwrap();
    s.volume_create(Kind::Disk, &disk("a", 1, Some(&des_id)))
        .unwrap();
    let new_url = s.key_rotate("kv-data", "k").unwrap()["key"]["kid"]
        .as_str()
        .unwrap()
        .to_string();
    let des = s.des_show("des", None).unwrap();
    assert_eq!(des["activeKey"]["keyUrl"], Value::String(new_url.clone()));
    assert_eq!(des["rotationToLatestKeyVersionEnabled"], true);
    let rec = s.load_volume(Kind::Disk, "a").unwrap();
    assert_eq!(
        rec.key.kek,
        ssefs::format::Kek::Customer { key_url: new_url }
    );
}

/// Finding: a switch kept the DEK that a platform-key snapshot still held, so the platform key
/// could decrypt everything written after the switch. Now a switch of a shared DEK gives the
/// disk a fresh DEK and re-encrypts it; the snapshot keeps the old DEK and only its own data.
#[test]
fn switching_a_disk_whose_dek_a_snapshot_shares_gives_it_a_fresh_dek() {
    let env = common::Env::new();
    let s = Service::open(&env.store()).unwrap();
    let des_id = setup(&s);
    s.volume_create(Kind::Disk, &disk("shared", 1, None))
        .unwrap();
    let before = pattern(MIB, 7);
    open(&s, Kind::Disk, "shared", false)
        .write_at(&before, 0)
        .unwrap();
    s.volume_create(
        Kind::Snapshot,
        &VolumeArgs {
            name: "before-switch".into(),
            resource_group: "rg".into(),
            source: Some("shared".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let snap_check = s
        .load_volume(Kind::Snapshot, "before-switch")
        .unwrap()
        .key
        .dek_check;
    assert_eq!(
        s.load_volume(Kind::Disk, "shared").unwrap().key.dek_check,
        snap_check
    );

    let upd = VolumeUpdate {
        disk_encryption_set: Some(des_id.clone()),
        ..Default::default()
    };
    s.disk_update("shared", None, &upd).unwrap();
    let rec = s.load_volume(Kind::Disk, "shared").unwrap();
    assert_ne!(
        rec.key.dek_check, snap_check,
        "the switched disk needs a fresh DEK"
    );
    assert!(rec.pending.is_none());
    assert!(
        !s.data_path(Kind::Disk, "shared")
            .unwrap()
            .with_file_name("data.rekey")
            .exists()
    );

    // The old data reads back through the new key; new data is written under it.
    assert_eq!(read_all(&open(&s, Kind::Disk, "shared", true), MIB), before);
    let after = pattern(MIB, 99);
    open(&s, Kind::Disk, "shared", false)
        .write_at(&after, 0)
        .unwrap();
    // With the snapshot's (platform-wrapped) DEK, the disk's ciphertext no longer decrypts.
    let snap_dek = s.volume_key(Kind::Snapshot, "before-switch").unwrap();
    let wrong = Volume::open(
        &s.data_path(Kind::Disk, "shared").unwrap(),
        rec.size_bytes,
        snap_dek,
        true,
        "shared",
    )
    .unwrap();
    assert_ne!(read_all(&wrong, MIB), after);
    // The snapshot still holds what it held.
    assert_eq!(
        read_all(&open(&s, Kind::Snapshot, "before-switch", true), MIB),
        before
    );
    drop(s);
    let report = ssefs::service::check::check(&env.store());
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    // A disk nobody shares keeps its DEK and is only re-wrapped (its ciphertext unchanged).
    let s = Service::open(&env.store()).unwrap();
    s.volume_create(Kind::Disk, &disk("alone", 1, None))
        .unwrap();
    open(&s, Kind::Disk, "alone", false)
        .write_at(&before, 0)
        .unwrap();
    let check_before = s.load_volume(Kind::Disk, "alone").unwrap().key.dek_check;
    let hash_before = sha256_file(&s.data_path(Kind::Disk, "alone").unwrap());
    s.disk_update("alone", None, &upd).unwrap();
    assert_eq!(
        s.load_volume(Kind::Disk, "alone").unwrap().key.dek_check,
        check_before
    );
    assert_eq!(
        sha256_file(&s.data_path(Kind::Disk, "alone").unwrap()),
        hash_before
    );
}

/// Finding: a failed `disk update` grew the data file before it found that the set named does
/// not exist. Everything is validated first now.
#[test]
fn a_refused_disk_update_changes_nothing() {
    let env = common::Env::new();
    let s = Service::open(&env.store()).unwrap();
    setup(&s);
    s.volume_create(Kind::Disk, &disk("d", 1, None)).unwrap();
    let path = s.data_path(Kind::Disk, "d").unwrap();
    let upd = VolumeUpdate {
        size_gb: Some(2),
        disk_encryption_set: Some("nosuch".into()),
        ..Default::default()
    };
    let err = s.disk_update("d", None, &upd).unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 1 << 30);
    assert_eq!(s.load_volume(Kind::Disk, "d").unwrap().size_bytes, 1 << 30);
    let upd = VolumeUpdate {
        size_gb: Some(2),
        sku: Some("NoSuchSku".into()),
        ..Default::default()
    };
    assert!(s.disk_update("d", None, &upd).is_err());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 1 << 30);
    // A valid grow changes both, and leaves no intent behind.
    let upd = VolumeUpdate {
        size_gb: Some(2),
        ..Default::default()
    };
    s.disk_update("d", None, &upd).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 2 << 30);
    let rec = s.load_volume(Kind::Disk, "d").unwrap();
    assert_eq!(rec.size_bytes, 2 << 30);
    assert!(rec.pending.is_none());
}

/// A disk made from a disk or snapshot may ask for another protector (the cloud's "create a
/// managed disk from a snapshot" sample does): it gets a fresh DEK and its data is re-encrypted
/// while copied, holes stay holes, and no DEK ends up under two protectors. Snapshots still
/// keep their source's key.
#[test]
fn copies_under_another_protector_are_re_encrypted() {
    let env = common::Env::new();
    let s = Service::open(&env.store()).unwrap();
    let des_id = setup(&s);
    s.volume_create(Kind::Disk, &disk("cmk", 1, Some(&des_id)))
        .unwrap();
    let data = pattern(3 * MIB, 42);
    open(&s, Kind::Disk, "cmk", false)
        .write_at(&data, 5 * MIB as u64)
        .unwrap();
    let snap = VolumeArgs {
        name: "cmk-snap".into(),
        resource_group: "rg".into(),
        source: Some("cmk".into()),
        ..Default::default()
    };
    s.volume_create(Kind::Snapshot, &snap).unwrap();
    // The way out of a customer key: copy the data to a new platform-key disk.
    let out = VolumeArgs {
        name: "copied-out".into(),
        resource_group: "rg".into(),
        source: Some("cmk-snap".into()),
        encryption_type: Some("EncryptionAtRestWithPlatformKey".into()),
        ..Default::default()
    };
    let shown = s.volume_create(Kind::Disk, &out).unwrap();
    assert_eq!(
        shown["encryption"]["type"],
        "EncryptionAtRestWithPlatformKey"
    );
    let src_check = s
        .load_volume(Kind::Snapshot, "cmk-snap")
        .unwrap()
        .key
        .dek_check;
    let copy = s.load_volume(Kind::Disk, "copied-out").unwrap();
    assert_ne!(
        copy.key.dek_check, src_check,
        "a copy under another protector needs its own DEK"
    );
    let mut back = vec![0u8; data.len()];
    open(&s, Kind::Disk, "copied-out", true)
        .read_at(&mut back, 5 * MIB as u64)
        .unwrap();
    assert_eq!(back, data);
    // Holes stay holes: only the written 3 MiB (and no more than a sector around it) is stored.
    let used = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(s.data_path(Kind::Disk, "copied-out").unwrap())
            .unwrap()
            .blocks()
            * 512
    };
    assert!(
        used <= (3 * MIB + 64 * 1024) as u64,
        "{used} bytes allocated"
    );
    // Platform disk -> a copy under the customer key.
    let back_in = VolumeArgs {
        name: "copied-in".into(),
        resource_group: "rg".into(),
        source: Some("copied-out".into()),
        disk_encryption_set: Some(des_id.clone()),
        ..Default::default()
    };
    s.volume_create(Kind::Disk, &back_in).unwrap();
    open(&s, Kind::Disk, "copied-in", true)
        .read_at(&mut back, 5 * MIB as u64)
        .unwrap();
    assert_eq!(back, data);
    // A snapshot still cannot change its key.
    let bad = VolumeArgs {
        name: "bad-snap".into(),
        resource_group: "rg".into(),
        source: Some("cmk".into()),
        encryption_type: Some("EncryptionAtRestWithPlatformKey".into()),
        ..Default::default()
    };
    let err = s.volume_create(Kind::Snapshot, &bad).unwrap_err();
    assert!(err.to_string().contains("same key as its source"), "{err}");
    drop(s);
    let report = ssefs::service::check::check(&env.store());
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}
