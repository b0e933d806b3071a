//! gunicorn's validators: what `Config.set` makes of each value argparse stored.
//!
//! After argparse, gunicorn's `load_config` calls `cfg.set(name, value)` for every setting
//! the variable gives, in registration order, then `cfg.validate()`. A validator that
//! raises stops gunicorn with `Error: <message>` and exit status 1 before it binds: argparse
//! takes `--workers=-1`, `validate_pos_int` does not. Each function here follows its
//! namesake in gunicorn 27.0.1's `config.py`; the oracle test compares them with the real
//! ones. Validators that look at the machine (a directory, a file, a user, an installed
//! package) answer `Depends`: only the image can say.

use super::argparse::{Parsed, Value};
use super::ipaddress::ip_network;
use super::pyint;
use super::pystr::{lower, repr, strip};
use super::settings::{self, Setting, Validator};

/// What gunicorn's validator does with one setting's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// gunicorn keeps this value (stripped, lowered, converted as the validator does).
    Accepted(Value),
    /// The validator raises: gunicorn prints `Error: <message>` and exits with status 1.
    Refused(String),
    /// The answer depends on the machine gunicorn runs on; says what it looks at.
    Depends(String),
}

/// Every setting `parsed` gives, in the order gunicorn sets them, with its outcome.
pub fn validate(parsed: &Parsed) -> Vec<(&'static Setting, Outcome)> {
    settings::all()
        .iter()
        .filter_map(|setting| {
            let value = parsed.values.get(setting.name)?;
            // Removed flags share a name with no current setting; the parser never keeps
            // them for the version it parses, so the first row of a name is the one.
            Some((setting, outcome(setting.validator, value)))
        })
        .collect()
}

/// The settings whose validator refuses the value, with gunicorn's message, in the order
/// gunicorn meets them (it prints the first and exits).
pub fn refusals(parsed: &Parsed) -> Vec<(&'static Setting, String)> {
    validate(parsed)
        .into_iter()
        .filter_map(|(setting, outcome)| match outcome {
            Outcome::Refused(message) => Some((setting, message)),
            _ => None,
        })
        .collect()
}

/// The message Python's `%s` gives a list argparse stored (`--name=--` stores `[]`).
fn not_a_string(items: &[Value]) -> String {
    format!("Not a string: {}", py_list(items))
}

fn py_list(items: &[Value]) -> String {
    let shown: Vec<String> = items
        .iter()
        .map(|v| match v {
            Value::Str(s) => repr(s),
            Value::Int(i) => i.clone(),
            Value::Bool(b) => if *b { "True" } else { "False" }.to_owned(),
            Value::List(inner) => py_list(inner),
        })
        .collect();
    format!("[{}]", shown.join(", "))
}

fn outcome(validator: Validator, value: &Value) -> Outcome {
    use Outcome::{Accepted, Refused};
    // Only `--flag=--` makes argparse store a list for a one-value flag; Python's checks
    // then fail on the type, each in its own words.
    if let (Value::List(items), false) = (value, takes_list(validator)) {
        return Refused(list_refusal(validator, items));
    }
    let text = match value {
        Value::Str(s) => s.as_str(),
        _ => "",
    };
    match validator {
        Validator::PosInt => pos_int(value),
        Validator::Http2StreamLimit => pos_int(value).and_limit(|n, shown| {
            (n < 1).then(|| format!("HTTP/2 max concurrent streams must be at least 1: {shown}"))
        }),
        Validator::Http2WindowSize => pos_int(value).and_limit(|n, shown| {
            (n > 2_147_483_647)
                .then(|| format!("HTTP/2 window size must be at most 2147483647: {shown}"))
        }),
        Validator::Http2FrameSize => int_value(value).and_limit(|n, shown| {
            (!(16_384..=16_777_215).contains(&n)).then(|| {
                format!("http2_max_frame_size must be between 16384 and 16777215, got {shown}")
            })
        }),
        // Flags store a bool; `ssl_version` is kept as given (with a deprecation warning);
        // the rest have no flag.
        Validator::Bool
        | Validator::SslVersion
        | Validator::Dict
        | Validator::Callable
        | Validator::PostRequest => Accepted(value.clone()),
        Validator::String | Validator::Class => Accepted(Value::Str(strip(text).to_owned())),
        Validator::ListString => {
            list_string(value).map_or_else(Refused, |items| Accepted(str_list(items)))
        }
        Validator::ListOfFilesOrPatterns => match list_string(value) {
            Err(message) => Refused(message),
            Ok(items) => match items.iter().find(|i| !i.contains(['*', '?', '['])) {
                Some(file) => Outcome::Depends(format!("whether the file {file} exists")),
                None => Accepted(str_list(items)),
            },
        },
        Validator::StringToList => Accepted(str_list(string_to_list(text))),
        Validator::StringToAddrList => {
            let entries = string_to_list(text);
            for entry in entries.iter().filter(|e| *e != "*") {
                if let Err(message) = ip_network(entry) {
                    return Refused(message);
                }
            }
            Accepted(str_list(entries))
        }
        Validator::Chdir => {
            Outcome::Depends(format!("whether the directory {} exists", strip(text)))
        }
        Validator::User => account(text, "user"),
        Validator::Group => account(text, "group"),
        Validator::StatsdAddress => statsd_address(strip(text)),
        Validator::ReloadEngine
        | Validator::ProxyProtocol
        | Validator::Http2Cleartext
        | Validator::HeaderMapBehaviour
        | Validator::AsgiLoop
        | Validator::AsgiLifespan
        | Validator::HttpParser => enumerated(validator, text),
        Validator::HttpProtocols => http_protocols(text),
    }
}

