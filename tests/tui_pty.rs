//! The workbench as a user sees it: the real binary in a pseudo-terminal, its output parsed by
//! a terminal emulator (vt100), keys typed into the pty, labels checked through `export`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod support;

use portable_pty::{Child, CommandBuilder, ExitStatus, MasterPty, PtySize, native_pty_system};
use serde_json::Value;

const ROWS: u16 = 30;
const COLS: u16 = 100;
/// CI is a loaded 2-core machine: waits are generous, polls are short.
const WAIT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(25);

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_critloop")
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// What the program asked of the terminal beyond drawing: window titles and bells.
#[derive(Default)]
struct Seen {
    titles: Vec<String>,
    icon_names: Vec<String>,
    bells: usize,
}

impl vt100::Callbacks for Seen {
    fn audible_bell(&mut self, _: &mut vt100::Screen) {
        self.bells += 1;
    }

    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.titles.push(String::from_utf8_lossy(title).into_owned());
    }

    fn set_window_icon_name(&mut self, _: &mut vt100::Screen, name: &[u8]) {
        self.icon_names.push(String::from_utf8_lossy(name).into_owned());
    }
}

type Screen = Arc<Mutex<vt100::Parser<Seen>>>;

fn contents(screen: &Screen) -> String {
    screen.lock().unwrap().screen().contents()
}

/// Polls the parsed screen until it shows `text`; panics with the screen on timeout.
fn wait_for(screen: &Screen, text: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let now = contents(screen);
        if now.contains(text) {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {text:?}; the screen:\n{now}");
        }
        std::thread::sleep(POLL);
    }
}

/// The TUI running in a pty. Dropping it kills the child (SIGKILL) and reaps it.
struct Tui {
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    screen: Screen,
    _master: Box<dyn MasterPty + Send>,
}

impl Tui {
    fn start(dir: &Path, db: &Path, extra: &[&str]) -> Tui {
        Tui::start_with_config(dir, db, extra, Path::new("/nonexistent/x.toml"))
    }

    fn start_with_config(dir: &Path, db: &Path, extra: &[&str], config: &Path) -> Tui {
        let pair = native_pty_system()
            .openpty(PtySize { rows: ROWS, cols: COLS, pixel_width: 0, pixel_height: 0 })
            .expect("openpty");
        let mut cmd = CommandBuilder::new(bin());
        cmd.arg("--db");
        cmd.arg(db);
        for a in extra {
            cmd.arg(a);
        }
        cmd.env("CRITLOOP_CONFIG", config);
        cmd.env("TERM", "xterm-256color");
        cmd.cwd(dir);
        let child = pair.slave.spawn_command(cmd).expect("spawn critloop in the pty");
        // Only the child holds the slave now, so the reader sees EOF when it exits.
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let writer = pair.master.take_writer().expect("pty writer");
        let screen: Screen = Arc::new(Mutex::new(vt100::Parser::new_with_callbacks(
            ROWS.try_into().unwrap(),
            COLS.try_into().unwrap(),
            0,
            Seen::default(),
        )));
        let sink = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink.lock().unwrap().process(&buf[..n]),
                }
            }
        });
        Tui { child, writer, screen, _master: pair.master }
    }

    fn wait_for(&self, text: &str) {
        wait_for(&self.screen, text, WAIT);
    }

    fn contents(&self) -> String {
        contents(&self.screen)
    }

    fn keys(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).expect("write keys to the pty");
        self.writer.flush().expect("flush the pty");
    }

    /// Waits (bounded) for the child to exit on its own.
    fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() >= deadline {
                panic!(
                    "critloop did not exit within {timeout:?}; the screen:\n{}",
                    self.contents()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// SIGKILL: no handler, no flush, no terminal restore. (portable-pty's `kill` sends SIGHUP
    /// first, which a process may handle.)
    fn sigkill(&mut self) {
        let pid = self.child.process_id().expect("child pid");
        let pid = libc::pid_t::try_from(pid).expect("pid fits pid_t");
        // SAFETY: plain syscall on our own child, which is not reaped yet.
        let rc = unsafe { libc::kill(pid, libc::SIGKILL) };
        assert_eq!(rc, 0, "kill -9 failed: {}", std::io::Error::last_os_error());
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.sigkill();
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(POLL);
            }
        }
    }
}

