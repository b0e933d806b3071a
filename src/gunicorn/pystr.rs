//! Python's `str` methods gunicorn's validators call: `strip()`, `lower()` and `repr()`.
//!
//! Their results end up in the value gunicorn keeps and in the message it prints before
//! exiting (`Invalid reload_engine: ' poll'`), so they follow `CPython` 3.11.

use super::pyint::is_space;

/// `s.strip()`: drops leading and trailing `str.isspace()` characters.
pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// `s.lower()`: full Unicode lowercase mapping, as Rust's (both follow `SpecialCasing`,
/// final sigma included).
pub fn lower(s: &str) -> String {
    s.to_lowercase()
}

/// `repr(s)`: single quotes unless the text has a single quote and no double quote;
/// backslash, the quote, `\t`, `\n`, `\r` escaped; characters Python does not print
/// (controls, separators other than the space, format characters, private use) as
/// `\xhh`, `\uhhhh` or `\Uhhhhhhhh`.
pub fn repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !printable(c) => {
                let code = u32::from(c);
                if code <= 0xff {
                    out.push_str(&format!("\\x{code:02x}"));
                } else if code <= 0xffff {
                    out.push_str(&format!("\\u{code:04x}"));
                } else {
                    out.push_str(&format!("\\U{code:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `str.isprintable()` for one character: false for categories Cc, Zs (but the space),
/// Zl, Zp, Cf and Co. Unassigned code points (Cn, also unprintable in Python) are not
/// known here and count as printable.
fn printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    let code = u32::from(c);
    let format = matches!(
        code,
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2 | 0x180e
            | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f
            | 0xfeff | 0xfff9..=0xfffb | 0x110bd | 0x110cd | 0x13430..=0x13438
            | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f
    );
    let private = matches!(code, 0xe000..=0xf8ff | 0xf0000..=0xffffd | 0x0010_0000..=0x0010_fffd);
    !(c.is_control() || c.is_whitespace() || format || private)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_follows_python() {
        assert_eq!(repr(" poll"), "' poll'");
        assert_eq!(repr("it's"), "\"it's\"");
        assert_eq!(repr("'\""), "'\\'\"'");
        assert_eq!(repr("a\\b\tc\n"), "'a\\\\b\\tc\\n'");
        assert_eq!(repr("\u{7}\u{a0}\u{200b}é名"), "'\\x07\\xa0\\u200bé名'");
        assert_eq!(repr("\u{f0000}"), "'\\U000f0000'");
    }

    #[test]
    fn strip_uses_python_whitespace() {
        assert_eq!(strip("\u{1c} x \u{3000}"), "x");
    }
}
