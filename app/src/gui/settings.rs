//! The app's own settings (not Chocolate Doom's: those stay in the data dir's
//! chocolate-doom.cfg and default.cfg, where the game writes them), stored as TOML in the platform
//! config dir: ~/.config/doomlink/settings.toml on Linux.

use super::view::Scaling;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Everything the Settings screen shows, and what the Play screen last chose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The name other players see in netgames.
    pub player_name: String,
    /// Master volume, 0.0 – 1.0, applied on top of the game's own sound and music volumes.
    pub volume: f32,
    pub scaling: Scaling,
    /// Multiplies mouse motion before the game's own sensitivity and acceleration.
    pub mouse_sensitivity: f32,
    /// The Play screen's last choices.
    pub last_iwad: Option<PathBuf>,
    pub last_pwads: Vec<PathBuf>,
    pub last_skill: u8,
    pub last_map: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            player_name: default_player_name(),
            volume: 0.8,
            scaling: Scaling::Integer,
            mouse_sensitivity: 1.0,
            last_iwad: None,
            last_pwads: Vec::new(),
            last_skill: 3,
            last_map: None,
        }
    }
}

fn default_player_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "Player".into())
}

/// Why settings could not be read or written; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0}: not valid settings: {1}")]
    Parse(PathBuf, toml::de::Error),
    #[error("cannot write settings: {0}")]
    Serialize(#[from] toml::ser::Error),
}

/// Where settings.toml lives (None: the platform has no home directory).
pub fn settings_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("org", "doomlink", "doomlink")
        .map(|d| d.config_dir().join("settings.toml"))
}

impl Settings {
    /// The settings in `path`; defaults if the file does not exist yet.
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let mut s: Settings =
                    toml::from_str(&text).map_err(|e| SettingsError::Parse(path.into(), e))?;
                s.clamp();
                Ok(s)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(SettingsError::Io(path.into(), e)),
        }
    }

    /// Writes the settings (through a temporary file, so a crash never leaves half a file).
    pub fn save(&self, path: &Path) -> Result<(), SettingsError> {
        let text = toml::to_string_pretty(self)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| SettingsError::Io(dir.into(), e))?;
        }
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).map_err(|e| SettingsError::Io(tmp.clone(), e))?;
        std::fs::rename(&tmp, path).map_err(|e| SettingsError::Io(path.into(), e))
    }

    /// Keeps hand-edited values in range.
    fn clamp(&mut self) {
        self.volume = self.volume.clamp(0.0, 1.0);
        if !self.volume.is_finite() {
            self.volume = 0.8;
        }
        self.mouse_sensitivity = if self.mouse_sensitivity.is_finite() {
            self.mouse_sensitivity.clamp(0.1, 10.0)
        } else {
            1.0
        };
        self.last_skill = self.last_skill.clamp(1, 5);
        self.player_name = self
            .player_name
            .chars()
            .filter(|c| !c.is_control())
            .take(30)
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_missing_file_is_defaults() {
        let dir = std::env::temp_dir().join(format!("dl-settings-{}", std::process::id()));
        let path = dir.join("sub/settings.toml");
        assert_eq!(Settings::load(&path).unwrap(), Settings::default());
        let s = Settings {
            player_name: "Fearless Pinky".into(),
            volume: 0.5,
            scaling: Scaling::Smooth,
            last_map: Some("E1M3".into()),
            ..Settings::default()
        };
        s.save(&path).unwrap();
        assert_eq!(Settings::load(&path).unwrap(), s);
        std::fs::write(&path, "volume = 7.0\nplayer_name = \"x\"\n").unwrap();
        let clamped = Settings::load(&path).unwrap();
        assert_eq!((clamped.volume, clamped.scaling), (1.0, Scaling::Integer));
        std::fs::write(&path, "volume = \"loud\"").unwrap();
        let e = Settings::load(&path).unwrap_err().to_string();
        assert!(e.contains("settings.toml"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
