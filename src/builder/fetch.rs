//! Hash-pinned wheels fetched straight from the index, a few at a time, instead of one
//! `pip download` process: each requirement that names one version and the sha256 of its
//! files needs no resolver, only the choice pip would make among those files (the most
//! specific tag the base's Python and C library accept) and the bytes, checked while they
//! stream.
//!
//! The platform is an input (`Target`): the tags come from the Python version and the
//! `--platform` list the base's glibc gives, for whichever architecture the caller builds.
//!
//! Wheels are kept in the build cache under their sha256 (`blobs/sha256/<hex>`, beside the
//! layers), with the choice made for each requirement (`wheel-choice/<key>`), so specs
//! that share wheels share downloads. A cached wheel is copied out and hashed on every use;
//! one that does not hash to its name is removed and fetched again, never installed.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest as _, Sha256};

use super::BuildError;
use super::cache::{Cache, Lookup};
use super::wheel;
use crate::net::pypi::{self, IndexConfig, IndexFile};
use crate::packaging::requirements::{Requirement, logical_lines};
use crate::packaging::version::Version;

/// How many wheels are fetched at once: enough to hide each request's round trips, few
/// enough for a shared index and a 2-core machine (hashing and writing are cheap).
pub const THREADS: usize = 4;
/// The most bytes one wheel may have. The largest wheels published (GPU builds of
/// deep-learning frameworks) are under 1 GiB; one past this is refused by name.
pub const MAX_WHEEL_BYTES: u64 = 2 << 30;

/// One requirement pinned to a version and to the sha256 of the files allowed for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pinned {
    /// Normalised.
    pub project: String,
    pub version: String,
    /// Lower-case hex.
    pub hashes: Vec<String>,
}

/// The interpreter and platforms the wheels are for.
#[derive(Clone, Debug)]
pub struct Target<'a> {
    /// `3.12`.
    pub python_version: &'a str,
    /// Most specific first (`glibc::manylinux_platforms`).
    pub platforms: &'a [String],
}

/// The requirements of `text` when every one of them is `name==version` with sha256
/// hashes, no marker and no URL, and the file holds no option lines (an index, an include):
/// what `pip download --require-hashes --no-deps` would take as it is. `None` otherwise:
/// pip must read the file.
pub fn pinned_requirements(text: &str) -> Option<Vec<Pinned>> {
    let mut out = Vec::new();
    for (_, line) in logical_lines(text) {
        if line.starts_with('-') {
            return None;
        }
        let requirement = Requirement::parse(&line)?;
        if requirement.url || requirement.marker.is_some() || !requirement.hashed {
            return None;
        }
        let version = requirement.specifier.strip_prefix("==")?;
        if version.is_empty() || version.contains([',', '*', '=', '<', '>', '!', '~']) {
            return None;
        }
        let mut hashes = Vec::new();
        let mut words = line.split_whitespace().peekable();
        while let Some(word) = words.next() {
            let value = match word.strip_prefix("--hash") {
                Some("") => words.next()?,
                Some(rest) => rest.strip_prefix('=')?,
                None => continue,
            };
            let hex = value.strip_prefix("sha256:")?.to_ascii_lowercase();
            if !crate::oci::digest::is_sha256_hex(&hex) {
                return None;
            }
            hashes.push(hex);
        }
        if hashes.is_empty() {
            return None;
        }
        out.push(Pinned {
            project: requirement.key(),
            version: version.to_owned(),
            hashes,
        });
    }
    Some(out)
}

/// The wheel tags `CPython` `python_version` accepts on `platforms`, most preferred first,
/// as pip orders them (the `packaging` library's `sys_tags`): its own ABI, the stable ABI
/// of this and older versions, then pure-Python tags for the platform, then `any`.
pub fn compatible_tags(python_version: &str, platforms: &[String]) -> Vec<String> {
    let minor: u32 = python_version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let cp = format!("cp3{minor}");
    let mut tags = Vec::new();
    for abi in [cp.as_str(), "abi3", "none"] {
        for platform in platforms {
            tags.push(format!("{cp}-{abi}-{platform}"));
        }
    }
    for older in (2..minor).rev() {
        for platform in platforms {
            tags.push(format!("cp3{older}-abi3-{platform}"));
        }
    }
    let mut py = vec![format!("py3{minor}"), "py3".to_owned()];
    py.extend((0..minor).rev().map(|m| format!("py3{m}")));
    for version in &py {
        for platform in platforms {
            tags.push(format!("{version}-none-{platform}"));
        }
    }
    tags.push(format!("{cp}-none-any"));
    for version in &py {
        tags.push(format!("{version}-none-any"));
    }
    tags
}

