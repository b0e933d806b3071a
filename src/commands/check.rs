//! `fabuild check`: validate specs, write nothing.

use fabuild::check;
use fabuild::exit::ExitStatus;
use fabuild::plan::Overrides;

use super::json::{SpecOutcome, SpecReport};
use super::{default_specs, json_findings, parse_base, plural, print_json, report, spec_failure};
use crate::cli::{CheckArgs, Format};
use crate::console::outln;

pub fn run(args: &CheckArgs) -> ExitStatus {
    let base_image = match parse_base(args.base_image.as_deref()) {
        Ok(b) => b,
        Err(status) => return status,
    };
    let overrides = Overrides { base_image };
    let mut worst = ExitStatus::Success;
    for path in default_specs(&args.specs) {
        let display = path.display().to_string();
        let status = match check::check_with(&path, &display, &overrides) {
            Ok(checked) => {
                match args.format {
                    Format::Text => {
                        report(&checked.warnings, &checked.source);
                        let n = checked.warnings.len();
                        let tail = if n == 0 {
                            String::new()
                        } else {
                            format!(" ({})", plural(n, "warning"))
                        };
                        outln!("{display}: ok{tail}");
                    }
                    Format::Json => print_json(&SpecReport {
                        spec: None,
                        file: &display,
                        ok: true,
                        outcome: SpecOutcome::Read {
                            findings: json_findings(&checked.warnings, &checked.source, &display),
                        },
                    }),
                }
                ExitStatus::Success
            }
            Err(err) => spec_failure(&err, &display, args.format, false),
        };
        worst = worst.max(status);
    }
    worst
}
