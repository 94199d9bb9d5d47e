//! The runs this process executes, whoever asked for them (the workbench, a command line, a
//! client of the server): their cancel flags and tasks, and the news every watcher hears.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, mpsc};

use super::{RunEvent, RunOptions};
use crate::domain::{EpisodeId, RunId};
use crate::llm::Provider;
use crate::store::Store;

/// What happened that other views of the database should know.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Progress and lifecycle of a run executing here.
    Run(RunEvent),
    /// A label entry was stored for this episode.
    Label(EpisodeId),
    /// Runs were created or deleted.
    Runs,
}

#[derive(Default)]
struct Inner {
    cancels: HashMap<RunId, Arc<AtomicBool>>,
    tasks: Vec<(RunId, tokio::task::JoinHandle<()>)>,
}

/// Shared by every part of the process that starts, cancels or watches runs.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Mutex<Inner>>,
    news: broadcast::Sender<Notice>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry { inner: Default::default(), news: broadcast::channel(4096).0 }
    }
}

impl Registry {
    /// Hears every notice from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.news.subscribe()
    }

    /// Tells every watcher (none listening is fine).
    pub fn notify(&self, n: Notice) {
        let _ = self.news.send(n);
    }

    /// Whether `run` executes here now.
    pub fn is_active(&self, run: RunId) -> bool {
        self.inner.lock().map(|i| i.cancels.contains_key(&run)).unwrap_or(false)
    }

    /// Whether `run` executes here and has been asked to stop.
    pub fn is_stopping(&self, run: RunId) -> bool {
        self.inner
            .lock()
            .map(|i| i.cancels.get(&run).is_some_and(|c| c.load(Ordering::Relaxed)))
            .unwrap_or(false)
    }

    /// The runs executing here now.
    pub fn active(&self) -> Vec<RunId> {
        self.inner.lock().map(|i| i.cancels.keys().copied().collect()).unwrap_or_default()
    }

    /// Asks `run` to stop; false when it does not execute here.
    pub fn cancel(&self, run: RunId) -> bool {
        match self.inner.lock().ok().and_then(|i| i.cancels.get(&run).cloned()) {
            Some(c) => {
                c.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Executes `run` in the background on the current tokio runtime, its events told to every
    /// watcher and to `also`; `cancel` stops it. Refused when the run already executes here.
    pub fn spawn(
        &self,
        store: Store,
        run: RunId,
        provider: Provider,
        opts: RunOptions,
        cancel: Arc<AtomicBool>,
        also: Option<mpsc::UnboundedSender<RunEvent>>,
    ) -> Result<(), String> {
        let mut inner = self.inner.lock().map_err(|_| "the run registry is poisoned")?;
        if inner.cancels.contains_key(&run) {
            return Err("this run is already running".into());
        }
        inner.cancels.insert(run, cancel.clone());
        let me = self.clone();
        let handle = tokio::spawn(async move {
            let (etx, mut erx) = mpsc::unbounded_channel::<RunEvent>();
            let forward = {
                let me = me.clone();
                tokio::spawn(async move {
                    while let Some(ev) = erx.recv().await {
                        if let Some(a) = &also {
                            let _ = a.send(ev.clone());
                        }
                        me.notify(Notice::Run(ev));
                    }
                })
            };
            // A failure arrives as RunEvent::Failed through the forwarder.
            let _ = super::execute(store, run, provider, opts, etx, cancel).await;
            let _ = forward.await;
            if let Ok(mut i) = me.inner.lock() {
                i.cancels.remove(&run);
            }
        });
        inner.tasks.retain(|(_, t)| !t.is_finished());
        inner.tasks.push((run, handle));
        Ok(())
    }

    /// Cancels every run and hands back their tasks to await (what was stored stays).
    pub fn stop_all(&self) -> Vec<(RunId, tokio::task::JoinHandle<()>)> {
        let Ok(mut inner) = self.inner.lock() else { return Vec::new() };
        for c in inner.cancels.values() {
            c.store(true, Ordering::Relaxed);
        }
        std::mem::take(&mut inner.tasks)
    }
}
