//! A validated ELF loader for guest programs.
//!
//! Every ISA backend loads its guest through [`ElfImage::parse`] before anything is mapped into an
//! address space. The input is untrusted: a malformed file never panics the host, it yields an
//! [`ElfError`] naming what is wrong.
//!
//! `goblin` decodes the headers, but every field the simulator relies on is checked here again:
//!
//! * the file is at most [`ElfLimits::max_file_bytes`] long, starts with the ELF magic, is
//!   little-endian, is an `ET_EXEC` executable (no `ET_DYN`, `ET_REL`, no `PT_INTERP`), and its
//!   machine is one of [`ElfMachine`] with the matching [`ElfClass`];
//! * the program header table has the standard entry size and lies inside the file;
//! * each `PT_LOAD` segment has `p_filesz <= p_memsz`, its file bytes inside the file, a
//!   power-of-two `p_align` with `p_vaddr ≡ p_offset (mod page size)` (when `p_align > 1`), a
//!   page-rounded virtual range inside [`ElfLimits::user_range`] without overflow, and is not both
//!   writable and executable;
//! * no two `PT_LOAD` segments share a page, their total `p_memsz` is at most
//!   [`ElfLimits::max_image_bytes`], and the entry point lies in an executable segment.
//!
//! All checks run before any segment byte is copied, so a hostile file cannot make the loader
//! allocate more than the limits allow.

use std::collections::BTreeMap;

use goblin::elf::header::{
    self, EI_CLASS, EI_DATA, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFMAG, EM_386, EM_ARM, EM_X86_64, ET_EXEC,
};
use goblin::elf::program_header::{PF_R, PF_W, PF_X, PT_INTERP, PT_LOAD};
use goblin::elf::sym::{STT_FILE, STT_SECTION};
use goblin::elf::Elf;

/// Size of one ELF32 program header entry (`Elf32_Phdr`).
const PHDR32_SIZE: u16 = 32;
/// Size of one ELF64 program header entry (`Elf64_Phdr`).
const PHDR64_SIZE: u16 = 56;
/// `st_shndx` of an undefined symbol.
const SHN_UNDEF: usize = 0;

/// Resource and address-space limits applied while loading a guest ELF file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElfLimits {
    /// Largest accepted file, in bytes (default 16 MiB).
    pub max_file_bytes: u64,
    /// Largest accepted image: the sum of all `PT_LOAD` `p_memsz`, in bytes (default 64 MiB).
    pub max_image_bytes: u64,
    /// The half-open virtual range `[lo, hi)` user segments may occupy, checked on page-rounded
    /// segment bounds (default `(0x1000, 0xE000_0000)`).
    pub user_range: (u64, u64),
    /// Page size in bytes; must be a power of two (default 4096).
    pub page_size: u64,
}

impl Default for ElfLimits {
    fn default() -> Self {
        ElfLimits {
            max_file_bytes: 16 << 20,
            max_image_bytes: 64 << 20,
            user_range: (0x1000, 0xE000_0000),
            page_size: 4096,
        }
    }
}

/// The ELF file class (word size).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElfClass {
    /// `ELFCLASS32`.
    Elf32,
    /// `ELFCLASS64`.
    Elf64,
}

/// The target machine (`e_machine`) of a supported guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElfMachine {
    /// `EM_ARM` (40); ELF32 only.
    Arm,
    /// `EM_386` (3); ELF32 only.
    I386,
    /// `EM_X86_64` (62); ELF64 only.
    X86_64,
}

impl ElfMachine {
    /// The `e_machine` value for this machine.
    pub fn e_machine(self) -> u16 {
        match self {
            ElfMachine::Arm => EM_ARM,
            ElfMachine::I386 => EM_386,
            ElfMachine::X86_64 => EM_X86_64,
        }
    }

    /// The only ELF class this loader accepts for this machine.
    pub fn class(self) -> ElfClass {
        match self {
            ElfMachine::Arm | ElfMachine::I386 => ElfClass::Elf32,
            ElfMachine::X86_64 => ElfClass::Elf64,
        }
    }

    fn from_e_machine(value: u16) -> Option<Self> {
        match value {
            EM_ARM => Some(ElfMachine::Arm),
            EM_386 => Some(ElfMachine::I386),
            EM_X86_64 => Some(ElfMachine::X86_64),
            _ => None,
        }
    }
}

