//! I/O that `update` asks for. `Io::execute` only spawns; results come back as `Event`s.

use tokio::sync::mpsc::UnboundedSender;

use super::event::Event;
use crate::browse;
use crate::domain::{EpisodeId, Label, LabelSchema, ProviderSpec, RunId, Sampling, SimParams};
use crate::grade::GradeOptions;
use crate::llm::Provider;
use crate::runner::{self, NewRun, Notice, Registry, RunOptions};
use crate::store::Store;

/// The new-run form's values, as typed.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct RunForm {
    pub name: String,
    pub dataset: String,
    pub protocol: String,
    pub provider: String,
    /// A `[profiles.NAME]` of the config: endpoint, models, timeouts.
    pub profile: String,
    pub base_url: String,
    pub model: String,
    pub critic_model: String,
    pub rounds: String,
    pub limit: String,
    pub samples: String,
    #[serde(default)]
    pub seed: String,
    #[serde(default)]
    pub temperature: String,
    /// The sim's parameters as `name=value` pairs (`p_correct=0.6 tpr=0.8`).
    #[serde(default)]
    pub sim: String,
}

/// The form's fields, in order: what each is called on screen.
pub const FORM_FIELDS: [&str; 14] = [
    "name",
    "dataset",
    "protocol",
    "provider",
    "profile",
    "base url",
    "model",
    "critic model",
    "rounds",
    "limit",
    "samples",
    "seed",
    "temperature",
    "sim",
];

/// The sim's parameters the form's `sim` field takes.
pub const SIM_PARAMS: [&str; 8] = [
    "p_correct",
    "tpr",
    "fpr",
    "p_fix",
    "p_fix_unflagged",
    "p_break",
    "p_break_unflagged",
    "p_unparsed",
];

impl RunForm {
    /// Field labels and values in form order.
    pub fn fields(&self) -> [(&'static str, &String); 14] {
        let values = [
            &self.name,
            &self.dataset,
            &self.protocol,
            &self.provider,
            &self.profile,
            &self.base_url,
            &self.model,
            &self.critic_model,
            &self.rounds,
            &self.limit,
            &self.samples,
            &self.seed,
            &self.temperature,
            &self.sim,
        ];
        let mut i = 0;
        values.map(|v| {
            i += 1;
            (FORM_FIELDS[i - 1], v)
        })
    }

    pub fn field_mut(&mut self, i: usize) -> Option<&mut String> {
        Some(match i {
            0 => &mut self.name,
            1 => &mut self.dataset,
            2 => &mut self.protocol,
            3 => &mut self.provider,
            4 => &mut self.profile,
            5 => &mut self.base_url,
            6 => &mut self.model,
            7 => &mut self.critic_model,
            8 => &mut self.rounds,
            9 => &mut self.limit,
            10 => &mut self.samples,
            11 => &mut self.seed,
            12 => &mut self.temperature,
            13 => &mut self.sim,
            _ => return None,
        })
    }
}

/// The form's `sim` field: `name=value` pairs, separated by spaces or commas.
fn parse_sim(text: &str) -> Result<crate::plan::SimOverrides, String> {
    let mut o = crate::plan::SimOverrides::default();
    for pair in text.split([' ', ',']).filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("sim: `{pair}` is not name=value (e.g. p_correct=0.6)"))?;
        let v: f64 =
            value.parse().map_err(|_| format!("sim: {key} must be a number, got `{value}`"))?;
        if !(0.0..=1.0).contains(&v) {
            return Err(format!("sim: {key} must be a probability in [0,1], got {value}"));
        }
        let slot = match key.replace('-', "_").as_str() {
            "p_correct" => &mut o.p_correct,
            "tpr" => &mut o.tpr,
            "fpr" => &mut o.fpr,
            "p_fix" => &mut o.p_fix,
            "p_fix_unflagged" => &mut o.p_fix_unflagged,
            "p_break" => &mut o.p_break,
            "p_break_unflagged" => &mut o.p_break_unflagged,
            "p_unparsed" => &mut o.p_unparsed,
            _ => {
                return Err(format!(
                    "sim: unknown parameter `{key}` (known: {})",
                    SIM_PARAMS.join(", ")
                ));
            }
        };
        *slot = Some(v);
    }
    Ok(o)
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Effect {
    /// A client of the database's server: plan runs and count labels with this config file
    /// (the workbench's, not the server's). Sent first on every connection.
    Configure(std::path::PathBuf),
    LoadRuns,
    LoadEpisodes(RunId),
    LoadEpisode {
        run: RunId,
        id: EpisodeId,
    },
    LoadMetrics(RunId),
    /// Compare run `b` with run `a` (paired bootstrap, McNemar); answered by `Comparison`.
    LoadComparison {
        a: RunId,
        b: RunId,
    },
    /// Append a label entry and flush it; answered by `LabelSaved`. `undo`: the entry takes
    /// back the annotator's last label (it is not itself undoable).
    SaveLabel {
        id: EpisodeId,
        label: Label,
        undo: bool,
    },
    /// Save the annotator's name in the config file; answered by `AnnotatorSaved`.
    SaveAnnotator {
        path: std::path::PathBuf,
        name: String,
    },
    /// Create and run a sim run over the bundled dataset in the background.
    StartSimRun {
        name: String,
        limit: Option<usize>,
        /// The run's seed: the demo's is 0, each quick run gets a new one.
        seed: u64,
    },
    CancelRun(RunId),
    ResumeRun(RunId),
    /// Create a run from the new-run form and start it in the background.
    StartRun(Box<RunForm>),
    /// Create a run to step through by hand, from another run's items and settings.
    StepBegin {
        source: RunId,
    },
    /// Add a typed question (`question => reference`) to a step run.
    StepAddQuestion {
        run: RunId,
        text: String,
    },
    StepLoadTurns {
        run: RunId,
        item: u32,
    },
    /// Produce the next turn of an item; `critique` is a human-written critique to store instead.
    StepNext {
        run: RunId,
        item: u32,
        critique: Option<String>,
        annotator: String,
    },
}

