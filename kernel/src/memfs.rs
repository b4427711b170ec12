//! A writable directory tree held in memory ([`crate::Mount::MemoryDir`]): where a host has no
//! files of its own to lend (a browser), Chocolate Doom's config, saves, demos and temporary
//! files live here. The host keeps a handle ([`MemFs`] is shared) to read what the guest wrote
//! (a recorded demo) or to put files in before it starts.
//!
//! Owns: the tree (directories and files by path), what one open file is ([`MemFile`]: data
//! shared with the tree, so an unlinked file stays readable through its fd, as POSIX has it),
//! and a cap on the bytes it holds in all (ENOSPC past it: a guest cannot fill the host's
//! memory).

use crate::Errno;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The bytes a tree holds by default: a game's config, saves and demos are kilobytes to a few
/// megabytes.
pub const DEFAULT_MEMFS_CAP: usize = 64 << 20;

type Data = Arc<Mutex<Vec<u8>>>;

enum Entry {
    Dir,
    File(Data),
}

struct Tree {
    /// Every directory and file by its components below the tree's root (the root itself is
    /// the empty path and always a directory).
    nodes: BTreeMap<Vec<String>, Entry>,
    /// Bytes held by files (unlinked files still open count until truncated).
    used: usize,
    cap: usize,
}

/// A writable in-memory directory tree; clones share it.
#[derive(Clone)]
pub struct MemFs {
    tree: Arc<Mutex<Tree>>,
}

impl std::fmt::Debug for MemFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = lock(&self.tree);
        write!(f, "{} bytes in memory (cap {})", t.used, t.cap)
    }
}

impl Default for MemFs {
    fn default() -> Self {
        MemFs::new(DEFAULT_MEMFS_CAP)
    }
}

/// What a path in the tree is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemKind {
    Dir,
    File { len: u64 },
}

/// How to open a file ([`MemFs::open`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct OpenFlags {
    pub create: bool,
    pub exclusive: bool,
    pub truncate: bool,
}

fn parent(path: &[String]) -> &[String] {
    &path[..path.len().saturating_sub(1)]
}

impl Tree {
    fn kind(&self, path: &[String]) -> Option<MemKind> {
        if path.is_empty() {
            return Some(MemKind::Dir);
        }
        self.nodes.get(path).map(|e| match e {
            Entry::Dir => MemKind::Dir,
            Entry::File(d) => MemKind::File {
                len: lock(d).len() as u64,
            },
        })
    }

    /// The parent of `path` exists and is a directory (ENOENT / ENOTDIR otherwise).
    fn check_parent(&self, path: &[String]) -> Result<(), Errno> {
        match self.kind(parent(path)) {
            Some(MemKind::Dir) => Ok(()),
            Some(MemKind::File { .. }) => Err(Errno::NotDir),
            None => Err(Errno::NoEnt),
        }
    }

    fn has_children(&self, path: &[String]) -> bool {
        self.nodes
            .range(path.to_vec()..)
            .nth(usize::from(!path.is_empty()))
            .is_some_and(|(p, _)| p.len() > path.len() && p[..path.len()] == *path)
    }
}

impl MemFs {
    /// An empty tree that holds at most `cap` bytes of file data.
    pub fn new(cap: usize) -> Self {
        MemFs {
            tree: Arc::new(Mutex::new(Tree {
                nodes: BTreeMap::new(),
                used: 0,
                cap,
            })),
        }
    }

    /// Whether `other` is this same tree (a rename between two trees is EXDEV).
    pub fn same(&self, other: &MemFs) -> bool {
        Arc::ptr_eq(&self.tree, &other.tree)
    }

    /// What `path` is, if anything.
    pub fn kind(&self, path: &[String]) -> Option<MemKind> {
        lock(&self.tree).kind(path)
    }

    /// Opens (or with `flags.create` makes) the file at `path`.
    pub fn open(&self, path: &[String], flags: OpenFlags) -> Result<MemFile, Errno> {
        let mut t = lock(&self.tree);
        let data = match t.nodes.get(path) {
            _ if path.is_empty() => return Err(Errno::IsDir),
            Some(Entry::Dir) => return Err(Errno::IsDir),
            Some(Entry::File(_)) if flags.create && flags.exclusive => return Err(Errno::Exist),
            Some(Entry::File(d)) => d.clone(),
            None if flags.create => {
                t.check_parent(path)?;
                let d = Data::default();
                t.nodes.insert(path.to_vec(), Entry::File(d.clone()));
                d
            }
            None => {
                t.check_parent(path)?;
                return Err(Errno::NoEnt);
            }
        };
        if flags.truncate {
            let mut d = lock(&data);
            t.used -= d.len().min(t.used);
            d.clear();
            d.shrink_to_fit();
        }
        drop(t);
        Ok(MemFile {
            data,
            fs: self.clone(),
        })
    }

