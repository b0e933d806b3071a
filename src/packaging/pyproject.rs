//! pyproject.toml: the dependencies a project declares, as PEP 508 requirement strings.
//!
//! PEP 621's `[project] dependencies` are PEP 508 already and are taken as written. Poetry's
//! `[tool.poetry.dependencies]` use Poetry's own constraint syntax (`^1.2`, `~1.2`, `1.2.*`,
//! `||`, tables with `version`, `extras`, `python`, `platform` and `markers`, lists of such
//! tables); they are translated as poetry-core reads them (`poetry.rs`). What cannot be
//! installed from an index by name (git, path and URL dependencies) or written in PEP 440 is
//! refused with the reason, never dropped.

use serde::Deserialize;

use super::{is_name, is_name_char, poetry};

/// The parts of pyproject.toml fabuild reads; every other table is ignored.
#[derive(Debug, Default, Deserialize)]
pub struct PyProject {
    #[serde(default)]
    pub project: Option<Project>,
    #[serde(default)]
    pub tool: Option<Tool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Project {
    pub name: Option<String>,
    #[serde(rename = "requires-python")]
    pub requires_python: Option<String>,
    pub dependencies: Option<Vec<String>>,
    #[serde(default)]
    pub dynamic: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Tool {
    pub poetry: Option<Poetry>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Poetry {
    pub name: Option<String>,
    #[serde(default)]
    pub dependencies: toml::Table,
}

/// Where a project's runtime dependencies were read, and what they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declared {
    /// `[project] dependencies` or `[tool.poetry.dependencies]`.
    pub table: &'static str,
    /// PEP 508 requirement strings, in the order written.
    pub requirements: Vec<String>,
}

pub const PEP621: &str = "[project] dependencies";
pub const POETRY: &str = "[tool.poetry.dependencies]";

impl PyProject {
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| format!("is not valid TOML: {}", e.message()))
    }

    /// The runtime dependencies: PEP 621's when the project declares them there (Poetry 2
    /// reads them too), else Poetry's.
    pub fn declared(&self) -> Result<Declared, String> {
        if let Some(project) = &self.project {
            if project.dynamic.iter().any(|d| d == "dependencies") {
                return Err(format!(
                    "declares {PEP621} as dynamic: they are computed by its build backend, not written down"
                ));
            }
            if let Some(deps) = &project.dependencies {
                for dep in deps {
                    check_pep508(dep)?;
                }
                return Ok(Declared {
                    table: PEP621,
                    requirements: deps.clone(),
                });
            }
        }
        if let Some(poetry) = self.tool.as_ref().and_then(|t| t.poetry.as_ref()) {
            let mut requirements = Vec::new();
            for (name, value) in &poetry.dependencies {
                if name == "python" {
                    continue;
                }
                requirements.extend(poetry_requirements(name, value)?);
            }
            return Ok(Declared {
                table: POETRY,
                requirements,
            });
        }
        Err(format!("has neither {PEP621} nor {POETRY}"))
    }
}

