//! Issue 15, storage: an older database is migrated and read back exactly, a newer one is
//! refused untouched; a full disk and a read-only database directory give one clear line, lose
//! nothing stored, and the next run carries on.
//!
//! The full disk is a 1 MiB tmpfs and the read-only directory a read-only bind mount where this
//! machine lets the test mount (root, or a container allowing it); else, and always in a test of
//! its own, the store's fault hook (`CRITLOOP_STORE_FAULT`, debug builds only:
//! `src/store/fault.rs`) plays the fault.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use critloop::domain::{EpisodeStatus, Role, RunStatus};
use critloop::store::Store;
use serde_json::Value;
use support::cli::{critloop, failure, stdout};
use support::db::{pid_alive, wait_free};

/// A mount made by the test, undone when dropped (whatever the test's outcome).
struct Mount(PathBuf);

impl Mount {
    /// `mount ARGS... DIR`; `None` where the machine does not allow it.
    fn new(dir: &Path, args: &[&str]) -> Option<Mount> {
        let ok =
            Command::new("mount").args(args).arg(dir).output().is_ok_and(|o| o.status.success());
        ok.then(|| Mount(dir.to_path_buf()))
    }

    /// A tmpfs of `size` on `dir`.
    fn tmpfs(dir: &Path, size: &str) -> Option<Mount> {
        Mount::new(dir, &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
    }

    /// `dir` bound onto itself, then made read-only.
    fn read_only(dir: &Path) -> Option<Mount> {
        let m = Mount::new(dir, &["--bind", dir.to_str()?])?;
        m.remount("remount,ro,bind").then_some(m)
    }

    fn remount(&self, options: &str) -> bool {
        Command::new("mount")
            .args(["-o", options])
            .arg(&self.0)
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let done = Command::new("umount").arg(&self.0).output().is_ok_and(|o| o.status.success());
        if !done {
            // Busy (a server still exiting): detach it now, freed when the last file closes.
            let _ = Command::new("umount").arg("-l").arg(&self.0).output();
        }
    }
}

/// Whether the store's fault hook is compiled in (debug builds, as `cargo test` makes them).
fn hook_available() -> bool {
    cfg!(debug_assertions)
}

/// Waits until no server holds the database (its pid file gone or its process dead).
fn wait_no_server(db: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pid = std::fs::read_to_string(db.join("critloop.pid"))
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok());
        let alive = pid.is_some_and(pid_alive);
        if !alive {
            // The lock goes with the process; give the kernel a moment to release it.
            std::thread::sleep(Duration::from_millis(50));
            return;
        }
        assert!(Instant::now() < deadline, "the server of {} did not exit", db.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Opens the database once no process holds it.
fn open_free(db: &Path) -> Store {
    wait_no_server(db);
    wait_free(db)
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// One episode as stored: status and every turn's role, text and grade.
type Stored = (EpisodeStatus, Vec<(Role, String, Option<bool>)>);

/// Every episode of a run by (item, sample), and its metrics.
type Reference = (BTreeMap<(u32, u32), Stored>, Value);

/// Every episode of run `name`, by (item, sample).
fn stored(store: &Store, name: &str) -> BTreeMap<(u32, u32), Stored> {
    let run = store.require_run(name).unwrap();
    let mut out = BTreeMap::new();
    for ep in store.episodes(run.id).unwrap() {
        let turns = store
            .turns(ep.id)
            .unwrap()
            .into_iter()
            .map(|t| (t.role, t.content, t.correct))
            .collect();
        out.insert((ep.id.item, ep.id.sample), (ep.status, turns));
    }
    out
}

/// The sim run the fault tests make: 300 arith items × 2 samples, 3 turns each.
const RUN: [&str; 9] =
    ["run", "--name", "r", "--samples", "2", "--seed", "7", "--quiet", "--provider"];
const EPISODES: usize = 600;

fn run_args() -> Vec<&'static str> {
    RUN.iter().copied().chain(["sim"]).collect()
}

/// `metrics r --format json` without latencies (they differ between two runs).
fn metrics(db: &Path) -> Value {
    let mut v: Value =
        serde_json::from_str(&stdout(critloop(db).args(["metrics", "r", "--format", "json"])))
            .unwrap();
    v.as_object_mut().unwrap().remove("usage");
    v
}

/// The same run made without a fault: its episodes and metrics.
fn reference() -> &'static Reference {
    static REF: OnceLock<Reference> = OnceLock::new();
    REF.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        stdout(critloop(&db).args(run_args()));
        let m = metrics(&db);
        let episodes = stored(&open_free(&db), "r");
        assert_eq!(episodes.len(), EPISODES);
        (episodes, m)
    })
}

