//! `gen` and `check` as library calls: spec -> plan -> rendered files -> changes on disk.

use std::path::{Component, Path, PathBuf};

use crate::exit::{CommandError, ExitStatus};
use crate::output::{self, Change, OutputError, header};
use crate::plan::{self, Overrides, Plan};
use crate::render::{self, Paths, RenderError};
use crate::spec::{self, Checked, ImageRef, SpecError};

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Output directory; the spec's directory when `None`.
    pub out: Option<PathBuf>,
    /// A directory of templates replacing the built-in ones.
    pub templates: Option<PathBuf>,
    pub base_image: Option<ImageRef>,
}

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("output directory {out} is outside the project {project}")]
    OutOutsideProject { out: String, project: String },
}

impl CommandError for GenError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            Self::Spec(e) => e.exit_status(),
            // Like a refusal to overwrite a hand edit: the files need a person's look.
            Self::Output(OutputError::ChangedMeanwhile) => ExitStatus::Failure,
            _ => ExitStatus::Error,
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            Self::Spec(e) => e.help(),
            _ => None,
        }
    }
}

/// A rendered spec, compared with what is on disk.
#[derive(Debug)]
pub struct Generation {
    pub checked: Checked,
    pub plan: Plan,
    /// The project's real path (links resolved).
    pub root: PathBuf,
    pub out_dir: PathBuf,
    /// The output directory relative to the project, `/`-separated, `""` for the project itself.
    pub out_rel: String,
    pub changes: Vec<Change>,
}

impl Generation {
    /// `change`'s file as its diff names it: relative to the project, `/`-separated.
    pub fn label(&self, change: &Change) -> String {
        if self.out_rel.is_empty() {
            change.name.clone()
        } else {
            format!("{}/{}", self.out_rel, change.name)
        }
    }
}

/// Validates, plans and renders the spec at `spec_path`, and compares the result with the
/// files in the output directory. Writes nothing.
pub fn prepare(spec_path: &Path, options: &Options) -> Result<Generation, GenError> {
    let display = spec_path.display().to_string();
    let overrides = Overrides {
        base_image: options.base_image.clone(),
    };
    let checked = crate::check::check_with(spec_path, &display, &overrides)?;
    let project = spec::project_dir(spec_path);
    let out_dir = options.out.clone().unwrap_or_else(|| project.clone());
    let outside = || GenError::OutOutsideProject {
        out: out_dir.display().to_string(),
        project: project.display().to_string(),
    };
    let root = project.canonicalize().map_err(|_| outside())?;
    let out_rel = relative_inside(&root, &out_dir).ok_or_else(outside)?;
    let plan = plan::plan(&checked.spec, &overrides);
    let app_requirements = if plan.installed_requirements.is_some() {
        Some(if out_rel.is_empty() {
            render::REQUIREMENTS_APP.to_owned()
        } else {
            format!("{out_rel}/{}", render::REQUIREMENTS_APP)
        })
    } else {
        plan.app_dependencies.requirements().map(str::to_owned)
    };
    let paths = Paths::new(&out_rel, app_requirements);
    let rendered = render::render(&plan, &paths, options.templates.as_deref())?;

    let spec_name = spec_path
        .file_name()
        .map_or_else(|| "app.yaml".into(), |n| n.to_string_lossy().into_owned());
    let depth = out_rel.split('/').filter(|p| !p.is_empty()).count();
    let spec_from_out = format!("{}{spec_name}", "../".repeat(depth));
    let mut regenerate = format!("fabuild gen {spec_name}");
    if !out_rel.is_empty() {
        regenerate.push_str(&format!(" --out {out_rel}"));
    }
    if let Some(templates) = &options.templates {
        regenerate.push_str(&format!(" --templates {}", templates.display()));
    }
    if let Some(base) = &options.base_image {
        regenerate.push_str(&format!(" --base-image {base}"));
    }
    let files = rendered
        .into_iter()
        .map(|r| {
            (
                r.name.to_owned(),
                header::stamp(&r.body, &spec_from_out, &regenerate),
            )
        })
        .collect();
    let changes = output::compare(&project, &out_dir, files)?;
    Ok(Generation {
        checked,
        plan,
        root,
        out_dir,
        out_rel,
        changes,
    })
}