/// Executes effects on the tokio runtime: against the database here, or (a client of the
/// database's server) by sending them to it.
pub struct Io {
    mode: Mode,
    tx: UnboundedSender<Event>,
}

enum Mode {
    Local(Box<Local>),
    /// Effects go to the server; its answers and news arrive on `tx` through the link.
    Remote(UnboundedSender<Effect>),
}

/// The database is open in this process.
struct Local {
    store: Store,
    registry: Registry,
    /// Queue progress counts complete episodes by it.
    schema: LabelSchema,
    /// Profiles and run defaults for the new-run form.
    config: crate::config::Config,
}

/// How a new or resumed run is made ready, off the UI thread.
/// Makes (or finds) the run to start, with a line to show once it starts.
type Prepare =
    Box<dyn FnOnce(&Store) -> Result<(RunId, Provider, RunOptions, Option<String>), String> + Send>;

/// Reloads the runs table: names and counts first (fast), then with the headline metrics.
fn reload_runs(
    store: &Store,
    schema: &LabelSchema,
    tx: &UnboundedSender<Event>,
) -> Result<Event, String> {
    let quick = browse::runs_quick(store).map_err(|e| e.to_string())?;
    let _ = tx.send(Event::Runs(quick));
    browse::runs(store, schema).map(Event::Runs).map_err(|e| e.to_string())
}

