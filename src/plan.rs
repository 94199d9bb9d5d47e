//! One run planner for every front end: what the user asked for (`critloop run` flags, the
//! workbench's new-run form), laid over a config profile and the config's defaults, becomes a
//! provider choice, then a stored run record with the options it executes with.

use crate::config::Config;
use crate::dataset::{self, DatasetError, LoadOptions};
use crate::domain::{
    DEFAULT_CONNECT_TIMEOUT_SECS, DEFAULT_FIRST_TOKEN_TIMEOUT_SECS, DEFAULT_IDLE_TIMEOUT_SECS,
    DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_SECS, EndpointSpec, OpenAiSpec, Prices, ProviderSpec,
    RunRecord, Sampling, SimParams,
};
use crate::grade::GradeOptions;
use crate::runner::{self, NewRun, RunError, RunOptions};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A value the user gave that cannot work; the message names the flag or field.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error(transparent)]
    Protocol(#[from] crate::protocol::ProtocolError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Run(#[from] RunError),
}

fn invalid(msg: impl Into<String>) -> PlanError {
    PlanError::Invalid(msg.into())
}

/// Which provider a plan asks for; `None` in [`RunPlan`] lets a URL or profile decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderChoice {
    Sim,
    OpenAi,
}

/// The simulator's parameters a user set (probabilities in [0,1]); unset ones keep the default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimOverrides {
    pub p_correct: Option<f64>,
    pub tpr: Option<f64>,
    pub fpr: Option<f64>,
    pub p_fix: Option<f64>,
    pub p_fix_unflagged: Option<f64>,
    pub p_break: Option<f64>,
    pub p_break_unflagged: Option<f64>,
    pub p_unparsed: Option<f64>,
}

/// What a user asked for. Unset fields fall back to the profile, then the config, then the
/// built-in defaults (the same ones `critloop run --help` states).
#[derive(Debug, Clone, PartialEq)]
pub struct RunPlan {
    pub name: Option<String>,
    pub profile: Option<String>,
    pub dataset: Option<String>,
    pub load: LoadOptions,
    pub protocol: Option<String>,
    pub provider: Option<ProviderChoice>,
    pub model: Option<String>,
    pub critic_model: Option<String>,
    pub base_urls: Vec<String>,
    pub critic_base_urls: Vec<String>,
    pub api_key_env: Option<String>,
    pub rpm: Option<u32>,
    pub timeout: Option<f64>,
    pub connect_timeout: Option<f64>,
    pub first_token_timeout: Option<f64>,
    pub idle_timeout: Option<f64>,
    pub max_retries: Option<u32>,
    pub logprobs: bool,
    pub stream: bool,
    pub limit: Option<usize>,
    pub rounds: Option<u32>,
    pub samples: u32,
    pub seed: Option<u64>,
    pub temperature: f64,
    pub top_p: f64,
    pub max_tokens: u32,
    pub concurrency: Option<usize>,
    pub stop_when_correct: bool,
    pub qwen_compat: bool,
    pub use_cache: bool,
    pub sim: SimOverrides,
}

impl Default for RunPlan {
    fn default() -> Self {
        RunPlan {
            name: None,
            profile: None,
            dataset: None,
            load: LoadOptions::default(),
            protocol: None,
            provider: None,
            model: None,
            critic_model: None,
            base_urls: Vec::new(),
            critic_base_urls: Vec::new(),
            api_key_env: None,
            rpm: None,
            timeout: None,
            connect_timeout: None,
            first_token_timeout: None,
            idle_timeout: None,
            max_retries: None,
            logprobs: false,
            stream: false,
            limit: None,
            rounds: None,
            samples: 1,
            seed: None,
            temperature: 0.7,
            top_p: 1.0,
            max_tokens: 1024,
            concurrency: None,
            stop_when_correct: false,
            qwen_compat: false,
            use_cache: true,
            sim: SimOverrides::default(),
        }
    }
}

