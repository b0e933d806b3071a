//! Platform files: the keys a team shares between its services (`extends`), merged key
//! by key under each service's own, and the policy `check` holds every service to.
//!
//! The chain is read as one text, the spec first and then each platform file (see
//! `Source::parts`): every value keeps the place it was written, and every finding names
//! its file and line.
//!
//! The chain: the spec's `extends`, then that file's `extends`, and so on; then the file
//! `FABUILD_PLATFORM` names, if it is not already in the chain. A relative path resolves
//! against the directory of the file that writes it. The nearer file wins, key by key;
//! a list (`extra_args`, `build_packages`) is one value, replaced whole.

use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde_saphyr::Spanned;

use super::SpecError;
use super::load::{read_text, span, to_finding};
use super::model::ImageRef;
use super::raw::{RawPlatform, RawPolicy, RawSpec, SpannedMap};
use crate::diagnostic::{Finding, Part, Source, Span};
use crate::rules;

/// The variable naming a platform file every spec extends (after its own chain).
pub const PLATFORM_ENV: &str = "FABUILD_PLATFORM";

/// More files than this in one chain is a mistake, not a platform.
pub const MAX_CHAIN: usize = 16;

/// The spec and its platform files together: each is parsed after blanks as long as the
/// files before it, so this bounds what one parse reads.
pub const MAX_CHAIN_BYTES: usize = 4 * 1024 * 1024;

/// A spec and the platform files it extends, merged.
pub(crate) struct Chain {
    pub source: Source,
    pub raw: RawSpec,
    pub policy: RawPolicy,
}

/// Reads the spec at `path` and every platform file it extends. `platform` is
/// `FABUILD_PLATFORM`'s value, if set.
pub(crate) fn load(
    path: &Path,
    display: &str,
    platform: Option<&Path>,
) -> Result<Chain, SpecError> {
    let (first, raw) = super::load::load(path, display)?;
    chain(path, display, first, raw, platform)
}

/// `load` for spec text that is not on disk (`init` checks the app.yaml it is about to
/// write): its `extends` resolves as if the text were the file `path`.
pub(crate) fn load_text(
    text: &str,
    path: &Path,
    display: &str,
    platform: Option<&Path>,
) -> Result<Chain, SpecError> {
    let first = Source::new(display, text);
    let raw = super::parse(text).map_err(|f| SpecError::Invalid {
        input: first.clone(),
        findings: vec![*f],
    })?;
    chain(path, display, first, raw, platform)
}

