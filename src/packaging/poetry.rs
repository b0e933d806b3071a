//! Poetry's version constraints, read as poetry-core 2.5's `parse_constraint` reads them,
//! written as the PEP 440 specifier that admits the same versions.
//!
//! The grammar is poetry-core's: `||` (or `|`) between alternatives, a comma or a space
//! between the parts of one alternative, and each part one of `*` (or `x`, `*.*`), `~V`,
//! `~=V`, `^V`, a wildcard (`1.2.*`, `!=1.*`), or a comparison (`>=V`, `<V`, `==V`, `=V`,
//! `!=V`, a bare `V`), where V is any PEP 440 version (epoch, pre-, post-, dev-release,
//! local label, a leading `v`). Each part becomes PEP 440 clauses with the same meaning, and
//! the parts of an alternative are joined by commas (an intersection either way).
//!
//! PEP 440 has no "or", so `||` is translated only when the alternatives together form one
//! range (see [`union`]); otherwise the constraint is refused, naming it, because the
//! requirement lines of one package can only be alternatives through disjoint markers,
//! which a version union does not have.

use std::cmp::Ordering;
use std::fmt;

use super::version::Version as Pep440;

/// Why a constraint has no translation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConstraintError {
    /// poetry-core refuses it too.
    Invalid(String),
    /// poetry-core reads it, but no PEP 440 specifier admits the same versions.
    Inexpressible(String),
}

impl fmt::Display for ConstraintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(why) | Self::Inexpressible(why) => f.write_str(why),
        }
    }
}

/// The PEP 440 specifier (`>=1.2,<2`; "" for any version) that admits exactly the versions
/// poetry-core's `parse_constraint(text)` allows.
pub fn to_pep440(text: &str) -> Result<String, ConstraintError> {
    if text == "*" {
        return Ok(String::new());
    }
    let mut alternatives = Vec::new();
    // A part PEP 440 cannot write is reported after every part is read: when poetry-core
    // refuses another part, that is the answer.
    let mut inexpressible = None;
    for alternative in split_alternatives(text.trim()) {
        // poetry-core tolerates trailing commas ("it seems to occur in some packages").
        let alternative = alternative.trim_end_matches(',').trim_end();
        let mut parts = Vec::new();
        for part in split_parts(alternative) {
            match part_of(part) {
                Ok(p) => parts.push(p),
                Err(e @ ConstraintError::Invalid(_)) => return Err(e),
                Err(e) => inexpressible = inexpressible.or(Some(e)),
            }
        }
        alternatives.push(parts);
    }
    if let Some(e) = inexpressible {
        return Err(e);
    }
    if alternatives.len() == 1 {
        let clauses: Vec<String> = alternatives[0].iter().flat_map(Part::clauses).collect();
        return Ok(clauses.join(","));
    }
    union(text, &alternatives)
}

/// A Poetry `python = "..."` condition as a PEP 508 marker on `python_full_version`
/// ("" for any Python). Markers have `or`, so every alternative is kept as written.
pub fn python_marker(text: &str) -> Result<String, ConstraintError> {
    if text == "*" {
        return Ok(String::new());
    }
    let mut alternatives = Vec::new();
    for alternative in split_alternatives(text.trim()) {
        let alternative = alternative.trim_end_matches(',').trim_end();
        let mut clauses = Vec::new();
        for part in split_parts(alternative) {
            clauses.extend(part_of(part)?.clauses());
        }
        if clauses.iter().any(|c| c.contains('+')) {
            return Err(ConstraintError::Inexpressible(format!(
                "`{alternative}` names a local version of Python"
            )));
        }
        if clauses.is_empty() {
            return Ok(String::new());
        }
        let marker: Vec<String> = clauses
            .iter()
            .map(|clause| {
                let at = clause
                    .find(|c: char| c.is_ascii_alphanumeric())
                    .unwrap_or(0);
                format!(
                    "python_full_version {} \"{}\"",
                    &clause[..at],
                    &clause[at..]
                )
            })
            .collect();
        alternatives.push(marker.join(" and "));
    }
    Ok(if alternatives.len() == 1 {
        alternatives.remove(0)
    } else {
        alternatives
            .iter()
            .map(|a| format!("({a})"))
            .collect::<Vec<_>>()
            .join(" or ")
    })
}

