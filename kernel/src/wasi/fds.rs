//! Calls on an open fd: files, directories, devices, stdio (read, write, seek, stat, flags).

// Each function takes the parameters of its preview1 call, as many as the call has.
#![allow(clippy::too_many_arguments)]

use super::*;

pub(super) fn fd_close(_: &mut dyn GuestMemory, p: &mut ProcCtx, fd: i32) -> SysResult<()> {
    if matches!(p.fds.get(fd as u32)?, FdEntry::Root) {
        return Err(Errno::NotSup.into());
    }
    if let FdEntry::Socket(id) = p.fds.remove(fd as u32)? {
        p.shared.sockets.close(id);
    }
    Ok(())
}

pub(super) fn fd_advise(
    _: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    _: i64,
    _: i64,
    _: i32,
) -> SysResult<()> {
    p.fds.get(fd as u32)?;
    Ok(())
}
pub(super) fn fd_allocate(
    _: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    _: i64,
    _: i64,
) -> SysResult<()> {
    p.fds.get(fd as u32)?;
    Ok(())
}
pub(super) fn fd_datasync(m: &mut dyn GuestMemory, p: &mut ProcCtx, fd: i32) -> SysResult<()> {
    fd_sync(m, p, fd)
}
pub(super) fn fd_sync(_: &mut dyn GuestMemory, p: &mut ProcCtx, fd: i32) -> SysResult<()> {
    if let FdEntry::File { file, .. } = p.fds.get(fd as u32)? {
        file.sync_data().map_err(Errno::from)?;
    }
    Ok(())
}

pub(super) fn fd_fdstat_get(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    out: i32,
) -> SysResult<()> {
    let (filetype, flags) = match p.fds.get(fd as u32)? {
        FdEntry::Stdin | FdEntry::Stdout | FdEntry::Stderr | FdEntry::Device(_) => {
            (FILETYPE_CHARACTER_DEVICE, 0)
        }
        FdEntry::Root | FdEntry::Dir { .. } => (FILETYPE_DIRECTORY, 0),
        FdEntry::File { append, .. } | FdEntry::MemFile { append, .. } => (
            FILETYPE_REGULAR_FILE,
            if *append { FDFLAGS_APPEND } else { 0 },
        ),
        FdEntry::Bytes { .. } => (FILETYPE_REGULAR_FILE, 0),
        FdEntry::Socket(id) => {
            let nonblocking = p.shared.sockets.lock().get(*id)?.nonblocking;
            (
                FILETYPE_SOCKET_DGRAM,
                if nonblocking { FDFLAGS_NONBLOCK } else { 0 },
            )
        }
    };
    let out = out as u32;
    m.write_bytes(out, &[0; 24])?;
    m.write_u8(out, filetype)?;
    m.write_u16(out + 2, flags)?;
    m.write_u64(out + 8, RIGHTS_ALL)?;
    m.write_u64(out + 16, RIGHTS_ALL)?;
    Ok(())
}

pub(super) fn fd_fdstat_set_flags(
    _: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    flags: i32,
) -> SysResult<()> {
    let flags = flags as u16;
    match p.fds.get_mut(fd as u32)? {
        FdEntry::Socket(id) => {
            let id = *id;
            p.shared
                .sockets
                .set_nonblocking(id, flags & FDFLAGS_NONBLOCK != 0)?;
        }
        FdEntry::File { append, .. } | FdEntry::MemFile { append, .. } => {
            *append = flags & FDFLAGS_APPEND != 0
        }
        _ => {}
    }
    Ok(())
}

pub(super) fn fd_fdstat_set_rights(
    _: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    _: i64,
    _: i64,
) -> SysResult<()> {
    p.fds.get(fd as u32)?;
    Ok(())
}

