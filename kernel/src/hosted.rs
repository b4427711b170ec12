//! A process whose guest another WebAssembly engine runs (a browser's, in a Web Worker): the
//! host instantiates the guest itself and forwards each of its imports here by name, with the
//! guest's memory as a [`GuestMemory`]. The syscalls, fd table, VFS and sockets are the same
//! as under the wasmtime runner; the host's thread is the process's.

use crate::abi::CallError;
use crate::mem::GuestMemory;
use crate::process::ProcCtx;
use crate::{sockabi, wasi, Kernel, Mount, Pid, ProcessSpec};

/// A process driven by its host's calls. Dropping it ends the process: its sockets close and
/// datagrams for it are refused (ESRCH).
pub struct Process {
    kernel: Kernel,
    ctx: ProcCtx,
}

impl Kernel {
    /// A process for a guest the host runs itself ([`Process::call`] for each import).
    pub fn process(&self, spec: ProcessSpec) -> Process {
        Process {
            kernel: self.clone(),
            ctx: self.new_process(spec),
        }
    }
}

impl Process {
    pub fn pid(&self) -> Pid {
        self.ctx.pid
    }

    /// Adds `mount` to the process's namespace (before the guest starts: a browser's page
    /// mounts the IWAD it fetched).
    pub fn mount(&mut self, mount: Mount) {
        self.ctx.vfs.mount(mount);
    }

    /// Adds the device `/dev/<name>` to the process's namespace (before the guest starts: a
    /// page's canvas and keyboard).
    pub fn add_device(&mut self, name: &str, device: std::sync::Arc<dyn crate::Device>) {
        self.ctx.vfs.add_device(name, device);
    }

