//! doomlink's kernel: runs wasm32-wasi guests in wasmtime and implements their syscalls.
//!
//! One guest is one process (a pid, argv, environment, an exit status, stdout/stderr to a host
//! sink) running on its own thread. Its files, devices and UDP sockets share one fd table
//! (`process`), its namespace is a small VFS of host mounts and device nodes (`vfs`), and its
//! sockets live in the kernel-wide socket layer (`net`), so several processes of one kernel talk
//! over 127.0.0.1. Non-loopback datagrams go to the host through `HostIO::send_dgram`; the host
//! answers with `Kernel::inject_datagram`. The kernel knows nothing of networks beyond that.
//!
//! The guest ABI is described in `ABI.md` beside this crate.

pub mod devices;
pub mod errno;
pub mod host;
mod mem;
pub mod net;
mod process;
mod sockabi;
pub mod vfs;
mod wasi;

pub use errno::Errno;
pub use host::{
    CaptureSink, Device, HostIO, HostStderr, HostStdout, NoNetwork, OutputSink, TeeSink,
};
pub use net::{SocketStats, MAX_DGRAM_PAYLOAD, MAX_INJECT_DGRAM_QUEUE_LEN};
pub use vfs::{Mount, Vfs};

use process::{FdTable, ProcCtx};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use wasmtime::{Config, Engine, InstancePre, Linker, Module, Store, StoreLimitsBuilder};

/// A process id, unique within one kernel.
pub type Pid = u32;

/// Why the kernel could not load or start a guest.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("cannot set up the wasm engine: {0}")]
    Engine(String),
    #[error("not a valid wasm module: {0}")]
    InvalidModule(String),
    #[error("the module needs an import the kernel does not provide: {0}")]
    MissingImport(String),
    #[error("cannot start the guest thread: {0}")]
    Spawn(std::io::Error),
}

/// Kernel-wide settings.
#[derive(Debug, Clone)]
pub struct KernelConfig {
    /// Where compiled modules are cached (`None`: compile every time).
    pub cache_dir: Option<PathBuf>,
    /// The most linear memory one guest may have, in bytes.
    pub memory_limit: usize,
}

impl Default for KernelConfig {
    fn default() -> Self {
        KernelConfig {
            cache_dir: None,
            memory_limit: 512 << 20,
        }
    }
}

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    /// `proc_exit(code)` or a return from `_start` (0).
    Exited(i32),
    /// The guest trapped; the message names the trap.
    Trapped(String),
    /// The host stopped it.
    Killed,
}

impl ExitStatus {
    /// A shell-style status: the exit code, 134 for a trap, 137 for a kill.
    pub fn code(&self) -> i32 {
        match self {
            ExitStatus::Exited(c) => *c,
            ExitStatus::Trapped(_) => 134,
            ExitStatus::Killed => 137,
        }
    }
    pub fn success(&self) -> bool {
        *self == ExitStatus::Exited(0)
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Exited(c) => write!(f, "exited with status {c}"),
            ExitStatus::Trapped(m) => write!(f, "trapped: {m}"),
            ExitStatus::Killed => write!(f, "killed"),
        }
    }
}

/// What a new process gets: argv (argv[0] is its name), environment, namespace, output sinks.
pub struct ProcessSpec {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub vfs: Vfs,
    pub stdout: Arc<dyn OutputSink>,
    pub stderr: Arc<dyn OutputSink>,
    /// Overrides the kernel's per-guest memory cap.
    pub memory_limit: Option<usize>,
}

impl ProcessSpec {
    pub fn new(args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        ProcessSpec {
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            vfs: Vfs::new(),
            stdout: Arc::new(HostStdout),
            stderr: Arc::new(HostStderr),
            memory_limit: None,
        }
    }
}

/// A compiled guest, ready to start any number of times.
#[derive(Clone)]
pub struct GuestModule {
    pre: InstancePre<ProcCtx>,
}

/// State shared by every process of a kernel.
pub struct Shared {
    pub(crate) sockets: net::SocketLayer,
    pub(crate) start: Instant,
}

struct ProcEntry {
    killed: Arc<AtomicBool>,
}

struct Inner {
    runtime: &'static Runtime,
    shared: Arc<Shared>,
    procs: Mutex<HashMap<Pid, ProcEntry>>,
    next_pid: AtomicU32,
    config: KernelConfig,
}

/// A kernel: cheap to clone (all clones are the same kernel).
#[derive(Clone)]
pub struct Kernel {
    inner: Arc<Inner>,
}

/// A running (or finished) process. Clones are handles to the same process.
#[derive(Clone)]
pub struct ProcessHandle {
    pid: Pid,
    killed: Arc<AtomicBool>,
    status: Arc<(Mutex<Option<ExitStatus>>, Condvar)>,
    kernel: Kernel,
}

