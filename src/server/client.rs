//! The client side: find the database's server (starting one when there is none), run a command
//! line or the workbench through it, and leave so the database is free when the server is done.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;

use super::protocol::{self, ClientMsg, ServerMsg};
use super::socket;
use crate::tui::{Effect, Event};

/// Which database, and the config a server started for it reads.
#[derive(Debug, Clone)]
pub struct Connect {
    pub db: PathBuf,
    pub config: Option<PathBuf>,
}

/// A connection past the handshake.
pub struct Conn {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    /// The server's process.
    pub pid: u32,
    /// The server, when this process started it (to reap it).
    child: Option<Child>,
}

/// How long a client waits for a server to answer, one it started included.
const CONNECT_WAIT: Duration = Duration::from_secs(20);

/// Connects to the database's server; with `start`, starts one (on demand) when none answers.
/// `Ok(None)`: no server and `start` is false.
pub async fn connect(c: &Connect, start: bool) -> Result<Option<Conn>> {
    let sock = socket::path(&c.db);
    let deadline = Instant::now() + CONNECT_WAIT;
    let mut child: Option<Child> = None;
    loop {
        if socket::check(&sock).map_err(|e| eyre!(e))?
            && let Ok(stream) = UnixStream::connect(&sock).await
        {
            match handshake(stream).await {
                Ok(Some((rd, wr, pid))) => return Ok(Some(Conn { rd, wr, pid, child })),
                // The server is exiting: the next one will answer.
                Ok(None) => {}
                Err(e) => return Err(e),
            }
        }
        if !start {
            return Ok(None);
        }
        match child.as_mut() {
            None => child = Some(spawn(c, true)?),
            Some(ch) => {
                if let Ok(Some(status)) = ch.try_wait() {
                    // Another process's server may have won the race for the database.
                    child = None;
                    if !status.success() && !socket::check(&sock).unwrap_or(false) {
                        bail!("{}", failure(&c.db));
                    }
                }
            }
        }
        if Instant::now() > deadline {
            bail!(
                "the server of {} did not answer within {}s; its log: {}",
                c.db.display(),
                CONNECT_WAIT.as_secs(),
                socket::log_path(&c.db).display()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Says hello; `Ok(None)` when the server turns clients away because it is exiting.
async fn handshake(stream: UnixStream) -> Result<Option<(OwnedReadHalf, OwnedWriteHalf, u32)>> {
    let (mut rd, mut wr) = stream.into_split();
    let hello = ClientMsg::Hello {
        version: protocol::VERSION,
        program: protocol::program(),
        pid: std::process::id(),
    };
    if protocol::write(&mut wr, &hello).await.is_err() {
        return Ok(None);
    }
    let answer =
        tokio::time::timeout(Duration::from_secs(5), protocol::read::<_, ServerMsg>(&mut rd))
            .await
            .map_err(|_| eyre!("the database's server does not answer (5 s)"))?;
    match answer {
        Ok(Some(ServerMsg::Welcome { version, pid, .. })) if version == protocol::VERSION => {
            Ok(Some((rd, wr, pid)))
        }
        Ok(Some(ServerMsg::Welcome { version, program, .. })) => bail!(
            "this database is served by {program} speaking protocol {version}; this critloop \
             speaks {}: use the same version, or stop the server (critloop serve --stop)",
            protocol::VERSION
        ),
        Ok(Some(ServerMsg::Refused { reason })) if reason.contains("exiting") => Ok(None),
        Ok(Some(ServerMsg::Refused { reason })) => bail!("{reason}"),
        // A message this version cannot read is another version's.
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => bail!(
            "the database's server speaks another protocol than this critloop ({}): {e}",
            protocol::VERSION
        ),
        _ => Ok(None),
    }
}

/// Starts a server for the database, detached from this terminal and session, its output in
/// the log beside the database.
fn spawn(c: &Connect, on_demand: bool) -> Result<Child> {
    use std::os::unix::process::CommandExt;
    let log_path = socket::log_path(&c.db);
    if let Some(parent) = log_path.parent() {
        std::fs::create_dir_all(parent)
            .wrap_err_with(|| format!("cannot create {}", parent.display()))?;
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .wrap_err_with(|| format!("cannot write {}", log_path.display()))?;
    let exe = std::env::current_exe().wrap_err("cannot find the critloop executable")?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--db").arg(&c.db);
    if let Some(cfg) = &c.config {
        cmd.arg("--config").arg(cfg);
    }
    cmd.args(["serve", "--foreground"]);
    if on_demand {
        cmd.arg("--on-demand");
    }
    cmd.stdin(Stdio::null()).stdout(log.try_clone()?).stderr(log);
    // SAFETY: setsid is async-signal-safe; the child leaves this terminal's session, so Ctrl-C
    // and a closed terminal do not reach the runs it executes.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    cmd.spawn().wrap_err("cannot start the database's server")
}

/// The server's last words, from its log.
fn failure(db: &Path) -> String {
    let log = std::fs::read_to_string(socket::log_path(db)).unwrap_or_default();
    log.lines()
        .rev()
        .find_map(|l| l.strip_prefix("critloop serve: "))
        .map(str::to_string)
        .unwrap_or_else(|| {
            let log = socket::log_path(db);
            format!("the server of {} could not start; see {}", db.display(), log.display())
        })
}

/// Frames from the server as they arrive (a frame is never read half: reading is not
/// cancellable, so it has its own task).
fn frames(mut rd: OwnedReadHalf) -> mpsc::UnboundedReceiver<ServerMsg> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(msg)) = protocol::read::<_, ServerMsg>(&mut rd).await {
            if tx.send(msg).is_err() {
                break;
            }
        }
    });
    rx
}

/// Whether process `pid` has ended (a zombie has: it holds no files).
fn gone(pid: u32, child: &mut Option<Child>) -> bool {
    if let Some(ch) = child.as_mut() {
        return !matches!(ch.try_wait(), Ok(None));
    }
    let Ok(pid_t) = libc::pid_t::try_from(pid) else { return true };
    // SAFETY: signal 0 only checks that the process exists.
    if unsafe { libc::kill(pid_t, 0) } != 0 {
        return true;
    }
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
        .unwrap_or(true)
}

/// Waits (a little) for the server process to end.
async fn wait_gone(pid: u32, child: &mut Option<Child>, limit: Duration) {
    let until = Instant::now() + limit;
    while !gone(pid, child) && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Says goodbye; when the server exits on it, waits until its process is gone, so the database
/// is free the moment this client ends.
async fn bye(
    mut wr: OwnedWriteHalf,
    pid: u32,
    mut child: Option<Child>,
    mut rx: mpsc::UnboundedReceiver<ServerMsg>,
) {
    if protocol::write(&mut wr, &ClientMsg::Bye).await.is_err() {
        return;
    }
    let answer = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(msg) = rx.recv().await {
            if matches!(msg, ServerMsg::Closing | ServerMsg::Staying) {
                return Some(msg);
            }
        }
        None
    })
    .await;
    if let Ok(Some(ServerMsg::Closing)) = answer {
        wait_gone(pid, &mut child, Duration::from_secs(30)).await;
    }
}

