//! The WADs a joiner received from hosts: stored once, by SHA-256, under the data directory
//! (`wads/<sha256>/<name>`; the name is the host's, a plain file name, kept because Chocolate
//! Doom tells a DEHACKED file from a WAD by it), and found again by hash on the next join.
//!
//! Owns one way to receive a file: [`WadCache::receive`] writes the bytes, in order, to a
//! temporary file beside the cache (owner-only, `.partial-<sha256>-<pid>`), hashing as they
//! come; [`Download::finish`] checks the size and the hash, fsyncs, and renames it into place.
//! The cache never holds part of a file, nor a file whose hash is not its name.
//!
//! A download that merely stops — the host gone, the link dropped, the program quit — keeps its
//! temporary file, and the next [`WadCache::receive`] of the same hash (from any host) resumes
//! it: it rehashes the bytes kept and asks only for the rest. The final SHA-256 check still
//! covers every byte, so a part kept from a lying host fails there and is removed. Anything
//! that shows the bytes are wrong or cannot be stored — a byte out of place, more bytes than
//! announced, a hash that differs, a full disk, or [`Download::discard`] — removes the
//! temporary file. Kept parts older than [`KEEP_PARTS_FOR`], and all but the newest
//! [`MAX_KEPT_PARTS`], are removed when the cache is opened.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use doomlink_net::iwads::hex;
use doomlink_net::relay::wire::{plain_file_name, WadEntry, WadHash};

/// What a joiner accepts from a host unless its settings say otherwise: room for a megawad
/// with its music, not for a disk's worth of junk.
pub const DEFAULT_DOWNLOAD_CAP: u64 = 256 * 1024 * 1024;

const PARTIAL: &str = ".partial-";

/// How a download that stopped ends its one line.
pub const KEPT: &str = "the part received is kept, and the next join resumes it";

/// How long the part of an unfinished download is kept for a later join to resume.
pub const KEEP_PARTS_FOR: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// How many unfinished downloads' parts are kept at most (the newest): each is under the
/// joiner's cap, so this bounds the disk they take.
pub const MAX_KEPT_PARTS: usize = 4;

/// The temporary files of this process's downloads under way: a second download of the same
/// file into the same cache, while one is under way, must not take the first one's file.
static UNDER_WAY: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn under_way() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    UNDER_WAY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Why a file from a host was not stored; each says which file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("{name}: {size} bytes is over the {cap}-byte limit for files from a host; not downloaded (raise it in Settings)")]
    OverCap { name: String, size: u64, cap: u64 },
    #[error("{0}: not a file name a host may give; not downloaded")]
    BadName(String),
    #[error(
        "{name}: the host sent bytes out of place (at {offset}, expected {expected}); nothing kept"
    )]
    BadChunk {
        name: String,
        offset: u64,
        expected: u64,
    },
    #[error("{name}: the host sent a different file (its SHA-256 is not the one announced); nothing kept")]
    HashMismatch { name: String },
    #[error("{name}: the transfer ended at {got} of {size} bytes; {KEPT}")]
    Incomplete { name: String, got: u64, size: u64 },
    #[error("{name}: it is being downloaded already")]
    Busy { name: String },
    #[error("{name}: cannot store it in {dir}: {err}; nothing kept")]
    Disk {
        name: String,
        dir: PathBuf,
        err: io::Error,
    },
}

/// The cache of WADs received from hosts.
#[derive(Debug, Clone)]
pub struct WadCache {
    dir: PathBuf,
    progress: DownloadProgress,
}

/// The download under way, for a screen or a terminal to show: shared with the cache that
/// receives it ([`WadCache::watched`]), empty when none is.
#[derive(Debug, Clone, Default)]
pub struct DownloadProgress(std::sync::Arc<std::sync::Mutex<Option<Progress>>>);

/// How far one download is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub name: String,
    pub received: u64,
    pub size: u64,
}

impl DownloadProgress {
    /// The download under way, if one is.
    pub fn get(&self) -> Option<Progress> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, p: Option<Progress>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = p;
    }

    /// `maps.wad: 12.3 of 21.1 MB`.
    pub fn line(p: &Progress) -> String {
        let mb = |b: u64| b as f64 / 1e6;
        format!("{}: {:.1} of {:.1} MB", p.name, mb(p.received), mb(p.size))
    }
}

