//! Every example's generated files: committed up to date (so a change to the output shows
//! in review as a diff of examples/), lint-clean.

use std::process::Command;

use fabuild::generate::{self, Options};
use fabuild::output::Status;

use crate::util;

/// The committed files under examples/ are what `fabuild gen` makes today: the same gate
/// `fabuild gen --check` gives a CI pipeline.
#[test]
fn committed_examples_are_up_to_date() {
    for dir in util::examples() {
        let output = util::fabuild(&dir)
            .args(["gen", "--check", "app.yaml"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{} drifted from its app.yaml; run `fabuild gen app.yaml` there:\n{}{}",
            dir.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let generation = generate::prepare(&dir.join("app.yaml"), &Options::default()).unwrap();
        assert!(
            generation
                .changes
                .iter()
                .all(|c| c.status == Status::Unchanged)
        );
    }
}

/// hadolint, the Dockerfile linter teams run in CI, has nothing to say about our output.
#[test]
fn hadolint_reports_nothing() {
    let hadolint = util::oracle("FABUILD_HADOLINT", "hadolint");
    for dir in util::examples() {
        let dockerfile = dir.join("Dockerfile");
        let output = Command::new(&hadolint).arg(&dockerfile).output().unwrap();
        assert!(
            output.status.success() && output.stdout.is_empty(),
            "hadolint on {}:\n{}{}",
            dockerfile.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// A user's requirement on a rule: the Dockerfile never runs as root and never uses the
/// deprecated worker module, whatever the example.
#[test]
fn every_example_runs_as_a_numeric_non_root_user_with_the_current_worker() {
    for dir in util::examples() {
        let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        let user = dockerfile
            .lines()
            .find(|l| l.starts_with("USER "))
            .expect("a USER line");
        let (uid, gid) = user["USER ".len()..].split_once(':').unwrap();
        assert!(
            uid.parse::<u32>().unwrap() > 0 && gid.parse::<u32>().unwrap() > 0,
            "{user}"
        );
        assert!(
            !dockerfile.contains("uvicorn.workers."),
            "{}",
            dir.display()
        );
        let last = dockerfile.lines().rfind(|l| !l.starts_with('#')).unwrap();
        assert!(
            last.starts_with("CMD [\"gunicorn\", "),
            "exec-form CMD must be last: {last}"
        );
    }
}

/// The server must not own its code. `buildah build` without `--layers` (its default) and
/// `BuildKit` create a missing WORKDIR as the USER in force, so /app is made root-owned,
/// mode 0755, while the build still runs as root; and the app's code is compiled to
/// bytecode as root too, before USER, so its `__pycache__` directories are root's and the
/// server cannot write them. tests/e2e checks the built images.
#[test]
fn every_example_makes_the_app_directory_root_owned_before_user() {
    for dir in util::examples() {
        let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        let user = dockerfile.find("\nUSER ").expect("a USER line");
        let (before, _) = dockerfile.split_at(user);
        assert!(
            before.contains(" install -d -o 0 -g 0 -m 0755 /app"),
            "{}: /app is not created root-owned before USER",
            dir.display()
        );
        assert!(before.contains("\nWORKDIR /app\n"), "{}", dir.display());
        let compile = before
            .find("compileall -q -f --invalidation-mode unchecked-hash /app ")
            .unwrap_or_else(|| panic!("{}: the app is not compiled before USER", dir.display()));
        assert!(
            compile > before.find("\nCOPY . /app\n").unwrap(),
            "{}: the app is compiled before it is copied",
            dir.display()
        );
    }
}
