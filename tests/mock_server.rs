//! The mock OpenAI-compatible server of `tests/support/mock.rs`, exercised with a plain HTTP
//! client: reply shapes, streaming, logprobs, every fault, fault plans and the request log.

mod support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use async_openai::types::chat::{CreateChatCompletionResponse, CreateChatCompletionStreamResponse};
use serde_json::{Value, json};
use support::mock::{
    ChatRequest, DEFAULT_REPLY, Fault, FaultPlan, MockConfig, MockReply, MockServer, SerialQueue,
    install_crypto_provider, tokenize,
};

/// A client whose every request gives up after 5 s, so that no test can hang.
fn client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("reqwest client")
}

fn chat_body(stream: bool) -> Value {
    json!({
        "model": "gpt-test",
        "messages": [
            { "role": "system", "content": "You are a careful solver." },
            { "role": "user", "content": "What is two plus two?" },
        ],
        "stream": stream,
    })
}

async fn post(server: &MockServer, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}/chat/completions", server.base_url()))
        .json(body)
        .send()
        .await
        .expect("request reaches the mock")
}

/// The `data:` payloads of an SSE body, in order.
fn sse_data(body: &str) -> Vec<&str> {
    body.split("\n\n").filter_map(|event| event.trim().strip_prefix("data: ")).collect()
}

/// The JSON chunks of an SSE body (everything but `[DONE]`).
fn sse_chunks(body: &str) -> Vec<Value> {
    sse_data(body)
        .into_iter()
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).expect("each SSE event is a JSON chunk"))
        .collect()
}

fn streamed_content(chunks: &[Value]) -> String {
    chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect()
}

fn assert_close(actual: &Value, expected: f64) {
    let actual = actual.as_f64().expect("a number");
    assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
}

