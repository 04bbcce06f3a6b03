//! The command line as a user meets it: every flag and command described, az's "Global
//! Arguments" after each command's own, examples that parse, shell completion that loads,
//! man pages that are current, `-o yaml`, argument defaults and `--ids`.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::Env;
use serde_json::Value;

/// Runs a command that must fail as clap fails a usage error (exit 2, `needle` in the message).
fn usage_error(env: &Env, args: &[&str], needle: &str) {
    let r = env.run(args);
    assert_eq!(r.code, 2, "{args:?}: {}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
}

fn command() -> clap::Command {
    ssefs::cli::command(&Default::default())
}

/// Every command path of the tree (`["disk", "create"]`), the root included, hidden ones not.
fn paths(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
    out.push(prefix.to_vec());
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        let mut p = prefix.to_vec();
        p.push(sub.get_name().to_string());
        paths(sub, &p, out);
    }
}

/// The `--help` text of a command path, as the binary prints it.
fn help_of(path: &[String]) -> String {
    let mut argv = vec!["ssefs".to_string()];
    argv.extend(path.iter().cloned());
    argv.push("--help".into());
    match command().try_get_matches_from(argv) {
        Ok(_) => panic!("{path:?} --help parsed as a command"),
        Err(e) => {
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp,
                "{path:?}: {e}"
            );
            e.to_string()
        }
    }
}

#[test]
fn every_argument_and_subcommand_has_a_description() {
    let missing = ssefs::cli::help::undescribed(&command());
    assert!(
        missing.is_empty(),
        "without a description:\n{}",
        missing.join("\n")
    );
    // The walk does see arguments: one known to be described only by the shared table.
    let cmd = command();
    let create = cmd
        .find_subcommand("disk")
        .and_then(|d| d.find_subcommand("create"))
        .expect("disk create");
    let size = create
        .get_arguments()
        .find(|a| a.get_id() == "size_gb")
        .expect("--size-gb");
    assert_eq!(
        size.get_help().map(|h| h.to_string()).as_deref(),
        Some("Size in GB")
    );
}

#[test]
fn each_help_lists_its_own_arguments_then_the_global_ones() {
    let mut all = Vec::new();
    paths(&command(), &[], &mut all);
    assert!(all.len() > 100, "{} commands", all.len());
    let globals = [
        "--store",
        "--query",
        "--output",
        "--debug",
        "--only-show-errors",
        "--verbose",
    ];
    for path in &all {
        let help = help_of(path);
        let at = help
            .find("Global Arguments:")
            .unwrap_or_else(|| panic!("{path:?}: no Global Arguments:\n{help}"));
        let (own, global) = help.split_at(at);
        for flag in globals {
            assert!(
                global.contains(flag),
                "{path:?}: {flag} not under Global Arguments"
            );
            assert!(
                !own.contains(&format!("  {flag} ")) && !own.contains(&format!(", {flag} ")),
                "{path:?}: {flag} among the command's own arguments:\n{help}"
            );
        }
        // The command's own flags come before the heading (not az's per-command global
        // arguments, such as --subscription, which az lists under it).
        let mut cmd = command();
        for p in path {
            cmd = cmd.find_subcommand(p).expect("subcommand").clone();
        }
        for arg in cmd.get_arguments().filter(|a| {
            !a.is_global_set()
                && !a.is_hide_set()
                && a.get_help_heading() != Some("Global Arguments")
        }) {
            if let Some(long) = arg.get_long() {
                assert!(
                    own.contains(&format!("--{long}")),
                    "{path:?}: --{long} not before Global Arguments:\n{help}"
                );
            }
        }
    }
    // A group lists its subcommands, one line each with a description.
    let disk = help_of(&["disk".to_string()]);
    for sub in ["create", "show", "list", "update", "delete"] {
        let line = disk
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{sub} ")))
            .unwrap_or_else(|| panic!("disk --help lacks {sub}:\n{disk}"));
        assert!(line.split_whitespace().count() > 2, "{line}");
    }
}

