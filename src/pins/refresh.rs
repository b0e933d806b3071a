//! `fabuild pins refresh` and `fabuild pins check` without the network: from the index's
//! project documents (`net::pypi_json`) to a pins file's text, and to what is outdated or
//! yanked. Which wheel a pin keeps for each supported Python and Linux machine is decided
//! here, as pip would choose it in the image.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{FORMAT_LINE, Role, TARGET_MACHINES, TARGET_PYTHONS};
use crate::net::pypi_json::{File, Project};
use crate::packaging::requirements::Requirement;
use crate::packaging::version::{Version, satisfies};

/// A `want` as refresh writes it (owned: it may come from the command line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub name: String,
    pub version: String,
    pub role: Role,
}

/// One row of a refreshed file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub name: String,
    pub version: String,
    pub role: Role,
    pub sha256: String,
    pub wheel: String,
}

/// A wheel file name's tags: `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`,
/// each tag possibly several joined by `.`.
struct Tags<'a> {
    python: Vec<&'a str>,
    abi: Vec<&'a str>,
    platform: Vec<&'a str>,
}

fn tags(filename: &str) -> Option<Tags<'_>> {
    let stem = filename.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    if parts.len() < 5 {
        return None;
    }
    let n = parts.len();
    Some(Tags {
        python: parts[n - 3].split('.').collect(),
        abi: parts[n - 2].split('.').collect(),
        platform: parts[n - 1].split('.').collect(),
    })
}

/// The glibc a manylinux tag needs, if it is one for `machine`.
fn manylinux_glibc(tag: &str, machine: &str) -> Option<(u32, u32)> {
    let rest = tag.strip_suffix(machine)?.strip_suffix('_')?;
    match rest {
        "manylinux1" => Some((2, 5)),
        "manylinux2010" => Some((2, 12)),
        "manylinux2014" => Some((2, 17)),
        _ => {
            let mut it = rest.strip_prefix("manylinux_")?.split('_');
            Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
        }
    }
}

/// How well a wheel fits `CPython` `python` (`3.12`; `None` for a tool: any Python 3) on
/// Linux `machine`: lower is preferred, `None` when pip would not install it there.
fn fit(t: &Tags<'_>, python: Option<&str>, machine: &str) -> Option<(u8, (u32, u32))> {
    let glibc = if t.platform.contains(&"any") {
        (0, 0)
    } else {
        t.platform
            .iter()
            .filter_map(|p| manylinux_glibc(p, machine))
            .min()?
    };
    let pure = t.abi.contains(&"none")
        && t.python.iter().any(|p| {
            *p == "py3" || python.is_some_and(|v| *p == format!("py{}", v.replace('.', "")))
        });
    let Some(version) = python else {
        return pure.then_some((2, glibc));
    };
    let minor: u32 = version.strip_prefix("3.")?.parse().ok()?;
    let cp = format!("cp3{minor}");
    if t.python.contains(&cp.as_str()) && t.abi.contains(&cp.as_str()) {
        return Some((0, glibc));
    }
    let abi3 = t.abi.contains(&"abi3")
        && t.python.iter().any(|p| {
            p.strip_prefix("cp3")
                .and_then(|m| m.parse::<u32>().ok())
                .is_some_and(|m| m <= minor)
        });
    if abi3 {
        return Some((1, glibc));
    }
    pure.then_some((2, glibc))
}

/// The wheels of one release a pin keeps: for each supported Python (a tool: any) and
/// Linux machine, the one pip would pick; each wheel once.
pub fn select<'a>(request: &Request, files: &'a [File]) -> Result<Vec<&'a File>, String> {
    if files.iter().any(|f| f.yanked) {
        let reason = files
            .iter()
            .find_map(|f| f.yanked_reason.clone())
            .unwrap_or_default();
        return Err(format!(
            "{} {} is yanked{}",
            request.name,
            request.version,
            if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason}")
            }
        ));
    }
    let pythons: Vec<Option<&str>> = if request.role == Role::Tool {
        vec![None]
    } else {
        TARGET_PYTHONS.iter().map(|p| Some(*p)).collect()
    };
    let mut chosen: Vec<&File> = Vec::new();
    for python in &pythons {
        for machine in TARGET_MACHINES {
            let best = files
                .iter()
                .filter_map(|f| Some((fit(&tags(&f.filename)?, *python, machine)?, f)))
                .min_by(|(a, fa), (b, fb)| a.cmp(b).then(fa.filename.cmp(&fb.filename)));
            let Some((_, file)) = best else {
                return Err(format!(
                    "{} {} has no wheel for {} on Linux {machine}",
                    request.name,
                    request.version,
                    python.map_or("Python 3".to_owned(), |p| format!("CPython {p}"))
                ));
            };
            // No sha256 (pypiserver gives none): the caller hashes the downloaded wheel.
            if file
                .digests
                .sha256
                .as_deref()
                .is_some_and(|h| !is_sha256(h))
            {
                return Err(format!(
                    "{}: the index gives a sha256 that is not 64 hex digits",
                    file.filename
                ));
            }
            if !chosen.iter().any(|c| c.filename == file.filename) {
                chosen.push(file);
            }
        }
    }
    Ok(chosen)
}

