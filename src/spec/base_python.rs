//! What a base image's reference tells about the Python inside it, and what to say when
//! that is not `python.version` (FAB053 for the spec's own `python.base_image` tag,
//! FAB064 otherwise; docs/rules.md).
//!
//! `gen` and `check` cannot open the image, so they judge by its name: the official
//! `python:X.Y-...` tags name the version, a Debian or Ubuntu release has a known
//! `python3`, anything else says nothing. `fabuild build` reads the interpreter from the
//! image's files and notes a difference there.

use super::model::ImageRef;

/// Distribution releases and the `python3` each ships: (repository, tags, release, python).
const DISTROS: &[(&str, &[&str], &str, &str)] = &[
    ("debian", &["bullseye", "11"], "Debian 11 (bullseye)", "3.9"),
    (
        "debian",
        &["bookworm", "12"],
        "Debian 12 (bookworm)",
        "3.11",
    ),
    ("debian", &["trixie", "13"], "Debian 13 (trixie)", "3.13"),
    ("ubuntu", &["focal", "20.04"], "Ubuntu 20.04 (focal)", "3.8"),
    (
        "ubuntu",
        &["jammy", "22.04"],
        "Ubuntu 22.04 (jammy)",
        "3.10",
    ),
    (
        "ubuntu",
        &["noble", "24.04"],
        "Ubuntu 24.04 (noble)",
        "3.12",
    ),
];

/// What an image reference tells about its Python.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Told {
    /// A python image whose tag names `X.Y` (`python:3.12-slim`).
    Version(String),
    /// A distribution release, whose `python3` is known.
    Distro {
        release: &'static str,
        python: &'static str,
    },
    /// A python image whose tag follows new Python releases (`python:slim`, `python:3`).
    Floating,
    /// Nothing; the release its tag suggests (`.../python-base:bookworm`), if any.
    Nothing {
        suggests: Option<(&'static str, &'static str)>,
    },
}

/// What `image`'s name and tag tell about the Python it has.
pub fn told(image: &ImageRef) -> Told {
    let repository = image.repository();
    let tag = image.tag.as_deref().unwrap_or("");
    if repository == "python" {
        let version = tag_version(tag);
        if version.contains('.') {
            return Told::Version(version);
        }
        if image.digest.is_none() {
            return Told::Floating;
        }
        return Told::Nothing { suggests: None };
    }
    let first = tag.split('-').next().unwrap_or("");
    let release = DISTROS
        .iter()
        .find(|(repo, tags, _, _)| *repo == repository && tags.contains(&first));
    if let Some((_, _, release, python)) = release {
        return Told::Distro { release, python };
    }
    let suggests = DISTROS
        .iter()
        .find(|(_, tags, _, _)| tag.split(['-', '_', '.']).any(|word| word == tags[0]))
        .map(|(_, _, release, python)| (*release, *python));
    Told::Nothing { suggests }
}

/// `3.12` from `3.12.4-slim-bookworm`; what precedes the first character that is neither a
/// digit nor a dot, cut to two components.
pub fn tag_version(tag: &str) -> String {
    tag.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()
        .unwrap_or("")
        .split('.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".")
}

/// A base whose Python is not known to be `version`: the message and the help, or `None`
/// when the reference says it is `version`.
pub fn disagreement(image: &ImageRef, version: &str) -> Option<(String, String)> {
    let why = "wheels and pins are chosen for python.version";
    let use_named =
        format!("use a base whose tag names Python {version}, such as `python:{version}-slim`");
    let (message, help) = match told(image) {
        Told::Version(v) if v == version => return None,
        Told::Distro { python, .. } if python == version => return None,
        Told::Version(v) => (
            format!("base image `{image}` is Python {v}, but the spec says Python {version}"),
            format!("{why}: use a `python:{version}-...` base image, or set python.version to {v}"),
        ),
        Told::Distro { release, python } => (
            format!(
                "base image `{image}` is {release}, whose python3 is {python}, but the spec says Python {version}"
            ),
            format!("{why}: set python.version to {python}, or {use_named}"),
        ),
        Told::Floating => (
            format!(
                "base image `{image}` names no Python X.Y: it moves to each new Python release, and the spec says Python {version}"
            ),
            format!("{why}: {use_named}, pinned by digest"),
        ),
        Told::Nothing { suggests } => (
            match suggests {
                Some((release, python)) => format!(
                    "base image `{image}` names no Python version (its tag suggests {release}, whose python3 is {python}); the spec says Python {version}"
                ),
                None => format!(
                    "base image `{image}` names no Python version; the spec says Python {version}"
                ),
            },
            format!(
                "{why}: make sure its Python is {version} (`fabuild build` reads it from the image's files and notes a difference), or {use_named}"
            ),
        ),
    };
    Some((message, help))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn told_of(reference: &str) -> Told {
        told(&ImageRef::parse(reference).unwrap())
    }

    #[test]
    fn official_tags_name_the_version() {
        assert_eq!(told_of("python:3.11-slim"), Told::Version("3.11".into()));
        assert_eq!(
            told_of("mirror.example.com:5000/library/python:3.12.4-slim-bookworm"),
            Told::Version("3.12".into())
        );
        assert_eq!(told_of("python:slim"), Told::Floating);
        assert_eq!(told_of("python:3-slim"), Told::Floating);
        assert_eq!(told_of("python"), Told::Floating);
    }

    #[test]
    fn distributions_tell_their_python3() {
        assert_eq!(
            told_of("debian:bookworm-slim"),
            Told::Distro {
                release: "Debian 12 (bookworm)",
                python: "3.11"
            }
        );
        assert_eq!(
            told_of("ubuntu:24.04"),
            Told::Distro {
                release: "Ubuntu 24.04 (noble)",
                python: "3.12"
            }
        );
        assert_eq!(
            told_of("localhost/fabuild-e2e/python-base:bookworm"),
            Told::Nothing {
                suggests: Some(("Debian 12 (bookworm)", "3.11"))
            }
        );
        assert_eq!(
            told_of("registry.example.com/team/base:1.4"),
            Told::Nothing { suggests: None }
        );
    }

    #[test]
    fn only_a_base_known_to_have_the_version_passes() {
        let judge = |r: &str, v: &str| disagreement(&ImageRef::parse(r).unwrap(), v);
        assert_eq!(judge("python:3.12-slim", "3.12"), None);
        assert_eq!(judge("debian:bookworm", "3.11"), None);
        assert!(judge("python:3.11-slim", "3.12").is_some());
        assert!(judge("debian:bookworm", "3.12").is_some());
        assert!(judge("python:latest", "3.12").is_some());
        assert!(judge("localhost/pybase:test", "3.12").is_some());
    }
}