#[tokio::test]
async fn non_streaming_reply_has_the_openai_shape_and_word_count_usage() {
    let server =
        MockServer::start(MockConfig::replying(|_| MockReply::text("Two plus two is four."))).await;
    let response = post(&server, &chat_body(false)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();

    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gpt-test");
    assert!(body["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(body["created"].as_u64().is_some_and(|t| t > 1_600_000_000));
    let choice = &body["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Two plus two is four.");
    assert_eq!(choice["finish_reason"], "stop");
    assert!(choice["logprobs"].is_null(), "no logprobs unless asked");
    // 5 + 5 words of prompt, 5 of completion.
    assert_eq!(
        body["usage"],
        json!({ "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15 })
    );

    // The client library critloop uses accepts it.
    let typed: CreateChatCompletionResponse = serde_json::from_value(body).unwrap();
    assert_eq!(typed.choices[0].message.content.as_deref(), Some("Two plus two is four."));
    assert_eq!(typed.usage.map(|u| u.total_tokens), Some(15));
}

#[tokio::test]
async fn default_config_answers_boxed_zero_and_models_lists_one_model() {
    let server = MockServer::start(MockConfig::default()).await;
    let body: Value = post(&server, &chat_body(false)).await.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], DEFAULT_REPLY);
    assert_eq!(DEFAULT_REPLY, r"The answer is \boxed{0}");

    let models: Value = client()
        .get(format!("{}/models", server.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(server.requests().len(), 1, "only chat requests are logged");
}

#[tokio::test]
async fn streaming_reassembles_to_the_same_content_and_ends_with_done() {
    let text = "First we add two and two. That gives four, so the answer is \\boxed{4}.";
    let server = MockServer::start(MockConfig::replying(move |_| MockReply::text(text))).await;
    let response = post(&server, &chat_body(true)).await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap();
    assert!(content_type.starts_with("text/event-stream"), "{content_type}");
    let body = response.text().await.unwrap();

    let data = sse_data(&body);
    assert_eq!(data.last(), Some(&"[DONE]"));
    let chunks = sse_chunks(&body);
    assert!(chunks.len() >= 5, "role, several content pieces, finish: {}", chunks.len());
    assert_eq!(chunks[0]["choices"][0]["delta"], json!({ "role": "assistant", "content": "" }));
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(last["choices"][0]["delta"], json!({}));
    assert!(chunks.iter().all(|c| c["object"] == "chat.completion.chunk" && c["usage"].is_null()));
    assert_eq!(streamed_content(&chunks), text);
    for chunk in chunks {
        let _: CreateChatCompletionStreamResponse = serde_json::from_value(chunk).unwrap();
    }
}

#[test]
fn tokens_keep_their_leading_space_and_concatenate_back() {
    let text = "Looks fine.\n\n**Verdict:** correct  \n  indented\n";
    let tokens = tokenize(text);
    assert_eq!(
        tokens,
        [
            "Looks",
            " fine",
            ".",
            "\n\n",
            "*",
            "*",
            "Verdict",
            ":",
            "*",
            "*",
            " correct",
            "  \n",
            "  indented",
            "\n"
        ]
    );
    assert_eq!(tokens.concat(), text);
    assert!(tokenize("").is_empty());
}

#[tokio::test]
async fn logprobs_give_the_verdict_token_ln_p_with_both_alternatives() {
    let text =
        "The algebra checks out, but the sign is wrong.\nVerdict: incorrect\nConfidence: 70%";
    let server = MockServer::start(MockConfig::replying(move |_| {
        MockReply::text(text).with_verdict_prob(0.3)
    }))
    .await;
    let mut request = chat_body(false);
    request["logprobs"] = json!(true);
    request["top_logprobs"] = json!(2);
    let body: Value = post(&server, &request).await.json().await.unwrap();
    let entries = body["choices"][0]["logprobs"]["content"].as_array().unwrap().clone();

    let tokens: Vec<&str> = entries.iter().map(|e| e["token"].as_str().unwrap()).collect();
    assert_eq!(tokens.concat(), text);
    assert!(tokens.windows(3).any(|w| w == ["Verdict", ":", " incorrect"]), "{tokens:?}");
    for entry in &entries {
        let top = entry["top_logprobs"].as_array().unwrap();
        if entry["token"] == " incorrect" {
            assert_close(&entry["logprob"], 0.3f64.ln());
            assert_eq!(top.len(), 2);
            let alt = |t: &str| top.iter().find(|a| a["token"] == t).expect("alternative listed");
            assert_close(&alt(" incorrect")["logprob"], 0.3f64.ln());
            assert_close(&alt(" correct")["logprob"], 0.7f64.ln());
            assert_eq!(top[0]["token"], " correct", "most likely first");
        } else {
            assert_close(&entry["logprob"], 0.9f64.ln());
            assert_eq!(top.len(), 1);
            assert_eq!(top[0]["token"], entry["token"]);
            assert!(top[0]["bytes"].is_null() && entry["bytes"].is_null());
        }
    }
    let _: CreateChatCompletionResponse = serde_json::from_value(body).unwrap();

    // Streaming: each chunk carries the logprobs of its own tokens; together the same list.
    request["stream"] = json!(true);
    let streamed = post(&server, &request).await.text().await.unwrap();
    let mut streamed_entries = Vec::new();
    for chunk in sse_chunks(&streamed) {
        let choice = &chunk["choices"][0];
        match choice["delta"]["content"].as_str().filter(|c| !c.is_empty()) {
            Some(piece) => {
                let mine = choice["logprobs"]["content"].as_array().unwrap();
                let joined: String = mine.iter().map(|e| e["token"].as_str().unwrap()).collect();
                assert_eq!(joined, piece);
                streamed_entries.extend(mine.iter().cloned());
            }
            None => assert!(choice["logprobs"].is_null()),
        }
    }
    assert_eq!(streamed_entries, entries);
}

#[tokio::test]
async fn verdict_probability_defaults_to_point_nine() {
    let server =
        MockServer::start(MockConfig::replying(|_| MockReply::text("Verdict: correct"))).await;
    let mut request = chat_body(false);
    request["logprobs"] = json!(true);
    let body: Value = post(&server, &request).await.json().await.unwrap();
    let verdict = &body["choices"][0]["logprobs"]["content"][2];
    assert_eq!(verdict["token"], " correct");
    assert_close(&verdict["logprob"], 0.9f64.ln());
    assert_close(&verdict["top_logprobs"][0]["logprob"], 0.9f64.ln());
    assert_eq!(verdict["top_logprobs"][1]["token"], " incorrect");
    assert_close(&verdict["top_logprobs"][1]["logprob"], 0.1f64.ln());
}

fn scripted(faults: Vec<Option<Fault>>) -> MockConfig {
    MockConfig { faults: FaultPlan::Script(faults), ..MockConfig::default() }
}

async fn assert_openai_error(response: reqwest::Response, status: u16, kind: &str) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("an error body in JSON");
    let error = &body["error"];
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert_eq!(error["type"], kind);
    assert!(error["param"].is_null());
    assert!(error.get("code").is_some());
    body
}

#[tokio::test]
async fn rate_limit_server_error_and_unavailable_send_openai_error_bodies() {
    let server = MockServer::start(scripted(vec![
        Some(Fault::RateLimited { retry_after_secs: 7 }),
        Some(Fault::ServerError),
        Some(Fault::Unavailable),
    ]))
    .await;

    let limited = post(&server, &chat_body(false)).await;
    assert_eq!(limited.headers()[reqwest::header::RETRY_AFTER], "7");
    let body = assert_openai_error(limited, 429, "requests").await;
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_openai_error(post(&server, &chat_body(false)).await, 500, "server_error").await;
    assert_openai_error(post(&server, &chat_body(true)).await, 503, "server_error").await;
    // Past the script: a normal reply.
    assert_eq!(post(&server, &chat_body(false)).await.status(), 200);

    let log = server.requests();
    let statuses: Vec<u16> = log.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 500, 503, 200]);
    assert_eq!(log[0].fault, Some(Fault::RateLimited { retry_after_secs: 7 }));
    assert_eq!(log[3].fault, None);
    assert_eq!(log.iter().map(|r| r.index).collect::<Vec<_>>(), [0, 1, 2, 3]);
}

#[tokio::test]
async fn malformed_json_and_truncated_bodies_do_not_parse() {
    let server = MockServer::start(scripted(vec![
        Some(Fault::MalformedJson),
        Some(Fault::TruncatedStream),
        Some(Fault::TruncatedStream),
    ]))
    .await;

    let malformed = post(&server, &chat_body(false)).await;
    assert_eq!(malformed.status(), 200);
    assert_eq!(malformed.headers()[reqwest::header::CONTENT_TYPE], "application/json");
    let bytes = malformed.bytes().await.unwrap();
    assert!(!bytes.is_empty());
    assert!(serde_json::from_slice::<Value>(&bytes).is_err());

    // A truncated non-streaming reply is malformed JSON too.
    let bytes = post(&server, &chat_body(false)).await.bytes().await.unwrap();
    assert!(serde_json::from_slice::<Value>(&bytes).is_err());

    // A truncated stream: some content, then the body ends without finish_reason or [DONE].
    let truncated = post(&server, &chat_body(true)).await;
    assert_eq!(truncated.status(), 200);
    let body = truncated.text().await.expect("the body itself ends cleanly");
    assert!(!sse_data(&body).contains(&"[DONE]"));
    let chunks = sse_chunks(&body);
    assert!(chunks.len() >= 2);
    assert!(!streamed_content(&chunks).is_empty());
    assert!(chunks.iter().all(|c| c["choices"][0]["finish_reason"].is_null()));

    let log = server.requests();
    assert_eq!(log.iter().map(|r| r.status).collect::<Vec<_>>(), [200, 200, 200]);
    assert_eq!(log[2].fault, Some(Fault::TruncatedStream));
    assert!(log[2].request.stream);
}

#[tokio::test]
async fn dropped_connection_is_a_client_error_logged_with_status_zero() {
    let server =
        MockServer::start(scripted(vec![Some(Fault::DropConnection), Some(Fault::DropConnection)]))
            .await;
    for stream in [false, true] {
        let outcome = match client()
            .post(format!("{}/chat/completions", server.base_url()))
            .json(&chat_body(stream))
            .send()
            .await
        {
            Ok(response) => response.bytes().await.map(drop),
            Err(e) => Err(e),
        };
        let err = outcome.expect_err("the client must see a connection or body error");
        assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    }
    // The server answers again afterwards.
    assert_eq!(post(&server, &chat_body(false)).await.status(), 200);
    let log = server.requests();
    assert_eq!(log.iter().map(|r| r.status).collect::<Vec<_>>(), [0, 0, 200]);
    assert_eq!(log[1].fault, Some(Fault::DropConnection));
}

#[tokio::test]
async fn slow_fault_delays_then_replies_normally() {
    let slow = Duration::from_millis(200);
    let server = MockServer::start(scripted(vec![Some(Fault::Slow(slow)), None])).await;
    let started = Instant::now();
    let response = post(&server, &chat_body(false)).await;
    assert!(started.elapsed() >= slow, "{:?}", started.elapsed());
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], DEFAULT_REPLY);

    let started = Instant::now();
    assert_eq!(post(&server, &chat_body(false)).await.status(), 200);
    assert!(started.elapsed() < slow, "only the scripted request is slow");
    let log = server.requests();
    assert_eq!((log[0].fault.clone(), log[0].status), (Some(Fault::Slow(slow)), 200));
}