/// Tells `tx` what the registry hears: run progress always; with `others`, labels and run
/// list changes too (a server's client must see what other clients do).
pub fn forward_news(registry: &Registry, tx: UnboundedSender<Event>, others: bool) {
    let mut news = registry.subscribe();
    tokio::spawn(async move {
        loop {
            let heard = tokio::select! {
                heard = news.recv() => heard,
                // Nobody listens any more (a client left): stop now, not at the next news.
                () = tx.closed() => break,
            };
            let ev = match heard {
                Ok(Notice::Run(ev)) => Event::Run(ev),
                Ok(Notice::Label(id)) if others => Event::LabelChanged(id),
                Ok(Notice::Runs) if others => Event::RunsChanged,
                Ok(_) => continue,
                // A slow reader missed news: reload rather than show stale counts.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Event::RunsChanged,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            };
            if tx.send(ev).is_err() {
                break;
            }
        }
    });
}

impl Io {
    /// The database open here, its runs in `registry` (call inside the tokio runtime).
    pub fn new(store: Store, tx: UnboundedSender<Event>, schema: LabelSchema) -> Io {
        let registry = Registry::default();
        forward_news(&registry, tx.clone(), false);
        Io::shared(store, tx, schema, registry)
    }

    /// The database open here with runs shared with other users of `registry` (a server's
    /// connection); the caller forwards the registry's news.
    pub fn shared(
        store: Store,
        tx: UnboundedSender<Event>,
        schema: LabelSchema,
        registry: Registry,
    ) -> Io {
        let local = Box::new(Local { store, registry, schema, config: Default::default() });
        Io { mode: Mode::Local(local), tx }
    }

    /// A client of the database's server: effects are sent on `effects`.
    pub fn remote(effects: UnboundedSender<Effect>, tx: UnboundedSender<Event>) -> Io {
        Io { mode: Mode::Remote(effects), tx }
    }

    /// The config the new-run form plans with (its profiles and run defaults).
    pub fn with_config(mut self, config: crate::config::Config) -> Io {
        if let Mode::Local(l) = &mut self.mode {
            l.config = config;
        }
        self
    }
}

impl Local {
    /// Makes a run ready (dataset, records: slow on a large set) off the UI thread, then starts
    /// it and reloads the runs table; `what` prefixes an error.
    fn start_in_background(
        &self,
        tx: &UnboundedSender<Event>,
        what: &'static str,
        prepare: Prepare,
    ) {
        let (store, tx, registry, schema) =
            (self.store.clone(), tx.clone(), self.registry.clone(), self.schema.clone());
        tokio::spawn(async move {
            let made = {
                let store = store.clone();
                tokio::task::spawn_blocking(move || prepare(&store)).await
            };
            let started = match made {
                Ok(Ok((run, provider, opts, said))) => {
                    if let Some(said) = said {
                        let _ = tx.send(Event::Info(said));
                    }
                    registry.spawn(store.clone(), run, provider, opts, Default::default(), None)
                }
                Ok(Err(e)) => Err(e),
                Err(e) => Err(e.to_string()),
            };
            match started {
                Ok(()) => {
                    registry.notify(Notice::Runs);
                    let _ = tokio::task::spawn_blocking(move || {
                        let ev = reload_runs(&store, &schema, &tx).unwrap_or_else(Event::Error);
                        let _ = tx.send(ev);
                    })
                    .await;
                }
                Err(e) => {
                    let _ = tx.send(Event::Error(format!("{what}: {e}")));
                }
            }
        });
    }

    /// Runs blocking store work off the UI thread and sends its event back.
    fn blocking(
        &self,
        tx: &UnboundedSender<Event>,
        f: impl FnOnce(&Store) -> Result<Event, String> + Send + 'static,
    ) {
        let store = self.store.clone();
        let tx = tx.clone();
        tokio::task::spawn_blocking(move || {
            let ev = f(&store).unwrap_or_else(Event::Error);
            let _ = tx.send(ev);
        });
    }
}

impl Io {
    pub fn execute(&mut self, effect: Effect) {
        match &self.mode {
            Mode::Local(l) => l.execute(&self.tx, effect),
            // The config file is this user's, wherever the database is served.
            Mode::Remote(_) if matches!(effect, Effect::SaveAnnotator { .. }) => {
                let Effect::SaveAnnotator { path, name } = effect else { return };
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || {
                    let _ = tx.send(save_annotator(&path, &name).unwrap_or_else(Event::Error));
                });
            }
            Mode::Remote(link) => {
                // The server has its own working directory: a dataset file is this one's.
                let effect = match effect {
                    Effect::StartRun(mut form) => {
                        let p = std::path::Path::new(form.dataset.trim());
                        if p.is_relative()
                            && p.exists()
                            && let Ok(abs) = std::path::absolute(p)
                        {
                            form.dataset = abs.display().to_string();
                        }
                        Effect::StartRun(form)
                    }
                    other => other,
                };
                if link.send(effect).is_err() {
                    let _ = self.tx.send(Event::Error("the database's server is gone".into()));
                }
            }
        }
    }
}