fn cli(db: &Path, args: &[&str]) -> String {
    let out = assert_cmd::Command::new(bin())
        .arg("--db")
        .arg(db)
        .args(args)
        .env("CRITLOOP_CONFIG", "/nonexistent/x.toml")
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run critloop");
    assert!(
        out.status.success(),
        "critloop {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn export(db: &Path, run: &str) -> Vec<Value> {
    cli(db, &["export", run, "--format", "jsonl"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect()
}

fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    (dir, db)
}

/// Fresh database → the demo run → its first episode, with the first critique selected.
fn open_first_demo_episode(tui: &mut Tui) {
    tui.wait_for("demo");
    tui.wait_for("finished");
    tui.keys("\r");
    tui.wait_for("Episodes of demo");
    // The block title shows while the rows load; Enter on an empty table opens nothing.
    tui.wait_for("300 shown");
    tui.wait_for("arith-001");
    tui.keys("\r");
    tui.wait_for("critique #1");
    // The first critique is selected on open, so `y` labels turn 1.
    tui.wait_for("▶ critique #1");
}

/// The one label the session wrote: on the first episode, and nowhere else.
fn assert_one_label_on_first_episode(lines: &[Value], annotator: &str, since: u64) {
    assert_eq!(lines.len(), 300, "the demo run has 300 episodes");
    let labels = lines[0]["labels"].as_array().unwrap_or_else(|| {
        panic!("no labels on the first episode: {}", lines[0]);
    });
    assert_eq!(labels.len(), 1, "{}", lines[0]);
    let l = &labels[0];
    assert_eq!(l["annotator"], annotator, "{l}");
    assert_eq!(l["name"], "error_found", "{l}");
    assert_eq!(l["value"], "yes", "{l}");
    assert_eq!(l["turn"], 1, "{l}");
    let time = l["time"].as_u64().unwrap_or_else(|| panic!("time is not seconds: {l}"));
    let now = now_secs();
    assert!(
        since.saturating_sub(1) <= time && time <= now + 1,
        "time {time} not in {since}..={now}"
    );
    let elsewhere =
        lines[1..].iter().filter(|x| x["labels"].as_array().is_some_and(|a| !a.is_empty())).count();
    assert_eq!(elsewhere, 0, "labels on other episodes");
}

#[test]
fn label_one_key_then_quit_and_export_shows_it() {
    let (dir, db) = temp();
    let since = now_secs();
    let mut tui = Tui::start(dir.path(), &db, &["--annotator", "ana"]);
    open_first_demo_episode(&mut tui);
    tui.keys("y");
    tui.wait_for("saved error_found=yes on turn #1 (ana)");
    tui.keys("q");
    let status = tui.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}; the screen:\n{}", tui.contents());
    drop(tui);

    assert_one_label_on_first_episode(&export(&db, "demo"), "ana", since);
}

#[test]
fn the_first_label_asks_the_annotator_name_once_and_saves_it() {
    let (dir, db) = temp();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "theme = \"light\"\n").unwrap();
    let mut tui = Tui::start_with_config(dir.path(), &db, &[], &config);
    open_first_demo_episode(&mut tui);
    tui.wait_for("(name asked on first");
    tui.keys("y");
    tui.wait_for("your name for labels:");
    tui.keys("ben\r");
    // Two messages race for the status line (the name saved here, the label by the server);
    // the label's count on the turn is what says it is stored.
    tui.wait_for("1 label");
    tui.keys("q");
    let status = tui.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}; the screen:\n{}", tui.contents());
    drop(tui);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.starts_with("annotator = \"ben\"\n"), "{text}");
    let lines = export(&db, "demo");
    assert_eq!(lines[0]["labels"][0]["annotator"], "ben", "{}", lines[0]);
    assert!(text.contains("theme = \"light\""), "the rest of the config is kept: {text}");
    // The next session knows the name and does not ask again.
    let mut tui = Tui::start_with_config(dir.path(), &db, &[], &config);
    tui.wait_for("annotator ben");
    tui.keys("q");
    tui.wait_exit(Duration::from_secs(10));
}

#[test]
fn label_survives_sigkill_right_after_the_key() {
    let (dir, db) = temp();
    let since = now_secs();
    let mut tui = Tui::start(dir.path(), &db, &["--annotator", "ana"]);
    open_first_demo_episode(&mut tui);
    tui.keys("y");
    // Acknowledged on screen means durable: kill at once, with no chance to flush on exit.
    tui.wait_for("saved error_found=yes");
    tui.sigkill();
    let status = tui.wait_exit(Duration::from_secs(10));
    assert!(!status.success(), "killed, not exited: {status:?}");
    drop(tui);

    assert_one_label_on_first_episode(&export(&db, "demo"), "ana", since);
}

