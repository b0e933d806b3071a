//! gunicorn's command line parser: Python 3.11 `argparse` as `Config().parser()` sets it up.
//!
//! gunicorn hands `shlex.split(GUNICORN_CMD_ARGS)` to the same `ArgumentParser` as its
//! command line: `-h/--help`, `-v/--version`, a positional `args` (`nargs='*'`) and one
//! option per setting, `allow_abbrev` on. What argparse accepts, refuses or quietly
//! reinterprets decides what gunicorn runs with, so this module follows `CPython`'s
//! `_parse_known_args` step for step (classify every token, then consume options and
//! positionals in turn) rather than reading the flags the way a person would. The oracle
//! test compares it with the real parser on a corpus.

use std::collections::BTreeMap;

use super::pyint;
use super::settings::{self, Arity, PyType, Setting, Version};

/// A value as argparse stores it in the namespace.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Value {
    Str(String),
    /// An `int` in canonical decimal form (Python ints have no size limit).
    Int(String),
    Bool(bool),
    /// `append` options; also what `--flag=--` stores (argparse drops the `--` and keeps
    /// the empty list it leaves).
    List(Vec<Value>),
}

impl Value {
    /// The value as text, lists comma-joined: for messages, not for round trips.
    pub fn display(&self) -> String {
        match self {
            Self::Str(s) | Self::Int(s) => s.clone(),
            Self::Bool(b) => if *b { "True" } else { "False" }.to_owned(),
            Self::List(items) => items
                .iter()
                .map(Self::display)
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// What an option string stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Help,
    Version,
    Setting(&'static Setting),
}

/// One option as it appeared: which setting, how it was written, and what it stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occurrence {
    pub setting: &'static Setting,
    /// The option string argparse resolved it to (`--timeout` for `--timeo`).
    pub option: &'static str,
    /// The option as written (`--timeo`; `-w` for `-w3`; `-R` inside `-DR`).
    pub written: String,
    /// Index in argv of the token holding the option.
    pub token: usize,
    /// Index of a separate value token (`--workers 3`), if the value was one.
    pub value_token: Option<usize>,
    /// The value argparse stored for this occurrence (for `append`, this item).
    pub value: Value,
    /// Written as a unique prefix of `option` (`allow_abbrev`).
    pub abbreviated: bool,
}

/// A successful parse.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub occurrences: Vec<Occurrence>,
    /// The namespace: setting name -> value, only for settings given.
    pub values: BTreeMap<&'static str, Value>,
    /// The positional `args` (an `APP_MODULE` inside the variable, ignored by gunicorn).
    pub positionals: Vec<String>,
    pub positional_tokens: Vec<usize>,
}

/// Why argparse stopped, classified the way its message reads.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("ambiguous option: {written} could match {}", candidates.join(", "))]
    Ambiguous {
        written: String,
        candidates: Vec<&'static str>,
        token: usize,
    },
    #[error("unrecognized arguments: {}", args.join(" "))]
    Unrecognized {
        args: Vec<String>,
        tokens: Vec<usize>,
    },
    #[error("argument {option}: expected one argument")]
    ExpectedArgument { option: &'static str, token: usize },
    #[error("argument {option}: ignored explicit argument {explicit:?}")]
    IgnoredExplicit {
        option: &'static str,
        explicit: String,
        token: usize,
    },
    #[error("argument {option}: invalid {type_name} value: {value:?}")]
    InvalidValue {
        option: &'static str,
        type_name: &'static str,
        value: String,
        token: usize,
    },
    /// `-h`/`--help`: argparse prints the help and exits 0, so gunicorn never starts.
    #[error("{option} prints the help and exits")]
    Help { option: &'static str, token: usize },
    /// `-v`/`--version`: prints the version and exits 0.
    #[error("{option} prints the version and exits")]
    Version { option: &'static str, token: usize },
}

impl ParseError {
    /// A short stable name for the kind, the same one the oracle helper prints.
    pub fn class(&self) -> &'static str {
        match self {
            Self::Ambiguous { .. } => "ambiguous",
            Self::Unrecognized { .. } => "unrecognized",
            Self::ExpectedArgument { .. } => "expected_argument",
            Self::IgnoredExplicit { .. } => "ignored_explicit",
            Self::InvalidValue { .. } => "invalid_value",
            Self::Help { .. } => "help",
            Self::Version { .. } => "version",
        }
    }

    /// The argv index the error is about.
    pub fn token(&self) -> usize {
        match self {
            Self::Ambiguous { token, .. }
            | Self::ExpectedArgument { token, .. }
            | Self::IgnoredExplicit { token, .. }
            | Self::InvalidValue { token, .. }
            | Self::Help { token, .. }
            | Self::Version { token, .. } => *token,
            Self::Unrecognized { tokens, .. } => tokens.first().copied().unwrap_or(0),
        }
    }
}

/// The parser for one gunicorn version: its option strings in registration order.
pub struct Parser {
    options: Vec<(&'static str, Target)>,
}

/// What `_parse_optional` makes of a token that looks like an option.
#[derive(Clone, Debug)]
struct OptionTuple {
    target: Option<Target>,
    option: String,
    explicit: Option<String>,
    abbreviated: bool,
}

impl Parser {
    /// The parser gunicorn `version` builds (flags added later or removed earlier are absent).
    pub fn new(version: Version) -> Self {
        let mut options = vec![
            ("-h", Target::Help),
            ("--help", Target::Help),
            ("-v", Target::Version),
            ("--version", Target::Version),
        ];
        for setting in settings::all() {
            if setting.available_in(version) {
                options.extend(setting.flags.iter().map(|f| (*f, Target::Setting(setting))));
            }
        }
        Self { options }
    }

    fn exact(&self, option: &str) -> Option<(&'static str, Target)> {
        self.options.iter().copied().find(|(o, _)| *o == option)
    }

    /// Every option string, for did-you-mean suggestions.
    pub fn option_strings(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.options.iter().map(|(o, _)| *o)
    }

    /// `parser.parse_args(argv)`.
    pub fn parse<S: AsRef<str>>(&self, argv: &[S]) -> Result<Parsed, ParseError> {
        let argv: Vec<&str> = argv.iter().map(AsRef::as_ref).collect();
        // Pass 1: 'O' option, 'A' argument, '-' the first `--` (everything after it is 'A').
        let mut pattern = Vec::with_capacity(argv.len());
        let mut tuples: BTreeMap<usize, OptionTuple> = BTreeMap::new();
        let mut rest_positional = false;
        for (i, arg) in argv.iter().enumerate() {
            if rest_positional {
                pattern.push(b'A');
            } else if *arg == "--" {
                pattern.push(b'-');
                rest_positional = true;
            } else if let Some(tuple) = self.parse_optional(arg, i)? {
                tuples.insert(i, tuple);
                pattern.push(b'O');
            } else {
                pattern.push(b'A');
            }
        }

        // Pass 2: consume options and positionals alternately, as `_parse_known_args` does.
        let mut run = Run {
            parser: self,
            argv: &argv,
            pattern: &pattern,
            parsed: Parsed::default(),
            extras: Vec::new(),
            positional_pending: true,
        };
        let mut start = 0;
        let max_option = tuples.keys().next_back().copied();
        while max_option.is_some_and(|max| start <= max) {
            let next_option = *tuples.range(start..).next().map_or(&start, |(i, _)| i);
            if start != next_option {
                let end = run.consume_positionals(start);
                if end > start {
                    start = end;
                    continue;
                }
            }
            if !tuples.contains_key(&start) {
                run.extras.extend(start..next_option);
                start = next_option;
            }
            start = run.consume_optional(start, tuples[&start].clone())?;
        }
        let stop = run.consume_positionals(start);
        run.extras.extend(stop..argv.len());
        if !run.extras.is_empty() {
            return Err(ParseError::Unrecognized {
                args: run.extras.iter().map(|&i| argv[i].to_owned()).collect(),
                tokens: run.extras,
            });
        }
        Ok(run.parsed)
    }

    /// `_parse_optional`: `None` when the token is a positional argument.
    fn parse_optional(&self, arg: &str, index: usize) -> Result<Option<OptionTuple>, ParseError> {
        if !arg.starts_with('-') {
            return Ok(None);
        }
        let tuple = |target, option: &str, explicit: Option<&str>, abbreviated| OptionTuple {
            target,
            option: option.to_owned(),
            explicit: explicit.map(str::to_owned),
            abbreviated,
        };
        if let Some((option, target)) = self.exact(arg) {
            return Ok(Some(tuple(Some(target), option, None, false)));
        }
        if arg.chars().count() == 1 {
            return Ok(None);
        }
        if let Some((option, explicit)) = arg.split_once('=')
            && let Some((option, target)) = self.exact(option)
        {
            return Ok(Some(tuple(Some(target), option, Some(explicit), false)));
        }
        let mut matches = self.option_tuples(arg);
        if matches.len() > 1 {
            return Err(ParseError::Ambiguous {
                written: arg.to_owned(),
                candidates: matches
                    .iter()
                    .filter_map(|t| self.exact(&t.option).map(|(o, _)| o))
                    .collect(),
                token: index,
            });
        }
        if let Some(found) = matches.pop() {
            return Ok(Some(found));
        }
        // No option here looks like a negative number, so `-1` and `-.5` are arguments.
        if is_negative_number(arg) {
            return Ok(None);
        }
        if arg.contains(' ') {
            return Ok(None);
        }
        Ok(Some(tuple(None, arg, None, false)))
    }

    /// `_get_option_tuples`: prefix matches of `--long` options (split at `=`), or a short
    /// option with its value attached (`-w3`).
    fn option_tuples(&self, arg: &str) -> Vec<OptionTuple> {
        let mut found = Vec::new();
        if arg.starts_with("--") {
            let (prefix, explicit) = match arg.split_once('=') {
                Some((p, e)) => (p, Some(e.to_owned())),
                None => (arg, None),
            };
            for (option, target) in &self.options {
                if option.starts_with(prefix) {
                    found.push(OptionTuple {
                        target: Some(*target),
                        option: (*option).to_owned(),
                        explicit: explicit.clone(),
                        abbreviated: true,
                    });
                }
            }
        } else {
            let split = arg.char_indices().nth(2).map_or(arg.len(), |(i, _)| i);
            let (short, attached) = arg.split_at(split);
            for (option, target) in &self.options {
                if *option == short {
                    found.push(OptionTuple {
                        target: Some(*target),
                        option: (*option).to_owned(),
                        explicit: Some(attached.to_owned()),
                        abbreviated: false,
                    });
                } else if option.starts_with(arg) {
                    found.push(OptionTuple {
                        target: Some(*target),
                        option: (*option).to_owned(),
                        explicit: None,
                        abbreviated: true,
                    });
                }
            }
        }
        found
    }
}

/// argparse's `^-\d+$|^-\d*\.\d+$`, with Python's `\d` (any Unicode decimal digit) and `$`
/// (which also matches before a final newline).
fn is_negative_number(arg: &str) -> bool {
    let Some(body) = arg.strip_prefix('-') else {
        return false;
    };
    let body = body.strip_suffix('\n').unwrap_or(body);
    let digits = |s: &str| s.chars().all(|c| pyint::decimal(c).is_some());
    match body.split_once('.') {
        None => !body.is_empty() && digits(body),
        Some((whole, fraction)) => !fraction.is_empty() && digits(whole) && digits(fraction),
    }
}

/// The state of one `parse` call's second pass.
struct Run<'p> {
    parser: &'p Parser,
    argv: &'p [&'p str],
    pattern: &'p [u8],
    parsed: Parsed,
    extras: Vec<usize>,
    /// The positional `args` is filled once, by the first run of arguments it meets.
    positional_pending: bool,
}

impl Run<'_> {
    fn consume_positionals(&mut self, start: usize) -> usize {
        if !self.positional_pending {
            return start;
        }
        self.positional_pending = false;
        // `nargs='*'` takes every following 'A' and '-'.
        let count = self.pattern[start..]
            .iter()
            .take_while(|p| matches!(p, b'A' | b'-'))
            .count();
        let mut tokens: Vec<usize> = (start..start + count).collect();
        // argparse removes the first `--` from what a positional receives.
        if let Some(at) = tokens.iter().position(|&i| self.argv[i] == "--") {
            tokens.remove(at);
        }
        self.parsed.positionals = tokens.iter().map(|&i| self.argv[i].to_owned()).collect();
        self.parsed.positional_tokens = tokens;
        start + count
    }

