//! The guests' runner on wasmtime: one Engine and Linker per process, modules compiled once
//! (and cached on disk), a thread per guest, guest memory reached through a `Caller`.
//!
//! Everything wasmtime-specific in the kernel is here (the `wasmtime` feature): the syscalls
//! themselves (`wasi`, `sockabi`) see guest memory only as [`crate::mem::GuestMemory`] and the
//! process as [`ProcCtx`], so another host of the same kernel (a browser's WebAssembly engine)
//! runs them unchanged.

use crate::abi::CallError;
use crate::mem::{GuestMemory, SliceMemory};
use crate::process::{ProcCtx, SysResult};
use crate::{ExitStatus, Kernel, KernelError, ProcessHandle, ProcessSpec};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use wasmtime::{
    Caller, Config, Engine, InstancePre, Linker, Memory, Module, Store, StoreLimits,
    StoreLimitsBuilder,
};

/// What a guest's wasmtime `Store` holds: the process, and the memory and limits wasmtime
/// needs beside it.
pub(crate) struct StoreData {
    pub(crate) proc: ProcCtx,
    memory: Option<Memory>,
    limits: StoreLimits,
}

/// Runs a syscall body with the guest's memory and the process state borrowed together.
pub(crate) fn with_cx<R>(
    caller: &mut Caller<'_, StoreData>,
    f: impl FnOnce(&mut dyn GuestMemory, &mut ProcCtx) -> SysResult<R>,
) -> SysResult<R> {
    let memory = caller.data().memory.ok_or(crate::Errno::Fault)?;
    let (bytes, data) = memory.data_and_store_mut(caller);
    f(&mut SliceMemory::new(bytes), &mut data.proc)
}

/// A compiled guest, ready to start any number of times.
#[derive(Clone)]
pub struct GuestModule {
    pre: InstancePre<StoreData>,
}

/// The engine's epoch advances this often; it bounds how long a kill takes to land in a guest
/// that never makes a syscall.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The process's one wasmtime engine and linker, shared by every kernel (wasmtime's guidance:
/// one Engine per process; Modules and a Linker shared across Stores). Each kernel keeps its
/// own state (sockets, processes, limits) in its Stores, so sharing them changes no kernel's
/// isolation: a room's memory cap, kill and trap stay its own. A module compiled or loaded once
/// serves every kernel, and one thread advances the one engine's epoch.
pub(crate) struct Runtime {
    engine: Engine,
    linker: Linker<StoreData>,
    /// Modules already compiled or loaded, by the hash of their wasm bytes.
    modules: Mutex<HashMap<[u8; 32], GuestModule>>,
}

static RUNTIME: std::sync::OnceLock<Result<Runtime, String>> = std::sync::OnceLock::new();

impl Runtime {
    pub(crate) fn get() -> Result<&'static Runtime, KernelError> {
        RUNTIME
            .get_or_init(|| {
                let mut wcfg = Config::new();
                wcfg.epoch_interruption(true);
                wcfg.cranelift_opt_level(wasmtime::OptLevel::Speed);
                let engine = Engine::new(&wcfg).map_err(|e| e.to_string())?;
                let mut linker = Linker::new(&engine);
                crate::wasi::register_all(&mut linker).map_err(|e| e.to_string())?;
                crate::sockabi::register(&mut linker).map_err(|e| e.to_string())?;
                let ticked = engine.clone();
                std::thread::Builder::new()
                    .name("doomlink-epoch".into())
                    .spawn(move || loop {
                        ticked.increment_epoch();
                        std::thread::sleep(EPOCH_TICK);
                    })
                    .map_err(|e| format!("cannot start the epoch thread: {e}"))?;
                Ok(Runtime {
                    engine,
                    linker,
                    modules: Mutex::new(HashMap::new()),
                })
            })
            .as_ref()
            .map_err(|e| KernelError::Engine(e.clone()))
    }
}