fn is_sha256(h: &str) -> bool {
    h.len() == 64
        && h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether two spellings name the same version, as PEP 440 compares them.
pub fn same_version(a: &str, b: &str) -> bool {
    Version::parse(a).is_some_and(|a| Some(a) == Version::parse(b))
}

/// The release `version` of `project`, matched as PEP 440 compares versions.
pub fn release<'a>(project: &'a Project, version: &str) -> Option<&'a [File]> {
    let wanted = Version::parse(version)?;
    project
        .releases
        .iter()
        .find(|(v, _)| Version::parse(v).is_some_and(|v| v == wanted))
        .map(|(_, files)| files.as_slice())
}

/// The newest final release with at least one file none of which is yanked.
pub fn newest(project: &Project) -> Option<&str> {
    project
        .releases
        .iter()
        .filter(|(_, files)| !files.is_empty() && files.iter().all(|f| !f.yanked))
        .filter_map(|(v, _)| Some((Version::parse(v)?, v.as_str())))
        .filter(|(v, text)| !v.is_prerelease() && !text.contains("dev"))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, v)| v)
}

/// Whether a `Requires-Dist` marker can hold in the image: `CPython` 3.11 or later on
/// Linux, no extra. Markers this cannot read count as holding (the check then asks for
/// more, not less).
fn marker_may_hold(marker: &str) -> bool {
    if marker.contains("extra") {
        return false;
    }
    // `python_version < "3.11"` alone: the common case (backports).
    let compact: String = marker.chars().filter(|c| !c.is_whitespace()).collect();
    if let Some(rest) = compact.strip_prefix("python_version") {
        let op_end = rest.find(['"', '\'']).unwrap_or(rest.len());
        let (op, value) = rest.split_at(op_end);
        let value = value.trim_matches(['"', '\'']);
        if !value.contains(['"', '\'', 'a']) {
            return TARGET_PYTHONS.iter().any(|p| {
                Version::parse(p)
                    .and_then(|p| satisfies(&p, &format!("{op}{value}")))
                    .unwrap_or(true)
            });
        }
    }
    !(compact.contains("sys_platform==\"win32\"")
        || compact.contains("platform_system==\"Windows\""))
}

/// What the requests' own dependencies need that the requests do not give: for each
/// request, every `Requires-Dist` of its release (`requires`, by name: read from the
/// index's per-release document or from the wheel itself) that can apply in the image must
/// name a request whose version satisfies it.
pub fn unmet(requests: &[Request], requires: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let mut out = Vec::new();
    for request in requests {
        let Some(lines) = requires.get(&request.name) else {
            continue;
        };
        for line in lines {
            let Some(req) = Requirement::parse(line) else {
                continue;
            };
            if req.marker.as_deref().is_some_and(|m| !marker_may_hold(m)) {
                continue;
            }
            let given = requests.iter().find(|r| r.name == req.key());
            let ok = given.is_some_and(|r| {
                Version::parse(&r.version)
                    .and_then(|v| satisfies(&v, &req.specifier))
                    .unwrap_or(false)
            });
            if !ok {
                out.push(match given {
                    Some(r) => format!(
                        "{} {} needs {}{}, but {} {} is wanted",
                        request.name,
                        request.version,
                        req.key(),
                        req.specifier,
                        r.name,
                        r.version
                    ),
                    None => format!(
                        "{} {} needs {}{}: add a `want` line for it",
                        request.name,
                        request.version,
                        req.key(),
                        req.specifier
                    ),
                });
            }
        }
    }
    out
}