#[tokio::test]
async fn latency_delays_every_reply() {
    let latency = Duration::from_millis(50);
    let server = MockServer::start(MockConfig { latency, ..MockConfig::default() }).await;
    let started = Instant::now();
    assert_eq!(post(&server, &chat_body(true)).await.status(), 200);
    assert!(started.elapsed() >= latency);
}

#[tokio::test]
async fn reject_answers_400_invalid_request_error() {
    let server = MockServer::start(MockConfig::replying(|req| {
        if req.max_tokens.is_some_and(|m| m > 100) {
            MockReply::rejected("max_tokens is too large for this model")
        } else {
            MockReply::text("fine")
        }
    }))
    .await;
    let mut request = chat_body(false);
    request["max_tokens"] = json!(4096);
    let body =
        assert_openai_error(post(&server, &request).await, 400, "invalid_request_error").await;
    assert_eq!(body["error"]["message"], "max_tokens is too large for this model");
    request["max_tokens"] = json!(50);
    assert_eq!(post(&server, &request).await.status(), 200);
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [400, 200]);
}

#[tokio::test]
async fn unparseable_body_is_a_logged_400() {
    let server = MockServer::start(MockConfig::default()).await;
    let response = client()
        .post(format!("{}/chat/completions", server.base_url()))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_openai_error(response, 400, "invalid_request_error").await;
    let log = server.requests();
    assert_eq!((log.len(), log[0].status), (1, 400));
}

