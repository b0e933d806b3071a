//! The verify report: checks with a status and a detail, and what image was read.

use std::path::Path;

use serde::Serialize;

use crate::oci::Image;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// Not applicable to this spec, or not possible because an earlier step failed.
    Skip,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Skip => "SKIP",
        }
    }
}

/// One named check and its outcome. `detail` may span several lines.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
}

impl Check {
    pub fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Pass,
            detail: detail.into(),
        }
    }

    pub fn fail(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Fail,
            detail: detail.into(),
        }
    }

    pub fn skip(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Skip,
            detail: detail.into(),
        }
    }

    /// Pass when `problems` is empty (with `ok` as the detail), else fail listing them.
    pub fn from_problems(name: &'static str, problems: &[String], ok: impl Into<String>) -> Self {
        if problems.is_empty() {
            Self::pass(name, ok)
        } else {
            Self::fail(name, problems.join("\n"))
        }
    }
}

/// What was read: for the report's heading and for pipelines.
#[derive(Clone, Debug, Serialize)]
pub struct ImageSummary {
    pub path: String,
    pub format: String,
    pub platform: Option<String>,
    pub platforms: Vec<String>,
    pub manifest: Option<String>,
    pub layers: usize,
    pub notes: Vec<String>,
}

impl ImageSummary {
    pub fn of(path: &Path, image: &Image) -> Self {
        Self {
            path: path.display().to_string(),
            format: image.format.to_string(),
            platform: image.platform.as_ref().map(ToString::to_string),
            platforms: image.platforms.iter().map(ToString::to_string).collect(),
            manifest: image.manifest_digest.clone(),
            layers: image.layers.len(),
            notes: image.notes.clone(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub image: ImageSummary,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.status != Status::Fail)
    }

    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// The report as a table people read: one row per check, details indented under it.
    pub fn to_text(&self) -> String {
        let image = &self.image;
        let mut out = format!("image: {} ({})", image.path, image.format);
        if let Some(platform) = &image.platform {
            out.push_str(&format!(", {platform}"));
        }
        if let Some(manifest) = &image.manifest {
            out.push_str(&format!(", manifest {manifest}"));
        }
        out.push('\n');
        for note in &image.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        out.push('\n');
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for check in &self.checks {
            let mut lines = check.detail.lines();
            out.push_str(&format!(
                "{}  {:width$}  {}\n",
                check.status.word(),
                check.name,
                lines.next().unwrap_or("")
            ));
            for line in lines {
                out.push_str(&format!("{:indent$}{line}\n", "", indent = width + 8));
            }
        }
        out.push_str(&format!(
            "\n{} checks: {} passed, {} failed, {} skipped\n",
            self.checks.len(),
            self.count(Status::Pass),
            self.count(Status::Fail),
            self.count(Status::Skip)
        ));
        out
    }
}
