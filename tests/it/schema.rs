//! The JSON Schema of app.yaml agrees with what fabuild reads: the same keys as the `Raw*`
//! types, and a real validator (check-jsonschema) accepts every valid spec and rejects the
//! schema-level mistakes `fabuild check` reports.

use std::collections::BTreeSet;
use std::process::Command;

use fabuild::spec::raw::{
    RawApp, RawBuild, RawDeploy, RawHealthcheck, RawPlatform, RawPlatformHealthcheck, RawPolicy,
    RawPython, RawServer, RawSpec, RawTls, RawUser,
};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::util;

/// A deserializer that only records the field list serde's derive passes to
/// `deserialize_struct`: the keys a `Raw*` struct accepts, straight from the type.
struct FieldNames(Option<&'static [&'static str]>);

impl<'de> Deserializer<'de> for &mut FieldNames {
    type Error = de::value::Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = Some(fields);
        Err(de::Error::custom("fields recorded"))
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

fn fields<'de, T: Deserialize<'de>>() -> BTreeSet<&'static str> {
    let mut names = FieldNames(None);
    let _ = T::deserialize(&mut names);
    names.0.expect("a struct").iter().copied().collect()
}

fn schema() -> serde_json::Value {
    serde_json::from_str(fabuild::schema::APP_SCHEMA).unwrap()
}

/// Every object in the schema with fixed keys, by JSON pointer.
fn schema_objects(
    value: &serde_json::Value,
    pointer: &str,
    out: &mut Vec<(String, serde_json::Value)>,
) {
    if let Some(props) = value.get("properties").and_then(|p| p.as_object()) {
        out.push((pointer.to_owned(), value.clone()));
        for (key, sub) in props {
            schema_objects(sub, &format!("{pointer}/properties/{key}"), out);
        }
    }
}

