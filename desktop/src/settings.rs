//! The app's own settings (not Chocolate Doom's: those stay in the data dir's
//! chocolate-doom.cfg and default.cfg, where the game writes them), stored as TOML in the platform
//! config dir: ~/.config/doomlink/settings.toml on Linux.

use crate::view::Scaling;
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
    /// The in-game network overlay (RTT and loss per peer; toggled with the backquote key).
    pub show_net_overlay: bool,
    /// Internet play: the rendezvous (`doomlink serve`) to host at, `host:port`, or
    /// `wss://host:port` for one that speaks TLS; empty: none (no public service is assumed).
    pub rendezvous: String,
    /// Internet play: CA certificates (PEM) a TLS rendezvous's certificate may be signed by,
    /// besides the system's roots (a private rendezvous); empty: the system's roots only.
    pub rendezvous_ca_file: String,
    /// Internet play: STUN servers to use besides a rendezvous's own (`stun:host:port`).
    pub stun_servers: Vec<String>,
    /// Internet play: TURN servers to use besides a rendezvous's own.
    pub turn_servers: Vec<TurnServer>,
}

/// A TURN server the player adds (`turn:host:port` or `turns:…`, with its credentials).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TurnServer {
    pub url: String,
    pub username: String,
    pub credential: String,
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
            show_net_overlay: false,
            rendezvous: String::new(),
            rendezvous_ca_file: String::new(),
            stun_servers: Vec::new(),
            turn_servers: Vec::new(),
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

/// What is wrong with the Internet play settings; one line naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InternetSettingsError {
    #[error(
        "rendezvous {0:?} is not host:port or wss://host:port (e.g. rendezvous.example.org:7342)"
    )]
    Rendezvous(String),
    #[error("STUN server {0:?} is not stun:host:port")]
    Stun(String),
    #[error("TURN server {0:?} is not turn:host:port or turns:host:port")]
    TurnUrl(String),
    #[error("TURN server {0:?} needs a username and a credential")]
    TurnCredentials(String),
}

/// `scheme:host:port` (a `?transport=…` allowed after it), the scheme one of `schemes`; a bare
/// `host:port` gets the first scheme. Returns the URL to hand to WebRTC.
fn ice_url(text: &str, schemes: &[&str]) -> Option<String> {
    let text = text.trim();
    let (scheme, rest) = match text.split_once(':') {
        Some((s, r)) if schemes.contains(&s.to_ascii_lowercase().as_str()) => {
            (s.to_ascii_lowercase(), r)
        }
        _ => (schemes[0].to_string(), text),
    };
    let addr = rest.split_once('?').map_or(rest, |(a, _)| a);
    doomlink_play::net::signaling::invite::valid_host_port(addr).then(|| format!("{scheme}:{rest}"))
}

impl Settings {
    /// The Internet play settings, checked, as network play takes them.
    pub fn internet(
        &self,
    ) -> Result<doomlink_play::netplay::InternetOptions, InternetSettingsError> {
        use doomlink_play::net::signaling::IceServer;
        let rv = self.rendezvous.trim();
        let rendezvous = if rv.is_empty() {
            None
        } else {
            match doomlink_play::net::signaling::invite::RendezvousAddr::parse(rv) {
                Ok(a) => Some(a.to_string()),
                Err(_) => return Err(InternetSettingsError::Rendezvous(rv.to_string())),
            }
        };
        let ca = self.rendezvous_ca_file.trim();
        let rendezvous_ca_file = (!ca.is_empty()).then(|| PathBuf::from(ca));
        let mut ice_servers = Vec::new();
        for s in self.stun_servers.iter().filter(|s| !s.trim().is_empty()) {
            let url = ice_url(s, &["stun", "stuns"])
                .ok_or_else(|| InternetSettingsError::Stun(s.trim().to_string()))?;
            ice_servers.push(IceServer {
                urls: vec![url],
                username: String::new(),
                credential: String::new(),
            });
        }
        for t in self
            .turn_servers
            .iter()
            .filter(|t| *t != &TurnServer::default())
        {
            let url = ice_url(&t.url, &["turn", "turns"])
                .ok_or_else(|| InternetSettingsError::TurnUrl(t.url.trim().to_string()))?;
            if t.username.trim().is_empty() || t.credential.is_empty() {
                return Err(InternetSettingsError::TurnCredentials(
                    t.url.trim().to_string(),
                ));
            }
            ice_servers.push(IceServer {
                urls: vec![url],
                username: t.username.trim().to_string(),
                credential: t.credential.clone(),
            });
        }
        Ok(doomlink_play::netplay::InternetOptions {
            rendezvous,
            ice_servers,
            rendezvous_ca_file,
        })
    }
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

