//! docs/rules.md documents every rule fabuild can report, and nothing else.

use std::collections::BTreeSet;

use crate::util;

#[test]
fn every_rule_is_documented_once_and_every_documented_rule_exists() {
    let doc = std::fs::read_to_string(util::repo().join("docs/rules.md")).unwrap();
    let documented: Vec<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    let unique: BTreeSet<&str> = documented.iter().copied().collect();
    assert_eq!(unique.len(), documented.len(), "a rule is documented twice");
    let known: BTreeSet<&str> = fabuild::rules::ALL.iter().map(|r| r.id).collect();
    assert_eq!(unique, known, "docs/rules.md and src/rules.rs disagree");
    for rule in fabuild::rules::ALL {
        let heading = format!("### {} {}", rule.id, rule.title);
        assert!(
            doc.contains(&heading),
            "docs/rules.md heading for {} should start `{heading}`",
            rule.id
        );
    }
}
