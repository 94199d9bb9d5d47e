//! One function per subcommand. Errors bubble up as eyre reports; `main` prints one line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use color_eyre::eyre::{Result, WrapErr, bail, eyre};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

use super::args::{
    AnalysisArgs, ArmName, ArmsArgs, Cli, Command, CompareFormat, DatasetsAction, DoctorArgs,
    ExportFormat, LoadArgs, MetricsFormat, ProviderName, RunArgs, RunsAction,
};
use super::table;
use crate::analysis::{run_metrics, run_metrics_with};
use crate::config::{Config, Paths};
use crate::dataset::{self, Format, LoadOptions};
use crate::domain::{EndpointSpec, OpenAiSpec, ProviderSpec, RunRecord};
use crate::grade::GradeOptions;
use crate::llm::Provider;
use crate::llm::doctor::DoctorTarget;
use crate::metrics::{AnalysisOptions, BootstrapOptions};
use crate::runner::{self, RunEvent, RunOptions};
use crate::store::Store;

/// Runs the parsed command line. Commands on a database go to the database's server (started
/// on demand), so any number of critloop processes can share one database.
pub fn dispatch(cli: Cli) -> Result<()> {
    // Grading needs no database, config or log file.
    if let Some(Command::Grade(args)) = &cli.command {
        return super::grade::grade(args);
    }
    match &cli.command {
        Some(Command::Completions { shell }) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "critloop", &mut out);
            super::out::out(&String::from_utf8_lossy(&out));
            return Ok(());
        }
        Some(Command::Man) => {
            let mut out = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut out)?;
            super::out::out(&String::from_utf8_lossy(&out));
            return Ok(());
        }
        _ => {}
    }
    let paths = Paths::discover();
    let config_path = cli.config.clone().unwrap_or_else(|| paths.config_file.clone());
    let config = Config::load(&config_path, cli.config.is_some())?;
    let db_path = cli.db.clone().unwrap_or_else(|| paths.default_db());
    let db_path = std::path::absolute(&db_path).unwrap_or(db_path);
    super::logging::init(&db_path);
    let connect =
        crate::server::client::Connect { db: db_path.clone(), config: cli.config.clone() };
    match cli.command {
        None => tui(&connect, &config, &config_path, cli.theme.as_deref(), cli.annotator.clone()),
        Some(Command::Doctor(args)) => doctor(&config, args),
        Some(Command::Datasets { action }) => datasets(action),
        Some(Command::Serve(args)) => crate::server::serve_command(&connect, args),
        Some(command) => {
            // `labels import -` reads the client's standard input, sent with the command.
            let stdin = match &command {
                Command::Labels { action: super::args::LabelsAction::Import { file } }
                    if file.as_os_str() == "-" =>
                {
                    Some(super::out::stdin().wrap_err("cannot read standard input")?)
                }
                _ => None,
            };
            let mut args: Vec<String> = std::env::args_os()
                .skip(1)
                .map(|a| a.into_string().map_err(|a| eyre!("an argument is not UTF-8: {a:?}")))
                .collect::<Result<_>>()?;
            if let Command::Runs { action: RunsAction::Delete { yes: false, dry_run: false, .. } } =
                &command
                && std::io::IsTerminal::is_terminal(&std::io::stdin())
            {
                // Asked here, at the user's terminal: the server only says what would go.
                let mut ask = args.clone();
                ask.push("--dry-run".into());
                match crate::server::client::run_command(&connect, ask, None)? {
                    0 => {}
                    code => return Err(super::QuietExit(code).into()),
                }
                super::out::err("delete this for good? [y/N] ");
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer).wrap_err("cannot read the answer")?;
                if !matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
                    super::out::err("nothing deleted\n");
                    return Ok(());
                }
                args.push("--yes".into());
            }
            match crate::server::client::run_command(&connect, args, stdin)? {
                0 => Ok(()),
                code => Err(super::QuietExit(code).into()),
            }
        }
    }
}

/// A command the database's server runs for a client, on the database it holds.
pub fn dispatch_served(mut cli: Cli) -> Result<()> {
    let Some(served) = super::out::served() else { bail!("not serving a client") };
    absolutize(&mut cli);
    let paths = Paths::discover();
    let config_path = cli.config.clone().unwrap_or_else(|| paths.config_file.clone());
    let config = Config::load(&config_path, cli.config.is_some())?;
    let store = served.store.clone();
    let open = || -> Result<Store> { Ok(store.clone()) };
    match cli.command {
        None
        | Some(Command::Serve(_))
        | Some(Command::Grade(_))
        | Some(Command::Completions { .. })
        | Some(Command::Man) => {
            bail!("this command does not run on a server")
        }
        Some(Command::Doctor(args)) => doctor(&config, args),
        Some(Command::Datasets { action }) => datasets(action),
        Some(Command::Run(args)) => run(&open()?, &config, *args),
        Some(Command::RetryFailed { name, concurrency, quiet }) => {
            resume(&open()?, &name, concurrency, true, quiet, true)
        }
        Some(Command::Arms(args)) => arms(&open()?, args),
        Some(Command::Metrics { name, format, analysis }) => {
            metrics(&open()?, &name, format, &analysis.options()?)
        }
        Some(Command::Compare { a, b, format, analysis }) => {
            compare(&open()?, &a, &b, format, &analysis.options()?)
        }
        Some(Command::Report { runs, out, analysis }) => {
            report(&open()?, &runs, &out, &analysis.options()?)
        }
        Some(Command::Verify { dir }) => verify(&open()?, &dir),
        Some(Command::Export { name, format, out }) => export(&open()?, &name, format, out),
        Some(Command::Import { file, name, qwen_compat }) => {
            import(&open()?, &file, name, GradeOptions { qwen_compat })
        }
        Some(Command::Runs { action }) => runs(&open()?, action),
        Some(Command::Labels { action }) => {
            super::labels::labels(&open()?, &config, &config_path, cli.annotator.clone(), action)
        }
        Some(Command::Queue { action }) => super::labels::queue(&open()?, &config, action),
    }
}

