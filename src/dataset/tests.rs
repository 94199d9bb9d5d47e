// Tests may panic: that is how they fail.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use serde_json::{Value, json};

use super::*;
use crate::domain::{AnswerKind, GivenSolution, ItemId};

fn load(label: &str, text: &str) -> Result<Loaded, DatasetError> {
    load_str(label, text, false, &LoadOptions::default())
}

fn load_ok(label: &str, text: &str) -> Loaded {
    match load(label, text) {
        Ok(l) => l,
        Err(e) => panic!("load failed: {e}"),
    }
}

fn err_text(label: &str, text: &str) -> String {
    match load(label, text) {
        Ok(l) => panic!("expected an error, loaded {} items", l.items.len()),
        Err(e) => e.to_string(),
    }
}

fn meta_str<'a>(item: &'a Item, key: &str) -> Option<&'a str> {
    item.meta.get(key).and_then(Value::as_str)
}

const GSM8K: &str = r#"{"question": "Natalia sold clips to 48 friends in April, and half as many in May. How many clips did she sell?", "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether.\n#### 72"}

{"id": 17, "question": "A house costs $1,200 per month. What is the cost for a year?", "answer": "12*1200 = <<12*1200=14400>>14,400\n#### 14,400", "split": "test"}
"#;

#[test]
fn gsm8k_items() {
    let loaded = load_ok("data/gsm8k.jsonl", GSM8K);
    assert_eq!(loaded.format, Format::Gsm8k);
    assert!(loaded.skipped.is_empty());
    let [a, b] = loaded.items.as_slice() else { panic!("two items") };
    assert_eq!(a.id, ItemId("1".into()), "no id: line number");
    assert_eq!(a.reference, "72");
    assert_eq!(a.answer_kind, AnswerKind::Number);
    assert_eq!(a.source, "gsm8k");
    assert_eq!(
        meta_str(a, "solution"),
        Some("Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips altogether.")
    );
    assert_eq!(b.id, ItemId("17".into()), "numeric id, line 3 after a blank line");
    assert_eq!(b.reference, "14400", "thousands commas removed");
    assert_eq!(meta_str(b, "split"), Some("test"), "extra field kept");
    assert_eq!(meta_str(b, "solution"), Some("12*1200 = 14,400"));
    assert!(b.given.is_none() && b.choices.is_none());
}

const MATH: &str = r#"{"problem": "What is $\\frac{1}{2}+\\frac{1}{3}$?", "solution": "Add: $\\frac{3}{6}+\\frac{2}{6}=\\boxed{\\frac{5}{6}}$.", "level": "Level 2", "type": "Prealgebra", "unique_id": "test/prealgebra/1.json"}
{"problem": "Compute $7\\cdot 6$.", "solution": "First $\\boxed{40}$ is wrong; $7\\cdot 6 = \\boxed{42}$.", "level": "Level 1", "type": "Prealgebra"}
"#;

#[test]
fn math_items() {
    let loaded = load_ok("math.jsonl", MATH);
    assert_eq!(loaded.format, Format::Math);
    let [a, b] = loaded.items.as_slice() else { panic!("two items") };
    assert_eq!(a.id.0, "test/prealgebra/1.json");
    assert_eq!(a.question, "What is $\\frac{1}{2}+\\frac{1}{3}$?");
    assert_eq!(a.reference, "\\frac{5}{6}");
    assert_eq!(a.answer_kind, AnswerKind::Math);
    assert_eq!(meta_str(a, "level"), Some("Level 2"));
    assert_eq!(meta_str(a, "type"), Some("Prealgebra"));
    assert!(meta_str(a, "solution").is_some_and(|s| s.starts_with("Add:")));
    assert_eq!(b.id.0, "2");
    assert_eq!(b.reference, "42", "the last box wins");
    assert_eq!(b.answer_kind, AnswerKind::Number);
}

const REALCRITIC: &str = r#"{"idx": 101, "question": "Which planet is largest? A. Mars B. Jupiter C. Venus D. Earth", "gt": "B", "reasoning": "Jupiter is the largest planet. The answer is B.", "pred": "B", "previous_score": [true], "data_source": "arc"}
{"idx": "rc-2", "question": "What is 3+4?", "gt": 7, "reasoning": "3+4=8", "pred": "8", "previous_score": [false]}
{"idx": 3, "question": "Simplify $\\sqrt{8}$.", "gt": "2\\sqrt{2}", "reasoning": "It is 2\\sqrt{2}.", "pred": null, "previous_score": [true]}
"#;

