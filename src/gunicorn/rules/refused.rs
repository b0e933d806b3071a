//! Why gunicorn would not start at all: an argv its parser refuses, and the flag it does
//! not know (docs/rules.md, "Reviewing gunicorn arguments").

use crate::diagnostic::Severity::Error;
use crate::gunicorn::advice::{Advice, text};
use crate::gunicorn::argparse::{ParseError, Parser};
use crate::gunicorn::cmd_args::ReadError;
use crate::gunicorn::settings::{self};
use crate::rules;

use super::Context;

/// Why gunicorn refuses the argv, as one finding.
pub fn refusal(err: &ReadError, ctx: &Context) -> Advice {
    let (words, error) = match err {
        ReadError::Split(split) => {
            return Advice::new(
                rules::CMD_ARGS_SPLIT,
                Error,
                "GUNICORN_CMD_ARGS",
                text(
                    format!(
                        "shlex.split raises \"{split}\": gunicorn dies with a traceback before reading any flag"
                    ),
                    format!(
                        "shlex.split 报错 \"{split}\"：gunicorn 还没读取任何参数就带着 traceback 退出了"
                    ),
                ),
                text(
                    "close every quote you open; to put a quote inside a value, wrap the value in the other kind of quote; do not end the line with a backslash",
                    "每个引号都要成对闭合；值里需要引号时，用另一种引号把整个值括起来；行尾不要留反斜杠",
                ),
            );
        }
        ReadError::Parse { words, error } => (words, error),
    };
    let token = error.token();
    let written = words.get(token).map_or("", |w| w.text.as_str()).to_owned();
    match error {
        ParseError::Ambiguous { candidates, .. } => Advice::new(
            rules::CMD_ARGS_AMBIGUOUS,
            Error,
            &written,
            text(
                format!("`{written}` is a prefix of several flags ({}); argparse refuses it and gunicorn exits with status 2", candidates.join(", ")),
                format!("`{written}` 是多个参数的前缀（{}），argparse 无法判断，gunicorn 以状态码 2 退出", candidates.join(", ")),
            ),
            text(
                "write the flag out in full",
                "请写出完整的参数名",
            ),
        )
        .at(Some(token)),
        ParseError::Unrecognized { args, tokens } => unrecognized(args, tokens, ctx),
        ParseError::ExpectedArgument { option, .. } => Advice::new(
            rules::CMD_ARGS_MISSING_VALUE,
            Error,
            &written,
            text(
                format!("{option} needs a value, but the next word is missing or looks like a flag; gunicorn exits with status 2"),
                format!("{option} 需要一个值，但后面没有值，或者紧跟的词看起来像另一个参数；gunicorn 以状态码 2 退出"),
            ),
            text(
                format!("write {option}=VALUE; the `=` form also lets a value start with `-`"),
                format!("写成 {option}=VALUE；用 `=` 的写法时，值也可以以 `-` 开头"),
            ),
        )
        .at(Some(token)),
        ParseError::IgnoredExplicit { option, explicit, .. } => Advice::new(
            rules::CMD_ARGS_FLAG_VALUE,
            Error,
            &written,
            text(
                format!("{option} is an on/off flag and takes no value; argparse refuses `{explicit}` and gunicorn exits with status 2"),
                format!("{option} 是开关型参数，不接受值；argparse 拒绝 `{explicit}`，gunicorn 以状态码 2 退出"),
            ),
            text(
                format!("write {option} alone to turn it on, and leave it out to keep it off"),
                format!("要开启就只写 {option}，要关闭就不写"),
            ),
        )
        .at(Some(token)),
        ParseError::InvalidValue { option, type_name, value, .. } => Advice::new(
            rules::CMD_ARGS_BAD_VALUE,
            Error,
            &written,
            text(
                format!("{option} wants an integer ({type_name}), and `{value}` is not one; gunicorn exits with status 2"),
                format!("{option} 需要整数（{type_name}），`{value}` 不是整数；gunicorn 以状态码 2 退出"),
            ),
            text(
                "give a plain number; shell substitutions such as $(nproc) are not run: GUNICORN_CMD_ARGS is split, never evaluated",
                "请写一个普通数字；$(nproc) 之类的命令替换不会被执行：GUNICORN_CMD_ARGS 只会被切分，不会被求值",
            ),
        )
        .at(Some(token)),
        ParseError::Help { option, .. } | ParseError::Version { option, .. } => Advice::new(
            rules::CMD_ARGS_EXITS,
            Error,
            &written,
            text(
                format!("`{written}` means {option}: gunicorn prints it and exits with status 0, so the container stops without serving"),
                format!("`{written}` 会被当作 {option}：gunicorn 打印信息后以状态码 0 退出，容器不提供任何服务就停止了"),
            ),
            text("remove it", "删除它"),
        )
        .at(Some(token)),
    }
}

