//! Fields of pydantic settings classes (`BaseSettings` from pydantic-settings, or from
//! pydantic 1) that have no default: instantiating the class fails until the environment
//! has them (`ValidationError: field required`).
//!
//! What pydantic-settings does, and this follows: a field's variable is `env_prefix` + its
//! name (matched without regard to case unless `case_sensitive`), or its
//! `validation_alias`/`alias` as written (the prefix is not added); `Field(...)`, `...`,
//! `Field()` and no value at all leave a field required, a positional default, `default=`
//! or `default_factory=` do not. Subclasses inherit fields and configuration and may give
//! a field a default. In pydantic 1, an `Optional` field without a value defaults to
//! `None`. Only the most derived classes are read (a base meant to be completed by its
//! subclasses would list fields they fill). Not read: nested models' delimiters, aliases
//! computed at run time, settings sources other than the environment.

use std::collections::{BTreeMap, HashMap};

use super::{EnvRead, MAX_READS, ReadKind};
use crate::init::detect::{PyFile, Sources};
use crate::init::source::{Line, call_arguments, keyword_argument, string_literal};

/// Where `BaseSettings` is imported from in pydantic-settings (pydantic 2) ...
const BASES_V2: &[&str] = &[
    "pydantic_settings.BaseSettings",
    "pydantic_settings.main.BaseSettings",
];
/// ... and in pydantic 1.
const BASES_V1: &[&str] = &[
    "pydantic.BaseSettings",
    "pydantic.env_settings.BaseSettings",
    "pydantic.v1.BaseSettings",
];

/// A class statement and its body.
struct Class<'a> {
    file: &'a PyFile,
    name: String,
    bases: Vec<String>,
    body: &'a [Line],
    /// The settings class it derives from, once known.
    parent: Option<usize>,
    /// `Some(v1)` once known to be a settings class.
    settings: Option<bool>,
}

/// One field as a class declares it.
#[derive(Clone)]
struct Field {
    required: bool,
    /// The variable named by an alias, as written.
    alias: Option<String>,
    at: String,
}

/// The configuration a class sets (`model_config` or pydantic 1's `class Config`).
#[derive(Clone, Default)]
struct Config {
    env_prefix: Option<String>,
    case_sensitive: Option<bool>,
}

/// The deepest chain of settings classes read (real ones are a few levels deep).
const MAX_DEPTH: usize = 32;

/// The variables the most derived settings classes need, in file order.
pub fn reads(sources: &Sources) -> Vec<EnvRead> {
    let mut classes: Vec<Class> = sources.files.iter().flat_map(classes_of).collect();
    settle(&mut classes);
    let mut has_child = vec![false; classes.len()];
    for class in &classes {
        if let Some(parent) = class.parent {
            has_child[parent] = true;
        }
    }
    let mut declared: HashMap<usize, (Vec<(String, Field)>, Config)> = HashMap::new();
    let mut found = Vec::new();
    for (i, class) in classes.iter().enumerate() {
        let Some(v1) = class.settings else { continue };
        if has_child[i] {
            continue;
        }
        // The chain from the root settings class down to this one.
        let mut chain = vec![i];
        while let Some(parent) = classes[chain[chain.len() - 1]].parent {
            if chain.contains(&parent) || chain.len() == MAX_DEPTH {
                break;
            }
            chain.push(parent);
        }
        let mut fields: BTreeMap<String, (usize, Field)> = BTreeMap::new();
        let mut config = Config::default();
        for (depth, &j) in chain.iter().rev().enumerate() {
            let (own_fields, own_config) = declared.entry(j).or_insert_with(|| classes[j].read(v1));
            for (order, (name, field)) in own_fields.iter().enumerate() {
                let order = fields
                    .get(name)
                    .map_or(depth * 1_000_000 + order, |(o, _)| *o);
                fields.insert(name.clone(), (order, field.clone()));
            }
            config.env_prefix = own_config.env_prefix.clone().or(config.env_prefix);
            config.case_sensitive = own_config.case_sensitive.or(config.case_sensitive);
        }
        let mut required: Vec<(usize, String, Field)> = fields
            .into_iter()
            .filter(|(_, (_, f))| f.required)
            .map(|(name, (order, field))| (order, name, field))
            .collect();
        required.sort_by_key(|(order, _, _)| *order);
        for (_, name, field) in required {
            if found.len() == MAX_READS {
                return found;
            }
            let variable = field
                .alias
                .clone()
                .unwrap_or_else(|| format!("{}{name}", config.env_prefix.as_deref().unwrap_or("")));
            let variable = if config.case_sensitive == Some(true) {
                variable
            } else {
                variable.to_ascii_uppercase()
            };
            found.push(EnvRead {
                name: variable,
                required: true,
                at: field.at,
                kind: ReadKind::Pydantic {
                    class: class.name.clone(),
                },
            });
        }
    }
    found
}