/// The provider, models and concurrency a plan resolves to (before anything is stored, so an
/// endpoint can be checked first).
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen {
    pub spec: ProviderSpec,
    pub model: String,
    pub critic_model: String,
    pub concurrency: usize,
}

fn check_prob(name: &str, v: f64) -> Result<f64, PlanError> {
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(invalid(format!("--{name} must be a probability in [0,1], got {v}")))
    }
}

fn sim_params(a: &SimOverrides) -> Result<SimParams, PlanError> {
    let d = SimParams::default();
    let pick = |name: &str, v: Option<f64>, default: f64| check_prob(name, v.unwrap_or(default));
    Ok(SimParams {
        p_correct: pick("sim-p-correct", a.p_correct, d.p_correct)?,
        tpr: pick("sim-tpr", a.tpr, d.tpr)?,
        fpr: pick("sim-fpr", a.fpr, d.fpr)?,
        p_fix: pick("sim-p-fix", a.p_fix, d.p_fix)?,
        p_fix_unflagged: pick("sim-p-fix-unflagged", a.p_fix_unflagged, d.p_fix_unflagged)?,
        p_break: pick("sim-p-break", a.p_break, d.p_break)?,
        p_break_unflagged: pick("sim-p-break-unflagged", a.p_break_unflagged, d.p_break_unflagged)?,
        p_unparsed: pick("sim-p-unparsed", a.p_unparsed, d.p_unparsed)?,
    })
}

/// The provider a new run uses, from the plan over the profile over the environment.
pub fn choose_provider(config: &Config, a: &RunPlan) -> Result<Chosen, PlanError> {
    let profile = match &a.profile {
        Some(name) => Some(config.profiles.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = config.profiles.keys().map(String::as_str).collect();
            invalid(format!(
                "no profile `{name}` in the config file (known: {})",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            ))
        })?),
        None => None,
    };
    let p = profile.unwrap_or_default();
    let env_url = crate::env::var("OPENAI_BASE_URL").filter(|u| !u.trim().is_empty());
    let mut urls = a.base_urls.clone();
    if urls.is_empty() {
        urls = p.urls();
    }
    let wants_openai = a.provider == Some(ProviderChoice::OpenAi)
        || (a.provider.is_none() && (!urls.is_empty() || a.profile.is_some()));
    let concurrency = a.concurrency.or(p.concurrency).or(config.run.concurrency).unwrap_or(16);
    if !wants_openai {
        let model = a.model.clone().unwrap_or_else(|| "sim".into());
        return Ok(Chosen {
            spec: ProviderSpec::Sim { params: sim_params(&a.sim)? },
            critic_model: a.critic_model.clone().unwrap_or_else(|| model.clone()),
            model,
            concurrency,
        });
    }
    if urls.is_empty() {
        urls.extend(env_url);
    }
    if urls.is_empty() {
        return Err(invalid(
            "the openai provider needs --base-url URL (or OPENAI_BASE_URL, or a --profile)",
        ));
    }
    let model = a.model.clone().or(p.model.clone());
    let critic_urls =
        if a.critic_base_urls.is_empty() { p.critic_urls() } else { a.critic_base_urls.clone() };
    let api_key_env =
        a.api_key_env.clone().or(p.api_key_env.clone()).unwrap_or("OPENAI_API_KEY".into());
    let prices = match (p.price_prompt_per_mtok, p.price_completion_per_mtok) {
        (Some(prompt_per_mtok), Some(completion_per_mtok)) => {
            Some(Prices { prompt_per_mtok, completion_per_mtok })
        }
        _ => None,
    };
    for (flag, v) in [
        ("timeout", a.timeout),
        ("connect-timeout", a.connect_timeout),
        ("first-token-timeout", a.first_token_timeout),
        ("idle-timeout", a.idle_timeout),
    ] {
        if let Some(v) = v
            && !(v.is_finite() && v > 0.0)
        {
            return Err(invalid(format!("--{flag} must be a positive number of seconds, got {v}")));
        }
    }
    let spec = OpenAiSpec {
        generator: EndpointSpec { base_urls: urls, api_key_env: api_key_env.clone() },
        critic: (!critic_urls.is_empty())
            .then_some(EndpointSpec { base_urls: critic_urls, api_key_env }),
        timeout_secs: a.timeout.or(p.timeout).unwrap_or(DEFAULT_TIMEOUT_SECS),
        connect_timeout_secs: a
            .connect_timeout
            .or(p.connect_timeout)
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT_SECS),
        first_token_timeout_secs: a
            .first_token_timeout
            .or(p.first_token_timeout)
            .unwrap_or(DEFAULT_FIRST_TOKEN_TIMEOUT_SECS),
        idle_timeout_secs: a.idle_timeout.or(p.idle_timeout).unwrap_or(DEFAULT_IDLE_TIMEOUT_SECS),
        max_retries: a.max_retries.or(p.max_retries).unwrap_or(DEFAULT_MAX_RETRIES),
        rpm: a.rpm.or(p.rpm),
        concurrency,
        logprobs: a.logprobs || p.logprobs.unwrap_or(false),
        stream: a.stream || p.stream.unwrap_or(false),
        prices,
    };
    let model = model
        .ok_or_else(|| invalid("the openai provider needs --model NAME (or a profile's model)"))?;
    let critic_model = a.critic_model.clone().or(p.critic_model.clone()).unwrap_or(model.clone());
    Ok(Chosen { spec: ProviderSpec::OpenAi(spec), model, critic_model, concurrency })
}