#[test]
fn escape_sequences_in_model_text_render_inert() {
    let (dir, db) = temp();
    let generate = "Let me think.\n\
        title \u{1b}]0;PWNED\u{7} set\n\
        clear \u{1b}[2J screen\n\
        bell \u{7} ring\n\
        cr \r return\n\
        csi \u{9b}31m red\n\
        The answer is 42.";
    let line = serde_json::json!({
        "run": "esc",
        "item_id": "esc-item-7",
        "question": "What is 6 times 7?",
        "reference": "42",
        "turns": [
            {"role": "generate", "content": generate},
            {"role": "critique", "content": "The answer is right. Verdict: correct"},
            {"role": "revise", "content": "The answer is 42."},
        ],
    });
    let file = dir.path().join("esc.jsonl");
    std::fs::write(&file, format!("{line}\n")).unwrap();
    cli(&db, &["import", file.to_str().unwrap(), "--name", "esc"]);

    let mut tui = Tui::start(dir.path(), &db, &[]);
    tui.wait_for("esc");
    tui.wait_for("finished");
    tui.keys("\r");
    tui.wait_for("Episodes of esc");
    tui.wait_for("1 shown");
    tui.wait_for("esc-item-7");
    tui.keys("\r");
    tui.wait_for("generate #0");
    tui.wait_for("The answer is 42.");

    // Each control character is shown as a visible escape, and the text after it survives.
    for visible in [
        "title \\e]0;PWNED\\x07 set",
        "clear \\e[2J screen",
        "bell \\x07 ring",
        "cr \\r return",
        "csi \\u{9b}31m red",
    ] {
        tui.wait_for(visible);
    }
    // The rest of the screen is intact: the header, the item, the other turns.
    for intact in [
        "critloop  1 Runs",
        "item esc-item-7",
        "What is 6 times 7?",
        "Let me think.",
        "critique #1",
        "revise #2",
    ] {
        tui.wait_for(intact);
    }
    // The OSC 0 ("\e]0;PWNED\a") never reached the terminal: no title, no icon name, no bell.
    {
        let parser = tui.screen.lock().unwrap();
        let seen = parser.callbacks();
        assert!(
            !seen.titles.iter().chain(&seen.icon_names).any(|t| t.contains("PWNED")),
            "model text set the window title: {:?} {:?}",
            seen.titles,
            seen.icon_names
        );
        assert_eq!(seen.bells, 0, "model text rang the bell");
    }

    tui.keys("q");
    let status = tui.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}; the screen:\n{}", tui.contents());
}

#[test]
fn help_and_quit() {
    let (dir, db) = temp();
    let mut tui = Tui::start(dir.path(), &db, &[]);
    tui.wait_for("┌ Runs ");
    tui.keys("?");
    // The help block (the header's "? Help" tab is always there).
    tui.wait_for("┌ Help ");
    tui.wait_for("global keys");
    // A frame may be half parsed when polled: wait for each text rather than assert once.
    for text in ["q/C-c quit", "y error_found=yes", "n error_found=no"] {
        tui.wait_for(text);
    }
    // The help is longer than 30 rows: `G` scrolls to its end.
    tui.keys("G");
    tui.wait_for("Labels apply");
    tui.keys("q");
    let status = tui.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}; the screen:\n{}", tui.contents());
    // The server the workbench started leaves once it is gone and nothing runs (the demo run
    // has finished): its pid file goes, and the database opens in this process.
    let deadline = Instant::now() + Duration::from_secs(15);
    while db.join("critloop.pid").exists() {
        assert!(Instant::now() < deadline, "the server stayed after the workbench quit");
        std::thread::sleep(POLL);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(e) = critloop::store::Store::open(&db) {
        assert!(Instant::now() < deadline, "{e}");
        std::thread::sleep(POLL);
    }
}

// Issue 12: one database, many critloop processes.

/// The run's "done/total" in the runs table, while it runs.
fn done_of(screen: &str, run: &str, total: u64) -> Option<u64> {
    let line = screen.lines().find(|l| l.contains(run))?;
    let suffix = format!("/{total}");
    line.split_whitespace().find_map(|w| w.strip_suffix(suffix.as_str())?.parse().ok())
}

/// The runs table's line of a run.
fn row_of(screen: &str, run: &str) -> String {
    screen.lines().find(|l| l.contains(run)).unwrap_or_default().to_string()
}

fn wait_row(tui: &Tui, run: &str, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !row_of(&tui.contents(), run).contains(text) {
        assert!(Instant::now() < deadline, "{run} never showed {text:?}:\n{}", tui.contents());
        std::thread::sleep(POLL);
    }
}

