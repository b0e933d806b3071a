//! Reading app.yaml from disk into a `RawSpec`, turning every failure into a finding that
//! points at the line and column.

use std::io::Read;
use std::path::Path;

use serde_saphyr::{MessageFormatter, Spanned, UserMessageFormatter};

use super::SpecError;
use super::raw::RawSpec;
use crate::diagnostic::{Finding, Source, Span};
use crate::rules;

/// No real app.yaml comes near this; anything larger is refused before it is parsed.
pub const MAX_SPEC_BYTES: u64 = 1024 * 1024;

/// Reads and parses the spec at `path`. `display` is the name to show in messages.
pub fn load(path: &Path, display: &str) -> Result<(Source, RawSpec), SpecError> {
    let source = Source::new(display, read_text(path, display)?);
    match parse(&source.text) {
        Ok(raw) => Ok((source, raw)),
        Err(finding) => Err(SpecError::Invalid {
            input: source,
            findings: vec![*finding],
        }),
    }
}

/// The text of the file at `path`, at most `MAX_SPEC_BYTES`, UTF-8.
pub(super) fn read_text(path: &Path, display: &str) -> Result<String, SpecError> {
    let io = |source| SpecError::Io {
        path: display.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_SPEC_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return Err(SpecError::TooLarge {
            path: display.to_owned(),
            limit: MAX_SPEC_BYTES,
        });
    }
    decode(&bytes).map_err(|(line, column)| SpecError::NotUtf8 {
        path: display.to_owned(),
        line,
        column,
    })
}

/// UTF-8 text without a leading byte-order mark; on failure the 1-based line and column
/// of the first bad byte.
fn decode(bytes: &[u8]) -> Result<String, (u64, u64)> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_owned()),
        Err(err) => {
            let (line, column) = crate::read::utf8_error_at(&bytes[..err.valid_up_to()]);
            Err((line as u64, column as u64))
        }
    }
}

/// Parses spec text; the error is a finding located in `text`.
pub fn parse(text: &str) -> Result<RawSpec, Box<Finding>> {
    if text.trim().is_empty() {
        return Err(Box::new(
            Finding::error(rules::INVALID_VALUE, "app.yaml is empty")
                .help("see docs/spec.md for the keys a spec needs, or copy one from examples/"),
        ));
    }
    let options = serde_saphyr::options! {
        strict_booleans: true,
    };
    serde_saphyr::from_str_with_options::<RawSpec>(text, options)
        .map_err(|err| Box::new(to_finding(text, &err)))
}

pub(super) fn to_finding(text: &str, err: &serde_saphyr::Error) -> Finding {
    use serde_saphyr::Error as E;
    let inner = err.without_snippet();
    let span = err.location().and_then(|loc| span_of(text, loc));
    let schema_help = "see docs/spec.md for every key, its type and its default";
    match inner {
        E::SerdeUnknownField {
            field, expected, ..
        } => {
            let finding =
                Finding::error(rules::UNKNOWN_KEY, format!("unknown key `{field}`")).at(span);
            match suggest(field, expected) {
                Some(best) => finding.help(format!("did you mean `{best}`?")),
                None => finding.help(format!("keys allowed here: {}", expected.join(", "))),
            }
        }
        E::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            let finding = Finding::error(
                rules::INVALID_VALUE,
                format!("`{variant}` is not one of {}", expected.join(", ")),
            )
            .at(span);
            match suggest(variant, expected) {
                Some(best) => finding.help(format!("did you mean `{best}`?")),
                None => finding.help(schema_help),
            }
        }
        E::InvalidScalar { ty, .. } => {
            let what = match *ty {
                "i64" | "u32" | "u64" | "i32" => "a whole number",
                "f64" => "a number",
                "bool" => "true or false",
                other => other,
            };
            Finding::error(rules::INVALID_VALUE, format!("expected {what} here"))
                .at(span)
                .help(schema_help)
        }
        E::Unexpected { expected, .. } => {
            let what = match *expected {
                "string scalar" => "a single value (a string)",
                "mapping start" => "a mapping of `key: value` lines",
                "sequence start" => "a list",
                other => other,
            };
            Finding::error(rules::INVALID_VALUE, format!("expected {what} here"))
                .at(span)
                .help(schema_help)
        }
        E::SerdeMissingField { field, .. } => {
            let section = span
                .as_ref()
                .map(|s| section_at(text, s))
                .unwrap_or_default();
            let (message, help) = if section.is_empty() {
                (
                    format!("the spec has no top-level `{field}`"),
                    if *field == "version" {
                        "add `version: 1` as the first line: the version of the spec format this file is written in".to_owned()
                    } else {
                        format!("add `{field}:` at the top level; {schema_help}")
                    },
                )
            } else {
                let path = section.join(".");
                (
                    format!("`{path}` has no `{field}`"),
                    format!("add `{field}:` under `{path}`; {schema_help}"),
                )
            };
            Finding::error(rules::INVALID_VALUE, message)
                .at(span)
                .help(help)
        }
        E::SerdeInvalidType { .. }
        | E::SerdeInvalidValue { .. }
        | E::SerdeInvalidLength { .. }
        | E::InvalidBooleanStrict { .. }
        | E::NullIntoString { .. }
        | E::Message { .. }
        | E::DuplicateMappingKey { .. } => {
            let message = UserMessageFormatter.format_message(inner).into_owned();
            Finding::error(rules::INVALID_VALUE, lower_first(&message))
                .at(span)
                .help(schema_help)
        }
        _ => {
            let message = UserMessageFormatter.format_message(inner).into_owned();
            Finding::error(rules::YAML_SYNTAX, lower_first(&message)).at(span).help(
                "fix the YAML at this point; quote values that contain `: `, ` #` or start with `*`, `&`, `!`, `{` or `[`",
            )
        }
    }
}

