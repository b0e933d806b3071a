//! A project's `gunicorn.conf.py`, read (never run) for the settings app.yaml has keys for.
//!
//! Only top-level assignments of a literal are understood (`workers = 4`,
//! `bind = "0.0.0.0:8000"`, `bind = ["0.0.0.0:8000"]`). Everything else in the file (server
//! hooks, computed values, settings app.yaml has no key for) is listed by line with what to
//! do about it, because the image would otherwise load the file unchecked (FAB029).

use std::path::Path;

use super::source::{MAX_LINE_BYTES, PySource};
use super::write::Tls;
use crate::gunicorn::settings::{self, Arity};
use crate::read::ReadError;
use crate::rules;
use crate::spec::Interface;

pub const FILE: &str = "gunicorn.conf.py";

/// A setting carried into app.yaml's `server` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Carried {
    /// The key under `server`.
    pub key: &'static str,
    pub value: Value,
    /// Where it came from: `gunicorn.conf.py:3: workers = 4`.
    pub why: String,
}

/// The value of a carried setting, as app.yaml's key takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Number(u32),
    Bool(bool),
    List(Vec<String>),
}

impl std::fmt::Display for Value {
    /// One line for people: `8080`, `true`, `[10.0.0.0/8, 192.168.1.10]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::List(items) => write!(f, "[{}]", items.join(", ")),
        }
    }
}

/// A statement that was not carried over, and what to do with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Left {
    pub line: usize,
    /// The assigned name, or the statement's first words.
    pub what: String,
    pub advice: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfFile {
    pub carried: Vec<Carried>,
    /// The first `MAX_LISTED` statements not carried over, in file order.
    pub left: Vec<Left>,
    /// How many more there are: a file of millions of statements is not listed whole.
    pub unlisted: usize,
    /// `certfile` and `keyfile` (and `ca_certs`) in one directory outside the project: the
    /// mount app.yaml's `tls` describes.
    pub tls: Option<Tls>,
}

/// How many statements that are not carried over init lists; a real settings file has a
/// few dozen at most.
pub const MAX_LISTED: usize = 64;

impl ConfFile {
    /// Lists `left` in file order, keeping the first `MAX_LISTED`.
    fn leave(&mut self, left: Left) {
        let at = self.left.partition_point(|l| l.line <= left.line);
        if at >= MAX_LISTED {
            self.unlisted += 1;
            return;
        }
        self.left.insert(at, left);
        if self.left.len() > MAX_LISTED {
            self.left.pop();
            self.unlisted += 1;
        }
    }
}

/// The TLS settings gunicorn takes as paths.
const TLS_FILES: [&str; 3] = ["certfile", "keyfile", "ca_certs"];

/// A TLS file's path as the file sets it.
struct TlsPath {
    name: &'static str,
    path: String,
    line: usize,
    /// `gunicorn.conf.py:5: keyfile = "/opt/key/abc-key.pem"`
    source: String,
}

/// A Python literal, as far as a settings file needs.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Literal {
    Int(i64),
    Str(String),
    Bool(bool),
    None,
    List(Vec<Literal>),
}

/// Reads `gunicorn.conf.py` in `root`, if there is one.
pub fn read(root: &Path, interface: Interface) -> Result<Option<ConfFile>, ReadError> {
    let text = crate::read::project_text(root, &root.join(FILE), crate::read::MAX_TEXT_BYTES)?;
    Ok(text.map(|text| parse(&text, interface)))
}