/// A pins file's text: the format line, the explanation, the want lines (with the
/// annotation Renovate's regex manager reads) and the rows, one group per package in name
/// order (tools last), each group's rows by sha256.
pub fn render(requests: &[Request], rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{FORMAT_LINE}");
    out.push_str(
        "# The server stack, each package pinned by the sha256 of its wheels. Written by\n\
         # `fabuild pins refresh` from the index's JSON API. Change a `want` line (Renovate's\n\
         # regex manager does, docs/pins.md), then run `fabuild pins refresh` again: until\n\
         # then fabuild refuses the file. Do not edit the rows.\n",
    );
    for r in requests {
        let want = format!("want {}=={}", r.name, r.version);
        let _ = writeln!(
            out,
            "{want:<27} {:<5} # renovate: datasource=pypi depName={}",
            r.role.as_str(),
            r.name
        );
    }
    out.push_str("# name            version  for   sha256 of a wheel                                                 wheel\n");
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by(|a, b| {
        (a.role == Role::Tool, &a.name, &a.sha256).cmp(&(b.role == Role::Tool, &b.name, &b.sha256))
    });
    for row in sorted {
        let _ = writeln!(
            out,
            "{:<17} {:<8} {:<5} {} {}",
            row.name,
            row.version,
            row.role.as_str(),
            row.sha256,
            row.wheel
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::pypi_json::Digests;

    fn file(name: &str) -> File {
        File {
            filename: name.to_owned(),
            url: None,
            digests: Digests {
                sha256: Some(format!("{:064x}", name.len())),
            },
            yanked: false,
            yanked_reason: None,
        }
    }

    fn request(name: &str, version: &str, role: Role) -> Request {
        Request {
            name: name.into(),
            version: version.into(),
            role,
        }
    }

    #[test]
    fn a_compiled_package_keeps_the_cpython_manylinux_wheel_per_python_and_machine() {
        let mut files: Vec<File> = Vec::new();
        for minor in 10..=15 {
            for machine in ["x86_64", "aarch64"] {
                files.push(file(&format!(
                    "uvloop-1.0-cp3{minor}-cp3{minor}-manylinux2014_{machine}.manylinux_2_17_{machine}.whl"
                )));
                files.push(file(&format!(
                    "uvloop-1.0-cp3{minor}-cp3{minor}-musllinux_1_2_{machine}.whl"
                )));
                files.push(file(&format!(
                    "uvloop-1.0-cp3{minor}-cp3{minor}t-manylinux_2_17_{machine}.whl"
                )));
            }
        }
        files.push(file("uvloop-1.0.tar.gz"));
        let chosen = select(&request("uvloop", "1.0", Role::Asgi), &files).unwrap();
        let names: Vec<&str> = chosen.iter().map(|f| f.filename.as_str()).collect();
        assert_eq!(names.len(), 8, "{names:?}");
        assert!(
            names.iter().all(|n| n.contains("manylinux2014")
                && !n.contains("cp310")
                && !n.contains("cp315"))
        );
    }

    #[test]
    fn a_pure_wheel_is_one_row_and_a_missing_target_is_named() {
        let files = [file("click-8.0-py3-none-any.whl"), file("click-8.0.tar.gz")];
        let chosen = select(&request("click", "8.0", Role::Asgi), &files).unwrap();
        assert_eq!(chosen.len(), 1);
        let only_x86 = [file("x-1.0-cp312-abi3-manylinux_2_17_x86_64.whl")];
        let err = select(&request("x", "1.0", Role::Asgi), &only_x86).unwrap_err();
        assert_eq!(err, "x 1.0 has no wheel for CPython 3.11 on Linux x86_64");
    }

    #[test]
    fn a_yanked_release_is_refused_with_its_reason() {
        let mut f = file("u-1.0-py3-none-any.whl");
        f.yanked = true;
        f.yanked_reason = Some("broken worker".into());
        let err = select(&request("u", "1.0", Role::Asgi), &[f]).unwrap_err();
        assert_eq!(err, "u 1.0 is yanked: broken worker");
    }

    #[test]
    fn dependencies_of_each_wanted_release_must_be_wanted() {
        let requires = BTreeMap::from([(
            "uvicorn-worker".to_owned(),
            vec![
                "gunicorn>=21.0.0".into(),
                "uvicorn>=0.36.0".into(),
                "typing-extensions>=4; python_version < \"3.11\"".into(),
                "pytest; extra == \"test\"".into(),
            ],
        )]);
        let mut requests = vec![
            request("gunicorn", "27.0.1", Role::All),
            request("uvicorn", "0.35.0", Role::Asgi),
            request("uvicorn-worker", "0.4.0", Role::Asgi),
        ];
        assert_eq!(
            unmet(&requests, &requires),
            ["uvicorn-worker 0.4.0 needs uvicorn>=0.36.0, but uvicorn 0.35.0 is wanted"]
        );
        requests[1].version = "0.54.0".into();
        assert!(unmet(&requests, &requires).is_empty());
    }
}
