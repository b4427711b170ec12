//! WADs that travel with an Internet game: the host offers its game's files to joiners who lack
//! them and serves them from disk; a joiner fetches what it lacks into its [`WadCache`] before
//! the host welcomes it, and plays with them. The exchange itself (the file list, requests,
//! order, limits) is doomlink-net's session (`relay::session`'s files module); this owns the
//! files on disk and the policy:
//! - a host sends its PWADs and DEHACKED files up to its cap, and its IWAD only when it is a
//!   free one (Freedoom, FreeDM, known by SHA-256); a commercial IWAD is listed, never sent;
//! - a joiner takes an IWAD only if it is a free one (whatever a host marks as sent), PWADs up
//!   to its own cap, and refuses the join with one line naming what it lacks otherwise;
//! - a file already in the cache, by hash, is not fetched again.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use doomlink_net::iwads::{free_iwad, sha256_file};
use doomlink_net::relay::wire::{truncate_utf8, WadEntry, WadHash, MAX_FILE_NAME_LEN};
use doomlink_net::webrtc::node::WebRtcNode;
use doomlink_net::{ByeReason, CloseReason, Event, LinkId, WadSet};

use crate::iwad::describe;
use crate::wadcache::{Download, WadCache, KEPT};

/// What a host sends a joiner unless told otherwise: as a joiner's default accepts.
pub const DEFAULT_SEND_CAP: u64 = crate::wadcache::DEFAULT_DOWNLOAD_CAP;

/// A joiner without any file for this long in a download gives up on it.
pub const STALL_LIMIT: Duration = Duration::from_secs(15);

/// The host's game files, by hash, for answering joiners' requests.
#[derive(Debug, Default, Clone)]
pub struct HostFiles {
    by_hash: HashMap<WadHash, PathBuf>,
}

/// The game's WADs as the session compares them, the list a joiner who lacks some is told,
/// and the files to serve: the IWAD (sent if free) and the PWADs in load order (sent if at
/// most `cap` bytes).
pub fn host_files(
    iwad: &Path,
    pwads: &[PathBuf],
    cap: u64,
) -> Result<(WadSet, Vec<WadEntry>, HostFiles)> {
    let entry = |p: &Path, is_iwad: bool| -> Result<WadEntry> {
        let hash = sha256_file(p).with_context(|| format!("{}: cannot read it", p.display()))?;
        let size = std::fs::metadata(p)?.len();
        let name = shareable_name(p);
        let offered = if is_iwad {
            free_iwad(&hash).is_some()
        } else {
            size <= cap
        };
        Ok(WadEntry {
            hash,
            size,
            name,
            iwad: is_iwad,
            offered,
        })
    };
    let mut list = vec![entry(iwad, true)?];
    for p in pwads {
        list.push(entry(p, false)?);
    }
    let mut files = HostFiles::default();
    for (e, p) in list
        .iter()
        .zip(std::iter::once(iwad).chain(pwads.iter().map(|p| p.as_path())))
    {
        if e.offered {
            files.by_hash.insert(e.hash, p.to_path_buf());
        }
    }
    let wads = WadSet {
        iwad: list[0].hash,
        pwads: list[1..].iter().map(|e| e.hash).collect(),
    };
    Ok((wads, list, files))
}

/// A file's name as a joiner may store it: its own name if that is a plain one, else
/// `file.wad` (only its extension matters to Chocolate Doom).
fn shareable_name(p: &Path) -> String {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = truncate_utf8(&name, MAX_FILE_NAME_LEN).to_string();
    if doomlink_net::relay::wire::plain_file_name(&name) {
        name
    } else {
        let ext = p
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .filter(|e| e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric()))
            .unwrap_or_else(|| "wad".into());
        format!("file.{ext}")
    }
}

impl HostFiles {
    /// Reads `buf.len()` bytes of the offered file `hash` from `offset`.
    pub fn read_at(&self, hash: &WadHash, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let path = self.by_hash.get(hash).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "a file the host does not send",
            )
        })?;
        let mut f = std::fs::File::open(path)?;
        f.seek(SeekFrom::Start(offset))?;
        f.read_exact(buf)
    }

    /// Answers a joiner's request ([`Event::FileWanted`]) from disk. A file that cannot be read
    /// any more is logged; the joiner's download then stalls and fails with its own message.
    pub fn serve(&self, node: &WebRtcNode, link: LinkId, hash: WadHash, offset: u64, len: u32) {
        let Some(path) = self.by_hash.get(&hash) else {
            return;
        };
        let read = || -> std::io::Result<Vec<u8>> {
            let mut buf = vec![0; len as usize];
            self.read_at(&hash, offset, &mut buf)?;
            Ok(buf)
        };
        match read() {
            Ok(data) => {
                let sent =
                    node.with_session(|s, now| s.send_file_data(now, link, hash, offset, &data));
                if let Err(e) = sent {
                    tracing::warn!(%link, "cannot answer a file request: {e}");
                }
            }
            Err(e) => eprintln!("doomlink: cannot send {} to a joiner: {e}", path.display()),
        }
    }
}

