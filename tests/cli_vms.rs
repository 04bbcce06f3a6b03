//! VMs and scale sets through the CLI, with a real mount and a small runner script standing in
//! for qemu (`vm.runner`): the documented `vm create`, `vmss create` and `vm disk attach`
//! lines, the lifecycle (start, stop, deallocate, restart, attach, detach, delete, scale),
//! the encryption rules around running VMs, and every refusal. Needs root and /dev/fuse.

mod common;

use std::path::PathBuf;

use common::{Env, cmk_setup};
use serde_json::Value;

/// A store whose VMs run a script; unmounts (which powers the VMs off) on drop.
struct VmEnv {
    env: Env,
    mnt: PathBuf,
    pids: PathBuf,
}

impl VmEnv {
    fn new() -> VmEnv {
        let env = Env::new();
        let mnt = env.dir.path().join("mnt");
        let pids = env.dir.path().join("pids");
        std::fs::create_dir_all(&pids).unwrap();
        let runner = env.dir.path().join("runner.sh");
        // Records its pid and arguments; powers off (exits) on SIGTERM.
        std::fs::write(
            &runner,
            format!(
                "#!/bin/sh\necho $$ > {pids}/$1.pid\nshift\necho \"$@\" > {pids}/$(basename \"$0\").args\ntrap 'exit 0' TERM\nwhile :; do sleep 0.1; done\n",
                pids = pids.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&runner, std::fs::Permissions::from_mode(0o755)).unwrap();
        env.ok(&[
            "group",
            "create",
            "-n",
            "rg",
            "-l",
            "westcentralus",
            "-o",
            "none",
        ]);
        env.ok(&["config", "set", "mount-point", mnt.to_str().unwrap()]);
        env.ok(&[
            "config",
            "set",
            "vm.runner",
            &format!("{} {{name}} {{os}} {{data}}", runner.display()),
        ]);
        env.ok(&["config", "set", "vm.stop-timeout", "10"]);
        VmEnv { env, mnt, pids }
    }

    fn pid(&self, vm: &str) -> Option<i32> {
        std::fs::read_to_string(self.pids.join(format!("{vm}.pid")))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    fn alive(pid: i32) -> bool {
        // SAFETY: signal 0 only checks that the process exists.
        unsafe { libc::kill(pid, 0) == 0 }
    }

    fn power(&self, vm: &str) -> String {
        self.env.ok(&[
            "vm",
            "show",
            "-g",
            "rg",
            "-n",
            vm,
            "-d",
            "--query",
            "powerState",
            "-o",
            "tsv",
        ])
    }
}

impl Drop for VmEnv {
    fn drop(&mut self) {
        let _ = self
            .env
            .run(&["unmount", self.mnt.to_str().unwrap_or_default()]);
    }
}

#[test]
fn the_documented_vm_lines_run_and_their_disks_use_the_set() {
    let v = VmEnv::new();
    let env = &v.env;
    let cmk = cmk_setup(env, "kvvm1", "k1", "des1", "westcentralus");
    let des = cmk.des_id.as_str();
    let out = env.json(&[
        "vm",
        "create",
        "-g",
        "rg",
        "-n",
        "vm1",
        "-l",
        "westcentralus",
        "--image",
        "UbuntuLTS",
        "--size",
        "Standard_DS3_V2",
        "--generate-ssh-keys",
        "--os-disk-encryption-set",
        des,
        "--data-disk-sizes-gb",
        "128",
        "128",
        "--data-disk-encryption-sets",
        des,
        des,
    ]);
    assert_eq!(out["powerState"], "VM running", "{out}");
    assert_eq!(out["resourceGroup"], "rg");
    let vm_id = out["id"].as_str().unwrap().to_string();
    assert!(vm_id.ends_with("/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"));
    // The runner really runs, on the disks' plaintext files in the mount.
    let pid = v.pid("vm1").expect("the runner recorded its pid");
    assert!(VmEnv::alive(pid));

    let vm = env.json(&["vm", "show", "-g", "rg", "-n", "vm1"]);
    let os = vm["storageProfile"]["osDisk"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        os.starts_with("vm1_OsDisk_1_") && os.len() == "vm1_OsDisk_1_".len() + 32,
        "{os}"
    );
    assert_eq!(vm["storageProfile"]["osDisk"]["diskSizeGb"], 30);
    assert_eq!(
        vm["storageProfile"]["imageReference"]["offer"],
        "UbuntuServer"
    );
    assert_eq!(vm["hardwareProfile"]["vmSize"], "Standard_DS3_V2");
    let data = vm["storageProfile"]["dataDisks"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(data.len(), 2);
    for (lun, d) in data.iter().enumerate() {
        assert_eq!(d["lun"], lun as u64);
        assert!(
            d["name"]
                .as_str()
                .unwrap()
                .starts_with(&format!("vm1_disk{}_", lun + 2))
        );
        assert_eq!(d["diskSizeGb"], 128);
        assert_eq!(d["managedDisk"]["diskEncryptionSet"]["id"], des);
    }
    for name in std::iter::once(os.clone())
        .chain(data.iter().map(|d| d["name"].as_str().unwrap().to_string()))
    {
        let disk = env.json(&["disk", "show", "-g", "rg", "-n", &name]);
        assert_eq!(
            disk["encryption"]["type"],
            "EncryptionAtRestWithCustomerKey"
        );
        assert_eq!(disk["encryption"]["diskEncryptionSetId"], des);
        assert_eq!(disk["managedBy"], vm_id.as_str());
        assert_eq!(disk["diskState"], "Attached");
    }
    // The mount shows what the VM uses, as the same files.
    let vms_dir = v.mnt.join("vms").join("vm1");
    let mut slots: Vec<String> = std::fs::read_dir(&vms_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    slots.sort();
    assert_eq!(slots, ["lun0", "lun1", "os"]);
    use std::os::unix::fs::MetadataExt;
    let a = std::fs::metadata(vms_dir.join("os")).unwrap();
    let b = std::fs::metadata(v.mnt.join("disks").join(&os)).unwrap();
    assert_eq!(a.ino(), b.ino(), "vms/vm1/os is disks/{os}");
    let args = std::fs::read_to_string(v.pids.join("runner.sh.args")).unwrap();
    assert!(args.contains(&format!("/disks/{os}@rg")), "{args}");

    // The documented attach line: a disk made with the documented line, at LUN 2.
    env.ok(&[
        "disk",
        "create",
        "-n",
        "disk3",
        "-g",
        "rg",
        "-l",
        "westcentralus",
        "--encryption-type",
        "EncryptionAtRestWithCustomerKey",
        "--disk-encryption-set",
        des,
        "--size-gb",
        "30",
        "--sku",
        "Premium_LRS",
        "-o",
        "none",
    ]);
    let disk_id = env.ok(&[
        "disk", "show", "-n", "disk3", "-g", "rg", "--query", "[id]", "-o", "tsv",
    ]);
    env.ok(&[
        "vm",
        "disk",
        "attach",
        "-g",
        "rg",
        "--vm-name",
        "vm1",
        "--lun",
        "2",
        "--ids",
        &disk_id,
        "-o",
        "none",
    ]);
    assert_eq!(
        env.ok(&[
            "vm",
            "show",
            "-g",
            "rg",
            "-n",
            "vm1",
            "--query",
            "storageProfile.dataDisks[?lun==`2`].name | [0]",
            "-o",
            "tsv"
        ]),
        "disk3"
    );
    assert_eq!(
        env.ok(&[
            "disk",
            "show",
            "-n",
            "disk3",
            "-g",
            "rg",
            "--query",
            "managedBy",
            "-o",
            "tsv"
        ]),
        vm_id
    );

    // The documented scale set line: two instances, each disk encrypted with the set.
    let out = env.json(&[
        "vmss",
        "create",
        "-g",
        "rg",
        "-n",
        "vmss1",
        "--image",
        "UbuntuLTS",
        "--upgrade-policy",
        "automatic",
        "--admin-username",
        "azureuser",
        "--generate-ssh-keys",
        "--os-disk-encryption-set",
        des,
        "--data-disk-sizes-gb",
        "64",
        "128",
        "--data-disk-encryption-sets",
        des,
        des,
    ]);
    assert_eq!(out["vmss"]["upgradePolicy"]["mode"], "Automatic", "{out}");
    assert_eq!(out["vmss"]["sku"]["capacity"], 2);
    let instances = env.json(&["vmss", "list-instances", "-g", "rg", "-n", "vmss1"]);
    let instances = instances.as_array().unwrap();
    assert_eq!(instances.len(), 2);
    for inst in instances {
        assert_eq!(inst["powerState"], "VM running");
        let sp = &inst["storageProfile"];
        let disks: Vec<&Value> = std::iter::once(&sp["osDisk"])
            .chain(sp["dataDisks"].as_array().unwrap())
            .collect();
        assert_eq!(disks.len(), 3);
        for d in disks {
            let name = d["name"].as_str().unwrap();
            assert_eq!(
                env.ok(&[
                    "disk",
                    "show",
                    "-g",
                    "rg",
                    "-n",
                    name,
                    "--query",
                    "encryption.diskEncryptionSetId",
                    "-o",
                    "tsv"
                ]),
                des
            );
        }
    }
    // vm list shows VMs, not scale-set instances.
    assert_eq!(
        env.ok(&["vm", "list", "-g", "rg", "--query", "length(@)"]),
        "1"
    );
}

#[test]
fn start_stop_deallocate_restart_attach_detach_and_delete() {
    let v = VmEnv::new();
    let env = &v.env;
    let cmk = cmk_setup(env, "kvvm2", "k1", "des2", "westcentralus");
    env.ok(&[
        "vm",
        "create",
        "-g",
        "rg",
        "-n",
        "vm2",
        "--image",
        "Debian11",
        "--data-disk-sizes-gb",
        "1",
        "-o",
        "none",
    ]);
    let data = env.ok(&[
        "vm",
        "show",
        "-g",
        "rg",
        "-n",
        "vm2",
        "--query",
        "storageProfile.dataDisks[0].name",
        "-o",
        "tsv",
    ]);
    let os = env.ok(&[
        "vm",
        "show",
        "-g",
        "rg",
        "-n",
        "vm2",
        "--query",
        "storageProfile.osDisk.name",
        "-o",
        "tsv",
    ]);
    let first = v.pid("vm2").unwrap();

    // Encrypting a disk of a running VM is refused, as documented; stopped, it works.
    env.fails(
        &[
            "disk",
            "update",
            "-g",
            "rg",
            "-n",
            &data,
            "--encryption-type",
            "EncryptionAtRestWithCustomerKey",
            "--disk-encryption-set",
            "des2",
        ],
        1,
        "running virtual machine",
    );
    env.fails(
        &["disk", "delete", "-g", "rg", "-n", &data, "--yes"],
        1,
        "attached to virtual machine",
    );

    env.ok(&["vm", "stop", "-g", "rg", "-n", "vm2"]);
    assert!(!VmEnv::alive(first), "the runner is gone after vm stop");
    assert_eq!(v.power("vm2"), "VM stopped");
    assert!(
        !v.mnt.join("vms").join("vm2").exists(),
        "vms/vm2 is gone with the VM"
    );
    env.ok(&[
        "disk",
        "update",
        "-g",
        "rg",
        "-n",
        &data,
        "--encryption-type",
        "EncryptionAtRestWithCustomerKey",
        "--disk-encryption-set",
        "des2",
        "-o",
        "none",
    ]);
    assert_eq!(
        env.ok(&[
            "disk",
            "show",
            "-g",
            "rg",
            "-n",
            &data,
            "--query",
            "encryption.diskEncryptionSetId",
            "-o",
            "tsv"
        ]),
        cmk.des_id
    );

    env.ok(&["vm", "deallocate", "-g", "rg", "-n", "vm2"]);
    assert_eq!(v.power("vm2"), "VM deallocated");
    assert_eq!(
        env.ok(&[
            "disk",
            "show",
            "-g",
            "rg",
            "-n",
            &os,
            "--query",
            "diskState",
            "-o",
            "tsv"
        ]),
        "Reserved"
    );
    let statuses = env.json(&[
        "vm",
        "get-instance-view",
        "-g",
        "rg",
        "-n",
        "vm2",
        "--query",
        "instanceView.statuses[].code",
    ]);
    assert_eq!(
        statuses,
        serde_json::json!(["ProvisioningState/succeeded", "PowerState/deallocated"])
    );

    env.ok(&["vm", "start", "-g", "rg", "-n", "vm2"]);
    assert_eq!(v.power("vm2"), "VM running");
    let second = v.pid("vm2").unwrap();
    assert_ne!(first, second);
    env.ok(&["vm", "restart", "-g", "rg", "-n", "vm2"]);
    let third = v.pid("vm2").unwrap();
    assert!(
        !VmEnv::alive(second) && VmEnv::alive(third),
        "restart runs a new runner"
    );

    // Attach a new disk, detach it: it stays, unattached.
    env.ok(&[
        "vm",
        "disk",
        "attach",
        "-g",
        "rg",
        "--vm-name",
        "vm2",
        "--name",
        "extra",
        "--new",
        "--size-gb",
        "1",
        "-o",
        "none",
    ]);
    assert_eq!(
        env.ok(&[
            "vm",
            "show",
            "-g",
            "rg",
            "-n",
            "vm2",
            "--query",
            "length(storageProfile.dataDisks)"
        ]),
        "2"
    );
    env.fails(
        &[
            "vm",
            "disk",
            "attach",
            "-g",
            "rg",
            "--vm-name",
            "vm2",
            "--name",
            "extra",
        ],
        1,
        "already attached",
    );
    env.ok(&[
        "vm",
        "disk",
        "detach",
        "-g",
        "rg",
        "--vm-name",
        "vm2",
        "-n",
        "extra",
    ]);
    assert_eq!(
        env.ok(&[
            "disk",
            "show",
            "-g",
            "rg",
            "-n",
            "extra",
            "--query",
            "diskState",
            "-o",
            "tsv"
        ]),
        "Unattached"
    );

    // Delete: the OS disk goes with the VM (Delete), the data disk stays (Detach).
    env.fails(&["vm", "delete", "-g", "rg", "-n", "vm2"], 2, "--yes");
    env.ok(&["vm", "delete", "-g", "rg", "-n", "vm2", "--yes"]);
    assert!(!VmEnv::alive(third));
    env.fails(&["vm", "show", "-g", "rg", "-n", "vm2"], 3, "not found");
    env.fails(&["disk", "show", "-g", "rg", "-n", &os], 3, "not found");
    assert_eq!(
        env.ok(&[
            "disk",
            "show",
            "-g",
            "rg",
            "-n",
            &data,
            "--query",
            "diskState",
            "-o",
            "tsv"
        ]),
        "Unattached"
    );

    // With --data-disk-delete-option Delete, the data disks go too.
    env.ok(&[
        "vm",
        "create",
        "-g",
        "rg",
        "-n",
        "vm3",
        "--image",
        "Debian11",
        "--data-disk-sizes-gb",
        "1",
        "--data-disk-delete-option",
        "Delete",
        "-o",
        "none",
    ]);
    let data3 = env.ok(&[
        "vm",
        "show",
        "-g",
        "rg",
        "-n",
        "vm3",
        "--query",
        "storageProfile.dataDisks[0].name",
        "-o",
        "tsv",
    ]);
    env.ok(&["vm", "delete", "-g", "rg", "-n", "vm3", "--yes"]);
    env.fails(&["disk", "show", "-g", "rg", "-n", &data3], 3, "not found");

    // A runner that exits by itself leaves the VM stopped.
    env.ok(&[
        "vm", "create", "-g", "rg", "-n", "vm4", "--image", "Debian11", "-o", "none",
    ]);
    let pid = v.pid("vm4").unwrap();
    // SAFETY: ends our own runner script (it exits on SIGTERM).
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let mut stopped = false;
    for _ in 0..600 {
        if v.power("vm4") == "VM stopped" {
            stopped = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        stopped,
        "the VM did not show as stopped after its runner exited"
    );

    // Scale sets scale.
    env.ok(&[
        "vmss",
        "create",
        "-g",
        "rg",
        "-n",
        "ss",
        "--image",
        "Debian11",
        "--instance-count",
        "1",
        "-o",
        "none",
    ]);
    env.ok(&[
        "vmss",
        "scale",
        "-g",
        "rg",
        "-n",
        "ss",
        "--new-capacity",
        "3",
        "-o",
        "none",
    ]);
    assert_eq!(
        env.ok(&[
            "vmss",
            "list-instances",
            "-g",
            "rg",
            "-n",
            "ss",
            "--query",
            "[].instanceId",
            "-o",
            "tsv"
        ]),
        "0\n1\n2"
    );
    env.ok(&[
        "vmss",
        "scale",
        "-g",
        "rg",
        "-n",
        "ss",
        "--new-capacity",
        "1",
        "-o",
        "none",
    ]);
    assert_eq!(
        env.ok(&[
            "vmss",
            "show",
            "-g",
            "rg",
            "-n",
            "ss",
            "--query",
            "sku.capacity"
        ]),
        "1"
    );
    env.ok(&["vmss", "stop", "-g", "rg", "-n", "ss"]);
    assert_eq!(
        env.ok(&[
            "vmss",
            "list-instances",
            "-g",
            "rg",
            "-n",
            "ss",
            "--query",
            "[].powerState",
            "-o",
            "tsv"
        ]),
        "VM stopped"
    );
    env.ok(&["vmss", "delete", "-g", "rg", "-n", "ss"]);
    assert_eq!(
        env.ok(&[
            "disk",
            "list",
            "--query",
            "length([?starts_with(name, 'ss_')])"
        ]),
        "0"
    );
}

#[test]
fn vm_refusals() {
    let v = VmEnv::new();
    let env = &v.env;
    let cmk = cmk_setup(env, "kvvm3", "k1", "des3", "westcentralus");
    env.fails(
        &[
            "vm",
            "create",
            "-g",
            "rg",
            "-n",
            "x",
            "--image",
            "NoSuchImage",
        ],
        2,
        "not a file, a known image alias",
    );
    env.fails(
        &[
            "vm",
            "create",
            "-g",
            "rg",
            "-n",
            "x",
            "--image",
            "Debian11",
            "--storage-sku",
            "UltraSSD_LRS",
        ],
        2,
        "OS disk",
    );
    env.ok(&[
        "disk",
        "create",
        "-g",
        "rg",
        "-n",
        "u1",
        "--size-gb",
        "1",
        "--sku",
        "UltraSSD_LRS",
        "-o",
        "none",
    ]);
    env.fails(
        &[
            "vm",
            "create",
            "-g",
            "rg",
            "-n",
            "x",
            "--image",
            "Debian11",
            "--attach-data-disks",
            "u1",
        ],
        2,
        "--ultra-ssd-enabled",
    );
    env.fails(
        &[
            "vm",
            "create",
            "-g",
            "rg",
            "-n",
            "x",
            "--image",
            "Debian11",
            "--data-disk-sizes-gb",
            "1",
            "2",
            "--data-disk-encryption-sets",
            "des3",
            "des3",
            "des3",
        ],
        2,
        "3 values for 2 data disks",
    );
    // A refused create leaves nothing behind.
    assert_eq!(
        env.ok(&[
            "disk",
            "list",
            "--query",
            "length([?starts_with(name, 'x_')])"
        ]),
        "0"
    );
    env.ok(&[
        "vm",
        "create",
        "-g",
        "rg",
        "-n",
        "cmkvm",
        "--image",
        "Debian11",
        "--os-disk-encryption-set",
        &cmk.des_id,
        "-o",
        "none",
    ]);
    env.fails(
        &[
            "vm", "create", "-g", "rg", "-n", "cmkvm", "--image", "Debian11",
        ],
        1,
        "already exists",
    );
    env.fails(
        &["vm", "encryption", "enable", "-g", "rg", "-n", "cmkvm"],
        1,
        "cannot also use Azure Disk Encryption",
    );
    env.ok(&[
        "vm", "create", "-g", "rg", "-n", "pmkvm", "--image", "Debian11", "-o", "none",
    ]);
    env.fails(
        &["vm", "encryption", "enable", "-g", "rg", "-n", "pmkvm"],
        1,
        "not offered by ssefs",
    );
    let os = env.ok(&[
        "vm",
        "show",
        "-g",
        "rg",
        "-n",
        "pmkvm",
        "--query",
        "storageProfile.osDisk.name",
        "-o",
        "tsv",
    ]);
    env.fails(
        &[
            "vm",
            "create",
            "-g",
            "rg",
            "-n",
            "y",
            "--image",
            "Debian11",
            "--attach-data-disks",
            &os,
        ],
        1,
        "already attached",
    );
    env.fails(&["vm", "start", "-g", "rg", "-n", "nosuch"], 3, "not found");
    env.fails(
        &[
            "vm",
            "disk",
            "detach",
            "-g",
            "rg",
            "--vm-name",
            "pmkvm",
            "-n",
            "nosuch",
        ],
        3,
        "not found",
    );
    env.fails(&["config", "set", "vm.stop-timeout", "0"], 2, "seconds");
}

#[test]
fn a_vm_command_mounts_the_store_and_unmount_powers_vms_off() {
    let v = VmEnv::new();
    let env = &v.env;
    assert!(!v.mnt.join("disks").exists(), "not mounted yet");
    env.ok(&[
        "vm", "create", "-g", "rg", "-n", "auto", "--image", "Debian11", "-o", "none",
    ]);
    assert!(
        v.mnt.join("disks").is_dir(),
        "vm create mounted the store at its mount-point"
    );
    let shown = env.json(&[
        "config",
        "show",
        "--query",
        "[?name=='mount-point'].value | [0]",
    ]);
    assert_eq!(shown, Value::String(v.mnt.display().to_string()));
    let pid = v.pid("auto").unwrap();
    env.ok(&["unmount", v.mnt.to_str().unwrap()]);
    assert!(!VmEnv::alive(pid), "unmount powered the VM off first");
    assert_eq!(v.power("auto"), "VM stopped");
}

#[test]
fn group_delete_takes_stopped_vms_and_scale_sets_with_it() {
    let v = VmEnv::new();
    let env = &v.env;
    env.ok(&[
        "group",
        "create",
        "-n",
        "rgvm",
        "-l",
        "westcentralus",
        "-o",
        "none",
    ]);
    env.ok(&[
        "vm",
        "create",
        "-g",
        "rgvm",
        "-n",
        "doomed",
        "--image",
        "Debian11",
        "--data-disk-sizes-gb",
        "1",
        "-o",
        "none",
    ]);
    env.ok(&[
        "vmss",
        "create",
        "-g",
        "rgvm",
        "-n",
        "ss",
        "--image",
        "Debian11",
        "--instance-count",
        "1",
        "-o",
        "none",
    ]);
    env.fails(
        &["group", "delete", "-n", "rgvm", "--yes"],
        1,
        "stop or deallocate it first",
    );
    assert_eq!(
        env.ok(&[
            "vm",
            "show",
            "-g",
            "rgvm",
            "-n",
            "doomed",
            "-d",
            "--query",
            "powerState",
            "-o",
            "tsv"
        ]),
        "VM running",
        "a refused group delete changed nothing"
    );
    env.ok(&["vm", "stop", "-g", "rgvm", "-n", "doomed"]);
    env.ok(&["vmss", "deallocate", "-g", "rgvm", "-n", "ss"]);
    env.ok(&["group", "delete", "-n", "rgvm", "--yes"]);
    assert_eq!(env.ok(&["group", "exists", "-n", "rgvm"]), "false");
    assert_eq!(env.ok(&["vm", "list", "--query", "length(@)"]), "0");
    assert_eq!(env.ok(&["vmss", "list", "--query", "length(@)"]), "0");
    assert_eq!(env.ok(&["disk", "list", "--query", "length(@)"]), "0");
}