/// An unknown flag: one from another gunicorn version, a typo, or a stray word.
pub(super) fn unrecognized(args: &[String], tokens: &[usize], ctx: &Context) -> Advice {
    let first = args.first().cloned().unwrap_or_default();
    let token = tokens.first().copied();
    let flag = first.split_once('=').map_or(first.as_str(), |(f, _)| f);
    let elsewhere = settings::all()
        .iter()
        .find(|s| s.flags.contains(&flag) && !s.available_in(ctx.version));
    if let Some(setting) = elsewhere {
        let v = ctx.version;
        let (en, zh) = match setting.removed {
            Some(removed) if removed <= v => (
                format!(
                    "{flag} was removed in gunicorn {removed}; gunicorn {v} refuses it (\"unrecognized arguments\") and exits with status 2"
                ),
                format!(
                    "{flag} 已在 gunicorn {removed} 中移除；gunicorn {v} 不认识它（\"unrecognized arguments\"），以状态码 2 退出"
                ),
            ),
            _ => (
                format!(
                    "{flag} exists only from gunicorn {}; gunicorn {v} refuses it (\"unrecognized arguments\") and exits with status 2",
                    setting.since
                ),
                format!(
                    "{flag} 从 gunicorn {} 才有；gunicorn {v} 不认识它（\"unrecognized arguments\"），以状态码 2 退出",
                    setting.since
                ),
            ),
        };
        let fix = match setting.removed {
            Some(_) => text(
                format!("remove it ({})", setting.notes),
                format!("删除它（说明：{}）", setting.notes),
            ),
            None => text(
                format!(
                    "remove it, or target gunicorn >= {} (pin it in requirements and pass --gunicorn-version)",
                    setting.since
                ),
                format!(
                    "删除它，或者改用 gunicorn >= {}（在依赖里固定版本，并传入 --gunicorn-version）",
                    setting.since
                ),
            ),
        };
        return Advice::new(rules::CMD_ARGS_VERSION, Error, &first, text(en, zh), fix).at(token);
    }
    let parser = Parser::new(ctx.version);
    let options: Vec<&str> = parser
        .option_strings()
        .filter(|o| o.starts_with("--"))
        .collect();
    let fix = if !first.starts_with('-') {
        text(
            "gunicorn takes one APP_MODULE, on its command line; a second word here is an error: remove it or pass it as a flag's value",
            "gunicorn 只接受一个 APP_MODULE，而且应写在命令行上；这里多出的词会导致报错：删除它，或者把它作为某个参数的值",
        )
    } else if let Some(near) = crate::spec::suggest(flag, &options) {
        text(
            format!("did you mean {near}?"),
            format!("你是不是想写 {near}？"),
        )
    } else {
        text(
            "remove it; `gunicorn --help` lists every flag",
            "删除它；`gunicorn --help` 会列出所有参数",
        )
    };
    Advice::new(
        rules::CMD_ARGS_UNKNOWN,
        Error,
        &first,
        text(
            format!("gunicorn {} has no `{first}`: argparse stops with \"unrecognized arguments: {}\" and gunicorn exits with status 2", ctx.version, args.join(" ")),
            format!("gunicorn {} 没有 `{first}`：argparse 报错 \"unrecognized arguments: {}\"，gunicorn 以状态码 2 退出", ctx.version, args.join(" ")),
        ),
        fix,
    )
    .at(token)
}
