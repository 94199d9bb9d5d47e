//! In-process fuzzing of every parser of outside input (issue 15): dataset loaders and format
//! detection, the transcript importer, the label importer, the grader (extraction, equivalence,
//! verdict and confidence), the config, keymap, label schema, theme and protocol parsers.
//!
//! Inputs are random bytes, invalid UTF-8, mutations of the project's own valid files, wrong JSON
//! and TOML types in every field, lines up to 1 MB and nesting up to 100,000 deep. Each case must
//! not panic, must finish within [`BUDGET`], and an error must read as one clear line.
//!
//! The default run does ~24,000 cases, `CRITLOOP_LONG=1` a million; `CRITLOOP_FUZZ_CASES=N`
//! spreads N cases over the drivers
//! (`CRITLOOP_FUZZ_CASES=1000000 cargo test --release --test fuzz_inputs -- --nocapture`), and
//! `CRITLOOP_FUZZ_SEED` changes the generator seed. Each driver prints how many cases it ran.

use std::path::Path;
use std::time::{Duration, Instant};

use critloop::config::Config;
use critloop::dataset::{FieldMap, Format, LoadOptions, detect_object, detect_text, load_str};
use critloop::domain::{AnswerKind, LabelSchema};
use critloop::export::{ImportOptions, import_transcripts, labels::import_labels};
use critloop::grade::{self, GradeOptions};
use critloop::store::Store;
use critloop::tui::{Key, Keymap, Theme};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// The most CPU time one case may take, 1 MB inputs included: 2 s in a release build (the long
/// mode); a debug build runs the parsers 10–30 times slower, so 10 s there. CPU time of the
/// case's own thread, so a loaded machine (11 drivers on 2 cores) does not fail a case.
const BUDGET: Duration = Duration::from_secs(if cfg!(debug_assertions) { 10 } else { 2 });

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
/// Cases of the default run, over all drivers.
const DEFAULT_TOTAL: usize = 24_000;
/// The longest error message that still reads as one line.
const MAX_ERROR_CHARS: usize = 2_000;

// ---------------------------------------------------------------------------------------------
// Case counts and checks