/// The chain from the spec `first` (read from `path`, shown as `display`) on.
// One link of the chain after another, each way it can fail with its own finding.
#[allow(clippy::too_many_lines)]
fn chain(
    path: &Path,
    display: &str,
    first: Source,
    mut raw: RawSpec,
    platform: Option<&Path>,
) -> Result<Chain, SpecError> {
    let mut text = first.text.to_string();
    let mut source = first;
    let mut seen = HashSet::new();
    seen.insert(identity(path));
    // (where the `extends` is written, the file to open, its name to show, as written)
    let mut next = raw
        .extends
        .take()
        .map(|e| (span(&e, &text), resolve(path, display, &e.value), e.value));
    let mut env_used = false;
    let mut layers = Vec::new();
    loop {
        let (at, (file, file_display), written) = match next.take() {
            Some(n) => n,
            None => match platform {
                Some(p) if !env_used && !seen.contains(&identity(p)) => {
                    env_used = true;
                    let shown = p.display().to_string();
                    (None, (p.to_path_buf(), shown.clone()), shown)
                }
                _ => break,
            },
        };
        let at = at.map(|s| source.localize(s));
        let fail = |source: &Source, message: String, help: &str| SpecError::Invalid {
            input: source.clone(),
            findings: vec![
                Finding::error(rules::PLATFORM_FILE, message)
                    .at(at)
                    .help(help),
            ],
        };
        if written.trim().is_empty() {
            return Err(fail(
                &source,
                "extends names no file".to_owned(),
                "give the platform file's path, relative to this file's directory (`../platform.yaml`), or remove `extends`",
            ));
        }
        if !seen.insert(identity(&file)) {
            return Err(fail(
                &source,
                format!(
                    "extends `{written}` closes a cycle: {file_display} is already in the chain"
                ),
                "a platform file cannot extend itself or a file that extends it; remove this `extends`",
            ));
        }
        if layers.len() >= MAX_CHAIN {
            return Err(fail(
                &source,
                format!("more than {MAX_CHAIN} platform files in one chain"),
                "a chain is a team's file and perhaps an organisation's; flatten it",
            ));
        }
        let body = match read_cached(&file, &file_display) {
            Ok(body) => body,
            Err(err) => {
                let (via, help) = if at.is_some() {
                    (
                        String::new(),
                        "check the path: a relative `extends` resolves against the directory of the file that writes it",
                    )
                } else {
                    (
                        format!(" (named by {PLATFORM_ENV})"),
                        "set FABUILD_PLATFORM to a platform file's path, or unset it",
                    )
                };
                return Err(fail(
                    &source,
                    format!(
                        "cannot read platform file {file_display}{via}: {}",
                        err_reason(&err)
                    ),
                    help,
                ));
            }
        };
        if text.len() + body.len() >= MAX_CHAIN_BYTES {
            return Err(fail(
                &source,
                format!(
                    "the spec and its platform files are larger than {MAX_CHAIN_BYTES} bytes together"
                ),
                "a platform file is a few dozen lines; check that `extends` names the file you mean",
            ));
        }
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let start = text.len();
        let lines_before = text.bytes().filter(|b| *b == b'\n').count() as u64;
        // The platform file parsed after blanks as long as the text before it: the
        // parser's offsets are then the combined text's (and its lines, once localized).
        let padded: String = text
            .bytes()
            .map(|b| if b == b'\n' { '\n' } else { ' ' })
            .chain(body.chars())
            .collect();
        text.push_str(&body);
        source.text = Arc::from(text.as_str());
        source.parts.push(Part {
            name: file_display.clone(),
            start,
            lines_before,
        });
        let start_span = Span {
            offset: start,
            len: 0,
            line: 1,
            column: 1,
        };
        let layer = if body.trim().is_empty() {
            Err(Box::new(Finding::error(
                rules::PLATFORM_FILE,
                format!("platform file {file_display} is empty"),
            )
            .help("a platform file holds the keys its services share (docs/spec.md, \"Platform files\")")))
        } else {
            parse_platform(&padded)
        };
        let layer = match layer {
            Ok(layer) => layer,
            Err(mut finding) => {
                finding.span = Some(finding.span.map_or(start_span, |s| source.localize(s)));
                return Err(SpecError::Invalid {
                    input: source,
                    findings: vec![*finding],
                });
            }
        };
        if let Some(v) = &layer.version
            && v.value != 1
        {
            return Err(SpecError::Invalid {
                findings: vec![
                    Finding::error(
                        rules::SPEC_VERSION,
                        format!("spec version {} is not supported", v.value),
                    )
                    .at(span(v, &text).map(|s| source.localize(s)))
                    .help("this fabuild reads `version: 1`"),
                ],
                input: source,
            });
        }
        next = layer.extends.as_ref().map(|e| {
            (
                span(e, &text),
                resolve(&file, &file_display, &e.value),
                e.value.clone(),
            )
        });
        let mut layer = layer;
        rebase_pins(&mut layer, &file);
        layers.push(layer);
    }
    let mut policy = RawPolicy::default();
    for layer in layers {
        merge(&mut raw, &mut policy, layer);
    }
    Ok(Chain {
        source,
        raw,
        policy,
    })
}

/// Platform files this process has read, by canonical path: a batch (`check` or `gen`
/// over 200 services) reads its team's file once, not once a spec. An entry is used only
/// while the file's length and modification time are what they were when it was read, so
/// a long-lived caller (a test, a fuzzer) never sees an edited file's old text.
struct Cached {
    len: u64,
    modified: Option<std::time::SystemTime>,
    text: Arc<str>,
}

/// More platform files than a batch's chains hold; past it the cache starts over.
const MAX_CACHED: usize = 64;

static READ: std::sync::Mutex<BTreeMap<PathBuf, Cached>> = std::sync::Mutex::new(BTreeMap::new());

/// `read_text` of the platform file at `file`, from `READ` when it has not changed.
fn read_cached(file: &Path, display: &str) -> Result<Arc<str>, SpecError> {
    let stamp = |m: &std::fs::Metadata| (m.len(), m.modified().ok());
    let Ok(key) = std::fs::canonicalize(file) else {
        // Not there (or not reachable): the read says why.
        return read_text(file, display).map(Arc::from);
    };
    let now = std::fs::metadata(&key).ok().map(|m| stamp(&m));
    let mut cache = READ
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let (Some(c), Some(now)) = (cache.get(&key), now)
        && (c.len, c.modified) == now
    {
        return Ok(c.text.clone());
    }
    let text: Arc<str> = Arc::from(read_text(file, display)?);
    if let Some((len, modified)) = now {
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(
            key,
            Cached {
                len,
                modified,
                text: text.clone(),
            },
        );
    }
    Ok(text)
}