    /// Makes the directory `path` (its parent must exist).
    pub fn mkdir(&self, path: &[String]) -> Result<(), Errno> {
        let mut t = lock(&self.tree);
        if t.kind(path).is_some() {
            return Err(Errno::Exist);
        }
        t.check_parent(path)?;
        t.nodes.insert(path.to_vec(), Entry::Dir);
        Ok(())
    }

    /// Removes the empty directory `path`.
    pub fn rmdir(&self, path: &[String]) -> Result<(), Errno> {
        let mut t = lock(&self.tree);
        match t.kind(path) {
            None => Err(Errno::NoEnt),
            Some(MemKind::File { .. }) => Err(Errno::NotDir),
            // The tree's root is the mount point: not the guest's to remove.
            Some(MemKind::Dir) if path.is_empty() => Err(Errno::Busy),
            Some(MemKind::Dir) if t.has_children(path) => Err(Errno::NotEmpty),
            Some(MemKind::Dir) => {
                t.nodes.remove(path);
                Ok(())
            }
        }
    }

    /// Removes the file `path` (an fd open on it keeps its data until closed).
    pub fn unlink(&self, path: &[String]) -> Result<(), Errno> {
        let mut t = lock(&self.tree);
        match t.nodes.get(path) {
            None => Err(Errno::NoEnt),
            Some(Entry::Dir) => Err(Errno::IsDir),
            Some(Entry::File(d)) => {
                let len = lock(d).len();
                t.used -= len.min(t.used);
                t.nodes.remove(path);
                Ok(())
            }
        }
    }

    /// Moves `from` (a file, or a directory with everything below it) to `to`, replacing a
    /// file there, or an empty directory when `from` is one, as rename(2) does.
    pub fn rename(&self, from: &[String], to: &[String]) -> Result<(), Errno> {
        let mut t = lock(&self.tree);
        let Some(kind) = t.kind(from) else {
            return Err(Errno::NoEnt);
        };
        if from.is_empty() || to.is_empty() {
            return Err(Errno::Busy);
        }
        if from == to {
            return Ok(());
        }
        if to.len() > from.len() && to[..from.len()] == *from {
            // A directory into itself.
            return Err(Errno::Inval);
        }
        t.check_parent(to)?;
        match (kind, t.kind(to)) {
            (_, None) => {}
            (MemKind::Dir, Some(MemKind::File { .. })) => return Err(Errno::NotDir),
            (MemKind::File { .. }, Some(MemKind::Dir)) => return Err(Errno::IsDir),
            (MemKind::Dir, Some(MemKind::Dir)) if t.has_children(to) => {
                return Err(Errno::NotEmpty)
            }
            (_, Some(MemKind::Dir)) => {
                t.nodes.remove(to);
            }
            (_, Some(MemKind::File { len })) => {
                t.used -= (len as usize).min(t.used);
                t.nodes.remove(to);
            }
        }
        let moved: Vec<Vec<String>> = t
            .nodes
            .range(from.to_vec()..)
            .take_while(|(p, _)| p.len() >= from.len() && p[..from.len()] == *from)
            .map(|(p, _)| p.clone())
            .collect();
        for old in moved {
            if let Some(e) = t.nodes.remove(&old) {
                let mut new = to.to_vec();
                new.extend_from_slice(&old[from.len()..]);
                t.nodes.insert(new, e);
            }
        }
        Ok(())
    }

    /// The names in the directory `path` and whether each is a directory, sorted.
    pub fn list(&self, path: &[String]) -> Result<Vec<(String, bool)>, Errno> {
        let t = lock(&self.tree);
        match t.kind(path) {
            None => return Err(Errno::NoEnt),
            Some(MemKind::File { .. }) => return Err(Errno::NotDir),
            Some(MemKind::Dir) => {}
        }
        Ok(t.nodes
            .range(path.to_vec()..)
            .filter(|(p, _)| p.len() == path.len() + 1 && p[..path.len()] == *path)
            .map(|(p, e)| (p[path.len()].clone(), matches!(e, Entry::Dir)))
            .collect())
    }

    /// A copy of the file at `path` (a demo the guest recorded).
    pub fn read(&self, path: &[String]) -> Result<Vec<u8>, Errno> {
        let f = self.open(path, OpenFlags::default())?;
        let data = lock(&f.data).clone();
        Ok(data)
    }

