//! `python.pins`: the pins file the server stack comes from instead of the built-in table
//! (docs/rules.md, FAB091 to FAB093). A platform file can set it for every service.

use std::path::Path;

use serde_saphyr::Spanned;

use crate::pins::Pins;
use crate::rules;
use crate::spec::raw::RawSpec;

use super::Validator;

impl Validator<'_> {
    /// Loads the pins file `at` names (relative to the project) into `self.pins`.
    pub(super) fn pins_file(&mut self, raw: &RawSpec, at: &Spanned<String>, project: &Path) {
        let path = self.text("python.pins", at);
        let table = match Pins::load(&project.join(&path)) {
            Ok(table) => table,
            Err(why) => {
                self.error(
                    rules::PINS_FILE,
                    at,
                    format!("pins file `{path}`: {why}"),
                    "write it with `fabuild pins refresh --file PATH`, and rerun that after changing a `want` line",
                );
                return;
            }
        };
        for (name, version, range) in table.unassumed() {
            self.error(
                rules::PINS_UNASSUMED,
                at,
                format!("pins file `{path}` pins {name} {version}; this fabuild's rules assume {name}{range}"),
                format!("want a {name} version in {range}, or upgrade fabuild (docs/pins.md lists what each range rests on)"),
            );
        }
        let interface = raw.app.interface.value;
        let needs_uv = raw.python.lock.is_some() || raw.python.project.is_some();
        let missing = table.missing(interface, needs_uv);
        if !missing.is_empty() {
            self.error(
                rules::PINS_INCOMPLETE,
                at,
                format!(
                    "pins file `{path}` has no pin for {} this app needs",
                    missing.join(", ")
                ),
                "add a `want` line for each (role `all` for gunicorn, `asgi` for the ASGI stack, `tool` for uv) and run `fabuild pins refresh`",
            );
        }
        self.pins = table;
    }
}