impl WadCache {
    /// The cache under `data_dir` (made if missing); temporary files an interrupted download
    /// left are removed.
    pub fn open(data_dir: &Path) -> io::Result<WadCache> {
        let dir = data_dir.join("wads");
        std::fs::create_dir_all(&dir)?;
        // Parts of unfinished downloads, newest first: the recent ones are kept for resuming.
        let mut parts: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&dir)?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(PARTIAL))
            .filter(|e| !is_someone_elses(&e.path()))
            .map(|e| {
                let t = e.metadata().and_then(|m| m.modified());
                (t.unwrap_or(std::time::UNIX_EPOCH), e.path())
            })
            .collect();
        parts.sort_by_key(|p| std::cmp::Reverse(p.0));
        let now = std::time::SystemTime::now();
        let active = under_way();
        for (i, (t, path)) in parts.iter().enumerate() {
            let old = now.duration_since(*t).is_ok_and(|age| age > KEEP_PARTS_FOR);
            if (old || i >= MAX_KEPT_PARTS) && !active.contains(path) {
                let _ = std::fs::remove_file(path);
            }
        }
        drop(active);
        Ok(WadCache {
            dir,
            progress: DownloadProgress::default(),
        })
    }

    /// The same cache, telling `progress` how each download goes.
    pub fn watched(mut self, progress: DownloadProgress) -> WadCache {
        self.progress = progress;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where file `hash` is, if the cache has it (whatever name it came under).
    pub fn find(&self, hash: &WadHash) -> Option<PathBuf> {
        let d = self.dir.join(hex(hash));
        std::fs::read_dir(&d)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.is_file())
    }

    /// Starts receiving `entry` (at most `cap` bytes accepted).
    pub fn receive(&self, entry: &WadEntry, cap: u64) -> Result<Download, DownloadError> {
        if !plain_file_name(&entry.name) {
            return Err(DownloadError::BadName(entry.name.clone()));
        }
        if entry.size > cap {
            return Err(DownloadError::OverCap {
                name: entry.name.clone(),
                size: entry.size,
                cap,
            });
        }
        let tmp = self.dir.join(format!(
            "{PARTIAL}{}-{}",
            hex(&entry.hash),
            std::process::id()
        ));
        let mut active = under_way();
        if active.contains(&tmp) {
            return Err(DownloadError::Busy {
                name: entry.name.clone(),
            });
        }
        let mut dl = Download {
            entry: entry.clone(),
            dir: self.dir.clone(),
            tmp: tmp.clone(),
            file: None,
            hasher: Sha256::new(),
            written: 0,
            resumed_from: 0,
            spoiled: false,
            progress: self.progress.clone(),
        };
        let kept = self.kept_part(&entry.hash, &tmp);
        let resumed = match kept {
            Some(from) => dl.resume(&from),
            None => Ok(false),
        };
        if !resumed.unwrap_or(false) {
            dl.hasher = Sha256::new();
            dl.written = 0;
            dl.file = Some(private_create(&tmp).map_err(|err| self.disk(entry, err))?);
        }
        active.push(tmp);
        drop(active);
        dl.resumed_from = dl.written;
        dl.report();
        Ok(dl)
    }

    /// The part an unfinished download of `hash` kept, if there is one no running download
    /// has: this process's own (`tmp`, not under way), or one a program that has ended left.
    fn kept_part(&self, hash: &WadHash, tmp: &Path) -> Option<PathBuf> {
        if tmp.exists() {
            return Some(tmp.to_path_buf());
        }
        let prefix = format!("{PARTIAL}{}-", hex(hash));
        std::fs::read_dir(&self.dir)
            .ok()?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.path())
            .find(|p| !is_someone_elses(p))
    }

    fn disk(&self, entry: &WadEntry, err: io::Error) -> DownloadError {
        DownloadError::Disk {
            name: entry.name.clone(),
            dir: self.dir.clone(),
            err,
        }
    }
}

/// A file being received. Dropped unfinished, it keeps what it received for the next
/// download of the same file to resume, unless its bytes proved wrong.
#[derive(Debug)]
pub struct Download {
    entry: WadEntry,
    dir: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
    hasher: Sha256,
    written: u64,
    /// Where this download started: the bytes an earlier one kept.
    resumed_from: u64,
    /// Its bytes are wrong or could not be stored: nothing of it is kept.
    spoiled: bool,
    progress: DownloadProgress,
}

