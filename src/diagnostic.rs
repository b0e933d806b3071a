//! Findings: what fabuild tells a user about their input, pointing at the place it came from.
//!
//! A finding carries a rule id, a severity, a one-line message in lower case, the span of the
//! offending value and a help line saying what to do. `render_text` draws one the way
//! compilers do; the CLI decides whether to colour it.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Serialize;

use crate::rules::Rule;

/// How serious a finding is. Errors stop generation; warnings are reported and let it go on;
/// notes are facts worth knowing that need no change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

/// Where a finding points: byte range for the caret, line and column (1-based) for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Span {
    #[serde(skip)]
    pub offset: usize,
    #[serde(skip)]
    pub len: usize,
    pub line: u64,
    pub column: u64,
}

/// One thing wrong (or worth knowing) about an input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: Rule,
    pub severity: Severity,
    pub message: String,
    pub span: Option<Span>,
    pub help: Option<String>,
}

impl Finding {
    pub fn error(rule: Rule, message: impl Into<String>) -> Self {
        Self {
            rule,
            severity: Severity::Error,
            message: message.into(),
            span: None,
            help: None,
        }
    }

    pub fn warning(rule: Rule, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(rule, message)
        }
    }

    #[must_use]
    pub fn at(mut self, span: Option<Span>) -> Self {
        self.span = span;
        self
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The text a set of findings points into, with the name to show for it.
///
/// A spec that `extends` platform files is read as one text: the spec, then each platform
/// file of its chain, each starting on a line of its own. `parts` says where each file
/// after the first starts, so a finding names the file its value was written in.
#[derive(Clone, Debug)]
pub struct Source {
    pub name: String,
    pub text: Arc<str>,
    pub parts: Vec<Part>,
}

/// A file after the first in a `Source`'s text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    /// Byte offset of its first character in the text.
    pub start: usize,
    /// Lines of the text before it.
    pub lines_before: u64,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
            parts: Vec::new(),
        }
    }

    /// The part holding byte `offset`, if it is not the first file.
    fn part_at(&self, offset: usize) -> Option<&Part> {
        self.parts.iter().rev().find(|p| p.start <= offset)
    }

    /// The name of the file byte `offset` of the text is in.
    pub fn name_at(&self, offset: usize) -> &str {
        self.part_at(offset).map_or(&self.name, |p| &p.name)
    }

    /// The text of the first file alone.
    pub fn first_text(&self) -> &str {
        let end = self.parts.first().map_or(self.text.len(), |p| p.start);
        &self.text[..end]
    }

    /// `span` as the parser reported it over the whole text, with its line counted in
    /// its own file.
    pub fn localize(&self, mut span: Span) -> Span {
        if let Some(part) = self.part_at(span.offset) {
            span.line = span.line.saturating_sub(part.lines_before);
        }
        span
    }

    /// `file:line` of a span, for messages that cite another place.
    pub fn cite(&self, span: &Span) -> String {
        format!("{}:{}", self.name_at(span.offset), span.line)
    }
}

/// `text` with every control character but tab shown as U+FFFD: input is echoed to a
/// terminal, and an escape sequence or NUL from a spec must not reach it. One character
/// for one, so carets stay aligned.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