/// `\s*\|\|?\s*` in poetry-core: one or two bars, with the white space around them.
fn split_alternatives(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('|') {
        pieces.push(rest[..at].trim_end());
        let after = &rest[at + 1..];
        rest = after.strip_prefix('|').unwrap_or(after).trim_start();
    }
    pieces.push(rest);
    pieces
}

/// The parts of one alternative, split where poetry-core's regular expression
/// `(?<!^)(?<![\^~=>< ,]) *(?<!-)[, ](?!-) *(?!,|$)` matches: a comma or a space, with
/// spaces around it, not right after an operator (`>= 1.2` is one part), not next to a `-`,
/// not before the end or another comma.
fn split_parts(text: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|(_, c)| *c);
    let byte = |i: usize| chars.get(i).map_or(text.len(), |(b, _)| *b);
    let spaces_from = |i: usize| (i..chars.len()).take_while(|j| at(*j) == Some(' ')).count();
    // Where a separator match starting at `i` ends, trying the longest spaces first, as
    // the regular expression's greedy ` *` does.
    let match_at = |i: usize| -> Option<usize> {
        if i == 0 || matches!(at(i - 1), Some('^' | '~' | '=' | '>' | '<' | ' ' | ',')) {
            return None;
        }
        for lead in (0..=spaces_from(i)).rev() {
            let sep = i + lead;
            if !matches!(at(sep), Some(',' | ' ')) || at(sep - 1) == Some('-') {
                continue;
            }
            if at(sep + 1) == Some('-') {
                continue;
            }
            for trail in (0..=spaces_from(sep + 1)).rev() {
                let end = sep + 1 + trail;
                if !matches!(at(end), None | Some(',')) {
                    return Some(end);
                }
            }
        }
        None
    };
    let mut parts = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < chars.len() {
        if let Some(end) = match_at(i) {
            parts.push(&text[byte(start)..byte(i)]);
            start = end;
            i = end;
        } else {
            i += 1;
        }
    }
    parts.push(&text[byte(start)..]);
    parts
}

/// One part of a constraint, as a set of versions.
#[derive(Clone, Debug)]
enum Part {
    Any,
    /// Versions between the bounds (a missing bound is unbounded).
    Range {
        low: Option<Bound>,
        high: Option<Bound>,
    },
    /// Exactly this version (and its local variants when it has no label itself).
    Exact(Version),
    /// A release prefix, `==1.2.*`: the range from the prefix's first dev-release to the
    /// next prefix's, written as PEP 440 writes it.
    Prefix {
        clause: String,
        low: Bound,
        high: Bound,
    },
    /// Everything but something: `!=V`, `!=1.2.*`. Not a range.
    Except(String),
}

#[derive(Clone, Debug)]
struct Bound {
    version: Version,
    inclusive: bool,
}

impl Part {
    fn clauses(&self) -> Vec<String> {
        match self {
            Self::Any => Vec::new(),
            Self::Range { low, high } => {
                let mut out = Vec::new();
                if let Some(low) = low {
                    let op = if low.inclusive { ">=" } else { ">" };
                    out.push(format!("{op}{}", low.version));
                }
                if let Some(high) = high {
                    out.push(high_clause(high));
                }
                out
            }
            Self::Exact(v) => vec![format!("=={v}")],
            Self::Prefix { clause, .. } | Self::Except(clause) => vec![clause.clone()],
        }
    }
}

/// An upper bound as PEP 440 writes it. poetry-core keeps `<2.0` as `<2.0.dev0` (nothing of
/// 2.0, not even its pre-releases), which is what PEP 440's `<2.0` means for a final release;
/// any other exclusive bound is a pre- or dev-release, where `<` is plain ordering for
/// every PEP 440 implementation.
fn high_clause(high: &Bound) -> String {
    let v = &high.version;
    if high.inclusive {
        return format!("<={v}");
    }
    if v.dev == Some(0) && v.pre.is_none() && v.post.is_none() {
        let mut release = v.clone();
        release.dev = None;
        return format!("<{release}");
    }
    format!("<{v}")
}

