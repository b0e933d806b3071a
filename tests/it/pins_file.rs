//! Pins the team controls: `fabuild pins refresh` writes a pins file from the index's JSON API,
//! `python.pins` makes a spec install it instead of the built-in table, and `fabuild pins
//! check` lists what is outdated or yanked. Against the real index, pypi.org (as `server_pins` and
//! `build` download the real wheels).

use std::path::Path;
use std::process::Output;

use crate::util::{fabuild, repo};

fn run(dir: &Path, args: &[&str]) -> (Output, String) {
    let out = fabuild(dir).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

/// The rows of a pins file: `name version role sha256`, sorted.
fn rows(text: &str) -> Vec<String> {
    let mut rows: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("want ") && !l.trim().is_empty())
        .map(|l| l.split_whitespace().take(4).collect::<Vec<_>>().join(" "))
        .collect();
    rows.sort();
    rows
}

const ASGI_APP: &str = "version: 1
name: orders-api
app:
  module: main:app
  interface: asgi
python:
  base_image: python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea
  requirements: requirements.txt
  pins: ../platform/pins.txt
";

#[test]
fn refresh_from_the_json_api_gives_the_builtin_tables_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (out, text) = run(dir.path(), &["pins", "refresh", "--file", "pins.txt"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("wrote pins.txt (23 wheel hashes)"), "{text}");
    let written = std::fs::read_to_string(dir.path().join("pins.txt")).unwrap();
    let builtin = std::fs::read_to_string(repo().join("src/pins.txt")).unwrap();
    assert_eq!(rows(&written), rows(&builtin));
    // Run again: nothing changes, nothing is rewritten.
    let (out, text) = run(dir.path(), &["pins", "refresh", "--file", "pins.txt"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("unchanged pins.txt"), "{text}");
}

#[test]
fn a_spec_installs_its_refreshed_pins_and_refuses_a_file_renovate_changed_until_refreshed() {
    let root = tempfile::tempdir().unwrap();
    let platform = root.path().join("platform");
    let app = root.path().join("app");
    std::fs::create_dir_all(&platform).unwrap();
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("app.yaml"), ASGI_APP).unwrap();
    std::fs::write(app.join("requirements.txt"), "starlette\n").unwrap();
    std::fs::write(app.join("main.py"), "app = None\n").unwrap();

    let (out, text) = run(
        &platform,
        &["pins", "refresh", "--file", "pins.txt", "uvicorn==0.55.0"],
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("uvicorn 0.54.0 -> 0.55.0"), "{text}");

    let (out, text) = run(&app, &["gen", "app.yaml"]);
    assert!(out.status.success(), "{text}");
    let server = std::fs::read_to_string(app.join("requirements-server.txt")).unwrap();
    assert!(
        server.contains("uvicorn==0.55.0")
            && server.contains(
                "sha256:bee604c5af6e15fb0584913c632b222c09db1048c26fc05053203207c4b9e37d"
            ),
        "{server}"
    );
    assert!(!server.contains("0.54.0"), "{server}");
    let (out, text) = run(&platform, &["pins", "check", "--file", "pins.txt"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("CURRENT   uvicorn 0.55.0"), "{text}");

    // Renovate's regex manager moves the want line; the rows are now stale.
    let pins = platform.join("pins.txt");
    let moved = std::fs::read_to_string(&pins)
        .unwrap()
        .replace("want uvicorn==0.55.0 ", "want uvicorn==0.56.0 ");
    std::fs::write(&pins, moved).unwrap();
    let (out, text) = run(&app, &["check", "app.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAB091"), "{text}");
    assert!(text.contains("run `fabuild pins refresh`"), "{text}");
    let (out, text) = run(&platform, &["pins", "check", "--file", "pins.txt"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("STALE"), "{text}");
    // `gen --check` notices too: it validates the spec first.
    let (out, _) = run(&app, &["gen", "--check", "app.yaml"]);
    assert_ne!(out.status.code(), Some(0));
}

#[test]
fn check_lists_a_yanked_pin_with_its_reason_and_refresh_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    // click 8.2.2 is yanked on PyPI.
    let builtin = std::fs::read_to_string(repo().join("src/pins.txt")).unwrap();
    let yanked = builtin
        .replace("want click==8.5.1", "want click==8.2.2")
        .replace(
            "click             8.5.1    asgi  8bb5376d2006950386f8c6427613334a2acadc5f559cb80e638d00b4df957e37",
            "click             8.2.2    asgi  52e1e9f5d3db8c85aa76968c7c67ed41ddbacb167f43201511c8fd61eb5ba2ca",
        );
    std::fs::write(dir.path().join("pins.txt"), &yanked).unwrap();
    let (out, text) = run(dir.path(), &["pins", "check", "--file", "pins.txt"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "YANKED    click 8.2.2: Unintended change in behavior of boolean options and None"
        ),
        "{text}"
    );
    assert!(text.contains("OUTDATED  click 8.2.2"), "{text}");

    let (out, text) = run(dir.path(), &["pins", "refresh", "--file", "pins.txt"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("click 8.2.2 is yanked"), "{text}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("pins.txt")).unwrap(),
        yanked,
        "a refused refresh writes nothing"
    );
}

#[test]
fn refresh_refuses_a_stack_whose_own_dependencies_disagree() {
    let dir = tempfile::tempdir().unwrap();
    // uvicorn-worker 0.4.0 declares uvicorn>=0.36.0.
    let (out, text) = run(
        dir.path(),
        &["pins", "refresh", "--file", "pins.txt", "uvicorn==0.35.0"],
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("uvicorn-worker 0.4.0 needs uvicorn>=0.36.0, but uvicorn 0.35.0 is wanted"),
        "{text}"
    );
    assert!(!dir.path().join("pins.txt").exists());
}

/// Every wanted release's dependencies are checked, not only the newest's: uvicorn 0.54.0
/// (0.55.0 is out, so the project document does not declare 0.54.0's) needs h11>=0.8.
#[test]
fn refresh_checks_the_dependencies_of_a_release_that_is_not_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let (out, text) = run(
        dir.path(),
        &["pins", "refresh", "--file", "pins.txt", "h11==0.7.0"],
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("uvicorn 0.54.0 needs h11>=0.8, but h11 0.7.0 is wanted"),
        "{text}"
    );
    assert!(!dir.path().join("pins.txt").exists());
}

/// A pins file without the network: the built-in table with one package's rows changed.
fn hand_made(dir: &Path, edit: impl Fn(&str) -> String) {
    let builtin = std::fs::read_to_string(repo().join("src/pins.txt")).unwrap();
    std::fs::write(dir.join("pins.txt"), edit(&builtin)).unwrap();
    std::fs::write(
        dir.join("app.yaml"),
        ASGI_APP.replace("../platform/pins.txt", "pins.txt"),
    )
    .unwrap();
    std::fs::write(dir.join("requirements.txt"), "starlette\n").unwrap();
}

#[test]
fn a_pins_file_outside_what_the_rules_assume_or_missing_a_package_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let h = "0".repeat(64);
    hand_made(dir.path(), |t| {
        t.replace("want gunicorn==27.0.1", "want gunicorn==26.0.0").replace(
            "gunicorn          27.0.1   all   378b26b9a38adcf4592f28828233c1716acc55e833ea06bf48719782efaa0d10",
            &format!("gunicorn          26.0.0   all   {h}"),
        )
    });
    let (out, text) = run(dir.path(), &["check", "app.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAB092"), "{text}");
    assert!(
        text.contains("pins gunicorn 26.0.0; this fabuild's rules assume gunicorn==27.*"),
        "{text}"
    );

    hand_made(dir.path(), |t| {
        t.lines()
            .filter(|l| !l.contains("uvicorn-worker"))
            .fold(String::new(), |text, l| text + l + "\n")
    });
    let (out, text) = run(dir.path(), &["check", "app.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAB093"), "{text}");
    assert!(
        text.contains("has no pin for uvicorn-worker this app needs"),
        "{text}"
    );

    std::fs::write(dir.path().join("pins.txt"), "gunicorn 27.0.1 all abc\n").unwrap();
    let (out, text) = run(dir.path(), &["check", "app.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAB091"), "{text}");
    assert!(
        text.contains("the first line must be `# fabuild pins 1`"),
        "{text}"
    );
}

#[test]
fn concurrent_refreshes_leave_one_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            fabuild(dir.path())
                .args(["pins", "refresh", "--file", "pins.txt"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = std::fs::read_to_string(dir.path().join("pins.txt")).unwrap();
    assert_eq!(rows(&text).len(), 23);
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["pins.txt"], "temporaries left behind");
}