/// Reads the text of a `gunicorn.conf.py`.
pub fn parse(text: &str, interface: Interface) -> ConfFile {
    let mut conf = ConfFile::default();
    let mut tls: Vec<TlsPath> = Vec::new();
    for statement in PySource::parse(text).lines {
        let line = statement.number;
        // A statement on one line is quoted as written, its comment included; one over
        // several lines as it would be written on one.
        let shown_text = if statement.is_single(text) {
            text[statement.span.clone()].trim().to_owned()
        } else {
            statement.shown()
        };
        let code = statement.text.as_str();
        let first = code.split_whitespace().next().unwrap_or("");
        // Blocks belong to the statement above; imports and string statements (docstrings)
        // set nothing.
        if statement.indent > 0
            || statement.is_string()
            || code.starts_with([')', ']', '}'])
            || matches!(first, "import" | "from")
        {
            continue;
        }
        let Some((name, value)) = assignment(code) else {
            conf.leave(not_an_assignment(line, code, &shown_text));
            continue;
        };
        // A later assignment replaces an earlier one, as in Python, whatever it assigns: a
        // computed `workers` after a literal one is the one gunicorn uses.
        if let Some(key) = server_key(name) {
            conf.carried.retain(|c| c.key != key);
        }
        tls.retain(|t| t.name != name);
        // It becomes a YAML comment.
        let shown = super::write::comment_safe(&shown_text);
        let source = format!("{FILE}:{line}: {shown}");
        if statement.cut {
            conf.leave(Left {
                line,
                what: name.to_owned(),
                advice: format!(
                    "longer than init reads ({MAX_LINE_BYTES} bytes): set the value it sets in app.yaml"
                ),
            });
            continue;
        }
        match (name, literal(value)) {
            ("workers", None) => conf.leave(Left {
                line,
                what: name.to_owned(),
                advice: "computed when gunicorn loads the file (from the host's CPUs, not the container's limit): server.cpus derives the count from the limit, or set server.workers".to_owned(),
            }),
            (_, None) => conf.leave(Left {
                line,
                what: name.to_owned(),
                advice: "computed when gunicorn loads the file, so init cannot read it: set the value it computes in app.yaml".to_owned(),
            }),
            (_, Some(Literal::Str(path))) if TLS_FILES.contains(&name) => {
                let name = TLS_FILES.iter().find(|n| **n == name).copied().unwrap_or_default();
                tls.push(TlsPath {
                    name,
                    path,
                    line,
                    source,
                });
            }
            (_, Some(value)) => match carry(name, &value, interface) {
                Ok((key, value)) => {
                    conf.carried.push(Carried {
                        key,
                        value,
                        why: source,
                    });
                }
                Err(advice) => conf.leave(Left {
                    line,
                    what: name.to_owned(),
                    advice,
                }),
            },
        }
    }
    match tls_mount(&tls) {
        Ok(mount) => conf.tls = mount,
        Err(advice) => {
            for (t, advice) in tls.iter().zip(advice) {
                conf.leave(Left {
                    line: t.line,
                    what: t.name.to_owned(),
                    advice,
                });
            }
        }
    }
    conf
}

/// A statement that assigns nothing: a server hook, or code gunicorn runs as it loads the
/// file.
fn not_an_assignment(line: usize, code: &str, shown: &str) -> Left {
    let first = code.split_whitespace().next().unwrap_or("");
    let what: String = match code
        .strip_prefix("async ")
        .unwrap_or(code)
        .strip_prefix("def ")
    {
        Some(def) => format!("def {}", def.split('(').next().unwrap_or(def).trim()),
        None => super::write::comment_safe(&shown.chars().take(40).collect::<String>()),
    };
    let advice = if matches!(first, "def" | "async") {
        "a server hook: app.yaml cannot carry code; move what it does into the app, or drop it"
    } else {
        "not a setting: gunicorn runs it when it loads the file; drop it"
    };
    Left {
        line,
        what,
        advice: advice.to_owned(),
    }
}

