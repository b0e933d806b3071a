//! Structure-aware spec fuzzing: the input bytes choose, key by key, what an app.yaml says;
//! every string is written as a YAML double-quoted scalar with every byte outside printable
//! ASCII escaped. So every input is well-formed YAML with known keys and the right types, and
//! most reach the validator's value checks, the plan and the templates, which byte-level
//! mutation of the `spec` target rarely does.
//!
//! Invariants, beyond the rendered Dockerfile's (`common::check_rendered`):
//! - the spec always parses: a refusal is about a value, never YAML syntax or a type;
//! - every finding's span lies inside the text, on character boundaries, at the line it
//!   names, and the finding renders;
//! - an accepted spec holds exactly the strings written: name, module, labels, env,
//!   `server.extra_args`, and the argv holds the extra arguments together, in order;
//! - `fabuild explain` finds no error in the `GUNICORN_CMD_ARGS` the plan writes.
//!
//! To see the app.yaml an input makes (a crash artifact, or the corpus):
//! `FUZZ_SHOW_SPEC=1 cargo fuzz run spec_fields INPUT...` prints each one and its verdict.
#![no_main]
// Replayed inputs are shown to the person replaying them; clippy.toml's printing rule is for
// the fabuild binary.
#![allow(clippy::disallowed_macros)]

mod common;

use fabuild::check::check_text;
use fabuild::diagnostic::render_text;
use fabuild::explain::explain;
use fabuild::gunicorn::advice::Lang;
use fabuild::gunicorn::rules::Context;
use fabuild::gunicorn::settings;
use fabuild::gunicorn::settings::DEFAULT_VERSION;
use fabuild::plan::{self, Overrides};
use fabuild::rules;
use fabuild::spec::SpecError;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// A YAML double-quoted scalar that reads back as exactly `text`.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if u32::from(c) <= 0xffff => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// Mostly a value from `pool` (the ones the validator has rules about), sometimes any string,
/// sometimes a pool value with anything after it.
fn text(u: &mut Unstructured, pool: &[&str]) -> Result<String> {
    Ok(match u.int_in_range(0..=9)? {
        0..=7 => (*u.choose(pool)?).to_owned(),
        8 => u.arbitrary()?,
        _ => format!("{}{}", u.choose(pool)?, u.arbitrary::<String>()?),
    })
}

fn int(u: &mut Unstructured, pool: &[i64]) -> Result<i64> {
    if u.ratio(7, 8)? {
        Ok(*u.choose(pool)?)
    } else {
        u.arbitrary()
    }
}

/// app.yaml being written: one `key: value` line at a time. A section's header is written
/// with its first key, so no section is left empty (null, which the schema refuses).
#[derive(Default)]
struct Yaml {
    text: String,
    section: Option<&'static str>,
}

impl Yaml {
    fn section(&mut self, name: &'static str) {
        self.section = Some(name);
    }

    fn line(&mut self, indent: usize, item: &str) {
        if indent == 0 {
            self.section = None;
        } else if let Some(name) = self.section.take() {
            self.text.push_str(name);
            self.text.push_str(":\n");
        }
        self.text.push_str(&" ".repeat(indent));
        self.text.push_str(item);
        self.text.push('\n');
    }

    fn maybe_int(&mut self, u: &mut Unstructured, key: &str, pool: &[i64]) -> Result<()> {
        if u.arbitrary()? {
            let value = int(u, pool)?;
            self.line(2, &format!("{key}: {value}"));
        }
        Ok(())
    }

    /// `key: "value"`, the value escaped by `quoted`.
    fn string(&mut self, indent: usize, key: &str, value: &str) {
        self.line(indent, &format!("{key}: {}", quoted(value)));
    }

    /// A section key with a value drawn by `text` from `pool`.
    fn drawn(&mut self, u: &mut Unstructured, key: &str, pool: &[&str]) -> Result<()> {
        let value = text(u, pool)?;
        self.string(2, key, &value);
        Ok(())
    }

    fn maybe_text(&mut self, u: &mut Unstructured, key: &str, pool: &[&str]) -> Result<()> {
        if u.arbitrary()? {
            self.drawn(u, key, pool)?;
        }
        Ok(())
    }

    /// A list under `key`; returns its items.
    fn list(&mut self, indent: usize, key: &str, items: Vec<String>) -> Vec<String> {
        self.line(indent, &format!("{key}:"));
        for item in &items {
            self.line(indent + 2, &format!("- {}", quoted(item)));
        }
        items
    }

