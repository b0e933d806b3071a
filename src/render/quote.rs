//! Dockerfile string quoting for ENV and LABEL values.
//!
//! Parsers disagree on backslashes inside double quotes: `BuildKit` and buildah read `\\` as
//! one backslash, the lexer of older Docker releases (and dockerfile-parse) keep both.
//! Outside quotes every one of them reads `\x` as a literal `x`. So a value with a backslash
//! or a `$` is written unquoted with each special character escaped, and any other value in
//! double quotes, where only `"` needs escaping: both forms mean the same to every parser.
//! A word may not end in `\` (at the end of a line the builder reads a continuation) or in
//! an escaped space (some parsers trim it), so such a value is closed with an empty `""`.

/// A Dockerfile word whose value, after the builder's quote and escape processing, is
/// exactly `value`. Control characters never get here (the spec refuses them).
pub fn dockerfile_str(value: &str) -> String {
    if value.contains(['\\', '$']) {
        let mut out = String::with_capacity(value.len() * 2);
        for c in value.chars() {
            if matches!(c, '\\' | '"' | '\'' | '$') || c.is_whitespace() {
                out.push('\\');
            }
            out.push(c);
        }
        // A word ending in `\` continues the line; one ending in an escaped space can lose
        // the space to a parser that trims lines (dockerfile-parse trims Unicode spaces).
        if value.ends_with(|c: char| c == '\\' || c.is_whitespace()) {
            out.push_str("\"\"");
        }
        out
    } else {
        format!("\"{}\"", value.replace('"', "\\\""))
    }
}

#[cfg(test)]
mod tests {
    use super::dockerfile_str;

    #[test]
    fn plain_values_are_double_quoted() {
        assert_eq!(dockerfile_str("plain"), "\"plain\"");
        assert_eq!(dockerfile_str(""), "\"\"");
        assert_eq!(dockerfile_str("say \"hi\" it's"), r#""say \"hi\" it's""#);
    }

    #[test]
    fn backslashes_and_dollars_are_escaped_outside_quotes() {
        assert_eq!(dockerfile_str(r#"a "b" \c $d"#), r#"a\ \"b\"\ \\c\ \$d"#);
        assert_eq!(dockerfile_str("$HOME"), r"\$HOME");
    }

    #[test]
    fn a_trailing_backslash_cannot_continue_the_line() {
        assert_eq!(dockerfile_str(r"C:\build\"), r#"C:\\build\\"""#);
        assert_eq!(dockerfile_str("$x\u{a0}"), "\\$x\\\u{a0}\"\"");
    }
}
