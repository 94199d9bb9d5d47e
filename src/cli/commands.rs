//! One function per subcommand. Errors bubble up as eyre reports; `main` prints one line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;

use super::args::{
    Cli, Command, DatasetsAction, ExportFormat, LoadArgs, MetricsFormat, RunArgs, RunsAction,
    SimArgs,
};
use super::table;
use crate::config::{Config, Paths};
use crate::dataset::{self, Format, LoadOptions, Loaded};
use crate::domain::{ProviderSpec, RunRecord, Sampling, SimParams};
use crate::grade::GradeOptions;
use crate::llm::Provider;
use crate::metrics::run_metrics;
use crate::runner::{self, NewRun, RunEvent, RunOptions};
use crate::store::Store;

/// Runs the parsed command line.
pub fn dispatch(cli: Cli) -> Result<()> {
    let paths = Paths::discover();
    let config_path = cli.config.clone().unwrap_or_else(|| paths.config_file.clone());
    let config = Config::load(&config_path, cli.config.is_some())?;
    let db_path = cli.db.clone().unwrap_or_else(|| paths.default_db());
    let open = || Store::open(&db_path).map_err(|e| eyre!(e));
    match cli.command {
        None => overview(&open()?, &db_path),
        Some(Command::Run(args)) => run(&open()?, &config, *args),
        Some(Command::Metrics { name, format }) => metrics(&open()?, &name, format),
        Some(Command::Export { name, format, out }) => export(&open()?, &name, format, out),
        Some(Command::Import { file, name, qwen_compat }) => {
            import(&open()?, &file, name, GradeOptions { qwen_compat })
        }
        Some(Command::Runs { action }) => runs(&open()?, action),
        Some(Command::Datasets { action }) => datasets(action),
    }
}

/// Until the TUI lands, plain `critloop` lists the runs and says what to do next.
fn overview(store: &Store, db: &Path) -> Result<()> {
    let runs = store.runs()?;
    println!("critloop — database {}", db.display());
    if runs.is_empty() {
        println!(
            "no runs yet. Try:  critloop run --limit 50   (offline simulator, bundled dataset)"
        );
    } else {
        print_runs(store, &runs)?;
        println!("\nmetrics of a run:  critloop metrics NAME      all commands:  critloop --help");
    }
    Ok(())
}

fn load_options(a: &LoadArgs) -> Result<LoadOptions> {
    let format: Format = a.format.parse().map_err(|e| eyre!("--format: {e}"))?;
    let map = a
        .map
        .as_deref()
        .map(dataset::FieldMap::parse)
        .transpose()
        .map_err(|e| eyre!("--map: {e}"))?;
    Ok(LoadOptions { format, skip_bad: a.skip_bad, map })
}

fn report_skipped(loaded: &Loaded) {
    if loaded.skipped.is_empty() {
        return;
    }
    eprintln!("skipped {} bad line(s):", loaded.skipped.len());
    for e in loaded.skipped.iter().take(20) {
        eprintln!("  {e}");
    }
    if loaded.skipped.len() > 20 {
        eprintln!("  … and {} more", loaded.skipped.len() - 20);
    }
}

fn check_prob(name: &str, v: f64) -> Result<f64> {
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        bail!("--{name} must be a probability in [0,1], got {v}")
    }
}

fn sim_params(a: &SimArgs) -> Result<SimParams> {
    let d = SimParams::default();
    let pick = |name: &str, v: Option<f64>, default: f64| check_prob(name, v.unwrap_or(default));
    Ok(SimParams {
        p_correct: pick("sim-p-correct", a.sim_p_correct, d.p_correct)?,
        tpr: pick("sim-tpr", a.sim_tpr, d.tpr)?,
        fpr: pick("sim-fpr", a.sim_fpr, d.fpr)?,
        p_fix: pick("sim-p-fix", a.sim_p_fix, d.p_fix)?,
        p_fix_unflagged: pick("sim-p-fix-unflagged", a.sim_p_fix_unflagged, d.p_fix_unflagged)?,
        p_break: pick("sim-p-break", a.sim_p_break, d.p_break)?,
        p_break_unflagged: pick(
            "sim-p-break-unflagged",
            a.sim_p_break_unflagged,
            d.p_break_unflagged,
        )?,
        p_unparsed: pick("sim-p-unparsed", a.sim_p_unparsed, d.p_unparsed)?,
    })
}

/// A name not yet taken: `base`, `base-2`, `base-3`, …
fn unique_name(store: &Store, base: &str) -> Result<String> {
    let taken: Vec<String> = store.runs()?.into_iter().map(|r| r.name).collect();
    if !taken.iter().any(|n| n == base) {
        return Ok(base.to_string());
    }
    Ok((2..).map(|i| format!("{base}-{i}")).find(|n| !taken.contains(n)).unwrap_or_default())
}

