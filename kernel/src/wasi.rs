//! The `wasi_snapshot_preview1` functions, implemented over the kernel's own fd table and VFS.
//!
//! wasmtime-wasi keeps its fd table private, so it cannot hold our sockets and devices; the kernel
//! implements the preview1 functions that wasi-libc programs use itself. Each function here takes
//! the guest's memory (checked: EFAULT, never a panic) and the process state, and returns an
//! errno; `register` puts them all into the linker in one place.

use crate::mem::GuestMemory;
use crate::process::{FdEntry, ProcCtx, SysError, SysResult};
use crate::vfs::{normalize, Node};
use crate::Errno;
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wasmtime::{Caller, Linker};

pub const MODULE: &str = "wasi_snapshot_preview1";

// File types, flags and rights (the preview1 witx).
const FILETYPE_UNKNOWN: u8 = 0;
const FILETYPE_CHARACTER_DEVICE: u8 = 2;
const FILETYPE_DIRECTORY: u8 = 3;
const FILETYPE_REGULAR_FILE: u8 = 4;
const FILETYPE_SOCKET_DGRAM: u8 = 5;
const FDFLAGS_APPEND: u16 = 1;
const FDFLAGS_NONBLOCK: u16 = 4;
const OFLAGS_CREAT: u16 = 1;
const OFLAGS_DIRECTORY: u16 = 2;
const OFLAGS_EXCL: u16 = 4;
const OFLAGS_TRUNC: u16 = 8;
const RIGHTS_FD_WRITE: u64 = 1 << 6;
const RIGHTS_ALL: u64 = (1 << 29) - 1;
const CLOCK_REALTIME: u32 = 0;
const CLOCK_MONOTONIC: u32 = 1;
const EVENTTYPE_CLOCK: u8 = 0;
const EVENTTYPE_FD_READ: u8 = 1;
const EVENTTYPE_FD_WRITE: u8 = 2;
const SUBCLOCKFLAGS_ABSTIME: u16 = 1;

/// Runs a syscall body with the guest's memory and the process state borrowed together.
pub fn with_cx<R>(
    caller: &mut Caller<'_, ProcCtx>,
    f: impl FnOnce(&mut GuestMemory, &mut ProcCtx) -> SysResult<R>,
) -> SysResult<R> {
    let memory = caller.data().memory.ok_or(Errno::Fault)?;
    let (bytes, ctx) = memory.data_and_store_mut(caller);
    f(&mut GuestMemory::new(bytes), ctx)
}

/// A guest-ending condition, carried out of wasm as an error the runner recognises.
#[derive(Debug, thiserror::Error)]
pub enum ProcessEnd {
    #[error("exited with status {0}")]
    Exit(i32),
    #[error("killed by the host")]
    Killed,
}

/// Turns a syscall result into preview1's errno return (0 = success).
fn errno_ret(r: SysResult<()>) -> wasmtime::Result<i32> {
    match r {
        Ok(()) => Ok(0),
        Err(SysError::Errno(e)) => Ok(e.code() as i32),
        Err(SysError::Exit(code)) => Err(ProcessEnd::Exit(code).into()),
        Err(SysError::Killed) => Err(ProcessEnd::Killed.into()),
    }
}

macro_rules! register {
    ($linker:expr, $( $name:ident ( $($arg:ident : $ty:ty),* ) ),* $(,)?) => {
        $(
            $linker.func_wrap(MODULE, stringify!($name),
                |mut caller: Caller<'_, ProcCtx>, $($arg: $ty),*| -> wasmtime::Result<i32> {
                    errno_ret(with_cx(&mut caller, |m, p| $name(m, p, $($arg),*)))
                })?;
        )*
    };
}