/// The mount app.yaml's `tls` describes, from the TLS files the conf file names: a
/// certificate and a key (and CA certificates, if any) in one directory, given by absolute
/// path. `None` when the file names none; otherwise what to do, one advice per file.
fn tls_mount(files: &[TlsPath]) -> Result<Option<Tls>, Vec<String>> {
    if files.is_empty() {
        return Ok(None);
    }
    let all = |advice: &str| Err(vec![advice.to_owned(); files.len()]);
    let split: Vec<Result<(String, String), String>> = files.iter().map(mount_and_name).collect();
    if split.iter().any(Result::is_err) {
        return Err(split
            .into_iter()
            .map(|r| {
                r.err().unwrap_or_else(|| {
                    "carried only with the other TLS files, and one of them cannot be: see its line"
                        .to_owned()
                })
            })
            .collect());
    }
    let get = |name: &str| {
        let at = files.iter().position(|t| t.name == name)?;
        split[at].as_ref().ok()
    };
    let (Some((dir, certfile)), Some((key_dir, keyfile))) = (get("certfile"), get("keyfile"))
    else {
        return all(
            "TLS needs both a certfile and a keyfile (FAB040): mount both in one directory at run \
             time and set tls.dir, tls.certfile and tls.keyfile",
        );
    };
    let ca = get("ca_certs");
    if key_dir != dir || ca.is_some_and(|(ca_dir, _)| ca_dir != dir) {
        return all(
            "the TLS files are in different directories, and app.yaml mounts one, tls.dir: put \
             them together and set tls.dir, tls.certfile and tls.keyfile (and tls.ca_certs)",
        );
    }
    let mut why: Vec<&TlsPath> = files.iter().collect();
    why.sort_by_key(|t| t.line);
    Ok(Some(Tls {
        dir: dir.clone(),
        certfile: certfile.clone(),
        keyfile: keyfile.clone(),
        ca_certs: ca.map(|(_, name)| name.clone()),
        why: why.into_iter().map(|t| t.source.clone()).collect(),
    }))
}

/// A TLS file's directory (the mount) and name in it; what to do when it has none.
fn mount_and_name(file: &TlsPath) -> Result<(String, String), String> {
    let path = Path::new(&file.path);
    if !path.is_absolute() {
        return Err(format!(
            "`{}` is relative to the working directory, /app, so the file would be built into \
             the image with the code: mount it at run time and set tls.dir, tls.certfile and \
             tls.keyfile",
            file.path
        ));
    }
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) if dir != Path::new("/") => Ok((
            dir.display().to_string(),
            name.to_string_lossy().into_owned(),
        )),
        _ => Err(format!(
            "`{}` is not a file in a directory of its own: mount the TLS files in one and set \
             tls.dir, tls.certfile and tls.keyfile",
            file.path
        )),
    }
}

/// `name = value` at the top level, without annotations or augmented assignment.
fn assignment(code: &str) -> Option<(&str, &str)> {
    let (name, value) = code.split_once('=')?;
    let name = name.trim_end();
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (valid && !value.starts_with('=')).then(|| (name, value.trim()))
}

/// A literal with an optional trailing comment; `None` for anything else.
fn literal(text: &str) -> Option<Literal> {
    let (value, rest) = literal_prefix(text.trim())?;
    let rest = rest.trim_start();
    (rest.is_empty() || rest.starts_with('#')).then_some(value)
}

fn literal_prefix(text: &str) -> Option<(Literal, &str)> {
    literal_in(text, false)
}

/// A literal in parentheses or none (`(4)` is 4; `(4,)` is a tuple, not read), and the text
/// after it. In a list, a nested list is not a setting's value.
fn literal_in(text: &str, in_list: bool) -> Option<(Literal, &str)> {
    let mut parens = 0;
    let mut text = text;
    while let Some(after) = text.strip_prefix('(') {
        parens += 1;
        text = after.trim_start();
    }
    let (value, mut rest) = bare_literal(text, in_list)?;
    for _ in 0..parens {
        rest = rest.trim_start().strip_prefix(')')?;
    }
    Some((value, rest))
}

