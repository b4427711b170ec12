//! The live figures of links and sessions, and the estimators behind them (smoothed RTT and
//! ping-based loss). Plain data the app reads to draw a network panel; nothing here does I/O.

use std::collections::VecDeque;
use std::time::Duration;
use web_time::Instant;

/// Live figures of one link (for the hub: one client; for a client: its hub).
///
/// "Datagrams" are the guests' UDP datagrams and their payload bytes; "frames" count everything
/// on the wire, control and pings included, with envelope bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkStats {
    /// Smoothed round-trip time (RFC 6298 SRTT), from ping/pong on the datagram channel.
    pub rtt: Option<Duration>,
    /// RTT variation (RFC 6298 RTTVAR).
    pub rtt_var: Duration,
    /// The latest RTT sample.
    pub rtt_last: Option<Duration>,
    /// Fraction of recent pings (the last `Config::loss_window`) that got no pong in time; 0.0
    /// until one has been resolved. Counts both directions' loss, like any ping.
    pub loss: f64,
    pub pings_sent: u64,
    pub pongs_received: u64,
    /// Pings given up on (no pong within `Config::pong_timeout`).
    pub pings_lost: u64,
    pub dgrams_in: u64,
    pub dgram_bytes_in: u64,
    pub dgrams_out: u64,
    pub dgram_bytes_out: u64,
    pub frames_in: u64,
    pub frame_bytes_in: u64,
    pub frames_out: u64,
    pub frame_bytes_out: u64,
    /// Datagrams or lines claiming a source address other than the one this link was given.
    pub drops_forged: u64,
    /// Chat and lobby lines beyond the rate a hub relays from one client (dropped).
    pub drops_flood: u64,
    /// Datagrams addressed outside the virtual network.
    pub drops_out_of_network: u64,
    /// Datagrams to a host address nobody holds.
    pub drops_no_route: u64,
    /// Frames that do not parse, or that the protocol does not allow here and now. Over a
    /// transport whose datagram channel is unordered, a datagram that overtakes the Welcome on
    /// the control channel lands here too: it is lost like any early UDP datagram.
    pub drops_invalid: u64,
    /// When anything last arrived on this link.
    pub last_heard: Option<Instant>,
}

impl LinkStats {
    /// All drops on this link, whatever the cause.
    pub fn drops(&self) -> u64 {
        self.drops_forged + self.drops_out_of_network + self.drops_no_route + self.drops_invalid
    }
}

/// Figures of the session as a whole: the local guest's side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Datagrams the local guest sent that the session accepted, and their payload bytes.
    pub guest_dgrams_out: u64,
    pub guest_bytes_out: u64,
    /// Datagrams handed to the local guest (as `Output::Deliver`), and their payload bytes.
    pub guest_dgrams_in: u64,
    pub guest_bytes_in: u64,
    /// The guest sent to an address outside the virtual network (e.g. the public master server).
    pub drops_out_of_network: u64,
    /// The guest sent to a host address nobody holds (hub only: a client cannot know).
    pub drops_no_route: u64,
    /// The guest sent before the session had an address, or after it closed.
    pub drops_not_connected: u64,
    /// The guest sent more than 65507 bytes (the kernel refuses these first; counted anyway).
    pub drops_too_large: u64,
    /// Datagrams the kernel dropped because a socket's injection queue (256) was full: the app
    /// feeds this from the kernel's counter with `Session::add_guest_queue_drops`.
    pub drops_guest_queue: u64,
    /// Frames that arrived for a link the session does not know (already closed).
    pub frames_unknown_link: u64,
}

/// RFC 6298's smoothed RTT: alpha 1/8, beta 1/4; the first sample sets SRTT and RTTVAR = R/2.
#[derive(Debug, Clone, Default)]
pub(crate) struct RttEstimator {
    pub srtt: Option<Duration>,
    pub rttvar: Duration,
}

impl RttEstimator {
    pub fn sample(&mut self, r: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                let diff = srtt.abs_diff(r);
                self.rttvar = (self.rttvar * 3 + diff) / 4;
                self.srtt = Some((srtt * 7 + r) / 8);
            }
        }
    }
}

