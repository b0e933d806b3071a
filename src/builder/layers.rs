//! The three layers fabuild adds on the base's: the dependencies (cached), the identity
//! (accounts, home, writable directories) and the app (the context minus `.dockerignore`).

use std::fs;
use std::path::{Path, PathBuf};

use crate::layout::APP_DIR;
use crate::oci::content::Content;
use crate::oci::writer::{Layout, Tree, WrittenLayer};
use crate::plan::Plan;

use super::sbom::PyDist;
use super::{BuildError, absolute, base, bytecode, cache, deps, ignore, publish};
use crate::read::MAX_TEXT_BYTES;

/// The mtime of the dependency and identity layers. They do not depend on the app's
/// commit, so a new commit must not change them: registries and caches keep them.
pub(super) const STABLE_MTIME: u64 = 0;

pub(super) fn put_layer(
    layout: &Layout,
    tree: &Tree,
    mtime: u64,
) -> Result<WrittenLayer, BuildError> {
    layout
        .put_layer(tree, mtime)
        .map_err(|e| BuildError::io(&layout.dir, &e))
}

/// The cache kind of the distributions a cached dependency layer holds (for the SBOM).
const DEPS_DISTS: &str = "deps-dists";

/// The dependency layer as built or found in the cache, and the distributions it holds.
pub(super) struct DepsLayer {
    pub(super) layer: WrittenLayer,
    pub(super) cached: bool,
    /// Empty unless they were asked for (`want_dists`).
    pub(super) dists: Vec<PyDist>,
}

/// The cache kinds of a dependency layer with bytecode and without (a layer without
/// bytecode is cached apart from one with it). Layers written by older fabuilds are not
/// reused, as they hold other bytes for the same inputs: their gzip was one stream, not
/// chunks (`oci::gzip`), and marshal's reference marks in a `.pyc` depend on what else
/// its interpreter compiled (see `bytecode::COMPILE_SCRIPT`), which was everything in one
/// process (with `py_compile`: `deps-pyc`; without: `-2`; then `-3` for one commit),
/// not up to four runs (`bytecode::runs`).
const DEPS_PYC: &str = "deps-pyc-4";
const DEPS_PLAIN: &str = "deps-2";

fn deps_kind(compiler: Option<&bytecode::Compiler>) -> &'static str {
    if compiler.is_some() {
        DEPS_PYC
    } else {
        DEPS_PLAIN
    }
}

/// The dependency layer, from the cache when everything it is made of is unchanged and
/// the cached layer still hashes to what was written (and, with `want_dists`, the cache
/// also lists its distributions). The wheels are downloaded and
/// unpacked in `staging`, beside the output: on its file system, not in a memory-backed
/// /tmp, and cleaned with the staging area after a crash.
// The layer's inputs, where it goes (the layout, and the blobs --out keeps), and scratch.
#[allow(clippy::too_many_arguments)]
pub(super) fn deps_layer<'c>(
    input: &deps::DepsInput,
    cache: Option<&Path>,
    layout: &Layout,
    kept: Option<&super::publish::Kept>,
    staging: &Path,
    want_dists: bool,
    compiler: &dyn Fn() -> Result<Option<&'c bytecode::Compiler>, BuildError>,
    notes: &mut Vec<String>,
) -> Result<DepsLayer, BuildError> {
    let cache = cache.map(cache::Cache::new);
    let key = match &cache {
        Some(_) => Some(input.key()?),
        None => None,
    };
    // The cache is looked in only when it has an entry for the key, of either kind: only
    // then is the interpreter waited for, to know which kind is wanted. A miss goes on to
    // the wheels while the interpreter is still being unpacked.
    if let (Some(cache), Some(key)) = (&cache, &key)
        && [DEPS_PYC, DEPS_PLAIN]
            .iter()
            .any(|kind| cache.has(kind, key))
    {
        let kind = deps_kind(compiler()?);
        let dists = if want_dists {
            match cache.get(DEPS_DISTS, key, MAX_TEXT_BYTES) {
                cache::Lookup::Hit(bytes) => serde_json::from_slice(&bytes).ok(),
                cache::Lookup::Changed(why) => {
                    notes.extend(why);
                    None
                }
                cache::Lookup::Miss => None,
            }
        } else {
            Some(Vec::new())
        };
        if let Some(dists) = dists
            && let Some(layer) = cache.layer(kind, key, layout, kept, notes)
        {
            return Ok(DepsLayer {
                layer,
                cached: true,
                dists,
            });
        }
    }
    let scratch = tempfile::tempdir_in(staging).map_err(|e| BuildError::io(staging, &e))?;
    let wheels = input.wheels(
        scratch.path(),
        cache.as_ref().map(cache::Cache::root),
        notes,
    )?;
    let mut tree = input.tree(&wheels, scratch.path())?;
    // After the tree: each wheel passed the unpacking checks before its METADATA is read.
    let dists = if want_dists {
        input.dists(&wheels)?
    } else {
        Vec::new()
    };
    let venv_lib = format!("{}/lib", crate::layout::VENV_DIR);
    let compiler = compiler()?;
    let kind = deps_kind(compiler);
    super::compile(compiler, &mut tree, &venv_lib, "the virtualenv", notes)?;
    let layer = put_layer(layout, &tree, STABLE_MTIME)?;
    if let (Some(cache), Some(key)) = (&cache, &key) {
        if want_dists {
            let bytes = serde_json::to_vec(&dists).expect("serialises");
            cache.put(DEPS_DISTS, key, &bytes);
        }
        let hex = layer.digest.trim_start_matches("sha256:");
        cache.put_layer(
            kind,
            key,
            &layer,
            &layout.dir.join("blobs/sha256").join(hex),
        );
    }
    Ok(DepsLayer {
        layer,
        cached: false,
        dists,
    })
}

