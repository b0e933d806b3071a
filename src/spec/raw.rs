//! `RawSpec`: app.yaml exactly as written, every leaf value with its source location.
//!
//! No defaults and no checks live here beyond what serde enforces (types, unknown keys);
//! `validate` turns a `RawSpec` into a `Spec`. No `#[serde(flatten)]`: it would lose spans.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_saphyr::Spanned;

/// The top level of app.yaml.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpec {
    pub version: Spanned<u32>,
    /// A platform file whose keys this spec takes where it does not set them.
    pub extends: Option<Spanned<String>>,
    pub name: Spanned<String>,
    pub app: RawApp,
    #[serde(default)]
    pub python: RawPython,
    #[serde(default)]
    pub server: RawServer,
    pub tls: Option<RawTls>,
    #[serde(default)]
    pub user: RawUser,
    #[serde(default)]
    pub labels: SpannedMap,
    #[serde(default)]
    pub env: SpannedMap,
    #[serde(default)]
    pub build: RawBuild,
    pub healthcheck: Option<RawHealthcheck>,
    pub deploy: Option<RawDeploy>,
}

/// A platform file (`extends`): the keys a team shares between its services, and its
/// policy. It holds no `name` or `app`: those are each service's own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlatform {
    pub version: Option<Spanned<u32>>,
    pub extends: Option<Spanned<String>>,
    #[serde(default)]
    pub python: RawPython,
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub user: RawUser,
    #[serde(default)]
    pub labels: SpannedMap,
    #[serde(default)]
    pub env: SpannedMap,
    #[serde(default)]
    pub build: RawBuild,
    pub healthcheck: Option<RawPlatformHealthcheck>,
    pub deploy: Option<RawDeploy>,
    #[serde(default)]
    pub policy: RawPolicy,
}

/// `healthcheck` in a platform file: the timings, without the path, which is each app's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlatformHealthcheck {
    pub interval: Option<Spanned<i64>>,
    pub timeout: Option<Spanned<i64>>,
    pub start_period: Option<Spanned<i64>>,
    pub retries: Option<Spanned<i64>>,
}

