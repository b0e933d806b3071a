//! Installing a wheel without pip: unpack it into the virtualenv's site-packages, route its
//! `.data` directories, and write its console scripts with the virtualenv's interpreter.
//!
//! A wheel is untrusted bytes: its members are streamed to disk, never held, and the sizes
//! its zip headers claim are checked (in sum before unpacking, then each against its bytes)
//! rather than believed.
//!
//! No `.pyc` is compiled here: the base's interpreter compiles the whole virtualenv once it
//! is laid out (`bytecode.rs`).

use std::io::{BufRead, Read};
use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::spool::{Spool, Spooled};
use super::strip;

use crate::oci::writer::Tree;
use crate::read::{Exactly, MAX_TEXT_BYTES};

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

/// The most a wheel may unpack to, whatever its size: far above a web API's dependencies.
/// The largest wheels published (GPU builds of deep-learning frameworks) unpack to a few
/// GiB, an estimate not measured here; one over this is refused by name.
pub const MAX_UNPACKED: u64 = 4 << 30;
/// How many times its own size a wheel may unpack to once it is past `SMALL_UNPACKED`.
/// Deflate gives 2-10x on code and text; a zip bomb gives up to 1,000x.
pub const MAX_RATIO: u64 = 100;
/// What any wheel may unpack to, however small: small files of zeros are harmless.
const SMALL_UNPACKED: u64 = 64 << 20;
/// The largest extension module stripped of its debug information: it is read whole to be
/// rewritten. Larger ones (no pinned wheel has one) are installed as they are.
const MAX_STRIPPED: u64 = 64 << 20;

/// Unpacks the wheel at `path` into `tree`, its members streamed into `spool` (never held
/// in memory), each checked to hold exactly the bytes its zip header claims, and all of
/// them within a budget (`MAX_UNPACKED`, `MAX_RATIO`) checked before anything is unpacked.
/// With `strip_debug`, its extension modules lose their debug information (`strip::strip`)
/// and its RECORD gets their new hashes and sizes, as the Dockerfile route's
/// `fabuild-strip.py` does.
pub fn install(
    path: &Path,
    venv: &VenvPaths,
    strip_debug: bool,
    tree: &mut Tree,
    spool: &mut Spool,
) -> Result<(), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let wheel_size = file.metadata().map_err(|e| e.to_string())?.len();
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| format!("not a wheel (zip): {e}"))?;
    check_budget(&mut archive, wheel_size)?;
    let mut entry_points: Option<String> = None;
    let mut record: Option<(String, Spooled, bool)> = None;
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
        if member.is_symlink() {
            return Err(format!("{name} is a symlink; wheels hold files only"));
        }
        let executable = member.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let Some((dest, route)) = route(&name, venv) else {
            continue;
        };
        let script = route == Route::Script;
        let claimed = member.size();
        let mut data = Exactly::new(&mut member, claimed, "its zip header claims");
        let spooled = spool
            .append(|out| {
                if script {
                    spool_script(&mut data, &venv.python, out)
                } else {
                    std::io::copy(&mut data, out).map(drop)
                }
            })
            .map_err(|e| format!("{name}: {e}"))?;
        if route != Route::Package {
            tree.file_from(&dest, spool.content(spooled), script || executable);
            continue;
        }
        let (first, rest) = name.split_once('/').unwrap_or(("", &name));
        let dist_info = first.ends_with(".dist-info");
        if dist_info && rest == "entry_points.txt" {
            let text = read_text(spool, spooled, &name)?;
            entry_points = Some(String::from_utf8_lossy(&text).into_owned());
        }
        if strip_debug && dist_info && rest == "RECORD" {
            record = Some((dest, spooled, executable));
            continue;
        }
        let module = Path::new(&name).extension().is_some_and(|e| e == "so");
        if strip_debug && module && spooled.len <= MAX_STRIPPED {
            let original = spool.read(spooled).map_err(|e| format!("{name}: {e}"))?;
            if let Some(smaller) = strip::strip(&original) {
                stripped.push((name.clone(), Sha256::digest(&smaller).into(), smaller.len()));
                tree.file(&dest, smaller, executable);
                continue;
            }
        }
        tree.file_from(&dest, spool.content(spooled), executable);
    }
    if let Some((dest, spooled, executable)) = record {
        let text = read_text(spool, spooled, &dest)?;
        let data = rewrite_record(&String::from_utf8_lossy(&text), &stripped).into_bytes();
        tree.file(&dest, data, executable);
    }
    spool.flush().map_err(|e| e.to_string())?;
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