/// One loadable (`PT_LOAD`) segment of a validated image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// First virtual address of the segment (`p_vaddr`).
    pub vaddr: u64,
    /// Size in memory (`p_memsz`); bytes past `data` are zero-filled (bss).
    pub mem_size: u64,
    /// The file-backed bytes (`p_filesz` of them).
    pub data: Vec<u8>,
    /// `PF_R`.
    pub read: bool,
    /// `PF_W`.
    pub write: bool,
    /// `PF_X`.
    pub exec: bool,
}

impl Segment {
    /// The file-backed part `[vaddr, vaddr + data.len())`, or `None` if it overflows.
    fn file_end(&self) -> Option<u64> {
        self.vaddr.checked_add(u64::try_from(self.data.len()).ok()?)
    }

    /// The end of the segment in memory, `vaddr + mem_size`, or `None` if it overflows.
    fn mem_end(&self) -> Option<u64> {
        self.vaddr.checked_add(self.mem_size)
    }
}

/// A symbol from the `.symtab` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbol {
    /// `st_value` (for ARM Thumb functions the low bit is set, as in the file).
    pub value: u64,
    /// `st_size`.
    pub size: u64,
}

/// A parsed and fully validated guest executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfImage {
    /// The file class.
    pub class: ElfClass,
    /// The target machine.
    pub machine: ElfMachine,
    /// The entry point (`e_entry`), as in the file (bit 0 set means Thumb on ARM).
    pub entry: u64,
    /// The `PT_LOAD` segments with a non-zero memory size, sorted by `vaddr`, not sharing any page.
    pub segments: Vec<Segment>,
    /// Defined symbols from `.symtab` by name (the last definition wins on duplicates); empty names,
    /// undefined symbols and section/file symbols are skipped.
    pub symbols: BTreeMap<String, Symbol>,
}

