use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::ProtocolError;
use crate::domain::{CritiqueSource, Prompts, ProtocolKind, ProtocolSpec};

const PRESETS: &[(&str, &str)] = &[
    ("critique-revise", include_str!("../../assets/protocols/critique-revise.toml")),
    ("self-correct", include_str!("../../assets/protocols/self-correct.toml")),
    ("critic-correct", include_str!("../../assets/protocols/critic-correct.toml")),
    ("critique-only", include_str!("../../assets/protocols/critique-only.toml")),
];

const PROMPTS: &[(&str, &str)] = &[
    ("question.txt", include_str!("../../assets/prompts/question.txt")),
    ("critique.txt", include_str!("../../assets/prompts/critique.txt")),
    ("revise.txt", include_str!("../../assets/prompts/revise.txt")),
    ("second.txt", include_str!("../../assets/prompts/second.txt")),
    ("critic.txt", include_str!("../../assets/prompts/critic.txt")),
    ("judge.txt", include_str!("../../assets/prompts/judge.txt")),
    ("retry.txt", include_str!("../../assets/prompts/retry.txt")),
];

/// Names of the built-in protocols.
pub fn preset_names() -> Vec<&'static str> {
    PRESETS.iter().map(|(n, _)| *n).collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProtocolFile {
    name: Option<String>,
    kind: ProtocolKind,
    #[serde(default = "one")]
    rounds: u32,
    #[serde(default)]
    stop_when_correct: bool,
    #[serde(default)]
    critique_source: CritiqueSource,
    #[serde(default)]
    prompts: PromptFile,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PromptFile {
    system: Option<String>,
    question: Option<String>,
    critique: Option<String>,
    revise: Option<String>,
    second: Option<String>,
    critic: Option<String>,
    retry: Option<String>,
}

/// Loads a preset by name, or a user protocol from a `.toml` path. Prompt values ending in
/// `.txt` are files: beside the protocol file first, then the embedded ones.
pub fn load_protocol(name_or_path: &str) -> Result<ProtocolSpec, ProtocolError> {
    if let Some((_, text)) = PRESETS.iter().find(|(n, _)| *n == name_or_path) {
        return parse(name_or_path, text, None);
    }
    let path = Path::new(name_or_path);
    if name_or_path.ends_with(".toml") || path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| ProtocolError::Invalid {
            file: name_or_path.to_string(),
            message: e.to_string(),
        })?;
        return parse(name_or_path, &text, path.parent());
    }
    Err(ProtocolError::Unknown { name: name_or_path.to_string(), known: preset_names().join(", ") })
}

fn parse(file: &str, text: &str, dir: Option<&Path>) -> Result<ProtocolSpec, ProtocolError> {
    let invalid = |message: String| ProtocolError::Invalid { file: file.to_string(), message };
    let raw: ProtocolFile =
        toml::from_str(text).map_err(|e| invalid(crate::domain::text::toml_error(text, &e)))?;
    if raw.rounds == 0 {
        return Err(invalid("rounds must be at least 1".into()));
    }
    let resolve = |v: Option<String>| -> Result<Option<String>, ProtocolError> {
        v.map(|v| prompt_text(&v, dir).map_err(invalid)).transpose()
    };
    let p = raw.prompts;
    let prompts = Prompts {
        system: resolve(p.system)?,
        question: resolve(p.question)?.unwrap_or_default(),
        critique: resolve(p.critique)?.unwrap_or_default(),
        revise: resolve(p.revise)?.unwrap_or_default(),
        second: resolve(p.second)?.unwrap_or_default(),
        critic: resolve(p.critic)?.unwrap_or_default(),
        retry: resolve(p.retry)?,
    };
    let fallback = Path::new(file).file_stem().and_then(|s| s.to_str()).unwrap_or(file);
    let spec = ProtocolSpec {
        name: raw.name.unwrap_or_else(|| fallback.to_string()),
        kind: raw.kind,
        rounds: raw.rounds,
        stop_when_correct: raw.stop_when_correct,
        critique_source: raw.critique_source,
        prompts,
    };
    check_prompts(&spec)?;
    Ok(spec)
}

fn prompt_text(value: &str, dir: Option<&Path>) -> Result<String, String> {
    if !value.ends_with(".txt") {
        return Ok(value.to_string());
    }
    if let Some(dir) = dir {
        let p = dir.join(value);
        if p.exists() {
            return std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()));
        }
    }
    PROMPTS
        .iter()
        .find(|(n, _)| *n == value)
        .map(|(_, t)| t.to_string())
        .ok_or_else(|| format!("prompt file `{value}` not found"))
}

/// Every prompt the protocol's kind uses must be present.
fn check_prompts(spec: &ProtocolSpec) -> Result<(), ProtocolError> {
    let p = &spec.prompts;
    let needed: &[(&'static str, &str)] = match spec.kind {
        ProtocolKind::CritiqueRevise => {
            &[("question", &p.question), ("critique", &p.critique), ("revise", &p.revise)]
        }
        ProtocolKind::SelfCorrect => &[("question", &p.question), ("second", &p.second)],
        ProtocolKind::CriticCorrect | ProtocolKind::CritiqueOnly => &[("critic", &p.critic)],
    };
    for (prompt, text) in needed {
        if text.trim().is_empty() {
            return Err(ProtocolError::MissingPrompt { protocol: spec.name.clone(), prompt });
        }
    }
    Ok(())
}

/// The embedded text of a prompt file in assets/prompts (e.g. `retry.txt`).
pub fn embedded_prompt(file: &str) -> Option<&'static str> {
    PROMPTS.iter().find(|(n, _)| *n == file).map(|(_, t)| *t)
}

/// Short stable hash of the prompt texts, for provenance.
pub fn prompts_hash(p: &Prompts) -> String {
    let json = serde_json::to_vec(p).unwrap_or_default();
    let digest = Sha256::digest(&json);
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
