//! `python.build_packages` and `python.system_packages`: the Dockerfile builds the
//! virtualenv in a stage that has the compilers and copies only the virtualenv into the
//! image, which gets the run-time libraries; each entry is one Debian package, as dpkg
//! reads one (FAB066); `fabuild build`, which runs no apt, refuses such a spec by name.
//! The real build is tests/e2e/system-packages.sh.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use crate::{schema, util};

fn project(python_keys: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("app.yaml"),
        format!(
            "version: 1\nname: pg-api\napp:\n  module: app:application\n  interface: wsgi\npython:\n  version: \"3.12\"\n{python_keys}"
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("requirements.txt"), "psycopg2==2.9.10\n").unwrap();
    std::fs::write(
        dir.path().join("app.py"),
        "def application(environ, start_response):\n    return []\n",
    )
    .unwrap();
    dir
}

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = util::fabuild(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The Dockerfile's stages, split at each `FROM`.
fn stages(dockerfile: &str) -> Vec<String> {
    let mut stages: Vec<String> = Vec::new();
    for line in dockerfile.lines() {
        if line.starts_with("FROM ") {
            stages.push(String::new());
        }
        if let Some(stage) = stages.last_mut() {
            stage.push_str(line);
            stage.push('\n');
        }
    }
    stages
}

#[test]
fn the_compilers_stay_in_the_build_stage_and_the_libraries_reach_the_image() {
    let dir = project(
        "  build_packages: [gcc, libpq-dev, gcc]\n  system_packages: [libpq5=15.10-0+deb12u1]\n",
    );
    let (code, _, stderr) = run(dir.path(), &["gen"]);
    assert_eq!(code, 0, "{stderr}");
    let dockerfile = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    let stages = stages(&dockerfile);
    assert_eq!(stages.len(), 2, "{dockerfile}");
    let (build, image) = (&stages[0], &stages[1]);
    let wanted: [(&String, &[&str]); 2] = [
        (
            build,
            &[
                "FROM python:3.12-slim AS build\n",
                "apt-get install -y --no-install-recommends gcc libpq-dev \\\n",
                "pip install --no-compile --constraint",
            ],
        ),
        (
            image,
            &[
                "FROM python:3.12-slim\n",
                "apt-get install -y --no-install-recommends libpq5=15.10-0+deb12u1 \\\n",
                "COPY --from=build /opt/venv /opt/venv\n",
                "ldd",
            ],
        ),
    ];
    for (stage, lines) in wanted {
        for line in lines {
            assert!(stage.contains(line), "{line:?} not in:\n{stage}");
        }
    }
    for absent in ["gcc", "libpq-dev", "pip install"] {
        assert!(
            !image.contains(absent),
            "{absent} in the image stage:\n{image}"
        );
    }
    // The build stage's packages are unpinned, so DL3008 is waived there, with the reason;
    // the image's are all pinned, so it is not waived there.
    assert!(build.contains("# hadolint ignore=DL3008\n"), "{build}");
    assert!(!image.contains("hadolint ignore"), "{image}");

    let hadolint = util::oracle("FABUILD_HADOLINT", "hadolint");
    let lint = Command::new(&hadolint)
        .arg(dir.path().join("Dockerfile"))
        .output()
        .unwrap();
    assert!(
        lint.status.success() && lint.stdout.is_empty(),
        "hadolint:\n{}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
}

#[test]
fn system_packages_alone_keep_one_stage() {
    let dir = project("  system_packages: [libmagic1]\n");
    let (code, _, stderr) = run(dir.path(), &["gen"]);
    assert_eq!(code, 0, "{stderr}");
    let dockerfile = std::fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    let stages = stages(&dockerfile);
    assert_eq!(stages.len(), 1, "{dockerfile}");
    assert!(
        stages[0].contains("apt-get install -y --no-install-recommends libmagic1 \\\n"),
        "{dockerfile}"
    );
    assert!(!dockerfile.contains("--from=build"), "{dockerfile}");
}

/// Entries apt or the shell would read as something other than one package.
const HOSTILE: [&str; 8] = [
    "-o",
    "--allow-unauthenticated",
    "gcc && id",
    "$(id)",
    "./x.deb",
    "gcc:amd64",
    "lib=",
    "lib=v1",
];

/// What fabuild accepts as a package, dpkg accepts too (dpkg is laxer: it also takes
/// capitals, `_` and one-letter names, which Debian Policy does not); what apt or the shell
/// would read as something else is refused, with the entry's line.
#[test]
fn every_entry_fabuild_accepts_dpkg_accepts() {
    let alphabet = ['a', 'Z', '0', '+', '-', '.', '_', ':', ' ', ';', '='];
    let mut candidates: Vec<String> = Vec::new();
    for a in alphabet {
        candidates.push(format!("x{a}"));
        for b in alphabet {
            candidates.push(format!("l{a}{b}"));
            candidates.push(format!("lib=1{a}{b}"));
            candidates.push(format!("{a}{b}c"));
        }
    }
    candidates.extend(
        [
            "gcc",
            "libpq-dev",
            "g++",
            "libpq5=15.10-0+deb12u1",
            "libc6=1:2.36-9+deb12u9",
        ]
        .into_iter()
        .chain(HOSTILE)
        .map(str::to_owned),
    );
    let mut yaml = String::from(
        "version: 1\nname: pg-api\napp:\n  module: app:application\n  interface: wsgi\npython:\n  build_packages:\n",
    );
    let first_line = yaml.lines().count() + 1;
    for c in &candidates {
        writeln!(yaml, "    - {}", serde_json::to_string(c).unwrap()).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.yaml"), &yaml).unwrap();
    let (_, stdout, _) = run(dir.path(), &["check", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let refused: std::collections::BTreeSet<usize> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "FAB066")
        .map(|f| usize::try_from(f["line"].as_u64().unwrap()).unwrap() - first_line)
        .collect();

    let dpkg_accepts = |entry: &str| {
        let (name, version) = match entry.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (entry, None),
        };
        let ok = |flag: &str, value: &str| {
            Command::new("dpkg")
                .args([flag, value])
                .output()
                .expect("dpkg, the oracle for Debian names, is not installed")
                .status
                .success()
        };
        ok("--validate-pkgname", name) && version.is_none_or(|v| ok("--validate-version", v))
    };
    let mut accepted = 0;
    for (i, entry) in candidates.iter().enumerate() {
        if refused.contains(&i) {
            continue;
        }
        accepted += 1;
        assert!(
            dpkg_accepts(entry),
            "fabuild accepts {entry:?}, dpkg does not"
        );
        assert!(
            !entry.starts_with('-') && !entry.contains([' ', ';', '$', ':', '/'])
                || entry.contains('='),
            "{entry:?} accepted"
        );
    }
    assert!(
        accepted >= 20,
        "only {accepted} accepted: the test proves little"
    );
    for hostile in HOSTILE {
        let i = candidates.iter().position(|c| c == hostile).unwrap();
        assert!(refused.contains(&i), "{hostile:?} accepted");
    }
}

#[test]
fn a_bad_entry_points_at_its_line_with_the_remedy() {
    let dir =
        project("  build_packages:\n    - gcc\n    - \"-o APT::Get::AllowUnauthenticated=1\"\n");
    let (code, stdout, stderr) = run(dir.path(), &["check"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let all = format!("{stdout}{stderr}");
    assert!(all.contains("FAB066"), "{all}");
    assert!(all.contains("app.yaml:10:"), "{all}");
    assert!(
        all.contains("python.build_packages entry `-o APT::Get::AllowUnauthenticated=1` is not a Debian package name"),
        "{all}"
    );
    assert!(all.contains("one Debian package per entry"), "{all}");
    // The JSON Schema says the same to an editor.
    let (errors, _) = schema::check_jsonschema(&[dir.path().join("app.yaml")]);
    assert_eq!(
        errors.len(),
        1,
        "the schema accepts an apt option as a package"
    );
}

/// `fabuild build` runs no apt: a spec that needs it is refused before any work, naming
/// the keys and the Dockerfile route. With `--wheels DIR` (built elsewhere) build tools are
/// not needed, so `build_packages` alone gets past this check (and stops at the missing base).
#[test]
fn fabuild_build_refuses_what_needs_apt() {
    let dir = project("  build_packages: [gcc, libpq-dev]\n  system_packages: [libpq5]\n");
    let out = dir.path().join("out");
    let (code, stdout, stderr) = run(
        dir.path(),
        &[
            "build",
            "--base",
            "oci:no-such-base",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_ne!(code, 0, "{stdout}");
    assert!(
        stderr.contains("`fabuild build` does not run: python.build_packages (gcc, libpq-dev) and python.system_packages (libpq5)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: build this spec with its Dockerfile: `fabuild gen`"),
        "{stderr}"
    );
    assert!(!out.exists());

    let dir = project("  build_packages: [gcc, libpq-dev]\n");
    let wheels = tempfile::tempdir().unwrap();
    let (_, _, stderr) = run(
        dir.path(),
        &[
            "build",
            "--base",
            "oci:no-such-base",
            "--wheels",
            wheels.path().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!stderr.contains("apt"), "{stderr}");
    assert!(stderr.contains("no-such-base"), "{stderr}");
}
