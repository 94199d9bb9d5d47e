//! `critloop doctor` against the mock server (and a closed port): each test reads the report a
//! user would read.

mod support;

use std::time::Duration;

use critloop::llm::doctor::{DoctorReport, DoctorTarget, Logprobs, Parallelism, Seed, doctor};
use support::mock::{ChatRequest, MOCK_MODEL, MockConfig, MockReply, MockServer, SerialQueue};

/// Long enough that the pair's timing stands out from a busy machine's noise.
const LATENCY: Duration = Duration::from_millis(400);

fn target(base: &str, model: &str) -> DoctorTarget {
    DoctorTarget {
        role: "generator",
        base_url: base.into(),
        model: model.into(),
        api_key_env: "CRITLOOP_DOCTOR_TEST_UNSET_KEY".into(),
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(20),
        want_logprobs: false,
    }
}

/// What a small local model does with the doctor's prompts: counts when asked to count, and
/// picks its "random" word and number by the seed.
fn local_model(req: &ChatRequest) -> MockReply {
    let prompt = req.last("user").unwrap_or_default();
    if prompt.starts_with("Count") {
        MockReply::text((1..=100).map(|i| i.to_string()).collect::<Vec<_>>().join(" "))
    } else {
        MockReply::text(format!("lantern {}", req.seed.unwrap_or(0).rem_euclid(1000) + 1))
    }
}

fn local_server() -> MockConfig {
    MockConfig { latency: LATENCY, ..MockConfig::replying(local_model) }
}

/// Whether `line` matches `pattern`, where `*` stands for any text.
fn glob(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == line;
    };
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        let Some(at) = rest.find(part) else {
            return false;
        };
        rest = &rest[at + part.len()..];
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

fn assert_lines(report: &DoctorReport, patterns: &[String]) {
    let lines = report.lines();
    eprintln!("SAMPLE\n{}", lines.join("\n"));
    let shown = lines.join("\n");
    assert_eq!(lines.len(), patterns.len(), "report:\n{shown}");
    for (line, pattern) in lines.iter().zip(patterns) {
        assert!(glob(pattern, line), "line {line:?} does not match {pattern:?}; report:\n{shown}");
    }
}

const SERIAL_NOTE: &str = "(one at a time: critloop queues on its side, and time in the \
                           server's queue does not count against timeouts)";

#[test]
fn glob_matches_stars_and_exact_text() {
    assert!(glob("ok in *: 8 tokens, * tok/s", "ok in 310 ms: 8 tokens, 25.8 tok/s"));
    assert!(!glob("ok in *: 8 tokens", "ok in 310 ms: 9 tokens"));
    assert!(glob("ready", "ready") && !glob("ready", "ready, with 1 warning"));
    assert!(!glob("a*ab", "ab"));
}

#[tokio::test]
async fn a_good_server_is_ready_without_warnings() {
    eprintln!("SAMPLE");
    let server = MockServer::start(local_server()).await;
    let base = server.base_url();
    let mut t = target(&base, MOCK_MODEL);
    t.want_logprobs = true;
    let report = doctor(&t).await;
    assert_lines(
        &report,
        &[
            format!("generator  {base}  model mock-model"),
            "  models      /models lists 1 model (mock-model); `mock-model` listed".into(),
            "  chat        ok in *: 8 tokens, * tok/s".into(),
            "  usage       reported".into(),
            "  max_tokens  honoured (asked 8, got 8, finish_reason length)".into(),
            "  logprobs    returned (top 1)".into(),
            "  seed        honoured (same seed, same reply; another seed, another reply)".into(),
            "  parallel    yes: 2 requests took * together, * alone".into(),
            "  ready".into(),
        ],
    );
    assert_eq!(report.fatal(), None);
    assert!(report.warnings.is_empty());
    assert_eq!(report.seed, Some(Seed::Honoured));
    assert!(matches!(report.parallel, Some(Parallelism::Parallel { .. })));
    assert!(report.latency.is_some_and(|l| l >= LATENCY));

    // What was sent: one probe with logprobs at temperature 0 capped at 8 tokens, then three
    // at temperature 1 without, capped at 32 (timed); the pair shares the first probe's seed.
    let log = server.requests();
    let sent: Vec<_> = log
        .iter()
        .map(|r| (r.request.logprobs, r.request.temperature, r.request.seed, r.request.stream))
        .collect();
    assert_eq!(
        sent,
        [
            (true, Some(0.0), Some(4242), false),
            (false, Some(1.0), Some(9001), false),
            (false, Some(1.0), Some(4242), false),
            (false, Some(1.0), Some(4242), false),
        ]
    );
    let caps: Vec<_> = log.iter().map(|r| r.request.max_tokens).collect();
    assert_eq!(caps, [Some(8), Some(32), Some(32), Some(32)]);
    assert!(log.iter().all(|r| r.authorization.is_none()));
    assert_eq!(log[0].request.top_logprobs, Some(5));
    assert_eq!(server.max_in_service(), 2, "the pair was sent together");
}

