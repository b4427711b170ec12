//! The `doomlink_net` import module: BSD UDP sockets for guests (see ABI.md).
//!
//! Each call returns `>= 0` on success or `-errno`. Sockets live in the same fd table as files and
//! devices, so `close`, `fcntl(O_NONBLOCK)` and `poll` go through the preview1 functions.

use crate::mem::GuestMemory;
use crate::process::{FdEntry, ProcCtx, SysError, SysResult};
use crate::Errno;
use std::net::Ipv4Addr;

pub const MODULE: &str = "doomlink_net";

const AF_INET: i32 = 1;
const SOCK_DGRAM: i32 = 5;
const SOCK_NONBLOCK: i32 = 0x4000;
const SOCK_CLOEXEC: i32 = 0x2000;
const IPPROTO_UDP: i32 = 17;
const SOL_SOCKET: i32 = 1;
const SO_REUSEADDR: i32 = 2;
const SO_TYPE: i32 = 3;
const SO_ERROR: i32 = 4;
const SO_BROADCAST: i32 = 6;
const SO_SNDBUF: i32 = 7;
const SO_RCVBUF: i32 = 8;
const MSG_PEEK: i32 = 1;
const MSG_DONTWAIT: i32 = 0x40;

imports!(MODULE, ok = |v| v, errno = |e| -e;
    sock_open(domain: i32, ty: i32, protocol: i32),
    sock_bind(fd: i32, ip: i32, port: i32),
    sock_connect(fd: i32, ip: i32, port: i32),
    sock_sendto(fd: i32, buf: i32, len: i32, flags: i32, ip: i32, port: i32, has_addr: i32),
    sock_recvfrom(fd: i32, buf: i32, len: i32, flags: i32, addr_out: i32),
    sock_getsockname(fd: i32, addr_out: i32),
    sock_getpeername(fd: i32, addr_out: i32),
    sock_setsockopt(fd: i32, level: i32, name: i32, value: i32),
    sock_getsockopt(fd: i32, level: i32, name: i32, value_out: i32),
);

fn socket_of(p: &ProcCtx, fd: i32) -> Result<crate::net::SocketId, Errno> {
    match p.fds.get(fd as u32)? {
        FdEntry::Socket(id) => Ok(*id),
        _ => Err(Errno::NotSock),
    }
}

fn port_of(port: i32) -> Result<u16, Errno> {
    u16::try_from(port).map_err(|_| Errno::Inval)
}

fn write_addr(m: &mut dyn GuestMemory, out: i32, (ip, port): (Ipv4Addr, u16)) -> Result<(), Errno> {
    m.write_u32(out as u32, u32::from(ip))?;
    m.write_u32(out as u32 + 4, port as u32)
}

fn sock_open(
    _: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    domain: i32,
    ty: i32,
    protocol: i32,
) -> SysResult<i32> {
    if domain != AF_INET {
        return Err(Errno::AfNoSupport.into());
    }
    if ty & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != SOCK_DGRAM {
        return Err(Errno::ProtoNoSupport.into());
    }
    if protocol != 0 && protocol != IPPROTO_UDP {
        return Err(Errno::ProtoNoSupport.into());
    }
    let id = p.shared.sockets.open(p.pid, ty & SOCK_NONBLOCK != 0);
    match p.fds.insert(FdEntry::Socket(id)) {
        Ok(fd) => Ok(fd as i32),
        Err(e) => {
            p.shared.sockets.close(id);
            Err(e.into())
        }
    }
}

fn sock_bind(
    _: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    ip: i32,
    port: i32,
) -> SysResult<i32> {
    let id = socket_of(p, fd)?;
    p.shared
        .sockets
        .bind(p.pid, id, Ipv4Addr::from(ip as u32), port_of(port)?)?;
    Ok(0)
}