impl Download {
    /// Takes over `kept`, the part of an earlier download: rehashes it and appends from its
    /// end. False (and `kept` removed) when it cannot be the start of this file.
    fn resume(&mut self, kept: &Path) -> io::Result<bool> {
        let len = std::fs::metadata(kept)?.len();
        if len == 0 || len > self.entry.size {
            let _ = std::fs::remove_file(kept);
            return Ok(false);
        }
        if kept != self.tmp {
            std::fs::rename(kept, &self.tmp)?;
        }
        let mut read = File::open(&self.tmp)?;
        let hashed = io::copy(&mut read, &mut self.hasher)?;
        if hashed != len {
            let _ = std::fs::remove_file(&self.tmp);
            return Ok(false);
        }
        let file = std::fs::OpenOptions::new().append(true).open(&self.tmp)?;
        self.file = Some(file);
        self.written = len;
        Ok(true)
    }

    /// Where this download started: 0, or the length of the part an earlier one kept.
    pub fn resumed_from(&self) -> u64 {
        self.resumed_from
    }

    /// Ends it keeping nothing: the host's bytes cannot be trusted.
    pub fn discard(mut self) {
        self.spoiled = true;
    }

    fn report(&self) {
        self.progress.set(Some(Progress {
            name: self.entry.name.clone(),
            received: self.written,
            size: self.entry.size,
        }));
    }

    pub fn entry(&self) -> &WadEntry {
        &self.entry
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.written
    }

    /// Appends the bytes at `offset`, which must be where the last ones ended.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), DownloadError> {
        let name = || self.entry.name.clone();
        if offset != self.written || offset + data.len() as u64 > self.entry.size {
            self.spoiled = true;
            return Err(DownloadError::BadChunk {
                name: name(),
                offset,
                expected: self.written,
            });
        }
        let file = self.file.as_mut().expect("open until finished");
        if let Err(err) = file.write_all(data) {
            // A full disk: the part would only hold space the player needs.
            self.spoiled = true;
            return Err(DownloadError::Disk {
                name: name(),
                dir: self.dir.clone(),
                err,
            });
        }
        self.hasher.update(data);
        self.written += data.len() as u64;
        self.report();
        Ok(())
    }

    /// Checks the size and the hash, and moves the file into the cache: its path there.
    pub fn finish(mut self) -> Result<PathBuf, DownloadError> {
        let name = self.entry.name.clone();
        if self.written != self.entry.size {
            return Err(DownloadError::Incomplete {
                name,
                got: self.written,
                size: self.entry.size,
            });
        }
        // From here on, a failure leaves nothing worth resuming.
        self.spoiled = true;
        let got: WadHash = std::mem::take(&mut self.hasher).finalize().into();
        if got != self.entry.hash {
            return Err(DownloadError::HashMismatch { name });
        }
        let disk = |err| DownloadError::Disk {
            name: name.clone(),
            dir: self.dir.clone(),
            err,
        };
        let file = self.file.take().expect("open until finished");
        file.sync_all().map_err(disk)?;
        drop(file);
        let home = self.dir.join(hex(&self.entry.hash));
        std::fs::create_dir_all(&home).map_err(disk)?;
        let dest = home.join(&self.entry.name);
        std::fs::rename(&self.tmp, &dest).map_err(disk)?;
        if let Ok(d) = File::open(&home) {
            let _ = d.sync_all();
        }
        Ok(dest)
    }
}

impl Drop for Download {
    fn drop(&mut self) {
        // Finished or not, it is no longer under way.
        self.progress.set(None);
        under_way().retain(|p| p != &self.tmp);
        // Renamed into place when finished; otherwise kept only to be resumed.
        let keep = !self.spoiled && self.written > 0;
        match self.file.take() {
            Some(f) if keep => {
                let _ = f.sync_data();
            }
            _ => {
                let _ = std::fs::remove_file(&self.tmp);
            }
        }
    }
}

/// Whether `part` (`.partial-<hash>-<pid>`) belongs to another program's download under way.
fn is_someone_elses(part: &Path) -> bool {
    let name = part.file_name().unwrap_or_default().to_string_lossy();
    let pid = name.rsplit('-').next().unwrap_or("");
    let running = !pid.is_empty() && Path::new("/proc").join(pid).exists();
    running && pid != std::process::id().to_string()
}

