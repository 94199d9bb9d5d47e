//! The headless command line. `main` parses and calls `dispatch`.

mod args;
mod commands;
mod grade;
mod labels;
mod logging;
pub mod out;
mod table;

pub use args::{Cli, Command, ServeArgs};
pub use commands::dispatch;
pub use grade::QuietExit;

/// The exit code of a command's result; an error is said in one line on stderr first.
pub fn finish(result: color_eyre::Result<()>) -> u8 {
    match result {
        Ok(()) => 0,
        // `critloop export RUN | head` is normal use, not an error.
        Err(e) if broken_pipe(&e) => 0,
        // The command has said what it had to (`critloop grade`: "not equal").
        Err(e) if e.downcast_ref::<QuietExit>().is_some() => {
            e.downcast_ref::<QuietExit>().map_or(1, |q| q.0)
        }
        Err(e) => {
            // Join the causes, skipping one already quoted by the message above it.
            let mut line = String::new();
            for cause in e.chain().map(|c| c.to_string()) {
                if !line.contains(&cause) {
                    if !line.is_empty() {
                        line.push_str(": ");
                    }
                    line.push_str(&cause);
                }
            }
            crate::errln!("critloop: error: {line}");
            1
        }
    }
}

fn broken_pipe(e: &color_eyre::eyre::Report) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// A client's command line, run by the database's server (inside `out::with_served`).
pub fn run_served(args: Vec<String>) -> u8 {
    use clap::Parser;
    let argv = std::iter::once("critloop".to_string()).chain(args);
    match Cli::try_parse_from(argv) {
        Ok(cli) => finish(commands::dispatch_served(cli)),
        Err(e) => {
            crate::errln!("{}", e.render());
            2
        }
    }
}
