//! Diagnostics go to a file beside the database (`<db>.log`), never to the terminal.
//! `CRITLOOP_LOG` sets the level (error, warn, info, debug, trace; default info).

use std::path::Path;
use std::sync::Mutex;

use tracing::level_filters::LevelFilter;

/// The log file that belongs to a database.
pub fn log_path(db: &Path) -> std::path::PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "critloop".into());
    name.push(".log");
    db.with_file_name(name)
}

/// Installs the file logger; logging is best effort and never stops a command.
pub fn init(db: &Path) {
    let level = match std::env::var("CRITLOOP_LOG").unwrap_or_default().to_lowercase().as_str() {
        "off" => LevelFilter::OFF,
        "error" => LevelFilter::ERROR,
        "warn" => LevelFilter::WARN,
        "debug" => LevelFilter::DEBUG,
        "trace" => LevelFilter::TRACE,
        _ => LevelFilter::INFO,
    };
    let path = log_path(db);
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let Ok(file) = std::fs::OpenOptions::new().create(true).append(true).open(&path) else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .with_max_level(level)
        .try_init();
}