#[test]
fn realcritic_items() {
    let loaded = load_ok("rc.jsonl", REALCRITIC);
    assert_eq!(loaded.format, Format::RealCritic);
    let [a, b, c] = loaded.items.as_slice() else { panic!("three items") };
    assert_eq!(a.id.0, "101");
    assert_eq!(a.reference, "B");
    assert_eq!(a.answer_kind, AnswerKind::Choice);
    assert_eq!(
        a.given,
        Some(GivenSolution {
            text: "Jupiter is the largest planet. The answer is B.".into(),
            answer: Some("B".into()),
            correct: Some(true),
        })
    );
    assert_eq!(meta_str(a, "data_source"), Some("arc"));
    assert_eq!(a.meta.len(), 1, "consumed fields stay out of meta");
    assert_eq!(
        (b.id.0.as_str(), b.reference.as_str(), b.answer_kind),
        ("rc-2", "7", AnswerKind::Number)
    );
    assert_eq!(b.given.as_ref().and_then(|g| g.correct), Some(false));
    assert_eq!(c.answer_kind, AnswerKind::Math);
    assert_eq!(c.given.as_ref().and_then(|g| g.answer.clone()), None, "null pred");
}

const CRITICBENCH: &str = r#"{"question": "What is 2*21?", "answer": [42, "forty-two"], "response": "2*21=42. The answer is 42.", "response_label": true}
{"id": "cb-7", "question": "Pick the mammal: A. shark B. whale", "answer": ["B"], "response": "A shark. Answer: A", "response_label": "Incorrect", "domain": "commonsense"}
{"question": "Is 9 prime?", "answer": ["no"], "response": "No.", "response_label": "1"}
"#;

#[test]
fn criticbench_items() {
    let loaded = load_ok("cb.jsonl", CRITICBENCH);
    assert_eq!(loaded.format, Format::CriticBench);
    let [a, b, c] = loaded.items.as_slice() else { panic!("three items") };
    assert_eq!(
        (a.id.0.as_str(), a.reference.as_str(), a.answer_kind),
        ("1", "42", AnswerKind::Number)
    );
    assert_eq!(
        a.given,
        Some(GivenSolution {
            text: "2*21=42. The answer is 42.".into(),
            answer: None,
            correct: Some(true)
        })
    );
    assert_eq!((b.id.0.as_str(), b.answer_kind), ("cb-7", AnswerKind::Choice));
    assert_eq!(b.given.as_ref().and_then(|g| g.correct), Some(false));
    assert_eq!(meta_str(b, "domain"), Some("commonsense"));
    assert_eq!(c.answer_kind, AnswerKind::Math, "non-numeric text is math");
    assert_eq!(c.given.as_ref().and_then(|g| g.correct), Some(true));
}

fn native_item() -> Item {
    let mut meta = crate::domain::Meta::new();
    meta.insert("solution".into(), json!("4 is even. The answer is \\boxed{A}"));
    Item {
        id: ItemId("n-1".into()),
        question: "Which number is even?".into(),
        reference: "A".into(),
        answer_kind: AnswerKind::Choice,
        choices: Some(vec!["4".into(), "5".into(), "7".into(), "9".into()]),
        given: Some(GivenSolution {
            text: "5 is even.".into(),
            answer: Some("B".into()),
            correct: Some(false),
        }),
        source: "mine".into(),
        meta,
    }
}

#[test]
fn critloop_items_round_trip() {
    let item = native_item();
    let Ok(line) = serde_json::to_string(&item) else { panic!("serialise") };
    let text = format!(
        "{line}\n{}\n",
        r#"{"id": 2, "question": "1+1?", "reference": "2", "note": "extra"}"#
    );
    let loaded = load_ok("native.jsonl", &text);
    assert_eq!(loaded.format, Format::Critloop);
    assert_eq!(loaded.items[0], item, "the native format round-trips, source kept");
    let b = &loaded.items[1];
    assert_eq!(
        (b.id.0.as_str(), b.answer_kind, b.source.as_str()),
        ("2", AnswerKind::Number, "native")
    );
    assert_eq!(meta_str(b, "note"), Some("extra"));
}

