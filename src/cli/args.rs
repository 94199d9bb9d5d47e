//! Command-line grammar (DESIGN §11). Spellings are a contract: scripts depend on them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "critloop",
    version,
    about = "A workbench for LLM critique and self-correction research",
    long_about = "critloop runs generate → critique → revise episodes against a model (the offline \
`sim` provider by default), stores every turn in a sled database, and computes the decomposed \
metrics of the self-correction literature (acc@t1/t2, Δ, SCoRe Δ^{i→c}/Δ^{c→i}, confidence level, \
critique score, critique F1).\n\nStart with `critloop run --limit 50`, then `critloop metrics NAME`."
)]
pub struct Cli {
    /// Database directory (default: the platform data dir, or $CRITLOOP_DATA/db).
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Config file (default: the platform config dir, or $CRITLOOP_CONFIG).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// TUI theme: dark, light, high-contrast, or a theme file [default: dark].
    #[arg(long, value_name = "NAME")]
    pub theme: Option<String>,
    /// Name recorded with your labels [default: config `annotator`; else asked on the first label].
    #[arg(long, value_name = "NAME")]
    pub annotator: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the database to every other critloop process (started on demand; see --help).
    #[command(long_about = "Serve the database: the one process that holds it open, runs its \
runs, and answers every other critloop process on it (the workbench and the commands) through \
a Unix socket inside the database directory (mode 600, your user only). Every command starts \
one on demand and it exits once no run is going and no client is connected; runs started from \
the workbench go on after it quits. If a server dies, the next command takes the database over \
and resumes the runs it was running.\n\nPlain `critloop serve` starts a server that stays until \
`critloop serve --stop`; its log is <db>.server.log.")]
    Serve(ServeArgs),
    /// Run an experiment headless, with a progress bar and a summary at the end.
    Run(Box<RunArgs>),
    /// Run the failed episodes of a run again (after fixing the endpoint, say).
    RetryFailed {
        /// Run name.
        name: String,
        /// Episodes in flight at once (default: the run's).
        #[arg(long)]
        concurrency: Option<usize>,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Control arms of a finished critique-revise run: the same first attempts revised without
    /// the model's critique, so the paired comparison with the run shows the critique's effect.
    #[command(long_about = "Control arms of a finished critique-revise run.\n\n\
Each arm is a new run `RUN~ARM` over the same items, sampling, provider and generator model. \
Every episode starts from an exact copy of the source episode's first attempt (t1 is shared, \
not sampled again); only what happens after it differs:\n\
\n  no-critique      no critique turn: the model is asked to review and try again\
\n  empty-critique   an empty critique turn, then the usual revise request\
\n  oracle-critique  the critique says only whether t1 is right or wrong (never the answer)\
\n  cross-critique   another critic model writes the critique (needs --critic-model)\n\n\
Compare each arm with the source run: `critloop compare RUN~no-critique RUN`. For an openai \
run the API key is read from the same environment variable as the source run's.")]
    Arms(ArmsArgs),
    /// Print the metrics of a run, with bootstrap intervals, calibration and label statistics.
    Metrics {
        /// Run name.
        name: String,
        #[arg(long, value_enum, default_value = "table")]
        format: MetricsFormat,
        #[command(flatten)]
        analysis: AnalysisArgs,
    },
    /// Compare two runs on their shared items: B − A for every rate with paired bootstrap
    /// intervals, McNemar's exact test on acc_t1 and acc_t2, and the episodes that flipped.
    #[command(long_about = "Compare two runs on their shared items (matched by item id; episodes \
matched by item and sample). Prints B − A for every rate with a paired percentile bootstrap \
interval (items resampled together in both runs), McNemar's exact test on the first and final \
attempt, and the episodes right in one run and wrong in the other.\n\nTypical use: a \
critique-revise run against its control arm, e.g. `critloop compare RUN~no-critique RUN`.")]
    Compare {
        /// Baseline run (A).
        a: String,
        /// Treatment run (B).
        b: String,
        #[arg(long, value_enum, default_value = "table")]
        format: CompareFormat,
        #[command(flatten)]
        analysis: AnalysisArgs,
    },
    /// Write a paper-ready report of one or more runs: Markdown tables (RealCritic,
    /// CriticBench and "Confidence v.s. Critique" layouts), a LaTeX table and SVG figures.
    #[command(long_about = "Write a paper-ready report of one or more runs into DIR: report.md \
(tables in the layouts of the RealCritic, CriticBench and \"Confidence v.s. Critique\" papers, \
with bootstrap intervals), table.tex (booktabs), metrics.json, SVG figures (2×2 transitions, CL \
vs CS across runs, accuracy per attempt, reliability diagrams) and report.json, the recipe \
`critloop verify DIR` uses to recompute every number from the database.")]
    Report {
        /// Runs, in the order of the tables.
        #[arg(required = true, value_name = "RUN")]
        runs: Vec<String>,
        /// Directory to write into (created if needed; files of the same name are replaced).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        #[command(flatten)]
        analysis: AnalysisArgs,
    },
    /// Recompute every number of a report from the database; exit 1 naming the first number
    /// that differs in each file.
    Verify {
        /// A directory written by `critloop report`.
        dir: PathBuf,
    },
    /// Export a run's episodes: transcript JSONL, or the long format (one row per episode ×
    /// turn) as CSV or JSONL, ready for pandas/polars.
    Export {
        /// Run name.
        name: String,
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// Write here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Import a transcript JSONL as a replay run (label and measure runs made elsewhere).
    Import {
        /// Transcript JSONL file.
        file: PathBuf,
        /// Name of the new run (default: the `run` field of the lines).
        #[arg(long)]
        name: Option<String>,
        /// Also accept x·100 and x/100 as equal when grading (Qwen2.5-Math quirk).
        #[arg(long)]
        qwen_compat: bool,
    },
    /// Check an OpenAI-compatible endpoint before a run: is the model served, how fast is it,
    /// does it answer requests in parallel, does it honour usage, seed, max_tokens, logprobs.
    #[command(long_about = "Check an OpenAI-compatible endpoint the way `critloop run` does \
before its first episode: GET /models (is the model served? if not, which names are), a tiny \
chat request (latency, tokens/s; are usage, seed, max_tokens and logprobs honoured?) and two \
concurrent ones (does the server run requests in parallel, or one at a time?). Prints one short \
report per endpoint and exits 1 when an endpoint cannot work.\n\nExample: critloop doctor \
--base-url http://127.0.0.1:8080/v1 --model local")]
    Doctor(DoctorArgs),
    /// List, show or delete runs.
    Runs {
        #[command(subcommand)]
        action: RunsAction,
    },
    /// List, show or validate datasets.
    Datasets {
        #[command(subcommand)]
        action: DatasetsAction,
    },
    /// Grade an answer against a reference (exit 0 equal, 1 not), or check a file of cases.
    #[command(long_about = "Grade ANSWER against REFERENCE the way runs do and print the \
decision and the tier that matched, e.g. `equal (symbolic)` or `not equal`. Exit 0 when \
equivalent, 1 when not, 2 on a usage error.\n\n`critloop grade check FILE.jsonl…` checks \
grading cases, one JSON object per line: `answer`, `reference`, `expected` (true = equal), \
optional `kind`, `question` and `note`. It prints every disagreement as FILE:LINE and the \
agreement, and exits 1 when a case disagrees or a line is malformed.\n\n`check` as the first \
word always means the file check: to grade the literal answer \"check\", write \
`critloop grade -- check REFERENCE`.")]
    Grade(GradeArgs),
    /// Print a shell completion script: `critloop completions bash > ~/.local/share/bash-completion/completions/critloop`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `critloop man > ~/.local/share/man/man1/critloop.1`.
    Man,
    /// Human labels: list the ones in force, add one, and merge them between databases
    /// (export a label file, import it elsewhere).
    #[command(long_about = "Human labels on episodes and their turns (the schema: \
