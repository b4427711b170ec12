//! doomlink's kernel in a web browser.
//!
//! The page instantiates a wasm32-wasi guest with the browser's own WebAssembly engine and
//! forwards each of its imports to [`WebProcess::call`]: the same kernel, syscalls, fd table and
//! sockets as the desktop's wasmtime runner (`doomlink_kernel::Process`), with the guest's
//! memory reached by copies through its exported `WebAssembly.Memory` ([`JsMemory`]). `www/`
//! holds the page's glue (`guest.js`).
//!
//! A guest that runs for long (Chocolate Doom) runs in a Web Worker (`www/worker.js`): its
//! blocking waits park the worker in `Atomics.wait` ([`WorkerHost`]), its frames go to the
//! page's canvas and its key presses come from the page through shared memory (`www/shared.js`
//! lays it out; `www/worker.js` is the worker's side). Its `/data` is a tree held in memory
//! ([`doomlink_kernel::MemFs`]): config, saves, and the demos the page reads back.
//!
//! What this owns: the JavaScript boundary (argument and exit conventions, the memory view,
//! the worker's devices and datagram path). The guest's non-loopback datagrams go to the page,
//! which holds the network, and the page's come back through a ring of shared memory
//! (`www/shared.js`). Its `/dev/dsp` plays through the page's AudioWorklet
//! (`www/audio.js`). [`net`] is the page's side of a netgame: the relay session, invite link,
//! signaling codec and fingerprint checks behind the page's WebRTC (`www/net.js`).
//! The page's screens (the desktop's lobby panel, overlay and letterbox) are
//! doomlink-web-screens', a module of their own so that the worker, which loads this one, does
//! not load egui.

pub mod net;

use doomlink_kernel::devices::FrameBuffer;
use doomlink_kernel::{
    CallError, CaptureSink, Device, Errno, GuestMemory, HostIO, Kernel, KernelConfig, MemFs, Mount,
    NoNetwork, Pid, Process, ProcessSpec,
};
use std::borrow::Cow;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use wasm_bindgen::prelude::*;

// The worker's side (www/worker.js defines these on its global object before the guest runs).
#[wasm_bindgen]
extern "C" {
    /// The page's wake counter now (read before looking at what the page queued).
    #[wasm_bindgen(js_namespace = globalThis, js_name = doomlinkWakeSeen)]
    fn wake_seen() -> i32;
    /// Sleeps in `Atomics.wait` for up to `ms` unless the wake counter has moved from `seen`,
    /// or less once the page moves it.
    #[wasm_bindgen(js_namespace = globalThis, js_name = doomlinkPark)]
    fn park_ms(seen: i32, ms: f64);
    /// Hands the page a finished frame: `width`×`height` RGBA pixels (a view of this module's
    /// memory: the callee copies what it keeps).
    #[wasm_bindgen(js_namespace = globalThis, js_name = doomlinkFrame)]
    fn present_frame(width: u32, height: u32, rgba: &[u8]);
    /// Moves whole 16-byte input events the page queued into `into`: how many bytes.
    #[wasm_bindgen(js_namespace = globalThis, js_name = doomlinkInput)]
    fn take_input(into: &mut [u8]) -> u32;
    /// Whether the page has queued input events.
    #[wasm_bindgen(js_namespace = globalThis, js_name = doomlinkInputPending)]
    fn input_pending() -> bool;
    /// Hands the page a datagram the guest sent to the network (the view is copied).
    #[wasm_bindgen(js_namespace = globalThis, js_name = doomlinkSend)]
    fn send_to_page(src_port: u16, dst_ip: u32, dst_port: u16, data: &[u8]);
    /// Whether the page has queued datagrams for the guest.
    #[wasm_bindgen(js_namespace = globalThis, js_name = doomlinkNetPending)]
    fn net_pending() -> bool;
    /// Moves the page's oldest queued datagram into `into` as `u32 src_ip, u16 src_port,
    /// u16 dst_port` (LE) and its bytes: the record's length, or 0 when none is queued.
    #[wasm_bindgen(js_namespace = globalThis, js_name = doomlinkTakeDatagram)]
    fn take_datagram(into: &mut [u8]) -> u32;
    /// Hands the page interleaved stereo s16le PCM for its audio output (the view is copied).
    #[wasm_bindgen(js_namespace = globalThis, js_name = doomlinkPcm)]
    fn play_pcm(data: &[u8]);
    /// Stereo frames the page's audio output has consumed so far (wrapping at 2^32).
    #[wasm_bindgen(js_namespace = globalThis, js_name = doomlinkPcmPlayed)]
    fn pcm_played() -> u32;
    /// Hands the page a whole `/dev/lobby` record (`lobby` … `end`, assets/chocolate-doom/LOBBY.md).
    #[wasm_bindgen(js_namespace = globalThis, js_name = doomlinkLobby)]
    fn lobby_record(text: &str);
    /// Takes the command the page's lobby panel left for the guest: 0 none, 1 `start`,
    /// 2 `quit`.
    #[wasm_bindgen(js_namespace = globalThis, js_name = doomlinkLobbyCommand)]
    fn take_lobby_command() -> u32;
}

