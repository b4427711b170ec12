//! The file namespace a guest sees: host files mounted read-only (IWADs, PWADs), host
//! directories mounted read-only or read-write (config, saves, demos), and `/dev` nodes the host
//! provides, and directory trees held in memory (`memfs`). Paths are resolved lexically from `/`; nothing resolves outside a mount: `..` stops
//! at the root, and a path under a directory mount that leads (through symlinks) outside it is
//! refused with ENOTCAPABLE.

use crate::host::Device;
use crate::memfs::MemFs;
use crate::Errno;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One mount of the guest's namespace.
#[derive(Clone)]
pub enum Mount {
    /// A single host file, read-only, at a guest path (e.g. `/iwad/freedoom1.wad`).
    ReadOnlyFile { guest: String, host: PathBuf },
    /// A host directory, read-only.
    ReadOnlyDir { guest: String, host: PathBuf },
    /// A host directory the guest may change (config, saves, demos).
    ReadWriteDir { guest: String, host: PathBuf },
    /// A file the host holds in memory, read-only, at a guest path: where there are no host
    /// files to mount (a browser's page gives the IWAD it fetched).
    Bytes { guest: String, data: Arc<[u8]> },
    /// A directory tree the host holds in memory, read-write ([`MemFs`]): the guest's config,
    /// saves and demos where there is no host directory to lend (a browser).
    MemoryDir { guest: String, fs: MemFs },
}

impl std::fmt::Debug for Mount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mount::ReadOnlyFile { guest, host } => write!(f, "{guest} = {} (ro)", host.display()),
            Mount::ReadOnlyDir { guest, host } => write!(f, "{guest}/ = {} (ro)", host.display()),
            Mount::ReadWriteDir { guest, host } => write!(f, "{guest}/ = {} (rw)", host.display()),
            // Its length, not its bytes (an IWAD is megabytes).
            Mount::Bytes { guest, data } => write!(f, "{guest} = {} bytes in memory", data.len()),
            Mount::MemoryDir { guest, fs } => write!(f, "{guest}/ = {fs:?} (rw)"),
        }
    }
}

impl Mount {
    fn guest(&self) -> &str {
        match self {
            Mount::ReadOnlyFile { guest, .. }
            | Mount::ReadOnlyDir { guest, .. }
            | Mount::ReadWriteDir { guest, .. }
            | Mount::Bytes { guest, .. }
            | Mount::MemoryDir { guest, .. } => guest,
        }
    }
}

/// What a guest path names.
#[derive(Clone)]
pub enum Node {
    /// A directory that exists only in the namespace (`/`, `/dev`, a mount's parent).
    VirtualDir {
        path: String,
        entries: Vec<(String, bool)>,
    },
    /// A host file or directory under a mount.
    Host { path: PathBuf, writable: bool },
    /// A device node.
    Device(Arc<dyn Device>),
    /// A file held in memory ([`Mount::Bytes`]).
    Bytes(Arc<[u8]>),
    /// A path (which may not exist yet) in a tree held in memory ([`Mount::MemoryDir`]).
    Mem { fs: MemFs, path: Vec<String> },
}

/// The namespace of one process.
#[derive(Clone, Default)]
pub struct Vfs {
    /// Mount points by their components, e.g. ["iwad", "freedoom1.wad"].
    mounts: Vec<(Vec<String>, Mount)>,
    devices: BTreeMap<String, Arc<dyn Device>>,
}

/// Splits a guest path into normalised components, resolving `.` and `..` lexically.
/// `base` is the directory a relative path starts from.
pub fn normalize(base: &[String], path: &str) -> Result<Vec<String>, Errno> {
    if path.len() > 4096 {
        return Err(Errno::NameTooLong);
    }
    let mut out: Vec<String> = if path.starts_with('/') {
        Vec::new()
    } else {
        base.to_vec()
    };
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err(Errno::NotCapable);
                }
            }
            p => out.push(p.to_string()),
        }
    }
    Ok(out)
}

impl Vfs {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn mount(&mut self, mount: Mount) {
        let comps = normalize(&[], mount.guest()).unwrap_or_default();
        self.mounts.push((comps, mount));
        // Longest mount point first, so the most specific mount wins.
        self.mounts.sort_by_key(|m| std::cmp::Reverse(m.0.len()));
    }

    pub fn add_device(&mut self, name: &str, device: Arc<dyn Device>) {
        self.devices.insert(name.to_string(), device);
    }

