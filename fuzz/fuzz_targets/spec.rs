//! `fabuild gen` without the disk writes: app.yaml text -> check -> plan -> render -> stamp,
//! with the invariants every accepted spec must keep in the rendered Dockerfile.
#![no_main]

mod common;

use fabuild::plan::{self, Overrides};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(checked) = fabuild::check::check_text(text, "app.yaml", common::project()) else {
        return;
    };
    common::check_rendered(&plan::plan(&checked.spec, &Overrides::default()));
});
