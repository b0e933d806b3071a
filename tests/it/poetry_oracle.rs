//! fabuild translates Poetry constraints as poetry-core 2.5 reads them: over generated
//! constraints (every operator, version shapes with epochs, pre-, post-, dev-releases and
//! local labels, wildcards, conjunctions, unions, odd spacing) and real ones, the PEP 440
//! specifier fabuild writes admits exactly the probe versions poetry-core's
//! `parse_constraint(...).allows(...)` does (packaging evaluates fabuild's side), and fabuild
//! refuses only what poetry-core refuses or what PEP 440 cannot write.
//!
//! The Python side is `tests/oracle/poetry_oracle.py`, run by the interpreter `scripts/test`
//! sets up with poetry-core and packaging (`scripts/test-requirements-hashed.txt`).

use std::io::Write;
use std::process::{Command, Stdio};

use fabuild::packaging::poetry::{ConstraintError, to_pep440};
use serde_json::{Value, json};

use crate::util;

const GENERATED: usize = 4000;

/// Constraints from published pyproject.toml files and Poetry's documentation.
const REAL: &[&str] = &[
    "^2.1.0.post1",
    "^3.8",
    "^3.11",
    ">=3.8,<4.0",
    ">=3.9,<3.13",
    "^0.115.0",
    "^0.32.0",
    "^2.9.2",
    "^1.0 || ^2.0",
    "^1.26 || ^2.0",
    ">=1.2.3 <2.0.0",
    "~=2.28",
    "~2.31",
    "2.31.*",
    "*",
    ">=1.26.0,!=1.26.1",
    "^2.0.0b1",
    "^7.0.0a2",
    "1.0.0rc1",
    ">=3.2.1,<4.0.0 || ^4.0.0",
    ">=0.20.0, <0.30.0",
    "==24.2",
    "!=3.0.*,!=3.1.*,>=2.7",
    ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*",
    "^1.10.0 || ^2.0.0",
    "<3.0.0,>=2.0.0",
    "^4.2.0rc1",
    ">=1.0.0.dev0",
    "~1.4.0",
    "^0.0.5",
    "1.2.3+ubuntu1",
    "v1.2.3",
    "^23.1.0 || ^24.0.0",
    ">= 1.0 , < 2.0",
    "^1.0.0,",
];

/// splitmix64, seeded: the same cases on every run, a failure named by its index.
struct Cases(u64);

impl Cases {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// A version in one of the spellings PEP 440 allows; also returns it for the probes.
    fn version(&mut self, near: &mut Vec<String>) -> String {
        let mut v = String::new();
        if self.one_in(12) {
            v.push_str(self.pick(&["1!", "2!"]));
        }
        let parts = 1 + self.below(4);
        let release: Vec<String> = (0..parts)
            .map(|i| {
                let n = if i == 0 { self.below(4) } else { self.below(3) };
                n.to_string()
            })
            .collect();
        v.push_str(&release.join("."));
        if self.one_in(4) {
            v.push_str(self.pick(&[
                "a", "b", "rc", "c", "alpha", "beta", "pre", "preview", ".a", "-rc", "_b",
            ]));
            if !self.one_in(5) {
                v.push_str(&self.below(3).to_string());
            }
        }
        if self.one_in(4) {
            v.push_str(self.pick(&[".post", "-", ".post", "post", ".rev", "r", "-post"]));
            let n = self.below(3).to_string();
            if v.ends_with('-') || !self.one_in(5) {
                v.push_str(&n);
            }
        }
        if self.one_in(5) {
            v.push_str(self.pick(&[".dev", "dev", "-dev", ".dev"]));
            if !self.one_in(5) {
                v.push_str(&self.below(3).to_string());
            }
        }
        if self.one_in(10) {
            v.push_str(self.pick(&["+local", "+ubuntu.1", "+abc-2", "+7"]));
        }
        near.push(v.clone());
        if self.one_in(15) {
            v.insert(0, 'v');
        }
        if self.one_in(20) {
            v = v.to_uppercase();
        }
        v
    }

    /// One part: an operator and a version, a wildcard, or any.
    fn part(&mut self, near: &mut Vec<String>) -> String {
        let space = if self.one_in(6) { " " } else { "" };
        match self.below(20) {
            0 => self.pick(&["*", "x", "*.*", "X.x"]).to_owned(),
            1 | 2 => {
                let op = self.pick(&["", "==", "!=", "=", "== "]);
                let numbers: Vec<String> = (0..=self.below(3))
                    .map(|_| self.below(4).to_string())
                    .collect();
                near.push(numbers.join("."));
                let stars = if self.one_in(6) { ".*.*" } else { ".*" };
                format!("{op}{}{stars}", numbers.join("."))
            }
            3 => {
                // A wildcard after a pre-, post- or dev-release, or a comparison with one.
                let op = self.pick(&["==", "!=", ">=", "<", ""]);
                format!("{op}{}.*", self.version(near))
            }
            4 => format!("dev{}", if self.one_in(2) { "" } else { ".*" }),
            _ => {
                let op = self.pick(&[
                    "^", "^", "~", "~", "~=", ">=", ">=", ">", "<", "<", "<=", "==", "=", "!=", "",
                    "", "<>", "===",
                ]);
                format!("{op}{space}{}", self.version(near))
            }
        }
    }

