//! Issue 15: hostile text — escape sequences (OSC, CSI), C1 controls, bidi overrides, NUL, a
//! 100 KB line without spaces, wide and combining characters — is inert on every screen and in
//! every line a command prints, keeps tables aligned, and comes out of every export byte for
//! byte.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use critloop::browse;
use critloop::domain::{LabelSchema, RunId};
use critloop::store::Store;
use critloop::tui::{App, Event, Keymap, Screen, Theme, views};
use crossterm::event::{Event as CtEvent, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// Each a question, and the text of every turn of its episode.
fn hostile() -> Vec<String> {
    vec![
        "osc \u{1b}]0;pwned\u{7} and \u{1b}]52;c;Y2xpcA==\u{7} clipboard".into(),
        "csi \u{1b}[2J\u{1b}[H clear, \u{1b}[8mhidden\u{1b}[0m".into(),
        "c1 \u{9b}31m red and \u{85} next line".into(),
        "bidi \u{202e}live\u{202c} and \u{2066}isolate\u{2069}".into(),
        "nul \u{0} and del \u{7f} and bell \u{7}".into(),
        "wide 漢字テスト combining e\u{301}\u{301} and emoji 👩‍🔬".into(),
        format!("long {}", "x".repeat(100_000)),
    ]
}

fn transcript(dir: &Path) -> std::path::PathBuf {
    let mut text = String::new();
    for (i, h) in hostile().iter().enumerate() {
        let line = serde_json::json!({
            "run": "h",
            "item_id": format!("h{i}"),
            "question": h,
            "reference": "2",
            "turns": [
                {"role": "generate", "content": format!("{h} \\boxed{{2}}")},
                {"role": "critique", "content": format!("{h}\nVerdict: correct")},
                {"role": "revise", "content": format!("{h} \\boxed{{2}}")},
            ],
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    let path = dir.join("hostile.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

fn critloop(db: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::cargo_bin("critloop").unwrap();
    cmd.arg("--db").arg(db).env("CRITLOOP_CONFIG", "/nonexistent/critloop.toml");
    cmd
}

fn ok(cmd: &mut std::process::Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A control character a terminal would act on: C0 but newline and tab, DEL, C1, and the bidi
/// controls that reorder what follows.
fn drives_a_terminal(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A database holding the hostile run, made through `critloop import`, with a label whose
/// annotator and value are hostile too.
fn imported(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("db");
    ok(critloop(&db).arg("import").arg(transcript(dir)));
    let labels = dir.join("labels.jsonl");
    let label = serde_json::json!({
        "run": "h", "item_id": "h0", "sample": 0, "annotator": "an\u{1b}[31ma", "turn": 1,
        "name": "note", "value": "v\u{202e}al\u{0}", "time": 1_700_000_000u64,
    });
    std::fs::write(&labels, format!("{label}\n")).unwrap();
    ok(critloop(&db).args(["labels", "import"]).arg(&labels));
    db
}

#[test]
fn every_export_gives_back_the_text_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let db = imported(dir.path());
    let want = hostile();

    // Transcript JSONL, piped.
    let jsonl =
        String::from_utf8(ok(critloop(&db).args(["export", "h", "--format", "jsonl"]))).unwrap();
    let mut seen = 0;
    for line in jsonl.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let i: usize = v["item_id"].as_str().unwrap()[1..].parse().unwrap();
        assert_eq!(v["question"].as_str().unwrap(), want[i], "jsonl question {i}");
        let turns = v["turns"].as_array().unwrap();
        assert_eq!(turns[0]["content"].as_str().unwrap(), format!("{} \\boxed{{2}}", want[i]));
        assert_eq!(turns[1]["content"].as_str().unwrap(), format!("{}\nVerdict: correct", want[i]));
        seen += 1;
    }
    assert_eq!(seen, want.len());

    // Long format: CSV piped, and Parquet, one row per turn.
    let csv_bytes = ok(critloop(&db).args(["export", "h", "--format", "csv"]));
    let mut reader = csv::Reader::from_reader(csv_bytes.as_slice());
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| {
        header.iter().position(|h| h == name).unwrap_or_else(|| panic!("{name}: {header:?}"))
    };
    let (item, content) = (col("item_id"), col("content"));
    let mut rows = 0;
    for rec in reader.records() {
        let rec = rec.unwrap();
        let i: usize = rec[item][1..].parse().unwrap();
        let turn = &rec[content];
        let rest = turn.strip_prefix(want[i].as_str()).unwrap_or_else(|| panic!("csv {i}"));
        assert!([" \\boxed{2}", "\nVerdict: correct"].contains(&rest), "csv {i}: {rest:?}");
        rows += 1;
    }
    assert_eq!(rows, want.len() * 3);

    let parquet = dir.path().join("h.parquet");
    ok(critloop(&db).args(["export", "h", "--format", "parquet", "--out"]).arg(&parquet));
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let file = SerializedFileReader::new(std::fs::File::open(&parquet).unwrap()).unwrap();
    let mut contents = Vec::new();
    for row in file.get_row_iter(None).unwrap() {
        for (name, field) in row.unwrap().get_column_iter() {
            if let (true, parquet::record::Field::Str(text)) = (name == "content", field) {
                contents.push(text.clone());
            }
        }
    }
    assert_eq!(contents.len(), want.len() * 3);
    for (i, w) in want.iter().enumerate() {
        let of_item = contents.iter().filter(|c| c.starts_with(w.as_str())).count();
        assert_eq!(of_item, 3, "parquet: the three turns of item {i}, whole");
    }

    // The label's hostile annotator and value survive a label export and import elsewhere.
    let labels = String::from_utf8(ok(critloop(&db).args(["labels", "export", "h"]))).unwrap();
    let v: serde_json::Value = serde_json::from_str(labels.lines().next().unwrap()).unwrap();
    assert_eq!(v["annotator"], "an\u{1b}[31ma");
    assert_eq!(v["value"], "v\u{202e}al\u{0}");
}

#[test]
fn what_commands_print_and_the_report_are_inert() {
    let dir = tempfile::tempdir().unwrap();
    let db = imported(dir.path());
    for args in [
        vec!["runs", "list"],
        vec!["runs", "show", "h"],
        vec!["labels", "list", "h"],
        vec!["metrics", "h"],
    ] {
        let out = String::from_utf8(ok(critloop(&db).args(&args))).unwrap();
        let bad: Vec<char> = out.chars().filter(|c| drives_a_terminal(*c)).collect();
        assert!(bad.is_empty(), "{args:?} printed {bad:?}");
    }
    let listed = String::from_utf8(ok(critloop(&db).args(["labels", "list", "h"]))).unwrap();
    assert!(listed.contains("an\\e[31ma") && listed.contains("v\\u{202e}al\\x00"), "{listed}");

    let report = dir.path().join("report");
    ok(critloop(&db).args(["report", "h", "--out"]).arg(&report));
    for e in std::fs::read_dir(&report).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        let bad: Vec<char> = text.chars().filter(|c| drives_a_terminal(*c)).collect();
        assert!(bad.is_empty(), "{} holds {bad:?}", p.display());
    }
}

/// An export printed to a terminal is made inert; the same export into a pipe is byte for byte
/// (the test above).
#[test]
fn an_export_printed_on_a_terminal_is_inert() {
    use portable_pty::{CommandBuilder, PtySize, native_pty_system};
    let dir = tempfile::tempdir().unwrap();
    let db = imported(dir.path());
    let pty = native_pty_system()
        .openpty(PtySize { rows: 40, cols: 200, pixel_width: 0, pixel_height: 0 })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_critloop"));
    cmd.args(["--db", db.to_str().unwrap(), "export", "h", "--format", "csv"]);
    cmd.env("CRITLOOP_CONFIG", "/nonexistent/critloop.toml");
    let mut child = pty.slave.spawn_command(cmd).unwrap();
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().unwrap();
    let collector = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = reader.read_to_end(&mut all);
        all
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "export did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(pty.master);
    let bytes = collector.join().unwrap();
    let text = String::from_utf8_lossy(&bytes);
    // The pty turns \n into \r\n; every other control character must be escaped.
    let bad: Vec<char> = text.chars().filter(|c| *c != '\r' && drives_a_terminal(*c)).collect();
    assert!(bad.is_empty(), "raw controls reached the terminal: {bad:?}");
    assert!(text.contains("\\e]0;pwned\\x07"), "shown, not dropped");
}

fn key(c: char) -> Event {
    Event::Term(CtEvent::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)))
}

fn special(code: KeyCode) -> Event {
    Event::Term(CtEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn draw(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| views::render(app, f)).unwrap();
    t
}

fn assert_inert(t: &Terminal<TestBackend>, what: &str) {
    let bad: Vec<String> = t
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .filter(|s| s.chars().any(drives_a_terminal))
        .map(String::from)
        .collect();
    assert!(bad.is_empty(), "{what}: {bad:?}\n{}", t.backend());
}

/// Every screen of the workbench on the imported run, fed from the database as the workbench
/// is: nothing drives the terminal, the table keeps its columns, and a 100 KB line draws fast.
#[test]
fn every_screen_shows_hostile_text_inert_and_aligned() {
    let dir = tempfile::tempdir().unwrap();
    let db = imported(dir.path());
    let store = Store::open(&db).unwrap();
    let schema = LabelSchema::load(&[]).unwrap();
    let keymap = Keymap::load(&Default::default(), &schema).unwrap();
    let record = store.require_run("h").unwrap();
    let mut app = App::new(keymap, schema.clone(), Theme::plain(), Some("ana".into()), || 0);
    app.update(Event::Runs(browse::runs(&store, &schema).unwrap()));
    for (w, h) in [(80, 24), (120, 35)] {
        assert_inert(&draw(&mut app, w, h), "runs");
    }
    app.update(special(KeyCode::Enter));
    let rows = browse::episodes(&store, &record).unwrap();
    app.update(Event::Episodes { run: RunId(record.id.0), rows: rows.clone(), queue: None });
    assert_eq!(app.screen, Screen::Episodes);
    for (w, h) in [(80, 24), (120, 35)] {
        let t = draw(&mut app, w, h);
        assert_inert(&t, "episodes");
        // Wide and combining characters do not shift the columns: every row's sample column
        // (`0`) is at the same x as the header's `k`.
        let buf = t.backend().buffer();
        let at = |y: u16, s: &str| (0..w).find(|&x| buf[(x, y)].symbol() == s);
        let header = (0..h).find(|&y| at(y, "k").is_some() && at(y, "i").is_some()).unwrap();
        let k = at(header, "k").unwrap();
        for y in header + 1..header + 1 + rows.len() as u16 {
            assert_eq!(buf[(k, y)].symbol(), "0", "row {y} at {w}x{h}:\n{}", t.backend());
        }
    }
    for (i, row) in rows.iter().enumerate() {
        let detail = browse::episode(&store, &record, row.id).unwrap();
        app.update(Event::Episode(Box::new(detail)));
        app.screen = Screen::Episode;
        for (w, h) in [(80, 24), (120, 35)] {
            let started = Instant::now();
            let t = draw(&mut app, w, h);
            assert!(started.elapsed() < Duration::from_secs(10), "item {i} drew slowly (a hang)");
            assert_inert(&t, &format!("episode {i}"));
        }
        app.update(key('v'));
        assert_inert(&draw(&mut app, 120, 35), &format!("episode {i} side by side"));
        app.update(key('v'));
    }
    app.update(key('3'));
    for (w, h) in [(80, 24), (120, 35)] {
        assert_inert(&draw(&mut app, w, h), "metrics");
    }
}