/// Cases for a driver that gets `share` of the total (shares over all drivers sum to 1).
fn cases(share: f64) -> usize {
    let total = std::env::var("CRITLOOP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse::<usize>().ok())
        // The one long-mode switch of the reliability tests means a million here.
        .or_else(|| std::env::var("CRITLOOP_LONG").is_ok_and(|v| v == "1").then_some(1_000_000))
        .unwrap_or(DEFAULT_TOTAL);
    ((total as f64 * share).ceil() as usize).max(1)
}

fn rng(driver: &str) -> ChaCha8Rng {
    let seed = std::env::var("CRITLOOP_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(15);
    // One stream per driver, so adding a driver does not change the others' inputs.
    let salt = driver
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    ChaCha8Rng::seed_from_u64(seed ^ salt)
}

thread_local! {
    /// The slowest case of the driver running on this thread.
    static SLOWEST: std::cell::Cell<Duration> = const { std::cell::Cell::new(Duration::ZERO) };
}

/// Runs `one` under the time budget, naming the case when it is too slow.
fn timed<T>(driver: &str, case: usize, input: &[u8], one: impl FnOnce() -> T) -> T {
    let start = thread_cpu();
    let out = one();
    let took = thread_cpu() - start;
    SLOWEST.with(|s| s.set(s.get().max(took)));
    assert!(
        took < BUDGET,
        "{driver} case {case} took {took:?} of CPU (budget {BUDGET:?}); input ({} bytes) starts {:?}",
        input.len(),
        String::from_utf8_lossy(&input[..input.len().min(200)])
    );
    out
}

/// An error message is one non-empty line of readable length.
fn assert_one_line(driver: &str, case: usize, msg: &str) {
    assert!(!msg.trim().is_empty(), "{driver} case {case}: empty error message");
    assert!(
        !msg.contains(['\n', '\r']),
        "{driver} case {case}: error spans lines: {:?}",
        &msg[..msg.len().min(400)]
    );
    assert!(
        msg.chars().count() <= MAX_ERROR_CHARS,
        "{driver} case {case}: error of {} chars: {:?}",
        msg.chars().count(),
        &msg[..msg.floor_char_boundary(400)]
    );
}

/// An error of a line-oriented file names `FILE:LINE:` with a line the text has.
fn assert_names_line(driver: &str, case: usize, msg: &str, file: &str, text_lines: usize) {
    let rest = msg.strip_prefix(file).and_then(|r| r.strip_prefix(':'));
    let Some(rest) = rest else {
        panic!("{driver} case {case}: error does not start with `{file}:`: {msg:?}");
    };
    if let Some((n, _)) = rest.split_once(": ")
        && let Ok(n) = n.parse::<usize>()
    {
        assert!(
            (1..=text_lines.max(1)).contains(&n),
            "{driver} case {case}: line {n} of a {text_lines}-line text: {msg:?}"
        );
    }
}

fn report(driver: &str, n: usize, start: Instant) {
    let slowest = SLOWEST.with(std::cell::Cell::get);
    eprintln!(
        "fuzz {driver}: {n} cases in {:.1?} (slowest case {slowest:.1?} of CPU)",
        start.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// Seeds

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("seed {}: {e}", full.display()))
}

fn files_in(dir: &str, ext: &str) -> Vec<String> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut paths: Vec<_> = std::fs::read_dir(&full)
        .unwrap_or_else(|e| panic!("{}: {e}", full.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect()
}

/// Whole files, and each file's first few lines alone (short seeds mutate into more shapes).
fn with_short_forms(files: Vec<String>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for f in files {
        let lines: Vec<&str> = f.lines().collect();
        for l in lines.iter().take(3) {
            out.push(l.as_bytes().to_vec());
        }
        out.push(lines.iter().take(6).copied().collect::<Vec<_>>().join("\n").into_bytes());
    }
    out
}

fn dataset_seeds() -> Vec<Vec<u8>> {
    let mut files = vec![
        read("datasets/arith.jsonl"),
        read("datasets/choice.jsonl"),
        read("tests/fixtures/realcritic_mix.jsonl"),
        read("tests/fixtures/bad_dataset.jsonl"),
    ];
    // One record of each other format, as the loaders document them.
    files.push(
        [
            r#"{"problem":"Find $x$ if $2x=4$.","solution":"So $x=\boxed{2}$.","level":"Level 1","type":"Algebra","unique_id":"m1"}"#,
            r#"{"question":"2+2?","answer":["4"],"response":"It is 4.","response_label":"correct","id":3}"#,
            r#"{"id":"c1","question":"Pick","reference":"B","answer_kind":"choice","choices":["x","y"],"given":{"text":"B","answer":"B","correct":true},"source":"s","meta":{"k":1}}"#,
            r#"{"prompt":"What is 3*3?","target":9,"uid":"u1"}"#,
        ]
        .join("\n"),
    );
    with_short_forms(files)
}

fn csv_seeds() -> Vec<Vec<u8>> {
    vec![
        b"question,answer\nWhat is 2+2?,\"2+2=4\n#### 4\"\nWhat is 3+3?,\"#### 6\"\n".to_vec(),
        b"id,prompt,target,choices\n1,Pick one,B,\"[\"\"x\"\",\"\"y\"\"]\"\n2,Pick,A,x|y|z\n"
            .to_vec(),
        b"problem,solution\n\"Find x\",\"x=\\boxed{2}\"\n".to_vec(),
    ]
}

fn transcript_seeds() -> Vec<Vec<u8>> {
    with_short_forms(files_in("tests/fixtures/transcripts", "jsonl"))
}

fn label_seeds() -> Vec<Vec<u8>> {
    let mut seeds = transcript_seeds();
    let lines = [
        r#"{"run":"human_labels","item_id":"h1","sample":0,"annotator":"ana","turn":1,"name":"error_found","value":"yes","time":1700000000,"millis":12}"#,
        r#"{"run":"human_labels","item_id":"h1","sample":0,"annotator":"bo","name":"notes","value":"fine","time":5}"#,
        r#"{"run":"human_labels","item_id":"h2","sample":0,"annotator":"ana","turn":1,"name":"error_found","value":"","retracted":true,"time":9}"#,
    ];
    for l in lines {
        seeds.push(l.as_bytes().to_vec());
    }
    seeds.push(lines.join("\n").into_bytes());
    seeds
}

/// Texts the grader sees: answers, references and critiques from the fixtures and transcripts.
fn grader_seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for file in files_in("tests/fixtures/grading", "jsonl") {
        for line in file.lines() {
            if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(line) {
                for k in ["answer", "reference", "text", "question"] {
                    if let Some(Value::String(s)) = o.get(k) {
                        out.push(s.as_bytes().to_vec());
                    }
                }
            }
        }
    }
    for file in files_in("tests/fixtures/transcripts", "jsonl") {
        for line in file.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
            for t in v.get("turns").and_then(Value::as_array).into_iter().flatten() {
                if let Some(Value::String(s)) = t.get("content") {
                    out.push(s.as_bytes().to_vec());
                }
            }
        }
    }
    for s in [
        "Verdict: incorrect\nConfidence: 85%",
        "The solution is Correct. Confidence: 0.7",
        "[[wrong]] there is an error in step 2",
        r#"{"verdict": "correct", "confidence": 0.9}"#,
        "I found no errors. The answer is not incorrect.",
        r"The answer is \boxed{\frac{1}{2}}",
        r"\left( 1, \dfrac{3}{4} \right]",
        r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}",
        r"x^2 - 5x + 6 = 0 \text{ and } \sqrt{2}",
        "#### 1,234.5",
        "(B)",
        "50%",
    ] {
        out.push(s.as_bytes().to_vec());
    }
    out
}

