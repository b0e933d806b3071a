//! Registry credentials where CI systems and container tools leave them, read the way
//! podman, skopeo and docker read them:
//!
//! 1. `$REGISTRY_AUTH_FILE` (the containers tools' explicit auth file),
//! 2. `$XDG_RUNTIME_DIR/containers/auth.json` (what `podman login` writes),
//! 3. `$XDG_CONFIG_HOME/containers/auth.json`, else `~/.config/containers/auth.json`,
//! 4. `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json` (what `docker login` and
//!    GitHub's `docker/login-action` write).
//!
//! In each file a `credHelpers` entry for the registry wins, then an `auths` entry (the
//! most specific `host/namespace` key first), then `credsStore`; the first file that knows
//! the registry decides. A helper is `docker-credential-<name> get`, run with the
//! registry on stdin, bounded in time and output.
//!
//! A secret never reaches a message: `Secret` prints as `<redacted>`, errors name the file
//! or helper, never what it held.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::Value;

/// The most bytes read from one auth file or one helper's answer.
const MAX_AUTH_BYTES: u64 = 1 << 20;
/// How long a credential helper may take.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// A password or token: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: String) -> Self {
        Self(text)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A user name and its password (or an identity token), with where they came from.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub username: String,
    pub secret: Secret,
    /// The file or helper they came from, for messages.
    pub source: String,
}

impl Credentials {
    /// The `Authorization` value of HTTP basic auth.
    pub fn basic(&self) -> String {
        let pair = format!("{}:{}", self.username, self.secret.expose());
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{path}: {why}")]
    File { path: PathBuf, why: String },
    #[error("the credential helper docker-credential-{helper}: {why}")]
    Helper { helper: String, why: String },
}

/// Where credentials are looked up, in order (the environment decides).
pub fn auth_files() -> Vec<PathBuf> {
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let home = env("HOME");
    let mut files = Vec::new();
    files.extend(env("REGISTRY_AUTH_FILE"));
    if let Some(run) = env("XDG_RUNTIME_DIR") {
        files.push(run.join("containers/auth.json"));
    }
    if let Some(config) =
        env("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config")))
    {
        files.push(config.join("containers/auth.json"));
    }
    if let Some(docker) = env("DOCKER_CONFIG").or_else(|| home.as_ref().map(|h| h.join(".docker")))
    {
        files.push(docker.join("config.json"));
    }
    files
}

