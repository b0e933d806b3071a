//! Python packaging knowledge shared by validation, `init` and `build`: package names as
//! PEP 503 compares them, uv and pdm lock files, and the dependencies pyproject.toml declares.

pub mod pdmlock;
pub mod poetry;
pub mod pyc;
pub mod pyproject;
pub mod requirements;
pub mod stack;
pub mod uvlock;
pub mod version;

/// Lock files larger than this are refused before they are parsed.
const MAX_LOCK_BYTES: u64 = 16 * 1024 * 1024;

/// The text of the lock file at `path`; the error is a sentence for a message.
fn lock_text(path: &std::path::Path) -> Result<String, String> {
    crate::read::text(path, MAX_LOCK_BYTES).map_err(|e| match e {
        crate::read::ReadError::TooLarge { .. } => {
            format!("is larger than {MAX_LOCK_BYTES} bytes")
        }
        other => format!("cannot be read: {other}"),
    })
}

/// A character of a package or extra name as written: ASCII letters, digits, `-`, `_`, `.`.
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// A package or extra name as PEP 508 allows it: name characters, starting and ending with a
/// letter or digit. (`-fastapi` is not one: at the start of a requirements line it is an
/// option to pip or uv.)
pub fn is_name(name: &str) -> bool {
    name.chars().all(is_name_char)
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// A package name as PEP 503 compares it: lowercase, every run of `-`, `_` and `.` one `-`.
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn pep_503_names() {
        assert_eq!(normalise("Typing_Extensions"), "typing-extensions");
        assert_eq!(normalise("Typing.Extensions"), "typing-extensions");
        assert_eq!(normalise("a--_.b"), "a-b");
        assert_eq!(normalise("uvicorn_worker"), "uvicorn-worker");
    }
}
