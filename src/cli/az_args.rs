//! Options az takes on many commands: `--tags`, the generic update arguments (`--set`, `--add`,
//! `--remove`, `--force-string`), `--max-items`, and what the parse of a command line found
//! besides the command: an option refused as not supported, `--no-wait`, `--max-items`.
//!
//! Refused options are ordinary clap arguments whose id starts with `refused_` (their long
//! name is az's): the walk over the parsed command line finds one given and the command is
//! refused with `(NotSupported) --OPTION: HELP`, never with a usage error. `--no-wait` (id
//! `no_wait`) empties the output, as az prints nothing then; `--max-items` and key list's
//! `--maxresults` (id `max_items`) cut a listing.

use std::collections::BTreeMap;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::service::{Recorded, parse_tags};

/// What the parse found besides the command itself.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// The message of an option refused as not supported, if one was given.
    pub refused: Option<String>,
    /// `--no-wait` was given: print nothing.
    pub no_wait: bool,
    /// `--max-items N`: show at most N entries of a listing.
    pub max_items: Option<usize>,
    /// az's `--subscription` (see `subscription`): the command runs only if it names the
    /// current subscription.
    pub subscription: Option<String>,
}

impl Extras {
    /// Reads the extras of the subcommand that ran, from the command tree and its matches.
    pub fn from_matches(cmd: &clap::Command, matches: &ArgMatches) -> Extras {
        let (mut cmd, mut m) = (cmd, matches);
        while let Some((name, sub)) = m.subcommand() {
            match cmd.find_subcommand(name) {
                Some(c) => {
                    cmd = c;
                    m = sub;
                }
                None => break,
            }
        }
        let mut extras = Extras::default();
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id.starts_with("refused_")
                && m.value_source(id) == Some(ValueSource::CommandLine)
                && extras.refused.is_none()
            {
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                extras.refused = Some(format!(
                    "--{}: {}",
                    arg.get_long().unwrap_or(id),
                    help.trim_end_matches('.')
                ));
            }
        }
        extras.no_wait = matches!(m.try_get_one::<bool>("no_wait"), Ok(Some(true)));
        extras.max_items = m.try_get_one::<usize>("max_items").ok().flatten().copied();
        extras.subscription = m
            .try_get_one::<String>(super::subscription::ID)
            .ok()
            .flatten()
            .cloned();
        extras
    }

    /// The refusal, as the error the command fails with.
    pub fn check(&self) -> Result<()> {
        match &self.refused {
            Some(msg) => Err(Error::not_supported(format!("{msg}."))),
            None => Ok(()),
        }
    }

    /// Applies `--max-items` to a listing.
    pub fn cut(&self, value: Value) -> Value {
        match (value, self.max_items) {
            (Value::Array(mut items), Some(n)) => {
                items.truncate(n);
                Value::Array(items)
            }
            (v, _) => v,
        }
    }
}

/// `--tags` of a create command.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// Space-separated tags: key[=value] [key[=value] ...]. Use "" to clear existing tags.
    #[arg(long, num_args = 0.., value_name = "KEY=VALUE")]
    pub tags: Option<Vec<String>>,
}

impl TagArgs {
    /// The tags given, if `--tags` was.
    pub fn parse(&self) -> Result<Option<BTreeMap<String, String>>> {
        self.tags.as_deref().map(parse_tags).transpose()
    }
}

/// az's generic update arguments.
#[derive(Debug, Args)]
pub struct GenericUpdate {
    /// Update an object by specifying a property path and value to set. Example: --set property1.property2=<value>.
    #[arg(long, num_args = 1.., value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Add an object to a list of objects by specifying a path and key value pairs (not supported: no list ssefs records can grow this way).
    #[arg(long = "add", num_args = 1.., value_name = "LIST KEY=VALUE")]
    pub refused_add: Vec<String>,
    /// Remove a property or an element from a list. Example: --remove property.list <indexToRemove> OR --remove propertyToRemove.
    #[arg(long, num_args = 1.., value_name = "PATH")]
    pub remove: Vec<String>,
    /// When using 'set' or 'add', preserve string literals instead of attempting to convert to JSON.
    #[arg(long)]
    pub force_string: bool,
}

impl GenericUpdate {
    /// The changes `--set` and `--remove` ask for, with `tags` from `--tags` if given.
    pub fn recorded(&self, tags: Option<BTreeMap<String, String>>) -> Result<Recorded> {
        let mut set = Vec::new();
        for item in &self.set {
            let (path, text) = item.split_once('=').ok_or_else(|| {
                Error::invalid(format!(
                    "--set '{}' is not PATH=VALUE",
                    item.chars().take(60).collect::<String>()
                ))
            })?;
            let value = if self.force_string {
                Value::String(text.to_string())
            } else {
                serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
            };
            set.push((path.to_string(), value));
        }
        Ok(Recorded {
            tags,
            set,
            remove: self.remove.clone(),
        })
    }
}

/// az's paging argument of list commands.
#[derive(Debug, Args)]
pub struct Paging {
    /// Maximum number of items to return in the command's output.
    #[arg(long, value_name = "N")]
    pub max_items: Option<usize>,
    /// Token to specify where to start paginating, the value of the nextToken field from a previously truncated response (not supported: ssefs never truncates).
    #[arg(long = "next-token", value_name = "TOKEN")]
    pub refused_next_token: Option<String>,
}

/// Records `value` at `path` when the option was given.
pub fn record(set: &mut Vec<(String, Value)>, path: &str, value: Option<Value>) {
    if let Some(v) = value {
        set.push((path.to_string(), v));
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::Cli;
    use clap::CommandFactory;

    /// Every refused option has a long name and a description that says why it is refused
    /// (the refusal message is made of them).
    #[test]
    fn refused_options_say_why() {
        fn walk(cmd: &clap::Command, path: &str, bad: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if !id.starts_with("refused_") {
                    continue;
                }
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                if arg.get_long().is_none() || !help.contains("(not supported") {
                    bad.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), bad);
            }
        }
        let mut bad = Vec::new();
        walk(&Cli::command(), "ssefs", &mut bad);
        assert!(bad.is_empty(), "refused options without a reason: {bad:?}");
    }

    #[test]
    fn the_parse_finds_refusals_no_wait_and_max_items() {
        let cli = Cli::parse_az(
            [
                "ssefs", "keyvault", "key", "create", "--vault", "kv", "-n", "k", "--curve",
                "P-256",
            ],
            &Default::default(),
        )
        .unwrap();
        let refused = cli.extras.refused.clone().unwrap_or_default();
        assert!(refused.starts_with("--curve: "), "{refused}");
        assert_eq!(cli.extras.check().unwrap_err().code(), "NotSupported");
        let cli = Cli::parse_az(
            ["ssefs", "disk", "delete", "-n", "d", "--yes", "--no-wait"],
            &Default::default(),
        )
        .unwrap();
        assert!(cli.extras.no_wait && cli.extras.refused.is_none());
        let cli = Cli::parse_az(
            ["ssefs", "disk", "list", "--max-items", "2"],
            &Default::default(),
        )
        .unwrap();
        assert_eq!(cli.extras.max_items, Some(2));
        assert_eq!(
            cli.extras.cut(serde_json::json!([1, 2, 3])),
            serde_json::json!([1, 2])
        );
        // Not given: nothing found (flags default to false, options to nothing).
        let cli = Cli::parse_az(["ssefs", "disk", "list"], &Default::default()).unwrap();
        assert!(
            !cli.extras.no_wait && cli.extras.max_items.is_none() && cli.extras.refused.is_none()
        );
    }
}
