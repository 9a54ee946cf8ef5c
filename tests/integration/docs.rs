//! The reference in docs/ points at the code: every test that docs/rules.md
//! names as a rule's proof is in the file it names, so a rule's evidence
//! cannot silently move or vanish.

use std::path::Path;

/// `- `name` (path)` lines of docs/rules.md.
fn cited_tests(rules: &str) -> Vec<(&str, &str)> {
    rules
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("- `")?;
            let (name, rest) = rest.split_once("` (")?;
            let path = rest.strip_suffix(')')?;
            Some((name, path))
        })
        .collect()
}

#[test]
fn every_test_docs_rules_cites_is_in_the_file_it_names() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rules = std::fs::read_to_string(root.join("docs/rules.md")).unwrap();
    let cited = cited_tests(&rules);
    assert!(
        cited.len() > 200,
        "only {} tests found: format changed?",
        cited.len()
    );
    let missing: Vec<String> = cited
        .iter()
        .filter(|(name, path)| {
            let text = std::fs::read_to_string(root.join(path)).unwrap_or_default();
            let def = if path.ends_with(".py") { "def" } else { "fn" };
            !text.contains(&format!("{def} {name}("))
        })
        .map(|(name, path)| format!("{name} ({path})"))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/rules.md cites tests that are not there: {missing:#?}"
    );
}