/// Runs `critloop ARGS` through the database's server, with this process's directory,
/// environment and terminal; returns the command's exit code.
pub fn run_command(c: &Connect, args: Vec<String>, stdin: Option<String>) -> Result<u8> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")?;
    rt.block_on(async {
        let Some(conn) = connect(c, true).await? else { bail!("no server") };
        let Conn { rd, mut wr, pid, child } = conn;
        let term = protocol::Term {
            stdout_tty: std::io::IsTerminal::is_terminal(&std::io::stdout()),
            stderr_tty: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            width: console::Term::stderr().size().1,
        };
        let cwd = std::env::current_dir().wrap_err("cannot read the working directory")?;
        let msg = ClientMsg::Cli { args, cwd, env: crate::env::snapshot(), term, stdin };
        protocol::write(&mut wr, &msg).await?;
        let mut rx = frames(rd);
        let mut interrupts = 0;
        let code = loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(ServerMsg::Out(s)) => {
                        let mut out = std::io::stdout().lock();
                        if out.write_all(s.as_bytes()).and_then(|()| out.flush()).is_err() {
                            // A closed pipe (`| head`): stop the command, quietly.
                            let _ = protocol::write(&mut wr, &ClientMsg::Interrupt).await;
                            break 0;
                        }
                    }
                    Some(ServerMsg::Err(s)) => {
                        let mut err = std::io::stderr().lock();
                        let _ = err.write_all(s.as_bytes()).and_then(|()| err.flush());
                    }
                    Some(ServerMsg::Exit(code)) => break code,
                    Some(_) => {}
                    None => bail!(
                        "the database's server stopped before the command finished; its log: {}",
                        socket::log_path(&c.db).display()
                    ),
                },
                _ = tokio::signal::ctrl_c() => {
                    interrupts += 1;
                    if interrupts > 1 {
                        return Ok(130);
                    }
                    let _ = protocol::write(&mut wr, &ClientMsg::Interrupt).await;
                }
            }
        };
        bye(wr, pid, child, rx).await;
        Ok(code)
    })
}

