//! Specs that need apt: `fabuild build` refuses them, by name, before doing any work.
//!
//! Installing a Debian package means resolving its dependencies against the base's
//! package database, checking the archive's signatures and running maintainer scripts
//! inside the image; `fabuild build` runs nothing inside the image and is not a package
//! manager. The generated Dockerfile does it with the base's own apt.

use super::{BuildError, WheelSource};
use crate::plan::Plan;

/// An error when the plan installs Debian packages that this build would have to provide.
///
/// `python.system_packages` always: the libraries must be in the image. `python.build_packages`
/// only when pip would fetch the dependencies: with `--wheels DIR` the wheels are built
/// already, and the compilers had nothing to do.
pub fn refuse(plan: &Plan, wheels: &WheelSource) -> Result<(), BuildError> {
    let mut keys = Vec::new();
    if let Some(install) = &plan.build_packages
        && matches!(wheels, WheelSource::Pip(_) | WheelSource::PipOnly(_))
    {
        keys.push(format!(
            "python.build_packages ({})",
            install.packages.join(", ")
        ));
    }
    if let Some(install) = &plan.system_packages {
        keys.push(format!(
            "python.system_packages ({})",
            install.packages.join(", ")
        ));
    }
    if keys.is_empty() {
        Ok(())
    } else {
        Err(BuildError::AptPackages(keys.join(" and ")))
    }
}
