//! A server that answers one request at a time (llama.cpp, llama-cpp-python on a CPU): time in
//! its queue is not a failure, no reply is asked for twice, and concurrency adapts to its 429s.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use critloop::dataset::{LoadOptions, load_str};
use critloop::domain::{EndpointSpec, EpisodeStatus, OpenAiSpec, ProviderSpec, Sampling};
use critloop::grade::GradeOptions;
use critloop::llm::{OpenAiProvider, Provider};
use critloop::protocol::load_protocol;
use critloop::runner::{self, NewRun, RunEvent, RunOptions};
use critloop::store::Store;
use support::mock::{Fault, FaultPlan, MockConfig, MockServer, SerialQueue};
use support::world;

fn spec(url: String, concurrency: usize, timeout: f64) -> OpenAiSpec {
    let mut s = OpenAiSpec::new(
        EndpointSpec { base_urls: vec![url], api_key_env: "CRITLOOP_TEST_NO_KEY".into() },
        concurrency,
    );
    s.timeout_secs = timeout;
    s.max_retries = 30;
    s
}

/// Runs `items` world items against `spec`; returns the store, the run's id, the provider (for
/// its concurrency history) and every progress event.
async fn run(
    items: u64,
    spec: OpenAiSpec,
) -> (Store, critloop::domain::RunId, Arc<OpenAiProvider>, Vec<RunEvent>) {
    let store = Store::temporary().unwrap();
    let text = world::dataset_jsonl(items);
    let items = load_str("world.jsonl", &text, false, &LoadOptions::default()).unwrap().items;
    let provider_spec = ProviderSpec::OpenAi(spec.clone());
    let record = runner::create_run(
        &store,
        NewRun {
            name: "queued".into(),
            dataset: "world".into(),
            items,
            protocol: load_protocol("critique-revise").unwrap(),
            provider: provider_spec,
            model: "mock-model".into(),
            critic_model: "mock-model".into(),
            sampling: Sampling { seed: 7, ..Sampling::default() },
        },
        GradeOptions::default(),
    )
    .unwrap();
    let provider = Arc::new(OpenAiProvider::new(&spec).unwrap());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let events = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Some(ev) = rx.recv().await {
            all.push(ev);
        }
        all
    });
    runner::execute(
        store.clone(),
        record.id,
        Provider::OpenAi(provider.clone()),
        RunOptions { concurrency: spec.concurrency, ..RunOptions::default() },
        tx,
        Arc::new(AtomicBool::new(false)),
    )
    .await
    .unwrap();
    (store, record.id, provider, events.await.unwrap())
}