/// Where the member `name` goes in the virtualenv, and what is done to it on the way;
/// `None` for what is not installed.
fn route(name: &str, venv: &VenvPaths) -> Option<(String, Route)> {
    let (first, rest) = name.split_once('/').unwrap_or(("", name));
    if first.strip_suffix(".data").is_none() {
        return Some((format!("{}/{name}", venv.site_packages), Route::Package));
    }
    match rest.split_once('/')? {
        ("purelib" | "platlib", inner) => {
            Some((format!("{}/{inner}", venv.site_packages), Route::Data))
        }
        ("scripts", inner) => Some((format!("{}/bin/{inner}", venv.root), Route::Script)),
        ("data", inner) => Some((format!("{}/{inner}", venv.root), Route::Data)),
        // Headers are for compiling against the package; nothing compiles here.
        _ => None,
    }
}

/// A spooled text member (RECORD, `entry_points.txt`), read back within the text bound.
fn read_text(spool: &mut Spool, at: Spooled, name: &str) -> Result<Vec<u8>, String> {
    if at.len > MAX_TEXT_BYTES {
        return Err(format!("{name} is larger than {MAX_TEXT_BYTES} bytes"));
    }
    spool.read(at).map_err(|e| format!("{name}: {e}"))
}

/// Where a wheel member goes, and what is done to it on the way.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    /// Into site-packages as the wheel has it: its RECORD, entry points and modules are
    /// looked into.
    Package,
    /// A `.data` directory's file, installed as it is.
    Data,
    /// A `.data/scripts` file: its `#!python` line points at the virtualenv.
    Script,
}

/// Refuses a wheel whose members claim more than it may unpack to, before any is unpacked:
/// with each member then held to its claim, this bounds the bytes written, whatever the
/// headers say.
fn check_budget<R: std::io::Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    wheel_size: u64,
) -> Result<(), String> {
    let mut claimed: u64 = 0;
    for i in 0..archive.len() {
        let member = archive.by_index_raw(i).map_err(|e| e.to_string())?;
        claimed = claimed.saturating_add(member.size());
    }
    let budget = wheel_size
        .saturating_mul(MAX_RATIO)
        .clamp(SMALL_UNPACKED, MAX_UNPACKED);
    if claimed <= budget {
        return Ok(());
    }
    if claimed > MAX_UNPACKED {
        return Err(format!(
            "its members claim {} unpacked, more than the {} fabuild unpacks from one wheel",
            human(claimed),
            human(MAX_UNPACKED)
        ));
    }
    Err(format!(
        "its members claim {} unpacked, {}x the wheel's {}: a zip bomb, not a wheel (fabuild unpacks at most {MAX_RATIO}x a wheel's size)",
        human(claimed),
        claimed / wheel_size.max(1),
        human(wheel_size)
    ))
}

/// `bytes` as people read sizes: `1.5 GiB`, `12.0 MiB`, `6 bytes`.
#[allow(clippy::cast_precision_loss)] // one decimal of a size
fn human(bytes: u64) -> String {
    match bytes {
        0..0x10_0000 => format!("{bytes} bytes"),
        0x10_0000..0x4000_0000 => format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20)),
        _ => format!("{:.1} GiB", bytes as f64 / f64::from(1 << 30)),
    }
}

/// Copies a script from a wheel's `.data/scripts`, its `#!python` (or `#!pythonw`) line,
/// which means "the installing interpreter", replaced by `python`.
fn spool_script(
    data: &mut dyn std::io::Read,
    python: &str,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut data = std::io::BufReader::new(data);
    let mut head = Vec::with_capacity(8);
    (&mut data).take(8).read_to_end(&mut head)?;
    if head != b"#!python" {
        out.write_all(&head)?;
        return std::io::copy(&mut data, out).map(drop);
    }
    // The rest of the first line goes, however long; the newline stays.
    loop {
        let buffer = data.fill_buf()?;
        if buffer.is_empty() {
            break;
        }
        if let Some(at) = memchr::memchr(b'\n', buffer) {
            data.consume(at);
            break;
        }
        let n = buffer.len();
        data.consume(n);
    }
    write!(out, "#!{python}")?;
    std::io::copy(&mut data, out).map(drop)
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
        let rewrite = |script: &[u8]| {
            let mut out = Vec::new();
            spool_script(&mut &script[..], "/opt/venv/bin/python", &mut out).unwrap();
            out
        };
        assert_eq!(
            rewrite(b"#!python\nprint(1)\n"),
            b"#!/opt/venv/bin/python\nprint(1)\n"
        );
        assert_eq!(rewrite(b"#!pythonw -E"), b"#!/opt/venv/bin/python");
        assert_eq!(rewrite(b"#!/bin/sh\necho\n"), b"#!/bin/sh\necho\n");
        assert_eq!(rewrite(b"#!py"), b"#!py");
    }
}
