use serde::{Deserialize, Serialize};

use super::ProtocolError;
use crate::domain::{CritiqueSource, Item, ProtocolKind, ProtocolSpec, Role, Turn, Verdict};

/// Who speaks a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatRole {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: ChatRole,
    pub content: String,
}

impl ChatMessage {
    fn user(content: String) -> Self {
        ChatMessage { role: ChatRole::User, content }
    }
}

/// The next request of an episode: which turn it produces and the whole conversation to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub role: Role,
    /// Index the produced turn will have.
    pub index: u32,
    pub messages: Vec<ChatMessage>,
    /// True for critic turns that must also carry a corrected answer (critic-correct).
    pub wants_answer: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Request(Step),
    /// A turn made without a model call (a control arm's empty or oracle critique): store it
    /// as it is at `index`.
    Local {
        index: u32,
        turn: Box<Turn>,
    },
    Done,
}

pub use crate::domain::SYNTHETIC;

/// The retry prompt used when a run without critique stores none (records made by hand).
const DEFAULT_RETRY: &str = include_str!("../../assets/prompts/retry.txt");

/// Turns an episode starts with before any request: the given solution for critic protocols.
pub fn initial_turns(spec: &ProtocolSpec, item: &Item) -> Result<Vec<Turn>, ProtocolError> {
    if !spec.kind.uses_given() {
        return Ok(Vec::new());
    }
    let given = item.given.as_ref().ok_or_else(|| ProtocolError::NoGivenSolution {
        item: item.id.to_string(),
        protocol: spec.name.clone(),
    })?;
    let mut t = Turn::new(Role::Given, given.text.clone());
    t.answer = given.answer.clone();
    Ok(vec![t])
}

/// Indices of the turns that carry an answer (t1 … t_final).
pub fn attempt_indices(kind: ProtocolKind, turns: &[Turn]) -> Vec<usize> {
    turns
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            t.is_attempt() || (kind == ProtocolKind::CriticCorrect && t.role == Role::Critique)
        })
        .map(|(i, _)| i)
        .collect()
}

fn fill(template: &str, item: &Item, solution: &str) -> String {
    let choices = match &item.choices {
        Some(cs) if !cs.is_empty() => {
            let mut s = String::from("\n");
            for (i, c) in cs.iter().enumerate() {
                let letter = char::from(b'A' + u8::try_from(i % 26).unwrap_or(0));
                s.push_str(&format!("\n({letter}) {c}"));
            }
            s
        }
        _ => String::new(),
    };
    template
        .replace("{question}", &item.question)
        .replace("{choices}", &choices)
        .replace("{solution}", solution)
}

fn base(spec: &ProtocolSpec) -> Vec<ChatMessage> {
    match &spec.prompts.system {
        Some(s) if !s.trim().is_empty() => {
            vec![ChatMessage { role: ChatRole::System, content: s.clone() }]
        }
        _ => Vec::new(),
    }
}

/// The user prompt that asks for a turn of `role` in a chat protocol.
fn prompt_for(spec: &ProtocolSpec, item: &Item, role: Role) -> String {
    let p = &spec.prompts;
    let template = match (spec.kind, role) {
        (_, Role::Generate) => &p.question,
        (ProtocolKind::SelfCorrect, _) => &p.second,
        (_, Role::Critique) => &p.critique,
        (ProtocolKind::CritiqueRevise, _) if spec.critique_source == CritiqueSource::None => {
            p.retry.as_deref().unwrap_or(DEFAULT_RETRY)
        }
        _ => &p.revise,
    };
    fill(template, item, "")
}

/// The conversation so far plus the prompt for the next turn (chat protocols).
fn conversation(spec: &ProtocolSpec, item: &Item, turns: &[Turn], next: Role) -> Vec<ChatMessage> {
    let mut msgs = base(spec);
    msgs.push(ChatMessage::user(prompt_for(spec, item, Role::Generate)));
    for (i, t) in turns.iter().enumerate() {
        msgs.push(ChatMessage { role: ChatRole::Assistant, content: t.content.clone() });
        let following = turns.get(i + 1).map_or(next, |t| t.role);
        msgs.push(ChatMessage::user(prompt_for(spec, item, following)));
    }
    msgs
}