    /// A mapping of strings under `key` with distinct keys; returns its entries.
    fn map(&mut self, key: &'static str, entries: Vec<(String, String)>) -> Vec<(String, String)> {
        let mut kept: Vec<(String, String)> = Vec::new();
        for (k, v) in entries {
            if !kept.iter().any(|(seen, _)| *seen == k) {
                kept.push((k, v));
            }
        }
        self.section(key);
        for (k, v) in &kept {
            let (k, v) = (quoted(k), quoted(v));
            // YAML caps an implicit key at 1024 characters; a longer one must be explicit.
            if k.chars().count() > 1000 {
                self.line(2, &format!("? {k}"));
                self.line(2, &format!(": {v}"));
            } else {
                self.line(2, &format!("{k}: {v}"));
            }
        }
        kept
    }
}

const TIMES: &[i64] = &[0, 1, 5, 30, 75, 120, 3600, -1, 86_400, 4_294_967_296];
const PATHS: &[&str] = &[
    "instance",
    "/var/lib/app/uploads",
    "/app",
    "/tmp",
    "/opt/key",
    "../outside",
    "/",
    "a//b",
    "./data",
    "/opt/venv/lib",
    "",
];

/// One `server.extra_args` word: any flag of any gunicorn version, with or without a value.
fn extra_arg(u: &mut Unstructured) -> Result<Vec<String>> {
    let setting = u.choose(settings::all())?;
    if setting.flags.is_empty() {
        return Ok(vec![text(u, &["--", "-", "main:app", "x"])?]);
    }
    let flag = *u.choose(&setting.flags)?;
    let value = text(
        u,
        &[
            setting.default,
            "1",
            "0",
            "-1",
            "info",
            "/tmp/x",
            "TLSv1_2",
            "a=b",
            "",
            " 2 ",
            // Paths in the project directory and not (`--config`, `--chdir`, `--log-config`).
            "service",
            "requirements.txt",
            "/app/service/requirements.txt",
            "python:settings",
        ],
    )?;
    Ok(match u.int_in_range(0..=3)? {
        0 => vec![flag.to_owned()],
        1 => vec![flag.to_owned(), value],
        // Cut short: an abbreviation argparse may or may not accept.
        2 => vec![format!(
            "{}={value}",
            &flag[..flag.len().min(u.int_in_range(1..=flag.len())?)]
        )],
        _ => vec![format!("{flag}={value}")],
    })
}

/// What the spec said that must come back unchanged.
struct Written {
    name: String,
    module: String,
    labels: Vec<(String, String)>,
    env: Vec<(String, String)>,
    extra_args: Vec<String>,
}