/// Writes `module` to the file cache at `path`: a temporary file, renamed into place, so a
/// reader never sees half a file. A failure only costs the next start a compile.
fn write_cache_file(path: &std::path::Path, module: &Module) {
    let (Some(dir), Ok(bytes)) = (path.parent(), module.serialize()) else {
        return;
    };
    let _ = std::fs::create_dir_all(dir);
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    if std::fs::write(&tmp, bytes).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

impl Kernel {
    /// Compiles a guest (or loads it from the cache) and checks its imports. A module already
    /// loaded in this process, by any kernel, is shared rather than loaded again.
    pub fn load(&self, wasm: &[u8]) -> Result<GuestModule, KernelError> {
        use sha2::{Digest, Sha256};
        let runtime = self.inner.runtime;
        let key: [u8; 32] = Sha256::digest(wasm).into();
        let mut modules = runtime.modules.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = modules.get(&key) {
            // Loaded before, maybe by a kernel without a file cache: this one's gets it too.
            if let Some(path) = self.cache_file(&key) {
                if !path.exists() {
                    write_cache_file(&path, m.pre.module());
                }
            }
            return Ok(m.clone());
        }
        let module = self.compile_cached(wasm, &key)?;
        let pre = runtime.linker.instantiate_pre(&module).map_err(|e| {
            let text = format!("{e:#}");
            // wasmtime names the first undefined import as `module::name` in backticks.
            match text
                .split('`')
                .nth(1)
                .filter(|_| text.contains("unknown import"))
            {
                Some(name) => KernelError::MissingImport(name.to_string()),
                None => KernelError::InvalidModule(text),
            }
        })?;
        let loaded = GuestModule { pre };
        modules.insert(key, loaded.clone());
        Ok(loaded)
    }

    /// Where this kernel's file cache keeps the module of `wasm_hash` for this engine (the
    /// name covers the wasm and the engine's compatibility hash); None without a cache.
    fn cache_file(&self, wasm_hash: &[u8; 32]) -> Option<PathBuf> {
        use sha2::{Digest, Sha256};
        use std::hash::{Hash, Hasher};
        let dir = self.inner.config.cache_dir.as_ref()?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.inner
            .runtime
            .engine
            .precompile_compatibility_hash()
            .hash(&mut h);
        let mut sha = Sha256::new();
        sha.update(wasm_hash);
        sha.update(h.finish().to_le_bytes());
        let key: String = sha
            .finalize()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        Some(dir.join(format!("{key}.cwasm")))
    }

    fn compile_cached(&self, wasm: &[u8], wasm_hash: &[u8; 32]) -> Result<Module, KernelError> {
        let engine = &self.inner.runtime.engine;
        let compile =
            || Module::new(engine, wasm).map_err(|e| KernelError::InvalidModule(format!("{e:#}")));
        let Some(path) = self.cache_file(wasm_hash) else {
            return compile();
        };
        if path.exists() {
            // SAFETY: the file is one this kernel serialised for this engine configuration
            // (the key covers the wasm bytes and the engine's compatibility hash); a stale or
            // damaged file fails to deserialise and is recompiled.
            if let Ok(m) = unsafe { Module::deserialize_file(engine, &path) } {
                return Ok(m);
            }
        }
        let module = compile()?;
        write_cache_file(&path, &module);
        Ok(module)
    }

    /// Starts a process on its own thread.
    pub fn spawn(
        &self,
        module: &GuestModule,
        spec: ProcessSpec,
    ) -> Result<ProcessHandle, KernelError> {
        let limit = spec.memory_limit.unwrap_or(self.inner.config.memory_limit);
        let proc = self.new_process(spec);
        let (pid, killed) = (proc.pid, proc.killed.clone());
        let status: Arc<(Mutex<Option<ExitStatus>>, Condvar)> =
            Arc::new((Mutex::new(None), Condvar::new()));
        let data = StoreData {
            proc,
            memory: None,
            limits: StoreLimitsBuilder::new()
                .memory_size(limit)
                .instances(4)
                .build(),
        };
        let kernel = self.clone();
        let pre = module.pre.clone();
        let st = status.clone();
        let name = format!("guest-{pid}");
        std::thread::Builder::new()
            .name(name)
            .stack_size(8 << 20)
            .spawn(move || {
                // A panic in the host's code under a guest call (a HostIO, a bug of ours) ends
                // this guest as a trap, not the thread silently: its waiters hear of it and the
                // kernel's other guests go on.
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    kernel.run(pre, data)
                }))
                .unwrap_or_else(|panic| {
                    let why = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "no message".into());
                    ExitStatus::Trapped(format!("host panic in a guest call: {why}"))
                });
                kernel.reap(pid);
                let (lock, cvar) = &*st;
                *lock.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
                cvar.notify_all();
            })
            .map_err(|e| {
                self.reap(pid);
                KernelError::Spawn(e)
            })?;
        Ok(ProcessHandle {
            pid,
            killed,
            status,
            kernel: self.clone(),
        })
    }

    /// The body of a process's thread: instantiate, run `_start`, map how it ended.
    fn run(&self, pre: InstancePre<StoreData>, data: StoreData) -> ExitStatus {
        let killed = data.proc.killed.clone();
        let mut store = Store::new(&self.inner.runtime.engine, data);
        store.limiter(|c| &mut c.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if killed.load(Ordering::Relaxed) {
                Err(CallError::Killed.into())
            } else {
                Ok(wasmtime::UpdateDeadline::Continue(1))
            }
        });
        let result = (|| -> wasmtime::Result<()> {
            let instance = pre.instantiate(&mut store)?;
            let memory = instance
                .get_memory(&mut store, "memory")
                .ok_or_else(|| wasmtime::Error::msg("the module exports no memory"))?;
            store.data_mut().memory = Some(memory);
            let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
            start.call(&mut store, ())
        })();
        let status = match result {
            Ok(()) => ExitStatus::Exited(0),
            Err(e) => match e.downcast_ref::<CallError>() {
                Some(CallError::Exit(code)) => ExitStatus::Exited(*code),
                Some(CallError::Killed) => ExitStatus::Killed,
                _ => ExitStatus::Trapped(describe_trap(&e)),
            },
        };
        let ctx = &store.data().proc;
        for id in ctx.fds.sockets().collect::<Vec<_>>() {
            ctx.shared.sockets.close(id);
        }
        status
    }
}

/// A one-line description of a trap: what happened and, when known, in which guest function.
fn describe_trap(e: &wasmtime::Error) -> String {
    let what = match e.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => e.to_string(),
    };
    let place = e.downcast_ref::<wasmtime::WasmBacktrace>().and_then(|bt| {
        bt.frames()
            .iter()
            .find_map(|f| f.func_name().map(str::to_string))
    });
    match place {
        Some(func) => format!("{what} (in {func})"),
        None => what.lines().next().unwrap_or("unknown trap").to_string(),
    }
}
