//! `.dockerignore` as Docker reads it (moby's ignorefile and patternmatcher, which both of
//! Docker's builders use), in time linear in the path for each pattern.
//!
//! Reading: a first-line byte order mark is dropped; a line starting with `#` is a comment;
//! lines are trimmed; `!` re-includes; each pattern is cleaned as Go's `filepath.Clean`
//! cleans a path (`x/../secret.txt` is `secret.txt`, `./a//b/` is `a/b`) and loses one
//! leading `/`. Matching: `*` is any run of characters but `/`, `?` one character but `/`,
//! `[...]` a class (`^` negates, `\` escapes), `**` any number of directories; a pattern
//! matches a path when it matches the path or one of its parent directories; the last
//! matching pattern wins. Docker turns each pattern into a Go regular expression; the few
//! places where that gives something other than a glob (`**foo` matching `xfoo`, a `^`
//! outside a class anchoring, a negated class matching `/`) are kept, so the image holds
//! what an engine would copy. The constructs whose Docker meaning is an accident of that
//! translation (`*` or `?` inside a class, `\` before a letter or digit, `[:`) are refused
//! rather than guessed.

use std::fmt;

/// The patterns of one `.dockerignore`, in order.
pub struct Ignore {
    patterns: Vec<Pattern>,
}

/// A line Docker's engines refuse, or whose meaning there is an accident fabuild will not
/// guess; the build stops on it, as theirs would (or should).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreError {
    pub line: usize,
    pub pattern: String,
    pub why: &'static str,
}

impl fmt::Display for IgnoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            ".dockerignore line {}: `{}` {}",
            self.line,
            self.pattern.escape_debug(),
            self.why
        )
    }
}

struct Pattern {
    /// `!`: a match re-includes.
    include: bool,
    matcher: Matcher,
}

/// Docker's four ways of matching a cleaned pattern, chosen as moby's `compile` chooses.
enum Matcher {
    /// No wildcard at all: the path is the pattern.
    Exact(String),
    /// Literal text then a final `**`: the path starts with the text.
    Prefix(String),
    /// A leading `**` then literal text: the path ends with the text (or, when the text
    /// starts with `/`, is the text without it).
    Suffix(String),
    /// Anything else, as the regular expression Docker builds, run as an NFA.
    Glob(Vec<Token>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `?`: one character but `/`.
    One,
    /// `*`: any run of characters but `/`.
    Star,
    /// `**` before more pattern: nothing, or any run ending in `/` (no newline, as Go's `.`).
    Dirs,
    /// `**` at the end: any run (no newline).
    Rest,
    /// `[...]`: ranges, inclusive; a negated class matches `/` too.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// A `^` outside a class: Go's start-of-text anchor.
    Start,
}

impl Ignore {
    /// Reads a `.dockerignore`; every pattern Docker would refuse is an error.
    pub fn parse(text: &str) -> Result<Self, IgnoreError> {
        let mut patterns = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let raw = if index == 0 {
                raw.strip_prefix('\u{feff}').unwrap_or(raw)
            } else {
                raw
            };
            let error = |why| IgnoreError {
                line: index + 1,
                pattern: raw.trim().to_owned(),
                why,
            };
            // The comment test comes before trimming, as in moby's ignorefile.
            if raw.starts_with('#') {
                continue;
            }
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            // ignorefile.ReadAll: clean the pattern, drop one leading `/`, keep the `!`.
            let (include, body) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let mut body = if body.is_empty() {
                String::new()
            } else {
                clean(body)
            };
            if body.len() > 1 && body.starts_with('/') {
                body.remove(0);
            }
            // patternmatcher.New cleans the line again, `!` included: `!/` becomes `!`.
            let again = clean(&if include { format!("!{body}") } else { body });
            let (include, cleaned) = match again.strip_prefix('!') {
                Some("") => return Err(error("is an exclusion of nothing, which Docker refuses")),
                Some(rest) => (true, rest.to_owned()),
                None => (false, again),
            };
            let matcher = Matcher::compile(&cleaned).map_err(error)?;
            patterns.push(Pattern { include, matcher });
        }
        Ok(Self { patterns })
    }