/// `text` with the password of every URL in it (`scheme://user:password@host`) shown as
/// `***`: a spec that wrongly carries one (FAB094) must not have it echoed to a terminal,
/// a CI log or a JSON report. Everything fabuild prints goes through this; the user name
/// and the host stay, so the reader still sees which URL is meant.
pub fn mask_credentials(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut masked = false;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The authority ends where a URL parser ends it (`/`, `?`, `#`), or where the URL
        // itself ends in the text around it.
        let end = tail
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '"' | '\'' | '`' | '<' | '>' | '\\')
                    || c.is_whitespace()
                    || c.is_control()
            })
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        let password = authority
            .rfind('@')
            .and_then(|at| authority[..at].find(':').map(|colon| (colon + 1, at)))
            .filter(|(from, to)| from < to);
        match password {
            Some((from, to)) => {
                out.push_str(&authority[..from]);
                out.push_str("***");
                out.push_str(&authority[to..]);
                masked = true;
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    if !masked {
        return Cow::Borrowed(text);
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Renders a finding the way compilers do: a `severity[id]: message` line, the
/// `file:line:column`, the source line with a caret under the value, and the help.
///
/// `color` adds ANSI styling; the caller decides (terminal, `NO_COLOR`).
pub fn render_text(finding: &Finding, source: &Source, color: bool) -> String {
    let help = finding
        .help
        .as_deref()
        .map(|h| printable(&mask_credentials(h)));
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    };
    let (word, code) = match finding.severity {
        Severity::Error => ("error", "1;31"),
        Severity::Warning => ("warning", "1;33"),
        Severity::Note => ("note", "1;36"),
    };
    let mut out = format!(
        "{}: {}\n",
        paint(code, &format!("{word}[{}]", finding.rule.id)),
        paint("1", &printable(&mask_credentials(&finding.message)))
    );
    match finding.span {
        Some(span) => {
            let line_no = span.line.to_string();
            let pad = " ".repeat(line_no.len());
            let line_start = source.text[..span.offset.min(source.text.len())]
                .rfind('\n')
                .map_or(0, |i| i + 1);
            // The line, the text before the value and the value, each with its URLs'
            // passwords masked, so the carets stay under the value as it is shown.
            let line = printable(&mask_credentials(
                source.text[line_start..].lines().next().unwrap_or(""),
            ));
            let before = mask_credentials(source.text.get(line_start..span.offset).unwrap_or(""));
            let marked = mask_credentials(
                source
                    .text
                    .get(span.offset..span.offset + span.len)
                    .unwrap_or(""),
            );
            let indent: String = before
                .chars()
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let carets = "^".repeat(marked.chars().count().max(1));
            out.push_str(&format!(
                "{pad}--> {}:{}:{}\n",
                source.name_at(span.offset),
                span.line,
                span.column
            ));
            out.push_str(&format!("{pad} |\n{line_no} | {line}\n"));
            out.push_str(&format!(
                "{pad} | {indent}{} {}\n",
                paint(code, &carets),
                finding.rule.title
            ));
            if let Some(help) = &help {
                out.push_str(&format!("{pad} = help: {help}\n"));
            }
        }
        None => {
            out.push_str(&format!("  --> {}\n", source.name));
            if let Some(help) = &help {
                out.push_str(&format!("   = help: {help}\n"));
            }
        }
    }
    out
}

/// A finding as tools read it (`--format json`).
#[derive(Serialize)]
pub struct JsonFinding<'a> {
    pub rule: &'static str,
    pub severity: Severity,
    pub message: &'a str,
    pub file: &'a str,
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub help: Option<&'a str>,
}

impl<'a> JsonFinding<'a> {
    /// `finding` in `source`; `file` names it when the finding has no place.
    pub fn new(finding: &'a Finding, source: &'a Source, file: &'a str) -> Self {
        Self {
            rule: finding.rule.id,
            severity: finding.severity,
            message: &finding.message,
            file: finding.span.map_or(file, |s| {
                if source.parts.is_empty() {
                    file
                } else {
                    source.name_at(s.offset)
                }
            }),
            line: finding.span.map(|s| s.line),
            column: finding.span.map(|s| s.column),
            help: finding.help.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mask_credentials;

    #[test]
    fn passwords_in_urls_are_masked_and_nothing_else_changes() {
        for (text, shown) in [
            (
                "index_url: https://ci:s3cret@pypi.corp.example/simple/",
                "index_url: https://ci:***@pypi.corp.example/simple/",
            ),
            // An unencoded `@` in the password: the host is after the last one.
            ("http://u:p@ss@h:8080", "http://u:***@h:8080"),
            (
                "\"a\": \"postgres://app:x@db/app\", \"b\": \"https://t:y@r?q=1\"",
                "\"a\": \"postgres://app:***@db/app\", \"b\": \"https://t:***@r?q=1\"",
            ),
            // No password, or no credentials: untouched.
            (
                "git+ssh://git@github.com/o/r",
                "git+ssh://git@github.com/o/r",
            ),
            ("https://h:8443/a@b", "https://h:8443/a@b"),
            (
                "user:pass@host without a scheme",
                "user:pass@host without a scheme",
            ),
            ("https://u:@h/", "https://u:@h/"),
        ] {
            assert_eq!(mask_credentials(text), shown, "{text}");
        }
    }
}