    /// A whole constraint: alternatives of conjunctions, with odd spacing now and then.
    fn constraint(&mut self, near: &mut Vec<String>) -> String {
        let alternatives = if self.one_in(3) { 2 + self.below(2) } else { 1 };
        let mut out = Vec::new();
        for _ in 0..alternatives {
            let parts = 1 + self.below(3);
            let mut text = self.part(near);
            for _ in 1..parts {
                text.push_str(self.pick(&[",", ", ", " ", " , ", ",  "]));
                text.push_str(&self.part(near));
            }
            if self.one_in(25) {
                text.push(',');
            }
            out.push(text);
        }
        let mut text = out.join(self.pick(&[" || ", "||", " | ", "|| "]));
        if self.one_in(30) {
            text = format!("  {text} ");
        }
        if self.one_in(80) {
            text.push_str(self.pick(&[" ||", ", ,", ";", " -1"]));
        }
        text
    }
}

/// The shared probes: releases around the numbers the generator uses, each with the
/// suffixes that sit at the edges of ranges.
fn probes() -> Vec<String> {
    let releases = [
        "0", "0.0.1", "0.1", "0.2", "0.2.3", "1", "1.0.1", "1.1", "1.2", "1.2.3", "1.3", "2",
        "2.0.1", "2.1", "3", "3.1", "4", "1!0", "1!1.2",
    ];
    let suffixes = [
        "",
        "a1",
        "rc1",
        ".dev0",
        ".post1",
        ".post1.dev0",
        "a1.dev0",
        "+local",
        ".post1+local",
    ];
    releases
        .iter()
        .flat_map(|r| suffixes.iter().map(move |s| format!("{r}{s}")))
        .collect()
}

#[derive(Default, Debug)]
struct Tally {
    cases: usize,
    translated_and_agreed: usize,
    union_hulls_differing_only_at_seams: usize,
    both_refused: usize,
    deliberate: usize,
    deliberate_unions: usize,
    unmerged_unions_with_exclusions: usize,
    not_equal_post_releases: usize,
    poetry_crashed: usize,
    failures: Vec<String>,
}

fn run(cases: &[(String, Vec<String>)]) -> Tally {
    let translations: Vec<Result<String, ConstraintError>> =
        cases.iter().map(|(c, _)| to_pep440(c)).collect();
    let doc = json!({
        "probes": probes(),
        "cases": cases.iter().zip(&translations).map(|((c, near), t)| json!({
            "constraint": c,
            "fabuild": t.as_ref().ok(),
            "near": near,
        })).collect::<Vec<_>>(),
    });
    let mut child = Command::new(util::python())
        .arg(util::repo().join("tests/oracle/poetry_oracle.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the poetry-core oracle");
    let mut stdin = child.stdin.take().unwrap();
    let input = serde_json::to_vec(&doc).unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "the poetry-core oracle failed (is poetry-core installed? run `scripts/test`)"
    );
    let verdicts: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(verdicts.len(), cases.len());
    let mut tally = Tally::default();
    for (i, (((constraint, _), ours), theirs)) in
        cases.iter().zip(&translations).zip(&verdicts).enumerate()
    {
        tally.cases += 1;
        let poetry = theirs["poetry"].as_str().unwrap();
        let fail = |why: String| format!("case {i} `{constraint}`: {why}");
        match (ours, poetry) {
            (Err(ConstraintError::Invalid(_)), "refused") => tally.both_refused += 1,
            (Err(_), "crashed") => tally.poetry_crashed += 1,
            (Ok(spec), "crashed") => tally.failures.push(fail(format!(
                "poetry-core fails an internal assertion on it, fabuild wrote `{spec}`"
            ))),
            (Err(ConstraintError::Invalid(why)), _) => tally.failures.push(fail(format!(
                "fabuild calls it invalid ({why}), poetry-core reads it"
            ))),
            (Err(ConstraintError::Inexpressible(why)), "refused") => {
                tally.failures.push(fail(format!(
                    "poetry-core refuses it, fabuild says only that PEP 440 cannot write it ({why})"
                )));
            }
            (Err(ConstraintError::Inexpressible(why)), kind) => {
                if why.contains("is a union") {
                    // Justified only when poetry-core cannot make one range of it either.
                    if kind == "range" && why.contains("excludes versions") {
                        // fabuild does not merge alternatives with holes (`!=`) or local
                        // pins, even where the others fill them: a refusal, never a wrong
                        // translation.
                        tally.unmerged_unions_with_exclusions += 1;
                    } else if kind == "range" {
                        tally.failures.push(fail(format!(
                            "refused as a union ({why}) but poetry-core reads one range"
                        )));
                    } else {
                        tally.deliberate_unions += 1;
                    }
                } else {
                    tally.deliberate += 1;
                }
            }
            (Ok(spec), "refused") => tally.failures.push(fail(format!(
                "poetry-core refuses it, fabuild wrote `{spec}`"
            ))),
            (Ok(spec), _) => {
                if let Some(e) = theirs["packaging_error"].as_str() {
                    tally
                        .failures
                        .push(fail(format!("packaging cannot read `{spec}`: {e}")));
                    continue;
                }
                let differ = theirs["differ"].as_array().unwrap();
                if differ.is_empty() {
                    tally.translated_and_agreed += 1;
                } else if constraint.contains('|') && differ.iter().all(seam_prerelease) {
                    tally.union_hulls_differing_only_at_seams += 1;
                } else if constraint.contains("!=") && differ.iter().all(excluded_post_release) {
                    tally.not_equal_post_releases += 1;
                } else {
                    tally.failures.push(fail(format!(
                        "`{spec}` differs on [version, poetry-core allows, fabuild allows]: {differ:?}"
                    )));
                }
            }
        }
    }
    tally
}

