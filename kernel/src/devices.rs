//! Device nodes a host puts under `/dev` for a guest: a framebuffer, an input queue, an audio
//! ring and line-oriented message channels. Record formats are in ABI.md. Each device is two
//! halves sharing state: the `Device` the guest reads and writes, and the host's handle (the
//! same object, cloned), so the app, the tests and a headless peer all use the same code.

use crate::host::Device;
use crate::Errno;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;
use web_time::Instant;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One paletted frame as the guest finished it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    /// 256 RGB triples.
    pub palette: Vec<u8>,
    /// One palette index per pixel, row-major.
    pub pixels: Vec<u8>,
    /// Counts frames since the device was made (1 for the first): lets the host skip stale ones.
    pub seq: u64,
}

impl Frame {
    /// Expands the frame to RGBA (what a texture upload wants), reusing `out`'s allocation.
    pub fn to_rgba(&self, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(self.pixels.len() * 4);
        for &i in &self.pixels {
            let c = &self.palette[i as usize * 3..i as usize * 3 + 3];
            out.extend_from_slice(&[c[0], c[1], c[2], 255]);
        }
    }
}

/// The largest frame the device accepts (a 1920×1200 port would fit; Doom's is 320×200).
const MAX_FRAME_PIXELS: usize = 1920 * 1200;

#[derive(Default)]
struct FrameState {
    frame: Option<Frame>,
    seq: u64,
}

/// `/dev/fb0`: the guest writes whole frames, the host reads the newest.
#[derive(Clone, Default)]
pub struct FrameBuffer {
    state: Arc<(Mutex<FrameState>, Condvar)>,
}

impl FrameBuffer {
    pub fn new() -> Self {
        Self::default()
    }

    /// The sequence number of the newest frame (0: none yet).
    pub fn seq(&self) -> u64 {
        lock(&self.state.0).seq
    }

    /// A copy of the newest frame.
    pub fn latest(&self) -> Option<Frame> {
        lock(&self.state.0).frame.clone()
    }

    /// Runs `f` on the newest frame without copying it, if it is newer than `after`.
    pub fn with_newer<R>(&self, after: u64, f: impl FnOnce(&Frame) -> R) -> Option<R> {
        let s = lock(&self.state.0);
        s.frame.as_ref().filter(|fr| fr.seq > after).map(f)
    }

    /// Waits up to `timeout` for a frame newer than `after`.
    pub fn wait_newer(&self, after: u64, timeout: Duration) -> Option<Frame> {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.state;
        let mut s = lock(m);
        loop {
            if s.seq > after {
                return s.frame.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            s = cv
                .wait_timeout(s, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Device for FrameBuffer {
    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        if data.len() < 8 + 768 {
            return Err(Errno::Inval);
        }
        let width = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        let height = u32::from_le_bytes([data[4], data[5], data[6], data[7]]);
        let n = (width as usize)
            .checked_mul(height as usize)
            .ok_or(Errno::Inval)?;
        if n == 0 || n > MAX_FRAME_PIXELS || data.len() != 8 + 768 + n {
            return Err(Errno::Inval);
        }
        let (m, cv) = &*self.state;
        let mut s = lock(m);
        s.seq += 1;
        let seq = s.seq;
        // Reuse the previous frame's buffers: no allocation per frame at steady state.
        let frame = s.frame.get_or_insert_with(|| Frame {
            width,
            height,
            palette: Vec::new(),
            pixels: Vec::new(),
            seq,
        });
        frame.width = width;
        frame.height = height;
        frame.seq = seq;
        frame.palette.clear();
        frame.palette.extend_from_slice(&data[8..8 + 768]);
        frame.pixels.clear();
        frame.pixels.extend_from_slice(&data[8 + 768..]);
        drop(s);
        cv.notify_all();
        Ok(data.len())
    }

    fn read(&self, _buf: &mut [u8]) -> Result<usize, Errno> {
        Err(Errno::BadF)
    }
}

/// Doom's event types (d_event.h `evtype_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum EventType {
    KeyDown = 0,
    KeyUp = 1,
    Mouse = 2,
    Quit = 4,
}

/// One input event, Doom's `event_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputEvent {
    pub kind: EventType,
    pub data1: i32,
    pub data2: i32,
    pub data3: i32,
}

impl InputEvent {
    pub fn key_down(key: i32) -> Self {
        InputEvent {
            kind: EventType::KeyDown,
            data1: key,
            data2: 0,
            data3: 0,
        }
    }
    pub fn key_up(key: i32) -> Self {
        InputEvent {
            kind: EventType::KeyUp,
            data1: key,
            data2: 0,
            data3: 0,
        }
    }
    /// Mouse buttons (bit 0 left, 1 right, 2 middle) and motion.
    pub fn mouse(buttons: i32, dx: i32, dy: i32) -> Self {
        InputEvent {
            kind: EventType::Mouse,
            data1: buttons,
            data2: dx,
            data3: dy,
        }
    }
    pub fn quit() -> Self {
        InputEvent {
            kind: EventType::Quit,
            data1: 0,
            data2: 0,
            data3: 0,
        }
    }
    fn encode(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0..4].copy_from_slice(&(self.kind as i32).to_le_bytes());
        b[4..8].copy_from_slice(&self.data1.to_le_bytes());
        b[8..12].copy_from_slice(&self.data2.to_le_bytes());
        b[12..16].copy_from_slice(&self.data3.to_le_bytes());
        b
    }
}

/// How many events may wait before the oldest are dropped (a guest that stopped reading).
const MAX_PENDING_INPUT: usize = 1024;

/// `/dev/input`: the host pushes events, the guest reads them 16 bytes at a time.
#[derive(Clone, Default)]
pub struct InputQueue {
    events: Arc<Mutex<VecDeque<InputEvent>>>,
}

impl InputQueue {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn push(&self, ev: InputEvent) {
        let mut q = lock(&self.events);
        if q.len() >= MAX_PENDING_INPUT {
            q.pop_front();
        }
        q.push_back(ev);
    }
    pub fn pending(&self) -> usize {
        lock(&self.events).len()
    }
}

impl Device for InputQueue {
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let mut q = lock(&self.events);
        let mut n = 0;
        while n + 16 <= buf.len() {
            let Some(ev) = q.pop_front() else { break };
            buf[n..n + 16].copy_from_slice(&ev.encode());
            n += 16;
        }
        Ok(n)
    }
    fn readable(&self) -> bool {
        !lock(&self.events).is_empty()
    }
}