#[test]
fn the_main_commands_have_examples_that_parse() {
    let wanted = [
        "disk create",
        "disk show",
        "disk list",
        "disk update",
        "disk delete",
        "snapshot create",
        "keyvault create",
        "keyvault key create",
        "keyvault set-policy",
        "disk-encryption-set create",
        "vm create",
        "mount",
        "unmount",
        "group create",
    ];
    for path in wanted {
        let examples =
            ssefs::cli::help::examples(path).unwrap_or_else(|| panic!("{path}: no examples"));
        assert!(!examples.is_empty());
        let p: Vec<String> = path.split(' ').map(String::from).collect();
        let help = help_of(&p);
        assert!(
            help.contains("Examples:"),
            "{path}: no Examples section:\n{help}"
        );
        let examples_at = help.find("Examples:").unwrap_or_default();
        assert!(help.find("Global Arguments:").unwrap_or_default() < examples_at);
    }
    for (path, examples) in ssefs::cli::help::EXAMPLES {
        for (what, line) in *examples {
            let help = help_of(&path.split(' ').map(String::from).collect::<Vec<_>>());
            assert!(help.contains(line), "{path}: example not shown: {line}");
            let words = shell_words::split(line).expect("example splits as shell words");
            assert_eq!(words[0], "ssefs");
            assert!(
                words[1..].join(" ").starts_with(path),
                "{path}: the example runs another command: {line}"
            );
            if let Err(e) = command().try_get_matches_from(&words) {
                panic!("{path}: example '{what}' does not parse: {line}\n{e}");
            }
        }
    }
}

#[test]
fn completion_scripts_load() {
    let env = Env::new();
    let bash = env.ok(&["completion", "bash"]);
    assert!(bash.contains("complete") && bash.contains("disk-encryption-set"));
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("ssefs.bash");
    std::fs::write(&script, &bash).expect("write");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -e; source '{}'; complete -p ssefs",
            script.display()
        ))
        .output()
        .expect("run bash");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "bash could not load the completion: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("_ssefs"));
    // It completes: a subcommand, then a flag of that subcommand.
    let complete = |words: &str| -> String {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source '{}'; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
                 _ssefs ssefs \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
                 echo \"${{COMPREPLY[@]}}\"",
                script.display()
            ))
            .output()
            .expect("run bash");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(complete("ssefs disk cr"), "create");
    assert_eq!(complete("ssefs disk create --si"), "--size-gb");
    assert!(complete("ssefs keyvault key ''").contains("rotation-policy"));
    for shell in ["zsh", "fish"] {
        let script = env.ok(&["completion", shell]);
        assert!(
            script.contains("keyvault") && script.len() > 1000,
            "{shell}"
        );
    }
    usage_error(&env, &["completion", "tcsh"], "invalid value");
}

#[test]
fn the_man_pages_in_docs_man_are_current() {
    let env = Env::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("man");
    env.ok(&["__gen-man", out.to_str().expect("utf-8 path")]);
    let read = |d: &std::path::Path| -> BTreeMap<String, String> {
        std::fs::read_dir(d)
            .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
            .map(|e| {
                let e = e.expect("entry");
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read_to_string(e.path()).expect("read"),
                )
            })
            .collect()
    };
    let fresh = read(&out);
    for page in [
        "ssefs.1",
        "ssefs-disk.1",
        "ssefs-disk-create.1",
        "ssefs-keyvault-key-create.1",
    ] {
        assert!(fresh.contains_key(page), "{page} not generated");
    }
    assert!(fresh["ssefs-disk-create.1"].contains(".SH EXAMPLES"));
    let checked_in = read(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/man"));
    let names = |m: &BTreeMap<String, String>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&checked_in),
        names(&fresh),
        "docs/man is not current: run scripts/gen-docs.sh"
    );
    for (name, text) in &fresh {
        assert!(
            checked_in[name] == *text,
            "docs/man/{name} is not current: run scripts/gen-docs.sh"
        );
    }
}

/// Parses YAML with Python's PyYAML (what az itself writes YAML with), when the machine has it.
fn python_yaml_to_json(yaml: &str) -> Option<Value> {
    let has = Command::new("python3")
        .args(["-c", "import yaml"])
        .output()
        .ok()?;
    if !has.status.success() {
        eprintln!("note: python3 yaml is not installed: YAML checked with serde_norway only");
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("out.yaml");
    std::fs::write(&file, yaml).expect("write");
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(&file)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("json"))
}

