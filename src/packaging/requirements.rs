//! Requirements files as pip and uv read them: logical lines (a `\` at the end joins the
//! next), comments, `-r`/`-c` includes followed inside the project, and the parts of one
//! requirement (name, extras, version specifier or URL, marker, per-line options).

use std::path::{Component, Path, PathBuf};

use super::{is_name_char, normalise};

/// One requirement as written: `name[extras] specifier ; marker --option...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// As written.
    pub name: String,
    pub extras: Vec<String>,
    /// `>=1.2,<2` (empty for any version), or the URL after `@`.
    pub specifier: String,
    pub url: bool,
    pub marker: Option<String>,
    /// `--hash=...` given: the line comes from a lock (pip-compile, `uv export`, `poetry
    /// export`) whose other lines were resolved together with it.
    pub hashed: bool,
}

impl Requirement {
    /// Reads a requirement line (comments already removed) or a PEP 508 string; `None` for
    /// an option line, a path or a bare URL.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        // Per-line options (`--hash=...`) follow the requirement after white space.
        let (head, options) = match text.find(" --").or_else(|| text.find("\t--")) {
            Some(at) => (text[..at].trim(), &text[at..]),
            None => (text, ""),
        };
        let end = head.find(|c: char| !is_name_char(c)).unwrap_or(head.len());
        let name = &head[..end];
        if !super::is_name(name) {
            return None;
        }
        let mut rest = head[end..].trim_start();
        if rest.starts_with(':') {
            return None; // `https://...`: a URL, not a name
        }
        let mut extras = Vec::new();
        if let Some(r) = rest.strip_prefix('[') {
            let (inside, after) = r.split_once(']')?;
            extras = inside
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .collect();
            rest = after.trim_start();
        }
        let (body, marker) = match rest.split_once(';') {
            Some((b, m)) => (b.trim(), Some(m.trim().to_owned())),
            None => (rest.trim(), None),
        };
        let (specifier, url) = match body.strip_prefix('@') {
            Some(url) => (url.trim().to_owned(), true),
            None => (
                body.trim_start_matches('(')
                    .trim_end_matches(')')
                    .split_whitespace()
                    .collect::<String>(),
                false,
            ),
        };
        Some(Self {
            name: name.to_owned(),
            extras,
            specifier,
            url,
            marker,
            hashed: options.contains("--hash"),
        })
    }

    /// The PEP 503 name.
    pub fn key(&self) -> String {
        normalise(&self.name)
    }

    /// The same requirement with any version: name, extras and marker.
    pub fn any_version(&self) -> String {
        let mut out = self.name.clone();
        if !self.extras.is_empty() {
            out.push_str(&format!("[{}]", self.extras.join(",")));
        }
        if let Some(marker) = &self.marker {
            out.push_str(&format!(" ; {marker}"));
        }
        out
    }
}

/// What a requirements line asks pip to install from the build machine's own files:
/// an editable install (`-e ./lib`), a path (`./lib`, `/wheels/x.whl`), a `file:` URL
/// (`name @ file:///...`) or a local `--find-links` directory. The image build copies
/// only the requirements files into the build, never what they point at, so such a line
/// fails there however well it works on a laptop. `None` for every other line.
pub fn local_source(text: &str) -> Option<&str> {
    let text = text.trim();
    for (short, long) in [("-e", "--editable"), ("-f", "--find-links")] {
        if let Some(target) = option_value(text, short, long) {
            // A VCS or web URL is fetched, not read from the build machine.
            return (!target.contains("://") || target.starts_with("file:")).then_some(target);
        }
    }
    if text.starts_with(['.', '/', '~']) || text.starts_with("file:") {
        return Some(text.split_whitespace().next().unwrap_or(text));
    }
    let requirement = Requirement::parse(text)?;
    (requirement.url && requirement.specifier.starts_with("file:"))
        .then(|| text.split_once('@').map_or(text, |(_, url)| url.trim()))
}

/// A logical line of a requirements file, comments removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The file, relative to the project, `/`-separated.
    pub file: String,
    /// The line it starts on, from 1.
    pub number: usize,
    pub text: String,
    /// Read from a file included with `-c`: a constraint, not a requirement.
    pub constraint: bool,
}

/// A requirements file with what it includes, in pip's reading order.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    /// Every line but the includes, which are replaced by the lines of the files they name.
    pub lines: Vec<Line>,
    /// Each file read (relative to the project) and its text.
    pub files: Vec<(String, String)>,
}

/// At most this many files in one tree: a deeper or wider one is refused, not read.
const MAX_FILES: usize = 64;