/// The largest record [`take_datagram`] moves (the page's ring slots are this size).
const MAX_RECORD: usize = 2048;
/// A datagram record's header: source address, source port, destination port.
const RECORD_HEADER: usize = 8;

/// The host of a guest in a Web Worker: its non-loopback datagrams go to the page (which holds
/// the network), the page's come back through shared memory, and its blocking waits park the
/// worker (a worker's thread cannot wait on the kernel's condition variable).
#[derive(Default)]
struct WorkerHost {
    /// Where the page's datagrams go: the process's kernel and pid, once it has them (cleared
    /// when the process ends, so that kernel and host do not hold each other).
    target: Mutex<Option<(Kernel, Pid)>>,
}

impl WorkerHost {
    /// Injects every datagram the page has queued (whether there were any); datagrams for a
    /// port with no socket are dropped, as a network drops them.
    fn deliver_queued(&self) -> bool {
        if !net_pending() {
            return false;
        }
        let Some((kernel, pid)) = self
            .target
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        else {
            return false;
        };
        let mut record = [0u8; MAX_RECORD];
        loop {
            let n = (take_datagram(&mut record) as usize).min(MAX_RECORD);
            if n < RECORD_HEADER {
                break;
            }
            let src_ip = Ipv4Addr::from(u32::from_le_bytes([
                record[0], record[1], record[2], record[3],
            ]));
            let src_port = u16::from_le_bytes([record[4], record[5]]);
            let dst_port = u16::from_le_bytes([record[6], record[7]]);
            let _ = kernel.inject_datagram(pid, dst_port, src_ip, src_port, &record[8..n]);
        }
        true
    }
}

impl HostIO for WorkerHost {
    fn send_dgram(
        &self,
        _pid: Pid,
        src_port: u16,
        dst_ip: Ipv4Addr,
        dst_port: u16,
        data: &[u8],
    ) -> Result<(), Errno> {
        send_to_page(src_port, u32::from(dst_ip), dst_port, data);
        Ok(())
    }

    fn parks(&self) -> bool {
        true
    }

    fn park(&self, nap: std::time::Duration) {
        // The counter first, then what is queued: a datagram the page queues after this look
        // moves the counter, and the wait returns at once instead of sleeping through it.
        let seen = wake_seen();
        if self.deliver_queued() {
            // The kernel looks again at once: what arrived may be what the guest waits for.
            return;
        }
        park_ms(seen, nap.as_secs_f64() * 1e3);
        self.deliver_queued();
    }
}

/// `/dev/fb0` for a page: the kernel's frame buffer (the same record checks), each frame
/// expanded to RGBA and handed to the page's canvas.
struct Screen {
    frames: FrameBuffer,
    rgba: Mutex<Vec<u8>>,
}

impl Device for Screen {
    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let n = self.frames.write(data)?;
        let mut rgba = self.rgba.lock().unwrap_or_else(|e| e.into_inner());
        let size = self.frames.with_newer(0, |frame| {
            frame.to_rgba(&mut rgba);
            (frame.width, frame.height)
        });
        if let Some((width, height)) = size {
            present_frame(width, height, &rgba);
        }
        Ok(n)
    }
}

/// `/dev/dsp` for a page: PCM goes to the page's audio output (an AudioWorklet), and a read
/// tells the guest how many frames are still queued there (written and not yet played), so it
/// tops up to its target latency as it does on the desktop.
struct PageAudio {
    /// Frames handed to the page so far (wrapping, as the page's count does).
    written: std::sync::atomic::AtomicU32,
    /// The most frames queued at once; writes beyond it are refused (the desktop's ring holds
    /// a quarter of a second too).
    capacity: u32,
}

impl PageAudio {
    fn queued(&self) -> u32 {
        let written = self.written.load(std::sync::atomic::Ordering::Relaxed);
        written.wrapping_sub(pcm_played()).min(self.capacity)
    }
}