    /// Makes or replaces the file at `path` with `data` (a config the host puts in before the
    /// guest starts).
    pub fn write(&self, path: &[String], data: &[u8]) -> Result<(), Errno> {
        let f = self.open(
            path,
            OpenFlags {
                create: true,
                truncate: true,
                ..Default::default()
            },
        )?;
        f.write_at(data, 0)
    }

    /// Bytes of file data held now.
    pub fn used(&self) -> usize {
        lock(&self.tree).used
    }
}

/// One open file of a [`MemFs`].
#[derive(Clone)]
pub struct MemFile {
    data: Data,
    fs: MemFs,
}

impl MemFile {
    pub fn len(&self) -> u64 {
        lock(&self.data).len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies from offset `at` into `buf`: the bytes copied (0 at or past the end).
    pub fn read_at(&self, buf: &mut [u8], at: u64) -> usize {
        let d = lock(&self.data);
        let from = usize::try_from(at).unwrap_or(usize::MAX).min(d.len());
        let n = buf.len().min(d.len() - from);
        buf[..n].copy_from_slice(&d[from..from + n]);
        n
    }

    /// Writes all of `data` at offset `at`, growing the file (zeros fill a gap). ENOSPC, with
    /// nothing written, when the tree would hold more than its cap.
    pub fn write_at(&self, data: &[u8], at: u64) -> Result<(), Errno> {
        let at = usize::try_from(at).map_err(|_| Errno::FBig)?;
        let end = at.checked_add(data.len()).ok_or(Errno::FBig)?;
        self.resize_with(
            |d| {
                if d.len() < end {
                    d.resize(end, 0);
                }
                d[at..end].copy_from_slice(data);
            },
            end,
        )
    }

    /// Truncates or extends (with zeros) the file to `len` bytes.
    pub fn set_len(&self, len: u64) -> Result<(), Errno> {
        let len = usize::try_from(len).map_err(|_| Errno::FBig)?;
        self.resize_with(|d| d.resize(len, 0), len)
    }

    /// Runs `change` on the data once the tree's cap allows a file of `need` bytes (it only
    /// grows the file to at most that), and accounts for the change in size.
    fn resize_with(&self, change: impl FnOnce(&mut Vec<u8>), need: usize) -> Result<(), Errno> {
        // The tree's lock first, always: the order every path here takes.
        let mut t = lock(&self.fs.tree);
        let mut d = lock(&self.data);
        let old = d.len();
        if need > old && t.used.saturating_add(need - old) > t.cap {
            return Err(Errno::NoSpc);
        }
        change(&mut d);
        let new = d.len();
        t.used = (t.used + new).saturating_sub(old);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(path: &str) -> Vec<String> {
        path.split('/')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect()
    }

    const CREATE: OpenFlags = OpenFlags {
        create: true,
        exclusive: false,
        truncate: false,
    };

    #[test]
    fn files_are_made_written_read_and_listed_under_existing_directories() {
        let fs = MemFs::default();
        assert_eq!(fs.open(&p("saves/a"), CREATE).err(), Some(Errno::NoEnt));
        fs.mkdir(&p("saves")).unwrap();
        assert_eq!(fs.mkdir(&p("saves")), Err(Errno::Exist));
        let f = fs.open(&p("saves/a"), CREATE).unwrap();
        f.write_at(b"hello", 0).unwrap();
        f.write_at(b"!", 7).unwrap();
        assert_eq!(fs.read(&p("saves/a")).unwrap(), b"hello\0\0!");
        let mut buf = [0u8; 4];
        assert_eq!(f.read_at(&mut buf, 6), 2);
        assert_eq!(&buf[..2], b"\0!");
        assert_eq!(f.read_at(&mut buf, 100), 0);
        fs.write(&p("cfg"), b"x").unwrap();
        assert_eq!(
            fs.list(&[]).unwrap(),
            vec![("cfg".to_string(), false), ("saves".to_string(), true)]
        );
        assert_eq!(
            fs.list(&p("saves")).unwrap(),
            vec![("a".to_string(), false)]
        );
        assert_eq!(fs.list(&p("cfg")), Err(Errno::NotDir));
        assert_eq!(fs.kind(&p("saves/a")), Some(MemKind::File { len: 8 }));
        assert_eq!(fs.used(), 9);
        // Exclusive create of what exists, and files under a file.
        let excl = OpenFlags {
            exclusive: true,
            ..CREATE
        };
        assert_eq!(fs.open(&p("cfg"), excl).err(), Some(Errno::Exist));
        assert_eq!(fs.open(&p("cfg/x"), CREATE).err(), Some(Errno::NotDir));
        assert_eq!(fs.open(&p("saves"), CREATE).err(), Some(Errno::IsDir));
    }

    #[test]
    fn rename_moves_files_and_whole_directories_as_rename_2_does() {
        let fs = MemFs::default();
        fs.mkdir(&p("d")).unwrap();
        fs.write(&p("d/temp.dsg"), b"save").unwrap();
        fs.write(&p("d/old.dsg"), b"older save").unwrap();
        // A file over a file: replaced, and the space it held is freed.
        fs.rename(&p("d/temp.dsg"), &p("d/old.dsg")).unwrap();
        assert_eq!(fs.read(&p("d/old.dsg")).unwrap(), b"save");
        assert_eq!(fs.kind(&p("d/temp.dsg")), None);
        assert_eq!(fs.used(), 4);
        // A directory and what is below it.
        fs.rename(&p("d"), &p("e")).unwrap();
        assert_eq!(fs.read(&p("e/old.dsg")).unwrap(), b"save");
        assert_eq!(fs.list(&[]).unwrap(), vec![("e".to_string(), true)]);
        assert_eq!(fs.rename(&p("e"), &p("e/inside")), Err(Errno::Inval));
        assert_eq!(fs.rename(&p("nothing"), &p("x")), Err(Errno::NoEnt));
        fs.mkdir(&p("full")).unwrap();
        fs.write(&p("full/f"), b"").unwrap();
        assert_eq!(fs.rename(&p("e"), &p("full")), Err(Errno::NotEmpty));
        assert_eq!(fs.rename(&p("e/old.dsg"), &p("full")), Err(Errno::IsDir));
        assert_eq!(fs.rename(&p("e"), &p("full/f")), Err(Errno::NotDir));
        assert_eq!(fs.rename(&p("e/old.dsg"), &p("no/such")), Err(Errno::NoEnt));
    }

    #[test]
    fn unlink_and_rmdir_refuse_the_wrong_kind_and_open_files_outlive_their_name() {
        let fs = MemFs::default();
        fs.mkdir(&p("d")).unwrap();
        fs.write(&p("d/f"), b"abc").unwrap();
        assert_eq!(fs.rmdir(&p("d")), Err(Errno::NotEmpty));
        assert_eq!(fs.unlink(&p("d")), Err(Errno::IsDir));
        assert_eq!(fs.rmdir(&p("d/f")), Err(Errno::NotDir));
        assert_eq!(fs.rmdir(&[]), Err(Errno::Busy));
        let open = fs.open(&p("d/f"), OpenFlags::default()).unwrap();
        fs.unlink(&p("d/f")).unwrap();
        assert_eq!(fs.unlink(&p("d/f")), Err(Errno::NoEnt));
        let mut buf = [0u8; 3];
        assert_eq!(open.read_at(&mut buf, 0), 3);
        assert_eq!(&buf, b"abc");
        fs.rmdir(&p("d")).unwrap();
        assert_eq!(fs.list(&[]).unwrap(), vec![]);
    }

    /// A guest that writes without end gets ENOSPC at the cap, with nothing of the refused
    /// write kept, and space comes back when files are truncated or removed.
    #[test]
    fn the_cap_holds_against_a_guest_that_fills_the_tree() {
        let fs = MemFs::new(1000);
        let f = fs.open(&p("big"), CREATE).unwrap();
        f.write_at(&[1; 600], 0).unwrap();
        assert_eq!(f.write_at(&[2; 600], 600), Err(Errno::NoSpc));
        assert_eq!(f.len(), 600);
        // Far past the end: the gap would count too.
        assert_eq!(f.write_at(b"x", 5000), Err(Errno::NoSpc));
        assert!(f.set_len(u64::MAX).is_err());
        assert_eq!(f.write_at(b"x", u64::MAX), Err(Errno::FBig));
        let g = fs.open(&p("other"), CREATE).unwrap();
        assert_eq!(g.write_at(&[3; 500], 0), Err(Errno::NoSpc));
        g.write_at(&[3; 400], 0).unwrap();
        assert_eq!(fs.used(), 1000);
        f.set_len(100).unwrap();
        assert_eq!(fs.used(), 500);
        fs.unlink(&p("other")).unwrap();
        assert_eq!(fs.used(), 100);
        let trunc = OpenFlags {
            truncate: true,
            ..Default::default()
        };
        fs.open(&p("big"), trunc).unwrap();
        assert_eq!(fs.used(), 0);
        f.write_at(&[1; 1000], 0).unwrap();
    }
}