/// /etc/passwd and /etc/group with the numeric user and group added (when the base lacks
/// them), and its home directory, as `useradd --create-home` leaves them; and the
/// directories the app writes (`app.writable`), the user's.
pub(super) fn identity_tree(plan: &Plan, facts: &base::BaseFacts) -> Result<Tree, BuildError> {
    let field = |line: &str, n: usize| line.split(':').nth(n).map(str::to_owned);
    let has_id = |text: &str, id: u32| {
        text.lines()
            .any(|l| field(l, 2).is_some_and(|f| f == id.to_string()))
    };
    let has_name =
        |text: &str, name: &str| text.lines().any(|l| field(l, 0).as_deref() == Some(name));
    let with_line = |text: &str, line: String| {
        let mut out = text.to_owned();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&line);
        out.push('\n');
        out
    };
    let mut group = facts.group.clone();
    if !has_id(&group, plan.gid) {
        if has_name(&group, "app") {
            return Err(BuildError::Other(format!(
                "the base's /etc/group has a group `app` that is not gid {}",
                plan.gid
            )));
        }
        group = with_line(&group, format!("app:x:{}:", plan.gid));
    }
    let mut passwd = facts.passwd.clone();
    if !has_id(&passwd, plan.uid) {
        if has_name(&passwd, "app") {
            return Err(BuildError::Other(format!(
                "the base's /etc/passwd has a user `app` that is not uid {}",
                plan.uid
            )));
        }
        passwd = with_line(
            &passwd,
            format!(
                "app:x:{}:{}::/home/app:/usr/sbin/nologin",
                plan.uid, plan.gid
            ),
        );
    }
    let mut tree = Tree::default();
    tree.file("etc/passwd", passwd.into_bytes(), false);
    tree.file("etc/group", group.into_bytes(), false);
    tree.dir_owned("home/app", 0o755, u64::from(plan.uid), u64::from(plan.gid));
    // As the Dockerfile's `install -d -o UID -g GID -m 0750`: missing parents root's.
    for dir in &plan.writable {
        tree.dir_owned(
            dir.path.trim_start_matches('/'),
            0o750,
            u64::from(plan.uid),
            u64::from(plan.gid),
        );
    }
    Ok(tree)
}

/// What the app layer leaves out: the project's `.dockerignore`, else the one `gen` would
/// write (`generated`), and the writable directories, which are the identity layer's (the
/// context's copy is a developer's local state, as the `.dockerignore` `gen` writes has it).
pub(super) fn app_ignore(
    plan: &Plan,
    project: &Path,
    generated: Option<String>,
) -> Result<ignore::Ignore, BuildError> {
    let ignore_file = project.join(".dockerignore");
    let mut text = crate::read::project_text(project, &ignore_file, crate::read::MAX_TEXT_BYTES)
        .map_err(|e| BuildError::io(&ignore_file, &e))?
        .or(generated)
        .unwrap_or_default();
    for dir in plan.writable.iter().filter_map(|d| d.context_path.as_ref()) {
        text.push_str(&format!("\n{dir}\n"));
    }
    ignore::Ignore::parse(&text).map_err(|e| BuildError::Other(e.to_string()))
}

/// The build context as `COPY . /app` gives it, root-owned: files 0644 (0755 when
/// executable), directories 0755, symlinks as they are. Files are named, not read: the
/// layer writer streams them.
pub(super) fn app_tree(
    project: &Path,
    ignore: &ignore::Ignore,
    skip: &[Option<&PathBuf>],
) -> Result<Tree, BuildError> {
    // The image itself, the cache and the staging area when they lie inside the context.
    let skip: Vec<PathBuf> = skip
        .iter()
        .flatten()
        .filter_map(|p| absolute(p).ok())
        .collect();
    let mut tree = Tree::default();
    let root = APP_DIR.trim_start_matches('/');
    tree.dir(root);
    let mut stack = vec![(project.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| BuildError::io(&dir, &e))?;
        for entry in entries {
            let entry = entry.map_err(|e| BuildError::io(&dir, &e))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                return Err(BuildError::Other(format!(
                    "{} is not UTF-8; rename it",
                    path.display()
                )));
            };
            let staging_dir = name.starts_with(publish::STAGING_PREFIX);
            let rel_path = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            // Other builds' staging directories, when --out is inside the context.
            if absolute(&path).is_ok_and(|a| skip.contains(&a)) || staging_dir {
                continue;
            }
            if ignore.excluded(&rel_path) {
                // Directories are still walked: a `!` pattern may bring back what is inside.
                if path.is_dir() && !path.is_symlink() && !ignore.excluded_for_good(&rel_path) {
                    stack.push((path, rel_path));
                }
                continue;
            }
            let meta = fs::symlink_metadata(&path).map_err(|e| BuildError::io(&path, &e))?;
            let target = format!("{root}/{rel_path}");
            if meta.file_type().is_symlink() {
                let link = fs::read_link(&path).map_err(|e| BuildError::io(&path, &e))?;
                tree.symlink(&target, &link.to_string_lossy());
            } else if meta.is_dir() {
                tree.dir(&target);
                stack.push((path, rel_path));
            } else if meta.is_file() {
                // Read when the layer is written, through a fixed buffer: a file of any size
                // costs no memory.
                tree.file_from(&target, Content::File(path), is_executable(&meta));
            }
        }
    }
    Ok(tree)
}

#[cfg(unix)]
pub(super) fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o100 != 0
}

#[cfg(not(unix))]
pub(super) fn is_executable(_: &fs::Metadata) -> bool {
    false
}