impl Device for PageAudio {
    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let room = self.capacity - self.queued();
        let frames = (data.len() / 4).min(room as usize);
        if frames > 0 {
            play_pcm(&data[..frames * 4]);
            self.written
                .fetch_add(frames as u32, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(frames * 4)
    }

    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        if buf.len() < 4 {
            return Err(Errno::Inval);
        }
        buf[..4].copy_from_slice(&self.queued().to_le_bytes());
        Ok(4)
    }
}

/// `/dev/input` for a page: the events its keyboard and mouse handlers queued.
struct PageInput;

impl Device for PageInput {
    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let whole = buf.len() / 16 * 16;
        Ok((take_input(&mut buf[..whole]) as usize).min(whole))
    }

    fn readable(&self) -> bool {
        input_pending()
    }
}

/// `/dev/lobby` for a page: the guest's lobby records go to the page whole (one `doomlinkLobby`
/// per record, the way the guest writes them: when the lobby changes); a read finds the command
/// the page's lobby panel left (`start`, `quit`), or nothing.
#[derive(Default)]
struct PageLobby {
    record: Mutex<String>,
}

/// A record longer than this is not one (a lobby of 8 players is well under 2 KiB).
const MAX_LOBBY_RECORD: usize = 64 * 1024;

impl Device for PageLobby {
    fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        let mut record = self.record.lock().unwrap_or_else(|e| e.into_inner());
        for line in String::from_utf8_lossy(data).split_inclusive('\n') {
            if record.len() + line.len() > MAX_LOBBY_RECORD {
                record.clear();
            }
            record.push_str(line);
            if line.trim_end() == "end" {
                lobby_record(&record);
                record.clear();
            }
        }
        Ok(data.len())
    }

    fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let line: &[u8] = match take_lobby_command() {
            1 => b"start\n",
            2 => b"quit\n",
            _ => return Ok(0),
        };
        if buf.len() < line.len() {
            return Err(Errno::Inval);
        }
        buf[..line.len()].copy_from_slice(line);
        Ok(line.len())
    }
}

/// A guest's linear memory seen from the kernel's own module: the guest's exported memory,
/// read and written by copies (a module cannot address another's memory).
struct JsMemory(js_sys::Uint8Array);

impl JsMemory {
    fn view(memory: &js_sys::WebAssembly::Memory) -> JsMemory {
        // A fresh view per call: the guest's memory.grow replaces the buffer.
        JsMemory(js_sys::Uint8Array::new(&memory.buffer()))
    }
}

impl GuestMemory for JsMemory {
    fn size(&self) -> usize {
        self.0.length() as usize
    }

    fn bytes(&self, ptr: u32, len: u32) -> Result<Cow<'_, [u8]>, Errno> {
        self.check(ptr, len)?;
        Ok(Cow::Owned(self.0.subarray(ptr, ptr + len).to_vec()))
    }

    fn write_bytes(&mut self, ptr: u32, data: &[u8]) -> Result<(), Errno> {
        let len = u32::try_from(data.len()).map_err(|_| Errno::Fault)?;
        self.check(ptr, len)?;
        self.0.subarray(ptr, ptr + len).copy_from(data);
        Ok(())
    }

    fn fill(
        &mut self,
        ptr: u32,
        len: u32,
        f: &mut dyn FnMut(&mut [u8]) -> Result<usize, Errno>,
    ) -> Result<usize, Errno> {
        self.check(ptr, len)?;
        let mut buf = vec![0u8; len as usize];
        let n = f(&mut buf)?.min(buf.len());
        self.0.subarray(ptr, ptr + n as u32).copy_from(&buf[..n]);
        Ok(n)
    }
}

/// One guest process of a kernel of its own, driven by the page.
#[wasm_bindgen]
pub struct WebProcess {
    process: Process,
    output: CaptureSink,
    /// The guest's `/data`.
    data: MemFs,
    /// The host of a guest in a worker (None: on a page's main thread, no network).
    worker: Option<Arc<WorkerHost>>,
    /// Kept for the process's life (its sockets live in it).
    _kernel: Kernel,
}

/// A `/data` path's components (`name` relative to it; `..` cannot leave it).
fn data_path(name: &str) -> Result<Vec<String>, JsError> {
    doomlink_kernel::vfs::normalize(&[], name).map_err(|e| JsError::new(&format!("{name}: {e}")))
}

