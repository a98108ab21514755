//! `check -o sarif` validates against the OASIS SARIF 2.1.0 schema; `check -o junit` parses as
//! JUnit XML with counts that match its test cases.

use quick_xml::events::Event;
use quick_xml::Reader;
use serde_json::Value;
use std::process::Command;

const CASE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/cases/calicoctl910_ip_tables_module_not_loaded"
);

fn check(format: &str) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_netdoctor"))
        .args(["check", "--from", CASE, "-o", format])
        .output()
        .expect("run");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn sarif_validates_against_the_sarif_2_1_0_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/schemas/sarif-schema-2.1.0.json"
        ))
        .expect("schema"),
    )
    .expect("schema json");
    let validator = jsonschema::validator_for(&schema).expect("compile the schema");
    let (code, out) = check("sarif");
    assert_eq!(
        code,
        Some(1),
        "a critical finding keeps check's exit status"
    );
    let doc: Value = serde_json::from_str(&out).expect("sarif json");
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let run = &doc["runs"][0];
    let results = run["results"].as_array().expect("results");
    assert!(!results.is_empty());
    let first = &results[0];
    assert_eq!(first["ruleId"], "kernel-netfilter-feature-missing");
    assert_eq!(first["level"], "error");
    // The rule a result points at is that rule.
    let i = first["ruleIndex"].as_u64().expect("ruleIndex");
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    assert_eq!(
        rules[usize::try_from(i).expect("index")]["id"],
        first["ruleId"]
    );
    assert_eq!(rules.len(), netdoctor_model::CAUSES.len());
    // A document the schema refuses is refused (the validator is not a rubber stamp).
    let mut bad = doc.clone();
    bad["runs"][0]["results"][0]["level"] = Value::from("fatal");
    assert!(!validator.is_valid(&bad));
}

#[test]
fn junit_parses_and_counts_its_cases() {
    let (_, out) = check("junit");
    let mut reader = Reader::from_str(&out);
    let (mut cases, mut failures, mut skipped) = (0, 0, 0);
    let mut declared: Option<(usize, usize, usize)> = None;
    let mut stack: Vec<String> = Vec::new();
    let mut failed_ids = Vec::new();
    let mut current = String::new();
    loop {
        let (e, empty) = match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(_) => {
                stack.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let attr = |k: &str| {
            e.attributes()
                .filter_map(Result::ok)
                .find(|a| a.key.as_ref() == k.as_bytes())
                .map(|a| String::from_utf8_lossy(&a.value).into_owned())
        };
        match name.as_str() {
            "testsuite" => {
                assert_eq!(stack.last().map(String::as_str), Some("testsuites"));
                let n = |k: &str| attr(k).and_then(|v| v.parse().ok()).expect(k);
                declared = Some((n("tests"), n("failures"), n("skipped")));
            }
            "testcase" => {
                assert_eq!(stack.last().map(String::as_str), Some("testsuite"));
                cases += 1;
                current = attr("name").expect("name");
                assert!(attr("classname")
                    .expect("classname")
                    .starts_with("netdoctor."));
            }
            "failure" => {
                failures += 1;
                failed_ids.push(current.clone());
            }
            "skipped" => skipped += 1,
            _ => {}
        }
        if !empty {
            stack.push(name);
        }
    }
    assert_eq!(declared, Some((cases, failures, skipped)));
    assert_eq!(cases, netdoctor_model::CAUSES.len());
    assert!(
        failed_ids.contains(&"kernel-netfilter-feature-missing".to_string()),
        "{failed_ids:?}"
    );
    assert!(
        skipped > 0,
        "what could not be checked is skipped, not passed"
    );
}