/// What a joiner has, what it may fetch, and where it keeps what it fetched.
#[derive(Debug, Clone)]
pub struct Fetching {
    pub cache: WadCache,
    /// The largest file it accepts, in bytes.
    pub cap: u64,
    /// Its own files (its IWAD and the PWADs it was given), by hash: see [`own_files`].
    pub own: HashMap<WadHash, PathBuf>,
}

/// The files a joiner plays with once the host welcomed it, when the host's list said they
/// differ from the ones it asked with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilesHere {
    /// The host listed its files (the joiner's differed): these are the game's. When false,
    /// the host welcomed the files the joiner asked with.
    pub listed: bool,
    /// The IWAD, when the list was told.
    pub iwad: Option<PathBuf>,
    /// The PWADs, in the host's load order.
    pub pwads: Vec<PathBuf>,
    /// The files downloaded for this join (empty when the cache had them all).
    pub downloaded: Vec<Downloaded>,
    /// From the first request to the last byte checked and stored.
    pub download_time: Duration,
}

impl FilesHere {
    /// The game's files once every step of the host's `list` is [`Step::Here`].
    pub fn from_steps(
        list: &[WadEntry],
        steps: &[Step],
        downloaded: Vec<Downloaded>,
        download_time: Duration,
    ) -> FilesHere {
        let mut here = FilesHere {
            listed: true,
            downloaded,
            download_time,
            ..FilesHere::default()
        };
        for (e, s) in list.iter().zip(steps) {
            match (e.iwad, s) {
                (true, Step::Here(p)) => here.iwad = Some(p.clone()),
                (false, Step::Here(p)) => here.pwads.push(p.clone()),
                _ => {}
            }
        }
        here
    }
}

/// A file downloaded for a join: `maps.wad`, or `maps.wad (resumed at 12.3 MB)` when an
/// earlier download of it had kept its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub name: String,
    pub resumed_from: u64,
}

impl Downloaded {
    pub fn of(dl: &Download) -> Downloaded {
        Downloaded {
            name: dl.entry().name.clone(),
            resumed_from: dl.resumed_from(),
        }
    }
}

impl std::fmt::Display for Downloaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.resumed_from {
            0 => write!(f, "{}", self.name),
            at => write!(f, "{} (resumed at {:.1} MB)", self.name, at as f64 / 1e6),
        }
    }
}

/// What a joiner does with the host's list: for each file, where it is here (the joiner's
/// own files, by hash, then the cache, and for the IWAD the IWAD search), or that it must be
/// fetched; an error naming the first file it can neither find nor fetch.
pub fn plan(list: &[WadEntry], f: &Fetching) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    for e in list {
        // An IWAD may also be where IWADs are kept (a LAN joiner's default IWAD is another).
        let installed = || {
            e.iwad
                .then(|| crate::iwad::iwad_for_host(&e.hash, &e.name, None).ok())
                .flatten()
        };
        let here = f
            .own
            .get(&e.hash)
            .cloned()
            .or_else(|| f.cache.find(&e.hash))
            .or_else(installed);
        if let Some(p) = here {
            steps.push(Step::Here(p));
            continue;
        }
        let what = if e.iwad {
            format!("the IWAD {}", describe(&e.hash, &e.name))
        } else {
            format!("{} ({} bytes)", e.name, e.size)
        };
        if e.iwad && free_iwad(&e.hash).is_none() {
            bail!(
                "the host plays {what}, a commercial IWAD, which is never sent: get that file and \
                 pass it with --iwad"
            );
        }
        if !e.offered {
            bail!("the host plays {what}, which it does not send (over its size limit): get it and pass it with --file");
        }
        if e.size > f.cap {
            bail!(
                "the host plays {what}, over the {} bytes this computer accepts from a host: not downloaded",
                f.cap
            );
        }
        steps.push(Step::Fetch(e.clone()));
    }
    Ok(steps)
}

/// Where one of the host's files comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// On this computer: one of the joiner's own files, or in the cache.
    Here(PathBuf),
    /// To be fetched from the host.
    Fetch(WadEntry),
}

/// A joiner's exchange with the host, fed the session's events in order ([`Exchange::event`]):
/// plans on the list, fetches the missing files one by one into the cache, and says Hello again
/// with the game's WADs once it has them all.
pub struct Exchange {
    fetching: Option<Fetching>,
    list: Vec<WadEntry>,
    steps: Vec<Step>,
    /// The step being fetched, and its download.
    current: Option<(usize, Download)>,
    here: FilesHere,
    last_progress: Instant,
    fetch_started: Option<Instant>,
}