/// `validate_user` / `validate_group`: digits are an id; a name is looked up in the
/// image's passwd or group file.
fn account(text: &str, who: &str) -> Outcome {
    match pyint::int(text) {
        Some(id) if !text.is_empty() && text.chars().all(|c| pyint::decimal(c).is_some()) => {
            Outcome::Accepted(Value::Int(id))
        }
        _ => Outcome::Depends(format!("whether the image has a {who} named {text}")),
    }
}

/// The validators that take one of a few words.
fn enumerated(validator: Validator, text: &str) -> Outcome {
    use Outcome::{Accepted, Refused};
    match validator {
        Validator::ReloadEngine => {
            if ["auto", "poll", "inotify"].contains(&text) {
                Accepted(Value::Str(text.to_owned()))
            } else {
                Refused(format!("Invalid reload_engine: {}", repr(text)))
            }
        }
        Validator::ProxyProtocol => {
            let mode = lower(text);
            let mapped = match strip(&mode) {
                "false" | "off" | "0" | "none" => "off",
                "true" | "auto" | "1" => "auto",
                "v1" => "v1",
                "v2" => "v2",
                _ => return Refused("proxy_protocol must be: off, v1, v2, or auto".to_owned()),
            };
            Accepted(Value::Str(mapped.to_owned()))
        }
        Validator::Http2Cleartext => {
            let mode = lower(text);
            let mode = strip(&mode);
            if ["off", "prior-knowledge", "upgrade", "both"].contains(&mode) {
                Accepted(Value::Str(mode.to_owned()))
            } else {
                Refused(format!("Invalid http2_cleartext: {mode}"))
            }
        }
        Validator::HeaderMapBehaviour => {
            let mode = lower(text);
            match strip(&mode) {
                m @ ("drop" | "refuse" | "dangerous") => Accepted(Value::Str(m.to_owned())),
                _ => Refused(format!("Invalid header map behaviour: {text}")),
            }
        }
        Validator::AsgiLoop => one_of(text, &["auto", "asyncio", "uvloop"], |v| {
            format!("Invalid ASGI loop: {v}")
        }),
        Validator::AsgiLifespan => one_of(text, &["auto", "on", "off"], |v| {
            format!("Invalid ASGI lifespan: {v}")
        }),
        Validator::HttpParser => one_of(text, &["auto", "fast", "python"], |_| {
            "http_parser must be one of: auto, fast, python".to_owned()
        }),
        _ => Accepted(Value::Str(text.to_owned())),
    }
}

/// Validators that take argparse's `append` list as it is.
fn takes_list(validator: Validator) -> bool {
    matches!(
        validator,
        Validator::ListString | Validator::ListOfFilesOrPatterns | Validator::SslVersion
    )
}

