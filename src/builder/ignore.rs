//! `.dockerignore` as the Docker engines read it: one pattern a line, `#` comments, `!` to
//! re-include, `**` for any number of directories, `*`, `?` and `[...]` within one
//! component; the last matching pattern wins, and a pattern that matches a directory
//! matches everything under it.

pub struct Ignore {
    patterns: Vec<Pattern>,
}

struct Pattern {
    parts: Vec<String>,
    include: bool,
}

impl Ignore {
    pub fn parse(text: &str) -> Self {
        let mut patterns = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (include, body) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let parts: Vec<String> = body
                .split('/')
                .filter(|p| !p.is_empty() && *p != ".")
                .map(str::to_owned)
                .collect();
            if !parts.is_empty() {
                patterns.push(Pattern { parts, include });
            }
        }
        Self { patterns }
    }

    /// Whether everything under the excluded directory `path` stays out: no `!` pattern
    /// could bring any of it back.
    pub fn excluded_for_good(&self, path: &str) -> bool {
        self.excluded(path) && self.patterns.iter().all(|p| !p.include)
    }

    /// Whether `path` (relative, `/`-separated) is left out of the context.
    pub fn excluded(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        let mut excluded = false;
        for pattern in &self.patterns {
            // The path itself or any directory above it.
            let hit = (1..=parts.len()).any(|n| matches(&pattern.parts, &parts[..n]));
            if hit {
                excluded = !pattern.include;
            }
        }
        excluded
    }
}

fn matches(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| matches(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((head, tail)) => {
                component(first.as_bytes(), head.as_bytes()) && matches(rest, tail)
            }
            None => false,
        },
    }
}

/// One component against one glob component: `*`, `?`, `[...]` (`!` or `^` negates).
fn component(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skip| component(rest, &name[skip..])),
        Some((b'?', rest)) => !name.is_empty() && component(rest, &name[1..]),
        Some((b'[', rest)) => {
            let Some(close) = rest.iter().skip(1).position(|b| *b == b']').map(|p| p + 1) else {
                return name.first() == Some(&b'[') && component(rest, &name[1..]);
            };
            let Some((&c, tail)) = name.split_first() else {
                return false;
            };
            let (negated, set) = match rest[..close].split_first() {
                Some((b'!' | b'^', set)) => (true, set),
                _ => (false, &rest[..close]),
            };
            let mut found = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == b'-' {
                    found |= (set[i]..=set[i + 2]).contains(&c);
                    i += 3;
                } else {
                    found |= set[i] == c;
                    i += 1;
                }
            }
            found != negated && component(&rest[close + 1..], tail)
        }
        Some((b'\\', rest)) if !rest.is_empty() => {
            name.first() == Some(&rest[0]) && component(&rest[1..], &name[1..])
        }
        Some((&c, rest)) => name.first() == Some(&c) && component(rest, &name[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fabuilds_own_dockerignore() {
        let ignore = Ignore::parse(
            "# c\n**/*.pem\n.git\n**/__pycache__\n**/*.py[cod]\n**/.env\n**/.env.*\n",
        );
        assert!(ignore.excluded("certs/abc-key.pem"));
        assert!(ignore.excluded("abc-key.pem"));
        assert!(ignore.excluded(".git"));
        assert!(ignore.excluded(".git/objects/ab"));
        assert!(ignore.excluded("pkg/__pycache__/x.cpython-311.pyc"));
        assert!(ignore.excluded("x.pyc"));
        assert!(ignore.excluded("sub/.env.local"));
        assert!(!ignore.excluded("main.py"));
        assert!(!ignore.excluded("sub/.envrc"));
        assert!(!ignore.excluded("sub/.git"));
    }

    #[test]
    fn the_last_match_wins() {
        let ignore = Ignore::parse("docs\n!docs/keep.md\n*.md\n!README.md\n");
        assert!(ignore.excluded("docs/a.txt"));
        assert!(!ignore.excluded("docs/keep.md"));
        assert!(ignore.excluded("NOTES.md"));
        assert!(!ignore.excluded("README.md"));
        assert!(!ignore.excluded("sub/NOTES.md"));
    }
}