/// Puts every preview1 function into the linker.
pub fn register(linker: &mut Linker<ProcCtx>) -> wasmtime::Result<()> {
    register!(linker,
        args_get(argv: i32, buf: i32),
        args_sizes_get(argc_out: i32, size_out: i32),
        environ_get(envp: i32, buf: i32),
        environ_sizes_get(count_out: i32, size_out: i32),
        clock_res_get(id: i32, out: i32),
        clock_time_get(id: i32, precision: i64, out: i32),
        fd_advise(fd: i32, offset: i64, len: i64, advice: i32),
        fd_allocate(fd: i32, offset: i64, len: i64),
        fd_close(fd: i32),
        fd_datasync(fd: i32),
        fd_fdstat_get(fd: i32, out: i32),
        fd_fdstat_set_flags(fd: i32, flags: i32),
        fd_fdstat_set_rights(fd: i32, base: i64, inheriting: i64),
        fd_filestat_get(fd: i32, out: i32),
        fd_filestat_set_size(fd: i32, size: i64),
        fd_filestat_set_times(fd: i32, atim: i64, mtim: i64, flags: i32),
        fd_pread(fd: i32, iovs: i32, iovs_len: i32, offset: i64, nread_out: i32),
        fd_pwrite(fd: i32, iovs: i32, iovs_len: i32, offset: i64, nwritten_out: i32),
        fd_prestat_get(fd: i32, out: i32),
        fd_prestat_dir_name(fd: i32, path: i32, len: i32),
        fd_read(fd: i32, iovs: i32, iovs_len: i32, nread_out: i32),
        fd_readdir(fd: i32, buf: i32, buf_len: i32, cookie: i64, used_out: i32),
        fd_renumber(from: i32, to: i32),
        fd_seek(fd: i32, offset: i64, whence: i32, out: i32),
        fd_sync(fd: i32),
        fd_tell(fd: i32, out: i32),
        fd_write(fd: i32, iovs: i32, iovs_len: i32, nwritten_out: i32),
        path_create_directory(fd: i32, path: i32, len: i32),
        path_filestat_get(fd: i32, flags: i32, path: i32, len: i32, out: i32),
        path_filestat_set_times(fd: i32, flags: i32, path: i32, len: i32, atim: i64, mtim: i64, fst: i32),
        path_link(fd: i32, flags: i32, old: i32, old_len: i32, fd2: i32, new: i32, new_len: i32),
        path_open(fd: i32, dirflags: i32, path: i32, len: i32, oflags: i32, base: i64, inheriting: i64, fdflags: i32, fd_out: i32),
        path_readlink(fd: i32, path: i32, len: i32, buf: i32, buf_len: i32, used_out: i32),
        path_remove_directory(fd: i32, path: i32, len: i32),
        path_rename(fd: i32, old: i32, old_len: i32, fd2: i32, new: i32, new_len: i32),
        path_symlink(old: i32, old_len: i32, fd: i32, new: i32, new_len: i32),
        path_unlink_file(fd: i32, path: i32, len: i32),
        poll_oneoff(subs: i32, events: i32, nsubs: i32, nevents_out: i32),
        proc_raise(sig: i32),
        random_get(buf: i32, len: i32),
        sched_yield(),
        sock_accept(fd: i32, flags: i32, fd_out: i32),
        sock_recv(fd: i32, iovs: i32, iovs_len: i32, flags: i32, nread_out: i32, flags_out: i32),
        sock_send(fd: i32, iovs: i32, iovs_len: i32, flags: i32, nwritten_out: i32),
        sock_shutdown(fd: i32, how: i32),
    );
    linker.func_wrap(
        MODULE,
        "proc_exit",
        |_: Caller<'_, ProcCtx>, code: i32| -> wasmtime::Result<()> {
            Err(ProcessEnd::Exit(code).into())
        },
    )?;
    Ok(())
}

// ---- args, environment, clocks, randomness ----

fn write_strings(m: &mut GuestMemory, strs: &[String], ptrs: i32, buf: i32) -> SysResult<()> {
    let mut at = buf as u32;
    for (i, s) in strs.iter().enumerate() {
        m.write_u32(ptrs as u32 + 4 * i as u32, at)?;
        m.write_bytes(at, s.as_bytes())?;
        m.write_u8(at + s.len() as u32, 0)?;
        at += s.len() as u32 + 1;
    }
    Ok(())
}

fn write_sizes(
    m: &mut GuestMemory,
    strs: &[String],
    count_out: i32,
    size_out: i32,
) -> SysResult<()> {
    m.write_u32(count_out as u32, strs.len() as u32)?;
    m.write_u32(
        size_out as u32,
        strs.iter().map(|s| s.len() as u32 + 1).sum(),
    )?;
    Ok(())
}

