//! The command line, and the only module that names clap: az's subcommands and flags, one
//! module per command group, output through [`output`].

mod account;
mod az_args;
mod config;
mod defaults;
mod des;
mod disk;
mod disk_settings;
mod docs;
mod group;
pub mod help;
mod ids;
mod image;
mod key_id;
mod keyvault;
mod mount;
pub mod mount_helper;
mod output;
mod role;
mod subscription;
mod vm;
mod vm_options;
mod yaml;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use parking_lot::Mutex;

use crate::daemon::{self, MountArgs, remote};
use crate::error::{Error, Result};
use crate::service::Service;
use crate::store::Store;

pub use remote::{ClientFiles, Reply};

pub use output::OutputFormat;

/// ssefs: encrypted managed disks (per-disk keys, customer-managed keys, rotation, revocation,
/// snapshots) on one Linux machine, driven by the same commands as az.
#[derive(Debug, Parser)]
#[command(name = "ssefs", version, about, long_about = None)]
// az (argparse) takes any unique prefix of a long option: `--vault` for `--vault-name`.
#[command(infer_long_args = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
    /// What the parse found besides the command (see [`Cli::parse_az`]).
    #[arg(skip)]
    pub extras: az_args::Extras,
}

/// Flags every command takes, as in az (shown after each command's own).
#[derive(Debug, Args)]
#[command(next_help_heading = help::GLOBAL_HEADING)]
pub struct Global {
    /// The store directory (default: $SSEFS_STORE, else $XDG_DATA_HOME/ssefs, else ~/.local/share/ssefs).
    #[arg(long, global = true, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// JMESPath query string. See http://jmespath.org/ for more information and examples.
    #[arg(long, global = true, value_name = "JMESPATH")]
    pub query: Option<String>,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Json)]
    pub output: OutputFormat,
    /// Increase logging verbosity to show all debug logs (never secrets).
    #[arg(long, global = true)]
    pub debug: bool,
    /// Only show errors, suppressing warnings.
    #[arg(long, global = true)]
    pub only_show_errors: bool,
    /// Increase logging verbosity. Use --debug for full debug logs.
    #[arg(long, global = true)]
    pub verbose: bool,
}

/// Command groups.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The emulated subscription.
    #[command(subcommand)]
    Account(account::AccountCmd),
    /// Key vaults, their access policies and keys.
    #[command(subcommand)]
    Keyvault(keyvault::KeyvaultCmd),
    /// Disk encryption sets: the link from disks to a customer-managed key.
    #[command(subcommand, name = "disk-encryption-set")]
    DiskEncryptionSet(des::DesCmd),
    /// Managed disks.
    #[command(subcommand)]
    Disk(disk::DiskCmd),
    /// Snapshots of disks (read-only, same key as their source).
    #[command(subcommand)]
    Snapshot(disk::SnapshotCmd),
    /// Serve the store through FUSE at MOUNTPOINT.
    Mount(mount::MountCmd),
    /// Unmount a mounted store and stop its daemon.
    Unmount(mount::UnmountCmd),
    /// Inspect the store without changing it; report every problem (exit 1 if any).
    Check,
    /// Managed images (they keep their source's key).
    #[command(subcommand)]
    Image(image::ImageCmd),
    /// Shared image galleries (only what shows that customer-key images cannot go in one).
    #[command(subcommand)]
    Sig(image::SigCmd),
    /// Role assignments and role definitions (key access in RBAC vaults).
    #[command(subcommand)]
    Role(role::RoleCmd),
    /// Store settings: show, get, set and unset them.
    #[command(subcommand)]
    Config(config::ConfigCmd),
    /// Resource groups: the scope resource names are unique in.
    #[command(subcommand)]
    Group(group::GroupCmd),
    /// Operations on resources of any type (move).
    #[command(subcommand)]
    Resource(group::ResourceCmd),
    /// Virtual machines that run (qemu, or the vm.runner setting) on the disks' plaintext.
    #[command(subcommand)]
    Vm(vm::VmCmd),
    /// Virtual machine scale sets: instances made from one template.
    #[command(subcommand)]
    Vmss(vm::VmssCmd),
    /// Manage argument defaults (group, location), as az configure.
    Configure(defaults::ConfigureCmd),
    /// Print a shell completion script (bash, zsh or fish).
    Completion {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: docs::Shell,
    },
}

