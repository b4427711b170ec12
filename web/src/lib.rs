//! doomlink's kernel in a web browser.
//!
//! The page instantiates a wasm32-wasi guest with the browser's own WebAssembly engine and
//! forwards each of its imports to [`WebProcess::call`]: the same kernel, syscalls, fd table and
//! sockets as the desktop's wasmtime runner (`doomlink_kernel::Process`), with the guest's
//! memory reached by copies through its exported `WebAssembly.Memory` ([`JsMemory`]). `www/`
//! holds the page's glue (`guest.js`).
//!
//! What this owns: the JavaScript boundary (argument and exit conventions, the memory view).
//! Not yet here: a network (the guest's non-loopback datagrams get ENETUNREACH), and blocking
//! waits, which need the guest in a Web Worker that parks in `Atomics.wait`
//! (`HostIO::parks`).

use doomlink_kernel::{
    CallError, CaptureSink, Errno, GuestMemory, Kernel, KernelConfig, Mount, NoNetwork, Process,
    ProcessSpec,
};
use std::borrow::Cow;
use std::sync::Arc;
use wasm_bindgen::prelude::*;

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
    /// Kept for the process's life (its sockets live in it).
    _kernel: Kernel,
}

#[wasm_bindgen]
impl WebProcess {
    /// A process with argv `args` (argv[0] first); its stdout and stderr are kept for
    /// [`WebProcess::output`].
    #[wasm_bindgen(constructor)]
    pub fn new(args: Vec<String>) -> Result<WebProcess, JsError> {
        let kernel = Kernel::new(KernelConfig::default(), Arc::new(NoNetwork))
            .map_err(|e| JsError::new(&e.to_string()))?;
        let output = CaptureSink::new();
        let mut spec = ProcessSpec::new(args);
        spec.stdout = Arc::new(output.clone());
        spec.stderr = Arc::new(output.clone());
        Ok(WebProcess {
            process: kernel.process(spec),
            output,
            _kernel: kernel,
        })
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
