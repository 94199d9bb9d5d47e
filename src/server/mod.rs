//! The database's server: the one process that holds a database open (sled allows one), runs
//! its runs, and serves every other critloop process on it through a Unix socket inside the
//! database directory. Commands and the workbench are its clients (`client`); the messages are
//! in `protocol`; who may connect is checked in `socket`.
//!
//! Lifetime: a server started on demand exits once no run is going and no client is connected;
//! `critloop serve` starts one that stays until `critloop serve --stop`. When a server dies
//! (even SIGKILL), the next client starts a new one, which takes the database over and resumes
//! the runs that were running: their stored turns are kept and never requested again.

pub mod client;
pub mod protocol;
pub mod socket;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr, eyre};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Notify, mpsc};

use crate::cli::ServeArgs;
use crate::cli::out::{Chunk, ClientTerm, Served};
use crate::domain::{LabelSchema, RunStatus};
use crate::runner::Registry;
use crate::store::{Store, StoreError};
use crate::tui::{Event, Io};
use protocol::{ClientMsg, ServerMsg};

/// `critloop serve [--stop | --foreground]`.
pub fn serve_command(connect: &client::Connect, a: ServeArgs) -> Result<()> {
    if a.stop {
        return client::stop(connect);
    }
    if a.foreground {
        let config =
            connect.config.clone().unwrap_or_else(|| crate::config::Paths::discover().config_file);
        return serve(&connect.db, &config, a.on_demand);
    }
    let pid = client::start_detached(connect, false)?;
    crate::outln!(
        "serving {} (pid {pid}); log: {}; stop it with `critloop serve --stop`",
        connect.db.display(),
        socket::log_path(&connect.db).display()
    );
    Ok(())
}

/// What every connection shares.
struct Shared {
    store: Store,
    registry: Registry,
    schema: LabelSchema,
    config: crate::config::Config,
    handle: tokio::runtime::Handle,
    clients: AtomicUsize,
    /// Command lines being run for clients.
    commands: Arc<AtomicUsize>,
    /// Runs being taken over (their endpoint probed): the server is not idle meanwhile.
    taking_over: AtomicUsize,
    /// A client has connected since the start (an on-demand server waits for its first).
    ever: AtomicBool,
    on_demand: bool,
    /// Set once the server has decided to exit; new connections are turned away.
    closing: AtomicBool,
    exit: Notify,
}

impl Shared {
    fn idle(&self) -> bool {
        self.clients.load(Ordering::SeqCst) == 0 && self.runs_idle()
    }

    /// No run executes here, and none is about to.
    fn runs_idle(&self) -> bool {
        self.registry.active().is_empty() && self.taking_over.load(Ordering::SeqCst) == 0
    }
}

/// Waits this long for a process letting go of the database (a server exiting, a command).
const LOCK_WAIT: Duration = Duration::from_secs(3);

/// Serves the database at `db` in this process until stopped (or idle, `on_demand`).
pub fn serve(db: &Path, config: &Path, on_demand: bool) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")?;
    let result = rt.block_on(serve_async(db, config, on_demand));
    if let Err(e) = &result {
        eprintln!("critloop serve: {e:#}");
    }
    // Loads in flight are read-only; exiting frees the database for the next server.
    rt.shutdown_timeout(Duration::from_secs(2));
    result
}

