//! The hub's side of the protocol: a joiner's handshake, address assignment, and routing what
//! members send (with the source-address check).

use super::*;

impl Session {
    pub(super) fn hub_pending(&mut self, now: Instant, link: LinkId, frame: Frame<'_>) {
        let hello = match frame {
            Frame::Hello(hello) => hello,
            Frame::FileRequest(req) => return self.hub_file_request(link, req),
            _ => return self.invalid(link),
        };
        if hello.wads != self.cfg.wads {
            return self.hub_wad_mismatch(link);
        }
        let Some(addr) = self.allocate() else {
            let r = ByeReason::NetworkFull;
            return self.say_bye_and_close(link, r, "the game is full", CloseReason::Refused(r));
        };
        let Some(net) = self.net else { return };
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        l.state = LinkState::Up { peer: addr };
        l.next_ping = now;
        l.serving = None;
        self.routes.insert(addr, link);

        let peers: Vec<PeerInfo> = self.roster().collect();
        let welcome = Frame::Welcome(Welcome {
            your_addr: addr,
            subnet: net.subnet,
            hub_addr: net.addr,
            peers,
        });
        self.transmit(link, &welcome);
        // The newcomer learns everyone's lobby state; the others learn of the newcomer.
        let lobbies: Vec<Frame<'static>> = self
            .roster
            .iter()
            .filter_map(|(&from, m)| {
                let text = m.lobby.clone()?;
                Some(Frame::Lobby(Line { from, text }))
            })
            .collect();
        for f in &lobbies {
            self.transmit(link, f);
        }
        let peer = PeerInfo {
            addr,
            name: hello.name,
        };
        let joined = Frame::PeerJoined(peer.clone());
        let others: Vec<LinkId> = self.up_links().filter(|&o| o != link).collect();
        for o in others {
            self.transmit(o, &joined);
        }
        self.roster.insert(
            addr,
            Member {
                name: peer.name.clone(),
                lobby: None,
            },
        );
        self.event(Event::PeerJoined {
            link: Some(link),
            peer,
        });
    }

    /// The next free host address: the search starts after the last one given, so a leaver's
    /// address is not handed out again while its stale datagrams may still be in flight.
    pub(super) fn allocate(&mut self) -> Option<Ipv4Addr> {
        let net = self.net?;
        if self.routes.len() >= MAX_PEERS {
            return None;
        }
        let n = net.subnet.host_count();
        // Host numbers 2..=n are for clients (1 is the hub). At most MAX_PEERS are taken, so
        // this finds one within MAX_PEERS + 1 probes whatever the subnet's size.
        for i in 0..n.saturating_sub(1) {
            let h = 2 + (self.next_host.saturating_sub(2) + i) % (n - 1);
            let Some(addr) = net.subnet.host(h) else {
                continue;
            };
            if addr != net.addr && !self.routes.contains_key(&addr) {
                self.next_host = h + 1;
                return Some(addr);
            }
        }
        None
    }

    pub(super) fn hub_up(
        &mut self,
        now: Instant,
        link: LinkId,
        peer: Ipv4Addr,
        frame: Frame<'_>,
        raw: &[u8],
    ) {
        match frame {
            Frame::Datagram(d) => self.hub_route(link, peer, d, raw),
            Frame::Chat(line) | Frame::Lobby(line) if line.from != peer => {
                if let Some(l) = self.links.get_mut(&link) {
                    l.stats.drops_forged += 1;
                }
            }
            Frame::Chat(_) | Frame::Lobby(_) if !self.line_allowed(now, link) => {}
            Frame::Chat(line) => {
                let others: Vec<LinkId> = self.up_links().filter(|&o| o != link).collect();
                self.relay_raw(&others, Channel::Control, raw);
                let name = self.name_of(peer);
                self.event(Event::Chat {
                    from: peer,
                    name,
                    text: line.text,
                });
            }
            Frame::Lobby(line) => {
                let others: Vec<LinkId> = self.up_links().filter(|&o| o != link).collect();
                self.relay_raw(&others, Channel::Control, raw);
                self.on_lobby(line);
            }
            _ => self.invalid(link),
        }
    }

    /// Whether a client's chat or lobby line is within its rate ([`LINES_PER_SEC`], bursts of
    /// [`LINE_BURST`]); one beyond is counted as a flood drop.
    fn line_allowed(&mut self, now: Instant, link: LinkId) -> bool {
        let Some(l) = self.links.get_mut(&link) else {
            return false;
        };
        let ok = l.lines.take(now);
        if !ok {
            l.stats.drops_flood += 1;
        }
        ok
    }

    /// A client's datagram reached the hub: check its source, then deliver or forward it.
    pub(super) fn hub_route(
        &mut self,
        link: LinkId,
        peer: Ipv4Addr,
        d: DatagramFrame<'_>,
        raw: &[u8],
    ) {
        let Some(net) = self.net else { return };
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        if *d.src.ip() != peer {
            l.stats.drops_forged += 1;
            return;
        }
        let dest = net.subnet.classify(*d.dst.ip());
        if dest == Dest::Outside {
            l.stats.drops_out_of_network += 1;
            return;
        }
        l.stats.dgrams_in += 1;
        l.stats.dgram_bytes_in += d.payload.len() as u64;
        match dest {
            Dest::Broadcast => {
                self.deliver(d.src, d.dst.port(), d.payload);
                let others: Vec<LinkId> = self.up_links().filter(|&o| o != link).collect();
                self.forward(&others, &d, Some(raw));
            }
            Dest::Host(ip) if ip == net.addr => self.deliver(d.src, d.dst.port(), d.payload),
            Dest::Host(ip) => match self.routes.get(&ip) {
                Some(&to) => self.forward(&[to], &d, Some(raw)),
                None => {
                    if let Some(l) = self.links.get_mut(&link) {
                        l.stats.drops_no_route += 1;
                    }
                }
            },
            Dest::Outside => {}
        }
    }
}