/// Writes a preview1 `filestat`.
pub(super) fn write_filestat(
    m: &mut dyn GuestMemory,
    out: u32,
    filetype: u8,
    size: u64,
    meta: Option<&std::fs::Metadata>,
) -> Result<(), Errno> {
    m.write_bytes(out, &[0; 64])?;
    m.write_u64(out + 24, 1)?;
    // Device, inode, links and times where the platform's metadata has them.
    #[cfg(not(unix))]
    let _ = meta;
    #[cfg(unix)]
    if let Some(md) = meta {
        use std::os::unix::fs::MetadataExt;
        m.write_u64(out, md.dev())?;
        m.write_u64(out + 8, md.ino())?;
        m.write_u64(out + 24, md.nlink())?;
        let ns = |s: i64, n: i64| (s.max(0) as u64) * 1_000_000_000 + n.max(0) as u64;
        m.write_u64(out + 40, ns(md.atime(), md.atime_nsec()))?;
        m.write_u64(out + 48, ns(md.mtime(), md.mtime_nsec()))?;
        m.write_u64(out + 56, ns(md.ctime(), md.ctime_nsec()))?;
    }
    m.write_u8(out + 16, filetype)?;
    m.write_u64(out + 32, size)?;
    Ok(())
}

pub(super) fn host_filetype(md: &std::fs::Metadata) -> u8 {
    if md.is_dir() {
        FILETYPE_DIRECTORY
    } else if md.is_file() {
        FILETYPE_REGULAR_FILE
    } else {
        FILETYPE_UNKNOWN
    }
}

pub(super) fn stat_node(m: &mut dyn GuestMemory, out: u32, node: &Node) -> Result<(), Errno> {
    match node {
        Node::VirtualDir { .. } => write_filestat(m, out, FILETYPE_DIRECTORY, 0, None),
        Node::Device(_) => write_filestat(m, out, FILETYPE_CHARACTER_DEVICE, 0, None),
        Node::Bytes(data) => write_filestat(m, out, FILETYPE_REGULAR_FILE, data.len() as u64, None),
        Node::Host { path, .. } => {
            let md = std::fs::metadata(path).map_err(Errno::from)?;
            write_filestat(m, out, host_filetype(&md), md.len(), Some(&md))
        }
        Node::Mem { fs, path } => match fs.kind(path).ok_or(Errno::NoEnt)? {
            MemKind::Dir => write_filestat(m, out, FILETYPE_DIRECTORY, 0, None),
            MemKind::File { len } => write_filestat(m, out, FILETYPE_REGULAR_FILE, len, None),
        },
    }
}

pub(super) fn fd_filestat_get(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    out: i32,
) -> SysResult<()> {
    let out = out as u32;
    match p.fds.get(fd as u32)? {
        FdEntry::File { file, .. } => {
            let md = file.metadata().map_err(Errno::from)?;
            write_filestat(m, out, FILETYPE_REGULAR_FILE, md.len(), Some(&md))?;
        }
        FdEntry::Dir { node, .. } => stat_node(m, out, node)?,
        FdEntry::Bytes { data, .. } => {
            write_filestat(m, out, FILETYPE_REGULAR_FILE, data.len() as u64, None)?
        }
        FdEntry::MemFile { file, .. } => {
            write_filestat(m, out, FILETYPE_REGULAR_FILE, file.len(), None)?
        }
        FdEntry::Root => write_filestat(m, out, FILETYPE_DIRECTORY, 0, None)?,
        FdEntry::Socket(_) => write_filestat(m, out, FILETYPE_SOCKET_DGRAM, 0, None)?,
        _ => write_filestat(m, out, FILETYPE_CHARACTER_DEVICE, 0, None)?,
    }
    Ok(())
}

pub(super) fn file_mut(p: &mut ProcCtx, fd: i32) -> Result<(&mut std::fs::File, bool), Errno> {
    match p.fds.get_mut(fd as u32)? {
        FdEntry::File { file, writable, .. } => Ok((file, *writable)),
        FdEntry::Dir { .. } | FdEntry::Root => Err(Errno::IsDir),
        _ => Err(Errno::SPipe),
    }
}

pub(super) fn fd_filestat_set_size(
    _: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    size: i64,
) -> SysResult<()> {
    if let FdEntry::MemFile { file, writable, .. } = p.fds.get(fd as u32)? {
        if !writable {
            return Err(Errno::BadF.into());
        }
        return Ok(file.set_len(size.max(0) as u64)?);
    }
    let (file, writable) = file_mut(p, fd)?;
    if !writable {
        return Err(Errno::BadF.into());
    }
    file.set_len(size.max(0) as u64).map_err(Errno::from)?;
    Ok(())
}