/// Marks the settings classes: those deriving from `BaseSettings`, then their subclasses,
/// each visited once, by the last part of a base's name (the class in the same file first).
fn settle(classes: &mut [Class]) {
    let mut by_base: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, class) in classes.iter().enumerate() {
        for base in &class.bases {
            by_base
                .entry(base.rsplit('.').next().unwrap_or(base).to_owned())
                .or_default()
                .push(i);
        }
    }
    let mut queue: Vec<usize> = Vec::new();
    for (i, class) in classes.iter_mut().enumerate() {
        let v2 = class.resolves_to(BASES_V2);
        if v2 || class.resolves_to(BASES_V1) {
            class.settings = Some(!v2);
            queue.push(i);
        }
    }
    while let Some(parent) = queue.pop() {
        let Some(children) = by_base.get(classes[parent].name.as_str()) else {
            continue;
        };
        for &child in children {
            let same_file = |a: usize| std::ptr::eq(classes[a].file, classes[child].file);
            let take = match classes[child].parent {
                // A class deriving from BaseSettings itself keeps it.
                None => classes[child].settings.is_none(),
                Some(known) => !same_file(known) && same_file(parent),
            };
            if child == parent || !take {
                continue;
            }
            if classes[child].settings.is_none() {
                queue.push(child);
            }
            classes[child].settings = classes[parent].settings;
            classes[child].parent = Some(parent);
        }
    }
}

/// Every class statement of a file, with its body.
fn classes_of(file: &PyFile) -> Vec<Class<'_>> {
    let lines = &file.source.lines;
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.text.strip_prefix("class ") else {
            continue;
        };
        let (name, bases) = match rest.split_once('(') {
            Some((name, after)) => (
                name.trim(),
                call_arguments(after)
                    .map(|(args, _)| args)
                    .unwrap_or_default(),
            ),
            None => (rest.trim_end_matches(':').trim(), Vec::new()),
        };
        let end = lines[i + 1..]
            .iter()
            .position(|l| l.indent <= line.indent)
            .map_or(lines.len(), |p| i + 1 + p);
        found.push(Class {
            file,
            name: name.to_owned(),
            bases: bases
                .into_iter()
                .filter(|b| keyword_argument(b).is_none())
                .map(str::to_owned)
                .collect(),
            body: &lines[i + 1..end],
            parent: None,
            settings: None,
        });
    }
    found
}

impl Class<'_> {
    fn resolves_to(&self, names: &[&str]) -> bool {
        self.bases.iter().any(|base| {
            self.file
                .imports
                .resolve(base)
                .iter()
                .any(|q| names.contains(&q.as_str()))
        })
    }

    /// The fields this class declares, in order, and the configuration it sets.
    fn read(&self, v1: bool) -> (Vec<(String, Field)>, Config) {
        let mut fields = Vec::new();
        let mut config = Config::default();
        let Some(indent) = self.body.first().map(|l| l.indent) else {
            return (fields, config);
        };
        for (i, line) in self.body.iter().enumerate() {
            if line.indent != indent || line.is_string() {
                continue;
            }
            let text = line.text.as_str();
            if text.starts_with("class Config") {
                // pydantic 1's inner class: `env_prefix = "APP_"` in its body.
                for inner in self.body[i + 1..].iter().take_while(|l| l.indent > indent) {
                    config_values(&inner.text, &mut config);
                }
                continue;
            }
            if text.starts_with("model_config") {
                config_values(text, &mut config);
                continue;
            }
            if let Some((name, field)) = field(self.file, line, v1) {
                fields.push((name, field));
            }
        }
        (fields, config)
    }
}

/// `env_prefix` and `case_sensitive` wherever a statement sets them: a keyword argument
/// (`SettingsConfigDict(env_prefix="APP_")`), a dict entry (`{"env_prefix": "APP_"}`)
/// or an assignment (`env_prefix = "APP_"`).
fn config_values(text: &str, config: &mut Config) {
    if let Some(value) = value_after(text, "env_prefix")
        && let Some((prefix, _)) = string_literal(value)
    {
        config.env_prefix = Some(prefix);
    }
    if let Some(value) = value_after(text, "case_sensitive") {
        if value.starts_with("True") {
            config.case_sensitive = Some(true);
        } else if value.starts_with("False") {
            config.case_sensitive = Some(false);
        }
    }
}

/// The code after `key` and the `=` or `:` that follows it (a closing quote between, for
/// a dict key), or `None`.
fn value_after<'t>(text: &'t str, key: &str) -> Option<&'t str> {
    text.match_indices(key).find_map(|(at, _)| {
        let before_ok = !text[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let after = text[at + key.len()..]
            .trim_start_matches(['"', '\''])
            .trim_start();
        let value = after
            .strip_prefix(':')
            .or_else(|| after.strip_prefix('=').filter(|v| !v.starts_with('=')))?;
        before_ok.then(|| value.trim_start())
    })
}

