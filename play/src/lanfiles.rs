//! WADs that travel with a LAN game: the host serves its game's files on the game's port number
//! (doomlink-net's `lan::files`, TCP), and a doomlink joiner asks for the list before its guest
//! starts, fetches what it lacks into its [`WadCache`](crate::wadcache::WadCache) and plays with
//! the host's files. The policy (what is offered, what a joiner takes) is [`crate::wadshare`]'s,
//! the same as for an Internet game. A native Chocolate Doom host has no such service: the
//! joiner then plays with its own files, as before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use doomlink_net::lan::files::{FetchError, FileClient, FileServer, FileSource};
use doomlink_net::relay::wire::WadHash;

use crate::wadcache::KEPT;
use crate::wadshare::{host_files, plan, Downloaded, Fetching, FilesHere, HostFiles, Step};

impl FileSource for HostFiles {
    fn read_at(&self, hash: &WadHash, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        HostFiles::read_at(self, hash, offset, buf)
    }
}

/// Serves the game's files (the IWAD if it is a free one, PWADs and DEHACKED files up to `cap`
/// bytes) on TCP `bind`, until dropped.
pub fn serve_lan_files(
    bind: SocketAddr,
    iwad: &Path,
    pwads: &[PathBuf],
    cap: u64,
) -> Result<FileServer> {
    let (_, list, files) = host_files(iwad, pwads, cap)?;
    FileServer::start(bind, list, Arc::new(files))
        .with_context(|| format!("cannot serve the game's files on TCP {bind}"))
}

/// The names a native client whose WADs differ is told the game plays
/// ([`doomlink_net::lan::LanBridge::name_files_to_native_clients`]): the IWAD's, then the
/// PWADs', in load order.
pub fn game_file_names(iwad: &Path, pwads: &[PathBuf]) -> Vec<String> {
    std::iter::once(iwad)
        .chain(pwads.iter().map(PathBuf::as_path))
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// Asks the host at `server` (its game's address) for its files and fetches what this computer
/// lacks: the game's files, or None when the host serves none (a native Chocolate Doom host).
/// An error is one line naming what cannot be had (the part of a download that merely
/// stopped is kept for the next join to resume).
pub fn fetch_lan_files(server: SocketAddr, f: &Fetching) -> Result<Option<FilesHere>> {
    let Some(mut client) = FileClient::connect(server)? else {
        return Ok(None);
    };
    let list = client.list().to_vec();
    let mut steps = plan(&list, f)?;
    let mut downloaded = Vec::new();
    let started = Instant::now();
    let mut fetched_any = false;
    for step in steps.iter_mut() {
        let Step::Fetch(entry) = step else {
            continue;
        };
        fetched_any = true;
        let mut dl = f.cache.receive(entry, f.cap)?;
        let from = dl.received();
        let fetched = client.fetch(entry, from, |offset: u64, data: &[u8]| {
            Ok(dl.write(offset, data)?)
        });
        match fetched {
            Ok(()) => {}
            // Bytes that could not be stored, or a host that broke the protocol: none kept.
            Err(e @ (FetchError::Protocol(_) | FetchError::Frame(_) | FetchError::Store(_))) => {
                dl.discard();
                bail!("{e}; nothing kept")
            }
            // The host went, stopped answering, or the network failed: what came is kept.
            Err(e) => bail!("{e}; {KEPT}"),
        }
        downloaded.push(Downloaded::of(&dl));
        let path = dl.finish()?;
        *step = Step::Here(path);
    }
    let time = if fetched_any {
        started.elapsed()
    } else {
        Duration::ZERO
    };
    Ok(Some(FilesHere::from_steps(&list, &steps, downloaded, time)))
}
