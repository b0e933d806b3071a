//! `PySource`: a Python file as logical lines, with comments and triple-quoted strings
//! removed and bracketed continuations joined, so detection can match statements by
//! their first words without a Python parser.

/// One logical line: where it starts, how far it is indented, and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// 1-based number of the physical line it starts on.
    pub number: usize,
    pub indent: usize,
    pub text: String,
}

#[derive(Debug)]
pub struct PySource {
    pub lines: Vec<Line>,
}

impl PySource {
    pub fn parse(text: &str) -> Self {
        let mut lines: Vec<Line> = Vec::new();
        let mut in_triple: Option<&str> = None;
        let mut pending: Option<(Line, i32)> = None;
        for (i, raw) in text.lines().enumerate() {
            if let Some(quote) = in_triple {
                if raw.matches(quote).count() % 2 == 1 {
                    in_triple = None;
                }
                continue;
            }
            if let Some(quote) = ["\"\"\"", "'''"]
                .into_iter()
                .find(|q| raw.matches(q).count() % 2 == 1)
            {
                // A docstring or multi-line string opens here; its text is not code.
                in_triple = Some(quote);
                continue;
            }
            let code = strip_comment(raw);
            if let Some((mut line, depth)) = pending.take() {
                join(&mut line.text, code.trim());
                let depth = depth + bracket_depth(code);
                if depth > 0 && line.text.len() < 4096 {
                    pending = Some((line, depth));
                } else {
                    lines.push(line);
                }
                continue;
            }
            if code.trim().is_empty() {
                continue;
            }
            let line = Line {
                number: i + 1,
                indent: code.len() - code.trim_start().len(),
                text: code.trim().to_owned(),
            };
            let depth = bracket_depth(code);
            if depth > 0 {
                pending = Some((line, depth));
            } else {
                lines.push(line);
            }
        }
        if let Some((line, _)) = pending {
            lines.push(line);
        }
        Self { lines }
    }
}

/// Appends a continuation line the way a person would write the statement on one line:
/// `f(a, b)`, not `f( a, b, )`.
fn join(text: &mut String, next: &str) {
    if next.starts_with([')', ']', '}']) {
        let trimmed = text.trim_end_matches([',', ' ']).len();
        text.truncate(trimmed);
    } else if !text.ends_with(['(', '[', '{']) && !next.is_empty() {
        text.push(' ');
    }
    text.push_str(next);
}

/// The line up to a `#` that is not inside a string literal.
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            None if c == '#' => return &line[..i],
            None if c == '"' || c == '\'' => quote = Some(c),
            Some(_) | None => {}
        }
    }
    line
}

/// Opening minus closing brackets outside string literals.
fn bracket_depth(code: &str) -> i32 {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for c in code.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' => quote = Some(c),
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                _ => {}
            },
        }
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::PySource;

    #[test]
    fn joins_continuations_and_drops_comments_and_docstrings() {
        let src = PySource::parse(
            "\"\"\"Docs.\n\napp = Flask(x)\n\"\"\"\nfrom fastapi import (  # web\n    FastAPI,\n)\napp = FastAPI(title=\"a # b\")  # main\n",
        );
        let texts: Vec<_> = src
            .lines
            .iter()
            .map(|l| (l.number, l.text.as_str()))
            .collect();
        assert_eq!(
            texts,
            [
                (5, "from fastapi import (FastAPI)"),
                (8, "app = FastAPI(title=\"a # b\")")
            ]
        );
    }
}
