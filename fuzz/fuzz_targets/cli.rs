//! The command line: any argument vector is parsed or refused with a usage error, never a
//! panic (nothing is executed).
#![no_main]
use clap_parse::parse;
use libfuzzer_sys::fuzz_target;

mod clap_parse {
    pub fn parse(args: Vec<String>) {
        let argv = std::iter::once("ssefs".to_string()).chain(args);
        let _ = <ssefs::cli::Cli as clap::Parser>::try_parse_from(argv);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    parse(text.split('\u{1}').map(str::to_string).collect());
});