fn bare_literal(text: &str, in_list: bool) -> Option<(Literal, &str)> {
    let unprefixed = text.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    if unprefixed.starts_with(['"', '\'']) {
        let (value, rest) = super::source::string_literal(text)?;
        return Some((Literal::Str(value), rest));
    }
    if let Some(list) = text.strip_prefix('[') {
        if in_list {
            return None;
        }
        let mut items = Vec::new();
        let mut rest = list.trim_start();
        loop {
            if let Some(after) = rest.strip_prefix(']') {
                return Some((Literal::List(items), after));
            }
            let (item, after) = literal_in(rest, true)?;
            items.push(item);
            rest = after.trim_start();
            match rest.strip_prefix(',') {
                Some(after) => rest = after.trim_start(),
                None if rest.starts_with(']') => {}
                None => return None,
            }
        }
    }
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(text.len());
    let (word, rest) = text.split_at(end);
    let value = match word {
        "True" => Literal::Bool(true),
        "False" => Literal::Bool(false),
        "None" => Literal::None,
        _ => Literal::Int(python_int(word)?),
    };
    Some((value, rest))
}

/// A Python decimal integer literal, with an optional minus: `8000`, `1_000`, `-1`, `00`.
/// Python refuses `010`, `1__0` and `1_`, and reads `_1` as a name.
fn python_int(word: &str) -> Option<i64> {
    let (negative, digits) = match word.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, word),
    };
    let well_formed = digits.starts_with(|c: char| c.is_ascii_digit())
        && digits.ends_with(|c: char| c.is_ascii_digit())
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
        && !digits.contains("__");
    let plain = digits.replace('_', "");
    // A leading zero only in zero itself.
    if !well_formed || (plain.starts_with('0') && plain.bytes().any(|b| b != b'0')) {
        return None;
    }
    let n: i64 = plain.parse().ok()?;
    Some(if negative { -n } else { n })
}

/// The settings app.yaml has a `server` key of the same name for, with a number.
const NUMBERS: [&str; 7] = [
    "workers",
    "threads",
    "timeout",
    "graceful_timeout",
    "keepalive",
    "max_requests",
    "max_requests_jitter",
];

/// The `server` key a setting is carried into, if it is carried at all.
fn server_key(name: &str) -> Option<&'static str> {
    match name {
        "bind" => Some("port"),
        "accesslog" => Some("access_log"),
        "forwarded_allow_ips" => Some("forwarded_allow_ips"),
        _ => NUMBERS.iter().find(|k| **k == name).copied(),
    }
}

/// The `server` key and value for a setting app.yaml has a key for; otherwise what to do.
fn carry(
    name: &str,
    value: &Literal,
    interface: Interface,
) -> Result<(&'static str, Value), String> {
    let Some(key) = server_key(name) else {
        return Err(not_carried(name, value));
    };
    let value = match key {
        "port" => bind_port(value).map(Value::Number),
        "forwarded_allow_ips" => forwarded_allow_ips(value),
        "access_log" => access_log(value),
        "threads" if interface == Interface::Asgi => Err(
            "threads only apply to WSGI apps; an ASGI worker runs one event loop: drop it"
                .to_owned(),
        ),
        _ => match value {
            Literal::Int(n) => u32::try_from(*n)
                .map(Value::Number)
                .map_err(|_| format!("{n} is out of range for server.{key}")),
            _ => Err(format!("server.{key} takes a whole number")),
        },
    }?;
    Ok((key, value))
}

/// What to do with a setting app.yaml has no `server` key for.
fn not_carried(name: &str, value: &Literal) -> String {
    match name {
        "worker_class" => {
            "app.interface decides the worker class (uvicorn_worker.UvicornWorker for asgi, sync for wsgi): drop it".to_owned()
        }
        "wsgi_app" => "app.module names the app: drop it".to_owned(),
        "keyfile" | "certfile" | "ca_certs" if *value == Literal::None => {
            "gunicorn's default already (no TLS file): drop it".to_owned()
        }
        "keyfile" | "certfile" | "ca_certs" => {
            "a TLS file's path is a string: set tls.dir, tls.certfile and tls.keyfile".to_owned()
        }
        "user" | "group" => "the image runs as user.uid and user.gid: drop it".to_owned(),
        // Carried into `server.extra_args`, these would draw the warning fabuild gives them there.
        "reload" if conf_bool(value) == Ok(Some(true)) => format!(
            "for development: gunicorn watches code an image never changes ({} in server.extra_args): drop it",
            rules::RELOAD.id
        ),
        "spew" if conf_bool(value) == Ok(Some(true)) => format!(
            "for development: every worker prints each line of Python it runs to stdout ({} in server.extra_args): drop it",
            rules::SPEW.id
        ),
        "reload_engine" | "reload_extra_files" => {
            "only used with reload, which is for development: drop it".to_owned()
        }
        _ => extra_arg(name, value),
    }
}

