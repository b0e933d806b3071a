//! The settings init lists as `env:` entries to fill are exactly what the app needs: over
//! generated settings code (pydantic-settings classes with prefixes, case sensitivity,
//! aliases, `Field` defaults and factories, `Annotated`, subclasses that fill in fields;
//! django-environ and environs readers with positional and keyword defaults and a scheme),
//! running the code with exactly the listed variables set succeeds, and with any one of
//! them unset fails. The code is run by the real pydantic-settings 2.16, django-environ
//! 0.14 and environs 15 (`tests/oracle/settings_oracle.py`).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde_json::json;

use crate::util;

const CASES: usize = 150;

/// A deterministic random source: the same cases on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % n as u64).unwrap()
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// One generated settings module, and the value each variable it may read takes.
struct Case {
    code: String,
    values: BTreeMap<String, String>,
}

/// Types whose fields accept the value "1".
const TYPES: &[(&str, &str)] = &[
    ("str", "'x'"),
    ("int", "7"),
    ("bool", "True"),
    ("float", "1.5"),
    ("SecretStr", "'x'"),
    ("Optional[str]", "None"),
    ("str | None", "None"),
];

fn pydantic_field(rng: &mut Rng, n: &mut usize, case: &mut Case) -> (String, String) {
    *n += 1;
    let name = format!(
        "{}_{n}",
        rng.pick(&["db", "token", "region", "url", "level"])
    );
    let (ty, literal) = TYPES[rng.below(TYPES.len())];
    let alias = format!("ALIAS_{n}");
    let line = match rng.below(12) {
        0 => format!("{name}: {ty}"),
        1 => format!("{name}: {ty} = {literal}"),
        2 => format!("{name}: {ty} = Field(...)"),
        3 => format!("{name}: {ty} = Field()"),
        4 => format!("{name}: {ty} = Field(default={literal})"),
        5 => format!("{name}: {ty} = Field({literal}, description='d')"),
        6 => format!("{name}: {ty} = Field(default_factory=lambda: {literal})"),
        7 => format!("{name}: {ty} = Field(alias='{alias}')"),
        8 => format!("{name}: {ty} = Field(validation_alias=AliasChoices('{alias}', 'OTHER_{n}'))"),
        9 => format!("{name}: Annotated[{ty}, Field(alias='{alias}')]"),
        10 => format!(
            "{name}: {ty} = Field(\n        default={literal},\n        alias='{alias}',\n    )"
        ),
        _ => format!("{name}: {ty} = ..."),
    };
    case.values.insert(alias.clone(), "1".into());
    case.values.insert(alias.to_lowercase(), "1".into());
    (name, line)
}

fn pydantic_classes(rng: &mut Rng, n: &mut usize, class: usize, case: &mut Case) {
    let root = format!("Settings{class}");
    case.code
        .push_str(&format!("\n\nclass {root}(BaseSettings):\n"));
    let prefix = match rng.below(4) {
        0 => None,
        1 => Some("APP_"),
        2 => Some("svc_"),
        _ => Some("Mixed_"),
    };
    let case_sensitive = rng.below(4) == 0;
    match (prefix, case_sensitive) {
        (None, false) => {}
        (None, true) => case
            .code
            .push_str("    model_config = SettingsConfigDict(case_sensitive=True)\n"),
        (Some(p), cs) => case.code.push_str(&format!(
            "    model_config = SettingsConfigDict(env_prefix=\"{p}\"{})\n",
            if cs { ", case_sensitive=True" } else { "" }
        )),
    }
    let mut names = Vec::new();
    for _ in 0..=rng.below(4) {
        let (name, line) = pydantic_field(rng, n, case);
        case.code.push_str(&format!("    {line}\n"));
        names.push(name);
    }
    let mut leaf = root.clone();
    if rng.below(2) == 0 {
        leaf = format!("Child{class}");
        case.code.push_str(&format!(
            "\n\nclass {leaf}({root}):\n    \"\"\"Fills in some of its base's fields.\"\"\"\n"
        ));
        for name in &names {
            if rng.below(2) == 0 {
                case.code.push_str(&format!("    {name}: str = 'filled'\n"));
            }
        }
        let (name, line) = pydantic_field(rng, n, case);
        case.code.push_str(&format!("    {line}\n"));
        names.push(name);
        if rng.below(3) == 0 {
            case.code
                .push_str("    model_config = SettingsConfigDict(env_prefix=\"CHILD_\")\n");
        }
    }
    case.code
        .push_str(&format!("\n\nsettings_{class} = {leaf}()\n"));
    for name in &names {
        for prefix in ["", "APP_", "svc_", "Mixed_", "CHILD_"] {
            let variable = format!("{prefix}{name}");
            case.values.insert(variable.to_uppercase(), "1".into());
            case.values.insert(variable, "1".into());
        }
    }
}