async fn serve_async(db: &Path, config_file: &Path, on_demand: bool) -> Result<()> {
    let store = open_waiting(db).await?;
    let sock = socket::path(db);
    // Holding the database means any socket left there is a dead server's.
    if socket::check(&sock).map_err(|e| eyre!(e))? {
        std::fs::remove_file(&sock).wrap_err("cannot remove the stale socket")?;
    }
    let listener = bind_private(&sock)?;
    let pid_file = db.join("critloop.pid");
    let _ = std::fs::write(&pid_file, std::process::id().to_string());
    eprintln!(
        "{} serving {} on {} (pid {}, protocol {})",
        stamp(),
        db.display(),
        sock.display(),
        std::process::id(),
        protocol::VERSION
    );
    let config = crate::config::Config::load(config_file, false).unwrap_or_default();
    let schema = LabelSchema::load(&config.labels).map_err(|e| eyre!(e))?;
    let shared = Arc::new(Shared {
        store,
        registry: Registry::default(),
        schema,
        config,
        handle: tokio::runtime::Handle::current(),
        clients: AtomicUsize::new(0),
        commands: Arc::new(AtomicUsize::new(0)),
        taking_over: AtomicUsize::new(0),
        ever: AtomicBool::new(false),
        on_demand,
        closing: AtomicBool::new(false),
        exit: Notify::new(),
    });
    take_over(&shared);
    // Count every run's episodes now, so the first runs table a client asks for is instant.
    let warm = shared.store.clone();
    tokio::task::spawn_blocking(move || {
        for r in warm.runs().unwrap_or_default() {
            let _ = warm.status_counts(r.id);
        }
    });
    let started = Instant::now();
    let mut idle_since: Option<Instant> = None;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let shared = shared.clone();
                    tokio::spawn(async move { connection(shared, stream).await });
                }
                Err(e) => eprintln!("{} accept failed: {e}", stamp()),
            },
            _ = shared.exit.notified() => break,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                // On demand: gone once idle (a second's grace for a client between commands).
                let waiting = !shared.ever.load(Ordering::SeqCst) && started.elapsed() < FIRST_CLIENT;
                if shared.on_demand && shared.idle() && !waiting {
                    let since = *idle_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= Duration::from_secs(1) {
                        shared.closing.store(true, Ordering::SeqCst);
                        if shared.idle() {
                            break;
                        }
                        shared.closing.store(false, Ordering::SeqCst);
                    }
                } else {
                    idle_since = None;
                }
            }
        }
    }
    shared.closing.store(true, Ordering::SeqCst);
    drop(listener);
    let _ = std::fs::remove_file(&sock);
    let _ = std::fs::remove_file(&pid_file);
    stop_runs(&shared).await;
    // Commands whose runs were stopped still report to their clients.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut waited = false;
    while shared.commands.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        waited = true;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if waited {
        // Their last lines are queued: give the writers a moment.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shared.store.flush().map_err(|e| eyre!(e))?;
    eprintln!("{} stopped", stamp());
    Ok(())
}

/// How long an on-demand server waits for the client that started it.
const FIRST_CLIENT: Duration = Duration::from_secs(10);

/// Cancels every run and waits until each has stored what it did; returns how many there were.
async fn stop_runs(shared: &Shared) -> usize {
    let tasks = shared.registry.stop_all();
    let n = tasks.iter().filter(|(_, t)| !t.is_finished()).count();
    for (_, t) in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(60), t).await;
    }
    n
}

