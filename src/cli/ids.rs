//! az's `--ids`: one or several resource ids in place of `-n`/`-g`, on every command that
//! addresses one resource by name and group (show, update, delete, start, stop, …).
//!
//! Added generically to the built tree, so that a command added later gets it too; and run as
//! az runs it: once per id, with the id as the name (every service lookup takes a name or a
//! resource id), each result collected into a list (a single object for a single id). A
//! failure for one id is a warning `ID: "message"` when another id succeeded, as in az.

use clap::{Arg, ArgMatches, Command};
use serde_json::Value;

use super::{OutputFormat, Reply, output};

/// Commands that take `--ids` when they also take `-n` and `-g`, as az's do.
const VERBS: &[&str] = &[
    "show",
    "update",
    "delete",
    "start",
    "stop",
    "restart",
    "deallocate",
    "get-instance-view",
    "list-associated-resources",
];

/// az's description of `--ids`.
const IDS_HELP: &str = "One or more resource IDs (space-delimited). It should be a complete \
                        resource ID containing all information of 'Resource Id' arguments. You \
                        should provide either --ids or other 'Resource Id' arguments";

/// Gives `--ids` to every command of [`VERBS`] that takes `-n` and `-g`.
pub fn add(mut cmd: Command) -> Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, add);
    }
    if !takes_ids(&cmd) {
        return cmd;
    }
    let cmd = if cmd.get_arguments().any(|a| a.get_id() == "ids") {
        // Commands that had a single `--ids` (vm) take several now.
        cmd.mut_arg("ids", |a| a.num_args(1..).help(IDS_HELP))
    } else {
        cmd.mut_arg("name", |a| a.required(false).required_unless_present("ids"))
            .arg(
                Arg::new("ids")
                    .long("ids")
                    .num_args(1..)
                    .value_name("IDS")
                    .conflicts_with_all(["name", "resource_group"])
                    .help(IDS_HELP),
            )
    };
    // az groups the three under their own heading, after the command's other arguments.
    ["ids", "name", "resource_group"]
        .into_iter()
        .fold(cmd, |cmd, id| {
            cmd.mut_arg(id, |a| a.help_heading(RESOURCE_ID_HEADING))
        })
}

/// az's heading for `--ids`, `-n` and `-g`.
const RESOURCE_ID_HEADING: &str = "Resource Id Arguments";

/// Whether `cmd` is one of the commands that take `--ids` in az's sense: one of [`VERBS`],
/// addressing its resource by `-n` and `-g`. (Other commands may have an `--ids` of their own
/// meaning, such as `role assignment delete` or `vm disk attach`.)
fn takes_ids(cmd: &Command) -> bool {
    let has = |id: &str| cmd.get_arguments().any(|a| a.get_id() == id);
    VERBS.contains(&cmd.get_name()) && has("name") && has("resource_group")
}

/// An `--ids` run asked for: the ids, and the long flags of the command's path (to read the
/// command line's own tokens, also abbreviated).
pub struct Requested {
    pub ids: Vec<String>,
    longs: Vec<String>,
    /// Whether the command's `-n` takes a name only (the id's last part is given).
    name_only: bool,
}

/// Command groups whose `-n` takes a name, not an id: vault names are unique in the cloud,
/// so az's own reading of an id (its name and group) is all there is to it. Elsewhere the id
/// itself is passed, so that the service checks its subscription and resource type.
const NAME_ONLY: &[&str] = &["keyvault"];

/// The ids the command line gives, when its command (in `root`'s tree) takes `--ids` and they
/// were given.
pub fn requested(root: &Command, matches: &ArgMatches) -> Option<Requested> {
    let mut cmd = root;
    let mut m = matches;
    let mut longs = long_names(root);
    let name_only = m
        .subcommand_name()
        .is_some_and(|group| NAME_ONLY.contains(&group));
    while let Some((name, sub)) = m.subcommand() {
        cmd = cmd.find_subcommand(name)?;
        longs.extend(long_names(cmd));
        m = sub;
    }
    if !takes_ids(cmd) {
        return None;
    }
    let ids: Vec<String> = m
        .try_get_many::<String>("ids")
        .ok()
        .flatten()?
        .cloned()
        .collect();
    (!ids.is_empty()).then_some(Requested {
        ids,
        longs,
        name_only,
    })
}

