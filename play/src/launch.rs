//! A started game and what it was started from: [`GameSetup`] (a local game's choice, as the
//! Play screen or `doomlink run` makes it), [`Launched`] (the guest and whatever must live as
//! long as it), and [`Hosted`] (a hosted Internet game's invite link, kept with the game).
//! Starting a game on a thread of its own is the window's business; this is what it starts.

use crate::guest::{self, DoomConfig, DoomGuest};
use doomlink_kernel::{GuestModule, Kernel, NoNetwork};
use std::any::Any;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A started guest and whatever must live as long as it (a netgame's relay, for instance).
pub struct Launched {
    pub guest: DoomGuest,
    pub keep_alive: Option<Box<dyn Any + Send>>,
    /// The netgame's network as the lobby and the overlay show it (None: a local game).
    pub net: Option<Arc<dyn crate::netview::NetView>>,
}

/// A local game: what the Play screen or `doomlink run` chose.
#[derive(Debug, Clone, PartialEq)]
pub struct GameSetup {
    pub iwad: PathBuf,
    pub pwads: Vec<PathBuf>,
    /// `-skill N` (1–5), if a map is chosen.
    pub skill: Option<u8>,
    /// `-warp` arguments (`["1", "3"]` or `["7"]`); None: start at the title screen.
    pub warp: Option<Vec<String>>,
    /// End cleanly after this many tics (`doomlink run --tics`).
    pub tics: Option<u32>,
    /// More of Chocolate Doom's own arguments.
    pub args: Vec<String>,
}

impl GameSetup {
    /// The guest configuration for this setup.
    pub fn config(&self, data_dir: PathBuf, audio_rate: Option<u32>) -> DoomConfig {
        let mut args = Vec::new();
        if let Some(warp) = &self.warp {
            if let Some(skill) = self.skill {
                args.push("-skill".to_string());
                args.push(skill.to_string());
            }
            args.push("-warp".to_string());
            args.extend(warp.iter().cloned());
        }
        args.extend(self.args.iter().cloned());
        DoomConfig {
            iwad: self.iwad.clone(),
            pwads: self.pwads.clone(),
            data_dir,
            video: true,
            audio_rate,
            tics: self.tics,
            args,
        }
    }
}

/// What a hosted Internet game keeps alive, with its invite link.
pub struct Hosted {
    /// The `doomlink://join/…` link.
    pub link: String,
    /// The rest: runtime, kernel, network.
    pub keep: Box<dyn Any + Send>,
}

/// The invite link of the game, if it is a hosted Internet game.
pub fn invite_link(launched: &Launched) -> Option<&str> {
    let keep = launched.keep_alive.as_ref()?;
    keep.downcast_ref::<Hosted>().map(|h| h.link.as_str())
}

/// The kernel local games run in, booted once per app.
static LOCAL_KERNEL: Mutex<Option<(Kernel, GuestModule)>> = Mutex::new(None);

pub fn local_kernel() -> Result<(Kernel, GuestModule), String> {
    let mut k = LOCAL_KERNEL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(k) = &*k {
        return Ok(k.clone());
    }
    let booted = guest::boot(Arc::new(NoNetwork)).map_err(|e| format!("{e:#}"))?;
    *k = Some(booted.clone());
    Ok(booted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_becomes_doom_arguments() {
        let s = GameSetup {
            iwad: "/w/freedoom1.wad".into(),
            pwads: vec![],
            skill: Some(4),
            warp: Some(vec!["2".into(), "3".into()]),
            tics: None,
            args: vec!["-fast".into()],
        };
        let c = s.config("/d".into(), Some(48000));
        assert_eq!(c.args, ["-skill", "4", "-warp", "2", "3", "-fast"]);
        assert!(c.video);
        assert_eq!(c.audio_rate, Some(48000));
        let title = GameSetup { warp: None, ..s };
        assert_eq!(title.config("/d".into(), None).args, ["-fast"]);
    }
}
