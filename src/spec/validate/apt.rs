//! `python.build_packages` and `python.system_packages`: Debian package names, each one
//! word apt-get takes as a package and nothing else (docs/rules.md, "Python and the base
//! image", FAB066).

use serde_saphyr::Spanned;

use crate::rules;

use super::Validator;

/// Longer than any package in Debian (the longest are under 70 characters), short enough
/// that a mistaken paste is not echoed back whole.
const MAX_LEN: usize = 128;

impl Validator<'_> {
    /// The packages of `field`, in the order written, duplicates dropped; each one that is
    /// not `name` or `name=version` in Debian's grammar is an error.
    pub(super) fn apt_packages(
        &mut self,
        field: &str,
        given: Option<&Vec<Spanned<String>>>,
    ) -> Vec<String> {
        let mut packages: Vec<String> = Vec::new();
        for at in given.into_iter().flatten() {
            let text = self.text(field, at);
            if let Err(why) = package(&text) {
                let shown: String = text.chars().take(MAX_LEN).collect();
                self.error(
                    rules::APT_PACKAGE,
                    at,
                    format!("{field} entry `{shown}` {why}"),
                    "write one Debian package per entry, as `apt-cache policy` names it (`libpq-dev`), optionally pinned (`libpq5=15.10-0+deb12u1`); no options, spaces or shell",
                );
            } else if !packages.contains(&text) {
                packages.push(text);
            }
        }
        packages
    }
}

/// `name` or `name=version`: Debian Policy 5.6.1 (a name is at least two characters of
/// `[a-z0-9+.-]`, starting with a letter or digit) and 5.6.12 (a version starts with a
/// digit, an epoch `N:` allowed, then `[A-Za-z0-9.+~:-]`). Anything else could be read by
/// apt-get as an option (`-o ...`) or by the shell as a word of its own.
fn package(text: &str) -> Result<(), &'static str> {
    if text.len() > MAX_LEN {
        return Err("is longer than any Debian package name");
    }
    let (name, version) = match text.split_once('=') {
        Some((name, version)) => (name, Some(version)),
        None => (text, None),
    };
    let name_ok = name.len() >= 2
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.')
        });
    if !name_ok {
        return Err(
            "is not a Debian package name (two or more of a-z, 0-9, `+`, `-`, `.`, starting with a letter or digit)",
        );
    }
    if version.is_some_and(|v| !debian_version(v)) {
        return Err(
            "has a version that is not a Debian version ([epoch:]upstream[-revision], the upstream part starting with a digit)",
        );
    }
    Ok(())
}

/// `[epoch:]upstream[-revision]`, as dpkg parses it: the epoch digits, the upstream part a
/// digit first then `[A-Za-z0-9.+~:-]`, the revision (after the last `-`) non-empty
/// `[A-Za-z0-9.+~]`.
fn debian_version(text: &str) -> bool {
    let rest = match text.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            rest
        }
        Some(_) => return false,
        None => text,
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((upstream, revision)) => (upstream, Some(revision)),
        None => (rest, None),
    };
    let revision_ok = revision.is_none_or(|r| {
        !r.is_empty()
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'~'))
    });
    revision_ok
        && upstream.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && upstream
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'~' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::package;

    #[test]
    fn debian_names_and_pins() {
        for ok in [
            "gcc",
            "libpq-dev",
            "libpq5",
            "g++",
            "libstdc++6",
            "python3.11-dev",
            "libpq5=15.10-0+deb12u1",
            "libc6=1:2.36-9+deb12u9",
            "pkgconf=1.8.1-1~bpo12+1",
        ] {
            assert!(package(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "g",
            "-o",
            "--allow-unauthenticated",
            "Gcc",
            "gcc libpq-dev",
            "gcc;rm",
            "gcc&&id",
            "$(id)",
            "gcc:amd64",
            "libpq5=",
            "libpq5=v15",
            "libpq5=15 x",
            "libpq5=1-",
            "libpq5=:1",
            "libpq5=a:1",
            "lib*",
            "./local.deb",
            ".hidden",
        ] {
            assert!(package(bad).is_err(), "{bad}");
        }
        assert!(package(&"a".repeat(129)).is_err());
    }
}
