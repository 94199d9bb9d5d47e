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
        let data_dir = std::env::var_os("CRITLOOP_DATA")
            .map(PathBuf::from)
            .or_else(|| dirs.as_ref().map(|d| d.data_local_dir().to_path_buf()))
            .unwrap_or_else(|| PathBuf::from(".critloop"));
        let config_file = std::env::var_os("CRITLOOP_CONFIG")
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
    #[serde(default)]
    pub run: RunDefaults,
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
    #[error("config {path}: {message}")]
    Invalid { path: String, message: String },
}

impl Config {
    /// Loads `path`; a missing file is the empty config unless it was named explicitly.
    pub fn load(path: &Path, explicit: bool) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok(Config::default());
            }
            Err(e) => return Err(ConfigError::Invalid { path: shown, message: e.to_string() }),
        };
        toml::from_str(&text)
            .map_err(|e| ConfigError::Invalid { path: shown, message: e.message().to_string() })
    }
}
