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

/// Parses a command line; a usage error keeps clap's "a similar argument exists" tip only when
/// the suggestion is close (clap offers `--rounds` for `--bogus`).
pub fn parse_from<I, T>(argv: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    use clap::{CommandFactory, Parser};
    let e = match Cli::try_parse_from(argv) {
        Ok(cli) => return Ok(cli),
        Err(e) => e,
    };
    if e.kind() != ErrorKind::UnknownArgument {
        return Err(e);
    }
    let text = |k| match e.get(k) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(v)) => v.first().cloned(),
        _ => None,
    };
    let (Some(given), Some(suggested)) =
        (text(ContextKind::InvalidArg), text(ContextKind::SuggestedArg))
    else {
        return Err(e);
    };
    let bare = |s: &str| s.trim_start_matches('-').split('=').next().unwrap_or("").to_string();
    let (g, s) = (bare(&given), bare(&suggested));
    if strsim::levenshtein(&g, &s) <= (g.chars().count() / 3).max(1) {
        return Err(e);
    }
    // Without the usage line either: clap wrote it around the suggested flag.
    let mut plain = clap::Error::new(ErrorKind::UnknownArgument).with_cmd(&Cli::command());
    plain.insert(ContextKind::InvalidArg, ContextValue::String(given));
    Err(plain)
}

/// Says a usage error and gives its exit code (2); help and version go to stdout as clap
/// writes them. An argument echoed in the error is shown inert.
pub fn usage_error(e: &clap::Error) -> u8 {
    if !e.use_stderr() {
        match out::served() {
            Some(_) => out::out(&e.render().to_string()),
            None => {
                let _ = e.print();
            }
        }
        return 0;
    }
    crate::errln!("{}", e.render().to_string().trim_end());
    u8::try_from(e.exit_code()).unwrap_or(2)
}

/// A client's command line, run by the database's server (inside `out::with_served`).
pub fn run_served(args: Vec<String>) -> u8 {
    let argv = std::iter::once("critloop".to_string()).chain(args);
    match parse_from(argv) {
        Ok(cli) => finish(commands::dispatch_served(cli)),
        Err(e) => usage_error(&e),
    }
}
