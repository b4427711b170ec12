//! Sockets through preview1's own calls (`sock_recv`, `sock_send`); the rest of the socket ABI
//! is `sockabi`.

// Each function takes the parameters of its preview1 call, as many as the call has.
#![allow(clippy::too_many_arguments)]

use super::*;

/// Receives one datagram into iovecs; returns (bytes, truncated).
pub(crate) fn recv_into(
    m: &mut dyn GuestMemory,
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

pub(super) fn socket_of(p: &ProcCtx, fd: i32) -> Result<crate::net::SocketId, Errno> {
    match p.fds.get(fd as u32)? {
        FdEntry::Socket(id) => Ok(*id),
        _ => Err(Errno::NotSock),
    }
}

pub(super) fn sock_accept(
    _: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    _: i32,
    _: i32,
) -> SysResult<()> {
    socket_of(p, fd)?;
    Err(Errno::NotSup.into())
}

pub(super) fn sock_recv(
    m: &mut dyn GuestMemory,
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

pub(super) fn sock_send(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    iovs: i32,
    n: i32,
    _flags: i32,
    out: i32,
) -> SysResult<()> {
    let id = socket_of(p, fd)?;
    let iovs = m.iovecs(iovs as u32, n as u32)?;
    let data = gather_datagram(m, &iovs)?;
    let sent = p.shared.sockets.sendto(p.pid, id, &data, None)?;
    Ok(m.write_u32(out as u32, sent as u32)?)
}

pub(super) fn sock_shutdown(
    _: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    _: i32,
) -> SysResult<()> {
    socket_of(p, fd)?;
    Err(Errno::NotSup.into())
}
