//! The database's server seen from outside: who may use its socket, what another version is
//! told, and `critloop serve` / `serve --stop`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

mod support;

use critloop::server::protocol::{self, ClientMsg, ServerMsg};

fn critloop(db: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_critloop"));
    cmd.arg("--db").arg(db).env("CRITLOOP_CONFIG", "/nonexistent/critloop.toml");
    cmd.timeout(Duration::from_secs(60));
    cmd
}

fn stderr_of(cmd: &mut assert_cmd::Command) -> (Option<i32>, String) {
    let out = cmd.output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Acceptance 5: a socket other users can open, or one owned by another user, is refused with
/// a clear message, and nothing is started behind it.
#[test]
fn a_socket_with_the_wrong_mode_or_owner_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    std::fs::create_dir_all(&db).unwrap();
    let sock = db.join("critloop.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    let (code, err) = stderr_of(critloop(&db).args(["runs", "list"]));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("has mode 666") && err.contains("refusing"), "{err}");
    assert!(err.contains(&sock.display().to_string()), "names the socket: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!db.join("conf").exists(), "no server opened the database");
    // Another owner: only root can make one.
    if unsafe { libc::getuid() } == 0 {
        std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&sock, Some(65534), None).unwrap();
        let (code, err) = stderr_of(critloop(&db).args(["runs", "list"]));
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains("owned by uid 65534") && err.contains("refusing"), "{err}");
    }
}

/// A client of another protocol version is told so by the server, and a server of another
/// version is named by the client: a clear message both ways, never a hang.
#[test]
fn another_protocol_version_gets_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let out = critloop(&db).arg("serve").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("serving") && said.contains("serve --stop"), "{said}");

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let reason = rt.block_on(async {
        let mut s = tokio::net::UnixStream::connect(db.join("critloop.sock")).await.unwrap();
        let hello = ClientMsg::Hello { version: 999, program: "critloop 9".into(), pid: 1 };
        protocol::write(&mut s, &hello).await.unwrap();
        match protocol::read::<_, ServerMsg>(&mut s).await.unwrap() {
            Some(ServerMsg::Refused { reason }) => reason,
            other => panic!("{other:?}"),
        }
    });
    assert!(reason.contains("protocol") && reason.contains("999"), "{reason}");
    let out = critloop(&db).args(["serve", "--stop"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("stopped the server"));
    assert!(!db.join("critloop.sock").exists(), "the socket is removed on stop");

    // A server of another version answers the handshake with its own.
    let listener = rt.block_on(async {
        let sock = db.join("critloop.sock");
        let l = tokio::net::UnixListener::bind(&sock).unwrap();
        std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o600)).unwrap();
        l
    });
    let fake = std::thread::spawn(move || {
        rt.block_on(async {
            let (mut s, _) = listener.accept().await.unwrap();
            let _ = protocol::read::<_, ClientMsg>(&mut s).await;
            let w = ServerMsg::Welcome { version: 999, program: "critloop 9.0.0".into(), pid: 1 };
            protocol::write(&mut s, &w).await.unwrap();
            tokio::time::sleep(Duration::from_millis(500)).await;
        })
    });
    let (code, err) = stderr_of(critloop(&db).args(["runs", "list"]));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("critloop 9.0.0") && err.contains("protocol 999"), "{err}");
    fake.join().unwrap();
}

/// `critloop serve` keeps serving between commands (its runs and clients come and go);
/// `serve --stop` cancels a run it executes, stores it, and the run resumes later.
#[test]
fn serve_stays_until_stopped_and_stop_cancels_its_runs_resumably() {
    use support::mock::{MockConfig, MockServer};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    critloop(&db).arg("serve").assert().success();
    let pid = std::fs::read_to_string(db.join("critloop.pid")).unwrap();
    critloop(&db).args(["run", "--name", "quick", "--limit", "30", "--quiet"]).assert().success();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(std::fs::read_to_string(db.join("critloop.pid")).unwrap(), pid, "still serving");

    let data = dir.path().join("items.jsonl");
    support::world::write_dataset(&data, 60);
    let mock = MockServer::start_blocking(MockConfig {
        latency: Duration::from_millis(50),
        ..MockConfig::replying(support::world::reply)
    });
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_critloop"))
        .arg("--db")
        .arg(&db)
        .args(["run", "--name", "slow", "--provider", "openai", "--model", "mock-model"])
        .args(["--base-url", &mock.base_url(), "--concurrency", "2", "--no-preflight"])
        .arg("--dataset")
        .arg(&data)
        .env("CRITLOOP_CONFIG", "/nonexistent/critloop.toml")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while mock.requests().len() < 20 {
        assert!(std::time::Instant::now() < deadline, "the run did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    let stopped = critloop(&db).args(["serve", "--stop"]).output().unwrap();
    let run = run.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&stopped.stdout);
    assert!(said.contains("stopped the server") && said.contains(pid.trim()), "{said}");
    assert!(said.contains("1 run was cancelled"), "{said}");
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("not finished (cancelled)"), "{err}");
    let out = critloop(&db).args(["serve", "--stop"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("no server is running"));
    // The database is free: a library user can open it, and sees the run cancelled.
    let store = critloop::store::Store::open(&db).unwrap();
    let record = store.require_run("slow").unwrap();
    assert_eq!(record.status, critloop::domain::RunStatus::Cancelled);
    drop(store);
    critloop(&db).args(["run", "--resume", "slow", "--quiet"]).assert().success();
    let listed = critloop(&db).args(["runs", "list"]).output().unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    let row = listed.lines().find(|l| l.starts_with("slow")).unwrap_or_default();
    assert!(row.contains("/60 ") && row.contains("finished"), "{listed}");
}