/// Acceptance 1: the workbench is open; a scripted `critloop run` on the same database shows
/// up in it with live progress, and `metrics` and `labels list` work meanwhile.
#[test]
fn a_command_line_run_shows_live_in_the_open_workbench() {
    use support::mock::{MockConfig, MockServer};
    let (dir, db) = temp();
    let data = dir.path().join("items.jsonl");
    support::world::write_dataset(&data, 60);
    let mock = MockServer::start_blocking(MockConfig {
        latency: Duration::from_millis(60),
        ..MockConfig::replying(support::world::reply)
    });
    let tui = Tui::start(dir.path(), &db, &["--annotator", "ana"]);
    tui.wait_for("demo");
    tui.wait_for("finished");
    let run = std::process::Command::new(bin())
        .arg("--db")
        .arg(&db)
        .args(["run", "--name", "scripted", "--provider", "openai", "--model", "mock-model"])
        .args(["--base-url", &mock.base_url(), "--concurrency", "2", "--no-preflight", "--quiet"])
        .arg("--dataset")
        .arg(&data)
        .env("CRITLOOP_CONFIG", "/nonexistent/x.toml")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tui.wait_for("scripted");
    // Live: the count of done episodes grows on screen while the run goes.
    let deadline = Instant::now() + WAIT;
    let first = loop {
        if let Some(d) = done_of(&tui.contents(), "scripted", 60).filter(|d| *d > 0) {
            break d;
        }
        assert!(Instant::now() < deadline, "no progress shown:\n{}", tui.contents());
        std::thread::sleep(POLL);
    };
    let metrics = cli(&db, &["metrics", "scripted", "--resamples", "0"]);
    assert!(metrics.contains("run scripted"), "{metrics}");
    cli(
        &db,
        &[
            "labels",
            "add",
            "demo",
            "arith-001",
            "0",
            "1",
            "error_found",
            "no",
            "--annotator",
            "bob",
        ],
    );
    let labels = cli(&db, &["labels", "list", "demo"]);
    assert!(labels.contains("bob"), "{labels}");
    let deadline = Instant::now() + WAIT;
    loop {
        match done_of(&tui.contents(), "scripted", 60) {
            Some(d) if d > first => break,
            // Finished already: the row says so below.
            None if row_of(&tui.contents(), "scripted").contains("finished") => break,
            _ => {}
        }
        assert!(Instant::now() < deadline, "progress did not move:\n{}", tui.contents());
        std::thread::sleep(POLL);
    }
    let out = run.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_row(&tui, "scripted", "finished");
}

/// Acceptance 2: two workbenches on one database; a label made in one shows in the other
/// within a second.
#[test]
fn two_workbenches_see_each_others_labels_within_a_second() {
    let (dir, db) = temp();
    let mut ana = Tui::start(dir.path(), &db, &["--annotator", "ana"]);
    open_first_demo_episode(&mut ana);
    let mut bob = Tui::start(dir.path(), &db, &["--annotator", "bob"]);
    open_first_demo_episode(&mut bob);
    ana.keys("y");
    ana.wait_for("saved error_found=yes on turn #1 (ana)");
    let shown = Instant::now();
    wait_for(&bob.screen, "ana #1 error_found=yes", Duration::from_secs(1));
    eprintln!("the label showed in the other workbench after {:?}", shown.elapsed());
    bob.keys("n");
    bob.wait_for("saved error_found=no on turn #1 (bob)");
    wait_for(&ana.screen, "bob #1 error_found=no", Duration::from_secs(1));
}

/// Acceptance 3: a run started in the workbench goes on after it quits, finishes, and shows
/// as finished when the workbench opens again.
#[test]
fn a_run_started_in_the_workbench_outlives_it() {
    use support::mock::{MockConfig, MockServer};
    let (dir, db) = temp();
    let mock = MockServer::start_blocking(MockConfig {
        latency: Duration::from_millis(60),
        ..MockConfig::replying(support::world::reply)
    });
    let config = dir.path().join("config.toml");
    let profile = format!(
        "[profiles.slow]\nbase_url = \"{}\"\nmodel = \"mock-model\"\nconcurrency = 2\n",
        mock.base_url()
    );
    std::fs::write(&config, profile).unwrap();
    let mut tui = Tui::start_with_config(dir.path(), &db, &["--annotator", "ana"], &config);
    tui.wait_for("demo");
    tui.wait_for("finished");
    // The new-run form: provider openai, profile slow, 40 items.
    tui.keys("a");
    tui.wait_for("critique-revise");
    tui.keys("\t\t\t\x7f\x7f\x7fopenai\tslow\t\t\t\t\t\x7f\x7f\x7f40\r");
    wait_row(&tui, "run-2", "running");
    tui.keys("q");
    let status = tui.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    tui.wait_for("goes on in the background");
    drop(tui);
    let running = cli(&db, &["runs", "list"]);
    assert!(row_of(&running, "run-2").contains("running"), "{running}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = cli(&db, &["runs", "list"]);
        if row_of(&listed, "run-2").contains("finished") {
            assert!(row_of(&listed, "run-2").contains("/40 "), "{listed}");
            break;
        }
        assert!(Instant::now() < deadline, "the run did not finish: {listed}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let tui = Tui::start_with_config(dir.path(), &db, &["--annotator", "ana"], &config);
    wait_row(&tui, "run-2", "finished");
}
