//! Credentials for a private package index, from a netrc file (the format pip, uv and curl
//! read): `machine HOST login USER password SECRET`, or a `default` entry. fabuild never
//! takes them from a URL, an argument or app.yaml: they would land in shell history, build
//! logs and image layers. The image build mounts the same file as a build secret for
//! its install step only (`build.index_secret`, docs/build.md).

use std::path::Path;

/// The most bytes read from a netrc file.
pub const MAX_NETRC_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read the netrc file {path}: {why}")]
    Read { path: String, why: String },
    #[error("{0} is not an http(s) URL with a host")]
    Url(String),
}

/// The host (without port or credentials) of an http(s) URL.
pub fn host_of(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host_port.starts_with('[') {
        host_port.split_inclusive(']').next()?
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

/// Whether `url` carries credentials itself (`https://user:secret@host/`).
pub fn has_userinfo(url: &str) -> bool {
    url.split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""))
        .is_some_and(|authority| authority.contains('@'))
}

/// The login and password netrc `text` gives for `host`: its `machine` entry, else its
/// `default` entry.
pub fn credentials(text: &str, host: &str) -> Option<(String, String)> {
    #[derive(Clone, Copy, PartialEq)]
    enum Entry {
        None,
        Host,
        Default,
        Other,
    }
    let mut found: Option<(String, String)> = None;
    let mut default: Option<(String, String)> = None;
    let mut entry = Entry::None;
    let (mut login, mut password) = (String::new(), String::new());
    let mut finish = |entry: Entry, login: &mut String, password: &mut String| {
        let pair = (std::mem::take(login), std::mem::take(password));
        match entry {
            Entry::Host if found.is_none() => found = Some(pair),
            Entry::Default if default.is_none() => default = Some(pair),
            _ => {}
        }
    };
    let mut tokens = text.split_whitespace();
    while let Some(token) = tokens.next() {
        match token {
            "machine" => {
                finish(entry, &mut login, &mut password);
                entry = if tokens.next().is_some_and(|m| m.eq_ignore_ascii_case(host)) {
                    Entry::Host
                } else {
                    Entry::Other
                };
            }
            "default" => {
                finish(entry, &mut login, &mut password);
                entry = Entry::Default;
            }
            "login" => tokens.next().unwrap_or_default().clone_into(&mut login),
            "password" => tokens.next().unwrap_or_default().clone_into(&mut password),
            "account" => {
                tokens.next();
            }
            // A macro runs to the next blank line: fabuild has no use for one, and its
            // words must not be read as entries; netrc files with macros are rare.
            "macdef" => break,
            _ => {}
        }
    }
    finish(entry, &mut login, &mut password);
    found.or(default).filter(|(login, _)| !login.is_empty())
}

/// The `Authorization` header value (HTTP Basic) for `url` from the netrc file at
/// `netrc`, or `None` when it has no entry for the URL's host.
pub fn authorization(netrc: &Path, url: &str) -> Result<Option<String>, AuthError> {
    let host = host_of(url).ok_or_else(|| AuthError::Url(url.to_owned()))?;
    let text = crate::read::file_text(netrc, MAX_NETRC_BYTES).map_err(|e| AuthError::Read {
        path: netrc.display().to_string(),
        why: e.to_string(),
    })?;
    Ok(credentials(&text, host).map(|(login, password)| basic(&login, &password)))
}

/// `Basic base64(login:password)`.
pub fn basic(login: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{login}:{password}").as_bytes()))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_is_rfc_7617_base64() {
        // RFC 7617's own example.
        assert_eq!(
            basic("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
    }

    #[test]
    fn picks_the_hosts_entry_then_the_default() {
        let netrc = "machine other.example login o password p\n\
                     machine pypi.corp.example\n  login ci\n  password s3cret\n\
                     default login anon password x\n";
        assert_eq!(
            credentials(netrc, "pypi.corp.example"),
            Some(("ci".into(), "s3cret".into()))
        );
        assert_eq!(
            credentials(netrc, "elsewhere"),
            Some(("anon".into(), "x".into()))
        );
        assert_eq!(credentials("machine a login l password p", "b"), None);
        assert_eq!(
            host_of("https://u:p@pypi.corp.example:8443/simple/"),
            Some("pypi.corp.example")
        );
        assert!(has_userinfo("https://u:p@h/simple"));
        assert!(!has_userinfo("https://h/simple?x=a@b"));
    }
}