/// Why an ELF file was rejected, or why an access to a loaded image failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ElfError {
    /// The [`ElfLimits`] themselves are unusable.
    #[error("invalid ELF limits: {0}")]
    InvalidLimits(String),
    /// The file is larger than [`ElfLimits::max_file_bytes`].
    #[error("ELF file is {bytes} bytes, larger than the limit of {max} bytes")]
    TooLarge {
        /// Length of the file.
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// The file does not start with the ELF magic `\x7fELF`.
    #[error("not an ELF file: missing the \\x7fELF magic")]
    NotElf,
    /// `goblin` could not decode the file, or a header field is inconsistent.
    #[error("malformed ELF file: {0}")]
    Parse(String),
    /// The file is big-endian; all supported guests are little-endian.
    #[error("big-endian ELF files are not supported (guests must be little-endian)")]
    BigEndian,
    /// `e_machine` is not one of [`ElfMachine`].
    #[error("unsupported ELF machine {0} (supported: EM_386=3, EM_ARM=40, EM_X86_64=62)")]
    UnsupportedMachine(u16),
    /// The file class does not match the machine (e.g. a 64-bit ARM32 file, or x32).
    #[error("ELF class {class:?} is not supported for machine {machine:?} (expected {:?})", machine.class())]
    ClassMismatch {
        /// The class in `e_ident`.
        class: ElfClass,
        /// The machine in `e_machine`.
        machine: ElfMachine,
    },
    /// `e_type` is not `ET_EXEC`.
    #[error("unsupported ELF type {0} ({name}): only static ET_EXEC executables can be loaded", name = header::et_to_str(*.0))]
    UnsupportedType(u16),
    /// The file asks for a program interpreter (`PT_INTERP`), i.e. it is dynamically linked.
    #[error("program header {index} is PT_INTERP: dynamically linked executables are not supported")]
    Interpreter {
        /// Index of the program header.
        index: usize,
    },
    /// The program header table is malformed (wrong entry size, or outside the file).
    #[error("bad program header table: {0}")]
    BadProgramHeaders(String),
    /// No `PT_LOAD` segment with a non-zero memory size.
    #[error("ELF file has no loadable (PT_LOAD) segments")]
    NoLoadableSegments,
    /// A segment's `p_filesz` exceeds its `p_memsz`.
    #[error("program header {index}: p_filesz {filesz:#x} exceeds p_memsz {memsz:#x}")]
    FileSizeExceedsMemSize {
        /// Index of the program header.
        index: usize,
        /// `p_filesz`.
        filesz: u64,
        /// `p_memsz`.
        memsz: u64,
    },
    /// A segment's file bytes `[p_offset, p_offset + p_filesz)` are not inside the file.
    #[error(
        "program header {index}: file bytes [{offset:#x}, +{filesz:#x}) lie outside the {file_len}-byte file"
    )]
    SegmentOutsideFile {
        /// Index of the program header.
        index: usize,
        /// `p_offset`.
        offset: u64,
        /// `p_filesz`.
        filesz: u64,
        /// Length of the file.
        file_len: u64,
    },
    /// `p_align` is not a power of two, or `p_vaddr` and `p_offset` differ modulo the page size.
    #[error(
        "program header {index}: misaligned (p_vaddr {vaddr:#x}, p_offset {offset:#x}, p_align {align:#x}): \
         p_align must be a power of two and p_vaddr ≡ p_offset modulo the page size"
    )]
    Misaligned {
        /// Index of the program header.
        index: usize,
        /// `p_vaddr`.
        vaddr: u64,
        /// `p_offset`.
        offset: u64,
        /// `p_align`.
        align: u64,
    },
    /// A segment's page-rounded range is outside [`ElfLimits::user_range`] or overflows.
    #[error(
        "program header {index}: page-rounded range [{vaddr:#x}, {}) is outside the user range",
        fmt_end(*.end)
    )]
    OutOfRange {
        /// Index of the program header.
        index: usize,
        /// Page-rounded start address.
        vaddr: u64,
        /// Page-rounded end address (exclusive), `None` if it overflows 64 bits.
        end: Option<u64>,
    },
    /// Two `PT_LOAD` segments overlap once rounded to whole pages.
    #[error("program headers {first} and {second} overlap (in page-rounded virtual ranges)")]
    Overlap {
        /// Index of the lower-numbered program header.
        first: usize,
        /// Index of the higher-numbered program header.
        second: usize,
    },
    /// The total `p_memsz` of all segments exceeds [`ElfLimits::max_image_bytes`].
    #[error("loaded image needs {bytes} bytes, more than the limit of {max} bytes")]
    ImageTooLarge {
        /// Total memory size (saturated at `u64::MAX` on overflow).
        bytes: u64,
        /// The limit.
        max: u64,
    },
    /// The entry point is not inside an executable segment.
    #[error("entry point {entry:#x} is not inside an executable segment")]
    EntryNotExecutable {
        /// `e_entry`.
        entry: u64,
    },
    /// A segment is both writable and executable.
    #[error("program header {index}: segment is both writable and executable (W+X is not allowed)")]
    WriteAndExecute {
        /// Index of the program header.
        index: usize,
    },
    /// [`ElfImage::patch`] target is not inside one segment's file-backed bytes.
    #[error("cannot patch {len} bytes at {vaddr:#x}: not inside one segment's file-backed bytes")]
    PatchOutOfRange {
        /// Start of the patch.
        vaddr: u64,
        /// Length of the patch.
        len: u64,
    },
}

fn fmt_end(end: Option<u64>) -> String {
    match end {
        Some(end) => format!("{end:#x}"),
        None => "overflow past u64::MAX".to_string(),
    }
}

/// A `PT_LOAD` segment that passed all per-segment checks, not yet copied.
struct Planned {
    index: usize,
    vaddr: u64,
    mem_size: u64,
    file_start: usize,
    file_end: usize,
    page_start: u64,
    page_end: u64,
    read: bool,
    write: bool,
    exec: bool,
}