/// A PEP 508 string fabuild can hand to a resolver in a requirements file: one line, not an
/// option, not a local path.
fn check_pep508(dep: &str) -> Result<(), String> {
    let trimmed = dep.trim();
    if trimmed.is_empty() {
        return Err(format!("lists an empty dependency in {PEP621}"));
    }
    if dep.chars().any(char::is_control) {
        return Err(format!(
            "lists `{}` with a control character in {PEP621}",
            dep.escape_debug()
        ));
    }
    if trimmed.starts_with('-') {
        return Err(format!(
            "lists `{trimmed}` in {PEP621}, which is an installer option, not a requirement"
        ));
    }
    if trimmed.contains("file:") {
        return Err(format!(
            "lists `{trimmed}` in {PEP621}: a local path cannot be resolved while the image builds"
        ));
    }
    let name_ok = trimmed
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if !name_ok {
        return Err(format!(
            "lists `{trimmed}` in {PEP621}, which does not start with a package name"
        ));
    }
    // PEP 508: name, extras, then a version specifier or `@ URL`, then `; marker`.
    let requirement = trimmed.split(';').next().unwrap_or(trimmed);
    if requirement.contains('@') {
        return Err(format!(
            "lists `{trimmed}` in {PEP621}, a direct reference (`name @ URL` or path), which fabuild refuses: it would install whatever that URL or path serves at build time, unhashed; publish the package to an index (a private one will do) and depend on it by name and version"
        ));
    }
    let specifier_ok = requirement.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || c.is_ascii_whitespace()
            || matches!(
                c,
                '-' | '_'
                    | '.'
                    | '['
                    | ']'
                    | ','
                    | '<'
                    | '>'
                    | '='
                    | '!'
                    | '~'
                    | '*'
                    | '+'
                    | '('
                    | ')'
            )
    });
    // pip and uv read a word starting with `-` on a requirement line as an option
    // (`--index-url`), and ` #` as the start of a comment.
    let smuggles = trimmed
        .split_ascii_whitespace()
        .skip(1)
        .any(|word| word.starts_with('-') || word.starts_with('#'));
    if !specifier_ok || smuggles {
        return Err(format!(
            "lists `{trimmed}` in {PEP621}, which is not a PEP 508 requirement (a name, extras, a version specifier, a marker after `;`)"
        ));
    }
    Ok(())
}

/// One `[tool.poetry.dependencies]` entry as PEP 508 strings: one for a constraint or a
/// table, one per table for a list of tables (each with its own condition), none for an
/// optional one (installed only through an extra, which an app image does not ask for).
fn poetry_requirements(name: &str, value: &toml::Value) -> Result<Vec<String>, String> {
    if !is_name(name) {
        return Err(format!(
            "lists `{name}` in {POETRY}, which is not a package name"
        ));
    }
    match value {
        toml::Value::Array(tables) => {
            let mut lines = Vec::new();
            for table in tables {
                let toml::Value::Table(t) = table else {
                    return Err(format!(
                        "gives `{name}` a list of constraints in {POETRY} with an entry that is not a table"
                    ));
                };
                if !["python", "markers", "platform"]
                    .iter()
                    .any(|k| t.contains_key(*k))
                {
                    return Err(format!(
                        "gives `{name}` a list of constraints in {POETRY} with an entry that has no `python`, `markers` or `platform` condition; Poetry needs one on each to choose between them"
                    ));
                }
                lines.extend(poetry_requirement(name, table)?);
            }
            Ok(lines)
        }
        _ => Ok(poetry_requirement(name, value)?.into_iter().collect()),
    }
}

