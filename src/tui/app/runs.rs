//! The runs screen: the table of runs, live progress, quick runs and the actions on a run.

use super::*;

/// The runs screen: the table, its selection and the live progress of running runs.
#[derive(Debug, Default)]
pub struct RunsTable {
    pub rows: Vec<RunRow>,
    pub sel: usize,
    pub loaded: bool,
    /// A reload for live numbers is in flight, and when it was asked (ms).
    pub(super) reloading: bool,
    pub(super) reloaded_at: u64,
    /// Quick sim runs and forms of this session (each gets its own seed).
    pub(super) quick_runs: u64,
    pub live: HashMap<RunId, Live>,
}

/// Live counts of a background run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Live {
    pub done: u64,
    pub failed: u64,
    pub total: u64,
    pub running: bool,
    /// In flight, concurrency, tokens/s, retries, ETA (from the runner's progress).
    pub signs: Option<crate::runner::Live>,
}

impl App {
    pub fn selected_run(&self) -> Option<&RunRow> {
        self.table.rows.get(self.table.sel)
    }

    /// The runs seen executing and not yet finished (named on quit).
    pub fn running_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .table
            .live
            .iter()
            .filter(|(_, l)| l.running)
            .map(|(id, _)| self.run_name(*id).unwrap_or_else(|| format!("#{}", id.0)))
            .collect();
        names.sort();
        names
    }

    /// The name of a run in the runs table (a run started elsewhere may not be listed yet).
    pub(super) fn run_name(&self, id: RunId) -> Option<String> {
        self.table.rows.iter().find(|r| r.record.id == id).map(|r| r.record.name.clone())
    }

    pub(super) fn run_event(&mut self, ev: RunEvent) -> Vec<Effect> {
        self.dirty = true;
        match ev {
            RunEvent::Started { run, total, done } => {
                self.table
                    .live
                    .insert(run, Live { done, failed: 0, total, running: true, signs: None });
                // A run started by another process: list it.
                if self.table.rows.iter().any(|r| r.record.id == run) {
                    Vec::new()
                } else {
                    vec![Effect::LoadRuns]
                }
            }
            RunEvent::Progress { run, done, failed, total, live } => {
                self.table
                    .live
                    .insert(run, Live { done, failed, total, running: true, signs: Some(live) });
                Vec::new()
            }
            RunEvent::Finished { run, done, failed, total, cancelled } => {
                self.table
                    .live
                    .insert(run, Live { done, failed, total, running: false, signs: None });
                let name = self.run_name(run).unwrap_or_else(|| "run".into());
                self.info(if cancelled {
                    format!("{name} cancelled")
                } else {
                    format!("{name} finished")
                });
                let mut fx = vec![Effect::LoadRuns];
                if self.run == Some(run) {
                    fx.push(Effect::LoadEpisodes(run));
                }
                fx
            }
            RunEvent::Failed { run, error } => {
                if let Some(l) = self.table.live.get_mut(&run) {
                    l.running = false;
                    l.signs = None;
                }
                let name = self.run_name(run).unwrap_or_else(|| "run".into());
                self.error(format!("{name} stopped: {error}"));
                vec![Effect::LoadRuns]
            }
        }
    }

    /// A new seed each time: two quick runs are two samples, not one run twice.
    pub(super) fn next_seed(&mut self) -> u64 {
        self.table.quick_runs += 1;
        // Short enough to read and retype: the clock's seconds within about 11 days, then a
        // counter for seeds asked within one second.
        (self.clock)() / 1000 % 1_000_000 * 100 + self.table.quick_runs % 100
    }

    /// The actions this screen handles.
    pub(super) fn runs_act(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::NewDemoRun => {
                let seed = self.next_seed();
                self.info(format!("starting a sim run of 100 items, seed {seed}…"));
                vec![Effect::StartSimRun { name: "sim".into(), limit: Some(100), seed }]
            }
            Action::NewRun => {
                let taken = |name: &str| self.table.rows.iter().any(|r| r.record.name == name);
                let n = self.table.rows.len() + 1;
                if self.new_run.form == RunForm::default() {
                    self.new_run.form = RunForm {
                        name: format!("run-{n}"),
                        dataset: crate::dataset::DEFAULT_DATASET.into(),
                        protocol: "critique-revise".into(),
                        provider: "sim".into(),
                        rounds: "1".into(),
                        limit: "100".into(),
                        samples: "1".into(),
                        seed: self.next_seed().to_string(),
                        temperature: "0.7".into(),
                        ..RunForm::default()
                    };
                } else if self.new_run.started || taken(self.new_run.form.name.trim()) {
                    // The last form started a run: the next one is a new run with the same
                    // settings, a new name and a new seed. A form that did not start keeps all.
                    self.new_run.form.name = format!("run-{n}");
                    self.new_run.form.seed = self.next_seed().to_string();
                }
                self.new_run.started = false;
                self.new_run.focus = 0;
                self.go(Screen::NewRun);
                Vec::new()
            }
            Action::Step => {
                let Some(id) = self.selected_run().map(|r| r.record.id) else {
                    self.info("no run to step through yet");
                    return Vec::new();
                };
                self.go(Screen::Step);
                self.step = None;
                self.info("creating a run to step through…");
                vec![Effect::StepBegin { source: id }]
            }
            Action::CancelRun => {
                let Some(id) = self.selected_run().map(|r| r.record.id) else { return Vec::new() };
                if self.table.live.get(&id).is_some_and(|l| l.running) {
                    self.info("cancelling…");
                    vec![Effect::CancelRun(id)]
                } else {
                    self.info("that run is not running");
                    Vec::new()
                }
            }
            Action::ResumeRun => {
                let Some(row) = self.selected_run() else { return Vec::new() };
                let id = row.record.id;
                if row.totals.pending == 0 {
                    self.info("nothing left to run");
                    return Vec::new();
                }
                if self.table.live.get(&id).is_some_and(|l| l.running) {
                    self.info("already running");
                    return Vec::new();
                }
                vec![Effect::ResumeRun(id)]
            }
            _ => Vec::new(),
        }
    }

    /// The events this screen handles.
    pub(super) fn runs_update(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Runs(mut rows) => {
                self.dirty = true;
                let first = !self.table.loaded;
                if rows.iter().any(|r| r.measured) {
                    self.table.reloading = false;
                }
                // The quick list (names and counts) keeps the numbers already shown until the
                // measured list replaces them: no blank `— → —` on every return.
                for row in rows.iter_mut().filter(|r| !r.measured) {
                    if let Some(old) =
                        self.table.rows.iter().find(|o| o.record.id == row.record.id && o.measured)
                    {
                        (row.acc_t1, row.acc_t2, row.cl, row.cs) =
                            (old.acc_t1, old.acc_t2, old.cl, old.cs);
                        row.queue = old.queue.clone();
                        row.measured = true;
                    }
                }
                self.table.rows = rows;
                self.table.loaded = true;
                self.table.sel = self.table.sel.min(self.table.rows.len().saturating_sub(1));
                if first && self.table.rows.is_empty() {
                    self.info(
                        "first launch: creating the demo run (sim provider, bundled dataset)…",
                    );
                    return vec![Effect::StartSimRun { name: "demo".into(), limit: None, seed: 0 }];
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }
}