pub(super) fn fd_filestat_set_times(
    _: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    _: i64,
    _: i64,
    _: i32,
) -> SysResult<()> {
    p.fds.get(fd as u32)?;
    Ok(())
}

pub(super) fn fd_prestat_get(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    out: i32,
) -> SysResult<()> {
    match p.fds.get(fd as u32)? {
        FdEntry::Root => {
            m.write_u32(out as u32, 0)?;
            m.write_u32(out as u32 + 4, 1)?;
            Ok(())
        }
        _ => Err(Errno::BadF.into()),
    }
}

pub(super) fn fd_prestat_dir_name(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    path: i32,
    len: i32,
) -> SysResult<()> {
    match p.fds.get(fd as u32)? {
        FdEntry::Root if len >= 1 => Ok(m.write_bytes(path as u32, b"/")?),
        FdEntry::Root => Err(Errno::NameTooLong.into()),
        _ => Err(Errno::BadF.into()),
    }
}

/// Copies `data` from offset `at` into `iovs` in order; the bytes copied (0 at or past the end).
fn read_bytes(
    m: &mut dyn GuestMemory,
    data: &[u8],
    at: u64,
    iovs: &[(u32, u32)],
) -> Result<u32, Errno> {
    let mut from = usize::try_from(at).unwrap_or(usize::MAX).min(data.len());
    let start = from;
    for &(ptr, len) in iovs {
        let n = (len as usize).min(data.len() - from);
        m.write_bytes(ptr, &data[from..from + n])?;
        from += n;
    }
    Ok((from - start) as u32)
}

pub(super) fn fd_read(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    iovs: i32,
    n: i32,
    out: i32,
) -> SysResult<()> {
    let iovs = m.iovecs(iovs as u32, n as u32)?;
    let mut total = 0u32;
    match p.fds.get_mut(fd as u32)? {
        FdEntry::Stdin => {}
        FdEntry::File { file, .. } => {
            for (ptr, len) in iovs {
                let got = m.fill(ptr, len, &mut |buf| file.read(buf).map_err(Errno::from))?;
                total += got as u32;
                if got < len as usize {
                    break;
                }
            }
        }
        FdEntry::Bytes { data, pos } => {
            total = read_bytes(m, data, *pos, &iovs)?;
            *pos += u64::from(total);
        }
        FdEntry::MemFile { file, pos, .. } => {
            total = read_mem_file(m, file, *pos, &iovs)?;
            *pos += u64::from(total);
        }
        FdEntry::Device(dev) => {
            let dev = dev.clone();
            if let Some(&(ptr, len)) = iovs.iter().find(|(_, l)| *l > 0) {
                total = m.fill(ptr, len, &mut |buf| dev.read(buf))? as u32;
            }
        }
        FdEntry::Socket(id) => {
            let id = *id;
            total = recv_into(m, p, id, &iovs, false)?.0;
        }
        FdEntry::Root | FdEntry::Dir { .. } => return Err(Errno::IsDir.into()),
        FdEntry::Stdout | FdEntry::Stderr => return Err(Errno::BadF.into()),
    }
    Ok(m.write_u32(out as u32, total)?)
}

/// Reads a file of a tree in memory from offset `at` into `iovs` in order: the bytes copied.
fn read_mem_file(
    m: &mut dyn GuestMemory,
    file: &crate::memfs::MemFile,
    mut at: u64,
    iovs: &[(u32, u32)],
) -> Result<u32, Errno> {
    let mut total = 0u32;
    for &(ptr, len) in iovs {
        let got = m.fill(ptr, len, &mut |buf| Ok(file.read_at(buf, at)))?;
        total += got as u32;
        at += got as u64;
        if got < len as usize {
            break;
        }
    }
    Ok(total)
}