/// How the full disk is made.
enum Full<'a> {
    /// A tmpfs too small for the run, made bigger afterwards.
    Tmpfs(&'a Mount),
    /// The fault hook: the disk is "full" after this many writes, in the failing command only.
    Hook(u32),
}

/// A run into a full disk stops with one line naming it, what it stored is intact, and once
/// there is room `run --resume` finishes it exactly as a run without the fault.
fn full_disk(db: &Path, full: Full) {
    let mut cmd = critloop(db);
    cmd.args(run_args());
    if let Full::Hook(n) = full {
        cmd.env("CRITLOOP_STORE_FAULT", format!("full-after:{n}"));
    }
    let (code, err) = failure(&mut cmd);
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    let lower = err.to_lowercase();
    assert!(lower.contains("no space left on device"), "{err}");
    assert!(err.contains("critloop run --resume"), "says how to carry on: {err}");
    assert!(!err.contains("Os {"), "no debug dump: {err}");
    wait_no_server(db);

    if let Full::Tmpfs(mount) = full {
        // Still full: reading fails the same clear way (sled writes when it opens).
        let (code, err) = failure(critloop(db).args(["runs", "list"]));
        assert_eq!(code, Some(1), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.to_lowercase().contains("no space left on device"), "{err}");
        wait_no_server(db);
        assert!(mount.remount("remount,size=16m"), "the tmpfs grows");
    }

    // Nothing stored is lost or torn: every episode there matches the run made without the
    // fault, each done one whole.
    let (want, want_metrics) = reference();
    let got = stored(&open_free(db), "r");
    let done = got.values().filter(|(s, _)| *s == EpisodeStatus::Done).count();
    assert!(done > 0 && done < EPISODES, "stopped part-way: {done} of {EPISODES} done");
    eprintln!("the full disk stopped the run at {done} of {EPISODES} episodes done");
    for (key, (status, turns)) in &got {
        let (want_status, want_turns) = &want[key];
        if *status == EpisodeStatus::Done {
            assert_eq!(status, want_status, "{key:?}");
            assert_eq!(turns, want_turns, "{key:?}: a done episode is whole");
        } else {
            assert_eq!(*status, EpisodeStatus::Pending, "{key:?}: not failed by the disk");
            assert_eq!(turns[..], want_turns[..turns.len()], "{key:?}: the turns stored so far");
        }
    }

    // The next run resumes and finishes as if nothing had happened.
    stdout(critloop(db).args(["run", "--resume", "r", "--quiet"]));
    assert_eq!(&metrics(db), want_metrics);
    let after = stored(&open_free(db), "r");
    assert_eq!(&after, want, "every episode once, as the run without the fault made it");
}

#[test]
fn a_full_disk_stops_the_run_in_one_line_loses_nothing_and_the_resume_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    // The run needs about 2 MB of pages; 1 MiB fills half-way.
    match Mount::tmpfs(&disk, "1m") {
        Some(mount) => full_disk(&disk.join("db"), Full::Tmpfs(&mount)),
        None if hook_available() => {
            eprintln!("cannot mount a tmpfs here: the full disk is the store's fault hook");
            full_disk(&disk.join("db"), Full::Hook(1500));
        }
        None => eprintln!("skipped: no tmpfs and no fault hook (a release build)"),
    }
}