/// Opens the database, waiting briefly for another process to let go of it.
async fn open_waiting(db: &Path) -> Result<Store> {
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match Store::open(db) {
            Ok(s) => return Ok(s),
            Err(StoreError::Locked { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => return Err(eyre!(e)),
        }
    }
}

/// Binds the socket readable and writable by this user only, from its first moment.
fn bind_private(sock: &Path) -> Result<UnixListener> {
    // SAFETY: umask only swaps the process's file-creation mask.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(sock);
    // SAFETY: as above, restoring the previous mask.
    unsafe { libc::umask(old) };
    let listener = bound.wrap_err_with(|| format!("cannot listen on {}", sock.display()))?;
    socket::restrict(sock).wrap_err("cannot restrict the socket to your user")?;
    Ok(listener)
}

/// Resumes the runs a dead server left running, with their own stored options; a run whose
/// endpoint does not answer is left for `critloop run --resume` (its episodes would all fail).
fn take_over(shared: &Arc<Shared>) {
    let Ok(runs) = shared.store.runs() else { return };
    for record in runs.into_iter().filter(|r| r.status == RunStatus::Running) {
        let shared = shared.clone();
        shared.taking_over.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            take_over_one(&shared, record).await;
            shared.taking_over.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

async fn take_over_one(shared: &Shared, record: crate::domain::RunRecord) {
    let provider = match crate::llm::Provider::from_spec(&record.provider) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{} cannot resume {}: {e}", stamp(), record.name);
            return;
        }
    };
    if let crate::llm::Provider::OpenAi(p) = &provider
        && let Err(e) = p.reachable().await
    {
        eprintln!(
            "{} not resuming {}: {e}; `critloop run --resume {}` continues it",
            stamp(),
            record.name,
            record.name
        );
        return;
    }
    let opts = crate::runner::stored_options(&record, None, true);
    let store = shared.store.clone();
    match shared.registry.spawn(store, record.id, provider, opts, Default::default(), None) {
        Ok(()) => eprintln!("{} took over: resuming run {}", stamp(), record.name),
        Err(e) => eprintln!("{} cannot resume {}: {e}", stamp(), record.name),
    }
}

/// Seconds since the epoch, for the log.
fn stamp() -> String {
    format!("[{:.3}]", crate::runner::now_millis() as f64 / 1000.0)
}

/// One client: the handshake, then its messages until it leaves.
async fn connection(shared: Arc<Shared>, stream: UnixStream) {
    // Only this user's processes may use the database (the socket's mode says so too).
    let me = socket::my_uid();
    match stream.peer_cred() {
        Ok(c) if c.uid() == me => {}
        _ => return,
    }
    let (mut rd, mut wr) = stream.into_split();
    let hello = tokio::time::timeout(Duration::from_secs(5), protocol::read(&mut rd)).await;
    let version = match hello {
        Ok(Ok(Some(ClientMsg::Hello { version, .. }))) => version,
        _ => return,
    };
    if version != protocol::VERSION || shared.closing.load(Ordering::SeqCst) {
        let reason = if version != protocol::VERSION {
            format!(
                "this database is served by {} speaking protocol {}; this critloop speaks {version}: \
                 use the same critloop version, or stop the server (critloop serve --stop)",
                protocol::program(),
                protocol::VERSION
            )
        } else {
            "the server is exiting; try again".to_string()
        };
        let _ = protocol::write(&mut wr, &ServerMsg::Refused { reason }).await;
        return;
    }
    let welcome = ServerMsg::Welcome {
        version: protocol::VERSION,
        program: protocol::program(),
        pid: std::process::id(),
    };
    if protocol::write(&mut wr, &welcome).await.is_err() {
        return;
    }
    shared.clients.fetch_add(1, Ordering::SeqCst);
    shared.ever.store(true, Ordering::SeqCst);
    let (otx, mut orx) = mpsc::unbounded_channel::<ServerMsg>();
    let mut writer = tokio::spawn(async move {
        while let Some(msg) = orx.recv().await {
            let last = matches!(msg, ServerMsg::Closing | ServerMsg::Stopped { .. });
            if protocol::write(&mut wr, &msg).await.is_err() || last {
                break;
            }
        }
    });
    let cancel = Arc::new(AtomicBool::new(false));
    let mut io: Option<Io> = None;
    // The server exits once this client has its answer (written, not just queued).
    let mut exit_after = false;
    loop {
        let msg = match protocol::read::<_, ClientMsg>(&mut rd).await {
            Ok(Some(m)) => m,
            _ => break,
        };
        match msg {
            ClientMsg::Hello { .. } => {}
            ClientMsg::Cli { args, cwd, env, term, stdin } => {
                cancel.store(false, Ordering::SeqCst);
                run_cli(&shared, otx.clone(), cancel.clone(), args, cwd, env, term, stdin);
            }
            ClientMsg::Interrupt => cancel.store(true, Ordering::SeqCst),
            // The workbench's config: its profiles plan its runs, its schema counts its labels.
            ClientMsg::Effect(effect) if matches!(*effect, crate::tui::Effect::Configure(_)) => {
                let crate::tui::Effect::Configure(path) = *effect else { continue };
                let config = match crate::config::Config::load(&path, false) {
                    Ok(c) => c,
                    Err(e) => {
                        let msg = format!("config {}: {e}", path.display());
                        let _ = otx.send(ServerMsg::Event(Box::new(Event::Error(msg))));
                        shared.config.clone()
                    }
                };
                let schema = LabelSchema::load(&config.labels).unwrap_or(shared.schema.clone());
                io = Some(workbench_io(&shared, otx.clone(), config, schema));
            }
            ClientMsg::Effect(effect) => {
                let io = io.get_or_insert_with(|| {
                    workbench_io(&shared, otx.clone(), shared.config.clone(), shared.schema.clone())
                });
                io.execute(*effect);
            }
            ClientMsg::Stop => {
                shared.closing.store(true, Ordering::SeqCst);
                let cancelled = stop_runs(&shared).await;
                let _ = shared.store.flush();
                let _ = otx.send(ServerMsg::Stopped { cancelled });
                exit_after = true;
                break;
            }
            ClientMsg::Bye => {
                // The last client of an idle on-demand server: exit now, so the client's own
                // exit means the database is free.
                let close = shared.on_demand
                    && shared.clients.load(Ordering::SeqCst) == 1
                    && shared.runs_idle()
                    && !shared.closing.swap(true, Ordering::SeqCst);
                if close {
                    let _ = otx.send(ServerMsg::Closing);
                    exit_after = true;
                    break;
                } else {
                    let _ = otx.send(ServerMsg::Staying);
                }
            }
        }
    }
    // A client that went away stops what it was running (as Ctrl-C would).
    cancel.store(true, Ordering::SeqCst);
    drop(io);
    drop(otx);
    if exit_after {
        // Its last answer (Closing, Stopped) is queued: the writer ends once it is written.
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut writer).await;
    }
    // Gone: nothing more to write. The workbench's forwarders end with the writer.
    writer.abort();
    shared.clients.fetch_sub(1, Ordering::SeqCst);
    if exit_after {
        shared.exit.notify_one();
    }
}