    /// Whether everything under the excluded directory `path` stays out: no `!` pattern
    /// could bring any of it back.
    pub fn excluded_for_good(&self, path: &str) -> bool {
        self.excluded(path) && self.patterns.iter().all(|p| !p.include)
    }

    /// Whether `path` (relative, `/`-separated, clean) is left out of the context: the last
    /// pattern matching it or one of its parent directories decides.
    pub fn excluded(&self, path: &str) -> bool {
        let mut excluded = false;
        for pattern in &self.patterns {
            // As moby: an exclusion is tried only while the path is in, a `!` only while out.
            if pattern.include != excluded {
                continue;
            }
            if pattern.matcher.matches_or_parent(path) {
                excluded = !pattern.include;
            }
        }
        excluded
    }
}

impl Matcher {
    /// moby's `compile`: the pattern scanned once, its kind decided as it goes.
    fn compile(pattern: &str) -> Result<Self, &'static str> {
        check_syntax(pattern)?;
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut kind = Kind::Exact;
        let mut i = 0;
        let mut first = true;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '*' if chars.get(i) == Some(&'*') => {
                    i += 1;
                    if chars.get(i) == Some(&'/') {
                        i += 1;
                    }
                    if i == chars.len() {
                        if kind == Kind::Exact {
                            kind = Kind::Prefix;
                        } else {
                            kind = Kind::Glob;
                        }
                        tokens.push(Token::Rest);
                    } else {
                        kind = Kind::Glob;
                        tokens.push(Token::Dirs);
                    }
                    if first {
                        kind = Kind::Suffix;
                    }
                }
                '*' => {
                    kind = Kind::Glob;
                    tokens.push(Token::Star);
                }
                '?' => {
                    kind = Kind::Glob;
                    tokens.push(Token::One);
                }
                '\\' if i < chars.len() => {
                    kind = Kind::Glob;
                    tokens.push(Token::Char(chars[i]));
                    i += 1;
                }
                '[' => {
                    kind = Kind::Glob;
                    let (token, next) = class(&chars, i)?;
                    tokens.push(token);
                    i = next;
                }
                ']' => {
                    kind = Kind::Glob;
                    tokens.push(Token::Char(']'));
                }
                '^' => tokens.push(Token::Start),
                c => tokens.push(Token::Char(c)),
            }
            first = false;
        }
        Ok(match kind {
            Kind::Exact => Self::Exact(pattern.to_owned()),
            Kind::Prefix => Self::Prefix(pattern[..pattern.len() - 2].to_owned()),
            Kind::Suffix => Self::Suffix(pattern[2..].to_owned()),
            Kind::Glob => Self::Glob(tokens),
        })
    }

    /// The path matches, or one of its parent directories does (moby's
    /// `MatchesOrParentMatches`), in one pass over the path.
    fn matches_or_parent(&self, path: &str) -> bool {
        let parents = path.match_indices('/').map(|(at, _)| &path[..at]);
        match self {
            Self::Exact(text) => {
                path == text
                    || path
                        .strip_prefix(text.as_str())
                        .is_some_and(|r| r.starts_with('/'))
            }
            // The path has the prefix whenever a parent has it.
            Self::Prefix(text) => path.starts_with(text.as_str()),
            Self::Suffix(text) => std::iter::once(path).chain(parents).any(|candidate| {
                candidate.ends_with(text.as_str())
                    || text.strip_prefix('/').is_some_and(|t| candidate == t)
            }),
            Self::Glob(tokens) => glob_matches(tokens, path),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Exact,
    Prefix,
    Suffix,
    Glob,
}

/// Docker checks each pattern with Go's `filepath.Match` first and refuses the build on a
/// syntax error there: an unclosed or empty class, a class range missing an end, a `\` at
/// the end.
fn check_syntax(pattern: &str) -> Result<(), &'static str> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => match chars.get(i + 1) {
                None => return Err("ends with `\\`, which Docker refuses"),
                Some(c) if c.is_ascii_alphanumeric() => return Err(ESCAPED_ALNUM),
                Some(_) => i += 2,
            },
            '[' => i = class(&chars, i + 1)?.1,
            _ => i += 1,
        }
    }
    Ok(())
}