    /// `consume_optional`: the option at `start`, any short options chained to it
    /// (`-DR`), and its value; returns the index after what it used.
    fn consume_optional(&mut self, start: usize, tuple: OptionTuple) -> Result<usize, ParseError> {
        let OptionTuple {
            mut target,
            mut option,
            mut explicit,
            abbreviated,
        } = tuple;
        // (target, option, value strings, value token)
        let mut actions: Vec<(Target, String, Vec<String>, Option<usize>)> = Vec::new();
        let stop;
        loop {
            let Some(current) = target else {
                self.extras.push(start);
                return Ok(start + 1);
            };
            let nargs = nargs(current);
            if let Some(explicit_arg) = explicit.take() {
                let takes_one = nargs != Nargs::Zero;
                if !takes_one && !option.starts_with("--") && !explicit_arg.is_empty() {
                    actions.push((current, option.clone(), Vec::new(), None));
                    let mut chars = explicit_arg.chars();
                    let first = chars.next().unwrap_or_default();
                    let next = format!("-{first}");
                    let rest = chars.as_str();
                    if let Some((o, t)) = self.parser.exact(&next) {
                        target = Some(t);
                        o.clone_into(&mut option);
                        explicit = (!rest.is_empty()).then(|| rest.to_owned());
                    } else {
                        return Err(ParseError::IgnoredExplicit {
                            option: option_name(current, &option),
                            explicit: explicit_arg,
                            token: start,
                        });
                    }
                } else if takes_one {
                    actions.push((current, option.clone(), vec![explicit_arg], None));
                    stop = start + 1;
                    break;
                } else {
                    return Err(ParseError::IgnoredExplicit {
                        option: option_name(current, &option),
                        explicit: explicit_arg,
                        token: start,
                    });
                }
            } else {
                let next_is_arg = self.pattern.get(start + 1) == Some(&b'A');
                let count = match nargs {
                    Nargs::Zero => 0,
                    Nargs::One if next_is_arg => 1,
                    Nargs::One => {
                        return Err(ParseError::ExpectedArgument {
                            option: option_name(current, &option),
                            token: start,
                        });
                    }
                    Nargs::Optional => usize::from(next_is_arg),
                };
                let values = self.argv[start + 1..start + 1 + count]
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect();
                actions.push((
                    current,
                    option.clone(),
                    values,
                    (count == 1).then_some(start + 1),
                ));
                stop = start + 1 + count;
                break;
            }
        }
        let written = &self.argv[start];
        let chained = actions.len() > 1;
        for (target, option, values, value_token) in actions {
            let shown = if chained || !written.starts_with("--") {
                option.clone()
            } else {
                written
                    .split_once('=')
                    .map_or(*written, |(o, _)| o)
                    .to_owned()
            };
            self.take_action(
                target,
                &option,
                &values,
                start,
                value_token,
                shown,
                abbreviated,
            )?;
        }
        Ok(stop)
    }

