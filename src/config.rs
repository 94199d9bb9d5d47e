//! Paths and the optional TOML config file. Read once in `main` and passed down as values.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Where critloop keeps its data and looks for its config.
#[derive(Debug, Clone)]
pub struct Paths {
    pub data_dir: PathBuf,
    pub config_file: PathBuf,
}

impl Paths {
    /// `$CRITLOOP_DATA` / `$CRITLOOP_CONFIG`, else the platform directories.
    pub fn discover() -> Paths {
        let dirs = directories::ProjectDirs::from("org", "critloop", "critloop");
        let data_dir = crate::env::var_os("CRITLOOP_DATA")
            .map(PathBuf::from)
            .or_else(|| dirs.as_ref().map(|d| d.data_local_dir().to_path_buf()))
            .unwrap_or_else(|| PathBuf::from(".critloop"));
        let config_file = crate::env::var_os("CRITLOOP_CONFIG")
            .map(PathBuf::from)
            .or_else(|| dirs.as_ref().map(|d| d.config_dir().join("config.toml")))
            .unwrap_or_else(|| PathBuf::from("critloop.toml"));
        Paths { data_dir, config_file }
    }

    pub fn default_db(&self) -> PathBuf {
        self.data_dir.join("db")
    }
}

/// The user's settings; every field is optional and falls back to built-in defaults.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Name recorded with labels.
    pub annotator: Option<String>,
    /// TUI theme: dark, light, high-contrast, or a path to a theme file.
    pub theme: Option<String>,
    /// Key binding overrides: `[keys.MODE] action = ["key", …]` (see assets/keymap.toml).
    #[serde(default)]
    pub keys: std::collections::BTreeMap<String, std::collections::BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    pub run: RunDefaults,
    /// Named endpoint settings: `critloop run --profile NAME`.
    #[serde(default)]
    pub profiles: std::collections::BTreeMap<String, Profile>,
    /// Label fields laid over assets/labels.toml by name (`[[labels]]`, same shape).
    #[serde(default)]
    pub labels: Vec<crate::domain::LabelField>,
}

/// An endpoint profile. Every field is optional; command-line flags win over it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub base_url: Option<String>,
    /// Replicas of one model (vLLM/SGLang servers); requests are spread across them.
    #[serde(default)]
    pub base_urls: Vec<String>,
    pub model: Option<String>,
    pub critic_model: Option<String>,
    pub critic_base_url: Option<String>,
    #[serde(default)]
    pub critic_base_urls: Vec<String>,
    /// Name of the environment variable holding the key (never the key itself).
    pub api_key_env: Option<String>,
    pub concurrency: Option<usize>,
    pub rpm: Option<u32>,
    /// Overall cap per request (seconds); see `critloop run --help`.
    pub timeout: Option<f64>,
    pub connect_timeout: Option<f64>,
    pub first_token_timeout: Option<f64>,
    pub idle_timeout: Option<f64>,
    pub max_retries: Option<u32>,
    pub logprobs: Option<bool>,
    pub stream: Option<bool>,
    pub price_prompt_per_mtok: Option<f64>,
    pub price_completion_per_mtok: Option<f64>,
}

impl Profile {
    /// All base URLs, single and list forms together.
    pub fn urls(&self) -> Vec<String> {
        self.base_url.iter().cloned().chain(self.base_urls.iter().cloned()).collect()
    }

    pub fn critic_urls(&self) -> Vec<String> {
        self.critic_base_url.iter().cloned().chain(self.critic_base_urls.iter().cloned()).collect()
    }
}

/// Defaults for `critloop run` flags.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunDefaults {
    pub dataset: Option<String>,
    pub protocol: Option<String>,
    pub concurrency: Option<usize>,
    pub seed: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "config {}: {}",
        crate::domain::text::inert_line(path),
        crate::domain::text::one_line(message)
    )]
    Invalid { path: String, message: String },
}

/// Records the annotator's name in the config file (created if missing). Asked only when the
/// file names none, so the key goes first, where a top-level key is always valid TOML.
pub fn save_annotator(path: &Path, name: &str) -> Result<(), ConfigError> {
    let shown = path.display().to_string();
    let err = |message: String| ConfigError::Invalid { path: shown.clone(), message };
    let old = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(err(e.to_string())),
    };
    let line = format!("annotator = {}\n", toml::Value::String(name.to_string()));
    let text = format!("{line}{old}");
    let parsed: Config =
        toml::from_str(&text).map_err(|e| err(crate::domain::text::toml_error(&text, &e)))?;
    if parsed.annotator.as_deref() != Some(name) {
        return Err(err("could not record the annotator".into()));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    std::fs::write(path, text).map_err(|e| err(e.to_string()))
}

impl Config {
    /// Loads `path`; a missing file is the empty config unless it was named explicitly.
    pub fn load(path: &Path, explicit: bool) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let bytes = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok(Config::default());
            }
            Err(e) => return Err(ConfigError::Invalid { path: shown, message: e.to_string() }),
        };
        let text = crate::domain::text::utf8_text(bytes)
            .map_err(|message| ConfigError::Invalid { path: shown.clone(), message })?;
        Config::parse(&shown, &text)
    }

    /// Parses the text of a config file; `shown` names it in errors.
    pub fn parse(shown: &str, text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: shown.to_string(),
            message: crate::domain::text::toml_error(text, &e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_line_and_fit_one_line() {
        let err = Config::parse("c.toml", "annotator = \"ana\"\n[run]\nseed = \"x\"\n");
        let msg = err.unwrap_err().to_string();
        assert!(msg.starts_with("config c.toml: line 3, column 8: "), "{msg}");
        assert!(msg.contains("invalid type"), "{msg}");
        let err = Config::parse("c.toml", "[keys]\n\"a\\nb\" = 1\n").unwrap_err().to_string();
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn a_config_that_is_not_utf8_names_where() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, b"annotator = \"ana\"\ntheme = \"\xff\"\n").unwrap();
        let msg = Config::load(&path, true).unwrap_err().to_string();
        assert_eq!(msg, format!("config {}: line 2, column 10: not UTF-8 text", path.display()));
    }
}