/// A class whose `[` is at `start - 1`: the token, and where the pattern goes on.
fn class(chars: &[char], start: usize) -> Result<(Token, usize), &'static str> {
    const UNCLOSED: &str = "has a `[` without its `]`, which Docker refuses";
    let mut i = start;
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(UNCLOSED);
        };
        if c == ']' && !ranges.is_empty() {
            return Ok((Token::Class { negated, ranges }, i + 1));
        }
        let (lo, next) = class_char(chars, i)?;
        i = next;
        let hi = if chars.get(i) == Some(&'-') {
            let (hi, next) = class_char(chars, i + 1)?;
            i = next;
            hi
        } else {
            lo
        };
        if hi < lo {
            return Err("has a class range whose end comes before its start, which Docker refuses");
        }
        ranges.push((lo, hi));
    }
}

/// One character of a class as Go's `filepath.Match` reads it, refusing what Docker's
/// regular expression would read otherwise.
fn class_char(chars: &[char], at: usize) -> Result<(char, usize), &'static str> {
    match chars.get(at) {
        None => Err("has a `[` without its `]`, which Docker refuses"),
        Some('-' | ']') => {
            Err("has a class with a bare `-` or `]`, which Docker refuses; escape it with `\\`")
        }
        Some('\\') => match chars.get(at + 1) {
            None => Err("ends with `\\`, which Docker refuses"),
            Some(c) if c.is_ascii_alphanumeric() => Err(ESCAPED_ALNUM),
            Some(&c) => Ok((c, at + 2)),
        },
        Some('*' | '?') => Err(
            "has `*` or `?` inside `[...]`, which Docker's engines do not read as a member of the class; escape it with `\\`",
        ),
        Some('[') if chars.get(at + 1) == Some(&':') => Err(
            "has `[:` inside `[...]`, which Docker's engines read as a POSIX class; escape the `[` with `\\`",
        ),
        Some(&c) => Ok((c, at + 1)),
    }
}

const ESCAPED_ALNUM: &str = "escapes a letter or digit, which Docker's engines read as a regular-expression escape (`\\d` is any digit); remove the `\\`";

/// The NFA of `tokens` over `path`: true when the whole path, or the part before one of
/// its `/`, is matched. States: `i` is "token `i` next"; `n + 1 + i` is "inside the `**`
/// at `i`, last character not `/`". O(path length x pattern length) time, O(pattern) memory.
fn glob_matches(tokens: &[Token], path: &str) -> bool {
    let n = tokens.len();
    let mut current = vec![false; 2 * n + 2];
    let mut next = vec![false; 2 * n + 2];
    current[0] = true;
    close(tokens, &mut current, true);
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        next.fill(false);
        for state in 0..=n {
            if current[state] && state < n {
                step(tokens, state, c, &mut next);
            }
            let inside = n + 1 + state;
            if state < n && current[inside] {
                // Inside a `**`: any character but a newline stays; a `/` may also leave.
                if c != '\n' {
                    next[inside] = true;
                    if c == '/' {
                        next[state + 1] = true;
                    }
                }
            }
        }
        close(tokens, &mut next, false);
        std::mem::swap(&mut current, &mut next);
        if !current.iter().any(|s| *s) {
            return false;
        }
        // A parent directory matched: the part before this `/` is complete.
        if chars.peek() == Some(&'/') && current[n] {
            return true;
        }
    }
    current[n]
}