fn sock_connect(
    _: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    ip: i32,
    port: i32,
) -> SysResult<i32> {
    let id = socket_of(p, fd)?;
    p.shared
        .sockets
        .connect(p.pid, id, Ipv4Addr::from(ip as u32), port_of(port)?)?;
    Ok(0)
}

#[allow(clippy::too_many_arguments)]
fn sock_sendto(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    buf: i32,
    len: i32,
    _flags: i32,
    ip: i32,
    port: i32,
    has_addr: i32,
) -> SysResult<i32> {
    let id = socket_of(p, fd)?;
    if len as u32 as usize > crate::net::MAX_DGRAM_PAYLOAD {
        return Err(Errno::MsgSize.into());
    }
    let data = m.bytes(buf as u32, len as u32)?;
    let dst = if has_addr != 0 {
        Some((Ipv4Addr::from(ip as u32), port_of(port)?))
    } else {
        None
    };
    Ok(p.shared.sockets.sendto(p.pid, id, &data, dst)? as i32)
}

fn sock_recvfrom(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    buf: i32,
    len: i32,
    flags: i32,
    addr_out: i32,
) -> SysResult<i32> {
    let id = socket_of(p, fd)?;
    // Check the destination before taking a datagram off the queue: EFAULT must lose nothing.
    m.check(buf as u32, len as u32)?;
    if addr_out != 0 {
        m.check(addr_out as u32, 8)?;
    }
    let dgram = p
        .shared
        .sockets
        .recvfrom(
            id,
            flags & MSG_PEEK != 0,
            flags & MSG_DONTWAIT != 0,
            p.killed.as_ref(),
        )
        .map_err(|e| match e {
            Errno::Intr if p.is_killed() => SysError::Killed,
            e => SysError::Errno(e),
        })?;
    let n = dgram.data.len().min(len as u32 as usize);
    m.write_bytes(buf as u32, &dgram.data[..n])?;
    if addr_out != 0 {
        write_addr(m, addr_out, (dgram.src_ip, dgram.src_port))?;
    }
    Ok(n as i32)
}

fn sock_getsockname(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    addr_out: i32,
) -> SysResult<i32> {
    let id = socket_of(p, fd)?;
    write_addr(m, addr_out, p.shared.sockets.local_addr(id)?)?;
    Ok(0)
}

fn sock_getpeername(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    addr_out: i32,
) -> SysResult<i32> {
    let id = socket_of(p, fd)?;
    write_addr(m, addr_out, p.shared.sockets.peer_addr(id)?)?;
    Ok(0)
}

fn sock_setsockopt(
    _: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    level: i32,
    name: i32,
    value: i32,
) -> SysResult<i32> {
    let id = socket_of(p, fd)?;
    if level != SOL_SOCKET {
        return Err(Errno::NoProtoOpt.into());
    }
    match name {
        SO_BROADCAST => p.shared.sockets.set_broadcast(id, value != 0)?,
        SO_REUSEADDR => p.shared.sockets.set_reuse_addr(id, value != 0)?,
        SO_SNDBUF | SO_RCVBUF => {}
        _ => return Err(Errno::NoProtoOpt.into()),
    }
    Ok(0)
}

fn sock_getsockopt(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    fd: i32,
    level: i32,
    name: i32,
    value_out: i32,
) -> SysResult<i32> {
    let id = socket_of(p, fd)?;
    if level != SOL_SOCKET {
        return Err(Errno::NoProtoOpt.into());
    }
    let value = {
        let t = p.shared.sockets.lock();
        let s = t.get(id)?;
        match name {
            SO_BROADCAST => s.broadcast as i32,
            SO_REUSEADDR => s.reuse_addr as i32,
            SO_TYPE => SOCK_DGRAM,
            SO_ERROR => 0,
            SO_SNDBUF | SO_RCVBUF => (crate::net::MAX_INJECT_DGRAM_QUEUE_LEN * 1500) as i32,
            _ => return Err(Errno::NoProtoOpt.into()),
        }
    };
    m.write_u32(value_out as u32, value as u32)?;
    Ok(0)
}