/// Where `filename` ranks among `tags` (lower is preferred), through every tag its
/// compressed set (`py2.py3-none-any`) expands to; `None` when none is accepted.
pub fn rank(filename: &str, tags: &[String]) -> Option<usize> {
    let stem = filename.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    if !(5..=6).contains(&parts.len()) {
        return None;
    }
    let n = parts.len();
    let mut best = None;
    for python in parts[n - 3].split('.') {
        for abi in parts[n - 2].split('.') {
            for platform in parts[n - 1].split('.') {
                let tag = format!("{python}-{abi}-{platform}");
                if let Some(at) = tags.iter().position(|t| *t == tag) {
                    best = Some(best.map_or(at, |b: usize| b.min(at)));
                }
            }
        }
    }
    best
}

/// Where the wheels come from and where they go.
pub struct Fetcher<'a> {
    pub config: &'a IndexConfig,
    pub target: Target<'a>,
    pub cache: Option<Cache>,
    /// The directory the chosen wheels are written to, under their file names.
    pub dest: &'a Path,
}

/// What fetching did, for the build's notes.
#[derive(Debug, Default)]
pub struct Fetched {
    pub wheels: Vec<PathBuf>,
    pub from_cache: usize,
    pub downloaded: usize,
    pub local: usize,
    pub notes: Vec<String>,
}

/// One requirement's wheel and where it came from, or why there is none.
type JobResult = Result<(PathBuf, Source), String>;

enum Source {
    Cache,
    Downloaded,
    Local,
}

/// A wheel found for a requirement: its file name, sha256, and where its bytes are.
struct Choice {
    filename: String,
    sha256: String,
    from: From,
}

enum From {
    Url(String),
    Path(PathBuf),
}

