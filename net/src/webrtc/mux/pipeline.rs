//! The mux's sweep of one peer connection's sans-IO pipeline: reads, events, then writes, in
//! one pass per kind (`drain`), and what a pass's output does to the link (`settle`).

use super::*;

impl MuxInner {
    pub(super) fn drain(&self, core: &mut Core, reads: bool) -> Drained {
        let mut out = Drained::default();
        let mut reads = reads;
        loop {
            let mut next = if reads { core.pc.poll_read() } else { None };
            while let Some(TaggedRTCMessage { message, .. }) = next {
                if let RTCMessage::DataChannelMessage(id, m) = message {
                    let channel = if id == core.dgram {
                        Some(Channel::Datagram)
                    } else if id == core.ctrl {
                        Some(Channel::Control)
                    } else {
                        None
                    };
                    if let Some(channel) = channel {
                        let frame = m.data.freeze();
                        if core.handler.is_some() {
                            out.frames.push((channel, frame));
                        } else if core.early.len() < 256 {
                            core.early.push((channel, frame));
                        }
                    }
                }
                next = core.pc.poll_data_read();
            }
            let mut evented = false;
            while let Some(ev) = core.pc.poll_event() {
                evented = true;
                match ev {
                    RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) => match s {
                        RTCPeerConnectionState::Connected => core.connected = true,
                        RTCPeerConnectionState::Failed => core.fail("ICE or DTLS failed"),
                        RTCPeerConnectionState::Closed => core.fail("closed"),
                        _ => {}
                    },
                    RTCPeerConnectionEvent::OnDataChannel(dc) => match dc {
                        RTCDataChannelEvent::OnOpen(id) => {
                            core.dgram_open |= id == core.dgram;
                            core.ctrl_open |= id == core.ctrl;
                        }
                        RTCDataChannelEvent::OnClose(id) if id == core.dgram || id == core.ctrl => {
                            core.fail("a channel closed")
                        }
                        _ => {}
                    },
                    _ => {}
                }
            }
            while let Some(w) = core.pc.poll_write() {
                let to = w.transport.peer_addr;
                match self.socket.send_to(&w.message, to) {
                    Ok(_) => {
                        self.counters.datagrams_out.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        self.counters.send_failed.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(%to, "mux send: {e}");
                    }
                }
                // Answering a binding request means its integrity held: only then does the
                // address it came from join the link.
                if is_binding_success(&w.message)
                    && core.addrs.len() < MAX_LINK_ADDRS
                    && !core.addrs.contains(&to)
                {
                    core.addrs.push(to);
                    out.new_addrs.push(to);
                }
            }
            if !evented {
                break;
            }
            reads = true;
        }
        self.drain_tail(core, out)
    }

    /// The end of a pass: the link's status, and when the core wants its timer.
    pub(super) fn drain_tail(&self, core: &mut Core, mut out: Drained) -> Drained {
        if !core.gone && core.connected && core.dgram_open && core.ctrl_open {
            core.status.send_if_modified(|s| {
                let changed = *s == LinkStatus::Connecting;
                if changed {
                    *s = LinkStatus::Up;
                }
                changed
            });
        }
        out.closed = core.gone;
        out.handler = core.handler.clone();
        out.deadline = if core.gone {
            None
        } else {
            core.pc.poll_timeout()
        };
        out
    }

    /// After a pass: registers addresses and the deadline (waking the mux thread if it sleeps
    /// past it), then hands the frames over — or, from inside a send (`in_send`), leaves them
    /// to the mux thread.
    pub(super) fn settle(&self, key: u64, core: &Arc<Mutex<Core>>, mut d: Drained, in_send: bool) {
        let mut wake = false;
        let stash = in_send && d.handler.is_some() && (!d.frames.is_empty() || d.closed);
        let earlier = {
            let mut c = lock(core);
            if stash {
                c.undelivered.append(&mut d.frames);
                c.close_undelivered |= d.closed;
                d.handler = None;
            }
            match (d.deadline, c.registered) {
                (Some(new), Some(old)) if new >= old => None,
                (Some(new), _) => {
                    c.registered = Some(new);
                    Some(new)
                }
                (None, _) => None,
            }
        };
        if earlier.is_some() || !d.new_addrs.is_empty() || stash {
            let mut t = self.table();
            if stash {
                t.undelivered.push(key);
                wake = true;
            }
            for a in d.new_addrs {
                // First come: a joiner that forges a request from another player's address
                // (it knows its own ICE password) must not take that player's traffic.
                let owner = *t.by_addr.entry(a).or_insert(key);
                if owner != key && !t.links.contains_key(&owner) {
                    t.by_addr.insert(a, key);
                }
            }
            if let Some(at) = earlier {
                t.timers.push(Reverse((at, key)));
                wake |= t.armed.is_some_and(|armed| at < armed);
            }
        }
        if wake {
            let _ = self.waker.wake();
        }
        if let Some(h) = d.handler {
            for (channel, frame) in &d.frames {
                h.on_frame(*channel, frame);
            }
            if d.closed {
                h.on_closed();
            }
        }
    }
}
