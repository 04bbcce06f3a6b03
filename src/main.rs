//! The `ssefs` binary: parse, run, print the result or the error once, exit with its code.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = ssefs::cli::Cli::parse();
    match cli.run() {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth a message.
            let _ = stdout.write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("({}) {e}", e.code());
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