/// Sends `count` requests, at most 16 at a time, and returns the logged faults by index.
async fn faults_over(seed: u64, count: usize) -> Vec<Option<Fault>> {
    let kinds =
        vec![Fault::ServerError, Fault::Unavailable, Fault::RateLimited { retry_after_secs: 1 }];
    let config = MockConfig {
        faults: FaultPlan::Random { rate: 0.2, seed, kinds },
        ..MockConfig::default()
    };
    let server = MockServer::start(config).await;
    let client = client();
    let url = format!("{}/chat/completions", server.base_url());
    let body = chat_body(false);
    let mut pending = futures_util::stream::FuturesUnordered::new();
    let mut statuses = Vec::new();
    for _ in 0..count {
        if pending.len() == 16 {
            statuses.push(futures_util::StreamExt::next(&mut pending).await.unwrap());
        }
        let request = client.post(&url).json(&body).send();
        pending.push(async move { request.await.expect("the mock answers").status().as_u16() });
    }
    while let Some(status) = futures_util::StreamExt::next(&mut pending).await {
        statuses.push(status);
    }
    let log = server.requests();
    assert_eq!(log.len(), count);
    let mut sent: Vec<u16> = log.iter().map(|r| r.status).collect();
    sent.sort_unstable();
    statuses.sort_unstable();
    assert_eq!(sent, statuses, "the log records the statuses the client saw");
    log.into_iter().map(|r| r.fault).collect()
}

