//! Installing a wheel without pip: unpack it into the virtualenv's site-packages, route its
//! `.data` directories, and write its console scripts with the virtualenv's interpreter.
//!
//! No `.pyc` is compiled: the image ships sources only (the cost is measured in
//! BENCHMARKS.md).

use std::io::Read;
use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::strip;

use crate::oci::writer::Tree;

/// The parts of a wheel file name that matter here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WheelName {
    /// Normalised (lower case, runs of `-_.` as `-`), as pins and requirements compare it.
    pub project: String,
    pub version: String,
}

/// Parses `name-version(-build)?-python-abi-platform.whl`.
pub fn parse_name(file: &str) -> Option<WheelName> {
    let stem = file.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    if !(5..=6).contains(&parts.len()) {
        return None;
    }
    Some(WheelName {
        project: normalise(parts[0]),
        version: parts[1].to_owned(),
    })
}

pub use crate::packaging::normalise;

/// Where a virtualenv's parts are, for one Python version.
pub struct VenvPaths {
    /// `opt/venv` (no leading slash: a layer path).
    pub root: String,
    /// `opt/venv/lib/pythonX.Y/site-packages`.
    pub site_packages: String,
    /// `/opt/venv/bin/python`, the shebang of every script.
    pub python: String,
}

impl VenvPaths {
    pub fn new(venv: &str, python_version: &str) -> Self {
        let root = venv.trim_start_matches('/').to_owned();
        Self {
            site_packages: format!("{root}/lib/python{python_version}/site-packages"),
            python: format!("{venv}/bin/python"),
            root,
        }
    }
}

/// Unpacks the wheel at `path` into `tree`. With `strip_debug`, its extension modules lose
/// their debug information (`strip::strip`) and its RECORD gets their new hashes and sizes,
/// as the Dockerfile route's `fabuild-strip.py` does.
pub fn install(
    path: &Path,
    venv: &VenvPaths,
    strip_debug: bool,
    tree: &mut Tree,
) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| format!("not a wheel (zip): {e}"))?;
    let mut entry_points: Option<String> = None;
    let mut record: Option<(String, Vec<u8>, bool)> = None;
    // Each rewritten module: its path in RECORD, new sha256 and size.
    let mut stripped: Vec<(String, [u8; 32], usize)> = Vec::new();
    for i in 0..archive.len() {
        let mut member = archive.by_index(i).map_err(|e| e.to_string())?;
        if member.is_dir() {
            continue;
        }
        let Some(name) = member.enclosed_name() else {
            let shown = member
                .name()
                .map(std::borrow::Cow::into_owned)
                .unwrap_or_default();
            return Err(format!("member {shown} leads outside the wheel"));
        };
        let name = name.to_string_lossy().replace('\\', "/");
        let executable = member.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let mut data = Vec::with_capacity(usize::try_from(member.size()).unwrap_or(0));
        member
            .read_to_end(&mut data)
            .map_err(|e| format!("{name}: {e}"))?;
        if member.is_symlink() {
            return Err(format!("{name} is a symlink; wheels hold files only"));
        }
        let (first, rest) = name.split_once('/').unwrap_or(("", &name));
        if let Some(_dist) = first.strip_suffix(".data") {
            let (scheme, inner) = rest.split_once('/').unwrap_or((rest, ""));
            match scheme {
                "purelib" | "platlib" => {
                    tree.file(&format!("{}/{inner}", venv.site_packages), data, executable);
                }
                "scripts" => {
                    let data = rewrite_shebang(data, &venv.python);
                    tree.file(&format!("{}/bin/{inner}", venv.root), data, true);
                }
                "data" => tree.file(&format!("{}/{inner}", venv.root), data, executable),
                // Headers are for compiling against the package; nothing compiles here.
                _ => {}
            }
            continue;
        }
        if first.ends_with(".dist-info") && rest == "entry_points.txt" {
            entry_points = Some(String::from_utf8_lossy(&data).into_owned());
        }
        if strip_debug && first.ends_with(".dist-info") && rest == "RECORD" {
            record = Some((name, data, executable));
            continue;
        }
        let module = Path::new(&name).extension().is_some_and(|e| e == "so");
        let data = match (strip_debug && module)
            .then(|| strip::strip(&data))
            .flatten()
        {
            Some(smaller) => {
                stripped.push((name.clone(), Sha256::digest(&smaller).into(), smaller.len()));
                smaller
            }
            None => data,
        };
        tree.file(&format!("{}/{name}", venv.site_packages), data, executable);
    }
    if let Some((name, data, executable)) = record {
        let data = rewrite_record(&String::from_utf8_lossy(&data), &stripped).into_bytes();
        tree.file(&format!("{}/{name}", venv.site_packages), data, executable);
    }
    for (script, target) in console_scripts(entry_points.as_deref().unwrap_or("")) {
        let body = script_body(&venv.python, &target)
            .ok_or_else(|| format!("console script {script} has a bad entry point `{target}`"))?;
        tree.file(
            &format!("{}/bin/{script}", venv.root),
            body.into_bytes(),
            true,
        );
    }
    Ok(())
}

