//! The project files a spec names and fabuild reads: a uv lock (`python.lock`, turned into a
//! hashed requirements file for the image) and a pyproject.toml (`python.project`, PEP 621 or
//! Poetry dependencies), and a gunicorn.conf.py (read by `fabuild init`). The first byte
//! picks which; the rest is the file's text.
//!
//! Invariants: what fabuild writes into the image's requirements from these files is one
//! requirement per line and never a pip option (a line starting with `-`, such as
//! `--index-url`, would change where pip installs from); each lock line is `name==version`
//! and `--hash=` words only, sorted by name, leaving out the packages fabuild pins itself.
//! What init carries from a gunicorn.conf.py into app.yaml keeps app.yaml valid YAML (each
//! value's source line becomes a comment) and comes back from the spec unchanged.
#![no_main]

use fabuild::init::gunicorn_conf::{self, Carried, Value};
use fabuild::init::{AppYaml, DependencyInstall, Tls};
use fabuild::packaging::pyproject::PyProject;
use fabuild::packaging::uvlock;
use fabuild::spec::{Interface, SpecError};
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

/// The app.yaml init writes for a Flask app with `carried` in `server` and `tls`.
fn app_yaml(carried: Vec<Carried>, tls: Option<Tls>, interface: Interface) -> String {
    let why = |s: &str| (s.to_owned(), "fuzz".to_owned());
    AppYaml {
        schema_ref: ".fabuild/app.schema.json".to_owned(),
        name: why("orders"),
        module: why("app:app"),
        interface: (interface, "fuzz".to_owned()),
        python: why("3.12"),
        dependencies: DependencyInstall::None,
        port: None,
        server: carried,
        tls,
        src_layout: false,
        workspace: None,
        writable: None,
        apt: None,
        env_reads: Vec::new(),
        django: None,
        extends: None,
        // Only with extends, which this app.yaml has not.
        platform_sizes_workers: false,
    }
    .render()
}

fn gunicorn_conf(text: &str, interface: Interface) {
    let conf = gunicorn_conf::parse(text, interface);
    let lines = text.lines().count();
    for c in &conf.carried {
        let line: usize = c
            .why
            .strip_prefix("gunicorn.conf.py:")
            .and_then(|rest| rest.split(':').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no source line: {:?}", c.why));
        assert!((1..=lines).contains(&line), "line {line} of {lines}");
        assert!(!c.why.chars().any(char::is_control), "{:?}", c.why);
    }
    assert!(conf.left.iter().all(|l| (1..=lines).contains(&l.line)));
    let text = app_yaml(conf.carried.clone(), conf.tls.clone(), interface);
    let checked = match fabuild::check::check_text(&text, "app.yaml", std::path::Path::new("/")) {
        Ok(checked) => checked.spec,
        Err(SpecError::Invalid { findings, .. }) => {
            assert!(
                findings.iter().all(|f| f.rule.id != "FAB001"),
                "app.yaml is not YAML:\n{text}"
            );
            return;
        }
        Err(other) => panic!("{other}\n{text}"),
    };
    // The files gunicorn would have opened are the ones the image's tls names.
    if let Some(carried) = &conf.tls {
        let tls = checked.tls.as_ref().expect("tls carried but not read back");
        let at = |name: &str| format!("{}/{name}", carried.dir);
        assert_eq!(tls.dir, carried.dir, "{text}");
        assert_eq!(tls.certfile, at(&carried.certfile), "{text}");
        assert_eq!(tls.keyfile, at(&carried.keyfile), "{text}");
        assert_eq!(tls.ca_certs, carried.ca_certs.as_deref().map(at), "{text}");
    }
    let server = checked.server;
    for c in &conf.carried {
        let got = match c.key {
            "port" => Value::Number(u32::from(server.port)),
            "workers" => Value::Number(server.workers.unwrap_or_default()),
            "threads" => Value::Number(server.threads.unwrap_or_default()),
            "timeout" => Value::Number(server.timeout),
            "graceful_timeout" => Value::Number(server.graceful_timeout),
            "keepalive" => Value::Number(server.keepalive),
            "max_requests" => Value::Number(server.max_requests),
            "max_requests_jitter" => Value::Number(server.max_requests_jitter),
            "forwarded_allow_ips" => Value::List(server.forwarded_allow_ips.clone()),
            "access_log" => Value::Bool(server.access_log),
            other => panic!("carried into server.{other}"),
        };
        // The last assignment wins, as in Python.
        let last = conf.carried.iter().rev().find(|l| l.key == c.key).unwrap();
        assert_eq!(got, last.value, "server.{}\n{text}", c.key);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if which >= 0xf0 {
        let interface = if which % 2 == 0 {
            Interface::Wsgi
        } else {
            Interface::Asgi
        };
        gunicorn_conf(text, interface);
    } else if which % 2 == 0 {
        if let Ok(lock) = uvlock::parse(text) {
            let _ = lock.version_of("gunicorn");
        }
        if let Ok(requirements) = uvlock::requirements(text, None, PINNED) {
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
