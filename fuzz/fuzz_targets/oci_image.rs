//! A whole image archive (oci-archive or docker-archive tar) through `fabuild verify`
//! against the fastapi-tls example's plan: index, manifests, config and layers parsed from
//! untrusted bytes, never a panic.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use fabuild::plan::{self, Overrides, Plan};
use fabuild::verify::{self, Options};
use libfuzzer_sys::fuzz_target;

fn plan() -> &'static Plan {
    static PLAN: OnceLock<Plan> = OnceLock::new();
    PLAN.get_or_init(|| {
        let spec = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/fastapi-tls/app.yaml"
        );
        let checked =
            fabuild::check::check(std::path::Path::new(spec), "app.yaml").expect("example spec");
        plan::plan(&checked.spec, &Overrides::default())
    })
}

fn scratch() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let dir = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("fabuild-fuzz-image-{}.tar", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).expect("scratch file");
    // Err means "not a readable image" (exit 2); Ok is a report. Neither may panic.
    let _ = verify::verify(plan(), path, &Options::default());
});