/// `name: annotation` or `name: annotation = value` -> the field, unless it is not one
/// (a `ClassVar`, a private `_name`, `model_config`).
fn field(file: &PyFile, line: &Line, v1: bool) -> Option<(String, Field)> {
    let text = line.text.as_str();
    let (name, rest) = text.split_once(':')?;
    let name = name.trim();
    if name.starts_with('_')
        || name == "model_config"
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        || name.is_empty()
    {
        return None;
    }
    let (annotation, value) = match top_level_equals(rest) {
        Some(at) => (rest[..at].trim(), Some(rest[at + 1..].trim())),
        None => (rest.trim(), None),
    };
    if annotation.starts_with("ClassVar") || annotation.starts_with("typing.ClassVar") {
        return None;
    }
    // `Field(...)` as the value, or inside `Annotated[...]`.
    let call = value
        .and_then(|v| field_call(file, v))
        .or_else(|| annotated_field_call(file, annotation));
    let mut has_default = match value {
        None | Some("..." | "Ellipsis") => false,
        Some(v) if field_call(file, v).is_some() => false,
        Some(_) => true,
    };
    let mut alias = None;
    if let Some(arguments) = &call {
        let mut positional = arguments.iter().filter(|a| keyword_argument(a).is_none());
        if positional
            .next()
            .is_some_and(|first| !matches!(*first, "..." | "Ellipsis"))
        {
            has_default = true;
        }
        for argument in arguments {
            let Some((key, value)) = keyword_argument(argument) else {
                continue;
            };
            match key {
                "default" if !matches!(value, "..." | "Ellipsis") => has_default = true,
                "default_factory" => has_default = true,
                "validation_alias" => alias = first_string(value).or(alias),
                "alias" | "env" if alias.is_none() => alias = first_string(value),
                _ => {}
            }
        }
    }
    if v1 && !has_default && optional(annotation) {
        has_default = true;
    }
    Some((
        name.to_owned(),
        Field {
            required: !has_default,
            alias,
            at: format!("{}:{}", file.rel, line.number),
        },
    ))
}

/// The offset of the `=` that starts a value, outside brackets and strings.
fn top_level_equals(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut at = 0;
    while at < bytes.len() {
        let b = bytes[at];
        match quote {
            Some(_) if b == b'\\' => at += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'"' | b'\'' => quote = Some(b),
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                b'=' if depth == 0 => {
                    let next = bytes.get(at + 1);
                    let prev = at.checked_sub(1).map(|p| bytes[p]);
                    if next != Some(&b'=') && !matches!(prev, Some(b'=' | b'!' | b'<' | b'>')) {
                        return Some(at);
                    }
                }
                _ => {}
            },
        }
        at += 1;
    }
    None
}

/// The arguments of `Field(...)` (pydantic's, by import) when `value` is that call.
fn field_call<'v>(file: &PyFile, value: &'v str) -> Option<Vec<&'v str>> {
    let (arguments, rest) = field_call_start(file, value)?;
    rest.trim().is_empty().then_some(arguments)
}

/// The arguments of the `Field(...)` call `value` starts with, and the text after it.
fn field_call_start<'v>(file: &PyFile, value: &'v str) -> Option<(Vec<&'v str>, &'v str)> {
    let (callee, after) = value.split_once('(')?;
    let is_field = file.imports.resolve(callee.trim()).iter().any(|q| {
        matches!(
            q.as_str(),
            "pydantic.Field" | "pydantic.fields.Field" | "pydantic.v1.Field"
        )
    });
    if is_field {
        call_arguments(after)
    } else {
        None
    }
}

/// `Annotated[T, Field(...)]` -> the arguments of that `Field`.
fn annotated_field_call<'a>(file: &PyFile, annotation: &'a str) -> Option<Vec<&'a str>> {
    if !annotation.starts_with("Annotated[") && !annotation.contains(".Annotated[") {
        return None;
    }
    annotation.match_indices("Field(").find_map(|(at, _)| {
        let start = annotation[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .map_or(0, |p| p + 1);
        field_call_start(file, &annotation[start..]).map(|(arguments, _)| arguments)
    })
}

/// The first string literal in an alias value: `"DB_URL"` or `AliasChoices("A", "B")`.
fn first_string(value: &str) -> Option<String> {
    let at = value.find(['"', '\''])?;
    // A string prefix (`r"..."`) sits right before the quote.
    let start = value[..at]
        .rfind(|c: char| !c.is_ascii_alphabetic())
        .map_or(0, |p| p + 1);
    string_literal(&value[start..]).map(|(s, _)| s)
}

/// `Optional[T]`, `T | None`, `Union[..., None]`: pydantic 1 gives it `None` by default.
fn optional(annotation: &str) -> bool {
    let compact: String = annotation.split_whitespace().collect();
    compact.starts_with("Optional[")
        || compact.starts_with("typing.Optional[")
        || compact.contains("|None")
        || compact.starts_with("None|")
        || ((compact.starts_with("Union[") || compact.starts_with("typing.Union["))
            && compact.contains(",None"))
}
