//! Dependencies `PyPI` has no Linux wheel for, and the Debian packages that build and run
//! them: written as `python.build_packages` and `python.system_packages`.

/// A distribution published for Linux only as an sdist, and what pip needs to build it on
/// a `python:X.Y-slim` base (Debian, Python's headers already in /usr/local) and what it
/// loads at run time. The names are the same in Debian 12 and 13, the releases those bases
/// are on.
struct Needs {
    /// PEP 503 normalised.
    name: &'static str,
    build: &'static [&'static str],
    run: &'static [&'static str],
}

const KNOWN: &[Needs] = &[
    // Not psycopg2-binary (wheels, libpq bundled), nor psycopg (pure Python, or the
    // [binary] extra).
    Needs {
        name: "psycopg2",
        build: &["gcc", "libpq-dev"],
        run: &["libpq5"],
    },
    // Its setup.py asks pkg-config for mysqlclient or mariadb.
    Needs {
        name: "mysqlclient",
        build: &["gcc", "pkg-config", "default-libmysqlclient-dev"],
        run: &["libmariadb3"],
    },
];

/// The Debian packages the project's dependencies need, with the distributions that need
/// them, for app.yaml's python section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AptKeys {
    /// The dependencies that asked for them, in the order of [`KNOWN`].
    pub because: Vec<&'static str>,
    pub build: Vec<&'static str>,
    pub run: Vec<&'static str>,
}

/// `None` when no dependency is known to need a system package.
pub fn for_dependencies(names: &[String]) -> Option<AptKeys> {
    let mut keys = AptKeys {
        because: Vec::new(),
        build: Vec::new(),
        run: Vec::new(),
    };
    for needs in KNOWN.iter().filter(|n| names.iter().any(|d| d == n.name)) {
        keys.because.push(needs.name);
        for (list, add) in [(&mut keys.build, needs.build), (&mut keys.run, needs.run)] {
            for package in add {
                if !list.contains(package) {
                    list.push(package);
                }
            }
        }
    }
    (!keys.because.is_empty()).then_some(keys)
}

impl AptKeys {
    /// What init reports having decided.
    pub fn note(&self) -> super::Note {
        super::Note {
            what: "apt",
            value: format!(
                "build {}; run {}",
                self.build.join(", "),
                self.run.join(", ")
            ),
            why: format!("no Linux wheel on PyPI for {}", self.because.join(" and ")),
        }
    }

    /// The two keys, indented for the python section, each with why.
    pub fn render(&self, out: &mut String) {
        out.push_str(&format!(
            "  # no Linux wheel on PyPI for {}: pip builds from source with these, in a stage\n  # the image does not keep (on a base with Debian's own python3, add python3-dev)\n",
            self.because.join(" and "),
        ));
        out.push_str(&format!("  build_packages: [{}]\n", self.build.join(", ")));
        out.push_str("  # the libraries they load at run time, installed in the image\n");
        out.push_str(&format!("  system_packages: [{}]\n", self.run.join(", ")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sdist_only_distributions() {
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            for_dependencies(&names(&["flask", "psycopg2-binary", "psycopg"])),
            None
        );
        let keys = for_dependencies(&names(&["mysqlclient", "psycopg2"])).unwrap();
        assert_eq!(keys.because, ["psycopg2", "mysqlclient"]);
        assert_eq!(
            keys.build,
            [
                "gcc",
                "libpq-dev",
                "pkg-config",
                "default-libmysqlclient-dev"
            ]
        );
        assert_eq!(keys.run, ["libpq5", "libmariadb3"]);
    }
}