#[tokio::test]
async fn random_plan_injects_about_rate_faults_deterministically() {
    let first = faults_over(42, 200).await;
    let injected = first.iter().filter(|f| f.is_some()).count();
    assert!((20..=60).contains(&injected), "{injected} faults in 200 at rate 0.2");
    let kinds_seen = first.iter().flatten().collect::<Vec<_>>();
    assert!(kinds_seen.contains(&&Fault::ServerError) && kinds_seen.contains(&&Fault::Unavailable));

    // Same seed, same faults at the same arrival indices, however requests interleave.
    assert_eq!(faults_over(42, 200).await, first);
    let plan = FaultPlan::Random {
        rate: 0.2,
        seed: 42,
        kinds: vec![
            Fault::ServerError,
            Fault::Unavailable,
            Fault::RateLimited { retry_after_secs: 1 },
        ],
    };
    assert_eq!((0..200).map(|i| plan.fault_for(i)).collect::<Vec<_>>(), first);
    // Another seed, another pattern.
    let other = FaultPlan::Random { rate: 0.2, seed: 43, kinds: vec![Fault::ServerError] };
    let other: Vec<bool> = (0..200).map(|i| other.fault_for(i).is_some()).collect();
    assert_ne!(other, first.iter().map(Option::is_some).collect::<Vec<_>>());
}

#[tokio::test]
async fn request_log_records_authorization_and_request_fields() {
    let server = MockServer::start(MockConfig::default()).await;
    let request = json!({
        "model": "critic-model",
        "messages": [
            { "role": "system", "content": "Judge the answer." },
            { "role": "user", "content": [
                { "type": "text", "text": "Problem: 2+2. " },
                { "type": "text", "text": "Answer: 5." },
            ] },
            { "role": "assistant", "content": null },
        ],
        "max_tokens": 64,
        "max_completion_tokens": 80,
        "temperature": 0.7,
        "top_p": 0.95,
        "seed": -7,
        "n": 1,
        "logprobs": true,
        "top_logprobs": 2,
        "stream": false,
        "some_vendor_extension": { "ignored": true },
    });
    let response = client()
        .post(format!("{}/chat/completions", server.base_url()))
        .bearer_auth("sk-mock-123")
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    post(&server, &chat_body(false)).await;

    let log = server.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].authorization.as_deref(), Some("Bearer sk-mock-123"));
    assert_eq!(log[1].authorization, None);
    assert_eq!(
        log[0].request,
        ChatRequest {
            model: "critic-model".into(),
            messages: vec![
                ("system".into(), "Judge the answer.".into()),
                ("user".into(), "Problem: 2+2. Answer: 5.".into()),
                ("assistant".into(), String::new()),
            ],
            stream: false,
            max_tokens: Some(64),
            max_completion_tokens: Some(80),
            temperature: Some(0.7),
            top_p: Some(0.95),
            seed: Some(-7),
            n: Some(1),
            logprobs: true,
            top_logprobs: Some(2),
        }
    );
    assert_eq!(log[0].request.last("user"), Some("Problem: 2+2. Answer: 5."));
    assert_eq!((log[0].fault.clone(), log[0].status), (None, 200));
}

