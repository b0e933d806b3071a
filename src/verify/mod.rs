//! `fabuild verify`: check a built image against the plan of its spec.
//!
//! One pass over the image: the small blobs (index, manifest, config) are checked when the
//! image is opened, then each layer is streamed once, hashed and scanned. Every check has a
//! stable name and ends `pass`, `fail` or `skip` with a detail a person can act on.
//! The rules are documented in `docs/verify.md`.

mod config;
mod contents;
mod integrity;
pub mod report;

use std::path::Path;

use crate::oci::{self, Image, OciError, Platform};
use crate::plan::Plan;
pub use report::{Check, ImageSummary, Report, Status};

/// What to verify and how.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The platform to check in a multi-platform image; the host's when `None`.
    pub platform: Option<Platform>,
    /// `platform` is one of every platform checked in turn (`verify_each`), not one asked for.
    pub every: bool,
}

/// Opens the image at `path` and runs every check against `plan`.
///
/// `Err` only when the input is not a readable image (exit code 2); a broken or
/// non-conforming image gives a report with failed checks.
pub fn verify(plan: &Plan, path: &Path, options: &Options) -> Result<Report, OciError> {
    let image = oci::image::open(path, options.platform.as_ref())?;
    let writable: Vec<String> = plan.writable.iter().map(|w| w.path.clone()).collect();
    let scan = contents::scan(&image, &writable);
    let mut checks = vec![platform_check(&image, options)];
    checks.push(integrity::blobs(&image, &scan.layers));
    checks.push(integrity::diff_ids(&image, &scan.layers));
    match (&image.config, &image.broken) {
        (Some(config), _) => checks.extend(config::checks(plan, config)),
        (None, reason) => {
            let why = reason.as_deref().unwrap_or("the config could not be read");
            for name in config::NAMES {
                checks.push(Check::skip(name, format!("not checked: {why}")));
            }
        }
    }
    checks.extend(scan.checks(plan, image.layers.len()));
    let arch = image.config.as_ref().map(|c| c.architecture().to_string());
    checks.push(scan.machine(arch.as_deref()));
    Ok(Report {
        image: ImageSummary::of(path, &image),
        checks,
    })
}

/// Every image of the image at `path`: each platform of a multi-platform index in its
/// order (unless `options` names one), else the one image; one report each.
pub fn verify_each(plan: &Plan, path: &Path, options: &Options) -> Result<Vec<Report>, OciError> {
    if options.platform.is_none() {
        let image = oci::image::open(path, None)?;
        if image.platforms.len() > 1 {
            return image
                .platforms
                .iter()
                .map(|platform| {
                    let one = Options {
                        platform: Some(platform.clone()),
                        every: true,
                    };
                    verify(plan, path, &one)
                })
                .collect();
        }
    }
    Ok(vec![verify(plan, path, options)?])
}

fn platform_check(image: &Image, options: &Options) -> Check {
    let chosen = image
        .platform
        .as_ref()
        .map_or_else(|| "unknown platform".to_owned(), ToString::to_string);
    if image.platforms.is_empty() {
        return Check::pass("platform", format!("{chosen} (a single-platform image)"));
    }
    let listed: Vec<String> = image.platforms.iter().map(ToString::to_string).collect();
    let how = if options.every {
        "every platform is checked in turn; one with --platform"
    } else if options.platform.is_some() {
        "as asked with --platform"
    } else {
        "the host's; choose another with --platform"
    };
    Check::pass(
        "platform",
        format!(
            "checked {chosen} ({how}); the index has {}: {}",
            listed.len(),
            listed.join(", ")
        ),
    )
}