/// The paths of a client's command line, made absolute against the client's directory (the
/// server runs elsewhere). A dataset or protocol named by a relative path that exists there
/// is a file; otherwise it is a bundled name.
fn absolutize(cli: &mut Cli) {
    use super::args::LabelsAction;
    use super::out::path;
    let fix = |p: &mut PathBuf| *p = path(p);
    let fix_name = |n: &mut String| {
        let p = path(Path::new(n.as_str()));
        if p.as_path() != Path::new(n.as_str()) && p.exists() {
            *n = p.display().to_string();
        }
    };
    if let Some(c) = cli.config.as_mut() {
        fix(c);
    }
    match cli.command.as_mut() {
        Some(Command::Run(a)) => {
            if let Some(d) = a.dataset.as_mut() {
                fix_name(d);
            }
            if let Some(p) = a.protocol.as_mut() {
                fix_name(p);
            }
        }
        Some(Command::Report { out, .. }) => fix(out),
        Some(Command::Verify { dir }) => fix(dir),
        Some(Command::Export { out: Some(o), .. }) => fix(o),
        Some(Command::Import { file, .. }) => fix(file),
        Some(Command::Labels { action: LabelsAction::Export { out: Some(o), .. } }) => fix(o),
        Some(Command::Labels { action: LabelsAction::Import { file } })
            if file.as_os_str() != "-" =>
        {
            fix(file)
        }
        _ => {}
    }
}