fn args_get(m: &mut GuestMemory, p: &mut ProcCtx, argv: i32, buf: i32) -> SysResult<()> {
    write_strings(m, &p.args, argv, buf)
}
fn args_sizes_get(m: &mut GuestMemory, p: &mut ProcCtx, c: i32, s: i32) -> SysResult<()> {
    write_sizes(m, &p.args, c, s)
}
fn environ_get(m: &mut GuestMemory, p: &mut ProcCtx, envp: i32, buf: i32) -> SysResult<()> {
    write_strings(m, &p.env, envp, buf)
}
fn environ_sizes_get(m: &mut GuestMemory, p: &mut ProcCtx, c: i32, s: i32) -> SysResult<()> {
    write_sizes(m, &p.env, c, s)
}

fn clock_res_get(m: &mut GuestMemory, _: &mut ProcCtx, id: i32, out: i32) -> SysResult<()> {
    if !(0..=3).contains(&id) {
        return Err(Errno::Inval.into());
    }
    Ok(m.write_u64(out as u32, 1_000)?)
}

/// Nanoseconds on a clock. CPU-time clocks read the monotonic clock since kernel start (a guest
/// has no finer notion of its own CPU time here).
fn now_ns(p: &ProcCtx, id: u32) -> Result<u64, Errno> {
    match id {
        CLOCK_REALTIME => Ok(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)),
        CLOCK_MONOTONIC | 2 | 3 => Ok(p.shared.start.elapsed().as_nanos() as u64),
        _ => Err(Errno::Inval),
    }
}

fn clock_time_get(
    m: &mut GuestMemory,
    p: &mut ProcCtx,
    id: i32,
    _precision: i64,
    out: i32,
) -> SysResult<()> {
    let ns = now_ns(p, id as u32)?;
    Ok(m.write_u64(out as u32, ns)?)
}

fn random_get(m: &mut GuestMemory, _: &mut ProcCtx, buf: i32, len: i32) -> SysResult<()> {
    let dest = m.slice_mut(buf as u32, len as u32)?;
    getrandom::fill(dest).map_err(|_| Errno::Io)?;
    Ok(())
}

fn sched_yield(_: &mut GuestMemory, p: &mut ProcCtx) -> SysResult<()> {
    if p.is_killed() {
        return Err(SysError::Killed);
    }
    std::thread::yield_now();
    Ok(())
}

fn proc_raise(_: &mut GuestMemory, _: &mut ProcCtx, sig: i32) -> SysResult<()> {
    Err(SysError::Exit(128 + sig))
}

// ---- fds ----

fn fd_close(_: &mut GuestMemory, p: &mut ProcCtx, fd: i32) -> SysResult<()> {
    if matches!(p.fds.get(fd as u32)?, FdEntry::Root) {
        return Err(Errno::NotSup.into());
    }
    if let FdEntry::Socket(id) = p.fds.remove(fd as u32)? {
        p.shared.sockets.close(id);
    }
    Ok(())
}

fn fd_advise(
    _: &mut GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    _: i64,
    _: i64,
    _: i32,
) -> SysResult<()> {
    p.fds.get(fd as u32)?;
    Ok(())
}
fn fd_allocate(_: &mut GuestMemory, p: &mut ProcCtx, fd: i32, _: i64, _: i64) -> SysResult<()> {
    p.fds.get(fd as u32)?;
    Ok(())
}
fn fd_datasync(m: &mut GuestMemory, p: &mut ProcCtx, fd: i32) -> SysResult<()> {
    fd_sync(m, p, fd)
}
fn fd_sync(_: &mut GuestMemory, p: &mut ProcCtx, fd: i32) -> SysResult<()> {
    if let FdEntry::File { file, .. } = p.fds.get(fd as u32)? {
        file.sync_data().map_err(Errno::from)?;
    }
    Ok(())
}