fn invalid(part: &str) -> ConstraintError {
    ConstraintError::Invalid(format!("`{part}` is not a version constraint Poetry reads"))
}

fn local_bound(part: &str) -> ConstraintError {
    ConstraintError::Inexpressible(format!(
        "`{part}` bounds a range with a local version label (`+...`), which PEP 440 allows only with `==` and `!=`"
    ))
}

/// One part, read in poetry-core's order of patterns.
fn part_of(part: &str) -> Result<Part, ConstraintError> {
    let version = |text: &str| {
        let v = Version::parse(text).ok_or_else(|| invalid(part))?;
        // poetry-core 2.5 keeps an upper-case label as written and then orders it apart
        // from the lower-case one: its `==1.0RC1` does not allow 1.0rc1. PEP 440 ignores
        // case, so no specifier means what poetry-core does with it.
        let label = text.strip_prefix(['v', 'V']).unwrap_or(text);
        if label.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ConstraintError::Inexpressible(format!(
                "`{part}` writes a version label in upper case, which poetry-core reads apart from the same label in lower case; write it in lower case"
            )));
        }
        Ok(v)
    };
    if is_any(part) {
        return Ok(Part::Any);
    }
    if let Some(rest) = part.strip_prefix('~').filter(|r| !r.starts_with('=')) {
        let v = version(rest.trim_start())?;
        let stable = v.stable();
        let high = if v.release.len() == 1 {
            stable.next_major()
        } else {
            stable.next_minor()
        };
        return range_from(part, v, &high);
    }
    if let Some(rest) = part.strip_prefix("~=") {
        let v = version(rest.trim_start())?;
        let stable = v.stable();
        let high = if stable.release.len() < 2 {
            stable.next_major()
        } else {
            let mut release = stable.release.clone();
            let n = release.len();
            release[n - 2] += 1;
            release[n - 1] = 0;
            Version::final_release(stable.epoch, release)
        };
        return range_from(part, v, &high);
    }
    if let Some(rest) = part.strip_prefix('^') {
        let v = version(rest.trim_start())?;
        let high = v.next_breaking();
        return range_from(part, v, &high);
    }
    if let Some((op, prefix)) = short_wildcard(part) {
        return wildcard(part, op == "!=", &version(prefix)?);
    }
    let (op, rest) = split_operator(part);
    let rest = rest.trim_start();
    let (text, starred) = match rest.strip_suffix(".*") {
        Some(t) => (t, true),
        None => (rest, false),
    };
    // poetry-core 2.5 refuses a wildcard after a label without its number (`1.0rc.*`).
    if starred
        && text != "dev"
        && !text.contains('+')
        && text.ends_with(|c: char| c.is_ascii_alphabetic())
    {
        return Err(invalid(part));
    }
    let v = if text == "dev" {
        Version::parse("0.0-dev").ok_or_else(|| invalid(part))?
    } else {
        version(text)?
    };
    comparison(part, op, v, starred)
}

/// A comparison (`<V`, `>=V`, `==V`, `!=V`, `V`), or a wildcard after one.
fn comparison(part: &str, op: &str, v: Version, starred: bool) -> Result<Part, ConstraintError> {
    match op {
        "<" => {
            if v.local.is_some() && v.is_unstable() {
                return Err(local_bound(part));
            }
            Ok(Part::Range {
                low: None,
                high: Some(Bound {
                    version: v.canonical_max(),
                    inclusive: false,
                }),
            })
        }
        "<=" | ">" | ">=" => {
            if v.local.is_some() {
                return Err(local_bound(part));
            }
            let bound = Some(Bound {
                version: v,
                inclusive: op != ">",
            });
            Ok(if op == "<=" {
                Part::Range {
                    low: None,
                    high: bound,
                }
            } else {
                Part::Range {
                    low: bound,
                    high: None,
                }
            })
        }
        // poetry-core 2.5 reads the old `<>` as `==` (no branch of its parser handles
        // it), which no one writing "not equal" means: refused rather than translated.
        "<>" => Err(ConstraintError::Inexpressible(format!(
            "`{part}` uses `<>`, which Poetry reads as `==`; write `!=` for \"not equal\" or `==` for \"equal\""
        ))),
        _ if starred => wildcard(part, op == "!=", &v),
        "!=" => Ok(Part::Except(format!("!={v}"))),
        _ => Ok(Part::Exact(v)),
    }
}

