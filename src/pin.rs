//! Pinning `python.base_image`: the digest written into app.yaml by replacing exactly the
//! bytes of that one scalar, so comments, key order, quoting and line endings stay as the
//! user wrote them (Renovate and Dependabot then update the pin like any other).

use crate::spec::load::span;
use crate::spec::raw::RawSpec;

/// `python.base_image` as written: its value and where its scalar sits in the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub value: String,
    /// Byte range of the value inside the text, quotes excluded.
    pub start: usize,
    pub end: usize,
}

/// Where `python.base_image`'s value is in `text`, if the spec sets one on one line.
pub fn base_image(text: &str, raw: &RawSpec) -> Option<Found> {
    let spanned = raw.python.base_image.as_ref()?;
    let at = span(spanned, text)?;
    let value = spanned.value.clone();
    // The span covers the scalar, quotes included when quoted; find the value inside it,
    // and never accept a place where the bytes are not the value itself (an escape).
    let line_end = text[at.offset..]
        .find(['\n', '\r'])
        .map_or(text.len(), |i| at.offset + i);
    let window = &text[at.offset..line_end];
    let inner = window.find(value.as_str())?;
    let start = at.offset + inner;
    Some(Found {
        end: start + value.len(),
        start,
        value,
    })
}

/// `reference` with `digest`, replacing a digest it had: `python:3.12-slim@sha256:...`.
pub fn with_digest(reference: &str, digest: &str) -> String {
    let name = reference.split('@').next().unwrap_or(reference);
    format!("{name}@{digest}")
}

/// `text` with the value at `found` replaced by `value`.
pub fn replace(text: &str, found: &Found, value: &str) -> String {
    let mut out = String::with_capacity(text.len() + value.len());
    out.push_str(&text[..found.start]);
    out.push_str(value);
    out.push_str(&text[found.end..]);
    out
}

/// `text` (a Kubernetes manifest) with every `image:` value whose repository is one of
/// `names` replaced by `image`, and how many were; the rest of each line (indent, list
/// dash, quotes, comment) stays.
pub fn resolve_images(text: &str, names: &[String], image: &str) -> (String, usize) {
    let mut out = String::with_capacity(text.len());
    let mut count = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start_matches([' ', '-']);
        let Some(after) = trimmed.strip_prefix("image:") else {
            out.push_str(line);
            continue;
        };
        let start = line.len() - after.len();
        let rest = after.trim_start();
        let start = start + (after.len() - rest.len());
        let (value, len) = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => match rest[1..].find(q) {
                Some(end) => (&rest[1..=end], end),
                None => ("", 0),
            },
            _ => {
                let end = rest.find([' ', '#', '\r', '\n']).unwrap_or(rest.len());
                (&rest[..end], end)
            }
        };
        let offset = start + usize::from(rest.starts_with(['"', '\'']));
        let repo = value.split('@').next().unwrap_or(value);
        let last_slash = repo.rfind('/').map_or(0, |i| i + 1);
        let repo = match repo[last_slash..].rfind(':') {
            Some(i) => &repo[..last_slash + i],
            None => repo,
        };
        if value.is_empty() || !names.iter().any(|n| n == repo) {
            out.push_str(line);
            continue;
        }
        count += 1;
        out.push_str(&line[..offset]);
        out.push_str(image);
        out.push_str(&line[offset + len..]);
    }
    (out, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_names_the_image_by_digest_and_leaves_the_rest() {
        let text = "spec:\n  containers:\n    - name: api\n      image: \"reg.example/team/api:1.2\"  # app\n    - name: sidecar\n      image: busybox:1\n";
        let names = ["reg.example/team/api".to_owned()];
        let (out, n) = resolve_images(text, &names, &format!("reg.example/team/api:1.2@{DIGEST}"));
        assert_eq!(n, 1);
        assert_eq!(
            out,
            format!(
                "spec:\n  containers:\n    - name: api\n      image: \"reg.example/team/api:1.2@{DIGEST}\"  # app\n    - name: sidecar\n      image: busybox:1\n"
            )
        );
    }

    const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000001";

    fn pinned(text: &str) -> String {
        let raw = crate::spec::load::parse(text).unwrap();
        let found = base_image(text, &raw).unwrap();
        replace(text, &found, &with_digest(&found.value, DIGEST))
    }

    #[test]
    fn only_the_value_changes_whatever_its_quoting() {
        let head = "version: 1\nname: api  # the service\napp:\n  module: app:app\n  interface: asgi\npython:\n";
        for (line, want) in [
            (
                "  base_image: python:3.12-slim # keep slim\n",
                format!("  base_image: python:3.12-slim@{DIGEST} # keep slim\n"),
            ),
            (
                "  base_image: \"python:3.12-slim\"\r\n",
                format!("  base_image: \"python:3.12-slim@{DIGEST}\"\r\n"),
            ),
            (
                "  # pinned by fabuild pin\n  base_image: 'python:3.12-slim@sha256:1111111111111111111111111111111111111111111111111111111111111111'\n",
                format!("  # pinned by fabuild pin\n  base_image: 'python:3.12-slim@{DIGEST}'\n"),
            ),
        ] {
            let text = format!("{head}  version: \"3.12\"\n{line}");
            assert_eq!(pinned(&text), format!("{head}  version: \"3.12\"\n{want}"));
        }
    }
}