/// Plain `critloop`: the terminal workbench, a client of the database's server. Config errors
/// are reported before raw mode.
fn tui(
    connect: &crate::server::client::Connect,
    config: &Config,
    config_path: &Path,
    theme: Option<&str>,
    annotator: Option<String>,
) -> Result<()> {
    use crate::tui::{App, Keymap, Theme};
    let schema = crate::domain::LabelSchema::load(&config.labels).map_err(|e| eyre!(e))?;
    let keymap = Keymap::load(&config.keys, &schema).map_err(|e| eyre!("keys: {e}"))?;
    let theme =
        Theme::load(theme.or(config.theme.as_deref()).unwrap_or("dark")).map_err(|e| eyre!(e))?;
    // No silent default: without a flag or config the first label asks for the name.
    let annotator = annotator.or_else(|| config.annotator.clone());
    if !super::out::stdout_tty() {
        bail!("the workbench needs a terminal; for scripts use the subcommands (critloop --help)");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")?;
    let configure = crate::tui::Effect::Configure(config_path.to_path_buf());
    let (effects, link) = rt.block_on(crate::server::client::link(connect, Some(configure)))?;
    let mut app = App::new(keymap, schema, theme, annotator, runner::now_millis);
    app.new_run.profiles = config.profiles.keys().cloned().collect();
    app.config_file = Some(config_path.to_path_buf());
    crate::tui::launch(rt, app, move |tx| {
        link.start(tx.clone());
        crate::tui::Io::remote(effects, tx)
    })
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

/// The dataset loader's choices, one line each.
fn report_notes(notes: &[String]) {
    for n in notes {
        crate::errln!("note: {n}");
    }
}

fn report_skipped(skipped: &[dataset::DatasetError]) {
    if skipped.is_empty() {
        return;
    }
    crate::errln!("skipped {}:", count(skipped.len(), "bad line"));
    for e in skipped.iter().take(20) {
        crate::errln!("  {e}");
    }
    if skipped.len() > 20 {
        crate::errln!("  … and {} more", skipped.len() - 20);
    }
}

/// `critloop run` flags as a plan for the one run planner.
fn plan_of(a: &RunArgs) -> Result<crate::plan::RunPlan> {
    use crate::plan::{ProviderChoice, RunPlan, SimOverrides};
    let s = &a.sim;
    Ok(RunPlan {
        name: a.name.clone(),
        profile: a.profile.clone(),
        dataset: a.dataset.clone(),
        load: load_options(&a.load)?,
        protocol: a.protocol.clone(),
        provider: a.provider.map(|p| match p {
            ProviderName::Sim => ProviderChoice::Sim,
            ProviderName::Openai => ProviderChoice::OpenAi,
        }),
        model: a.model.clone(),
        critic_model: a.critic_model.clone(),
        base_urls: a.base_url.clone(),
        critic_base_urls: a.critic_base_url.clone(),
        api_key_env: a.api_key_env.clone(),
        rpm: a.rpm,
        timeout: a.timeout,
        connect_timeout: a.connect_timeout,
        first_token_timeout: a.first_token_timeout,
        idle_timeout: a.idle_timeout,
        max_retries: a.max_retries,
        logprobs: a.logprobs,
        stream: a.stream,
        limit: a.limit,
        rounds: a.rounds,
        samples: a.samples,
        seed: a.seed,
        temperature: a.temperature,
        top_p: a.top_p,
        max_tokens: a.max_tokens,
        concurrency: a.concurrency,
        stop_when_correct: a.stop_when_correct,
        qwen_compat: a.qwen_compat,
        use_cache: !a.no_cache,
        sim: SimOverrides {
            p_correct: s.sim_p_correct,
            tpr: s.sim_tpr,
            fpr: s.sim_fpr,
            p_fix: s.sim_p_fix,
            p_fix_unflagged: s.sim_p_fix_unflagged,
            p_break: s.sim_p_break,
            p_break_unflagged: s.sim_p_break_unflagged,
            p_unparsed: s.sim_p_unparsed,
        },
    })
}

fn run(store: &Store, config: &Config, a: RunArgs) -> Result<()> {
    if let Some(name) = &a.resume {
        return resume(store, name, a.concurrency, !a.no_cache, a.quiet, false);
    }
    let plan = plan_of(&a)?;
    let chosen = crate::plan::choose_provider(config, &plan)?;
    // Check the endpoint before anything is stored, so a wrong URL or model costs nothing.
    let provider = Provider::from_spec(&chosen.spec)?;
    if let (Provider::OpenAi(p), false) = (&provider, a.no_preflight) {
        preflight(p.spec(), &chosen.model, &chosen.critic_model, a.quiet)?;
    }
    let created = crate::plan::create(store, config, &plan, chosen)?;
    report_notes(&created.notes);
    report_skipped(&created.skipped);
    let (record, opts) = (created.record, created.opts);
    tracing::info!(
        run = %record.name,
        provider = serde_json::to_string(&record.provider).unwrap_or_default(),
        model = %record.model,
        critic_model = %record.critic_model,
        "run created"
    );
    execute_with_progress(store, &record, provider, opts, a.quiet)?;
    let report = run_metrics(store, &record)?;
    crate::outln!("{}", table::render(&report));
    crate::outln!(
        "next:  critloop metrics {0} --format json    critloop export {0} --format jsonl",
        record.name
    );
    Ok(())
}

/// The endpoints of an openai spec as `doctor` checks them.
fn doctor_targets(spec: &OpenAiSpec, model: &str, critic_model: &str) -> Vec<DoctorTarget> {
    let target = |role: &'static str, e: &EndpointSpec, model: &str| DoctorTarget {
        role,
        base_url: e.base_urls.first().cloned().unwrap_or_default(),
        model: model.to_string(),
        api_key_env: e.api_key_env.clone(),
        connect_timeout: crate::llm::secs(spec.connect_timeout_secs),
        // A probe is tiny: a server silent for two minutes will not serve a run either.
        request_timeout: crate::llm::secs(spec.timeout_secs.min(PROBE_TIMEOUT_SECS)),
        want_logprobs: spec.logprobs,
    };
    let mut out = vec![target("generator", &spec.generator, model)];
    match &spec.critic {
        Some(c) => out.push(target("critic", c, critic_model)),
        None if critic_model != model => out.push(target("critic", &spec.generator, critic_model)),
        None => {}
    }
    out
}

/// The longest one probe request of the preflight may take.
const PROBE_TIMEOUT_SECS: f64 = 120.0;

/// Checks every endpoint of a run before anything is stored; prints the reports (unless
/// quiet) and stops with the one line of the first endpoint that cannot work.
fn preflight(spec: &OpenAiSpec, model: &str, critic_model: &str, quiet: bool) -> Result<()> {
    let rt = runtime()?;
    for t in doctor_targets(spec, model, critic_model) {
        // A slow server takes seconds to check: say so at a terminal (a script wants one line).
        if !quiet && super::out::stderr_tty() {
            crate::errln!("checking {} {} (model {}) …", t.role, t.base_url, t.model);
        }
        let report = rt.block_on(crate::llm::doctor::doctor(&t));
        if let Some(fatal) = report.fatal() {
            bail!("{fatal} (critloop doctor shows the whole check; --no-preflight skips it)");
        }
        if !quiet {
            for line in report.lines() {
                crate::errln!("{line}");
            }
        }
    }
    Ok(())
}

/// `critloop doctor`: the preflight's report, exit 1 when an endpoint cannot work.
fn doctor(config: &Config, a: DoctorArgs) -> Result<()> {
    let plan = crate::plan::RunPlan {
        profile: a.profile,
        base_urls: a.base_url,
        model: a.model,
        critic_base_urls: a.critic_base_url,
        critic_model: a.critic_model,
        api_key_env: a.api_key_env,
        logprobs: a.logprobs,
        timeout: a.timeout,
        connect_timeout: a.connect_timeout,
        provider: Some(crate::plan::ProviderChoice::OpenAi),
        ..Default::default()
    };
    let crate::plan::Chosen { spec, model, critic_model, .. } =
        crate::plan::choose_provider(config, &plan)?;
    let ProviderSpec::OpenAi(spec) = spec else { bail!("doctor checks openai endpoints only") };
    let rt = runtime()?;
    let mut fatal = None;
    for t in doctor_targets(&spec, &model, &critic_model) {
        let report = rt.block_on(crate::llm::doctor::doctor(&t));
        for line in report.lines() {
            crate::outln!("{line}");
        }
        if fatal.is_none() {
            fatal = report.fatal().map(str::to_string);
        }
    }
    match fatal {
        Some(f) => bail!("{f}"),
        None => Ok(()),
    }
}

/// Continues a stored run (`run --resume`) or retries its failed episodes (`retry-failed`).
fn resume(
    store: &Store,
    name: &str,
    concurrency: Option<usize>,
    use_cache: bool,
    quiet: bool,
    retry_failed: bool,
) -> Result<()> {
    let record = store.require_run(name)?;
    if retry_failed {
        let n = runner::reset_failed(store, record.id)?;
        crate::errln!("{name}: retrying {n} failed episode(s)");
    }
    let before = runner::totals(store, record.id)?;
    if before.pending == 0 {
        crate::errln!(
            "{name}: nothing left to run ({} done, {} failed)",
            before.done,
            before.failed
        );
    } else {
        // --concurrency also bounds the requests in flight per endpoint.
        let mut spec = record.provider.clone();
        if let (Some(n), ProviderSpec::OpenAi(o)) = (concurrency, &mut spec) {
            o.concurrency = n;
        }
        let provider = Provider::from_spec(&spec)?;
        if let Provider::OpenAi(p) = &provider {
            runtime()?.block_on(p.reachable())?;
        }
        let opts = runner::stored_options(&record, concurrency, use_cache);
        execute_with_progress(store, &record, provider, opts, quiet)?;
    }
    crate::outln!("{}", table::render(&run_metrics(store, &record)?));
    Ok(())
}

/// `critloop arms`: creates and executes the control arms of a finished critique-revise run.
fn arms(store: &Store, a: ArmsArgs) -> Result<()> {
    let source = store.require_run(&a.run)?;
    let mut wanted: Vec<runner::Arm> = Vec::new();
    for name in &a.arms {
        let arm = match name {
            ArmName::NoCritique => runner::Arm::NoCritique,
            ArmName::Empty => runner::Arm::Empty,
            ArmName::Oracle => runner::Arm::Oracle,
            ArmName::Cross => runner::Arm::Cross,
        };
        if !wanted.contains(&arm) {
            wanted.push(arm);
        }
    }
    let cross = wanted.contains(&runner::Arm::Cross);
    if cross && a.critic_model.is_none() {
        bail!("the cross-critique arm needs --critic-model MODEL");
    }
    if !cross && (a.critic_model.is_some() || !a.critic_base_url.is_empty()) {
        bail!("--critic-model and --critic-base-url apply only to --arms cross-critique");
    }
    let critic = a
        .critic_model
        .clone()
        .map(|model| runner::CrossCritic { model, base_urls: a.critic_base_url.clone() });
    let mut made = Vec::new();
    for arm in wanted {
        let name = crate::plan::unique_name(store, &format!("{}~{}", source.name, arm.as_str()))?;
        let cross = if arm == runner::Arm::Cross { critic.clone() } else { None };
        let created = runner::create_arm(store, &source, arm, name, cross)?;
        let record = created.record;
        if created.skipped > 0 {
            crate::errln!(
                "{}: {} source episode(s) have no first attempt and are left out ({} kept)",
                record.name,
                created.skipped,
                created.copied
            );
        }
        // Reach the endpoint before spending anything; a refused arm leaves no run behind.
        let provider = match checked_provider(&record) {
            Ok(p) => p,
            Err(e) => {
                store.delete_run(record.id)?;
                store.flush()?;
                return Err(e);
            }
        };
        let opts = runner::stored_options(&record, a.concurrency, true);
        execute_with_progress(store, &record, provider, opts, a.quiet)?;
        // Interrupted (Ctrl-C): stop here rather than start the next arm.
        if runner::totals(store, record.id)?.pending > 0 {
            bail!("{0} was interrupted; finish it with critloop run --resume {0}", record.name);
        }
        made.push(record);
    }
    crate::outln!("{}", acc_line("source", store, &source)?);
    for r in &made {
        crate::outln!("{}", acc_line("arm", store, r)?);
    }
    Ok(())
}

/// The provider of a stored run, its endpoints probed (openai).
fn checked_provider(record: &RunRecord) -> Result<Provider> {
    let provider = Provider::from_spec(&record.provider)?;
    if let Provider::OpenAi(p) = &provider {
        runtime()?.block_on(p.reachable())?;
    }
    Ok(provider)
}

/// One line with a run's first and final accuracy.
fn acc_line(label: &str, store: &Store, r: &RunRecord) -> Result<String> {
    let s = run_metrics(store, r)?.summary;
    Ok(format!(
        "{label:<6} {:<36} acc_t1 {:>6}   acc_t2 {:>6}   scored {}",
        r.name,
        crate::fmt::pct(s.acc_t1),
        crate::fmt::pct(s.acc_t2),
        s.scored
    ))
}

/// Where a command's async work runs: the server's runtime when it serves a client, else one
/// of its own.
enum Rt {
    Own(tokio::runtime::Runtime),
    Served(tokio::runtime::Handle),
}

impl Rt {
    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        match self {
            Rt::Own(rt) => rt.block_on(f),
            Rt::Served(h) => h.block_on(f),
        }
    }
}

