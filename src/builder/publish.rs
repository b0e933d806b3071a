//! Putting a built image at `--out` so that an interrupted or concurrent build never
//! leaves less than a whole image there.
//!
//! A build stages its layout in a directory beside `--out`, locked (`flock`) for as long as
//! the build lives, so a staging directory nobody holds a lock on belongs to a dead run and
//! is removed. The image is then published under a lock on the directory that holds
//! `--out`: an OCI layout is content addressed, so the new blobs are added first (each
//! complete under its digest), then `index.json` is replaced in one rename, then the blobs
//! it no longer reaches are removed. An oci-archive is written beside the target and
//! renamed over it. Every file is flushed to disk before the rename that makes it count.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::BuildError;
use crate::oci::writer::set_readable;

/// The names of staging directories, beside `--out`.
pub const STAGING_PREFIX: &str = ".fabuild-build-";
/// The names of the temporary files written inside a layout before their rename.
const TEMP_PREFIX: &str = ".fabuild-";
const TEMP_SUFFIX: &str = ".tmp";
/// What a layout's top level holds; a directory with only these (or nothing) is one.
const LAYOUT_NAMES: [&str; 3] = ["oci-layout", "index.json", "blobs"];

/// A staging directory beside `--out`, locked while this value lives; removed on drop.
pub struct Staging {
    dir: tempfile::TempDir,
    _lock: File,
}