/// `(?i)^v?[x*](\.[x*])*$`: any version.
fn is_any(part: &str) -> bool {
    let rest = part.strip_prefix(['v', 'V']).unwrap_or(part);
    !rest.is_empty() && rest.split('.').all(|p| matches!(p, "x" | "X" | "*"))
}

/// poetry-core's short wildcard, `^(!=|==)?\s*v?\d+(\.\d+)?(\.\d+)?(\.\*)+$`: up to three
/// numbers, then one or more `.*`. Returns the operator and the numbers.
fn short_wildcard(part: &str) -> Option<(&str, &str)> {
    let (op, rest) = match part.get(..2) {
        Some(op @ ("!=" | "==")) => (op, &part[2..]),
        _ => ("", part),
    };
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('v').unwrap_or(rest);
    let mut numbers = rest;
    while let Some(n) = numbers.strip_suffix(".*") {
        numbers = n;
    }
    let shape_ok = numbers.len() < rest.len()
        && numbers.split('.').count() <= 3
        && numbers
            .split('.')
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    shape_ok.then_some((op, numbers))
}

/// `<>`, `!=`, `>=`, `>`, `<=`, `<`, `==`, `=` or nothing, as poetry-core's comparison
/// pattern tries them.
fn split_operator(part: &str) -> (&str, &str) {
    for op in ["<>", "!=", ">=", ">", "<=", "<", "==", "="] {
        if let Some(rest) = part.strip_prefix(op) {
            return (op, rest);
        }
    }
    ("", part)
}

/// `[v, high)` as poetry-core builds `~`, `~=` and `^`.
fn range_from(part: &str, v: Version, high: &Version) -> Result<Part, ConstraintError> {
    if v.local.is_some() {
        return Err(local_bound(part));
    }
    Ok(Part::Range {
        low: Some(Bound {
            version: v,
            inclusive: true,
        }),
        high: Some(Bound {
            version: high.canonical_max(),
            inclusive: false,
        }),
    })
}

/// `V.*`: every version from V's first dev-release to the next one's, as poetry-core's
/// `_make_x_constraint_range` has it; `!=V.*` is everything else.
fn wildcard(part: &str, invert: bool, v: &Version) -> Result<Part, ConstraintError> {
    // poetry-core's ranges drop a local label here (`1.0+abc.*` is `==1.0.*`).
    let mut v = v.clone();
    v.local = None;
    let v = &v;
    if v.pre.is_none() && v.post.is_none() && v.dev.is_none() {
        let op = if invert { "!=" } else { "==" };
        let clause = format!("{op}{v}.*");
        if invert {
            return Ok(Part::Except(clause));
        }
        return Ok(Part::Prefix {
            clause,
            low: Bound {
                version: v.first_dev(),
                inclusive: true,
            },
            high: Bound {
                version: v.bump(v.release.len() - 1).first_dev(),
                inclusive: false,
            },
        });
    }
    if v.pre.is_some() && v.dev.is_some() && v.post.is_none() {
        return Err(ConstraintError::Inexpressible(format!(
            "`{part}` is a wildcard after a pre-release's dev-release, which poetry-core reads as no version at all; name the versions meant"
        )));
    }
    if invert {
        // The complement of a range that is not a release prefix is two ranges.
        return Err(ConstraintError::Inexpressible(format!(
            "`{part}` excludes a pre-, post- or dev-release wildcard, which is two ranges in PEP 440 terms; list the versions to exclude with `!=`"
        )));
    }
    let next = if v.post.is_some() {
        let mut n = v.clone();
        n.post = Some(if v.dev.is_none() {
            v.post.unwrap_or(0) + 1
        } else {
            v.post.unwrap_or(0)
        });
        n.dev = None;
        n
    } else if let Some((phase, number)) = v.pre {
        let mut n = v.clone();
        n.pre = Some(if v.dev.is_none() {
            (phase, number + 1)
        } else {
            (phase, number)
        });
        n.dev = None;
        n
    } else {
        let mut n = v.clone();
        n.dev = Some(v.dev.unwrap_or(0) + 1);
        n
    };
    let high = if next.dev.is_some() {
        next
    } else {
        next.first_dev()
    };
    Ok(Part::Range {
        low: Some(Bound {
            version: v.first_dev(),
            inclusive: true,
        }),
        high: Some(Bound {
            version: high,
            inclusive: false,
        }),
    })
}