fn runtime() -> Result<Rt> {
    if let Some(s) = super::out::served() {
        return Ok(Rt::Served(s.handle.clone()));
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map(Rt::Own)
        .wrap_err("cannot start the async runtime")
}

/// Executes a run on a tokio runtime, drawing a progress bar on stderr; Ctrl-C cancels cleanly.
fn execute_with_progress(
    store: &Store,
    record: &RunRecord,
    provider: Provider,
    opts: RunOptions,
    quiet: bool,
) -> Result<()> {
    let rt = runtime()?;
    let served = super::out::served();
    // Served: the server's runs, which every client sees; else this process's own.
    let registry = served.as_ref().map(|s| s.registry.clone()).unwrap_or_default();
    // The client's Ctrl-C (or its going away), or this process's.
    let interrupt = served.as_ref().map(|s| s.cancel.clone());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(None, super::out::progress_target())
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix} {pos}/{len} [{bar:12}] {msg}")
            .map_err(|e| eyre!(e))?
            .progress_chars("=> "),
    );
    bar.set_prefix(record.name.clone());
    bar.set_message("starting…");
    // Drawn at once (not after the first tick), then the spinner turns even while every
    // request waits on a slow server.
    bar.tick();
    bar.enable_steady_tick(std::time::Duration::from_millis(250));
    // Without a terminal (a log file, nohup) a plain line now and then says the same.
    let plain = !quiet && !super::out::stderr_tty();
    let mut last_plain = std::time::Instant::now();
    let mut failure = None;
    let interrupted = Arc::new(AtomicBool::new(false));
    let result: Result<()> = rt.block_on(async {
        let run = record.id;
        // A run being stopped (its client went away) is resumed once it has stopped.
        while registry.is_stopping(run) {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        if registry.is_active(run) {
            // Running already (taken over after a server died): follow it.
            let mut news = registry.subscribe();
            tokio::spawn(async move {
                while let Ok(n) = news.recv().await {
                    if let runner::Notice::Run(ev) = n
                        && ev.run() == run
                    {
                        let end = ev.is_last();
                        if tx.send(ev).is_err() || end {
                            break;
                        }
                    }
                }
            });
        } else {
            let cancel = Arc::new(AtomicBool::new(false));
            registry
                .spawn(store.clone(), run, provider, opts, cancel, Some(tx))
                .map_err(|e| eyre!(e))?;
        }
        let watcher = {
            let registry = registry.clone();
            let interrupted = interrupted.clone();
            tokio::spawn(async move {
                match interrupt {
                    Some(flag) => {
                        while !flag.load(Ordering::Relaxed) {
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        }
                    }
                    None => {
                        let _ = tokio::signal::ctrl_c().await;
                    }
                }
                interrupted.store(true, Ordering::Relaxed);
                registry.cancel(run);
            })
        };
        while let Some(ev) = rx.recv().await {
            match ev {
                RunEvent::Started { total, done, .. } => {
                    bar.set_length(total);
                    bar.set_position(done);
                }
                RunEvent::Progress { done, failed, total, live, .. } => {
                    bar.set_position(done);
                    let failed =
                        if failed > 0 { format!("{failed} failed · ") } else { String::new() };
                    if plain && last_plain.elapsed() >= std::time::Duration::from_secs(30) {
                        last_plain = std::time::Instant::now();
                        crate::errln!(
                            "{}: {done}/{total} episodes · {failed}{}",
                            record.name,
                            live.line()
                        );
                    }
                    // The line fits the terminal: the least telling signs go first.
                    let used = record.name.chars().count() + 2 * total.to_string().len() + 22;
                    let width = usize::from(super::out::stderr_width());
                    let room = width.saturating_sub(used + failed.chars().count() + 1);
                    bar.set_message(format!("{failed}{}", live.fit(room)));
                }
                RunEvent::Finished { done, .. } => bar.set_position(done),
                RunEvent::Failed { error, .. } => failure = Some(error),
            }
        }
        watcher.abort();
        Ok(())
    });
    let totals = runner::totals(store, record.id)?;
    if interrupted.load(Ordering::Relaxed) {
        // Where it stopped, not a full bar; the stored count, the same the resume will see.
        bar.abandon();
        result?;
        crate::errln!(
            "stopped: {} of {} episodes done; continue with `critloop run --resume {}`",
            totals.done,
            totals.total,
            record.name
        );
        return Err(super::QuietExit(130).into());
    }
    bar.finish();
    result?;
    if let Some(error) = failure {
        bail!("{error}");
    }
    if !quiet {
        crate::errln!(
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
    // A run where nothing succeeded is an error a script must see, with the endpoint's words.
    if totals.done == 0 && totals.failed > 0 {
        let first = store
            .episodes(record.id)?
            .into_iter()
            .find_map(|e| e.error)
            .unwrap_or_else(|| "unknown error".into());
        bail!(
            "every episode of {} failed ({} of them); first error: {first}",
            record.name,
            totals.failed
        );
    }
    Ok(())
}

impl AnalysisArgs {
    fn options(&self) -> Result<AnalysisOptions> {
        if self.bins == 0 {
            bail!("--bins must be at least 1");
        }
        Ok(AnalysisOptions {
            bootstrap: BootstrapOptions {
                resamples: self.resamples,
                seed: self.bootstrap_seed,
                ..BootstrapOptions::default()
            },
            bins: self.bins,
        })
    }
}

/// Builds the outcome records of runs stored by an older critloop, once, with a progress bar
/// (metrics read only them).
fn prepare_outcomes(store: &Store, runs: &[&RunRecord]) -> Result<()> {
    for run in runs {
        if !store.outcomes_pending(run.id)? {
            continue;
        }
        let bar = ProgressBar::with_draw_target(None, super::out::progress_target());
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{wide_bar}] {pos}/{len}")
                .map_err(|e| eyre!(e))?
                .progress_chars("=> "),
        );
        // One line at 80 columns: the bar takes what the name leaves.
        bar.set_prefix(format!("indexing {} (once: older database)", run.name));
        store.build_outcomes(run.id, &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })?;
        bar.finish_and_clear();
    }
    Ok(())
}