/// The credentials for `host` (and repository `repo`) from the first file that has any.
pub fn lookup(host: &str, repo: &str) -> Result<Option<Credentials>, AuthError> {
    for path in auth_files() {
        if let Some(found) = lookup_in(&path, host, repo)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// The keys an auth file may use for `host`: `host/ns/repo` prefixes, longest first, then
/// `host`; Docker Hub under all its names.
fn keys(host: &str, repo: &str) -> Vec<String> {
    let hub = is_docker_hub(host);
    let host = if hub { "docker.io" } else { host };
    let mut keys = Vec::new();
    let parts: Vec<&str> = repo.split('/').collect();
    for n in (1..=parts.len()).rev() {
        keys.push(format!("{host}/{}", parts[..n].join("/")));
    }
    keys.push(host.to_owned());
    keys
}

fn is_docker_hub(host: &str) -> bool {
    matches!(
        host,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    )
}

/// A key as written in a file (`https://host/v1/`, `host`, `host/ns`) in the form of
/// `keys`.
fn normalise_key(key: &str) -> String {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let key = key.trim_end_matches('/');
    let key = key.strip_suffix("/v1").unwrap_or(key);
    let key = key.strip_suffix("/v2").unwrap_or(key);
    let (host, rest) = key.split_once('/').unwrap_or((key, ""));
    let host = if is_docker_hub(host) {
        "docker.io"
    } else {
        host
    };
    if rest.is_empty() {
        host.to_owned()
    } else {
        format!("{host}/{rest}")
    }
}

/// What `server` a helper is asked about: Docker Hub's historical URL, else the host.
fn helper_server(host: &str) -> String {
    if is_docker_hub(host) {
        "https://index.docker.io/v1/".to_owned()
    } else {
        host.to_owned()
    }
}

fn lookup_in(path: &Path, host: &str, repo: &str) -> Result<Option<Credentials>, AuthError> {
    let bad = |why: String| AuthError::File {
        path: path.to_owned(),
        why,
    };
    let bytes = match std::fs::File::open(path) {
        Ok(file) => {
            let mut bytes = Vec::new();
            file.take(MAX_AUTH_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| bad(e.to_string()))?;
            if bytes.len() as u64 > MAX_AUTH_BYTES {
                return Err(bad(format!("larger than {MAX_AUTH_BYTES} bytes")));
            }
            bytes
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(e.to_string())),
    };
    // The error of a JSON parser may quote the input: say where, never what.
    let doc: Value = serde_json::from_slice(&bytes).map_err(|e| {
        bad(format!(
            "not JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let wanted = keys(host, repo);
    let by_key = |table: &str| -> Option<(usize, String, Value)> {
        doc.get(table)?
            .as_object()?
            .iter()
            .filter_map(|(k, v)| {
                let norm = normalise_key(k);
                wanted
                    .iter()
                    .position(|w| *w == norm)
                    .map(|rank| (rank, k.clone(), v.clone()))
            })
            .min_by_key(|(rank, _, _)| *rank)
    };
    if let Some((_, _, helper)) = by_key("credHelpers")
        && let Some(helper) = helper.as_str()
    {
        return run_helper(helper, host);
    }
    if let Some((_, key, entry)) = by_key("auths") {
        let source = format!("{} (auths.\"{key}\")", path.display());
        if let Some(encoded) = entry.get("auth").and_then(Value::as_str)
            && !encoded.is_empty()
        {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    bad(format!(
                        "auths.\"{key}\".auth is not base64 of user:password"
                    ))
                })?;
            let (user, pass) = decoded.split_once(':').ok_or_else(|| {
                bad(format!(
                    "auths.\"{key}\".auth is not base64 of user:password"
                ))
            })?;
            return Ok(Some(Credentials {
                username: user.to_owned(),
                secret: Secret::new(pass.to_owned()),
                source,
            }));
        }
        if let (Some(user), Some(pass)) = (
            entry.get("username").and_then(Value::as_str),
            entry.get("password").and_then(Value::as_str),
        ) {
            return Ok(Some(Credentials {
                username: user.to_owned(),
                secret: Secret::new(pass.to_owned()),
                source,
            }));
        }
        if let Some(token) = entry.get("identitytoken").and_then(Value::as_str) {
            return Ok(Some(Credentials {
                username: "<token>".to_owned(),
                secret: Secret::new(token.to_owned()),
                source,
            }));
        }
    }
    if let Some(store) = doc.get("credsStore").and_then(Value::as_str)
        && !store.is_empty()
    {
        return run_helper(store, host);
    }
    Ok(None)
}

/// `docker-credential-<helper> get`, asked about `host`: `None` when it knows nothing.
fn run_helper(helper: &str, host: &str) -> Result<Option<Credentials>, AuthError> {
    let fail = |why: String| AuthError::Helper {
        helper: helper.to_owned(),
        why,
    };
    if helper.is_empty()
        || !helper
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(fail("not a helper name".to_owned()));
    }
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| fail(format!("cannot run {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is judged by its status below.
        let _ = stdin.write_all(helper_server(host).as_bytes());
    }
    let stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.take(MAX_AUTH_BYTES + 1).read_to_end(&mut out);
        out
    });
    let status = match crate::process::wait_within(&mut child, HELPER_TIMEOUT) {
        Ok(Some(status)) => status,
        Ok(None) => {
            return Err(fail(format!(
                "gave no answer in {} s",
                HELPER_TIMEOUT.as_secs()
            )));
        }
        Err(e) => return Err(fail(e.to_string())),
    };
    let out = reader.join().unwrap_or_default();
    if !status.success() {
        // "credentials not found in native keychain": the helper knows nothing of it.
        return Ok(None);
    }
    if out.len() as u64 > MAX_AUTH_BYTES {
        return Err(fail(format!("answered more than {MAX_AUTH_BYTES} bytes")));
    }
    let doc: Value = serde_json::from_slice(&out)
        .map_err(|_| fail("answered something that is not JSON".to_owned()))?;
    let (Some(user), Some(secret)) = (
        doc.get("Username").and_then(Value::as_str),
        doc.get("Secret").and_then(Value::as_str),
    ) else {
        return Err(fail("answered without Username and Secret".to_owned()));
    };
    Ok(Some(Credentials {
        username: user.to_owned(),
        secret: Secret::new(secret.to_owned()),
        source: program,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_from_every_writer_match_the_same_registry() {
        for written in [
            "https://index.docker.io/v1/",
            "index.docker.io",
            "docker.io",
            "registry-1.docker.io",
        ] {
            assert_eq!(normalise_key(written), "docker.io", "{written}");
        }
        assert_eq!(normalise_key("https://ghcr.io"), "ghcr.io");
        assert_eq!(normalise_key("ghcr.io/org/"), "ghcr.io/org");
        assert_eq!(
            keys("ghcr.io", "org/app"),
            ["ghcr.io/org/app", "ghcr.io/org", "ghcr.io"]
        );
    }

    #[test]
    fn the_most_specific_key_wins_and_secrets_do_not_print() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        std::fs::write(
            &path,
            format!(
                r#"{{"auths":{{"reg.example":{{"auth":"{}"}},"reg.example/team":{{"auth":"{}"}}}}}}"#,
                b64("wide:pw1"),
                b64("narrow:pw2")
            ),
        )
        .unwrap();
        let found = lookup_in(&path, "reg.example", "team/app")
            .unwrap()
            .unwrap();
        assert_eq!(found.username, "narrow");
        assert!(!format!("{found:?}").contains("pw2"));
        let found = lookup_in(&path, "reg.example", "other/app")
            .unwrap()
            .unwrap();
        assert_eq!(found.username, "wide");
        assert!(lookup_in(&path, "elsewhere", "app").unwrap().is_none());
    }

    #[test]
    fn a_broken_auth_file_is_named_without_its_contents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        std::fs::write(&path, r#"{"auths":{"r":{"auth":"s3cr3t-not-base64!"}"#).unwrap();
        let err = lookup_in(&path, "r", "a").unwrap_err().to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
    }
}