/// `forwarded_allow_ips`: gunicorn takes a string only, splits it at commas and strips each
/// address; app.yaml takes the list.
fn forwarded_allow_ips(value: &Literal) -> Result<Value, String> {
    match value {
        Literal::Str(s) => {
            let list: Vec<String> = s
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect();
            if list.is_empty() {
                Err("an empty value trusts no proxy, and app.yaml's empty list keeps gunicorn's default (127.0.0.1,::1): set server.forwarded_allow_ips to the proxies' networks, or drop it".to_owned())
            } else {
                Ok(Value::List(list))
            }
        }
        _ => Err("gunicorn takes a comma-separated string here and refuses anything else (\"Not a string\"), so it does not start: set server.forwarded_allow_ips to the proxies' networks".to_owned()),
    }
}

/// `accesslog`: `"-"` is stdout and `None` none at all, app.yaml's `access_log` true and false.
fn access_log(value: &Literal) -> Result<Value, String> {
    match value {
        Literal::Str(s) if s == "-" => Ok(Value::Bool(true)),
        Literal::None => Ok(Value::Bool(false)),
        _ => Err("a log file inside the container is lost with it; server.access_log (on by default) writes the access log to stdout, where the container's logs are collected".to_owned()),
    }
}

/// The port of a `bind` of one address on every interface.
fn bind_port(value: &Literal) -> Result<u32, String> {
    let address = match value {
        Literal::Str(s) => s.as_str(),
        Literal::List(items) if items.len() == 1 => match &items[0] {
            Literal::Str(s) => s.as_str(),
            _ => return Err("bind takes addresses as strings".to_owned()),
        },
        Literal::List(_) => {
            return Err("the image listens on one port: set server.port".to_owned());
        }
        _ => return Err("bind takes an address, `HOST:PORT`".to_owned()),
    };
    let Some((host, port)) = address.rsplit_once(':') else {
        return Err(format!(
            "`{address}` is not HOST:PORT (a unix socket cannot be reached from outside the container): set server.port"
        ));
    };
    if !matches!(host, "0.0.0.0" | "[::]" | "") {
        return Err(format!(
            "`{address}` listens on {host} only; the image listens on every interface at server.port"
        ));
    }
    port.parse::<u16>()
        .map(u32::from)
        .map_err(|_| format!("`{port}` is not a port"))
}

/// What to put in `server.extra_args` for a setting app.yaml has no key for.
fn extra_arg(name: &str, value: &Literal) -> String {
    let Some(setting) = settings::by_name(name) else {
        return "not a gunicorn setting, so gunicorn ignores it: drop it".to_owned();
    };
    let Some(flag) = setting.flags.iter().rev().find(|f| f.starts_with("--")) else {
        return "only a config file can set it, and the image should not load one: drop it, or keep the file and accept FAB029".to_owned();
    };
    let words: Option<Vec<String>> = match (setting.arity, value) {
        (Arity::Flag | Arity::FlagFalse, _) => return flag_arg(setting, flag, value),
        (_, Literal::Int(n)) => Some(vec![format!("{flag}={n}")]),
        (_, Literal::Str(s)) => Some(vec![format!("{flag}={s}")]),
        (Arity::Repeatable, Literal::List(items)) => items
            .iter()
            .map(|item| match item {
                Literal::Str(s) => Some(format!("{flag}={s}")),
                _ => None,
            })
            .collect(),
        _ => None,
    };
    match words {
        Some(words) if words.is_empty() => "gunicorn's default already: drop it".to_owned(),
        Some(words) => format!("set it with server.extra_args: {words:?}"),
        None => format!("set it with server.extra_args as {flag}=VALUE"),
    }
}

