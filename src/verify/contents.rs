//! The image's files, layer by layer with whiteouts applied: key material, `.env` files,
//! build secrets, the installed server versions, the app files' permissions and the
//! directories the app writes.
//!
//! Only the paths that matter are remembered (a finding, a dist-info directory, an entry
//! under /app, an `app.writable` path), so memory grows with those, never with the size
//! of a layer.

use std::collections::BTreeMap;
use std::io::{self, Read};

use memchr::memmem;

use super::Check;
use crate::layout::{APP_DIR, VENV_DIR};
use crate::oci::layer::{self, Compression, Entry, Kind};
use crate::oci::tarstream::Holes;
use crate::oci::{BlobCheck, Found, Image, Machine};
use crate::packaging::pyc;
use crate::plan::Plan;

/// The packages whose installed version must equal the plan's pin.
const SERVER_PACKAGES: [&str; 3] = ["gunicorn", "uvicorn", "uvicorn-worker"];

/// Where a `.env` file belongs to the system or an installed package, not to the app.
const SYSTEM_PATHS: [&str; 9] = [
    "/usr/",
    "/lib/",
    "/lib32/",
    "/lib64/",
    "/libx32/",
    "/bin/",
    "/sbin/",
    "/etc/",
    "/var/lib/",
];

/// The most paths one scan remembers (findings, dist-info directories, entries under
/// /app): about 200 bytes each. An image with more is reported as not fully checked.
const MAX_TRACKED: usize = 100_000;
/// The deleted secrets named in the report.
const MAX_HIDDEN: usize = 10;

/// Where build secrets are mounted (`BuildKit`, buildah) and Kubernetes puts its own.
const SECRET_DIRS: [&str; 2] = ["/run/secrets/", "/var/run/secrets/"];