#[test]
fn generic_jsonl_default_and_mapped() {
    let text = "{\"question\": \"2+2?\", \"answer\": 4, \"topic\": \"add\"}\n{\"question\": \"Pick\", \"answer\": \"C\", \"choices\": [\"1\", \"2\", \"3\"]}\n";
    let loaded = load_ok("g.jsonl", text);
    assert_eq!(loaded.format, Format::Generic);
    assert_eq!(loaded.items[0].reference, "4");
    assert_eq!(loaded.items[0].id.0, "1");
    assert_eq!(meta_str(&loaded.items[0], "topic"), Some("add"));
    assert_eq!(loaded.items[1].answer_kind, AnswerKind::Choice);
    assert_eq!(loaded.items[1].choices.as_ref().map(Vec::len), Some(3));

    let Ok(map) = FieldMap::parse("question=prompt, reference=target,id=key,answer_kind=kind")
    else {
        panic!("map")
    };
    let opts = LoadOptions { map: Some(map), ..LoadOptions::default() };
    let text =
        r#"{"key": "k1", "prompt": "Simplify x+x", "target": "2x", "kind": "text", "other": 1}"#;
    let Ok(loaded) = load_str("g.jsonl", text, false, &opts) else { panic!("mapped load") };
    let it = &loaded.items[0];
    assert_eq!(
        (it.id.0.as_str(), it.question.as_str(), it.reference.as_str()),
        ("k1", "Simplify x+x", "2x")
    );
    assert_eq!(it.answer_kind, AnswerKind::Text);
    assert_eq!(it.meta.get("other"), Some(&json!(1)));
    assert_eq!(it.meta.len(), 1);
}

const CSV: &str = "qid,prompt,target,options,notes\n\
a1,\"What is 6*7?\",42,,first\n\
a2,\"Which is a colour? (pick one)\",B,\"red-ish|blue|dog\",\"has, comma\"\n\
\n\
a3,\"Multi\nline question\",3.5,,\n";

#[test]
fn generic_csv_with_mapping() {
    let Ok(map) = FieldMap::parse("id=qid,question=prompt,reference=target,choices=options") else {
        panic!("map")
    };
    let opts = LoadOptions { map: Some(map), ..LoadOptions::default() };
    let Ok(loaded) = load_str("set.csv", CSV, true, &opts) else { panic!("csv load") };
    assert_eq!(loaded.format, Format::Generic);
    let [a, b, c] = loaded.items.as_slice() else { panic!("three items") };
    assert_eq!(
        (a.id.0.as_str(), a.reference.as_str(), a.answer_kind),
        ("a1", "42", AnswerKind::Number)
    );
    assert_eq!(a.choices, None, "an empty cell is no choices");
    assert_eq!(meta_str(a, "notes"), Some("first"));
    assert_eq!(b.choices, Some(vec!["red-ish".into(), "blue".into(), "dog".into()]));
    assert_eq!(b.answer_kind, AnswerKind::Choice);
    assert_eq!(meta_str(b, "notes"), Some("has, comma"));
    assert_eq!(c.question, "Multi\nline question");
    assert_eq!(c.source, "set");
}

#[test]
fn csv_line_numbers_count_the_header() {
    let text = "question,answer\n\"ok\",1\n\"bad row\",2,3\n\"\",4\n";
    let opts = LoadOptions { skip_bad: true, ..LoadOptions::default() };
    let Ok(loaded) = load_str("t.csv", text, true, &opts) else { panic!("load") };
    assert_eq!(loaded.items.len(), 1);
    assert_eq!(loaded.items[0].id.0, "2", "first data row is line 2");
    let msgs: Vec<String> = loaded.skipped.iter().map(ToString::to_string).collect();
    assert_eq!(
        msgs,
        [
            "t.csv:3: expected 2 fields (as in the header), found 3",
            "t.csv:4: field `question`: empty"
        ]
    );
}

#[test]
fn csv_auto_is_generic_and_reports_missing_columns() {
    let text = "body,result\nhi,1\n";
    let Err(e) = load_str("x.csv", text, true, &LoadOptions::default()) else {
        panic!("should fail")
    };
    assert_eq!(
        e.to_string(),
        "x.csv:2: field `question`: missing (keys present: body, result; map columns with --map)"
    );
}