/// The spec an input describes. Out of data, every draw is its first choice, `false` or its
/// lower bound (`ratio` is true), so the empty input is the smallest valid spec; the rare
/// refused shapes (version 2, 17 writable entries, two sources) sit off those defaults.
fn build(u: &mut Unstructured) -> Result<(String, Written)> {
    let mut y = Yaml::default();
    y.line(
        0,
        &format!("version: {}", if u.ratio(49, 50)? { 1 } else { 2 }),
    );
    let name = text(
        u,
        &["orders-api", "notes", "a", "api-2", "Orders", "-x", "a.b_c"],
    )?;
    y.string(0, "name", &name);

    y.line(0, "app:");
    let module = text(
        u,
        &[
            "main:app",
            "flaskr:create_app()",
            "pkg.web.asgi:application",
            "main",
            "main:create_app('x', debug=True)",
            ":app",
            "main:app.sub",
            "1main:app",
        ],
    )?;
    y.string(2, "module", &module);
    y.line(2, &format!("interface: {}", u.choose(&["asgi", "wsgi"])?));
    if u.arbitrary()? {
        // At most 16 are allowed.
        let n = if u.ratio(1, 30)? {
            17
        } else {
            u.int_in_range(0..=3)?
        };
        let items = (0..n).map(|_| text(u, PATHS)).collect::<Result<_>>()?;
        y.list(2, "writable", items);
    }

    y.section("python");
    y.maybe_text(
        u,
        "version",
        &["3.11", "3.12", "3.13", "3.14", "3.10", "3", "3.12.1"],
    )?;
    y.maybe_text(
        u,
        "base_image",
        &[
            "python:3.12-slim",
            "python:3.13-slim-bookworm",
            "docker.io/library/python:3.12-slim@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "registry.example.com:5000/team/python:3.12",
            "python:3.11-alpine",
            "python",
            "python:latest",
        ],
    )?;
    // One source of dependencies, rarely two (refused) or none (refused).
    let sources = match u.int_in_range(0..=40)? {
        39 => 2,
        40 => 0,
        _ => 1,
    };
    let mut keys = vec![*u.choose(&[
        "requirements",
        "requirements",
        "requirements",
        "lock",
        "project",
        "project",
    ])?];
    if sources == 2 {
        keys.push(u.choose(&["requirements", "lock", "project"])?);
    }
    for key in keys.iter().take(sources) {
        let pool: &[&str] = match *key {
            "requirements" => &[
                "requirements.txt",
                "service/requirements.txt",
                "missing.txt",
                "../x.txt",
                "/etc/passwd",
                "linked.txt",
            ],
            "lock" => &[
                "uv.lock",
                "conflict/uv.lock",
                "lonely/uv.lock",
                "poetry.lock",
                "../uv.lock",
            ],
            _ => &[
                "pep621/pyproject.toml",
                "poetry/pyproject.toml",
                "poetry-git/pyproject.toml",
                "pyproject.toml",
            ],
        };
        y.drawn(u, key, pool)?;
    }
    // Only python.project takes it; elsewhere it is refused.
    if keys.contains(&"project") || !u.ratio(19, 20)? {
        y.maybe_text(
            u,
            "exclude_newer",
            &[
                "2026-01-01",
                "2026-01-01T00:00:00Z",
                "yesterday",
                "2026-13-01",
            ],
        )?;
    }

    y.section("server");
    y.maybe_int(
        u,
        "port",
        &[8000, 8443, 8080, 1024, 65535, 80, 0, 65536, -1],
    )?;
    y.maybe_int(u, "workers", &[1, 2, 3, 16, 0, -1, 1000])?;
    if u.arbitrary()? {
        let cpus = *u.choose(&[
            "0.5", "1", "2.0", "0.1", "0", "-1", "1e9", ".nan", ".inf", "96",
        ])?;
        y.line(2, &format!("cpus: {cpus}"));
    }
    y.maybe_int(u, "threads", &[1, 2, 8, 0, -1, 100_000])?;
    for key in [
        "timeout",
        "graceful_timeout",
        "keepalive",
        "max_requests",
        "max_requests_jitter",
    ] {
        y.maybe_int(u, key, TIMES)?;
    }
    if u.arbitrary()? {
        let pool = [
            "10.0.0.0/8",
            "10.0.0.1/8",
            "127.0.0.1",
            "*",
            "::1",
            "fd00::/8",
            "10.0.0.300",
            "10.0.0.0/33",
            "",
        ];
        let n = u.int_in_range(0..=3)?;
        let items = (0..n).map(|_| text(u, &pool)).collect::<Result<_>>()?;
        y.list(2, "forwarded_allow_ips", items);
    }
    if u.arbitrary()? {
        y.line(2, &format!("access_log: {}", u.arbitrary::<bool>()?));
    }
    let mut extra_args = Vec::new();
    if u.arbitrary()? {
        for _ in 0..u.int_in_range(0..=4)? {
            extra_args.extend(extra_arg(u)?);
        }
        extra_args = y.list(2, "extra_args", extra_args);
    }

    if u.arbitrary()? {
        y.section("tls");
        y.drawn(
            u,
            "dir",
            &[
                "/opt/key",
                "/etc/tls",
                "/app/key",
                "key",
                "/",
                "/tmp",
                "/dev/shm",
                "/app/instance",
                "/etc",
            ],
        )?;
        y.maybe_text(
            u,
            "certfile",
            &["cert.pem", "abc-cert.pem", "../cert.pem", "a/b.pem", ""],
        )?;
        y.maybe_text(
            u,
            "keyfile",
            &["key.pem", "abc-key.pem", "cert.pem", "/opt/key/key.pem"],
        )?;
        y.maybe_text(u, "ca_certs", &["ca.pem", "key.pem"])?;
    }
    if u.arbitrary()? {
        y.section("user");
        y.maybe_int(
            u,
            "uid",
            &[10001, 1000, 65534, 0, -1, 4_294_967_295, 2_147_483_648],
        )?;
        y.maybe_int(u, "gid", &[10001, 1000, 0, -1, 4_294_967_296])?;
    }

    let label_keys = [
        "org.opencontainers.image.source",
        "team",
        "org.opencontainers.image.title",
        "a b",
        "",
    ];
    let env_keys = [
        "LOG_LEVEL",
        "PYTHONPATH",
        "GUNICORN_CMD_ARGS",
        "PATH",
        "A-B",
        "1X",
        "_X",
        "ÄX",
        "WEB_CONCURRENCY",
    ];
    let values = [
        "https://example.com/x",
        "info",
        "$HOME",
        "a\"b",
        "line\nbreak",
        "back\\slash",
        "",
        "  ",
        "3",
    ];
    let mut labels = Vec::new();
    let mut env = Vec::new();
    if u.arbitrary()? {
        let entries = (0..u.int_in_range(0..=3)?)
            .map(|_| Ok((text(u, &label_keys)?, text(u, &values)?)))
            .collect::<Result<_>>()?;
        labels = y.map("labels", entries);
    }
    if u.arbitrary()? {
        let entries = (0..u.int_in_range(0..=3)?)
            .map(|_| Ok((text(u, &env_keys)?, text(u, &values)?)))
            .collect::<Result<_>>()?;
        env = y.map("env", entries);
    }
    if u.arbitrary()? {
        y.section("build");
        if u.arbitrary()? {
            y.line(2, "ca_secret: false");
        } else {
            y.drawn(u, "ca_secret", &["corp-ca", "", "a b"])?;
        }
    }
    if u.arbitrary()? {
        y.section("healthcheck");
        y.drawn(u, "path", &["/healthz", "/", "healthz", "/a b", "/x?y=1"])?;
        for key in ["interval", "timeout", "start_period", "retries"] {
            y.maybe_int(u, key, TIMES)?;
        }
    }
    if u.arbitrary()? {
        y.section("deploy");
        for key in ["kubernetes", "compose"] {
            if u.arbitrary()? {
                y.line(2, &format!("{key}: {}", u.arbitrary::<bool>()?));
            }
        }
        y.maybe_text(
            u,
            "image",
            &[
                "registry.example.com/team/api:1.0",
                "api",
                "API:latest",
                "a@sha256:00",
            ],
        )?;
        y.maybe_int(u, "replicas", &[1, 3, 0, -1, 1000])?;
        y.maybe_text(
            u,
            "memory",
            &["512Mi", "1Gi", "100", "0", "-1Mi", "1.5Gi", "lots"],
        )?;
        y.maybe_text(u, "tls_secret", &["api-tls", "API_TLS", ""])?;
    }
    let written = Written {
        name,
        module,
        labels,
        env,
        extra_args,
    };
    Ok((y.text, written))
}

