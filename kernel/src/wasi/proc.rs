//! The process's own: arguments, environment, randomness, yielding, signals.

use super::*;

pub(super) fn write_strings(
    m: &mut dyn GuestMemory,
    strs: &[String],
    ptrs: i32,
    buf: i32,
) -> SysResult<()> {
    let mut at = buf as u32;
    for (i, s) in strs.iter().enumerate() {
        m.write_u32(ptrs as u32 + 4 * i as u32, at)?;
        m.write_bytes(at, s.as_bytes())?;
        m.write_u8(at + s.len() as u32, 0)?;
        at += s.len() as u32 + 1;
    }
    Ok(())
}

pub(super) fn write_sizes(
    m: &mut dyn GuestMemory,
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

pub(super) fn args_get(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    argv: i32,
    buf: i32,
) -> SysResult<()> {
    write_strings(m, &p.args, argv, buf)
}
pub(super) fn args_sizes_get(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    c: i32,
    s: i32,
) -> SysResult<()> {
    write_sizes(m, &p.args, c, s)
}
pub(super) fn environ_get(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    envp: i32,
    buf: i32,
) -> SysResult<()> {
    write_strings(m, &p.env, envp, buf)
}
pub(super) fn environ_sizes_get(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    c: i32,
    s: i32,
) -> SysResult<()> {
    write_sizes(m, &p.env, c, s)
}

pub(super) fn random_get(
    m: &mut dyn GuestMemory,
    _: &mut ProcCtx,
    buf: i32,
    len: i32,
) -> SysResult<()> {
    m.fill(buf as u32, len as u32, &mut |dest| {
        getrandom::fill(dest).map_err(|_| Errno::Io)?;
        Ok(dest.len())
    })?;
    Ok(())
}

pub(super) fn sched_yield(_: &mut dyn GuestMemory, p: &mut ProcCtx) -> SysResult<()> {
    if p.is_killed() {
        return Err(SysError::Killed);
    }
    std::thread::yield_now();
    Ok(())
}

pub(super) fn proc_raise(_: &mut dyn GuestMemory, _: &mut ProcCtx, sig: i32) -> SysResult<()> {
    Err(SysError::Exit(128 + sig))
}
