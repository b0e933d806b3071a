//! `Explanation`: the review of one `GUNICORN_CMD_ARGS` value, and its text and JSON forms.

use serde::Serialize;

use super::describe::Description;
use crate::diagnostic::Severity;
use crate::gunicorn::advice::{Advice, Lang, Text};
use crate::gunicorn::argparse::Value;
use crate::gunicorn::rules::Context;
use crate::gunicorn::shlex;

/// One setting the value sets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SettingLine {
    pub name: &'static str,
    pub flag: &'static str,
    /// The tokens it came from, as written.
    pub tokens: Vec<String>,
    pub value: Value,
    pub description: Description,
}

/// Everything `fabuild explain` reports.
#[derive(Clone, Debug)]
pub struct Explanation {
    pub input: String,
    /// Where the value came from (`argument`, `$GUNICORN_CMD_ARGS`, `Dockerfile:12`).
    pub source: String,
    pub context: Context,
    /// What `shlex.split` made of it; `None` when it could not be split.
    pub argv: Option<Vec<String>>,
    /// Whether gunicorn accepts the value at all.
    pub accepted: bool,
    pub settings: Vec<SettingLine>,
    pub advice: Vec<Advice>,
    /// A value with every fixable finding fixed; `None` when gunicorn refuses the input.
    pub corrected: Option<Vec<String>>,
    /// explain stopped after this many refusals, with more to come (see `MAX_REFUSALS`).
    pub stopped_after: Option<usize>,
}

impl Explanation {
    pub fn count(&self, severity: Severity) -> usize {
        self.advice
            .iter()
            .filter(|a| a.severity == severity)
            .count()
    }

    pub fn has_errors(&self) -> bool {
        self.count(Severity::Error) > 0
    }

    /// The corrected value as one string that `shlex.split` gives back as the argv.
    pub fn corrected_line(&self) -> Option<String> {
        self.corrected.as_ref().map(|argv| shlex::join(argv))
    }

    /// The line saying explain stopped before the last error, if it did.
    fn stop_note(&self, zh: bool) -> String {
        match self.stopped_after {
            None => String::new(),
            Some(n) if zh => format!(
                "\n  explain 在 {n} 个错误后停止：gunicorn 在第一个错误处就会退出；请先修复这些错误，再运行一次 explain\n"
            ),
            Some(n) => format!(
                "\n  explain stopped after {n} errors (gunicorn stops at the first); fix these, then run explain again\n"
            ),
        }
    }