/// Issue 14, point 11: usual column names need no --map, and the loader says what it took.
#[test]
fn csv_with_usual_column_names_loads_and_says_what_it_took() {
    let csv = |text: &str| load_str("x.csv", text, true, &LoadOptions::default()).unwrap();
    let plain = csv("question,reference\n2+2?,4\n3+3?,6\n");
    assert_eq!(plain.format, Format::Generic);
    assert_eq!(plain.items[1].reference, "6");
    assert_eq!(plain.items[0].id.0, "2", "the line number, header included");
    assert_eq!(
        plain.notes,
        vec![
            "columns by their usual names: reference ← `reference` (--map to choose)".to_string(),
            format!(
                "no id column ({}): items are numbered by their line",
                formats::USUAL_IDS.join(", ")
            ),
        ]
    );
    let with_ids = csv("problem_id,problem,target\np-7,2+2?,4\n");
    assert_eq!(with_ids.items[0].id.0, "p-7");
    assert_eq!(with_ids.items[0].question, "2+2?");
    assert_eq!(with_ids.notes.len(), 1, "{:?}", with_ids.notes);
    assert!(with_ids.notes[0].contains("question ← `problem`"), "{:?}", with_ids.notes);
    // A standard file says nothing.
    assert!(csv("id,question,answer\na,2+2?,4\n").notes.is_empty());
}

/// Issue 14, point 11: GSM8K and MATH as CSV are read as themselves, not with the literal
/// `#### 4` as the reference; a look-alike without `####` stays generic.
#[test]
fn gsm8k_and_math_csv_are_recognised() {
    let csv = |text: &str| load_str("x.csv", text, true, &LoadOptions::default()).unwrap();
    let gsm = csv("question,answer\n2+2?,\"2+2 = <<2+2=4>>4\n#### 4\"\n");
    assert_eq!(gsm.format, Format::Gsm8k);
    assert_eq!(gsm.items[0].reference, "4");
    let math = csv("problem,solution\nWhat is 2+2?,It is $\\boxed{4}$.\n");
    assert_eq!(math.format, Format::Math);
    assert_eq!(math.items[0].reference, "4");
    let look_alike = csv("question,answer\n2+2?,four\n");
    assert_eq!(look_alike.format, Format::Generic);
    assert_eq!(look_alike.items[0].reference, "four");
    assert_eq!(detect_text("question,answer\nq,\"x\n#### 1\"\n", true), Format::Gsm8k);
}