fn config_seeds() -> Vec<Vec<u8>> {
    let mut out = vec![
        read("assets/keymap.toml").into_bytes(),
        read("assets/labels.toml").into_bytes(),
        br#"annotator = "ana"
theme = "light"

[run]
dataset = "arith"
protocol = "critique-revise"
concurrency = 8
seed = 7

[profiles.local]
base_url = "http://127.0.0.1:8080/v1"
base_urls = ["http://a/v1", "http://b/v1"]
model = "qwen"
api_key_env = "OPENAI_API_KEY"
concurrency = 4
rpm = 60
timeout = 30.5
max_retries = 3
logprobs = true
price_prompt_per_mtok = 0.1

[keys.episode]
next_turn = ["j", "down", "ctrl-n"]

[[labels]]
name = "tone"
applies_to = "critique"
values = [{ value = "harsh", key = "H" }, { value = "kind" }]
"#
        .to_vec(),
    ];
    out.extend(files_in("themes", "toml").into_iter().map(String::into_bytes));
    out
}

fn theme_seeds() -> Vec<Vec<u8>> {
    files_in("themes", "toml").into_iter().map(String::into_bytes).collect()
}

fn protocol_seeds() -> Vec<Vec<u8>> {
    files_in("assets/protocols", "toml").into_iter().map(String::into_bytes).collect()
}

// ---------------------------------------------------------------------------------------------
// Input generation

/// Bits of syntax worth splicing into any input.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ",",
    ":",
    "=",
    "\\",
    "\n",
    "\r\n",
    "\t",
    " ",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1e999",
    "-0.0",
    "18446744073709551616",
    "4294967295",
    "NaN",
    "\"\"",
    "\\u0000",
    "\\ud800",
    "[[",
    "]]",
    "[a.b]",
    "#",
    "'",
    "\"\"\"",
    "\\boxed{",
    "\\fbox{",
    "####",
    "Verdict:",
    "Confidence:",
    "%",
    "\\frac",
    "{}",
    "^",
    "_",
    "(",
    ")",
    "\\left(",
    "\\right]",
    "\\sqrt",
    "\\text{ and }",
    "\\pm",
    ",",
    "1/0",
    "0.5",
    "\\infty",
    "ctrl-",
    "shift-",
    "alt-",
    "f99",
    "#zzzzzz",
    "255",
    "\u{1b}[2J",
    "\u{202e}",
    "\u{0}",
    "é",
    "数学",
    "\u{301}",
    "👍🏽",
    "\u{feff}",
];

/// Values of every JSON type, for wrong-type substitution.
fn json_value(g: &mut ChaCha8Rng, depth: u32) -> Value {
    match g.random_range(0..10) {
        0 => Value::Null,
        1 => Value::Bool(g.random()),
        2 => Value::from(g.random::<i64>()),
        3 => Value::from(g.random::<u64>()),
        4 => {
            serde_json::Number::from_f64(g.random::<f64>() * 1e6).map_or(Value::Null, Value::Number)
        }
        5 => Value::from(*pick(g, &[0i64, -1, 1, 4_294_967_296, i64::MIN])),
        6 => Value::String(token_string(g)),
        7 if depth < 3 => {
            Value::Array((0..g.random_range(0..4)).map(|_| json_value(g, depth + 1)).collect())
        }
        8 if depth < 3 => Value::Object(
            (0..g.random_range(0..4))
                .map(|_| (token_string(g), json_value(g, depth + 1)))
                .collect(),
        ),
        _ => Value::String(String::new()),
    }
}

fn token_string(g: &mut ChaCha8Rng) -> String {
    (0..g.random_range(0..4)).map(|_| *pick(g, TOKENS)).collect()
}

fn pick<'a, T>(g: &mut ChaCha8Rng, xs: &'a [T]) -> &'a T {
    &xs[g.random_range(0..xs.len())]
}

/// A length from 1 to `max`, every order of magnitude about as likely.
fn log_len(g: &mut ChaCha8Rng, max: usize) -> usize {
    let exp = g.random::<f64>() * (max as f64).ln();
    (exp.exp() as usize).clamp(1, max)
}