fn metrics(store: &Store, name: &str, format: MetricsFormat, opts: &AnalysisOptions) -> Result<()> {
    let run = store.require_run(name)?;
    prepare_outcomes(store, &[&run])?;
    let report = run_metrics_with(store, &run, opts)?;
    match format {
        MetricsFormat::Table => crate::outp!("{}", table::render(&report)),
        MetricsFormat::Json => crate::outln!("{}", serde_json::to_string_pretty(&report)?),
        MetricsFormat::Csv => crate::outp!("{}", table::csv(&report)),
    }
    Ok(())
}

fn compare(
    store: &Store,
    a: &str,
    b: &str,
    format: CompareFormat,
    opts: &AnalysisOptions,
) -> Result<()> {
    let (ra, rb) = (store.require_run(a)?, store.require_run(b)?);
    if ra.dataset_hash != rb.dataset_hash {
        crate::errln!(
            "warning: `{a}` and `{b}` were made on different item sets (dataset hashes differ); \
             items are matched by id"
        );
    }
    if ra.protocol.rounds != rb.protocol.rounds {
        crate::errln!(
            "warning: `{a}` has {} and `{b}` {}: acc_t2 is each run's final attempt (t{} \
             against t{}); the rounds.N.acc rows compare the same attempt",
            count(ra.protocol.rounds, "round"),
            count(rb.protocol.rounds, "round"),
            ra.protocol.rounds + 1,
            rb.protocol.rounds + 1
        );
    }
    prepare_outcomes(store, &[&ra, &rb])?;
    let c = crate::analysis::compare_runs(store, &ra, &rb, &opts.bootstrap)?;
    if c.shared_items == 0 {
        bail!("runs `{a}` and `{b}` share no items: nothing to compare");
    }
    match format {
        CompareFormat::Table => crate::outp!("{}", table::comparison(&c)),
        CompareFormat::Json => crate::outln!("{}", serde_json::to_string_pretty(&c)?),
    }
    Ok(())
}

