//! A uv workspace: one `uv.lock` at its root for every member (`[manifest] members`).
//!
//! `init` at the root looks for the app in each member and writes app.yaml there, naming
//! the member (`python.package`) and putting the members its import needs on
//! `PYTHONPATH`. `init` inside a member finds the root above it (`../uv.lock`) and writes
//! the same app.yaml at the root: the build context must hold the lock and every member's
//! pyproject.toml, which a member's own directory does not.

use std::path::{Path, PathBuf};

use super::detect::{AppCandidate, Sources};
use super::{InitError, deps};
use crate::packaging::uvlock::{Lock, Member};

/// How far above the directory init was given a workspace root is looked for.
const MAX_LEVELS_UP: usize = 4;
/// The most members searched from the root: each is walked like a project (up to its own
/// file limit), so the lock's list of members must not make the walk unbounded.
const MAX_MEMBERS: usize = 64;

/// A workspace init works in.
pub struct Workspace {
    /// The directory of uv.lock: where app.yaml goes, the build context.
    pub root: PathBuf,
    pub lock: Lock,
    /// The member init was run in (its path from the root), when it was not the root.
    pub from_member: Option<Member>,
}

/// The workspace `dir` is the root of, or a member of.
pub fn find(dir: &Path) -> Result<Option<Workspace>, InitError> {
    if let Some(lock) = workspace_lock(dir)? {
        return Ok(Some(Workspace {
            root: dir.to_path_buf(),
            lock,
            from_member: None,
        }));
    }
    let Ok(here) = dir.canonicalize() else {
        return Ok(None);
    };
    for root in here.ancestors().skip(1).take(MAX_LEVELS_UP) {
        let Some(lock) = workspace_lock(root)? else {
            continue;
        };
        let member = lock
            .members()
            .into_iter()
            .find(|m| root.join(&m.path).canonicalize().is_ok_and(|p| p == here));
        // A directory under the workspace that is not one of its members: not ours.
        return Ok(member.map(|m| Workspace {
            root: relative_root(dir, &here, root),
            lock,
            from_member: Some(m),
        }));
    }
    Ok(None)
}

/// The lock in `dir` when it is a workspace's.
fn workspace_lock(dir: &Path) -> Result<Option<Lock>, InitError> {
    if !dir.join("uv.lock").is_file() {
        return Ok(None);
    }
    let lock: Option<Lock> = deps::read_toml(dir, "uv.lock")?;
    Ok(lock.filter(Lock::is_workspace))
}

/// `root` as the user would reach it from where they ran init: `dir/../..` keeps the
/// paths init prints in the terms they typed.
fn relative_root(dir: &Path, here: &Path, root: &Path) -> PathBuf {
    let up = here.components().count() - root.components().count();
    let mut out = dir.to_path_buf();
    for _ in 0..up {
        out.push("..");
    }
    out
}

impl Workspace {
    /// The members searched for the app: the one init ran in, else every member. Each
    /// member's candidates are named as imported from the member (its `src/` when it has
    /// one); their files are given from the root.
    pub fn candidates(&self) -> Result<Vec<(Member, AppCandidate)>, InitError> {
        let members = self.lock.members();
        let searched: Vec<&Member> = match &self.from_member {
            Some(member) => vec![member],
            None if members.len() > MAX_MEMBERS => {
                return Err(InitError::Invalid(format!(
                    "the workspace has {} members, and init searches at most {MAX_MEMBERS} from its root: run it inside the member that holds the app",
                    members.len()
                )));
            }
            None => members.iter().collect(),
        };
        let mut out = Vec::new();
        for member in searched {
            let dir = self.root.join(&member.path);
            let sources = Sources::read(&dir).map_err(|source| InitError::Io {
                path: dir.display().to_string(),
                source,
            })?;
            for mut candidate in sources.candidates() {
                if member.path != "." {
                    candidate.file = format!("{}/{}", member.path, candidate.file);
                }
                // The root's walk reaches into the members below it: theirs are their own.
                let inside_other = members.iter().any(|m| {
                    m.path != "."
                        && m.path != member.path
                        && candidate.file.starts_with(&format!("{}/", m.path))
                });
                if !inside_other {
                    out.push((member.clone(), candidate));
                }
            }
        }
        Ok(out)
    }

    /// The directories the app's member imports from, as paths in the image.
    pub fn pythonpath(&self, package: &str) -> Vec<String> {
        self.lock.import_dirs(package, &self.root)
    }
}