/// `critloop serve --stop`: the server cancels its runs, stores them, and exits.
pub fn stop(c: &Connect) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")?;
    rt.block_on(async {
        let Some(mut conn) = connect(c, false).await? else {
            crate::outln!("no server is running for {}", c.db.display());
            return Ok(());
        };
        protocol::write(&mut conn.wr, &ClientMsg::Stop).await?;
        let answer = tokio::time::timeout(Duration::from_secs(120), async {
            loop {
                match protocol::read::<_, ServerMsg>(&mut conn.rd).await {
                    Ok(Some(ServerMsg::Stopped { cancelled })) => return Ok(cancelled),
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => return Err(eyre!("the server went away while stopping")),
                }
            }
        })
        .await
        .map_err(|_| eyre!("the server did not stop within 120 s"))??;
        wait_gone(conn.pid, &mut conn.child, Duration::from_secs(30)).await;
        let runs = match answer {
            0 => String::new(),
            1 => "; 1 run was cancelled (critloop run --resume NAME continues it)".into(),
            n => format!("; {n} runs were cancelled (critloop run --resume NAME continues each)"),
        };
        crate::outln!("stopped the server of {} (pid {}){runs}", c.db.display(), conn.pid);
        Ok(())
    })
}

/// Starts a server that stays until `serve --stop` (or finds the one running); its pid.
pub fn start_detached(c: &Connect, on_demand: bool) -> Result<u32> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")?;
    rt.block_on(async {
        if let Some(conn) = connect(c, false).await? {
            return Ok(conn.pid);
        }
        let mut child = spawn(c, on_demand)?;
        let pid = child.id();
        let deadline = Instant::now() + CONNECT_WAIT;
        loop {
            if let Some(conn) = connect(c, false).await? {
                return Ok(conn.pid);
            }
            if let Ok(Some(_)) = child.try_wait() {
                bail!("{}", failure(&c.db));
            }
            if Instant::now() > deadline {
                bail!(
                    "the server (pid {pid}) did not answer; see {}",
                    socket::log_path(&c.db).display()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

/// The workbench's link to the server: effects out, events in; remade when the server goes
/// away (a new one takes the database over).
pub struct Link {
    conn: Conn,
    connect: Connect,
    effects: mpsc::UnboundedReceiver<Effect>,
    /// Sent first on every connection (the workbench's config).
    hello: Option<Effect>,
}

/// Connects the workbench (starting a server if needed); the sender takes its effects.
/// `first` goes first on every connection.
pub async fn link(
    c: &Connect,
    first: Option<Effect>,
) -> Result<(mpsc::UnboundedSender<Effect>, Link)> {
    let Some(mut conn) = connect(c, true).await? else { bail!("no server") };
    if let Some(e) = &first {
        protocol::write(&mut conn.wr, &ClientMsg::Effect(Box::new(e.clone()))).await?;
    }
    let (tx, effects) = mpsc::unbounded_channel();
    Ok((tx, Link { conn, connect: c.clone(), effects, hello: first }))
}

impl Link {
    /// Pumps effects to the server and its events to `tx` until the workbench quits.
    pub fn start(self, tx: mpsc::UnboundedSender<Event>) {
        tokio::spawn(self.pump(tx));
    }

    async fn pump(self, tx: mpsc::UnboundedSender<Event>) {
        let Link { conn, connect: target, mut effects, hello } = self;
        let (mut wr, mut rx, mut _child) = (conn.wr, frames(conn.rd), conn.child);
        loop {
            let lost = tokio::select! {
                effect = effects.recv() => match effect {
                    Some(e) => protocol::write(&mut wr, &ClientMsg::Effect(Box::new(e))).await.is_err(),
                    None => return,
                },
                msg = rx.recv() => match msg {
                    Some(ServerMsg::Event(ev)) => {
                        if tx.send(*ev).is_err() {
                            return;
                        }
                        false
                    }
                    Some(_) => false,
                    None => true,
                },
            };
            if !lost {
                continue;
            }
            let _ = tx.send(Event::Error("lost the database's server; reconnecting…".into()));
            loop {
                match connect(&target, true).await {
                    Ok(Some(mut c)) => {
                        if let Some(e) = &hello {
                            let msg = ClientMsg::Effect(Box::new(e.clone()));
                            let _ = protocol::write(&mut c.wr, &msg).await;
                        }
                        (wr, rx, _child) = (c.wr, frames(c.rd), c.child);
                        let _ = tx.send(Event::Reconnected);
                        break;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let _ = tx.send(Event::Error(format!("cannot reach the server: {e}")));
                    }
                }
                if tx.is_closed() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