impl ElfImage {
    /// Parse and validate a guest executable against `limits`.
    ///
    /// Never panics on any input; see the [module documentation](self) for the checks made.
    pub fn parse(bytes: &[u8], limits: &ElfLimits) -> Result<ElfImage, ElfError> {
        if !limits.page_size.is_power_of_two() {
            return Err(ElfError::InvalidLimits(format!(
                "page_size {:#x} is not a power of two",
                limits.page_size
            )));
        }
        let file_len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        if file_len > limits.max_file_bytes {
            return Err(ElfError::TooLarge { bytes: file_len, max: limits.max_file_bytes });
        }
        if bytes.get(..ELFMAG.len()) != Some(&ELFMAG[..]) {
            return Err(ElfError::NotElf);
        }

        // The ELF header alone: identify the file before trusting any table in it.
        let hdr = Elf::parse_header(bytes).map_err(parse_error)?;
        let class = match hdr.e_ident[EI_CLASS] {
            ELFCLASS32 => ElfClass::Elf32,
            ELFCLASS64 => ElfClass::Elf64,
            other => return Err(ElfError::Parse(format!("invalid ELF class {other}"))),
        };
        if hdr.e_ident[EI_DATA] != ELFDATA2LSB {
            return Err(ElfError::BigEndian);
        }
        if hdr.e_type != ET_EXEC {
            return Err(ElfError::UnsupportedType(hdr.e_type));
        }
        let machine =
            ElfMachine::from_e_machine(hdr.e_machine).ok_or(ElfError::UnsupportedMachine(hdr.e_machine))?;
        if machine.class() != class {
            return Err(ElfError::ClassMismatch { class, machine });
        }
        let phentsize = match class {
            ElfClass::Elf32 => PHDR32_SIZE,
            ElfClass::Elf64 => PHDR64_SIZE,
        };
        if hdr.e_phnum == 0 {
            return Err(ElfError::NoLoadableSegments);
        }
        if hdr.e_phentsize != phentsize {
            return Err(ElfError::BadProgramHeaders(format!(
                "e_phentsize is {}, expected {phentsize} for {class:?}",
                hdr.e_phentsize
            )));
        }
        let table_end = u64::from(hdr.e_phnum)
            .checked_mul(u64::from(phentsize))
            .and_then(|size| hdr.e_phoff.checked_add(size));
        if table_end.is_none_or(|end| end > file_len) {
            return Err(ElfError::BadProgramHeaders(format!(
                "{} entries at offset {:#x} extend past the end of the {file_len}-byte file",
                hdr.e_phnum, hdr.e_phoff
            )));
        }

        // The whole file: program headers, section headers, symbols.
        let elf = Elf::parse(bytes).map_err(parse_error)?;

        let page_mask = limits.page_size - 1;
        let mut planned = Vec::new();
        let mut total: Option<u64> = Some(0);
        for (index, ph) in elf.program_headers.iter().enumerate() {
            if ph.p_type == PT_INTERP {
                return Err(ElfError::Interpreter { index });
            }
            if ph.p_type != PT_LOAD {
                continue;
            }
            if ph.p_filesz > ph.p_memsz {
                return Err(ElfError::FileSizeExceedsMemSize {
                    index,
                    filesz: ph.p_filesz,
                    memsz: ph.p_memsz,
                });
            }
            let outside =
                || ElfError::SegmentOutsideFile { index, offset: ph.p_offset, filesz: ph.p_filesz, file_len };
            let file_end =
                ph.p_offset.checked_add(ph.p_filesz).filter(|&end| end <= file_len).ok_or_else(outside)?;
            let file_start = usize::try_from(ph.p_offset).map_err(|_| outside())?;
            let file_end = usize::try_from(file_end).map_err(|_| outside())?;
            if ph.p_memsz == 0 {
                // Occupies no memory: nothing to map, nothing to check further.
                continue;
            }
            let (read, write, exec) =
                (ph.p_flags & PF_R != 0, ph.p_flags & PF_W != 0, ph.p_flags & PF_X != 0);
            if write && exec {
                return Err(ElfError::WriteAndExecute { index });
            }
            if ph.p_align > 1
                && (!ph.p_align.is_power_of_two() || ph.p_vaddr & page_mask != ph.p_offset & page_mask)
            {
                return Err(ElfError::Misaligned {
                    index,
                    vaddr: ph.p_vaddr,
                    offset: ph.p_offset,
                    align: ph.p_align,
                });
            }
            let page_start = ph.p_vaddr & !page_mask;
            let page_end = ph
                .p_vaddr
                .checked_add(ph.p_memsz)
                .and_then(|end| end.checked_add(page_mask))
                .map(|end| end & !page_mask);
            let (lo, hi) = limits.user_range;
            let page_end = match page_end {
                Some(end) if page_start >= lo && end <= hi => end,
                end => return Err(ElfError::OutOfRange { index, vaddr: page_start, end }),
            };
            total = total.and_then(|t| t.checked_add(ph.p_memsz));
            planned.push(Planned {
                index,
                vaddr: ph.p_vaddr,
                mem_size: ph.p_memsz,
                file_start,
                file_end,
                page_start,
                page_end,
                read,
                write,
                exec,
            });
        }
        if planned.is_empty() {
            return Err(ElfError::NoLoadableSegments);
        }
        match total {
            Some(bytes) if bytes <= limits.max_image_bytes => {}
            bytes => {
                return Err(ElfError::ImageTooLarge {
                    bytes: bytes.unwrap_or(u64::MAX),
                    max: limits.max_image_bytes,
                })
            }
        }

        planned.sort_by_key(|p| (p.vaddr, p.index));
        for pair in planned.windows(2) {
            if let [a, b] = pair {
                if b.page_start < a.page_end {
                    return Err(ElfError::Overlap {
                        first: a.index.min(b.index),
                        second: a.index.max(b.index),
                    });
                }
            }
        }

        let entry = elf.header.e_entry;
        // On ARM, bit 0 of the entry point selects Thumb state; the instruction is at entry & !1.
        let entry_addr = if machine == ElfMachine::Arm { entry & !1 } else { entry };
        let entry_ok =
            planned.iter().any(|p| p.exec && entry_addr >= p.vaddr && entry_addr - p.vaddr < p.mem_size);
        if !entry_ok {
            return Err(ElfError::EntryNotExecutable { entry });
        }

        // Everything is validated: copying is bounded by max_image_bytes (filesz <= memsz).
        let mut segments = Vec::with_capacity(planned.len());
        for p in &planned {
            let data = bytes.get(p.file_start..p.file_end).ok_or(ElfError::SegmentOutsideFile {
                index: p.index,
                offset: p.file_start as u64,
                filesz: (p.file_end - p.file_start) as u64,
                file_len,
            })?;
            segments.push(Segment {
                vaddr: p.vaddr,
                mem_size: p.mem_size,
                data: data.to_vec(),
                read: p.read,
                write: p.write,
                exec: p.exec,
            });
        }

        let mut symbols = BTreeMap::new();
        for sym in elf.syms.iter() {
            let kind = sym.st_type();
            if kind == STT_SECTION || kind == STT_FILE || sym.st_shndx == SHN_UNDEF {
                continue;
            }
            match elf.strtab.get_at(sym.st_name) {
                Some(name) if !name.is_empty() => {
                    symbols.insert(name.to_string(), Symbol { value: sym.st_value, size: sym.st_size });
                }
                _ => {}
            }
        }

        Ok(ElfImage { class, machine, entry, segments, symbols })
    }