/// The keys of the block mappings enclosing `span` (`["server", "tls"]`), read from the
/// indentation of the lines above it; empty at the top level. The parser reports a
/// missing key at a key of the mapping that lacks it, so this names that mapping.
fn section_at(text: &str, span: &Span) -> Vec<String> {
    let mut indent = usize::try_from(span.column.saturating_sub(1)).unwrap_or(0);
    let line = usize::try_from(span.line).unwrap_or(0);
    let mut path = Vec::new();
    for above in text
        .lines()
        .take(line.saturating_sub(1))
        .collect::<Vec<_>>()
        .iter()
        .rev()
    {
        if indent == 0 {
            break;
        }
        let body = above.trim_start();
        let depth = above.len() - body.len();
        if body.is_empty() || body.starts_with('#') || depth >= indent {
            continue;
        }
        let Some((key, _)) = body.trim_start_matches("- ").split_once(':') else {
            break;
        };
        path.push(key.trim().trim_matches(['"', '\'']).to_owned());
        indent = depth;
    }
    path.reverse();
    path
}

/// The span of a value read with `Spanned`, for findings raised after loading.
pub fn span<T>(spanned: &Spanned<T>, text: &str) -> Option<Span> {
    span_of(text, spanned.referenced)
}

fn span_of(text: &str, loc: serde_saphyr::Location) -> Option<Span> {
    if loc == serde_saphyr::Location::UNKNOWN || loc.line() == 0 {
        return None;
    }
    let offset = loc.span().byte_offset().map_or_else(
        || offset_of(text, loc.line(), loc.column()),
        |o| usize::try_from(o).unwrap_or(usize::MAX),
    );
    let offset = offset.min(text.len());
    let len = loc
        .span()
        .byte_len()
        .map_or(0, |l| usize::try_from(l).unwrap_or(0));
    // A value's span ends at its last character; never let it run past its own line.
    let line_end = text[offset..]
        .find(['\n', '\r'])
        .map_or(text.len(), |i| offset + i);
    let len = len
        .min(line_end - offset)
        .max(usize::from(line_end > offset));
    Some(Span {
        offset,
        len,
        line: loc.line(),
        column: loc.column(),
    })
}

fn offset_of(text: &str, line: u64, column: u64) -> usize {
    let line_start = text
        .split_inclusive('\n')
        .take(usize::try_from(line.saturating_sub(1)).unwrap_or(usize::MAX))
        .map(str::len)
        .sum::<usize>();
    let rest = &text[line_start.min(text.len())..];
    let col = usize::try_from(column.saturating_sub(1)).unwrap_or(usize::MAX);
    line_start + rest.char_indices().nth(col).map_or(rest.len(), |(i, _)| i)
}

/// The closest allowed name, when it is close enough to be what the user meant.
pub fn suggest<'a>(given: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|name| (strsim::jaro_winkler(given, name), *name))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
}

fn lower_first(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first
            .to_lowercase()
            .chain(chars)
            .collect::<String>()
            .trim_end_matches('.')
            .to_owned(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn missing(text: &str) -> (String, u64, Option<String>) {
        let finding = parse(text).expect_err("the spec lacks a key");
        let line = finding.span.as_ref().map_or(0, |s| s.line);
        (finding.message, line, finding.help)
    }

    #[test]
    fn a_missing_key_names_the_section_that_lacks_it() {
        let (message, _, help) = missing("name: x\napp:\n  module: a:b\n  interface: wsgi\n");
        assert_eq!(message, "the spec has no top-level `version`");
        assert!(
            help.unwrap()
                .starts_with("add `version: 1` as the first line")
        );

        let (message, line, help) = missing("version: 1\nname: x\napp:\n  module: a:b\n");
        assert_eq!((message.as_str(), line), ("`app` has no `interface`", 4));
        assert!(help.unwrap().starts_with("add `interface:` under `app`"));

        let (message, _, _) = missing(
            "version: 1\nname: x\napp:\n  module: a:b\n  interface: wsgi\ntls:\n# a comment at column 1\n  certfile: c.pem\n",
        );
        assert_eq!(message, "`tls` has no `dir`");
    }
}