#[test]
fn a_full_disk_through_the_fault_hook_loses_nothing_and_the_resume_finishes_it() {
    if !hook_available() {
        eprintln!("skipped: the fault hook is in debug builds only");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    full_disk(&dir.path().join("db"), Full::Hook(1500));
}

/// Sets the database's schema version in `meta` and, with `file`, in the plain file beside it,
/// as a later critloop leaves its databases.
fn set_schema(db: &Path, version: u32, file: bool) {
    wait_no_server(db);
    let raw = sled::Config::new().path(db).use_compression(true).open().unwrap();
    let meta = raw.open_tree("meta").unwrap();
    meta.insert("schema_version", version.to_string().as_bytes()).unwrap();
    raw.flush().unwrap();
    let stamp = db.join("critloop.schema");
    if file {
        std::fs::write(stamp, format!("{version}\n")).unwrap();
    } else {
        let _ = std::fs::remove_file(stamp);
    }
}

/// Every command refuses the database in one line naming both versions.
fn assert_refused(db: &Path) {
    let newer = critloop::store::SCHEMA_VERSION + 1;
    for args in [
        vec!["runs", "list"],
        vec!["metrics", "r"],
        vec!["export", "r"],
        vec!["run", "--name", "s", "--limit", "2", "--quiet"],
    ] {
        let (code, err) = failure(critloop(db).args(&args));
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line: {err}");
        let want = format!(
            "database {} has schema version {newer}, newer than this critloop reads ({}); \
             upgrade critloop",
            db.display(),
            critloop::store::SCHEMA_VERSION
        );
        assert!(err.contains(&want), "{args:?}: {err}");
        wait_no_server(db);
    }
}

/// The run of the schema test reads back whole.
fn assert_run_intact(db: &Path) {
    let listed: Value =
        serde_json::from_str(&stdout(critloop(db).args(["runs", "list", "--format", "json"])))
            .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["name"], "r");
    assert_eq!(listed[0]["episodes"]["done"], 3);
    wait_no_server(db);
}

#[test]
fn a_newer_schema_is_refused_in_one_line_naming_it_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    stdout(critloop(&db).args(["run", "--name", "r", "--limit", "3", "--quiet"]));
    wait_no_server(&db);
    assert_eq!(
        std::fs::read_to_string(db.join("critloop.schema")).unwrap(),
        format!("{}\n", critloop::store::SCHEMA_VERSION),
        "the version is stamped beside the database"
    );
    let newer = critloop::store::SCHEMA_VERSION + 1;

    // As a newer critloop leaves it: refused before sled opens it, so not a byte changes.
    set_schema(&db, newer, true);
    let before = snapshot(&db);
    assert_refused(&db);
    assert!(before == snapshot(&db), "the database is byte for byte as it was");

    // The version in `meta` alone (the plain file lost) is refused the same way; sled has
    // opened the database then, and may have written its own snapshot, no record.
    set_schema(&db, newer, false);
    assert_refused(&db);
    assert!(!db.join("critloop.schema").exists(), "a refused database is not stamped");

    // Nothing was lost: with the version back, the run reads as before.
    set_schema(&db, critloop::store::SCHEMA_VERSION, false);
    assert_run_intact(&db);
}

/// How the database directory is made read-only.
enum ReadOnly<'a> {
    /// Bound onto itself read-only (as root, `chmod` would not stop a write).
    Mount(&'a Path),
    /// The fault hook, in the commands run while "read-only".
    Hook,
}

/// A database directory that cannot be written: every command on it, reading ones included
/// (sled writes when it opens), fails with one line that says why and what to do; nothing
/// changes, and once writable the runs are there and the next run goes ahead.
fn read_only(db: &Path, how: ReadOnly) {
    stdout(critloop(db).args(["run", "--name", "a", "--limit", "20", "--seed", "3", "--quiet"]));
    let label = ["labels", "add", "a", "arith-001", "0", "1", "error_found", "yes"];
    stdout(critloop(db).args(label).args(["--annotator", "ana"]));
    let before_metrics = stdout(critloop(db).args(["metrics", "a", "--format", "json"]));
    wait_no_server(db);
    let before = snapshot(db);
    let mount = match how {
        ReadOnly::Mount(dir) => Some(Mount::read_only(dir).expect("mounted read-only")),
        ReadOnly::Hook => None,
    };
    for args in [
        vec!["runs", "list"],
        vec!["metrics", "a"],
        vec!["export", "a", "--format", "csv"],
        vec!["run", "--name", "b", "--limit", "5", "--quiet"],
        vec!["run", "--resume", "a", "--quiet"],
    ] {
        let mut cmd = critloop(db);
        cmd.args(&args);
        if mount.is_none() {
            cmd.env("CRITLOOP_STORE_FAULT", "read-only");
        }
        let (code, err) = failure(&mut cmd);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.contains(&format!("cannot open database {}", db.display())), "{err}");
        assert!(err.contains("Read-only file system (os error 30)"), "{args:?}: {err}");
        assert!(err.contains("even to read it") && err.contains("--db COPY"), "{args:?}: {err}");
        wait_no_server(db);
    }
    drop(mount);
    assert!(before == snapshot(db), "nothing changed");
    assert_eq!(stdout(critloop(db).args(["metrics", "a", "--format", "json"])), before_metrics);
    stdout(critloop(db).args(["run", "--name", "b", "--limit", "5", "--quiet"]));
    let listed: Value =
        serde_json::from_str(&stdout(critloop(db).args(["runs", "list", "--format", "json"])))
            .unwrap();
    let done: Vec<(String, u64)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap().to_string(), r["episodes"]["done"].as_u64().unwrap()))
        .collect();
    assert!(done.contains(&("a".into(), 20)) && done.contains(&("b".into(), 5)), "{done:?}");
    wait_no_server(db);
}

