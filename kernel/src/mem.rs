//! Checked access to a guest's linear memory.
//!
//! Every pointer and length a guest passes is untrusted: these helpers return EFAULT for anything
//! outside the guest's memory (including arithmetic overflow), so no syscall ever indexes guest
//! memory directly and no bad pointer can panic the host.

use crate::Errno;

/// A view of one guest's linear memory for the duration of a syscall.
pub struct GuestMemory<'a> {
    bytes: &'a mut [u8],
}

impl<'a> GuestMemory<'a> {
    pub fn new(bytes: &'a mut [u8]) -> Self {
        GuestMemory { bytes }
    }

    fn range(&self, ptr: u32, len: u32) -> Result<std::ops::Range<usize>, Errno> {
        let start = ptr as usize;
        let end = start.checked_add(len as usize).ok_or(Errno::Fault)?;
        if end > self.bytes.len() {
            return Err(Errno::Fault);
        }
        Ok(start..end)
    }

    pub fn slice(&self, ptr: u32, len: u32) -> Result<&[u8], Errno> {
        let r = self.range(ptr, len)?;
        Ok(&self.bytes[r])
    }

    pub fn slice_mut(&mut self, ptr: u32, len: u32) -> Result<&mut [u8], Errno> {
        let r = self.range(ptr, len)?;
        Ok(&mut self.bytes[r])
    }

    pub fn read_u16(&self, ptr: u32) -> Result<u16, Errno> {
        Ok(u16::from_le_bytes(
            self.slice(ptr, 2)?.try_into().unwrap_or([0; 2]),
        ))
    }

    pub fn read_u32(&self, ptr: u32) -> Result<u32, Errno> {
        Ok(u32::from_le_bytes(
            self.slice(ptr, 4)?.try_into().unwrap_or([0; 4]),
        ))
    }

    pub fn read_u64(&self, ptr: u32) -> Result<u64, Errno> {
        Ok(u64::from_le_bytes(
            self.slice(ptr, 8)?.try_into().unwrap_or([0; 8]),
        ))
    }

    pub fn write_bytes(&mut self, ptr: u32, data: &[u8]) -> Result<(), Errno> {
        self.slice_mut(ptr, data.len() as u32)?
            .copy_from_slice(data);
        Ok(())
    }

    pub fn write_u8(&mut self, ptr: u32, v: u8) -> Result<(), Errno> {
        self.write_bytes(ptr, &[v])
    }

    pub fn write_u16(&mut self, ptr: u32, v: u16) -> Result<(), Errno> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    pub fn write_u32(&mut self, ptr: u32, v: u32) -> Result<(), Errno> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    pub fn write_u64(&mut self, ptr: u32, v: u64) -> Result<(), Errno> {
        self.write_bytes(ptr, &v.to_le_bytes())
    }

    /// A UTF-8 string (paths); invalid UTF-8 is EINVAL.
    pub fn str(&self, ptr: u32, len: u32) -> Result<&str, Errno> {
        std::str::from_utf8(self.slice(ptr, len)?).map_err(|_| Errno::Inval)
    }

    /// The (ptr, len) pairs of an iovec array, each checked against memory.
    pub fn iovecs(&self, iovs: u32, count: u32) -> Result<Vec<(u32, u32)>, Errno> {
        if count > 1024 {
            return Err(Errno::Inval);
        }
        let mut out = Vec::with_capacity(count as usize);
        for i in 0..count {
            let at = iovs.checked_add(i * 8).ok_or(Errno::Fault)?;
            let ptr = self.read_u32(at)?;
            let len = self.read_u32(at.checked_add(4).ok_or(Errno::Fault)?)?;
            self.range(ptr, len)?;
            out.push((ptr, len));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_bounds_is_efault_never_panic() {
        let mut bytes = vec![0u8; 64];
        let mut m = GuestMemory::new(&mut bytes);
        assert_eq!(m.slice(60, 8).err(), Some(Errno::Fault));
        assert_eq!(m.slice(u32::MAX, 2).err(), Some(Errno::Fault));
        assert_eq!(m.read_u64(57).err(), Some(Errno::Fault));
        assert_eq!(m.write_u32(62, 1).err(), Some(Errno::Fault));
        assert!(m.write_u32(60, 7).is_ok());
        assert_eq!(m.read_u32(60), Ok(7));
        assert_eq!(m.slice(64, 0).map(|s| s.len()), Ok(0));
    }
}
