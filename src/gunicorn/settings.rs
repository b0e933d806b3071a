//! `Setting`: gunicorn's settings as data, read from `settings.csv` compiled into the binary.
//!
//! The table is the reference settings list for gunicorn 27.0.1 plus four columns taken
//! from gunicorn's own `Config().parser()` and settings: the argparse action, the argparse
//! type, the version a flag was removed in, and the validator `Config.set` runs. Rows are
//! in gunicorn's registration order, the order argparse and `Config.set` see them. Keeping it as data means a new gunicorn release is a
//! table edit, and the parser, the rules and `explain` all read the same facts.

use std::fmt;
use std::sync::OnceLock;

/// The table, one row per setting (and one per flag gunicorn has removed).
const CSV: &str = include_str!("settings.csv");

/// The gunicorn release fabuild targets unless told otherwise.
pub const DEFAULT_VERSION: Version = Version(27, 0, 1);

/// A gunicorn release number. The table writes `<=19.0` for "present in every release
/// anyone still runs", which we read as 19.0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().trim_start_matches("<=");
        let mut parts = text.split('.').map(|p| p.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next().unwrap_or(Some(0))?;
        let patch = parts.next().unwrap_or(Some(0))?;
        if parts.next().is_some() {
            return None;
        }
        Some(Self(major, minor, patch))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// How many values a flag takes, as argparse sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// `store_true`: present or not; `--flag=x` is an error.
    Flag,
    /// `store_const` with `False` (`--no-sendfile`): present means off.
    FlagFalse,
    /// `store`: exactly one value; the last one given wins.
    Value,
    /// `append`: one value per occurrence, all kept.
    Repeatable,
    /// `nargs='?'`: a value if the next token is not an option, else the constant `auto`.
    OptionalValue,
    /// No flag at all: only a config file can set it.
    ConfigFileOnly,
}

/// How argparse converts a value before gunicorn's validator sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PyType {
    Str,
    /// Python's `int()`: base 10, surrounding whitespace and `_` between digits allowed.
    Int,
    /// gunicorn's `auto_int`: `int(x, 0)` after turning a leading `0<digit>` into `0o`.
    AutoInt,
}

/// The validator gunicorn's `Config.set` runs on a setting's value (`validate_<name>` in
/// gunicorn/config.py); what each does is in `validators`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validator {
    PosInt,
    Bool,
    String,
    ListString,
    ListOfFilesOrPatterns,
    StringToList,
    StringToAddrList,
    Class,
    Chdir,
    User,
    Group,
    StatsdAddress,
    ReloadEngine,
    SslVersion,
    ProxyProtocol,
    HttpProtocols,
    Http2Cleartext,
    Http2StreamLimit,
    Http2WindowSize,
    Http2FrameSize,
    HeaderMapBehaviour,
    AsgiLoop,
    AsgiLifespan,
    HttpParser,
    /// Config-file-only settings: no flag reaches these.
    Dict,
    Callable,
    PostRequest,
}

impl Validator {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "pos_int" => Self::PosInt,
            "bool" => Self::Bool,
            "string" => Self::String,
            "list_string" => Self::ListString,
            "list_of_files_or_patterns" => Self::ListOfFilesOrPatterns,
            "string_to_list" => Self::StringToList,
            "string_to_addr_list" => Self::StringToAddrList,
            "class" => Self::Class,
            "chdir" => Self::Chdir,
            "user" => Self::User,
            "group" => Self::Group,
            "statsd_address" => Self::StatsdAddress,
            "reload_engine" => Self::ReloadEngine,
            "ssl_version" => Self::SslVersion,
            "proxy_protocol" => Self::ProxyProtocol,
            "http_protocols" => Self::HttpProtocols,
            "http2_cleartext" => Self::Http2Cleartext,
            "http2_stream_limit" => Self::Http2StreamLimit,
            "http2_window_size" => Self::Http2WindowSize,
            "http2_frame_size" => Self::Http2FrameSize,
            "header_map_behaviour" => Self::HeaderMapBehaviour,
            "asgi_loop" => Self::AsgiLoop,
            "asgi_lifespan" => Self::AsgiLifespan,
            "http_parser" => Self::HttpParser,
            "dict" => Self::Dict,
            "callable" => Self::Callable,
            "post_request" => Self::PostRequest,
            _ => return None,
        })
    }
}

