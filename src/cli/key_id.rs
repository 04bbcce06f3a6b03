//! az's `--id` on the `keyvault key` commands that address a key by `--vault-name` and `-n`
//! (delete, recover, purge, show-deleted, backup, rotate, set-attributes, rotation-policy …):
//! a key URL `https://VAULT.vault.azure.net/keys/NAME[/VERSION]` (or `/deletedkeys/NAME`) in
//! place of those. The option is added to the built tree (so help, completion and man pages
//! show it) and, before parsing, the URL is spelled out as `--vault-name`, `--name` and, where
//! the command takes one, `--version`.

use clap::{Arg, Command};

use crate::ids::KeyUrl;

/// The argument's id.
const ID: &str = "key_id";

/// az's description.
const HELP: &str = "Id of the key. If specified all other 'Id' arguments should be omitted";

/// Gives `--id` to every `keyvault key` command that takes `--vault-name` and `-n` and has no
/// `--id` of its own.
pub fn add(cmd: Command) -> Command {
    if cmd.find_subcommand("keyvault").is_none() {
        return cmd;
    }
    cmd.mut_subcommand("keyvault", |kv| {
        if kv.find_subcommand("key").is_none() {
            return kv;
        }
        kv.mut_subcommand("key", add_below)
    })
}

fn add_below(mut cmd: Command) -> Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, add_below);
    }
    if !takes_key_id(&cmd) {
        return cmd;
    }
    cmd.arg(
        Arg::new(ID)
            .long("id")
            .value_name("ID")
            .help(HELP)
            .help_heading("Id Arguments"),
    )
}

fn has(cmd: &Command, id: &str) -> bool {
    cmd.get_arguments().any(|a| a.get_id() == id)
}

fn takes_key_id(cmd: &Command) -> bool {
    cmd.get_subcommands().next().is_none()
        && has(cmd, "vault_name")
        && has(cmd, "name")
        && !cmd.get_arguments().any(|a| a.get_long() == Some("id"))
}

/// The command line with a `--id URL` of such a command spelled out; unchanged otherwise (a
/// URL that does not parse is left for the parse to refuse: `--vault-name` is then missing).
pub fn expand(cmd: &Command, args: Vec<String>) -> Vec<String> {
    let mut leaf = cmd;
    for arg in &args {
        if arg.starts_with('-') {
            continue;
        }
        match leaf.find_subcommand(arg) {
            Some(sub) => leaf = sub,
            None if leaf.get_subcommands().next().is_none() => break,
            None => {}
        }
    }
    if !has(leaf, ID) {
        return args;
    }
    let mut out = Vec::with_capacity(args.len() + 4);
    let mut rest = args.into_iter();
    while let Some(arg) = rest.next() {
        let url = if arg == "--id" {
            match rest.next() {
                Some(url) => url,
                None => {
                    out.push(arg);
                    continue;
                }
            }
        } else if let Some(url) = arg.strip_prefix("--id=") {
            url.to_string()
        } else {
            out.push(arg);
            continue;
        };
        match parse(&url) {
            Some(key) => {
                out.extend([
                    "--vault-name".to_string(),
                    key.vault,
                    "--name".into(),
                    key.key,
                ]);
                if let Some(version) = key.version.filter(|_| has(leaf, "version")) {
                    out.extend(["--version".to_string(), version]);
                }
            }
            None => out.extend(["--id".to_string(), url]),
        }
    }
    out
}

/// A key URL, also as az shows a deleted key's (`/deletedkeys/`) or a rotation policy's
/// (`…/rotationpolicy`) id.
fn parse(url: &str) -> Option<KeyUrl> {
    let url = url.trim_end_matches('/');
    let url = url.strip_suffix("/rotationpolicy").unwrap_or(url);
    let url = url.replacen("/deletedkeys/", "/keys/", 1);
    KeyUrl::parse(&url).ok()
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::Cli;

    fn expanded(line: &str) -> String {
        let cmd = add(Cli::command());
        let args = line.split_whitespace().map(str::to_string).collect();
        expand(&cmd, args).join(" ")
    }

    #[test]
    fn a_key_id_is_spelled_out_where_the_command_takes_no_id_of_its_own() {
        let v = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            expanded("keyvault key delete --id https://myvault.vault.azure.net/keys/k"),
            "keyvault key delete --vault-name myvault --name k"
        );
        assert_eq!(
            expanded(&format!(
                "keyvault key set-attributes --id https://myvault.vault.azure.net/keys/k/{v} --enabled false"
            )),
            format!(
                "keyvault key set-attributes --vault-name myvault --name k --version {v} --enabled false"
            )
        );
        assert_eq!(
            expanded("keyvault key recover --id=https://myvault.vault.azure.net/deletedkeys/k"),
            "keyvault key recover --vault-name myvault --name k"
        );
        // Not a key command, or a bad URL: unchanged.
        assert_eq!(expanded("disk show --id x"), "disk show --id x");
        assert_eq!(
            expanded("keyvault key delete --id nonsense"),
            "keyvault key delete --id nonsense"
        );
    }
}
