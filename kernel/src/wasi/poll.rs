//! `poll_oneoff`: clocks and fds waited on together, with preview1's subscription and event
//! records read and written through typed views ([`Subscription`], [`Event`]) rather than byte
//! offsets at the call site.

use super::clocks::now_ns;
use crate::mem::GuestMemory;
use crate::process::{FdEntry, ProcCtx, SysError, SysResult};
use crate::Errno;
use std::sync::atomic::Ordering;
use std::time::Duration;
use web_time::Instant;

const EVENTTYPE_CLOCK: u8 = 0;
const EVENTTYPE_FD_READ: u8 = 1;
const EVENTTYPE_FD_WRITE: u8 = 2;
const SUBCLOCKFLAGS_ABSTIME: u16 = 1;
/// The most subscriptions one call may pass (a guest's poll set is a handful).
const MAX_SUBSCRIPTIONS: u32 = 4096;

/// One `subscription` record (48 bytes): `userdata` at 0, the tag at 8, the tag's fields at 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Subscription {
    pub userdata: u64,
    pub kind: SubscriptionKind,
}

/// What a subscription waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubscriptionKind {
    /// `subscription_clock`: `id` at 16, `timeout` at 24, `precision` at 32, `flags` at 40.
    Clock {
        id: u32,
        timeout: u64,
        flags: u16,
    },
    /// `subscription_fd_readwrite`: `fd` at 16.
    FdRead {
        fd: u32,
    },
    FdWrite {
        fd: u32,
    },
}

impl Subscription {
    pub const SIZE: u32 = 48;

    /// Record `i` of the array at `base`: EFAULT outside the guest's memory, EINVAL for an
    /// unknown tag.
    pub fn read(m: &dyn GuestMemory, base: u32, i: u32) -> Result<Subscription, Errno> {
        let at = i
            .checked_mul(Self::SIZE)
            .and_then(|off| base.checked_add(off))
            .ok_or(Errno::Fault)?;
        // The whole record is in memory, so no field offset below can overflow.
        let tag = m.bytes(at, Self::SIZE)?[8];
        let kind = match tag {
            EVENTTYPE_CLOCK => SubscriptionKind::Clock {
                id: m.read_u32(at + 16)?,
                timeout: m.read_u64(at + 24)?,
                flags: m.read_u16(at + 40)?,
            },
            EVENTTYPE_FD_READ => SubscriptionKind::FdRead {
                fd: m.read_u32(at + 16)?,
            },
            EVENTTYPE_FD_WRITE => SubscriptionKind::FdWrite {
                fd: m.read_u32(at + 16)?,
            },
            _ => return Err(Errno::Inval),
        };
        Ok(Subscription {
            userdata: m.read_u64(at)?,
            kind,
        })
    }
}

/// One `event` record (32 bytes): `userdata` at 0, `error` at 8, `type` at 10, and for fd
/// events `nbytes` at 16 (`flags` at 24 stays 0: no hang-up is reported).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Event {
    pub userdata: u64,
    pub error: u16,
    pub kind: u8,
    pub nbytes: u64,
}

impl Event {
    pub const SIZE: u32 = 32;

    /// Writes record `i` of the array at `base`.
    pub fn write(&self, m: &mut dyn GuestMemory, base: u32, i: u32) -> Result<(), Errno> {
        let at = i
            .checked_mul(Self::SIZE)
            .and_then(|off| base.checked_add(off))
            .ok_or(Errno::Fault)?;
        let mut rec = [0u8; Self::SIZE as usize];
        rec[0..8].copy_from_slice(&self.userdata.to_le_bytes());
        rec[8..10].copy_from_slice(&self.error.to_le_bytes());
        rec[10] = self.kind;
        rec[16..24].copy_from_slice(&self.nbytes.to_le_bytes());
        m.write_bytes(at, &rec)
    }
}

/// A subscription as the wait loop checks it.
enum Wait {
    Clock { userdata: u64, deadline: Instant },
    Fd { userdata: u64, fd: u32, read: bool },
}