assets/labels.toml, overridable with [[labels]] in the config file).\n\n\
Every label is an entry by a named annotator at a time. The value in force for an (annotator, \
episode, turn, name) slot is its latest entry; earlier entries and retractions are kept as \
history, and exported. Annotators working in separate databases merge their work with label \
files: `critloop labels export RUN --out ana.jsonl` on one side, `critloop labels import \
ana.jsonl` on the other. An import adds the entries the database does not hold yet and never \
overwrites one, so importing a file twice changes nothing and two databases that import each \
other's files agree on every label, every metric and the agreement (κ, α).")]
    Labels {
        #[command(subcommand)]
        action: LabelsAction,
    },
    /// Annotation queues: assign a run's episodes to annotators, with an overlap set they all
    /// label (for agreement).
    #[command(long_about = "Annotation queues. `critloop queue make RUN --annotators ana,ben` \
assigns the finished episodes of RUN: a seeded shuffle, the first --overlap share to every \
annotator (so agreement can be measured), the rest dealt out evenly. Each annotator then works \
through their episodes in the queue's order in the workbench (`critloop --annotator ana`). \
`critloop queue show RUN` prints how far each annotator is.")]
    Queue {
        #[command(subcommand)]
        action: QueueAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum LabelsAction {
    /// The labels in force (the latest entry of each annotator's slot), one row each, with how
    /// many entries the slot holds.
    List {
        /// Run name.
        run: String,
        /// Only this annotator's labels.
        #[arg(long, value_name = "NAME")]
        annotator: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: LabelsFormat,
    },
    /// Write every label entry of a run, history and retractions included, as a label file
    /// (JSONL, one entry a line) for `critloop labels import` in another database.
    #[command(long_about = "Write every label entry of RUN, history and retractions included, \
one JSON object a line, in (item, sample, time) order:\n\n  \
{\"run\":\"r1\",\"item_id\":\"17\",\"sample\":0,\"annotator\":\"ana\",\"turn\":1,\
\"name\":\"error_found\",\"value\":\"yes\",\"time\":1700000000,\"millis\":12}\n\n\
A retraction carries \"retracted\":true; an episode label has no turn. Import the file into \
another database that holds the same run with `critloop labels import FILE`.")]
    Export {
        /// Run name.
        run: String,
        /// Write here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Merge a label file (or a transcript export with labels) into this database: entries it
    /// does not hold are added, none is overwritten; the latest entry of a slot is in force.
    #[command(long_about = "Merge the label entries of FILE into this database. FILE is a \
label file written by `critloop labels export`, or a transcript export (`critloop export RUN`) \
whose lines carry labels. Lines find their episode by run name, item id and sample; the run must \
be in this database already.\n\nEntries the database holds already are skipped, so importing a \
file twice changes nothing. Nothing is overwritten: when an annotator's slot already had a \
different value, the incoming entry joins its history and the latest entry by time is in force \
(reported as conflicting). A malformed line stops the import before anything is written, naming \
FILE:LINE and the field.")]
    Import {
        /// Label file (JSONL), or `-` for standard input.
        file: PathBuf,
    },
    /// Add one label, checked against the label schema, recorded with your annotator name and
    /// the current time.
    #[command(long_about = "Add one label to an episode or one of its turns, as the workbench's \
label keys do. NAME and VALUE are checked against the label schema (`error_found` labels \
critique turns, `followed_critique` revise turns, `grade_override` attempts, `note` and `tags` \
the episode). Labelling a slot again adds a newer entry: the latest is in force, the earlier ones \
stay as history.\n\nThe annotator is --annotator (here or before the subcommand), else \
`annotator` in the config file.\n\nExample: critloop labels add r1 arith-001 0 1 error_found yes \
--annotator ana")]
    Add {
        /// Run name.
        run: String,
        /// Item id (as in the dataset).
        item: String,
        /// Sample index (0 unless the run has several samples per item).
        sample: u32,
        /// Turn index (0 = first turn), or `episode` for an episode label.
        turn: TurnArg,
        /// Label name (see assets/labels.toml).
        name: String,
        /// Label value.
        #[arg(allow_hyphen_values = true)]
        value: String,
        /// Name recorded with the label [default: the top-level --annotator, else config
        /// `annotator`].
        #[arg(long, value_name = "NAME")]
        annotator: Option<String>,
    },
}

/// The TURN of `critloop labels add`: a turn index, or the episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnArg(pub Option<u32>);

impl std::str::FromStr for TurnArg {
    type Err = String;

    fn from_str(s: &str) -> Result<TurnArg, String> {
        if s == "episode" {
            return Ok(TurnArg(None));
        }
        s.parse::<u32>()
            .map(|n| TurnArg(Some(n)))
            .map_err(|_| format!("`{s}` is neither a turn index (0, 1, …) nor `episode`"))
    }
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LabelsFormat {
    /// Aligned columns.
    Table,
    /// One JSON object per label.
    Jsonl,
    /// Comma-separated, with a header.
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum QueueAction {
    /// Assign a run's finished episodes to annotators: a seeded shuffle, an overlap share to all
    /// of them, the rest split evenly.
    Make {
        /// Run name.
        run: String,
        /// Annotator names, comma-separated.
        #[arg(long, value_delimiter = ',', required = true, value_name = "NAMES")]
        annotators: Vec<String>,
        /// Share of episodes every annotator labels, between 0 and 1.
        #[arg(long, default_value_t = 0.2, value_name = "SHARE")]
        overlap: f64,
        /// Seed of the shuffle: the same seed makes the same queue.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Annotators work with references, grades and each other's labels hidden.
        #[arg(long)]
        blind: bool,
        /// Replace the run's existing queue (labels are kept).
        #[arg(long)]
        replace: bool,
    },
    /// Per annotator: episodes with every required label set, of those assigned.
    Show {
        /// Run name.
        run: String,
    },
}

/// `critloop grade ANSWER REFERENCE` or `critloop grade check FILE…`.
#[derive(Debug, Clone, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    disable_help_subcommand = true
)]
pub struct GradeArgs {
    #[command(subcommand)]
    pub action: Option<GradeAction>,
    /// The answer to grade (a leading `-` is fine: `-3`, `-\frac{1}{2}`).
    #[arg(required = true, allow_hyphen_values = true)]
    pub answer: Option<String>,
    /// The reference answer.
    #[arg(required = true, allow_hyphen_values = true)]
    pub reference: Option<String>,
    /// How the answers compare.
    #[arg(long, value_enum, default_value = "math")]
    pub kind: KindArg,
    /// The question: when it asks for a percentage, x·100 and x/100 are accepted too.
    #[arg(long, value_name = "TEXT")]
    pub question: Option<String>,
    /// Also accept x·100 and x/100 as equal (Qwen2.5-Math quirk).
    #[arg(long)]
    pub qwen_compat: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub enum GradeAction {
    /// Check grading cases (JSONL: answer, reference, expected, optional kind, question, note).
    Check {
        /// Case files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Grade with --qwen-compat.
        #[arg(long)]
        qwen_compat: bool,
    },
}

/// `--kind` of `critloop grade` (an item's `answer_kind`).
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum KindArg {
    Number,
    Choice,
    Math,
    Text,
}

/// The endpoint flags `critloop doctor` shares with `critloop run`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// Endpoint profile from the config file ([profiles.NAME]); flags override its values.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Endpoint base URL, e.g. http://127.0.0.1:8080/v1 [env: OPENAI_BASE_URL].
    #[arg(long, value_name = "URL")]
    pub base_url: Vec<String>,
    /// Model name, as the server names it.
    #[arg(long)]
    pub model: Option<String>,
    /// A separate critic endpoint to check too.
    #[arg(long, value_name = "URL")]
    pub critic_base_url: Vec<String>,
    /// Critic model name (default: the model).
    #[arg(long)]
    pub critic_model: Option<String>,
    /// Environment variable that holds the API key [default: OPENAI_API_KEY].
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// The run will ask for logprobs: their absence is worth a warning.
    #[arg(long)]
    pub logprobs: bool,
    /// Cap per probe request, in seconds [default: 600].
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Seconds to open a connection [default: 10].
    #[arg(long, value_name = "SECS")]
    pub connect_timeout: Option<f64>,
}

#[derive(Debug, Clone, Args)]
pub struct ArmsArgs {
    /// The finished critique-revise run whose first attempts the arms share.
    pub run: String,
    /// Which arms to make, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "no-critique,empty-critique,oracle-critique"
    )]
    pub arms: Vec<ArmName>,
    /// cross-critique: the other critic model.
    #[arg(long, value_name = "MODEL")]
    pub critic_model: Option<String>,
    /// cross-critique: the critic's endpoint base URL (openai runs; default: the source run's
    /// critic endpoint). Repeat it for replicas.
    #[arg(long, value_name = "URL")]
    pub critic_base_url: Vec<String>,
    /// Episodes in flight at once (default: the source run's).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// A control arm (see `critloop arms --help`).
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ArmName {
    /// No critique turn; the model is asked to try again.
    NoCritique,
    /// An empty critique turn before the revise request.
    #[value(name = "empty-critique")]
    Empty,
    /// A critique saying only whether the first attempt is right or wrong.
    #[value(name = "oracle-critique")]
    Oracle,
    /// Another critic model (needs --critic-model).
    #[value(name = "cross-critique")]
    Cross,
}

