//! The real binary as the command-line tests drive it: a database of their own, no config.

use std::path::Path;

use assert_cmd::Command;

/// `critloop --db DB` with no config file.
pub fn critloop(db: &Path) -> Command {
    let mut cmd = Command::cargo_bin("critloop").unwrap();
    cmd.arg("--db").arg(db).env("CRITLOOP_CONFIG", "/nonexistent/critloop.toml");
    cmd
}

/// Standard output of a command that must succeed.
pub fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Exit code and standard error of a command that must fail.
pub fn failure(cmd: &mut Command) -> (Option<i32>, String) {
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "succeeded: {}", String::from_utf8_lossy(&out.stdout));
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}