#[tokio::test]
async fn a_closed_port_cannot_be_reached() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    drop(listener);
    let report = doctor(&target(&base, "smollm2")).await;
    assert_lines(
        &report,
        &[
            format!("generator  {base}  model smollm2"),
            "  models      no answer".into(),
            format!("  cannot work: cannot reach endpoint {base}: Connection refused*"),
        ],
    );
    assert_eq!(report.reachable, Some(false));
    assert_eq!(report.fatal(), report.lines()[2].strip_prefix("  cannot work: "));
}

#[tokio::test]
async fn a_base_url_without_a_scheme_is_fatal_at_once() {
    let report = doctor(&target("localhost:8080/v1", "smollm2")).await;
    assert_lines(
        &report,
        &[
            "generator  localhost:8080/v1  model smollm2".into(),
            "  cannot work: base URL localhost:8080/v1 must start with http:// or https://".into(),
        ],
    );
}

#[tokio::test]
async fn a_server_slower_than_the_request_timeout_is_fatal() {
    let server =
        MockServer::start(MockConfig { latency: Duration::from_secs(5), ..MockConfig::default() })
            .await;
    let base = server.base_url();
    let mut t = target(&base, MOCK_MODEL);
    t.request_timeout = Duration::from_millis(300);
    let report = doctor(&t).await;
    assert_lines(
        &report,
        &[
            format!("generator  {base}  model mock-model"),
            "  models      /models lists 1 model (mock-model); `mock-model` listed".into(),
            "  chat        failed: no answer within 300 ms".into(),
            format!(
                "  cannot work: {base} gave no answer to a chat request within 300 ms (the \
                 request timeout; a one-at-a-time server may be busy with other requests)"
            ),
        ],
    );
    assert!(!server.requests()[0].completed(), "the mock saw the client go");
}

#[tokio::test]
async fn a_base_url_without_v1_says_so() {
    let server = MockServer::start(MockConfig::default()).await;
    let base = format!("http://{}", server.addr());
    let report = doctor(&target(&base, MOCK_MODEL)).await;
    assert_lines(
        &report,
        &[
            format!("generator  {base}  model mock-model"),
            "  models      /models gives no list (HTTP 404: (no message))".into(),
            "  chat        failed: HTTP 404: (no message)".into(),
            format!(
                "  cannot work: {base} refused a chat request: HTTP 404: (no message) (is the \
                 base URL right? OpenAI-compatible servers usually serve under /v1)"
            ),
        ],
    );
}

#[tokio::test]
async fn a_wrong_model_name_is_fatal_and_lists_what_is_served() {
    let server = MockServer::start(MockConfig {
        models: vec!["qwen2.5-0.5b-instruct".into(), "smollm2-360m".into()],
        strict_models: true,
        ..local_server()
    })
    .await;
    let base = server.base_url();
    let report = doctor(&target(&base, "smollm2")).await;
    assert_lines(
        &report,
        &[
            format!("generator  {base}  model smollm2"),
            "  models      /models lists 2 models (qwen2.5-0.5b-instruct, smollm2-360m); \
             `smollm2` not listed"
                .into(),
            "  chat        failed: HTTP 404: The model `smollm2` does not exist".into(),
            format!(
                "  cannot work: model `smollm2` is not served by {base} (it serves: \
                 qwen2.5-0.5b-instruct, smollm2-360m)"
            ),
        ],
    );
    assert_eq!(report.model_listed, Some(false));
    assert_eq!(server.request_count(), 1, "nothing more is tried");
}