fn fd_fdstat_get(m: &mut GuestMemory, p: &mut ProcCtx, fd: i32, out: i32) -> SysResult<()> {
    let (filetype, flags) = match p.fds.get(fd as u32)? {
        FdEntry::Stdin | FdEntry::Stdout | FdEntry::Stderr | FdEntry::Device(_) => {
            (FILETYPE_CHARACTER_DEVICE, 0)
        }
        FdEntry::Root | FdEntry::Dir { .. } => (FILETYPE_DIRECTORY, 0),
        FdEntry::File { append, .. } => (
            FILETYPE_REGULAR_FILE,
            if *append { FDFLAGS_APPEND } else { 0 },
        ),
        FdEntry::Socket(id) => {
            let nonblocking = p.shared.sockets.lock().get(*id)?.nonblocking;
            (
                FILETYPE_SOCKET_DGRAM,
                if nonblocking { FDFLAGS_NONBLOCK } else { 0 },
            )
        }
    };
    let out = out as u32;
    m.slice_mut(out, 24)?.fill(0);
    m.write_u8(out, filetype)?;
    m.write_u16(out + 2, flags)?;
    m.write_u64(out + 8, RIGHTS_ALL)?;
    m.write_u64(out + 16, RIGHTS_ALL)?;
    Ok(())
}

fn fd_fdstat_set_flags(_: &mut GuestMemory, p: &mut ProcCtx, fd: i32, flags: i32) -> SysResult<()> {
    let flags = flags as u16;
    match p.fds.get_mut(fd as u32)? {
        FdEntry::Socket(id) => {
            let id = *id;
            p.shared
                .sockets
                .set_nonblocking(id, flags & FDFLAGS_NONBLOCK != 0)?;
        }
        FdEntry::File { append, .. } => *append = flags & FDFLAGS_APPEND != 0,
        _ => {}
    }
    Ok(())
}

fn fd_fdstat_set_rights(
    _: &mut GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    _: i64,
    _: i64,
) -> SysResult<()> {
    p.fds.get(fd as u32)?;
    Ok(())
}

/// Writes a preview1 `filestat`.
fn write_filestat(
    m: &mut GuestMemory,
    out: u32,
    filetype: u8,
    size: u64,
    meta: Option<&std::fs::Metadata>,
) -> Result<(), Errno> {
    use std::os::unix::fs::MetadataExt;
    m.slice_mut(out, 64)?.fill(0);
    if let Some(md) = meta {
        m.write_u64(out, md.dev())?;
        m.write_u64(out + 8, md.ino())?;
        m.write_u64(out + 24, md.nlink())?;
        let ns = |s: i64, n: i64| (s.max(0) as u64) * 1_000_000_000 + n.max(0) as u64;
        m.write_u64(out + 40, ns(md.atime(), md.atime_nsec()))?;
        m.write_u64(out + 48, ns(md.mtime(), md.mtime_nsec()))?;
        m.write_u64(out + 56, ns(md.ctime(), md.ctime_nsec()))?;
    } else {
        m.write_u64(out + 24, 1)?;
    }
    m.write_u8(out + 16, filetype)?;
    m.write_u64(out + 32, size)?;
    Ok(())
}

fn host_filetype(md: &std::fs::Metadata) -> u8 {
    if md.is_dir() {
        FILETYPE_DIRECTORY
    } else if md.is_file() {
        FILETYPE_REGULAR_FILE
    } else {
        FILETYPE_UNKNOWN
    }
}

fn stat_node(m: &mut GuestMemory, out: u32, node: &Node) -> Result<(), Errno> {
    match node {
        Node::VirtualDir { .. } => write_filestat(m, out, FILETYPE_DIRECTORY, 0, None),
        Node::Device(_) => write_filestat(m, out, FILETYPE_CHARACTER_DEVICE, 0, None),
        Node::Host { path, .. } => {
            let md = std::fs::metadata(path).map_err(Errno::from)?;
            write_filestat(m, out, host_filetype(&md), md.len(), Some(&md))
        }
    }
}

