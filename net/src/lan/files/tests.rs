//! The LAN file service over real loopback TCP: a whole file across many requests and chunks,
//! and each defence attacked with the bytes an attacker would send.

use super::*;
use std::net::Ipv4Addr;

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed)
        .collect()
}

fn hash_of(b: &[u8]) -> WadHash {
    let mut h = [0u8; 32];
    // Distinct enough for the service, which only compares hashes (the joiner checks SHA-256).
    for (i, x) in b.iter().enumerate() {
        h[i % 32] = h[i % 32].wrapping_mul(31).wrapping_add(*x);
    }
    h[0] ^= b.len() as u8;
    h
}

struct Files(Vec<(WadHash, Vec<u8>)>);

impl FileSource for Files {
    fn read_at(&self, hash: &WadHash, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let (_, data) = self
            .0
            .iter()
            .find(|(h, _)| h == hash)
            .ok_or_else(|| io::Error::other("not here"))?;
        let at = offset as usize;
        buf.copy_from_slice(&data[at..at + buf.len()]);
        Ok(())
    }
}

fn entry(data: &[u8], name: &str, offered: bool) -> WadEntry {
    WadEntry {
        hash: hash_of(data),
        size: data.len() as u64,
        name: name.into(),
        iwad: false,
        offered,
    }
}

const LOOPBACK: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// A server on 127.0.0.1 offering `offered` and listing `kept` (not offered).
fn server(offered: &[(&str, Vec<u8>)], kept: &[(&str, Vec<u8>)], idle: Duration) -> FileServer {
    let mut list: Vec<WadEntry> = offered.iter().map(|(n, d)| entry(d, n, true)).collect();
    list.extend(kept.iter().map(|(n, d)| entry(d, n, false)));
    let files = Files(
        offered
            .iter()
            .map(|(_, d)| (hash_of(d), d.clone()))
            .collect(),
    );
    FileServer::start_with(LOOPBACK, list, Arc::new(files), idle).unwrap()
}

fn collect(client: &mut FileClient, e: &WadEntry) -> Result<Vec<u8>, FetchError> {
    collect_from(client, e, Vec::new())
}

/// [`collect`] after `got`, the bytes an earlier download kept.
fn collect_from(
    client: &mut FileClient,
    e: &WadEntry,
    mut got: Vec<u8>,
) -> Result<Vec<u8>, FetchError> {
    client.fetch(e, got.len() as u64, |off: u64, d: &[u8]| {
        assert_eq!(off as usize, got.len());
        got.extend_from_slice(d);
        Ok(())
    })?;
    Ok(got)
}

/// Sends `frame` raw (length prefix and all) and says whether the server then closed the
/// connection without answering.
fn closed_after(stream: &mut TcpStream, raw: &[u8]) -> bool {
    stream.write_all(raw).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut b = [0u8; 64];
    matches!(stream.read(&mut b), Ok(0) | Err(_))
}

/// A raw connection with the list read off it.
fn raw_connection(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut buf = vec![0u8; MAX_ANSWER_FRAME];
    let len = read_frame(&mut s, &mut buf).unwrap().unwrap();
    assert!(matches!(Frame::parse(&buf[..len]), Ok(Frame::Wads(_))));
    s
}