impl Local {
    fn execute(&self, tx: &UnboundedSender<Event>, effect: Effect) {
        match effect {
            // Here the config was given when the I/O was made.
            Effect::Configure(_) => {}
            Effect::LoadRuns => {
                let early = tx.clone();
                let schema = self.schema.clone();
                self.blocking(tx, move |s| reload_runs(s, &schema, &early))
            }
            Effect::LoadEpisodes(run) => self.blocking(tx, move |s| {
                let r = browse::run_by_id(s, run).map_err(|e| e.to_string())?;
                let rows = browse::episodes(s, &r).map_err(|e| e.to_string())?;
                let queue = s.queue(run).map_err(|e| e.to_string())?;
                Ok(Event::Episodes { run, rows, queue })
            }),
            Effect::LoadEpisode { run, id } => self.blocking(tx, move |s| {
                let r = browse::run_by_id(s, run).map_err(|e| e.to_string())?;
                let d = browse::episode(s, &r, id).map_err(|e| e.to_string())?;
                Ok(Event::Episode(Box::new(d)))
            }),
            Effect::LoadMetrics(run) => self.blocking(tx, move |s| {
                let r = browse::run_by_id(s, run).map_err(|e| e.to_string())?;
                let report = crate::analysis::run_metrics(s, &r).map_err(|e| e.to_string())?;
                Ok(Event::Metrics { run, report: Box::new(report) })
            }),
            Effect::LoadComparison { a, b } => self.blocking(tx, move |s| {
                let result = comparison(s, a, b).map(Box::new);
                Ok(Event::Comparison { a, b, result })
            }),
            Effect::SaveLabel { id, label, undo } => {
                let registry = self.registry.clone();
                self.blocking(tx, move |s| {
                    let (seq, label) =
                        s.add_label(id, &label).map_err(|e| format!("label not saved: {e}"))?;
                    registry.notify(Notice::Label(id));
                    Ok(Event::LabelSaved { id, seq, label, undo })
                })
            }
            Effect::SaveAnnotator { path, name } => {
                self.blocking(tx, move |_| save_annotator(&path, &name))
            }
            Effect::StartSimRun { name, limit, seed } => self.start_in_background(
                tx,
                "cannot start a run",
                Box::new(move |s| {
                    let run = create_sim(s, name, limit, seed)?;
                    Ok((run, Provider::Sim(SimParams::default()), RunOptions::default(), None))
                }),
            ),
            Effect::CancelRun(run) => {
                if !self.registry.cancel(run) {
                    let _ = tx.send(Event::Error("that run does not execute here".into()));
                }
            }
            // The run's own concurrency and grading options, as `critloop run --resume` uses.
            Effect::ResumeRun(run) => self.start_in_background(
                tx,
                "cannot resume",
                Box::new(move |s| {
                    let record = browse::run_by_id(s, run).map_err(|e| e.to_string())?;
                    let provider = Provider::from_spec(&record.provider)
                        .map_err(|e| format!("{}: {e}", record.name))?;
                    Ok((run, provider, runner::stored_options(&record, None, true), None))
                }),
            ),
            Effect::StartRun(form) => {
                let config = self.config.clone();
                self.start_in_background(
                    tx,
                    "new run",
                    Box::new(move |s| start_from_form(s, &config, &form)),
                )
            }
            Effect::StepBegin { source } => self.blocking(tx, move |s| step_begin(s, source)),
            Effect::StepAddQuestion { run, text } => {
                self.blocking(tx, move |s| add_question(s, run, &text))
            }
            Effect::StepLoadTurns { run, item } => self.blocking(tx, move |s| {
                let turns =
                    s.turns(EpisodeId { run, item, sample: 0 }).map_err(|e| e.to_string())?;
                Ok(Event::StepTurns { run, item, turns })
            }),
            Effect::StepNext { run, item, critique, annotator } => {
                let (store, tx) = (self.store.clone(), tx.clone());
                tokio::spawn(async move {
                    let ev = match step_next(&store, &tx, run, item, critique, annotator).await {
                        Ok((turn, done)) => {
                            Event::StepTurn { run, item, turn: Box::new(turn), done }
                        }
                        Err(error) => Event::StepFailed { run, item, error },
                    };
                    let _ = tx.send(ev);
                });
            }
        }
    }
}

impl Io {
    /// On quit: stops every background run (requests in flight are aborted; what was stored
    /// stays), waits for them to mark themselves cancelled, and says how to continue each one.
    /// A client leaves its runs to the server: they go on, and this says so.
    pub async fn shutdown(self, wait: std::time::Duration, running: Vec<String>) -> Vec<String> {
        match self.mode {
            Mode::Local(l) => l.shutdown(wait).await,
            Mode::Remote(_) => running
                .into_iter()
                .map(|name| {
                    let name = crate::tui::text::inert(&name);
                    format!("run {name} goes on in the background; `critloop runs list` shows it")
                })
                .collect(),
        }
    }
}

impl Local {
    async fn shutdown(self, wait: std::time::Duration) -> Vec<String> {
        let tasks = self.registry.stop_all();
        let mut notes = Vec::new();
        for (run, handle) in tasks {
            if handle.is_finished() {
                continue;
            }
            let stopped = tokio::time::timeout(wait, handle).await.is_ok();
            let Ok(record) = browse::run_by_id(&self.store, run) else { continue };
            let Ok(t) = runner::totals(&self.store, run) else { continue };
            if t.pending == 0 {
                continue;
            }
            let name = crate::tui::text::inert(&record.name);
            notes.push(if stopped {
                format!(
                    "run {name} stopped at {} of {} episodes; continue with `critloop run --resume {name}`",
                    t.done + t.failed,
                    t.total
                )
            } else {
                format!("run {name} did not stop within {}s; `critloop run --resume {name}` continues it", wait.as_secs())
            });
        }
        let _ = self.store.flush();
        notes
    }
}

fn save_annotator(path: &std::path::Path, name: &str) -> Result<Event, String> {
    crate::config::save_annotator(path, name).map_err(|e| e.to_string())?;
    Ok(Event::AnnotatorSaved(format!("labelling as {name} (saved in {})", path.display())))
}

