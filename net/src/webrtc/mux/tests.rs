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