/// The name `fabuild init` looks for above a project.
pub const PLATFORM_FILE_NAME: &str = "platform.yaml";

/// How far above a project `discover` looks.
pub const DISCOVER_LEVELS: usize = 8;

/// The platform file above `project`, as an `extends` value relative to it: the nearest
/// `platform.yaml` in a parent directory that reads as a platform file, looking no
/// higher than the repository's root (the first directory holding `.git`) and at most
/// `DISCOVER_LEVELS` levels up. `None` when `project` is a repository's root itself.
pub fn discover(project: &Path) -> Option<String> {
    let project = std::fs::canonicalize(project).ok()?;
    if project.join(".git").exists() {
        return None;
    }
    let mut up = String::new();
    for dir in project.ancestors().skip(1).take(DISCOVER_LEVELS) {
        up.push_str("../");
        let candidate = dir.join(PLATFORM_FILE_NAME);
        if candidate.is_file()
            && read_text(&candidate, PLATFORM_FILE_NAME)
                .is_ok_and(|text| !text.trim().is_empty() && parse_platform(&text).is_ok())
        {
            return Some(format!("{up}{PLATFORM_FILE_NAME}"));
        }
        if dir.join(".git").exists() {
            return None;
        }
    }
    None
}

fn parse_platform(text: &str) -> Result<RawPlatform, Box<Finding>> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
    };
    serde_saphyr::from_str_with_options::<RawPlatform>(text, options).map_err(|err| {
        let mut finding = Box::new(to_finding(text, &err));
        if finding.rule == rules::UNKNOWN_KEY && matches!(finding.message.as_str(), "unknown key `name`" | "unknown key `app`" | "unknown key `tls`") {
            finding.help = Some("`name`, `app` and `tls` are each service's own: set them in its app.yaml, not in a platform file".to_owned());
        }
        finding
    })
}

fn err_reason(err: &SpecError) -> String {
    match err {
        SpecError::Io { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// A platform file's `python.pins` names a file beside the platform file, not beside each
/// service: made absolute here, so the services that inherit it read the same file.
fn rebase_pins(layer: &mut RawPlatform, file: &Path) {
    let Some(pins) = layer.python.pins.as_mut() else {
        return;
    };
    if Path::new(&pins.value).is_absolute() {
        return;
    }
    let dir = super::project_dir(file);
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    pins.value = normalize(&dir.join(&pins.value)).display().to_string();
}

/// What makes two paths the same file, as far as a cycle goes.
fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| normalize(path))
}

/// `written` (an `extends` value in the file at `from`, shown as `from_display`): the
/// path to open and the name to show.
fn resolve(from: &Path, from_display: &str, written: &str) -> (PathBuf, String) {
    let written_path = Path::new(written);
    if written_path.is_absolute() {
        return (written_path.to_path_buf(), written.to_owned());
    }
    let dir = super::project_dir(from);
    let shown_dir = super::project_dir(Path::new(from_display));
    let shown = normalize(&shown_dir.join(written_path));
    (dir.join(written_path), shown.display().to_string())
}

/// `a/b/../c` -> `a/c`, `./x` -> `x`, lexically: for names shown to people.
fn normalize(path: &Path) -> PathBuf {
    let mut out: Vec<Component> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(c),
            },
            other => out.push(other),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

macro_rules! fill {
    ($dst:expr, $src:expr; $($field:ident),* $(,)?) => {
        $(if $dst.$field.is_none() { $dst.$field = $src.$field.take(); })*
    };
}

/// `layer`'s keys into `raw` and `policy` wherever they do not set them already.
fn merge(raw: &mut RawSpec, policy: &mut RawPolicy, mut layer: RawPlatform) {
    let (own, theirs) = (&mut raw.python, &mut layer.python);
    fill!(own, theirs; version, base_image, requirements, lock, package, project, exclude_newer, build_packages, system_packages, pins);
    let (own, theirs) = (&mut raw.server, &mut layer.server);
    fill!(own, theirs; port, workers, cpus, threads, timeout, graceful_timeout, keepalive, max_requests, max_requests_jitter, forwarded_allow_ips, access_log, extra_args, memory, worker_memory);
    fill!(raw.user, layer.user; uid, gid);
    fill!(raw.build, layer.build; ca_secret, index_url, index_secret);
    merge_map(&mut raw.labels, layer.labels);
    merge_map(&mut raw.env, layer.env);
    if let (Some(own), Some(mut theirs)) = (raw.healthcheck.as_mut(), layer.healthcheck) {
        fill!(own, theirs; interval, timeout, start_period, retries);
    }
    match (raw.deploy.as_mut(), layer.deploy) {
        (Some(own), Some(mut theirs)) => {
            fill!(own, theirs; kubernetes, compose, image, replicas, memory, tls_secret);
        }
        (None, Some(theirs)) => raw.deploy = Some(theirs),
        _ => {}
    }
    let mut theirs = layer.policy;
    fill!(policy, theirs; base_images, require_digest, required_labels, min_uid, forbidden_extra_args, max_workers);
}

/// The platform's entries the spec does not set, first, then the spec's own.
fn merge_map(own: &mut SpannedMap, platform: SpannedMap) {
    let mine: HashSet<String> = own.0.iter().map(|(k, _)| k.value.clone()).collect();
    let mut merged: Vec<_> = platform
        .0
        .into_iter()
        .filter(|(k, _)| !mine.contains(&k.value))
        .collect();
    merged.append(&mut own.0);
    own.0 = merged;
}

/// Where each value of a merged spec was written: `server.workers` -> its span, for
/// findings raised after validation and for `plan`'s `origins`.
#[derive(Clone, Debug, Default)]
pub struct Origins(pub BTreeMap<String, Span>);

impl Origins {
    pub fn get(&self, key: &str) -> Option<Span> {
        self.0.get(key).copied()
    }

    /// `file:line` for every key, as `plan` shows them.
    pub fn cited(&self, source: &Source) -> BTreeMap<String, String> {
        self.0
            .iter()
            .map(|(k, s)| (k.clone(), source.cite(s)))
            .collect()
    }
}

struct Recorder<'a> {
    text: &'a str,
    source: &'a Source,
    out: BTreeMap<String, Span>,
}

