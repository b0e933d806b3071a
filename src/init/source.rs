//! `PySource`: a Python file as Python's tokenizer divides it into statements, so that
//! init (app detection, `gunicorn.conf.py`) can match statements by their words without a
//! Python parser, and every part of init reads a file the same way.
//!
//! Exact where it matters here: string literals (either quote, triple-quoted over several
//! lines, any prefix, backslash escapes, raw strings), comments, lines joined inside
//! `()`, `[]` and `{}` and after a trailing backslash. A statement holding a string over
//! several lines is one logical line, as in Python. Not handled: a lone carriage return is
//! not a line break (Python's universal newlines make it one), and `;` does not split a
//! line into statements.

use std::ops::Range;

/// The longest logical line kept, in bytes. A longer statement is still read to its end
/// (the lines after it are read right), but its text keeps only its first `MAX_LINE_BYTES`
/// bytes and it is marked `cut`: app detection sees its start, and init does not carry a
/// value from it. Real statements are far shorter; the cap bounds memory on hostile input.
pub const MAX_LINE_BYTES: usize = 4096;

/// One logical line: where it starts, how far it is indented, and its code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// 1-based number of the physical line it starts on.
    pub number: usize,
    pub indent: usize,
    /// The code on one line: comments removed, continuation lines joined with one space
    /// (none after an opening or before a closing bracket), string literals as written
    /// (a triple-quoted string keeps its line breaks).
    pub text: String,
    /// The bytes of the file it spans, from its first character of code to the end of its
    /// last physical line, trailing comment included.
    pub span: Range<usize>,
    /// The text stopped at `MAX_LINE_BYTES`.
    pub cut: bool,
    /// Byte offsets in `text` of commas a continuation line closed right after
    /// (`f(\n  a,\n)`): left out of `shown`.
    trailing_commas: Vec<usize>,
}

impl Line {
    /// The statement as a person would write it on one line: `f(a, b)`, not `f(a, b,)`.
    pub fn shown(&self) -> String {
        let mut left_out = self.trailing_commas.iter().peekable();
        let mut shown = String::with_capacity(self.text.len());
        for (at, c) in self.text.char_indices() {
            if left_out.next_if_eq(&&at).is_none() {
                shown.push(c);
            }
        }
        shown
    }

    /// Whether the statement is one physical line of the file.
    pub fn is_single(&self, source: &str) -> bool {
        !source[self.span.clone()].contains('\n')
    }

    /// The statement starts with a string literal, as a docstring does.
    pub fn is_string(&self) -> bool {
        let after_prefix = self
            .text
            .trim_start_matches(|c: char| c.is_ascii_alphabetic());
        after_prefix.starts_with(['"', '\''])
            && string_prefix(&self.text[..self.text.len() - after_prefix.len()]).is_some()
    }
}

#[derive(Debug)]
pub struct PySource {
    pub lines: Vec<Line>,
}

/// A string literal being read: its quote, and whether it is triple-quoted.
#[derive(Clone, Copy)]
struct OpenString {
    quote: char,
    triple: bool,
}

/// The logical line being read.
struct Building {
    line: Line,
    /// Open brackets.
    depth: usize,
    string: Option<OpenString>,
    /// The last physical line ended with a backslash outside a string.
    backslash: bool,
}

impl Building {
    fn push(&mut self, c: char) {
        if self.line.text.len() + c.len_utf8() <= MAX_LINE_BYTES {
            self.line.text.push(c);
        } else {
            self.line.cut = true;
        }
    }

    fn continues(&self) -> bool {
        self.depth > 0 || self.string.is_some() || self.backslash
    }

    /// Separates the code a continuation line brings from the text before it.
    fn join(&mut self, next: &str) {
        let text = &mut self.line.text;
        text.truncate(text.trim_end().len());
        if next.starts_with([')', ']', '}']) {
            let comma = text.len().wrapping_sub(1);
            if text.ends_with(',') && self.line.trailing_commas.last() != Some(&comma) {
                self.line.trailing_commas.push(comma);
            }
        } else if !text.is_empty() && !text.ends_with(['(', '[', '{']) {
            self.push(' ');
        }
    }

