//! Debian packages the image build installs with apt: the build stage's compilers and
//! headers (`python.build_packages`), the final image's run-time libraries
//! (`python.system_packages`).

use serde::Serialize;

/// One `apt-get install` in the Dockerfile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AptInstall {
    /// `name` or `name=version`, in the order the spec gives them.
    pub packages: Vec<String>,
    /// Some package has no `=version`. hadolint's DL3008 asks for pins; fabuild leaves the
    /// choice to the spec and, for the unpinned ones, says in the Dockerfile why the check
    /// is waived: a Debian mirror keeps only the current version of each package in a
    /// release, so an exact pin stops building at the next point or security release,
    /// while an unpinned name gets that release's fixes.
    pub unpinned: bool,
}

impl AptInstall {
    /// `None` for no packages: no apt step at all.
    pub fn of(packages: &[String]) -> Option<Self> {
        (!packages.is_empty()).then(|| Self {
            packages: packages.to_vec(),
            unpinned: packages.iter().any(|p| !p.contains('=')),
        })
    }
}
