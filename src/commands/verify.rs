//! `fabuild verify`: check a built image against its spec.

use fabuild::check;
use fabuild::exit::ExitStatus;
use fabuild::oci::Platform;
use fabuild::plan::{self, Overrides};
use fabuild::verify;

use super::json::VerifyReport;
use super::{default_spec, image_path, parse_base, print_json, spec_failure, stopped};
use crate::cli::{Format, VerifyArgs};
use crate::console::{eoutln, out};

pub fn run(args: &VerifyArgs) -> ExitStatus {
    let path = default_spec(args.spec.as_ref());
    let base_image = match parse_base(args.base_image.as_deref()) {
        Ok(base) => base,
        Err(status) => return status,
    };
    let platform = match args.platform.as_deref().map(Platform::parse).transpose() {
        Ok(p) => p,
        Err(err) => {
            eoutln!("error: {err}");
            return ExitStatus::Error;
        }
    };
    let display = path.display().to_string();
    let checked = match check::check(&path, &display) {
        Ok(checked) => checked,
        Err(err) => {
            // The image cannot be judged against a spec that does not stand.
            spec_failure(&err, &display, args.format, true);
            return ExitStatus::Error;
        }
    };
    let plan = plan::plan(&checked.spec, &Overrides { base_image });
    // A registry reference is pulled into the cache first, then read like a layout.
    let mut pulled = None;
    let image = match super::registry::as_reference(&args.image) {
        Some(Ok(reference)) => {
            let wanted = platform.clone().unwrap_or_else(Platform::host);
            let cache = super::registry::default_cache();
            match super::registry::pull(
                &reference,
                args.registry_ca.as_deref(),
                cache.as_deref(),
                &wanted,
            ) {
                Ok(p) => {
                    if args.format == Format::Text {
                        eoutln!(
                            "note: {} is {} ({wanted} manifest {})",
                            args.image.display(),
                            p.resolved,
                            p.manifest_digest
                        );
                    }
                    let path = p.layout.clone();
                    pulled = Some(p);
                    path
                }
                Err(err) => {
                    stopped(
                        args.format,
                        &format!("cannot pull {}: {err}", args.image.display()),
                        None,
                    );
                    return ExitStatus::Error;
                }
            }
        }
        Some(Err(why)) => {
            stopped(args.format, &why, None);
            return ExitStatus::Error;
        }
        None => image_path(&args.image),
    };
    let options = verify::Options {
        platform,
        every: false,
    };
    // A multi-platform index on disk is checked platform by platform; a pulled image is
    // the one platform pulled.
    let verified = if pulled.is_some() {
        verify::verify(&plan, &image, &options).map(|r| vec![r])
    } else {
        verify::verify_each(&plan, &image, &options)
    };
    drop(pulled);
    match verified {
        Ok(reports) => {
            let documents: Vec<VerifyReport> = reports
                .iter()
                .map(|report| VerifyReport {
                    spec: display.clone(),
                    ok: report.ok(),
                    image: &report.image,
                    checks: &report.checks,
                })
                .collect();
            match (args.format, &documents[..]) {
                (Format::Text, _) => {
                    let texts: Vec<String> = reports.iter().map(verify::Report::to_text).collect();
                    out!("{}", texts.join("\n"));
                }
                (Format::Json, [one]) => print_json(one),
                (Format::Json, several) => print_json(&several),
            }
            ExitStatus::failure_if(reports.iter().any(|r| !r.ok()))
        }
        Err(err) => {
            stopped(args.format, &err.to_string(), None);
            ExitStatus::Error
        }
    }
}
