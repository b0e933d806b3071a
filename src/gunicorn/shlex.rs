//! Python's `shlex` in POSIX mode, the way gunicorn splits `GUNICORN_CMD_ARGS`.
//!
//! `split` is `shlex.split(s)` (posix=True, comments=False) as `CPython` 3.11 runs it;
//! `quote` and `join` produce a string that `split` turns back into exactly the given argv.
//! The oracle test runs the real Python on both.

/// Why `shlex.split` raised `ValueError`; the text is Python's message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("No closing quotation")]
    NoClosingQuotation,
    #[error("No escaped character")]
    NoEscapedCharacter,
}

/// One word `split` produced and where it started in the input (a char offset is no use
/// to a caret, so this is a byte offset).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub offset: usize,
}

/// The states of `CPython`'s `shlex.read_token` that POSIX splitting reaches.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Between,
    Word,
    Single,
    Double,
    /// After a backslash; remembers where to go back to.
    Escape(Back),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Back {
    Word,
    Double,
}

/// Python's `shlex.whitespace`: only these four separate words. A vertical tab or a
/// non-breaking space is part of a word.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// `shlex.split(text)`: the argv gunicorn builds from `GUNICORN_CMD_ARGS`.
pub fn split(text: &str) -> Result<Vec<String>, SplitError> {
    Ok(split_words(text)?.into_iter().map(|w| w.text).collect())
}

/// `split`, keeping where each word began.
pub fn split_words(text: &str) -> Result<Vec<Word>, SplitError> {
    let mut words = Vec::new();
    let mut state = State::Between;
    let mut token = String::new();
    // A quoted empty string ('' or "") is a word; an empty unquoted run is not.
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match state {
            State::Between => {
                if is_space(c) {
                    continue;
                }
                start = i;
                state = match c {
                    '\\' => State::Escape(Back::Word),
                    '\'' => State::Single,
                    '"' => State::Double,
                    _ => {
                        token.push(c);
                        State::Word
                    }
                };
            }
            State::Word => match c {
                c if is_space(c) => {
                    words.push(Word {
                        text: std::mem::take(&mut token),
                        offset: start,
                    });
                    quoted = false;
                    state = State::Between;
                }
                '\'' => state = State::Single,
                '"' => state = State::Double,
                '\\' => state = State::Escape(Back::Word),
                _ => token.push(c),
            },
            State::Single => {
                quoted = true;
                if c == '\'' {
                    state = State::Word;
                } else {
                    token.push(c);
                }
            }
            State::Double => {
                quoted = true;
                match c {
                    '"' => state = State::Word,
                    '\\' => state = State::Escape(Back::Double),
                    _ => token.push(c),
                }
            }
            State::Escape(back) => {
                // Inside double quotes only `"` and `\` can be escaped; before anything
                // else the backslash stays. Outside quotes it escapes any character,
                // a newline included (kept, unlike in sh).
                if back == Back::Double && c != '"' && c != '\\' {
                    token.push('\\');
                }
                token.push(c);
                state = match back {
                    Back::Word => State::Word,
                    Back::Double => State::Double,
                };
            }
        }
    }
    match state {
        State::Single | State::Double => Err(SplitError::NoClosingQuotation),
        State::Escape(_) => Err(SplitError::NoEscapedCharacter),
        State::Word => {
            if !token.is_empty() || quoted {
                words.push(Word {
                    text: token,
                    offset: start,
                });
            }
            Ok(words)
        }
        State::Between => Ok(words),
    }
}

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
    use super::{SplitError, join, quote, split};

    fn ok(text: &str) -> Vec<String> {
        split(text).unwrap()
    }

    #[test]
    fn splits_like_python() {
        assert_eq!(ok("  -w 3\t--bind=a\n"), ["-w", "3", "--bind=a"]);
        assert_eq!(ok("'' \"\""), ["", ""]);
        assert_eq!(ok("a'b c'd"), ["ab cd"]);
        assert_eq!(ok(r#""a\"b\\c\$d""#), [r#"a"b\c\$d"#]);
        assert_eq!(ok(r"a\ b \'x"), ["a b", "'x"]);
        assert_eq!(ok(r"'a\b'"), [r"a\b"]);
        assert_eq!(ok("a#b #c"), ["a#b", "#c"]);
        assert_eq!(ok("a\u{b}b"), ["a\u{b}b"]);
        assert!(ok("").is_empty());
    }

    #[test]
    fn reports_pythons_errors() {
        assert_eq!(split("'abc"), Err(SplitError::NoClosingQuotation));
        assert_eq!(split("\"a\\\""), Err(SplitError::NoClosingQuotation));
        assert_eq!(split("abc\\"), Err(SplitError::NoEscapedCharacter));
    }

    #[test]
    fn join_round_trips() {
        let argv = [
            "--access-logformat=%(h)s \"%(r)s\"",
            "it's",
            "",
            "a\\b",
            "ü",
        ];
        assert_eq!(split(&join(&argv)).unwrap(), argv);
    }

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
