//! `fabuild explain`: reviews a `GUNICORN_CMD_ARGS` value exactly as gunicorn reads it.
//!
//! The value is split and parsed with `gunicorn::cmd_args` (the oracle-tested model), each
//! setting is described, `gunicorn::rules` judges the whole, and a corrected value is
//! proposed. Nothing here prints: the binary renders an `Explanation`.

pub mod correct;
pub mod describe;
pub mod dockerfile;
pub mod explanation;

pub use explanation::{Explanation, SettingLine};

use crate::gunicorn::cmd_args::{CmdArgs, ReadError};
use crate::gunicorn::rules::{self, Context};

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
    };
    match CmdArgs::read(input, ctx.version) {
        Ok(cmd) => {
            explanation.argv = Some(cmd.argv());
            explanation.accepted = true;
            explanation.settings = settings(&cmd, ctx);
            explanation.advice = rules::check(&cmd.parsed, ctx);
            explanation.advice.sort_by_key(|a| a.severity);
            explanation.corrected = Some(correct::corrected(&cmd.parsed, &explanation.advice));
        }
        Err(err) => {
            if let ReadError::Parse { words, .. } = &err {
                explanation.argv = Some(words.iter().map(|w| w.text.clone()).collect());
            }
            explanation.advice = vec![rules::refusal(&err, ctx)];
        }
    }
    explanation
}

/// One line per setting, in the order each first appears, with every token it came from.
fn settings(cmd: &CmdArgs, ctx: &Context) -> Vec<SettingLine> {
    let mut lines: Vec<SettingLine> = Vec::new();
    for o in &cmd.parsed.occurrences {
        let mut tokens = vec![cmd.words[o.token].text.clone()];
        if let Some(v) = o.value_token {
            tokens.push(cmd.words[v].text.clone());
        }
        let Some(value) = cmd.parsed.values.get(o.setting.name) else {
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
