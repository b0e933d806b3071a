//! The project files a spec names and fabuild reads: a uv lock (`python.lock`, turned into a
//! hashed requirements file for the image) and a pyproject.toml (`python.project`, PEP 621 or
//! Poetry dependencies). The first byte picks which; the rest is the file's text.
//!
//! Invariants: what fabuild writes into the image's requirements from these files is one
//! requirement per line and never a pip option (a line starting with `-`, such as
//! `--index-url`, would change where pip installs from); each lock line is `name==version`
//! and `--hash=` words only, sorted by name, leaving out the packages fabuild pins itself.
#![no_main]

use fabuild::packaging::pyproject::PyProject;
use fabuild::packaging::uvlock;
use libfuzzer_sys::fuzz_target;

/// The server stack, which fabuild pins and leaves out of the app's requirements.
const PINNED: &[&str] = &["gunicorn", "uvicorn", "uvicorn-worker"];

fn assert_plain_line(line: &str, file: &str) {
    assert!(
        !line.chars().any(char::is_control),
        "a control character in a requirement from {file}: {line:?}"
    );
    assert!(
        !line.trim_start().starts_with('-'),
        "a pip option from {file}: {line:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if which % 2 == 0 {
        if let Ok(lock) = uvlock::parse(text) {
            let _ = lock.version_of("gunicorn");
        }
        if let Ok(requirements) = uvlock::requirements(text, PINNED) {
            let mut names = Vec::new();
            for line in requirements.lines() {
                assert_plain_line(line, "uv.lock");
                // `name==version`, then `--hash=...` words and nothing else: a space inside
                // a version or a hash would give pip another option.
                let mut words = line.split(' ');
                let pin = words.next().unwrap_or_default();
                let (name, version) = pin
                    .split_once("==")
                    .unwrap_or_else(|| panic!("not name==version: {line:?}"));
                assert!(!name.is_empty() && !version.is_empty(), "{line:?}");
                assert!(
                    words.all(|w| w.len() > "--hash=".len() && w.starts_with("--hash=")),
                    "a word other than --hash=: {line:?}"
                );
                assert!(
                    !PINNED.contains(&fabuild::packaging::normalise(name).as_str()),
                    "a pinned package came through: {line:?}"
                );
                names.push(name.to_owned());
            }
            assert!(
                names.windows(2).all(|w| w[0] < w[1]),
                "requirements not sorted by name, or repeated:\n{requirements}"
            );
        }
    } else if let Ok(project) = PyProject::parse(text)
        && let Ok(declared) = project.declared()
    {
        for requirement in &declared.requirements {
            assert_plain_line(requirement, "pyproject.toml");
        }
    }
});
