//! PEP 440 versions and specifiers, as far as fabuild asks: does the version it pins
//! satisfy what the app's dependencies ask of that package?

use std::cmp::Ordering;

/// A PEP 440 version: epoch, release, pre-, post- and dev-release. A local label
/// (`+ubuntu1`) is read and kept out of comparisons, as a specifier without one does.
#[derive(Clone, Debug)]
pub struct Version {
    epoch: u64,
    release: Vec<u64>,
    /// `a`, `b` or `rc` (0, 1, 2) and its number.
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
}

impl Version {
    /// Reads a version in any spelling PEP 440 normalises (`1.0RC1`, `v2`, `1.0-1`,
    /// `1.0.post.2`); `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        let text =
            text.split_once('+').map_or(
                text.as_str(),
                |(public, local)| {
                    if local.is_empty() { "" } else { public }
                },
            );
        let mut rest = text.strip_prefix('v').unwrap_or(text);
        let epoch = match rest.split_once('!') {
            Some((e, r)) => {
                rest = r;
                e.parse().ok()?
            }
            None => 0,
        };
        let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let mut release = Vec::new();
        loop {
            let n = digits(rest);
            release.push(rest[..n].parse().ok()?);
            rest = &rest[n..];
            match rest.strip_prefix('.') {
                Some(r) if r.starts_with(|c: char| c.is_ascii_digit()) => rest = r,
                _ => break,
            }
        }
        // A number after an optional separator; absent means 0.
        let number = |s: &str| -> (u64, usize) {
            let t = separator(s);
            let n = digits(t);
            if n == 0 {
                (0, 0)
            } else {
                (t[..n].parse().unwrap_or(u64::MAX), s.len() - t.len() + n)
            }
        };
        let mut pre = None;
        let after = separator(rest);
        for (spelling, phase) in [
            ("alpha", 0),
            ("a", 0),
            ("beta", 1),
            ("b", 1),
            ("preview", 2),
            ("pre", 2),
            ("rc", 2),
            ("c", 2),
        ] {
            if let Some(r) = after.strip_prefix(spelling) {
                let (n, used) = number(r);
                pre = Some((phase, n));
                rest = &r[used..];
                break;
            }
        }
        let mut post = None;
        if let Some(r) = rest
            .strip_prefix('-')
            .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        {
            let n = digits(r);
            post = Some(r[..n].parse().ok()?);
            rest = &r[n..];
        } else {
            let after = separator(rest);
            for spelling in ["post", "rev", "r"] {
                if let Some(r) = after.strip_prefix(spelling) {
                    let (n, used) = number(r);
                    post = Some(n);
                    rest = &r[used..];
                    break;
                }
            }
        }
        let mut dev = None;
        if let Some(r) = separator(rest).strip_prefix("dev") {
            let (n, used) = number(r);
            dev = Some(n);
            rest = &r[used..];
        }
        rest.is_empty().then_some(Self {
            epoch,
            release,
            pre,
            post,
            dev,
        })
    }

    /// The release with trailing zeros dropped: `1.0` and `1` are the same release.
    fn trimmed(&self) -> &[u64] {
        let end = self
            .release
            .iter()
            .rposition(|n| *n != 0)
            .map_or(0, |i| i + 1);
        &self.release[..end]
    }

    /// PEP 440's order of the parts after the release: a dev release of a release comes
    /// before its pre-releases, which come before it, which comes before its post-releases.
    fn suffix_key(&self) -> (i8, u8, u64, i8, u64, i8, u64) {
        let (pre_class, phase, pre_n) = match (self.pre, self.post, self.dev) {
            (Some((phase, n)), _, _) => (0, phase, n),
            (None, None, Some(_)) => (-1, 0, 0),
            (None, _, _) => (1, 0, 0),
        };
        let (post_class, post_n) = self.post.map_or((-1, 0), |n| (0, n));
        let (dev_class, dev_n) = self.dev.map_or((1, 0), |n| (0, n));
        (
            pre_class, phase, pre_n, post_class, post_n, dev_class, dev_n,
        )
    }

    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| self.trimmed().cmp(other.trimmed()))
            .then_with(|| self.suffix_key().cmp(&other.suffix_key()))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