/// The alternatives of a `||` constraint as one range, when they make one.
///
/// A PEP 440 specifier set is an intersection, so a union is written as its hull: the
/// lowest lower bound to the highest upper bound. That is exact when the alternatives
/// overlap or touch, and refused when a version between them is left out (`<1 || >2`,
/// `1.0 || 2.0`). One gap is accepted: `^1 || ^2` leaves out 2.0's pre-releases (`^1` stops
/// before 2.0.dev0, `^2` starts at 2.0), which the hull `>=1,<3` admits. An installer takes
/// a pre-release only when the specifier names one or no final release matches (uv's
/// default, pip's too), and the hull names none, so it installs what Poetry would.
///
/// An alternative with an exclusion (`!=`) is refused: its range has a hole the hull
/// would fill.
fn union(text: &str, alternatives: &[Vec<Part>]) -> Result<String, ConstraintError> {
    let refuse = |why: &str| {
        Err(ConstraintError::Inexpressible(format!(
            "`{}` is a union PEP 440 cannot write: {why}; use one range, or pin with `==`",
            text.trim()
        )))
    };
    if alternatives
        .iter()
        .any(|parts| parts.iter().all(|p| matches!(p, Part::Any)))
    {
        return Ok(String::new());
    }
    let mut ranges = Vec::new();
    for parts in alternatives {
        let mut low: Option<Bound> = None;
        let mut high: Option<Bound> = None;
        for part in parts {
            let (l, h) = match part {
                Part::Any => (None, None),
                Part::Range { low, high } => (low.clone(), high.clone()),
                Part::Prefix { low, high, .. } => (Some(low.clone()), Some(high.clone())),
                Part::Exact(v) if v.local.is_none() => {
                    let b = Bound {
                        version: v.clone(),
                        inclusive: true,
                    };
                    (Some(b.clone()), Some(b))
                }
                Part::Exact(_) | Part::Except(_) => {
                    return refuse(
                        "one of its alternatives excludes versions or names a local one",
                    );
                }
            };
            low = tighter(low, l, Ordering::Greater);
            high = tighter(high, h, Ordering::Less);
        }
        if !is_empty(low.as_ref(), high.as_ref()) {
            ranges.push((low, high));
        }
    }
    if ranges.is_empty() {
        // Nothing matches, as in Poetry; the first alternative says so in PEP 440 terms.
        let clauses: Vec<String> = alternatives[0].iter().flat_map(Part::clauses).collect();
        return Ok(clauses.join(","));
    }
    ranges.sort_by(|a, b| compare_low(a.0.as_ref(), b.0.as_ref()));
    let (low, mut high) = ranges[0].clone();
    for (next_low, next_high) in &ranges[1..] {
        if !joins(high.as_ref(), next_low.as_ref()) {
            return refuse("its alternatives leave a gap");
        }
        if let (Some(h), Some(n)) = (&high, next_high) {
            if compare_high(h, n) == Ordering::Less {
                high = Some(n.clone());
            }
        } else {
            high = None;
        }
    }
    let hull = match (&low, &high) {
        (Some(l), Some(h)) if l.inclusive && h.inclusive && l.version == h.version => {
            Part::Exact(l.version.clone())
        }
        _ => Part::Range { low, high },
    };
    Ok(hull.clauses().join(","))
}