/// One gunicorn setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// gunicorn's name for it (`limit_request_field_size`); argparse's `dest`.
    pub name: &'static str,
    /// Every spelling on the command line, short ones first (`-w`, `--workers`).
    pub flags: Vec<&'static str>,
    /// The value's type in words (`int>=0`, `path`, `enum(auto|poll|inotify)`).
    pub value_type: &'static str,
    pub arity: Arity,
    pub py_type: PyType,
    pub default: &'static str,
    pub since: Version,
    pub removed: Option<Version>,
    pub notes: &'static str,
    pub validator: Validator,
}

impl Setting {
    /// The long flag, the one to show people (`--workers`, not `-w`).
    pub fn flag(&self) -> &'static str {
        self.flags
            .iter()
            .copied()
            .find(|f| f.starts_with("--"))
            .or_else(|| self.flags.first().copied())
            .unwrap_or(self.name)
    }

    /// Whether `version`'s command line has this setting's flags.
    pub fn available_in(&self, version: Version) -> bool {
        !self.flags.is_empty()
            && self.since <= version
            && self.removed.is_none_or(|removed| version < removed)
    }
}

/// Every row of the table, parsed once.
pub fn all() -> &'static [Setting] {
    static ALL: OnceLock<Vec<Setting>> = OnceLock::new();
    ALL.get_or_init(|| parse_table(CSV).expect("the built-in settings table parses"))
}

/// The setting gunicorn `version` knows by this exact flag.
pub fn by_flag(flag: &str, version: Version) -> Option<&'static Setting> {
    all()
        .iter()
        .find(|s| s.available_in(version) && s.flags.contains(&flag))
}

/// A setting by name, as gunicorn `DEFAULT_VERSION` has it.
pub fn by_name(name: &str) -> Option<&'static Setting> {
    all().iter().find(|s| s.name == name && s.removed.is_none())
}

/// A row that could not be read: the line and why.
#[derive(Debug, PartialEq, Eq)]
pub struct TableError {
    pub line: usize,
    pub why: String,
}

fn parse_table(text: &'static str) -> Result<Vec<Setting>, TableError> {
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, l)| split_row(l)).unwrap_or_default();
    let column = |name: &str| header.iter().position(|h| *h == name);
    let at = |name: &str| {
        column(name).ok_or(TableError {
            line: 1,
            why: format!("no column {name}"),
        })
    };
    let (c_name, c_flags, c_type, c_arity, c_default, c_since, c_note) = (
        at("name")?,
        at("flags")?,
        at("type")?,
        at("arity")?,
        at("default")?,
        at("since")?,
        at("deprecated_note")?,
    );
    let (c_action, c_pytype, c_removed) = (at("action")?, at("pytype")?, at("removed")?);
    let c_validator = at("validator")?;
    let mut settings = Vec::new();
    for (index, line) in lines {
        let fail = |why: String| TableError {
            line: index + 1,
            why,
        };
        let row = split_row(line);
        if row.len() != header.len() {
            return Err(fail(format!(
                "{} fields, the header has {}",
                row.len(),
                header.len()
            )));
        }
        let flags: Vec<&'static str> = row[c_flags].split('|').filter(|f| !f.is_empty()).collect();
        let arity = match (row[c_action], row[c_arity]) {
            ("", "config-file-only") => Arity::ConfigFileOnly,
            ("store_true", a) if a.starts_with("flag") => Arity::Flag,
            ("store_false", a) if a.starts_with("flag") => Arity::FlagFalse,
            ("store", "value") => Arity::Value,
            ("append", "value(repeatable)") => Arity::Repeatable,
            ("optional", "optional-value") => Arity::OptionalValue,
            (action, arity) => return Err(fail(format!("action {action} with arity {arity}"))),
        };
        if flags.is_empty() != (arity == Arity::ConfigFileOnly) {
            return Err(fail("flags and arity disagree".to_owned()));
        }
        let py_type = match row[c_pytype] {
            "str" | "" => PyType::Str,
            "int" => PyType::Int,
            "auto_int" => PyType::AutoInt,
            other => return Err(fail(format!("unknown type {other}"))),
        };
        let version =
            |text: &str| Version::parse(text).ok_or_else(|| fail(format!("bad version {text:?}")));
        let since = version(row[c_since])?;
        let removed = match row[c_removed] {
            "" => None,
            text => Some(version(text)?),
        };
        let validator = Validator::parse(row[c_validator])
            .ok_or_else(|| fail(format!("unknown validator {}", row[c_validator])))?;
        settings.push(Setting {
            name: row[c_name],
            flags,
            value_type: row[c_type],
            arity,
            py_type,
            default: row[c_default],
            since,
            removed,
            notes: row[c_note],
            validator,
        });
    }
    Ok(settings)
}