/// The conversation a request carries: the same one asked twice is the same work paid twice.
fn conversation(r: &support::mock::LoggedRequest) -> String {
    r.request.messages.iter().map(|(role, c)| format!("{role}:{c}\n")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_at_a_time_server_is_waited_for_and_concurrency_adapts_down_and_up() {
    // Each reply takes 0.4 s, more than half of the 0.7 s timeout: a request queued behind
    // another would time out if its wait counted. One request may wait; more get a 429.
    let mock = MockServer::start(MockConfig {
        latency: Duration::from_millis(400),
        serial: Some(SerialQueue { capacity: 1, retry_after_secs: 1 }),
        ..MockConfig::replying(world::reply)
    })
    .await;
    let (store, run, provider, events) = run(10, spec(mock.base_url(), 4, 0.7)).await;

    let episodes = store.episodes(run).unwrap();
    let failed: Vec<_> = episodes.iter().filter(|e| e.status != EpisodeStatus::Done).collect();
    // The scripted world refuses multiples of 13 with a 400 (none among 1..=10).
    let refused = (1..=10).filter(|n| world::rejected(*n)).count();
    assert_eq!(failed.len(), refused, "only refused items fail: {failed:?}");
    for e in &failed {
        assert!(e.error.as_deref().unwrap_or_default().contains("refused"), "{e:?}");
    }

    assert_eq!(mock.max_in_service(), 1, "the mock served one request at a time");
    let mut answered: HashMap<String, usize> = HashMap::new();
    for r in mock.completed() {
        *answered.entry(conversation(&r)).or_default() += 1;
    }
    let twice: Vec<_> = answered.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "no reply was produced twice: {twice:?}");
    // A 429 is a refusal (no work done); every conversation the server accepted, it was
    // asked for once: none timed out in its queue and was sent again.
    let mut accepted: HashMap<String, usize> = HashMap::new();
    for r in mock.requests().iter().filter(|r| r.status != 429) {
        *accepted.entry(conversation(r)).or_default() += 1;
    }
    let again: Vec<_> = accepted.iter().filter(|(_, n)| **n > 1).collect();
    assert!(again.is_empty(), "no request was sent again after a timeout: {again:?}");
    assert_eq!(accepted.len(), 30, "10 episodes × 3 turns");
    assert!(mock.requests().iter().any(|r| r.status == 429), "the queue did overflow");

    let history = provider.concurrency_history();
    let low = history.iter().position(|&c| c < 4).expect("concurrency went down");
    let min = history[low..].iter().copied().min().unwrap();
    assert!(
        history[low..].iter().skip_while(|&&c| c != min).any(|&c| c > min),
        "and back up: {history:?}"
    );
    assert!(history.iter().all(|&c| (1..=4).contains(&c)), "{history:?}");

    let shown: Vec<(u64, u64)> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Progress { live, .. } => live.concurrency,
            _ => None,
        })
        .collect();
    assert!(shown.iter().all(|&(_, max)| max == 4), "{shown:?}");
    // Signs of life at least once a second, whatever the replies do.
    let elapsed: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            RunEvent::Progress { live, .. } => Some(live.elapsed_secs),
            _ => None,
        })
        .collect();
    let last = *elapsed.last().unwrap();
    assert!(last >= 5, "the run took a while: {last} s");
    for s in 1..last {
        assert!(elapsed.contains(&s), "no progress in second {s}: {elapsed:?}");
    }
    assert!(shown.iter().any(|&(now, _)| now < 4), "the progress shows the lowered value");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_stream_times_out_on_the_idle_timeout_and_is_retried() {
    // Chunks 1.5 s apart with a 0.5 s idle timeout: every streamed attempt stalls.
    let mock = MockServer::start(MockConfig {
        chunk_interval: Duration::from_millis(1500),
        ..MockConfig::replying(world::reply)
    })
    .await;
    let mut s = spec(mock.base_url(), 2, 30.0);
    s.stream = true;
    s.idle_timeout_secs = 0.5;
    s.max_retries = 1;
    let (store, run, _provider, _) = run(1, s).await;
    let ep = store.episodes(run).unwrap().remove(0);
    assert_eq!(ep.status, EpisodeStatus::Failed);
    let msg = ep.error.unwrap_or_default();
    assert!(msg.contains("stalled") && msg.contains("--idle-timeout"), "{msg}");
    assert_eq!(mock.request_count(), 2, "one retry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_fails_on_time_and_lowers_concurrency() {
    let mock = MockServer::start(MockConfig {
        faults: FaultPlan::Random {
            rate: 1.0,
            seed: 1,
            kinds: vec![Fault::Slow(Duration::from_secs(30))],
        },
        ..MockConfig::replying(world::reply)
    })
    .await;
    let mut s = spec(mock.base_url(), 4, 0.5);
    s.max_retries = 1;
    let started = std::time::Instant::now();
    let (store, run, provider, _) = run(4, s).await;
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    for ep in store.episodes(run).unwrap() {
        assert_eq!(ep.status, EpisodeStatus::Failed);
        let msg = ep.error.unwrap_or_default();
        assert!(msg.contains("no reply within 0.5 s (--timeout)"), "{msg}");
    }
    let history = provider.concurrency_history();
    assert_eq!(history.first(), Some(&4));
    assert!(history.last().is_some_and(|&c| c < 4), "{history:?}");
}

/// Cancel aborts the requests in flight: against a server that takes 30 s a reply, the run
/// stops within a second of the cancel, is marked cancelled, and its episodes stay pending for
/// a resume (nothing failed, nothing lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_aborts_requests_in_flight_and_marks_the_run_cancelled() {
    let mock = MockServer::start(MockConfig {
        faults: FaultPlan::Random {
            rate: 1.0,
            seed: 1,
            kinds: vec![Fault::Slow(Duration::from_secs(30))],
        },
        ..MockConfig::replying(world::reply)
    })
    .await;
    let s = spec(mock.base_url(), 4, 600.0);
    let store = Store::temporary().unwrap();
    let text = world::dataset_jsonl(6);
    let items = load_str("world.jsonl", &text, false, &LoadOptions::default()).unwrap().items;
    let record = runner::create_run(
        &store,
        NewRun {
            name: "slow".into(),
            dataset: "world".into(),
            items,
            protocol: load_protocol("critique-revise").unwrap(),
            provider: ProviderSpec::OpenAi(s.clone()),
            model: "mock-model".into(),
            critic_model: "mock-model".into(),
            sampling: Sampling::default(),
        },
        GradeOptions::default(),
    )
    .unwrap();
    let cancel = Arc::new(AtomicBool::new(false));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(runner::execute(
        store.clone(),
        record.id,
        Provider::OpenAi(Arc::new(OpenAiProvider::new(&s).unwrap())),
        RunOptions { concurrency: 4, ..RunOptions::default() },
        tx,
        cancel.clone(),
    ));
    // Wait until requests are in flight, then cancel.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while mock.request_count() < 4 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(mock.request_count(), 4, "four requests in flight");
    let asked = std::time::Instant::now();
    cancel.store(true, std::sync::atomic::Ordering::Relaxed);
    let totals =
        tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap().unwrap();
    assert!(asked.elapsed() < Duration::from_secs(1), "took {:?}", asked.elapsed());
    assert_eq!((totals.done, totals.failed, totals.pending), (0, 0, 6));
    let status = store.runs().unwrap()[0].status;
    assert_eq!(status, critloop::domain::RunStatus::Cancelled);
    let mut finished = None;
    while let Ok(ev) = rx.try_recv() {
        assert!(!matches!(ev, RunEvent::Failed { .. }), "a cancel is no failure: {ev:?}");
        if let RunEvent::Finished { cancelled, .. } = ev {
            finished = Some(cancelled);
        }
    }
    assert_eq!(finished, Some(true));
}

