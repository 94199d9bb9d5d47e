//! Where a command's output goes: this process's stdout and stderr, or, when the database's
//! server runs the command for a client, back to that client's terminal. Commands print through
//! `outln!`/`errln!` and ask here whether their stdout is a terminal, so one code serves both.

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio::sync::mpsc::UnboundedSender;

use crate::runner::Registry;
use crate::store::Store;

/// Output for the client's stdout or stderr.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    Out(String),
    Err(String),
}

/// The client's terminal as the command should see it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientTerm {
    pub stdout_tty: bool,
    pub stderr_tty: bool,
    pub width: u16,
}

/// A command the server runs for a client.
pub struct Served {
    /// The database the server holds open.
    pub store: Store,
    /// The server's runs: a run started here is one every client sees.
    pub registry: Registry,
    /// The server's runtime (commands block on it from their own thread).
    pub handle: tokio::runtime::Handle,
    pub sink: UnboundedSender<Chunk>,
    pub term: ClientTerm,
    /// The client's working directory: relative paths are the client's.
    pub cwd: PathBuf,
    /// Set by the client's Ctrl-C or when it goes away.
    pub cancel: Arc<AtomicBool>,
    /// The client's standard input, when the command reads it (`labels import -`).
    pub stdin: Option<String>,
}

thread_local! {
    static SERVED: RefCell<Option<Rc<Served>>> = const { RefCell::new(None) };
}

/// The command being served on this thread, if any.
pub fn served() -> Option<Rc<Served>> {
    SERVED.with(|s| s.borrow().clone())
}

/// Runs `f` as a command served for a client.
pub fn with_served<R>(served: Served, f: impl FnOnce() -> R) -> R {
    let previous = SERVED.with(|s| s.borrow_mut().replace(Rc::new(served)));
    let out = f();
    SERVED.with(|s| *s.borrow_mut() = previous);
    out
}

/// Text with every control character but newline and tab escaped: what a command prints can
/// hold a run name, an item id or a server's message, none of which may drive the terminal.
fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    use crate::domain::text::escape;
    if !text.chars().any(|c| escape(c).is_some()) {
        return text.into();
    }
    text.chars().map(|c| escape(c).unwrap_or_else(|| c.to_string())).collect::<String>().into()
}

/// Text for stdout.
pub fn out(text: &str) {
    let text = &*shown(text);
    match served() {
        Some(s) => {
            let _ = s.sink.send(Chunk::Out(text.to_string()));
        }
        None => {
            print!("{text}");
        }
    }
}

/// Text for stderr.
pub fn err(text: &str) {
    let text = &*shown(text);
    match served() {
        Some(s) => {
            let _ = s.sink.send(Chunk::Err(text.to_string()));
        }
        None => {
            eprint!("{text}");
        }
    }
}

/// A line for stdout.
#[macro_export]
macro_rules! outln {
    () => { $crate::cli::out::out("\n") };
    ($($arg:tt)*) => { $crate::cli::out::out(&format!("{}\n", format_args!($($arg)*))) };
}

/// A line for stderr.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => { $crate::cli::out::err(&format!("{}\n", format_args!($($arg)*))) };
}

pub fn stdout_tty() -> bool {
    match served() {
        Some(s) => s.term.stdout_tty,
        None => std::io::IsTerminal::is_terminal(&std::io::stdout()),
    }
}

pub fn stderr_tty() -> bool {
    match served() {
        Some(s) => s.term.stderr_tty,
        None => std::io::IsTerminal::is_terminal(&std::io::stderr()),
    }
}

/// Columns of the terminal stderr goes to.
pub fn stderr_width() -> u16 {
    match served() {
        Some(s) => s.term.width,
        None => console::Term::stderr().size().1,
    }
}

/// A path as the user typed it, made absolute against the client's directory.
pub fn path(p: &Path) -> PathBuf {
    match served() {
        Some(s) if p.is_relative() => s.cwd.join(p),
        _ => p.to_path_buf(),
    }
}

/// A writer to stdout for bulk output (exports): byte for byte into a pipe or a file, with
/// control characters made inert when stdout is a terminal (model text must not drive it).
pub fn stdout_writer() -> Box<dyn Write> {
    let inner: Box<dyn Write> = match served() {
        Some(s) => Box::new(SinkWriter { sink: s.sink.clone() }),
        None => Box::new(std::io::stdout().lock()),
    };
    if stdout_tty() {
        Box::new(std::io::BufWriter::with_capacity(64 << 10, Inert { inner, partial: Vec::new() }))
    } else {
        Box::new(std::io::BufWriter::with_capacity(64 << 10, inner))
    }
}