/// RECORD with the hash and size of each rewritten file replaced.
fn rewrite_record(text: &str, changed: &[(String, [u8; 32], usize)]) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let path = line.split(',').next().unwrap_or_default();
        match changed.iter().find(|(name, _, _)| name == path) {
            Some((_, sha256, size)) => {
                let newline = if line.ends_with('\n') { "\n" } else { "" };
                let digest = urlsafe_base64(sha256);
                out.push_str(&format!("{path},sha256={digest},{size}{newline}"));
            }
            None => out.push_str(line),
        }
    }
    out
}

/// Base64 with the URL-safe alphabet and no padding, as wheel RECORDs write hashes.
fn urlsafe_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// `#!python` (and `#!pythonw`) in a wheel's scripts means "the installing interpreter".
fn rewrite_shebang(data: Vec<u8>, python: &str) -> Vec<u8> {
    if data.starts_with(b"#!python") {
        let end = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
        let mut out = format!("#!{python}").into_bytes();
        out.extend_from_slice(&data[end..]);
        out
    } else {
        data
    }
}

/// `[console_scripts]` of an `entry_points.txt`, as (name, `module:attr`) pairs.
fn console_scripts(text: &str) -> Vec<(String, String)> {
    let mut in_section = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == "[console_scripts]";
        } else if in_section
            && !line.is_empty()
            && !line.starts_with('#')
            && let Some((name, target)) = line.split_once('=')
        {
            out.push((name.trim().to_owned(), target.trim().to_owned()));
        }
    }
    out
}

/// The launcher for `module:attr.sub [extras]`.
fn script_body(python: &str, target: &str) -> Option<String> {
    let target = target.split('[').next()?.trim();
    let (module, attr) = target.split_once(':')?;
    let (module, attr) = (module.trim(), attr.trim());
    let valid = |s: &str| {
        !s.is_empty()
            && s.split('.').all(|part| {
                !part.is_empty()
                    && part.chars().all(|c| c.is_alphanumeric() || c == '_')
                    && !part.starts_with(|c: char| c.is_ascii_digit())
            })
    };
    if !valid(module) || !valid(attr) {
        return None;
    }
    let head = attr.split('.').next()?;
    Some(format!(
        "#!{python}\n\
         import sys\n\
         from {module} import {head}\n\
         if __name__ == \"__main__\":\n\
         \x20   sys.exit({attr}())\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_hashes_are_urlsafe_base64_without_padding() {
        // The sha256 of nothing, as pip writes it in RECORD.
        let empty: [u8; 32] = Sha256::digest(b"").into();
        assert_eq!(
            urlsafe_base64(&empty),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
        assert_eq!(urlsafe_base64(b"f"), "Zg");
        assert_eq!(urlsafe_base64(b"fo"), "Zm8");
        assert_eq!(urlsafe_base64(b"foo"), "Zm9v");
        assert_eq!(urlsafe_base64(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn only_the_rewritten_files_change_in_record() {
        let record =
            "pkg/__init__.py,sha256=abc,10\npkg/m.so,sha256=old,99\npkg-1.dist-info/RECORD,,\n";
        let changed = [("pkg/m.so".to_owned(), [0u8; 32], 7)];
        assert_eq!(
            rewrite_record(record, &changed),
            "pkg/__init__.py,sha256=abc,10\npkg/m.so,sha256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,7\npkg-1.dist-info/RECORD,,\n"
        );
    }

    #[test]
    fn wheel_names_are_parsed_and_normalised() {
        assert_eq!(
            parse_name("uvicorn_worker-0.4.0-py3-none-any.whl"),
            Some(WheelName {
                project: "uvicorn-worker".to_owned(),
                version: "0.4.0".to_owned()
            })
        );
        assert_eq!(
            parse_name(
                "pydantic_core-2.50.5-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl"
            )
            .unwrap()
            .project,
            "pydantic-core"
        );
        assert_eq!(parse_name("fastapi-0.1.tar.gz"), None);
        assert_eq!(normalise("Typing.Extensions"), "typing-extensions");
    }

    #[test]
    fn console_scripts_become_launchers() {
        let text = "[console_scripts]\ngunicorn = gunicorn.app.wsgiapp:run\n\n[paste.server_runner]\nmain = gunicorn.app.pasterapp:serve\n";
        let scripts = console_scripts(text);
        assert_eq!(
            scripts,
            [("gunicorn".to_owned(), "gunicorn.app.wsgiapp:run".to_owned())]
        );
        let body = script_body("/opt/venv/bin/python", &scripts[0].1).unwrap();
        assert!(body.starts_with("#!/opt/venv/bin/python\n"));
        assert!(body.contains("from gunicorn.app.wsgiapp import run\n"));
        assert!(body.contains("sys.exit(run())"));
        assert_eq!(
            script_body("/p", "pkg.cli:main.go [extra]")
                .unwrap()
                .lines()
                .nth(2),
            Some("from pkg.cli import main")
        );
        assert_eq!(script_body("/p", "os; import evil:x"), None);
    }

    #[test]
    fn script_shebangs_point_at_the_venv() {
        assert_eq!(
            rewrite_shebang(b"#!python\nprint(1)\n".to_vec(), "/opt/venv/bin/python"),
            b"#!/opt/venv/bin/python\nprint(1)\n"
        );
    }
}