/// The tighter of two bounds: `want` is `Greater` for lower bounds, `Less` for upper ones.
fn tighter(a: Option<Bound>, b: Option<Bound>, want: Ordering) -> Option<Bound> {
    match (a, b) {
        (None, b) => b,
        (a, None) => a,
        (Some(a), Some(b)) => {
            let order = a.version.cmp(&b.version);
            if order == want || (order == Ordering::Equal && !a.inclusive) {
                Some(a)
            } else {
                Some(b)
            }
        }
    }
}

fn is_empty(low: Option<&Bound>, high: Option<&Bound>) -> bool {
    match (low, high) {
        (Some(l), Some(h)) => match l.version.cmp(&h.version) {
            Ordering::Greater => true,
            Ordering::Equal => !(l.inclusive && h.inclusive),
            Ordering::Less => false,
        },
        _ => false,
    }
}

fn compare_low(a: Option<&Bound>, b: Option<&Bound>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, _) => Ordering::Less,
        (_, None) => Ordering::Greater,
        (Some(a), Some(b)) => a
            .version
            .cmp(&b.version)
            .then(b.inclusive.cmp(&a.inclusive)),
    }
}

fn compare_high(a: &Bound, b: &Bound) -> Ordering {
    a.version
        .cmp(&b.version)
        .then(a.inclusive.cmp(&b.inclusive))
}

/// Whether a range ending at `high` and one starting at `low` (no lower) leave no version
/// out between them, but for the pre-releases of the final release where they meet.
fn joins(high: Option<&Bound>, low: Option<&Bound>) -> bool {
    let (Some(high), Some(low)) = (high, low) else {
        return true;
    };
    match low.version.cmp(&high.version) {
        Ordering::Less => true,
        // `<=V || >V` leaves out V's post-releases unless V is one (PEP 440's `>V`).
        Ordering::Equal => low.inclusive || (high.inclusive && high.version.post.is_some()),
        Ordering::Greater => {
            let v = &high.version;
            let seam = !high.inclusive && v.dev == Some(0) && v.pre.is_none() && v.post.is_none();
            let mut release = v.clone();
            release.dev = None;
            seam && match low.version.cmp(&release) {
                Ordering::Less => true,
                Ordering::Equal => low.inclusive,
                Ordering::Greater => false,
            }
        }
    }
}

