//! A client's side of the protocol: its handshake with the hub, and what the hub sends it
//! (welcome, roster, chat, lobby, datagrams).

use super::*;

impl Session {
    pub(super) fn client_pending(&mut self, now: Instant, link: LinkId, frame: Frame<'_>) {
        let w = match frame {
            Frame::Welcome(w) => w,
            Frame::Wads(list) => return self.client_wads(link, list),
            Frame::FileData(d) => return self.client_file_data(link, d),
            _ => return self.invalid(link),
        };
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        l.state = LinkState::Up { peer: w.hub_addr };
        l.next_ping = now;
        self.net = Some(NetInfo {
            addr: w.your_addr,
            subnet: w.subnet,
            hub: w.hub_addr,
        });
        self.roster.clear();
        for p in &w.peers {
            self.roster.insert(
                p.addr,
                Member {
                    name: p.name.clone(),
                    lobby: None,
                },
            );
        }
        self.roster.insert(
            w.your_addr,
            Member {
                name: self.cfg.name.clone(),
                lobby: self.my_lobby.clone(),
            },
        );
        self.event(Event::Joined {
            addr: w.your_addr,
            hub: w.hub_addr,
            subnet: w.subnet,
            peers: w.peers,
        });
        if let Some(text) = self.my_lobby.clone() {
            let from = w.your_addr;
            self.transmit(link, &Frame::Lobby(Line { from, text }));
        }
    }

    pub(super) fn client_up(&mut self, link: LinkId, frame: Frame<'_>) {
        let Some(net) = self.net else { return };
        // What the hub relays must come from some other member of the subnet.
        let foreign = |ip: Ipv4Addr| net.subnet.contains_host(ip) && ip != net.addr;
        match frame {
            Frame::Datagram(d) => {
                let for_us = match net.subnet.classify(*d.dst.ip()) {
                    Dest::Broadcast => true,
                    Dest::Host(ip) => ip == net.addr,
                    Dest::Outside => false,
                };
                let Some(l) = self.links.get_mut(&link) else {
                    return;
                };
                if !for_us {
                    l.stats.drops_invalid += 1;
                } else if !foreign(*d.src.ip()) {
                    l.stats.drops_forged += 1;
                } else {
                    l.stats.dgrams_in += 1;
                    l.stats.dgram_bytes_in += d.payload.len() as u64;
                    self.deliver(d.src, d.dst.port(), d.payload);
                }
            }
            Frame::PeerJoined(p) if foreign(p.addr) => {
                self.roster.insert(
                    p.addr,
                    Member {
                        name: p.name.clone(),
                        lobby: None,
                    },
                );
                self.event(Event::PeerJoined {
                    link: None,
                    peer: p,
                });
            }
            Frame::PeerLeft { addr, reason } if foreign(addr) => {
                if let Some(m) = self.roster.remove(&addr) {
                    let peer = PeerInfo { addr, name: m.name };
                    self.event(Event::PeerLeft {
                        link: None,
                        peer,
                        reason,
                    });
                }
            }
            Frame::Chat(line) if foreign(line.from) => {
                let name = self.name_of(line.from);
                self.event(Event::Chat {
                    from: line.from,
                    name,
                    text: line.text,
                });
            }
            Frame::Lobby(line) if foreign(line.from) => self.on_lobby(line),
            Frame::Chat(_) | Frame::Lobby(_) => {
                if let Some(l) = self.links.get_mut(&link) {
                    l.stats.drops_forged += 1;
                }
            }
            _ => self.invalid(link),
        }
    }

    pub(super) fn on_lobby(&mut self, line: Line) {
        let name = self.name_of(line.from);
        if let Some(m) = self.roster.get_mut(&line.from) {
            m.lobby = Some(line.text.clone());
        }
        self.event(Event::Lobby {
            from: line.from,
            name,
            text: line.text,
        });
    }
}