/// Writes `iovs` in order into a file of a tree in memory at offset `at`: the bytes written
/// (ENOSPC past the tree's cap, with what fit before it kept, as a short write).
fn write_mem_file(
    m: &dyn GuestMemory,
    file: &crate::memfs::MemFile,
    mut at: u64,
    iovs: &[(u32, u32)],
) -> Result<u32, Errno> {
    let mut total = 0u32;
    for &(ptr, len) in iovs {
        match file.write_at(&m.bytes(ptr, len)?, at) {
            Ok(()) => {}
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        }
        total = total.saturating_add(len);
        at += u64::from(len);
    }
    Ok(total)
}

/// Gathers iovecs into one buffer (one record for a device or a datagram).
/// The most a gathered write to a device copies: more than any device record (a frame is
/// ~64 KiB), far less than a guest could ask for (1024 iovecs, each as large as its memory).
const MAX_DEVICE_GATHER: usize = 1 << 20;

/// The bytes of `iovs` in order, at most `max` of them (the rest is a short write). The bound
/// comes before any allocation: a guest cannot make the host allocate what it asks for.
pub(super) fn gather(
    m: &dyn GuestMemory,
    iovs: &[(u32, u32)],
    max: usize,
) -> Result<Vec<u8>, Errno> {
    let total: usize = iovs.iter().map(|(_, l)| *l as usize).sum();
    let mut v = Vec::with_capacity(total.min(max));
    for &(ptr, len) in iovs {
        let take = (len as usize).min(max - v.len());
        if take == 0 {
            break;
        }
        v.extend_from_slice(&m.bytes(ptr, take as u32)?);
    }
    Ok(v)
}

/// One datagram from `iovs`: EMSGSIZE, before any copy, when it is larger than UDP allows.
pub(super) fn gather_datagram(m: &dyn GuestMemory, iovs: &[(u32, u32)]) -> Result<Vec<u8>, Errno> {
    let total: usize = iovs.iter().map(|(_, l)| *l as usize).sum();
    if total > crate::net::MAX_DGRAM_PAYLOAD {
        return Err(Errno::MsgSize);
    }
    gather(m, iovs, total)
}

pub(super) fn fd_write(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    iovs: i32,
    n: i32,
    out: i32,
) -> SysResult<()> {
    let iovs = m.iovecs(iovs as u32, n as u32)?;
    let mut total = 0u32;
    match p.fds.get_mut(fd as u32)? {
        FdEntry::Stdout | FdEntry::Stderr => {
            let sink = if fd == 1 {
                p.stdout.clone()
            } else {
                p.stderr.clone()
            };
            for &(ptr, len) in &iovs {
                sink.write(&m.bytes(ptr, len)?);
                total = total.saturating_add(len);
            }
        }
        FdEntry::File { file, writable, .. } => {
            if !*writable {
                return Err(Errno::BadF.into());
            }
            for &(ptr, len) in &iovs {
                file.write_all(&m.bytes(ptr, len)?).map_err(Errno::from)?;
                total = total.saturating_add(len);
            }
        }
        FdEntry::MemFile {
            file,
            pos,
            writable,
            append,
        } => {
            if !*writable {
                return Err(Errno::BadF.into());
            }
            if *append {
                *pos = file.len();
            }
            total = write_mem_file(m, file, *pos, &iovs)?;
            *pos += u64::from(total);
        }
        FdEntry::Device(dev) => {
            let dev = dev.clone();
            let nonempty: Vec<_> = iovs.iter().filter(|(_, l)| *l > 0).copied().collect();
            total = match nonempty.as_slice() {
                [] => 0,
                // The common case: one record straight from guest memory (no copy where the
                // host's memory holds it).
                [(ptr, len)] => dev.write(&m.bytes(*ptr, *len)?)? as u32,
                many => dev.write(&gather(m, many, MAX_DEVICE_GATHER)?)? as u32,
            };
        }
        FdEntry::Socket(id) => {
            let id = *id;
            let data = gather_datagram(m, &iovs)?;
            total = p.shared.sockets.sendto(p.pid, id, &data, None)? as u32;
        }
        FdEntry::Stdin | FdEntry::Bytes { .. } => return Err(Errno::BadF.into()),
        FdEntry::Root | FdEntry::Dir { .. } => return Err(Errno::IsDir.into()),
    }
    Ok(m.write_u32(out as u32, total)?)
}