fn environ_reads(rng: &mut Rng, n: &mut usize, case: &mut Case) {
    case.code
        .push_str("\nenv = environ.Env(SCHEMED_A=(bool, False), SCHEMED_B=(int,))\n");
    case.values.insert("SCHEMED_A".into(), "true".into());
    case.values.insert("SCHEMED_B".into(), "1".into());
    case.values.insert(
        "DATABASE_URL".into(),
        "sqlite:////tmp/fabuild-oracle.sqlite3".into(),
    );
    case.values
        .insert("CACHE_URL".into(), "locmemcache://".into());
    for _ in 0..=rng.below(5) {
        *n += 1;
        let var = format!("VAR_{n}");
        let (line, value) = match rng.below(14) {
            0 => (format!("env(\"{var}\")"), "1"),
            1 => (format!("env(\"{var}\", default=\"x\")"), "1"),
            2 => (format!("env(\"{var}\", str)"), "1"),
            3 => (format!("env(\"{var}\", str, \"x\")"), "1"),
            4 => (format!("env.str(\"{var}\")"), "1"),
            5 => (format!("env.str(\"{var}\", \"x\")"), "1"),
            6 => (format!("env.int(\"{var}\")"), "1"),
            7 => (format!("env.bool(\"{var}\", default=False)"), "true"),
            8 => (format!("env.list(\"{var}\")"), "a,b"),
            9 => (format!("env.list(\"{var}\", str, [])"), "a,b"),
            10 => ("env(\"SCHEMED_A\")".to_owned(), "true"),
            11 => ("env(\"SCHEMED_B\")".to_owned(), "1"),
            12 => (
                "env.db()".to_owned(),
                "sqlite:////tmp/fabuild-oracle.sqlite3",
            ),
            _ => (
                format!("env.cache_url(\"{var}\", \"locmemcache://\")"),
                "locmemcache://",
            ),
        };
        case.values.insert(var, value.into());
        case.code.push_str(&format!("value_{n} = {line}\n"));
    }
}

fn environs_reads(rng: &mut Rng, n: &mut usize, case: &mut Case) {
    case.code.push_str("\nenvs = EnvironsEnv()\n");
    for _ in 0..=rng.below(4) {
        *n += 1;
        let var = format!("ENVS_{n}");
        let (line, value) = match rng.below(8) {
            0 => (format!("envs(\"{var}\")"), "1"),
            1 => (format!("envs(\"{var}\", \"x\")"), "1"),
            2 => (format!("envs.str(\"{var}\")"), "1"),
            3 => (format!("envs.int(\"{var}\", 5)"), "1"),
            4 => (format!("envs.int(\"{var}\")"), "1"),
            5 => (format!("envs.bool(\"{var}\", default=False)"), "true"),
            6 => (format!("envs.list(\"{var}\")"), "a,b"),
            _ => (format!("envs.list(\"{var}\", [])"), "a,b"),
        };
        case.values.insert(var, value.into());
        case.code.push_str(&format!("value_{n} = {line}\n"));
    }
}

fn generate(seed: u64) -> Case {
    let mut rng = Rng(seed);
    let mut case = Case {
        code: "from typing import Annotated, Optional\n\nimport environ\nfrom environs import Env as EnvironsEnv\nfrom pydantic import AliasChoices, Field, SecretStr\nfrom pydantic_settings import BaseSettings, SettingsConfigDict\n".into(),
        values: BTreeMap::new(),
    };
    let mut n = 0;
    for class in 0..rng.below(3) {
        pydantic_classes(&mut rng, &mut n, class, &mut case);
    }
    if rng.below(2) == 0 {
        environ_reads(&mut rng, &mut n, &mut case);
    }
    if rng.below(2) == 0 {
        environs_reads(&mut rng, &mut n, &mut case);
    }
    case
}

/// The variables init lists in the app.yaml it writes for the project in `dir`.
fn listed(dir: &Path) -> Vec<String> {
    let out = util::fabuild(dir).arg("init").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = fs::read_to_string(dir.join("app.yaml")).unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("#   "))
        .filter_map(|l| l.split_once(": \"\"  # "))
        .map(|(name, _)| name.to_owned())
        .collect()
}

#[test]
fn listed_settings_are_exactly_what_the_real_libraries_need() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cases = Vec::new();
    let mut listed_any = 0;
    for i in 0..CASES {
        let dir = tmp.path().join(format!("case{i}"));
        fs::create_dir_all(dir.join("app")).unwrap();
        fs::write(dir.join("requirements.txt"), "flask\npydantic-settings\n").unwrap();
        fs::write(dir.join("app/__init__.py"), "").unwrap();
        fs::write(
            dir.join("app/main.py"),
            "from flask import Flask\n\napp = Flask(__name__)\n",
        )
        .unwrap();
        let case =
            generate(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
        fs::write(dir.join("app/config.py"), &case.code).unwrap();
        let names = listed(&dir);
        listed_any += names.len();
        cases.push(json!({
            "path": dir.join("app/config.py"),
            "values": case.values,
            "listed": names,
        }));
    }
    assert!(
        listed_any > CASES,
        "the generator should make many required settings: {listed_any}"
    );
    let script = fs::read_to_string(util::repo().join("tests/oracle/settings_oracle.py")).unwrap();
    let problems = util::python_json(&script, json!(cases).to_string().as_bytes());
    assert_eq!(problems, json!([]), "{problems:#}");
}