/// A minimal HTTP/1.1 exchange over std's TcpStream: no async runtime on this side at all.
fn blocking_post(addr: std::net::SocketAddr, body: &str) -> String {
    let mut response = Vec::new();
    raw_post(addr, body).read_to_end(&mut response).expect("a complete response");
    String::from_utf8(response).expect("a UTF-8 response")
}

fn raw_post(addr: std::net::SocketAddr, body: &str) -> std::net::TcpStream {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the mock");
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        stream,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer blocking\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    stream
}

#[test]
fn dropped_connection_sends_not_a_single_byte() {
    let server = MockServer::start_blocking(scripted(vec![Some(Fault::DropConnection)]));
    let mut received = Vec::new();
    // EOF or a reset, but never a status line.
    let _ = raw_post(server.addr(), &chat_body(false).to_string()).read_to_end(&mut received);
    assert!(received.is_empty(), "{:?}", String::from_utf8_lossy(&received));
    assert_eq!(server.requests()[0].status, 0);
}

#[test]
fn start_blocking_serves_a_non_async_test_and_stops_on_shutdown() {
    let server = MockServer::start_blocking(MockConfig::replying(|req| {
        MockReply::text(format!("You said: {}", req.last("user").unwrap_or_default()))
    }));
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
    assert!(server.base_url().ends_with("/v1"));
    let body = json!({ "model": "m", "messages": [{ "role": "user", "content": "hello" }] });
    let response = blocking_post(server.addr(), &body.to_string());
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("You said: hello"), "{response}");
    let log = server.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].authorization.as_deref(), Some("Bearer blocking"));

    let addr = server.addr();
    server.shutdown();
    assert!(std::net::TcpStream::connect(addr).is_err(), "nothing listens after shutdown");
    server.shutdown(); // idempotent; drop shuts down once more
}

/// Throughput with 50 ms latency: `cargo test --release --test mock_server -- --ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "timing-dependent; run by hand"]
async fn sustains_over_1500_requests_per_second_at_50ms_latency() {
    let latency = Duration::from_millis(50);
    let server = MockServer::start(MockConfig { latency, ..MockConfig::default() }).await;
    let client = client();
    let url = format!("{}/chat/completions", server.base_url());
    let body = chat_body(false);
    let (concurrency, per_client) = (128, 25);
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            tokio::spawn(async move {
                for _ in 0..per_client {
                    let response = client.post(&url).json(&body).send().await.unwrap();
                    assert_eq!(response.status(), 200);
                    response.bytes().await.unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let rate = (concurrency * per_client) as f64 / started.elapsed().as_secs_f64();
    eprintln!("{rate:.0} requests/s with {concurrency} clients");
    assert!(rate > 1500.0, "{rate:.0} requests/s");
}

#[tokio::test]
async fn models_lists_the_configured_ids_and_strict_models_refuse_others() {
    let server = MockServer::start(MockConfig {
        models: vec!["a".into(), "gpt-test".into()],
        strict_models: true,
        ..MockConfig::default()
    })
    .await;
    let models: Value = client()
        .get(format!("{}/models", server.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> =
        models["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a", "gpt-test"]);

    assert_eq!(post(&server, &chat_body(false)).await.status(), 200, "gpt-test is listed");
    let mut other = chat_body(false);
    other["model"] = json!("gpt-x");
    let body = assert_openai_error(post(&server, &other).await, 404, "invalid_request_error").await;
    assert_eq!(body["error"]["message"], "The model `gpt-x` does not exist");
    assert_eq!(body["error"]["code"], "model_not_found");
    let log = server.requests();
    assert_eq!(log.iter().map(|r| r.status).collect::<Vec<_>>(), [200, 404]);
    assert!(log[1].served_at.is_none() && !log[1].completed());
}

#[tokio::test]
async fn max_tokens_cuts_the_reply_to_that_many_tokens_unless_ignored() {
    let text = "One two three, four five six.";
    let reply = move |_: &ChatRequest| MockReply::text(text);
    let server = MockServer::start(MockConfig::replying(reply)).await;
    let mut request = chat_body(false);
    request["max_tokens"] = json!(4);
    request["logprobs"] = json!(true);
    let body: Value = post(&server, &request).await.json().await.unwrap();
    let choice = &body["choices"][0];
    assert_eq!(choice["message"]["content"], "One two three,");
    assert_eq!(choice["finish_reason"], "length");
    assert_eq!(body["usage"]["completion_tokens"], 4);
    assert_eq!(choice["logprobs"]["content"].as_array().map(Vec::len), Some(4));

    // The smaller of max_tokens and max_completion_tokens; streams end with "length" too.
    request["max_completion_tokens"] = json!(2);
    request["stream"] = json!(true);
    let chunks = sse_chunks(&post(&server, &request).await.text().await.unwrap());
    assert_eq!(streamed_content(&chunks), "One two");
    assert_eq!(chunks.last().unwrap()["choices"][0]["finish_reason"], "length");

    // A limit the reply fits in changes nothing: word-count usage, finish_reason stop.
    let mut roomy = chat_body(false);
    roomy["max_tokens"] = json!(8);
    let body: Value = post(&server, &roomy).await.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], text);
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["usage"]["completion_tokens"], 6);

    let ignoring =
        MockServer::start(MockConfig { honour_max_tokens: false, ..MockConfig::replying(reply) })
            .await;
    request["stream"] = json!(false);
    let body: Value = post(&ignoring, &request).await.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], text);
    assert_eq!(body["usage"]["completion_tokens"], 6);
}

