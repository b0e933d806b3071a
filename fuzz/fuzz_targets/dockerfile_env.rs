//! The Dockerfile `ENV` reader behind `explain --dockerfile`.
#![no_main]

use fabuild::explain::dockerfile::find_env;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // `explain --dockerfile` reads the file with `read_to_string`: only UTF-8 gets here.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(found) = find_env(text, "GUNICORN_CMD_ARGS") {
        assert!(found.line >= 1, "line numbers start at 1");
    }
});