impl Recorder<'_> {
    fn one<T>(&mut self, key: String, value: Option<&Spanned<T>>) {
        if let Some(s) = value.and_then(|v| span(v, self.text)) {
            self.out.insert(key, self.source.localize(s));
        }
    }

    fn list(&mut self, key: &str, values: Option<&Vec<Spanned<String>>>) {
        for (i, v) in values.into_iter().flatten().enumerate() {
            self.one(format!("{key}[{i}]"), Some(v));
        }
    }

    fn map(&mut self, key: &str, values: &SpannedMap) {
        for (k, v) in &values.0 {
            self.one(format!("{key}.{}", k.value), Some(v));
        }
    }
}

macro_rules! record {
    ($r:expr, $prefix:literal, $src:expr; $($field:ident),* $(,)?) => {
        $($r.one(concat!($prefix, stringify!($field)).to_owned(), $src.$field.as_ref());)*
    };
}

/// The origins of every value `raw` and `policy` set, read from `source`.
pub(crate) fn origins(raw: &RawSpec, policy: &RawPolicy, source: &Source) -> Origins {
    let mut r = Recorder {
        text: &source.text,
        source,
        out: BTreeMap::new(),
    };
    r.one("version".to_owned(), Some(&raw.version));
    r.one("name".to_owned(), Some(&raw.name));
    r.one("app.module".to_owned(), Some(&raw.app.module));
    r.one("app.interface".to_owned(), Some(&raw.app.interface));
    let p = &raw.python;
    record!(r, "python.", p; version, base_image, requirements, lock, package, project, exclude_newer);
    r.list("python.build_packages", p.build_packages.as_ref());
    r.list("python.system_packages", p.system_packages.as_ref());
    let s = &raw.server;
    record!(r, "server.", s; port, workers, cpus, threads, timeout, graceful_timeout, keepalive, max_requests, max_requests_jitter, access_log, memory, worker_memory);
    r.list("server.extra_args", s.extra_args.as_ref());
    r.list("server.forwarded_allow_ips", s.forwarded_allow_ips.as_ref());
    record!(r, "user.", raw.user; uid, gid);
    record!(r, "build.", raw.build; ca_secret);
    r.map("labels", &raw.labels);
    r.map("env", &raw.env);
    if let Some(h) = &raw.healthcheck {
        r.one("healthcheck.path".to_owned(), Some(&h.path));
        record!(r, "healthcheck.", h; interval, timeout, start_period, retries);
    }
    if let Some(d) = &raw.deploy {
        record!(r, "deploy.", d; kubernetes, compose, image, replicas, memory, tls_secret);
    }
    record!(r, "policy.", policy; require_digest, min_uid, max_workers);
    r.list("policy.base_images", policy.base_images.as_ref());
    r.list("policy.required_labels", policy.required_labels.as_ref());
    r.list(
        "policy.forbidden_extra_args",
        policy.forbidden_extra_args.as_ref(),
    );
    Origins(r.out)
}