/// Pings in flight and the outcome of recent ones, for RTT samples and loss.
#[derive(Debug, Clone)]
pub(crate) struct PingTracker {
    next_seq: u32,
    /// (seq, sent at), oldest first.
    in_flight: VecDeque<(u32, Instant)>,
    /// true = answered, oldest first; at most `window` long.
    outcomes: VecDeque<bool>,
    window: usize,
    pub rtt: RttEstimator,
}

impl PingTracker {
    pub fn new(window: usize) -> Self {
        PingTracker {
            next_seq: 0,
            in_flight: VecDeque::new(),
            outcomes: VecDeque::new(),
            window: window.max(1),
            rtt: RttEstimator::default(),
        }
    }

    /// Records a ping sent now; returns its sequence number.
    pub fn send(&mut self, now: Instant) -> u32 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.in_flight.push_back((seq, now));
        seq
    }

    /// A pong arrived; returns the RTT sample if it answers a ping still in flight (duplicates,
    /// and pongs for pings already given up on, are ignored).
    pub fn pong(&mut self, seq: u32, now: Instant) -> Option<Duration> {
        let i = self.in_flight.iter().position(|&(s, _)| s == seq)?;
        let (_, sent) = self.in_flight.remove(i)?;
        let r = now.saturating_duration_since(sent);
        self.rtt.sample(r);
        self.record(true);
        Some(r)
    }

    /// Gives up on pings sent at or before `now - timeout`; returns how many.
    pub fn expire(&mut self, now: Instant, timeout: Duration) -> u64 {
        let mut lost = 0;
        while let Some(&(_, sent)) = self.in_flight.front() {
            if now.saturating_duration_since(sent) < timeout {
                break;
            }
            self.in_flight.pop_front();
            self.record(false);
            lost += 1;
        }
        lost
    }

    /// When the oldest ping in flight is due to be given up on.
    pub fn next_expiry(&self, timeout: Duration) -> Option<Instant> {
        self.in_flight.front().map(|&(_, sent)| sent + timeout)
    }

    fn record(&mut self, answered: bool) {
        if self.outcomes.len() == self.window {
            self.outcomes.pop_front();
        }
        self.outcomes.push_back(answered);
    }

    pub fn loss(&self) -> f64 {
        if self.outcomes.is_empty() {
            return 0.0;
        }
        let lost = self.outcomes.iter().filter(|&&a| !a).count();
        lost as f64 / self.outcomes.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn rtt_smoothing_follows_rfc6298() {
        let mut e = RttEstimator::default();
        e.sample(ms(100));
        assert_eq!((e.srtt, e.rttvar), (Some(ms(100)), ms(50)));
        e.sample(ms(200));
        // rttvar = 3/4*50 + 1/4*100 = 62.5; srtt = 7/8*100 + 1/8*200 = 112.5
        assert_eq!(e.srtt, Some(Duration::from_micros(112_500)));
        assert_eq!(e.rttvar, Duration::from_micros(62_500));
        for _ in 0..100 {
            e.sample(ms(40));
        }
        let s = e.srtt.unwrap();
        assert!(s >= ms(40) && s < ms(41), "{s:?}");
    }

    #[test]
    fn ping_tracker_counts_loss_over_a_window() {
        let t0 = Instant::now();
        let mut p = PingTracker::new(4);
        let a = p.send(t0);
        let b = p.send(t0 + ms(1000));
        let c = p.send(t0 + ms(2000));
        assert_eq!(p.pong(b, t0 + ms(1050)), Some(ms(50)));
        assert_eq!(p.pong(b, t0 + ms(1060)), None, "duplicate pong");
        assert_eq!(p.next_expiry(ms(2000)), Some(t0 + ms(2000)));
        assert_eq!(p.expire(t0 + ms(2500), ms(2000)), 1); // a
        assert_eq!(p.pong(a, t0 + ms(2600)), None, "late pong after expiry");
        assert_eq!(p.loss(), 0.5);
        assert_eq!(p.pong(c, t0 + ms(2040)), Some(ms(40)));
        for i in 0..4 {
            let s = p.send(t0 + ms(3000 + i));
            p.pong(s, t0 + ms(3010 + i));
        }
        assert_eq!(p.loss(), 0.0, "window slid past the lost ping");
        assert_eq!(p.next_expiry(ms(2000)), None);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let t0 = Instant::now();
        let mut p = PingTracker::new(4);
        p.next_seq = u32::MAX;
        assert_eq!(p.send(t0), u32::MAX);
        assert_eq!(p.send(t0), 0);
    }
}
