//! Clocks: resolution and time, realtime and monotonic (CPU-time clocks read the monotonic one).

use super::*;

pub(super) fn clock_res_get(
    m: &mut dyn GuestMemory,
    _: &mut ProcCtx,
    id: i32,
    out: i32,
) -> SysResult<()> {
    if !(0..=3).contains(&id) {
        return Err(Errno::Inval.into());
    }
    Ok(m.write_u64(out as u32, 1_000)?)
}

/// Nanoseconds on a clock. CPU-time clocks read the monotonic clock since kernel start (a guest
/// has no finer notion of its own CPU time here).
pub(super) fn now_ns(p: &ProcCtx, id: u32) -> Result<u64, Errno> {
    match id {
        CLOCK_REALTIME => Ok(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)),
        CLOCK_MONOTONIC | 2 | 3 => Ok(p.shared.start.elapsed().as_nanos() as u64),
        _ => Err(Errno::Inval),
    }
}

pub(super) fn clock_time_get(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    id: i32,
    _precision: i64,
    out: i32,
) -> SysResult<()> {
    let ns = now_ns(p, id as u32)?;
    Ok(m.write_u64(out as u32, ns)?)
}
