//! Values argparse takes and gunicorn's validators refuse (`--workers=-1`): gunicorn prints
//! `Error: <message>` and exits with status 1 before it binds.

use crate::diagnostic::Severity::Error;
use crate::gunicorn::advice::{Advice, Fix, text};
use crate::gunicorn::argparse::Parsed;
use crate::gunicorn::validators;
use crate::rules;

use super::last_occurrence;

/// One finding for every setting whose validator refuses its value, dropped from the
/// corrected line so gunicorn's default applies.
pub(super) fn refused(parsed: &Parsed, out: &mut Vec<Advice>) {
    for (setting, message) in validators::refusals(parsed) {
        let Some(o) = last_occurrence(parsed, setting.name) else {
            continue;
        };
        let flag = setting.flag();
        let value = o.value.display();
        // The forwarded-allow-ips entries have had their own rule since before the
        // validators were modelled; the others share one.
        let rule = if setting.name == "forwarded_allow_ips" {
            rules::FORWARDED_ALLOW_INVALID
        } else {
            rules::VALUE_REFUSED
        };
        out.push(
            Advice::new(
                rule,
                Error,
                format!("{flag}={value}"),
                text(
                    format!("{flag} `{value}` passes argparse, but gunicorn's validator refuses it: gunicorn prints `Error: {message}` and exits with status 1 before serving"),
                    format!("{flag} `{value}` 能通过 argparse，但会被 gunicorn 的校验拒绝：gunicorn 打印 `Error: {message}`，在提供服务前以状态码 1 退出"),
                ),
                text(
                    format!("give {flag} a value of the form {}, or drop it to keep gunicorn's default ({})", setting.value_type, setting.default),
                    format!("给 {flag} 一个符合 {} 的值，或者删除它以使用 gunicorn 的默认值（{}）", setting.value_type, setting.default),
                ),
            )
            .at(Some(o.token))
            .edit(Fix::Drop(setting.name)),
        );
    }
}