/// A read at an offset that leaves the file's position alone (pread).
#[cfg(unix)]
fn read_at(file: &std::fs::File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, at)
}

/// A write at an offset that leaves the file's position alone (pwrite).
#[cfg(unix)]
fn write_all_at(file: &std::fs::File, data: &[u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, data, at)
}

// Elsewhere (a browser) host files are not the platform's: positional I/O is not offered.
#[cfg(not(unix))]
fn read_at(_: &std::fs::File, _: &mut [u8], _: u64) -> std::io::Result<usize> {
    Err(std::io::ErrorKind::Unsupported.into())
}

#[cfg(not(unix))]
fn write_all_at(_: &std::fs::File, _: &[u8], _: u64) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

pub(super) fn fd_pread(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    iovs: i32,
    n: i32,
    offset: i64,
    out: i32,
) -> SysResult<()> {
    let iovs = m.iovecs(iovs as u32, n as u32)?;
    match p.fds.get(fd as u32)? {
        FdEntry::Bytes { data, .. } => {
            let total = read_bytes(m, data, offset.max(0) as u64, &iovs)?;
            return Ok(m.write_u32(out as u32, total)?);
        }
        FdEntry::MemFile { file, .. } => {
            let total = read_mem_file(m, file, offset.max(0) as u64, &iovs)?;
            return Ok(m.write_u32(out as u32, total)?);
        }
        _ => {}
    }
    let (file, _) = file_mut(p, fd)?;
    let mut at = offset.max(0) as u64;
    let mut total = 0u32;
    for (ptr, len) in iovs {
        let got = m.fill(ptr, len, &mut |buf| {
            read_at(file, buf, at).map_err(Errno::from)
        })?;
        total += got as u32;
        at += got as u64;
        if got < len as usize {
            break;
        }
    }
    Ok(m.write_u32(out as u32, total)?)
}

pub(super) fn fd_pwrite(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    iovs: i32,
    n: i32,
    offset: i64,
    out: i32,
) -> SysResult<()> {
    let iovs = m.iovecs(iovs as u32, n as u32)?;
    if let FdEntry::MemFile { file, writable, .. } = p.fds.get(fd as u32)? {
        if !writable {
            return Err(Errno::BadF.into());
        }
        let total = write_mem_file(m, file, offset.max(0) as u64, &iovs)?;
        return Ok(m.write_u32(out as u32, total)?);
    }
    let (file, writable) = file_mut(p, fd)?;
    if !writable {
        return Err(Errno::BadF.into());
    }
    let mut at = offset.max(0) as u64;
    let mut total = 0u32;
    for (ptr, len) in iovs {
        write_all_at(file, &m.bytes(ptr, len)?, at).map_err(Errno::from)?;
        total += len;
        at += len as u64;
    }
    Ok(m.write_u32(out as u32, total)?)
}

pub(super) fn fd_seek(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    offset: i64,
    whence: i32,
    out: i32,
) -> SysResult<()> {
    let pos = match whence {
        0 => SeekFrom::Start(u64::try_from(offset).map_err(|_| Errno::Inval)?),
        1 => SeekFrom::Current(offset),
        2 => SeekFrom::End(offset),
        _ => return Err(Errno::Inval.into()),
    };
    let in_memory = match p.fds.get_mut(fd as u32)? {
        FdEntry::Bytes { data, pos: at } => Some((data.len() as u64, at)),
        FdEntry::MemFile { file, pos: at, .. } => Some((file.len(), at)),
        _ => None,
    };
    if let Some((len, at)) = in_memory {
        // As lseek(2): any offset at or past the end, none before the start.
        let base = match pos {
            SeekFrom::Start(o) => Some(o),
            SeekFrom::Current(d) => at.checked_add_signed(d),
            SeekFrom::End(d) => len.checked_add_signed(d),
        };
        *at = base.ok_or(Errno::Inval)?;
        let at = *at;
        return Ok(m.write_u64(out as u32, at)?);
    }
    let (file, _) = file_mut(p, fd)?;
    let at = file.seek(pos).map_err(Errno::from)?;
    Ok(m.write_u64(out as u32, at)?)
}

pub(super) fn fd_tell(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    out: i32,
) -> SysResult<()> {
    fd_seek(m, p, fd, 0, 1, out)
}

