//! User intent. The keymap produces these; names are what config files bind.

use std::fmt;
use std::str::FromStr;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
    /// Hide references and grades while labelling.
    Blind,
    /// Toggle: once the episode's labels are complete, open the next one to label.
    AutoAdvance,
    /// Metrics screen: show the next panel (summary, calibration, comparison, labels).
    NextPanel,
    PreviousPanel,
    /// Metrics screen: show the calibration of the next confidence source.
    NextSource,
    /// Write a label on the selected turn (or the episode).
    Label {
        name: String,
        value: String,
    },
}

impl Action {
    /// The name used in keymap files.
    pub fn name(&self) -> String {
        let s = match self {
            Action::Quit => "quit",
            Action::Help => "help",
            Action::Back => "back",
            Action::Up => "up",
            Action::Down => "down",
            Action::PageUp => "page_up",
            Action::PageDown => "page_down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::Open => "open",
            Action::RunsScreen => "runs_screen",
            Action::EpisodesScreen => "episodes_screen",
            Action::MetricsScreen => "metrics_screen",
            Action::NewDemoRun => "new_demo_run",
            Action::Step => "step",
            Action::NewRun => "new_run",
            Action::StepNext => "step_next",
            Action::WriteCritique => "write_critique",
            Action::TypeQuestion => "type_question",
            Action::CancelRun => "cancel_run",
            Action::ResumeRun => "resume_run",
            Action::Compare => "compare",
            Action::NextFilter => "next_filter",
            Action::PreviousFilter => "previous_filter",
            Action::Search => "search",
            Action::Sort => "sort",
            Action::NextEpisode => "next_episode",
            Action::PreviousEpisode => "previous_episode",
            Action::NextUnlabelled => "next_unlabelled",
            Action::NextTurn => "next_turn",
            Action::PreviousTurn => "previous_turn",
            Action::Undo => "undo",
            Action::LabelHistory => "label_history",
            Action::Blind => "blind",
            Action::AutoAdvance => "auto_advance",
            Action::NextPanel => "next_panel",
            Action::PreviousPanel => "previous_panel",
            Action::NextSource => "next_source",
            Action::Label { name, value } => return format!("label:{name}={value}"),
        };
        s.to_string()
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
            Action::NextEpisode => "next episode".into(),
            Action::PreviousEpisode => "previous episode".into(),
            Action::NextUnlabelled => "next to label".into(),
            Action::NextTurn => "next turn".into(),
            Action::PreviousTurn => "previous turn".into(),
            Action::Undo => "undo label".into(),
            Action::LabelHistory => "history".into(),
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
        let all = [
            Action::Quit,
            Action::Help,
            Action::Back,
            Action::Up,
            Action::Down,
            Action::PageUp,
            Action::PageDown,
            Action::Top,
            Action::Bottom,
            Action::Open,
            Action::RunsScreen,
            Action::EpisodesScreen,
            Action::MetricsScreen,
            Action::NewDemoRun,
            Action::Step,
            Action::NewRun,
            Action::StepNext,
            Action::WriteCritique,
            Action::TypeQuestion,
            Action::CancelRun,
            Action::ResumeRun,
            Action::Compare,
            Action::NextFilter,
            Action::PreviousFilter,
            Action::Search,
            Action::Sort,
            Action::NextEpisode,
            Action::PreviousEpisode,
            Action::NextUnlabelled,
            Action::NextTurn,
            Action::PreviousTurn,
            Action::Undo,
            Action::LabelHistory,
            Action::Blind,
            Action::AutoAdvance,
            Action::NextPanel,
            Action::PreviousPanel,
            Action::NextSource,
        ];
        all.into_iter().find(|a| a.name() == s).ok_or_else(|| format!("unknown action `{s}`"))
    }
}
