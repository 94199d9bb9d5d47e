//! `critloop`: parse the command line, run it, print one line on error.

use std::process::ExitCode;

use clap::Parser;
use critloop::cli::{Cli, QuietExit, dispatch};

fn main() -> ExitCode {
    // Panics get color-eyre's report; errors below are printed as one line.
    let _ = color_eyre::install();
    // `critloop runs list | head -1` closes the pipe: a print that fails then is normal use, not
    // a crash (Rust ignores SIGPIPE, so `println!` panics instead of the process ending).
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to std") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        report(info);
    }));
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // `critloop export RUN | head` is normal use, not an error.
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        // The command has said what it had to (`critloop grade`: "not equal").
        Err(e) if e.downcast_ref::<QuietExit>().is_some() => {
            ExitCode::from(e.downcast_ref::<QuietExit>().map_or(1, |q| q.0))
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
            eprintln!("critloop: error: {line}");
            ExitCode::from(1)
        }
    }
}

fn broken_pipe(e: &color_eyre::eyre::Report) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