/// `policy` in a platform file: what `check` requires of every service that extends it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// Base images a service may build on: `name`, `name:tag` or `name@digest`.
    pub base_images: Option<Vec<Spanned<String>>>,
    /// The base image must be pinned by digest.
    pub require_digest: Option<Spanned<bool>>,
    /// Label keys every image must carry.
    pub required_labels: Option<Vec<Spanned<String>>>,
    /// The lowest uid the server may run as.
    pub min_uid: Option<Spanned<i64>>,
    /// gunicorn flags `server.extra_args` may not hold.
    pub forbidden_extra_args: Option<Vec<Spanned<String>>>,
    /// The most workers one container may run.
    pub max_workers: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealthcheck {
    pub path: Spanned<String>,
    pub interval: Option<Spanned<i64>>,
    pub timeout: Option<Spanned<i64>>,
    pub start_period: Option<Spanned<i64>>,
    pub retries: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDeploy {
    pub kubernetes: Option<Spanned<bool>>,
    pub compose: Option<Spanned<bool>>,
    pub image: Option<Spanned<String>>,
    pub replicas: Option<Spanned<i64>>,
    pub memory: Option<Spanned<String>>,
    pub tls_secret: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApp {
    pub module: Spanned<String>,
    pub interface: Spanned<Interface>,
    /// Directories the app writes at run time; the rest of the image is read-only to it.
    pub writable: Option<Vec<Spanned<String>>>,
    /// Django: run `collectstatic` while the image builds.
    pub collectstatic: Option<Spanned<bool>>,
    /// Variables the settings need to import, set to a placeholder for `collectstatic` only.
    pub collectstatic_placeholder_env: Option<Vec<Spanned<String>>>,
    /// The command run once per deploy, before the new version serves (migrations).
    pub release: Option<Spanned<RawRelease>>,
}

/// `app.release` as written: an argv list, or one string that only a shell could split
/// (read so that validation can refuse it with its own rule rather than a type error).
#[derive(Debug)]
pub enum RawRelease {
    Argv(Vec<Spanned<String>>),
    Line(String),
}

impl<'de> Deserialize<'de> for RawRelease {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawRelease;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a command as a list of words")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawRelease, E> {
                Ok(RawRelease::Line(v.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawRelease, A::Error> {
                let mut words = Vec::new();
                while let Some(word) = seq.next_element::<Spanned<String>>()? {
                    words.push(word);
                }
                Ok(RawRelease::Argv(words))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// How the app talks to the server; decides the worker class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Interface {
    Asgi,
    Wsgi,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPython {
    pub version: Option<Spanned<String>>,
    pub base_image: Option<Spanned<String>>,
    pub requirements: Option<Spanned<String>>,
    /// A `uv.lock` to install the app's dependencies from, instead of a requirements file.
    pub lock: Option<Spanned<String>>,
    /// With `lock`, when it is a uv workspace's: the member whose dependencies are installed.
    pub package: Option<Spanned<String>>,
    /// Or a `pyproject.toml` whose declared dependencies are resolved while the image builds.
    pub project: Option<Spanned<String>>,
    /// With `project`: resolve from releases uploaded before this date (or time).
    pub exclude_newer: Option<Spanned<String>>,
    /// A pins file (`fabuild pins refresh`) to install the server stack from, instead of
    /// fabuild's built-in table.
    pub pins: Option<Spanned<String>>,
    /// Debian packages the app's dependencies need only to build (compilers, headers).
    pub build_packages: Option<Vec<Spanned<String>>>,
    /// Debian packages the app needs at run time (shared libraries), kept in the image.
    pub system_packages: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub port: Option<Spanned<i64>>,
    pub workers: Option<Spanned<i64>>,
    pub cpus: Option<Spanned<f64>>,
    pub threads: Option<Spanned<i64>>,
    pub timeout: Option<Spanned<i64>>,
    pub graceful_timeout: Option<Spanned<i64>>,
    pub keepalive: Option<Spanned<i64>>,
    pub max_requests: Option<Spanned<i64>>,
    pub max_requests_jitter: Option<Spanned<i64>>,
    pub forwarded_allow_ips: Option<Vec<Spanned<String>>>,
    pub access_log: Option<Spanned<bool>>,
    /// More gunicorn flags, one argv word per item (`--limit-request-line=8190`).
    pub extra_args: Option<Vec<Spanned<String>>>,
    /// The container's memory limit (`512Mi`): caps the worker count, and the manifests' limit.
    pub memory: Option<Spanned<String>>,
    /// What one worker is expected to use (`256Mi` unless set).
    pub worker_memory: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub dir: Spanned<String>,
    pub certfile: Option<Spanned<String>>,
    pub keyfile: Option<Spanned<String>>,
    pub ca_certs: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    pub uid: Option<Spanned<i64>>,
    pub gid: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBuild {
    /// Id of the optional build secret holding a CA bundle for pip; `false` turns it off.
    pub ca_secret: Option<Spanned<CaSecret>>,
    /// A private package index (its simple API) the install step uses instead of `PyPI`.
    pub index_url: Option<Spanned<String>>,
    /// Id of the build secret holding the index's netrc file (default `index_netrc`).
    pub index_secret: Option<Spanned<String>>,
}

/// `build.ca_secret`: a secret id, or `false` for none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaSecret {
    Id(String),
    Off,
}

impl<'de> Deserialize<'de> for CaSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = CaSecret;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a secret id or false")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<CaSecret, E> {
                if v {
                    Err(E::custom("expected a secret id or false"))
                } else {
                    Ok(CaSecret::Off)
                }
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<CaSecret, E> {
                Ok(CaSecret::Id(v.to_owned()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// A string-to-string mapping that keeps the order written and the span of every key and value.
#[derive(Debug, Default)]
pub struct SpannedMap(pub Vec<(Spanned<String>, Spanned<String>)>);

impl<'de> Deserialize<'de> for SpannedMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SpannedMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of names to strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SpannedMap, A::Error> {
                let mut entries: Vec<(Spanned<String>, Spanned<String>)> = Vec::new();
                // A set, not a search of `entries`: that made a spec of many keys quadratic
                // (85,000 `env` keys in 1 MiB took 25 s).
                let mut seen = std::collections::HashSet::new();
                while let Some((key, value)) =
                    map.next_entry::<Spanned<String>, Spanned<String>>()?
                {
                    if !seen.insert(key.value.clone()) {
                        return Err(serde::de::Error::custom(format!(
                            "duplicate key `{}`",
                            key.value
                        )));
                    }
                    entries.push((key, value));
                }
                Ok(SpannedMap(entries))
            }
        }
        deserializer.deserialize_map(V)
    }
}