/// The long flags of a command's own arguments, with their aliases.
fn long_names(cmd: &Command) -> Vec<String> {
    cmd.get_arguments()
        .flat_map(|a| {
            a.get_long()
                .into_iter()
                .chain(a.get_all_aliases().unwrap_or_default())
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The flag a `--NAME` token stands for: NAME itself, or the one flag NAME abbreviates.
fn resolve<'a>(name: &'a str, longs: &'a [String]) -> &'a str {
    if longs.iter().any(|l| l == name) {
        return name;
    }
    let mut matching = longs.iter().filter(|l| l.starts_with(name));
    match (matching.next(), matching.next()) {
        (Some(only), None) => only,
        _ => name,
    }
}

/// The arguments of the run for one id: `--ids` and its values, `--query` and `-o` taken
/// out, `--name ID -o json` added (the results are put together, then queried and printed),
/// and the id's own group as `--resource-group`, so that a configured default group (applied
/// to a command without `-g`) cannot contradict the id.
pub fn one_run(raw: &[String], id: &str, longs: &[String], name_only: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut iter = raw.iter().peekable();
    while let Some(a) = iter.next() {
        if a == "--" {
            out.push(a.clone());
            out.extend(iter.by_ref().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline_value) = match long.split_once('=') {
                Some((n, _)) => (n, true),
                None => (long, false),
            };
            match resolve(name, longs) {
                "ids" if !inline_value => {
                    while iter.peek().is_some_and(|v| !v.starts_with('-')) {
                        iter.next();
                    }
                    continue;
                }
                "query" | "output" if !inline_value => {
                    iter.next();
                    continue;
                }
                "ids" | "query" | "output" => continue,
                _ => {}
            }
        } else if a == "-o" {
            iter.next();
            continue;
        } else if a.starts_with("-o") && !a.starts_with("--") {
            // -ojson
            continue;
        }
        out.push(a.clone());
    }
    let name = match id.rsplit('/').next() {
        Some(last) if name_only && !last.is_empty() => last,
        _ => id,
    };
    out.extend(["--name".to_string(), name.to_string()]);
    if let Some(group) = group_of(id) {
        out.extend(["--resource-group".to_string(), group.to_string()]);
    }
    out.extend(["-o".to_string(), "json".to_string()]);
    out
}

/// The resource group an id names (`…/resourceGroups/GROUP/…`, any case), if any.
fn group_of(id: &str) -> Option<&str> {
    let mut parts = id.split('/');
    parts.find(|p| p.eq_ignore_ascii_case("resourceGroups"))?;
    parts.next().filter(|g| !g.is_empty())
}

/// Runs the command once per id with `run` and puts the results together as az does.
pub fn run_each(
    raw: &[String],
    request: &Requested,
    query: Option<&str>,
    format: OutputFormat,
    run: impl Fn(Vec<String>) -> Reply,
) -> Reply {
    let mut results = Vec::new();
    let mut failures: Vec<(&String, Reply)> = Vec::new();
    let mut stderr = String::new();
    for id in &request.ids {
        crate::log::verbose(&format!("running for id {id}"));
        let reply = run(one_run(raw, id, &request.longs, request.name_only));
        if reply.code != 0 {
            failures.push((id, reply));
            continue;
        }
        stderr.push_str(&reply.stderr);
        let text = reply.stdout.trim();
        if text.is_empty() {
            results.push(Value::Null);
            continue;
        }
        match serde_json::from_str(text) {
            Ok(v) => results.push(v),
            Err(e) => {
                return super::error_reply(&crate::error::Error::invalid(format!(
                    "{id}: the command's output is not JSON: {e}"
                )));
            }
        }
    }
    if results.is_empty() && failures.len() == 1 {
        let (_, mut reply) = failures.remove(0);
        reply.stderr.insert_str(0, &stderr);
        return reply;
    }
    for (id, reply) in &failures {
        let message = reply.stderr.trim_end().lines().last().unwrap_or_default();
        stderr.push_str(&format!("WARNING: {id}: \"{message}\"\n"));
    }
    if !failures.is_empty() && results.is_empty() {
        stderr.push_str("(MultipleErrors) Encountered more than one exception.\n");
        return Reply {
            code: 1,
            stdout: String::new(),
            stderr,
            files: Vec::new(),
        };
    }
    if !failures.is_empty() {
        stderr.push_str("WARNING: Encountered more than one exception.\n");
    }
    let value = if results.len() == 1 {
        results.remove(0)
    } else {
        Value::Array(results)
    };
    match output::render(&value, query, format) {
        Ok(stdout) => Reply {
            code: 0,
            stdout,
            stderr,
            files: Vec::new(),
        },
        Err(e) => {
            let mut reply = super::error_reply(&e);
            reply.stderr.insert_str(0, &stderr);
            reply
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_run_replaces_ids_and_output_flags() {
        let longs = args(&[
            "store",
            "query",
            "output",
            "name",
            "resource-group",
            "ids",
            "yes",
        ]);
        let raw = args(&[
            "disk", "show", "--ids", "/a", "/b", "--query", "name", "-o", "tsv", "--store", "/s",
        ]);
        assert_eq!(
            one_run(&raw, "/a", &longs, false),
            args(&[
                "disk", "show", "--store", "/s", "--name", "/a", "-o", "json"
            ])
        );
        let raw = args(&["disk", "delete", "--ids=/a", "-otable", "--yes"]);
        assert_eq!(
            one_run(&raw, "/a", &longs, false),
            args(&["disk", "delete", "--yes", "--name", "/a", "-o", "json"])
        );
        // Abbreviated flags, as az accepts them.
        let raw = args(&[
            "disk",
            "show",
            "--id",
            "/a",
            "/b",
            "--que",
            "name",
            "--out=tsv",
        ]);
        assert_eq!(
            one_run(&raw, "/a", &longs, false),
            args(&["disk", "show", "--name", "/a", "-o", "json"])
        );
        let id = "/subscriptions/s/resourceGroups/rg1/providers/Microsoft.Compute/disks/d";
        assert_eq!(
            one_run(&args(&["disk", "show", "--ids", id]), id, &longs, false),
            args(&[
                "disk",
                "show",
                "--name",
                id,
                "--resource-group",
                "rg1",
                "-o",
                "json"
            ])
        );
        let vault = "/subscriptions/s/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/kv";
        assert_eq!(
            one_run(
                &args(&["keyvault", "show", "--ids", vault]),
                vault,
                &longs,
                true
            ),
            args(&[
                "keyvault",
                "show",
                "--name",
                "kv",
                "--resource-group",
                "rg1",
                "-o",
                "json"
            ])
        );
    }
}
