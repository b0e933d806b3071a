//! `fabuild explain`: review a `GUNICORN_CMD_ARGS` value as gunicorn reads it.

use fabuild::exit::ExitStatus;
use fabuild::explain::{self, dockerfile};
use fabuild::gunicorn::advice::Lang;
use fabuild::gunicorn::rules::Context;
use fabuild::gunicorn::settings::Version;
use fabuild::gunicorn::shlex;
use fabuild::read;

use super::{print_json, stopped};
use crate::cli::{ExplainArgs, Format, Language};
use crate::console::out;

pub fn run(args: &ExplainArgs) -> ExitStatus {
    let Some(version) = Version::parse(&args.gunicorn_version) else {
        return nothing_to_explain(
            args,
            &format!(
                "--gunicorn-version `{}` is not a version like 27.0.1",
                args.gunicorn_version
            ),
        );
    };
    let (input, source) = match value(args) {
        Ok(found) => found,
        Err(error) => return nothing_to_explain(args, &error),
    };
    let ctx = Context {
        uid: args.uid,
        version,
        tls_mounted: args.tls_mounted,
    };
    let lang = match args.lang {
        Language::En => Lang::En,
        Language::Zh => Lang::Zh,
    };
    let explanation = explain::explain(&input, &source, &ctx);
    match args.format {
        Format::Text => out!("{}", explanation.render_text(lang)),
        Format::Json => print_json(&explanation.report(lang)),
    }
    ExitStatus::failure_if(explanation.has_errors())
}

/// The value to review and where it came from, or why there is none.
fn value(args: &ExplainArgs) -> Result<(String, String), String> {
    if args.env {
        return match std::env::var("GUNICORN_CMD_ARGS") {
            Ok(value) => Ok((value, "$GUNICORN_CMD_ARGS".to_owned())),
            Err(_) => Err("--env: GUNICORN_CMD_ARGS is not set (or not UTF-8)".to_owned()),
        };
    }
    if let Some(path) = &args.dockerfile {
        let text = read::text(path, read::MAX_TEXT_BYTES)
            .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
        let found = dockerfile::find_env(&text, "GUNICORN_CMD_ARGS")
            .map_err(|err| format!("{}: {err}", path.display()))?;
        return Ok((found.value, format!("{}:{}", path.display(), found.line)));
    }
    match args.args.as_slice() {
        [] => Err(
            "give the value to review (fabuild explain '--bind=0.0.0.0:8443 --workers=3'), or --env, or --dockerfile FILE".to_owned(),
        ),
        [one] => Ok((one.clone(), "argument".to_owned())),
        many => Ok((shlex::join(many), "arguments".to_owned())),
    }
}

/// Nothing to explain: said as the chosen format says things.
fn nothing_to_explain(args: &ExplainArgs, error: &str) -> ExitStatus {
    stopped(args.format, error, None);
    ExitStatus::Error
}
