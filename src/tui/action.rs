//! User intent. The keymap produces these; names are what config files bind.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Leave critloop.
    Quit,
    /// Open the help screen (generated from the keymap).
    Help,
    /// Go back one screen.
    Back,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Open the selected row.
    Open,
    RunsScreen,
    EpisodesScreen,
    MetricsScreen,
    /// Start a new sim run in the background (a quick demo of live progress).
    NewDemoRun,
    /// Step through the selected run's items by hand (saved as a new run).
    Step,
    /// Open the new-run form.
    NewRun,
    /// Step mode: request the next turn of the selected item (streamed).
    StepNext,
    /// Step mode: type the critique yourself (an oracle critique arm).
    WriteCritique,
    /// Step mode: type a question of your own.
    TypeQuestion,
    /// Cancel the selected run if it is running.
    CancelRun,
    /// Resume the selected run (pending episodes).
    ResumeRun,
    /// Mark the selected run for the side-by-side metrics comparison.
    Compare,
    NextFilter,
    PreviousFilter,
    /// Type a search over item ids and questions.
    Search,
    /// Episodes table: the next order (item, t1→t2, labels, question).
    Sort,
    /// Episodes table: type an item id and jump to its first episode.
    JumpToItem,
    NextEpisode,
    PreviousEpisode,
    /// Open the next episode still to label: the annotator's queue when the run has one, else
    /// the next episode whose labels are incomplete.
    NextUnlabelled,
    NextTurn,
    PreviousTurn,
    /// Take back my last label on this episode (restores the value before it).
    Undo,
    /// Show every entry of the selected turn's labels, retractions included.
    LabelHistory,
    /// Episode screen: the first and the final attempt side by side.
    SideBySide,
    /// Hide references and grades while labelling.
    Blind,
    /// Toggle: once the episode's labels are complete, open the next one to label.
    AutoAdvance,
    /// Metrics screen: show the next panel (summary, calibration, comparison, labels).
    NextPanel,
    PreviousPanel,
    /// Metrics screen: show the calibration of the next confidence source.
    NextSource,
    /// Write a label on the selected turn (or the episode). Named `label:NAME=VALUE`, not by
    /// serde.
    #[serde(skip)]
    Label {
        name: String,
        value: String,
    },
}

impl Action {
    /// The name used in keymap files: serde's snake_case name of the variant.
    pub fn name(&self) -> String {
        match self {
            Action::Label { name, value } => format!("label:{name}={value}"),
            other => match serde_json::to_value(other) {
                Ok(serde_json::Value::String(s)) => s,
                // Every variant but `Label` is a unit variant, which serde names as a string.
                _ => format!("{other:?}"),
            },
        }
    }

    /// One line for the help screen.
    pub fn describe(&self) -> String {
        match self {
            Action::Quit => "quit".into(),
            Action::Help => "this help".into(),
            Action::Back => "back".into(),
            Action::Up => "up".into(),
            Action::Down => "down".into(),
            Action::PageUp => "page up".into(),
            Action::PageDown => "page down".into(),
            Action::Top => "first".into(),
            Action::Bottom => "last".into(),
            Action::Open => "open".into(),
            Action::RunsScreen => "runs".into(),
            Action::EpisodesScreen => "episodes".into(),
            Action::MetricsScreen => "metrics".into(),
            Action::NewDemoRun => "new sim run".into(),
            Action::Step => "step by hand".into(),
            Action::NewRun => "new run…".into(),
            Action::StepNext => "next turn".into(),
            Action::WriteCritique => "write critique".into(),
            Action::TypeQuestion => "type a question".into(),
            Action::CancelRun => "cancel run".into(),
            Action::ResumeRun => "resume run".into(),
            Action::Compare => "mark to compare".into(),
            Action::NextFilter => "next filter".into(),
            Action::PreviousFilter => "previous filter".into(),
            Action::Search => "search".into(),
            Action::Sort => "sort by…".into(),
            Action::JumpToItem => "go to item".into(),
            Action::NextEpisode => "next episode".into(),
            Action::PreviousEpisode => "previous episode".into(),
            Action::NextUnlabelled => "next to label".into(),
            Action::NextTurn => "next turn".into(),
            Action::PreviousTurn => "previous turn".into(),
            Action::Undo => "undo label".into(),
            Action::LabelHistory => "history".into(),
            Action::SideBySide => "side by side".into(),
            Action::Blind => "blind mode".into(),
            Action::AutoAdvance => "auto-advance".into(),
            Action::NextPanel => "next panel".into(),
            Action::PreviousPanel => "previous panel".into(),
            Action::NextSource => "next source".into(),
            Action::Label { name, value } => format!("{name}={value}"),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = s.strip_prefix("label:") {
            let (name, value) =
                rest.split_once('=').ok_or_else(|| format!("`{s}`: expected label:NAME=VALUE"))?;
            return Ok(Action::Label { name: name.into(), value: value.into() });
        }
        serde_json::from_value(serde_json::Value::String(s.to_string()))
            .map_err(|_| format!("unknown action `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_snake_case_and_parse_back() {
        assert_eq!(Action::PageDown.name(), "page_down");
        assert_eq!(Action::NewDemoRun.name(), "new_demo_run");
        assert_eq!(Action::JumpToItem.name(), "jump_to_item");
        assert_eq!("next_unlabelled".parse::<Action>(), Ok(Action::NextUnlabelled));
        assert_eq!("side_by_side".parse::<Action>(), Ok(Action::SideBySide));
        let label = Action::Label { name: "verdict".into(), value: "wrong".into() };
        assert_eq!(label.name(), "label:verdict=wrong");
        assert_eq!("label:verdict=wrong".parse::<Action>(), Ok(label));
    }

    #[test]
    fn unknown_and_hidden_names_are_refused() {
        assert_eq!("pagedown".parse::<Action>(), Err("unknown action `pagedown`".to_string()));
        // The label variant has no bare name.
        assert!("label".parse::<Action>().is_err());
        assert!("label:verdict".parse::<Action>().is_err());
    }
}