pub(super) fn poll_oneoff(
    m: &mut dyn GuestMemory,
    p: &mut ProcCtx,
    subs: i32,
    events: i32,
    nsubs: i32,
    nevents_out: i32,
) -> SysResult<()> {
    let nsubs = u32::try_from(nsubs).map_err(|_| Errno::Inval)?;
    if nsubs == 0 || nsubs > MAX_SUBSCRIPTIONS {
        return Err(Errno::Inval.into());
    }
    let now = Instant::now();
    let mut list = Vec::with_capacity(nsubs as usize);
    for i in 0..nsubs {
        let sub = Subscription::read(m, subs as u32, i)?;
        list.push(match sub.kind {
            SubscriptionKind::Clock { id, timeout, flags } => {
                let wait = if flags & SUBCLOCKFLAGS_ABSTIME != 0 {
                    timeout.saturating_sub(now_ns(p, id)?)
                } else {
                    timeout
                };
                let deadline = now
                    .checked_add(Duration::from_nanos(wait))
                    .unwrap_or(now + Duration::from_secs(86400 * 365));
                Wait::Clock {
                    userdata: sub.userdata,
                    deadline,
                }
            }
            SubscriptionKind::FdRead { fd } => Wait::Fd {
                userdata: sub.userdata,
                fd,
                read: true,
            },
            SubscriptionKind::FdWrite { fd } => Wait::Fd {
                userdata: sub.userdata,
                fd,
                read: false,
            },
        });
    }
    let deadline = list
        .iter()
        .filter_map(|s| match s {
            Wait::Clock { deadline, .. } => Some(*deadline),
            _ => None,
        })
        .min();
    let has_devices = list.iter().any(
        |s| matches!(s, Wait::Fd { fd, .. } if matches!(p.fds.get(*fd), Ok(FdEntry::Device(_)))),
    );
    loop {
        let mut ready: Vec<Event> = Vec::new();
        let now = Instant::now();
        for s in &list {
            match *s {
                Wait::Clock { userdata, deadline } => {
                    if now >= deadline {
                        ready.push(Event {
                            userdata,
                            error: 0,
                            kind: EVENTTYPE_CLOCK,
                            nbytes: 0,
                        });
                    }
                }
                Wait::Fd { userdata, fd, read } => {
                    let kind = if read {
                        EVENTTYPE_FD_READ
                    } else {
                        EVENTTYPE_FD_WRITE
                    };
                    let event = |error: u16, nbytes: u64| Event {
                        userdata,
                        error,
                        kind,
                        nbytes,
                    };
                    match p.fds.get(fd) {
                        Err(e) => ready.push(event(e.code(), 0)),
                        Ok(FdEntry::Socket(id)) if read => {
                            let queued = p
                                .shared
                                .sockets
                                .lock()
                                .get(*id)
                                .map(|s| s.queue.front().map(|d| d.data.len() as u64));
                            match queued {
                                Ok(Some(n)) => ready.push(event(0, n)),
                                Ok(None) => {}
                                Err(e) => ready.push(event(e.code(), 0)),
                            }
                        }
                        Ok(FdEntry::Device(dev)) if read => {
                            if dev.readable() {
                                ready.push(event(0, 1));
                            }
                        }
                        Ok(_) => ready.push(event(0, if read { 1 } else { 65536 })),
                    }
                }
            }
        }
        if !ready.is_empty() {
            for (i, e) in ready.iter().enumerate() {
                e.write(m, events as u32, i as u32)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mem::SliceMemory;

    fn record(tag: u8, fill: impl FnOnce(&mut [u8])) -> Vec<u8> {
        let mut r = vec![0u8; 48];
        r[0..8].copy_from_slice(&0x1122_3344_5566_7788u64.to_le_bytes());
        r[8] = tag;
        fill(&mut r);
        r
    }

    #[test]
    fn subscriptions_are_read_by_their_tag() {
        let mut bytes = record(EVENTTYPE_CLOCK, |r| {
            r[16..20].copy_from_slice(&1u32.to_le_bytes());
            r[24..32].copy_from_slice(&5_000_000u64.to_le_bytes());
            r[40..42].copy_from_slice(&SUBCLOCKFLAGS_ABSTIME.to_le_bytes());
        });
        bytes.extend(record(EVENTTYPE_FD_READ, |r| {
            r[16..20].copy_from_slice(&7u32.to_le_bytes())
        }));
        bytes.extend(record(EVENTTYPE_FD_WRITE, |r| {
            r[16..20].copy_from_slice(&9u32.to_le_bytes())
        }));
        let m = SliceMemory::new(&mut bytes);
        let subs: Vec<_> = (0..3)
            .map(|i| Subscription::read(&m, 0, i).unwrap())
            .collect();
        assert_eq!(subs[0].userdata, 0x1122_3344_5566_7788);
        assert_eq!(
            subs[0].kind,
            SubscriptionKind::Clock {
                id: 1,
                timeout: 5_000_000,
                flags: SUBCLOCKFLAGS_ABSTIME
            }
        );
        assert_eq!(subs[1].kind, SubscriptionKind::FdRead { fd: 7 });
        assert_eq!(subs[2].kind, SubscriptionKind::FdWrite { fd: 9 });
    }

    #[test]
    fn a_bad_tag_is_einval_and_memory_beyond_is_efault() {
        let mut bytes = record(3, |_| {});
        let m = SliceMemory::new(&mut bytes);
        assert_eq!(Subscription::read(&m, 0, 0), Err(Errno::Inval));
        assert_eq!(Subscription::read(&m, 0, 1), Err(Errno::Fault));
        assert_eq!(Subscription::read(&m, 8, 0), Err(Errno::Fault));
        assert_eq!(Subscription::read(&m, u32::MAX - 10, 0), Err(Errno::Fault));
        assert_eq!(Subscription::read(&m, 0, u32::MAX), Err(Errno::Fault));
    }

    #[test]
    fn events_are_written_in_place_with_the_rest_zeroed() {
        let mut bytes = vec![0xAAu8; 64];
        let mut m = SliceMemory::new(&mut bytes);
        let e = Event {
            userdata: 42,
            error: 8,
            kind: EVENTTYPE_FD_READ,
            nbytes: 100,
        };
        e.write(&mut m, 0, 1).unwrap();
        assert_eq!(e.write(&mut m, 0, 2), Err(Errno::Fault));
        assert_eq!(&bytes[..32], &[0xAA; 32]);
        assert_eq!(&bytes[32..40], &42u64.to_le_bytes());
        assert_eq!(&bytes[40..42], &8u16.to_le_bytes());
        assert_eq!(bytes[42], EVENTTYPE_FD_READ);
        assert_eq!(&bytes[48..56], &100u64.to_le_bytes());
        assert!(bytes[43..48].iter().chain(&bytes[56..64]).all(|b| *b == 0));
    }
}