#[test]
fn yaml_output_round_trips() {
    let env = Env::new();
    env.ok(&[
        "group", "create", "-n", "rg", "-l", "eastus", "--tags", "env=test", "n=1",
    ]);
    env.ok(&[
        "disk",
        "create",
        "-n",
        "d",
        "-g",
        "rg",
        "--size-gb",
        "1",
        "-o",
        "none",
    ]);
    for args in [
        &["disk", "show", "-n", "d", "-g", "rg"][..],
        &["disk", "list"][..],
        &["group", "show", "-n", "rg"][..],
        &["config", "show"][..],
    ] {
        let json = env.json(args);
        for format in ["yaml", "yamlc"] {
            let mut a = args.to_vec();
            a.extend(["-o", format]);
            let yaml = env.ok(&a);
            assert!(!yaml.trim_start().starts_with('{'), "{yaml}");
            let back: Value = serde_norway::from_str(&yaml).expect("YAML parses");
            assert_eq!(back, json, "{args:?} -o {format}");
            if let Some(py) = python_yaml_to_json(&yaml) {
                assert_eq!(py, json, "{args:?} -o {format} through PyYAML");
            }
        }
    }
    // A query applies first, as with every format.
    assert_eq!(
        env.ok(&[
            "disk", "show", "-n", "d", "-g", "rg", "--query", "name", "-o", "yaml"
        ]),
        "d"
    );
}

#[test]
fn configured_defaults_fill_group_and_location_and_explicit_flags_win() {
    let env = Env::new();
    env.ok(&[
        "group", "create", "-n", "rgd", "-l", "westus2", "-o", "none",
    ]);
    env.ok(&[
        "group", "create", "-n", "other", "-l", "eastus", "-o", "none",
    ]);
    // Without a default, -g is required.
    usage_error(
        &env,
        &["disk", "create", "-n", "d0", "--size-gb", "1"],
        "--resource-group",
    );
    env.ok(&["configure", "--defaults", "group=rgd", "location=westus2"]);
    let listed = env.json(&["configure", "--list-defaults"]);
    let names: Vec<&str> = listed
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(names, ["group", "location"]);
    assert_eq!(listed[0]["value"], "rgd");

    let d = env.json(&["disk", "create", "-n", "d1", "--size-gb", "1"]);
    assert_eq!(d["resourceGroup"], "rgd");
    assert_eq!(d["location"], "westus2");
    let d = env.json(&[
        "disk",
        "create",
        "-n",
        "d2",
        "-g",
        "other",
        "-l",
        "eastus",
        "--size-gb",
        "1",
    ]);
    assert_eq!(d["resourceGroup"], "other");
    assert_eq!(d["location"], "eastus");
    // show and list take the default group too.
    assert_eq!(
        env.ok(&["disk", "show", "-n", "d1", "--query", "name", "-o", "tsv"]),
        "d1"
    );
    assert_eq!(
        env.ok(&["disk", "list", "--query", "[].name", "-o", "tsv"]),
        "d1"
    );

    // az's `config set defaults.group=G` is the same setting; the old NAME VALUE form stays.
    env.ok(&["config", "set", "defaults.group=other"]);
    assert_eq!(
        env.ok(&["config", "get", "defaults.group", "-o", "tsv"]),
        "other"
    );
    assert_eq!(
        env.ok(&["disk", "show", "-n", "d2", "--query", "name", "-o", "tsv"]),
        "d2"
    );
    env.fails(&["configure", "--defaults", "vm=x"], 2, "unknown default");
    // An empty value removes the default.
    env.ok(&["configure", "--defaults", "group="]);
    usage_error(
        &env,
        &["disk", "create", "-n", "d3", "--size-gb", "1"],
        "--resource-group",
    );
    usage_error(
        &env,
        &["configure", "--defaults", "vm=x"],
        "unknown default",
    );
}

