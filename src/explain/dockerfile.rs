//! Finds the `GUNICORN_CMD_ARGS` a Dockerfile's final image gets, read the way `BuildKit`
//! reads `ENV`: line continuations, both `ENV k=v ...` and the legacy `ENV k v`, quotes,
//! escapes and `$VAR` expansion.
//!
//! The value a Dockerfile sets is often not the text between the quotes: `\"` becomes `"`,
//! `$HOME` expands, a single-quoted part stays literal. Explaining the text as written
//! would review a string gunicorn never sees.

use std::collections::BTreeMap;

/// The variable's value as the image has it, and the line of the `ENV` that set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvValue {
    pub value: String,
    pub line: usize,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DockerfileError {
    #[error("line {line}: ENV {what}")]
    Syntax { line: usize, what: String },
    #[error("no `ENV GUNICORN_CMD_ARGS` in the final stage")]
    NotFound,
}

/// One instruction: its keyword (upper case), arguments, and first line.
struct Instruction {
    keyword: String,
    args: String,
    line: usize,
}

/// The value of `name` in the final stage of `text`.
pub fn find_env(text: &str, name: &str) -> Result<EnvValue, DockerfileError> {
    let escape = escape_directive(text);
    // Each stage's environment, by alias, so `FROM base` inherits what `base` set.
    let mut stages: Vec<(Option<String>, BTreeMap<String, EnvValue>)> = Vec::new();
    let mut env: BTreeMap<String, EnvValue> = BTreeMap::new();
    for inst in instructions(text, escape) {
        match inst.keyword.as_str() {
            "FROM" => {
                let words: Vec<&str> = inst
                    .args
                    .split_whitespace()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                let alias = match words.as_slice() {
                    [_, kw, alias] if kw.eq_ignore_ascii_case("as") => {
                        Some(alias.to_ascii_lowercase())
                    }
                    _ => None,
                };
                let base = words.first().map(|w| w.to_ascii_lowercase());
                env = stages
                    .iter()
                    .rev()
                    .find(|(a, _)| a.is_some() && *a == base)
                    .map(|(_, e)| e.clone())
                    .unwrap_or_default();
                stages.push((alias, BTreeMap::new()));
            }
            "ENV" => {
                for (key, value) in env_pairs(&inst.args, escape, &env, inst.line)? {
                    env.insert(
                        key,
                        EnvValue {
                            value,
                            line: inst.line,
                        },
                    );
                }
            }
            _ => {}
        }
        if let Some((_, stage_env)) = stages.last_mut() {
            stage_env.clone_from(&env);
        }
    }
    env.remove(name).ok_or(DockerfileError::NotFound)
}

/// `# escape=` parser directive (only before any other line), else backslash.
fn escape_directive(text: &str) -> char {
    for line in text.lines() {
        let Some(directive) = line.trim().strip_prefix('#') else {
            break;
        };
        if let Some((key, value)) = directive.split_once('=') {
            if key.trim().eq_ignore_ascii_case("escape")
                && let Some(c) = value.trim().chars().next()
            {
                return c;
            }
            continue;
        }
        break;
    }
    '\\'
}

/// Joins continuation lines into instructions. Comment lines and blank lines inside a
/// continuation are dropped, as `BuildKit` does.
fn instructions(text: &str, escape: char) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut current: Option<(String, usize)> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') || (current.is_some() && trimmed.is_empty()) {
            continue;
        }
        let body = line.trim_end_matches([' ', '\t']);
        let continues = body.ends_with(escape);
        let piece = if continues {
            &body[..body.len() - escape.len_utf8()]
        } else {
            line
        };
        match &mut current {
            Some((acc, _)) => acc.push_str(piece),
            None if trimmed.is_empty() => continue,
            None => current = Some((piece.trim_start().to_owned(), index + 1)),
        }
        if !continues && let Some((acc, line)) = current.take() {
            out.push(split_instruction(&acc, line));
        }
    }
    if let Some((acc, line)) = current {
        out.push(split_instruction(&acc, line));
    }
    out
}

fn split_instruction(text: &str, line: usize) -> Instruction {
    let text = text.trim();
    let (keyword, args) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    Instruction {
        keyword: keyword.to_ascii_uppercase(),
        args: args.trim().to_owned(),
        line,
    }
}

/// The pairs one `ENV` sets, in order.
fn env_pairs(
    args: &str,
    escape: char,
    env: &BTreeMap<String, EnvValue>,
    line: usize,
) -> Result<Vec<(String, String)>, DockerfileError> {
    let words = words(args, escape);
    let Some(first) = words.first() else {
        return Err(DockerfileError::Syntax {
            line,
            what: "needs a name and a value".to_owned(),
        });
    };
    let lookup = |name: &str| env.get(name).map(|v| v.value.clone());
    if !first.contains('=') {
        // Legacy `ENV name value`: everything after the name, spaces included.
        let rest = args[first.len()..].trim_start();
        if rest.is_empty() {
            return Err(DockerfileError::Syntax {
                line,
                what: format!("{first} has no value"),
            });
        }
        return Ok(vec![(first.clone(), process_word(rest, escape, &lookup))]);
    }
    let mut pairs = Vec::new();
    for word in &words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(DockerfileError::Syntax {
                line,
                what: format!(
                    "`{word}` is not NAME=VALUE (the first pair makes every word a pair)"
                ),
            });
        };
        if key.is_empty() {
            return Err(DockerfileError::Syntax {
                line,
                what: "has an empty name".to_owned(),
            });
        }
        // Values expand against the environment before this instruction: Docker documents
        // that `ENV abc=bye def=$abc` gives def the previous abc.
        pairs.push((key.to_owned(), process_word(value, escape, &lookup)));
    }
    Ok(pairs)
}

