//! Checked access to a guest's linear memory.
//!
//! Every pointer and length a guest passes is untrusted: these accessors return EFAULT for
//! anything outside the guest's memory (including arithmetic overflow), so no syscall ever
//! indexes guest memory directly and no bad pointer can panic the host.
//!
//! The syscalls see guest memory only through [`GuestMemory`], so they do not depend on where
//! that memory lives: in wasmtime it is a slice of the host's own memory ([`SliceMemory`]); a
//! host whose guest memory is not addressable as a slice (a browser's WebAssembly instance,
//! seen from another module) implements the three copying primitives and gets the rest.

use crate::Errno;
use std::borrow::Cow;

/// A view of one guest's linear memory for the duration of a syscall.
pub trait GuestMemory {
    /// The memory's size in bytes.
    fn size(&self) -> usize;

    /// `len` bytes at `ptr`: borrowed where the memory is the host's own, else a copy.
    fn bytes(&self, ptr: u32, len: u32) -> Result<Cow<'_, [u8]>, Errno>;

    /// Copies `data` to `ptr`.
    fn write_bytes(&mut self, ptr: u32, data: &[u8]) -> Result<(), Errno>;

    /// Lets `f` fill the `len` bytes at `ptr` (a read into guest memory) and returns what `f`
    /// returns: the count of bytes it wrote, from the start. The range is checked first.
    fn fill(
        &mut self,
        ptr: u32,
        len: u32,
        f: &mut dyn FnMut(&mut [u8]) -> Result<usize, Errno>,
    ) -> Result<usize, Errno>;

    /// EFAULT unless `len` bytes at `ptr` lie inside the memory.
    fn check(&self, ptr: u32, len: u32) -> Result<(), Errno> {
        range(self.size(), ptr, len).map(|_| ())
    }

    fn read_u16(&self, ptr: u32) -> Result<u16, Errno> {
        Ok(u16::from_le_bytes(
            self.bytes(ptr, 2)?[..].try_into().unwrap_or([0; 2]),
        ))
    }

    fn read_u32(&self, ptr: u32) -> Result<u32, Errno> {
        Ok(u32::from_le_bytes(
            self.bytes(ptr, 4)?[..].try_into().unwrap_or([0; 4]),
        ))
    }

    fn read_u64(&self, ptr: u32) -> Result<u64, Errno> {
        Ok(u64::from_le_bytes(
            self.bytes(ptr, 8)?[..].try_into().unwrap_or([0; 8]),
        ))
    }

    fn write_u8(&mut self, ptr: u32, v: u8) -> Result<(), Errno> {
        self.write_bytes(ptr, &[v])
    }

    fn write_u16(&mut self, ptr: u32, v: u16) -> Result<(), Errno> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    fn write_u32(&mut self, ptr: u32, v: u32) -> Result<(), Errno> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    fn write_u64(&mut self, ptr: u32, v: u64) -> Result<(), Errno> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    /// A UTF-8 string (paths); invalid UTF-8 is EINVAL.
    fn str(&self, ptr: u32, len: u32) -> Result<String, Errno> {
        String::from_utf8(self.bytes(ptr, len)?.into_owned()).map_err(|_| Errno::Inval)
    }

    /// The (ptr, len) pairs of an iovec array, each checked against memory.
    fn iovecs(&self, iovs: u32, count: u32) -> Result<Vec<(u32, u32)>, Errno> {
        if count > 1024 {
            return Err(Errno::Inval);
        }
        let mut out = Vec::with_capacity(count as usize);
        for i in 0..count {
            let at = iovs.checked_add(i * 8).ok_or(Errno::Fault)?;
            let ptr = self.read_u32(at)?;
            let len = self.read_u32(at.checked_add(4).ok_or(Errno::Fault)?)?;
            self.check(ptr, len)?;
            out.push((ptr, len));
        }
        Ok(out)
    }
}

/// `ptr..ptr + len` as indices into a memory of `size` bytes, or EFAULT.
fn range(size: usize, ptr: u32, len: u32) -> Result<std::ops::Range<usize>, Errno> {
    let start = ptr as usize;
    let end = start.checked_add(len as usize).ok_or(Errno::Fault)?;
    if end > size {
        return Err(Errno::Fault);
    }
    Ok(start..end)
}

/// Guest memory that is a slice of the host's own (wasmtime's linear memory): borrowed, never
/// copied.
pub struct SliceMemory<'a> {
    bytes: &'a mut [u8],
}