/// The command line definition: the derived one with the help, `--ids` and argument
/// `defaults` added to every command it fits.
pub fn command(defaults: &defaults::Defaults) -> clap::Command {
    defaults.apply(help::decorate(key_id::add(subscription::add(ids::add(
        Cli::command(),
    )))))
}

/// Parses and runs a command line (the arguments after the program name): what `main` does.
/// A usage error, or a request for help or the version, is returned for clap to print.
pub fn main(raw_args: Vec<String>) -> std::result::Result<Reply, clap::Error> {
    let started = std::time::Instant::now();
    // `ssefs __gen-man DIR` (scripts/gen-docs.sh) is kept out of the definition, so that no
    // help, completion or man page offers it.
    if let [first, dir] = raw_args.as_slice()
        && first == docs::GEN_MAN
    {
        let written = docs::man_pages(command(&defaults::Defaults::default()), Path::new(dir));
        return Ok(match written {
            Ok(pages) => Reply {
                code: 0,
                stdout: format!("{} man pages written to {dir}\n", pages.len()),
                stderr: String::new(),
                files: Vec::new(),
            },
            Err(e) => error_reply(&e),
        });
    }
    let argv = |args: &[String]| std::iter::once("ssefs".to_string()).chain(args.to_vec());
    let defaults = defaults::Defaults::for_args(&raw_args);
    let cli_command = command(&defaults);
    // A key's `--id` spelled out before anything reads the arguments (also the mount daemon,
    // which gets them as they are now).
    let raw_args = key_id::expand(&cli_command, raw_args);
    let matches = cli_command.clone().try_get_matches_from(argv(&raw_args))?;
    let verbose = matches.get_flag("verbose");
    crate::log::set_verbose(verbose);
    let reply =
        match ids::requested(&cli_command, &matches) {
            Some(request) => {
                let query = matches.get_one::<String>("query").cloned();
                let format = matches
                    .get_one::<OutputFormat>("output")
                    .copied()
                    .unwrap_or(OutputFormat::Json);
                ids::run_each(&raw_args, &request, query.as_deref(), format, |args| {
                    match Cli::parse_az(argv(&args), &defaults) {
                        Ok(cli) => cli.run(args),
                        Err(e) => clap_error_reply(&e),
                    }
                })
            }
            None => Cli::from_matches_az(&cli_command, &matches)?.run(raw_args),
        };
    crate::log::verbose(&format!(
        "Command ran in {:.3} seconds",
        started.elapsed().as_secs_f64()
    ));
    Ok(reply)
}

/// A clap error (usage, or help asked for) as a reply: help on stdout, errors on stderr.
fn clap_error_reply(e: &clap::Error) -> Reply {
    Reply {
        code: e.exit_code(),
        stdout: if e.use_stderr() {
            String::new()
        } else {
            e.to_string()
        },
        stderr: if e.use_stderr() {
            e.render().to_string()
        } else {
            String::new()
        },
        files: Vec::new(),
    }
}

impl Command {
    /// Whether the command starts VMs, which run only under the mount daemon.
    fn needs_daemon(&self) -> bool {
        match self {
            Command::Vm(cmd) => cmd.needs_daemon(),
            Command::Vmss(cmd) => cmd.needs_daemon(),
            _ => false,
        }
    }
}

/// Parses true/false the way az's three-state flags do.
pub(crate) fn parse_bool(s: &str) -> std::result::Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(format!("'{s}' is not true or false")),
    }
}