/// A PEP 440 version as poetry-core keeps it: the release as written (`1.2` has two parts,
/// which `~` and `^` count), the local label included.
#[derive(Clone, Debug)]
struct Version {
    epoch: u64,
    release: Vec<u64>,
    /// `a`, `b` or `rc`, and the number.
    pre: Option<(&'static str, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Option<String>,
}

impl Version {
    /// `packaging`'s `VERSION_PATTERN`, whole, any case, nothing around it.
    fn parse(text: &str) -> Option<Self> {
        let lower = text.to_ascii_lowercase();
        let (public, local) = match lower.split_once('+') {
            Some((p, l)) => (p, Some(l)),
            None => (lower.as_str(), None),
        };
        if let Some(local) = local {
            let ok = local
                .split(['.', '-', '_'])
                .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()));
            if !ok {
                return None;
            }
        }
        let mut rest = public.strip_prefix('v').unwrap_or(public);
        let mut epoch = 0;
        if let Some((e, r)) = rest.split_once('!') {
            epoch = number(e)?;
            rest = r;
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        // The release ends before a `.` that does not start a number (`1.0.post1`).
        let mut release = Vec::new();
        let mut used = 0;
        for (i, piece) in rest[..end].split('.').enumerate() {
            if piece.is_empty() {
                if i == 0 {
                    return None;
                }
                break;
            }
            release.push(number(piece)?);
            used += piece.len() + usize::from(i > 0);
        }
        rest = &rest[used..];
        let sep = |s: &str| s.strip_prefix(['-', '_', '.']).unwrap_or(s).to_owned();
        // `[-_.]?label[-_.]?digits?`; the number is 0 when absent.
        let tagged = |s: &str, labels: &[(&'static str, &'static str)]| {
            let after = sep(s);
            for (spelling, name) in labels {
                if let Some(r) = after.strip_prefix(spelling) {
                    let digits = sep(r);
                    let n = digits.bytes().take_while(u8::is_ascii_digit).count();
                    if n > 0 {
                        return Some((*name, number(&digits[..n]), digits[n..].to_owned()));
                    }
                    return Some((*name, Some(0), digits));
                }
            }
            None
        };
        let mut owned = rest.to_owned();
        let mut pre = None;
        if let Some((name, n, r)) = tagged(
            &owned,
            &[
                ("alpha", "a"),
                ("a", "a"),
                ("beta", "b"),
                ("b", "b"),
                ("preview", "rc"),
                ("pre", "rc"),
                ("c", "rc"),
                ("rc", "rc"),
            ],
        ) {
            pre = Some((name, n?));
            owned = r;
        }
        let mut post = None;
        let implicit = owned
            .strip_prefix('-')
            .map(|r| r.bytes().take_while(u8::is_ascii_digit).count());
        if let Some(n) = implicit.filter(|n| *n > 0) {
            post = Some(number(&owned[1..=n])?);
            owned = owned[n + 1..].to_owned();
        } else if let Some((_, n, r)) =
            tagged(&owned, &[("post", "post"), ("rev", "post"), ("r", "post")])
        {
            post = Some(n?);
            owned = r;
        }
        let mut dev = None;
        if let Some((_, n, r)) = tagged(&owned, &[("dev", "dev")]) {
            dev = Some(n?);
            owned = r;
        }
        owned.is_empty().then(|| Self {
            epoch,
            release,
            pre,
            post,
            dev,
            local: local.map(str::to_owned),
        })
    }

    fn final_release(epoch: u64, release: Vec<u64>) -> Self {
        Self {
            epoch,
            release,
            pre: None,
            post: None,
            dev: None,
            local: None,
        }
    }