    /// The symbol called `name`, if the file defines it.
    pub fn symbol(&self, name: &str) -> Option<Symbol> {
        self.symbols.get(name).copied()
    }

    /// The bytes of the loaded image at `[vaddr, vaddr + len)` (zero-filled bss), or `None` if the
    /// range is not inside one segment.
    pub fn read(&self, vaddr: u64, len: u64) -> Option<Vec<u8>> {
        let end = vaddr.checked_add(len)?;
        let seg = self.segments.iter().find(|s| vaddr >= s.vaddr && s.mem_end().is_some_and(|e| end <= e))?;
        let start = usize::try_from(vaddr - seg.vaddr).ok()?;
        let len = usize::try_from(len).ok()?;
        let mut out = vec![0u8; len];
        // The file-backed part of the request, if any; the rest stays zero.
        let avail = seg.data.get(start..).unwrap_or(&[]);
        let n = avail.len().min(len);
        if let (Some(dst), Some(src)) = (out.get_mut(..n), avail.get(..n)) {
            dst.copy_from_slice(src);
        }
        Some(out)
    }

    /// Overwrite initialised data at `vaddr` (e.g. patch a `.data` word before the run).
    ///
    /// The whole range `[vaddr, vaddr + bytes.len())` must lie inside one segment's file-backed
    /// bytes; bss (beyond `p_filesz`) cannot be patched.
    pub fn patch(&mut self, vaddr: u64, bytes: &[u8]) -> Result<(), ElfError> {
        let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        let err = ElfError::PatchOutOfRange { vaddr, len };
        let Some(end) = vaddr.checked_add(len) else { return Err(err) };
        let seg = self
            .segments
            .iter_mut()
            .find(|s| vaddr >= s.vaddr && s.file_end().is_some_and(|e| end <= e))
            .ok_or_else(|| err.clone())?;
        let start = usize::try_from(vaddr - seg.vaddr).map_err(|_| err.clone())?;
        let dst = start.checked_add(bytes.len()).and_then(|stop| seg.data.get_mut(start..stop)).ok_or(err)?;
        dst.copy_from_slice(bytes);
        Ok(())
    }
}

fn parse_error(err: goblin::error::Error) -> ElfError {
    ElfError::Parse(err.to_string())
}
