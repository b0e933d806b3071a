//! Python's `shlex` in POSIX mode, the way gunicorn splits `GUNICORN_CMD_ARGS`.
//!
//! `quote` and `join` produce a string that `shlex.split` turns back into exactly the
//! given argv; a test runs the real Python on it.

/// Characters `shlex.quote` leaves bare (Python's `_find_unsafe` is `[^\w@%+=:,./-]`, ASCII).
fn is_safe(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '_' | '@' | '%' | '+' | '=' | ':' | ',' | '.' | '/' | '-')
}

/// Quotes one argument so that POSIX shell splitting gives it back unchanged.
pub fn quote(arg: &str) -> String {
    if arg.is_empty() {
        return "''".to_owned();
    }
    if arg.chars().all(is_safe) {
        return arg.to_owned();
    }
    // Single quotes keep everything literal; a single quote itself is closed, escaped, reopened.
    format!("'{}'", arg.replace('\'', r#"'"'"'"#))
}

/// Joins an argv into one string, quoting each argument as needed.
pub fn join<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter()
        .map(|a| quote(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::{join, quote};

    #[test]
    fn leaves_plain_flags_bare() {
        assert_eq!(
            join(&["--bind=0.0.0.0:8443", "--access-logfile=-"]),
            "--bind=0.0.0.0:8443 --access-logfile=-"
        );
    }

    #[test]
    fn quotes_what_the_shell_would_split_or_expand() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r#"'it'"'"'s'"#);
        assert_eq!(quote("$HOME"), "'$HOME'");
    }
}