fn index(turns: &[Turn]) -> u32 {
    u32::try_from(turns.len()).unwrap_or(u32::MAX)
}

/// A critique no model wrote. Empty: no text and no verdict. Oracle: the truth of the last
/// attempt, stated without the reference answer (which would hand the model the solution).
fn synthetic_critique(source: CritiqueSource, item: &Item, turns: &[Turn]) -> Turn {
    let mut t = Turn::new(Role::Critique, "");
    t.meta.insert(SYNTHETIC.into(), serde_json::Value::String(source.as_str().into()));
    if source != CritiqueSource::Oracle {
        return t;
    }
    let right = turns.iter().rev().find(|t| t.is_attempt()).is_some_and(|a| {
        a.correct.unwrap_or_else(|| {
            let opts = crate::grade::GradeOptions::default();
            let g = crate::grade::grade_with_question(
                &a.content,
                a.answer.as_deref(),
                &item.reference,
                item.answer_kind,
                opts,
                Some(&item.question),
            );
            g.correct
        })
    });
    let (text, verdict) = if right {
        ("The answer above is right.\n\nVerdict: correct", Verdict::Correct)
    } else {
        ("The answer above is wrong.\n\nVerdict: incorrect", Verdict::Incorrect)
    };
    t.content = text.into();
    t.verdict = Some(verdict);
    t
}

/// Which request comes next for an episode whose stored turns are `turns`.
pub fn next_step(spec: &ProtocolSpec, item: &Item, turns: &[Turn]) -> Result<Next, ProtocolError> {
    let chat = |role: Role| {
        Next::Request(Step {
            role,
            index: index(turns),
            messages: conversation(spec, item, turns, role),
            wants_answer: false,
        })
    };
    let count = |role: Role| turns.iter().filter(|t| t.role == role).count();
    let rounds = usize::try_from(spec.rounds).unwrap_or(usize::MAX);
    Ok(match spec.kind {
        // Without critique the rounds are counted by revisions, as in self-correct.
        ProtocolKind::CritiqueRevise if spec.critique_source == CritiqueSource::None => {
            match turns.len() {
                0 => chat(Role::Generate),
                _ if count(Role::Revise) < rounds => chat(Role::Revise),
                _ => Next::Done,
            }
        }
        ProtocolKind::CritiqueRevise => match turns.last().map(|t| (t.role, t.verdict)) {
            None => chat(Role::Generate),
            Some((Role::Critique, Some(Verdict::Correct))) if spec.stop_when_correct => Next::Done,
            Some((Role::Critique, _)) => chat(Role::Revise),
            Some(_) if count(Role::Critique) < rounds => match spec.critique_source {
                CritiqueSource::Empty | CritiqueSource::Oracle => Next::Local {
                    index: index(turns),
                    turn: Box::new(synthetic_critique(spec.critique_source, item, turns)),
                },
                CritiqueSource::Model | CritiqueSource::None => chat(Role::Critique),
            },
            Some(_) => Next::Done,
        },
        ProtocolKind::SelfCorrect => match turns.len() {
            0 => chat(Role::Generate),
            _ if count(Role::Revise) < rounds => chat(Role::Revise),
            _ => Next::Done,
        },
        ProtocolKind::CriticCorrect | ProtocolKind::CritiqueOnly => {
            let given = match turns.first() {
                Some(t) if t.role == Role::Given => t,
                _ => {
                    return Err(ProtocolError::NoGivenSolution {
                        item: item.id.to_string(),
                        protocol: spec.name.clone(),
                    });
                }
            };
            if count(Role::Critique) > 0 {
                return Ok(Next::Done);
            }
            let mut messages = base(spec);
            messages.push(ChatMessage::user(fill(&spec.prompts.critic, item, &given.content)));
            Next::Request(Step {
                role: Role::Critique,
                index: index(turns),
                messages,
                wants_answer: spec.kind == ProtocolKind::CriticCorrect,
            })
        }
    })
}