fn fd_filestat_get(m: &mut GuestMemory, p: &mut ProcCtx, fd: i32, out: i32) -> SysResult<()> {
    let out = out as u32;
    match p.fds.get(fd as u32)? {
        FdEntry::File { file, .. } => {
            let md = file.metadata().map_err(Errno::from)?;
            write_filestat(m, out, FILETYPE_REGULAR_FILE, md.len(), Some(&md))?;
        }
        FdEntry::Dir { node, .. } => stat_node(m, out, node)?,
        FdEntry::Root => write_filestat(m, out, FILETYPE_DIRECTORY, 0, None)?,
        FdEntry::Socket(_) => write_filestat(m, out, FILETYPE_SOCKET_DGRAM, 0, None)?,
        _ => write_filestat(m, out, FILETYPE_CHARACTER_DEVICE, 0, None)?,
    }
    Ok(())
}

fn file_mut(p: &mut ProcCtx, fd: i32) -> Result<(&mut std::fs::File, bool), Errno> {
    match p.fds.get_mut(fd as u32)? {
        FdEntry::File { file, writable, .. } => Ok((file, *writable)),
        FdEntry::Dir { .. } | FdEntry::Root => Err(Errno::IsDir),
        _ => Err(Errno::SPipe),
    }
}

fn fd_filestat_set_size(_: &mut GuestMemory, p: &mut ProcCtx, fd: i32, size: i64) -> SysResult<()> {
    let (file, writable) = file_mut(p, fd)?;
    if !writable {
        return Err(Errno::BadF.into());
    }
    file.set_len(size.max(0) as u64).map_err(Errno::from)?;
    Ok(())
}

fn fd_filestat_set_times(
    _: &mut GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    _: i64,
    _: i64,
    _: i32,
) -> SysResult<()> {
    p.fds.get(fd as u32)?;
    Ok(())
}

fn fd_prestat_get(m: &mut GuestMemory, p: &mut ProcCtx, fd: i32, out: i32) -> SysResult<()> {
    match p.fds.get(fd as u32)? {
        FdEntry::Root => {
            m.write_u32(out as u32, 0)?;
            m.write_u32(out as u32 + 4, 1)?;
            Ok(())
        }
        _ => Err(Errno::BadF.into()),
    }
}

fn fd_prestat_dir_name(
    m: &mut GuestMemory,
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

fn fd_read(
    m: &mut GuestMemory,
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
                let got = file.read(m.slice_mut(ptr, len)?).map_err(Errno::from)?;
                total += got as u32;
                if got < len as usize {
                    break;
                }
            }
        }
        FdEntry::Device(dev) => {
            let dev = dev.clone();
            if let Some(&(ptr, len)) = iovs.iter().find(|(_, l)| *l > 0) {
                total = dev.read(m.slice_mut(ptr, len)?)? as u32;
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

/// Gathers iovecs into one buffer (one record for a device or a datagram).
fn gather(m: &GuestMemory, iovs: &[(u32, u32)]) -> Result<Vec<u8>, Errno> {
    let mut v = Vec::with_capacity(iovs.iter().map(|(_, l)| *l as usize).sum());
    for &(ptr, len) in iovs {
        v.extend_from_slice(m.slice(ptr, len)?);
    }
    Ok(v)
}

fn fd_write(
    m: &mut GuestMemory,
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
                sink.write(m.slice(ptr, len)?);
                total += len;
            }
        }
        FdEntry::File { file, writable, .. } => {
            if !*writable {
                return Err(Errno::BadF.into());
            }
            for &(ptr, len) in &iovs {
                file.write_all(m.slice(ptr, len)?).map_err(Errno::from)?;
                total += len;
            }
        }
        FdEntry::Device(dev) => {
            let dev = dev.clone();
            let nonempty: Vec<_> = iovs.iter().filter(|(_, l)| *l > 0).copied().collect();
            total = match nonempty.as_slice() {
                [] => 0,
                // The common case: one record straight from guest memory, no copy.
                [(ptr, len)] => dev.write(m.slice(*ptr, *len)?)? as u32,
                many => dev.write(&gather(m, many)?)? as u32,
            };
        }
        FdEntry::Socket(id) => {
            let id = *id;
            let data = gather(m, &iovs)?;
            total = p.shared.sockets.sendto(p.pid, id, &data, None)? as u32;
        }
        FdEntry::Stdin => return Err(Errno::BadF.into()),
        FdEntry::Root | FdEntry::Dir { .. } => return Err(Errno::IsDir.into()),
    }
    Ok(m.write_u32(out as u32, total)?)
}