fn report(store: &Store, names: &[String], out: &Path, opts: &AnalysisOptions) -> Result<()> {
    let runs = names.iter().map(|n| store.require_run(n)).collect::<Result<Vec<_>, _>>()?;
    prepare_outcomes(store, &runs.iter().collect::<Vec<_>>())?;
    let (manifest, files) = crate::report::build(store, &runs, opts)?;
    let written = crate::report::write(out, &manifest, &files)?;
    for p in &written {
        crate::outln!("{}", p.display());
    }
    crate::errln!(
        "wrote {}; check them any time with `critloop verify {}`",
        count(written.len(), "file"),
        out.display()
    );
    Ok(())
}

fn verify(store: &Store, dir: &Path) -> Result<()> {
    let v = crate::report::verify(store, dir)?;
    if v.ok() {
        crate::outln!(
            "{}: {} the database (runs {})",
            dir.display(),
            if v.checked == 1 {
                "the 1 file matches".to_string()
            } else {
                format!("all {} files match", v.checked)
            },
            v.manifest.runs.join(", ")
        );
        return Ok(());
    }
    for m in &v.mismatches {
        crate::errln!("{m}");
    }
    let differ = v.mismatches.iter().filter(|m| !m.starts_with("note:")).count();
    bail!(
        "{}: {differ} of {} {} the database",
        dir.display(),
        count(v.checked, "file"),
        if differ == 1 { "does not match" } else { "do not match" }
    )
}

fn export(store: &Store, name: &str, format: ExportFormat, out: Option<PathBuf>) -> Result<()> {
    let run = store.require_run(name)?;
    if format == ExportFormat::Parquet {
        // Binary: a file, never the terminal.
        let Some(p) = out else { bail!("--format parquet writes a file: give --out FILE") };
        let file =
            std::fs::File::create(&p).wrap_err_with(|| format!("cannot write {}", p.display()))?;
        let n = crate::export::export_parquet(store, &run, std::io::BufWriter::new(file))?;
        crate::errln!("wrote {} to {}", count(n, "row"), p.display());
        return Ok(());
    }
    let mut sink: Box<dyn Write> = match &out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).wrap_err_with(|| format!("cannot write {}", p.display()))?,
        )),
        None => super::out::stdout_writer(),
    };
    let n = match format {
        ExportFormat::Jsonl => crate::export::export_jsonl(store, &run, &mut sink)?,
        ExportFormat::Csv => crate::export::export_csv(store, &run, &mut sink)?,
        ExportFormat::LongJsonl => crate::export::export_long_jsonl(store, &run, &mut sink)?,
        ExportFormat::Parquet => 0,
    };
    if let Some(p) = out {
        crate::errln!(
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
        crate::outln!(
            "imported run {} ({}, protocol {})",
            r.name,
            count(t.total, "episode"),
            r.protocol.name
        );
    }
    Ok(())
}

fn print_runs(store: &Store, runs: &[RunRecord]) -> Result<()> {
    use crate::domain::text::{pad, width};
    let rows: Vec<[String; 8]> = runs
        .iter()
        .map(|r| -> Result<[String; 8]> {
            let t = runner::totals(store, r.id)?;
            Ok([
                r.name.clone(),
                r.protocol.name.clone(),
                r.provider.name().to_string(),
                format!("{}/{}", t.done, t.total),
                t.failed.to_string(),
                r.status.as_str().to_string(),
                super::labels::utc(r.created).chars().take(16).collect(),
                r.dataset.clone(),
            ])
        })
        .collect::<Result<_>>()?;
    let header = ["NAME", "PROTOCOL", "PROVIDER", "DONE", "FAILED", "STATUS", "CREATED (UTC)", ""];
    // Columns as wide as their widest cell, in display columns (CJK names take two each).
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(&crate::domain::text::inert_line(cell)));
        }
    }
    let line = |cells: Vec<String>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            let right = matches!(i, 3 | 4);
            let shown = crate::domain::text::inert_line(cell);
            if i + 1 == cells.len() {
                out.push_str(&shown);
            } else if right {
                out.push_str(&format!("{}{shown}  ", " ".repeat(w - width(&shown))));
            } else {
                out.push_str(&format!("{}  ", pad(cell, *w)));
            }
        }
        out.trim_end().to_string()
    };
    let mut head: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    head[7] = "DATASET".into();
    crate::outln!("{}", line(head));
    for row in rows {
        crate::outln!("{}", line(row.to_vec()));
    }
    Ok(())
}