#[tokio::test]
async fn an_unlisted_name_that_is_answered_is_a_warning() {
    // llama-cpp-python lists the GGUF path and answers any name.
    let gguf = "/models/smollm2-360m-instruct-q8_0.gguf";
    let server =
        MockServer::start(MockConfig { models: vec![gguf.into()], ..local_server() }).await;
    let base = server.base_url();
    let report = doctor(&target(&base, "smollm2")).await;
    let lines = report.lines();
    assert_eq!(
        lines[1],
        format!("  models      /models lists 1 model ({gguf}); `smollm2` not listed but answered")
    );
    assert_eq!(
        lines[lines.len() - 2..],
        [
            format!(
                "  warning     the server answers for `smollm2`, which /models does not list (it \
                 probably serves one model whatever the name; listed: {gguf})"
            ),
            "  ready, with 1 warning".into(),
        ]
    );
}

#[tokio::test]
async fn missing_logprobs_are_a_warning_when_the_run_wants_them() {
    let server =
        MockServer::start(MockConfig { logprobs_supported: false, ..local_server() }).await;
    let mut t = target(&server.base_url(), MOCK_MODEL);
    t.want_logprobs = true;
    let report = doctor(&t).await;
    let lines = report.lines();
    assert!(
        lines
            .contains(&"  logprobs    not returned (the request was accepted without them)".into()),
        "{lines:#?}"
    );
    assert_eq!(
        lines[lines.len() - 2..],
        [
            "  warning     the run asks for logprobs, but the server returns no logprobs: \
             P(true) confidences will be missing",
            "  ready, with 1 warning",
        ]
    );
    assert_eq!(report.fatal(), None);

    // The same server for a run without logprobs: said, but no warning.
    t.want_logprobs = false;
    let report = doctor(&t).await;
    assert_eq!(report.logprobs, Some(Logprobs::Missing));
    assert_eq!(report.lines().last().map(String::as_str), Some("  ready"));
}

#[tokio::test]
async fn a_server_refusing_logprobs_is_asked_again_without() {
    let server = MockServer::start(MockConfig {
        latency: Duration::ZERO,
        ..MockConfig::replying(|req| {
            if req.logprobs {
                MockReply::rejected("logprobs is not supported by this server")
            } else {
                local_model(req)
            }
        })
    })
    .await;
    let mut t = target(&server.base_url(), MOCK_MODEL);
    t.want_logprobs = true;
    let report = doctor(&t).await;
    let lines = report.lines();
    assert!(
        lines.contains(
            &"  logprobs    not supported: the server refused them (HTTP 400: logprobs is not \
              supported by this server); asked again without"
                .into()
        ),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"  max_tokens  honoured (asked 8, got 8, finish_reason length)".into())
    );
    assert_eq!(
        lines[lines.len() - 2..],
        [
            "  warning     the run asks for logprobs, but the server does not support logprobs: \
             P(true) confidences will be missing",
            "  ready, with 1 warning",
        ]
    );
    let statuses: Vec<(bool, u16)> =
        server.requests().iter().map(|r| (r.request.logprobs, r.status)).collect();
    assert_eq!(statuses, [(true, 400), (false, 200), (false, 200), (false, 200), (false, 200)]);
}

#[tokio::test]
async fn an_ignored_max_tokens_is_a_warning() {
    let server = MockServer::start(MockConfig { honour_max_tokens: false, ..local_server() }).await;
    let base = server.base_url();
    let report = doctor(&target(&base, MOCK_MODEL)).await;
    assert_lines(
        &report,
        &[
            format!("generator  {base}  model mock-model"),
            "  models      /models lists 1 model (mock-model); `mock-model` listed".into(),
            "  chat        ok in *: 100 tokens, * tok/s".into(),
            "  usage       reported".into(),
            "  max_tokens  ignored (asked 8, got 100, finish_reason stop)".into(),
            "  logprobs    returned (top 1)".into(),
            "  seed        honoured (same seed, same reply; another seed, another reply)".into(),
            "  parallel    yes: *".into(),
            "  warning     max_tokens is ignored (asked 8, got 100): replies run as long as the \
             model likes, so episodes take longer and may hit timeouts; cap the output on the \
             server (llama.cpp: --n-predict)"
                .into(),
            "  ready, with 1 warning".into(),
        ],
    );
    assert_eq!(report.max_tokens_honoured, Some(false));
}

