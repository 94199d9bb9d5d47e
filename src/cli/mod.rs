//! The headless command line. `main` parses and calls `dispatch`.

mod args;
mod commands;
mod logging;
mod table;

pub use args::{Cli, Command};
pub use commands::dispatch;