    /// Reads the code of one physical line from byte `from`, to its end or its comment.
    fn read(&mut self, code: &str, from: usize) {
        let mut chars = code[from..].char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            if let Some(open) = self.string {
                self.push(c);
                if c == '\\' {
                    // The next character is escaped, in raw strings too (`r"\""` goes on).
                    match chars.next() {
                        Some((_, next)) => self.push(next),
                        // A backslash ending the line continues a short string on the next.
                        None => return,
                    }
                } else if c == open.quote {
                    if !open.triple {
                        self.string = None;
                    } else if repeated(&code[from + at..], c, 3) {
                        chars.next();
                        chars.next();
                        self.push(c);
                        self.push(c);
                        self.string = None;
                    }
                }
                continue;
            }
            match c {
                '#' => return,
                '"' | '\'' => {
                    let triple = repeated(&code[from + at..], c, 3);
                    self.string = Some(OpenString { quote: c, triple });
                    self.push(c);
                    if triple {
                        chars.next();
                        chars.next();
                        self.push(c);
                        self.push(c);
                    }
                    continue;
                }
                '(' | '[' | '{' => self.depth += 1,
                ')' | ']' | '}' => self.depth = self.depth.saturating_sub(1),
                '\\' if chars.peek().is_none() => {
                    self.backslash = true;
                    return;
                }
                _ => {}
            }
            self.push(c);
        }
        // A short string the line does not close is a syntax error: it ends here.
        if self.string.is_some_and(|s| !s.triple) {
            self.string = None;
        }
    }
}

/// `text` starts with `times` of `quote`.
fn repeated(text: &str, quote: char, times: usize) -> bool {
    let mut chars = text.chars();
    (0..times).all(|_| chars.next() == Some(quote))
}

/// Spaces, tabs and form feeds: Python's indentation.
fn indent_of(code: &str) -> usize {
    code.len() - code.trim_start_matches([' ', '\t', '\x0c']).len()
}

impl PySource {
    pub fn parse(text: &str) -> Self {
        let text_start = if text.starts_with('\u{feff}') { 3 } else { 0 };
        let mut lines: Vec<Line> = Vec::new();
        let mut building: Option<Building> = None;
        let mut offset = text_start;
        for (index, physical) in text[text_start..].split('\n').enumerate() {
            let start = offset;
            offset += physical.len() + 1;
            let code = physical.strip_suffix('\r').unwrap_or(physical);
            let end = start + code.len();
            match building.as_mut() {
                Some(b) if b.string.is_some() => {
                    // Inside a triple-quoted string, or a short one a backslash continued:
                    // the line break is part of it.
                    b.push('\n');
                    b.read(code, 0);
                }
                Some(b) => {
                    b.backslash = false;
                    let indent = indent_of(code);
                    let rest = &code[indent..];
                    if !rest.is_empty() && !rest.starts_with('#') {
                        b.join(rest);
                        b.read(code, indent);
                    }
                }
                None => {
                    let indent = indent_of(code);
                    if code[indent..].is_empty() || code[indent..].starts_with('#') {
                        continue;
                    }
                    let mut b = Building {
                        line: Line {
                            number: index + 1,
                            indent,
                            text: String::new(),
                            span: start + indent..end,
                            cut: false,
                            trailing_commas: Vec::new(),
                        },
                        depth: 0,
                        string: None,
                        backslash: false,
                    };
                    b.read(code, indent);
                    building = Some(b);
                }
            }
            if let Some(b) = building.as_mut() {
                b.line.span.end = end;
                if !b.continues() {
                    finish(building.take(), &mut lines);
                }
            }
        }
        finish(building, &mut lines);
        Self { lines }
    }
}

fn finish(building: Option<Building>, lines: &mut Vec<Line>) {
    if let Some(mut b) = building {
        let text = &mut b.line.text;
        text.truncate(text.trim_end().len());
        if !text.is_empty() {
            lines.push(b.line);
        }
    }
}

/// What a string literal's prefix says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Prefix {
    raw: bool,
    /// `b`: bytes, not a string.
    bytes: bool,
    /// `f` or `t`: the value is computed from `{}` fields.
    formatted: bool,
}