#[wasm_bindgen]
impl WebProcess {
    /// A process with argv `args` (argv[0] first) and environment `env` (`NAME=value` each),
    /// its `/data` an empty tree in memory; its stdout and stderr are kept for
    /// [`WebProcess::output`]. `in_worker`: the guest runs in a Web Worker whose glue parks it
    /// and serves its devices (`www/worker.js`); otherwise it runs where it cannot block.
    #[wasm_bindgen(constructor)]
    pub fn new(
        args: Vec<String>,
        env: Vec<String>,
        in_worker: bool,
    ) -> Result<WebProcess, JsError> {
        let worker = in_worker.then(|| Arc::new(WorkerHost::default()));
        let host: Arc<dyn HostIO> = match &worker {
            Some(w) => w.clone(),
            None => Arc::new(NoNetwork),
        };
        let kernel =
            Kernel::new(KernelConfig::default(), host).map_err(|e| JsError::new(&e.to_string()))?;
        let output = CaptureSink::new();
        let mut spec = ProcessSpec::new(args);
        for pair in env {
            let (name, value) = pair.split_once('=').unwrap_or((&pair, ""));
            spec.env.push((name.to_string(), value.to_string()));
        }
        spec.stdout = Arc::new(output.clone());
        spec.stderr = Arc::new(output.clone());
        let data = MemFs::default();
        spec.vfs.mount(Mount::MemoryDir {
            guest: "/data".into(),
            fs: data.clone(),
        });
        let process = kernel.process(spec);
        if let Some(w) = &worker {
            *w.target.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((kernel.clone(), process.pid()));
        }
        Ok(WebProcess {
            process,
            output,
            data,
            worker,
            _kernel: kernel,
        })
    }

    /// Gives the guest `/dev/fb0`, whose frames go to the worker's `doomlinkFrame`.
    pub fn add_screen(&mut self) {
        self.process.add_device(
            "fb0",
            Arc::new(Screen {
                frames: FrameBuffer::new(),
                rgba: Mutex::new(Vec::new()),
            }),
        );
    }

    /// Gives the guest `/dev/dsp` for PCM at `rate` Hz (the page's audio output's rate, which
    /// the page also gives the guest as `DOOMLINK_AUDIO_RATE`), played through the worker's
    /// `doomlinkPcm`.
    pub fn add_audio(&mut self, rate: u32) {
        self.process.add_device(
            "dsp",
            Arc::new(PageAudio {
                written: Default::default(),
                capacity: (rate / 4).max(1),
            }),
        );
    }

    /// Gives the guest `/dev/lobby`, whose records go to the worker's `doomlinkLobby`.
    pub fn add_lobby(&mut self) {
        self.process
            .add_device("lobby", Arc::new(PageLobby::default()));
    }

    /// Gives the guest `/dev/input`, read from the worker's `doomlinkInput`.
    pub fn add_input(&mut self) {
        self.process.add_device("input", Arc::new(PageInput));
    }

    /// The file `name` of the guest's `/data` (a demo it recorded).
    pub fn data_file(&self, name: &str) -> Result<Vec<u8>, JsError> {
        self.data
            .read(&data_path(name)?)
            .map_err(|e| JsError::new(&format!("/data/{name}: {e}")))
    }

    /// Runs the guest's import `module`.`name` with its arguments (BigInts) on the guest's
    /// `memory`: the i32 it returns to the guest. An import that does not return throws:
    /// `"exit N"` when the guest exits (the page stops it and reads N), an `Error` naming
    /// what the kernel does not provide otherwise.
    pub fn call(
        &mut self,
        module: &str,
        name: &str,
        args: &[i64],
        memory: &js_sys::WebAssembly::Memory,
    ) -> Result<i32, JsValue> {
        // The page's datagrams reach the guest's sockets before any call that could look at
        // them: a game polls its socket without blocking, so waits alone would not do.
        if let Some(w) = &self.worker {
            w.deliver_queued();
        }
        self.process
            .call(module, name, args, &mut JsMemory::view(memory))
            .map_err(|e| match e {
                CallError::Exit(code) => JsValue::from_str(&format!("exit {code}")),
                other => JsError::new(&other.to_string()).into(),
            })
    }

    /// A read-only file of `data` at the guest's `path` (an IWAD the page fetched), before the
    /// guest starts.
    pub fn mount(&mut self, path: String, data: Vec<u8>) {
        self.process.mount(Mount::Bytes {
            guest: path,
            data: data.into(),
        });
    }

    /// Everything the guest wrote to stdout and stderr so far.
    pub fn output(&self) -> String {
        self.output.text()
    }
}

impl Drop for WebProcess {
    fn drop(&mut self) {
        // The host held the kernel for its deliveries: let both go.
        if let Some(w) = &self.worker {
            w.target.lock().unwrap_or_else(|e| e.into_inner()).take();
        }
    }
}
