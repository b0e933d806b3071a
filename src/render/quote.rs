//! Dockerfile string quoting for ENV and LABEL values.

/// A double-quoted Dockerfile string whose value, after the builder's quote and escape
/// processing, is exactly `value`. Inside double quotes the builder treats `\`, `"` and `$`
/// specially, so each is escaped; control characters never get here (the spec refuses them).
pub fn dockerfile_str(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '\\' | '"' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::dockerfile_str;

    #[test]
    fn escapes_what_the_builder_would_interpret() {
        assert_eq!(dockerfile_str("plain"), "\"plain\"");
        assert_eq!(dockerfile_str(r#"a"b\c$d"#), r#""a\"b\\c\$d""#);
    }
}