#[derive(Debug, Subcommand)]
pub enum RunsAction {
    /// One line per run: episodes done of all, status, when it was created.
    List {
        /// table, or json (one object per run, for scripts).
        #[arg(long, value_enum, default_value = "table")]
        format: CompareFormat,
    },
    /// A run's settings, counts and headline metrics.
    Show { name: String },
    /// Delete a run and all its episodes, turns and labels. On a terminal it says what will go
    /// and asks first; scripts pass --yes.
    Delete {
        name: String,
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
        /// Delete the run's control arms too (a run with arms is otherwise kept).
        #[arg(long)]
        with_arms: bool,
        /// Say what would be deleted, delete nothing (the question's first half).
        #[arg(long, hide = true)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DatasetsAction {
    /// The bundled datasets.
    List,
    /// A dataset's format, size and first items.
    Show {
        /// Bundled name or path.
        name: String,
        /// How many items to print.
        #[arg(long, default_value_t = 3)]
        items: usize,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Check every line of a dataset file; exit 1 with FILE:LINE: cause on the first bad one.
    Validate {
        file: PathBuf,
        #[command(flatten)]
        load: LoadArgs,
    },
}

/// How to read a dataset.
#[derive(Debug, Clone, Default, Args)]
pub struct LoadArgs {
    /// Dataset format: auto, gsm8k, math, realcritic, criticbench, critloop, generic.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Field mapping for the generic format, e.g. `question=prompt,reference=target`.
    #[arg(long, value_name = "MAP")]
    pub map: Option<String>,
    /// Load the good lines and report the bad ones instead of stopping at the first.
    #[arg(long)]
    pub skip_bad: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum MetricsFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CompareFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ExportFormat {
    /// Transcript: one episode per line (re-importable with `critloop import`).
    Jsonl,
    /// Long format: one row per episode × turn.
    Csv,
    /// Long format as JSONL: one object per episode × turn, the CSV's columns.
    LongJsonl,
    /// Long format as Parquet (typed columns, a column per label and annotator; needs --out).
    Parquet,
}

/// Choices of the statistical analysis (recorded in the output's provenance).
#[derive(Debug, Clone, Copy, Args)]
pub struct AnalysisArgs {
    /// Bootstrap resamples for the 95% intervals (0 = no intervals).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub resamples: u32,
    /// Seed of the bootstrap: the same seed gives the same intervals.
    #[arg(long, default_value_t = 0, value_name = "SEED")]
    pub bootstrap_seed: u64,
    /// Equal-count bins of the calibration tables (ECE, reliability diagram).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub bins: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ProviderName {
    /// Offline simulator of a self-correcting model (no network, no key).
    Sim,
    /// Any OpenAI-compatible chat endpoint (OpenAI, vLLM, SGLang, llama.cpp server, Ollama).
    Openai,
}

#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// Name of the run (default: derived from protocol and dataset).
    #[arg(long, value_parser = run_name)]
    pub name: Option<String>,
    /// Continue the named run where it stopped, with its stored settings; completed turns are
    /// never requested again. Only --concurrency, --no-cache, --quiet apply alongside.
    #[arg(long, value_name = "NAME", conflicts_with_all = [
        "name", "dataset", "protocol", "profile", "format", "map", "skip_bad", "provider", "model",
        "critic_model", "base_url", "critic_base_url", "api_key_env", "rpm", "timeout",
        "connect_timeout", "first_token_timeout", "idle_timeout", "max_retries", "logprobs",
        "stream", "limit", "rounds", "samples", "seed", "temperature", "top_p", "max_tokens",
        "stop_when_correct", "qwen_compat", "sim_p_correct", "sim_tpr", "sim_fpr", "sim_p_fix",
        "sim_p_fix_unflagged", "sim_p_break", "sim_p_break_unflagged", "sim_p_unparsed",
    ])]
    pub resume: Option<String>,
    /// Endpoint profile from the config file ([profiles.NAME]); flags override its values.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Bundled dataset name (see `critloop datasets list`) or a file path [default: arith].
    #[arg(long)]
    pub dataset: Option<String>,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Protocol preset (critique-revise, self-correct, critic-correct, critique-only) or a .toml path.
    #[arg(long)]
    pub protocol: Option<String>,
    /// Who answers the requests [default: sim, or openai with --base-url/--profile].
    #[arg(long, value_enum)]
    pub provider: Option<ProviderName>,
    /// Generator model name (openai: as the server names it).
    #[arg(long)]
    pub model: Option<String>,
    /// Critic model name (default: the generator = self-critique).
    #[arg(long)]
    pub critic_model: Option<String>,
    /// Endpoint base URL, e.g. http://127.0.0.1:8000/v1 [env: OPENAI_BASE_URL]. Repeat it for
    /// replicas of one model: requests are spread across them.
    #[arg(long, value_name = "URL")]
    pub base_url: Vec<String>,
    /// A separate endpoint for the critic (cross-critique on another server). Repeatable.
    #[arg(long, value_name = "URL")]
    pub critic_base_url: Vec<String>,
    /// Environment variable that holds the API key [default: OPENAI_API_KEY]. The key itself is
    /// never stored, logged or exported.
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// Requests-per-minute limit across the run.
    #[arg(long, value_name = "N")]
    pub rpm: Option<u32>,
    /// Overall cap per request, in seconds [default: 600, as in the OpenAI SDK]. The clock
    /// starts when the request reaches the front of the server's queue: while a request sent
    /// before it to the same endpoint is still making progress, waiting is not a failure.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Seconds to open a connection (TCP and TLS) [default: 10].
    #[arg(long, value_name = "SECS")]
    pub connect_timeout: Option<f64>,
    /// Streams (--stream): seconds until the first token, counted like --timeout from the front
    /// of the server's queue (prompt processing included) [default: 180].
    #[arg(long, value_name = "SECS")]
    pub first_token_timeout: Option<f64>,
    /// Streams (--stream): the longest gap between two chunks, in seconds [default: 60].
    #[arg(long, value_name = "SECS")]
    pub idle_timeout: Option<f64>,
    /// Skip the endpoint check before the run (model served? latency, tokens/s, parallel?
    /// usage, seed, max_tokens and logprobs honoured?); see `critloop doctor`.
    #[arg(long)]
    pub no_preflight: bool,
    /// Retries of a failing request (429, 5xx, timeouts, dropped connections, malformed or
    /// truncated bodies) with exponential backoff and jitter [default: 5].
    #[arg(long, value_name = "N")]
    pub max_retries: Option<u32>,
    /// Do not read replies from the response cache (they are still written to it).
    #[arg(long)]
    pub no_cache: bool,
    /// Ask for logprobs and record a P(True)-style confidence of each verdict.
    #[arg(long)]
    pub logprobs: bool,
    /// Use SSE streaming for every call.
    #[arg(long)]
    pub stream: bool,
    /// Use only the first N items.
    #[arg(long, value_parser = at_least_one::<usize>)]
    pub limit: Option<usize>,
    /// Critique/revise rounds (overrides the protocol's).
    #[arg(long, value_parser = at_least_one::<u32>)]
    pub rounds: Option<u32>,
    /// Samples per item (k).
    #[arg(long, default_value_t = 1, value_parser = at_least_one::<u32>)]
    pub samples: u32,
    /// Seed of the run (sampling and the simulator).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Sampling temperature.
    #[arg(long, default_value_t = 0.7)]
    pub temperature: f64,
    /// Nucleus sampling top_p.
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f64,
    /// Maximum tokens per reply.
    #[arg(long, default_value_t = 1024)]
    pub max_tokens: u32,
    /// Episodes in flight at once, and the most requests in flight per endpoint [default: 16].
    /// Requests in flight adapt below it: halved when timeouts or 429s cluster, raised by one
    /// per round of successes, never below 1.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// critique-revise: skip the revise when the critic says `correct`.
    #[arg(long)]
    pub stop_when_correct: bool,
    /// Also accept x·100 and x/100 as equal when grading (Qwen2.5-Math quirk).
    #[arg(long)]
    pub qwen_compat: bool,
    /// No progress bar, no endpoint report: only the summary (and errors).
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub sim: SimArgs,
}