#[tokio::test]
async fn a_server_without_logprobs_returns_null_for_them() {
    let server =
        MockServer::start(MockConfig { logprobs_supported: false, ..MockConfig::default() }).await;
    let mut request = chat_body(false);
    request["logprobs"] = json!(true);
    request["top_logprobs"] = json!(5);
    let body: Value = post(&server, &request).await.json().await.unwrap();
    assert!(body["choices"][0]["logprobs"].is_null(), "{body}");
    request["stream"] = json!(true);
    let chunks = sse_chunks(&post(&server, &request).await.text().await.unwrap());
    assert!(chunks.iter().all(|c| c["choices"][0]["logprobs"].is_null()));
    assert!(server.requests()[0].request.logprobs, "the request itself is logged as sent");
}

fn serial(capacity: usize) -> MockConfig {
    MockConfig {
        latency: Duration::from_millis(300),
        serial: Some(SerialQueue { capacity, retry_after_secs: 9 }),
        ..MockConfig::replying(|req| {
            MockReply::text(format!("answer to {}", req.last("user").unwrap_or_default()))
        })
    }
}

fn asking(question: &str) -> Value {
    json!({ "model": "m", "messages": [{ "role": "user", "content": question }] })
}

#[tokio::test]
async fn a_serial_server_answers_one_at_a_time_and_turns_away_a_full_line() {
    let server = MockServer::start(serial(1)).await;
    let started = Instant::now();
    let send = |q: &'static str| {
        let server = &server;
        async move {
            let response = post(server, &asking(q)).await;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .map(|v| v.to_str().unwrap().to_owned());
            let body: Value = response.json().await.unwrap();
            (status, retry_after, body, started.elapsed())
        }
    };
    let (a, b, c) = tokio::join!(send("one"), send("two"), send("three"));
    let mut outcomes = [a, b, c];
    outcomes.sort_by_key(|o| o.3);

    // The third to arrive finds one in service and one waiting: 429 at once.
    let (status, retry_after, body, when) = &outcomes[0];
    assert_eq!((*status, retry_after.as_deref()), (429, Some("9")));
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert!(*when < Duration::from_millis(300), "{when:?}");
    // The other two, one after the other.
    assert_eq!((outcomes[1].0, outcomes[2].0), (200, 200));
    assert!(outcomes[1].3 >= Duration::from_millis(300));
    assert!(outcomes[2].3 >= Duration::from_millis(600), "{:?}", outcomes[2].3);

    let log = server.requests();
    assert_eq!(log.len(), 3);
    let refused: Vec<_> = log.iter().filter(|r| r.status == 429).collect();
    assert_eq!(refused.len(), 1);
    assert!(refused[0].fault.is_none() && refused[0].served_at.is_none());
    assert!(!refused[0].completed());
    let done = server.completed();
    assert_eq!(done.len(), 2);
    assert!(done[1].served_at.unwrap() >= done[0].completed_at.unwrap(), "no overlap");
    let mut answered: Vec<_> = done.iter().map(|r| r.request.last("user").unwrap()).collect();
    answered.dedup();
    assert_eq!(answered.len(), 2, "no content answered twice");
    assert_eq!((server.max_in_service(), server.in_service()), (1, 0));
}

