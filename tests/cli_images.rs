//! Managed images: made from a disk or snapshot, they keep its key (a customer-key image stays
//! wrapped by the same set); disks made from a customer-key image must use its key; a
//! customer-key image cannot go into a shared image gallery. az's JSON shapes and exit codes.

mod common;

use common::{Env, cmk_setup};

#[test]
fn images_keep_their_sources_key_and_give_it_to_their_disks() {
    let env = Env::new();
    let cmk = cmk_setup(&env, "kv-img", "k", "des-img", "eastus");
    let other = cmk_setup(&env, "kv-img2", "k", "des-other", "eastus");
    env.ok(&[
        "disk",
        "create",
        "-n",
        "os",
        "-g",
        "rg",
        "--size-gb",
        "1",
        "--disk-encryption-set",
        &cmk.des_id,
        "-o",
        "none",
    ]);
    let image = env.json(&["image", "create", "-g", "rg", "-n", "img", "--source", "os"]);
    assert_eq!(image["type"], "Microsoft.Compute/images");
    assert_eq!(image["storageProfile"]["osDisk"]["osType"], "Linux");
    assert_eq!(image["storageProfile"]["osDisk"]["osState"], "Generalized");
    assert_eq!(
        image["storageProfile"]["osDisk"]["diskEncryptionSet"]["id"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase(),
        cmk.des_id.to_ascii_lowercase()
    );
    assert!(
        image["storageProfile"]["osDisk"]["managedDisk"]["id"]
            .as_str()
            .unwrap()
            .ends_with("/disks/os")
    );
    let img_id = image["id"].as_str().unwrap().to_string();
    assert!(
        img_id.ends_with("/providers/Microsoft.Compute/images/img"),
        "{img_id}"
    );
    // A bad --os-type is a usage error.
    env.fails(
        &[
            "image",
            "create",
            "-g",
            "rg",
            "-n",
            "img2",
            "--source",
            "os",
            "--os-type",
            "Plan9",
        ],
        2,
        "Linux or Windows",
    );
    // A disk from it (by name or id) keeps the image's set.
    let disk = env.json(&[
        "disk",
        "create",
        "-g",
        "rg",
        "-n",
        "from-img",
        "--image-reference",
        &img_id,
    ]);
    assert_eq!(
        disk["encryption"]["type"],
        "EncryptionAtRestWithCustomerKey"
    );
    assert_eq!(
        disk["encryption"]["diskEncryptionSetId"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase(),
        cmk.des_id.to_ascii_lowercase()
    );
    assert_eq!(disk["creationData"]["createOption"], "Copy");
    // Asking for another key is refused (documented rule).
    for extra in [
        vec!["--encryption-type", "EncryptionAtRestWithPlatformKey"],
        vec!["--disk-encryption-set", other.des_id.as_str()],
    ] {
        let mut args = vec![
            "disk",
            "create",
            "-g",
            "rg",
            "-n",
            "bad",
            "--image-reference",
            "img",
        ];
        args.extend(extra);
        env.fails(
            &args,
            1,
            "custom images encrypted with a customer-managed key",
        );
    }
    env.fails(
        &[
            "disk",
            "create",
            "-g",
            "rg",
            "-n",
            "bad",
            "--image-reference",
            "nosuch",
        ],
        3,
        "not found",
    );
    // A platform-key image from a snapshot; list, show, delete.
    env.ok(&[
        "disk",
        "create",
        "-n",
        "p",
        "-g",
        "rg",
        "--size-gb",
        "1",
        "-o",
        "none",
    ]);
    env.ok(&[
        "snapshot", "create", "-n", "p-snap", "-g", "rg", "--source", "p", "-o", "none",
    ]);
    let pimg = env.json(&[
        "image",
        "create",
        "-g",
        "rg",
        "-n",
        "pimg",
        "--source",
        "p-snap",
        "--os-type",
        "windows",
    ]);
    assert_eq!(pimg["storageProfile"]["osDisk"]["osType"], "Windows");
    assert!(pimg["storageProfile"]["osDisk"]["diskEncryptionSet"].is_null());
    assert!(
        pimg["storageProfile"]["osDisk"]["snapshot"]["id"]
            .as_str()
            .unwrap()
            .ends_with("/snapshots/p-snap")
    );
    assert_eq!(env.ok(&["image", "list", "--query", "length(@)"]), "2");
    assert_eq!(
        env.ok(&[
            "image", "show", "-n", "pimg", "-g", "rg", "--query", "name", "-o", "tsv"
        ]),
        "pimg"
    );

    // Shared image galleries: a customer-key image is refused with the documented reason.
    env.ok(&[
        "sig",
        "create",
        "-g",
        "rg",
        "--gallery-name",
        "gal",
        "-o",
        "none",
    ]);
    env.ok(&[
        "sig",
        "image-definition",
        "create",
        "-g",
        "rg",
        "--gallery-name",
        "gal",
        "--gallery-image-definition",
        "def",
        "--publisher",
        "p",
        "--offer",
        "o",
        "--sku",
        "s",
        "--os-type",
        "Linux",
        "-o",
        "none",
    ]);
    env.fails(
        &[
            "sig",
            "image-version",
            "create",
            "-g",
            "rg",
            "--gallery-name",
            "gal",
            "--gallery-image-definition",
            "def",
            "--gallery-image-version",
            "1.0.0",
            "--managed-image",
            &img_id,
        ],
        1,
        "cannot be used in a shared image gallery",
    );
    env.ok(&["image", "delete", "-n", "pimg", "-g", "rg"]);
    assert_eq!(env.ok(&["image", "list", "--query", "length(@)"]), "1");
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_ssefs"))
        .arg("check")
        .env("SSEFS_STORE", env.store())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{out}");
    assert!(out.contains("1 images"), "{out}");
}