/// `runs list --format json`: one object per run.
fn runs_json(store: &Store, runs: &[RunRecord]) -> Result<String> {
    let rows: Vec<serde_json::Value> = runs
        .iter()
        .map(|r| -> Result<serde_json::Value> {
            let t = runner::totals(store, r.id)?;
            Ok(serde_json::json!({
                "name": r.name,
                "protocol": r.protocol.name,
                "provider": r.provider.name(),
                "model": r.model,
                "critic_model": r.critic_model,
                "dataset": r.dataset,
                "status": r.status.as_str(),
                "episodes": { "total": t.total, "done": t.done, "failed": t.failed, "pending": t.pending },
                "created": r.created,
                "created_utc": super::labels::utc(r.created),
                "origin": r.origin(),
                "notes": r.notes,
            }))
        })
        .collect::<Result<_>>()?;
    Ok(serde_json::to_string_pretty(&rows)?)
}

/// A stored setting as `key value, key value` (nested keys dotted, absent values left out),
/// for people rather than parsers.
fn settings(v: &serde_json::Value) -> String {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&key, v, out);
                }
            }
            serde_json::Value::Null => {}
            serde_json::Value::Array(a) if a.is_empty() => {}
            serde_json::Value::Array(a) => {
                let items: Vec<String> = a
                    .iter()
                    .map(|x| x.as_str().map_or_else(|| x.to_string(), String::from))
                    .collect();
                out.push(format!("{prefix} {}", items.join(" ")));
            }
            serde_json::Value::String(s) => out.push(format!("{prefix} {s}")),
            other => out.push(format!("{prefix} {other}")),
        }
    }
    let mut out = Vec::new();
    walk("", v, &mut out);
    out.join(", ")
}

fn runs(store: &Store, action: RunsAction) -> Result<()> {
    match action {
        RunsAction::List { format } => {
            let runs = store.runs()?;
            if format == CompareFormat::Json {
                crate::outln!("{}", runs_json(store, &runs)?);
                return Ok(());
            }
            if runs.is_empty() {
                crate::outln!("no runs in {}", store.path().display());
                return Ok(());
            }
            print_runs(store, &runs)
        }
        RunsAction::Show { name } => {
            let run = store.require_run(&name)?;
            let t = runner::totals(store, run.id)?;
            crate::outln!("name       {}", run.name);
            crate::outln!(
                "created    {} UTC with critloop {}",
                super::labels::utc(run.created),
                run.version
            );
            crate::outln!("dataset    {} (hash {})", run.dataset, run.dataset_hash);
            let kind = run.protocol.kind.as_str();
            crate::outln!(
                "protocol   {}{}, rounds {}{}",
                run.protocol.name,
                if kind == run.protocol.name { String::new() } else { format!(" ({kind})") },
                run.protocol.rounds,
                if run.protocol.stop_when_correct { ", stop when correct" } else { "" }
            );
            let provider = match &run.provider {
                ProviderSpec::Sim { params } => {
                    format!("sim: {}", settings(&serde_json::to_value(params)?))
                }
                ProviderSpec::OpenAi(spec) => {
                    format!("openai: {}", settings(&serde_json::to_value(spec)?))
                }
                ProviderSpec::Replay => "replay (turns from an imported transcript)".into(),
            };
            crate::outln!("provider   {provider}");
            crate::outln!("models     generator {}, critic {}", run.model, run.critic_model);
            crate::outln!("sampling   {}", settings(&serde_json::to_value(&run.sampling)?));
            match run.origin() {
                crate::domain::Origin::Created => {}
                crate::domain::Origin::Arm { of, arm } => {
                    crate::outln!("origin     control arm {arm} of run {of}");
                }
                crate::domain::Origin::Imported { from } => {
                    crate::outln!("origin     imported from {from}");
                }
            }
            if run.grading().qwen_compat {
                crate::outln!("grading    --qwen-compat (x·100 and x/100 also equal)");
            }
            for (k, v) in &run.notes {
                crate::outln!("note       {k}: {v}");
            }
            crate::outln!(
                "status     {}, {} episodes: {} done, {} failed, {} pending",
                run.status.as_str(),
                t.total,
                t.done,
                t.failed,
                t.pending
            );
            let causes = runner::causes(store, run.id)?;
            if matches!(run.provider, ProviderSpec::OpenAi(_)) || !causes.retries.is_empty() {
                crate::outln!("retries    {}", by_cause(&causes.retries));
            }
            if t.failed > 0 {
                crate::outln!("failures   {}", by_cause(&causes.failures));
            }
            crate::outln!();
            crate::outp!("{}", table::render(&run_metrics(store, &run)?));
            Ok(())
        }
        RunsAction::Delete { name, yes, with_arms, dry_run } => {
            let run = store.require_run(&name)?;
            let arms: Vec<RunRecord> = store
                .runs()?
                .into_iter()
                .filter(|r| matches!(r.origin(), crate::domain::Origin::Arm { of, .. } if of == run.name))
                .collect();
            let arm_names: Vec<&str> = arms.iter().map(|r| r.name.as_str()).collect();
            if !arms.is_empty() && !with_arms {
                bail!(
                    "run {name} has control arms ({}); delete them too with --with-arms, or \
                     delete them first",
                    arm_names.join(", ")
                );
            }
            let gone: Vec<&RunRecord> = std::iter::once(&run).chain(&arms).collect();
            if dry_run || !yes {
                for r in &gone {
                    let t = runner::totals(store, r.id)?;
                    let labels = store.labels_of_run(r.id)?.len();
                    crate::outln!(
                        "run {}: {}, {}",
                        r.name,
                        count(t.total, "episode"),
                        count(labels, "label")
                    );
                }
                if dry_run {
                    return Ok(());
                }
                bail!("deleting is for good: pass --yes (on a terminal critloop asks instead)");
            }
            for r in &gone {
                store.delete_run(r.id)?;
                crate::outln!("deleted run {}", r.name);
            }
            store.flush()?;
            Ok(())
        }
    }
}