/// `/dev/dsp`: interleaved stereo s16 PCM from the guest, pulled by the host's audio callback.
#[derive(Clone)]
pub struct AudioRing {
    inner: Arc<Mutex<AudioState>>,
}

struct AudioState {
    samples: VecDeque<i16>,
    capacity_frames: usize,
    rate: u32,
    underruns: u64,
}

impl AudioRing {
    /// A ring holding at most `capacity_frames` stereo frames at `rate` Hz.
    pub fn new(rate: u32, capacity_frames: usize) -> Self {
        AudioRing {
            inner: Arc::new(Mutex::new(AudioState {
                samples: VecDeque::with_capacity(capacity_frames * 2),
                capacity_frames,
                rate,
                underruns: 0,
            })),
        }
    }
    pub fn rate(&self) -> u32 {
        lock(&self.inner).rate
    }
    /// Stereo frames waiting.
    pub fn queued_frames(&self) -> usize {
        lock(&self.inner).samples.len() / 2
    }
    /// Times the host wanted samples the guest had not written yet.
    pub fn underruns(&self) -> u64 {
        lock(&self.inner).underruns
    }
    /// Fills `out` (interleaved stereo) with queued samples scaled by `volume`, silence after them.
    pub fn pull(&self, out: &mut [i16], volume: f32) {
        let mut s = lock(&self.inner);
        let have = s.samples.len().min(out.len());
        if have < out.len() && have > 0 {
            s.underruns += 1;
        }
        for (o, v) in out.iter_mut().zip(s.samples.drain(..have)) {
            *o = (v as f32 * volume) as i16;
        }
        out[have..].fill(0);
    }
}

impl Device for AudioRing {
    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let mut s = lock(&self.inner);
        let room = (s.capacity_frames * 2).saturating_sub(s.samples.len());
        let take = (data.len() / 4 * 2).min(room / 2 * 2);
        s.samples.extend(
            data.chunks_exact(2)
                .take(take)
                .map(|c| i16::from_le_bytes([c[0], c[1]])),
        );
        Ok(take * 2)
    }
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        if buf.len() < 4 {
            return Err(Errno::Inval);
        }
        let frames = (lock(&self.inner).samples.len() / 2) as u32;
        buf[..4].copy_from_slice(&frames.to_le_bytes());
        Ok(4)
    }
}

/// A line-oriented channel: the guest writes text lines to the host and reads lines the host
/// queued (the lobby, the control channel).
#[derive(Clone, Default)]
pub struct LineChannel {
    inner: Arc<(Mutex<LineState>, Condvar)>,
}

