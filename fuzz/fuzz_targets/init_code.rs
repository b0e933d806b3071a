//! `fabuild init` on a project whose settings module is the input: app detection, the
//! settings read from the environment (`os.environ`, pydantic settings classes,
//! django-environ and environs readers), Django settings, the instance folder.
//!
//! Invariants: every variable init lists is a name app.yaml's `env` takes, on its own
//! comment line; uncommenting the listed entries (each given a value) keeps app.yaml a
//! valid spec that holds exactly those variables.
#![no_main]

use std::sync::OnceLock;

use fabuild::init::{self, Options};
use libfuzzer_sys::fuzz_target;

/// A project with a Flask app; each input becomes its `app/config.py`.
fn project() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("app")).unwrap();
        std::fs::write(dir.path().join("app/__init__.py"), "").unwrap();
        std::fs::write(
            dir.path().join("app/main.py"),
            "from flask import Flask\n\napp = Flask(__name__)\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "flask==3.1.0\n").unwrap();
        dir
    })
    .path()
}

fn env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fuzz_target!(|data: &[u8]| {
    let Ok(code) = std::str::from_utf8(data) else {
        return;
    };
    let dir = project();
    std::fs::write(dir.join("app/config.py"), code).unwrap();
    let options = Options {
        dir: dir.to_path_buf(),
        force: true,
        module: Some("app.main:app".to_owned()),
        interface: None,
        name: None,
        python: Some("3.12".to_owned()),
        port: None,
        tls: None,
        schema_ref: None,
        writable: Vec::new(),
        exclude_newer: None,
    };
    let Ok(outcome) = init::survey(&options) else {
        return;
    };
    let mut listed = Vec::new();
    let mut text = String::new();
    for line in outcome.text.lines() {
        if let Some(entry) = line.strip_prefix("#   ")
            && let Some((name, _)) = entry.split_once(": \"\"  # ")
        {
            assert!(env_name(name), "listed {name:?}");
            listed.push(name.to_owned());
            text.push_str(&format!("  {name}: \"x\"\n"));
        } else if line == "# env:" {
            text.push_str("env:\n");
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    let checked = fabuild::check::check_text(&text, "app.yaml", dir)
        .unwrap_or_else(|e| panic!("uncommented entries make app.yaml invalid: {e:?}\n{text}"));
    for name in &listed {
        assert!(
            checked.spec.env.iter().any(|(k, v)| k == name && v == "x"),
            "{name} not in the spec's env"
        );
    }
});