/// The workbench's I/O on the server's database and runs; answers and news go to the client.
fn workbench_io(
    shared: &Arc<Shared>,
    otx: mpsc::UnboundedSender<ServerMsg>,
    config: crate::config::Config,
    schema: LabelSchema,
) -> Io {
    let (etx, mut erx) = mpsc::unbounded_channel::<Event>();
    tokio::spawn(async move {
        loop {
            let ev = tokio::select! {
                ev = erx.recv() => ev,
                // The connection's writer is gone: stop, which ends the news forwarder too.
                () = otx.closed() => None,
            };
            let Some(ev) = ev else { break };
            if otx.send(ServerMsg::Event(Box::new(ev))).is_err() {
                break;
            }
        }
    });
    crate::tui::forward_news(&shared.registry, etx.clone(), true);
    Io::shared(shared.store.clone(), etx, schema, shared.registry.clone()).with_config(config)
}

/// Runs a client's command line on its own thread (commands block), its output sent back as it
/// comes and its exit code last.
#[allow(clippy::too_many_arguments)]
fn run_cli(
    shared: &Arc<Shared>,
    otx: mpsc::UnboundedSender<ServerMsg>,
    cancel: Arc<AtomicBool>,
    args: Vec<String>,
    cwd: PathBuf,
    env: BTreeMap<String, String>,
    term: protocol::Term,
    stdin: Option<String>,
) {
    let (ctx, mut crx) = mpsc::unbounded_channel::<Chunk>();
    let (code_tx, code_rx) = tokio::sync::oneshot::channel::<u8>();
    let commands = shared.commands.clone();
    commands.fetch_add(1, Ordering::SeqCst);
    tokio::spawn(async move {
        while let Some(c) = crx.recv().await {
            let msg = match c {
                Chunk::Out(s) => ServerMsg::Out(s),
                Chunk::Err(s) => ServerMsg::Err(s),
            };
            let _ = otx.send(msg);
        }
        let code = code_rx.await.unwrap_or(1);
        let _ = otx.send(ServerMsg::Exit(code));
        commands.fetch_sub(1, Ordering::SeqCst);
    });
    let served = Served {
        store: shared.store.clone(),
        registry: shared.registry.clone(),
        handle: shared.handle.clone(),
        sink: ctx,
        term: ClientTerm {
            stdout_tty: term.stdout_tty,
            stderr_tty: term.stderr_tty,
            width: term.width,
        },
        cwd,
        cancel,
        stdin,
    };
    let spawned = std::thread::Builder::new().name("critloop-command".into()).spawn(move || {
        let env = Arc::new(env);
        let code = crate::env::with(env, || {
            crate::cli::out::with_served(served, || crate::cli::run_served(args))
        });
        let _ = code_tx.send(code);
    });
    if let Err(e) = spawned {
        eprintln!("{} cannot start a command thread: {e}", stamp());
    }
}
