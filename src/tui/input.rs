//! The one text input of the workbench: the new-run form, `/` search, the annotator's name and
//! step mode's critique editor all edit text with the same keys.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key did to the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// The text changed (or the key was an editing key that found nothing to do).
    Changed,
    /// Enter: the text is done.
    Submit,
    /// Esc: give up.
    Cancel,
    /// Not an editing key (Tab, arrows, …): the caller decides.
    Other,
}

/// Applies `key` to `text`: characters type, Backspace deletes one, Ctrl-U clears, Ctrl-W
/// deletes the last word. With `multiline`, Alt-Enter and Ctrl-J start a new line. `limit`
/// caps the length in characters.
pub fn edit(text: &mut String, key: &KeyEvent, multiline: bool, limit: usize) -> Edit {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    match key.code {
        KeyCode::Enter if multiline && alt => push(text, '\n', limit),
        KeyCode::Char('j') if multiline && ctrl => push(text, '\n', limit),
        KeyCode::Enter => Edit::Submit,
        KeyCode::Esc => Edit::Cancel,
        KeyCode::Backspace if ctrl || alt => delete_word(text),
        KeyCode::Backspace => {
            text.pop();
            Edit::Changed
        }
        KeyCode::Char('u') if ctrl => {
            text.clear();
            Edit::Changed
        }
        KeyCode::Char('w') if ctrl => delete_word(text),
        // Other control chords are commands, never text.
        KeyCode::Char(_) if ctrl || alt => Edit::Other,
        KeyCode::Char(c) if !c.is_control() => push(text, c, limit),
        _ => Edit::Other,
    }
}

fn push(text: &mut String, c: char, limit: usize) -> Edit {
    if text.chars().count() < limit {
        text.push(c);
    }
    Edit::Changed
}

/// Deletes trailing spaces, then the word before them.
fn delete_word(text: &mut String) -> Edit {
    let kept = text.trim_end().len();
    text.truncate(kept);
    let start = text.rfind(char::is_whitespace).map_or(0, |i| i + 1);
    text.truncate(start);
    Edit::Changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    fn typed(keys: &[KeyEvent], multiline: bool) -> (String, Vec<Edit>) {
        let mut text = String::new();
        let edits = keys.iter().map(|k| edit(&mut text, k, multiline, 8)).collect();
        (text, edits)
    }

    #[test]
    fn chords_edit_and_are_never_typed() {
        let none = KeyModifiers::NONE;
        let ctrl = KeyModifiers::CONTROL;
        let (text, _) = typed(
            &[
                key(KeyCode::Char('a'), none),
                key(KeyCode::Char('b'), none),
                key(KeyCode::Char(' '), none),
                key(KeyCode::Char('c'), none),
                key(KeyCode::Char('w'), ctrl),
            ],
            false,
        );
        assert_eq!(text, "ab ");
        let (text, _) =
            typed(&[key(KeyCode::Char('a'), none), key(KeyCode::Char('u'), ctrl)], false);
        assert_eq!(text, "", "Ctrl-U clears instead of typing `u`");
        let (text, edits) = typed(&[key(KeyCode::Char('x'), ctrl)], false);
        assert_eq!((text.as_str(), edits[0]), ("", Edit::Other));
        let (text, _) = typed(&[key(KeyCode::Char('z'), none); 12], false);
        assert_eq!(text.len(), 8, "the limit holds");
    }

    #[test]
    fn enter_submits_esc_cancels_and_multiline_takes_new_lines() {
        let none = KeyModifiers::NONE;
        let (_, edits) = typed(&[key(KeyCode::Enter, none), key(KeyCode::Esc, none)], false);
        assert_eq!(edits, vec![Edit::Submit, Edit::Cancel]);
        let (text, edits) = typed(
            &[
                key(KeyCode::Char('a'), none),
                key(KeyCode::Enter, KeyModifiers::ALT),
                key(KeyCode::Char('j'), KeyModifiers::CONTROL),
                key(KeyCode::Char('b'), none),
            ],
            true,
        );
        assert_eq!(text, "a\n\nb");
        assert!(edits.iter().all(|e| *e == Edit::Changed));
        let (text, edits) = typed(&[key(KeyCode::Enter, KeyModifiers::ALT)], false);
        assert_eq!((text.as_str(), edits[0]), ("", Edit::Submit), "one line: Alt-Enter submits");
        assert_eq!(edit(&mut String::new(), &key(KeyCode::Tab, none), false, 8), Edit::Other);
    }
}
