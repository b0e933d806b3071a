//! `.dockerignore` patterns that made a backtracking matcher run for minutes are answered
//! at once. The timeout is a hang detector, far above the real time (BENCHMARKS.md).

use std::sync::mpsc;
use std::time::Duration;

use fabuild::builder::ignore::Ignore;

const HANG: Duration = Duration::from_secs(10);

/// Runs `check` on another thread; panics if it has not answered within `HANG`.
fn within_bound(what: &str, check: impl FnOnce() -> bool + Send + 'static) -> bool {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(check());
    });
    rx.recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("{what} still running after {HANG:?}"))
}

#[test]
fn pathological_patterns_end_at_once() {
    // 13.6 s with 10 stars, past 60 s with 12, on the backtracking matcher.
    for stars in [10, 12, 16, 24] {
        let pattern = format!("{}b", "*a".repeat(stars));
        let ignore = Ignore::parse(&pattern).unwrap();
        let name = "a".repeat(40);
        let excluded = within_bound(&format!("`{pattern}` against 40 a's"), move || {
            ignore.excluded(&name)
        });
        assert!(!excluded, "{pattern}");
    }
    // The same with `**` across directories, and a deep path.
    let pattern = format!("{}b", "**/a*/".repeat(16));
    let ignore = Ignore::parse(&pattern).unwrap();
    let path = "a/".repeat(200) + "c";
    assert!(!within_bound(&format!("`{pattern}`"), move || ignore.excluded(&path)));
}