type Table = Vec<(&'static str, &'static str, BTreeSet<&'static str>)>;

fn app_table() -> Table {
    vec![
        ("", "RawSpec", fields::<RawSpec>()),
        ("/properties/app", "RawApp", fields::<RawApp>()),
        ("/properties/python", "RawPython", fields::<RawPython>()),
        ("/properties/server", "RawServer", fields::<RawServer>()),
        ("/properties/tls", "RawTls", fields::<RawTls>()),
        ("/properties/user", "RawUser", fields::<RawUser>()),
        ("/properties/build", "RawBuild", fields::<RawBuild>()),
        (
            "/properties/healthcheck",
            "RawHealthcheck",
            fields::<RawHealthcheck>(),
        ),
        ("/properties/deploy", "RawDeploy", fields::<RawDeploy>()),
    ]
}

fn platform_table() -> Table {
    vec![
        ("", "RawPlatform", fields::<RawPlatform>()),
        ("/properties/python", "RawPython", fields::<RawPython>()),
        ("/properties/server", "RawServer", fields::<RawServer>()),
        ("/properties/user", "RawUser", fields::<RawUser>()),
        ("/properties/build", "RawBuild", fields::<RawBuild>()),
        (
            "/properties/healthcheck",
            "RawPlatformHealthcheck",
            fields::<RawPlatformHealthcheck>(),
        ),
        ("/properties/deploy", "RawDeploy", fields::<RawDeploy>()),
        ("/properties/policy", "RawPolicy", fields::<RawPolicy>()),
    ]
}

fn platform_schema() -> serde_json::Value {
    let text = std::fs::read_to_string(util::repo().join("schema/platform.schema.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn schema_keys_are_the_raw_types_keys() {
    let tables = [app_table(), platform_table()];
    // A new `Raw*` struct must get a row in a table, and so a place in a schema.
    let raw_rs = std::fs::read_to_string(util::repo().join("src/spec/raw.rs")).unwrap();
    let structs: BTreeSet<&str> = raw_rs
        .lines()
        .filter_map(|l| l.strip_prefix("pub struct Raw"))
        .map(|rest| rest.split([' ', '{', '(']).next().unwrap())
        .collect();
    let covered: BTreeSet<&str> = tables
        .iter()
        .flatten()
        .map(|(_, name, _)| name.strip_prefix("Raw").unwrap())
        .collect();
    assert_eq!(
        structs, covered,
        "every Raw* struct in raw.rs needs a row in this test"
    );
    assert_eq!(
        raw_rs.matches("#[serde(deny_unknown_fields)]").count(),
        covered.len(),
        "every Raw* struct denies unknown keys, so every schema object must too"
    );
    keys_agree(&schema(), &tables[0]);
    keys_agree(&platform_schema(), &tables[1]);
}

fn keys_agree(schema: &serde_json::Value, table: &Table) {
    let mut objects = Vec::new();
    schema_objects(schema, "", &mut objects);
    let pointers: BTreeSet<&str> = objects.iter().map(|(p, _)| p.as_str()).collect();
    let expected: BTreeSet<&str> = table.iter().map(|(p, _, _)| *p).collect();
    assert_eq!(pointers, expected, "schema objects with fixed keys");
    for (pointer, name, keys) in table {
        let object = &objects.iter().find(|(p, _)| p == pointer).unwrap().1;
        let schema_keys: BTreeSet<&str> = object["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            &schema_keys, keys,
            "{name} and the schema at `{pointer}` disagree"
        );
        assert_eq!(
            object["additionalProperties"],
            serde_json::Value::Bool(false),
            "{name} denies unknown fields; the schema at `{pointer}` must too"
        );
        assert!(
            object["properties"]
                .as_object()
                .unwrap()
                .values()
                .all(|p| p.get("description").is_some()),
            "every key at `{pointer}` has a description"
        );
    }
}

#[test]
fn the_schema_lists_the_supported_python_versions() {
    let versions: Vec<String> = serde_json::from_value(
        schema()["properties"]["python"]["properties"]["version"]["enum"].clone(),
    )
    .unwrap();
    assert_eq!(versions, fabuild::spec::PYTHON_VERSIONS);
}

#[test]
fn fabuild_schema_prints_the_committed_file() {
    let out = util::fabuild(&util::repo()).arg("schema").output().unwrap();
    assert!(out.status.success());
    let committed = std::fs::read(util::repo().join("schema/app.schema.json")).unwrap();
    assert_eq!(out.stdout, committed);
}

#[test]
fn fabuild_schema_platform_prints_the_committed_platform_schema() {
    let out = util::fabuild(&util::repo())
        .args(["schema", "--platform"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let committed = std::fs::read(util::repo().join("schema/platform.schema.json")).unwrap();
    assert_eq!(out.stdout, committed);
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(schema["properties"]["policy"].is_object(), "{schema}");
}

/// Runs check-jsonschema on `files`; returns (schema errors, parse errors) as file names.
pub fn check_jsonschema(files: &[std::path::PathBuf]) -> (BTreeSet<String>, BTreeSet<String>) {
    check_against("schema/app.schema.json", files)
}

/// `check_jsonschema` against the schema at `schema` (relative to the repository).
fn check_against(
    schema: &str,
    files: &[std::path::PathBuf],
) -> (BTreeSet<String>, BTreeSet<String>) {
    let exe = util::oracle("FABUILD_CHECK_JSONSCHEMA", "check-jsonschema");
    let out = Command::new(exe)
        .args(["--output-format", "json", "--schemafile"])
        .arg(util::repo().join(schema))
        .args(files)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "check-jsonschema gave no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let names = |key: &str| -> BTreeSet<String> {
        report[key]
            .as_array()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|e| {
                let path = std::path::PathBuf::from(e["filename"].as_str().unwrap());
                path.file_name().unwrap().to_string_lossy().into_owned()
            })
            .collect()
    };
    (names("errors"), names("parse_errors"))
}

/// The platform files of the transcripts pass the platform schema (and the one that
/// fabuild refuses for a typo fails it); a platform file is no app.yaml.
#[test]
fn a_real_validator_reads_platform_files_with_their_own_schema() {
    let dir = util::repo().join("tests/cmd/platform.in");
    let good = [dir.join("platform.yaml"), dir.join("cycle/team.yaml")];
    let (errors, parse_errors) = check_against("schema/platform.schema.json", &good);
    assert!(
        errors.is_empty() && parse_errors.is_empty(),
        "{errors:?} {parse_errors:?}"
    );
    let (errors, _) = check_against(
        "schema/platform.schema.json",
        &[dir.join("badplat/platform.yaml")],
    );
    assert_eq!(
        errors.len(),
        1,
        "a typo in a platform file is a schema error"
    );
    let (errors, _) = check_against("schema/app.schema.json", &[dir.join("platform.yaml")]);
    assert_eq!(errors.len(), 1, "a platform file is not an app.yaml");
}

#[test]
fn a_real_validator_accepts_every_example() {
    let files: Vec<_> = util::examples()
        .iter()
        .map(|d| d.join("app.yaml"))
        .collect();
    let (errors, parse_errors) = check_jsonschema(&files);
    assert!(
        errors.is_empty() && parse_errors.is_empty(),
        "{errors:?} {parse_errors:?}"
    );
}

/// The check fixtures split three ways, and the split is stated here: the validator must
/// reject exactly the schema-level mistakes and accept the rest (which need fabuild's own
/// rules: networks, paths, image tags).
#[test]
fn a_real_validator_rejects_the_schema_level_mistakes() {
    let dir = util::repo().join("tests/cmd/check.in");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let (errors, parse_errors) = check_jsonschema(&files);
    let set = |names: &[&str]| -> BTreeSet<String> {
        names.iter().map(|n| format!("{n}.yaml")).collect()
    };
    assert_eq!(
        errors,
        set(&[
            "bad-interface",      // enum
            "bad-module",         // pattern
            "bad-name",           // pattern
            "empty",              // not an object
            "no-app",             // required
            "port-range",         // maximum
            "privileged-port",    // minimum
            "project-bad-date",   // pattern
            "python-old",         // enum
            "release-argv",       // minLength (the empty word); the rest needs fabuild's rules
            "release-empty",      // minItems
            "release-shell-line", // type: one string, not a list
            "root-user",          // minimum
            "tls-half",           // required
            "unknown-key",        // additionalProperties
            "version-2",          // enum
            "workers-zero",       // minimum
            "writable-code",      // pattern (a space); the other entries need fabuild's rules
            "wrong-type",         // type
        ]),
        "files the schema rejects"
    );
    // Not YAML a validator can load (a duplicate key is an error in YAML 1.2 loaders too).
    assert_eq!(
        parse_errors,
        set(&["duplicate-key", "unclosed-quote", "yaml-syntax"])
    );
    // Everything else is valid at the schema level; `fabuild check` still refuses some of
    // them by its own rules, and accepts good.yaml and no-digest.yaml.
    for name in [
        "good.yaml",
        "no-digest.yaml",
        "bad-cidr.yaml",
        "tls-outside.yaml",
    ] {
        assert!(
            !errors.contains(name) && !parse_errors.contains(name),
            "{name}"
        );
    }
}