/// Replaces one value somewhere inside `v` by a value of a random type.
fn replace_somewhere(g: &mut ChaCha8Rng, v: &mut Value) {
    let go_deeper = g.random_bool(0.5);
    match v {
        Value::Object(o) if !o.is_empty() => {
            let i = g.random_range(0..o.len());
            if let Some((_, child)) = o.iter_mut().nth(i) {
                if go_deeper && (child.is_object() || child.is_array()) {
                    replace_somewhere(g, child);
                } else {
                    *child = json_value(g, 0);
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let i = g.random_range(0..a.len());
            if go_deeper && (a[i].is_object() || a[i].is_array()) {
                replace_somewhere(g, &mut a[i]);
            } else {
                a[i] = json_value(g, 0);
            }
        }
        other => *other = json_value(g, 0),
    }
}

/// Wrong types for a JSONL seed: one line's value somewhere replaced, or a field removed.
fn mutate_json_types(g: &mut ChaCha8Rng, seed: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(seed).ok()?;
    let lines: Vec<&str> = text.lines().collect();
    let at = g.random_range(0..lines.len().max(1));
    let mut v: Value = serde_json::from_str(lines.get(at)?).ok()?;
    for _ in 0..g.random_range(1..3) {
        if g.random_bool(0.2)
            && let Value::Object(o) = &mut v
            && !o.is_empty()
        {
            let k = o.keys().nth(g.random_range(0..o.len()))?.clone();
            o.remove(&k);
        } else {
            replace_somewhere(g, &mut v);
        }
    }
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    out[at] = v.to_string();
    Some(out.join("\n").into_bytes())
}

/// Wrong types for a TOML seed: one value somewhere replaced, or a key removed.
fn mutate_toml_types(g: &mut ChaCha8Rng, seed: &[u8]) -> Option<Vec<u8>> {
    fn toml_value(g: &mut ChaCha8Rng) -> toml::Value {
        match g.random_range(0..7) {
            0 => toml::Value::Boolean(g.random()),
            1 => toml::Value::Integer(*pick(g, &[0, -1, 1, i64::MAX, i64::MIN, 70000])),
            2 => toml::Value::Float(*pick(g, &[0.5, -1.0, f64::INFINITY, f64::NAN, 1e300])),
            3 => toml::Value::String(token_string(g)),
            4 => toml::Value::Array(vec![toml::Value::Integer(1), toml::Value::String("x".into())]),
            5 => toml::Value::Table(toml::Table::new()),
            _ => toml::Value::String(String::new()),
        }
    }
    fn walk(g: &mut ChaCha8Rng, t: &mut toml::Table) {
        if t.is_empty() {
            t.insert(token_string(g), toml_value(g));
            return;
        }
        let i = g.random_range(0..t.len());
        let Some(key) = t.keys().nth(i).cloned() else { return };
        if g.random_bool(0.15) {
            t.remove(&key);
            return;
        }
        let deeper = g.random_bool(0.6);
        match t.get_mut(&key) {
            Some(toml::Value::Table(inner)) if deeper => walk(g, inner),
            Some(toml::Value::Array(items)) if deeper && !items.is_empty() => {
                let j = g.random_range(0..items.len());
                match &mut items[j] {
                    toml::Value::Table(inner) => walk(g, inner),
                    other => *other = toml_value(g),
                }
            }
            Some(v) => *v = toml_value(g),
            None => {}
        }
    }
    let text = std::str::from_utf8(seed).ok()?;
    let mut table: toml::Table = toml::from_str(text).ok()?;
    for _ in 0..g.random_range(1..3) {
        walk(g, &mut table);
    }
    toml::to_string(&table).ok().map(String::into_bytes)
}

/// Byte-level mutations of a seed: flips, invalid UTF-8, tokens, deletions, duplications.
fn mutate_bytes(g: &mut ChaCha8Rng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..g.random_range(1..9) {
        let at = g.random_range(0..=b.len());
        match g.random_range(0..8) {
            0 if !b.is_empty() => {
                let i = g.random_range(0..b.len());
                b[i] ^= 1 << g.random_range(0..8);
            }
            1 => b.insert(at, g.random()),
            2 => b.insert(at, *pick(g, &[0xff, 0xfe, 0xc3, 0xe2, 0x80, 0xed, 0xf0])),
            3 | 4 => {
                let t = pick(g, TOKENS).as_bytes();
                b.splice(at..at, t.iter().copied());
            }
            5 if !b.is_empty() => {
                let end = (at + g.random_range(1..64)).min(b.len());
                b.drain(at.min(end)..end);
            }
            6 if !b.is_empty() => {
                let start = g.random_range(0..b.len());
                let end = (start + log_len(g, 256)).min(b.len());
                let chunk = b[start..end].to_vec();
                let reps = g.random_range(1..8);
                for _ in 0..reps {
                    b.splice(at..at, chunk.iter().copied());
                }
            }
            _ => b.truncate(at),
        }
    }
    b
}

/// Nesting `depth` deep of one opener, optionally closed, optionally inside a field.
fn deep(g: &mut ChaCha8Rng, depth: usize) -> Vec<u8> {
    let (open, close) = *pick(
        g,
        &[
            ("[", "]"),
            ("{\"a\":", "}"),
            ("{", "}"),
            ("(", ")"),
            ("\\boxed{", "}"),
            ("\\frac{", "}{2}"),
            ("[[", "]]"),
            ("a=[", "]"),
            ("{a=", "}"),
            ("-", ""),
            ("\\sqrt{", "}"),
            ("2^{", "}"),
        ],
    );
    let mut s = Vec::with_capacity(depth * (open.len() + close.len()) + 16);
    let wrapped = g.random_bool(0.3);
    if wrapped {
        s.extend_from_slice(br#"{"question":"#);
    }
    for _ in 0..depth {
        s.extend_from_slice(open.as_bytes());
    }
    s.push(b'1');
    if g.random_bool(0.5) {
        for _ in 0..depth {
            s.extend_from_slice(close.as_bytes());
        }
    }
    if wrapped {
        s.push(b'}');
    }
    s
}

/// One line of `len` bytes without a newline: one repeated token, or random printable text.
fn long_line(g: &mut ChaCha8Rng, len: usize) -> Vec<u8> {
    if g.random_bool(0.5) {
        let t = pick(g, &["a", "9", "{", "[", "\\boxed{1}", "\"", "é", " ", "1,", "(x"]).as_bytes();
        t.iter().copied().cycle().take(len).collect()
    } else {
        (0..len).map(|_| g.random_range(0x20..0x7f)).collect()
    }
}

/// The extremes every driver meets once: a 1 MB line, 100,000-deep nesting, only invalid
/// UTF-8, nothing at all.
fn specials() -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new(), b"\n\n \n".to_vec(), vec![0xff; 64], vec![0u8; 1000]];
    for t in ["a", "{", "[", "\"", "\\boxed{1}", "9"] {
        out.push(t.as_bytes().iter().copied().cycle().take(1 << 20).collect());
    }
    for (open, close) in [
        ("[", "]"),
        ("{\"a\":", "}"),
        ("(", ")"),
        ("\\boxed{", "}"),
        ("a=[", "]"),
        ("{a=", "}"),
        ("[[", "]]"),
        ("-", ""),
    ] {
        for closed in [false, true] {
            let mut s = open.repeat(100_000);
            s.push('1');
            if closed {
                s.push_str(&close.repeat(100_000));
            }
            out.push(s.into_bytes());
        }
    }
    // A field holding deep JSON inside an otherwise good record.
    let mut field = String::from(r#"{"id":"x","question":"q","answer":"#);
    field.push_str(&"[".repeat(100_000));
    out.push(field.into_bytes());
    out
}

/// Builds inputs for a driver from its seeds.
struct Gen {
    rng: ChaCha8Rng,
    seeds: Vec<Vec<u8>>,
    specials: Vec<Vec<u8>>,
    toml: bool,
}

impl Gen {
    fn new(driver: &str, seeds: Vec<Vec<u8>>, toml: bool) -> Gen {
        assert!(!seeds.is_empty(), "{driver}: no seeds");
        Gen { rng: rng(driver), seeds, specials: specials(), toml }
    }

    /// The input of case `i`: the specials first, then a random mix.
    fn input(&mut self, i: usize) -> Vec<u8> {
        if let Some(s) = self.specials.get(i) {
            return s.clone();
        }
        let g = &mut self.rng;
        let seed = &self.seeds[g.random_range(0..self.seeds.len())];
        match g.random_range(0..100) {
            0..8 => {
                let mut b = vec![0u8; log_len(g, 512)];
                g.fill_bytes(&mut b);
                b
            }
            8..12 => seed.clone(),
            12..52 => mutate_bytes(g, seed),
            52..78 => {
                let typed =
                    if self.toml { mutate_toml_types(g, seed) } else { mutate_json_types(g, seed) };
                typed.unwrap_or_else(|| mutate_bytes(g, seed))
            }
            78..86 => {
                // Two seeds spliced: lines of one format inside another.
                let other = &self.seeds[g.random_range(0..self.seeds.len())];
                let cut_a = g.random_range(0..=seed.len());
                let cut_b = g.random_range(0..=other.len());
                let mut b = seed[..cut_a].to_vec();
                b.extend_from_slice(&other[cut_b..]);
                b
            }
            86..93 => {
                let depth = log_len(g, 100_000);
                deep(g, depth)
            }
            93..97 => {
                // Up to 256 KB at random; every driver also meets a 1 MB line (`specials`).
                let len = log_len(g, 256 << 10);
                let mut b = seed.clone();
                let at = g.random_range(0..=b.len());
                b.splice(at..at, long_line(g, len));
                b
            }
            _ => (0..g.random_range(0..64)).flat_map(|_| pick(g, TOKENS).bytes()).collect(),
        }
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn line_count(text: &str) -> usize {
    text.lines().count().max(1)
}

// ---------------------------------------------------------------------------------------------
// Drivers

#[test]
fn fuzz_dataset_loaders() {
    const DRIVER: &str = "dataset loaders";
    let n = cases(0.20);
    let start = Instant::now();
    let mut json = Gen::new(DRIVER, dataset_seeds(), false);
    let mut csv = Gen::new("dataset loaders csv", csv_seeds(), false);
    let dir = tempfile::tempdir().unwrap();
    let (mut loaded, mut failed) = (0, 0);
    for i in 0..n {
        let is_csv = i % 5 == 4;
        let input = if is_csv { csv.input(i / 5) } else { json.input(i) };
        let g = &mut json.rng;
        let format = *pick(g, &Format::ALL);
        let map = if g.random_bool(0.1) {
            let spec =
                token_string(g) + *pick(g, &["question=prompt", "id=uid,reference=target", "x"]);
            match FieldMap::parse(&spec) {
                Ok(m) => Some(m),
                Err(e) => {
                    assert_one_line(DRIVER, i, &e.to_string());
                    None
                }
            }
        } else {
            None
        };
        let opts = LoadOptions { format, skip_bad: g.random_bool(0.3), map };
        let file = if is_csv { "fuzz.csv" } else { "fuzz.jsonl" };
        // Raw bytes go through the file loader now and then (invalid UTF-8 stays invalid).
        let via_file = g.random_bool(0.03);
        let text = lossy(&input);
        let result = timed(DRIVER, i, &input, || {
            if via_file {
                let path = dir.path().join(file);
                std::fs::write(&path, &input).unwrap();
                critloop::dataset::load_path(&path, &opts)
            } else {
                load_str(file, &text, is_csv, &opts)
            }
        });
        let shown =
            if via_file { dir.path().join(file).display().to_string() } else { file.into() };
        match result {
            Ok(l) => {
                loaded += 1;
                assert!(!l.items.is_empty(), "case {i}: loaded nothing without an error");
                assert_ne!(l.format, Format::Auto);
                for e in &l.skipped {
                    let msg = e.to_string();
                    assert_one_line(DRIVER, i, &msg);
                    assert_names_line(DRIVER, i, &msg, &shown, line_count(&text));
                }
            }
            Err(e) => {
                failed += 1;
                let msg = e.to_string();
                assert_one_line(DRIVER, i, &msg);
                assert_names_line(DRIVER, i, &msg, &shown, line_count(&text));
            }
        }
    }
    eprintln!("fuzz {DRIVER}: {loaded} loaded, {failed} refused");
    report(DRIVER, n, start);
}

#[test]
fn fuzz_format_detection() {
    const DRIVER: &str = "format detection";
    let n = cases(0.06);
    let start = Instant::now();
    let mut fz = Gen::new(DRIVER, dataset_seeds(), false);
    for i in 0..n {
        let input = fz.input(i);
        let text = lossy(&input);
        let is_csv = fz.rng.random_bool(0.2);
        timed(DRIVER, i, &input, || {
            let f = detect_text(&text, is_csv);
            assert_ne!(f, Format::Auto, "case {i}: detection must decide");
            if let Some(Ok(Value::Object(o))) =
                text.lines().next().map(serde_json::from_str::<Value>)
            {
                assert_ne!(detect_object(&o), Format::Auto);
            }
        });
    }
    report(DRIVER, n, start);
}

#[test]
fn fuzz_transcript_lines() {
    const DRIVER: &str = "transcript lines";
    let n = cases(0.12);
    let start = Instant::now();
    let mut fz = Gen::new(DRIVER, transcript_seeds(), false);
    let mut parsed = 0;
    for i in 0..n {
        let input = fz.input(i);
        let text = lossy(&input);
        // The importer hands the parser one line at a time.
        for (no, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let r = timed(DRIVER, i, line.as_bytes(), || {
                critloop::export::parse_transcript_line("t.jsonl", no + 1, line)
            });
            match r {
                Ok(_) => parsed += 1,
                Err(e) => {
                    let msg = e.to_string();
                    assert_one_line(DRIVER, i, &msg);
                    assert!(msg.starts_with(&format!("t.jsonl:{}: ", no + 1)), "{msg:?}");
                }
            }
        }
    }
    eprintln!("fuzz {DRIVER}: {parsed} lines parsed");
    report(DRIVER, n, start);
}

#[test]
fn fuzz_transcript_import() {
    const DRIVER: &str = "transcript import";
    let n = cases(0.05);
    let start = Instant::now();
    let mut fz = Gen::new(DRIVER, transcript_seeds(), false);
    let store = Store::temporary().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut imported = 0;
    for i in 0..n {
        let input = fz.input(i);
        let path = dir.path().join(format!("fuzz{}.jsonl", i % 7));
        std::fs::write(&path, &input).unwrap();
        let opts = ImportOptions { name: Some(format!("fuzz-{i}")), ..Default::default() };
        let opts = if fz.rng.random_bool(0.5) { ImportOptions::default() } else { opts };
        let r = timed(DRIVER, i, &input, || import_transcripts(&store, &path, &opts));
        match r {
            Ok(runs) => {
                imported += 1;
                for run in runs {
                    // Every stored run reads back whole.
                    let items = store.items(run.id).unwrap();
                    assert!(!items.is_empty(), "case {i}: run without items");
                    store.episodes(run.id).unwrap();
                    store.delete_run(run.id).unwrap();
                }
            }
            Err(e) => {
                let msg = e.to_string();
                assert_one_line(DRIVER, i, &msg);
                let text = lossy(&input);
                if !msg.contains("run name") && !msg.contains("already") {
                    assert_names_line(
                        DRIVER,
                        i,
                        &msg,
                        &path.display().to_string(),
                        line_count(&text),
                    );
                }
            }
        }
    }
    eprintln!("fuzz {DRIVER}: {imported} files imported");
    report(DRIVER, n, start);
}

#[test]
fn fuzz_label_import() {
    const DRIVER: &str = "label import";
    let n = cases(0.10);
    let start = Instant::now();
    let mut fz = Gen::new(DRIVER, label_seeds(), false);
    let store = Store::temporary().unwrap();
    // A run the label lines can name, so good lines get as far as the merge.
    let dir = tempfile::tempdir().unwrap();
    let run_file = dir.path().join("human_labels.jsonl");
    std::fs::write(&run_file, read("tests/fixtures/transcripts/human_labels.jsonl")).unwrap();
    import_transcripts(&store, &run_file, &ImportOptions::default()).unwrap();
    let mut merged = 0;
    for i in 0..n {
        let input = fz.input(i);
        let text = lossy(&input);
        let r = timed(DRIVER, i, &input, || import_labels(&store, &text, "labels.jsonl"));
        match r {
            Ok(_) => merged += 1,
            Err(e) => {
                let msg = e.to_string();
                assert_one_line(DRIVER, i, &msg);
                assert_names_line(DRIVER, i, &msg, "labels.jsonl", line_count(&text));
            }
        }
    }
    eprintln!("fuzz {DRIVER}: {merged} files merged");
    report(DRIVER, n, start);
}

const KINDS: [AnswerKind; 4] =
    [AnswerKind::Number, AnswerKind::Choice, AnswerKind::Math, AnswerKind::Text];

#[test]
fn fuzz_grader() {
    const DRIVER: &str = "grader";
    let n = cases(0.22);
    let start = Instant::now();
    let mut fz = Gen::new(DRIVER, grader_seeds(), false);
    let mut right = 0;
    for i in 0..n {
        let a = fz.input(i);
        let b = if i < fz.specials.len() { b"42".to_vec() } else { fz.input(n + i) };
        let g = &mut fz.rng;
        let kind = *pick(g, &KINDS);
        let opts = GradeOptions { qwen_compat: g.random_bool(0.2) };
        let (text, reference) = (lossy(&a), lossy(&b));
        let question = g.random_bool(0.2).then_some("What percentage of the total is it?");
        let explicit = g.random_bool(0.3);
        timed(DRIVER, i, &a, || {
            let grade = grade::grade_with_question(
                &text,
                explicit.then_some(text.as_str()),
                &reference,
                kind,
                opts,
                question,
            );
            assert_eq!(grade.correct, grade.tier != critloop::domain::MatchTier::None);
            right += usize::from(grade.correct);
            if let Some(ans) = grade::extract_answer(&text, kind) {
                assert!(!ans.is_empty() || kind == AnswerKind::Text, "case {i}: empty answer");
            }
            grade::last_boxed(&text);
            // Equivalence both ways; each side alone is where the symbolic tier parses whole.
            grade::equivalent_with_question(&reference, &text, kind, opts, question);
            grade::equivalent(&text, &text, kind, opts);
        });
    }
    eprintln!("fuzz {DRIVER}: {right} graded right");
    report(DRIVER, n, start);
}

#[test]
fn fuzz_verdict_and_confidence() {
    const DRIVER: &str = "verdict and confidence";
    let n = cases(0.12);
    let start = Instant::now();
    let mut fz = Gen::new(DRIVER, grader_seeds(), false);
    let mut parsed = 0;
    for i in 0..n {
        let input = fz.input(i);
        let text = lossy(&input);
        timed(DRIVER, i, &input, || {
            let v = grade::parse_verdict_full(&text);
            assert_eq!(grade::parse_verdict(&text), v.verdict);
            parsed += usize::from(v.verdict != critloop::domain::Verdict::Unparsed);
            if let Some(c) = grade::parse_confidence(&text) {
                assert!(c.is_finite() && (0.0..=1.0).contains(&c), "case {i}: confidence {c}");
            }
        });
    }
    eprintln!("fuzz {DRIVER}: {parsed} verdicts read");
    report(DRIVER, n, start);
}

#[test]
fn fuzz_config_keymap_labels() {
    const DRIVER: &str = "config, keymap and label schema";
    let n = cases(0.08);
    let start = Instant::now();
    let mut fz = Gen::new(DRIVER, config_seeds(), true);
    let (mut configs, mut keymaps) = (0, 0);
    for i in 0..n {
        let input = fz.input(i);
        let text = lossy(&input);
        timed(DRIVER, i, &input, || match Config::parse("fuzz.toml", &text) {
            Ok(config) => {
                configs += 1;
                match LabelSchema::load(&config.labels) {
                    Ok(schema) => match Keymap::load(&config.keys, &schema) {
                        Ok(_) => keymaps += 1,
                        Err(e) => assert_one_line(DRIVER, i, &e),
                    },
                    Err(e) => assert_one_line(DRIVER, i, &e),
                }
            }
            Err(e) => {
                let msg = e.to_string();
                assert_one_line(DRIVER, i, &msg);
                assert!(msg.starts_with("config fuzz.toml: "), "{msg:?}");
            }
        });
    }
    eprintln!("fuzz {DRIVER}: {configs} configs read, {keymaps} keymaps built");
    report(DRIVER, n, start);
}

#[test]
fn fuzz_key_names() {
    const DRIVER: &str = "key names";
    let n = cases(0.02);
    let start = Instant::now();
    let seeds = ["ctrl-a", "shift-x", "alt-shift-ß", "f12", "pagedown", "space", "ctrl-alt-ǆ"];
    let mut fz = Gen::new(DRIVER, seeds.iter().map(|s| s.as_bytes().to_vec()).collect(), false);
    for i in 0..n {
        let input = fz.input(i);
        let text = lossy(&input);
        timed(DRIVER, i, &input, || match Key::parse(&text) {
            Ok(k) => assert!(!k.display().is_empty()),
            Err(e) => assert_one_line(DRIVER, i, &e),
        });
    }
    report(DRIVER, n, start);
}

#[test]
fn fuzz_themes() {
    const DRIVER: &str = "themes";
    let n = cases(0.02);
    let start = Instant::now();
    let mut fz = Gen::new(DRIVER, theme_seeds(), true);
    for i in 0..n {
        let input = fz.input(i);
        let text = lossy(&input);
        timed(DRIVER, i, &input, || match Theme::parse_text("fuzz.toml", &text) {
            Ok(t) => assert_eq!(t.name, "fuzz.toml"),
            Err(e) => {
                assert_one_line(DRIVER, i, &e);
                assert!(e.starts_with("theme fuzz.toml: "), "{e:?}");
            }
        });
    }
    report(DRIVER, n, start);
}

#[test]
fn fuzz_protocols() {
    const DRIVER: &str = "protocols";
    let n = cases(0.01);
    let start = Instant::now();
    let mut fz = Gen::new(DRIVER, protocol_seeds(), true);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.toml");
    let shown = path.display().to_string();
    for i in 0..n {
        let input = fz.input(i);
        std::fs::write(&path, &input).unwrap();
        timed(DRIVER, i, &input, || match critloop::protocol::load_protocol(&shown) {
            Ok(p) => assert!(p.rounds >= 1),
            Err(e) => assert_one_line(DRIVER, i, &e.to_string()),
        });
    }
    report(DRIVER, n, start);
}