    /// The report people read.
    pub fn render_text(&self, lang: Lang) -> String {
        let zh = lang == Lang::Zh;
        let t = |en: &str, zh_text: &str| {
            if zh {
                zh_text.to_owned()
            } else {
                en.to_owned()
            }
        };
        // Chinese text takes the full-width colon.
        let colon = if zh { "：" } else { ": " };
        let mut out = String::new();
        let ctx = &self.context;
        out.push_str(&if zh {
            format!(
                "GUNICORN_CMD_ARGS（来源：{}），按 gunicorn {} 解读，容器以 uid {} 运行\n",
                self.source, ctx.version, ctx.uid
            )
        } else {
            format!(
                "GUNICORN_CMD_ARGS from {}, as gunicorn {} reads it, running as uid {}\n",
                self.source, ctx.version, ctx.uid
            )
        });
        out.push_str(&format!("  {}\n", shlex::quote(&self.input)));
        if let Some(argv) = &self.argv {
            out.push_str(&t(
                "  words after shlex.split: ",
                "  shlex.split 切分结果：",
            ));
            out.push_str(&format!("{argv:?}\n"));
        }

        if !self.settings.is_empty() {
            out.push_str(&t("\nSettings\n", "\n设置\n"));
            for s in &self.settings {
                out.push_str(&format!(
                    "\n  {}  ->  {} = {}\n",
                    s.tokens.join(" "),
                    s.name,
                    s.value.display()
                ));
                let d = &s.description;
                let rows: [(&str, &str, &Text); 3] = [
                    ("what it does", "作用", &d.what),
                    ("default", "默认值", &d.default),
                    ("in a container", "在容器中", &d.container),
                ];
                for (en, zh_label, text) in rows {
                    let label = if zh { zh_label } else { en };
                    out.push_str(&format!("    {label}{colon}{}\n", text.get(lang)));
                }
            }
        }

        out.push_str(&t("\nFindings\n", "\n问题\n"));
        if self.advice.is_empty() {
            out.push_str(&t("  none\n", "  无\n"));
        }
        for a in &self.advice {
            let word = match (a.severity, zh) {
                (Severity::Error, false) => "error",
                (Severity::Warning, false) => "warning",
                (Severity::Note, false) => "note",
                (Severity::Error, true) => "错误",
                (Severity::Warning, true) => "警告",
                (Severity::Note, true) => "提示",
            };
            out.push_str(&format!("\n  {word}[{}]: {}\n", a.rule.id, a.offending));
            out.push_str(&format!(
                "    {}{colon}{}\n",
                t("why", "原因"),
                a.why.get(lang)
            ));
            out.push_str(&format!(
                "    {}{colon}{}\n",
                t("fix", "修复"),
                a.fix.get(lang)
            ));
        }

        out.push_str(&self.stop_note(zh));

        out.push_str(&t(
            "\nCorrected GUNICORN_CMD_ARGS\n",
            "\n修正后的 GUNICORN_CMD_ARGS\n",
        ));
        match self.corrected_line() {
            Some(line) => out.push_str(&format!("  {line}\n")),
            None => out.push_str(&t(
                "  none: gunicorn refuses this value; fix the error above, then run explain again\n",
                "  无：gunicorn 拒绝这个值；请先修复上面的错误，再运行一次 explain\n",
            )),
        }

        let (e, w, n) = (
            self.count(Severity::Error),
            self.count(Severity::Warning),
            self.count(Severity::Note),
        );
        out.push_str(&if zh {
            format!("\n结论：{e} 个错误，{w} 个警告，{n} 个提示\n")
        } else {
            format!("\nVerdict: {e} error(s), {w} warning(s), {n} note(s)\n")
        });
        out
    }

    /// The report tools read (`--format json`), in `lang`.
    pub fn report(&self, lang: Lang) -> Report<'_> {
        Report {
            ok: !self.has_errors(),
            accepted: self.accepted,
            source: &self.source,
            input: &self.input,
            gunicorn_version: self.context.version.to_string(),
            uid: self.context.uid,
            tls_mounted: self.context.tls_mounted,
            argv: self.argv.as_deref(),
            settings: self
                .settings
                .iter()
                .map(|s| ReportSetting {
                    name: s.name,
                    flag: s.flag,
                    tokens: &s.tokens,
                    value: &s.value,
                    what: s.description.what.get(lang),
                    default: s.description.default.get(lang),
                    container: s.description.container.get(lang),
                })
                .collect(),
            findings: self
                .advice
                .iter()
                .map(|a| ReportFinding {
                    rule: a.rule.id,
                    title: a.rule.title,
                    severity: a.severity,
                    token: &a.offending,
                    argv_index: a.token,
                    why: a.why.get(lang),
                    fix: a.fix.get(lang),
                })
                .collect(),
            corrected: self.corrected_line(),
            stopped_after: self.stopped_after,
        }
    }
}

/// `explain --format json`'s document (docs/json.md).
#[derive(Serialize)]
pub struct Report<'a> {
    pub ok: bool,
    pub accepted: bool,
    pub source: &'a str,
    pub input: &'a str,
    pub gunicorn_version: String,
    pub uid: u32,
    pub tls_mounted: bool,
    pub argv: Option<&'a [String]>,
    pub settings: Vec<ReportSetting<'a>>,
    pub findings: Vec<ReportFinding<'a>>,
    pub corrected: Option<String>,
    pub stopped_after: Option<usize>,
}

/// A setting the value sets, described in the report's language.
#[derive(Serialize)]
pub struct ReportSetting<'a> {
    pub name: &'static str,
    pub flag: &'static str,
    pub tokens: &'a [String],
    pub value: &'a Value,
    pub what: &'a str,
    pub default: &'a str,
    pub container: &'a str,
}

/// A finding about the value: the flag it is about (`token`) and its place in the argument
/// list (`argv_index`) instead of a line and column.
#[derive(Serialize)]
pub struct ReportFinding<'a> {
    pub rule: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub token: &'a str,
    pub argv_index: Option<usize>,
    pub why: &'a str,
    pub fix: &'a str,
}
