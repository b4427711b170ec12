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
//! the worker's devices). Not yet here: a network (the guest's non-loopback datagrams get
//! ENETUNREACH) and sound.

use doomlink_kernel::devices::FrameBuffer;
use doomlink_kernel::{
    CallError, CaptureSink, Device, Errno, GuestMemory, HostIO, Kernel, KernelConfig, MemFs, Mount,
    NoNetwork, Process, ProcessSpec,
};
use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use wasm_bindgen::prelude::*;

// The worker's side (www/worker.js defines these on its global object before the guest runs).
#[wasm_bindgen]
extern "C" {
    /// Sleeps in `Atomics.wait` for up to `ms`, or less once the page wakes the worker.
    #[wasm_bindgen(js_namespace = globalThis, js_name = doomlinkPark)]
    fn park_ms(ms: f64);
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
}

/// The host of a guest in a Web Worker: no network yet, and its blocking waits park the
/// worker (a worker's thread cannot wait on the kernel's condition variable).
struct WorkerHost;

impl HostIO for WorkerHost {
    fn parks(&self) -> bool {
        true
    }

    fn park(&self, nap: std::time::Duration) {
        park_ms(nap.as_secs_f64() * 1e3);
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
        let host: Arc<dyn HostIO> = if in_worker {
            Arc::new(WorkerHost)
        } else {
            Arc::new(NoNetwork)
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
        Ok(WebProcess {
            process: kernel.process(spec),
            output,
            data,
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