/// A valid string prefix (`r`, `u`, `b`, `f`, `t` and their combinations, in any case).
fn string_prefix(prefix: &str) -> Option<Prefix> {
    let lower = prefix.to_ascii_lowercase();
    let valid = matches!(
        lower.as_str(),
        "" | "r" | "u" | "b" | "br" | "rb" | "f" | "fr" | "rf" | "t" | "tr" | "rt"
    );
    valid.then(|| Prefix {
        raw: lower.contains('r'),
        bytes: lower.contains('b'),
        formatted: lower.contains('f') || lower.contains('t'),
    })
}

/// The value of the string literal (or adjacent literals, which Python joins) that `text`
/// starts with, and the text after it. `None` when it is not a string literal, or its
/// value is not a plain `str` read from its text alone: bytes, an f-string with fields,
/// a `\N{...}` escape, an escape Python refuses, a lone surrogate.
pub fn string_literal(text: &str) -> Option<(String, &str)> {
    let (mut value, mut rest) = one_string(text)?;
    loop {
        let after = rest.trim_start();
        let starts_string = {
            let body = after.trim_start_matches(|c: char| c.is_ascii_alphabetic());
            body.starts_with(['"', '\''])
                && string_prefix(&after[..after.len() - body.len()]).is_some()
        };
        if !starts_string {
            return Some((value, rest));
        }
        let (next, after_next) = one_string(after)?;
        value.push_str(&next);
        rest = after_next;
    }
}

/// The arguments of a call whose opening `(` comes just before `text`: each argument's
/// code, trimmed (a trailing comma gives no empty argument), and the text after the
/// closing `)`. Strings and nested brackets are read whole. `None` when the call does not
/// close in `text`.
pub fn call_arguments(text: &str) -> Option<(Vec<&str>, &str)> {
    // Every byte looked at is ASCII, never inside a multi-byte character: slicing at
    // them stays on character boundaries.
    let bytes = text.as_bytes();
    let mut arguments = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            quote @ (b'"' | b'\'') => {
                let open = if bytes[at..].starts_with(&[quote; 3]) {
                    3
                } else {
                    1
                };
                let close = &bytes[at..at + open];
                let mut i = at + open;
                loop {
                    match bytes.get(i)? {
                        b'\\' => i += 2,
                        _ if bytes[i..].starts_with(close) => break,
                        _ => i += 1,
                    }
                }
                at = i + open;
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' if depth == 0 => {
                let last = text[start..at].trim();
                if !last.is_empty() {
                    arguments.push(last);
                }
                return Some((arguments, &text[at + 1..]));
            }
            b')' | b']' | b'}' => depth = depth.checked_sub(1)?,
            b',' if depth == 0 => {
                arguments.push(text[start..at].trim());
                start = at + 1;
            }
            _ => {}
        }
        at += 1;
    }
    None
}

/// A keyword argument `name=value` -> (`name`, `value`); `None` for a positional one.
pub fn keyword_argument(argument: &str) -> Option<(&str, &str)> {
    let (name, value) = argument.split_once('=')?;
    let name = name.trim();
    (!value.starts_with('=')
        && !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    .then(|| (name, value.trim()))
}

fn one_string(text: &str) -> Option<(String, &str)> {
    let body_at = text.find(['"', '\''])?;
    let prefix = string_prefix(&text[..body_at])?;
    if prefix.bytes {
        return None;
    }
    let quote = text[body_at..].chars().next()?;
    let triple = repeated(&text[body_at..], quote, 3);
    let open = if triple { 3 } else { 1 };
    let body = &text[body_at + open..];
    // The closing quote: the first one not escaped by a backslash.
    let mut end = None;
    let mut chars = body.char_indices();
    while let Some((at, c)) = chars.next() {
        if c == '\\' {
            chars.next();
        } else if c == quote && (!triple || repeated(&body[at..], quote, 3)) {
            end = Some(at);
            break;
        }
    }
    let end = end?;
    let raw = &body[..end];
    let rest = &body[end + open..];
    if prefix.formatted && raw.contains(['{', '}']) {
        return None;
    }
    let value = if prefix.raw {
        raw.to_owned()
    } else {
        unescape(raw)?
    };
    Some((value, rest))
}

/// A string literal's body with Python's escapes read.
fn unescape(body: &str) -> Option<String> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next()?;
        let simple = match e {
            '\n' => Some(None),
            '\\' | '\'' | '"' => Some(Some(e)),
            'a' => Some(Some('\x07')),
            'b' => Some(Some('\x08')),
            'f' => Some(Some('\x0c')),
            'n' => Some(Some('\n')),
            'r' => Some(Some('\r')),
            't' => Some(Some('\t')),
            'v' => Some(Some('\x0b')),
            _ => None,
        };
        if let Some(c) = simple {
            out.extend(c);
            continue;
        }
        let code = match e {
            '0'..='7' => {
                let mut n = e.to_digit(8)?;
                for _ in 0..2 {
                    match chars.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            n = n * 8 + d;
                            chars.next();
                        }
                        None => break,
                    }
                }
                n
            }
            'x' => hex(&mut chars, 2)?,
            'u' => hex(&mut chars, 4)?,
            'U' => hex(&mut chars, 8)?,
            // `\N{name}` needs Unicode's names; anything else keeps its backslash.
            'N' => return None,
            _ => {
                out.push('\\');
                out.push(e);
                continue;
            }
        };
        out.push(char::from_u32(code)?);
    }
    Some(out)
}