#[test]
fn auto_detects_each_format() {
    let cases = [
        (GSM8K, Format::Gsm8k),
        (MATH, Format::Math),
        (REALCRITIC, Format::RealCritic),
        (CRITICBENCH, Format::CriticBench),
        (r#"{"id": "x", "question": "q", "reference": "1"}"#, Format::Critloop),
        (r#"{"question": "q", "answer": "1"}"#, Format::Generic),
        ("not json", Format::Generic),
    ];
    for (text, want) in cases {
        assert_eq!(detect_text(text, false), want, "{text}");
    }
    assert_eq!(detect_text(GSM8K, true), Format::Generic, "JSON read as CSV is no GSM8K");
    for (text, want) in &cases[..6] {
        assert_eq!(load_ok("d.jsonl", text).format, *want);
    }
    // A mapping given with auto means generic, whatever the keys say.
    let opts = LoadOptions { map: Some(FieldMap::default()), ..LoadOptions::default() };
    let Ok(loaded) = load_str("d.jsonl", GSM8K, false, &opts) else { panic!("load") };
    assert_eq!(loaded.format, Format::Generic);
}

#[test]
fn explicit_format_overrides_detection() {
    let opts = LoadOptions { format: Format::Gsm8k, ..LoadOptions::default() };
    let text = "question,answer\nWhat is 5*5?,\"5*5 = <<5*5=25>>25\n#### 25\"\n";
    let Ok(loaded) = load_str("g.csv", text, true, &opts) else { panic!("csv gsm8k") };
    assert_eq!(loaded.format, Format::Gsm8k);
    assert_eq!(loaded.items[0].reference, "25");
}

#[test]
fn error_invalid_json() {
    let text = "{\"question\": \"a\", \"answer\": \"1\"}\n\n{\"question\": \"b\", \"answer\" 5}\n";
    assert_eq!(
        err_text("data.jsonl", text),
        "data.jsonl:3: invalid JSON: expected `:` at column 28"
    );
    assert_eq!(
        err_text("data.jsonl", "[1, 2]\n"),
        "data.jsonl:1: expected a JSON object, found a list"
    );
}

#[test]
fn error_missing_field() {
    let text =
        "{\"question\": \"a\", \"answer\": \"x #### 1\"}\n{\"answer\": \"x #### 2\", \"id\": 9}\n";
    let opts = LoadOptions { format: Format::Gsm8k, ..LoadOptions::default() };
    let Err(e) = load_str("data.jsonl", text, false, &opts) else { panic!("should fail") };
    assert_eq!(e.to_string(), "data.jsonl:2: field `question`: missing");
    assert_eq!(
        e,
        DatasetError::Line {
            file: "data.jsonl".into(),
            line: 2,
            field: Some("question".into()),
            message: "missing".into()
        }
    );
    let math = r#"{"problem": "p", "solution": "no box here"}"#;
    assert_eq!(err_text("m.jsonl", math), "m.jsonl:1: field `solution`: no `\\boxed{...}` answer");
    let gsm = r#"{"question": "q", "answer": "it is 4"}"#;
    let opts = LoadOptions { format: Format::Gsm8k, ..LoadOptions::default() };
    let Err(e) = load_str("g.jsonl", gsm, false, &opts) else { panic!("should fail") };
    assert_eq!(e.to_string(), "g.jsonl:1: field `answer`: no final answer after `####`");
}

#[test]
fn error_wrong_type() {
    let text = r#"{"question": ["not", "text"], "answer": "x #### 1"}"#;
    assert_eq!(
        err_text("data.jsonl", text),
        "data.jsonl:1: field `question`: expected a string, found a list"
    );
    let text = r#"{"id": true, "question": "q", "reference": "1"}"#;
    assert_eq!(
        err_text("n.jsonl", text),
        "n.jsonl:1: field `id`: expected a string or number, found a boolean"
    );
    let text = r#"{"id": 1, "question": "q", "reference": "1", "answer_kind": "vibes"}"#;
    assert_eq!(
        err_text("n.jsonl", text),
        "n.jsonl:1: field `answer_kind`: unknown answer kind `vibes` (expected number, choice, math or text)"
    );
    let text = r#"{"id": 1, "question": "q", "reference": "F", "answer_kind": "choice", "choices": ["a", "b"]}"#;
    assert_eq!(
        err_text("n.jsonl", text),
        "n.jsonl:1: field `reference`: `F` is outside the 2 choices"
    );
    let text = r#"{"question": "q", "answer": [1], "response": "r", "response_label": "maybe"}"#;
    assert!(
        err_text("c.jsonl", text)
            .starts_with("c.jsonl:1: field `response_label`: expected a boolean")
    );
}

#[test]
fn error_bad_previous_score() {
    for bad in [r#"true"#, r#"[]"#, r#"[true, false]"#, r#"["true"]"#] {
        let text = format!(
            r#"{{"idx": 1, "question": "q", "gt": "1", "reasoning": "r", "pred": "1", "previous_score": {bad}}}"#
        );
        assert_eq!(
            err_text("rc.jsonl", &text),
            "rc.jsonl:1: field `previous_score`: expected a list of one boolean",
            "{bad}"
        );
    }
}

#[test]
fn error_duplicate_id() {
    let text = "{\"id\": \"a\", \"question\": \"q\", \"reference\": \"1\"}\n{\"id\": \"b\", \"question\": \"q\", \"reference\": \"1\"}\n{\"id\": \"a\", \"question\": \"q2\", \"reference\": \"2\"}\n";
    assert_eq!(
        err_text("dup.jsonl", text),
        "dup.jsonl:3: field `id`: duplicate id `a` (first used on line 1)"
    );
    // A numeric id and the line-number fallback collide too.
    let text = "{\"question\": \"q\", \"answer\": \"x #### 1\"}\n{\"id\": 1, \"question\": \"q\", \"answer\": \"x #### 1\"}\n";
    assert_eq!(
        err_text("g.jsonl", text),
        "g.jsonl:2: field `id`: duplicate id `1` (first used on line 1)"
    );
}

#[test]
fn error_empty_file() {
    for text in ["", "\n  \n\t\n", "\u{feff}"] {
        assert_eq!(
            load("empty.jsonl", text),
            Err(DatasetError::Empty { file: "empty.jsonl".into() })
        );
    }
    assert_eq!(err_text("empty.jsonl", ""), "empty.jsonl: no items (the file is empty)");
    let csv = load_str("h.csv", "question,answer\n", true, &LoadOptions::default());
    assert_eq!(csv, Err(DatasetError::Empty { file: "h.csv".into() }));
}

#[test]
fn skip_bad_loads_the_rest() {
    let text = "{\"question\": \"a\", \"answer\": \"s #### 1\"}\n\
                {\"question\": \"b\", \"answer\": \"s #### 2\"\n\
                {\"question\": 5, \"answer\": \"s #### 3\"}\n\
                {\"question\": \"d\", \"answer\": \"s #### 4\", \"id\": 1}\n\
                {\"question\": \"e\", \"answer\": \"s #### 5\"}\n";
    let opts = LoadOptions { skip_bad: true, ..LoadOptions::default() };
    let Ok(loaded) = load_str("mix.jsonl", text, false, &opts) else { panic!("skip_bad load") };
    assert_eq!(loaded.format, Format::Gsm8k);
    let refs: Vec<&str> = loaded.items.iter().map(|i| i.reference.as_str()).collect();
    assert_eq!(refs, ["1", "5"]);
    let msgs: Vec<String> = loaded.skipped.iter().map(ToString::to_string).collect();
    assert_eq!(
        msgs,
        [
            "mix.jsonl:2: invalid JSON: EOF while parsing an object at column 38",
            "mix.jsonl:3: field `question`: expected a string, found a number",
            "mix.jsonl:4: field `id`: duplicate id `1` (first used on line 1)",
        ]
    );
    // Without skip_bad the first bad line is the error.
    assert_eq!(err_text("mix.jsonl", text), msgs[0]);
    // Every line bad: the first problem is reported even with skip_bad.
    let Err(e) = load_str("bad.jsonl", "nope\n{}\n", false, &opts) else { panic!("all bad") };
    assert!(e.to_string().starts_with("bad.jsonl:1: invalid JSON"), "{e}");
}

#[test]
fn field_map_parse() {
    assert_eq!(
        FieldMap::parse("question=prompt,reference=target"),
        Ok(FieldMap {
            question: Some("prompt".into()),
            reference: Some("target".into()),
            ..FieldMap::default()
        })
    );
    assert_eq!(FieldMap::parse(""), Ok(FieldMap::default()));
    let cases = [
        (
            "answer=target",
            "field map `answer=target`: unknown target `answer` (expected one of: id, question, reference, answer_kind, choices)",
        ),
        ("question", "field map `question`: `question` is not of the form target=column"),
        ("id=", "field map `id=`: no column given for `id`"),
        ("id=a,id=b", "field map `id=a,id=b`: `id` is mapped twice"),
    ];
    for (spec, want) in cases {
        match FieldMap::parse(spec) {
            Ok(m) => panic!("{spec} parsed as {m:?}"),
            Err(e) => assert_eq!(e.to_string(), want),
        }
    }
}

#[test]
fn mapped_field_missing_is_clear() {
    let Ok(map) = FieldMap::parse("id=key") else { panic!("map") };
    let opts = LoadOptions { map: Some(map), ..LoadOptions::default() };
    let Err(e) = load_str("g.jsonl", r#"{"question": "q", "answer": "1"}"#, false, &opts) else {
        panic!("fail")
    };
    assert_eq!(
        e.to_string(),
        "g.jsonl:1: field `key`: missing (keys present: question, answer; map columns with --map)"
    );
}

#[test]
fn format_names_round_trip() {
    for f in Format::ALL {
        assert_eq!(f.to_string().parse::<Format>(), Ok(f));
    }
    assert_eq!("GSM8K".parse::<Format>(), Ok(Format::Gsm8k));
    assert!("csv".parse::<Format>().is_err_and(|e| e.contains("expected one of: auto, gsm8k")));
}

#[test]
fn items_hash_is_stable() {
    let items = load_ok("gsm8k.jsonl", GSM8K).items;
    let h = items_hash(&items);
    assert_eq!(h.len(), 16);
    assert!(h.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(h, items_hash(&items.clone()));
    // Meta key order does not matter; content does.
    let mut reordered = items.clone();
    reordered[1].meta = reordered[1].meta.clone().into_iter().rev().collect();
    assert_eq!(items_hash(&reordered), h);
    let mut changed = items.clone();
    changed[0].reference = "73".into();
    assert_ne!(items_hash(&changed), h);
    assert_ne!(items_hash(&[]), h);
}

#[test]
fn resolve_names_and_paths() {
    let Ok(arith) = resolve(DEFAULT_DATASET, &LoadOptions::default()) else { panic!("arith") };
    assert_eq!((arith.format, arith.items[0].source.as_str()), (Format::Gsm8k, "arith"));
    match resolve("nonesuch", &LoadOptions::default()) {
        Err(DatasetError::UnknownDataset { name, known }) => {
            assert_eq!((name.as_str(), known.as_str()), ("nonesuch", "arith, choice"));
        }
        other => panic!("unexpected {other:?}"),
    }
    let Err(e) = resolve("no/such/file.jsonl", &LoadOptions::default()) else {
        panic!("missing file")
    };
    assert!(matches!(e, DatasetError::Io { ref file, .. } if file == "no/such/file.jsonl"), "{e}");

    let Ok(dir) = tempfile::tempdir() else { panic!("tempdir") };
    let path = dir.path().join("mine.CSV");
    let Ok(()) = std::fs::write(&path, "question,answer\nq1,7\n") else { panic!("write") };
    let Some(p) = path.to_str() else { panic!("utf8 path") };
    let Ok(loaded) = resolve(p, &LoadOptions::default()) else { panic!("csv path") };
    assert_eq!((loaded.format, loaded.items[0].source.as_str()), (Format::Generic, "mine"));
    let bad = dir.path().join("bad.jsonl");
    let Ok(()) = std::fs::write(&bad, "{\"question\": 1}\n") else { panic!("write") };
    let Err(e) = load_path(&bad, &LoadOptions::default()) else { panic!("bad") };
    assert_eq!(
        e.to_string(),
        format!("{}:1: field `question`: expected a string, found a number", bad.display())
    );
}

#[test]
fn nothing_panics_on_odd_input() {
    let samples =
        [GSM8K, MATH, REALCRITIC, CRITICBENCH, CSV, "{\"a\":\n\"<<\"}", "\u{0}\u{feff}ü,\"\n"];
    let mut opts = LoadOptions { skip_bad: true, ..LoadOptions::default() };
    for text in samples {
        let cuts: Vec<usize> = (0..=text.len()).filter(|&i| text.is_char_boundary(i)).collect();
        for format in Format::ALL {
            opts.format = format;
            for &cut in cuts.iter().step_by(7) {
                let _ = load_str("fuzz.jsonl", &text[..cut], false, &opts);
                let _ = load_str("fuzz.csv", &text[..cut], true, &opts);
            }
        }
    }
}

// ---- bundled datasets ----

#[test]
fn bundled_datasets_match_generator() {
    let generated =
        [("arith.jsonl", synth::arith_jsonl()), ("choice.jsonl", synth::choice_jsonl())];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets");
    let regen = std::env::var("CRITLOOP_REGEN_DATASETS").is_ok_and(|v| v == "1");
    for (file, text) in generated {
        let text = match text {
            Ok(t) => t,
            Err(e) => panic!("{file}: {e}"),
        };
        let path = dir.join(file);
        if regen {
            if let Err(e) = std::fs::write(&path, &text) {
                panic!("writing {}: {e}", path.display());
            }
            continue;
        }
        let Some(b) = bundled().iter().find(|b| b.file.ends_with(file)) else {
            panic!("{file} not bundled")
        };
        assert!(
            b.text == text,
            "{file} differs from the generator; run CRITLOOP_REGEN_DATASETS=1 cargo test bundled_datasets_match_generator"
        );
    }
}

/// Evaluate `a op b op c …` with integer + - * / and the usual precedence.
fn eval(expr: &str) -> Option<i64> {
    let mut terms: Vec<i64> = Vec::new();
    let mut signs: Vec<i64> = Vec::new();
    let mut num = String::new();
    let mut pending: Option<char> = None; // * or / waiting for its right operand
    let mut sign = 1;
    let flush = |num: &mut String,
                 terms: &mut Vec<i64>,
                 signs: &mut Vec<i64>,
                 pending: &mut Option<char>,
                 sign: i64|
     -> Option<()> {
        let v: i64 = num.parse().ok()?;
        num.clear();
        match pending.take() {
            Some('*') => *terms.last_mut()? *= v,
            Some('/') => {
                let last = terms.last_mut()?;
                if *last % v != 0 {
                    return None;
                }
                *last /= v;
            }
            _ => {
                terms.push(v);
                signs.push(sign);
            }
        }
        Some(())
    };
    for c in expr.chars() {
        match c {
            '0'..='9' => num.push(c),
            '+' | '-' | '*' | '/' => {
                flush(&mut num, &mut terms, &mut signs, &mut pending, sign)?;
                match c {
                    '+' => sign = 1,
                    '-' => sign = -1,
                    _ => pending = Some(c),
                }
            }
            _ => return None,
        }
    }
    flush(&mut num, &mut terms, &mut signs, &mut pending, sign)?;
    Some(terms.iter().zip(&signs).map(|(t, s)| t * s).sum())
}

#[test]
fn bundled_arith_is_consistent() {
    let Some(b) = bundled().iter().find(|b| b.name == "arith") else { panic!("arith") };
    let loaded = load_ok(b.file, b.text);
    assert_eq!(loaded.format, Format::Gsm8k);
    assert_eq!(loaded.items.len(), synth::ARITH_COUNT);
    let mut topics = std::collections::BTreeSet::new();
    for (i, raw) in b.text.lines().enumerate() {
        let item = &loaded.items[i];
        assert_eq!(item.id.0, format!("arith-{:03}", i + 1));
        assert_eq!(item.answer_kind, AnswerKind::Number);
        let Ok(v) = serde_json::from_str::<Value>(raw) else { panic!("line {i}") };
        let Some(answer) = v["answer"].as_str() else { panic!("answer") };
        let lines: Vec<&str> = answer.lines().collect();
        let Some((last, steps)) = lines.split_last() else { panic!("empty answer") };
        assert_eq!(*last, format!("#### {}", item.reference));
        assert!((2..=5).contains(&steps.len()), "{}: {} steps", item.id, steps.len());
        let mut final_value = None;
        for step in steps {
            let Some(open) = step.find("<<") else {
                panic!("{}: step without annotation: {step}", item.id)
            };
            let Some(close) = step.find(">>") else { panic!("unclosed annotation") };
            let Some((expr, result)) = step[open + 2..close].split_once('=') else {
                panic!("annotation")
            };
            let Ok(result) = result.parse::<i64>() else { panic!("{}: result {result}", item.id) };
            assert_eq!(eval(expr), Some(result), "{}: {expr}", item.id);
            assert!(
                step[close + 2..].starts_with(&result.to_string()),
                "{}: shown result",
                item.id
            );
            assert!(result > 0 && result <= 20_000);
            final_value = Some(result);
        }
        assert_eq!(final_value.map(|v| v.to_string()), Some(item.reference.clone()), "{}", item.id);
        assert!(meta_str(item, "solution").is_some_and(|s| !s.contains("<<")));
        if let Some(t) = meta_str(item, "topic") {
            topics.insert(t.to_string());
        }
    }
    assert_eq!(topics.len(), 18, "every template is used");
}

#[test]
fn bundled_choice_is_consistent() {
    let Some(b) = bundled().iter().find(|b| b.name == "choice") else { panic!("choice") };
    let loaded = load_ok(b.file, b.text);
    assert_eq!(loaded.format, Format::Critloop);
    assert_eq!(loaded.items.len(), synth::CHOICE_COUNT);
    for item in &loaded.items {
        assert_eq!((item.answer_kind, item.source.as_str()), (AnswerKind::Choice, "choice"));
        let Some(choices) = &item.choices else { panic!("{}: no choices", item.id) };
        assert!(choices.len() == 4 || choices.len() == 5);
        let mut distinct = choices.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), choices.len(), "{}: repeated choice", item.id);
        let Some(&letter) = item.reference.as_bytes().first() else { panic!("reference") };
        let Some(value) = choices.get(usize::from(letter - b'A')) else {
            panic!("{}: letter out of range", item.id)
        };
        let Some(solution) = meta_str(item, "solution") else { panic!("solution") };
        assert_eq!(crate::grade::last_boxed(solution), Some(item.reference.clone()));
        assert!(solution.ends_with(&format!("The answer is \\boxed{{{}}}", item.reference)));
        assert!(solution.contains(&format!("{value} is option {}", item.reference)), "{}", item.id);
    }
}

#[test]
fn invalid_utf8_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.jsonl");
    std::fs::write(&path, b"{\"question\":\"q\",\"answer\":\"1\"}\n{\"question\":\"\xff\"}\n")
        .unwrap();
    let err = load_path(&path, &LoadOptions::default()).unwrap_err().to_string();
    assert_eq!(err, format!("{}:2: not UTF-8 text (invalid byte at column 14)", path.display()));
}

#[test]
fn errors_quoting_outside_text_stay_one_short_line() {
    // A duplicate id that holds a newline and is 100 KB long.
    let id = format!("a\\n{}", "b".repeat(100_000));
    let line = format!(r#"{{"id":"{id}","question":"q","answer":"1"}}"#);
    let err = err_text("d.jsonl", &format!("{line}\n{line}\n"));
    assert!(err.starts_with("d.jsonl:2: field `id`: duplicate id `a\\nbbb"), "{err}");
    assert!(err.ends_with("(first used on line 1)"), "the end after the quote stays: {err}");
    assert!(!err.contains('\n') && err.chars().count() < 300, "{err}");
}
