//! `python.lock: pdm.lock` (docs/rules.md, FAB055 and FAB056): the lock's default group,
//! exactly as pinned and hashed, becomes the requirements file the image installs; a
//! server package pinned at another version is refused with the pdm command that relocks.

use std::path::Path;

use serde_saphyr::Spanned;

use crate::packaging::pdmlock;
use crate::rules;
use crate::spec::model::InstalledRequirements;
use crate::spec::raw::Interface;

use super::Validator;

impl Validator<'_> {
    /// The lock at `path` (a file inside the project) as the requirements the image
    /// installs: the server stack's packages left to fabuild when the lock agrees with it.
    pub(super) fn pdm_lock(
        &mut self,
        path: &str,
        at: &Spanned<String>,
        project: &Path,
        interface: Interface,
    ) -> Option<InstalledRequirements> {
        let lock = match pdmlock::read(&project.join(path)) {
            Ok(lock) => lock,
            Err(why) => {
                self.error(
                    rules::LOCK_FILE,
                    at,
                    format!("`{path}` {why}"),
                    "regenerate it with `pdm lock`",
                );
                return None;
            }
        };
        let pins = self.pins.for_interface(interface);
        let text =
            crate::read::text(&project.join(path), crate::read::MAX_TEXT_BYTES).unwrap_or_default();
        let mut agreed = true;
        for pin in &pins {
            let Some(locked) = lock.version_of(pin.name).filter(|v| *v != pin.version) else {
                continue;
            };
            agreed = false;
            // `pdm update` takes names, not versions: `pdm add` pins the one fabuild installs
            // (a direct dependency from then on, which the image has anyway).
            self.lock_conflict(
                at,
                (path, &text),
                pin,
                locked,
                &format!(
                    "`pdm add --no-sync {}=={}` (run where pdm.lock is)",
                    pin.name, pin.version
                ),
            );
        }
        if !agreed {
            return None;
        }
        let names: Vec<&str> = pins.iter().map(|p| p.name).collect();
        match lock.requirements(&names) {
            Ok(requirements) => Some(InstalledRequirements {
                from: path.to_owned(),
                requirements,
                constraints: Vec::new(),
                pdm_lock: true,
            }),
            Err(why) => {
                self.error(
                    rules::LOCK_FILE,
                    at,
                    format!("`{path}` {why}"),
                    "python.lock installs exactly what the lock pins, by hash, from a package index",
                );
                None
            }
        }
    }
}