impl Fetcher<'_> {
    /// Fetches every requirement of `wanted`, `THREADS` at a time; the first error (in
    /// `wanted`'s order) stops the build. The same project twice is fetched once.
    pub fn fetch_all(&self, wanted: &[Pinned]) -> Result<Fetched, BuildError> {
        let mut seen = BTreeSet::new();
        let jobs: Vec<&Pinned> = wanted
            .iter()
            .filter(|p| seen.insert((p.project.clone(), p.hashes.clone())))
            .collect();
        let tags = compatible_tags(self.target.python_version, self.target.platforms);
        let agent = if self.config.indexes.is_empty() {
            None
        } else {
            Some(
                crate::net::agent(&crate::net::Options {
                    extra_ca: self.config.cert.clone(),
                    ..crate::net::Options::default()
                })
                .map_err(|e| BuildError::Deps(e.to_string()))?,
            )
        };
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<JobResult>>> =
            Mutex::new((0..jobs.len()).map(|_| None).collect());
        let notes = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..THREADS.min(jobs.len()) {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        let mut mine = Vec::new();
                        let result = self.one(agent.as_ref(), job, &tags, &mut mine);
                        let failed = result.is_err();
                        notes.lock().expect("no panic holding it").extend(mine);
                        results.lock().expect("no panic holding it")[i] = Some(result);
                        if failed {
                            // The others' work is wasted: stop taking new jobs.
                            next.store(jobs.len(), Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        let mut fetched = Fetched {
            notes: notes.into_inner().expect("threads ended"),
            ..Fetched::default()
        };
        for result in results
            .into_inner()
            .expect("threads ended")
            .into_iter()
            .flatten()
        {
            let (path, source) = result.map_err(|why| {
                // A build that stops prints no notes: what the cache held goes with the error.
                let mut why = why;
                for note in &fetched.notes {
                    why.push_str("\nnote: ");
                    why.push_str(note);
                }
                BuildError::Deps(why)
            })?;
            match source {
                Source::Cache => fetched.from_cache += 1,
                Source::Downloaded => fetched.downloaded += 1,
                Source::Local => fetched.local += 1,
            }
            fetched.wheels.push(path);
        }
        fetched.wheels.sort();
        Ok(fetched)
    }

    fn choice_key(pinned: &Pinned, tags: &[String]) -> String {
        let mut hashes = pinned.hashes.clone();
        hashes.sort();
        // Not the index: the pins name the files by their bytes, and the choice among them
        // is the tags'; a mirror of the same files gives the same choice.
        let text = format!(
            "wheel choice 1\n{} {}\n{}\n{}\n",
            pinned.project,
            pinned.version,
            hashes.join(" "),
            tags.join(" "),
        );
        format!("{:x}", Sha256::digest(text.as_bytes()))
    }

    /// One requirement: from the cache if it holds the wheel chosen before, else chosen
    /// afresh from the find-links directories and the indexes, and fetched.
    fn one(
        &self,
        agent: Option<&ureq::Agent>,
        pinned: &Pinned,
        tags: &[String],
        notes: &mut Vec<String>,
    ) -> Result<(PathBuf, Source), String> {
        let key = Self::choice_key(pinned, tags);
        if let Some(cache) = &self.cache
            && let Some(path) = self.cached(cache, &key, pinned, notes)
        {
            return Ok((path, Source::Cache));
        }
        let choice = self.choose(agent, pinned, tags)?;
        let dest = self.dest.join(&choice.filename);
        let source = match &choice.from {
            From::Path(path) => {
                copy_checked(path, &dest, &choice.sha256)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                Source::Local
            }
            From::Url(url) => {
                let agent = agent.ok_or("no index to download from")?;
                pypi::download(agent, url, &choice.sha256, &dest, MAX_WHEEL_BYTES)
                    .map_err(|e| e.to_string())?;
                Source::Downloaded
            }
        };
        if let Some(cache) = &self.cache {
            cache.put_blob(&dest, &choice.sha256);
            let record = serde_json::json!({
                "filename": choice.filename,
                "sha256": choice.sha256,
            });
            cache.put("wheel-choice", &key, record.to_string().as_bytes());
        }
        Ok((dest, source))
    }

    /// The wheel chosen for `key` before, copied out of the cache and checked on the way.
    fn cached(
        &self,
        cache: &Cache,
        key: &str,
        pinned: &Pinned,
        notes: &mut Vec<String>,
    ) -> Option<PathBuf> {
        let bytes = match cache.get("wheel-choice", key, 4 << 10) {
            Lookup::Hit(bytes) => bytes,
            Lookup::Miss => return None,
            Lookup::Changed(why) => {
                notes.extend(why);
                return None;
            }
        };
        let record: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let filename = record.get("filename")?.as_str()?;
        let sha256 = record.get("sha256")?.as_str()?;
        // What the record says must still be a choice this requirement allows.
        if !pinned.hashes.iter().any(|h| h == sha256)
            || filename.contains('/')
            || !names_project(filename, pinned)
        {
            return None;
        }
        let (mut file, _) = cache.open_blob(sha256)?;
        let dest = self.dest.join(filename);
        match copy_hashed(&mut file, &dest, MAX_WHEEL_BYTES) {
            Ok(got) if got == sha256 => Some(dest),
            _ => {
                let _ = std::fs::remove_file(&dest);
                notes.push(format!(
                    "the cached wheel {} does not hash to its name: it was changed after fabuild wrote it; not used, removed and fetched again",
                    cache.blob_path(sha256).display()
                ));
                cache.drop_blob(sha256);
                None
            }
        }
    }

    /// The best file of the find-links directories for `pinned` into `best`; whether
    /// they hold any file of that version at all.
    fn local_choice(
        &self,
        pinned: &Pinned,
        tags: &[String],
        best: &mut Option<(usize, Choice)>,
    ) -> bool {
        let mut seen_any = false;
        for dir in &self.config.find_links {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !names_project(&name, pinned) {
                    continue;
                }
                seen_any = true;
                let Some(rank) = rank(&name, tags) else {
                    continue;
                };
                let path = entry.path();
                let Ok(sum) = file_sha256(&path) else {
                    continue;
                };
                if pinned.hashes.contains(&sum) {
                    consider(
                        best,
                        rank,
                        Choice {
                            filename: name,
                            sha256: sum,
                            from: From::Path(path),
                        },
                    );
                }
            }
        }
        seen_any
    }

    /// Among the files the find-links directories and the indexes hold for `pinned`, the
    /// one pip would take: an allowed sha256, a tag the target accepts, the most specific
    /// tag; a local file before a download of the same bytes.
    fn choose(
        &self,
        agent: Option<&ureq::Agent>,
        pinned: &Pinned,
        tags: &[String],
    ) -> Result<Choice, String> {
        let mut best: Option<(usize, Choice)> = None;
        let mut seen_any = self.local_choice(pinned, tags, &mut best);
        let local = best.as_ref().map(|(r, _)| *r);
        let python = Version::parse(self.target.python_version);
        // As pip: an index that cannot be read is passed over if another source has the
        // file, and is the error if none has.
        let mut unreachable = Vec::new();
        for index in &self.config.indexes {
            let Some(agent) = agent else { break };
            let files = match pypi::project_files(agent, index, &pinned.project) {
                Ok(files) => files,
                Err(e) => {
                    unreachable.push(e.to_string());
                    continue;
                }
            };
            for IndexFile {
                filename,
                url,
                sha256,
                requires_python,
            } in files
            {
                if !names_project(&filename, pinned) || filename.contains('/') {
                    continue;
                }
                seen_any = true;
                // A file for other Pythons than the target's, as its page says.
                if let (Some(python), Some(range)) = (&python, &requires_python)
                    && crate::packaging::version::satisfies(python, range) == Some(false)
                {
                    continue;
                }
                let (Some(rank), Some(sha256)) = (rank(&filename, tags), sha256) else {
                    continue;
                };
                // The same bytes in a find-links directory need no download.
                if !pinned.hashes.contains(&sha256) || local.is_some_and(|l| l <= rank) {
                    continue;
                }
                consider(
                    &mut best,
                    rank,
                    Choice {
                        filename,
                        sha256,
                        from: From::Url(url),
                    },
                );
            }
        }
        if best.is_none() && !unreachable.is_empty() {
            return Err(format!(
                "{} {}: {}",
                pinned.project,
                pinned.version,
                unreachable.join("; ")
            ));
        }
        best.map(|(_, c)| c).ok_or_else(|| {
            let places: Vec<String> = self
                .config
                .indexes
                .iter()
                .cloned()
                .chain(
                    self.config
                        .find_links
                        .iter()
                        .map(|p| p.display().to_string()),
                )
                .collect();
            format!(
                "no wheel of {} {} with one of its pinned sha256 for CPython {} ({} down to {}) in {}{}: either the package has no wheel this platform runs, or it is published only as an sdist, which `fabuild build` does not build; use a base with a newer glibc, the Dockerfile route, or build the wheel and pass --wheels DIR",
                pinned.project,
                pinned.version,
                self.target.python_version,
                self.target.platforms.first().map_or("", String::as_str),
                self.target.platforms.last().map_or("", String::as_str),
                places.join(", "),
                if seen_any {
                    ""
                } else {
                    " (no file of that version at all)"
                },
            )
        })
    }
}

/// Keeps `choice` if it ranks before the best so far (the file name breaks a tie).
fn consider(best: &mut Option<(usize, Choice)>, rank: usize, choice: Choice) {
    if best
        .as_ref()
        .is_none_or(|(r, b)| rank < *r || (rank == *r && choice.filename < b.filename))
    {
        *best = Some((rank, choice));
    }
}

/// Whether `filename` is a wheel of `pinned`'s project at its version (PEP 440 equal).
fn names_project(filename: &str, pinned: &Pinned) -> bool {
    let Some(name) = wheel::parse_name(filename) else {
        return false;
    };
    name.project == pinned.project
        && (name.version == pinned.version
            || Version::parse(&name.version)
                .zip(Version::parse(&pinned.version))
                .is_some_and(|(a, b)| a == b))
}

fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// Copies `from` to `dest` (through a temporary beside it), hashing what was copied:
/// `dest` holds it only if it hashes to `sha256`.
fn copy_checked(from: &Path, dest: &Path, sha256: &str) -> Result<(), String> {
    let mut file = std::fs::File::open(from).map_err(|e| e.to_string())?;
    match copy_hashed(&mut file, dest, MAX_WHEEL_BYTES) {
        Ok(got) if got == sha256 => Ok(()),
        Ok(got) => {
            let _ = std::fs::remove_file(dest);
            Err(format!(
                "has sha256 {got}, {sha256} was chosen: it changed while the build read it"
            ))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Copies at most `limit` bytes of `from` to `dest`, atomically; returns their sha256.
fn copy_hashed(from: &mut dyn Read, dest: &Path, limit: u64) -> std::io::Result<String> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".copy-")
        .suffix(".part")
        .tempfile_in(dir)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut limited = from.take(limit);
    loop {
        let n = limited.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n])?;
    }
    tmp.persist(dest).map_err(|e| e.error)?;
    Ok(format!("{:x}", hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "378b26b9a38adcf4592f28828233c1716acc55e833ea06bf48719782efaa0d10";

    #[test]
    fn only_exact_hashed_lines_skip_pip() {
        let text = format!(
            "# a lock\nGunicorn==27.0.1 \\\n    --hash=sha256:{H} \\\n    --hash sha256:{}\n",
            H.to_ascii_uppercase()
        );
        let got = pinned_requirements(&text).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].project, "gunicorn");
        assert_eq!(got[0].version, "27.0.1");
        assert_eq!(got[0].hashes, vec![H.to_owned(), H.to_owned()]);
        for other in [
            format!("gunicorn>=27 --hash=sha256:{H}"),
            format!("gunicorn==27.* --hash=sha256:{H}"),
            format!("gunicorn==27.0.1 ; python_version < '3.12' --hash=sha256:{H}"),
            format!("gunicorn==27.0.1 --hash=md5:{}", &H[..32]),
            "gunicorn==27.0.1".to_owned(),
            format!(
                "--index-url https://mirror.example/simple\ngunicorn==27.0.1 --hash=sha256:{H}"
            ),
            format!("-c constraints.txt\ngunicorn==27.0.1 --hash=sha256:{H}"),
            format!("gunicorn @ https://example.com/g.whl --hash=sha256:{H}"),
        ] {
            assert_eq!(pinned_requirements(&other), None, "{other}");
        }
    }

    #[test]
    fn tags_rank_as_pip_prefers_them() {
        let platforms = crate::builder::glibc::manylinux_platforms(
            crate::builder::glibc::Glibc {
                major: 2,
                minor: 36,
            },
            "x86_64",
        );
        let tags = compatible_tags("3.12", &platforms);
        let r = |f: &str| rank(f, &tags);
        let newest = r("x-1-cp312-cp312-manylinux_2_28_x86_64.whl").unwrap();
        let old = r("x-1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl").unwrap();
        let abi3 = r("x-1-cp38-abi3-manylinux_2_17_x86_64.whl").unwrap();
        let pure = r("x-1-py2.py3-none-any.whl").unwrap();
        assert!(newest < old && old < abi3 && abi3 < pure);
        for refused in [
            "x-1-cp311-cp311-manylinux_2_17_x86_64.whl",
            "x-1-cp312-cp312-manylinux_2_39_x86_64.whl",
            "x-1-cp312-cp312-musllinux_1_2_x86_64.whl",
            "x-1-cp312-cp312-manylinux_2_17_aarch64.whl",
            "x-1-cp312-cp312-linux_x86_64.whl",
            "x-1-cp312-cp312-win_amd64.whl",
            "x-1-cp313-abi3-manylinux_2_17_x86_64.whl",
            "x-1.tar.gz",
        ] {
            assert_eq!(r(refused), None, "{refused}");
        }
        let arm = crate::builder::glibc::manylinux_platforms(
            crate::builder::glibc::Glibc {
                major: 2,
                minor: 36,
            },
            "aarch64",
        );
        let tags = compatible_tags("3.12", &arm);
        assert!(rank("x-1-cp312-cp312-manylinux_2_17_aarch64.whl", &tags).is_some());
    }
}