fn fd_pread(
    m: &mut GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    iovs: i32,
    n: i32,
    offset: i64,
    out: i32,
) -> SysResult<()> {
    use std::os::unix::fs::FileExt;
    let iovs = m.iovecs(iovs as u32, n as u32)?;
    let (file, _) = file_mut(p, fd)?;
    let mut at = offset.max(0) as u64;
    let mut total = 0u32;
    for (ptr, len) in iovs {
        let got = file
            .read_at(m.slice_mut(ptr, len)?, at)
            .map_err(Errno::from)?;
        total += got as u32;
        at += got as u64;
        if got < len as usize {
            break;
        }
    }
    Ok(m.write_u32(out as u32, total)?)
}

fn fd_pwrite(
    m: &mut GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    iovs: i32,
    n: i32,
    offset: i64,
    out: i32,
) -> SysResult<()> {
    use std::os::unix::fs::FileExt;
    let iovs = m.iovecs(iovs as u32, n as u32)?;
    let (file, writable) = file_mut(p, fd)?;
    if !writable {
        return Err(Errno::BadF.into());
    }
    let mut at = offset.max(0) as u64;
    let mut total = 0u32;
    for (ptr, len) in iovs {
        file.write_all_at(m.slice(ptr, len)?, at)
            .map_err(Errno::from)?;
        total += len;
        at += len as u64;
    }
    Ok(m.write_u32(out as u32, total)?)
}

fn fd_seek(
    m: &mut GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    offset: i64,
    whence: i32,
    out: i32,
) -> SysResult<()> {
    let (file, _) = file_mut(p, fd)?;
    let pos = match whence {
        0 => SeekFrom::Start(u64::try_from(offset).map_err(|_| Errno::Inval)?),
        1 => SeekFrom::Current(offset),
        2 => SeekFrom::End(offset),
        _ => return Err(Errno::Inval.into()),
    };
    let at = file.seek(pos).map_err(Errno::from)?;
    Ok(m.write_u64(out as u32, at)?)
}

fn fd_tell(m: &mut GuestMemory, p: &mut ProcCtx, fd: i32, out: i32) -> SysResult<()> {
    fd_seek(m, p, fd, 0, 1, out)
}

fn fd_renumber(_: &mut GuestMemory, p: &mut ProcCtx, from: i32, to: i32) -> SysResult<()> {
    if let Some(FdEntry::Socket(id)) = p.fds.renumber(from as u32, to as u32)? {
        p.shared.sockets.close(id);
    }
    Ok(())
}

