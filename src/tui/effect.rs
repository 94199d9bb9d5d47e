//! I/O that `update` asks for. `Io::execute` only spawns; results come back as `Event`s.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc::UnboundedSender;

use super::event::Event;
use crate::browse;
use crate::domain::{EpisodeId, Label, ProviderSpec, RunId, Sampling, SimParams};
use crate::grade::GradeOptions;
use crate::llm::Provider;
use crate::runner::{self, NewRun, RunOptions};
use crate::store::Store;

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    LoadRuns,
    LoadEpisodes(RunId),
    LoadEpisode {
        run: RunId,
        id: EpisodeId,
    },
    LoadMetrics(RunId),
    /// Write a label and flush it; answered by `LabelSaved`.
    SaveLabel {
        id: EpisodeId,
        label: Label,
    },
    RemoveLabel {
        id: EpisodeId,
        seq: u64,
    },
    /// Create and run a sim run over the bundled dataset in the background.
    StartSimRun {
        name: String,
        limit: Option<usize>,
    },
    CancelRun(RunId),
    ResumeRun(RunId),
}

/// Executes effects on the tokio runtime.
pub struct Io {
    store: Store,
    tx: UnboundedSender<Event>,
    cancels: HashMap<RunId, Arc<AtomicBool>>,
}

impl Io {
    pub fn new(store: Store, tx: UnboundedSender<Event>) -> Io {
        Io { store, tx, cancels: HashMap::new() }
    }

    /// Runs blocking store work off the UI thread and sends its event back.
    fn blocking(&self, f: impl FnOnce(&Store) -> Result<Event, String> + Send + 'static) {
        let store = self.store.clone();
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || {
            let ev = f(&store).unwrap_or_else(Event::Error);
            let _ = tx.send(ev);
        });
    }

    pub fn execute(&mut self, effect: Effect) {
        match effect {
            Effect::LoadRuns => {
                self.blocking(|s| browse::runs(s).map(Event::Runs).map_err(|e| e.to_string()))
            }
            Effect::LoadEpisodes(run) => self.blocking(move |s| {
                let r = browse::run_by_id(s, run).map_err(|e| e.to_string())?;
                let rows = browse::episodes(s, &r).map_err(|e| e.to_string())?;
                Ok(Event::Episodes { run, rows })
            }),
            Effect::LoadEpisode { run, id } => self.blocking(move |s| {
                let r = browse::run_by_id(s, run).map_err(|e| e.to_string())?;
                let d = browse::episode(s, &r, id).map_err(|e| e.to_string())?;
                Ok(Event::Episode(Box::new(d)))
            }),
            Effect::LoadMetrics(run) => self.blocking(move |s| {
                let r = browse::run_by_id(s, run).map_err(|e| e.to_string())?;
                let report = crate::metrics::run_metrics(s, &r).map_err(|e| e.to_string())?;
                Ok(Event::Metrics { run, report: Box::new(report) })
            }),
            Effect::SaveLabel { id, label } => self.blocking(move |s| {
                let seq = s.add_label(id, &label).map_err(|e| format!("label not saved: {e}"))?;
                Ok(Event::LabelSaved { id, seq, label })
            }),
            Effect::RemoveLabel { id, seq } => self.blocking(move |s| {
                s.remove_label(id, seq).map_err(|e| format!("undo failed: {e}"))?;
                Ok(Event::LabelRemoved { id, seq })
            }),
            Effect::StartSimRun { name, limit } => self.start_sim(name, limit),
            Effect::CancelRun(run) => {
                if let Some(c) = self.cancels.get(&run) {
                    c.store(true, Ordering::Relaxed);
                }
            }
            Effect::ResumeRun(run) => self.resume(run),
        }
    }

    fn spawn_run(&mut self, run: RunId, provider: Provider, concurrency: usize) {
        let cancel = Arc::new(AtomicBool::new(false));
        self.cancels.insert(run, cancel.clone());
        let (store, tx) = (self.store.clone(), self.tx.clone());
        tokio::spawn(async move {
            let (etx, mut erx) = tokio::sync::mpsc::unbounded_channel();
            let forward = {
                let tx = tx.clone();
                tokio::spawn(async move {
                    while let Some(ev) = erx.recv().await {
                        let _ = tx.send(Event::Run(ev));
                    }
                })
            };
            let opts = RunOptions { concurrency, ..RunOptions::default() };
            if let Err(e) = runner::execute(store, run, provider, opts, etx, cancel).await {
                let _ = tx.send(Event::Error(format!("run failed: {e}")));
            }
            let _ = forward.await;
        });
    }

    fn start_sim(&mut self, name: String, limit: Option<usize>) {
        let store = self.store.clone();
        let made = (|| -> Result<RunId, String> {
            let mut items =
                crate::dataset::resolve(crate::dataset::DEFAULT_DATASET, &Default::default())
                    .map_err(|e| e.to_string())?
                    .items;
            if let Some(l) = limit {
                items.truncate(l);
            }
            let taken: Vec<String> =
                store.runs().map_err(|e| e.to_string())?.into_iter().map(|r| r.name).collect();
            let name = if taken.contains(&name) {
                (2..).map(|i| format!("{name}-{i}")).find(|n| !taken.contains(n)).unwrap_or(name)
            } else {
                name
            };
            let record = runner::create_run(
                &store,
                NewRun {
                    name,
                    dataset: crate::dataset::DEFAULT_DATASET.into(),
                    items,
                    protocol: crate::protocol::load_protocol("critique-revise")
                        .map_err(|e| e.to_string())?,
                    provider: ProviderSpec::Sim { params: SimParams::default() },
                    model: "sim".into(),
                    critic_model: "sim".into(),
                    sampling: Sampling::default(),
                },
                GradeOptions::default(),
            )
            .map_err(|e| e.to_string())?;
            Ok(record.id)
        })();
        match made {
            Ok(run) => {
                let _ = self.tx.send(Event::Runs(browse::runs(&self.store).unwrap_or_default()));
                self.spawn_run(run, Provider::Sim(SimParams::default()), 16);
            }
            Err(e) => {
                let _ = self.tx.send(Event::Error(format!("cannot start a run: {e}")));
            }
        }
    }

    fn resume(&mut self, run: RunId) {
        let record = match browse::run_by_id(&self.store, run) {
            Ok(r) => r,
            Err(e) => {
                let _ = self.tx.send(Event::Error(e.to_string()));
                return;
            }
        };
        match Provider::from_spec(&record.provider) {
            Ok(p) => {
                let c = match &record.provider {
                    ProviderSpec::OpenAi(o) => o.concurrency,
                    _ => 16,
                };
                self.spawn_run(run, p, c);
            }
            Err(e) => {
                let _ = self.tx.send(Event::Error(format!("cannot resume {}: {e}", record.name)));
            }
        }
    }

    /// Asks every background run to stop (on quit).
    pub fn cancel_all(&self) {
        for c in self.cancels.values() {
            c.store(true, Ordering::Relaxed);
        }
    }
}