impl ProcessHandle {
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Blocks until the process ends.
    pub fn wait(&self) -> ExitStatus {
        let (lock, cvar) = &*self.status;
        let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(st) = s.clone() {
                return st;
            }
            s = cvar.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Waits at most `timeout`; `None` if it is still running.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<ExitStatus> {
        let (lock, cvar) = &*self.status;
        let deadline = Instant::now() + timeout;
        let mut s = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(st) = s.clone() {
                return Some(st);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            s = cvar
                .wait_timeout(s, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    pub fn try_status(&self) -> Option<ExitStatus> {
        self.status
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stops the process from any thread: running wasm is interrupted at the next epoch tick, a
    /// blocked syscall wakes up. The status becomes `Killed` (unless it had already ended).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Relaxed);
        self.kernel.inner.shared.sockets.wake_all();
    }
}

/// The engine's epoch advances this often; it bounds how long a kill takes to land in a guest
/// that never makes a syscall.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The process's one wasmtime engine and linker, shared by every kernel (wasmtime's guidance:
/// one Engine per process; Modules and a Linker shared across Stores). Each kernel keeps its
/// own state (sockets, processes, limits) in its Stores, so sharing them changes no kernel's
/// isolation: a room's memory cap, kill and trap stay its own. A module compiled or loaded once
/// serves every kernel, and one thread advances the one engine's epoch.
struct Runtime {
    engine: Engine,
    linker: Linker<ProcCtx>,
    /// Modules already compiled or loaded, by the hash of their wasm bytes.
    modules: Mutex<HashMap<[u8; 32], GuestModule>>,
}

static RUNTIME: std::sync::OnceLock<Result<Runtime, String>> = std::sync::OnceLock::new();

impl Runtime {
    fn get() -> Result<&'static Runtime, KernelError> {
        RUNTIME
            .get_or_init(|| {
                let mut wcfg = Config::new();
                wcfg.epoch_interruption(true);
                wcfg.cranelift_opt_level(wasmtime::OptLevel::Speed);
                let engine = Engine::new(&wcfg).map_err(|e| e.to_string())?;
                let mut linker = Linker::new(&engine);
                wasi::register(&mut linker).map_err(|e| e.to_string())?;
                sockabi::register(&mut linker).map_err(|e| e.to_string())?;
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
    pub fn new(config: KernelConfig, host: Arc<dyn HostIO>) -> Result<Kernel, KernelError> {
        Ok(Kernel {
            inner: Arc::new(Inner {
                runtime: Runtime::get()?,
                shared: Arc::new(Shared {
                    sockets: net::SocketLayer::new(host),
                    start: Instant::now(),
                }),
                procs: Mutex::new(HashMap::new()),
                next_pid: AtomicU32::new(1),
                config,
            }),
        })
    }

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
        let pid = self.inner.next_pid.fetch_add(1, Ordering::Relaxed);
        let killed = Arc::new(AtomicBool::new(false));
        let status: Arc<(Mutex<Option<ExitStatus>>, Condvar)> =
            Arc::new((Mutex::new(None), Condvar::new()));
        self.inner
            .procs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                pid,
                ProcEntry {
                    killed: killed.clone(),
                },
            );
        let limit = spec.memory_limit.unwrap_or(self.inner.config.memory_limit);
        let ctx = ProcCtx {
            pid,
            args: spec.args,
            env: spec
                .env
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
            vfs: spec.vfs,
            fds: FdTable::with_stdio(),
            stdout: spec.stdout,
            stderr: spec.stderr,
            memory: None,
            limits: StoreLimitsBuilder::new()
                .memory_size(limit)
                .instances(4)
                .build(),
            killed: killed.clone(),
            shared: self.inner.shared.clone(),
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
                let outcome =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| kernel.run(pre, ctx)))
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
    fn run(&self, pre: InstancePre<ProcCtx>, ctx: ProcCtx) -> ExitStatus {
        let killed = ctx.killed.clone();
        let mut store = Store::new(&self.inner.runtime.engine, ctx);
        store.limiter(|c| &mut c.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if killed.load(Ordering::Relaxed) {
                Err(wasi::ProcessEnd::Killed.into())
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
            Err(e) => match e.downcast_ref::<wasi::ProcessEnd>() {
                Some(wasi::ProcessEnd::Exit(code)) => ExitStatus::Exited(*code),
                Some(wasi::ProcessEnd::Killed) => ExitStatus::Killed,
                None => ExitStatus::Trapped(describe_trap(&e)),
            },
        };
        let ctx = store.data();
        for id in ctx.fds.sockets().collect::<Vec<_>>() {
            ctx.shared.sockets.close(id);
        }
        status
    }

    fn reap(&self, pid: Pid) {
        self.inner
            .procs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&pid);
        self.inner.shared.sockets.close_all(pid);
    }

    /// The host delivers a datagram to `pid`'s socket on `dst_port`, from `src_ip:src_port`.
    /// ESRCH: no such process. ECONNREFUSED: no socket there. A full queue (256) drops it silently
    /// and counts it (see `socket_stats`). Wakes a reader blocked on that socket.
    pub fn inject_datagram(
        &self,
        pid: Pid,
        dst_port: u16,
        src_ip: Ipv4Addr,
        src_port: u16,
        data: &[u8],
    ) -> Result<(), Errno> {
        if !self
            .inner
            .procs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&pid)
        {
            return Err(Errno::Srch);
        }
        self.inner
            .shared
            .sockets
            .inject(pid, dst_port, src_ip, src_port, data)
    }

    /// Queue lengths and drop counts of a process's sockets.
    pub fn socket_stats(&self, pid: Pid) -> Vec<SocketStats> {
        self.inner.shared.sockets.stats(pid)
    }

    /// Stops a process by pid (see `ProcessHandle::kill`).
    pub fn kill(&self, pid: Pid) -> Result<(), Errno> {
        let procs = self.inner.procs.lock().unwrap_or_else(|e| e.into_inner());
        let p = procs.get(&pid).ok_or(Errno::Srch)?;
        p.killed.store(true, Ordering::Relaxed);
        drop(procs);
        self.inner.shared.sockets.wake_all();
        Ok(())
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