fn show() -> bool {
    static SHOW: OnceLock<bool> = OnceLock::new();
    *SHOW.get_or_init(|| std::env::var_os("FUZZ_SHOW_SPEC").is_some())
}

fuzz_target!(|data: &[u8]| {
    let Ok((text, written)) = build(&mut Unstructured::new(data)) else {
        return;
    };
    let result = check_text(&text, "app.yaml", common::project());
    if show() {
        let verdict = match &result {
            Ok(_) => "accepted".to_owned(),
            Err(SpecError::Invalid { findings, .. }) => {
                let rules: Vec<_> = findings
                    .iter()
                    .filter(|f| f.is_error())
                    .map(|f| f.rule.id)
                    .collect();
                format!("refused: {}", rules.join(" "))
            }
            Err(other) => other.to_string(),
        };
        eprintln!("---\n{text}# {verdict}");
    }
    let checked = match result {
        Ok(checked) => checked,
        Err(SpecError::Invalid { input, findings }) => {
            for finding in &findings {
                assert!(
                    finding.rule != rules::YAML_SYNTAX,
                    "a well-formed spec was refused as YAML: {}\n{text}",
                    finding.message
                );
                if let Some(span) = finding.span {
                    let end = span.offset + span.len;
                    assert!(end <= text.len(), "span past the end: {span:?}\n{text}");
                    assert!(
                        text.is_char_boundary(span.offset) && text.is_char_boundary(end),
                        "span inside a character: {span:?}\n{text}"
                    );
                    let line = text[..span.offset].matches('\n').count() + 1;
                    assert_eq!(span.line, line as u64, "span names the wrong line\n{text}");
                }
                let _ = render_text(finding, &input, false);
            }
            return;
        }
        Err(other) => panic!("check_text refused a text with {other}"),
    };
    let spec = &checked.spec;
    assert_eq!(spec.name, written.name, "name");
    assert_eq!(spec.app.module, written.module, "module");
    assert_eq!(spec.labels, written.labels, "labels");
    assert_eq!(spec.env, written.env, "env");
    assert_eq!(
        spec.server.extra_args, written.extra_args,
        "server.extra_args"
    );
    let plan = plan::plan(spec, &Overrides::default());
    let extra = &written.extra_args;
    assert!(
        extra.is_empty() || plan.argv.windows(extra.len()).any(|run| run == extra),
        "the extra arguments are not in the argv as written: {:?}",
        plan.argv
    );
    // What gen writes, `fabuild explain` must not call an error: the spec's checks and the
    // explain rules agree about every accepted spec.
    let ctx = Context {
        uid: plan.uid,
        version: DEFAULT_VERSION,
        tls_mounted: plan.tls.is_some(),
    };
    let review = explain(&plan.gunicorn_cmd_args, "app.yaml", &ctx);
    assert!(
        review.accepted && !review.has_errors(),
        "explain refuses what gen writes:\n{}\n{text}",
        review.render_text(Lang::En)
    );
    common::check_rendered(&plan);
});