/// Exactly `digits` hex digits, as Python's `\x`, `\u` and `\U` take.
fn hex(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, digits: usize) -> Option<u32> {
    let mut n: u32 = 0;
    for _ in 0..digits {
        n = n.checked_mul(16)? + chars.next()?.to_digit(16)?;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::{MAX_LINE_BYTES, PySource, string_literal};

    fn texts(source: &str) -> Vec<(usize, usize, String)> {
        PySource::parse(source)
            .lines
            .iter()
            .map(|l| (l.number, l.indent, l.text.clone()))
            .collect()
    }

    #[test]
    fn joins_continuations_and_drops_comments_and_docstrings() {
        let src = PySource::parse(
            "\"\"\"Docs.\n\napp = Flask(x)\n\"\"\"\nfrom fastapi import (  # web\n    FastAPI,\n)\napp = FastAPI(title=\"a # b\")  # main\n",
        );
        let shown: Vec<_> = src
            .lines
            .iter()
            .filter(|l| !l.is_string())
            .map(|l| (l.number, l.shown()))
            .collect();
        assert_eq!(
            shown,
            [
                (5, "from fastapi import (FastAPI)".to_owned()),
                (8, "app = FastAPI(title=\"a # b\")".to_owned())
            ]
        );
        assert_eq!(src.lines[1].text, "from fastapi import (FastAPI,)");
    }

    #[test]
    fn a_statement_is_one_logical_line_whatever_it_spans() {
        let source = "bind = [\n    \"0.0.0.0:8000\",  # public\n]\nworkers = \\\n    4\napp = FastAPI(\n    description=\"\"\"Orders.\n\n  # not a comment ) ]\n\"\"\",\n)\nx = 'a\\\nb'\ndef f(\n  a=(1,\n     2),\n):\n    return r'\\\\'\n";
        assert_eq!(
            texts(source),
            [
                (1, 0, "bind = [\"0.0.0.0:8000\",]".to_owned()),
                (4, 0, "workers = 4".to_owned()),
                (
                    6,
                    0,
                    "app = FastAPI(description=\"\"\"Orders.\n\n  # not a comment ) ]\n\"\"\",)"
                        .to_owned()
                ),
                (12, 0, "x = 'a\\\nb'".to_owned()),
                (14, 0, "def f(a=(1, 2),):".to_owned()),
                (18, 4, "return r'\\\\'".to_owned()),
            ]
        );
        let src = PySource::parse(source);
        assert_eq!(src.lines[0].shown(), "bind = [\"0.0.0.0:8000\"]");
        assert_eq!(
            &source[src.lines[0].span.clone()],
            "bind = [\n    \"0.0.0.0:8000\",  # public\n]"
        );
        assert!(!src.lines[0].is_single(source));
        assert!(src.lines[1].text.len() < MAX_LINE_BYTES);
    }

    #[test]
    fn quotes_in_comments_and_other_strings_open_nothing() {
        let source = "# it's \"\"\"\nx = \"it's '''\"  # '''\ny = '\"\"\"'\nz = 1\n";
        assert_eq!(
            texts(source)
                .into_iter()
                .map(|(n, _, _)| n)
                .collect::<Vec<_>>(),
            [2, 3, 4]
        );
    }

    #[test]
    fn a_long_statement_is_cut_and_the_next_is_still_read() {
        let source = format!("x = [\n{}]\nz = 1\n", "'é',\n".repeat(MAX_LINE_BYTES));
        let src = PySource::parse(&source);
        assert_eq!(src.lines.len(), 2);
        assert!(src.lines[0].cut);
        assert!(src.lines[0].text.len() <= MAX_LINE_BYTES);
        assert_eq!(
            (src.lines[1].number, src.lines[1].text.as_str()),
            (MAX_LINE_BYTES + 3, "z = 1")
        );
        // Unclosed brackets and strings end with the file; bytes that are not code panic
        // nothing.
        for odd in [
            "(",
            "'''",
            "\\",
            "x = '\\",
            "\u{feff}\r\n)",
            "é\\\né",
            "f(\"\"\"\\",
        ] {
            let _ = PySource::parse(odd);
        }
    }

    #[test]
    fn string_literals_are_read_as_python_reads_them() {
        for (literal, value) in [
            ("'a'", Some("a")),
            ("\"\"\"a\nb\"\"\"", Some("a\nb")),
            ("'''it''s'''", Some("it''s")),
            ("'a' \"b\"  'c'", Some("abc")),
            (r"'\x41\101\u00e9\U0001F600\n\\\''", Some("AAé😀\n\\'")),
            (r"'\d'", Some(r"\d")),
            ("'a\\\nb'", Some("ab")),
            (r"r'\n\''", Some(r"\n\'")),
            (r"Rb'x'", None),
            (r"u'x'", Some("x")),
            (r"f'x'", Some("x")),
            (r"F'{x}'", None),
            (r"'\N{DASH}'", None),
            (r"'\x4'", None),
            (r"'\ud800'", None),
            (r"ur'x'", None),
            ("'unclosed", None),
        ] {
            let got = string_literal(literal).map(|(v, rest)| {
                assert_eq!(rest.trim(), "", "{literal}");
                v
            });
            assert_eq!(got.as_deref(), value, "{literal}");
        }
        assert_eq!(string_literal("'a', 'b'"), Some(("a".to_owned(), ", 'b'")));
    }
}

#[cfg(test)]
mod arbitrary_input {
    use super::{MAX_LINE_BYTES, PySource, call_arguments, string_literal};

    /// Pieces that change how Python reads what follows, in random order: any mix reads
    /// without a panic, every line's span lies on character boundaries of the text, and
    /// every line starts on a line of the file.
    #[test]
    fn any_mix_of_quotes_brackets_and_breaks_reads_without_panic() {
        const PIECES: [&str; 26] = [
            "'", "\"", "'''", "\"\"\"", "\\", "\n", "\r\n", "#", "(", ")", "[", "]", "{", "}", "é",
            "😀", " ", "\t", "\x0c", "r", "b", "f", "x = ", ",", "\u{feff}", "\\x4",
        ];
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            usize::try_from(seed % n as u64).unwrap()
        };
        for _ in 0..20_000 {
            let text: String = (0..next(40)).map(|_| PIECES[next(PIECES.len())]).collect();
            let physical = text.lines().count();
            for line in PySource::parse(&text).lines {
                assert!((1..=physical).contains(&line.number), "{text:?}");
                assert!(text.get(line.span.clone()).is_some(), "{text:?}");
                assert!(line.text.len() <= MAX_LINE_BYTES);
                let _ = (line.shown(), line.is_string(), string_literal(&line.text));
            }
            let _ = crate::init::gunicorn_conf::parse(&text, crate::spec::Interface::Wsgi);
        }
    }

    #[test]
    fn call_arguments_read_strings_and_brackets_whole() {
        let (args, rest) = call_arguments("\"a,b\", (1, 2), k=[3, \")\"],) + x").unwrap();
        assert_eq!(args, ["\"a,b\"", "(1, 2)", "k=[3, \")\"]"]);
        assert_eq!(rest, " + x");
        assert_eq!(
            call_arguments("'''x)''', 'é\\'')").unwrap().0,
            ["'''x)'''", "'é\\''"]
        );
        assert_eq!(call_arguments(")").unwrap().0, Vec::<&str>::new());
        assert!(call_arguments("\"open").is_none());
        assert!(call_arguments("a, (b").is_none());
        assert!(call_arguments("'\\").is_none());
    }
}
