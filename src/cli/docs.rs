//! Shell completion (`ssefs completion bash|zsh|fish`) and the man pages under `docs/man/`
//! (`ssefs __gen-man DIR`, run by `scripts/gen-docs.sh`), both generated from the command line
//! definition that parses, so that they cannot drift from it.

use std::path::{Path, PathBuf};

use clap::{Command, ValueEnum};

use crate::error::{Error, Result};

/// The hidden command that writes the man pages: `ssefs __gen-man DIR`.
pub const GEN_MAN: &str = "__gen-man";

/// Shells `ssefs completion` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// Bash: `source <(ssefs completion bash)`, or install to
    /// /usr/share/bash-completion/completions/ssefs.
    Bash,
    /// Zsh: install as `_ssefs` in a directory of $fpath.
    Zsh,
    /// Fish: install to ~/.config/fish/completions/ssefs.fish.
    Fish,
}

/// The completion script for `shell`.
pub fn completion(mut cmd: Command, shell: Shell) -> String {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "ssefs", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes one man page per command and subcommand into `dir` (`ssefs.1`, `ssefs-disk.1`,
/// `ssefs-disk-create.1`, …) and returns the files written.
pub fn man_pages(cmd: Command, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
    let mut cmd = cmd;
    cmd.build();
    let mut written = Vec::new();
    write_page(&cmd, "ssefs", "ssefs", dir, &mut written)?;
    Ok(written)
}

fn write_page(
    cmd: &Command,
    page: &str,
    bin: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> Result<()> {
    // A subcommand's page is named and titled by its path, and its synopsis shows the whole
    // command line (`ssefs disk create ...`).
    let named = cmd.clone().name(page.to_string()).bin_name(bin.to_string());
    let man = clap_mangen::Man::new(named).source(format!("ssefs {}", env!("CARGO_PKG_VERSION")));
    let mut buf = Vec::new();
    let rendered = (|| -> std::io::Result<()> {
        man.render_title(&mut buf)?;
        man.render_name_section(&mut buf)?;
        man.render_synopsis_section(&mut buf)?;
        man.render_description_section(&mut buf)?;
        if cmd.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(&mut buf)?;
        }
        if cmd.has_subcommands() {
            man.render_subcommands_section(&mut buf)?;
        }
        // The examples get their own section (clap_mangen would put the help's text under
        // "EXTRA").
        let path = bin.strip_prefix("ssefs").unwrap_or(bin).trim();
        if let Some(examples) = super::help::examples(path) {
            buf.extend_from_slice(b".SH EXAMPLES\n");
            for (what, line) in examples {
                buf.extend_from_slice(format!(".TP\n{}\n{}\n", roff(what), roff(line)).as_bytes());
            }
        }
        Ok(())
    })();
    rendered.map_err(|e| Error::io(format!("render the man page {page}"), e))?;
    let path = dir.join(format!("{page}.1"));
    std::fs::write(&path, buf).map_err(|e| Error::io(format!("write {}", path.display()), e))?;
    written.push(path);
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        write_page(
            sub,
            &format!("{page}-{}", sub.get_name()),
            &format!("{bin} {}", sub.get_name()),
            dir,
            written,
        )?;
    }
    Ok(())
}

/// Text as a roff line: backslashes and hyphens escaped (a `-` in a flag must stay a hyphen,
/// not become a dash), and a leading `.` or `'` kept from reading as a request.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}