/// A boolean setting as gunicorn's `validate_bool` reads it from a config file: `None`
/// leaves it unset, `True` and `False` are themselves, and so are the strings `"true"` and
/// `"false"` in any case with spaces around. Anything else (`1`, `"yes"`) it refuses, and
/// gunicorn does not start.
fn conf_bool(value: &Literal) -> Result<Option<bool>, ()> {
    match value {
        Literal::None => Ok(None),
        Literal::Bool(b) => Ok(Some(*b)),
        Literal::Str(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
        Literal::Str(s) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
        _ => Err(()),
    }
}

/// What to put in `server.extra_args` for a boolean setting, whose flag takes no value: it
/// switches the setting on (`--reload`), or off for `--no-sendfile`, and cannot do the other.
fn flag_arg(setting: &settings::Setting, flag: &str, value: &Literal) -> String {
    let Ok(set) = conf_bool(value) else {
        return format!(
            "gunicorn takes True or False here and refuses anything else (\"Invalid value for {}\"), so it does not start: write True or False and run init again, or drop it",
            setting.name
        );
    };
    // How gunicorn uses the value. The one flag that switches a setting off, `--no-sendfile`,
    // stores False, and gunicorn sends files only while `sendfile` is unset: set to anything,
    // `True` too, it is off (`Config.sendfile`). Any other is on when true; `None` is off.
    let switches_off = setting.arity == Arity::FlagFalse;
    let (on, default_on) = if switches_off {
        (set.is_none(), true)
    } else {
        (set == Some(true), setting.default == "True")
    };
    if on == default_on {
        "gunicorn's default already: drop it".to_owned()
    } else if on != switches_off {
        // What the flag does is what the file does.
        let surprise = if set == Some(true) && switches_off {
            format!(
                "gunicorn turns {} off once a config file sets it, even to True: ",
                setting.name
            )
        } else {
            String::new()
        };
        format!("{surprise}set it with server.extra_args: {:?}", [flag])
    } else {
        // A store_true flag whose default is on (`--suppress-ragged-eofs`).
        format!(
            "{flag} can only switch it on, so only a config file can switch it off: drop it, or keep the file and accept FAB029"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_literals_and_lists_the_rest_by_line() {
        let text = "\"\"\"Production settings.\n\nworkers = 2 is in the docstring\n\"\"\"\nimport multiprocessing\n\nbind = ['0.0.0.0:8080']  # public\nworkers = multiprocessing.cpu_count() * 2 + 1\ntimeout = 60\nlimit_request_line = 8190\npreload_app = True\nsendfile = False\n\ndef on_starting(server):\n    pass\nworker_class = \"uvicorn.workers.UvicornWorker\"\nthreads = 4\nraw_env = [\"A=1\", \"B=2\"]\ntimeout = 45\n";
        let conf = parse(text, Interface::Asgi);
        assert_eq!(
            conf.carried
                .iter()
                .map(|c| (c.key, c.value.clone()))
                .collect::<Vec<_>>(),
            // The later `timeout` replaces the first, as in Python.
            [
                ("port", Value::Number(8080)),
                ("timeout", Value::Number(45))
            ]
        );
        assert_eq!(
            conf.carried[0].why,
            "gunicorn.conf.py:7: bind = ['0.0.0.0:8080']  # public"
        );
        let left: Vec<(usize, &str)> = conf
            .left
            .iter()
            .map(|l| (l.line, l.what.as_str()))
            .collect();
        assert_eq!(
            left,
            [
                (8, "workers"),
                (10, "limit_request_line"),
                (11, "preload_app"),
                (12, "sendfile"),
                (14, "def on_starting"),
                (16, "worker_class"),
                (17, "threads"),
                (18, "raw_env"),
            ]
        );
        assert!(
            conf.left[1]
                .advice
                .contains(r#"["--limit-request-line=8190"]"#)
        );
        assert!(conf.left[2].advice.contains(r#"["--preload"]"#));
        assert!(conf.left[3].advice.contains(r#"["--no-sendfile"]"#));
        assert!(
            conf.left[7]
                .advice
                .contains(r#"["--env=A=1", "--env=B=2"]"#)
        );
    }

    #[test]
    fn proxies_and_the_access_log_are_carried_as_gunicorn_reads_them() {
        let carried = |line: &str| {
            let conf = parse(&format!("{line}\n"), Interface::Asgi);
            conf.carried.first().map(|c| (c.key, c.value.clone()))
        };
        let list = |items: &[&str]| {
            Some((
                "forwarded_allow_ips",
                Value::List(items.iter().map(|s| (*s).to_owned()).collect()),
            ))
        };
        assert_eq!(
            carried("forwarded_allow_ips = ' 10.0.0.0/8 ,192.168.1.10,,'"),
            list(&["10.0.0.0/8", "192.168.1.10"])
        );
        assert_eq!(carried("forwarded_allow_ips = '*'"), list(&["*"]));
        assert_eq!(carried("forwarded_allow_ips = ''"), None);
        assert_eq!(carried("forwarded_allow_ips = ['10.0.0.0/8']"), None);
        assert_eq!(
            carried("accesslog = '-'"),
            Some(("access_log", Value::Bool(true)))
        );
        assert_eq!(
            carried("accesslog = None"),
            Some(("access_log", Value::Bool(false)))
        );
        assert_eq!(carried("accesslog = '/var/log/access.log'"), None);
    }

    #[test]
    fn tls_files_in_one_directory_become_the_mount() {
        let conf = |text: &str| parse(text, Interface::Asgi);
        let advice = |text: &str| -> Vec<(usize, String)> {
            conf(text)
                .left
                .into_iter()
                .map(|l| (l.line, l.advice))
                .collect()
        };

        let both = conf(
            "keyfile = '/opt/old/k.pem'\ncertfile = '/opt/key/c.pem'\nkeyfile = '/opt/key/k.pem'\n",
        );
        let tls = both.tls.expect("carried");
        // The later keyfile replaces the first, as in Python.
        assert_eq!(
            (
                tls.dir.as_str(),
                tls.certfile.as_str(),
                tls.keyfile.as_str()
            ),
            ("/opt/key", "c.pem", "k.pem")
        );
        assert_eq!(tls.ca_certs, None);
        assert_eq!(
            tls.why,
            [
                "gunicorn.conf.py:2: certfile = '/opt/key/c.pem'",
                "gunicorn.conf.py:3: keyfile = '/opt/key/k.pem'"
            ]
        );
        assert!(both.left.is_empty());

        let one = advice("certfile = '/opt/key/c.pem'\n");
        assert!(one[0].1.starts_with("TLS needs both"), "{one:?}");
        let apart = advice("certfile = '/opt/a/c.pem'\nkeyfile = '/opt/b/k.pem'\n");
        assert_eq!(apart.len(), 2);
        assert!(apart[1].1.contains("different directories"), "{apart:?}");
        let ca_apart =
            advice("certfile = '/k/c.pem'\nkeyfile = '/k/k.pem'\nca_certs = '/etc/ssl/ca.pem'\n");
        assert_eq!(ca_apart.len(), 3, "{ca_apart:?}");
        // Each line says what is wrong with it.
        let mixed =
            advice("certfile = 'certs/c.pem'\nkeyfile = '/k.pem'\nca_certs = '/k/ca.pem'\n");
        assert!(
            mixed[0].1.starts_with("`certs/c.pem` is relative"),
            "{mixed:?}"
        );
        assert!(
            mixed[1]
                .1
                .starts_with("`/k.pem` is not a file in a directory of its own"),
            "{mixed:?}"
        );
        assert!(
            mixed[2]
                .1
                .starts_with("carried only with the other TLS files"),
            "{mixed:?}"
        );
        let none = advice("keyfile = None\n");
        assert!(
            none[0].1.starts_with("gunicorn's default already"),
            "{none:?}"
        );
    }

    #[test]
    fn the_last_assignment_wins_whatever_it_assigns() {
        // gunicorn uses the computed count, and no TLS: nothing of the first lines stands.
        let conf = parse(
            "workers = 4\nworkers = cpu_count()\nkeyfile = '/k/k.pem'\ncertfile = '/k/c.pem'\nkeyfile = None\ntimeout = 9\n",
            Interface::Wsgi,
        );
        let carried: Vec<_> = conf.carried.iter().map(|c| c.key).collect();
        assert_eq!(carried, ["timeout"]);
        assert_eq!(conf.tls, None);
        let left: Vec<_> = conf
            .left
            .iter()
            .map(|l| (l.line, l.what.as_str()))
            .collect();
        assert_eq!(left, [(2, "workers"), (4, "certfile"), (5, "keyfile")]);
    }

    #[test]
    fn integers_are_read_as_python_reads_them() {
        for (text, want) in [
            ("8000", Some(8000)),
            ("1_000", Some(1000)),
            ("-1", Some(-1)),
            ("0", Some(0)),
            ("00", Some(0)),
            ("0_0", Some(0)),
            // A syntax error, or a name: not a literal.
            ("010", None),
            ("1__0", None),
            ("1_", None),
            ("_1", None),
            ("-", None),
            ("99999999999999999999", None),
        ] {
            let got = match literal(text) {
                Some(Literal::Int(n)) => Some(n),
                _ => None,
            };
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn triple_quotes_in_comments_and_strings_open_nothing() {
        // Each of these lines leaves the settings after it in force, as Python reads them.
        for line in [
            r#"# Docs: use """ for docstrings"#,
            r"accesslog = '-'  # not ''' this",
            r#"x = '"""'"#,
            r#"y = "it's '''""#,
            r#""""One line.""""#,
            r#"'''Has """ inside.'''"#,
        ] {
            let conf = parse(&format!("{line}\ntimeout = 9\n"), Interface::Wsgi);
            let carried: Vec<_> = conf.carried.iter().map(|c| c.key).collect();
            assert!(carried.contains(&"timeout"), "{line}: {carried:?}");
        }
        // A docstring over several lines hides what it holds, even a triple quote of the
        // other kind.
        let conf = parse(
            "\"\"\"Settings.\nworkers = 99 '''\n\"\"\"\ntimeout = 9\n",
            Interface::Wsgi,
        );
        let carried: Vec<_> = conf.carried.iter().map(|c| c.key).collect();
        assert_eq!(carried, ["timeout"]);
    }

    #[test]
    fn deep_nesting_is_not_a_literal() {
        for (depth, advice) in [(2000, "computed"), (100_000, "longer than init reads")] {
            let text = format!("bind = {}\ntimeout = 9\n", "[".repeat(depth));
            let conf = parse(&text, Interface::Wsgi);
            assert_eq!(conf.left.len(), 1);
            assert!(conf.left[0].advice.starts_with(advice), "{depth}");
        }
    }

    #[test]
    fn bind_must_be_one_address_on_every_interface() {
        for (value, port) in [
            ("'0.0.0.0:8000'", Some(8000)),
            ("\"[::]:9000\"", Some(9000)),
        ] {
            let conf = parse(&format!("bind = {value}\n"), Interface::Wsgi);
            assert_eq!(
                conf.carried.first().map(|c| c.value.clone()),
                port.map(Value::Number),
                "{value}"
            );
        }
        for value in [
            "'127.0.0.1:8000'",
            "'unix:/tmp/g.sock'",
            "['0.0.0.0:80', '0.0.0.0:81']",
            "'0.0.0.0:http'",
            "8000",
        ] {
            let conf = parse(&format!("bind = {value}\n"), Interface::Wsgi);
            assert!(conf.carried.is_empty(), "{value}");
            assert_eq!(conf.left.len(), 1, "{value}");
        }
    }
}
