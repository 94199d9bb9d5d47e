//! Where a database's server listens, and who may talk to it: a Unix socket inside the
//! database directory, mode 0600, owned by the user; anything else is refused.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why a socket may not be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SocketError {
    #[error("{path} is owned by uid {owner}, not by you (uid {me}): refusing to use it")]
    Owner { path: String, owner: u32, me: u32 },
    #[error("{path} has mode {mode:o}; a critloop socket must be 600: refusing to use it")]
    Mode { path: String, mode: u32 },
    #[error("{path} is not a socket: move it away")]
    NotSocket { path: String },
    #[error("the socket path {path} is longer than {max} bytes: use a shorter --db path")]
    TooLong { path: String, max: usize },
}

/// The socket of the database at `db`.
pub fn path(db: &Path) -> PathBuf {
    db.join("critloop.sock")
}

/// The log of an on-demand server, beside the database (`<db>.server.log`).
pub fn log_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "critloop".into());
    name.push(".server.log");
    db.with_file_name(name)
}

/// The user this process runs as.
pub fn my_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// Longest path a Unix socket address holds (sun_path less its terminating NUL).
const MAX_PATH: usize = 107;

/// Checks that the socket at `p` is one this user may trust; `Ok(false)` when there is none.
pub fn check(p: &Path) -> Result<bool, SocketError> {
    let shown = p.display().to_string();
    if p.as_os_str().len() > MAX_PATH {
        return Err(SocketError::TooLong { path: shown, max: MAX_PATH });
    }
    let Ok(meta) = std::fs::symlink_metadata(p) else { return Ok(false) };
    if !meta.file_type().is_socket() {
        return Err(SocketError::NotSocket { path: shown });
    }
    let me = my_uid();
    if meta.uid() != me {
        return Err(SocketError::Owner { path: shown, owner: meta.uid(), me });
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SocketError::Mode { path: shown, mode });
    }
    Ok(true)
}

/// Makes a freshly bound socket private to the user.
pub fn restrict(p: &Path) -> std::io::Result<()> {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_open_to_others_or_a_plain_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(dir.path());
        assert_eq!(check(&p), Ok(false));
        let _l = std::os::unix::net::UnixListener::bind(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
        let err = check(&p).unwrap_err();
        assert!(err.to_string().contains("has mode 666"), "{err}");
        restrict(&p).unwrap();
        assert_eq!(check(&p), Ok(true));
        let file = dir.path().join("plain");
        std::fs::write(&file, "x").unwrap();
        assert!(matches!(check(&file), Err(SocketError::NotSocket { .. })));
        let long = dir.path().join("x".repeat(120));
        assert!(matches!(check(&long), Err(SocketError::TooLong { .. })));
    }
}
