//! Bytecode for `fabuild build`: the virtualenv's and the app's modules compiled by the
//! base's own interpreter, unchecked-hash (no timestamps), as the Dockerfile route's
//! `compileall --invalidation-mode unchecked-hash` does.
//!
//! fabuild never runs the app's code, and compiling runs none of it: the base's interpreter
//! only parses each file and writes its code object. The interpreter is the base's own,
//! with the base's C library and its standard library: the part of the base it needs (the
//! library directories and the interpreter) is unpacked into a scratch directory, links
//! resolved inside it as a container would, never onto the host's files; it runs through
//! the base's dynamic loader (`ld-linux-x86-64.so.2 --library-path ...`), with an empty
//! environment, `PYTHONHASHSEED=0`, and a time limit. No root, no namespace, no engine.
//! A base whose interpreter does not run here (another architecture, a stub) gives an image
//! without bytecode and a note saying why; `verify` reports the sources without it.

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::oci::content::Content;
use crate::oci::layer::{self, Kind};
use crate::oci::tarstream::Holes;
use crate::oci::writer::{Node, Tree};

use super::base::{Base, open_layer};

/// The parts of the base the interpreter needs: its libraries and itself.
const NEEDED: [&str; 8] = [
    "lib",
    "lib64",
    "usr/lib",
    "usr/lib64",
    "usr/local/lib",
    "usr/local/bin/python3",
    "usr/bin/python3",
    "etc/ld.so.conf",
];
/// Where the base's libraries are, searched in this order (`{}`: the machine's multiarch
/// directory).
const LIBRARY_DIRS: [&str; 6] = [
    "usr/local/lib",
    "lib/{}",
    "usr/lib/{}",
    "lib64",
    "lib",
    "usr/lib",
];
/// The longest the interpreter may take: compiling is about 1 ms per module.
const TIME_LIMIT: Duration = Duration::from_secs(600);
/// Links followed resolving one path, as the kernel's limit.
const MAX_LINKS: usize = 40;

/// The base's interpreter, ready to compile: see the module's documentation.
pub struct Compiler {
    python: PathBuf,
    loader: PathBuf,
    library_path: String,
    home: PathBuf,
    work: PathBuf,
    version: String,
    /// The kept tree's `ran` record, when this build trusted it instead of starting the
    /// interpreter to ask its version (see `prepare`).
    trusted: Option<PathBuf>,
}

/// What compiling a tree gave.
#[derive(Debug, Default)]
pub struct Compiled {
    pub sources: usize,
    pub failed: Vec<String>,
}

impl Compiler {
    /// Unpacks what the base's interpreter needs into `scratch` (or takes it from the
    /// build cache, see `kept_tree`) and checks it runs.
    pub fn prepare(
        base: &Base,
        scratch: &Path,
        cache: Option<&Path>,
        notes: &mut Vec<String>,
    ) -> Result<Self, String> {
        let work = scratch.join("bytecode");
        fs::create_dir_all(&work).map_err(|e| e.to_string())?;
        let (root, kept) = match cache.map(|c| kept_tree(base, c, notes)) {
            Some(Ok(dir)) => (dir.join("root"), Some(dir)),
            Some(Err(why)) => {
                notes.push(format!(
                    "the base's interpreter was unpacked for this build only: {why}"
                ));
                (fresh_root(base, scratch)?, None)
            }
            None => (fresh_root(base, scratch)?, None),
        };
        let rel = base.facts.python.trim_start_matches('/');
        let python = resolve(&root, rel)?;
        let loader_path = base.machine.glibc_loader();
        let loader = resolve(&root, loader_path)
            .map_err(|e| format!("the base's dynamic loader /{loader_path}: {e}"))?;
        let library_path = LIBRARY_DIRS
            .iter()
            .map(|d| d.replace("{}", base.machine.triplet()))
            .filter_map(|d| resolve(&root, &d).ok())
            .filter(|p| p.is_dir())
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":");
        // `/usr/local/bin/python3.12` -> `/usr/local`: the prefix its standard library is under.
        let prefix = Path::new(rel)
            .parent()
            .and_then(Path::parent)
            .ok_or_else(|| format!("{} is not in a bin directory", base.facts.python))?;
        let home = resolve(&root, &prefix.to_string_lossy())?;
        let mut compiler = Self {
            python,
            loader,
            library_path,
            home,
            work,
            version: base.facts.python_version.clone(),
            trusted: None,
        };
        // A kept tree, just checked unchanged, whose interpreter already ran here natively
        // and said this version (its `ran` record) is not started again to ask: that start
        // was 11 ms of a 60 ms code-only build of examples/fastapi-tls. A base run through
        // binfmt_misc is always asked (the handler can go away); so is a tree without the
        // record, or with another version in it.
        let record = kept
            .filter(|_| Some(base.machine) == crate::oci::Machine::host())
            .map(|dir| dir.join("ran"));
        let said_before = format!("{}\n", compiler.version);
        if let Some(record) = &record
            && fs::read(record).is_ok_and(|r| r == said_before.as_bytes())
        {
            compiler.trusted = Some(record.clone());
            return Ok(compiler);
        }
        let out = compiler.run(
            &["-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            b"",
        )?;
        let said = String::from_utf8_lossy(&out).trim().to_owned();
        if said != compiler.version {
            return Err(format!(
                "the base's interpreter says Python {said}, its files say {}",
                compiler.version
            ));
        }
        if let Some(record) = &record {
            // A record that cannot be written only costs this check next time.
            let _ = write_atomic(record, said_before.as_bytes());
        }
        Ok(compiler)
    }