    /// Resolves normalised components to a node.
    pub fn resolve(&self, comps: &[String]) -> Result<Node, Errno> {
        if comps.len() == 2 && comps[0] == "dev" {
            if let Some(d) = self.devices.get(&comps[1]) {
                return Ok(Node::Device(d.clone()));
            }
            return Err(Errno::NoEnt);
        }
        for (point, mount) in &self.mounts {
            if comps.len() >= point.len() && comps[..point.len()] == point[..] {
                let rest = &comps[point.len()..];
                return match mount {
                    Mount::ReadOnlyFile { host, .. } => {
                        if rest.is_empty() {
                            Ok(Node::Host {
                                path: host.clone(),
                                writable: false,
                            })
                        } else {
                            Err(Errno::NotDir)
                        }
                    }
                    Mount::ReadOnlyDir { host, .. } => Ok(Node::Host {
                        path: confine(host, rest)?,
                        writable: false,
                    }),
                    Mount::ReadWriteDir { host, .. } => Ok(Node::Host {
                        path: confine(host, rest)?,
                        writable: true,
                    }),
                    Mount::Bytes { data, .. } if rest.is_empty() => Ok(Node::Bytes(data.clone())),
                    Mount::Bytes { .. } => Err(Errno::NotDir),
                    Mount::MemoryDir { fs, .. } => Ok(Node::Mem {
                        fs: fs.clone(),
                        path: rest.to_vec(),
                    }),
                };
            }
        }
        // A directory that exists because something is mounted below it.
        let mut entries: Vec<(String, bool)> = Vec::new();
        for (point, _) in &self.mounts {
            if point.len() > comps.len() && point[..comps.len()] == comps[..] {
                let is_dir = point.len() > comps.len() + 1
                    || !matches!(
                        self.mount_at(point),
                        Some(Mount::ReadOnlyFile { .. } | Mount::Bytes { .. })
                    );
                entries.push((point[comps.len()].clone(), is_dir));
            }
        }
        if comps.is_empty() && !self.devices.is_empty() {
            entries.push(("dev".into(), true));
        }
        if comps.len() == 1 && comps[0] == "dev" {
            entries.extend(self.devices.keys().map(|k| (k.clone(), false)));
        }
        if comps.is_empty() || !entries.is_empty() {
            entries.sort();
            entries.dedup();
            return Ok(Node::VirtualDir {
                path: format!("/{}", comps.join("/")),
                entries,
            });
        }
        Err(Errno::NoEnt)
    }

    fn mount_at(&self, point: &[String]) -> Option<&Mount> {
        self.mounts
            .iter()
            .find(|(p, _)| p[..] == point[..])
            .map(|(_, m)| m)
    }
}

/// The host path of `rest` under `root`, refused if it (through symlinks) leaves `root`.
fn confine(root: &Path, rest: &[String]) -> Result<PathBuf, Errno> {
    let mut path = root.to_path_buf();
    for c in rest {
        path.push(c);
    }
    let root_real = root.canonicalize().map_err(Errno::from)?;
    // The deepest part of the path that exists must stay inside the root once resolved.
    let mut probe = path.clone();
    loop {
        if std::fs::symlink_metadata(&probe).is_ok() {
            let real = probe.canonicalize().map_err(|e| match e.kind() {
                // A dangling symlink: refuse rather than let a create follow it.
                std::io::ErrorKind::NotFound => Errno::NotCapable,
                _ => Errno::from(e),
            })?;
            if !real.starts_with(&root_real) {
                return Err(Errno::NotCapable);
            }
            break;
        }
        if !probe.pop() {
            break;
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotdot_cannot_climb_above_root() {
        assert_eq!(normalize(&[], "/a/../b").unwrap(), vec!["b".to_string()]);
        assert_eq!(normalize(&[], "/../etc/passwd"), Err(Errno::NotCapable));
        assert_eq!(
            normalize(&["data".into()], "../../x"),
            Err(Errno::NotCapable)
        );
        assert_eq!(
            normalize(&["data".into()], "x/./y").unwrap(),
            vec!["data", "x", "y"]
        );
    }

    #[test]
    fn symlink_out_of_a_mount_is_refused() {
        let dir = std::env::temp_dir().join(format!("dl-vfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("rw")).unwrap();
        std::os::unix::fs::symlink("/etc", dir.join("rw/out")).unwrap();
        std::os::unix::fs::symlink("/nonexistent-target", dir.join("rw/dangling")).unwrap();
        let mut vfs = Vfs::new();
        vfs.mount(Mount::ReadWriteDir {
            guest: "/data".into(),
            host: dir.join("rw"),
        });
        let r = |p: &str| vfs.resolve(&normalize(&[], p).unwrap()).map(|_| ());
        assert_eq!(r("/data/out/passwd"), Err(Errno::NotCapable));
        assert_eq!(r("/data/dangling"), Err(Errno::NotCapable));
        assert_eq!(r("/data/new-file"), Ok(()));
        assert_eq!(r("/elsewhere"), Err(Errno::NoEnt));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
