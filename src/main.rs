//! The `ssefs` binary: parse, run, print what the command printed, exit with its code.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Arguments are names, ids, paths and values, all text: one that is not UTF-8 is a usage
    // error with a message, not a panic with a backtrace.
    let mut raw_args = Vec::new();
    for arg in std::env::args_os().skip(1) {
        match arg.into_string() {
            Ok(a) => raw_args.push(a),
            Err(bad) => {
                eprintln!(
                    "(InvalidArgument) the argument {} is not valid UTF-8",
                    bad.to_string_lossy()
                );
                return ExitCode::from(2);
            }
        }
    }
    // Called as mount.fuse.ssefs (by mount(8), for fstab): its command line becomes ours.
    let argv0 = std::env::args_os().next().unwrap_or_default();
    match ssefs::cli::mount_helper::parse(&argv0, &raw_args) {
        Ok(ssefs::cli::mount_helper::HelperCall::NotHelper) => {}
        Ok(ssefs::cli::mount_helper::HelperCall::Run(args)) => raw_args = args,
        Ok(ssefs::cli::mount_helper::HelperCall::Nothing) => return ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(1);
        }
    }
    let reply = match ssefs::cli::main(raw_args) {
        Ok(reply) => reply,
        // Help, the version, or a usage error: clap prints it and picks the exit code.
        Err(e) => e.exit(),
    };
    // A closed pipe (`| head`) is not an error worth a message.
    let _ = std::io::stdout().lock().write_all(reply.stdout.as_bytes());
    let _ = std::io::stderr().lock().write_all(reply.stderr.as_bytes());
    ExitCode::from(reply.code.clamp(0, 255) as u8)
}