impl Exchange {
    /// An exchange for a joiner that may fetch (`fetching`), or only says what it lacks.
    pub fn new(fetching: Option<Fetching>) -> Exchange {
        Exchange {
            fetching,
            list: Vec::new(),
            steps: Vec::new(),
            current: None,
            here: FilesHere::default(),
            last_progress: Instant::now(),
            fetch_started: None,
        }
    }

    /// Whether a download has stalled past [`STALL_LIMIT`].
    pub fn stalled(&self) -> bool {
        self.current.is_some() && self.last_progress.elapsed() > STALL_LIMIT
    }

    /// The one line for a download that stopped (the host gone without a word), if one is
    /// under way.
    pub fn stopped_download(&self) -> Option<String> {
        let (_, dl) = self.current.as_ref()?;
        Some(format!(
            "the download of {} stopped at {} of {} bytes (the host is gone?); {KEPT}",
            dl.entry().name,
            dl.received(),
            dl.entry().size
        ))
    }

    /// The files to play with, once the exchange is done.
    pub fn files_here(&self) -> FilesHere {
        self.here.clone()
    }

    /// Handles one session event; an error ends the join (a download that merely stopped
    /// keeps its part for the next join to resume; one whose bytes proved wrong keeps nothing).
    pub fn event(&mut self, node: &WebRtcNode, e: &Event) -> Result<()> {
        match e {
            Event::HostWads(list) => {
                let Some(f) = self.fetching.as_ref() else {
                    let names: Vec<String> = list
                        .iter()
                        .map(|e| match e.iwad {
                            true => describe(&e.hash, &e.name),
                            false => format!("{} ({} bytes)", e.name, e.size),
                        })
                        .collect();
                    bail!(
                        "the host plays other files than this computer's: {} (`doomlink join \
                         LINK` fetches what it can)",
                        names.join(", ")
                    );
                };
                self.steps = plan(list, f)?;
                self.list = list.clone();
                self.next(node)
            }
            Event::FileData { offset, data, .. } => {
                let Some((_, dl)) = self.current.as_mut() else {
                    bail!("the host sent file bytes nobody asked for");
                };
                dl.write(*offset, data)?;
                self.last_progress = Instant::now();
                Ok(())
            }
            Event::FileFetched { .. } => {
                let Some((i, dl)) = self.current.take() else {
                    bail!("the host ended a download nobody asked for");
                };
                let done = Downloaded::of(&dl);
                let path = dl.finish()?;
                self.here.downloaded.push(done);
                self.steps[i] = Step::Here(path);
                self.next(node)
            }
            Event::LinkClosed { reason, .. } => match self.current.take() {
                // This end found the host's bytes out of place: none of them is kept.
                Some((_, dl)) if *reason == CloseReason::Refused(ByeReason::ProtocolError) => {
                    let name = dl.entry().name.clone();
                    dl.discard();
                    bail!("the host sent {name} out of order; nothing kept")
                }
                Some((_, dl)) => bail!(
                    "the host went away during the download of {} ({} of {} bytes); {KEPT}",
                    dl.entry().name,
                    dl.received(),
                    dl.entry().size
                ),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// Starts the next fetch, or, with every file here, says Hello again.
    fn next(&mut self, node: &WebRtcNode) -> Result<()> {
        if let Some(i) = self.steps.iter().position(|s| matches!(s, Step::Fetch(_))) {
            let Step::Fetch(entry) = &self.steps[i] else {
                unreachable!("matched above")
            };
            let f = self.fetching.as_ref().context("nothing may be fetched")?;
            let dl = f.cache.receive(entry, f.cap)?;
            let (hash, from) = (entry.hash, dl.received());
            // Stays a Fetch until it is done (then Cached): `next` runs only between fetches.
            self.current = Some((i, dl));
            self.last_progress = Instant::now();
            self.fetch_started.get_or_insert_with(Instant::now);
            node.with_session(|s, now| s.fetch_file(now, hash, from))?;
            return Ok(());
        }
        self.here = FilesHere::from_steps(
            &self.list,
            &self.steps,
            std::mem::take(&mut self.here.downloaded),
            self.fetch_started.map_or(Duration::ZERO, |t| t.elapsed()),
        );
        let wads = WadSet {
            iwad: self
                .list
                .iter()
                .find(|e| e.iwad)
                .map_or([0; 32], |e| e.hash),
            pwads: self
                .list
                .iter()
                .filter(|e| !e.iwad)
                .map(|e| e.hash)
                .collect(),
        };
        node.with_session(|s, now| s.hello_again(now, wads))?;
        Ok(())
    }
}

/// A joiner's own files by hash (its IWAD and the PWADs it was given), for [`Exchange::new`].
pub fn own_files(iwad: &Path, pwads: &[PathBuf]) -> Result<HashMap<WadHash, PathBuf>> {
    let mut own = own_files_of(pwads)?;
    own.extend(own_files_of(&[iwad.to_path_buf()])?);
    Ok(own)
}

/// [`own_files`] for a joiner without an IWAD of its own (a host may send a free one).
pub fn own_files_of(files: &[PathBuf]) -> Result<HashMap<WadHash, PathBuf>> {
    files
        .iter()
        .map(|p| {
            let h = sha256_file(p).with_context(|| format!("{}: cannot read it", p.display()))?;
            Ok((h, p.to_path_buf()))
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn entry(bytes: &[u8], name: &str, iwad: bool, offered: bool) -> WadEntry {
        WadEntry {
            hash: Sha256::digest(bytes).into(),
            size: bytes.len() as u64,
            name: name.into(),
            iwad,
            offered,
        }
    }

    /// A joiner's fetching with nothing of its own and an empty cache in a fresh temporary
    /// directory (returned, for the test to remove), for this module's tests and others'.
    pub(crate) fn fetching(tag: &str, cap: u64) -> (Fetching, PathBuf) {
        let d =
            std::env::temp_dir().join(format!("doomlink-fetching-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let f = Fetching {
            cache: WadCache::open(&d).unwrap(),
            cap,
            own: HashMap::new(),
        };
        (f, d)
    }

    #[test]
    fn a_commercial_iwad_is_never_fetched_whatever_the_host_says() {
        let (f, d) = fetching("commercial", u64::MAX);
        // Not a Freedoom or FreeDM hash, marked as sent by a host that lies.
        let doom2 = entry(b"not freedoom", "doom2.wad", true, true);
        let err = plan(&[doom2], &f).unwrap_err().to_string();
        assert!(
            err.contains("commercial IWAD, which is never sent"),
            "{err}"
        );
        assert!(err.contains("doom2.wad"), "{err}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn what_the_host_does_not_send_or_is_over_the_cap_is_named() {
        let (f, d) = fetching("cap", 100);
        let kept = entry(&[1; 50], "kept.wad", false, false);
        let err = plan(&[kept], &f).unwrap_err().to_string();
        assert!(
            err.contains("kept.wad (50 bytes), which it does not send"),
            "{err}"
        );
        let big = entry(&[2; 101], "big.wad", false, true);
        let err = plan(&[big], &f).unwrap_err().to_string();
        assert!(
            err.contains("big.wad (101 bytes), over the 100 bytes"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn own_files_and_the_cache_come_before_any_download() {
        let (mut f, d) = fetching("here", 1000);
        let own = entry(b"my own pwad", "mine.wad", false, true);
        f.own.insert(own.hash, PathBuf::from("/somewhere/mine.wad"));
        let cached_bytes = b"a cached pwad".to_vec();
        let cached = entry(&cached_bytes, "cached.wad", false, true);
        let mut dl = f.cache.receive(&cached, 1000).unwrap();
        dl.write(0, &cached_bytes).unwrap();
        let cached_at = dl.finish().unwrap();
        let new = entry(b"a new pwad", "new.wad", false, true);
        let steps = plan(&[own.clone(), cached, new.clone()], &f).unwrap();
        assert_eq!(
            steps,
            vec![
                Step::Here(PathBuf::from("/somewhere/mine.wad")),
                Step::Here(cached_at),
                Step::Fetch(new),
            ]
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_host_offers_its_pwads_up_to_its_cap_and_only_a_free_iwad() {
        let d =
            std::env::temp_dir().join(format!("doomlink-wadshare-offer-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let (small, big, iwad) = (d.join("small.wad"), d.join("big.wad"), d.join("doom2.wad"));
        std::fs::write(&small, [1; 10]).unwrap();
        std::fs::write(&big, [2; 11]).unwrap();
        std::fs::write(&iwad, b"IWAD but not a free one").unwrap();
        let (wads, list, files) = host_files(&iwad, &[small.clone(), big.clone()], 10).unwrap();
        assert_eq!(wads.pwads.len(), 2);
        let offered: Vec<(&str, bool, bool)> = list
            .iter()
            .map(|e| (e.name.as_str(), e.iwad, e.offered))
            .collect();
        assert_eq!(
            offered,
            vec![
                ("doom2.wad", true, false),
                ("small.wad", false, true),
                ("big.wad", false, false)
            ]
        );
        assert_eq!(files.by_hash.len(), 1);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn names_that_are_not_plain_are_replaced_keeping_the_extension() {
        assert_eq!(shareable_name(Path::new("/x/maps.wad")), "maps.wad");
        assert_eq!(shareable_name(Path::new("/x/.hidden.deh")), "file.deh");
        assert_eq!(shareable_name(Path::new("/x/bell\u{7}.wad")), "file.wad");
    }
}