/// `text` without one leading separator (`.`, `-` or `_`).
fn separator(text: &str) -> &str {
    text.strip_prefix(['.', '-', '_']).unwrap_or(text)
}

/// Whether `version` satisfies every clause of `specifier` (`>=1.2,<2`, `==1.4.*`,
/// `~=2.0`); an empty specifier allows any version. `None` when a clause cannot be read:
/// the caller then cannot tell, and says so.
pub fn satisfies(version: &Version, specifier: &str) -> Option<bool> {
    let specifier = specifier.trim();
    if specifier.is_empty() {
        return Some(true);
    }
    let mut all = true;
    for clause in specifier.split(',') {
        all &= clause_holds(version, clause.trim())?;
    }
    Some(all)
}

fn clause_holds(version: &Version, clause: &str) -> Option<bool> {
    let op_end = clause.find(|c: char| !matches!(c, '<' | '>' | '=' | '!' | '~'))?;
    let (op, operand) = clause.split_at(op_end);
    let operand = operand.trim();
    if op == "===" {
        return Some(false);
    }
    if let Some(prefix) = operand.strip_suffix(".*") {
        let prefix = Version::parse(prefix)?;
        let matches = version.epoch == prefix.epoch
            && prefix
                .release
                .iter()
                .enumerate()
                .all(|(i, n)| version.release.get(i).copied().unwrap_or(0) == *n);
        return match op {
            "==" => Some(matches),
            "!=" => Some(!matches),
            _ => None,
        };
    }
    let bound = Version::parse(operand)?;
    Some(match op {
        "==" => *version == bound,
        "!=" => *version != bound,
        ">=" => *version >= bound,
        "<=" => *version <= bound,
        // `>1.7` does not admit 1.7.post1, and `<1.7` does not admit 1.7rc1 (PEP 440).
        ">" => {
            *version > bound
                && !(bound.post.is_none()
                    && version.post.is_some()
                    && version.trimmed() == bound.trimmed())
        }
        "<" => {
            *version < bound
                && !(!bound.is_prerelease()
                    && version.is_prerelease()
                    && version.trimmed() == bound.trimmed())
        }
        "~=" => {
            if bound.release.len() < 2 {
                return None;
            }
            let prefix = &bound.release[..bound.release.len() - 1];
            *version >= bound
                && version.epoch == bound.epoch
                && prefix
                    .iter()
                    .enumerate()
                    .all(|(i, n)| version.release.get(i).copied().unwrap_or(0) == *n)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap_or_else(|| panic!("{text} is a version"))
    }

    #[test]
    fn pep_440_order() {
        let ordered = [
            "1.0.dev0",
            "1.0a1",
            "1.0a2.dev1",
            "1.0a2",
            "1.0b1",
            "1.0rc1",
            "1.0",
            "1.0.post1.dev0",
            "1.0.post1",
            "1.1",
            "2!0.1",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1.0"), v("1.0.0"));
        assert_eq!(v("1.0RC1"), v("1.0rc1"));
        assert_eq!(v("1.0-1"), v("1.0.post1"));
        assert_eq!(v("v1.0.alpha.2"), v("1.0a2"));
        for bad in ["", "x", "1..2", "1.0-", "1.0 2", "1.0.foo"] {
            assert!(Version::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn specifiers() {
        let pinned = v("27.0.1");
        for (spec, expect) in [
            ("", true),
            ("==27.0.1", true),
            ("==27.0.1.0", true),
            ("==22.0.0", false),
            (">=20", true),
            (">=20,<23", false),
            ("<28", true),
            ("~=27.0", true),
            ("~=27.1", false),
            ("==27.*", true),
            ("!=27.*", false),
            ("== 27.0.1", true),
            (">27.0.1", false),
            ("<=27.0.1", true),
        ] {
            assert_eq!(satisfies(&pinned, spec), Some(expect), "{spec}");
        }
        assert_eq!(satisfies(&v("1.7.post1"), ">1.7"), Some(false));
        assert_eq!(satisfies(&v("1.7rc1"), "<1.7"), Some(false));
        assert_eq!(satisfies(&pinned, "~=27"), None);
        assert_eq!(satisfies(&pinned, "=>27"), None);
    }
}