#[tokio::test]
async fn a_request_abandoned_while_waiting_or_streaming_frees_its_place() {
    let server =
        MockServer::start(MockConfig { chunk_interval: Duration::from_millis(100), ..serial(2) })
            .await;
    let url = format!("{}/chat/completions", server.base_url());
    install_crypto_provider();
    let quick =
        reqwest::Client::builder().no_proxy().timeout(Duration::from_millis(150)).build().unwrap();
    let first_body = asking("first");
    let first = post(&server, &first_body);
    // Waits behind "first", and its client gives up at 150 ms.
    let abandoned = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        quick.post(&url).json(&asking("abandoned")).send().await
    };
    let last = async {
        tokio::time::sleep(Duration::from_millis(40)).await;
        post(&server, &asking("last")).await
    };
    let (first, abandoned, last) = tokio::join!(first, abandoned, last);
    assert!(abandoned.is_err_and(|e| e.is_timeout()));
    assert_eq!((first.status().as_u16(), last.status().as_u16()), (200, 200));

    // A stream whose client hangs up after the first chunk ends its service uncompleted.
    let mut streamed = asking("streamed");
    streamed["stream"] = json!(true);
    let mut response = post(&server, &streamed).await;
    assert!(response.chunk().await.unwrap().is_some());
    drop(response);
    let after = post(&server, &asking("after")).await;
    assert_eq!(after.status(), 200);

    let log = server.requests();
    let by = |q: &str| log.iter().find(|r| r.request.last("user") == Some(q)).unwrap();
    assert!(by("abandoned").served_at.is_none() && !by("abandoned").completed());
    assert!(by("streamed").served_at.is_some() && !by("streamed").completed());
    let done: Vec<_> =
        server.completed().iter().map(|r| r.request.last("user").unwrap().to_owned()).collect();
    assert_eq!(done, ["first", "last", "after"]);
    assert_eq!((server.max_in_service(), server.in_service()), (1, 0));
}

#[tokio::test]
async fn head_first_streams_send_the_head_then_wait_and_chunks_are_paced() {
    let latency = Duration::from_millis(300);
    let server = MockServer::start(MockConfig {
        latency,
        stream_head_first: true,
        chunk_interval: Duration::from_millis(50),
        ..MockConfig::replying(|_| MockReply::text("one two three four five six seven eight nine"))
    })
    .await;
    let started = Instant::now();
    let mut response = post(&server, &chat_body(true)).await;
    let head = started.elapsed();
    assert_eq!(response.status(), 200);
    assert!(head < latency, "the head came after {head:?}");
    let mut arrivals = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        assert!(!chunk.is_empty());
        arrivals.push(started.elapsed());
    }
    assert!(arrivals[0] >= latency, "{arrivals:?}");
    // role, 3 content pieces, finish, [DONE]: five pauses after the first.
    assert!(*arrivals.last().unwrap() >= latency + 5 * Duration::from_millis(50), "{arrivals:?}");
    assert!(server.requests()[0].completed());

    // Without head-first a non-streamed reply still waits before its head.
    let started = Instant::now();
    post(&server, &chat_body(false)).await;
    assert!(started.elapsed() >= latency);
}