#[test]
fn a_read_only_database_directory_is_one_clear_line_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    std::fs::create_dir(&db).unwrap();
    // Can this machine bind-mount? Try on an empty directory first.
    let probe = dir.path().join("probe");
    std::fs::create_dir(&probe).unwrap();
    if Mount::read_only(&probe).is_some() {
        read_only(&db, ReadOnly::Mount(&db));
    } else if hook_available() {
        eprintln!("cannot bind-mount here: the read-only directory is the store's fault hook");
        read_only(&db, ReadOnly::Hook);
    } else {
        eprintln!("skipped: no bind mount and no fault hook (a release build)");
    }
}

#[test]
fn a_read_only_database_through_the_fault_hook_is_one_clear_line_and_loses_nothing() {
    if !hook_available() {
        eprintln!("skipped: the fault hook is in debug builds only");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    read_only(&dir.path().join("db"), ReadOnly::Hook);
}

/// A copy of the committed version-1 database (opening one migrates it in place), written by
/// critloop at f8dd79b, the last commit with schema version 1: see its README.
fn v1_copy(dir: &Path) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/db-v1/db");
    let db = dir.join("db");
    std::fs::create_dir(&db).unwrap();
    for name in ["conf", "db"] {
        std::fs::copy(from.join(name), db.join(name)).unwrap();
    }
    db
}

/// The turns of every episode of `arith-v1` as critloop 1 exported them, by item id: role,
/// text, answer and grade.
type Exported = BTreeMap<String, Vec<(String, String, Value, Value)>>;

fn turns_of_export(jsonl: &str) -> Exported {
    jsonl
        .lines()
        .map(|l| {
            let e: Value = serde_json::from_str(l).unwrap();
            let turns = e["turns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    let text = |k: &str| t[k].as_str().unwrap().to_string();
                    (text("role"), text("content"), t["answer"].clone(), t["correct"].clone())
                })
                .collect();
            (e["item_id"].as_str().unwrap().to_string(), turns)
        })
        .collect()
}