/// "7: 4 rate limited or overloaded (429, 503), 2 server errors (…), 1 timeout", most
/// frequent first; "none".
fn by_cause(counts: &std::collections::BTreeMap<String, u64>) -> String {
    let total: u64 = counts.values().sum();
    if total == 0 {
        return "none".into();
    }
    let mut parts: Vec<(&String, &u64)> = counts.iter().filter(|(_, n)| **n > 0).collect();
    parts.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let shown: Vec<String> = parts
        .into_iter()
        .map(|(cause, &n)| match cause.as_str() {
            "timeout" => count(n, "timeout"),
            "rate_limited" => format!("{n} rate limited or overloaded (429, 503)"),
            "server" => format!("{} (5xx, 408, connection)", count(n, "server error")),
            "malformed" => format!("{} (cut or unreadable)", count(n, "malformed reply")),
            "refused" => format!("{n} refused (4xx)"),
            "other" => format!("{n} other"),
            unknown => format!("{n} {unknown}"),
        })
        .collect();
    format!("{total}: {}", shown.join(", "))
}

/// `n` and the noun, plural unless `n` is 1 ("1 file", "2 files", "3 entries").
pub(super) fn count(n: impl TryInto<u64> + Copy, noun: &str) -> String {
    let n: u64 = n.try_into().unwrap_or(u64::MAX);
    if n == 1 {
        return format!("1 {noun}");
    }
    match noun.strip_suffix('y') {
        Some(stem) if !stem.ends_with(['a', 'e', 'o', 'u']) => format!("{n} {stem}ies"),
        _ => format!("{n} {noun}s"),
    }
}

fn datasets(action: DatasetsAction) -> Result<()> {
    match action {
        DatasetsAction::List => {
            for b in dataset::bundled() {
                let n = b.text.lines().filter(|l| !l.trim().is_empty()).count();
                crate::outln!("{:<8} {:>4} items  {}", b.name, n, b.description);
            }
            crate::outln!(
                "\nany file works too: critloop run --dataset path/to/file.jsonl (see critloop datasets validate)"
            );
            Ok(())
        }
        DatasetsAction::Show { name, items, load } => {
            let loaded = dataset::resolve(&name, &load_options(&load)?)?;
            report_notes(&loaded.notes);
            report_skipped(&loaded.skipped);
            crate::outln!("{name}: {} items, format {}", loaded.items.len(), loaded.format);
            // Dataset text is shown inert: a file cannot drive the terminal.
            use crate::tui::inert;
            for item in loaded.items.iter().take(items) {
                crate::outln!(
                    "\n[{}] ({}) reference: {}",
                    inert(&item.id.0),
                    item.answer_kind.as_str(),
                    inert(&item.reference)
                );
                crate::outln!("{}", inert(&item.question));
                // An annotator cannot judge a multiple-choice item without its options.
                for (letter, choice) in ('A'..='Z').zip(item.choices.iter().flatten()) {
                    crate::outln!("  {letter}) {}", inert(choice));
                }
            }
            Ok(())
        }
        DatasetsAction::Validate { file, load } => {
            let loaded = dataset::load_path(&file, &load_options(&load)?)?;
            report_notes(&loaded.notes);
            report_skipped(&loaded.skipped);
            crate::outln!(
                "{}: {} OK (format {}){}",
                file.display(),
                count(loaded.items.len(), "item"),
                loaded.format,
                if loaded.skipped.is_empty() {
                    String::new()
                } else {
                    format!(", {}", count(loaded.skipped.len(), "bad line"))
                }
            );
            if !loaded.skipped.is_empty() {
                bail!("{} in {}", count(loaded.skipped.len(), "bad line"), file.display());
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_counted_most_frequent_first_in_words() {
        let m = |pairs: &[(&str, u64)]| -> std::collections::BTreeMap<String, u64> {
            pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
        };
        assert_eq!(by_cause(&m(&[])), "none");
        assert_eq!(by_cause(&m(&[("timeout", 0)])), "none");
        assert_eq!(
            by_cause(&m(&[("timeout", 1), ("server", 4), ("rate_limited", 2)])),
            "7: 4 server errors (5xx, 408, connection), 2 rate limited or overloaded (429, 503), \
             1 timeout"
        );
        assert_eq!(
            by_cause(&m(&[("malformed", 1), ("refused", 1), ("other", 1)])),
            "3: 1 malformed reply (cut or unreadable), 1 other, 1 refused (4xx)"
        );
    }
}
