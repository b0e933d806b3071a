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
