//! The server stack as the app's own dependencies name it. fabuild pins gunicorn (and for
//! an ASGI app uvicorn, uvicorn-worker, click, h11, uvloop and httptools); an app's
//! dependency on one of them is installed as written when fabuild's version satisfies it,
//! reduced to its name (extras and marker kept, so fabuild's version is the one installed)
//! when it asks for another version and nothing else was resolved against it, and refused
//! when it is a line of a lock (hashed): the lock's other packages were resolved against
//! the app's version, and only relocking can say whether they accept fabuild's.

use super::requirements::Requirement;
use super::version::{Version, satisfies};
use crate::pins::Pin;

/// What becomes of one dependency of the app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not a server package, or one fabuild's version satisfies: installed as written.
    Keep,
    /// A server package at another version (or from a URL): installed as `relaxed`.
    Relax {
        package: &'static str,
        pinned: &'static str,
        /// What the app asked for (`gunicorn==22.0.0`).
        wanted: String,
        /// Name, extras and marker.
        relaxed: String,
    },
    /// A locked line at another version.
    Refuse {
        package: &'static str,
        pinned: &'static str,
        wanted: String,
    },
}

/// Judges one requirement line (comments removed) or PEP 508 string against `pins`.
pub fn judge(text: &str, pins: &[Pin]) -> Verdict {
    let Some(requirement) = Requirement::parse(text) else {
        return Verdict::Keep;
    };
    let key = requirement.key();
    let Some(pin) = pins.iter().find(|p| super::normalise(p.name) == key) else {
        return Verdict::Keep;
    };
    let pinned = Version::parse(pin.version).expect("pins.txt versions are PEP 440");
    let satisfied = !requirement.url && satisfies(&pinned, &requirement.specifier) == Some(true);
    if satisfied {
        return Verdict::Keep;
    }
    let wanted = if requirement.url {
        format!("{} @ {}", requirement.name, requirement.specifier)
    } else {
        format!("{}{}", requirement.name, requirement.specifier)
    };
    if requirement.hashed {
        return Verdict::Refuse {
            package: pin.name,
            pinned: pin.version,
            wanted,
        };
    }
    Verdict::Relax {
        package: pin.name,
        pinned: pin.version,
        wanted,
        relaxed: requirement.any_version(),
    }
}

/// The command that makes the exported lock `file` (whose text is `text`) pin `package`
/// at `version`, read from the header its generator wrote (`uv export`, `uv pip compile`,
/// `pip-compile`), or Poetry's when the project beside it is a Poetry project; `None` when
/// the generator is not known.
pub fn relock_command(
    file: &str,
    text: &str,
    package: &str,
    version: &str,
    poetry: bool,
) -> Option<String> {
    let wanted = format!("{package}=={version}");
    let recorded = text
        .lines()
        .take_while(|l| l.starts_with('#') || l.trim().is_empty())
        .filter_map(|l| l.strip_prefix('#'))
        .map(str::trim)
        .find(|l| {
            l.starts_with("uv export")
                || l.starts_with("uv pip compile")
                || l.starts_with("pip-compile")
        });
    let with_output = |command: &str| {
        let has_output = command
            .split_whitespace()
            .any(|w| w == "-o" || w.starts_with("--output-file"));
        if has_output {
            command.to_owned()
        } else {
            format!("{command} -o {file}")
        }
    };
    if let Some(command) = recorded {
        if command.starts_with("uv export") {
            return Some(format!(
                "uv lock --upgrade-package {wanted} && {}",
                with_output(command)
            ));
        }
        let (tool, args) = if let Some(args) = command.strip_prefix("uv pip compile") {
            ("uv pip compile", args)
        } else {
            ("pip-compile", command.trim_start_matches("pip-compile"))
        };
        return Some(with_output(&format!(
            "{tool} --upgrade-package {wanted}{args}"
        )));
    }
    poetry.then(|| {
        format!("poetry add {wanted} && poetry export --only main -f requirements.txt -o {file}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Interface;

    fn asgi() -> Vec<Pin> {
        crate::pins::for_interface(Interface::Asgi)
    }

    #[test]
    fn satisfied_or_foreign_lines_are_kept() {
        for text in [
            "flask==3.1.0",
            "gunicorn",
            "gunicorn>=20",
            "gunicorn==27.0.1 --hash=sha256:aa",
            "uvicorn[standard]>=0.30",
            "Click~=8.5",
            "-e .",
        ] {
            assert_eq!(judge(text, &asgi()), Verdict::Keep, "{text}");
        }
    }

    #[test]
    fn other_versions_are_relaxed_unless_locked() {
        assert_eq!(
            judge(
                "uvicorn[standard]==0.30.0 ; python_version >= '3.11'",
                &asgi()
            ),
            Verdict::Relax {
                package: "uvicorn",
                pinned: "0.54.0",
                wanted: "uvicorn==0.30.0".to_owned(),
                relaxed: "uvicorn[standard] ; python_version >= '3.11'".to_owned(),
            }
        );
        assert!(matches!(
            judge("gunicorn @ https://example.com/g.whl", &asgi()),
            Verdict::Relax { .. }
        ));
        assert_eq!(
            judge("click==8.1.7 --hash=sha256:aa", &asgi()),
            Verdict::Refuse {
                package: "click",
                pinned: "8.5.1",
                wanted: "click==8.1.7".to_owned()
            }
        );
        // A WSGI app gets gunicorn alone: click is the app's business.
        let wsgi = crate::pins::for_interface(Interface::Wsgi);
        assert_eq!(judge("click==8.1.7 --hash=sha256:aa", &wsgi), Verdict::Keep);
    }

    #[test]
    fn relock_commands_come_from_the_generators_header() {
        let uv = "# This file was autogenerated by uv via the following command:\n#    uv export --format requirements-txt --no-dev\nclick==8.1.7\n";
        assert_eq!(
            relock_command("requirements.txt", uv, "click", "8.5.1", false).as_deref(),
            Some(
                "uv lock --upgrade-package click==8.5.1 && uv export --format requirements-txt --no-dev -o requirements.txt"
            )
        );
        let pip_compile = "#\n# This file is autogenerated by pip-compile with Python 3.12\n# by the following command:\n#\n#    pip-compile --generate-hashes --output-file=req.txt req.in\n#\nclick==8.1.7\n";
        assert_eq!(
            relock_command("req.txt", pip_compile, "click", "8.5.1", false).as_deref(),
            Some(
                "pip-compile --upgrade-package click==8.5.1 --generate-hashes --output-file=req.txt req.in"
            )
        );
        assert_eq!(
            relock_command("requirements.txt", "click==8.1.7\n", "click", "8.5.1", true).as_deref(),
            Some(
                "poetry add click==8.5.1 && poetry export --only main -f requirements.txt -o requirements.txt"
            )
        );
        assert_eq!(
            relock_command(
                "requirements.txt",
                "click==8.1.7\n",
                "click",
                "8.5.1",
                false
            ),
            None
        );
    }
}