/// Parameters of the `sim` provider (probabilities in [0,1]).
#[derive(Debug, Clone, Default, Args)]
pub struct SimArgs {
    /// sim: P(first attempt correct).
    #[arg(long, value_name = "P")]
    pub sim_p_correct: Option<f64>,
    /// sim: critic true-positive rate, P(flag | answer wrong).
    #[arg(long, value_name = "P")]
    pub sim_tpr: Option<f64>,
    /// sim: critic false-positive rate, P(flag | answer right).
    #[arg(long, value_name = "P")]
    pub sim_fpr: Option<f64>,
    /// sim: P(fixed | wrong and flagged).
    #[arg(long, value_name = "P")]
    pub sim_p_fix: Option<f64>,
    /// sim: P(fixed | wrong, not flagged).
    #[arg(long, value_name = "P")]
    pub sim_p_fix_unflagged: Option<f64>,
    /// sim: P(broken | right and flagged).
    #[arg(long, value_name = "P")]
    pub sim_p_break: Option<f64>,
    /// sim: P(broken | right, not flagged).
    #[arg(long, value_name = "P")]
    pub sim_p_break_unflagged: Option<f64>,
    /// sim: P(critique states no verdict).
    #[arg(long, value_name = "P")]
    pub sim_p_unparsed: Option<f64>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Stop the database's server: its runs are cancelled (resumable) and stored first.
    #[arg(long)]
    pub stop: bool,
    /// Stay in the foreground (logging to the terminal) instead of detaching.
    #[arg(long, conflicts_with = "stop")]
    pub foreground: bool,
    /// Exit once idle (the server every command starts on demand).
    #[arg(long, hide = true)]
    pub on_demand: bool,
}

/// A count that must be positive (`--limit 0` is a usage error, not an empty dataset).
fn at_least_one<T>(v: &str) -> Result<T, String>
where
    T: std::str::FromStr + Default + PartialEq,
    T::Err: std::fmt::Display,
{
    match v.parse::<T>() {
        Ok(n) if n == T::default() => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// A name a run may have (see `domain::text::run_name_problem`).
fn run_name(v: &str) -> Result<String, String> {
    match crate::domain::text::run_name_problem(v) {
        Some(problem) => Err(problem),
        None => Ok(v.to_string()),
    }
}
