//! The headless command line. `main` parses and calls `dispatch`.

mod args;
mod commands;
mod grade;
mod labels;
mod logging;
mod table;

pub use args::{Cli, Command};
pub use commands::dispatch;
pub use grade::QuietExit;
