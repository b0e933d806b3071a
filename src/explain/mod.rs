//! `fabuild explain`: reviews a `GUNICORN_CMD_ARGS` value exactly as gunicorn reads it.
//!
//! The value is split and parsed with the oracle-tested model in `gunicorn`, each setting
//! is described, `gunicorn::rules` judges the whole, and a corrected value is proposed.
//! Nothing here prints: the binary renders an `Explanation`.

pub mod corrected_argv;
pub mod describe;
pub mod dockerfile;
pub mod explanation;
mod parse_recovery;

pub use explanation::{Explanation, SettingLine};

use crate::gunicorn::argparse::{Parsed, Parser};
use crate::gunicorn::cmd_args::ReadError;
use crate::gunicorn::rules::{self, Context};
use crate::gunicorn::shlex::{self, Word};

/// Reviews `input` (from `source`, a name for messages) under `ctx`.
pub fn explain(input: &str, source: &str, ctx: &Context) -> Explanation {
    let mut explanation = Explanation {
        input: input.to_owned(),
        source: source.to_owned(),
        context: *ctx,
        argv: None,
        accepted: false,
        settings: Vec::new(),
        advice: Vec::new(),
        corrected: None,
        stopped_after: None,
    };
    // Checked first: a value this long is not worth splitting, and explain's memory stays
    // bounded however large the Dockerfile it came from.
    if let Some(advice) = rules::too_long(input) {
        explanation.advice = vec![advice];
        return explanation;
    }
    let words = match shlex::split_words(input) {
        Ok(words) => words,
        Err(err) => {
            explanation.advice = vec![rules::refusal(&ReadError::Split(err), ctx)];
            return explanation;
        }
    };
    explanation.argv = Some(words.iter().map(|w| w.text.clone()).collect());
    let (parsed, refusals, stopped) = parse_repairing(&words, ctx);
    explanation.stopped_after = stopped.then_some(refusals.len());
    explanation.accepted = refusals.is_empty();
    explanation.advice = refusals;
    if let Some(parsed) = parsed {
        explanation.settings = settings(&words, &parsed, ctx);
        let advice = rules::check(&parsed, ctx);
        // argparse took it; gunicorn still exits 1 if a validator refuses a value.
        explanation.accepted &= !advice.iter().any(rules::is_validator_refusal);
        explanation.corrected = Some(corrected_argv::corrected(&parsed, &advice));
        explanation.advice.extend(advice);
    }
    explanation
        .advice
        .sort_by_key(|a| (a.severity, a.token.unwrap_or(usize::MAX)));
    explanation
}

/// How many refusals explain reports before it stops. Each costs a parse of the whole
/// argv, so without a bound 8,000 `--preload=true` took 25 s in a release build; nobody
/// fixes more than a screenful of errors before running explain again.
pub const MAX_REFUSALS: usize = 16;

/// Parses like gunicorn; where gunicorn would stop at the first error, records it, repairs
/// the argv the way its fix says (drop an unknown flag, `--preload=true` -> `--preload`)
/// and goes on, so one run reports every error, up to `MAX_REFUSALS`. Returns no parse
/// when an error needs a person's decision (an ambiguous prefix, a missing or non-numeric
/// value), or when there is one more after `MAX_REFUSALS`, then saying so with `true`.
/// Token indices in the result are the original argv's.
fn parse_repairing(
    words: &[Word],
    ctx: &Context,
) -> (Option<Parsed>, Vec<crate::gunicorn::advice::Advice>, bool) {
    let parser = Parser::new(ctx.version);
    // (index in `words`, text gunicorn would now get)
    let mut current: Vec<(usize, String)> =
        words.iter().map(|w| w.text.clone()).enumerate().collect();
    let mut refusals = Vec::new();
    // Each repair removes or shortens a token, so this ends even without the bound.
    loop {
        let argv: Vec<&str> = current.iter().map(|(_, t)| t.as_str()).collect();
        match parser.parse(&argv) {
            Ok(mut parsed) => {
                let original = |i: usize| current[i].0;
                for o in &mut parsed.occurrences {
                    o.token = original(o.token);
                    o.value_token = o.value_token.map(original);
                }
                for t in &mut parsed.positional_tokens {
                    *t = original(*t);
                }
                return (Some(parsed), refusals, false);
            }
            Err(_) if refusals.len() == MAX_REFUSALS => return (None, refusals, true),
            Err(error) => {
                let seen: Vec<Word> = current
                    .iter()
                    .map(|(i, t)| Word {
                        text: t.clone(),
                        offset: words[*i].offset,
                    })
                    .collect();
                let fix = parse_recovery::repair(&error, &argv);
                let mut advice = rules::refusal(&ReadError::Parse { words: seen, error }, ctx);
                advice.token = advice.token.map(|t| current[t].0);
                refusals.push(advice);
                let Some(fix) = fix else {
                    return (None, refusals, false);
                };
                fix.apply(&mut current);
            }
        }
    }
}

/// One line per setting, in the order each first appears, with every token it came from.
fn settings(words: &[Word], parsed: &Parsed, ctx: &Context) -> Vec<SettingLine> {
    let mut lines: Vec<SettingLine> = Vec::new();
    for o in &parsed.occurrences {
        let mut tokens = vec![words[o.token].text.clone()];
        if let Some(v) = o.value_token {
            tokens.push(words[v].text.clone());
        }
        let Some(value) = parsed.values.get(o.setting.name) else {
            continue;
        };
        match lines.iter_mut().find(|l| l.name == o.setting.name) {
            Some(line) => line.tokens.extend(tokens),
            None => lines.push(SettingLine {
                name: o.setting.name,
                flag: o.setting.flag(),
                tokens,
                value: value.clone(),
                description: describe::describe(o.setting, value, ctx),
            }),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Severity;

    fn errors(e: &Explanation) -> Vec<&str> {
        e.advice
            .iter()
            .filter(|a| a.severity == Severity::Error)
            .map(|a| a.rule.id)
            .collect()
    }

    #[test]
    fn refusals_are_reported_up_to_the_bound_and_a_stop_is_said() {
        // Sixteen repairable errors, then nothing wrong: every one reported, the value
        // corrected, no stop.
        let sixteen = format!("{}--workers=2", "--preload=true ".repeat(MAX_REFUSALS));
        let e = explain(&sixteen, "argument", &Context::default());
        assert_eq!(errors(&e), vec!["FAB103"; MAX_REFUSALS]);
        assert_eq!(e.stopped_after, None);
        assert!(
            e.corrected_line()
                .is_some_and(|c| c.contains("--workers=2")),
            "{:?}",
            e.corrected_line()
        );
        // One more: explain stops, says after how many, and proposes no value.
        let seventeen = format!("--help {sixteen}");
        let e = explain(&seventeen, "argument", &Context::default());
        assert_eq!(errors(&e).len(), MAX_REFUSALS);
        assert_eq!(e.stopped_after, Some(MAX_REFUSALS));
        assert_eq!(e.corrected_line(), None);
        assert!(
            e.render_text(crate::gunicorn::advice::Lang::En)
                .contains("explain stopped after 16 errors (gunicorn stops at the first)")
        );
    }

    #[test]
    fn thousands_of_unknown_flags_go_in_one_repair() {
        let value = format!("{}--workers=2", "--x ".repeat(20_000));
        let e = explain(&value, "argument", &Context::default());
        assert_eq!(errors(&e), vec!["FAB101"]);
        assert_eq!(e.stopped_after, None);
        let corrected = e.corrected_line().unwrap();
        assert!(
            corrected.starts_with("--workers=2") && !corrected.contains("--x"),
            "{corrected}"
        );
    }
}