/// Reads `file` (relative to `root`) and the files it includes, each inside the project
/// and at most `MAX_TEXT_BYTES`. A file included twice is read once, as pip would read
/// it once more to no effect. The error is a sentence for a message.
pub fn read_tree(root: &Path, file: &str) -> Result<Tree, String> {
    let mut tree = Tree::default();
    read_into(root, file, false, None, &mut tree)?;
    Ok(tree)
}

fn read_into(
    root: &Path,
    file: &str,
    constraint: bool,
    from: Option<&Line>,
    tree: &mut Tree,
) -> Result<(), String> {
    if tree.files.iter().any(|(f, _)| f == file) {
        return Ok(());
    }
    let included_by = || {
        from.map_or_else(String::new, |l| {
            format!(" (included by {}:{})", l.file, l.number)
        })
    };
    if tree.files.len() >= MAX_FILES {
        return Err(format!(
            "includes more than {MAX_FILES} requirements files{}",
            included_by()
        ));
    }
    let text = crate::read::project_text(root, &root.join(file), crate::read::MAX_TEXT_BYTES)
        .map_err(|e| format!("`{file}`{} cannot be read: {e}", included_by()))?
        .ok_or_else(|| format!("`{file}`{} does not exist", included_by()))?;
    tree.files.push((file.to_owned(), text.clone()));
    for line in logical_lines(&text) {
        let line = Line {
            file: file.to_owned(),
            number: line.0,
            text: line.1,
            constraint,
        };
        match include(&line.text) {
            Some((target, is_constraint)) => {
                let path = beside(file, target).ok_or_else(|| {
                    format!(
                        "{}:{} includes `{target}`, which is outside the project",
                        line.file, line.number
                    )
                })?;
                read_into(root, &path, constraint || is_constraint, Some(&line), tree)?;
            }
            None => tree.lines.push(line),
        }
    }
    Ok(())
}

/// `(line number, text)` of each logical line that is not empty once comments go.
pub fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = strip_comment(raw);
        let (body, continued) = match line.strip_suffix('\\') {
            Some(b) => (b, true),
            None => (line, false),
        };
        let entry = current.get_or_insert_with(|| (i + 1, String::new()));
        entry.1.push_str(body);
        entry.1.push(' ');
        if !continued {
            let (number, text) = current.take().unwrap_or_default();
            let text = text.trim().to_owned();
            if !text.is_empty() {
                out.push((number, text));
            }
        }
    }
    if let Some((number, text)) = current {
        let text = text.trim().to_owned();
        if !text.is_empty() {
            out.push((number, text));
        }
    }
    out
}

/// A line without its comment: `#` at the start or after white space.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

/// `-r FILE` / `--requirement FILE` (a requirement include) or `-c FILE` / `--constraint
/// FILE` (a constraint include).
fn include(text: &str) -> Option<(&str, bool)> {
    for (short, long, constraint) in [("-r", "--requirement", false), ("-c", "--constraint", true)]
    {
        if let Some(target) = option_value(text, short, long) {
            return Some((target, constraint));
        }
    }
    None
}

/// The value of a pip option line as pip reads it: `--long VALUE`, `--long=VALUE`,
/// `-s VALUE`, `-s=VALUE` or `-sVALUE`; `None` when the line is another option or names
/// no value.
fn option_value<'a>(text: &'a str, short: &str, long: &str) -> Option<&'a str> {
    for prefix in [long, short] {
        if let Some(rest) = text.strip_prefix(prefix) {
            let value = rest.strip_prefix('=').unwrap_or(rest).trim();
            if !value.is_empty() && (rest.starts_with([' ', '\t', '=']) || prefix == short) {
                return Some(value);
            }
        }
    }
    None
}