    #[allow(clippy::too_many_arguments)]
    fn take_action(
        &mut self,
        target: Target,
        option: &str,
        values: &[String],
        token: usize,
        value_token: Option<usize>,
        written: String,
        abbreviated: bool,
    ) -> Result<(), ParseError> {
        let setting = match target {
            Target::Help => {
                return Err(ParseError::Help {
                    option: option_name(target, option),
                    token,
                });
            }
            Target::Version => {
                return Err(ParseError::Version {
                    option: option_name(target, option),
                    token,
                });
            }
            Target::Setting(setting) => setting,
        };
        let value = match setting.arity {
            Arity::Flag => Value::Bool(true),
            Arity::FlagFalse => Value::Bool(false),
            Arity::OptionalValue => match values.first().map(String::as_str) {
                // `_get_values` drops `--`; an optional with nothing left stores its const.
                None | Some("--") => Value::Str("auto".to_owned()),
                Some(text) => convert(setting, option, text, token)?,
            },
            Arity::Value | Arity::Repeatable | Arity::ConfigFileOnly => {
                match values.first().map(String::as_str) {
                    Some("--") | None => Value::List(Vec::new()),
                    Some(text) => convert(setting, option, text, token)?,
                }
            }
        };
        let stored = if setting.arity == Arity::Repeatable {
            let mut items = match self.parsed.values.remove(setting.name) {
                Some(Value::List(items)) => items,
                _ => Vec::new(),
            };
            items.push(value.clone());
            Value::List(items)
        } else {
            value.clone()
        };
        self.parsed.values.insert(setting.name, stored);
        self.parsed.occurrences.push(Occurrence {
            setting,
            option: option_name(target, option),
            written,
            token,
            value_token,
            value,
            abbreviated,
        });
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Nargs {
    Zero,
    One,
    Optional,
}

fn nargs(target: Target) -> Nargs {
    match target {
        Target::Help | Target::Version => Nargs::Zero,
        Target::Setting(s) => match s.arity {
            Arity::Flag | Arity::FlagFalse => Nargs::Zero,
            Arity::OptionalValue => Nargs::Optional,
            Arity::Value | Arity::Repeatable | Arity::ConfigFileOnly => Nargs::One,
        },
    }
}

/// The `'static` spelling of an option string the target owns.
fn option_name(target: Target, option: &str) -> &'static str {
    match target {
        Target::Help => {
            if option == "-h" {
                "-h"
            } else {
                "--help"
            }
        }
        Target::Version => {
            if option == "-v" {
                "-v"
            } else {
                "--version"
            }
        }
        Target::Setting(s) => s
            .flags
            .iter()
            .copied()
            .find(|f| *f == option)
            .unwrap_or(s.flag()),
    }
}

/// argparse's `type` conversion.
fn convert(
    setting: &'static Setting,
    option: &str,
    text: &str,
    token: usize,
) -> Result<Value, ParseError> {
    let (converted, type_name) = match setting.py_type {
        PyType::Str => return Ok(Value::Str(text.to_owned())),
        PyType::Int => (pyint::int(text), "int"),
        PyType::AutoInt => (pyint::auto_int(text), "auto_int"),
    };
    converted
        .map(Value::Int)
        .ok_or_else(|| ParseError::InvalidValue {
            option: option_name(Target::Setting(setting), option),
            type_name,
            value: text.to_owned(),
            token,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gunicorn::settings::DEFAULT_VERSION;

    fn parse(args: &[&str]) -> Result<Parsed, ParseError> {
        Parser::new(DEFAULT_VERSION).parse(args)
    }

    fn value(parsed: &Parsed, name: &str) -> Value {
        parsed.values[name].clone()
    }

    fn s(text: &str) -> Value {
        Value::Str(text.to_owned())
    }

    fn i(text: &str) -> Value {
        Value::Int(text.to_owned())
    }

    #[test]
    fn long_options_with_and_without_equals() {
        let p = parse(&["--workers=3", "--timeout", "120", "-w4"]).unwrap();
        assert_eq!(value(&p, "workers"), i("4"));
        assert_eq!(value(&p, "timeout"), i("120"));
        assert_eq!(p.occurrences[1].value_token, Some(2));
    }

    #[test]
    fn abbreviations() {
        let p = parse(&["--timeo", "5"]).unwrap();
        assert_eq!(value(&p, "timeout"), i("5"));
        assert!(p.occurrences[0].abbreviated);
        assert_eq!(p.occurrences[0].written, "--timeo");
        let err = parse(&["--work", "4"]).unwrap_err();
        assert_eq!(err.class(), "ambiguous");
        assert_eq!(parse(&["--wor=3"]).unwrap_err().class(), "ambiguous");
        assert_eq!(parse(&["--=3"]).unwrap_err().class(), "ambiguous");
    }

    #[test]
    fn flags_refuse_values_and_chain() {
        assert_eq!(
            parse(&["--preload=true"]).unwrap_err().class(),
            "ignored_explicit"
        );
        assert_eq!(parse(&["-D="]).unwrap_err().class(), "ignored_explicit");
        let p = parse(&["-DRw3"]).unwrap();
        assert_eq!(value(&p, "daemon"), Value::Bool(true));
        assert_eq!(value(&p, "enable_stdio_inheritance"), Value::Bool(true));
        assert_eq!(value(&p, "workers"), i("3"));
        assert_eq!(parse(&["-Dx"]).unwrap_err().class(), "ignored_explicit");
        assert_eq!(
            value(&parse(&["--no-sendfile"]).unwrap(), "sendfile"),
            Value::Bool(false)
        );
    }

    #[test]
    fn values_that_look_like_options() {
        assert_eq!(
            value(&parse(&["--max-requests", "-5"]).unwrap(), "max_requests"),
            i("-5")
        );
        assert_eq!(
            parse(&["--workers", "--timeout", "3"]).unwrap_err().class(),
            "expected_argument"
        );
        assert_eq!(
            parse(&["--access-logfile"]).unwrap_err().class(),
            "expected_argument"
        );
        assert_eq!(
            value(&parse(&["--access-logfile", "-"]).unwrap(), "accesslog"),
            s("-")
        );
        assert_eq!(
            value(&parse(&["--name", "-x y"]).unwrap(), "proc_name"),
            s("-x y")
        );
        assert_eq!(
            parse(&["--name", "-xy"]).unwrap_err().class(),
            "expected_argument"
        );
        assert_eq!(
            parse(&["--workers", "three"]).unwrap_err().class(),
            "invalid_value"
        );
        assert_eq!(
            value(&parse(&["--bind=--"]).unwrap(), "bind"),
            Value::List(vec![Value::List(vec![])])
        );
    }

    #[test]
    fn repeatable_and_optional() {
        let p = parse(&["-b", "a", "--bind=b", "--proxy-protocol"]).unwrap();
        assert_eq!(value(&p, "bind"), Value::List(vec![s("a"), s("b")]));
        assert_eq!(value(&p, "proxy_protocol"), s("auto"));
        let p = parse(&["--proxy-protocol", "v2", "app:app"]).unwrap();
        assert_eq!(value(&p, "proxy_protocol"), s("v2"));
        assert_eq!(p.positionals, ["app:app"]);
    }

    #[test]
    fn positionals_and_double_dash() {
        let p = parse(&["app:app", "--workers", "2"]).unwrap();
        assert_eq!(p.positionals, ["app:app"]);
        let err = parse(&["--preload", "x", "--workers", "2", "y"]).unwrap_err();
        assert_eq!(
            err,
            ParseError::Unrecognized {
                args: vec!["y".into()],
                tokens: vec![4]
            }
        );
        let p = parse(&["--", "--workers", "3"]).unwrap();
        assert_eq!(p.positionals, ["--workers", "3"]);
        assert!(p.values.is_empty());
        assert_eq!(parse(&["--bogus"]).unwrap_err().class(), "unrecognized");
        assert_eq!(parse(&["--debug"]).unwrap_err().class(), "unrecognized");
        assert_eq!(parse(&["--vers"]).unwrap_err().class(), "version");
        assert_eq!(parse(&["--help", "--bogus"]).unwrap_err().class(), "help");
    }

    #[test]
    fn version_decides_the_flags() {
        let old = Parser::new(Version(24, 0, 0));
        assert_eq!(
            old.parse(&["--no-control-socket"]).unwrap_err().class(),
            "unrecognized"
        );
    }
}
