//! doomlink's kernel: runs wasm32-wasi guests in wasmtime and implements their syscalls.
//!
//! The syscalls (`wasi`: preview1; `sockabi`: the UDP socket calls) work on a process's state
//! and on its memory through [`GuestMemory`], never on wasmtime's types; one table per import
//! module (`abi`) links them. The `runner` module (the `wasmtime` feature, on by default) is the
//! one place that knows wasmtime (its Engine, Linker and Stores, guest threads, the module
//! cache); a host that runs the guest on another WebAssembly engine (a browser's) drives a
//! [`Process`] instead, calling its imports by name.
//!
//! One guest is one process (a pid, argv, environment, an exit status, stdout/stderr to a host
//! sink) running on its own thread. Its files, devices and UDP sockets share one fd table
//! (`process`), its namespace is a small VFS of host mounts and device nodes (`vfs`), and its
//! sockets live in the kernel-wide socket layer (`net`), so several processes of one kernel talk
//! over 127.0.0.1. Non-loopback datagrams go to the host through `HostIO::send_dgram`; the host
//! answers with `Kernel::inject_datagram`. The kernel knows nothing of networks beyond that.
//!
//! The guest ABI is described in `ABI.md` beside this crate.

#[macro_use]
mod abi;
pub mod devices;
pub mod errno;
pub mod host;
mod hosted;
mod mem;
pub mod memfs;
pub mod net;
mod process;
#[cfg(feature = "wasmtime")]
mod runner;
mod sockabi;
pub mod vfs;
mod wasi;

pub use abi::CallError;
pub use errno::Errno;
pub use host::{
    CaptureSink, Device, HostIO, HostStderr, HostStdout, NoNetwork, OutputSink, TeeSink,
};
pub use hosted::Process;
pub use mem::{GuestMemory, SliceMemory};
pub use memfs::MemFs;
pub use net::{SocketStats, MAX_DGRAM_PAYLOAD, MAX_INJECT_DGRAM_QUEUE_LEN};
#[cfg(feature = "wasmtime")]
pub use runner::GuestModule;
pub use vfs::{Mount, Vfs};

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use web_time::Instant;

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

/// State shared by every process of a kernel.
pub struct Shared {
    pub(crate) sockets: net::SocketLayer,
    pub(crate) start: Instant,
}

struct ProcEntry {
    killed: Arc<AtomicBool>,
}

struct Inner {
    #[cfg(feature = "wasmtime")]
    runtime: &'static runner::Runtime,
    shared: Arc<Shared>,
    procs: Mutex<HashMap<Pid, ProcEntry>>,
    next_pid: AtomicU32,
    /// The module cache and memory cap: the wasmtime runner's (another engine has its own).
    #[cfg_attr(not(feature = "wasmtime"), allow(dead_code))]
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

impl Kernel {
    pub fn new(config: KernelConfig, host: Arc<dyn HostIO>) -> Result<Kernel, KernelError> {
        Ok(Kernel {
            inner: Arc::new(Inner {
                #[cfg(feature = "wasmtime")]
                runtime: runner::Runtime::get()?,
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

    /// A new process's state and its kill flag, registered in the process table (so datagrams
    /// can be injected to it) until [`Kernel::reap`].
    fn new_process(&self, spec: ProcessSpec) -> process::ProcCtx {
        let pid = self.inner.next_pid.fetch_add(1, Ordering::Relaxed);
        let killed = Arc::new(AtomicBool::new(false));
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
        process::ProcCtx {
            pid,
            args: spec.args,
            env: spec
                .env
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
            vfs: spec.vfs,
            fds: process::FdTable::with_stdio(),
            stdout: spec.stdout,
            stderr: spec.stderr,
            killed,
            shared: self.inner.shared.clone(),
        }
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