/// `target` as an include of `file` names it: relative to `file`'s directory, as a path
/// relative to the project; `None` when it leaves the project or is a URL.
fn beside(file: &str, target: &str) -> Option<String> {
    if target.contains("://") || Path::new(target).is_absolute() {
        return None;
    }
    let mut parts: Vec<String> = Path::new(file)
        .parent()
        .map(|p| p.iter().map(|s| s.to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    for component in PathBuf::from(target).components() {
        match component {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_sources_are_told_from_what_pip_fetches() {
        for (line, local) in [
            ("-e ./lib", Some("./lib")),
            ("--editable=../shared", Some("../shared")),
            ("-e git+https://example.com/repo.git#egg=x", None),
            (
                "./dist/app-1.0-py3-none-any.whl",
                Some("./dist/app-1.0-py3-none-any.whl"),
            ),
            ("/wheels/x.whl --hash=sha256:00", Some("/wheels/x.whl")),
            ("lib @ file:///src/lib", Some("file:///src/lib")),
            ("-f ./wheels", Some("./wheels")),
            ("--find-links https://example.com/wheels", None),
            ("foo @ https://example.com/foo-1.0.tar.gz", None),
            ("flask==3.0.0", None),
            ("--index-url https://example.com/simple", None),
            ("-efoo", Some("foo")),
        ] {
            assert_eq!(local_source(line), local, "{line}");
        }
    }

    #[test]
    fn requirement_parts() {
        let r = Requirement::parse(
            "Gunicorn[gevent] >= 22 , <23 ; python_version >= '3.11' --hash=sha256:aa",
        )
        .unwrap();
        assert_eq!(r.name, "Gunicorn");
        assert_eq!(r.key(), "gunicorn");
        assert_eq!(r.extras, ["gevent"]);
        assert_eq!(r.specifier, ">=22,<23");
        assert_eq!(r.marker.as_deref(), Some("python_version >= '3.11'"));
        assert!(r.hashed && !r.url);
        assert_eq!(
            r.any_version(),
            "Gunicorn[gevent] ; python_version >= '3.11'"
        );
        let r = Requirement::parse("uvicorn @ https://example.com/uvicorn.whl").unwrap();
        assert!(r.url);
        assert_eq!(
            Requirement::parse("click (==8.1.7)").unwrap().specifier,
            "==8.1.7"
        );
        for not_one in [
            "-e .",
            "./pkg",
            "https://example.com/x.whl",
            "--index-url x",
            "[x]",
        ] {
            assert_eq!(Requirement::parse(not_one), None, "{not_one}");
        }
    }

    #[test]
    fn logical_lines_join_continuations_and_drop_comments() {
        let text = "# header\nflask==3.1 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n\nurl#frag==1 # note\n";
        assert_eq!(
            logical_lines(text),
            [
                (
                    2,
                    "flask==3.1      --hash=sha256:aa      --hash=sha256:bb".to_owned()
                ),
                (6, "url#frag==1".to_owned())
            ]
        );
    }

    #[test]
    fn includes_resolve_beside_their_file_and_stay_in_the_project() {
        assert_eq!(include("-r base.txt"), Some(("base.txt", false)));
        assert_eq!(include("-rbase.txt"), Some(("base.txt", false)));
        assert_eq!(include("--constraint=c.txt"), Some(("c.txt", true)));
        assert_eq!(include("--requirements x"), None);
        assert_eq!(
            beside("req/prod.txt", "../base.txt").as_deref(),
            Some("base.txt")
        );
        assert_eq!(
            beside("req/prod.txt", "./common/b.txt").as_deref(),
            Some("req/common/b.txt")
        );
        assert_eq!(beside("prod.txt", "../x.txt"), None);
        assert_eq!(beside("prod.txt", "/etc/passwd"), None);
    }

    #[test]
    fn a_tree_reads_includes_once_and_refuses_what_leaves_the_project() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("req")).unwrap();
        std::fs::write(
            root.join("requirements.txt"),
            "-r req/base.txt\n-c req/c.txt\nflask\n-r requirements.txt\n",
        )
        .unwrap();
        std::fs::write(root.join("req/base.txt"), "gunicorn==22.0.0\n").unwrap();
        std::fs::write(root.join("req/c.txt"), "click==8.1.7\n").unwrap();
        let tree = read_tree(root, "requirements.txt").unwrap();
        let lines: Vec<(&str, usize, &str, bool)> = tree
            .lines
            .iter()
            .map(|l| (l.file.as_str(), l.number, l.text.as_str(), l.constraint))
            .collect();
        assert_eq!(
            lines,
            [
                ("req/base.txt", 1, "gunicorn==22.0.0", false),
                ("req/c.txt", 1, "click==8.1.7", true),
                ("requirements.txt", 3, "flask", false),
            ]
        );
        std::fs::write(root.join("requirements.txt"), "-r ../outside.txt\n").unwrap();
        let err = read_tree(root, "requirements.txt").unwrap_err();
        assert!(
            err.contains("requirements.txt:1 includes `../outside.txt`"),
            "{err}"
        );
        std::fs::write(root.join("requirements.txt"), "-r missing.txt\n").unwrap();
        let err = read_tree(root, "requirements.txt").unwrap_err();
        assert!(
            err.contains("`missing.txt` (included by requirements.txt:1) does not exist"),
            "{err}"
        );
    }
}