/// What token `state` does with the character `c`.
fn step(tokens: &[Token], state: usize, c: char, next: &mut [bool]) {
    let n = tokens.len();
    match &tokens[state] {
        Token::Char(x) => next[state + 1] |= *x == c,
        Token::One => next[state + 1] |= c != '/',
        Token::Star => next[state] |= c != '/',
        Token::Class { negated, ranges } => {
            let inside = ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c));
            next[state + 1] |= inside != *negated;
        }
        Token::Dirs => {
            if c != '\n' {
                next[n + 1 + state] = true;
                if c == '/' {
                    next[state + 1] = true;
                }
            }
        }
        Token::Rest => next[state] |= c != '\n',
        Token::Start => {}
    }
}

/// Follows the empty moves: past a `*`, `**` or final `**`, and past a `^` at the start.
fn close(tokens: &[Token], states: &mut [bool], at_start: bool) {
    for state in 0..tokens.len() {
        if !states[state] {
            continue;
        }
        let empty = match tokens[state] {
            Token::Star | Token::Dirs | Token::Rest => true,
            Token::Start => at_start,
            _ => false,
        };
        if empty {
            states[state + 1] = true;
        }
    }
}

/// Go's `filepath.Clean` on a `/`-separated path: one `/` between parts, no `.` parts, a
/// `..` removes the part before it (and is dropped at the root), `.` for nothing.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            part => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(text: &str) -> Ignore {
        Ignore::parse(text).unwrap()
    }

    #[test]
    fn reads_fabuilds_own_dockerignore() {
        let ignore =
            ignore("# c\n**/*.pem\n.git\n**/__pycache__\n**/*.py[cod]\n**/.env\n**/.env.*\n");
        assert!(ignore.excluded("certs/abc-key.pem"));
        assert!(ignore.excluded("abc-key.pem"));
        assert!(ignore.excluded(".git"));
        assert!(ignore.excluded(".git/objects/ab"));
        assert!(ignore.excluded("pkg/__pycache__/x.cpython-311.pyc"));
        assert!(ignore.excluded("x.pyc"));
        assert!(ignore.excluded("sub/.env.local"));
        assert!(!ignore.excluded("main.py"));
        assert!(!ignore.excluded("sub/.envrc"));
        assert!(!ignore.excluded("sub/.git"));
    }

    #[test]
    fn the_last_match_wins() {
        let ignore = ignore("docs\n!docs/keep.md\n*.md\n!README.md\n");
        assert!(ignore.excluded("docs/a.txt"));
        assert!(!ignore.excluded("docs/keep.md"));
        assert!(ignore.excluded("NOTES.md"));
        assert!(!ignore.excluded("README.md"));
        assert!(!ignore.excluded("sub/NOTES.md"));
    }

    /// Docker cleans each pattern as a path before matching (moby's ignorefile):
    /// `x/../secret.txt` is `secret.txt`.
    #[test]
    fn patterns_are_cleaned_as_docker_cleans_them() {
        for (pattern, path) in [
            ("x/../secret.txt", "secret.txt"),
            ("./a//b/", "a/b"),
            ("/top", "top"),
            ("a/./b/../c", "a/c"),
            ("/../x", "x"),
            ("**/", "anything/at/all"),
        ] {
            assert!(ignore(pattern).excluded(path), "{pattern} {path}");
        }
        assert!(!ignore("../secret.txt").excluded("secret.txt"));
        assert!(!ignore("x/../../secret.txt").excluded("secret.txt"));
        assert!(!ignore("/").excluded("a"));
        assert!(!ignore(".").excluded("a"));
    }

    /// Where Docker's glob-to-regex translation differs from a textbook glob, the image
    /// holds what Docker would copy.
    #[test]
    fn docker_quirks_are_kept() {
        let cases: &[(&str, &str, bool)] = &[
            // A leading `**` then literal text is a plain suffix test.
            ("**foo", "xfoo", true),
            ("**/foo", "xfoo", false),
            ("**/foo", "a/b/foo", true),
            ("**/foo", "foo", true),
            // Literal text then a final `**` is a plain prefix test: `foo/**` leaves `foo`.
            ("foo**", "foobar", true),
            ("foo/**", "foo", false),
            ("foo/**", "foo/x/y", true),
            // `**` inside a name stands for whole directories only.
            ("a**b", "ab", true),
            ("a**b", "axb", false),
            ("a**b", "ax/b", true),
            ("x/**/y", "x/y", true),
            ("x/**/y", "x/p/q/y", true),
            // `!` at the start of a class is a member, `^` negates, and negation takes `/`.
            ("[!a]", "!", true),
            ("[!a]", "b", false),
            ("[^a]", "b", true),
            ("a[^x]b", "a/b", true),
            ("a[/]b", "a/b", true),
            // `*` and `?` stop at `/`; a parent directory that matches takes its contents.
            ("*", "a/b", true),
            ("*/b", "a/b/c", true),
            ("?", "ab", false),
            ("a?c", "a/c", false),
            // A `^` outside a class anchors (Go's regular expressions), once a wildcard is in.
            ("*^x", "^x", false),
            ("*^x", "x", true),
            ("a^b", "a^b", true),
            // Escapes, classes, ranges.
            ("\\*", "*", true),
            ("\\*", "a", false),
            ("[a-c]x", "bx", true),
            ("[a\\-c]x", "-x", true),
            ("[a\\-c]x", "bx", false),
            // Regular-expression characters are literal.
            ("a.b*", "axb", false),
            ("a.b*", "a.bc", true),
            ("(x)+{1}$|y*", "(x)+{1}$|yz", true),
        ];
        for (pattern, path, excluded) in cases {
            assert_eq!(
                ignore(pattern).excluded(path),
                *excluded,
                "{pattern} against {path}"
            );
        }
    }

    #[test]
    fn exceptions_and_comments_as_docker_reads_them() {
        let i = ignore("\u{feff}*.md\n  !README.md  \n #not a comment\n");
        assert!(i.excluded("a.md"));
        assert!(!i.excluded("README.md"));
        assert!(i.excluded("#not a comment"));
        // `!/x` is `!x`.
        assert!(!ignore("*\n!/keep\n").excluded("keep"));
        // An exception re-includes what is under a directory it matches.
        assert!(!ignore("a/b\n!a\n").excluded("a/b/c"));
    }

    #[test]
    fn patterns_docker_refuses_are_errors_with_the_line() {
        for (text, line, why) in [
            ("ok\n!\n", 2, "exclusion of nothing"),
            ("!/\n", 1, "exclusion of nothing"),
            ("a[b\n", 1, "without its `]`"),
            ("[]a]\n", 1, "bare `-` or `]`"),
            ("[a-]\n", 1, "bare `-` or `]`"),
            ("[z-a]\n", 1, "end comes before its start"),
            ("x\\\n", 1, "ends with `\\`"),
            ("\\d\n", 1, "letter or digit"),
            ("[*]\n", 1, "inside `[...]`"),
            ("[[:alpha:]]\n", 1, "POSIX class"),
        ] {
            let err = Ignore::parse(text)
                .err()
                .unwrap_or_else(|| panic!("{text:?} parsed"));
            assert_eq!(err.line, line, "{text:?}");
            assert!(err.to_string().contains(why), "{text:?}: {err}");
        }
    }

    /// Each pattern runs as an automaton over the path: the patterns that made the old
    /// backtracking matcher take exponential time are answered in one pass. (The time
    /// bound itself is checked in tests/it, with a timeout; BENCHMARKS.md has the speed.)
    #[test]
    fn backtracking_patterns_still_match_correctly() {
        let pattern = format!("{}b", "*a".repeat(12));
        let name = "a".repeat(40);
        assert!(!ignore(&pattern).excluded(&name));
        assert!(ignore(&pattern).excluded(&format!("{name}b")));
        assert!(ignore(&pattern).excluded(&format!("{name}b/under")));
        let deep = format!("{}b", "**/a/".repeat(12));
        assert!(!ignore(&deep).excluded(&"a/".repeat(40)));
        assert!(ignore(&deep).excluded(&format!("{}b", "a/".repeat(40))));
    }
}