/// Splits at unquoted whitespace, keeping quotes and escapes for `process_word`.
fn words(text: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == escape && quote != Some('\'') {
            word.push(c);
            if let Some(next) = chars.next() {
                word.push(next);
            }
            continue;
        }
        match quote {
            Some(q) if c == q => quote = None,
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                continue;
            }
            _ => {}
        }
        word.push(c);
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// `BuildKit`'s word processing: quotes removed, escapes applied, `$VAR`, `${VAR}` and
/// `${VAR:-default}` expanded (unset variables expand to nothing), none inside `'...'`.
fn process_word(word: &str, escape: char, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let chars: Vec<char> = word.chars().collect();
    let mut i = 0;
    let mut in_double = false;
    while i < chars.len() {
        let c = chars[i];
        if !in_double && c == '\'' {
            let end = chars[i + 1..]
                .iter()
                .position(|&x| x == '\'')
                .map_or(chars.len(), |p| i + 1 + p);
            out.extend(&chars[i + 1..end]);
            i = end + 1;
            continue;
        }
        if c == '"' {
            in_double = !in_double;
            i += 1;
            continue;
        }
        if c == escape {
            match chars.get(i + 1) {
                // In double quotes only `"`, `$` and the escape itself are escaped.
                Some(&next) if !in_double || matches!(next, '"' | '$') || next == escape => {
                    out.push(next);
                    i += 2;
                }
                Some(_) => {
                    out.push(c);
                    i += 1;
                }
                None => {
                    i += 1;
                }
            }
            continue;
        }
        if c == '$' {
            let (value, used) = expand(&chars[i + 1..], lookup);
            if used > 0 {
                out.push_str(&value);
                i += 1 + used;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Expands the variable after a `$`; returns the text and how many chars it used (0: not
/// a variable, the `$` is literal).
fn expand(rest: &[char], lookup: &dyn Fn(&str) -> Option<String>) -> (String, usize) {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if rest.first() == Some(&'{') {
        let Some(close) = rest.iter().position(|&c| c == '}') else {
            return (String::new(), 0);
        };
        let inner: String = rest[1..close].iter().collect();
        let (name, default) = match inner.split_once(":-").or_else(|| inner.split_once('-')) {
            Some((n, d)) => (n.to_owned(), Some(d.to_owned())),
            None => (inner.clone(), None),
        };
        let value = lookup(&name)
            .filter(|v| !v.is_empty())
            .or(default)
            .unwrap_or_default();
        return (value, close + 1);
    }
    let len = rest.iter().take_while(|&&c| is_name(c)).count();
    if len == 0 {
        return (String::new(), 0);
    }
    let name: String = rest[..len].iter().collect();
    (lookup(&name).unwrap_or_default(), len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(text: &str) -> Result<EnvValue, DockerfileError> {
        find_env(text, "GUNICORN_CMD_ARGS")
    }

    fn value(text: &str) -> String {
        find(text).unwrap().value
    }

    #[test]
    fn both_forms_and_quoting() {
        assert_eq!(
            value("FROM x\nENV GUNICORN_CMD_ARGS=\"--workers 3 --name \\\"a b\\\"\"\n"),
            "--workers 3 --name \"a b\""
        );
        assert_eq!(
            value("FROM x\nenv GUNICORN_CMD_ARGS --workers 3  --timeout 5\n"),
            "--workers 3  --timeout 5"
        );
        assert_eq!(
            value("FROM x\nENV A=1 GUNICORN_CMD_ARGS='--name $A' B=2\n"),
            "--name $A"
        );
        assert_eq!(
            value("FROM x\nENV A=1\nENV GUNICORN_CMD_ARGS=\"--name $A\\$B ${A}\"\n"),
            "--name 1$B 1"
        );
        assert_eq!(
            value("FROM x\nENV GUNICORN_CMD_ARGS=--bind\\ 0.0.0.0:80\n"),
            "--bind 0.0.0.0:80"
        );
        assert_eq!(
            value("FROM x\nENV GUNICORN_CMD_ARGS=\"a\\\\b \\q\"\n"),
            "a\\b \\q"
        );
    }

    #[test]
    fn continuations_comments_and_last_wins() {
        let text = "FROM python:3.12\nENV GUNICORN_CMD_ARGS=old\nENV PATH=/x \\\n    # a comment inside\n\n    GUNICORN_CMD_ARGS=\"--workers=3 \\\n --timeout 5\"\n";
        let found = find(text).unwrap();
        assert_eq!(found.value, "--workers=3  --timeout 5");
        assert_eq!(found.line, 3);
    }

    #[test]
    fn stages_and_errors() {
        assert_eq!(
            find("FROM a AS build\nENV GUNICORN_CMD_ARGS=x\nFROM b\n"),
            Err(DockerfileError::NotFound)
        );
        assert_eq!(
            value("FROM a AS base\nENV GUNICORN_CMD_ARGS=x\nFROM base\n"),
            "x"
        );
        assert!(matches!(
            find("FROM a\nENV A=1 B\n"),
            Err(DockerfileError::Syntax { line: 2, .. })
        ));
        assert_eq!(
            value("# escape=`\nFROM a\nENV GUNICORN_CMD_ARGS=a`\nb\n"),
            "ab"
        );
    }
}