    /// Runs the base's interpreter with `args`, `stdin` as its input; its standard output.
    fn run(&self, args: &[&str], stdin: &[u8]) -> Result<Vec<u8>, String> {
        let mut child = Command::new(&self.loader)
            .arg("--library-path")
            .arg(&self.library_path)
            .arg(&self.python)
            .args(["-S", "-s", "-B"])
            .args(args)
            .env_clear()
            .env("PYTHONHOME", &self.home)
            .env("PYTHONHASHSEED", "0")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONUTF8", "1")
            .env("LC_ALL", "C")
            .current_dir(&self.work)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("the base's interpreter does not start here: {e}"))?;
        // Written beside the wait, so an interpreter that reads none of it is still
        // stopped at the time limit.
        let mut input = child.stdin.take().expect("piped");
        let stdin = stdin.to_vec();
        let writer = std::thread::spawn(move || input.write_all(&stdin));
        let mut stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = stdout.read_to_end(&mut out);
            out
        });
        let errors = std::thread::spawn(move || {
            let mut err = Vec::new();
            let _ = (&mut stderr).take(64 << 10).read_to_end(&mut err);
            let _ = std::io::copy(&mut stderr, &mut std::io::sink());
            err
        });
        let Some(status) =
            crate::process::wait_within(&mut child, TIME_LIMIT).map_err(|e| e.to_string())?
        else {
            // The pipes' threads are left to end with whatever still holds the pipes.
            return Err(format!(
                "the base's interpreter ran past {} s",
                TIME_LIMIT.as_secs()
            ));
        };
        let written = writer.join().unwrap_or(Ok(()));
        let out = reader.join().unwrap_or_default();
        let err = errors.join().unwrap_or_default();
        if !status.success() {
            let err = String::from_utf8_lossy(&err);
            let last = err.lines().last().unwrap_or("").to_owned();
            return Err(format!(
                "the base's interpreter does not run here ({status}{}{last})",
                if last.is_empty() { "" } else { ": " }
            ));
        }
        written.map_err(|e| format!("the base's interpreter did not read its input: {e}"))?;
        Ok(out)
    }

    /// Compiles the `.py` files of `tree` under `under` (a tree path), adding each
    /// `__pycache__/NAME.cpython-XY.pyc` beside its source. Each source is copied into the
    /// scratch directory first and the tree takes the copy: the source in the layer is the
    /// one compiled, even if the build context changes meanwhile. Files that do not compile
    /// (not valid Python for this version) stay source only, as pip leaves them, and are
    /// listed. `name` keeps the deps and app runs apart in the scratch directory.
    pub fn compile(&self, tree: &mut Tree, under: &str, name: &str) -> Result<Compiled, String> {
        let dir = self.work.join(name);
        let sources: Vec<String> = tree
            .entries
            .iter()
            .filter(|(path, entry)| {
                matches!(entry.node, Node::File(_))
                    && Path::new(path.as_str())
                        .extension()
                        .is_some_and(|e| e == "py")
                    && (path.as_str() == under || path.starts_with(&format!("{under}/")))
                    && !path.contains("/__pycache__/")
            })
            .map(|(path, _)| path.clone())
            .collect();
        let tag = format!("cpython-{}", self.version.replace('.', ""));
        // The snapshot of each source, where the interpreter reads it, and the directory
        // its bytecode goes to.
        let mut written = Vec::new();
        let mut sizes = Vec::new();
        for path in &sources {
            let entry = tree.entries.get_mut(path).expect("listed");
            let Node::File(content) = &entry.node else {
                continue;
            };
            let copy = dir.join(path);
            let cached = cached_path(path, &tag);
            if let Some(parent) = dir.join(&cached).parent() {
                fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            let (_, mut reader) = content.open().map_err(|e| e.to_string())?;
            let mut file = fs::File::create(&copy).map_err(|e| e.to_string())?;
            let size = std::io::copy(&mut reader, &mut file).map_err(|e| e.to_string())?;
            drop(reader);
            entry.node = Node::File(Content::File(copy));
            written.push((path.clone(), cached));
            sizes.push(size);
        }
        // Big trees are compiled by several interpreters at once, each a contiguous run of
        // the sorted sources. How many, and where the runs split, depends only on the
        // sources (never on this machine's cores): marshal's marks depend on what else the
        // process compiled (see COMPILE_SCRIPT), so the same split gives the same bytes.
        let runs = runs(&sizes);
        let dir_arg = dir.display().to_string();
        let outputs: Vec<Result<Vec<u8>, String>> = std::thread::scope(|scope| {
            let started: Vec<_> = runs
                .iter()
                .map(|run| {
                    let mut list = Vec::new();
                    for (path, cached) in &written[run.clone()] {
                        for name in [path.as_str(), cached.as_str()] {
                            list.extend_from_slice(name.as_bytes());
                            list.push(0);
                        }
                    }
                    let args = [dir_arg.as_str(), tag.as_str()];
                    scope.spawn(move || self.run(&["-c", COMPILE_SCRIPT, args[0], args[1]], &list))
                })
                .collect();
            started
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        let mut out = Vec::new();
        for output in outputs {
            out.extend(output.map_err(|why| match &self.trusted {
                // It ran here before and does not now: the next build asks it first
                // again, and builds without bytecode if it still does not run.
                Some(record) => {
                    let _ = fs::remove_file(record);
                    format!("{why}; it ran here in an earlier build, and the next build will check it again")
                }
                None => why,
            })?);
        }
        let failed: BTreeSet<String> = String::from_utf8_lossy(&out)
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        for (path, cached) in written {
            if failed.contains(&path) {
                continue;
            }
            let on_disk = dir.join(&cached);
            if !on_disk.is_file() {
                return Err(format!(
                    "the base's interpreter wrote no bytecode for /{path} (looked for /{cached})"
                ));
            }
            tree.file_from(&cached, Content::File(on_disk), false);
        }
        Ok(Compiled {
            sources: sources.len(),
            failed: failed.into_iter().collect(),
        })
    }
}

/// Sources per interpreter below which one interpreter compiles them all: an app's few
/// files, a code-only rebuild's.
const SOURCES_PER_RUN: usize = 64;
/// The most interpreters one compile starts.
const MAX_RUNS: usize = 4;

/// How the sources, given by their sizes in bytes in order, are split between
/// interpreters: one run per `SOURCES_PER_RUN` sources (at least one, at most
/// `MAX_RUNS`), contiguous, of about the same bytes, none empty. A function of the sources
/// alone, so a build gives the same bytes on any machine.
fn runs(sizes: &[u64]) -> Vec<std::ops::Range<usize>> {
    let count = (sizes.len() / SOURCES_PER_RUN).clamp(1, MAX_RUNS);
    let total: u64 = sizes.iter().sum();
    let mut runs = Vec::with_capacity(count);
    let (mut start, mut seen) = (0, 0u64);
    for (i, size) in sizes.iter().enumerate() {
        seen += size;
        // The run ends once it holds its share of the bytes, keeping at least one source
        // for each run still to come.
        let share = total * (runs.len() as u64 + 1) / count as u64;
        if runs.len() + 1 < count
            && seen >= share
            && sizes.len() - (i + 1) >= count - runs.len() - 1
        {
            runs.push(start..i + 1);
            start = i + 1;
        }
    }
    runs.push(start..sizes.len());
    runs
}

/// Where the bytecode of the source `path` goes, as `importlib.util.cache_from_source`
/// names it: `DIR/__pycache__/NAME.TAG.pyc`.
fn cached_path(path: &str, tag: &str) -> String {
    let (parent, file) = match path.rsplit_once('/') {
        Some((parent, file)) => (format!("{parent}/"), file),
        None => (String::new(), path),
    };
    let stem = file.strip_suffix(".py").unwrap_or(file);
    format!("{parent}__pycache__/{stem}.{tag}.pyc")
}

/// What the base's interpreter runs to compile: `argv[1]` the directory the sources are
/// copied to, `argv[2]` the cache tag the build expects (`cpython-XY`); on standard input
/// NUL-separated pairs of a source's path and its `.pyc`'s, both under `argv[1]`; on
/// standard output, NUL-terminated, the sources that do not compile.
///
/// It writes what `py_compile.compile(..., dfile="/" + rel, invalidation_mode=
/// UNCHECKED_HASH)` writes, without importing `py_compile`, `importlib.util` and `os`
/// (importing them was most of the interpreter's time on a code-only build): the header
/// is the magic number, the flags `1` (hash-based, source not checked) and the source's
/// hash as `importlib.util.source_hash` takes it, then the marshalled code object of
/// `compile(source, dfile, "exec", dont_inherit=True)`, as `SourceLoader.source_to_code`
/// compiles it (from the bytes, so the encoding is found as PEP 263 says). `sys`,
/// `marshal` and `_imp` are built into the interpreter; the magic number is read from the
/// import system already loaded, `importlib.util` only where that has none. A source
/// that does not compile (any exception, as `py_compile` wraps them all) is listed and
/// gets no `.pyc`.
///
/// The code objects are `py_compile`'s; the bytes can differ where marshal marks a string
/// as shared (its reference count above one) or interned, which depends on what else the
/// process has loaded. Each file is compiled in a function of its own, holding `dfile`
/// as `py_compile` does, so nothing of one file is alive while the next is marshalled.
/// Measured on the first 800 modules of each standard library (`CPython` 3.7 to 3.13):
/// 3.11 and 3.12 give `py_compile`'s bytes for every file; 3.13 for all but one (a string
/// marked interned); 3.7 to 3.10 for about a quarter, the others differing in the shared
/// marks only (loaded and marshalled again, they are `py_compile`'s bytes). Headers, code
/// objects and the files that do not compile were the same for every file. The
/// dependencies of examples/fastapi-tls on Debian's 3.11: 6 of 447 files differ, in those
/// marks only. tests/it/bytecode.rs compares the build's files with `py_compile`'s.
const COMPILE_SCRIPT: &str = r#"
import sys, marshal, _imp
base, tag = sys.argv[1], sys.argv[2]
if sys.implementation.cache_tag != tag:
    sys.exit("its cache tag is %s, not %s" % (sys.implementation.cache_tag, tag))
try:
    magic = sys.modules["_frozen_importlib_external"].MAGIC_NUMBER
except (KeyError, AttributeError):
    from importlib.util import MAGIC_NUMBER as magic
key = int.from_bytes(magic, "little")
head = magic + (1).to_bytes(4, "little")

def one(rel, cached):
    with open(base + "/" + rel, "rb") as f:
        source = f.read()
    dfile = "/" + rel
    try:
        code = compile(source, dfile, "exec", dont_inherit=True)
    except Exception:
        return False
    with open(base + "/" + cached, "wb") as f:
        f.write(head + _imp.source_hash(key, source) + marshal.dumps(code))
    return True

names = sys.stdin.buffer.read().decode("utf-8", "surrogateescape").split("\0")
for rel, cached in zip(names[0::2], names[1::2]):
    if not one(rel, cached):
        sys.stdout.write(rel + "\0")
"#;

fn wanted(path: &str) -> bool {
    NEEDED.iter().any(|n| {
        path.starts_with(n)
            && (path.len() == n.len() || path.as_bytes()[n.len()] == b'/' || n.ends_with("python3"))
    }) && !path.split('/').any(|part| SKIPPED.contains(&part))
}

/// Directories under `NEEDED` the interpreter never reads: it runs with `-S`, so no
/// site-packages is on its path. In Debian's bookworm base they are a third of the
/// files unpacked (1,502 of 4,003: pip, setuptools and Debian's own Python packages).
const SKIPPED: [&str; 2] = ["site-packages", "dist-packages"];

/// Unpacks the interpreter's part of the base into `scratch/base-root`.
fn fresh_root(base: &Base, scratch: &Path) -> Result<PathBuf, String> {
    let root = scratch.join("base-root");
    fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    unpack(base, &root)?;
    Ok(root)
}

/// The interpreter's part of the base, kept in the build cache between builds: unpacking
/// it (thousands of files) was most of a code-only rebuild. `interpreters/<key>/root`,
/// keyed by the base's layer digests and machine, beside `listing`: every file's path,
/// mode, size and sha256 and every link's target, as it was unpacked. The tree is
/// checked on every use (its stamps, else the listing made again: see `same_listing`),
/// so a tree changed since (by hand, by a disk error) is never an input: it is unpacked
/// again, with a note. A new tree is unpacked
/// in a temporary directory and renamed into place whole: two builds sharing the cache,
/// or one killed midway, leave a whole tree or none (and a `.tmp-*` directory, removed by
/// the next unpack once it is an hour old). Returns `interpreters/<key>`, which also
/// holds `ran` once the interpreter has run (see `Compiler::prepare`): a tree unpacked
/// again is a new directory, without it.
fn kept_tree(base: &Base, cache: &Path, notes: &mut Vec<String>) -> Result<PathBuf, String> {
    // `-2`: trees without site-packages (`SKIPPED`).
    let mut key = format!("fabuild-interpreter-2\n{}\n", base.machine.triplet());
    for layer in &base.image.layers {
        let digest = layer.expected.as_ref().map(|e| e.digest.as_str());
        key.push_str(digest.ok_or("a base layer has no digest")?);
        key.push('\n');
    }
    let key = crate::oci::digest::Sum::of(key.as_bytes()).sha256;
    let kept = cache.join("interpreters");
    let dir = kept.join(&key);
    if dir.is_dir() {
        match same_listing(&dir) {
            Ok(true) => return Ok(dir),
            Ok(false) | Err(_) => {
                notes.push(format!(
                    "the cached interpreter tree {} changed after it was unpacked: unpacked again",
                    dir.display()
                ));
                let _ = fs::remove_dir_all(&dir);
            }
        }
    }
    fs::create_dir_all(&kept).map_err(|e| format!("{}: {e}", kept.display()))?;
    collect_abandoned(&kept);
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempdir_in(&kept)
        .map_err(|e| format!("{}: {e}", kept.display()))?;
    let root = tmp.path().join("root");
    fs::create_dir_all(&root).map_err(|e| e.to_string())?;

    unpack(base, &root)?;

    let listed = |e: std::io::Error| format!("listing {}: {e}", root.display());
    let before = stamps(&root).map_err(listed)?;
    let listing = listing(&root).map_err(listed)?;
    fs::write(tmp.path().join("listing"), listing).map_err(|e| e.to_string())?;
    if stamps(&root).map_err(listed)? == before {
        let _ = write_stamps(tmp.path(), &before);
    }
    match fs::rename(tmp.path(), &dir) {
        Ok(()) => {
            // Renamed: nothing is left for the guard to remove.
            let _ = tmp.keep();
            Ok(dir)
        }
        // Another build put the same tree there first: use it, once it is checked.
        Err(_) if dir.is_dir() && same_listing(&dir).unwrap_or(false) => Ok(dir),
        Err(e) => Err(format!("{}: {e}", dir.display())),
    }
}

/// How old a `.tmp-*` tree must be to count as left by a killed build: an unpack takes
/// seconds, so no live build is still writing one this old.
const ABANDONED_AFTER: Duration = Duration::from_secs(3600);

/// Removes the `.tmp-*` trees builds killed mid-unpack left in `kept`.
fn collect_abandoned(kept: &Path) {
    let Ok(entries) = fs::read_dir(kept) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > ABANDONED_AFTER);
        if old && entry.file_name().to_string_lossy().starts_with(".tmp-") {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether the tree under `dir/root` is still the one `dir/listing` describes.
///
/// Reading and hashing every file (about 110 MB for Debian's Python) was most of a
/// code-only rebuild, so a cheaper check comes first, as git's index does it: `stamps`
/// holds every entry's path, mode and link target, and each file's size, device, inode,
/// modification time and change time (to the nanosecond), taken when the tree last
/// passed the full check. Writing to a file, replacing it, renaming it, or changing its
/// mode or times changes its change time, which no one but root (setting the clock) can
/// set back; adding or removing an entry changes the list. When the stamps all match,
/// the tree is the one the listing describes. When any differs (or there are none yet),
/// the full check runs, and the stamps are taken again when it passes and nothing moved
/// while it ran.
fn same_listing(dir: &Path) -> std::io::Result<bool> {
    let root = dir.join("root");
    let before = stamps(&root)?;
    if fs::read(dir.join("stamps")).is_ok_and(|kept| kept == before) {
        return Ok(true);
    }
    let kept = fs::read(dir.join("listing"))?;
    if listing(&root)? != kept {
        return Ok(false);
    }
    if stamps(&root)? == before {
        // A cache that cannot be written only costs the full check next time.
        let _ = write_stamps(dir, &before);
    }
    Ok(true)
}

/// Replaces `dir/stamps` atomically: a reader sees the old stamps or the new ones.
fn write_stamps(dir: &Path, stamps: &[u8]) -> std::io::Result<()> {
    write_atomic(&dir.join("stamps"), stamps)
}

/// Replaces `path` atomically: a reader sees the old bytes or the new ones.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".new-").tempfile_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Every entry under `root` as `listing` walks them, with what `lstat` says of each file
/// instead of its sha256: `f PATH MODE SIZE DEV INO MTIME CTIME` (seconds.nanoseconds).
fn stamps(root: &Path) -> std::io::Result<Vec<u8>> {
    walk(root, &mut |_, meta, out| {
        out.push(b' ');
        out.extend_from_slice(super::publish::file_stamp(meta).as_bytes());
        Ok(())
    })
}

/// Every entry under `root`, sorted: `d PATH MODE`, `f PATH MODE SIZE SHA256`, `l PATH
/// TARGET`.
fn listing(root: &Path) -> std::io::Result<Vec<u8>> {
    walk(root, &mut |path, _, out| {
        let hashing = crate::oci::digest::HashingReader::new(fs::File::open(path)?);
        let sum = hashing.finish_draining()?;
        out.extend_from_slice(format!(" {} {}", sum.size, sum.sha256).as_bytes());
        Ok(())
    })
}

/// What a regular file adds to its line of a walk.
type FileFacts<'a> = dyn FnMut(&Path, &fs::Metadata, &mut Vec<u8>) -> std::io::Result<()> + 'a;

/// Every entry under `root`, sorted: `d PATH MODE`, `f PATH MODE` and what `file` adds,
/// `l PATH TARGET`.
fn walk(root: &Path, file: &mut FileFacts<'_>) -> std::io::Result<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let mut out = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let mut names: Vec<_> = fs::read_dir(root.join(&rel))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        names.sort();
        // Pushed in reverse, so the walk takes them in order.
        let mut dirs = Vec::new();
        for name in names {
            let child = rel.join(&name);
            let path = root.join(&child);
            let meta = fs::symlink_metadata(&path)?;
            let mode = meta.permissions().mode() & 0o7777;
            let shown = child.as_os_str().as_bytes();
            if meta.file_type().is_symlink() {
                out.extend_from_slice(b"l ");
                out.extend_from_slice(shown);
                out.push(b' ');
                out.extend_from_slice(fs::read_link(&path)?.as_os_str().as_bytes());
            } else if meta.is_dir() {
                out.extend_from_slice(b"d ");
                out.extend_from_slice(shown);
                out.extend_from_slice(format!(" {mode:o}").as_bytes());
                dirs.push(child);
            } else {
                out.extend_from_slice(b"f ");
                out.extend_from_slice(shown);
                out.extend_from_slice(format!(" {mode:o}").as_bytes());
                file(&path, &meta, &mut out)?;
            }
            out.push(b'\n');
        }
        pending.extend(dirs.into_iter().rev());
    }
    Ok(out)
}

/// Unpacks the base's entries under `NEEDED` into `root`, layer by layer, whiteouts
/// applied; regular files, directories and symbolic links only (links kept as they are,
/// and only ever followed through `resolve`).
fn unpack(base: &Base, root: &Path) -> Result<(), String> {
    for layer_ref in &base.image.layers {
        let (reader, size) = open_layer(&base.image, layer_ref)?;
        let read = layer::read_layer(reader, size, Holes::Full, &mut |entry, content| {
            let rel = entry.path.trim_start_matches('/');
            match &entry.kind {
                Kind::Whiteout(hidden) | Kind::Opaque(hidden) => {
                    let hidden = hidden.trim_start_matches('/');
                    if hidden.is_empty() {
                        return Ok(());
                    }
                    if wanted(hidden) || NEEDED.iter().any(|n| n.starts_with(hidden)) {
                        let at = place(root, hidden).map_err(std::io::Error::other)?;
                        if matches!(entry.kind, Kind::Opaque(_)) {
                            if at.is_dir() {
                                for child in fs::read_dir(&at)? {
                                    remove(&child?.path())?;
                                }
                            }
                        } else {
                            remove(&at)?;
                        }
                    }
                }
                _ if rel.is_empty() || !wanted(rel) => {}
                Kind::Dir => {
                    let at = place(root, rel).map_err(std::io::Error::other)?;
                    if !at.is_dir() {
                        remove(&at)?;
                        fs::create_dir_all(&at)?;
                    }
                }
                Kind::File => {
                    let at = place(root, rel).map_err(std::io::Error::other)?;
                    remove(&at)?;
                    let mut file = fs::File::create(&at)?;
                    std::io::copy(content, &mut file)?;
                    file.set_permissions(fs::Permissions::from_mode(entry.mode & 0o755 | 0o400))?;
                }
                Kind::Symlink => {
                    let at = place(root, rel).map_err(std::io::Error::other)?;
                    remove(&at)?;
                    std::os::unix::fs::symlink(
                        entry.symlink_target.clone().unwrap_or_default(),
                        &at,
                    )?;
                }
                Kind::HardLink(target) => {
                    let target = target.trim_start_matches('/');
                    if let Ok(from) = resolve(root, target) {
                        let at = place(root, rel).map_err(std::io::Error::other)?;
                        remove(&at)?;
                        if from.is_file() {
                            fs::copy(&from, &at)?;
                        }
                    }
                }
                Kind::Other => {}
            }
            Ok(())
        });
        if let Some(error) = read.error {
            return Err(format!("{} cannot be unpacked: {error}", layer_ref.role));
        }
    }
    Ok(())
}

fn remove(path: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(_) => Ok(()),
    }
}

/// Where the entry `rel` goes under `root`: its parent resolved inside `root` (links
/// followed as the container would follow them, never out of `root`), missing parents
/// made; the last component itself not followed.
fn place(root: &Path, rel: &str) -> Result<PathBuf, String> {
    let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    if name.is_empty() || name == "." || name == ".." {
        return Err(format!("{rel}: not a file name"));
    }
    let dir = if parent.is_empty() {
        root.to_path_buf()
    } else {
        resolve_making(root, parent, true)?
    };
    Ok(dir.join(name))
}

/// `rel` resolved inside `root`, every link followed within it.
fn resolve(root: &Path, rel: &str) -> Result<PathBuf, String> {
    resolve_making(root, rel, false)
}

fn resolve_making(root: &Path, rel: &str, make: bool) -> Result<PathBuf, String> {
    let mut parts: Vec<String> = components(rel);
    parts.reverse();
    let mut at: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(part) = parts.pop() {
        if part == ".." {
            at.pop();
            continue;
        }
        let candidate = at
            .iter()
            .fold(root.to_path_buf(), |p, c| p.join(c))
            .join(&part);
        match fs::symlink_metadata(&candidate) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(format!("/{rel}: too many links"));
                }
                let target = fs::read_link(&candidate).map_err(|e| e.to_string())?;
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    at.clear();
                }
                let mut more = components(&target);
                more.reverse();
                parts.extend(more);
            }
            Ok(_) => at.push(part),
            Err(_) if make => {
                fs::create_dir_all(&candidate).map_err(|e| e.to_string())?;
                at.push(part);
            }
            Err(_) => return Err(format!("/{rel} is not in the base")),
        }
    }
    Ok(at.iter().fold(root.to_path_buf(), |p, c| p.join(c)))
}