pub(super) fn fd_renumber(
    _: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    from: i32,
    to: i32,
) -> SysResult<()> {
    if let Some(FdEntry::Socket(id)) = p.fds.renumber(from as u32, to as u32)? {
        p.shared.sockets.close(id);
    }
    Ok(())
}

pub(super) fn fd_readdir(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    buf: i32,
    buf_len: i32,
    cookie: i64,
    used_out: i32,
) -> SysResult<()> {
    let mut entries: Vec<(String, u8)> = vec![
        (".".into(), FILETYPE_DIRECTORY),
        ("..".into(), FILETYPE_DIRECTORY),
    ];
    let node = match p.fds.get(fd as u32)? {
        FdEntry::Dir { node, .. } => node.clone(),
        FdEntry::Root => p.vfs.resolve(&[])?,
        _ => return Err(Errno::NotDir.into()),
    };
    match node {
        Node::VirtualDir { entries: e, .. } => {
            entries.extend(e.into_iter().map(|(n, d)| {
                (
                    n,
                    if d {
                        FILETYPE_DIRECTORY
                    } else {
                        FILETYPE_REGULAR_FILE
                    },
                )
            }));
        }
        Node::Host { path, .. } => {
            let mut names: Vec<(String, u8)> = std::fs::read_dir(&path)
                .map_err(Errno::from)?
                .filter_map(|e| e.ok())
                .map(|e| {
                    let t = e
                        .metadata()
                        .map(|md| host_filetype(&md))
                        .unwrap_or(FILETYPE_UNKNOWN);
                    (e.file_name().to_string_lossy().into_owned(), t)
                })
                .collect();
            names.sort();
            entries.extend(names);
        }
        Node::Mem { fs, path } => {
            entries.extend(fs.list(&path)?.into_iter().map(|(n, d)| {
                (
                    n,
                    if d {
                        FILETYPE_DIRECTORY
                    } else {
                        FILETYPE_REGULAR_FILE
                    },
                )
            }));
        }
        Node::Device(_) | Node::Bytes(_) => return Err(Errno::NotDir.into()),
    }
    // Serialise from `cookie` on; a partly written last entry tells libc to grow its buffer.
    let mut out = Vec::new();
    for (i, (name, t)) in entries.iter().enumerate().skip(cookie.max(0) as usize) {
        out.extend_from_slice(&(i as u64 + 1).to_le_bytes());
        out.extend_from_slice(&(i as u64 + 1).to_le_bytes());
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(&[*t, 0, 0, 0]);
        out.extend_from_slice(name.as_bytes());
        if out.len() >= buf_len as usize {
            break;
        }
    }
    out.truncate(buf_len.max(0) as usize);
    m.write_bytes(buf as u32, &out)?;
    Ok(m.write_u32(used_out as u32, out.len() as u32)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mem::SliceMemory;

    /// 1024 iovecs, each the whole of a 1 MiB memory: 1 GiB asked for.
    fn greedy(m: &mut Vec<u8>) -> Vec<(u32, u32)> {
        m.resize(1 << 20, 7);
        vec![(0, 1 << 20); 1024]
    }

    #[test]
    fn a_gather_larger_than_its_bound_is_cut_before_any_allocation() {
        let mut bytes = Vec::new();
        let iovs = greedy(&mut bytes);
        let m = SliceMemory::new(&mut bytes);
        let v = gather(&m, &iovs, MAX_DEVICE_GATHER).unwrap();
        assert_eq!(v.len(), MAX_DEVICE_GATHER);
        assert!(v.capacity() <= MAX_DEVICE_GATHER);
    }

    #[test]
    fn a_datagram_larger_than_udp_is_emsgsize_and_a_small_one_whole() {
        let mut bytes = Vec::new();
        let iovs = greedy(&mut bytes);
        let m = SliceMemory::new(&mut bytes);
        assert_eq!(gather_datagram(&m, &iovs), Err(Errno::MsgSize));
        let two = [(0, 3), (10, 4)];
        assert_eq!(gather_datagram(&m, &two).unwrap(), vec![7; 7]);
    }
}