    /// Writes the settings whole and owner-only (they can hold TURN credentials and an admin
    /// token): a temporary file, fsynced, renamed.
    pub fn save(&self, path: &Path) -> Result<(), SettingsError> {
        let text = toml::to_string_pretty(self)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| SettingsError::Io(dir.into(), e))?;
        }
        doomlink_play::net::files::write_private(path, text.as_bytes())
            .map_err(|e| SettingsError::Io(path.into(), e))
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

    #[test]
    fn internet_settings_are_checked_and_become_ice_servers() {
        let mut s = Settings::default();
        let none = s.internet().unwrap();
        assert_eq!((none.rendezvous, none.ice_servers.len()), (None, 0));
        s.rendezvous = " 127.0.0.1:7342 ".into();
        s.stun_servers = vec!["stun.example.org:3478".into(), "".into()];
        s.turn_servers = vec![TurnServer {
            url: "turn:turn.example.org:3478?transport=udp".into(),
            username: "me".into(),
            credential: "pw".into(),
        }];
        let o = s.internet().unwrap();
        assert_eq!(o.rendezvous.as_deref(), Some("127.0.0.1:7342"));
        assert_eq!(o.ice_servers[0].urls, ["stun:stun.example.org:3478"]);
        assert_eq!(
            o.ice_servers[1].urls,
            ["turn:turn.example.org:3478?transport=udp"]
        );
        assert_eq!(o.ice_servers[1].username, "me");

        let bad = |f: fn(&mut Settings)| {
            let mut s = Settings::default();
            f(&mut s);
            s.internet().unwrap_err()
        };
        assert!(matches!(
            bad(|s| s.rendezvous = "no port".into()),
            InternetSettingsError::Rendezvous(_)
        ));
        assert!(matches!(
            bad(|s| s.rendezvous = "wss://no-port".into()),
            InternetSettingsError::Rendezvous(_)
        ));
        // A rendezvous that speaks TLS, and its CA file.
        let tls = Settings {
            rendezvous: "https://rv.example.org:443/".into(),
            rendezvous_ca_file: " /etc/doomlink/ca.pem ".into(),
            ..Settings::default()
        };
        let o = tls.internet().unwrap();
        assert_eq!(o.rendezvous.as_deref(), Some("wss://rv.example.org:443"));
        assert_eq!(
            o.rendezvous_ca_file.as_deref(),
            Some(Path::new("/etc/doomlink/ca.pem"))
        );
        assert!(matches!(
            bad(|s| s.stun_servers = vec!["stun:host".into()]),
            InternetSettingsError::Stun(_)
        ));
        assert!(matches!(
            bad(|s| s.turn_servers = vec![TurnServer {
                url: "http://x:1".into(),
                ..Default::default()
            }]),
            InternetSettingsError::TurnUrl(_)
        ));
        assert!(matches!(
            bad(|s| s.turn_servers = vec![TurnServer {
                url: "turns:x:5349".into(),
                ..Default::default()
            }]),
            InternetSettingsError::TurnCredentials(_)
        ));
        // Old settings files (without these fields) still load.
        let old: Settings = toml::from_str("volume = 0.5").unwrap();
        assert_eq!(old.rendezvous, "");
        assert_eq!(old.rendezvous_ca_file, "");
    }
}
