//! `Advice`: one finding about a gunicorn argv, in English and Simplified Chinese, with
//! the edit that fixes it.
//!
//! Rules write both languages side by side so a translation is never missing or stale;
//! rule ids, flags and values stay as they are in either language.

use serde::Serialize;

use crate::diagnostic::Severity;
use crate::rules::Rule;

/// A message in the languages fabuild speaks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Text {
    pub en: String,
    pub zh: String,
}

/// Builds a `Text` from the English and the Chinese.
pub fn text(en: impl Into<String>, zh: impl Into<String>) -> Text {
    Text {
        en: en.into(),
        zh: zh.into(),
    }
}

/// The language to speak.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Text {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Zh => &self.zh,
        }
    }
}

/// An edit to the argv that makes a finding go away.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fix {
    /// Drop every occurrence of the setting.
    Drop(&'static str),
    /// Give the setting this value (replacing what was given, or adding it).
    Set(&'static str, String),
    /// Replace one value of a repeatable setting (one `--bind` of several).
    Replace {
        setting: &'static str,
        from: String,
        to: String,
    },
}

/// One finding about a gunicorn argv.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advice {
    pub rule: Rule,
    pub severity: Severity,
    /// The argv token it is about (`None`: something missing).
    pub token: Option<usize>,
    /// The offending text as written, or the flag that is missing.
    pub offending: String,
    /// What is wrong and why it matters.
    pub why: Text,
    /// What to do.
    pub fix: Text,
    /// The edits the corrected line applies; empty when a person must decide.
    pub edits: Vec<Fix>,
}

impl Advice {
    pub fn new(
        rule: Rule,
        severity: Severity,
        offending: impl Into<String>,
        why: Text,
        fix: Text,
    ) -> Self {
        Self {
            rule,
            severity,
            token: None,
            offending: offending.into(),
            why,
            fix,
            edits: Vec::new(),
        }
    }

    #[must_use]
    pub fn at(mut self, token: Option<usize>) -> Self {
        self.token = token;
        self
    }

    #[must_use]
    pub fn edit(mut self, fix: Fix) -> Self {
        self.edits.push(fix);
        self
    }
}