impl Staging {
    /// Removes the staging directories of dead runs beside `out` and makes this run's.
    pub fn create(out: &Path) -> Result<Self, BuildError> {
        let parent = parent_of(out)?;
        fs::create_dir_all(&parent).map_err(|e| BuildError::io(&parent, &e))?;
        // Creating and locking a staging directory is one step for the others: they take
        // the same lock before deciding that an unlocked one is stale.
        let _guard = lock(&parent)?;
        remove_stale(&parent);
        let dir = tempfile::Builder::new()
            .prefix(STAGING_PREFIX)
            .tempdir_in(&parent)
            .map_err(|e| BuildError::io(&parent, &e))?;
        let held = File::open(dir.path()).map_err(|e| BuildError::io(dir.path(), &e))?;
        held.lock().map_err(|e| BuildError::io(dir.path(), &e))?;
        Ok(Self { dir, _lock: held })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// The directory that holds `out`, as an absolute path.
fn parent_of(out: &Path) -> Result<PathBuf, BuildError> {
    let abs = std::env::current_dir()
        .map_err(|e| BuildError::io(Path::new("."), &e))?
        .join(out);
    abs.parent().map(Path::to_path_buf).ok_or_else(|| {
        BuildError::Other(format!("--out {} has no parent directory", out.display()))
    })
}

/// An exclusive `flock` on the directory `dir`, held until the file is dropped.
fn lock(dir: &Path) -> Result<File, BuildError> {
    let file = File::open(dir).map_err(|e| BuildError::io(dir, &e))?;
    file.lock().map_err(|e| BuildError::io(dir, &e))?;
    Ok(file)
}

/// Removes the staging directories in `parent` that no live build holds a lock on. Called
/// with `parent` locked, so none is being created meanwhile.
fn remove_stale(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(STAGING_PREFIX) {
            continue;
        }
        let path = entry.path();
        let Ok(file) = File::open(&path) else {
            continue;
        };
        // Locked: a live build's. Unlocked: its build is gone (a lock dies with its process).
        if file.try_lock().is_ok() {
            // What cannot be removed now is tried again by the next build.
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// Refuses an `--out` that exists and is not an image layout (or what remains of one).
pub fn check_layout_out(out: &Path) -> Result<(), BuildError> {
    let refuse = || {
        BuildError::Other(format!(
            "--out {} exists and is not an OCI layout; refusing to replace it",
            out.display()
        ))
    };
    let entries = match fs::read_dir(out) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(_) if out.exists() => return Err(refuse()),
        Err(e) => return Err(BuildError::io(out, &e)),
    };
    if out.join("oci-layout").is_file() {
        return Ok(());
    }
    // Without oci-layout, only a layout's own names: an interrupted first build.
    for entry in entries {
        let entry = entry.map_err(|e| BuildError::io(out, &e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !LAYOUT_NAMES.contains(&name.as_str()) && !is_temp(&name) {
            return Err(refuse());
        }
    }
    Ok(())
}

/// Refuses an `--out` for an archive that is a directory.
pub fn check_archive_out(out: &Path) -> Result<(), BuildError> {
    if out.is_dir() {
        return Err(BuildError::Other(format!(
            "--out {} is a directory; an oci-archive is a file (or use --format oci)",
            out.display()
        )));
    }
    Ok(())
}

fn is_temp(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)
}

/// The blobs `--out` already holds as fabuild put them there, which a build need not copy
/// again (the base's layers: 82 MB for Debian's Python, copied and hashed on every build).
///
/// When a build moves a blob into `--out` (its bytes hashed to its name as they were
/// written), it records the blob's stamp in the cache (`out-blobs/<sha256 of the blob's
/// path>.stamp`): its path, digest, size, and what `lstat` says of it, device, inode,
/// modification time and change time to the nanosecond. A later build into the same
/// `--out` whose image has that blob leaves it out of its staging layout when the stamp
/// still matches (`holds`), and publishing keeps the blob there. Writing to the file,
/// replacing it, renaming it, or changing its mode or times changes its change time, which
/// only root can set back (by setting the clock); so a blob changed since it was recorded
/// is copied again, from the base, hashed. The stamps are as trustworthy as the cache
/// they are in (see docs/build.md, "The cache").
pub struct Kept {
    /// `--out`'s `blobs/sha256`, absolute.
    blobs: PathBuf,
    /// The cache's `out-blobs` directory.
    stamps: PathBuf,
    /// The blobs of the image left out of the staging layout: (hex, size). Behind a lock:
    /// the base's layers are deferred on the thread that copies them while the dependency
    /// layer is on the build's own (see `build`).
    deferred: Mutex<Vec<(String, u64)>>,
}

impl Kept {
    /// For a build of a layout at `out` with a cache at `cache`.
    pub fn new(out: &Path, cache: &Path) -> Result<Self, BuildError> {
        let out = parent_of(out)?.join(out.file_name().unwrap_or_default());
        Ok(Self {
            blobs: out.join("blobs/sha256"),
            stamps: cache.join("out-blobs"),
            deferred: Mutex::new(Vec::new()),
        })
    }

    fn stamp_path(&self, hex: &str) -> PathBuf {
        use std::os::unix::ffi::OsStrExt;
        let path = self.blobs.join(hex);
        let key = crate::oci::digest::Sum::of(path.as_os_str().as_bytes()).sha256;
        self.stamps.join(format!("{key}.stamp"))
    }

    /// The stamp of the blob `hex` in `--out` as it is now, and its size; `None` if it is
    /// not a regular file there.
    fn stamp_now(&self, hex: &str) -> Option<(String, u64)> {
        let path = self.blobs.join(hex);
        let meta = fs::symlink_metadata(&path).ok()?;
        meta.file_type().is_file().then(|| {
            let stamp = format!(
                "fabuild-out-blob-1\n{}\nsha256:{hex}\n{}\n",
                path.display(),
                file_stamp(&meta)
            );
            (stamp, meta.len())
        })
    }

    /// Whether `--out` holds the blob `hex` of `size` bytes unchanged since a build put it
    /// there.
    pub fn holds(&self, hex: &str, size: u64) -> bool {
        self.stamp_now(hex).is_some_and(|(now, len)| {
            len == size && fs::read(self.stamp_path(hex)).is_ok_and(|kept| kept == now.as_bytes())
        })
    }

    /// Leaves the blob `hex` out of the staging layout: publishing keeps `--out`'s.
    pub fn defer(&self, hex: &str, size: u64) {
        self.deferred_now().push((hex.to_owned(), size));
    }

    /// The blobs left out, forgotten: they are to be copied after all.
    pub fn take_deferred(&self) -> Vec<(String, u64)> {
        std::mem::take(&mut self.deferred_now())
    }

    /// The list of deferred blobs. A thread that panicked while holding the lock left it
    /// whole (every change is one push or one take), so its poisoning is ignored.
    fn deferred_now(&self) -> std::sync::MutexGuard<'_, Vec<(String, u64)>> {
        self.deferred
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records the stamp of the blob `hex` a build just moved into `--out`. A cache that
    /// cannot be written only costs a copy next time.
    fn record(&self, hex: &str) {
        let Some((now, _)) = self.stamp_now(hex) else {
            return;
        };
        let _ = fs::create_dir_all(&self.stamps).and_then(|()| {
            let mut tmp = tempfile::NamedTempFile::new_in(&self.stamps)?;
            tmp.write_all(now.as_bytes())?;
            tmp.persist(self.stamp_path(hex)).map_err(|e| e.error)?;
            Ok(())
        });
    }

    fn forget(&self, hex: &str) {
        let _ = fs::remove_file(self.stamp_path(hex));
    }
}

/// What `lstat` says of a file that changes whenever it is written, replaced, renamed or
/// has its mode or times changed: `SIZE DEV INO MTIME CTIME` (seconds.nanoseconds). The
/// change time is set by the kernel; only root (setting the clock) can set it back. Used
/// for the blobs `--out` keeps and for the kept interpreter tree's stamps.
pub(super) fn file_stamp(meta: &fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "{} {} {} {}.{:09} {}.{:09}",
        meta.len(),
        meta.dev(),
        meta.ino(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    )
}

/// What publishing did.
#[derive(Debug, PartialEq, Eq)]
pub enum Published {
    Done,
    /// A blob left out of the staging layout is no longer `--out`'s as recorded (another
    /// build replaced the image meanwhile, or it was changed): nothing was published; copy
    /// the deferred blobs in and publish again.
    Missing,
}

/// Publishes the layout staged at `staged` as `out`: blobs, then index.json, then the
/// blobs no longer referenced are removed. At every moment `out` is the previous image
/// or the new one, whole. The blobs `kept` deferred must be in `out` as recorded, else
/// nothing is published (`Published::Missing`).
pub fn publish_layout(
    staged: &Path,
    out: &Path,
    kept: Option<&Kept>,
) -> Result<Published, BuildError> {
    let parent = parent_of(out)?;
    let _guard = lock(&parent)?;
    check_layout_out(out)?;
    let blobs_dir = out.join("blobs/sha256");
    let mut keep = BTreeSet::new();
    if let Some(kept) = kept {
        for (hex, size) in kept.deferred_now().iter() {
            if !kept.holds(hex, *size) {
                return Ok(Published::Missing);
            }
            keep.insert(hex.clone());
        }
    }
    fs::create_dir_all(&blobs_dir).map_err(|e| BuildError::io(&blobs_dir, &e))?;
    if !out.join("oci-layout").is_file() {
        let bytes = fs::read(staged.join("oci-layout")).map_err(|e| BuildError::io(staged, &e))?;
        write_atomic(&out.join("oci-layout"), &bytes)?;
    }
    let staged_blobs = staged.join("blobs/sha256");
    let mut moved = Vec::new();
    for entry in fs::read_dir(&staged_blobs).map_err(|e| BuildError::io(&staged_blobs, &e))? {
        let entry = entry.map_err(|e| BuildError::io(&staged_blobs, &e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        move_in(&entry.path(), &blobs_dir.join(&name))?;
        keep.insert(name.clone());
        moved.push(name);
    }
    sync_dir(&blobs_dir)?;
    let index = fs::read(staged.join("index.json")).map_err(|e| BuildError::io(staged, &e))?;
    write_atomic(&out.join("index.json"), &index)?;
    let removed = collect_garbage(out, &keep);
    if let Some(kept) = kept {
        // Every staged blob hashed to its name as it was written.
        for hex in &moved {
            kept.record(hex);
        }
        for hex in &removed {
            kept.forget(hex);
        }
    }
    Ok(Published::Done)
}

/// Replaces the archive at `out` with the one written at `staged` (beside it).
pub fn publish_archive(staged: &Path, out: &Path) -> Result<(), BuildError> {
    let parent = parent_of(out)?;
    File::open(staged)
        .and_then(|f| f.sync_all())
        .map_err(|e| BuildError::io(staged, &e))?;
    let _guard = lock(&parent)?;
    check_archive_out(out)?;
    fs::rename(staged, out).map_err(|e| BuildError::io(out, &e))?;
    sync_dir(&parent)
}

/// Moves the complete blob at `from` to `to`, on disk before it is visible there.
fn move_in(from: &Path, to: &Path) -> Result<(), BuildError> {
    File::open(from)
        .and_then(|f| f.sync_all())
        .map_err(|e| BuildError::io(from, &e))?;
    if fs::rename(from, to).is_ok() {
        return Ok(());
    }
    // Another file system (`--out` is a mount point): copy beside, then rename.
    let dir = to.parent().expect("a blob path has a parent");
    let mut tmp = temp_in(dir)?;
    let mut source = File::open(from).map_err(|e| BuildError::io(from, &e))?;
    io::copy(&mut source, tmp.as_file_mut()).map_err(|e| BuildError::io(to, &e))?;
    persist(tmp, to)
}

/// Writes a file the build produces beside the image (the SBOM) as `write_atomic` does:
/// readers, and a build killed meanwhile, leave the old file or the new one.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    if path.is_dir() {
        return Err(BuildError::io(path, &"is a directory, not a file to write"));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut tmp = temp_in(dir)?;
    tmp.write_all(bytes).map_err(|e| BuildError::io(path, &e))?;
    persist(tmp, path)?;
    sync_dir(dir)
}

/// Writes `bytes` to `path` through a temp file beside it: fsync, rename, fsync the
/// directory. Readers see the old file or the new one, never a part.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    let dir = path.parent().expect("a layout file has a parent");
    let mut tmp = temp_in(dir)?;
    tmp.write_all(bytes).map_err(|e| BuildError::io(path, &e))?;
    persist(tmp, path)?;
    sync_dir(dir)
}

fn temp_in(dir: &Path) -> Result<tempfile::NamedTempFile, BuildError> {
    tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
        .map_err(|e| BuildError::io(dir, &e))
}

fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<(), BuildError> {
    let io = |e: io::Error| BuildError::io(path, &e);
    set_readable(tmp.path()).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), BuildError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| BuildError::io(dir, &e))
}

/// Removes the blobs index.json no longer reaches and the temp files of interrupted
/// publishes. Runs under the lock, after index.json was replaced: nothing it removes is
/// in use by the image there. What cannot be removed is garbage the next build retries.
fn collect_garbage(out: &Path, keep: &BTreeSet<String>) -> Vec<String> {
    let mut removed = Vec::new();
    let blobs = out.join("blobs/sha256");
    for dir in [out, blobs.as_path()] {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let garbage = if dir == out {
                is_temp(&name)
            } else {
                !keep.contains(&name)
            };
            if garbage
                && entry.file_type().is_ok_and(|t| t.is_file())
                && fs::remove_file(entry.path()).is_ok()
                && dir != out
            {
                removed.push(name);
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_layout_or_its_remains_may_be_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("img");
        assert!(check_layout_out(&out).is_ok(), "absent");
        fs::create_dir_all(out.join("blobs/sha256")).unwrap();
        fs::write(out.join("index.json"), "{}").unwrap();
        assert!(check_layout_out(&out).is_ok(), "an interrupted first build");
        fs::write(out.join("notes.txt"), "mine").unwrap();
        assert!(check_layout_out(&out).is_err(), "someone's directory");
        fs::write(out.join("oci-layout"), "{}").unwrap();
        assert!(
            check_layout_out(&out).is_ok(),
            "a layout with a file beside"
        );
        let file = tmp.path().join("file");
        fs::write(&file, "x").unwrap();
        assert!(check_layout_out(&file).is_err());
        assert!(check_archive_out(&out).is_err());
    }
}