    fn is_unstable(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    /// poetry-core's `stable`: a final or post-release is its own; otherwise the release
    /// (with the post-release when there is no pre-release), without dev or local parts.
    fn stable(&self) -> Self {
        if !self.is_unstable() {
            return self.clone();
        }
        let mut v = Self::final_release(self.epoch, self.release.clone());
        v.post = if self.pre.is_none() { self.post } else { None };
        v
    }

    /// The release with the part at `at` raised by one and those after it zeroed, as
    /// written to the same precision (`1.2` -> `2.0`), pre-, post-, dev- and local parts
    /// dropped. A part beyond the written ones is added (`1` -> `1.1`).
    fn bump(&self, at: usize) -> Self {
        let mut release = self.release.clone();
        if release.len() <= at {
            release.resize(at + 1, 0);
        }
        release[at] += 1;
        for n in &mut release[at + 1..] {
            *n = 0;
        }
        Self::final_release(self.epoch, release)
    }

    fn next_major(&self) -> Self {
        self.bump(0)
    }

    fn next_minor(&self) -> Self {
        self.bump(1)
    }

    /// `^`'s bound: the next major release, or the next minor for a 0.x, or the next patch
    /// for a 0.0.x.
    fn next_breaking(&self) -> Self {
        let stable = self.stable();
        let part = |i: usize| self.release.get(i).copied();
        if self.release[0] > 0 || part(1).is_none() {
            stable.next_major()
        } else if part(1) > Some(0) || part(2).is_none() {
            stable.next_minor()
        } else {
            stable.bump(2)
        }
    }

    fn first_dev(&self) -> Self {
        let mut v = self.clone();
        v.dev = Some(0);
        v.local = None;
        v
    }

    /// poetry-core's reading of `<V`: nothing of V, not even its pre-releases, unless V is
    /// itself a pre- or dev-release.
    fn canonical_max(&self) -> Self {
        if self.is_unstable() {
            self.clone()
        } else {
            self.first_dev()
        }
    }

    fn key(&self) -> Pep440 {
        let mut public = self.clone();
        public.local = None;
        Pep440::parse(&public.to_string()).expect("a version fabuild wrote reads back")
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch > 0 {
            write!(f, "{}!", self.epoch)?;
        }
        let release: Vec<String> = self.release.iter().map(u64::to_string).collect();
        f.write_str(&release.join("."))?;
        if let Some((phase, n)) = self.pre {
            write!(f, "{phase}{n}")?;
        }
        if let Some(n) = self.post {
            write!(f, ".post{n}")?;
        }
        if let Some(n) = self.dev {
            write!(f, ".dev{n}")?;
        }
        if let Some(local) = &self.local {
            write!(f, "+{}", local.replace(['-', '_'], "."))?;
        }
        Ok(())
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// PEP 440's order of public versions (local labels aside: fabuild never orders by them).
impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// A number of a version; one too large for 64 bits is refused (no real release has one).
fn number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> String {
        to_pep440(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn constraints_as_poetry_core_reads_them() {
        for (poetry, pep440) in [
            ("^2.1.0.post1", ">=2.1.0.post1,<3.0.0"),
            ("^1.2.3", ">=1.2.3,<2.0.0"),
            ("^1.2", ">=1.2,<2.0"),
            ("^1", ">=1,<2"),
            ("^0.2.3", ">=0.2.3,<0.3.0"),
            ("^0.0.3", ">=0.0.3,<0.0.4"),
            ("^0.0", ">=0.0,<0.1"),
            ("^0", ">=0,<1"),
            ("^1.0rc1", ">=1.0rc1,<2.0"),
            ("~1.2.3", ">=1.2.3,<1.3.0"),
            ("~1", ">=1,<2"),
            ("~=1.4.5", ">=1.4.5,<1.5.0"),
            ("~=1", ">=1,<2"),
            ("1.2.*", "==1.2.*"),
            ("!=1.*.*", "!=1.*"),
            (">=1.2.*", ">=1.2"),
            ("1.0rc1.*", ">=1.0rc1.dev0,<1.0rc2.dev0"),
            ("v1.2.3", "==1.2.3"),
            ("=1.2.3+ubuntu-1", "==1.2.3+ubuntu.1"),
            ("<2.0.post1", "<2.0.post1.dev0"),
            ("<2.0rc1", "<2.0rc1"),
            (">= 1.2, < 2.0", ">=1.2,<2.0"),
            (">=1.2 <2.0,", ">=1.2,<2.0"),
            ("1.0-1", "==1.0.post1"),
            ("*", ""),
            ("x.*", ""),
            ("^1 || ^2", ">=1,<3"),
            (">=1,<2 || >=1.5,<4", ">=1,<4"),
            ("1.0 | 1.0", "==1.0"),
            ("<=1.0.post1 || >1.0.post1", ""),
        ] {
            assert_eq!(ok(poetry), pep440, "{poetry}");
        }
    }

    #[test]
    fn what_pep_440_cannot_write_is_refused_naming_it() {
        for text in [
            "^1 || ^3",
            ">=3.2.1,<4.0.0 || ^4.1.0",
            "<1 || >2",
            "<=1.0 || >1.0",
            "!=1.0rc1.*",
            "<>1.0",
            ">=1.0+local",
            "1.0 || !=2.0",
        ] {
            match to_pep440(text) {
                Err(ConstraintError::Inexpressible(why)) => assert!(why.contains('`'), "{why}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        for text in [
            "",
            "1.0, ,",
            "1.0 || ",
            "===1.0",
            ">>1",
            "^x.y",
            "1.2.3; rm",
            "V1.*.*",
        ] {
            assert!(
                matches!(to_pep440(text), Err(ConstraintError::Invalid(_))),
                "{text}"
            );
        }
    }
}
