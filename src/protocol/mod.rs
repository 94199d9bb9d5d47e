//! Protocols (DESIGN §2): presets stored as data, and the pure state machine that says which
//! request comes next for an episode. The runner, step mode and tests share it.

mod machine;
mod presets;

pub use machine::{
    ChatMessage, ChatRole, Next, SYNTHETIC, Step, attempt_indices, initial_turns, next_step,
};
pub use presets::{embedded_prompt, load_protocol, preset_names, prompts_hash};

use crate::domain::text::{inert_line, one_line};

#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("{}", one_line(&format!("unknown protocol `{name}`; known: {known} (or a path to a .toml file)")))]
    Unknown { name: String, known: String },
    #[error("{}: {}", inert_line(file), one_line(message))]
    Invalid { file: String, message: String },
    #[error("item {item} has no given solution, which protocol `{protocol}` needs")]
    NoGivenSolution { item: String, protocol: String },
    #[error("protocol `{protocol}` has no `{prompt}` prompt")]
    MissingPrompt { protocol: String, prompt: &'static str },
}

#[cfg(test)]
mod tests;
