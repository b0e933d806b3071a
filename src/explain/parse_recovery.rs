//! `Repair`: the edit that gets argparse past one error, so `explain` can report the next.
//!
//! Only edits whose result is certain are made: dropping a flag gunicorn refuses to know,
//! or turning `--preload=true` into `--preload`. An ambiguous prefix or a missing value
//! needs a person, and explaining a guess would mislead.

use crate::gunicorn::argparse::ParseError;

/// Tokens (by position in the current argv) to drop, and one to rewrite.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Repair {
    drop: Vec<usize>,
    rewrite: Option<(usize, String)>,
}

impl Repair {
    /// Applies the edit to `(original index, text)` pairs.
    pub fn apply(self, argv: &mut Vec<(usize, String)>) {
        if let Some((at, text)) = self.rewrite {
            argv[at].1 = text;
        }
        // One pass, whatever the number of drops: a value can hold thousands of unknown
        // flags, and looking each position up in `drop` made this quadratic.
        let mut dropped = vec![false; argv.len()];
        for &i in &self.drop {
            if let Some(d) = dropped.get_mut(i) {
                *d = true;
            }
        }
        let mut position = 0;
        argv.retain(|_| {
            let keep = !dropped[position];
            position += 1;
            keep
        });
    }
}

/// How to get past `error`, if that can be decided without guessing.
pub fn repair(error: &ParseError, argv: &[&str]) -> Option<Repair> {
    match error {
        ParseError::Unrecognized { tokens, .. } => Some(Repair {
            drop: tokens.clone(),
            rewrite: None,
        }),
        ParseError::Help { token, .. } | ParseError::Version { token, .. } => Some(Repair {
            drop: vec![*token],
            rewrite: None,
        }),
        ParseError::IgnoredExplicit {
            option,
            explicit,
            token,
        } if argv.get(*token).is_some_and(|t| t.starts_with("--")) => {
            // `--preload=true` meant "on"; `--preload=false` meant "off", which is leaving it out.
            let on = matches!(
                explicit.to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "y" | "on"
            );
            Some(if on {
                Repair {
                    drop: Vec::new(),
                    rewrite: Some((*token, (*option).to_owned())),
                }
            } else {
                Repair {
                    drop: vec![*token],
                    rewrite: None,
                }
            })
        }
        _ => None,
    }
}
