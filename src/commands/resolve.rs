//! `fabuild resolve`: kubernetes.yaml printed with its image named by digest.

use fabuild::exit::ExitStatus;
use fabuild::net::registry::Reference;

use super::{default_spec, spec_failure};
use crate::cli::{Format, ResolveArgs};
use crate::console::{eoutln, out};

/// The most bytes of a manifest read.
const MAX_MANIFEST_BYTES: u64 = 4 << 20;

pub fn run(args: &ResolveArgs) -> ExitStatus {
    let spec_path = default_spec(args.spec.as_ref());
    let display = spec_path.display().to_string();
    let checked = match fabuild::check::check(&spec_path, &display) {
        Ok(c) => c,
        Err(err) => return spec_failure(&err, &display, Format::Text, false),
    };
    let image = match pinned_image(args) {
        Ok(i) => i,
        Err(why) => {
            eoutln!("error: {why}");
            return ExitStatus::Error;
        }
    };
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| fabuild::spec::project_dir(&spec_path).join("kubernetes.yaml"));
    let text = match fabuild::read::text(&file, MAX_MANIFEST_BYTES) {
        Ok(t) => t,
        Err(e) => {
            eoutln!("error: cannot read {}: {e}", file.display());
            return ExitStatus::Error;
        }
    };
    let names = [repository(&checked.spec.deploy.image), repository(&image)];
    let (resolved, count) = fabuild::pin::resolve_images(&text, &names, &image);
    if count == 0 {
        eoutln!(
            "error: {} names no image of {} or {}",
            file.display(),
            names[0],
            names[1]
        );
        return ExitStatus::Failure;
    }
    out!("{resolved}");
    ExitStatus::Success
}

/// `REF@sha256:...` from --image, or from --repository and --digest-file.
fn pinned_image(args: &ResolveArgs) -> Result<String, String> {
    let text = match (&args.image, &args.digest_file, &args.repository) {
        (Some(image), _, _) => image.clone(),
        (None, Some(file), Some(repo)) => {
            let digest = fabuild::read::text(file, 1024)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            format!(
                "{}@{}",
                repo.split('@').next().unwrap_or(repo),
                digest.trim()
            )
        }
        _ => {
            return Err(
                "give --image REF@sha256:... or --digest-file with --repository".to_owned(),
            );
        }
    };
    let reference = Reference::parse(&text)?;
    if reference.digest.is_none() {
        return Err(format!(
            "`{text}` has no digest: give what `build --push` printed (REF@sha256:...)"
        ));
    }
    Ok(text)
}

/// A reference without its tag and digest: `host/repo`.
fn repository(reference: &str) -> String {
    let name = reference.split('@').next().unwrap_or(reference);
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].rfind(':') {
        Some(i) => name[..last_slash + i].to_owned(),
        None => name.to_owned(),
    }
}