#[test]
fn a_version_1_database_is_migrated_and_every_record_reads_back_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = v1_copy(dir.path());
    let v1_export = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/db-v1/arith-v1.export.jsonl"),
    )
    .unwrap();
    let want = turns_of_export(&v1_export);
    assert_eq!(want.len(), 4);

    let store = Store::open(&db).unwrap();
    assert_eq!(store.schema_version().unwrap(), critloop::store::SCHEMA_VERSION, "migrated");
    let mut names: Vec<String> = store.runs().unwrap().into_iter().map(|r| r.name).collect();
    names.sort();
    assert_eq!(names, ["arith-v1", "two-samples"]);

    let run = store.require_run("arith-v1").unwrap();
    assert_eq!(
        (run.status, run.sampling.seed, run.model.as_str(), run.dataset.as_str()),
        (RunStatus::Finished, 11, "sim", "arith")
    );
    let items = store.items(run.id).unwrap();
    let ids: Vec<&str> = items.iter().map(|i| i.id.0.as_str()).collect();
    assert_eq!(ids, ["arith-001", "arith-002", "arith-003", "arith-004"]);
    assert!(items[0].question.starts_with("Yusuf buys 9 mugs for $12 each"), "{:?}", items[0]);
    assert_eq!(items[0].reference, "138");
    // The outcome records version 2 added are built on first use, from the records.
    assert!(store.outcomes_pending(run.id).unwrap());
    let episodes = store.episodes(run.id).unwrap();
    assert_eq!(episodes.len(), 4);
    for ep in &episodes {
        assert_eq!(ep.status, EpisodeStatus::Done, "{:?}", ep.id);
        let turns: Vec<(String, String, Value, Value)> = store
            .turns(ep.id)
            .unwrap()
            .into_iter()
            .map(|t| {
                let role = serde_json::to_value(t.role).unwrap().as_str().unwrap().to_string();
                let answer = t.answer.map_or(Value::Null, Value::from);
                (role, t.content, answer, t.correct.map_or(Value::Null, Value::from))
            })
            .collect();
        assert_eq!(
            turns, want[&ep.item_id.0],
            "{}: every turn as critloop 1 wrote it",
            ep.item_id.0
        );
    }
    // Two hand-checked turns: item 1's first attempt 128 (wrong), its revision 138 (right).
    let first = &want["arith-001"];
    assert_eq!((first[0].2.as_str(), first[0].3.as_bool()), (Some("128"), Some(false)));
    assert_eq!((first[2].2.as_str(), first[2].3.as_bool()), (Some("138"), Some(true)));

    let labels = store.labels_of_run(run.id).unwrap();
    let seen: Vec<(u32, Option<u32>, &str, &str, &str)> = labels
        .iter()
        .map(|(id, l)| (id.item, l.turn, l.name.as_str(), l.value.as_str(), l.annotator.as_str()))
        .collect();
    assert_eq!(
        seen,
        [(0, Some(1), "error_found", "yes", "ana"), (1, None, "note", "checked by hand", "ben")]
    );
    let outcomes = store.outcomes_of_run(run.id).unwrap();
    assert_eq!(outcomes.len(), 4);
    assert!(!store.outcomes_pending(run.id).unwrap(), "built once");

    let two = store.require_run("two-samples").unwrap();
    let keys: Vec<(u32, u32)> =
        store.episodes(two.id).unwrap().iter().map(|e| (e.id.item, e.id.sample)).collect();
    assert_eq!(keys, [(0, 0), (0, 1), (1, 0), (1, 1)]);
    let turns: usize = store.turns_of_run(two.id).unwrap().iter().map(|(_, t)| t.len()).sum();
    assert_eq!(turns, 12);
    drop(store);
    let stamp = std::fs::read_to_string(db.join("critloop.schema")).unwrap();
    assert_eq!(stamp, format!("{}\n", critloop::store::SCHEMA_VERSION));

    // The binary on the migrated database: the list, the metrics critloop 1 printed for both
    // runs, the labels, and an export with the same turns.
    let listed: Value =
        serde_json::from_str(&stdout(critloop(&db).args(["runs", "list", "--format", "json"])))
            .unwrap();
    let rows: Vec<(&str, u64, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let name = r["name"].as_str().unwrap();
            (name, r["episodes"]["done"].as_u64().unwrap(), r["status"].as_str().unwrap())
        })
        .collect();
    assert!(rows.contains(&("arith-v1", 4, "finished")), "{rows:?}");
    assert!(rows.contains(&("two-samples", 4, "finished")), "{rows:?}");
    let m: Value = serde_json::from_str(&stdout(
        critloop(&db).args(["metrics", "arith-v1", "--format", "json"]),
    ))
    .unwrap();
    assert_eq!(m["episodes"], 4);
    assert_eq!(m["transitions"], serde_json::json!({"cc": 1, "cw": 0, "wc": 2, "ww": 1}));
    assert_eq!((m["acc_t1"].as_f64(), m["acc_t2"].as_f64()), (Some(0.25), Some(0.75)));
    let c = &m["critique"];
    assert_eq!(
        (&c["tp"], &c["fp"], &c["tn"], &c["fn"]),
        (&3.into(), &0.into(), &1.into(), &0.into())
    );
    let m: Value = serde_json::from_str(&stdout(critloop(&db).args([
        "metrics",
        "two-samples",
        "--format",
        "json",
    ])))
    .unwrap();
    assert_eq!(m["transitions"], serde_json::json!({"cc": 3, "cw": 0, "wc": 0, "ww": 1}));
    let labels = stdout(critloop(&db).args(["labels", "list", "arith-v1"]));
    assert!(labels.contains("checked by hand") && labels.contains("error_found"), "{labels}");
    let export = stdout(critloop(&db).args(["export", "arith-v1", "--format", "jsonl"]));
    assert_eq!(turns_of_export(&export), want);
    wait_no_server(&db);
}
