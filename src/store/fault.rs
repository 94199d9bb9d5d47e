//! Storage faults for tests, in debug builds only (release builds have no hook): the tests of a
//! full disk and a read-only database directory use it where the machine does not let them
//! mount a small tmpfs or a read-only bind mount.
//!
//! `CRITLOOP_STORE_FAULT=full-after:N`: the first N writes succeed, every later write and flush
//! fails as a full disk does (ENOSPC). `CRITLOOP_STORE_FAULT=read-only`: opening fails as on a
//! read-only directory (EROFS). Read when a database is opened; a server spawned by a client
//! inherits it.

use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Debug)]
pub enum Fault {
    /// Writes left before the disk is "full".
    FullAfter(AtomicI64),
    ReadOnly,
}

impl Fault {
    /// The fault the environment asks for; an unreadable value is ignored.
    pub fn from_env() -> Option<Fault> {
        let v = std::env::var("CRITLOOP_STORE_FAULT").ok()?;
        if v == "read-only" {
            return Some(Fault::ReadOnly);
        }
        let n = v.strip_prefix("full-after:")?.parse::<i64>().ok()?;
        Some(Fault::FullAfter(AtomicI64::new(n)))
    }

    /// Counts one write; `Err` once the budget is spent.
    pub fn write(&self) -> std::io::Result<()> {
        match self {
            Fault::FullAfter(left) if left.fetch_sub(1, Ordering::SeqCst) <= 0 => Err(full()),
            _ => Ok(()),
        }
    }

    /// A flush fails once the budget is spent.
    pub fn flush(&self) -> std::io::Result<()> {
        match self {
            Fault::FullAfter(left) if left.load(Ordering::SeqCst) <= 0 => Err(full()),
            _ => Ok(()),
        }
    }
}

fn full() -> std::io::Error {
    std::io::Error::from_raw_os_error(libc::ENOSPC)
}

pub fn read_only() -> std::io::Error {
    std::io::Error::from_raw_os_error(libc::EROFS)
}
