//! One WebRTC link on the mux: a peer connection's handle for its owner (answer, candidates,
//! frames out, close), and the events the mux thread hands back.

use super::*;

/// One joiner's link through the mux.
pub struct MuxLink {
    pub(super) mux: Weak<MuxInner>,
    pub(super) core: Arc<Mutex<Core>>,
    pub(super) key: u64,
    pub(super) status: tokio::sync::watch::Receiver<LinkStatus>,
    pub(super) candidates: Vec<Candidate>,
    pub(super) closed: AtomicBool,
}

impl std::fmt::Debug for MuxLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MuxLink").field("key", &self.key).finish()
    }
}

impl MuxLink {
    /// The selected candidate pair, once connected.
    pub fn path(&self) -> Option<PathInfo> {
        let c = lock(&self.core);
        let pair =
            c.pc.sctp()?
                .transport()
                .ice_transport()
                .get_selected_candidate_pair()?;
        Some(path_of_pair(pair.local(), pair.remote()))
    }

    /// Our candidates, to trickle after the offer.
    pub fn local_candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// Sets the joiner's answer (no fingerprint to check on this side: the joiner checks ours).
    pub fn accept_answer(&self, answer: &Sdp) -> Result<(), RtcError> {
        if answer.kind != SdpKind::Answer {
            return Err(RtcError::UnexpectedSdp {
                expected: SdpKind::Answer,
                got: answer.kind,
            });
        }
        let desc = RTCSessionDescription::answer(answer.sdp.clone()).map_err(rtc_err)?;
        let mux = self.mux.clone();
        self.with_core(|c, now| {
            c.pc.set_remote_description(now, desc).map_err(rtc_err)?;
            c.have_remote = true;
            for cand in std::mem::take(&mut c.pending) {
                add_remote(c, cand);
            }
            if let Some(mux) = mux.upgrade() {
                // Their answers go back to `from`, which registers it with the mux.
                for (from, data) in std::mem::take(&mut c.early_checks) {
                    mux.feed(c, from, &data, now);
                }
            }
            Ok(())
        })
        .unwrap_or(Err(RtcError::Failed("the link failed")))
    }

    /// A trickled remote candidate (held until the answer is set).
    pub fn add_candidate(&self, cand: Candidate) {
        if cand.candidate.is_empty() {
            return;
        }
        self.with_core(|c, _| {
            if c.candidates_taken >= MAX_REMOTE_CANDIDATES {
                return;
            }
            c.candidates_taken += 1;
            if c.have_remote {
                add_remote(c, cand);
            } else {
                c.pending.push(cand);
            }
        });
    }

    /// Waits until connected with both channels open, or failed, or `limit` passed.
    pub async fn wait_up(&self, limit: Duration) -> Result<(), RtcError> {
        let mut status = self.status.clone();
        let r = tokio::time::timeout(
            limit,
            status.wait_for(|s| !matches!(s, LinkStatus::Connecting)),
        )
        .await;
        match r {
            Err(_) => Err(RtcError::Timeout(limit)),
            Ok(Err(_)) => Err(RtcError::Failed("the WebRTC edge is gone")),
            Ok(Ok(s)) => match *s {
                LinkStatus::Up => Ok(()),
                LinkStatus::Failed(why) => Err(RtcError::Failed(why)),
                LinkStatus::Connecting => Err(RtcError::Failed("still connecting")),
            },
        }
    }

    /// Gives the link its owner. Returns the frames that came before, for the owner to take
    /// first (under its own lock: later frames reach `handler`, which may wait on that lock),
    /// and whether the link is gone already.
    pub fn attach(&self, handler: Arc<dyn LinkEvents>) -> (Vec<(Channel, Bytes)>, bool) {
        let mut c = lock(&self.core);
        c.handler = Some(handler);
        (std::mem::take(&mut c.early), c.gone)
    }

    /// Sends a frame. Never waits on the network: the core encrypts it and the socket takes it
    /// or drops it. `false` if the link is gone.
    pub fn send(&self, channel: Channel, frame: &[u8]) -> bool {
        let Some(mux) = self.mux.upgrade() else {
            return false;
        };
        let now = Instant::now();
        let d = {
            let mut c = lock(&self.core);
            if c.gone {
                return false;
            }
            let id = match channel {
                Channel::Datagram => c.dgram,
                Channel::Control => c.ctrl,
            };
            let mut sent = false;
            let d = mux.guarded(&mut c, |mux, c| {
                let mut backlog = 0;
                sent = match c.pc.data_channel(id) {
                    Some(mut dc) => {
                        let ok = dc.send(now, BytesMut::from(frame)).is_ok();
                        backlog = dc.outstanding_bytes();
                        ok
                    }
                    None => false,
                };
                if sent && backlog > SEND_QUEUE_CAP {
                    mux.counters
                        .send_queue_overflows
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        link = c.key,
                        backlog,
                        "peer stopped acknowledging; closing the link"
                    );
                    c.fail("the peer stopped reading");
                    sent = false;
                    return Drained {
                        closed: true,
                        handler: c.handler.clone(),
                        ..Default::default()
                    };
                }
                if sent {
                    mux.drain(c, false)
                } else {
                    Drained::default()
                }
            });
            if !sent && !d.closed {
                return false;
            }
            d
        };
        // We run under the owner's lock: what the pass found is handed over by the mux thread.
        mux.settle(self.key, &self.core, d, true);
        true
    }

    /// Ends the link after a short grace (SCTP may still resend a Bye sent just before).
    pub fn close(&self) {
        if self.closed.swap(true, Ordering::Relaxed) {
            return;
        }
        if let Some(mux) = self.mux.upgrade() {
            {
                let mut c = lock(&self.core);
                c.handler = None;
            }
            let mut t = mux.table();
            t.closing.push((Instant::now() + CLOSE_GRACE, self.key));
            drop(t);
            let _ = mux.waker.wake();
        }
    }

    /// Runs `f` on the core, then the pass after it. `None` if the edge is gone or the core
    /// panicked (the link is failed then).
    fn with_core<R>(&self, f: impl FnOnce(&mut Core, Instant) -> R) -> Option<R> {
        let now = Instant::now();
        let mux = self.mux.upgrade()?;
        let (r, d) = {
            let mut c = lock(&self.core);
            if c.gone {
                return None;
            }
            let mut r = None;
            let d = mux.guarded(&mut c, |mux, c| {
                r = Some(f(c, now));
                mux.drain(c, true)
            });
            (r, d)
        };
        mux.settle(self.key, &self.core, d, false);
        r
    }
}

impl Drop for MuxLink {
    fn drop(&mut self) {
        self.close();
    }
}

pub(super) fn add_remote(c: &mut Core, cand: Candidate) {
    let init = RTCIceCandidateInit {
        candidate: cand.candidate,
        sdp_mid: cand.sdp_mid,
        sdp_mline_index: cand.sdp_mline_index,
        ..Default::default()
    };
    if let Err(e) = c.pc.add_remote_candidate(init) {
        tracing::debug!(key = c.key, ufrag = %c.ufrag, "remote candidate refused: {e}");
    }
}
