//! The corrected argv: every setting written out in full, `--flag=value`, with the
//! findings' edits applied.
//!
//! Spelling every flag in full and attaching every value with `=` removes abbreviations
//! and keeps a value that starts with `-` from being read as a flag.

use crate::gunicorn::advice::{Advice, Fix};
use crate::gunicorn::argparse::{Parsed, Value};
use crate::gunicorn::pyint;
use crate::gunicorn::settings::{self, Arity, Setting};

/// The argv gunicorn should get instead: what it parsed, edited by `advice`.
pub fn corrected(parsed: &Parsed, advice: &[Advice]) -> Vec<String> {
    // (setting, values) in the order each setting first appeared.
    let mut entries: Vec<(&'static Setting, Vec<String>)> = Vec::new();
    for o in &parsed.occurrences {
        let text = item(&o.value);
        match entries.iter_mut().find(|(s, _)| s.name == o.setting.name) {
            Some((s, values)) if s.arity == Arity::Repeatable => values.push(text),
            Some((_, values)) => *values = vec![text],
            None => entries.push((o.setting, vec![text])),
        }
    }
    for fix in advice.iter().flat_map(|a| &a.edits) {
        match fix {
            Fix::Drop(name) => entries.retain(|(s, _)| s.name != *name),
            Fix::Set(name, value) => match entries.iter_mut().find(|(s, _)| s.name == *name) {
                Some((_, values)) => *values = vec![value.clone()],
                None => {
                    if let Some(setting) = settings::by_name(name) {
                        entries.push((setting, vec![value.clone()]));
                    }
                }
            },
            Fix::Replace { setting, from, to } => {
                if let Some((_, values)) = entries.iter_mut().find(|(s, _)| s.name == *setting) {
                    for v in values.iter_mut().filter(|v| *v == from) {
                        v.clone_from(to);
                    }
                }
            }
        }
    }
    let mut argv = Vec::new();
    for (setting, values) in entries {
        let flag = setting.flag();
        match setting.arity {
            Arity::Flag | Arity::FlagFalse => argv.push(flag.to_owned()),
            _ => argv.extend(values.iter().map(|v| format!("{flag}={v}"))),
        }
    }
    argv
}

fn item(value: &Value) -> String {
    match value {
        // `--flag=--` is the only way argparse stores an empty list for a one-value flag.
        Value::List(items) if items.is_empty() => "--".to_owned(),
        Value::List(items) => items.last().map(item).unwrap_or_default(),
        // Only `auto_int` settings hold more digits than Python reads as a decimal.
        Value::Int(digits) => pyint::literal(digits),
        other => other.display(),
    }
}