impl Cli {
    /// Parses a command line as az does: clap (with unique-prefix long options), then the
    /// options refused as not supported, `--no-wait` and `--max-items` (see [`az_args`]).
    pub fn parse_az<I, T>(
        args: I,
        defaults: &defaults::Defaults,
    ) -> std::result::Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let command = command(defaults);
        let matches = command.clone().try_get_matches_from(args)?;
        Cli::from_matches_az(&command, &matches)
    }

    /// The command line `matches` (parsed by `command`) as a `Cli`, with what az's parse finds
    /// besides (see [`az_args`]).
    fn from_matches_az(
        command: &clap::Command,
        matches: &clap::ArgMatches,
    ) -> std::result::Result<Cli, clap::Error> {
        let mut cli = Cli::from_arg_matches(matches)?;
        cli.extras = az_args::Extras::from_matches(command, matches);
        Ok(cli)
    }

    /// Runs the command: mount and unmount here; anything else in the running mount daemon
    /// when the store is mounted, else against the store directly.
    pub fn run(self, raw_args: Vec<String>) -> Reply {
        crate::log::set_debug(self.global.debug);
        if let Err(e) = self.extras.check() {
            return error_reply(&e);
        }
        let root = self
            .global
            .store
            .clone()
            .unwrap_or_else(Store::default_root);
        crate::log::verbose(&format!("store {}", root.display()));
        let result = match &self.command {
            Command::Mount(m) => {
                let args = MountArgs {
                    mountpoint: m.mountpoint.clone(),
                    store: root,
                    foreground: m.foreground,
                    allow_other: m.allow_other,
                    threads: m.threads,
                    caching: m.caching,
                    transport: m.transport,
                    ready_fd: m.ready_fd,
                    debug: self.global.debug,
                };
                daemon::mount(&args, Arc::new(handle_forwarded)).map(|()| String::new())
            }
            Command::Unmount(u) => daemon::unmount(&u.mountpoint).map(|()| String::new()),
            Command::Check => return check(&root),
            Command::Completion { shell } => Ok(docs::completion(
                command(&defaults::Defaults::default()),
                *shell,
            )),
            cmd if cmd.needs_daemon() => match self.ensure_daemon(&root) {
                Ok(()) => return self.run_on_store(&root, raw_args),
                Err(e) => Err(e),
            },
            _ => return self.run_on_store(&root, raw_args),
        };
        match result {
            Ok(stdout) => Reply {
                code: 0,
                stdout,
                stderr: String::new(),
                files: Vec::new(),
            },
            Err(e) => error_reply(&e),
        }
    }

    /// VMs run only under the mount daemon: when the store is not mounted, mount it at its
    /// `mount-point` setting (created if missing), so that a documented `vm create` runs as
    /// pasted.
    fn ensure_daemon(&self, root: &Path) -> Result<()> {
        if remote::daemon_running(root)? {
            return Ok(());
        }
        let mountpoint = crate::config::Config::load(root)?.mount_point(root);
        if !mountpoint.exists() {
            std::fs::create_dir_all(&mountpoint).map_err(|e| {
                Error::io(format!("create mount point {}", mountpoint.display()), e)
            })?;
        }
        crate::log::debug(&format!(
            "mounting {} at {} for the VMs",
            root.display(),
            mountpoint.display()
        ));
        let args = MountArgs {
            mountpoint,
            store: root.to_path_buf(),
            foreground: false,
            allow_other: false,
            threads: mount::DEFAULT_THREADS,
            caching: crate::fs::Caching::None,
            transport: crate::fs::ring::Transport::Auto,
            ready_fd: None,
            debug: self.global.debug,
        };
        daemon::mount(&args, Arc::new(handle_forwarded))
    }

    fn run_on_store(self, root: &Path, raw_args: Vec<String>) -> Reply {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        // Files named by arguments are read here, by the caller, never by the daemon: a path
        // inside the mount, a FIFO or /dev/zero must not stall the daemon.
        let files = match self.read_client_files(&cwd) {
            Ok(files) => files,
            Err(e) => return error_reply(&e),
        };
        let strict = crate::config::strict_env();
        let request = remote::Request {
            args: raw_args,
            cwd,
            now: crate::clock::env_override(),
            files,
            strict,
        };
        // Files a command makes (a key backup) are written here, on the caller's side, whether
        // the command ran in the mount daemon or in this process.
        loop {
            match remote::forward(root, &request) {
                Ok(Some(reply)) => {
                    crate::log::verbose("the store is mounted: the command ran in its daemon");
                    return reply.write_files(&request.cwd);
                }
                Ok(None) => {}
                Err(e) => return error_reply(&e),
            }
            match Service::try_open(root) {
                Ok(Some(service)) => {
                    let test_clock = service.store().config().test_clock();
                    if test_clock {
                        crate::clock::set_override(request.now);
                    } else if request.now.is_some() {
                        crate::log::warn(crate::clock::IGNORED_WARNING);
                    }
                    crate::config::set_strict_from_caller(strict);
                    return self
                        .execute_reply(&Mutex::new(service), &request.cwd, &request.files)
                        .write_files(&request.cwd);
                }
                Ok(None) => {}
                Err(e) => return error_reply(&e),
            }
            // Another command holds the store, or a daemon is starting: try again.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Reads the files this command's arguments name (bounded, regular files only).
    fn read_client_files(&self, cwd: &Path) -> Result<ClientFiles> {
        let mut files = ClientFiles::default();
        if let Command::Keyvault(cmd) = &self.command {
            cmd.read_files(cwd, &mut files)?;
        }
        Ok(files)
    }

    /// Runs a store command against `service` and builds its reply: output, or the error
    /// line, after the warnings the command gave (unless `--only-show-errors`).
    pub fn execute_reply(self, service: &Mutex<Service>, cwd: &Path, files: &ClientFiles) -> Reply {
        let quiet = self.global.only_show_errors;
        // Warnings left by an earlier command (none, normally) are not this command's.
        service.lock().end_command(true);
        // Rotations that key rotation policies have made due happen before anything else, on
        // this command's clock (the caller's SSEFS_NOW on a test-clock store, set by now).
        service.lock().run_due_rotations();
        let mut made = Vec::new();
        let result = self.execute(service, cwd, files, &mut made);
        let warnings = render_warnings(&service.lock().end_command(result.is_ok()), quiet);
        let mut reply = match result {
            Ok(stdout) => Reply {
                code: 0,
                stdout,
                stderr: String::new(),
                files: Vec::new(),
            },
            Err(e) => error_reply(&e),
        };
        reply.stderr.insert_str(0, &warnings);
        if reply.code == 0 {
            reply.files = made;
        }
        reply
    }

    /// Runs a store command against `service`; relative paths are taken from `cwd`, files the
    /// arguments name from `files` (read by the caller), and files the command makes for its
    /// caller go to `made` (written by the caller).
    pub fn execute(
        self,
        service: &Mutex<Service>,
        cwd: &Path,
        files: &ClientFiles,
        made: &mut Vec<remote::ReplyFile>,
    ) -> Result<String> {
        self.extras.check()?;
        if let Some(subscription) = &self.extras.subscription {
            service.lock().check_current_subscription(subscription)?;
        }
        let extras = self.extras.clone();
        let value = match self.command {
            Command::Account(cmd) => cmd.run(&mut service.lock())?,
            Command::Keyvault(cmd) => cmd.run(&service.lock(), cwd, files, made)?,
            Command::DiskEncryptionSet(cmd) => cmd.run(&service.lock())?,
            Command::Disk(cmd) => cmd.run(service)?,
            Command::Snapshot(cmd) => cmd.run(service)?,
            Command::Config(cmd) => cmd.run(&mut service.lock())?,
            Command::Role(cmd) => cmd.run(&service.lock())?,
            Command::Image(cmd) => cmd.run(service)?,
            Command::Sig(cmd) => cmd.run(&service.lock())?,
            Command::Group(cmd) => cmd.run(&service.lock())?,
            Command::Resource(cmd) => cmd.run(&service.lock())?,
            Command::Vm(cmd) => cmd.run(service, cwd)?,
            Command::Vmss(cmd) => cmd.run(service)?,
            Command::Configure(cmd) => cmd.run(&mut service.lock())?,
            Command::Mount(_)
            | Command::Unmount(_)
            | Command::Check
            | Command::Completion { .. } => {
                return Err(Error::invalid(
                    "mount, unmount, check and completion cannot run inside the mount daemon",
                ));
            }
        };
        if extras.no_wait {
            // az prints nothing with --no-wait; the work is done already (ssefs never defers).
            return Ok(String::new());
        }
        let value = extras.cut(value);
        output::render(&value, self.global.query.as_deref(), self.global.output)
    }
}

/// `ssefs check`: one line per problem, notes after, a summary; exit 1 when there is a problem.
fn check(root: &Path) -> Reply {
    if !root.join("store.json").exists() {
        return Reply {
            code: 1,
            stdout: String::new(),
            stderr: format!("{}: not an ssefs store (no store.json)\n", root.display()),
            files: Vec::new(),
        };
    }
    // The test clock applies here too (an expired key version is reported by the store's
    // clock); a damaged config.json is the report's business, not a reason to stop.
    if crate::config::Config::load(root).is_ok_and(|c| c.test_clock()) {
        crate::clock::set_override(crate::clock::env_override());
    }
    let report = crate::service::check::check(root);
    let mut out = String::new();
    for f in &report.problems {
        out.push_str(&format!("{}: {}\n", f.path.display(), f.problem));
    }
    for f in &report.notes {
        out.push_str(&format!("note: {}: {}\n", f.path.display(), f.problem));
    }
    let summary = format!(
        "{} disks, {} snapshots, {} disk encryption sets, {} key vaults, {} images",
        report.disks, report.snapshots, report.sets, report.vaults, report.images
    );
    if report.problems.is_empty() {
        out.push_str(&format!(
            "{}: no problems found ({summary})\n",
            root.display()
        ));
        Reply {
            code: 0,
            stdout: out,
            stderr: String::new(),
            files: Vec::new(),
        }
    } else {
        out.push_str(&format!(
            "{} problem(s) found ({summary})\n",
            report.problems.len()
        ));
        Reply {
            code: 1,
            stdout: out,
            stderr: String::new(),
            files: Vec::new(),
        }
    }
}

/// Warnings as az prints them on stderr, one line each.
fn render_warnings(warnings: &[String], quiet: bool) -> String {
    if quiet {
        return String::new();
    }
    warnings.iter().map(|w| format!("WARNING: {w}\n")).collect()
}

/// The az-style error line and exit code.
pub fn error_reply(e: &Error) -> Reply {
    if let Error::Forwarded {
        code,
        stdout,
        stderr,
    } = e
    {
        return Reply {
            code: *code,
            stdout: stdout.clone(),
            stderr: stderr.clone(),
            files: Vec::new(),
        };
    }
    Reply {
        code: e.exit_code(),
        stdout: String::new(),
        stderr: format!("({}) {e}\n", e.code()),
        files: Vec::new(),
    }
}

/// Runs a command forwarded to the mount daemon (with the store's argument defaults: the
/// caller sends its arguments as typed).
fn handle_forwarded(service: &Mutex<Service>, request: remote::Request) -> Reply {
    let argv = std::iter::once("ssefs".to_string()).chain(request.args);
    let defaults = defaults::Defaults::of(service.lock().store().config());
    match Cli::parse_az(argv, &defaults) {
        Err(e) => clap_error_reply(&e),
        Ok(cli) => {
            // The caller's --debug is not the daemon's: it must not switch the daemon's log.
            crate::config::set_strict_from_caller(request.strict);
            let reply = cli.execute_reply(service, &request.cwd, &request.files);
            crate::config::set_strict_from_caller(false);
            reply
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
        command(&defaults::Defaults::default()).debug_assert();
    }
}
