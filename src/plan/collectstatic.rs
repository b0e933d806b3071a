//! Django's `collectstatic` as a build step: what it runs and with which placeholders.

use serde::Serialize;

use crate::spec::Spec;

/// The value a placeholder variable holds during `collectstatic`: visibly not a secret, so
/// that nobody mistakes it for one in the image's build history.
pub const PLACEHOLDER: &str = "collectstatic-placeholder-not-a-secret";

/// `collectstatic`, run as root after the code is copied, before the image's `USER`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CollectstaticStep {
    /// Variables set for this step only, each to [`PLACEHOLDER`].
    pub placeholder_env: Vec<(String, String)>,
}

pub fn plan(spec: &Spec) -> Option<CollectstaticStep> {
    spec.app.collectstatic.as_ref().map(|c| CollectstaticStep {
        placeholder_env: c
            .placeholder_env
            .iter()
            .map(|name| (name.clone(), PLACEHOLDER.to_owned()))
            .collect(),
    })
}