/// A quick sim run over the bundled dataset (a name taken gets `-2`, `-3`, …).
fn create_sim(
    store: &Store,
    name: String,
    limit: Option<usize>,
    seed: u64,
) -> Result<RunId, String> {
    let mut items = crate::dataset::resolve(crate::dataset::DEFAULT_DATASET, &Default::default())
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
        store,
        NewRun {
            name,
            dataset: crate::dataset::DEFAULT_DATASET.into(),
            items,
            protocol: crate::protocol::load_protocol("critique-revise")
                .map_err(|e| e.to_string())?,
            provider: ProviderSpec::Sim { params: SimParams::default() },
            model: "sim".into(),
            critic_model: "sim".into(),
            sampling: Sampling { seed, ..Sampling::default() },
        },
        GradeOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    Ok(record.id)
}

/// Run `b` against run `a` with the default bootstrap (the CLI's `compare`).
fn comparison(store: &Store, a: RunId, b: RunId) -> Result<crate::metrics::Comparison, String> {
    let err = |e: crate::store::StoreError| e.to_string();
    let (ra, rb) =
        (browse::run_by_id(store, a).map_err(err)?, browse::run_by_id(store, b).map_err(err)?);
    crate::analysis::compare_runs(store, &ra, &rb, &crate::metrics::BootstrapOptions::default())
        .map_err(err)
}