/// An execution that cannot go on reports it as an event (a screen's spinner stops on it).
#[tokio::test]
async fn an_execution_that_fails_reports_a_failure_event() {
    let store = Store::temporary().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let missing = critloop::domain::RunId(42);
    let provider = Provider::Sim(Default::default());
    let res =
        runner::execute(store, missing, provider, RunOptions::default(), tx, Default::default())
            .await;
    assert!(res.is_err());
    match rx.recv().await {
        Some(RunEvent::Failed { run, error }) => {
            assert_eq!(run, missing);
            assert!(error.contains("#42"), "{error}");
        }
        other => panic!("expected a failure event, got {other:?}"),
    }
}

/// Step mode makes its turns with the runner's turn function: a request the response cache
/// already holds (the source run asked it) is not sent again, and the turn says it was cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_mode_reads_the_response_cache_like_a_run() {
    use critloop::tui::{Effect, Event, Io};
    let mock = MockServer::start(MockConfig::replying(world::reply)).await;
    let (store, source, _, _) = run(1, spec(mock.base_url(), 1, 30.0)).await;
    let asked = mock.request_count();
    assert_eq!(asked, 3, "generate, critique, revise");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut io = Io::new(store, tx, critloop::domain::LabelSchema::load(&[]).unwrap());
    io.execute(Effect::StepBegin { source });
    let step_run = match rx.recv().await {
        Some(Event::StepReady { run, .. }) => run,
        other => panic!("expected StepReady, got {other:?}"),
    };
    io.execute(Effect::StepNext {
        run: step_run,
        item: 0,
        critique: None,
        annotator: "ana".into(),
    });
    let turn = loop {
        match rx.recv().await {
            Some(Event::StepTurn { turn, .. }) => break turn,
            Some(Event::StepFailed { error, .. }) => panic!("{error}"),
            Some(_) => {}
            None => panic!("the channel closed"),
        }
    };
    assert_eq!(turn.meta.get("cached"), Some(&serde_json::Value::Bool(true)), "{turn:?}");
    assert_eq!(mock.request_count(), asked, "nothing sent again");
}
