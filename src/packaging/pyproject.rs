//! pyproject.toml: the dependencies a project declares, as PEP 508 requirement strings.
//!
//! PEP 621's `[project] dependencies` are PEP 508 already and are taken as written. Poetry's
//! `[tool.poetry.dependencies]` use Poetry's own constraint syntax (`^1.2`, `~1.2`, `1.2.*`,
//! tables with `version` and `extras`); they are translated as Poetry documents them. What
//! cannot be installed from an index by name (git, path and URL dependencies, per-Python
//! alternatives) is refused with the reason, never dropped.

use serde::Deserialize;

use super::is_name;

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
                if let Some(req) = poetry_requirement(name, value)? {
                    requirements.push(req);
                }
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

/// One `[tool.poetry.dependencies]` entry as a PEP 508 string; `None` for an optional one
/// (installed only through an extra, which an app image does not ask for).
fn poetry_requirement(name: &str, value: &toml::Value) -> Result<Option<String>, String> {
    if !is_name(name) {
        return Err(format!(
            "lists `{name}` in {POETRY}, which is not a package name"
        ));
    }
    let (constraint, extras) = match value {
        toml::Value::String(c) => (c.as_str(), Vec::new()),
        toml::Value::Table(t) => {
            if t.get("optional").and_then(toml::Value::as_bool) == Some(true) {
                return Ok(None);
            }
            for key in ["git", "path", "url", "source"] {
                if t.contains_key(key) {
                    return Err(format!(
                        "gives `{name}` a `{key}` in {POETRY}: fabuild installs packages from the index by name and version"
                    ));
                }
            }
            for key in ["python", "markers", "platform"] {
                if t.contains_key(key) {
                    return Err(format!(
                        "gives `{name}` a `{key}` condition in {POETRY}, which fabuild does not translate; declare the dependency in {PEP621} with a PEP 508 marker"
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
            (constraint, extras)
        }
        toml::Value::Array(_) => {
            return Err(format!(
                "gives `{name}` several alternative constraints in {POETRY}, which fabuild does not translate; declare it in {PEP621} with PEP 508 markers"
            ));
        }
        _ => {
            return Err(format!(
                "gives `{name}` a constraint that is not a string or a table in {POETRY}"
            ));
        }
    };
    let specifier = poetry_constraint(constraint).map_err(|why| {
        format!("gives `{name}` the constraint `{constraint}` in {POETRY}: {why}")
    })?;
    let extras = if extras.is_empty() {
        String::new()
    } else {
        format!("[{}]", extras.join(","))
    };
    Ok(Some(format!("{name}{extras}{specifier}")))
}

/// Poetry's constraint syntax as a PEP 440 specifier ("" for any version).
///
/// `^1.2.3` is `>=1.2.3,<2.0.0`, `^0.2.3` is `>=0.2.3,<0.3.0`, `^0.0.3` is `>=0.0.3,<0.0.4`;
/// `~1.2.3` is `>=1.2.3,<1.3.0` and `~1` is `>=1,<2`; `1.2.*` is `==1.2.*`; a bare version
/// is `==`; `*` is any; comparisons (`>=1.2,<2`) are PEP 440 already.
pub fn poetry_constraint(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.contains("||") || text.contains('|') {
        return Err("alternatives (`||`) have no PEP 440 form".to_owned());
    }
    if text.is_empty() || text == "*" {
        return Ok(String::new());
    }
    let mut parts = Vec::new();
    for part in text.split(',').map(str::trim) {
        parts.push(poetry_part(part)?);
    }
    Ok(parts.join(","))
}

fn poetry_part(part: &str) -> Result<String, String> {
    let release = |v: &str| -> Result<Vec<u64>, String> {
        v.split('.')
            .map(|n| {
                n.parse::<u64>()
                    .map_err(|_| format!("`{v}` is not a release number"))
            })
            .collect()
    };
    let join = |nums: &[u64]| {
        nums.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(".")
    };
    if let Some(v) = part.strip_prefix('^') {
        let nums = release(v.trim())?;
        // Bump the first non-zero part (or the last given part when all are zero).
        let at = nums.iter().position(|n| *n != 0).unwrap_or(nums.len() - 1);
        let mut upper = nums[..=at].to_vec();
        upper[at] += 1;
        return Ok(format!(">={},<{}", join(&nums), join(&upper)));
    }
    if let Some(v) = part.strip_prefix('~').filter(|v| !v.starts_with('=')) {
        let nums = release(v.trim())?;
        let mut upper = if nums.len() == 1 {
            nums.clone()
        } else {
            nums[..2].to_vec()
        };
        let last = upper.len() - 1;
        upper[last] += 1;
        return Ok(format!(">={},<{}", join(&nums), join(&upper)));
    }
    if let Some(v) = part.strip_suffix(".*") {
        release(v)?;
        return Ok(format!("=={part}"));
    }
    let op_end = part
        .find(|c: char| !matches!(c, '<' | '>' | '=' | '!' | '~'))
        .unwrap_or(part.len());
    let (op, version) = part.split_at(op_end);
    let version = version.trim();
    if version.is_empty()
        || !version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '*' | '+' | '!' | '-' | '_'))
    {
        return Err(format!("`{part}` is not a version constraint"));
    }
    match op {
        // A bare version and Poetry's `=` both mean exactly that version.
        "" | "=" => Ok(format!("=={version}")),
        "==" | "!=" | ">=" | "<=" | ">" | "<" | "~=" | "===" => Ok(format!("{op}{version}")),
        _ => Err(format!("`{op}` is not a comparison")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poetry_constraints_as_poetry_documents_them() {
        for (poetry, pep440) in [
            ("^1.2.3", ">=1.2.3,<2"),
            ("^1.2", ">=1.2,<2"),
            ("^1", ">=1,<2"),
            ("^0.2.3", ">=0.2.3,<0.3"),
            ("^0.115", ">=0.115,<0.116"),
            ("^0.0.3", ">=0.0.3,<0.0.4"),
            ("^0.0", ">=0.0,<0.1"),
            ("^0", ">=0,<1"),
            ("~1.2.3", ">=1.2.3,<1.3"),
            ("~1.2", ">=1.2,<1.3"),
            ("~1", ">=1,<2"),
            ("1.2.*", "==1.2.*"),
            ("1.2.3", "==1.2.3"),
            ("*", ""),
            (">=1.2,<2.0", ">=1.2,<2.0"),
            (">= 1.2, < 2.0", ">=1.2,<2.0"),
            ("~=1.4", "~=1.4"),
            ("!=1.5", "!=1.5"),
        ] {
            assert_eq!(poetry_constraint(poetry).as_deref(), Ok(pep440), "{poetry}");
        }
        for bad in ["^1 || ^2", "^x.y", ">>1", "=<", "1.2.3; rm"] {
            assert!(poetry_constraint(bad).is_err(), "{bad}");
        }
    }

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
                "[tool.poetry.dependencies]\nlib = { version = \"^1\", python = \"<3.12\" }\n",
                "`python` condition",
            ),
            (
                "[tool.poetry.dependencies]\nlib = [{ version = \"^1\" }, { version = \"^2\" }]\n",
                "alternative",
            ),
            (
                "[tool.poetry.dependencies]\nlib = \"^1 || ^2\"\n",
                "alternatives",
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
