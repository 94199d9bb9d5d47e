//! The API between a database's server and its clients: typed messages, one JSON frame each
//! (a 4-byte big-endian length, then the JSON). The first frame both ways is the handshake, so
//! a client of another version is told so instead of hanging on a message it cannot read.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::tui::{Effect, Event};

/// Bumped on any change of the messages below.
pub const VERSION: u32 = 1;

/// No message is larger (a metrics report of a big run is a few MB).
const MAX_FRAME: usize = 256 << 20;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ClientMsg {
    /// The first frame: who is asking.
    Hello { version: u32, program: String, pid: u32 },
    /// Run a command line as `critloop ARGS` would, with the client's directory, environment
    /// (API keys are read from it, never stored) and terminal.
    Cli {
        args: Vec<String>,
        cwd: PathBuf,
        env: BTreeMap<String, String>,
        term: Term,
        /// Standard input, for a command that reads it (`labels import -`).
        stdin: Option<String>,
    },
    /// Ctrl-C at the client: stop the command (a run stops cleanly, resumable).
    Interrupt,
    /// The workbench asks for I/O; the answers come back as events.
    Effect(Box<Effect>),
    /// `critloop serve --stop`: cancel the runs, store what they did, exit.
    Stop,
    /// The client is done; an idle on-demand server answers `Closing` once the database is
    /// released, so the client's exit means the database is free.
    Bye,
}

/// What the client's terminal is, for commands that draw progress or tables.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Term {
    pub stdout_tty: bool,
    pub stderr_tty: bool,
    pub width: u16,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ServerMsg {
    /// The handshake's answer: the server's protocol and process.
    Welcome {
        version: u32,
        program: String,
        pid: u32,
    },
    /// The handshake failed (another version); the connection closes.
    Refused {
        reason: String,
    },
    /// Bytes for the client's stdout / stderr.
    Out(String),
    Err(String),
    /// The command ended with this exit code.
    Exit(u8),
    /// An event for the workbench: an answer to its effect, or news (progress, labels, runs).
    Event(Box<Event>),
    /// Answer to `Stop`: `cancelled` runs were stopped and stored.
    Stopped {
        cancelled: usize,
    },
    /// Answer to `Bye`: the server exits now (the database is free once its process is gone).
    Closing,
    /// Answer to `Bye`: the server stays (other clients, runs going, or started to stay).
    Staying,
}

/// Writes one frame.
pub async fn write<W: AsyncWrite + Unpin, T: Serialize>(w: &mut W, msg: &T) -> std::io::Result<()> {
    let body = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
    let len = u32::try_from(body.len()).map_err(std::io::Error::other)?;
    w.write_all(&len.to_be_bytes()).await?;
    w.write_all(&body).await?;
    w.flush().await
}

/// Reads one frame; `Ok(None)` at a clean end of the stream.
pub async fn read<R: AsyncRead + Unpin, T: for<'de> Deserialize<'de>>(
    r: &mut R,
) -> std::io::Result<Option<T>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::other(format!("a frame of {len} bytes is too large")));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    serde_json::from_slice(&body).map(Some).map_err(|e| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("unreadable message: {e}"))
    })
}

/// The program's version, shown when two processes disagree.
pub fn program() -> String {
    format!("critloop {}", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message survives the wire, a metrics report of a real sim run included (its
    /// optional numbers and intervals must read back as written).
    #[tokio::test]
    async fn frames_round_trip() {
        let store = crate::store::Store::temporary().unwrap();
        let mut items = crate::dataset::resolve("arith", &Default::default()).unwrap().items;
        items.truncate(12);
        let record = crate::runner::create_run(
            &store,
            crate::runner::NewRun {
                name: "r".into(),
                dataset: "arith".into(),
                items,
                protocol: crate::protocol::load_protocol("critique-revise").unwrap(),
                provider: crate::domain::ProviderSpec::Sim { params: Default::default() },
                model: "sim".into(),
                critic_model: "sim".into(),
                sampling: Default::default(),
            },
            Default::default(),
        )
        .unwrap();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        crate::runner::execute(
            store.clone(),
            record.id,
            crate::llm::Provider::Sim(Default::default()),
            Default::default(),
            tx,
            Default::default(),
        )
        .await
        .unwrap();
        let report = crate::analysis::run_metrics(&store, &record).unwrap();
        let msg = ServerMsg::Event(Box::new(Event::Metrics {
            run: record.id,
            report: Box::new(report.clone()),
        }));
        let (mut a, mut b) = tokio::io::duplex(1 << 20);
        write(&mut a, &msg).await.unwrap();
        write(&mut a, &ClientMsg::Effect(Box::new(Effect::LoadRuns))).await.unwrap();
        drop(a);
        let Some(ServerMsg::Event(ev)) = read::<_, ServerMsg>(&mut b).await.unwrap() else {
            panic!("not an event")
        };
        let Event::Metrics { report: back, .. } = *ev else { panic!("not metrics") };
        assert_eq!(*back, report);
        let next: Option<ClientMsg> = read(&mut b).await.unwrap();
        assert!(matches!(next, Some(ClientMsg::Effect(e)) if *e == Effect::LoadRuns));
        assert!(read::<_, ClientMsg>(&mut b).await.unwrap().is_none());
    }

    /// A frame claiming to be huge is refused before anything is allocated.
    #[tokio::test]
    async fn an_oversized_frame_is_an_error() {
        let (mut a, mut b) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut a, &u32::MAX.to_be_bytes()).await.unwrap();
        let err = read::<_, ClientMsg>(&mut b).await.unwrap_err();
        assert!(err.to_string().contains("too large"), "{err}");
    }
}
