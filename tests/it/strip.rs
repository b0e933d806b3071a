//! Dropping debug information from extension modules: fabuild's own stripper (used by
//! `fabuild build`) and the generated `fabuild-strip.py` (run by the Dockerfile), held to
//! binutils' `strip --strip-debug`, to each other, and to a real interpreter loading the
//! result.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use fabuild::builder::strip::strip;

use crate::util::{fabuild, python, repo};

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{cmd:?} complained:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A shared library with debug information, compiled here.
fn c_library(dir: &Path) -> PathBuf {
    let src = dir.join("demo.c");
    fs::write(
        &src,
        "#include <string.h>\n\
         static int table[64];\n\
         int demo_add(int a, int b) { return a + b; }\n\
         int demo_len(const char *s) { table[1] = (int)strlen(s); return table[1]; }\n",
    )
    .unwrap();
    let lib = dir.join("libdemo.so");
    run(Command::new("gcc")
        .args(["-g", "-O1", "-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src));
    lib
}

/// The same library linked with `--emit-relocs`, so its symbol table has a symbol for
/// every section, debug sections included (as the aarch64 wheels of uvloop and httptools
/// have); with `keep_debug_relocations`, also the `.rela.debug_*` sections that brings.
fn c_library_with_section_symbols(dir: &Path, keep_debug_relocations: bool) -> PathBuf {
    c_library(dir);
    let linked = dir.join("libdemo-relocs.so");
    run(Command::new("gcc")
        .args(["-g", "-O1", "-shared", "-fPIC", "-Wl,--emit-relocs", "-o"])
        .arg(&linked)
        .arg(dir.join("demo.c")));
    if keep_debug_relocations {
        return linked;
    }
    let out = dir.join("libdemo-sections.so");
    run(Command::new("objcopy")
        .arg("--remove-section=.rela.debug*")
        .arg(&linked)
        .arg(&out));
    out
}

/// `readelf` on `path`, which must read it without a warning.
fn readelf(args: &[&str], path: &Path) -> String {
    run(Command::new("readelf").arg("-W").args(args).arg(path))
}

/// Each section's name and size, from `readelf -S`.
fn sections(path: &Path) -> Vec<(String, u64)> {
    readelf(&["-S"], path)
        .lines()
        .filter_map(|l| {
            let (_, after) = l.trim_start().strip_prefix('[')?.split_once(']')?;
            let fields: Vec<&str> = after.split_whitespace().collect();
            // name, type, address, offset, size, ...
            let size = u64::from_str_radix(fields.get(4)?, 16).ok()?;
            Some(((*fields.first()?).to_owned(), size))
        })
        .filter(|(name, _)| name != "NULL")
        .collect()
}

/// The sections that hold something: what binutils keeps. fabuild keeps the debug
/// sections' headers, emptied, so that no section index changes.
fn sections_with_content(path: &Path) -> Vec<String> {
    sections(path)
        .into_iter()
        .filter(|(name, size)| !(name.starts_with(".debug") && *size == 0))
        .map(|(name, _)| name)
        .collect()
}

/// The parts of `readelf` output that must not change: segments, dynamic section,
/// dynamic and static symbols (with the sections they are in, by index and name).
fn loaded_view(path: &Path) -> String {
    ["-l", "-d", "--dyn-syms", "-s"]
        .iter()
        .map(|flag| readelf(&[flag], path))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(&path.display().to_string(), "FILE")
}

/// The generated `fabuild-strip.py` of an ASGI app, in `dir`.
fn generated_stripper(dir: &Path) -> PathBuf {
    let project = dir.join("project");
    fs::create_dir_all(&project).unwrap();
    fs::write(
        project.join("app.yaml"),
        "version: 1\nname: demo\napp:\n  module: main:app\n  interface: asgi\n",
    )
    .unwrap();
    let out = fabuild(&project)
        .args(["gen", "app.yaml"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let script = project.join("fabuild-strip.py");
    assert!(
        script.is_file(),
        "an ASGI app's gen wrote no fabuild-strip.py"
    );
    script
}

/// The Python stripper's result for `input`, written to `output` (absent when it declines).
fn python_strip(script: &Path, input: &Path, output: &Path) {
    let code = "import importlib.util, sys\n\
                spec = importlib.util.spec_from_file_location('s', sys.argv[1])\n\
                m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n\
                r = m.strip(open(sys.argv[2], 'rb').read())\n\
                r is None or open(sys.argv[3], 'wb').write(r)\n";
    run(Command::new(python())
        .args(["-c", code])
        .arg(script)
        .arg(input)
        .arg(output));
}

#[test]
fn a_stripped_library_matches_binutils_and_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    stripped_like_binutils(&c_library(dir.path()));
}

#[test]
fn section_symbols_still_name_their_sections() {
    let dir = tempfile::tempdir().unwrap();
    let lib = c_library_with_section_symbols(dir.path(), false);
    let symbols = readelf(&["-s"], &lib);
    assert!(
        symbols
            .lines()
            .any(|l| l.contains(" SECTION ") && l.ends_with(" .debug_info")),
        "no section symbol for .debug_info to test with:\n{symbols}"
    );
    stripped_like_binutils(&lib);
}

/// Strips `lib` (next to which the outputs go) and holds the result to binutils.
fn stripped_like_binutils(lib: &Path) {
    let dir = lib.parent().unwrap();
    let original = fs::read(lib).unwrap();
    assert!(
        sections(lib)
            .iter()
            .any(|(n, size)| n == ".debug_info" && *size > 0)
    );

    let ours = dir.join("ours.so");
    fs::write(&ours, strip(&original).expect("a library with debug info")).unwrap();
    let theirs = dir.join("theirs.so");
    run(Command::new("strip")
        .args(["--strip-debug", "-o"])
        .arg(&theirs)
        .arg(lib));

    assert_eq!(sections_with_content(&ours), sections_with_content(&theirs));
    let names =
        |path: &Path| -> Vec<String> { sections(path).into_iter().map(|(n, _)| n).collect() };
    assert_eq!(names(&ours), names(lib), "a section was renumbered");
    assert!(
        sections(&ours)
            .iter()
            .all(|(n, size)| !n.starts_with(".debug") || *size == 0)
    );
    assert!(
        sections(&ours)
            .iter()
            .any(|(n, size)| n == ".symtab" && *size > 0)
    );
    assert_eq!(loaded_view(&ours), loaded_view(lib));
    assert!(fs::metadata(&ours).unwrap().len() < original.len() as u64);

    let calls = "import ctypes, sys\n\
                 lib = ctypes.CDLL(sys.argv[1])\n\
                 print(lib.demo_add(40, 2), lib.demo_len(b'fabuild'))\n";
    let printed = run(Command::new(python()).args(["-c", calls]).arg(&ours));
    assert_eq!(printed.trim(), "42 7");
}

#[test]
fn nothing_to_drop_or_not_a_shared_object_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let lib = c_library(dir.path());
    let once = strip(&fs::read(&lib).unwrap()).unwrap();
    assert_eq!(strip(&once), None, "stripping twice changed the file again");
    let theirs = dir.path().join("theirs.so");
    run(Command::new("strip")
        .args(["--strip-debug", "-o"])
        .arg(&theirs)
        .arg(&lib));
    assert_eq!(strip(&fs::read(&theirs).unwrap()), None);
    // Relocations against debug information: a layout this does not rewrite.
    let relocs = c_library_with_section_symbols(dir.path(), true);
    assert!(readelf(&["-S"], &relocs).contains(".rela.debug_info"));
    assert_eq!(strip(&fs::read(&relocs).unwrap()), None);
    assert_eq!(strip(b"#!/bin/sh\necho not elf\n"), None);
    assert_eq!(strip(&[]), None);
    // A truncated file: headers point past the end.
    let original = fs::read(&lib).unwrap();
    assert_eq!(strip(&original[..original.len() / 2]), None);
}

/// The real extension modules the server stack installs, from the test interpreter.
fn server_stack_modules() -> Vec<PathBuf> {
    let code = "import glob, os, httptools, uvloop\n\
                for pkg in (httptools, uvloop):\n\
                \x20   d = os.path.dirname(pkg.__file__)\n\
                \x20   print('\\n'.join(sorted(glob.glob(d + '/**/*.so', recursive=True))))\n";
    let out = run(Command::new(python()).args(["-c", code]));
    let modules: Vec<PathBuf> = out.lines().map(PathBuf::from).collect();
    assert!(
        modules.len() >= 3,
        "uvloop and httptools not installed: {out}"
    );
    modules
}

#[test]
fn the_generated_script_and_fabuild_give_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let script = generated_stripper(dir.path());
    let mut inputs = server_stack_modules();
    inputs.push(c_library(dir.path()));
    for (i, input) in inputs.iter().enumerate() {
        let output = dir.path().join(format!("py-{i}.so"));
        python_strip(&script, input, &output);
        let rust = strip(&fs::read(input).unwrap());
        let py = fs::read(&output).ok();
        assert_eq!(
            rust.as_ref().map(Vec::len),
            py.as_ref().map(Vec::len),
            "{}",
            input.display()
        );
        assert!(
            rust == py,
            "{}: the two strippers disagree",
            input.display()
        );
        if let Some(stripped) = rust {
            fs::write(&output, stripped).unwrap();
            assert_eq!(
                loaded_view(&output),
                loaded_view(input),
                "{}",
                input.display()
            );
        }
    }
}

#[test]
fn stripped_uvloop_and_httptools_still_serve() {
    // Copies of the installed packages, stripped in place by the generated script as the
    // image build runs it, then used by a real event loop and HTTP parser.
    let dir = tempfile::tempdir().unwrap();
    let script = generated_stripper(dir.path());
    let site = dir.path().join("site");
    let code = "import glob, os, shutil, sys, httptools, uvloop\n\
                for pkg in (httptools, uvloop):\n\
                \x20   d = os.path.dirname(pkg.__file__)\n\
                \x20   shutil.copytree(d, os.path.join(sys.argv[1], os.path.basename(d)))\n\
                \x20   for info in glob.glob(os.path.join(os.path.dirname(d), pkg.__name__ + '-*.dist-info')):\n\
                \x20       shutil.copytree(info, os.path.join(sys.argv[1], os.path.basename(info)))\n";
    run(Command::new(python()).args(["-c", code]).arg(&site));
    let bytes_of = |pattern: &str| -> u64 {
        walk(&site)
            .iter()
            .filter(|p| p.to_string_lossy().contains(pattern))
            .map(|p| fs::metadata(p).unwrap().len())
            .sum()
    };
    let before = bytes_of("/uvloop/loop.");
    let out = Command::new(python())
        .arg(&script)
        .args(["httptools", "uvloop"])
        .env("PYTHONPATH", &site)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        printed.contains("fabuild: stripped uvloop/loop."),
        "{printed}"
    );
    assert!(
        printed.contains("fabuild: stripped httptools/parser/parser."),
        "{printed}"
    );
    let after = bytes_of("/uvloop/loop.");
    assert!(
        after * 4 < before,
        "uvloop's module went from {before} to only {after} bytes"
    );

    let serve = "import asyncio, sys, httptools, uvloop\n\
                 assert uvloop.__file__.startswith(sys.argv[1]), uvloop.__file__\n\
                 assert httptools.__file__.startswith(sys.argv[1]), httptools.__file__\n\
                 class P:\n\
                 \x20   def on_url(self, url): self.url = url\n\
                 async def handle(r, w):\n\
                 \x20   p = P(); hp = httptools.HttpRequestParser(p)\n\
                 \x20   hp.feed_data(await r.readuntil(b'\\r\\n\\r\\n'))\n\
                 \x20   w.write(b'HTTP/1.1 200 OK\\r\\nContent-Length: ' + str(len(p.url)).encode() + b'\\r\\n\\r\\n' + p.url)\n\
                 \x20   await w.drain(); w.close()\n\
                 async def main():\n\
                 \x20   assert isinstance(asyncio.get_running_loop(), uvloop.Loop)\n\
                 \x20   srv = await asyncio.start_server(handle, '127.0.0.1', 0)\n\
                 \x20   port = srv.sockets[0].getsockname()[1]\n\
                 \x20   r, w = await asyncio.open_connection('127.0.0.1', port)\n\
                 \x20   w.write(b'GET /stripped HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')\n\
                 \x20   print((await r.read()).decode().split('\\r\\n\\r\\n', 1)[1])\n\
                 uvloop.run(main())\n";
    let served = run(Command::new(python())
        .args(["-c", serve])
        .arg(&site)
        .env("PYTHONPATH", &site)
        .env("PYTHONDONTWRITEBYTECODE", "1"));
    assert_eq!(served.trim(), "/stripped");

    // RECORD names the new hashes and sizes, so the installed files still verify.
    let verify = "import base64, hashlib, importlib.metadata, sys\n\
                  bad = []\n\
                  for name in ('uvloop', 'httptools'):\n\
                  \x20   d = importlib.metadata.distribution(name)\n\
                  \x20   assert str(d.locate_file('')).startswith(sys.argv[1])\n\
                  \x20   for f in d.files:\n\
                  \x20       if f.hash is None: continue\n\
                  \x20       data = f.locate().read_bytes()\n\
                  \x20       h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()\n\
                  \x20       if h != f.hash.value or len(data) != f.size: bad.append(str(f))\n\
                  print(bad)\n";
    let bad = run(Command::new(python())
        .args(["-c", verify])
        .arg(&site)
        .env("PYTHONPATH", &site));
    assert_eq!(bad.trim(), "[]");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn the_template_is_the_one_in_the_repository() {
    // The Dockerfile route copies the generated file; it must be the reviewed template.
    let dir = tempfile::tempdir().unwrap();
    let generated = fs::read_to_string(generated_stripper(dir.path())).unwrap();
    let template = fs::read_to_string(repo().join("templates/strip.py.j2")).unwrap();
    assert!(generated.ends_with(&template));
}

#[test]
fn fabuild_build_installs_a_wheel_with_its_modules_stripped_and_record_updated() {
    use std::io::{Read as _, Write as _};

    use fabuild::builder::spool::Spool;
    use fabuild::builder::wheel::{VenvPaths, install};
    use fabuild::oci::writer::{Node, Tree};

    let dir = tempfile::tempdir().unwrap();
    let lib = fs::read(c_library(dir.path())).unwrap();
    let module = "demo/_native.cpython-311-x86_64-linux-gnu.so";
    let wheel = dir.path().join("demo-1.0-cp311-cp311-linux_x86_64.whl");
    let mut zip = zip::ZipWriter::new(fs::File::create(&wheel).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    let files: [(&str, &[u8]); 3] = [
        ("demo/__init__.py", b"from ._native import *\n"),
        (module, &lib),
        (
            "demo-1.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
        ),
    ];
    let mut record = String::new();
    for (name, data) in files {
        zip.start_file(name, options).unwrap();
        zip.write_all(data).unwrap();
        let sha = python_record_hash(data);
        record.push_str(&format!("{name},sha256={sha},{}\n", data.len()));
    }
    record.push_str("demo-1.0.dist-info/RECORD,,\n");
    zip.start_file("demo-1.0.dist-info/RECORD", options)
        .unwrap();
    zip.write_all(record.as_bytes()).unwrap();
    zip.finish().unwrap();

    let venv = VenvPaths::new("/opt/venv", "3.11");
    let mut tree = Tree::default();
    let scratch = tempfile::tempdir().unwrap();
    let mut spool = Spool::create(scratch.path()).unwrap();
    install(&wheel, &venv, true, &mut tree, &mut spool).unwrap();
    let site = dir.path().join("site");
    let bytes = |node: &Node| {
        let Node::File(content) = node else {
            return None;
        };
        let mut data = Vec::new();
        content.open().unwrap().1.read_to_end(&mut data).unwrap();
        Some(data)
    };
    for (path, entry) in &tree.entries {
        if let Some(data) = bytes(&entry.node) {
            let rel = path
                .strip_prefix(&format!("{}/", venv.site_packages))
                .unwrap();
            fs::create_dir_all(site.join(rel).parent().unwrap()).unwrap();
            fs::write(site.join(rel), data).unwrap();
        }
    }
    let installed = fs::read(site.join(module)).unwrap();
    assert_eq!(Some(installed), strip(&lib), "the module was not stripped");

    // Python's own metadata reader checks every hash and size RECORD names.
    let verify = "import base64, hashlib, importlib.metadata, sys\n\
                  d = importlib.metadata.distribution('demo')\n\
                  assert str(d.locate_file('')).startswith(sys.argv[1])\n\
                  ok = [f for f in d.files if f.hash and \
                  base64.urlsafe_b64encode(hashlib.sha256(f.locate().read_bytes()).digest()).rstrip(b'=').decode() == f.hash.value \
                  and f.size == len(f.locate().read_bytes())]\n\
                  print(len(ok), len([f for f in d.files if f.hash]))\n";
    let counts = run(Command::new(python())
        .args(["-c", verify])
        .arg(&site)
        .env("PYTHONPATH", &site));
    assert_eq!(counts.trim(), "3 3");

    // Without strip_debug the wheel installs as it is.
    let mut plain = Tree::default();
    let mut spool = Spool::create(dir.path()).unwrap();
    install(&wheel, &venv, false, &mut plain, &mut spool).unwrap();
    let key = format!("{}/{module}", venv.site_packages);
    assert_eq!(bytes(&plain.entries[&key].node), Some(lib));
}

/// The RECORD hash of `data`, computed by Python.
fn python_record_hash(data: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data");
    fs::write(&file, data).unwrap();
    let code = "import base64, hashlib, sys\n\
                d = hashlib.sha256(open(sys.argv[1], 'rb').read()).digest()\n\
                print(base64.urlsafe_b64encode(d).rstrip(b'=').decode())\n";
    run(Command::new(python()).args(["-c", code]).arg(&file))
        .trim()
        .to_owned()
}
