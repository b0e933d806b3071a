//! Health checks and deploy manifests (docs/rules.md, "Health and deploy manifests").

use serde_saphyr::Spanned;

use crate::diagnostic::Finding;
use crate::rules;
use crate::spec::load::span;
use crate::spec::model::{Deploy, Healthcheck, ImageRef};
use crate::spec::raw::{RawDeploy, RawHealthcheck};

use super::Validator;

impl Validator<'_> {
    pub(super) fn healthcheck(&mut self, raw: &RawHealthcheck) -> Healthcheck {
        let path = self.text("healthcheck.path", &raw.path);
        let path_ok = path.starts_with('/')
            && path.len() <= 1024
            && path
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~/?=&%+:@,".contains(&b));
        if !path_ok {
            self.error(
                rules::HEALTHCHECK_PATH,
                &raw.path,
                format!("healthcheck path `{path}` cannot be probed"),
                "give an absolute URL path such as `/healthz` (letters, digits and `-._~/?=&%+:@,`)",
            );
        }
        self.findings.push(
            Finding::warning(rules::HEALTHCHECK_OCI, "the Dockerfile's HEALTHCHECK only survives Docker-format builds")
                .at(span(&raw.path, self.text))
                .help("OCI image configs have no healthcheck: buildah and podman drop it unless you build with `--format docker`; Kubernetes ignores it either way and uses the generated probes"),
        );
        let mut timing =
            |field: &str, value: Option<&Spanned<i64>>, default: u32, max: i64| match value {
                Some(v) if !(1..=max).contains(&v.value) => {
                    self.error(
                        rules::HEALTHCHECK_TIMING,
                        v,
                        format!("healthcheck.{field} {} is out of range", v.value),
                        format!("use 1 to {max}"),
                    );
                    default
                }
                Some(v) => u32::try_from(v.value).unwrap_or(default),
                None => default,
            };
        let interval = timing("interval", raw.interval.as_ref(), 30, 3600);
        let timeout = timing("timeout", raw.timeout.as_ref(), 5, 600);
        let start_period = timing("start_period", raw.start_period.as_ref(), 10, 3600);
        let retries = timing("retries", raw.retries.as_ref(), 3, 100);
        Healthcheck {
            path,
            interval,
            timeout,
            start_period,
            retries,
        }
    }

    pub(super) fn deploy(&mut self, raw: Option<&RawDeploy>, name: &str) -> Deploy {
        let mut deploy = Deploy {
            kubernetes: false,
            compose: false,
            image: format!("{name}:latest"),
            replicas: 2,
            memory: None,
            tls_secret: format!("{name}-tls"),
        };
        let Some(raw) = raw else { return deploy };
        deploy.kubernetes = raw.kubernetes.as_ref().is_some_and(|k| k.value);
        deploy.compose = raw.compose.as_ref().is_some_and(|c| c.value);
        if let Some(image) = &raw.image {
            let text = self.text("deploy.image", image);
            if ImageRef::parse(&text).is_none() {
                self.error(
                    rules::DEPLOY_IMAGE,
                    image,
                    format!("`{text}` is not a valid image reference"),
                    "write the reference your registry serves, for example `registry.example.com/team/orders-api:1.4.2`",
                );
            }
            deploy.image = text;
        }
        if let Some(r) = &raw.replicas {
            if !(1..=1000).contains(&r.value) {
                self.error(
                    rules::DEPLOY_REPLICAS,
                    r,
                    format!("{} replicas is out of range", r.value),
                    "use 1 to 1000",
                );
            }
            deploy.replicas = u32::try_from(r.value.clamp(1, 1000)).unwrap_or(1);
        }
        if let Some(m) = &raw.memory {
            let text = self.text("deploy.memory", m);
            if !valid_memory(&text) {
                self.error(
                    rules::DEPLOY_MEMORY,
                    m,
                    format!("`{text}` is not a memory quantity"),
                    "write a whole number with a binary suffix, for example `512Mi` or `1Gi`",
                );
            }
            deploy.memory = Some(text);
        }
        if let Some(s) = &raw.tls_secret {
            let text = self.text("deploy.tls_secret", s);
            if !valid_dns_subdomain(&text) {
                self.error(
                    rules::DEPLOY_SECRET_NAME,
                    s,
                    format!("`{text}` is not a Kubernetes object name"),
                    "use lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit",
                );
            }
            deploy.tls_secret = text;
        }
        deploy
    }
}

/// `512Mi`, `1Gi`, `1G`, `1000000`: a Kubernetes quantity fit for memory.
pub(super) fn valid_memory(text: &str) -> bool {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let suffix = &text[digits..];
    digits > 0
        && text.as_bytes()[0] != b'0'
        && ["", "Ki", "Mi", "Gi", "Ti", "k", "M", "G", "T"].contains(&suffix)
}

/// A DNS-1123 subdomain, what Kubernetes accepts as an object name.
pub(super) fn valid_dns_subdomain(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 253
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'.'))
}