fn private_create(path: &Path) -> io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("doomlink-wadcache-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn entry(bytes: &[u8], name: &str) -> WadEntry {
        WadEntry {
            hash: Sha256::digest(bytes).into(),
            size: bytes.len() as u64,
            name: name.into(),
            iwad: false,
            offered: true,
        }
    }

    /// Everything under the cache directory, as paths relative to it.
    fn listing(c: &WadCache) -> Vec<String> {
        let mut v = Vec::new();
        for e in std::fs::read_dir(c.dir()).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() {
                for f in std::fs::read_dir(e.path()).unwrap().flatten() {
                    v.push(format!("{n}/{}", f.file_name().to_string_lossy()));
                }
            } else {
                v.push(n);
            }
        }
        v.sort();
        v
    }

    #[test]
    fn a_watched_download_says_how_far_it_is_until_it_ends() {
        let d = scratch("progress");
        let progress = DownloadProgress::default();
        let c = WadCache::open(&d).unwrap().watched(progress.clone());
        let bytes = vec![7u8; 3000];
        let e = entry(&bytes, "maps.wad");
        assert_eq!(progress.get(), None);
        let mut dl = c.receive(&e, 10_000).unwrap();
        dl.write(0, &bytes[..1000]).unwrap();
        let p = progress.get().unwrap();
        assert_eq!(
            (p.name.as_str(), p.received, p.size),
            ("maps.wad", 1000, 3000)
        );
        assert_eq!(DownloadProgress::line(&p), "maps.wad: 0.0 of 0.0 MB");
        dl.write(1000, &bytes[1000..]).unwrap();
        dl.finish().unwrap();
        assert_eq!(progress.get(), None, "done: nothing under way");
        // One that fails is no longer under way either.
        let other = entry(&[1u8; 10], "other.wad");
        let dl = c.receive(&other, 10_000).unwrap();
        assert!(progress.get().is_some());
        drop(dl);
        assert_eq!(progress.get(), None);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_file_received_in_pieces_is_found_again_by_hash() {
        let d = scratch("ok");
        let c = WadCache::open(&d).unwrap();
        let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        let e = entry(&bytes, "maps.wad");
        assert_eq!(c.find(&e.hash), None);
        let mut dl = c.receive(&e, DEFAULT_DOWNLOAD_CAP).unwrap();
        for (i, piece) in bytes.chunks(12_288).enumerate() {
            dl.write((i * 12_288) as u64, piece).unwrap();
        }
        let at = dl.finish().unwrap();
        assert_eq!(std::fs::read(&at).unwrap(), bytes);
        assert_eq!(at.file_name().unwrap(), "maps.wad");
        assert_eq!(c.find(&e.hash), Some(at.clone()));
        assert_eq!(listing(&c), vec![format!("{}/maps.wad", hex(&e.hash))]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&at).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "owner-only");
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_bad_chunk_or_a_wrong_hash_leave_nothing() {
        let d = scratch("bad");
        let c = WadCache::open(&d).unwrap();
        let bytes = vec![7u8; 30_000];
        let e = entry(&bytes, "maps.wad");

        // Bytes out of place.
        let mut dl = c.receive(&e, DEFAULT_DOWNLOAD_CAP).unwrap();
        dl.write(0, &bytes[..100]).unwrap();
        let err = dl.write(200, &bytes[200..300]).unwrap_err();
        assert!(
            matches!(
                err,
                DownloadError::BadChunk {
                    offset: 200,
                    expected: 100,
                    ..
                }
            ),
            "{err}"
        );
        drop(dl);
        assert!(listing(&c).is_empty(), "{:?}", listing(&c));

        // More than announced.
        let mut dl = c.receive(&e, DEFAULT_DOWNLOAD_CAP).unwrap();
        dl.write(0, &bytes).unwrap();
        assert!(matches!(
            dl.write(30_000, &[1]),
            Err(DownloadError::BadChunk { .. })
        ));
        drop(dl);
        assert!(listing(&c).is_empty());

        // The right size, other bytes: a corrupted chunk.
        let mut dl = c.receive(&e, DEFAULT_DOWNLOAD_CAP).unwrap();
        let mut bad = bytes.clone();
        bad[12_345] ^= 1;
        dl.write(0, &bad).unwrap();
        let err = dl.finish().unwrap_err();
        assert!(matches!(err, DownloadError::HashMismatch { .. }), "{err}");
        assert!(err.to_string().contains("maps.wad"), "{err}");
        assert!(listing(&c).is_empty());
        assert_eq!(c.find(&e.hash), None);

        // Bytes out of place after a good start: the good start is not kept either.
        let mut dl = c.receive(&e, DEFAULT_DOWNLOAD_CAP).unwrap();
        dl.write(0, &bytes[..1000]).unwrap();
        assert!(dl.write(999, &bytes[999..1001]).is_err());
        drop(dl);
        assert!(listing(&c).is_empty());
        // A host whose bytes the caller found wrong another way.
        let mut dl = c.receive(&e, DEFAULT_DOWNLOAD_CAP).unwrap();
        dl.write(0, &bytes[..1000]).unwrap();
        dl.discard();
        assert!(listing(&c).is_empty());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_download_that_stops_is_resumed_by_the_next_one() {
        let d = scratch("resume");
        let progress = DownloadProgress::default();
        let c = WadCache::open(&d).unwrap().watched(progress.clone());
        let bytes: Vec<u8> = (0..30_000u32).map(|i| (i % 251) as u8).collect();
        let e = entry(&bytes, "maps.wad");

        // The host gone half-way: finished early, then dropped.
        let mut dl = c.receive(&e, DEFAULT_DOWNLOAD_CAP).unwrap();
        assert_eq!(dl.resumed_from(), 0);
        dl.write(0, &bytes[..1000]).unwrap();
        let err = dl.finish().unwrap_err();
        assert!(
            matches!(
                err,
                DownloadError::Incomplete {
                    got: 1000,
                    size: 30_000,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("resumes"), "{err}");
        assert_eq!(c.find(&e.hash), None, "no part of a file in the cache");
        assert_eq!(listing(&c).len(), 1, "the part kept: {:?}", listing(&c));

        // The next download (a cache opened again, as by the next join) starts where it ended.
        let c = WadCache::open(&d).unwrap().watched(progress.clone());
        let mut dl = c.receive(&e, DEFAULT_DOWNLOAD_CAP).unwrap();
        assert_eq!(dl.resumed_from(), 1000);
        assert_eq!(progress.get().unwrap().received, 1000);
        // While it is under way, a second one of the same file does not take its bytes.
        assert!(matches!(
            c.receive(&e, DEFAULT_DOWNLOAD_CAP),
            Err(DownloadError::Busy { .. })
        ));
        assert!(
            dl.write(0, &bytes[..10]).is_err(),
            "only from where it ended"
        );
        drop(dl);
        assert_eq!(listing(&c), Vec::<String>::new(), "a wrong byte spoils it");
        let mut dl = c.receive(&e, DEFAULT_DOWNLOAD_CAP).unwrap();
        assert_eq!(dl.resumed_from(), 0);
        dl.write(0, &bytes[..20_000]).unwrap();
        drop(dl);
        let mut dl = c.receive(&e, DEFAULT_DOWNLOAD_CAP).unwrap();
        assert_eq!(dl.resumed_from(), 20_000);
        dl.write(20_000, &bytes[20_000..]).unwrap();
        let at = dl.finish().unwrap();
        assert_eq!(std::fs::read(&at).unwrap(), bytes, "rehashed and completed");
        assert_eq!(listing(&c), vec![format!("{}/maps.wad", hex(&e.hash))]);

        // A part kept from a host that sent other bytes fails the final check, and goes.
        let other: Vec<u8> = bytes.iter().map(|b| b ^ 0x55).collect();
        let e2 = entry(&other, "other.wad");
        let mut dl = c.receive(&e2, DEFAULT_DOWNLOAD_CAP).unwrap();
        dl.write(0, &bytes[..5000]).unwrap(); // a lying host's start
        drop(dl);
        let mut dl = c.receive(&e2, DEFAULT_DOWNLOAD_CAP).unwrap();
        assert_eq!(dl.resumed_from(), 5000);
        dl.write(5000, &other[5000..]).unwrap();
        assert!(matches!(
            dl.finish(),
            Err(DownloadError::HashMismatch { .. })
        ));
        assert_eq!(c.find(&e2.hash), None);
        assert_eq!(listing(&c).len(), 1, "{:?}", listing(&c));
        let dl = c.receive(&e2, DEFAULT_DOWNLOAD_CAP).unwrap();
        assert_eq!(dl.resumed_from(), 0, "starts over");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn files_over_the_cap_and_names_that_are_paths_are_refused_before_a_byte() {
        let d = scratch("cap");
        let c = WadCache::open(&d).unwrap();
        let e = entry(&[1; 2000], "big.wad");
        let err = c.receive(&e, 1999).unwrap_err();
        assert!(
            matches!(
                err,
                DownloadError::OverCap {
                    size: 2000,
                    cap: 1999,
                    ..
                }
            ),
            "{err}"
        );
        assert!(c.receive(&e, 2000).is_ok());
        for name in ["../evil.wad", "/tmp/evil.wad", ".bashrc", "a/b.wad"] {
            let e = entry(&[1; 10], name);
            assert!(matches!(
                c.receive(&e, DEFAULT_DOWNLOAD_CAP),
                Err(DownloadError::BadName(_))
            ));
        }
        assert!(listing(&c).is_empty());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_full_disk_is_one_error_and_leaves_nothing() {
        // /dev/full: every write fails with ENOSPC, as a full disk does.
        let full = Path::new("/dev/full");
        if !full.exists() {
            return;
        }
        let d = scratch("full");
        let c = WadCache::open(&d).unwrap();
        let bytes = vec![3u8; 5000];
        let e = entry(&bytes, "maps.wad");
        let mut dl = c.receive(&e, DEFAULT_DOWNLOAD_CAP).unwrap();
        let tmp = dl.tmp.clone();
        dl.file = Some(std::fs::OpenOptions::new().write(true).open(full).unwrap());
        let err = dl.write(0, &bytes).unwrap_err();
        assert!(matches!(err, DownloadError::Disk { .. }), "{err}");
        assert!(err.to_string().contains("No space left"), "{err}");
        drop(dl);
        assert!(!tmp.exists());
        assert!(listing(&c).is_empty());
        let _ = std::fs::remove_dir_all(&d);
    }

    /// A part as a program that has ended left it, last written `age` ago.
    fn left_part(d: &Path, hash: &WadHash, bytes: &[u8], age: std::time::Duration) -> PathBuf {
        std::fs::create_dir_all(d.join("wads")).unwrap();
        // A pid that cannot be running (above the kernel's pid_max).
        let part = d
            .join("wads")
            .join(format!("{PARTIAL}{}-99999999", hex(hash)));
        std::fs::write(&part, bytes).unwrap();
        let f = File::options().write(true).open(&part).unwrap();
        f.set_modified(std::time::SystemTime::now() - age).unwrap();
        part
    }

    #[test]
    fn a_crashed_downloads_part_is_resumed_and_old_or_surplus_parts_are_removed() {
        let d = scratch("left");
        let bytes = vec![9u8; 4000];
        let e = entry(&bytes, "maps.wad");
        let hour = std::time::Duration::from_secs(3600);
        let crashed = left_part(&d, &e.hash, &bytes[..1500], hour);
        let stale = left_part(&d, &[0xab; 32], b"half", KEEP_PARTS_FOR + hour);
        let surplus: Vec<PathBuf> = (0..MAX_KEPT_PARTS as u8)
            .map(|i| left_part(&d, &[i; 32], b"part", hour * (2 + u32::from(i))))
            .collect();
        let c = WadCache::open(&d).unwrap();
        assert!(!stale.exists(), "older than kept for");
        assert!(crashed.exists(), "the newest are kept");
        assert_eq!(
            surplus.iter().filter(|p| p.exists()).count(),
            MAX_KEPT_PARTS - 1
        );
        assert!(
            !surplus.last().unwrap().exists(),
            "the oldest beyond the limit goes"
        );
        let mut dl = c.receive(&e, DEFAULT_DOWNLOAD_CAP).unwrap();
        assert_eq!(dl.resumed_from(), 1500);
        assert!(!crashed.exists(), "taken over by this download");
        dl.write(1500, &bytes[1500..]).unwrap();
        assert_eq!(std::fs::read(dl.finish().unwrap()).unwrap(), bytes);
        // A part longer than the file cannot be its start: it goes, and the download starts over.
        let long = left_part(&d, &e.hash, &[9u8; 5000], hour);
        let e_again = WadEntry {
            name: "again.wad".into(),
            ..e.clone()
        };
        let dl = c.receive(&e_again, DEFAULT_DOWNLOAD_CAP).unwrap();
        assert_eq!(dl.resumed_from(), 0);
        assert!(!long.exists());
        let _ = std::fs::remove_dir_all(&d);
    }
}
