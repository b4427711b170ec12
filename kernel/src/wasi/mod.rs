//! The `wasi_snapshot_preview1` functions, implemented over the kernel's own fd table and VFS.
//!
//! wasmtime-wasi keeps its fd table private, so it cannot hold our sockets and devices; the kernel
//! implements the preview1 functions that wasi-libc programs use itself. Each function here takes
//! the guest's memory (checked: EFAULT, never a panic) and the process state, and returns an
//! errno; one table (`imports!`) puts them all into wasmtime's linker and calls them by name for
//! another engine's host. By area: `proc` (arguments, environment, randomness), `clocks`, `fds`,
//! `paths`, `sockets`, `poll` (`poll_oneoff`).

mod clocks;
mod fds;
mod paths;
mod poll;
mod proc;
mod sockets;

use clocks::*;
use fds::*;
use paths::*;
use poll::poll_oneoff;
use proc::*;
pub(crate) use sockets::recv_into;
use sockets::*;

use crate::mem::GuestMemory;
use crate::memfs::{MemFs, MemKind, OpenFlags};
use crate::process::{FdEntry, ProcCtx, SysError, SysResult};
use crate::vfs::{normalize, Node};
use crate::Errno;
use std::io::{Read, Seek, SeekFrom, Write};

use crate::abi::CallError;
use web_time::{SystemTime, UNIX_EPOCH};

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

imports!(MODULE, ok = |()| 0, errno = |e| e;
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

/// Puts every preview1 function into the linker, `proc_exit` (which never returns) included.
#[cfg(feature = "wasmtime")]
pub(crate) fn register_all(
    linker: &mut wasmtime::Linker<crate::runner::StoreData>,
) -> wasmtime::Result<()> {
    register(linker)?;
    linker.func_wrap(
        MODULE,
        "proc_exit",
        |_: wasmtime::Caller<'_, crate::runner::StoreData>, code: i32| -> wasmtime::Result<()> {
            Err(CallError::Exit(code).into())
        },
    )?;
    Ok(())
}

/// Calls the preview1 function `name` by name (see [`crate::Process::call`]); `None` if there is
/// none of that name.
pub(crate) fn call_import(
    name: &str,
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    args: &[i64],
) -> Option<Result<i32, CallError>> {
    match (name, args) {
        ("proc_exit", [code]) => Some(Err(CallError::Exit(*code as i32))),
        ("proc_exit", _) => Some(Err(CallError::Arity {
            name: "proc_exit",
            want: 1,
            got: args.len(),
        })),
        _ => call(name, m, p, args),
    }
}