fn components(path: &str) -> Vec<String> {
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_owned()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interpreter_s_part_of_the_base_has_no_site_packages() {
        for kept in [
            "usr/lib/python3.11/encodings/utf_8.py",
            "usr/lib/x86_64-linux-gnu/libc.so.6",
            "usr/local/lib/python3.12/lib-dynload/_json.cpython-312-x86_64-linux-gnu.so",
            "usr/bin/python3.11",
            "lib64/ld-linux-x86-64.so.2",
        ] {
            assert!(wanted(kept), "{kept}");
        }
        for skipped in [
            "usr/lib/python3/dist-packages/pip/__init__.py",
            "usr/local/lib/python3.12/site-packages/setuptools/dist.py",
            "usr/local/lib/python3.12/site-packages",
            "usr/share/doc/python3.11/copyright",
            "usr/libexec/x",
        ] {
            assert!(!wanted(skipped), "{skipped}");
        }
    }

    #[test]
    fn sources_are_split_in_contiguous_runs_of_about_the_same_bytes() {
        // An app's few files, and anything under two runs' worth: one interpreter.
        assert_eq!(runs(&[100; 3]), vec![0..3]);
        assert_eq!(runs(&[100; 127]), vec![0..127]);
        // Four at most, each a contiguous run, together every source once.
        let sizes: Vec<u64> = (0..447u64).map(|i| 1 + (i * 7919) % 5000).collect();
        let got = runs(&sizes);
        assert_eq!(got.len(), 4);
        assert_eq!(got.first().unwrap().start, 0);
        assert_eq!(got.last().unwrap().end, sizes.len());
        assert!(got.windows(2).all(|w| w[0].end == w[1].start));
        let total: u64 = sizes.iter().sum();
        for run in &got {
            let bytes: u64 = sizes[run.clone()].iter().sum();
            assert!(
                bytes * 4 > total * 3 / 4 && bytes * 4 < total * 5 / 4,
                "{run:?} holds {bytes} of {total} bytes"
            );
        }
        // One huge file: the others still get runs, none is empty.
        let mut lopsided = vec![10u64; 300];
        lopsided[0] = 1 << 30;
        let got = runs(&lopsided);
        assert_eq!(got.len(), 4);
        assert!(got.iter().all(|r| !r.is_empty()), "{got:?}");
        assert_eq!(got.last().unwrap().end, 300);
    }

    #[test]
    fn bytecode_goes_to_pycache_beside_its_source() {
        assert_eq!(
            cached_path("app/pkg/mod.py", "cpython-311"),
            "app/pkg/__pycache__/mod.cpython-311.pyc"
        );
        assert_eq!(
            cached_path("main.py", "cpython-312"),
            "__pycache__/main.cpython-312.pyc"
        );
    }

    #[test]
    fn links_resolve_inside_the_root_never_onto_the_host() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        fs::create_dir_all(root.join("usr/lib")).unwrap();
        // As a Debian base has it: /lib -> usr/lib; and a hostile absolute link.
        std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("usr/lib/escape")).unwrap();
        std::os::unix::fs::symlink("../../../../..", root.join("usr/lib/up")).unwrap();
        assert_eq!(resolve(&root, "lib").unwrap(), root.join("usr/lib"));
        // /etc inside the root, which the base does not have: not the host's /etc.
        assert!(resolve(&root, "lib/escape").is_err());
        assert_eq!(resolve(&root, "lib/up").unwrap(), root);
        // Writing through the links lands inside the root.
        let at = place(&root, "lib/escape/passwd").unwrap();
        assert_eq!(at, root.join("etc/passwd"));
        let at = place(&root, "usr/lib/up/x").unwrap();
        assert_eq!(at, root.join("x"));
    }
}
