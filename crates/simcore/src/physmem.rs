//! Simulated physical memory as the kernel sees it (for IPC buffers and user frames).

use crate::units::PAddr;

/// Word access to simulated physical memory. The ISA backend implements it over the emulator's RAM;
/// tests use [`VecPhysMem`]. Accesses outside RAM return `None` / `false`, never panic.
pub trait PhysMem {
    /// Reads a little-endian word of `bytes` (4 or 8) at `pa`.
    fn read_word(&self, pa: PAddr, bytes: u32) -> Option<u64>;
    /// Writes a little-endian word of `bytes` (4 or 8) at `pa`; false if outside RAM.
    fn write_word(&mut self, pa: PAddr, bytes: u32, value: u64) -> bool;
    /// Zeroes `len` bytes at `pa` (a multiple of 4 at a 4-aligned address); false if any of them
    /// is outside RAM.
    fn zero(&mut self, pa: PAddr, len: u64) -> bool {
        (0..len / 4).all(|i| self.write_word(pa.offset(i * 4), 4, 0))
    }
}

/// Physical memory backed by a plain byte vector starting at `base`.
#[derive(Clone, Debug)]
pub struct VecPhysMem {
    /// Physical address of the first byte.
    pub base: PAddr,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl VecPhysMem {
    /// `size` zeroed bytes at `base`.
    pub fn new(base: PAddr, size: usize) -> VecPhysMem {
        VecPhysMem { base, bytes: vec![0; size] }
    }
}

/// Reads a word from a byte slice that represents physical memory starting at `base`.
pub fn slice_read_word(mem: &[u8], base: PAddr, pa: PAddr, bytes: u32) -> Option<u64> {
    let off = usize::try_from(pa.0.checked_sub(base.0)?).ok()?;
    let src = mem.get(off..off.checked_add(bytes as usize)?)?;
    let mut buf = [0u8; 8];
    buf[..src.len()].copy_from_slice(src);
    Some(u64::from_le_bytes(buf))
}

/// Writes a word into a byte slice that represents physical memory starting at `base`.
pub fn slice_write_word(mem: &mut [u8], base: PAddr, pa: PAddr, bytes: u32, value: u64) -> bool {
    let Some(off) = pa.0.checked_sub(base.0).and_then(|o| usize::try_from(o).ok()) else {
        return false;
    };
    let Some(end) = off.checked_add(bytes as usize) else {
        return false;
    };
    match mem.get_mut(off..end) {
        Some(dst) => {
            dst.copy_from_slice(&value.to_le_bytes()[..bytes as usize]);
            true
        }
        None => false,
    }
}

impl PhysMem for VecPhysMem {
    fn read_word(&self, pa: PAddr, bytes: u32) -> Option<u64> {
        slice_read_word(&self.bytes, self.base, pa, bytes)
    }
    fn write_word(&mut self, pa: PAddr, bytes: u32, value: u64) -> bool {
        slice_write_word(&mut self.bytes, self.base, pa, bytes, value)
    }
}