fn fd_readdir(
    m: &mut GuestMemory,
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
        Node::Device(_) => return Err(Errno::NotDir.into()),
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

// ---- paths ----

/// The components of `path` relative to the directory `fd` names.
fn path_comps(
    m: &GuestMemory,
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
    normalize(&base, text)
}

fn writable_host_path(
    m: &GuestMemory,
    p: &ProcCtx,
    fd: i32,
    path: i32,
    len: i32,
) -> Result<std::path::PathBuf, Errno> {
    let comps = path_comps(m, p, fd, path, len)?;
    match p.vfs.resolve(&comps)? {
        Node::Host {
            path,
            writable: true,
        } => Ok(path),
        Node::Host { .. } | Node::VirtualDir { .. } | Node::Device(_) => Err(Errno::RoFs),
    }
}

fn path_open(
    m: &mut GuestMemory,
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
        Ok(node @ Node::VirtualDir { .. }) => {
            if want_write {
                return Err(Errno::IsDir.into());
            }
            FdEntry::Dir { comps, node }
        }
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

fn path_filestat_get(
    m: &mut GuestMemory,
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

fn path_filestat_set_times(
    m: &mut GuestMemory,
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

fn path_create_directory(
    m: &mut GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    path: i32,
    len: i32,
) -> SysResult<()> {
    let host = writable_host_path(m, p, fd, path, len)?;
    std::fs::create_dir(host).map_err(Errno::from)?;
    Ok(())
}

fn path_remove_directory(
    m: &mut GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    path: i32,
    len: i32,
) -> SysResult<()> {
    let host = writable_host_path(m, p, fd, path, len)?;
    std::fs::remove_dir(host).map_err(Errno::from)?;
    Ok(())
}

fn path_unlink_file(
    m: &mut GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    path: i32,
    len: i32,
) -> SysResult<()> {
    let host = writable_host_path(m, p, fd, path, len)?;
    if std::fs::symlink_metadata(&host)
        .map(|md| md.is_dir())
        .unwrap_or(false)
    {
        return Err(Errno::IsDir.into());
    }
    std::fs::remove_file(host).map_err(Errno::from)?;
    Ok(())
}

fn path_rename(
    m: &mut GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    old: i32,
    old_len: i32,
    fd2: i32,
    new: i32,
    new_len: i32,
) -> SysResult<()> {
    let from = writable_host_path(m, p, fd, old, old_len)?;
    let to = writable_host_path(m, p, fd2, new, new_len)?;
    std::fs::rename(from, to).map_err(Errno::from)?;
    Ok(())
}

fn path_link(
    _: &mut GuestMemory,
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

fn path_symlink(
    _: &mut GuestMemory,
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

fn path_readlink(
    m: &mut GuestMemory,
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

// ---- sockets through preview1's own calls ----

/// Receives one datagram into iovecs; returns (bytes, truncated).
pub fn recv_into(
    m: &mut GuestMemory,
    p: &ProcCtx,
    id: crate::net::SocketId,
    iovs: &[(u32, u32)],
    peek: bool,
) -> SysResult<(u32, bool)> {
    let dgram = p
        .shared
        .sockets
        .recvfrom(id, peek, false, p.killed.as_ref())
        .map_err(|e| match e {
            Errno::Intr if p.is_killed() => SysError::Killed,
            e => SysError::Errno(e),
        })?;
    let mut at = 0usize;
    for &(ptr, len) in iovs {
        let n = (len as usize).min(dgram.data.len() - at);
        m.write_bytes(ptr, &dgram.data[at..at + n])?;
        at += n;
    }
    Ok((at as u32, at < dgram.data.len()))
}

fn socket_of(p: &ProcCtx, fd: i32) -> Result<crate::net::SocketId, Errno> {
    match p.fds.get(fd as u32)? {
        FdEntry::Socket(id) => Ok(*id),
        _ => Err(Errno::NotSock),
    }
}

fn sock_accept(_: &mut GuestMemory, p: &mut ProcCtx, fd: i32, _: i32, _: i32) -> SysResult<()> {
    socket_of(p, fd)?;
    Err(Errno::NotSup.into())
}

fn sock_recv(
    m: &mut GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    iovs: i32,
    n: i32,
    flags: i32,
    nread_out: i32,
    flags_out: i32,
) -> SysResult<()> {
    let id = socket_of(p, fd)?;
    let iovs = m.iovecs(iovs as u32, n as u32)?;
    let (got, truncated) = recv_into(m, p, id, &iovs, flags & 1 != 0)?;
    m.write_u32(nread_out as u32, got)?;
    Ok(m.write_u16(flags_out as u32, if truncated { 1 } else { 0 })?)
}

fn sock_send(
    m: &mut GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    iovs: i32,
    n: i32,
    _flags: i32,
    out: i32,
) -> SysResult<()> {
    let id = socket_of(p, fd)?;
    let iovs = m.iovecs(iovs as u32, n as u32)?;
    let data = gather(m, &iovs)?;
    let sent = p.shared.sockets.sendto(p.pid, id, &data, None)?;
    Ok(m.write_u32(out as u32, sent as u32)?)
}

fn sock_shutdown(_: &mut GuestMemory, p: &mut ProcCtx, fd: i32, _: i32) -> SysResult<()> {
    socket_of(p, fd)?;
    Err(Errno::NotSup.into())
}

// ---- poll_oneoff: clocks and fds together ----

enum Sub {
    Clock { userdata: u64, deadline: Instant },
    Fd { userdata: u64, fd: u32, read: bool },
}

fn poll_oneoff(
    m: &mut GuestMemory,
    p: &mut ProcCtx,
    subs: i32,
    events: i32,
    nsubs: i32,
    nevents_out: i32,
) -> SysResult<()> {
    if nsubs <= 0 || nsubs > 4096 {
        return Err(Errno::Inval.into());
    }
    let now = Instant::now();
    let mut list = Vec::with_capacity(nsubs as usize);
    for i in 0..nsubs as u32 {
        let at = (subs as u32).checked_add(i * 48).ok_or(Errno::Fault)?;
        let userdata = m.read_u64(at)?;
        let tag = m.slice(at + 8, 1)?[0];
        match tag {
            EVENTTYPE_CLOCK => {
                let id = m.read_u32(at + 16)?;
                let timeout = m.read_u64(at + 24)?;
                let flags = m.read_u16(at + 40)?;
                let wait = if flags & SUBCLOCKFLAGS_ABSTIME != 0 {
                    timeout.saturating_sub(now_ns(p, id)?)
                } else {
                    timeout
                };
                let deadline = now
                    .checked_add(Duration::from_nanos(wait))
                    .unwrap_or(now + Duration::from_secs(86400 * 365));
                list.push(Sub::Clock { userdata, deadline });
            }
            EVENTTYPE_FD_READ | EVENTTYPE_FD_WRITE => {
                let fd = m.read_u32(at + 16)?;
                list.push(Sub::Fd {
                    userdata,
                    fd,
                    read: tag == EVENTTYPE_FD_READ,
                });
            }
            _ => return Err(Errno::Inval.into()),
        }
    }
    let deadline = list
        .iter()
        .filter_map(|s| match s {
            Sub::Clock { deadline, .. } => Some(*deadline),
            _ => None,
        })
        .min();
    let has_devices = list.iter().any(
        |s| matches!(s, Sub::Fd { fd, .. } if matches!(p.fds.get(*fd), Ok(FdEntry::Device(_)))),
    );
    loop {
        // (userdata, errno, type, nbytes)
        let mut ready: Vec<(u64, u16, u8, u64)> = Vec::new();
        let now = Instant::now();
        for s in &list {
            match *s {
                Sub::Clock { userdata, deadline } => {
                    if now >= deadline {
                        ready.push((userdata, 0, EVENTTYPE_CLOCK, 0));
                    }
                }
                Sub::Fd { userdata, fd, read } => {
                    let kind = if read {
                        EVENTTYPE_FD_READ
                    } else {
                        EVENTTYPE_FD_WRITE
                    };
                    match p.fds.get(fd) {
                        Err(e) => ready.push((userdata, e.code(), kind, 0)),
                        Ok(FdEntry::Socket(id)) if read => {
                            let queued = p
                                .shared
                                .sockets
                                .lock()
                                .get(*id)
                                .map(|s| s.queue.front().map(|d| d.data.len() as u64));
                            match queued {
                                Ok(Some(n)) => ready.push((userdata, 0, kind, n)),
                                Ok(None) => {}
                                Err(e) => ready.push((userdata, e.code(), kind, 0)),
                            }
                        }
                        Ok(FdEntry::Device(dev)) if read => {
                            if dev.readable() {
                                ready.push((userdata, 0, kind, 1));
                            }
                        }
                        Ok(_) => ready.push((userdata, 0, kind, if read { 1 } else { 65536 })),
                    }
                }
            }
        }
        if !ready.is_empty() {
            for (i, (userdata, err, kind, nbytes)) in ready.iter().enumerate() {
                let at = (events as u32)
                    .checked_add(i as u32 * 32)
                    .ok_or(Errno::Fault)?;
                m.slice_mut(at, 32)?.fill(0);
                m.write_u64(at, *userdata)?;
                m.write_u16(at + 8, *err)?;
                m.write_u8(at + 10, *kind)?;
                m.write_u64(at + 16, *nbytes)?;
            }
            return Ok(m.write_u32(nevents_out as u32, ready.len() as u32)?);
        }
        if p.killed.load(Ordering::Relaxed) {
            return Err(SysError::Killed);
        }
        // Sockets wake us; devices and kills are looked at every few milliseconds.
        let nap = if has_devices {
            Duration::from_millis(2)
        } else {
            Duration::from_millis(50)
        };
        p.shared.sockets.wait_until(deadline, nap);
    }
}
