//! `fabuild plan`: every value the generated files are made from, as JSON.

use fabuild::check;
use fabuild::exit::ExitStatus;
use fabuild::plan::{self, Overrides};

use super::{default_spec, parse_base, print_json, spec_failure};
use crate::cli::{Format, PlanArgs};

pub fn run(args: &PlanArgs) -> ExitStatus {
    let path = default_spec(args.spec.as_ref());
    let base_image = match parse_base(args.base_image.as_deref()) {
        Ok(base) => base,
        Err(status) => return status,
    };
    let display = path.display().to_string();
    match check::check(&path, &display) {
        Ok(checked) => {
            print_json(&plan::plan(&checked.spec, &Overrides { base_image }));
            ExitStatus::Success
        }
        Err(err) => spec_failure(&err, &display, Format::Text, false),
    }
}
