//! The daemon socket protocol: a request or reply of any bytes is refused or parsed, never a
//! panic; the file contents a request carries are looked up without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ssefs::daemon::remote::{Reply, Request};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = serde_json::from_slice::<Request>(data) {
        for arg in &request.args {
            let _ = request.files.get(std::path::Path::new(arg));
        }
        let again = serde_json::to_vec(&request).expect("a parsed request serialises");
        serde_json::from_slice::<Request>(&again).expect("and parses back");
    }
    let _ = serde_json::from_slice::<Reply>(data);
});
