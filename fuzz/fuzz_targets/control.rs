//! Control-file writes: nothing panics, and a write is either refused or exactly one command.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssefs::control::{self, Node};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let nodes = [
        Node::Snapshot,
        Node::KeyEnabled("kv".into(), "k".into()),
        Node::KeyRotate("kv".into(), "k".into()),
        Node::KeyKid("kv".into(), "k".into()),
        Node::SetKeyUrl("des".into()),
        Node::DiskEncryption("d".into()),
        Node::Readme,
        Node::LastError,
    ];
    let node = &nodes[selector as usize % nodes.len()];
    if let Ok(command) = control::parse(node, rest) {
        // An accepted write is one line of UTF-8: no NUL, nothing after its line.
        let text = std::str::from_utf8(rest).expect("accepted writes are UTF-8");
        assert!(!text.contains('\0'), "{command:?}");
        assert!(
            text.trim_end_matches('\n').lines().count() <= 1,
            "{command:?}"
        );
    }
});