/// A platform's policy, checked: every value with the place it was written.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    pub base_images: Vec<(ImageRef, Span)>,
    pub require_digest: Option<Span>,
    pub required_labels: Vec<(String, Span)>,
    pub min_uid: Option<(u32, Span)>,
    pub forbidden_extra_args: Vec<(String, Span)>,
    pub max_workers: Option<(u32, Span)>,
}

impl Policy {
    pub fn is_empty(&self) -> bool {
        self.base_images.is_empty()
            && self.require_digest.is_none()
            && self.required_labels.is_empty()
            && self.min_uid.is_none()
            && self.forbidden_extra_args.is_empty()
            && self.max_workers.is_none()
    }
}

/// `raw` as a `Policy`, or the findings for values that are not usable.
pub(crate) fn policy(raw: &RawPolicy, source: &Source) -> (Policy, Vec<Finding>) {
    let text = &source.text;
    let at = |v: &Spanned<String>| span(v, text).map(|s| source.localize(s));
    let at_i = |v: &Spanned<i64>| span(v, text).map(|s| source.localize(s));
    let mut findings = Vec::new();
    let mut policy = Policy::default();
    for item in raw.base_images.iter().flatten() {
        let Some(s) = at(item) else { continue };
        match ImageRef::parse(&item.value) {
            Some(r) => policy.base_images.push((r, s)),
            None => findings.push(
                Finding::error(
                    rules::BASE_IMAGE_REFERENCE,
                    format!(
                        "policy.base_images: `{}` is not a valid image reference",
                        item.value
                    ),
                )
                .at(Some(s))
                .help(
                    "write `name`, `name:tag` or `name@sha256:<digest>`, as a FROM line takes it",
                ),
            ),
        }
    }
    if let Some(d) = &raw.require_digest
        && d.value
    {
        policy.require_digest = span(d, text).map(|s| source.localize(s));
    }
    for item in raw.required_labels.iter().flatten() {
        if let Some(s) = at(item) {
            policy.required_labels.push((item.value.clone(), s));
        }
    }
    if let Some(u) = &raw.min_uid {
        if (0..=i64::from(u32::MAX - 1)).contains(&u.value) {
            policy.min_uid = at_i(u).map(|s| (u32::try_from(u.value).unwrap_or(0), s));
        } else {
            findings.push(
                Finding::error(
                    rules::ID_RANGE,
                    format!("policy.min_uid {} is out of range", u.value),
                )
                .at(at_i(u))
                .help("use a uid from 0 to 4294967294"),
            );
        }
    }
    for item in raw.forbidden_extra_args.iter().flatten() {
        let Some(s) = at(item) else { continue };
        if item.value.starts_with('-') && !item.value.contains('=') {
            policy.forbidden_extra_args.push((item.value.clone(), s));
        } else {
            findings.push(
                Finding::error(
                    rules::INVALID_VALUE,
                    format!(
                        "policy.forbidden_extra_args: `{}` is not a flag",
                        item.value
                    ),
                )
                .at(Some(s))
                .help("name the flag alone, as gunicorn spells it: `--reload`, `--preload`"),
            );
        }
    }
    if let Some(m) = &raw.max_workers {
        if (1..=256).contains(&m.value) {
            policy.max_workers = at_i(m).map(|s| (u32::try_from(m.value).unwrap_or(1), s));
        } else {
            findings.push(
                Finding::error(
                    rules::WORKERS,
                    format!("policy.max_workers {} is out of range", m.value),
                )
                .at(at_i(m))
                .help("use 1 to 256"),
            );
        }
    }
    (policy, findings)
}

#[cfg(test)]
mod tests {
    use super::normalize;
    use std::path::Path;

    #[test]
    fn names_shown_are_normalized() {
        assert_eq!(normalize(Path::new("a/b/../p.yaml")), Path::new("a/p.yaml"));
        assert_eq!(normalize(Path::new("./../p.yaml")), Path::new("../p.yaml"));
        assert_eq!(normalize(Path::new("/a/../../p")), Path::new("/p"));
    }
}
