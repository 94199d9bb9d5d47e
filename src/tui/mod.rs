//! The terminal workbench. Only this module knows about the terminal.

mod action;
mod app;
mod effect;
mod event;
mod highlight;
mod input;
mod keymap;
mod text;
mod theme;
pub mod views;

pub use action::Action;
pub use app::{
    App, EpisodeList, EpisodeReader, Filter, Live, MetricsBoard, MetricsPanel, Naming, NewRunForm,
    RunsTable, Screen, Sort, StepState,
};
pub use effect::{Effect, Io, forward_news};
pub use event::Event;
pub use keymap::{Key, KeyOverrides, Keymap, Mode};
pub use text::{Piece, inert, pieces, word_diff};
pub use theme::Theme;

use std::time::Duration;

use color_eyre::eyre::Result;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture, EventStream};
use futures_util::StreamExt;
use ratatui::DefaultTerminal;
use tokio::time::{MissedTickBehavior, interval};

/// Restores the terminal; safe to call twice.
fn restore_all() {
    let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
}

/// Opens the TUI and runs it until the user quits; `make_io` gives the I/O its events go to
/// (the database's server, for the binary).
pub fn launch(
    rt: tokio::runtime::Runtime,
    app: App,
    make_io: impl FnOnce(tokio::sync::mpsc::UnboundedSender<Event>) -> Io + Send + 'static,
) -> Result<()> {
    let terminal = ratatui::init();
    // A panic anywhere (a tokio task too) restores the terminal, reports, and ends the process.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_all();
        previous(info);
        std::process::exit(1);
    }));
    let _ = crossterm::execute!(std::io::stdout(), EnableMouseCapture);
    let result = rt.block_on(run(terminal, app, make_io));
    restore_all();
    let result = result.map(|notes| {
        for n in notes {
            eprintln!("critloop: {n}");
        }
    });
    // Loads still running in the background are read-only and unacknowledged: quitting does
    // not wait for them (a large run's metrics can take a second).
    rt.shutdown_background();
    result
}

/// The event loop of STYLE §2.3: paint first, then events → update → effects → one draw.
/// Returns what the user should know after the screen is gone (runs stopped on quit).
pub async fn run(
    mut term: DefaultTerminal,
    mut app: App,
    make_io: impl FnOnce(tokio::sync::mpsc::UnboundedSender<Event>) -> Io,
) -> Result<Vec<String>> {
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let mut io = make_io(tx);
    let mut input = EventStream::new();
    let mut tick = interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    term.draw(|f| views::render(&mut app, f))?;
    for fx in app.init() {
        io.execute(fx);
    }
    while !app.should_quit() {
        let first = tokio::select! {
            Some(Ok(ev)) = input.next() => Event::Term(ev),
            Some(ev) = events.recv() => ev,
            _ = tick.tick() => Event::Tick,
        };
        let mut effects = app.update(first);
        while let Ok(ev) = events.try_recv() {
            effects.extend(app.update(ev));
        }
        for fx in effects {
            io.execute(fx);
        }
        if app.take_dirty() {
            term.draw(|f| views::render(&mut app, f))?;
        }
    }
    // Runs live in this process: quitting stops them cleanly, resumable.
    let running = app.running_names();
    Ok(io.shutdown(Duration::from_secs(5), running).await)
}