fn framed(frame: &Frame<'_>) -> Vec<u8> {
    let b = frame.to_vec().unwrap();
    let mut v = (b.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(&b);
    v
}

#[test]
fn a_joiner_gets_the_list_and_whole_files_across_many_requests() {
    let big = bytes(3 * MAX_FILE_REQUEST as usize + 12_345, 7);
    let small = bytes(10, 9);
    let s = server(
        &[("big.wad", big.clone()), ("small.deh", small.clone())],
        &[("kept.wad", bytes(5, 1))],
        IDLE_LIMIT,
    );
    let mut c = FileClient::connect(s.local_addr()).unwrap().unwrap();
    let names: Vec<(&str, bool)> = c
        .list()
        .iter()
        .map(|e| (e.name.as_str(), e.offered))
        .collect();
    assert_eq!(
        names,
        vec![("big.wad", true), ("small.deh", true), ("kept.wad", false)]
    );
    let list = c.list().to_vec();
    assert_eq!(collect(&mut c, &list[0]).unwrap(), big);
    // The same connection serves the next file.
    assert_eq!(collect(&mut c, &list[1]).unwrap(), small);
}

#[test]
fn a_joiner_resumes_from_the_bytes_it_kept() {
    let big = bytes(2 * MAX_FILE_REQUEST as usize + 777, 3);
    let s = server(&[("big.wad", big.clone())], &[], IDLE_LIMIT);
    let mut c = FileClient::connect(s.local_addr()).unwrap().unwrap();
    let e = c.list()[0].clone();
    // Only the rest is asked for and handed over, from where the kept part ends.
    let kept = MAX_FILE_REQUEST as usize + 5;
    assert_eq!(collect_from(&mut c, &e, big[..kept].to_vec()).unwrap(), big);
    // All of it kept: nothing to ask.
    let mut calls = 0;
    c.fetch(&e, e.size, |_: u64, _: &[u8]| {
        calls += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(calls, 0);
}

#[test]
fn nothing_listening_is_no_service_not_an_error() {
    let free = TcpListener::bind(LOOPBACK).unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    assert!(FileClient::connect(addr).unwrap().is_none());
}

#[test]
fn a_file_that_is_not_offered_is_not_sent() {
    let kept = bytes(1000, 3);
    let s = server(
        &[("a.wad", bytes(10, 1))],
        &[("kept.wad", kept.clone())],
        IDLE_LIMIT,
    );
    let mut c = FileClient::connect(s.local_addr()).unwrap().unwrap();
    let e = c.list()[1].clone();
    let err = collect(&mut c, &e).unwrap_err();
    assert!(
        matches!(err, FetchError::Closed { received: 0, .. }),
        "{err}"
    );
    // Nor one it never listed.
    let mut raw = raw_connection(s.local_addr());
    let req = FileRequest {
        hash: [9; 32],
        offset: 0,
        len: 10,
    };
    assert!(closed_after(&mut raw, &framed(&Frame::FileRequest(req))));
}

#[test]
fn a_range_past_the_end_closes_the_connection() {
    let data = bytes(100, 2);
    let s = server(&[("a.wad", data.clone())], &[], IDLE_LIMIT);
    let mut raw = raw_connection(s.local_addr());
    let req = FileRequest {
        hash: hash_of(&data),
        offset: 50,
        len: 51,
    };
    assert!(closed_after(&mut raw, &framed(&Frame::FileRequest(req))));
}

#[test]
fn frames_that_are_not_requests_close_the_connection() {
    let data = bytes(100, 2);
    let s = server(&[("a.wad", data.clone())], &[], IDLE_LIMIT);
    // Longer than any request: the server reads no further.
    let mut raw = raw_connection(s.local_addr());
    assert!(closed_after(&mut raw, &[0xff, 0xff, 1, 2, 3]));
    // A well-formed frame of another type.
    let mut raw = raw_connection(s.local_addr());
    assert!(closed_after(&mut raw, &framed(&Frame::Ping(7))));
    // Garbage of a request's length.
    let mut raw = raw_connection(s.local_addr());
    let mut junk = vec![0, 46];
    junk.extend_from_slice(&[0xa5; 46]);
    assert!(closed_after(&mut raw, &junk));
    // The service still serves an honest joiner.
    let mut c = FileClient::connect(s.local_addr()).unwrap().unwrap();
    let e = c.list()[0].clone();
    assert_eq!(collect(&mut c, &e).unwrap(), data);
}

#[test]
fn a_connection_is_sent_at_most_twice_the_offered_files() {
    let data = bytes(1000, 4);
    let s = server(&[("a.wad", data.clone())], &[], IDLE_LIMIT);
    let mut c = FileClient::connect(s.local_addr()).unwrap().unwrap();
    let e = c.list()[0].clone();
    assert_eq!(collect(&mut c, &e).unwrap(), data);
    assert_eq!(collect(&mut c, &e).unwrap(), data);
    let err = collect(&mut c, &e).unwrap_err();
    assert!(
        matches!(err, FetchError::Closed { received: 0, .. }),
        "{err}"
    );
}

#[test]
fn one_address_gets_two_connections_and_all_get_eight() {
    let s = server(&[("a.wad", bytes(10, 5))], &[], IDLE_LIMIT);
    let a = raw_connection(s.local_addr());
    let b = raw_connection(s.local_addr());
    // The third from 127.0.0.1 is closed before a list.
    let mut third = TcpStream::connect(s.local_addr()).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert!(matches!(third.read(&mut buf), Ok(0) | Err(_)));
    // A slot comes back when its connection ends.
    drop(a);
    let started = std::time::Instant::now();
    let c = loop {
        if let Some(c) = FileClient::connect(s.local_addr()).unwrap() {
            break c;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "no slot back");
        std::thread::sleep(Duration::from_millis(20));
    };
    drop((b, c));

    // The total, across addresses (taken directly: a test cannot connect from 8 addresses).
    let shared = Arc::new(Shared {
        list: Vec::new(),
        source: Arc::new(Files(Vec::new())),
        budget: 0,
        idle: IDLE_LIMIT,
        per_address: Mutex::new(HashMap::new()),
    });
    let slots: Vec<Slot> = (0..MAX_CONNECTIONS as u8)
        .map(|i| Slot::take(&shared, IpAddr::V4(Ipv4Addr::new(10, 0, 0, i))).unwrap())
        .collect();
    assert!(Slot::take(&shared, IpAddr::V4(Ipv4Addr::new(10, 0, 1, 1))).is_none());
    drop(slots);
    assert!(shared.per_address.lock().unwrap().is_empty());
}

#[test]
fn a_silent_connection_is_closed_after_the_idle_limit() {
    let s = server(&[("a.wad", bytes(10, 6))], &[], Duration::from_millis(300));
    let mut raw = raw_connection(s.local_addr());
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = std::time::Instant::now();
    let mut b = [0u8; 8];
    assert!(matches!(raw.read(&mut b), Ok(0) | Err(_)));
    assert!(started.elapsed() < Duration::from_secs(4));
    // And its slot is free again: two more from this address are served.
    let _x = FileClient::connect(s.local_addr()).unwrap().unwrap();
    let _y = FileClient::connect(s.local_addr()).unwrap().unwrap();
}

#[test]
fn a_host_that_stops_answering_is_a_stalled_download() {
    let data = bytes(100, 8);
    let e = entry(&data, "a.wad", true);
    let listener = TcpListener::bind(LOOPBACK).unwrap();
    let addr = listener.local_addr().unwrap();
    let list = vec![e.clone()];
    let host = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.write_all(&framed(&Frame::Wads(list))).unwrap();
        // Reads the request and says nothing more until the joiner gives up.
        let mut b = [0u8; 256];
        while matches!(s.read(&mut b), Ok(n) if n > 0) {}
    });
    let mut c = FileClient::connect_with(addr, Duration::from_millis(300))
        .unwrap()
        .unwrap();
    let err = collect(&mut c, &e).unwrap_err();
    assert!(
        matches!(err, FetchError::Stalled { received: 0, .. }),
        "{err}"
    );
    drop(c);
    host.join().unwrap();
}

#[test]
fn bytes_out_of_place_or_unasked_end_the_download() {
    let data = bytes(100, 8);
    let e = entry(&data, "a.wad", true);
    for (offset, hash) in [(1u64, e.hash), (0, [1; 32])] {
        let listener = TcpListener::bind(LOOPBACK).unwrap();
        let addr = listener.local_addr().unwrap();
        let list = vec![e.clone()];
        let d = data.clone();
        let host = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(&framed(&Frame::Wads(list))).unwrap();
            let fd = FileData {
                hash,
                offset,
                data: &d[..10],
            };
            s.write_all(&framed(&Frame::FileData(fd))).unwrap();
            let mut b = [0u8; 256];
            while matches!(s.read(&mut b), Ok(n) if n > 0) {}
        });
        let mut c = FileClient::connect(addr).unwrap().unwrap();
        let err = collect(&mut c, &e).unwrap_err();
        assert!(matches!(err, FetchError::Protocol(_)), "{err}");
        drop(c);
        host.join().unwrap();
    }
}

#[test]
fn a_store_that_fails_ends_the_download_with_its_error() {
    let data = bytes(50_000, 1);
    let s = server(&[("a.wad", data)], &[], IDLE_LIMIT);
    let mut c = FileClient::connect(s.local_addr()).unwrap().unwrap();
    let e = c.list()[0].clone();
    let err = c
        .fetch(&e, 0, |_: u64, _: &[u8]| Err("the disk is full".into()))
        .unwrap_err();
    assert_eq!(err.to_string(), "the disk is full");
}