impl<'a> SliceMemory<'a> {
    pub fn new(bytes: &'a mut [u8]) -> Self {
        SliceMemory { bytes }
    }
}

impl GuestMemory for SliceMemory<'_> {
    fn size(&self) -> usize {
        self.bytes.len()
    }

    fn bytes(&self, ptr: u32, len: u32) -> Result<Cow<'_, [u8]>, Errno> {
        Ok(Cow::Borrowed(
            &self.bytes[range(self.bytes.len(), ptr, len)?],
        ))
    }

    fn write_bytes(&mut self, ptr: u32, data: &[u8]) -> Result<(), Errno> {
        let len = u32::try_from(data.len()).map_err(|_| Errno::Fault)?;
        let r = range(self.bytes.len(), ptr, len)?;
        self.bytes[r].copy_from_slice(data);
        Ok(())
    }

    fn fill(
        &mut self,
        ptr: u32,
        len: u32,
        f: &mut dyn FnMut(&mut [u8]) -> Result<usize, Errno>,
    ) -> Result<usize, Errno> {
        let r = range(self.bytes.len(), ptr, len)?;
        f(&mut self.bytes[r])
    }
}

/// Guest memory reached by copies only, as a host does whose guest memory is not a slice of its
/// own (the three primitives copy; everything else is [`GuestMemory`]'s). The kernel's tests run
/// syscalls through it to hold both kinds of host to one behaviour.
#[cfg(test)]
pub struct CopyingMemory(pub Vec<u8>);

#[cfg(test)]
impl GuestMemory for CopyingMemory {
    fn size(&self) -> usize {
        self.0.len()
    }

    fn bytes(&self, ptr: u32, len: u32) -> Result<Cow<'_, [u8]>, Errno> {
        Ok(Cow::Owned(self.0[range(self.0.len(), ptr, len)?].to_vec()))
    }

    fn write_bytes(&mut self, ptr: u32, data: &[u8]) -> Result<(), Errno> {
        SliceMemory::new(&mut self.0).write_bytes(ptr, data)
    }

    fn fill(
        &mut self,
        ptr: u32,
        len: u32,
        f: &mut dyn FnMut(&mut [u8]) -> Result<usize, Errno>,
    ) -> Result<usize, Errno> {
        let r = range(self.0.len(), ptr, len)?;
        let mut buf = vec![0u8; r.len()];
        let n = f(&mut buf)?.min(buf.len());
        self.0[r.start..r.start + n].copy_from_slice(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out_of_bounds_is_efault_never_panic(m: &mut dyn GuestMemory) {
        assert_eq!(m.bytes(60, 8).err(), Some(Errno::Fault));
        assert_eq!(m.bytes(u32::MAX, 2).err(), Some(Errno::Fault));
        assert_eq!(m.read_u64(57).err(), Some(Errno::Fault));
        assert_eq!(m.write_u32(62, 1).err(), Some(Errno::Fault));
        assert_eq!(
            m.fill(u32::MAX - 1, 4, &mut |_| panic!("not called")).err(),
            Some(Errno::Fault)
        );
        assert!(m.write_u32(60, 7).is_ok());
        assert_eq!(m.read_u32(60), Ok(7));
        assert_eq!(m.bytes(64, 0).map(|s| s.len()), Ok(0));
        assert_eq!(
            m.fill(8, 4, &mut |b| {
                b[..2].copy_from_slice(b"ok");
                Ok(2)
            }),
            Ok(2)
        );
        assert_eq!(m.str(8, 2).as_deref(), Ok("ok"));
        m.write_bytes(16, &[0xff, 0xfe]).unwrap();
        assert_eq!(m.str(16, 2), Err(Errno::Inval));
        // An iovec array pointing past the end is refused as a whole.
        m.write_u32(24, 40).unwrap();
        m.write_u32(28, 8).unwrap();
        m.write_u32(32, 60).unwrap();
        m.write_u32(36, 8).unwrap();
        assert_eq!(m.iovecs(24, 1), Ok(vec![(40, 8)]));
        assert_eq!(m.iovecs(24, 2), Err(Errno::Fault));
        assert_eq!(m.iovecs(24, 1025), Err(Errno::Inval));
    }

    #[test]
    fn a_slice_and_a_copying_memory_check_alike() {
        let mut bytes = vec![0u8; 64];
        out_of_bounds_is_efault_never_panic(&mut SliceMemory::new(&mut bytes));
        let mut copying = CopyingMemory(vec![0u8; 64]);
        out_of_bounds_is_efault_never_panic(&mut copying);
        assert_eq!(copying.0, bytes);
    }
}