/// Splits one CSV line: fields in double quotes may hold commas, `""` is a quote.
/// The table never has a newline inside a field, so a line is a row.
fn split_row(line: &'static str) -> Vec<&'static str> {
    let mut fields = Vec::new();
    let mut rest = line;
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            // Find the closing quote that is not doubled.
            let bytes = quoted.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'"' {
                    if bytes.get(i + 1) == Some(&b'"') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            // A doubled quote stays doubled (borrowing beats allocating); only the access
            // log format's default has one, and readers understand it as written.
            fields.push(&quoted[..i.min(quoted.len())]);
            rest = quoted.get(i + 1..).unwrap_or("");
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            fields.push(&rest[..end]);
            rest = &rest[end..];
        }
        match rest.strip_prefix(',') {
            Some(next) => rest = next,
            None => return fields,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_parses() {
        let settings = parse_table(CSV).unwrap();
        assert_eq!(settings.len(), CSV.lines().count() - 1);
        // Every flag names one setting only, in any one version.
        for s in &settings {
            for flag in &s.flags {
                assert!(flag.starts_with('-'), "{flag}");
                let owners = settings
                    .iter()
                    .filter(|o| o.flags.contains(flag) && o.available_in(DEFAULT_VERSION))
                    .count();
                assert!(owners <= 1, "{flag} has {owners} owners");
            }
        }
    }

    #[test]
    fn spot_checks() {
        let v = DEFAULT_VERSION;
        let size = by_flag("--limit-request-field_size", v).unwrap();
        assert_eq!(size.name, "limit_request_field_size");
        assert_eq!(size.py_type, PyType::Int);
        assert!(by_flag("--limit-request-field-size", v).is_none());

        let ctl = by_flag("--no-control-socket", v).unwrap();
        assert_eq!((ctl.arity, ctl.since), (Arity::Flag, Version(25, 1, 0)));
        assert!(by_flag("--no-control-socket", Version(25, 0, 0)).is_none());

        let ssl = by_flag("--ssl-version", v).unwrap();
        assert!(ssl.notes.starts_with("DEPRECATED"));

        for removed in ["--debug", "--settings", "--log-config-dict", "--sendfile"] {
            assert!(by_flag(removed, v).is_none(), "{removed}");
            assert!(
                all()
                    .iter()
                    .any(|s| s.flags.contains(&removed) && s.removed.is_some())
            );
        }
        assert!(by_flag("--debug", Version(19, 1, 0)).is_some());

        assert_eq!(by_flag("-b", v).unwrap().arity, Arity::Repeatable);
        assert_eq!(
            by_flag("--proxy-protocol", v).unwrap().arity,
            Arity::OptionalValue
        );
        assert_eq!(by_flag("--no-sendfile", v).unwrap().arity, Arity::FlagFalse);
        assert_eq!(by_flag("-m", v).unwrap().py_type, PyType::AutoInt);
        assert_eq!(by_name("workers").unwrap().flag(), "--workers");
        assert_eq!(by_name("ssl_context").unwrap().arity, Arity::ConfigFileOnly);
    }

    #[test]
    fn versions_order() {
        assert!(Version::parse("<=19.0").unwrap() < Version::parse("19.2").unwrap());
        assert_eq!(Version::parse("26").unwrap(), Version(26, 0, 0));
        assert!(Version::parse("x").is_none());
    }
}