/// Writes the changed files of `generation`, or none (see `output::write_all`), into the
/// output directory `prepare` found inside the project: the directory is opened from the
/// project down without following a link, so a link changed since cannot lead the writes
/// elsewhere. Missing directories are created. The changes then say what really happened.
pub fn write(generation: &mut Generation) -> Result<(), GenError> {
    let dir = output::OutDir::open(&generation.root, &generation.out_rel).map_err(|source| {
        OutputError::Write {
            path: generation.out_dir.clone(),
            source,
        }
    })?;
    output::write_all(&dir, &mut generation.changes)?;
    Ok(())
}

/// The most output directories written with one sync: each is held open (and locked)
/// until the sync, so a batch stays well under the usual limit of 1,024 open files.
pub const MAX_BATCH: usize = 256;

/// `write` for many generations, with one sync (per file system) for each batch of up to
/// `MAX_BATCH` output directories instead of one per generation (see
/// `output::write_batch`); the same promise on disk. Generations that write one
/// directory go in different batches, in the order given. The result of
/// `generations[i]` is `results[i]`.
pub fn write_many(generations: &mut [Generation]) -> Vec<Result<(), GenError>> {
    let mut results: Vec<Result<(), GenError>> = (0..generations.len()).map(|_| Ok(())).collect();
    // Open each output directory once, from its project down (as `write` does).
    let mut opened: Vec<Option<(output::OutDir, (u64, u64))>> = Vec::new();
    for (i, generation) in generations.iter().enumerate() {
        let dir = output::OutDir::open(&generation.root, &generation.out_rel)
            .and_then(|dir| dir.identity().map(|id| (dir, id)));
        match dir {
            Ok(pair) => opened.push(Some(pair)),
            Err(source) => {
                results[i] = Err(OutputError::Write {
                    path: generation.out_dir.clone(),
                    source,
                }
                .into());
                opened.push(None);
            }
        }
    }
    // Rounds of distinct directories, each round in one order (device, inode): two runs
    // locking the same directories take them in the same order and cannot deadlock.
    let mut remaining: Vec<usize> = (0..generations.len())
        .filter(|&i| opened[i].is_some())
        .collect();
    remaining.sort_by_key(|&i| opened[i].as_ref().map(|(_, id)| *id));
    while !remaining.is_empty() {
        let mut round = Vec::new();
        let mut later = Vec::new();
        for i in remaining {
            let id = opened[i].as_ref().map(|(_, id)| *id);
            if round
                .last()
                .is_some_and(|&j: &usize| opened[j].as_ref().map(|(_, id)| *id) == id)
            {
                later.push(i);
            } else {
                round.push(i);
            }
        }
        for chunk in round.chunks(MAX_BATCH) {
            write_chunk(generations, &mut opened, chunk, &mut results);
        }
        remaining = later;
    }
    results
}

/// One batch: the generations at `chunk` (distinct directories, in lock order).
fn write_chunk(
    generations: &mut [Generation],
    opened: &mut [Option<(output::OutDir, (u64, u64))>],
    chunk: &[usize],
    results: &mut [Result<(), GenError>],
) {
    // Each directory's handle, and each generation's changes, borrowed for the batch.
    let dirs: Vec<output::OutDir> = chunk
        .iter()
        .map(|&i| opened[i].take().expect("opened once").0)
        .collect();
    let mut wanted: Vec<Option<&mut Generation>> = generations.iter_mut().map(Some).collect();
    let mut jobs: Vec<(&output::OutDir, &mut [Change])> = chunk
        .iter()
        .zip(dirs.iter())
        .map(|(&i, dir)| {
            let generation = wanted[i].take().expect("each generation once");
            (dir, generation.changes.as_mut_slice())
        })
        .collect();
    for (&i, result) in chunk.iter().zip(output::write_batch(&mut jobs)) {
        results[i] = result.map_err(Into::into);
    }
}

/// `out` relative to the project's real path `root` when it lies inside it (symlinks
/// resolved as far as the path exists), `/`-separated; `None` when it escapes.
fn relative_inside(root: &Path, out: &Path) -> Option<String> {
    let cwd = std::env::current_dir().ok()?;
    let absolute = normalise(&cwd.join(out));
    // Resolve the part of the path that exists, so a symlink cannot lead out of the project.
    let mut existing = absolute.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        rest.push(existing.file_name()?.to_owned());
        existing = existing.parent()?.to_path_buf();
    }
    let mut resolved = existing.canonicalize().ok()?;
    for part in rest.iter().rev() {
        resolved.push(part);
    }
    let rel = resolved.strip_prefix(root).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(parts.join("/"))
}

fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