/// What each validator raises when given the empty list `--flag=--` stores.
fn list_refusal(validator: Validator, items: &[Value]) -> String {
    match validator {
        Validator::PosInt
        | Validator::Http2StreamLimit
        | Validator::Http2WindowSize
        | Validator::Http2FrameSize => "int() can't convert non-string with explicit base".into(),
        Validator::User | Validator::Group => "'list' object has no attribute 'isdigit'".into(),
        Validator::ReloadEngine => "unhashable type: 'list'".into(),
        Validator::ProxyProtocol => "proxy_protocol must be string or bool".into(),
        Validator::HttpProtocols => "http_protocols must be a string".into(),
        Validator::HttpParser => "http_parser must be a string".into(),
        Validator::Http2Cleartext
        | Validator::HeaderMapBehaviour
        | Validator::AsgiLoop
        | Validator::AsgiLifespan => format!("Invalid type for casting: {}", py_list(items)),
        _ => not_a_string(items),
    }
}

/// An integer outcome that may still fail a bound.
trait AndLimit {
    /// `limit(n, digits)` says why `n` (written `digits`) is out of bounds, if it is.
    fn and_limit(self, limit: impl Fn(i128, &str) -> Option<String>) -> Outcome;
}

impl AndLimit for Outcome {
    fn and_limit(self, limit: impl Fn(i128, &str) -> Option<String>) -> Outcome {
        let Outcome::Accepted(Value::Int(digits)) = &self else {
            return self;
        };
        // Beyond i128 only the sign matters to every bound gunicorn checks.
        let n = digits
            .parse::<i128>()
            .unwrap_or(if digits.starts_with('-') {
                i128::MIN
            } else {
                i128::MAX
            });
        match limit(n, digits) {
            // Formatting the value into the message raises first when it is too long.
            Some(message) => Outcome::Refused(pyint::str_limit(digits).unwrap_or(message)),
            None => self,
        }
    }
}

/// `int(val, 0)` for a string, `int(val)` for an int, as `validate_pos_int` starts.
fn int_value(value: &Value) -> Outcome {
    match value {
        Value::Int(_) => Outcome::Accepted(value.clone()),
        Value::Str(text) => match pyint::int_base0(text) {
            Ok(digits) => Outcome::Accepted(Value::Int(digits)),
            Err(error) => Outcome::Refused(error.message(text, 0)),
        },
        Value::Bool(b) => Outcome::Accepted(Value::Int(u8::from(*b).to_string())),
        Value::List(_) => {
            Outcome::Refused("int() can't convert non-string with explicit base".into())
        }
    }
}

/// `validate_pos_int`.
fn pos_int(value: &Value) -> Outcome {
    match int_value(value) {
        Outcome::Accepted(Value::Int(digits)) if digits.starts_with('-') => Outcome::Refused(
            pyint::str_limit(&digits)
                .unwrap_or_else(|| format!("Value must be positive: {digits}")),
        ),
        other => other,
    }
}

/// `validate_list_string` on argparse's `append` list: each item stripped.
fn list_string(value: &Value) -> Result<Vec<String>, String> {
    let items = match value {
        Value::List(items) => items.clone(),
        other => vec![other.clone()],
    };
    items
        .iter()
        .map(|item| match item {
            Value::Str(s) => Ok(strip(s).to_owned()),
            Value::List(inner) => Err(not_a_string(inner)),
            other => Err(format!("Not a string: {}", other.display())),
        })
        .collect()
}

/// `validate_string_to_list`: stripped, split at commas, each part stripped; a part that
/// is empty before stripping is dropped, one of spaces is kept (as the empty string).
fn string_to_list(text: &str) -> Vec<String> {
    let text = strip(text);
    if text.is_empty() {
        return Vec::new();
    }
    text.split(',')
        .filter(|part| !part.is_empty())
        .map(|part| strip(part).to_owned())
        .collect()
}

fn str_list(items: Vec<String>) -> Value {
    Value::List(items.into_iter().map(Value::Str).collect())
}

/// `val.lower().strip()` must be one of `allowed`.
fn one_of(text: &str, allowed: &[&str], refusal: impl Fn(&str) -> String) -> Outcome {
    let lowered = lower(text);
    let mode = strip(&lowered);
    if allowed.contains(&mode) {
        Outcome::Accepted(Value::Str(mode.to_owned()))
    } else {
        Outcome::Refused(refusal(mode))
    }
}