    /// Runs the guest's import `module`.`name` with its arguments (i32 and i64 values alike as
    /// i64) on the guest's memory `mem`: the i32 the import returns to the guest, or why it
    /// does not return (the process exited or was killed: the host stops the guest; an import
    /// the kernel does not provide, or the wrong number of arguments: the guest cannot run
    /// here).
    pub fn call(
        &mut self,
        module: &str,
        name: &str,
        args: &[i64],
        mem: &mut dyn GuestMemory,
    ) -> Result<i32, CallError> {
        let called = match module {
            wasi::MODULE => wasi::call_import(name, mem, &mut self.ctx, args),
            sockabi::MODULE => sockabi::call(name, mem, &mut self.ctx, args),
            _ => None,
        };
        called.unwrap_or_else(|| Err(CallError::UnknownImport(format!("{module}::{name}"))))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        for id in self.ctx.fds.sockets().collect::<Vec<_>>() {
            self.ctx.shared.sockets.close(id);
        }
        self.kernel.reap(self.ctx.pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mem::CopyingMemory;
    use crate::{CaptureSink, Errno, KernelConfig, NoNetwork};
    use std::net::Ipv4Addr;
    use std::sync::Arc;

    const WASI: &str = wasi::MODULE;
    const NET: &str = sockabi::MODULE;

    fn process() -> (Kernel, Process, CaptureSink) {
        let kernel = Kernel::new(KernelConfig::default(), Arc::new(NoNetwork)).unwrap();
        let out = CaptureSink::new();
        let mut spec = ProcessSpec::new(["prog", "-x"]);
        spec.stdout = Arc::new(out.clone());
        let p = kernel.process(spec);
        (kernel, p, out)
    }

    #[test]
    fn imports_called_by_name_run_the_kernels_syscalls_on_a_copying_memory() {
        let (_kernel, mut p, out) = process();
        let mut m = CopyingMemory(vec![0; 4096]);
        // argv: two strings, "prog\0-x\0".
        assert_eq!(p.call(WASI, "args_sizes_get", &[100, 104], &mut m), Ok(0));
        assert_eq!((m.read_u32(100), m.read_u32(104)), (Ok(2), Ok(8)));
        // stdout through an iovec.
        m.write_bytes(200, b"hello").unwrap();
        m.write_u32(300, 200).unwrap();
        m.write_u32(304, 5).unwrap();
        assert_eq!(p.call(WASI, "fd_write", &[1, 300, 1, 400], &mut m), Ok(0));
        assert_eq!(m.read_u32(400), Ok(5));
        assert_eq!(out.text(), "hello");
        // Each module's own error convention: preview1's errno, the socket calls' -errno.
        let ebadf = Errno::BadF.code() as i32;
        assert_eq!(p.call(WASI, "fd_close", &[99], &mut m), Ok(ebadf));
        assert_eq!(p.call(NET, "sock_bind", &[99, 0, 0], &mut m), Ok(-ebadf));
        // A pointer outside the memory is EFAULT, not a panic.
        let efault = Errno::Fault.code() as i32;
        assert_eq!(
            p.call(WASI, "args_sizes_get", &[4094, 0], &mut m),
            Ok(efault)
        );
    }

    #[test]
    fn a_hosted_process_sends_over_loopback_and_is_injected_to_until_dropped() {
        let (kernel, mut p, _) = process();
        let mut m = CopyingMemory(vec![0; 4096]);
        let fd = p.call(NET, "sock_open", &[1, 5, 0], &mut m).unwrap();
        assert!(fd >= 4, "fd {fd}");
        let fd = i64::from(fd);
        assert_eq!(p.call(NET, "sock_bind", &[fd, 0, 5000], &mut m), Ok(0));
        // To itself over 127.0.0.1.
        m.write_bytes(200, b"ping").unwrap();
        let lo = i64::from(u32::from(Ipv4Addr::LOCALHOST));
        let sent = p.call(NET, "sock_sendto", &[fd, 200, 4, 0, lo, 5000, 1], &mut m);
        assert_eq!(sent, Ok(4));
        assert_eq!(
            p.call(NET, "sock_recvfrom", &[fd, 600, 64, 0, 700], &mut m),
            Ok(4)
        );
        assert_eq!(m.bytes(600, 4).unwrap().as_ref(), b"ping");
        assert_eq!(
            (m.read_u32(700), m.read_u32(704)),
            (Ok(u32::from(Ipv4Addr::LOCALHOST)), Ok(5000))
        );
        // From the host, as a relay delivers.
        let from = Ipv4Addr::new(10, 0, 0, 2);
        kernel
            .inject_datagram(p.pid(), 5000, from, 2342, b"hi")
            .unwrap();
        assert_eq!(
            p.call(NET, "sock_recvfrom", &[fd, 600, 64, 0, 700], &mut m),
            Ok(2)
        );
        assert_eq!(m.bytes(600, 2).unwrap().as_ref(), b"hi");
        assert_eq!(m.read_u32(700), Ok(u32::from(from)));
        let pid = p.pid();
        drop(p);
        assert_eq!(
            kernel.inject_datagram(pid, 5000, from, 2342, b"late"),
            Err(Errno::Srch)
        );
    }

    #[test]
    fn a_file_held_in_memory_reads_seeks_and_stats_like_a_read_only_file() {
        let (_kernel, mut p, _) = process();
        p.mount(Mount::Bytes {
            guest: "/iwad/doom1.wad".into(),
            data: b"IWAD and the rest".as_slice().into(),
        });
        let mut m = CopyingMemory(vec![0; 4096]);
        let path = b"iwad/doom1.wad";
        m.write_bytes(100, path).unwrap();
        let len = path.len() as i64;
        // path_open(dirfd 3 = "/", dirflags, path, len, oflags, rights, inheriting, fdflags, out)
        let open = |p: &mut Process, m: &mut CopyingMemory, oflags: i64, rights: i64| {
            p.call(
                WASI,
                "path_open",
                &[3, 0, 100, len, oflags, rights, 0, 0, 200],
                m,
            )
        };
        assert_eq!(open(&mut p, &mut m, 0, 0), Ok(0));
        let fd = i64::from(m.read_u32(200).unwrap());
        // Two iovecs of 4 and 3 bytes.
        for (at, (ptr, n)) in [(300u32, (400u32, 4u32)), (308, (404, 3))] {
            m.write_u32(at, ptr).unwrap();
            m.write_u32(at + 4, n).unwrap();
        }
        assert_eq!(p.call(WASI, "fd_read", &[fd, 300, 2, 500], &mut m), Ok(0));
        assert_eq!(m.read_u32(500), Ok(7));
        assert_eq!(m.bytes(400, 7).unwrap().as_ref(), b"IWAD an");
        // From the end, and past it.
        assert_eq!(p.call(WASI, "fd_seek", &[fd, -4, 2, 510], &mut m), Ok(0));
        assert_eq!(m.read_u64(510), Ok(13));
        assert_eq!(p.call(WASI, "fd_read", &[fd, 300, 2, 500], &mut m), Ok(0));
        assert_eq!(
            (m.read_u32(500), m.bytes(400, 4).unwrap().as_ref()),
            (Ok(4), &b"rest"[..])
        );
        assert_eq!(p.call(WASI, "fd_read", &[fd, 300, 2, 500], &mut m), Ok(0));
        assert_eq!(m.read_u32(500), Ok(0));
        let einval = Errno::Inval.code() as i32;
        assert_eq!(
            p.call(WASI, "fd_seek", &[fd, -1, 0, 510], &mut m),
            Ok(einval)
        );
        // pread leaves the offset alone; the size is the bytes'.
        assert_eq!(
            p.call(WASI, "fd_pread", &[fd, 300, 1, 5, 500], &mut m),
            Ok(0)
        );
        assert_eq!(m.bytes(400, 4).unwrap().as_ref(), b"and ");
        assert_eq!(p.call(WASI, "fd_filestat_get", &[fd, 600], &mut m), Ok(0));
        assert_eq!(m.read_u64(600 + 32), Ok(17));
        // Read-only: no writes, no opening for writing or creating.
        let (ebadf, erofs) = (Errno::BadF.code() as i32, Errno::RoFs.code() as i32);
        assert_eq!(
            p.call(WASI, "fd_write", &[fd, 300, 1, 500], &mut m),
            Ok(ebadf)
        );
        assert_eq!(open(&mut p, &mut m, 0, 1 << 6), Ok(erofs));
        assert_eq!(open(&mut p, &mut m, 1, 0), Ok(erofs));
    }

    #[test]
    fn exit_unknown_imports_and_wrong_arities_are_not_values() {
        let (_kernel, mut p, _) = process();
        let mut m = CopyingMemory(vec![0; 64]);
        assert_eq!(
            p.call(WASI, "proc_exit", &[3], &mut m),
            Err(CallError::Exit(3))
        );
        assert_eq!(
            p.call(WASI, "fd_write", &[1, 2], &mut m),
            Err(CallError::Arity {
                name: "fd_write",
                want: 4,
                got: 2
            })
        );
        assert_eq!(
            p.call("env", "system", &[], &mut m),
            Err(CallError::UnknownImport("env::system".into()))
        );
        assert_eq!(
            p.call(WASI, "sock_open", &[1, 5, 0], &mut m),
            Err(CallError::UnknownImport(format!("{WASI}::sock_open")))
        );
    }
}
