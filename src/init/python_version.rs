//! `PythonChoice`: the Python version the image should run, from what the project pins or
//! allows, mapped onto the versions fabuild builds for.
//!
//! Order: `.python-version` (what the developers run), then `requires-python` in
//! pyproject.toml (PEP 621) or Poetry's `python` constraint, then uv.lock's
//! `requires-python`. A range picks fabuild's default when it allows it, else the oldest
//! supported version it allows: the one closest to what the project was tested on.

use crate::spec::{DEFAULT_PYTHON, PYTHON_VERSIONS};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PythonChoice {
    pub version: String,
    /// Where it came from, for the report: `.python-version:1 says 3.12.4`.
    pub evidence: String,
}

/// A version constraint found in the project, with where it was found.
#[derive(Clone, Debug)]
pub struct Hint {
    pub file: String,
    pub text: String,
    /// An exact version (`.python-version`) rather than a range.
    pub exact: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VersionError {
    #[error("{file} asks for Python {text}, which fabuild does not build for")]
    Unsupported { file: String, text: String },
    #[error("{file} allows Python {text}, which includes none of {}", PYTHON_VERSIONS.join(", "))]
    NoneAllowed { file: String, text: String },
}

impl PythonChoice {
    /// Picks a version from the first hint; the default when there is none.
    pub fn choose(hints: &[Hint]) -> Result<Self, VersionError> {
        let Some(hint) = hints.first() else {
            return Ok(Self {
                version: DEFAULT_PYTHON.to_owned(),
                evidence: "no .python-version or requires-python; fabuild's default".to_owned(),
            });
        };
        if hint.exact {
            let version = minor(&hint.text);
            return match version {
                Some(v) if PYTHON_VERSIONS.contains(&v.as_str()) => Ok(Self {
                    evidence: format!("{} says {}", hint.file, hint.text),
                    version: v,
                }),
                _ => Err(VersionError::Unsupported {
                    file: hint.file.clone(),
                    text: hint.text.clone(),
                }),
            };
        }
        let allowed: Vec<&str> = PYTHON_VERSIONS
            .iter()
            .copied()
            .filter(|v| allows(&hint.text, v))
            .collect();
        let version = if allowed.contains(&DEFAULT_PYTHON) {
            DEFAULT_PYTHON
        } else {
            allowed
                .first()
                .copied()
                .ok_or_else(|| VersionError::NoneAllowed {
                    file: hint.file.clone(),
                    text: hint.text.clone(),
                })?
        };
        Ok(Self {
            version: version.to_owned(),
            evidence: format!("{} allows {}", hint.file, hint.text),
        })
    }
}

/// `3.12.4`, `cpython-3.12`, `3.12` -> `3.12`.
fn minor(text: &str) -> Option<String> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let parts: Vec<&str> = text[start..]
        .split(|c: char| !c.is_ascii_digit())
        .take(2)
        .collect();
    (parts.len() == 2 && parts.iter().all(|p| !p.is_empty())).then(|| parts.join("."))
}

/// Whether the specifier (PEP 440, or Poetry's `^`/`~`/bare forms) allows some release of
/// the `X.Y` series.
fn allows(spec: &str, series: &str) -> bool {
    let series = parse(series);
    // Any patch release of the series will do: the base image brings the latest.
    (0..=50).any(|patch| {
        let v = [series[0], series[1], patch];
        spec.split([',', '|'])
            .filter(|c| !c.trim().is_empty())
            .all(|clause| clause_allows(clause.trim(), v))
    })
}

fn clause_allows(clause: &str, v: [u64; 3]) -> bool {
    let ops = ["===", "==", "!=", "~=", ">=", "<=", ">", "<", "^", "~", "="];
    let (op, rest) = ops
        .iter()
        .find_map(|op| clause.strip_prefix(op).map(|r| (*op, r.trim())))
        .unwrap_or(("==", clause));
    if rest == "*" {
        return true;
    }
    if let Some(prefix) = rest.strip_suffix(".*") {
        let p = parse(prefix);
        let n = prefix.split('.').count().min(3);
        let matches = v[..n] == p[..n];
        return if op == "!=" { !matches } else { matches };
    }
    let p = parse(rest);
    let n = rest.split('.').count().clamp(1, 3);
    match op {
        ">=" => v >= p,
        ">" => v > p,
        "<=" => v <= p,
        "<" => v < p,
        "!=" => v != p,
        "~=" => {
            // ~=3.11 is >=3.11, ==3.*; ~=3.11.2 is >=3.11.2, ==3.11.*
            let keep = (n - 1).max(1);
            v >= p && v[..keep] == p[..keep]
        }
        "^" => v >= p && v[0] == p[0],
        "~" => v >= p && v[..n.min(2)] == p[..n.min(2)],
        // `==3.12` is 3.12.0 exactly in PEP 440; Poetry's bare `3.12` is the same.
        _ => v[..n] == p[..n] && v[n..].iter().all(|x| *x == 0),
    }
}

fn parse(text: &str) -> [u64; 3] {
    let mut out = [0; 3];
    for (slot, part) in out.iter_mut().zip(text.split('.')) {
        *slot = part
            .trim()
            .trim_end_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .unwrap_or(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Hint, PythonChoice, VersionError, allows};

    fn range(text: &str) -> Result<String, VersionError> {
        PythonChoice::choose(&[Hint {
            file: "pyproject.toml".into(),
            text: text.into(),
            exact: false,
        }])
        .map(|c| c.version)
    }

    #[test]
    fn ranges_pick_the_default_or_the_oldest_allowed() {
        assert_eq!(range(">=3.9").unwrap(), "3.12");
        assert_eq!(range(">=3.13").unwrap(), "3.13");
        assert_eq!(range(">=3.9,<3.12").unwrap(), "3.11");
        assert_eq!(range("^3.11").unwrap(), "3.12");
        assert_eq!(range("~3.11").unwrap(), "3.11");
        assert_eq!(range("~=3.13.1").unwrap(), "3.13");
        assert_eq!(range("==3.14.*").unwrap(), "3.14");
        assert!(matches!(
            range("<3.10"),
            Err(VersionError::NoneAllowed { .. })
        ));
        assert!(allows(">3.11", "3.11"), "3.11.1 > 3.11");
        assert!(!allows("<3.12", "3.12"));
    }

    #[test]
    fn exact_versions_keep_their_series() {
        let exact = |t: &str| {
            PythonChoice::choose(&[Hint {
                file: ".python-version".into(),
                text: t.into(),
                exact: true,
            }])
        };
        assert_eq!(exact("3.13.2").unwrap().version, "3.13");
        assert_eq!(exact("cpython-3.11").unwrap().version, "3.11");
        assert!(exact("3.9").is_err());
    }
}