#[derive(Clone, Debug, PartialEq, Eq)]
enum Mark {
    PemKey,
    KeyFile,
    DotEnv,
    Secret {
        size: u64,
    },
    DistInfo {
        name: String,
        version: String,
    },
    App {
        uid: u64,
        gid: u64,
        mode: u32,
        dir: bool,
    },
    /// A `.py` file in the venv's `lib` or the app: its source hash as each Python that
    /// may have compiled it would key it (see `packaging::pyc`).
    Source {
        hashes: Vec<(&'static str, [u8; 8])>,
    },
    /// A `__pycache__/NAME.cpython-XY.pyc` there: its header.
    Bytecode {
        header: Option<pyc::Header>,
    },
    /// A shared object (an extension module or a library a wheel vendors) in the venv's
    /// `lib` or the app: its ELF header's `e_machine`.
    Elf {
        machine: u16,
    },
    /// What is at one of the spec's `app.writable` paths.
    Writable {
        what: &'static str,
        uid: u64,
        gid: u64,
        mode: u32,
    },
}

impl Mark {
    fn is_secret(&self) -> bool {
        matches!(
            self,
            Self::PemKey | Self::KeyFile | Self::DotEnv | Self::Secret { .. }
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Tracked {
    /// 0-based index of the layer that added it.
    layer: usize,
    mark: Mark,
}

/// A secret a later layer deleted: gone from the running container, still in the blob.
#[derive(Debug)]
struct Hidden {
    path: String,
    added: usize,
    removed: usize,
}

/// What reading one layer gave.
#[derive(Debug)]
pub struct LayerOutcome {
    pub blob: BlobCheck,
    /// How the blob was compressed, as its first bytes told.
    pub compression: Option<Compression>,
    pub diff: Option<crate::oci::digest::Sum>,
    pub error: Option<String>,
}

/// The filesystem's interesting paths after all layers, and how reading went.
#[derive(Debug)]
pub struct Scan {
    pub layers: Vec<LayerOutcome>,
    state: BTreeMap<String, Vec<Tracked>>,
    hidden: Vec<Hidden>,
    /// Layers not read to their end (by role): their files were not all checked.
    incomplete: Vec<String>,
    /// The spec's `app.writable` paths, whose entries are remembered.
    writable: Vec<String>,
    /// The venv's Python (`X.Y`), from its `lib/pythonX.Y` directory, once seen.
    venv_python: Option<String>,
    /// Python sources and bytecode files remembered, and whether some were not for lack
    /// of room (`MAX_BYTECODE`).
    bytecode_tracked: usize,
    bytecode_overflow: bool,
}

/// The most sources and bytecode files the `bytecode` check remembers: about 250 bytes
/// each. Past it the check says what it could not check; the other checks go on.
const MAX_BYTECODE: usize = 200_000;

/// Streams every layer of `image` once, applying whiteouts in order; what is at the
/// `writable` paths (absolute) is remembered too.
pub fn scan(image: &Image, writable: &[String]) -> Scan {
    let mut scan = Scan {
        layers: Vec::new(),
        state: BTreeMap::new(),
        hidden: Vec::new(),
        incomplete: Vec::new(),
        writable: writable.to_vec(),
        venv_python: None,
        bytecode_tracked: 0,
        bytecode_overflow: false,
    };
    let mut pem = PemScanner::new();
    for (index, layer) in image.layers.iter().enumerate() {
        // A blob that cannot be opened is recorded once, as missing or unreadable.
        let (found, error) = match image.store.open(&layer.name) {
            Ok(Some(opened)) => (Ok(opened), None),
            Ok(None) => (Err(Found::Missing), None),
            Err(e) => (Err(Found::Unreadable(e.to_string())), Some(e.to_string())),
        };
        let declared = layer.expected.as_ref().and_then(|e| e.size);
        let found = match found {
            // Not read past what the descriptor says: the rest cannot belong to the blob.
            Ok(opened) if declared.is_some_and(|d| opened.size > d) => {
                Err(Found::Unreadable(format!(
                    "it is {} bytes, its descriptor says {}; not read",
                    opened.size,
                    declared.unwrap_or_default()
                )))
            }
            other => other,
        };
        let opened = match found {
            Ok(opened) => opened,
            Err(found) => {
                scan.incomplete.push(layer.role.clone());
                scan.layers.push(LayerOutcome {
                    blob: BlobCheck {
                        role: layer.role.clone(),
                        name: layer.name.clone(),
                        expected: layer.expected.clone(),
                        found,
                    },
                    compression: None,
                    diff: None,
                    error,
                });
                continue;
            }
        };
        let mut current: BTreeMap<String, Vec<Tracked>> = BTreeMap::new();
        let read = layer::read_layer(
            opened.reader,
            opened.size,
            Holes::Compact,
            &mut |entry, content| scan.visit(index, entry, content, &mut current, &mut pem),
        );
        for (path, marks) in current {
            let slot = scan.state.entry(path).or_default();
            for mark in marks {
                if !slot.iter().any(|t| t.mark == mark.mark) {
                    slot.push(mark);
                }
            }
        }
        if read.error.is_some() {
            scan.incomplete.push(layer.role.clone());
        }
        scan.layers.push(LayerOutcome {
            blob: BlobCheck {
                role: layer.role.clone(),
                name: layer.name.clone(),
                expected: layer.expected.clone(),
                found: Found::Read(read.blob),
            },
            compression: Some(read.compression),
            diff: read.diff,
            error: read.error,
        });
    }
    scan
}

/// Refuses to remember one path more than `MAX_TRACKED`.
fn remember(lower: usize, current: &BTreeMap<String, Vec<Tracked>>, path: &str) -> io::Result<()> {
    if lower + current.len() >= MAX_TRACKED && !current.contains_key(path) {
        return Err(io::Error::other(format!(
            "it has more than {MAX_TRACKED} paths fabuild must remember (files under /app, key and .env files, dist-info directories)"
        )));
    }
    Ok(())
}

fn under(path: &str, dir: &str) -> bool {
    path == dir || path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/')
}

/// `gunicorn-27.0.1.dist-info` directories in the venv: (directory, name, version).
fn dist_info(path: &str) -> Option<(String, String, String)> {
    if !under(path, VENV_DIR) {
        return None;
    }
    let mut offset = 0;
    let mut previous = "";
    for part in path.split('/') {
        let end = offset + part.len();
        if previous == "site-packages"
            && let Some(stem) = part.strip_suffix(".dist-info")
        {
            let (name, version) = stem.split_once('-')?;
            let name = name.to_ascii_lowercase().replace(['_', '.'], "-");
            return Some((path[..end].to_owned(), name, version.to_owned()));
        }
        previous = part;
        offset = end + 1;
    }
    None
}

impl Scan {
    /// Forgets what lower layers put at `path` (and below it, when `children`).
    fn remove_lower(&mut self, path: &str, itself: bool, children: bool, layer: usize) {
        let mut gone: Vec<String> = Vec::new();
        if itself && self.state.contains_key(path) {
            gone.push(path.to_owned());
        }
        if children {
            let prefix = if path == "/" {
                "/".to_owned()
            } else {
                format!("{path}/")
            };
            gone.extend(
                self.state
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .map(|(k, _)| k.clone()),
            );
        }
        for key in gone {
            if let Some(marks) = self.state.remove(&key) {
                for t in marks.iter().filter(|t| t.mark.is_secret()) {
                    if self.hidden.len() >= MAX_HIDDEN {
                        break;
                    }
                    self.hidden.push(Hidden {
                        path: key.clone(),
                        added: t.layer,
                        removed: layer,
                    });
                }
            }
        }
    }

    fn visit(
        &mut self,
        layer: usize,
        entry: &Entry,
        content: &mut dyn Read,
        current: &mut BTreeMap<String, Vec<Tracked>>,
        pem: &mut PemScanner,
    ) -> io::Result<()> {
        let path = entry.path.as_str();
        match &entry.kind {
            Kind::Whiteout(hidden) => {
                self.remove_lower(hidden, true, true, layer);
                return Ok(());
            }
            Kind::Opaque(dir) => {
                self.remove_lower(dir, false, true, layer);
                return Ok(());
            }
            kind => {
                // An entry replaces what lower layers had at its path (and, unless it is
                // a directory merging with theirs, everything below it).
                self.remove_lower(path, true, *kind != Kind::Dir, layer);
                current.remove(path);
            }
        }
        let mut marks = Vec::new();
        let is_file = matches!(entry.kind, Kind::File | Kind::HardLink(_));
        // The writable directories under /app are the app's by design; see writable_dirs.
        let app_code = under(path, APP_DIR) && !self.writable.iter().any(|w| under(path, w));
        if app_code && (is_file || entry.kind == Kind::Dir) {
            marks.push(Mark::App {
                uid: entry.uid,
                gid: entry.gid,
                mode: entry.mode,
                dir: entry.kind == Kind::Dir,
            });
        }
        if self.writable.iter().any(|w| w == path) {
            marks.push(Mark::Writable {
                what: match entry.kind {
                    Kind::Dir => "directory",
                    Kind::Symlink => "symlink",
                    _ => "file",
                },
                uid: entry.uid,
                gid: entry.gid,
                mode: entry.mode,
            });
        }
        if let Some((dir, name, version)) = dist_info(path) {
            remember(self.state.len(), current, &dir)?;
            let mark = Mark::DistInfo { name, version };
            let slot = current.entry(dir).or_default();
            if !slot.iter().any(|t| t.mark == mark) {
                slot.push(Tracked { layer, mark });
            }
        }
        if is_file {
            let name = path.rsplit('/').next().unwrap_or("");
            if std::path::Path::new(name)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("key"))
            {
                marks.push(Mark::KeyFile);
            }
            if (name == ".env" || name.starts_with(".env."))
                && !SYSTEM_PATHS.iter().any(|p| path.starts_with(p))
                && !under(path, &format!("{VENV_DIR}/lib"))
            {
                marks.push(Mark::DotEnv);
            }
            // A netrc file holds an index's password (build.index_secret mounts one for
            // the install step only).
            if SECRET_DIRS.iter().any(|d| path.starts_with(d))
                || matches!(name, ".netrc" | "_netrc")
            {
                marks.push(Mark::Secret { size: entry.size });
            }
        }
        // A shared object's ELF header is read before the rest of the file streams on.
        let head = elf_head(entry, app_code, content, &mut marks)?;
        let mut rest = (&head[..]).chain(content);
        let python = self.python_file(entry, app_code);
        let mut tee = Tee::new(&mut rest, python.as_ref());
        match &entry.kind {
            Kind::File if pem.has_private_key(&mut tee)? => marks.push(Mark::PemKey),
            Kind::HardLink(target) => {
                let linked = current
                    .get(target)
                    .into_iter()
                    .chain(self.state.get(target))
                    .flatten()
                    .any(|t| t.mark == Mark::PemKey);
                if linked {
                    marks.push(Mark::PemKey);
                }
            }
            _ => {}
        }
        if let Some(python) = python {
            io::copy(&mut tee, &mut io::sink())?;
            marks.extend(self.bytecode_mark(tee, &python));
        }
        if !marks.is_empty() {
            remember(self.state.len(), current, path)?;
            current
                .entry(path.to_owned())
                .or_default()
                .extend(marks.into_iter().map(|mark| Tracked { layer, mark }));
        }
        Ok(())
    }

    /// A source or `.pyc` the `bytecode` check reads: in the app, or in the venv's
    /// `lib/pythonX.Y` (which says the venv's Python).
    fn python_file(&mut self, entry: &Entry, app_code: bool) -> Option<PythonFile> {
        if entry.kind != Kind::File {
            return None;
        }
        if app_code {
            return PythonFile::of(&entry.path, None);
        }
        let version = venv_python(&entry.path)?;
        if self.venv_python.is_none() {
            self.venv_python = Some(version.to_owned());
        }
        PythonFile::of(&entry.path, Some(version))
    }

    /// The mark of a file read through `tee`, unless `MAX_BYTECODE` are remembered.
    fn bytecode_mark(&mut self, tee: Tee<'_>, python: &PythonFile) -> Option<Mark> {
        if self.bytecode_tracked >= MAX_BYTECODE {
            self.bytecode_overflow = true;
            return None;
        }
        self.bytecode_tracked += 1;
        Some(tee.finish(python))
    }

    fn marked(&self, want: impl Fn(&Mark) -> bool) -> impl Iterator<Item = (&String, &Tracked)> {
        self.state
            .iter()
            .flat_map(|(path, marks)| marks.iter().map(move |t| (path, t)))
            .filter(move |(_, t)| want(&t.mark))
    }

    /// The contents checks, in report order.
    pub fn checks(&self, plan: &Plan, layer_count: usize) -> Vec<Check> {
        vec![
            self.private_keys(layer_count),
            self.env_files(layer_count),
            self.build_secrets(plan, layer_count),
            self.server_pins(plan),
            self.app_files(plan),
            self.writable_dirs(plan),
            self.bytecode(plan),
        ]
    }

    /// `machine`: every shared object in the venv's `lib` and the app is an ELF file for
    /// the image's architecture (`arch`, the config's): a wheel for another machine
    /// installs without complaint and fails only when its module is imported.
    pub fn machine(&self, arch: Option<&str>) -> Check {
        let objects: Vec<(&String, u16)> = self
            .marked(|m| matches!(m, Mark::Elf { .. }))
            .filter_map(|(path, t)| match t.mark {
                Mark::Elf { machine } => Some((path, machine)),
                _ => None,
            })
            .collect();
        let Some(arch) = arch else {
            return Check::skip("machine", "the image's config names no architecture");
        };
        let platform = crate::oci::Platform {
            os: "linux".to_owned(),
            arch: arch.to_owned(),
            variant: None,
        };
        let Ok(want) = Machine::of(&platform) else {
            return Check::skip(
                "machine",
                format!("the image is {arch}; fabuild knows the ELF machine of amd64 and arm64"),
            );
        };
        let wrong: Vec<String> = objects
            .iter()
            .filter(|(_, m)| *m != want.e_machine())
            .map(|(path, m)| {
                let named = Machine::of_elf(*m)
                    .map_or_else(|| "another machine".to_owned(), |k| k.to_string());
                format!("/{path} is for {named} (ELF e_machine {m})")
            })
            .collect();
        let ok = format!(
            "{} shared objects in {VENV_DIR}/lib and {APP_DIR} are {want} ELF (e_machine {}), as the image's architecture {arch}",
            objects.len(),
            want.e_machine()
        );
        let count = wrong.len();
        let mut problems: Vec<String> = wrong.into_iter().take(5).collect();
        if count > problems.len() {
            problems.push(format!("and {} more", count - problems.len()));
        }
        if count > 0 {
            problems.push(format!(
                "the image is {arch}: these fail to import; build each platform with its own wheels (`fabuild build --platform linux/{arch}`)"
            ));
        }
        self.finish("machine", problems, ok)
    }

    /// `bytecode`: each Python source in the venv's `lib` and the app has the
    /// unchecked-hash `.pyc` of its Python beside it, and every unchecked-hash `.pyc` is of
    /// the source beside it (Python loads one without reading the source).
    fn bytecode(&self, plan: &Plan) -> Check {
        let app_python = self
            .venv_python
            .clone()
            .unwrap_or_else(|| plan.python_version.clone());
        let (mut sources, mut compiled, mut other_mode) = (0usize, 0usize, 0usize);
        let mut missing: Vec<&str> = Vec::new();
        let mut problems = Vec::new();
        for (path, t) in self.marked(|m| matches!(m, Mark::Source { .. })) {
            let Mark::Source { hashes } = &t.mark else {
                continue;
            };
            sources += 1;
            let version = venv_python(path).unwrap_or(&app_python);
            let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
            let cached = pyc::cache_name(file, version)
                .map(|name| format!("{dir}/__pycache__/{name}"))
                .unwrap_or_default();
            let header = self.state.get(&cached).and_then(|marks| {
                marks.iter().find_map(|t| match &t.mark {
                    Mark::Bytecode { header } => Some(*header),
                    _ => None,
                })
            });
            match header {
                None => missing.push(path),
                Some(None) => problems.push(format!("{cached} is not a .pyc (no header)")),
                Some(Some(h)) if h.flags != pyc::UNCHECKED_HASH => {
                    compiled += 1;
                    other_mode += 1;
                }
                Some(Some(h)) => {
                    compiled += 1;
                    let Some(python) = h.python() else {
                        continue;
                    };
                    let ours = hashes.iter().find(|(v, _)| *v == python).map(|(_, h)| h);
                    if ours.is_some_and(|ours| *ours != h.hash) {
                        problems.push(format!(
                            "{cached} is not the bytecode of {path}: Python {python} runs it without reading the source"
                        ));
                    }
                }
            }
        }
        if !problems.is_empty() {
            problems.push(
                "bytecode is compiled after the last change to its source (`--invalidation-mode unchecked-hash`): rebuild the image, and never copy a __pycache__ into it".to_owned(),
            );
        }
        if self.bytecode_overflow {
            problems.push(format!(
                "not every file was checked: the image has more than {MAX_BYTECODE} Python sources and bytecode files"
            ));
        }
        let mut ok = format!(
            "{compiled} of {sources} Python sources in {VENV_DIR}/lib and {APP_DIR} have bytecode beside them"
        );
        if other_mode > 0 {
            ok.push_str(&format!(
                ", {other_mode} of them timestamp or checked-hash (Python reads the source as well)"
            ));
        }
        if !missing.is_empty() {
            let shown: Vec<&str> = missing.iter().take(3).copied().collect();
            ok.push_str(&format!(
                "; {} have none ({}{}): each worker compiles those as it imports them, every time it starts (not valid Python {app_python}, or an image built without bytecode)",
                missing.len(),
                shown.join(", "),
                if missing.len() > shown.len() { ", ..." } else { "" }
            ));
        }
        self.finish("bytecode", problems, ok)
    }

    /// Fails the check when some layer could not be read: unread files are not clean.
    fn finish(&self, name: &'static str, mut problems: Vec<String>, ok: String) -> Check {
        if !self.incomplete.is_empty() {
            problems.push(format!(
                "not every file could be checked: {} could not be read to the end (see integrity and layer-diff-ids)",
                self.incomplete.join(", ")
            ));
        }
        Check::from_problems(name, &problems, ok)
    }

    fn private_keys(&self, layer_count: usize) -> Check {
        let layer_name = |i: usize| layer_name(i, layer_count);
        let mut problems: Vec<String> = self
            .marked(|m| matches!(m, Mark::PemKey | Mark::KeyFile))
            .map(|(path, t)| {
                let what = if t.mark == Mark::PemKey {
                    "holds a PEM private key block"
                } else {
                    "is a .key file"
                };
                format!("{path} ({}) {what}", layer_name(t.layer))
            })
            .collect();
        if !problems.is_empty() {
            problems.push(
                "keys are mounted at run time, never built in: remove the file from the build context (.dockerignore) or the step that creates it, rotate the key, rebuild".to_owned(),
            );
        }
        let mut ok =
            "no PEM private key block and no .key file in the image's filesystem".to_owned();
        for hidden in self.hidden.iter().take(10) {
            ok.push_str(&format!(
                "\nnote: {} was added in {} and deleted in {}: it is not in the running container, but its bytes are still in {}'s blob; rotate that secret and keep it out of the build",
                hidden.path,
                layer_name(hidden.added),
                layer_name(hidden.removed),
                layer_name(hidden.added)
            ));
        }
        self.finish("private-keys", problems, ok)
    }

    fn env_files(&self, layer_count: usize) -> Check {
        let mut problems: Vec<String> = self
            .marked(|m| *m == Mark::DotEnv)
            .map(|(path, t)| {
                format!(
                    "{path} ({}) is a .env file",
                    layer_name(t.layer, layer_count)
                )
            })
            .collect();
        if !problems.is_empty() {
            problems.push("environment files hold secrets: keep them out of the build context (.dockerignore) and pass settings at run time".to_owned());
        }
        self.finish(
            "env-files",
            problems,
            "no .env file outside system paths".to_owned(),
        )
    }

    fn build_secrets(&self, plan: &Plan, layer_count: usize) -> Check {
        let problems: Vec<String> = self
            .marked(|m| matches!(m, Mark::Secret { .. }))
            .map(|(path, t)| {
                let size = match t.mark {
                    Mark::Secret { size } => size,
                    _ => 0,
                };
                let index_secret = plan.index.as_ref().map(|i| &i.secret);
                let whose = match [plan.ca_secret.as_ref(), index_secret]
                    .into_iter()
                    .flatten()
                    .find(|id| path.ends_with(&format!("/{id}")))
                {
                    Some(id) => format!(" (the `{id}` build secret)"),
                    None => String::new(),
                };
                format!(
                    "{path}{whose} ({}, {size} bytes) is in the image: a build secret must be mounted with `RUN --mount=type=secret`, never copied",
                    layer_name(t.layer, layer_count)
                )
            })
            .collect();
        self.finish(
            "build-secrets",
            problems,
            "nothing under /run/secrets, no netrc file".to_owned(),
        )
    }

    fn server_pins(&self, plan: &Plan) -> Check {
        let mut installed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (_, t) in self.marked(|m| matches!(m, Mark::DistInfo { .. })) {
            if let Mark::DistInfo { name, version } = &t.mark {
                installed.entry(name).or_default().push(version);
            }
        }
        let mut problems = Vec::new();
        let mut seen = Vec::new();
        for pin in plan
            .server_pins
            .iter()
            .filter(|p| SERVER_PACKAGES.contains(&p.name))
        {
            match installed.get(pin.name).map(Vec::as_slice) {
                None | Some([]) => problems.push(format!(
                    "{} is not installed in {VENV_DIR} (no {}-*.dist-info); the plan pins {}",
                    pin.name,
                    pin.name.replace('-', "_"),
                    pin.version
                )),
                Some([version]) if *version == pin.version => {
                    seen.push(format!("{} {version}", pin.name));
                }
                Some(versions) => problems.push(format!(
                    "{} {} is installed in {VENV_DIR}, the plan pins {}: install the server from the generated requirements-server.txt (--require-hashes)",
                    pin.name,
                    versions.join(" and "),
                    pin.version
                )),
            }
        }
        self.finish(
            "server-pins",
            problems,
            format!("{} as pinned", seen.join(", ")),
        )
    }

    fn app_files(&self, plan: &Plan) -> Check {
        let mut problems = Vec::new();
        let mut count = 0usize;
        for (path, t) in self.marked(|m| matches!(m, Mark::App { .. })) {
            let Mark::App {
                uid,
                gid,
                mode,
                dir,
            } = t.mark
            else {
                continue;
            };
            count += 1;
            let why = if uid == u64::from(plan.uid) {
                Some("is owned by the runtime uid")
            } else if mode & 0o002 != 0 {
                Some("is writable by everyone")
            } else if mode & 0o020 != 0 && gid == u64::from(plan.gid) {
                Some("is group-writable and its group is the runtime gid")
            } else {
                None
            };
            if let Some(why) = why {
                let kind = if dir { "directory" } else { "file" };
                problems.push(format!(
                    "{path} ({kind}, {uid}:{gid}, mode {mode:04o}) {why}"
                ));
            }
        }
        let total = problems.len();
        if total > 10 {
            problems.truncate(10);
            problems.push(format!("... and {} more", total - 10));
        }
        if total > 0 {
            problems.push(format!(
                "a server that can rewrite its own code turns a bug into a persistent compromise: COPY the code without --chown (root-owned) and without group/other write bits, then `USER {}:{}`",
                plan.uid, plan.gid
            ));
        } else if count == 0 {
            problems.push(format!(
                "nothing under {APP_DIR}: the app code is not where the plan puts it"
            ));
        }
        self.finish(
            "app-files-read-only",
            problems,
            format!(
                "{count} entries under {APP_DIR}, none writable by {}:{}",
                plan.uid, plan.gid
            ),
        )
    }
}

impl Scan {
    /// Each `app.writable` directory is there and the runtime user's to write, as both
    /// routes build it (uid:gid, 0750): without it the preflight exits 78 at start.
    fn writable_dirs(&self, plan: &Plan) -> Check {
        if plan.writable.is_empty() {
            return Check::skip("writable-dirs", "the spec has no app.writable");
        }
        let owner = (u64::from(plan.uid), u64::from(plan.gid));
        let mut problems = Vec::new();
        let mut seen = Vec::new();
        for dir in &plan.writable {
            let path = &dir.path;
            let found = self
                .state
                .get(path)
                .into_iter()
                .flatten()
                .find_map(|t| match t.mark {
                    Mark::Writable {
                        what,
                        uid,
                        gid,
                        mode,
                    } => Some((what, uid, gid, mode)),
                    _ => None,
                });
            let Some((what, uid, gid, mode)) = found else {
                problems.push(format!("{path} is missing"));
                continue;
            };
            let what_it_is = format!("{path} ({what}, {uid}:{gid}, mode {mode:04o})");
            let why = if what != "directory" {
                Some("is not a directory".to_owned())
            } else if (uid, gid) != owner {
                Some(format!("is not owned by {}:{}", owner.0, owner.1))
            } else if mode & 0o700 != 0o700 {
                Some("cannot be written by its owner".to_owned())
            } else if mode & 0o002 != 0 {
                Some("is writable by everyone".to_owned())
            } else {
                None
            };
            match why {
                Some(why) => problems.push(format!("{what_it_is} {why}")),
                None => seen.push(what_it_is),
            }
        }
        if !problems.is_empty() {
            problems.push(format!(
                "the app writes there at run time and the preflight exits 78 when it cannot: create each directory owned by the runtime user, as the generated Dockerfile does (`install -d -o {} -g {} -m 0750 DIR`)",
                owner.0, owner.1
            ));
        }
        self.finish("writable-dirs", problems, seen.join(", "))
    }
}

fn layer_name(index: usize, count: usize) -> String {
    format!("layer {} of {count}", index + 1)
}

/// Finds PEM private key blocks in a stream, one window at a time, carrying the end of
/// each window over so a block split between two reads is still found.
///
/// A block is `-----BEGIN <label >PRIVATE KEY-----`, a line break, then base64 (or the
/// `Proc-Type:` header of an encrypted legacy key). The bare marker alone is not a key:
/// TLS libraries carry it as a string constant for their PEM parsers. Compiled binaries
/// (ELF) are not scanned at all: libgnutls embeds the public self-test keys of its FIPS
/// checks, and a key a team leaks arrives as a file, not inside a shared library.
struct PemScanner {
    buf: Vec<u8>,
    finder: memmem::Finder<'static>,
}

const NEEDLE: &[u8] = b"PRIVATE KEY-----";
const WINDOW: usize = 64 * 1024;
/// Room before the needle for `-----BEGIN ` and the longest label (`ENCRYPTED `, `OPENSSH `).
const LOOKBACK: usize = 40;
/// Bytes after the needle that decide whether a body follows: a line break and 16 more.
const LOOKAHEAD: usize = 18 + 16;
/// Longer than lookback, needle and lookahead together, so no candidate is lost at a seam.
const CARRY: usize = 128;

impl PemScanner {
    fn new() -> Self {
        Self {
            buf: vec![0; WINDOW + CARRY],
            finder: memmem::Finder::new(NEEDLE),
        }
    }

    fn has_private_key(&mut self, reader: &mut dyn Read) -> io::Result<bool> {
        let mut kept = 0;
        loop {
            let n = match reader.read(&mut self.buf[kept..]) {
                // A marker too close to the end to have a body is not a key.
                Ok(0) => return Ok(false),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let end = kept + n;
            let hay = &self.buf[..end];
            if kept == 0 && hay.starts_with(b"\x7fELF") {
                return Ok(false);
            }
            for at in self.finder.find_iter(hay) {
                // Decided in the next window, which carries this candidate over.
                if at + NEEDLE.len() + LOOKAHEAD > end {
                    break;
                }
                if is_key_block(hay, at) {
                    return Ok(true);
                }
            }
            let keep = end.min(CARRY);
            self.buf.copy_within(end - keep..end, 0);
            kept = keep;
        }
    }
}

/// Whether the needle at `at` ends a BEGIN line of a PEM block with a body.
fn is_key_block(hay: &[u8], at: usize) -> bool {
    let before = &hay[at.saturating_sub(LOOKBACK)..at];
    let Some(begin) = memmem::rfind(before, b"-----BEGIN ") else {
        return false;
    };
    if before[begin..].contains(&b'\n') {
        return false;
    }
    let mut rest = &hay[at + NEEDLE.len()..];
    if let Some(r) = rest.strip_prefix(b"\r") {
        rest = r;
    }
    let Some(body) = rest.strip_prefix(b"\n") else {
        return false;
    };
    body.starts_with(b"Proc-Type:")
        || body.len() >= 16
            && body[..16]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// `X.Y` when `path` is under the venv's `lib/pythonX.Y/`.
fn venv_python(path: &str) -> Option<&str> {
    let rest = path.strip_prefix(VENV_DIR)?.strip_prefix("/lib/python")?;
    let (version, _) = rest.split_once('/')?;
    (version.split('.').count() == 2 && version.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        .then_some(version)
}

/// The bytes of an ELF header read, up to and with `e_machine`.
const ELF_HEADER: u64 = 20;

/// The first bytes of a shared object (marked with its machine), read from `content`;
/// nothing for any other entry.
fn elf_head(
    entry: &Entry,
    app_code: bool,
    content: &mut dyn Read,
    marks: &mut Vec<Mark>,
) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    if entry.kind == Kind::File && shared_object(&entry.path, app_code) {
        content.take(ELF_HEADER).read_to_end(&mut head)?;
        marks.extend(elf_machine(&head).map(|machine| Mark::Elf { machine }));
    }
    Ok(head)
}

/// A shared object the `machine` check reads: `NAME.so` or `NAME.so.N` in the venv's `lib`
/// or the app (extension modules, and the libraries auditwheel vendors beside them).
// The loader and Python's import system match `.so` exactly, case and all.
#[allow(clippy::case_sensitive_file_extension_comparisons)]
fn shared_object(path: &str, app_code: bool) -> bool {
    let name = path.rsplit('/').next().unwrap_or("");
    (app_code || under(path, &format!("{VENV_DIR}/lib")))
        && (name.ends_with(".so") || name.contains(".so."))
}

/// The `e_machine` of an ELF header (either byte order); `None` for anything else.
fn elf_machine(head: &[u8]) -> Option<u16> {
    if head.len() < 20 || head[..4] != *b"\x7fELF" {
        return None;
    }
    let bytes = [head[18], head[19]];
    match head[5] {
        1 => Some(u16::from_le_bytes(bytes)),
        2 => Some(u16::from_be_bytes(bytes)),
        _ => None,
    }
}

/// Whether `name` ends `.EXT`: Python imports `.py` and loads `.pyc` in lower case only.
fn has_extension(name: &str, ext: &str) -> bool {
    std::path::Path::new(name)
        .extension()
        .is_some_and(|e| e.as_encoded_bytes() == ext.as_bytes())
}

/// A file the `bytecode` check reads: a source, hashed for the Pythons that may compile it,
/// or a `.pyc`, whose header it keeps.
enum PythonFile {
    Source(Vec<(&'static str, pyc::SourceHash)>),
    Bytecode,
}

impl PythonFile {
    /// `version`: the venv's Python for a file in the venv; `None` for the app's, hashed for
    /// every Python `pyc::MAGIC` knows (the app's bytecode is for the venv's Python, which
    /// a layer read later may tell).
    fn of(path: &str, version: Option<&str>) -> Option<Self> {
        let name = path.rsplit('/').next()?;
        if path.contains("/__pycache__/") {
            return has_extension(name, "pyc").then_some(Self::Bytecode);
        }
        name.strip_suffix(".py").filter(|stem| !stem.is_empty())?;
        let hashes = pyc::MAGIC
            .iter()
            .filter(|(v, _)| version.is_none_or(|want| want == *v))
            .filter_map(|(v, _)| Some((*v, pyc::SourceHash::new(v)?)))
            .collect();
        Some(Self::Source(hashes))
    }
}

/// Passes a file's bytes on while hashing them (a source) or keeping the first ones (a
/// `.pyc`).
struct Tee<'a> {
    inner: &'a mut dyn Read,
    hashes: Vec<(&'static str, pyc::SourceHash)>,
    head: Vec<u8>,
}

impl<'a> Tee<'a> {
    fn new(inner: &'a mut dyn Read, python: Option<&PythonFile>) -> Self {
        Self {
            inner,
            hashes: match python {
                Some(PythonFile::Source(h)) => h.clone(),
                _ => Vec::new(),
            },
            head: Vec::new(),
        }
    }

    fn finish(self, python: &PythonFile) -> Mark {
        match python {
            PythonFile::Source(_) => Mark::Source {
                hashes: self
                    .hashes
                    .into_iter()
                    .map(|(v, h)| (v, h.finish()))
                    .collect(),
            },
            PythonFile::Bytecode => Mark::Bytecode {
                header: pyc::Header::parse(&self.head),
            },
        }
    }
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (_, h) in &mut self.hashes {
            h.update(&buf[..n]);
        }
        let want = pyc::HEADER.saturating_sub(self.head.len()).min(n);
        self.head.extend_from_slice(&buf[..want]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(bytes: &[u8]) -> bool {
        PemScanner::new().has_private_key(&mut &bytes[..]).unwrap()
    }

    #[test]
    fn finds_private_key_blocks_not_certificates() {
        let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n";
        for label in ["", "RSA ", "EC ", "OPENSSH ", "ENCRYPTED "] {
            let pem = format!("x\n-----BEGIN {label}PRIVATE KEY-----\n{body}");
            assert!(scan(pem.as_bytes()), "{label}");
            let crlf = format!("-----BEGIN {label}PRIVATE KEY-----\r\n{body}");
            assert!(scan(crlf.as_bytes()), "{label} crlf");
        }
        assert!(scan(
            b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n"
        ));
        assert!(!scan(
            format!("-----BEGIN CERTIFICATE-----\n{body}").as_bytes()
        ));
        assert!(!scan(
            format!("-----BEGIN\nPRIVATE KEY-----\n{body}").as_bytes()
        ));
        // The marker as a C string constant, as libgnutls and libssl carry it.
        assert!(!scan(
            b"\0-----BEGIN PRIVATE KEY-----\0-----END PRIVATE KEY-----\0padding padding padding"
        ));
        let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
        elf.extend_from_slice(format!("-----BEGIN RSA PRIVATE KEY-----\n{body}").as_bytes());
        assert!(!scan(&elf), "self-test keys inside a shared library");
    }

    #[test]
    fn finds_a_block_split_between_reads() {
        for offset in [40, 30, 20, 10, 0] {
            let mut data = vec![b'a'; WINDOW - offset];
            data.extend_from_slice(
                b"\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n",
            );
            assert!(scan(&data), "split {offset} bytes before the window's end");
        }
    }

    #[test]
    fn dist_info_names_are_normalised() {
        assert_eq!(
            dist_info(
                "/opt/venv/lib/python3.12/site-packages/uvicorn_worker-0.4.0.dist-info/METADATA"
            ),
            Some((
                "/opt/venv/lib/python3.12/site-packages/uvicorn_worker-0.4.0.dist-info".to_owned(),
                "uvicorn-worker".to_owned(),
                "0.4.0".to_owned()
            ))
        );
        assert_eq!(
            dist_info("/usr/lib/python3/dist-packages/gunicorn-20.dist-info"),
            None
        );
    }
}