/// A name not yet taken: `base`, `base-2`, `base-3`, …
pub fn unique_name(store: &Store, base: &str) -> Result<String, StoreError> {
    let taken: Vec<String> = store.runs()?.into_iter().map(|r| r.name).collect();
    if !taken.iter().any(|n| n == base) {
        return Ok(base.to_string());
    }
    Ok((2..).map(|i| format!("{base}-{i}")).find(|n| !taken.contains(n)).unwrap_or_default())
}

/// A stored run and how it executes.
#[derive(Debug)]
pub struct Created {
    pub record: RunRecord,
    pub opts: RunOptions,
    /// Bad dataset lines passed over (`skip_bad`), to report.
    pub skipped: Vec<DatasetError>,
    /// What the dataset loader chose (usual column names, ids by line), to say once.
    pub notes: Vec<String>,
    /// Items in the dataset before `limit` took the first ones, and how many it took.
    pub dataset_items: usize,
    pub taken_items: usize,
}

/// Loads the dataset and protocol the plan names and stores the run (nothing is stored when
/// any of it is wrong).
pub fn create(
    store: &Store,
    config: &Config,
    a: &RunPlan,
    chosen: Chosen,
) -> Result<Created, PlanError> {
    if a.samples == 0 {
        return Err(invalid("--samples must be at least 1"));
    }
    if a.rounds == Some(0) {
        return Err(invalid("--rounds must be at least 1"));
    }
    let dataset_name = a
        .dataset
        .clone()
        .or_else(|| config.run.dataset.clone())
        .unwrap_or_else(|| dataset::DEFAULT_DATASET.to_string());
    let loaded = dataset::resolve(&dataset_name, &a.load)?;
    let mut items = loaded.items;
    let dataset_items = items.len();
    if let Some(limit) = a.limit {
        items.truncate(limit);
    }
    let taken_items = items.len();
    let protocol_name = a
        .protocol
        .clone()
        .or_else(|| config.run.protocol.clone())
        .unwrap_or("critique-revise".into());
    let mut protocol = crate::protocol::load_protocol(&protocol_name)?;
    if let Some(r) = a.rounds {
        protocol.rounds = r;
    }
    if a.stop_when_correct {
        protocol.stop_when_correct = true;
    }
    let short = std::path::Path::new(&dataset_name)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(&dataset_name)
        .to_string();
    let name = match a.name.clone() {
        Some(n) => n,
        None => unique_name(store, &format!("{}-{short}", protocol.name))?,
    };
    let grade = GradeOptions { qwen_compat: a.qwen_compat };
    let Chosen { spec, model, critic_model, concurrency } = chosen;
    let record = runner::create_run(
        store,
        NewRun {
            name,
            dataset: dataset_name,
            items,
            protocol,
            provider: spec,
            model,
            critic_model,
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
    let opts = RunOptions { concurrency, grade, use_cache: a.use_cache, ..RunOptions::default() };
    Ok(Created {
        record,
        opts,
        skipped: loaded.skipped,
        notes: loaded.notes,
        dataset_items,
        taken_items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Profile;

    fn config_with_profile() -> Config {
        let mut c = Config::default();
        c.profiles.insert(
            "local".into(),
            Profile {
                base_url: Some("http://127.0.0.1:8080/v1".into()),
                model: Some("smollm2".into()),
                concurrency: Some(2),
                timeout: Some(900.0),
                ..Profile::default()
            },
        );
        c.run.seed = Some(11);
        c
    }

    #[test]
    fn a_profile_gives_the_endpoint_and_flags_win_over_it() {
        let config = config_with_profile();
        let plan = RunPlan { profile: Some("local".into()), ..RunPlan::default() };
        let chosen = choose_provider(&config, &plan).unwrap();
        let ProviderSpec::OpenAi(spec) = &chosen.spec else { panic!("{chosen:?}") };
        assert_eq!(spec.generator.base_urls, ["http://127.0.0.1:8080/v1"]);
        assert_eq!((chosen.model.as_str(), chosen.concurrency), ("smollm2", 2));
        assert_eq!(spec.timeout_secs, 900.0);
        let plan = RunPlan { model: Some("other".into()), concurrency: Some(8), ..plan };
        let chosen = choose_provider(&config, &plan).unwrap();
        assert_eq!((chosen.model.as_str(), chosen.concurrency), ("other", 8));
        let unknown = RunPlan { profile: Some("nope".into()), ..RunPlan::default() };
        let err = choose_provider(&config, &unknown).unwrap_err().to_string();
        assert_eq!(err, "no profile `nope` in the config file (known: local)");
    }

    #[test]
    fn without_a_url_the_simulator_runs_and_bad_values_are_named() {
        let plan = RunPlan::default();
        let chosen = choose_provider(&Config::default(), &plan).unwrap();
        assert!(matches!(chosen.spec, ProviderSpec::Sim { .. }));
        let bad = RunPlan {
            sim: SimOverrides { tpr: Some(1.5), ..SimOverrides::default() },
            ..RunPlan::default()
        };
        let err = choose_provider(&Config::default(), &bad).unwrap_err().to_string();
        assert_eq!(err, "--sim-tpr must be a probability in [0,1], got 1.5");
    }

    #[test]
    fn create_stores_the_run_with_config_defaults_and_grading() {
        let store = Store::temporary().unwrap();
        let config = config_with_profile();
        let plan = RunPlan { limit: Some(3), qwen_compat: true, ..RunPlan::default() };
        let chosen = choose_provider(&config, &plan).unwrap();
        let created = create(&store, &config, &plan, chosen).unwrap();
        assert_eq!(created.record.name, "critique-revise-arith");
        assert_eq!(created.record.sampling.seed, 11, "the config's run seed");
        assert!(created.record.grading().qwen_compat);
        assert!(created.opts.grade.qwen_compat);
        assert_eq!(store.episodes(created.record.id).unwrap().len(), 3);
        let again = create(&store, &config, &plan, choose_provider(&config, &plan).unwrap());
        assert_eq!(again.unwrap().record.name, "critique-revise-arith-2");
        let zero = RunPlan { samples: 0, ..plan };
        let err = create(&store, &config, &zero, choose_provider(&config, &zero).unwrap());
        assert_eq!(err.unwrap_err().to_string(), "--samples must be at least 1");
    }
}