#[test]
fn ids_run_the_command_once_per_id() {
    let env = Env::new();
    env.ok(&["group", "create", "-n", "rg1", "-l", "eastus", "-o", "none"]);
    env.ok(&["group", "create", "-n", "rg2", "-l", "eastus", "-o", "none"]);
    let id1 = env.ok(&[
        "disk",
        "create",
        "-n",
        "d1",
        "-g",
        "rg1",
        "--size-gb",
        "1",
        "--query",
        "id",
        "-o",
        "tsv",
    ]);
    let id2 = env.ok(&[
        "disk",
        "create",
        "-n",
        "d2",
        "-g",
        "rg2",
        "--size-gb",
        "1",
        "--query",
        "id",
        "-o",
        "tsv",
    ]);
    // A default group other than the ids' does not get in the way.
    env.ok(&["configure", "--defaults", "group=rg2"]);

    let both = env.json(&["disk", "show", "--ids", &id1, &id2]);
    let names: Vec<&str> = both
        .as_array()
        .expect("a list for several ids")
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(names, ["d1", "d2"]);
    let one = env.json(&["disk", "show", "--ids", &id1]);
    assert_eq!(one["name"], "d1", "one id: one object");
    assert_eq!(
        env.ok(&[
            "disk",
            "show",
            "--ids",
            &id1,
            &id2,
            "--query",
            "[].resourceGroup",
            "-o",
            "tsv"
        ]),
        "rg1\nrg2"
    );
    usage_error(
        &env,
        &["disk", "show", "--ids", &id1, "-n", "d1"],
        "cannot be used with",
    );
    usage_error(&env, &["disk", "show"], "--name");

    let updated = env.json(&["disk", "update", "--ids", &id1, &id2, "--size-gb", "2"]);
    assert_eq!(updated[0]["diskSizeGB"], 2);
    assert_eq!(updated[1]["diskSizeGB"], 2);

    // One missing id among found ones: a warning naming it, the others' results.
    let missing = id1.replace("/d1", "/nope");
    let r = env.run(&["disk", "show", "--ids", &id1, &missing]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("WARNING: {missing}:")),
        "{}",
        r.stderr
    );
    // A single failing id fails as the command would.
    env.fails(&["disk", "show", "--ids", &missing], 3, "not found");

    env.ok(&["disk", "delete", "--ids", &id1, &id2, "--yes"]);
    assert_eq!(
        env.json(&["disk", "list", "-g", "rg1"]),
        serde_json::json!([])
    );
    assert_eq!(
        env.json(&["disk", "list", "-g", "rg2"]),
        serde_json::json!([])
    );
    env.fails(
        &["disk", "show", "--ids", &id1, &id2],
        1,
        "more than one exception",
    );
}

#[test]
fn ids_reach_every_kind_that_takes_them() {
    let env = Env::new();
    env.ok(&["group", "create", "-n", "rg", "-l", "eastus", "-o", "none"]);
    for kv in ["kv-ids-1", "kv-ids-2"] {
        env.ok(&[
            "keyvault", "create", "-n", kv, "-g", "rg", "-l", "eastus", "-o", "none",
        ]);
    }
    let ids = env.ok(&["keyvault", "list", "--query", "[].id", "-o", "tsv"]);
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids.len(), 2);
    let mut args = vec!["keyvault", "show", "--ids"];
    args.extend(&ids);
    args.extend(["--query", "[].name", "-o", "tsv"]);
    assert_eq!(env.ok(&args), "kv-ids-1\nkv-ids-2");
    env.ok(&[
        "disk",
        "create",
        "-n",
        "d",
        "-g",
        "rg",
        "--size-gb",
        "1",
        "-o",
        "none",
    ]);
    env.ok(&[
        "snapshot", "create", "-n", "s", "-g", "rg", "--source", "d", "-o", "none",
    ]);
    let snap = env.ok(&[
        "snapshot", "show", "-n", "s", "-g", "rg", "--query", "id", "-o", "tsv",
    ]);
    assert_eq!(
        env.ok(&[
            "snapshot", "show", "--ids", &snap, "--query", "name", "-o", "tsv"
        ]),
        "s"
    );
    // The id's type is checked where the service takes ids: a snapshot's id is no disk's.
    env.fails(
        &["disk", "show", "--ids", &snap],
        2,
        "not a disk resource id",
    );
}

#[test]
fn verbose_logs_progress_on_stderr_only() {
    let env = Env::new();
    let r = env.run(&["group", "list", "--verbose"]);
    assert_eq!(r.code, 0);
    assert!(r.stderr.contains("INFO: Command ran in"), "{}", r.stderr);
    assert!(r.stderr.contains("INFO: store "), "{}", r.stderr);
    assert!(!r.stdout.contains("INFO"));
    let quiet = env.run(&["group", "list"]);
    assert!(!quiet.stderr.contains("INFO"), "{}", quiet.stderr);
}