/// `validate_http_protocols`, then `Config.validate`'s check that h2 is installed.
fn http_protocols(text: &str) -> Outcome {
    let protocols: Vec<String> = strip(text)
        .split(',')
        .filter(|p| !strip(p).is_empty())
        .map(|p| lower(strip(p)))
        .collect();
    if protocols.is_empty() {
        return Outcome::Accepted(str_list(vec!["h1".to_owned()]));
    }
    if let Some(bad) = protocols
        .iter()
        .find(|p| !["h1", "h2"].contains(&p.as_str()))
    {
        return Outcome::Refused(format!("Invalid protocol '{bad}'. Valid protocols: h1, h2"));
    }
    let mut distinct = protocols.clone();
    distinct.sort();
    distinct.dedup();
    if distinct.len() != protocols.len() {
        return Outcome::Refused("Duplicate protocols specified".to_owned());
    }
    if protocols.iter().any(|p| p == "h2") {
        return Outcome::Depends(
            "whether the image has the h2 package (gunicorn[http2]); without it gunicorn exits with `Error: http_protocols includes h2 but the h2 package is not installed`".to_owned(),
        );
    }
    Outcome::Accepted(str_list(protocols))
}

/// `validate_statsd_address` on the stripped value: `unix:PORT` (kept for compatibility),
/// then `util.parse_address(val, default_port='8125')`.
fn statsd_address(text: &str) -> Outcome {
    const REFUSED: &str = "Value must be one of ('host:port', 'unix://PATH')";
    if let Some(port) = text.strip_prefix("unix:")
        && !port.is_empty()
        && port.chars().all(|c| pyint::decimal(c).is_some())
        && let Some(port) = pyint::int(port)
    {
        return Outcome::Accepted(Value::List(vec![
            Value::Str("unix".to_owned()),
            Value::Int(port),
        ]));
    }
    if text.starts_with("unix:") {
        // `re.split(r'unix:(//)?', netloc)[-1]`: what follows the last `unix:` (and its `//`).
        let at = text.rfind("unix:").unwrap_or(0) + "unix:".len();
        let rest = &text[at..];
        return Outcome::Accepted(Value::Str(
            rest.strip_prefix("//").unwrap_or(rest).to_owned(),
        ));
    }
    if let Some(fd) = text.strip_prefix("fd://") {
        return pyint::int(fd).map_or(Outcome::Refused(REFUSED.to_owned()), |fd| {
            Outcome::Accepted(Value::Int(fd))
        });
    }
    let netloc = if text.starts_with("tcp://") {
        text.split("tcp://").nth(1).unwrap_or("")
    } else {
        text
    };
    let (host, port): (String, &str) = if netloc.contains('[') && netloc.contains(']') {
        let before = netloc.split(']').next().unwrap_or("");
        let port = netloc.split("]:").nth(1).unwrap_or("8125");
        (before.chars().skip(1).collect(), port)
    } else if netloc.contains(':') {
        let mut parts = netloc.split(':');
        (
            parts.next().unwrap_or("").to_owned(),
            parts.next().unwrap_or("8125"),
        )
    } else if netloc.is_empty() {
        ("0.0.0.0".to_owned(), "8125")
    } else {
        (netloc.to_owned(), "8125")
    };
    match pyint::int(port) {
        Some(port) => Outcome::Accepted(Value::List(vec![
            Value::Str(lower(&host)),
            Value::Int(port),
        ])),
        None => Outcome::Refused(REFUSED.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gunicorn::argparse::Parser;
    use crate::gunicorn::settings::DEFAULT_VERSION;

    fn first(args: &[&str]) -> Option<String> {
        let parsed = Parser::new(DEFAULT_VERSION).parse(args).unwrap();
        refusals(&parsed).into_iter().next().map(|(_, m)| m)
    }

    #[test]
    fn negative_numbers_are_refused_as_gunicorn_words_it() {
        for flag in [
            "--workers=-1",
            "--max-requests=-1",
            "--backlog=-1",
            "--umask=-1",
        ] {
            assert_eq!(
                first(&[flag]).as_deref(),
                Some("Value must be positive: -1"),
                "{flag}"
            );
        }
        assert_eq!(
            first(&["--timeout", "-5"]).as_deref(),
            Some("Value must be positive: -5")
        );
        assert_eq!(first(&["--workers=0", "--timeout=-0"]), None);
    }

    #[test]
    fn gunicorn_stops_at_the_first_setting_in_its_own_order() {
        assert_eq!(
            first(&["--timeout=-2", "--workers=-1"]).as_deref(),
            Some("Value must be positive: -1")
        );
    }
}
