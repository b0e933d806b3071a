//! A spec held to its platform's policy (`policy` in a platform file it extends): each
//! breach an error with its own rule, at the value that breaks it (or, when the value is
//! a default, at the spec's `name`), citing the policy line it breaks.

use crate::diagnostic::{Finding, Span};
use crate::gunicorn::settings;
use crate::plan::{Overrides, Plan};
use crate::rules;
use crate::spec::{Checked, ImageRef};

/// Every breach of `checked`'s policy by it and its plan.
// One policy key after another, each with its own rule.
#[allow(clippy::too_many_lines)]
pub fn held_to(checked: &Checked, plan: &Plan, overrides: &Overrides) -> Vec<Finding> {
    let policy = &checked.policy;
    if policy.is_empty() {
        return Vec::new();
    }
    let source = &checked.source;
    let origin = |key: &str| {
        checked
            .origins
            .get(key)
            .or_else(|| checked.origins.get("name"))
    };
    let cite = |span: &Span| source.cite(span);
    let spec = &checked.spec;
    let mut out = Vec::new();

    let base = overrides
        .base_image
        .as_ref()
        .unwrap_or(&spec.python.base_image);
    let base_at = if overrides.base_image.is_some() {
        origin("name")
    } else {
        origin("python.base_image")
    };
    if let Some((_, first)) = policy.base_images.first()
        && !policy.base_images.iter().any(|(a, _)| allows(a, base))
    {
        let list: Vec<String> = policy
            .base_images
            .iter()
            .map(|(a, _)| format!("`{a}`"))
            .collect();
        out.push(
            Finding::error(
                rules::POLICY_BASE_IMAGE,
                format!("base image `{base}` is not one the platform allows"),
            )
            .at(base_at)
            .help(format!(
                "build on {} (policy.base_images, {})",
                list.join(" or "),
                cite(first)
            )),
        );
    }
    if let Some(at) = &policy.require_digest
        && base.digest.is_none()
    {
        out.push(
            Finding::error(
                rules::POLICY_BASE_IMAGE,
                format!("base image `{base}` is not pinned by digest, and the platform requires it"),
            )
            .at(base_at)
            .help(format!(
                "pin it as `{base}@sha256:<digest>` (`buildah pull` prints the digest) (policy.require_digest, {})",
                cite(at)
            )),
        );
    }
    for (key, at) in &policy.required_labels {
        if !plan.labels.iter().any(|(k, _)| k == key) {
            out.push(
                Finding::error(
                    rules::POLICY_LABEL,
                    format!("label `{key}` is missing, and the platform requires it"),
                )
                .at(origin("name"))
                .help(format!(
                    "add `{key}: <value>` under `labels:` (policy.required_labels, {})",
                    cite(at)
                )),
            );
        }
    }
    if let Some((min, at)) = &policy.min_uid
        && spec.user.uid < *min
    {
        out.push(
            Finding::error(
                rules::POLICY_UID,
                format!(
                    "uid {} is below the platform's minimum, {min}",
                    spec.user.uid
                ),
            )
            .at(origin("user.uid"))
            .help(format!(
                "set user.uid (and gid) to {min} or above (policy.min_uid, {})",
                cite(at)
            )),
        );
    }
    for (i, item) in spec.server.extra_args.iter().enumerate() {
        let flag = item.split_once('=').map_or(item.as_str(), |(f, _)| f);
        if let Some((forbidden, at)) = policy
            .forbidden_extra_args
            .iter()
            .find(|(f, _)| same_flag(f, flag))
        {
            out.push(
                Finding::error(
                    rules::POLICY_EXTRA_ARG,
                    format!("`{item}` is a flag the platform forbids"),
                )
                .at(origin(&format!("server.extra_args[{i}]")))
                .help(format!(
                    "remove it (policy.forbidden_extra_args: `{forbidden}`, {})",
                    cite(at)
                )),
            );
        }
    }
    if let Some((max, at)) = &policy.max_workers
        && plan.workers.count > *max
    {
        let (key, how) = if spec.server.workers.is_some() {
            ("server.workers", "lower server.workers")
        } else {
            ("server.cpus", "set server.workers, or lower server.cpus")
        };
        out.push(
            Finding::error(
                rules::POLICY_WORKERS,
                format!(
                    "{} workers planned; the platform allows at most {max}",
                    plan.workers.count
                ),
            )
            .at(origin(key))
            .help(format!(
                "{how} so that at most {max} run (policy.max_workers, {})",
                cite(at)
            )),
        );
    }
    out
}

/// `allowed` (from `policy.base_images`) admits `base`: the same name, and the same tag
/// and digest where `allowed` names one.
fn allows(allowed: &ImageRef, base: &ImageRef) -> bool {
    allowed.name == base.name
        && allowed
            .tag
            .as_ref()
            .is_none_or(|t| base.tag.as_ref() == Some(t))
        && allowed
            .digest
            .as_ref()
            .is_none_or(|d| base.digest.as_ref() == Some(d))
}

/// `written` (a flag in `server.extra_args`) is `forbidden` as gunicorn reads it: the same
/// spelling, another spelling of the same setting (`-w` for `--workers`), or an
/// abbreviation argparse expands to it.
fn same_flag(forbidden: &str, written: &str) -> bool {
    if forbidden == written {
        return true;
    }
    let Some(setting) = settings::all()
        .iter()
        .find(|s| s.flags.contains(&forbidden))
    else {
        return false;
    };
    setting.flags.contains(&written)
        || (written.len() > 3 && written.starts_with("--") && setting.flag().starts_with(written))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_match_as_gunicorn_reads_them() {
        assert!(same_flag("--reload", "--reload"));
        assert!(same_flag("--workers", "-w"));
        assert!(same_flag("--reload", "--relo"));
        assert!(!same_flag("--reload", "--preload"));
        assert!(!same_flag("--workers", "--worker-class"));
    }

    #[test]
    fn allowed_images() {
        let r = |t: &str| ImageRef::parse(t).unwrap();
        let digest = "@sha256:".to_owned() + &"a".repeat(64);
        assert!(allows(&r("python"), &r("python:3.12-slim")));
        assert!(allows(
            &r("python:3.12-slim"),
            &r(&format!("python:3.12-slim{digest}"))
        ));
        assert!(!allows(&r("python:3.12-slim"), &r("python:3.13-slim")));
        assert!(!allows(
            &r(&format!("python:3.12-slim{digest}")),
            &r("python:3.12-slim")
        ));
        assert!(!allows(
            &r("python"),
            &r("registry.example.com/python:3.12-slim")
        ));
    }
}
