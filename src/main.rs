//! `critloop`: parse the command line, run it, print one line on error.

use std::process::ExitCode;

use critloop::cli::{dispatch, finish};

// See Cargo.toml: a bulk write into sled churns large allocations.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let cli = match critloop::cli::parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => return ExitCode::from(critloop::cli::usage_error(&e)),
    };
    ExitCode::from(finish(dispatch(cli)))
}