/// One constraint or table as a PEP 508 string.
fn poetry_requirement(name: &str, value: &toml::Value) -> Result<Option<String>, String> {
    let (constraint, extras, marker) = match value {
        toml::Value::String(c) => (c.as_str(), Vec::new(), String::new()),
        toml::Value::Table(t) => {
            if t.get("optional").and_then(toml::Value::as_bool) == Some(true) {
                return Ok(None);
            }
            for key in ["git", "path", "url", "source"] {
                if t.contains_key(key) {
                    return Err(format!(
                        "gives `{name}` a `{key}` in {POETRY}: fabuild installs packages from the index by name and version; publish it to an index (a private one will do) and depend on it by version"
                    ));
                }
            }
            let constraint = match t.get("version") {
                Some(toml::Value::String(v)) => v.as_str(),
                None => "*",
                Some(_) => {
                    return Err(format!(
                        "gives `{name}` a version that is not a string in {POETRY}"
                    ));
                }
            };
            let extras = match t.get("extras") {
                None => Vec::new(),
                Some(toml::Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .filter(|e| is_name(e))
                            .map(str::to_owned)
                            .ok_or_else(|| {
                                format!("gives `{name}` an extra that is not a name in {POETRY}")
                            })
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => {
                    return Err(format!(
                        "gives `{name}` extras that are not a list in {POETRY}"
                    ));
                }
            };
            (constraint, extras, poetry_marker(name, t)?)
        }
        _ => {
            return Err(format!(
                "gives `{name}` a constraint that is not a string or a table in {POETRY}"
            ));
        }
    };
    let specifier = poetry::to_pep440(constraint).map_err(|why| {
        format!("gives `{name}` the constraint `{constraint}` in {POETRY}: {why}")
    })?;
    let extras = if extras.is_empty() {
        String::new()
    } else {
        format!("[{}]", extras.join(","))
    };
    let marker = if marker.is_empty() {
        String::new()
    } else {
        format!(" ; {marker}")
    };
    Ok(Some(format!("{name}{extras}{specifier}{marker}")))
}

/// A table's `python`, `platform` and `markers` conditions as one PEP 508 marker ("" for
/// none), as Poetry joins them: all must hold.
fn poetry_marker(name: &str, table: &toml::Table) -> Result<String, String> {
    let text = |key: &str| -> Result<Option<&str>, String> {
        match table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(format!(
                "gives `{name}` a `{key}` that is not a string in {POETRY}"
            )),
        }
    };
    let mut all = Vec::new();
    if let Some(python) = text("python")? {
        let marker = poetry::python_marker(python).map_err(|why| {
            format!("gives `{name}` the Python constraint `{python}` in {POETRY}: {why}")
        })?;
        if !marker.is_empty() {
            all.push(marker);
        }
    }
    if let Some(platform) = text("platform")? {
        if !platform.chars().all(is_name_char) || platform.is_empty() {
            return Err(format!(
                "gives `{name}` the platform `{platform}` in {POETRY}, which is not a `sys_platform` value"
            ));
        }
        all.push(format!("sys_platform == \"{platform}\""));
    }
    if let Some(markers) = text("markers")? {
        check_marker(name, markers)?;
        all.push(markers.trim().to_owned());
    }
    Ok(match all.len() {
        0 => String::new(),
        1 => all.remove(0),
        _ => all
            .iter()
            .map(|m| format!("({m})"))
            .collect::<Vec<_>>()
            .join(" and "),
    })
}