/// A probe the union's hull admits and poetry-core does not, that is a pre- or
/// dev-release: the one difference `poetry::union` accepts.
fn seam_prerelease(d: &Value) -> bool {
    let version = d[0].as_str().unwrap().to_ascii_lowercase();
    d[1] == json!(false)
        && d[2] == json!(true)
        && ["a", "b", "rc", "dev"].iter().any(|t| {
            version
                .split(['.', '+'])
                .any(|piece| piece.trim_start_matches(char::is_numeric).starts_with(t))
        })
}

/// A post-release (or local variant) poetry-core leaves out and fabuild's `!=V` admits:
/// poetry-core's `!=2.2` alone admits 2.2.post1 as PEP 440 does, but intersected with a
/// range (`^2,!=2.2`) its exclusive `>2.2` piece drops 2.2's post-releases too. fabuild keeps
/// PEP 440's `!=` (what the constraint says) rather than refuse every `!=` in a conjunction.
fn excluded_post_release(d: &Value) -> bool {
    let version = d[0].as_str().unwrap();
    d[1] == json!(false)
        && d[2] == json!(true)
        && (version.contains("post") || version.contains('+'))
}

fn report(name: &str, tally: &Tally) {
    println!(
        "{name}: {} cases, {} translated and agreeing on every probe, {} unions written as \
         their hull differing only on pre-releases at a seam, {} refused by both, {} \
         deliberate refusals (PEP 440 cannot write them) + {} unions with a gap + {} \
         unions with an exclusion fabuild does not merge, {} conjunctions with `!=V` where \
         poetry-core also drops V's post-releases, {} refused where poetry-core fails an \
         internal assertion",
        tally.cases,
        tally.translated_and_agreed,
        tally.union_hulls_differing_only_at_seams,
        tally.both_refused,
        tally.deliberate,
        tally.deliberate_unions,
        tally.unmerged_unions_with_exclusions,
        tally.not_equal_post_releases,
        tally.poetry_crashed,
    );
    for failure in tally.failures.iter().take(40) {
        println!("  {failure}");
    }
    assert!(
        tally.failures.is_empty(),
        "{} of {} cases disagree with poetry-core",
        tally.failures.len(),
        tally.cases
    );
}

#[test]
fn generated_constraints_mean_what_poetry_core_reads() {
    let mut cases = Cases(0x5EED_2025);
    let generated: Vec<(String, Vec<String>)> = (0..GENERATED)
        .map(|_| {
            let mut near = Vec::new();
            let c = cases.constraint(&mut near);
            (c, near)
        })
        .collect();
    let tally = run(&generated);
    report("generated", &tally);
    // The generator must reach every verdict, or it proves less than it says.
    assert!(tally.translated_and_agreed > GENERATED / 3, "{tally:?}");
    assert!(tally.both_refused > 0 && tally.deliberate > 0 && tally.deliberate_unions > 0);
}

#[test]
fn real_constraints_mean_what_poetry_core_reads() {
    let real: Vec<(String, Vec<String>)> = REAL
        .iter()
        .map(|c| {
            let near = c
                .split(|ch: char| !(ch.is_ascii_alphanumeric() || matches!(ch, '.' | '!' | '+')))
                .filter(|w| w.starts_with(|ch: char| ch.is_ascii_digit()))
                .map(str::to_owned)
                .collect();
            ((*c).to_owned(), near)
        })
        .collect();
    let tally = run(&real);
    report("real", &tally);
    assert_eq!(
        tally.translated_and_agreed
            + tally.union_hulls_differing_only_at_seams
            + tally.not_equal_post_releases,
        REAL.len()
    );
}
