//! Bytecode compiled by a real interpreter: a base made of this machine's own Python (its
//! binary, the libraries it links, its `encodings` package), so `fabuild build` runs it
//! through the base's loader as it runs any base's. The `.pyc` the build writes are
//! compared with what `py_compile` writes for the same sources, and a relative
//! `--cache-dir` gives bytecode as an absolute one does.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::build::{LayerFile, Project, layer_entry};
use crate::image_writer::{self, Compression, Image, Item, dir, file};

/// A base holding the host's `/usr/bin/python3.X`, the loader and libraries `ldd` names for
/// it, and its `encodings` package (what it imports to start with `-S`; the compile script
/// imports nothing else). Returns the layout, the interpreter and its version (`3.11`).
fn host_python_base(at: &Path) -> (PathBuf, PathBuf, String) {
    let mut found: Vec<(PathBuf, String)> = std::fs::read_dir("/usr/bin")
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name()?.to_str()?.to_owned();
            let minor = name.strip_prefix("python3.")?;
            (!minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()))
                .then(|| (path.clone(), format!("3.{minor}")))
        })
        .collect();
    found.sort();
    let (python, version) = found
        .pop()
        .expect("a /usr/bin/python3.X on this machine (Debian's python3 package)");
    let ldd = Command::new("ldd").arg(&python).output().unwrap();
    assert!(ldd.status.success(), "ldd {}", python.display());
    let mut wanted = vec![python.clone()];
    for line in String::from_utf8(ldd.stdout).unwrap().lines() {
        // `libm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x...)`, `/lib64/ld-linux-x86-64.so.2 (0x...)`
        let path = line.split("=>").last().unwrap().trim();
        let path = path.split(" (").next().unwrap();
        if path.starts_with('/') {
            wanted.push(PathBuf::from(path));
        }
    }
    let encodings = Path::new("/usr/lib").join(format!("python{version}/encodings"));
    for entry in std::fs::read_dir(&encodings).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "py") {
            wanted.push(path);
        }
    }
    let mut items = vec![
        dir("/etc"),
        file("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"),
        file("/etc/group", "root:x:0:\n"),
    ];
    let mut dirs = std::collections::BTreeSet::new();
    for path in &wanted {
        for parent in path.ancestors().skip(1) {
            if parent != Path::new("/") {
                dirs.insert(parent.to_path_buf());
            }
        }
    }
    items.extend(dirs.iter().map(|d| dir(d.to_str().unwrap())));
    for path in &wanted {
        let mut item = file(path.to_str().unwrap(), std::fs::read(path).unwrap());
        if let Item::File { mode, .. } = &mut item {
            *mode = 0o755;
        }
        items.push(item);
    }
    let runtime = json!({"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["python3"]});
    let image = Image::build(&runtime, "amd64", &[items], Compression::None);
    let layout = at.join("host-python-base");
    image_writer::write_layout(&layout, &[(&image, Some("linux/amd64"))]);
    (layout, python, version)
}

/// The test project (build.rs's) on the host-Python base, its spec asking for that
/// Python's version; and the interpreter.
fn project() -> (Project, PathBuf, String) {
    let mut project = Project::new();
    let (base, python, version) = host_python_base(project.root.parent().unwrap());
    project.base = base;
    let spec = std::fs::read_to_string(project.root.join("app.yaml")).unwrap();
    let spec = spec.replace("version: \"3.11\"", &format!("version: \"{version}\""));
    std::fs::write(project.root.join("app.yaml"), spec).unwrap();
    (project, python, version)
}

fn pyc(files: &[LayerFile], source: &str, version: &str) -> Option<LayerFile> {
    let (parent, name) = source.rsplit_once('/').unwrap();
    let stem = name.strip_suffix(".py").unwrap();
    let tag = version.replace('.', "");
    layer_entry(
        files,
        &format!("{parent}/__pycache__/{stem}.cpython-{tag}.pyc"),
    )
}

/// A relative `--cache-dir` is where the base's interpreter is kept between builds, and
/// the interpreter runs from it in another working directory: the build makes the path
/// absolute, so both layers get their bytecode (before, the interpreter did not start
/// and the image silently had none).
#[test]
fn a_relative_cache_dir_still_gives_bytecode() {
    let (project, _, version) = project();
    let output = project
        .build_command("img", &project.wheels)
        .args(["--cache-dir", "../relative-cache"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("no bytecode"), "{stderr}");
    assert!(project.path("relative-cache/interpreters").is_dir());
    let [deps, _, app] = project.added_layers("img");
    assert!(pyc(&app, "app/wsgi.py", &version).is_some(), "{stderr}");
    let gunicorn = format!("opt/venv/lib/python{version}/site-packages/gunicorn/__init__.py");
    assert!(pyc(&deps, &gunicorn, &version).is_some(), "{stderr}");
}

/// Sources the compile script must treat as `py_compile` does: encodings by PEP 263 (a
/// cookie, a BOM), `__future__` imports, and the files that do not compile (a syntax
/// error, a NUL byte, bytes that are not UTF-8, an unknown codec), which stay source only.
const SOURCES: &[(&str, &[u8])] = &[
    (
        "plain.py",
        b"import sys\n\nclass Shape:\n    sides = 4\n    def area(self, x):\n        return x * x\n\n\
def squares(n):\n    return [i * i for i in range(n) if i % 2]\n\n\
def closure(k):\n    def inner(v):\n        return v + k\n    return inner\n\n\
CONSTS = (1, 2.5, 3j, b'raw', frozenset({'a'}), None, ..., 'x' * 3, -0.0)\n\
RESULT = (Shape().area(7), squares(9), closure(3)(4), CONSTS, f'{sys.maxsize > 0!r:>6}',\n\
          {k: v for k, v in zip('abc', range(3))}, squares.__code__.co_filename)\n",
    ),
    (
        "latin1.py",
        b"# -*- coding: latin-1 -*-\nRESULT = ('caf\xe9', len('caf\xe9'))\n",
    ),
    (
        "bom.py",
        b"\xef\xbb\xbfRESULT = '\xc3\xa9t\xc3\xa9'\n",
    ),
    (
        "future.py",
        b"from __future__ import annotations\n\ndef f(x: Undefined) -> int:\n    return x\n\n\
RESULT = f.__annotations__\n",
    ),
    (
        "generators.py",
        b"import asyncio\n\nasync def a():\n    return [x async for x in g()]\n\n\
async def g():\n    for i in range(3):\n        yield i\n\n\
def t():\n    try:\n        raise KeyError('k')\n    except KeyError as e:\n        return e.args\n    finally:\n        pass\n\n\
RESULT = (asyncio.run(a()), t())\n",
    ),
    ("pkg/__init__.py", b""),
    ("bad_syntax.py", b"def (:\n"),
    ("bad_null.py", b"x = 1\0\n"),
    ("bad_utf8.py", b"x = '\xff\xfe'\n"),
    ("bad_codec.py", b"# coding: no-such-codec\nx = 1\n"),
];

/// What the checker (run by the base's own interpreter binary, on the host) found for each
/// source: whether `py_compile` compiled it, whether the image has a .pyc, and for those
/// that have one: the 16-byte headers equal, the code objects equal, both run to the same
/// `RESULT`, Python's own loader taking the image's `.pyc` over a changed source (so it is
/// used unchecked), and whether the whole file is `py_compile`'s byte for byte.
const CHECKER: &str = r#"
import importlib.util, json, marshal, os, py_compile, sys
ref, image = sys.argv[1], sys.argv[2]
rows = []
for rel in json.load(sys.stdin):
    src = os.path.join(ref, rel)
    cfile = importlib.util.cache_from_source(src)
    try:
        py_compile.compile(src, cfile=cfile, dfile="/app/" + rel, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        ref_ok = True
    except py_compile.PyCompileError:
        ref_ok = False
    mine = importlib.util.cache_from_source(os.path.join(image, rel))
    row = {"rel": rel, "py_compile": ref_ok, "image": os.path.exists(mine)}
    if ref_ok and row["image"]:
        a, b = open(cfile, "rb").read(), open(mine, "rb").read()
        code_a, code_b = marshal.loads(a[16:]), marshal.loads(b[16:])
        def run(code):
            ns = {"__name__": rel[:-3].replace("/", ".")}
            exec(code, ns)
            return repr(ns.get("RESULT"))
        with open(os.path.join(image, rel), "a") as f:
            f.write("\nRESULT = 'the source, not the pyc'\n")
        spec = importlib.util.spec_from_file_location("m_" + rel[:-3].replace("/", "_"),
                                                      os.path.join(image, rel))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        row.update(header=a[:16] == b[:16], code=code_a == code_b,
                   result=run(code_a) == run(code_b),
                   loaded=getattr(module, "RESULT", None) != "the source, not the pyc",
                   same_bytes=a == b)
    rows.append(row)
json.dump(rows, sys.stdout)
"#;

/// The `.pyc` the build writes (without `py_compile`) are what `py_compile` writes: the same
/// files compile or not, the same header (magic number, unchecked-hash flags, source
/// hash), equal code objects that run the same, loaded by Python's import system without
/// looking at the source. The bytes may differ only in marshal's reference marks (the
/// build's notes say which files did not compile, and a second build is the same to the
/// byte).
#[test]
fn the_build_writes_the_bytecode_py_compile_writes() {
    let (project, python, version) = project();
    for (rel, source) in SOURCES {
        let path = project.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, source).unwrap();
    }
    let output = project
        .build_command("img", &project.wheels)
        .arg("--no-cache")
        .env("SOURCE_DATE_EPOCH", crate::build::EPOCH)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let [_, _, app] = project.added_layers("img");

    let scratch = tempfile::tempdir().unwrap();
    let (ref_dir, image_dir) = (scratch.path().join("ref"), scratch.path().join("image"));
    let mut rels = Vec::new();
    for f in &app {
        let Some(rel) = f.0.strip_prefix("app/") else {
            continue;
        };
        let extension = Path::new(rel).extension().and_then(|e| e.to_str());
        let is_source = extension == Some("py");
        if !is_source && extension != Some("pyc") {
            continue;
        }
        let mut dirs = vec![&image_dir];
        if is_source {
            dirs.push(&ref_dir);
            rels.push(rel.to_owned());
        }
        for dir in dirs {
            let to = dir.join(rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::write(&to, &f.4).unwrap();
        }
    }
    // wsgi.py and the sources above (pkg/__init__.py is in both).
    assert_eq!(rels.len(), SOURCES.len() + 1, "{rels:?}");
    assert!(
        stderr.contains(&format!(
            "4 of {} Python files in the app are not valid Python",
            rels.len()
        )),
        "{stderr}"
    );
    let mut child = Command::new(&python)
        .args(["-B", "-c", CHECKER])
        .arg(&ref_dir)
        .arg(&image_dir)
        .env("PYTHONHASHSEED", "0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    serde_json::to_writer(child.stdin.take().unwrap(), &rels).unwrap();
    let checked = child.wait_with_output().unwrap();
    assert!(checked.status.success(), "the checker failed");
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&checked.stdout).unwrap();
    assert_eq!(rows.len(), rels.len(), "{rows:?}");
    for row in &rows {
        let rel = row["rel"].as_str().unwrap();
        assert_eq!(row["py_compile"], row["image"], "{rel}: {row}");
        assert_eq!(
            row["image"].as_bool(),
            Some(!rel.contains("bad_")),
            "{rel}: {row}"
        );
        if row["image"] == true {
            for check in ["header", "code", "result", "loaded"] {
                assert_eq!(row[check], true, "{rel}: {check}: {row}");
            }
        }
    }
    assert!(
        pyc(&app, "app/plain.py", &version).is_some(),
        "the app layer: {:?}",
        app.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
}

/// A kept interpreter tree records the version its interpreter said (`ran`); a later build
/// on that tree, checked unchanged, trusts the record instead of starting the interpreter
/// once more to ask (the record is not rewritten), and still compiles. A record saying
/// another version is not trusted: the interpreter is asked, and the record corrected.
#[test]
fn the_version_the_kept_interpreter_said_is_recorded_and_trusted() {
    use std::os::unix::fs::MetadataExt;
    let (project, _, version) = project();
    let build = |out: &str| {
        let output = project
            .build_command(out, &project.wheels)
            .arg("--cache-dir")
            .arg(project.path("cache"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{stderr}");
        assert!(!stderr.contains("no bytecode"), "{stderr}");
        let [_, _, app] = project.added_layers(out);
        assert!(pyc(&app, "app/wsgi.py", &version).is_some(), "{stderr}");
    };
    build("one");
    let trees: Vec<PathBuf> = std::fs::read_dir(project.path("cache/interpreters"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(trees.len(), 1, "{trees:?}");
    let ran = trees[0].join("ran");
    assert_eq!(
        std::fs::read_to_string(&ran).unwrap(),
        format!("{version}\n")
    );
    let inode = std::fs::metadata(&ran).unwrap().ino();
    build("two");
    assert_eq!(
        std::fs::metadata(&ran).unwrap().ino(),
        inode,
        "record rewritten"
    );
    std::fs::write(&ran, "3.0\n").unwrap();
    build("three");
    assert_eq!(
        std::fs::read_to_string(&ran).unwrap(),
        format!("{version}\n")
    );
}