/// A PEP 508 marker that stays one requirement line: no control character, no word that
/// pip or uv would read as an option (`--index-url`) or a comment (`#`).
fn check_marker(name: &str, marker: &str) -> Result<(), String> {
    let plain = marker.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || c == ' '
            || matches!(
                c,
                '<' | '>' | '=' | '!' | '~' | '.' | '(' | ')' | '\'' | '"' | '_' | '-' | '*' | '+'
            )
    });
    let smuggles = marker
        .split_ascii_whitespace()
        .any(|w| w.starts_with('-') || w.starts_with('#'));
    if marker.trim().is_empty() || !plain || smuggles {
        return Err(format!(
            "gives `{name}` the markers `{}` in {POETRY}, which is not a PEP 508 marker fabuild can pass on",
            marker.escape_debug()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep621_is_taken_as_written_and_poetry_is_translated() {
        let pep621 = PyProject::parse(
            "[project]\nname = \"notes\"\ndependencies = [\"flask>=3.1\", \"httpx[http2]==0.28.1 ; python_version >= '3.11'\"]\n",
        )
        .unwrap();
        assert_eq!(
            pep621.declared().unwrap(),
            Declared {
                table: PEP621,
                requirements: vec![
                    "flask>=3.1".to_owned(),
                    "httpx[http2]==0.28.1 ; python_version >= '3.11'".to_owned()
                ]
            }
        );
        let poetry = PyProject::parse(
            "[tool.poetry.dependencies]\npython = \"^3.11\"\nfastapi = \"^0.115\"\nuvloop = { version = \"~0.21\", optional = true }\nhttpx = { version = \"0.28.*\", extras = [\"http2\"] }\n",
        )
        .unwrap();
        assert_eq!(
            poetry.declared().unwrap().requirements,
            ["fastapi>=0.115,<0.116", "httpx[http2]==0.28.*"]
        );
        let conditions = PyProject::parse(
            "[tool.poetry.dependencies]\npython = \"^3.11\"\nuvloop = { version = \"^0.21\", markers = \"sys_platform != 'win32'\" }\nnumpy = [{ version = \"^1.26\", python = \"<3.13\" }, { version = \"^2.1\", python = \">=3.13\", platform = \"linux\" }]\nlib = { version = \"^2.1.0.post1\", python = \"~3.11 || >=3.13\" }\n",
        )
        .unwrap();
        assert_eq!(
            conditions.declared().unwrap().requirements,
            [
                "lib>=2.1.0.post1,<3.0.0 ; (python_full_version >= \"3.11\" and python_full_version < \"3.12\") or (python_full_version >= \"3.13\")",
                "numpy>=1.26,<2.0 ; python_full_version < \"3.13\"",
                "numpy>=2.1,<3.0 ; (python_full_version >= \"3.13\") and (sys_platform == \"linux\")",
                "uvloop>=0.21,<0.22 ; sys_platform != 'win32'",
            ]
        );
    }

    #[test]
    fn what_cannot_come_from_an_index_is_refused_with_the_reason() {
        for (text, why) in [
            ("[project]\ndynamic = [\"dependencies\"]\n", "dynamic"),
            (
                "[project]\ndependencies = [\"mylib @ file:///src/mylib\"]\n",
                "local path",
            ),
            ("[project]\ndependencies = [\"-e .\"]\n", "installer option"),
            (
                "[project]\ndependencies = [\"lib @ https://example.com/lib-1.0.tar.gz\"]\n",
                "direct reference",
            ),
            (
                "[project]\ndependencies = [\"lib @ git+https://example.com/lib.git@v1\"]\n",
                "direct reference",
            ),
            (
                "[project]\ndependencies = [\"lib@/etc/passwd\"]\n",
                "direct reference",
            ),
            (
                "[project]\ndependencies = [\"lib[x] @ https://e.com/l.whl ; python_version >= '3'\"]\n",
                "direct reference",
            ),
            (
                "[project]\ndependencies = [\"flask --index-url=https://evil.example/simple\"]\n",
                "not a PEP 508 requirement",
            ),
            (
                "[project]\ndependencies = [\"flask ; python_version >= '3' --extra-index-url x\"]\n",
                "not a PEP 508 requirement",
            ),
            (
                "[project]\ndependencies = [\"https://example.com/lib.whl\"]\n",
                "not a PEP 508 requirement",
            ),
            (
                "[project]\ndependencies = [\"a\\nb\"]\n",
                "control character",
            ),
            (
                "[tool.poetry.dependencies]\nlib = { git = \"https://example.com/lib.git\" }\n",
                "`git`",
            ),
            (
                "[tool.poetry.dependencies]\nlib = { path = \"../lib\", develop = true }\n",
                "`path`",
            ),
            (
                "[tool.poetry.dependencies]\nlib = [{ version = \"^1\" }, { version = \"^2\" }]\n",
                "no `python`, `markers` or `platform` condition",
            ),
            (
                "[tool.poetry.dependencies]\nlib = \"^1 || ^3\"\n",
                "union PEP 440 cannot write",
            ),
            (
                "[tool.poetry.dependencies]\nlib = { version = \"^1\", markers = \"python_version > '3' --index-url x\" }\n",
                "not a PEP 508 marker",
            ),
            (
                "[tool.poetry.dependencies]\nlib = { version = \"^1\", markers = \"python_version > '3'\\n-r x\" }\n",
                "not a PEP 508 marker",
            ),
            // Found by fuzzing: a key starting with `-` became a requirements line that
            // pip and uv read as an option.
            (
                "[tool.poetry.dependencies]\n-fastapi = \"^0.5\"\n",
                "not a package name",
            ),
            (
                "[tool.poetry.dependencies]\n\"--pre\" = \"*\"\n",
                "not a package name",
            ),
            ("[tool.black]\nline-length = 100\n", "neither"),
        ] {
            let err = PyProject::parse(text).unwrap().declared().unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
    }
}
