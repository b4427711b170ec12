//! Files that hold secrets or state doomlink must find whole: the DTLS identity, the TURN
//! secret, the window's settings, and the private directories for sockets and compiled modules
//! when the platform gives none.
//!
//! Owns one way to write them: a temporary file in the same directory, owner-only (0600) from
//! its creation, written, fsynced, then renamed (or linked, where an existing file must win)
//! over the name and the directory fsynced. A crash leaves the old file or the new one, never
//! half of one, and nobody else can read it at any moment. And one way to take a directory for
//! private files: made 0700 if missing, refused if another user owns it or others may write it
//! (someone could plant a socket or a module there).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Replaces `path` with `data`, owner-only, atomically.
pub fn write_private(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = write_temp(path, data)?;
    let done = std::fs::rename(&tmp, path);
    if done.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    done?;
    sync_dir(path)
}

/// Creates `path` with `data`, owner-only, atomically, unless it exists
/// ([`io::ErrorKind::AlreadyExists`]): of two processes racing to make a key, one wins and
/// the other reads the winner's.
pub fn create_private(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = write_temp(path, data)?;
    let done = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    done?;
    sync_dir(path)
}

/// `dir`, made owner-only (0700) if missing; an error if it is not a directory, another user
/// owns it, or its group or others may write it.
pub fn private_dir(dir: &Path) -> io::Result<PathBuf> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        // symlink_metadata: a symlink planted at the name is not the directory it points to.
        let m = std::fs::symlink_metadata(dir)?;
        let refuse = |why: String| {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{}: {why}; not using it", dir.display()),
            ))
        };
        if !m.is_dir() {
            return refuse("not a directory".into());
        }
        let me = effective_uid()?;
        if m.uid() != me {
            return refuse(format!("owned by uid {}, not {me}", m.uid()));
        }
        if m.permissions().mode() & 0o022 != 0 {
            return refuse(format!(
                "mode {:o}: others may write it",
                m.permissions().mode() & 0o777
            ));
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)?;
    Ok(dir.to_path_buf())
}

/// This process's effective uid, without libc: `/proc/self` belongs to it.
#[cfg(unix)]
pub fn effective_uid() -> io::Result<u32> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata("/proc/self")?.uid())
}

/// A per-user private directory under the temp dir (`/tmp/doomlink-UID/NAME`), for when the
/// platform gives no runtime or cache directory.
#[cfg(unix)]
pub fn private_temp_dir(name: &str) -> io::Result<PathBuf> {
    let user = private_dir(&std::env::temp_dir().join(format!("doomlink-{}", effective_uid()?)))?;
    private_dir(&user.join(name))
}

fn write_temp(path: &Path, data: &[u8]) -> io::Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    // A name of our own: the pid and a counter, so threads and processes never share one.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{n}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut f = o.open(&tmp)?;
    let written = f.write_all(data).and_then(|()| f.sync_all());
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map(|()| tmp)
}

fn sync_dir(path: &Path) -> io::Result<()> {
    // Elsewhere (a browser) there is no directory to sync.
    #[cfg(not(unix))]
    let _ = path;
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dl-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn private_files_are_owner_only_whole_and_leave_no_temp() {
        let d = scratch("write");
        let p = d.join("settings.toml");
        // A file that was world-readable is replaced by an owner-only one.
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&p, b"new").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        assert_eq!(mode(&p), 0o600);
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            1,
            "a temp file was left"
        );
        // create_private never replaces: the first key wins.
        let k = d.join("key");
        create_private(&k, b"first").unwrap();
        let e = create_private(&k, b"second").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&k).unwrap(), b"first");
        assert_eq!(mode(&k), 0o600);
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            2,
            "a temp file was left"
        );
        // Where nothing can be written, an error and nothing else.
        assert!(write_private(&d.join("no/such/dir/x"), b"x").is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_directory_others_could_plant_in_is_refused() {
        let d = scratch("dir");
        let mine = private_dir(&d.join("mine")).unwrap();
        assert_eq!(mode(&mine), 0o700);
        // Taken again: fine.
        private_dir(&mine).unwrap();
        // World-writable (a shared /tmp path someone made first).
        let open = d.join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = private_dir(&open).unwrap_err().to_string();
        assert!(e.contains("others may write"), "{e}");
        // A symlink to a directory of ours is not the directory.
        let link = d.join("link");
        std::os::unix::fs::symlink(&mine, &link).unwrap();
        assert!(private_dir(&link).is_err());
        // Another user's (only root can make one to test with).
        if effective_uid().unwrap() == 0 {
            let theirs = d.join("theirs");
            std::fs::create_dir(&theirs).unwrap();
            std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
            assert_eq!(std::fs::metadata(&theirs).unwrap().uid(), 65534);
            let e = private_dir(&theirs).unwrap_err().to_string();
            assert!(e.contains("owned by uid 65534"), "{e}");
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}