fn run(store: &Store, config: &Config, a: RunArgs) -> Result<()> {
    let dataset_name = a
        .dataset
        .clone()
        .or_else(|| config.run.dataset.clone())
        .unwrap_or_else(|| dataset::DEFAULT_DATASET.to_string());
    let loaded = dataset::resolve(&dataset_name, &load_options(&a.load)?)?;
    report_skipped(&loaded);
    let mut items = loaded.items;
    if let Some(limit) = a.limit {
        items.truncate(limit);
    }
    let protocol_name = a
        .protocol
        .clone()
        .or_else(|| config.run.protocol.clone())
        .unwrap_or("critique-revise".into());
    let mut protocol = crate::protocol::load_protocol(&protocol_name)?;
    if let Some(r) = a.rounds {
        if r == 0 {
            bail!("--rounds must be at least 1");
        }
        protocol.rounds = r;
    }
    if a.stop_when_correct {
        protocol.stop_when_correct = true;
    }
    if a.samples == 0 {
        bail!("--samples must be at least 1");
    }
    let params = sim_params(&a.sim)?;
    let provider_spec = ProviderSpec::Sim { params };
    let short = Path::new(&dataset_name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(&dataset_name)
        .to_string();
    let name = match a.name.clone() {
        Some(n) => n,
        None => unique_name(store, &format!("{}-{short}", protocol.name))?,
    };
    let grade = GradeOptions { qwen_compat: a.qwen_compat };
    let record = runner::create_run(
        store,
        NewRun {
            name,
            dataset: dataset_name,
            items,
            protocol,
            provider: provider_spec.clone(),
            model: a.model.clone(),
            critic_model: a.critic_model.clone().unwrap_or_else(|| a.model.clone()),
            sampling: Sampling {
                temperature: a.temperature,
                top_p: a.top_p,
                max_tokens: a.max_tokens,
                seed: a.seed.or(config.run.seed).unwrap_or(0),
                samples: a.samples,
            },
        },
        grade,
    )?;
    let opts = RunOptions {
        concurrency: a.concurrency.or(config.run.concurrency).unwrap_or(16),
        grade,
        ..RunOptions::default()
    };
    execute_with_progress(store, &record, Provider::from_spec(&provider_spec), opts, a.quiet)?;
    let report = run_metrics(store, &record)?;
    println!("{}", table::render(&report));
    println!(
        "next:  critloop metrics {0} --format json    critloop export {0} --format jsonl",
        record.name
    );
    Ok(())
}

/// Executes a run on a tokio runtime, drawing a progress bar on stderr; Ctrl-C cancels cleanly.
fn execute_with_progress(
    store: &Store,
    record: &RunRecord,
    provider: Provider,
    opts: RunOptions,
    quiet: bool,
) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let cancel = Arc::new(AtomicBool::new(false));
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{bar:40}] {pos}/{len} episodes  {per_sec}  eta {eta}",
        )
        .map_err(|e| eyre!(e))?
        .progress_chars("=> "),
    );
    bar.set_message(record.name.clone());
    let result = rt.block_on(async {
        let task = tokio::spawn(runner::execute(
            store.clone(),
            record.id,
            provider,
            opts,
            tx,
            cancel.clone(),
        ));
        let watcher = {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    cancel.store(true, Ordering::Relaxed);
                }
            })
        };
        while let Some(ev) = rx.recv().await {
            match ev {
                RunEvent::Started { total, done, .. } => {
                    bar.set_length(total);
                    bar.set_position(done);
                }
                RunEvent::Progress { done, failed, .. } => {
                    bar.set_position(done);
                    if failed > 0 {
                        bar.set_message(format!("{} ({failed} failed)", record.name));
                    }
                }
                RunEvent::Finished { done, .. } => bar.set_position(done),
            }
        }
        watcher.abort();
        task.await
    });
    bar.finish();
    let totals = result.map_err(|e| eyre!("run task failed: {e}"))??;
    if !quiet {
        eprintln!(
            "{}: {} episodes, {} done, {} failed{}",
            record.name,
            totals.total,
            totals.done,
            totals.failed,
            if totals.pending > 0 {
                format!(", {} not finished (cancelled)", totals.pending)
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

fn metrics(store: &Store, name: &str, format: MetricsFormat) -> Result<()> {
    let run = store.require_run(name)?;
    let report = run_metrics(store, &run)?;
    match format {
        MetricsFormat::Table => print!("{}", table::render(&report)),
        MetricsFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        MetricsFormat::Csv => print!("{}", table::csv(&report)),
    }
    Ok(())
}

fn export(store: &Store, name: &str, format: ExportFormat, out: Option<PathBuf>) -> Result<()> {
    let run = store.require_run(name)?;
    let mut sink: Box<dyn Write> = match &out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).wrap_err_with(|| format!("cannot write {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let n = match format {
        ExportFormat::Jsonl => crate::export::export_jsonl(store, &run, &mut sink)?,
        ExportFormat::Csv => crate::export::export_csv(store, &run, &mut sink)?,
    };
    if let Some(p) = out {
        eprintln!(
            "wrote {n} {} to {}",
            if format == ExportFormat::Jsonl { "episodes" } else { "rows" },
            p.display()
        );
    }
    Ok(())
}

fn import(store: &Store, file: &Path, name: Option<String>, grade: GradeOptions) -> Result<()> {
    let records = crate::export::import_transcripts(
        store,
        file,
        &crate::export::ImportOptions { name, grade },
    )?;
    for r in records {
        let t = runner::totals(store, r.id)?;
        println!("imported run {} ({} episodes, protocol {})", r.name, t.total, r.protocol.name);
    }
    Ok(())
}

fn print_runs(store: &Store, runs: &[RunRecord]) -> Result<()> {
    println!(
        "{:<28} {:<16} {:<10} {:>9} {:>8} {:>8}  DATASET",
        "NAME", "PROTOCOL", "PROVIDER", "EPISODES", "FAILED", "STATUS"
    );
    for r in runs {
        let t = runner::totals(store, r.id)?;
        println!(
            "{:<28} {:<16} {:<10} {:>9} {:>8} {:>8}  {}",
            r.name,
            r.protocol.name,
            r.provider.name(),
            t.total,
            t.failed,
            format!("{:?}", r.status).to_lowercase(),
            r.dataset
        );
    }
    Ok(())
}

fn runs(store: &Store, action: RunsAction) -> Result<()> {
    match action {
        RunsAction::List => {
            let runs = store.runs()?;
            if runs.is_empty() {
                println!("no runs in {}", store.path().display());
                return Ok(());
            }
            print_runs(store, &runs)
        }
        RunsAction::Show { name } => {
            let run = store.require_run(&name)?;
            let t = runner::totals(store, run.id)?;
            println!("name       {}", run.name);
            println!("dataset    {} (hash {})", run.dataset, run.dataset_hash);
            println!(
                "protocol   {} ({}), rounds {}{}",
                run.protocol.name,
                run.protocol.kind.as_str(),
                run.protocol.rounds,
                if run.protocol.stop_when_correct { ", stop when correct" } else { "" }
            );
            println!("provider   {}", serde_json::to_string(&run.provider)?);
            println!("models     generator {}, critic {}", run.model, run.critic_model);
            println!("sampling   {}", serde_json::to_string(&run.sampling)?);
            println!(
                "status     {:?}, {} episodes: {} done, {} failed, {} pending",
                run.status, t.total, t.done, t.failed, t.pending
            );
            println!();
            print!("{}", table::render(&run_metrics(store, &run)?));
            Ok(())
        }
        RunsAction::Delete { name } => {
            let run = store.require_run(&name)?;
            store.delete_run(run.id)?;
            store.flush()?;
            println!("deleted run {name}");
            Ok(())
        }
    }
}

fn datasets(action: DatasetsAction) -> Result<()> {
    match action {
        DatasetsAction::List => {
            for b in dataset::bundled() {
                let n = b.text.lines().filter(|l| !l.trim().is_empty()).count();
                println!("{:<8} {:>4} items  {}", b.name, n, b.description);
            }
            println!(
                "\nany file works too: critloop run --dataset path/to/file.jsonl (see critloop datasets validate)"
            );
            Ok(())
        }
        DatasetsAction::Show { name, items, load } => {
            let loaded = dataset::resolve(&name, &load_options(&load)?)?;
            report_skipped(&loaded);
            println!("{name}: {} items, format {}", loaded.items.len(), loaded.format);
            for item in loaded.items.iter().take(items) {
                println!(
                    "\n[{}] ({}) reference: {}",
                    item.id,
                    item.answer_kind.as_str(),
                    item.reference
                );
                println!("{}", item.question);
            }
            Ok(())
        }
        DatasetsAction::Validate { file, load } => {
            let loaded = dataset::load_path(&file, &load_options(&load)?)?;
            report_skipped(&loaded);
            println!(
                "{}: {} items OK (format {}){}",
                file.display(),
                loaded.items.len(),
                loaded.format,
                if loaded.skipped.is_empty() {
                    String::new()
                } else {
                    format!(", {} bad lines", loaded.skipped.len())
                }
            );
            if !loaded.skipped.is_empty() {
                bail!("{} bad line(s) in {}", loaded.skipped.len(), file.display());
            }
            Ok(())
        }
    }
}