#[derive(Default)]
struct LineState {
    from_guest: VecDeque<String>,
    partial: Vec<u8>,
    to_guest: VecDeque<u8>,
}

/// Lines kept for the host at most: a host that never reads loses the oldest.
const MAX_LINES: usize = 4096;
const MAX_LINE: usize = 64 * 1024;

impl LineChannel {
    pub fn new() -> Self {
        Self::default()
    }
    /// Queues a line for the guest (a newline is added).
    pub fn send(&self, line: &str) {
        let mut s = lock(&self.inner.0);
        s.to_guest.extend(line.as_bytes());
        s.to_guest.push_back(b'\n');
    }
    /// Takes every complete line the guest wrote so far.
    pub fn drain(&self) -> Vec<String> {
        lock(&self.inner.0).from_guest.drain(..).collect()
    }
    /// Waits up to `timeout` for a line the guest writes.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.inner;
        let mut s = lock(m);
        loop {
            if let Some(l) = s.from_guest.pop_front() {
                return Some(l);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            s = cv
                .wait_timeout(s, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Device for LineChannel {
    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let (m, cv) = &*self.inner;
        let mut s = lock(m);
        for &b in data {
            if b == b'\n' {
                let line = String::from_utf8_lossy(&s.partial).into_owned();
                s.partial.clear();
                if s.from_guest.len() >= MAX_LINES {
                    s.from_guest.pop_front();
                }
                s.from_guest.push_back(line);
            } else if s.partial.len() < MAX_LINE {
                s.partial.push(b);
            }
        }
        drop(s);
        cv.notify_all();
        Ok(data.len())
    }
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let mut s = lock(&self.inner.0);
        let n = buf.len().min(s.to_guest.len());
        for (o, b) in buf.iter_mut().zip(s.to_guest.drain(..n)) {
            *o = b;
        }
        Ok(n)
    }
    fn readable(&self) -> bool {
        !lock(&self.inner.0).to_guest.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framebuffer_rejects_malformed_and_keeps_newest() {
        let fb = FrameBuffer::new();
        assert_eq!(fb.write(&[0; 10]), Err(Errno::Inval));
        let mut rec = vec![0u8; 8 + 768 + 4];
        rec[0] = 2;
        rec[4] = 2;
        rec[8..11].copy_from_slice(&[10, 20, 30]);
        assert_eq!(fb.write(&rec), Ok(rec.len()));
        rec[0] = 3; // width 3 × 2 no longer matches the length
        assert_eq!(fb.write(&rec), Err(Errno::Inval));
        let f = fb.latest().unwrap();
        assert_eq!((f.width, f.height, f.seq), (2, 2, 1));
        let mut rgba = Vec::new();
        f.to_rgba(&mut rgba);
        assert_eq!(&rgba[..4], &[10, 20, 30, 255]);
        assert!(fb.wait_newer(1, Duration::from_millis(1)).is_none());
    }

    #[test]
    fn input_reads_whole_events_only() {
        let q = InputQueue::new();
        q.push(InputEvent::key_down(0xad));
        q.push(InputEvent::key_up(0xad));
        let mut buf = [0u8; 20];
        assert_eq!(q.read(&mut buf), Ok(16));
        assert_eq!(i32::from_le_bytes(buf[4..8].try_into().unwrap()), 0xad);
        assert_eq!(q.pending(), 1);
    }

    #[test]
    fn audio_ring_accepts_what_fits_and_reports_queue() {
        let a = AudioRing::new(44100, 4);
        let pcm: Vec<u8> = (0..12i16).flat_map(|v| v.to_le_bytes()).collect(); // 6 frames
        assert_eq!(a.write(&pcm), Ok(16)); // 4 frames fit
        let mut n = [0u8; 4];
        a.read(&mut n).unwrap();
        assert_eq!(u32::from_le_bytes(n), 4);
        let mut out = [7i16; 10];
        a.pull(&mut out, 1.0);
        assert_eq!(out, [0, 1, 2, 3, 4, 5, 6, 7, 0, 0]);
    }

    #[test]
    fn line_channel_both_ways() {
        let c = LineChannel::new();
        c.write(b"players 2\nsta").unwrap();
        assert_eq!(c.drain(), vec!["players 2".to_string()]);
        c.write(b"rt\n").unwrap();
        assert_eq!(
            c.recv_timeout(Duration::from_millis(1)).as_deref(),
            Some("start")
        );
        c.send("start");
        let mut buf = [0u8; 16];
        assert_eq!(c.read(&mut buf), Ok(6));
        assert_eq!(&buf[..6], b"start\n");
    }
}