/// A new run over the source run's items with its provider and models (a replay source is
/// stepped with the simulator), for stepping by hand.
fn step_begin(store: &Store, source: RunId) -> Result<Event, String> {
    let src = browse::run_by_id(store, source).map_err(|e| e.to_string())?;
    let items = store.items(source).map_err(|e| e.to_string())?;
    let taken: Vec<String> =
        store.runs().map_err(|e| e.to_string())?.into_iter().map(|r| r.name).collect();
    let base = format!("step-{}", src.name);
    let name = std::iter::once(base.clone())
        .chain((2..).map(|i| format!("{base}-{i}")))
        .find(|n| !taken.contains(n))
        .unwrap_or(base);
    let protocol = if src.protocol.kind.uses_given() {
        crate::protocol::load_protocol("critique-revise").map_err(|e| e.to_string())?
    } else {
        src.protocol.clone()
    };
    let provider = match &src.provider {
        ProviderSpec::Replay => ProviderSpec::Sim { params: SimParams::default() },
        p => p.clone(),
    };
    let record = runner::create_run(
        store,
        NewRun {
            name,
            dataset: src.dataset.clone(),
            items: items.clone(),
            protocol,
            provider,
            model: src.model.clone(),
            critic_model: src.critic_model.clone(),
            sampling: Sampling { samples: 1, ..src.sampling.clone() },
        },
        GradeOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    Ok(Event::StepReady { run: record.id, source: src.name, items })
}

/// One hand-stepped turn: streamed from the provider (or typed by a human for a critique),
/// graded, stored and flushed before it is reported.
async fn step_next(
    store: &Store,
    tx: &UnboundedSender<Event>,
    run: RunId,
    item: u32,
    critique: Option<String>,
    annotator: String,
) -> Result<(crate::domain::Turn, bool), String> {
    use crate::domain::{Role, Turn};
    use crate::protocol::{Next, next_step};
    let record = browse::run_by_id(store, run).map_err(|e| e.to_string())?;
    let items = store.items(run).map_err(|e| e.to_string())?;
    let it = items.get(item as usize).ok_or("no such item")?;
    let id = EpisodeId { run, item, sample: 0 };
    let turns = store.turns(id).map_err(|e| e.to_string())?;
    let step = match next_step(&record.protocol, it, &turns).map_err(|e| e.to_string())? {
        Next::Request(step) => step,
        // A control arm's synthetic critique: stored like a finished step, with no model call.
        Next::Local { index, turn } => {
            if critique.is_some() {
                return Err("this run writes its own critiques (a control arm): step without \
                            typing one"
                    .into());
            }
            return finish_step(store, &record, it, id, turns, Some(index), *turn).await;
        }
        Next::Done => return Err("this item's episode is complete: pick another item".into()),
    };
    let turn = match critique {
        Some(text) => {
            if step.role != Role::Critique {
                return Err(format!("the next turn is a {}, not a critique", step.role.as_str()));
            }
            let mut t = Turn::new(Role::Critique, text);
            t.model = Some(format!("human:{annotator}"));
            t.meta.insert("oracle".into(), serde_json::Value::Bool(true));
            runner::grade_turn(&mut t, it, GradeOptions::default(), step.wants_answer);
            t
        }
        None => {
            // The runner's own turn: the response cache first, streamed otherwise.
            let provider = Provider::from_spec(&record.provider).map_err(|e| e.to_string())?;
            let (dtx, mut drx) = tokio::sync::mpsc::unbounded_channel::<String>();
            let forward = {
                let tx = tx.clone();
                tokio::spawn(async move {
                    while let Some(text) = drx.recv().await {
                        let _ = tx.send(Event::StepDelta { run, item, text });
                    }
                })
            };
            let at = runner::TurnAt {
                store,
                run: &record,
                provider: &provider,
                item: it,
                id,
                step: &step,
                prior: &turns,
            };
            let grade = GradeOptions { qwen_compat: record.grading().qwen_compat };
            let made = runner::model_turn(at, grade, true, Some(&dtx)).await;
            drop(dtx);
            let _ = forward.await;
            let turn = made.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
            return finish_step(store, &record, it, id, turns, None, turn).await;
        }
    };
    finish_step(store, &record, it, id, turns, Some(step.index), turn).await
}

/// Stores a stepped turn at `index` (`None`: the runner stored it already), marks the episode
/// done when its protocol is, and flushes.
async fn finish_step(
    store: &Store,
    record: &crate::domain::RunRecord,
    it: &crate::domain::Item,
    id: EpisodeId,
    mut turns: Vec<crate::domain::Turn>,
    index: Option<u32>,
    turn: crate::domain::Turn,
) -> Result<(crate::domain::Turn, bool), String> {
    use crate::domain::{Episode, EpisodeStatus};
    use crate::protocol::{Next, next_step};
    if let Some(index) = index {
        store.put_turn(id, index, &turn).map_err(|e| e.to_string())?;
    }
    turns.push(turn.clone());
    let done = matches!(next_step(&record.protocol, it, &turns), Ok(Next::Done));
    if done {
        let ep = Episode {
            id,
            item_id: it.id.clone(),
            status: EpisodeStatus::Done,
            error: None,
            meta: Default::default(),
        };
        store.put_episode(&ep).map_err(|e| e.to_string())?;
    }
    store.flush_async().await.map_err(|e| e.to_string())?;
    Ok((turn, done))
}

fn parse_num<T: std::str::FromStr>(field: &str, v: &str, default: T) -> Result<T, String> {
    if v.trim().is_empty() {
        return Ok(default);
    }
    v.trim().parse().map_err(|_| format!("{field} must be a number, got `{v}`"))
}

impl RunForm {
    /// The form as a plan for the one run planner, or what is wrong with it (pure: the
    /// workbench checks a form before it leaves the screen).
    pub fn plan(&self) -> Result<crate::plan::RunPlan, String> {
        plan_of_form(self)
    }
}

/// The form as a plan for the one run planner (the same record `critloop run` would make).
fn plan_of_form(f: &RunForm) -> Result<crate::plan::RunPlan, String> {
    use crate::plan::{ProviderChoice, RunPlan};
    let text = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
    let name = text(&f.name).ok_or("give the run a name")?;
    let provider = match f.provider.trim() {
        "" => None,
        "sim" => Some(ProviderChoice::Sim),
        "openai" => Some(ProviderChoice::OpenAi),
        other => return Err(format!("provider must be sim or openai, not `{other}`")),
    };
    if provider == Some(ProviderChoice::Sim) && text(&f.profile).is_some() {
        return Err("a profile names an endpoint: set provider to openai (or clear it)".into());
    }
    let limit: usize = parse_num("limit", &f.limit, 0)?;
    let rounds: Option<u32> = text(&f.rounds).map(|r| parse_num("rounds", &r, 1)).transpose()?;
    let seed: Option<u64> = text(&f.seed)
        .map(|v| v.parse().map_err(|_| format!("seed must be a whole number, got `{v}`")))
        .transpose()?;
    let temperature: f64 = parse_num("temperature", &f.temperature, 0.7)?;
    if !(0.0..=2.0).contains(&temperature) {
        return Err(format!("temperature must be between 0 and 2, got {temperature}"));
    }
    let sim = parse_sim(&f.sim)?;
    if text(&f.sim).is_some() && provider == Some(ProviderChoice::OpenAi) {
        return Err("sim parameters apply to the sim provider only: clear the sim field".into());
    }
    Ok(RunPlan {
        name: Some(name),
        dataset: text(&f.dataset),
        protocol: text(&f.protocol),
        provider,
        profile: text(&f.profile),
        base_urls: text(&f.base_url).into_iter().collect(),
        model: text(&f.model),
        critic_model: text(&f.critic_model),
        rounds,
        limit: (limit > 0).then_some(limit),
        samples: parse_num("samples", &f.samples, 1)?,
        seed,
        temperature,
        sim,
        ..RunPlan::default()
    })
}

/// Validates the form and creates the run through the planner (profiles included); says how
/// many of the dataset's items it takes, and what the loader noted.
fn start_from_form(
    store: &Store,
    config: &crate::config::Config,
    f: &RunForm,
) -> Result<(RunId, Provider, RunOptions, Option<String>), String> {
    let plan = plan_of_form(f)?;
    let chosen = crate::plan::choose_provider(config, &plan).map_err(|e| e.to_string())?;
    let provider = Provider::from_spec(&chosen.spec).map_err(|e| e.to_string())?;
    let created = crate::plan::create(store, config, &plan, chosen).map_err(|e| e.to_string())?;
    let taken = created.taken_items;
    let of = created.dataset_items;
    let mut said = if taken < of {
        format!("{}: the first {taken} of {of} items (limit {taken})", created.record.name)
    } else {
        format!("{}: all {} items", created.record.name, of)
    };
    for note in &created.notes {
        said.push_str(&format!(" · {note}"));
    }
    Ok((created.record.id, provider, created.opts, Some(said)))
}

/// Stores a typed question as a new item (and its pending episode) of a step run.
fn add_question(store: &Store, run: RunId, text: &str) -> Result<Event, String> {
    use crate::domain::{Episode, EpisodeStatus, Item, ItemId};
    let (question, reference) = match text.split_once("=>") {
        Some((q, r)) => (q.trim(), r.trim()),
        None => (text.trim(), ""),
    };
    let n = store.items(run).map_err(|e| e.to_string())?.len();
    let item = Item {
        id: ItemId(format!("typed-{}", n + 1)),
        question: question.to_string(),
        reference: reference.to_string(),
        answer_kind: crate::dataset::infer_kind(reference),
        choices: None,
        given: None,
        source: "typed".into(),
        meta: Default::default(),
    };
    let idx = store.append_item(run, &item).map_err(|e| e.to_string())?;
    let id = EpisodeId { run, item: idx, sample: 0 };
    let ep = Episode {
        id,
        item_id: item.id.clone(),
        status: EpisodeStatus::Pending,
        error: None,
        meta: Default::default(),
    };
    store.put_episode(&ep).map_err(|e| e.to_string())?;
    store.flush().map_err(|e| e.to_string())?;
    Ok(Event::StepItemAdded { run, item: Box::new(item) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CritiqueSource, Role, Verdict};

    /// The form plans like `critloop run`: a profile of the config gives the endpoint and
    /// model, the form's fields win over it, and a sim provider with a profile is refused.
    #[test]
    fn the_new_run_form_uses_the_config_profiles() {
        let store = Store::temporary().unwrap();
        let mut config = crate::config::Config::default();
        config.profiles.insert(
            "local".into(),
            crate::config::Profile {
                base_url: Some("http://127.0.0.1:9/v1".into()),
                model: Some("smollm2".into()),
                concurrency: Some(3),
                ..Default::default()
            },
        );
        let form = RunForm {
            name: "p".into(),
            provider: "openai".into(),
            profile: "local".into(),
            limit: "2".into(),
            ..RunForm::default()
        };
        let (run, _, opts, _) = start_from_form(&store, &config, &form).unwrap();
        let record = browse::run_by_id(&store, run).unwrap();
        let ProviderSpec::OpenAi(spec) = &record.provider else { panic!("{record:?}") };
        assert_eq!(spec.generator.base_urls, ["http://127.0.0.1:9/v1"]);
        assert_eq!((record.model.as_str(), opts.concurrency), ("smollm2", 3));
        assert_eq!(store.episodes(run).unwrap().len(), 2);
        let sim = RunForm { provider: "sim".into(), name: "q".into(), ..form };
        let err = start_from_form(&store, &config, &sim).unwrap_err();
        assert!(err.contains("set provider to openai"), "{err}");
    }

    /// Seed, temperature and the sim's parameters go into the run; the start says how many
    /// of the dataset's items the limit took.
    #[test]
    fn the_form_sets_seed_temperature_and_sim_parameters_and_says_what_the_limit_took() {
        let store = Store::temporary().unwrap();
        let config = crate::config::Config::default();
        let form = RunForm {
            name: "tuned".into(),
            dataset: "arith".into(),
            provider: "sim".into(),
            limit: "5".into(),
            seed: "42".into(),
            temperature: "0.3".into(),
            sim: "p_correct=0.9, tpr=0.25".into(),
            ..RunForm::default()
        };
        let (run, _, _, said) = start_from_form(&store, &config, &form).unwrap();
        assert_eq!(said.as_deref(), Some("tuned: the first 5 of 300 items (limit 5)"));
        let record = browse::run_by_id(&store, run).unwrap();
        assert_eq!((record.sampling.seed, record.sampling.temperature), (42, 0.3));
        let ProviderSpec::Sim { params } = &record.provider else { panic!("{record:?}") };
        assert_eq!((params.p_correct, params.tpr), (0.9, 0.25));
        assert_eq!(params.fpr, SimParams::default().fpr, "unset ones keep the default");
        let all = RunForm { name: "all".into(), limit: String::new(), sim: String::new(), ..form };
        let (_, _, _, said) = start_from_form(&store, &config, &all).unwrap();
        assert_eq!(said.as_deref(), Some("all: all 300 items"));
    }

    #[rstest::rstest]
    #[case::unknown_sim("sim", "p_wrong=0.1", "0.7", "sim: unknown parameter `p_wrong`")]
    #[case::not_a_pair("sim", "tpr", "0.7", "sim: `tpr` is not name=value")]
    #[case::not_a_number("sim", "tpr=high", "0.7", "sim: tpr must be a number, got `high`")]
    #[case::out_of_range(
        "sim",
        "tpr=1.5",
        "0.7",
        "sim: tpr must be a probability in [0,1], got 1.5"
    )]
    #[case::sim_on_openai("openai", "tpr=0.5", "0.7", "apply to the sim provider only")]
    #[case::hot("sim", "", "3", "temperature must be between 0 and 2, got 3")]
    #[case::seed("sim", "", "0.7", "seed must be a whole number, got `-1`")]
    fn the_form_refuses_bad_values_with_a_clear_line(
        #[case] provider: &str,
        #[case] sim: &str,
        #[case] temperature: &str,
        #[case] want: &str,
    ) {
        let store = Store::temporary().unwrap();
        let form = RunForm {
            name: "bad".into(),
            provider: provider.into(),
            base_url: "http://127.0.0.1:9/v1".into(),
            model: "m".into(),
            sim: sim.into(),
            temperature: temperature.into(),
            seed: if want.contains("seed") { "-1".into() } else { "7".into() },
            ..RunForm::default()
        };
        let err = start_from_form(&store, &crate::config::Config::default(), &form).unwrap_err();
        assert!(err.contains(want), "{err}");
        assert!(store.runs().unwrap().is_empty(), "nothing stored");
    }

    /// A new run is made off the UI thread: `execute` returns at once, then the table shows the
    /// run, it runs, and it finishes; quitting after that has nothing to say.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sim_run_starts_in_the_background_and_finishes() {
        let store = Store::temporary().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut io = Io::new(store.clone(), tx, LabelSchema::load(&[]).unwrap());
        io.execute(Effect::StartSimRun { name: "quick".into(), limit: Some(5), seed: 0 });
        let mut listed = false;
        let finished = tokio::time::timeout(std::time::Duration::from_secs(20), async {
            while let Some(ev) = rx.recv().await {
                match ev {
                    Event::Runs(rows) => listed |= rows.iter().any(|r| r.record.name == "quick"),
                    Event::Run(runner::RunEvent::Finished { done, total, cancelled, .. }) => {
                        return (done, total, cancelled);
                    }
                    Event::Error(e) => panic!("{e}"),
                    _ => {}
                }
            }
            panic!("the channel closed");
        })
        .await
        .unwrap();
        assert_eq!(finished, (5, 5, false));
        assert!(listed, "the runs table showed the new run");
        assert!(io.shutdown(std::time::Duration::from_secs(1), Vec::new()).await.is_empty());
    }

    /// Step mode on an oracle arm: the critique is stored without a model and cannot be typed.
    #[tokio::test]
    async fn stepping_an_oracle_arm_stores_its_synthetic_critique() {
        let store = Store::temporary().unwrap();
        let mut items = crate::dataset::resolve("arith", &Default::default()).unwrap().items;
        items.truncate(1);
        let mut protocol = crate::protocol::load_protocol("critique-revise").unwrap();
        protocol.critique_source = CritiqueSource::Oracle;
        let record = runner::create_run(
            &store,
            NewRun {
                name: "step".into(),
                dataset: "arith".into(),
                items,
                protocol,
                provider: ProviderSpec::Sim { params: SimParams::default() },
                model: "sim".into(),
                critic_model: "sim".into(),
                sampling: Sampling::default(),
            },
            GradeOptions::default(),
        )
        .unwrap();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let step = |critique: Option<&str>| {
            step_next(&store, &tx, record.id, 0, critique.map(String::from), "ana".into())
        };
        let (t1, done) = step(None).await.unwrap();
        assert_eq!((t1.role, done), (Role::Generate, false));
        let err = step(Some("typed")).await.unwrap_err();
        assert!(err.contains("control arm"), "{err}");
        let (crit, done) = step(None).await.unwrap();
        assert_eq!((crit.role, done), (Role::Critique, false));
        assert_eq!(crit.meta[crate::protocol::SYNTHETIC], "oracle");
        let want = if t1.correct.unwrap() { Verdict::Correct } else { Verdict::Incorrect };
        assert_eq!(crit.verdict, Some(want));
        let (t2, done) = step(None).await.unwrap();
        assert_eq!((t2.role, done), (Role::Revise, true));
        let stored = store.turns(EpisodeId { run: record.id, item: 0, sample: 0 }).unwrap();
        assert_eq!(stored, [t1, crit, t2]);
    }
}
