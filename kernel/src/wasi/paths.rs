//! Calls on a path under a preopened directory: open, stat, create, remove, rename, links.

// Each function takes the parameters of its preview1 call, as many as the call has.
#![allow(clippy::too_many_arguments)]

use super::*;

/// The components of `path` relative to the directory `fd` names.
pub(super) fn path_comps(
    m: &dyn GuestMemory,
    p: &ProcCtx,
    fd: i32,
    path: i32,
    len: i32,
) -> Result<Vec<String>, Errno> {
    let text = m.str(path as u32, len as u32)?;
    let base: Vec<String> = match p.fds.get(fd as u32)? {
        FdEntry::Root => Vec::new(),
        FdEntry::Dir { comps, .. } => comps.clone(),
        _ => return Err(Errno::NotDir),
    };
    normalize(&base, &text)
}

/// A path the guest may change: under a read-write host directory or a tree in memory.
enum Writable {
    Host(std::path::PathBuf),
    Mem(MemFs, Vec<String>),
}

fn writable_path(
    m: &dyn GuestMemory,
    p: &ProcCtx,
    fd: i32,
    path: i32,
    len: i32,
) -> Result<Writable, Errno> {
    let comps = path_comps(m, p, fd, path, len)?;
    match p.vfs.resolve(&comps)? {
        Node::Host {
            path,
            writable: true,
        } => Ok(Writable::Host(path)),
        Node::Mem { fs, path } => Ok(Writable::Mem(fs, path)),
        Node::Host { .. } | Node::VirtualDir { .. } | Node::Device(_) | Node::Bytes(_) => {
            Err(Errno::RoFs)
        }
    }
}

pub(super) fn path_open(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    _dirflags: i32,
    path: i32,
    len: i32,
    oflags: i32,
    base: i64,
    _inheriting: i64,
    fdflags: i32,
    fd_out: i32,
) -> SysResult<()> {
    let comps = path_comps(m, p, fd, path, len)?;
    let oflags = oflags as u16;
    let fdflags = fdflags as u16;
    let want_write =
        (base as u64) & RIGHTS_FD_WRITE != 0 || oflags & (OFLAGS_CREAT | OFLAGS_TRUNC) != 0;
    let node = p.vfs.resolve(&comps);
    let entry = match node {
        Ok(Node::Device(dev)) => FdEntry::Device(dev),
        Ok(Node::Bytes(data)) => {
            if oflags & OFLAGS_DIRECTORY != 0 {
                return Err(Errno::NotDir.into());
            }
            if want_write {
                return Err(Errno::RoFs.into());
            }
            FdEntry::Bytes { data, pos: 0 }
        }
        Ok(node @ Node::VirtualDir { .. }) => {
            if want_write {
                return Err(Errno::IsDir.into());
            }
            FdEntry::Dir { comps, node }
        }
        Ok(Node::Mem { fs, path }) => match fs.kind(&path) {
            Some(MemKind::Dir) => {
                if want_write && oflags & OFLAGS_DIRECTORY == 0 {
                    return Err(Errno::IsDir.into());
                }
                FdEntry::Dir {
                    comps,
                    node: Node::Mem { fs, path },
                }
            }
            _ if oflags & OFLAGS_DIRECTORY != 0 => {
                return Err(if fs.kind(&path).is_some() {
                    Errno::NotDir
                } else {
                    Errno::NoEnt
                }
                .into())
            }
            _ => {
                let file = fs.open(
                    &path,
                    OpenFlags {
                        create: oflags & OFLAGS_CREAT != 0,
                        exclusive: oflags & OFLAGS_EXCL != 0,
                        truncate: oflags & OFLAGS_TRUNC != 0,
                    },
                )?;
                let append = fdflags & FDFLAGS_APPEND != 0;
                FdEntry::MemFile {
                    pos: if append { file.len() } else { 0 },
                    file,
                    writable: want_write,
                    append,
                }
            }
        },
        Ok(Node::Host {
            path: host,
            writable,
        }) => {
            let is_dir = std::fs::metadata(&host)
                .map(|md| md.is_dir())
                .unwrap_or(false);
            if is_dir {
                if want_write && oflags & OFLAGS_DIRECTORY == 0 {
                    return Err(Errno::IsDir.into());
                }
                FdEntry::Dir {
                    comps,
                    node: Node::Host {
                        path: host,
                        writable,
                    },
                }
            } else {
                if oflags & OFLAGS_DIRECTORY != 0 {
                    return Err(Errno::NotDir.into());
                }
                if want_write && !writable {
                    return Err(Errno::RoFs.into());
                }
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(want_write)
                    .create(oflags & OFLAGS_CREAT != 0 && oflags & OFLAGS_EXCL == 0)
                    .create_new(oflags & OFLAGS_CREAT != 0 && oflags & OFLAGS_EXCL != 0)
                    .truncate(oflags & OFLAGS_TRUNC != 0)
                    .open(&host)
                    .map_err(Errno::from)?;
                let append = fdflags & FDFLAGS_APPEND != 0;
                let mut file = file;
                if append {
                    file.seek(SeekFrom::End(0)).map_err(Errno::from)?;
                }
                FdEntry::File {
                    file,
                    writable: want_write,
                    append,
                }
            }
        }
        Err(e) => return Err(e.into()),
    };
    let new_fd = p.fds.insert(entry)?;
    Ok(m.write_u32(fd_out as u32, new_fd)?)
}

