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
            let plan = plan::plan(&checked.spec, &Overrides { base_image });
            let mut document = serde_json::to_value(&plan).unwrap_or_default();
            // Where each spec value was written: the spec or a platform file it extends.
            if let Some(map) = document.as_object_mut() {
                map.insert(
                    "origins".to_owned(),
                    serde_json::to_value(checked.origins.cited(&checked.source))
                        .unwrap_or_default(),
                );
            }
            print_json(&document);
            ExitStatus::Success
        }
        Err(err) => spec_failure(&err, &display, Format::Text, false),
    }
}