#[tokio::test]
async fn a_one_at_a_time_server_is_not_parallel() {
    let server = MockServer::start(MockConfig {
        serial: Some(SerialQueue { capacity: 4, retry_after_secs: 1 }),
        ..local_server()
    })
    .await;
    let report = doctor(&target(&server.base_url(), MOCK_MODEL)).await;
    let lines = report.lines();
    let parallel = lines.iter().find(|l| l.starts_with("  parallel")).unwrap();
    assert!(
        glob(
            &format!("  parallel    no: 2 requests took * together, * alone {SERIAL_NOTE}"),
            parallel
        ),
        "{lines:#?}"
    );
    assert_eq!(lines.last().map(String::as_str), Some("  ready"), "serial is no warning");
    let Some(Parallelism::Serial { together, alone }) = report.parallel else {
        panic!("{:?}", report.parallel);
    };
    assert!(together >= 2 * LATENCY && alone >= LATENCY, "{together:?} {alone:?}");
    assert_eq!(server.max_in_service(), 1);
    assert_eq!(server.completed().len(), 4);
}

#[tokio::test]
async fn a_one_slot_server_without_a_line_refuses_the_second_of_the_pair() {
    let server = MockServer::start(MockConfig {
        serial: Some(SerialQueue { capacity: 0, retry_after_secs: 3 }),
        ..local_server()
    })
    .await;
    let report = doctor(&target(&server.base_url(), MOCK_MODEL)).await;
    let busy = "HTTP 429: The server is busy: too many requests are waiting (mock). Please try \
                again later.";
    let lines = report.lines();
    assert_eq!(
        lines[lines.len() - 4..],
        [
            format!("  seed        unknown (a request of the pair failed: {busy})"),
            format!("  parallel    unknown (a request of the pair failed: {busy})"),
            format!("  warning     of two requests sent together, one failed: {busy}"),
            "  ready, with 1 warning".into(),
        ]
    );
}

#[tokio::test]
async fn the_api_key_is_sent_but_never_shown() {
    const VAR: &str = "CRITLOOP_DOCTOR_TEST_KEY";
    const SECRET: &str = "sk-doctor-test-7f3a9c1e";
    // SAFETY: no other test reads this variable, and nothing in this binary reads the
    // environment outside std's lock (the endpoints are IP addresses, so no resolver runs).
    unsafe { std::env::set_var(VAR, SECRET) };

    // A server that takes the key: it goes out in every request's Authorization.
    let server = MockServer::start(MockConfig {
        api_key: Some(SECRET.into()),
        latency: Duration::ZERO,
        ..MockConfig::replying(local_model)
    })
    .await;
    let mut t = target(&server.base_url(), MOCK_MODEL);
    t.api_key_env = VAR.into();
    let report = doctor(&t).await;
    assert_eq!(report.lines().last().map(String::as_str), Some("  ready"), "{report:#?}");
    let bearer = format!("Bearer {SECRET}");
    assert!(server.requests().iter().all(|r| r.authorization.as_deref() == Some(bearer.as_str())));
    assert_secret_absent(&report, SECRET);

    // A server that wants another key and quotes the one it got.
    let server = MockServer::start(MockConfig {
        api_key: Some("sk-the-right-one".into()),
        ..MockConfig::default()
    })
    .await;
    let base = server.base_url();
    t.base_url = base.clone();
    let report = doctor(&t).await;
    assert_lines(
        &report,
        &[
            format!("generator  {base}  model mock-model"),
            "  models      /models gives no list (HTTP 401: Incorrect API key provided: [key].)"
                .into(),
            format!(
                "  cannot work: {base} rejected the API key from ${VAR} (HTTP 401: Incorrect API \
                 key provided: [key].)"
            ),
        ],
    );
    assert_secret_absent(&report, SECRET);

    // No key at all: the variable is named.
    t.api_key_env = "CRITLOOP_DOCTOR_TEST_UNSET_KEY".into();
    let report = doctor(&t).await;
    assert_eq!(
        report.fatal(),
        Some(
            format!(
                "{base} wants an API key, but $CRITLOOP_DOCTOR_TEST_UNSET_KEY is not set (HTTP \
                 401: You didn't provide an API key.)"
            )
            .as_str()
        )
    );
}

fn assert_secret_absent(report: &DoctorReport, secret: &str) {
    let shown = [
        report.lines().join("\n"),
        format!("{report:?}"),
        format!("{report:#?}"),
        serde_json::to_string(report).unwrap(),
    ];
    for text in shown {
        assert!(!text.contains(secret), "the key shows in {text}");
    }
}
