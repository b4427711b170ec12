use super::*;

fn binding_request(attrs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (t, v) in attrs {
        body.extend_from_slice(&t.to_be_bytes());
        body.extend_from_slice(&(v.len() as u16).to_be_bytes());
        body.extend_from_slice(v);
        while body.len() % 4 != 0 {
            body.push(0);
        }
    }
    let mut m = vec![0x00, 0x01];
    m.extend_from_slice(&(body.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
    m.extend_from_slice(&[7; 12]);
    m.extend_from_slice(&body);
    m
}

#[test]
fn a_core_that_panics_fails_its_link_only() {
    let identity = Identity::ephemeral().unwrap();
    let mux = RtcMux::bind(
        "127.0.0.1:0".parse().unwrap(),
        &[],
        &RtcOptions::loopback(),
        identity,
    )
    .unwrap();
    let (bad, _) = mux.new_link().unwrap();
    let (good, _) = mux.new_link().unwrap();
    let d = {
        let mut c = lock(&bad.core);
        mux.inner
            .guarded(&mut c, |_, _| panic!("a bug in the WebRTC stack"))
    };
    assert!(d.closed);
    assert_eq!(
        *bad.status.borrow(),
        LinkStatus::Failed("the WebRTC stack failed")
    );
    // The failed link refuses work; the other one takes it.
    assert!(!bad.send(Channel::Control, b"x"));
    assert!(bad
        .accept_answer(&Sdp {
            kind: SdpKind::Answer,
            sdp: String::new()
        })
        .is_err());
    assert_eq!(*good.status.borrow(), LinkStatus::Connecting);
    good.add_candidate(Candidate {
        candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_mline_index: Some(0),
    });
    assert_eq!(lock(&good.core).pending.len(), 1);
}

#[test]
fn a_binding_request_names_its_link_by_ufrag() {
    let m = binding_request(&[(0x8022, b"soft"), (0x0006, b"abcd:wxyz")]);
    assert_eq!(stun_username_ufrag(&m), Some("abcd"));
}

#[test]
fn anything_else_names_no_link() {
    let good = binding_request(&[(0x0006, b"abcd:wxyz")]);
    // Every truncation of a good request.
    for n in 0..good.len() {
        assert_eq!(stun_username_ufrag(&good[..n]), None, "cut at {n}");
    }
    // A response, a bad cookie, no colon, an empty ufrag, no USERNAME, a length past the end.
    let mut response = good.clone();
    response[1] = 0x01;
    response[0] = 0x01;
    assert_eq!(stun_username_ufrag(&response), None);
    let mut cookie = good.clone();
    cookie[5] ^= 1;
    assert_eq!(stun_username_ufrag(&cookie), None);
    assert_eq!(stun_username_ufrag(&binding_request(&[(6, b"abcd")])), None);
    assert_eq!(stun_username_ufrag(&binding_request(&[(6, b":x")])), None);
    assert_eq!(
        stun_username_ufrag(&binding_request(&[(0x8022, b"x")])),
        None
    );
    let mut long = good.clone();
    long[22..24].copy_from_slice(&200u16.to_be_bytes());
    assert_eq!(stun_username_ufrag(&long), None);
    // DTLS and SCTP-looking bytes.
    assert_eq!(
        stun_username_ufrag(&[22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        None
    );
}

fn loopback_edge() -> RtcMux {
    RtcMux::bind(
        "127.0.0.1:0".parse().unwrap(),
        &[],
        &RtcOptions::loopback(),
        Identity::ephemeral().unwrap(),
    )
    .unwrap()
}

/// A joiner's side driven by hand: a sans-IO peer connection on its own UDP socket, answering
/// a link's offer. Driven only while the test calls [`HandPeer::drive`].
struct HandPeer {
    pc: RTCPeerConnection,
    socket: std::net::UdpSocket,
    answer: Sdp,
}

impl HandPeer {
    fn answer(link: &MuxLink, offer: &Sdp) -> HandPeer {
        let now = Instant::now();
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let mut pc = RTCPeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_setting_engine(setting_engine(&RtcOptions::loopback()))
            .build(now)
            .unwrap();
        pc.set_remote_description(
            now,
            RTCSessionDescription::offer(offer.sdp.clone()).unwrap(),
        )
        .unwrap();
        for channel in [Channel::Datagram, Channel::Control] {
            let (label, init) = channel_init(channel);
            pc.create_data_channel(label, Some(init)).unwrap();
        }
        let answer = pc.create_answer(None).unwrap();
        pc.set_local_description(now, answer.clone()).unwrap();
        let local = socket.local_addr().unwrap();
        let host = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: local.ip().to_string(),
                port: local.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()
        .unwrap();
        let init = RTCIceCandidate::from(&host).to_json().unwrap();
        pc.add_local_candidate(init.clone()).unwrap();
        pc.add_local_candidate(RTCIceCandidateInit::default())
            .unwrap();
        for c in link.local_candidates() {
            pc.add_remote_candidate(RTCIceCandidateInit {
                candidate: c.candidate.clone(),
                sdp_mid: c.sdp_mid.clone(),
                sdp_mline_index: c.sdp_mline_index,
                ..Default::default()
            })
            .unwrap();
        }
        let answer = Sdp {
            kind: SdpKind::Answer,
            sdp: answer.sdp,
        };
        link.accept_answer(&answer).unwrap();
        link.add_candidate(Candidate {
            candidate: init.candidate,
            sdp_mid: init.sdp_mid,
            sdp_mline_index: init.sdp_mline_index,
        });
        HandPeer { pc, socket, answer }
    }

    /// Reads, answers and times out for `for_`.
    fn drive(&mut self, for_: Duration) {
        let local = self.socket.local_addr().unwrap();
        let end = Instant::now() + for_;
        let mut buf = [0u8; 2048];
        while Instant::now() < end {
            let now = Instant::now();
            while let Ok((n, from)) = self.socket.recv_from(&mut buf) {
                let _ = self.pc.handle_read(TaggedBytesMut {
                    now,
                    transport: TransportContext {
                        local_addr: local,
                        peer_addr: from,
                        ecn: None,
                        transport_protocol: TransportProtocol::UDP,
                    },
                    message: BytesMut::from(&buf[..n]),
                });
            }
            if self.pc.poll_timeout().is_some_and(|d| d <= now) {
                let _ = self.pc.handle_timeout(now);
            }
            while self.pc.poll_read().is_some() {}
            while self.pc.poll_event().is_some() {}
            while let Some(w) = self.pc.poll_write() {
                let _ = self.socket.send_to(&w.message, w.transport.peer_addr);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn sdp_value<'a>(sdp: &'a str, key: &str) -> &'a str {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .unwrap()
}

/// A connectivity check as a joiner sends it, its integrity keyed with `pwd`.
fn check(username: &str, pwd: &str) -> Vec<u8> {
    use rtc::ice::attributes::{control::AttrControlled, priority::PriorityAttr};
    use rtc::stun::attributes::ATTR_USERNAME;
    use rtc::stun::fingerprint::FINGERPRINT;
    use rtc::stun::integrity::MessageIntegrity;
    use rtc::stun::message::{Message, Setter, TransactionId, BINDING_REQUEST};
    use rtc::stun::textattrs::Username;
    let provider = rtc::crypto::default_provider().unwrap();
    let mut m = Message::new();
    let setters: Vec<Box<dyn Setter + '_>> = vec![
        Box::new(BINDING_REQUEST),
        Box::new(TransactionId::new()),
        Box::new(Username::new(ATTR_USERNAME, username.to_owned())),
        Box::new(AttrControlled(7)),
        Box::new(PriorityAttr(1 << 24)),
        Box::new(MessageIntegrity::new_short_term_integrity_with_provider(
            pwd.to_owned(),
            provider.crypto(),
        )),
        Box::new(FINGERPRINT),
    ];
    m.build(&setters).unwrap();
    m.raw
}

#[test]
fn only_checks_that_pass_integrity_add_addresses_and_a_link_holds_at_most_its_cap() {
    let mux = loopback_edge();
    let (link, offer) = mux.new_link().unwrap();
    let peer = HandPeer::answer(&link, &offer);
    let username = format!(
        "{}:{}",
        sdp_value(&offer.sdp, "a=ice-ufrag:"),
        sdp_value(&peer.answer.sdp, "a=ice-ufrag:")
    );
    let pwd = sdp_value(&offer.sdp, "a=ice-pwd:");
    let sprayers: Vec<_> = (0..40)
        .map(|_| {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            s
        })
        .collect();
    // Checks naming the link by its ufrag (which travels in the clear) but forged: none of
    // their sources may join the link.
    for s in &sprayers {
        s.send_to(
            &check(&username, "not-the-ice-password-at-all"),
            mux.local_addr(),
        )
        .unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(lock(&link.core).addrs.is_empty());
    assert!(mux.inner.table().by_addr.is_empty());
    // Genuine checks from 40 ports (a joiner spraying source ports): the first MAX_LINK_ADDRS
    // are answered and joined, the rest dropped unread.
    for s in &sprayers {
        s.send_to(&check(&username, pwd), mux.local_addr()).unwrap();
    }
    let mut answered = 0;
    for s in &sprayers {
        let mut buf = [0u8; 2048];
        // Its answer (the core may also send a check of its own to the new address).
        while let Ok(n) = s.recv(&mut buf) {
            if is_binding_success(&buf[..n]) {
                answered += 1;
                break;
            }
        }
    }
    assert_eq!(answered, MAX_LINK_ADDRS);
    assert_eq!(lock(&link.core).addrs.len(), MAX_LINK_ADDRS);
    assert_eq!(mux.inner.table().by_addr.len(), MAX_LINK_ADDRS);
    assert_eq!(mux.counters().addrs_refused.load(Ordering::Relaxed), 32);
}

#[test]
fn a_link_whose_peer_stops_acknowledging_is_failed_at_the_send_queue_cap() {
    let mux = loopback_edge();
    let (link, offer) = mux.new_link().unwrap();
    let mut peer = HandPeer::answer(&link, &offer);
    let up_by = Instant::now() + Duration::from_secs(10);
    while *link.status.borrow() != LinkStatus::Up {
        assert!(
            Instant::now() < up_by,
            "never came up: {:?}",
            *link.status.borrow()
        );
        peer.drive(Duration::from_millis(20));
    }
    // The peer goes on holding its socket but reads nothing: no SACK comes back.
    let frame = [0x55u8; 1000];
    let mut sent = 0usize;
    while link.send(Channel::Control, &frame) {
        sent += frame.len();
        assert!(sent <= 4 * SEND_QUEUE_CAP, "the link buffered {sent} bytes");
    }
    assert!(sent >= SEND_QUEUE_CAP / 2, "failed after {sent} bytes");
    assert_eq!(
        *link.status.borrow(),
        LinkStatus::Failed("the peer stopped reading")
    );
    assert_eq!(
        mux.counters().send_queue_overflows.load(Ordering::Relaxed),
        1
    );
}