/// Escapes control characters (but newline and tab) in the UTF-8 passing through; a character
/// split between two writes waits for its other bytes.
struct Inert {
    inner: Box<dyn Write>,
    partial: Vec<u8>,
}

impl Write for Inert {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.partial.extend_from_slice(buf);
        let (text, rest) = match std::str::from_utf8(&self.partial) {
            Ok(t) => (t.to_string(), Vec::new()),
            Err(e) if e.error_len().is_none() => {
                // An incomplete character at the end: keep its bytes for the next write.
                let (done, rest) = self.partial.split_at(e.valid_up_to());
                (String::from_utf8_lossy(done).into_owned(), rest.to_vec())
            }
            Err(_) => (String::from_utf8_lossy(&self.partial).into_owned(), Vec::new()),
        };
        self.partial = rest;
        self.inner.write_all(shown(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.partial.is_empty() {
            let rest = String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned();
            self.inner.write_all(shown(&rest).as_bytes())?;
        }
        self.inner.flush()
    }
}

/// Bytes to the client's stdout; non-UTF-8 bytes are replaced (exports are UTF-8).
struct SinkWriter {
    sink: UnboundedSender<Chunk>,
}

impl Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sink
            .send(Chunk::Out(String::from_utf8_lossy(buf).into_owned()))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where a progress bar draws: stderr here, or the client's stderr; nowhere when that is not a
/// terminal (a log file gets no escape sequences).
pub fn progress_target() -> indicatif::ProgressDrawTarget {
    match served() {
        Some(s) if !s.term.stderr_tty => indicatif::ProgressDrawTarget::hidden(),
        Some(s) => indicatif::ProgressDrawTarget::term_like(Box::new(ClientStderr {
            sink: s.sink.clone(),
            width: s.term.width,
        })),
        None => indicatif::ProgressDrawTarget::stderr(),
    }
}

/// The client's stderr as a terminal indicatif can draw on: the same escape sequences a local
/// bar writes, sent as text.
#[derive(Debug)]
struct ClientStderr {
    sink: UnboundedSender<Chunk>,
    width: u16,
}

impl ClientStderr {
    fn send(&self, s: String) -> std::io::Result<()> {
        self.sink
            .send(Chunk::Err(s))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

impl indicatif::TermLike for ClientStderr {
    fn width(&self) -> u16 {
        self.width.max(20)
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        if n == 0 { Ok(()) } else { self.send(format!("\x1b[{n}A")) }
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        if n == 0 { Ok(()) } else { self.send(format!("\x1b[{n}B")) }
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        if n == 0 { Ok(()) } else { self.send(format!("\x1b[{n}C")) }
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        if n == 0 { Ok(()) } else { self.send(format!("\x1b[{n}D")) }
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.send(format!("{s}\n"))
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.send(s.to_string())
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.send("\r\x1b[2K".into())
    }
    fn flush(&self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Text for stdout, without a newline.
#[macro_export]
macro_rules! outp {
    ($($arg:tt)*) => { $crate::cli::out::out(&format!($($arg)*)) };
}

/// All of standard input: the client's, sent with the command, or this process's.
pub fn stdin() -> std::io::Result<String> {
    match served() {
        Some(s) => Ok(s.stdin.clone().unwrap_or_default()),
        None => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
            Ok(text)
        }
    }
}

#[cfg(test)]
mod inert_tests {
    use super::*;

    /// A `Write` whose bytes the test reads back.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::ErrorKind::Other)?.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn export_bytes_to_a_terminal_are_inert_even_when_a_character_is_split() {
        let sink = Shared::default();
        let mut w = Inert { inner: Box::new(sink.clone()), partial: Vec::new() };
        let text = "a\u{1b}[2J,\u{202e}é\tb\n\u{9b}1m漢\r";
        let bytes = text.as_bytes();
        // Cut inside é (2 bytes), inside 漢 (3 bytes) and inside U+009B (2 bytes).
        let cuts = [0, 9, 10, 14, 15, 17, 18, bytes.len()];
        for pair in cuts.windows(2) {
            w.write_all(&bytes[pair[0]..pair[1]]).unwrap();
        }
        w.flush().unwrap();
        let got = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(got, "a\\e[2J,\\u{202e}é\tb\n\\u{9b}1m漢\\r");
    }
}
