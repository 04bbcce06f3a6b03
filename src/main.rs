//! The `ssefs` binary: parse, run, print what the command printed, exit with its code.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let raw_args: Vec<String> = std::env::args().skip(1).collect();
    let reply = ssefs::cli::Cli::parse().run(raw_args);
    // A closed pipe (`| head`) is not an error worth a message.
    let _ = std::io::stdout().lock().write_all(reply.stdout.as_bytes());
    let _ = std::io::stderr().lock().write_all(reply.stderr.as_bytes());
    ExitCode::from(reply.code.clamp(0, 255) as u8)
}