pub(super) fn path_filestat_get(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    _flags: i32,
    path: i32,
    len: i32,
    out: i32,
) -> SysResult<()> {
    let comps = path_comps(m, p, fd, path, len)?;
    let node = p.vfs.resolve(&comps)?;
    Ok(stat_node(m, out as u32, &node)?)
}

pub(super) fn path_filestat_set_times(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    _: i32,
    path: i32,
    len: i32,
    _: i64,
    _: i64,
    _: i32,
) -> SysResult<()> {
    let comps = path_comps(m, p, fd, path, len)?;
    p.vfs.resolve(&comps)?;
    Ok(())
}

pub(super) fn path_create_directory(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    path: i32,
    len: i32,
) -> SysResult<()> {
    match writable_path(m, p, fd, path, len)? {
        Writable::Host(host) => std::fs::create_dir(host).map_err(Errno::from)?,
        Writable::Mem(fs, path) => fs.mkdir(&path)?,
    }
    Ok(())
}

pub(super) fn path_remove_directory(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    path: i32,
    len: i32,
) -> SysResult<()> {
    match writable_path(m, p, fd, path, len)? {
        Writable::Host(host) => std::fs::remove_dir(host).map_err(Errno::from)?,
        Writable::Mem(fs, path) => fs.rmdir(&path)?,
    }
    Ok(())
}

pub(super) fn path_unlink_file(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    path: i32,
    len: i32,
) -> SysResult<()> {
    let host = match writable_path(m, p, fd, path, len)? {
        Writable::Host(host) => host,
        Writable::Mem(fs, path) => return Ok(fs.unlink(&path)?),
    };
    if std::fs::symlink_metadata(&host)
        .map(|md| md.is_dir())
        .unwrap_or(false)
    {
        return Err(Errno::IsDir.into());
    }
    std::fs::remove_file(host).map_err(Errno::from)?;
    Ok(())
}

pub(super) fn path_rename(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    old: i32,
    old_len: i32,
    fd2: i32,
    new: i32,
    new_len: i32,
) -> SysResult<()> {
    match (
        writable_path(m, p, fd, old, old_len)?,
        writable_path(m, p, fd2, new, new_len)?,
    ) {
        (Writable::Host(from), Writable::Host(to)) => {
            std::fs::rename(from, to).map_err(Errno::from)?
        }
        (Writable::Mem(fs, from), Writable::Mem(fs2, to)) if fs.same(&fs2) => {
            fs.rename(&from, &to)?
        }
        // Between two mounts: as between two file systems.
        _ => return Err(Errno::XDev.into()),
    }
    Ok(())
}

pub(super) fn path_link(
    _: &mut dyn GuestMemory,
    _: &mut ProcCtx,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
) -> SysResult<()> {
    Err(Errno::NotSup.into())
}

pub(super) fn path_symlink(
    _: &mut dyn GuestMemory,
    _: &mut ProcCtx,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
    _: i32,
) -> SysResult<()> {
    // Guests may not make symlinks: a symlink is the classic way out of a sandboxed directory.
    Err(Errno::Perm.into())
}

pub(super) fn path_readlink(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    path: i32,
    len: i32,
    _: i32,
    _: i32,
    _: i32,
) -> SysResult<()> {
    let comps = path_comps(m, p, fd, path, len)?;
    p.vfs.resolve(&comps)?;
    Err(Errno::Inval.into())
}
