//! Tests for the validated guest ELF loader (`simcore::elf`).
//!
//! The executables are built by hand (little-endian ELF32 ARM and ELF64 x86-64) so every field can
//! be made to lie.

use std::path::PathBuf;

use simcore::elf::{ElfClass, ElfError, ElfImage, ElfLimits, ElfMachine, Segment, Symbol};

const EM_386: u16 = 3;
const EM_ARM: u16 = 40;
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;
const ET_REL: u16 = 1;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_NOTE: u32 = 4;
const PT_GNU_STACK: u32 = 0x6474_e551;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;
const SHT_SYMTAB: u32 = 2;
const SHT_STRTAB: u32 = 3;
const STT_NOTYPE: u8 = 0;
const STT_OBJECT: u8 = 1;
const STT_FUNC: u8 = 2;
const STT_SECTION: u8 = 3;
const STT_FILE: u8 = 4;
const STB_GLOBAL: u8 = 1;
const SHN_ABS: u16 = 0xfff1;

/// One program header and its payload.
#[derive(Clone)]
struct Seg {
    p_type: u32,
    flags: u32,
    vaddr: u64,
    data: Vec<u8>,
    memsz: u64,
    align: u64,
    /// `None`: placed automatically so that `offset ≡ vaddr (mod 4096)`.
    offset: Option<u64>,
    /// `None`: `data.len()`.
    filesz: Option<u64>,
}

impl Seg {
    fn load(flags: u32, vaddr: u64, data: &[u8], memsz: u64) -> Seg {
        Seg {
            p_type: PT_LOAD,
            flags,
            vaddr,
            data: data.to_vec(),
            memsz,
            align: 0x1000,
            offset: None,
            filesz: None,
        }
    }
}

/// One `.symtab` entry.
#[derive(Clone)]
struct Sym {
    name: &'static str,
    value: u64,
    size: u64,
    kind: u8,
    shndx: u16,
}

fn sym(name: &'static str, value: u64, size: u64, kind: u8) -> Sym {
    Sym { name, value, size, kind, shndx: 1 }
}

/// A hand-rolled little-endian ELF writer.
#[derive(Clone)]
struct Builder {
    is_64: bool,
    data_byte: u8,
    e_type: u16,
    machine: u16,
    entry: u64,
    phentsize: Option<u16>,
    phoff: Option<u64>,
    segs: Vec<Seg>,
    syms: Vec<Sym>,
}

/// Appends little-endian integers and class-sized words.
struct Out {
    bytes: Vec<u8>,
    is_64: bool,
}

impl Out {
    fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    /// An address or offset: 4 bytes (truncated) in ELF32, 8 in ELF64.
    fn word(&mut self, v: u64) {
        if self.is_64 {
            self.u64(v)
        } else {
            self.u32(v as u32)
        }
    }
    fn pad_to(&mut self, len: usize) {
        assert!(self.bytes.len() <= len, "layout bug: {} > {len}", self.bytes.len());
        self.bytes.resize(len, 0);
    }
}

impl Builder {
    fn arm() -> Builder {
        Builder {
            is_64: false,
            data_byte: 1,
            e_type: ET_EXEC,
            machine: EM_ARM,
            entry: 0x10100,
            phentsize: None,
            phoff: None,
            segs: vec![
                // Listed data-first to check that segments come back sorted by vaddr.
                Seg::load(PF_R | PF_W, 0x20200, &[0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7], 0x2000),
                Seg::load(PF_R | PF_X, 0x10100, &[0xe3, 0xa0, 0x00, 0x2a, 0xef, 0x00, 0x00, 0x00], 0x20),
            ],
            syms: vec![
                sym("_start", 0x10100, 8, STT_FUNC),
                sym("counter", 0x20200, 4, STT_OBJECT),
                sym("buffer", 0x21000, 0x100, STT_OBJECT),
            ],
        }
    }

    fn x86_64() -> Builder {
        Builder {
            is_64: true,
            data_byte: 1,
            e_type: ET_EXEC,
            machine: EM_X86_64,
            entry: 0x40_0180,
            phentsize: None,
            phoff: None,
            segs: vec![
                Seg::load(PF_R | PF_X, 0x40_0180, &[0x48, 0x31, 0xc0, 0x0f, 0x05, 0xf4], 0x6),
                Seg::load(PF_R, 0x40_1200, b"rodata!!", 0x8),
                Seg::load(PF_R | PF_W, 0x40_2300, &[1, 2, 3, 4], 0x1000),
            ],
            syms: vec![sym("_start", 0x40_0180, 6, STT_FUNC), sym("table", 0x40_2300, 4, STT_OBJECT)],
        }
    }

    fn with_segs(mut self, segs: Vec<Seg>) -> Builder {
        self.segs = segs;
        self
    }

    fn build(&self) -> Vec<u8> {
        let is_64 = self.is_64;
        let mut out = Out { bytes: Vec::new(), is_64 };
        let ehsize: u16 = if is_64 { 64 } else { 52 };
        let std_phentsize: u16 = if is_64 { 56 } else { 32 };
        let phentsize = self.phentsize.unwrap_or(std_phentsize);
        let phnum = self.segs.len();
        let phoff = self.phoff.unwrap_or(u64::from(ehsize));

        // Payload placement: after the program header table, offset ≡ vaddr (mod 4096).
        let mut cursor = ehsize as u64 + (phnum as u64) * u64::from(std_phentsize);
        let mut offsets = Vec::new();
        for seg in &self.segs {
            let off = match seg.offset {
                Some(off) => off,
                None => {
                    let want = seg.vaddr % 0x1000;
                    let base = cursor & !0xfff;
                    let mut off = base + want;
                    if off < cursor {
                        off += 0x1000;
                    }
                    cursor = off + seg.data.len() as u64;
                    off
                }
            };
            offsets.push(off);
        }

        // Symbol table, string table and section headers after the payloads.
        let (symtab, strtab, shoff) = if self.syms.is_empty() {
            (Vec::new(), Vec::new(), 0)
        } else {
            let mut strtab = vec![0u8];
            let mut st = Out { bytes: Vec::new(), is_64 };
            let entries = std::iter::once(Sym { name: "", value: 0, size: 0, kind: 0, shndx: 0 })
                .chain(self.syms.iter().cloned());
            for (i, s) in entries.enumerate() {
                let name = if i == 0 {
                    0
                } else {
                    let at = strtab.len() as u32;
                    strtab.extend_from_slice(s.name.as_bytes());
                    strtab.push(0);
                    at
                };
                let info = (STB_GLOBAL << 4) | s.kind;
                if is_64 {
                    st.u32(name);
                    st.u8(info);
                    st.u8(0);
                    st.u16(s.shndx);
                    st.u64(s.value);
                    st.u64(s.size);
                } else {
                    st.u32(name);
                    st.u32(s.value as u32);
                    st.u32(s.size as u32);
                    st.u8(info);
                    st.u8(0);
                    st.u16(s.shndx);
                }
            }
            let symtab_off = cursor.next_multiple_of(8);
            let strtab_off = symtab_off + st.bytes.len() as u64;
            let shoff = (strtab_off + strtab.len() as u64).next_multiple_of(8);
            cursor = shoff;
            (st.bytes, strtab, shoff)
        };
        let shnum: u16 = if self.syms.is_empty() { 0 } else { 3 };

        // ELF header.
        out.bytes.extend_from_slice(b"\x7fELF");
        out.u8(if is_64 { 2 } else { 1 });
        out.u8(self.data_byte);
        out.u8(1); // EI_VERSION
        out.pad_to(16);
        out.u16(self.e_type);
        out.u16(self.machine);
        out.u32(1);
        out.word(self.entry);
        out.word(phoff);
        out.word(shoff);
        out.u32(if self.machine == EM_ARM { 0x0500_0200 } else { 0 });
        out.u16(ehsize);
        out.u16(phentsize);
        out.u16(phnum as u16);
        out.u16(if is_64 { 64 } else { 40 });
        out.u16(shnum);
        out.u16(0);

        // Program headers (at their standard place; `phoff` may lie about it).
        out.pad_to(usize::from(ehsize));
        for (seg, &off) in self.segs.iter().zip(&offsets) {
            let filesz = seg.filesz.unwrap_or(seg.data.len() as u64);
            out.u32(seg.p_type);
            if is_64 {
                out.u32(seg.flags);
            }
            out.word(off);
            out.word(seg.vaddr);
            out.word(seg.vaddr);
            out.word(filesz);
            out.word(seg.memsz);
            if !is_64 {
                out.u32(seg.flags);
            }
            out.word(seg.align);
        }

        // Payloads.
        for (seg, &off) in self.segs.iter().zip(&offsets) {
            if seg.offset.is_none() {
                out.pad_to(off as usize);
                out.bytes.extend_from_slice(&seg.data);
            }
        }

        // Symbols and section headers: [null, .symtab, .strtab].
        if shnum != 0 {
            let symtab_off = out.bytes.len().next_multiple_of(8);
            out.pad_to(symtab_off);
            out.bytes.extend_from_slice(&symtab);
            let strtab_off = out.bytes.len();
            out.bytes.extend_from_slice(&strtab);
            out.pad_to(shoff as usize);
            let entsize: u64 = if is_64 { 24 } else { 16 };
            let shdr = |out: &mut Out, ty: u32, off: usize, size: usize, link: u32, entsize: u64| {
                out.u32(0);
                out.u32(ty);
                out.word(0);
                out.word(0);
                out.word(off as u64);
                out.word(size as u64);
                out.u32(link);
                out.u32(if ty == SHT_SYMTAB { 1 } else { 0 });
                out.word(if ty == SHT_SYMTAB { 8 } else { 1 });
                out.word(entsize);
            };
            shdr(&mut out, 0, 0, 0, 0, 0);
            shdr(&mut out, SHT_SYMTAB, symtab_off, symtab.len(), 2, entsize);
            shdr(&mut out, SHT_STRTAB, strtab_off, strtab.len(), 0, 0);
            assert_eq!(out.bytes.len() as u64, cursor + 3 * if is_64 { 64 } else { 40 });
        }
        out.bytes
    }
}

fn parse(bytes: &[u8]) -> Result<ElfImage, ElfError> {
    ElfImage::parse(bytes, &ElfLimits::default())
}

fn parse_err(b: &Builder) -> ElfError {
    match parse(&b.build()) {
        Ok(image) => panic!("expected an error, got {image:?}"),
        Err(e) => e,
    }
}

/// Deterministic pseudo-random bytes (xorshift64*).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

#[test]
fn a_valid_elf32_arm_executable_parses_with_entry_segments_and_permissions() {
    let image = parse(&Builder::arm().build()).expect("valid image");
    assert_eq!(image.class, ElfClass::Elf32);
    assert_eq!(image.machine, ElfMachine::Arm);
    assert_eq!(image.entry, 0x10100);
    assert_eq!(
        image.segments,
        vec![
            Segment {
                vaddr: 0x10100,
                mem_size: 0x20,
                data: vec![0xe3, 0xa0, 0x00, 0x2a, 0xef, 0x00, 0x00, 0x00],
                read: true,
                write: false,
                exec: true,
            },
            Segment {
                vaddr: 0x20200,
                mem_size: 0x2000,
                data: vec![0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7],
                read: true,
                write: true,
                exec: false,
            },
        ]
    );
    assert_eq!(image.symbol("_start"), Some(Symbol { value: 0x10100, size: 8 }));
    assert_eq!(image.symbol("counter"), Some(Symbol { value: 0x20200, size: 4 }));
    assert_eq!(image.symbol("buffer"), Some(Symbol { value: 0x21000, size: 0x100 }));
    assert_eq!(image.symbol("missing"), None);
}

#[test]
fn a_valid_elf64_x86_64_executable_parses_with_entry_segments_and_permissions() {
    let image = parse(&Builder::x86_64().build()).expect("valid image");
    assert_eq!(image.class, ElfClass::Elf64);
    assert_eq!(image.machine, ElfMachine::X86_64);
    assert_eq!(image.entry, 0x40_0180);
    let perms: Vec<_> = image.segments.iter().map(|s| (s.vaddr, s.read, s.write, s.exec)).collect();
    assert_eq!(
        perms,
        vec![(0x40_0180, true, false, true), (0x40_1200, true, false, false), (0x40_2300, true, true, false)]
    );
    assert_eq!(image.segments[1].data, b"rodata!!");
    assert_eq!(image.segments[2].mem_size, 0x1000);
    assert_eq!(image.symbol("table"), Some(Symbol { value: 0x40_2300, size: 4 }));
}

#[test]
fn an_elf32_i386_executable_is_accepted() {
    let mut b = Builder::arm();
    b.machine = EM_386;
    let image = parse(&b.build()).expect("valid image");
    assert_eq!(image.machine, ElfMachine::I386);
    assert_eq!(image.class, ElfClass::Elf32);
}

#[test]
fn a_file_without_section_headers_parses_with_no_symbols() {
    let mut b = Builder::x86_64();
    b.syms.clear();
    let image = parse(&b.build()).expect("valid image");
    assert!(image.symbols.is_empty());
    assert_eq!(image.segments.len(), 3);
}

#[test]
fn symbols_skip_section_file_undefined_and_unnamed_entries_and_keep_the_last_duplicate() {
    let mut b = Builder::arm();
    b.syms = vec![
        sym("dup", 0x10100, 1, STT_FUNC),
        sym("", 0x10104, 4, STT_FUNC),
        sym(".text", 0x10100, 0, STT_SECTION),
        sym("guest.S", 0, 0, STT_FILE),
        Sym { name: "undefined", value: 0, size: 0, kind: STT_NOTYPE, shndx: 0 },
        Sym { name: "absolute", value: 0x1234, size: 0, kind: STT_NOTYPE, shndx: SHN_ABS },
        sym("dup", 0x20200, 2, STT_OBJECT),
    ];
    let image = parse(&b.build()).expect("valid image");
    let names: Vec<&str> = image.symbols.keys().map(String::as_str).collect();
    assert_eq!(names, ["absolute", "dup"]);
    assert_eq!(image.symbol("dup"), Some(Symbol { value: 0x20200, size: 2 }));
    assert_eq!(image.symbol("absolute"), Some(Symbol { value: 0x1234, size: 0 }));
}

#[test]
fn non_load_program_headers_and_empty_load_segments_are_ignored() {
    let mut b = Builder::arm();
    let mut note = Seg::load(PF_R, 0x30000, b"note", 4);
    note.p_type = PT_NOTE;
    let mut stack = Seg::load(PF_R | PF_W | PF_X, 0, &[], 0);
    stack.p_type = PT_GNU_STACK;
    // Even W+X and address 0 are fine for a PT_LOAD that occupies no memory.
    let empty = Seg::load(PF_R | PF_W | PF_X, 0, &[], 0);
    b.segs.extend([note, stack, empty]);
    let image = parse(&b.build()).expect("valid image");
    assert_eq!(image.segments.len(), 2);
}

#[test]
fn every_truncated_prefix_of_a_valid_file_is_rejected_without_panicking() {
    for b in [Builder::arm(), Builder::x86_64()] {
        let bytes = b.build();
        assert!(parse(&bytes).is_ok());
        for len in 0..bytes.len() {
            let result = parse(&bytes[..len]);
            assert!(result.is_err(), "prefix of {len} of {} bytes parsed: {result:?}", bytes.len());
        }
    }
}

#[test]
fn garbage_bytes_are_rejected() {
    for (seed, len) in [(1, 0), (2, 1), (3, 3), (4, 52), (5, 64), (6, 200), (7, 4096)] {
        assert_eq!(parse(&noise(seed, len)).unwrap_err(), ElfError::NotElf, "seed {seed}");
    }
    // Garbage behind a correct magic: must error, never panic.
    for seed in 0..200 {
        let mut bytes = noise(seed, 16 + (seed as usize * 7) % 300);
        bytes[..4].copy_from_slice(b"\x7fELF");
        assert!(parse(&bytes).is_err(), "seed {seed}");
    }
}

#[test]
fn wrong_magic_is_rejected_as_not_elf() {
    for at in 0..4 {
        let mut bytes = Builder::arm().build();
        bytes[at] ^= 0x20;
        assert_eq!(parse(&bytes).unwrap_err(), ElfError::NotElf);
    }
}

#[test]
fn shared_objects_and_relocatable_files_are_rejected() {
    let mut b = Builder::x86_64();
    b.e_type = ET_DYN;
    assert_eq!(parse_err(&b), ElfError::UnsupportedType(ET_DYN));
    b.e_type = ET_REL;
    assert_eq!(parse_err(&b), ElfError::UnsupportedType(ET_REL));
    assert!(ElfError::UnsupportedType(ET_DYN).to_string().contains("ET_EXEC"));
}

#[test]
fn unsupported_machine_is_rejected() {
    let mut b = Builder::x86_64();
    b.machine = EM_AARCH64;
    assert_eq!(parse_err(&b), ElfError::UnsupportedMachine(EM_AARCH64));
    assert!(parse_err(&b).to_string().contains("183"));
}

#[test]
fn class_that_does_not_match_the_machine_is_rejected() {
    let mut b = Builder::x86_64();
    b.machine = EM_ARM;
    assert_eq!(parse_err(&b), ElfError::ClassMismatch { class: ElfClass::Elf64, machine: ElfMachine::Arm });
    let mut b = Builder::arm();
    b.machine = EM_X86_64;
    assert_eq!(
        parse_err(&b),
        ElfError::ClassMismatch { class: ElfClass::Elf32, machine: ElfMachine::X86_64 }
    );
}

#[test]
fn big_endian_file_is_rejected() {
    let mut b = Builder::arm();
    b.data_byte = 2;
    assert_eq!(parse_err(&b), ElfError::BigEndian);
}

#[test]
fn rejects_segment_whose_filesz_exceeds_memsz() {
    let mut b = Builder::arm();
    b.segs[0].memsz = 4; // 8 file bytes
    assert_eq!(parse_err(&b), ElfError::FileSizeExceedsMemSize { index: 0, filesz: 8, memsz: 4 });
}

#[test]
fn rejects_segment_whose_file_offset_lies_beyond_the_file() {
    let mut b = Builder::arm();
    b.segs[1].offset = Some(0x10_0100);
    assert!(matches!(parse_err(&b), ElfError::SegmentOutsideFile { index: 1, offset: 0x10_0100, .. }));
}

#[test]
fn rejects_segment_whose_file_bytes_run_past_the_end_of_the_file() {
    let mut b = Builder::arm();
    b.segs[0].filesz = Some(0x1000);
    b.segs[0].memsz = 0x2000;
    assert!(matches!(parse_err(&b), ElfError::SegmentOutsideFile { index: 0, filesz: 0x1000, .. }));
}

#[test]
fn rejects_segment_whose_file_range_overflows_u64() {
    let mut b = Builder::x86_64();
    b.segs[2].offset = Some(u64::MAX - 1);
    b.segs[2].align = 0;
    assert!(matches!(parse_err(&b), ElfError::SegmentOutsideFile { index: 2, .. }));
}

#[test]
fn rejects_overlapping_segments() {
    // Fully overlapping.
    let b = Builder::arm().with_segs(vec![
        Seg::load(PF_R | PF_X, 0x10100, &[0; 8], 0x100),
        Seg::load(PF_R | PF_W, 0x10180, &[1; 8], 0x100),
    ]);
    assert_eq!(parse_err(&b), ElfError::Overlap { first: 0, second: 1 });
    // Disjoint bytes, but sharing the page 0x10000 (listed in reverse order).
    let b = Builder::arm().with_segs(vec![
        Seg::load(PF_R, 0x30000, &[2; 8], 0x8),
        Seg::load(PF_R | PF_W, 0x10800, &[1; 8], 0x100),
        Seg::load(PF_R | PF_X, 0x10100, &[0; 8], 0x100),
    ]);
    assert_eq!(parse_err(&b), ElfError::Overlap { first: 1, second: 2 });
    // A large segment covering a later one that is not its sorted neighbour.
    let b = Builder::arm().with_segs(vec![
        Seg::load(PF_R | PF_X, 0x10100, &[0; 8], 0x10_0000),
        Seg::load(PF_R, 0x20000, &[2; 8], 0x8),
        Seg::load(PF_R | PF_W, 0x50000, &[1; 8], 0x8),
    ]);
    assert!(matches!(parse_err(&b), ElfError::Overlap { first: 0, .. }));
}

#[test]
fn segments_on_adjacent_pages_do_not_overlap() {
    let b = Builder::arm().with_segs(vec![
        Seg::load(PF_R | PF_X, 0x10100, &[0; 8], 0xf00),
        Seg::load(PF_R | PF_W, 0x11000, &[1; 8], 0x10),
    ]);
    assert_eq!(parse(&b.build()).expect("valid").segments.len(), 2);
}

#[test]
fn rejects_segment_outside_the_user_range() {
    // Above the user range.
    let mut b = Builder::arm();
    b.segs[0].vaddr = 0xF000_0200;
    assert_eq!(
        parse_err(&b),
        ElfError::OutOfRange { index: 0, vaddr: 0xF000_0000, end: Some(0xF000_2000 + 0x1000) }
    );
    // Ending just past the top of the user range (page-rounded).
    let mut b = Builder::arm();
    b.segs[0].vaddr = 0xDFFF_F200;
    b.segs[0].memsz = 0xE00;
    assert!(parse(&b.build()).is_ok());
    b.segs[0].memsz = 0xE01;
    assert!(matches!(parse_err(&b), ElfError::OutOfRange { index: 0, .. }));
    // On the null page.
    let mut b = Builder::arm();
    b.segs[0].vaddr = 0x200;
    assert_eq!(parse_err(&b), ElfError::OutOfRange { index: 0, vaddr: 0, end: Some(0x3000) });
    // Past 4 GiB in a 32-bit file: no 32-bit wrap-around either.
    let mut b = Builder::arm();
    b.segs[0].vaddr = 0xFFFF_F200;
    b.segs[0].memsz = 0x2000;
    assert!(matches!(parse_err(&b), ElfError::OutOfRange { index: 0, end: Some(0x1_0000_2000), .. }));
}

#[test]
fn rejects_segment_wrapping_past_u64_max() {
    let mut b = Builder::x86_64();
    b.segs[2].vaddr = 0xFFFF_FFFF_FFFF_F300;
    assert_eq!(parse_err(&b), ElfError::OutOfRange { index: 2, vaddr: 0xFFFF_FFFF_FFFF_F000, end: None });
    let mut b = Builder::x86_64();
    b.segs[2].memsz = u64::MAX;
    b.segs[2].vaddr = 0x40_2300;
    assert!(matches!(parse_err(&b), ElfError::OutOfRange { index: 2, end: None, .. }));
    assert!(parse_err(&b).to_string().contains("overflow"));
}

#[test]
fn rejects_misaligned_segment() {
    let mut b = Builder::arm();
    b.segs[0].offset = Some(0x104); // vaddr 0x20200: 0x200 != 0x104 (mod 4096)
    assert_eq!(
        parse_err(&b),
        ElfError::Misaligned { index: 0, vaddr: 0x20200, offset: 0x104, align: 0x1000 }
    );
}

#[test]
fn rejects_alignment_that_is_not_a_power_of_two() {
    let mut b = Builder::arm();
    b.segs[1].align = 0x3000;
    assert!(matches!(parse_err(&b), ElfError::Misaligned { index: 1, align: 0x3000, .. }));
}

#[test]
fn alignment_is_not_checked_when_p_align_is_zero_or_one() {
    for align in [0, 1] {
        let mut b = Builder::arm();
        b.segs[0].offset = Some(0x104);
        b.segs[0].align = align;
        let image = parse(&b.build()).expect("valid");
        assert_eq!(image.segments[1].vaddr, 0x20200);
    }
}

#[test]
fn rejects_writable_and_executable_segment() {
    let mut b = Builder::arm();
    b.segs[1].flags = PF_R | PF_W | PF_X;
    assert_eq!(parse_err(&b), ElfError::WriteAndExecute { index: 1 });
}

#[test]
fn rejects_entry_point_outside_every_executable_segment() {
    // In the (non-executable) data segment.
    let mut b = Builder::arm();
    b.entry = 0x20200;
    assert_eq!(parse_err(&b), ElfError::EntryNotExecutable { entry: 0x20200 });
    // Just past the end of the text segment.
    b.entry = 0x10120;
    assert_eq!(parse_err(&b), ElfError::EntryNotExecutable { entry: 0x10120 });
    // In no segment at all.
    let mut b = Builder::x86_64();
    b.entry = 0;
    assert_eq!(parse_err(&b), ElfError::EntryNotExecutable { entry: 0 });
}

#[test]
fn thumb_entry_point_with_the_low_bit_set_is_accepted_on_arm() {
    let mut b = Builder::arm();
    b.entry = 0x10101;
    assert_eq!(parse(&b.build()).expect("thumb entry").entry, 0x10101);
    let mut b = Builder::arm();
    b.segs[1].memsz = 8;
    b.entry = 0x10109; // Thumb bit cleared: 0x10108, one past the end
    assert_eq!(parse_err(&b), ElfError::EntryNotExecutable { entry: 0x10109 });
}

#[test]
fn rejects_image_whose_total_memsz_exceeds_the_limit() {
    let mut b = Builder::arm();
    b.segs[0].memsz = 64 << 20; // 64 MiB of bss + 0x20 bytes of text
    assert_eq!(parse_err(&b), ElfError::ImageTooLarge { bytes: (64 << 20) + 0x20, max: 64 << 20 });
    let limits = ElfLimits { max_image_bytes: 0x2000, ..ElfLimits::default() };
    let err = ElfImage::parse(&Builder::arm().build(), &limits).unwrap_err();
    assert_eq!(err, ElfError::ImageTooLarge { bytes: 0x2020, max: 0x2000 });
}

#[test]
fn rejects_file_larger_than_the_limit() {
    let bytes = Builder::arm().build();
    let limits = ElfLimits { max_file_bytes: bytes.len() as u64 - 1, ..ElfLimits::default() };
    assert_eq!(
        ElfImage::parse(&bytes, &limits).unwrap_err(),
        ElfError::TooLarge { bytes: bytes.len() as u64, max: bytes.len() as u64 - 1 }
    );
    let mut huge = Builder::arm().build();
    huge.resize((16 << 20) + 1, 0);
    assert!(matches!(parse(&huge).unwrap_err(), ElfError::TooLarge { max: 0x100_0000, .. }));
}

#[test]
fn rejects_file_with_no_loadable_segments() {
    let mut note = Seg::load(PF_R, 0x30000, b"note", 4);
    note.p_type = PT_NOTE;
    let b = Builder::arm().with_segs(vec![note]);
    assert_eq!(parse_err(&b), ElfError::NoLoadableSegments);
    let b = Builder::arm().with_segs(vec![]);
    assert_eq!(parse_err(&b), ElfError::NoLoadableSegments);
}

#[test]
fn rejects_dynamically_linked_executable_with_an_interpreter() {
    let mut b = Builder::x86_64();
    let mut interp = Seg::load(PF_R, 0x40_3000, b"/lib/ld.so\0", 11);
    interp.p_type = PT_INTERP;
    b.segs.insert(0, interp);
    assert_eq!(parse_err(&b), ElfError::Interpreter { index: 0 });
}

#[test]
fn rejects_program_header_table_with_wrong_entry_size_or_outside_the_file() {
    let mut b = Builder::arm();
    b.phentsize = Some(40);
    assert!(matches!(parse_err(&b), ElfError::BadProgramHeaders(m) if m.contains("e_phentsize")));
    let mut b = Builder::x86_64();
    b.phoff = Some(u64::MAX - 8);
    assert!(matches!(parse_err(&b), ElfError::BadProgramHeaders(_)));
    let mut b = Builder::arm();
    let len = b.build().len() as u64;
    b.phoff = Some(len - 32);
    assert!(matches!(parse_err(&b), ElfError::BadProgramHeaders(_)));
}

#[test]
fn invalid_page_size_in_the_limits_is_rejected() {
    let limits = ElfLimits { page_size: 3000, ..ElfLimits::default() };
    assert!(matches!(ElfImage::parse(&Builder::arm().build(), &limits), Err(ElfError::InvalidLimits(_))));
}

#[test]
fn reading_bss_returns_zeros() {
    let image = parse(&Builder::arm().build()).expect("valid");
    assert_eq!(image.read(0x20300, 16), Some(vec![0; 16]));
    assert_eq!(image.read(0x221f0, 16), Some(vec![0; 16])); // the last bytes of the segment
                                                            // Straddling the end of the file-backed bytes: data then zeros.
    assert_eq!(image.read(0x20206, 4), Some(vec![0xd6, 0xd7, 0, 0]));
    assert_eq!(image.read(0x10100, 4), Some(vec![0xe3, 0xa0, 0x00, 0x2a]));
    assert_eq!(image.read(0x10100, 0), Some(vec![]));
}

#[test]
fn reading_outside_a_single_segment_returns_none() {
    let image = parse(&Builder::arm().build()).expect("valid");
    assert_eq!(image.read(0x221f0, 17), None); // one past the end of bss
    assert_eq!(image.read(0x100ff, 2), None); // starts before text
    assert_eq!(image.read(0x50000, 4), None); // unmapped
    assert_eq!(image.read(0x10110, 0x10100), None); // spans text, the gap and data
    assert_eq!(image.read(u64::MAX, 2), None); // wraps
}

#[test]
fn patching_initialised_data_changes_what_read_returns() {
    let mut image = parse(&Builder::arm().build()).expect("valid");
    image.patch(0x20204, &[0xaa, 0xbb, 0xcc, 0xdd]).expect("inside .data");
    assert_eq!(image.read(0x20200, 8), Some(vec![0xd0, 0xd1, 0xd2, 0xd3, 0xaa, 0xbb, 0xcc, 0xdd]));
    assert_eq!(image.segments[1].data.len(), 8, "patching never grows the file-backed bytes");
}

#[test]
fn patching_outside_file_backed_bytes_is_rejected() {
    let mut image = parse(&Builder::arm().build()).expect("valid");
    let before = image.clone();
    // Into bss, straddling the end of .data, unmapped, before the segment, and wrapping.
    for (vaddr, len) in [(0x20300, 4), (0x20206, 4), (0x50000, 4), (0x201fe, 4), (u64::MAX - 1, 4)] {
        assert_eq!(
            image.patch(vaddr, &vec![0xee; len]),
            Err(ElfError::PatchOutOfRange { vaddr, len: len as u64 }),
            "patch at {vaddr:#x}"
        );
    }
    assert_eq!(image, before, "a rejected patch changes nothing");
}

#[test]
fn flipping_any_byte_never_panics() {
    for b in [Builder::arm(), Builder::x86_64()] {
        let bytes = b.build();
        let (mut ok, mut err) = (0, 0);
        for at in 0..bytes.len() {
            for value in [0x00, 0xff, 0x80] {
                let mut mutated = bytes.clone();
                mutated[at] = value;
                match parse(&mutated) {
                    Ok(image) => {
                        ok += 1;
                        // Whatever was accepted is still internally consistent.
                        for s in &image.segments {
                            assert!(s.data.len() as u64 <= s.mem_size);
                            assert!(image.read(s.vaddr, s.mem_size).is_some());
                        }
                    }
                    Err(e) => {
                        err += 1;
                        assert!(!e.to_string().is_empty());
                    }
                }
            }
        }
        assert!(ok > 0 && err > 0, "ok {ok}, err {err}");
    }
}

#[test]
fn error_messages_name_the_problem() {
    let cases = [
        (ElfError::NotElf, "magic"),
        (ElfError::FileSizeExceedsMemSize { index: 3, filesz: 0x10, memsz: 0x8 }, "p_filesz 0x10"),
        (ElfError::SegmentOutsideFile { index: 1, offset: 0x100, filesz: 4, file_len: 64 }, "64-byte file"),
        (ElfError::Overlap { first: 0, second: 2 }, "0 and 2 overlap"),
        (ElfError::WriteAndExecute { index: 1 }, "writable and executable"),
        (ElfError::EntryNotExecutable { entry: 0x8000 }, "0x8000"),
        (ElfError::OutOfRange { index: 0, vaddr: 0xf000_0000, end: Some(0xf000_1000) }, "0xf0001000"),
        (ElfError::PatchOutOfRange { vaddr: 0x2000, len: 4 }, "4 bytes at 0x2000"),
    ];
    for (err, needle) in cases {
        let msg = err.to_string();
        assert!(msg.contains(needle), "{msg:?} should contain {needle:?}");
    }
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/guests/armv7")
}

#[test]
fn the_pingpong_client_fixture_parses_with_its_symbols() {
    let path = fixture_dir().join("pingpong-client.elf");
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!("skipping: {} does not exist yet", path.display());
        return;
    };
    let image = parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(image.class, ElfClass::Elf32);
    assert_eq!(image.machine, ElfMachine::Arm);
    for name in ["_start", "ipc_buffer", "results"] {
        assert!(image.symbol(name).is_some(), "symbol {name} missing");
    }
    let start = image.symbol("_start").map(|s| s.value & !1);
    assert_eq!(start, Some(image.entry & !1));
    assert!(image.segments.iter().any(|s| s.exec && !s.write));
    assert!(image.segments.iter().all(|s| !(s.write && s.exec)));
}

#[test]
fn every_armv7_guest_fixture_parses() {
    let Ok(dir) = std::fs::read_dir(fixture_dir()) else {
        eprintln!("skipping: no ARMv7 guest fixtures yet");
        return;
    };
    for entry in dir.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "elf") {
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let image = parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(image.machine, ElfMachine::Arm, "{}", path.display());
        }
    }
}

#[test]
fn random_multi_byte_mutations_never_panic() {
    // Set L4SIM_ELF_FUZZ_ITERS for a longer run.
    let iters: u64 = std::env::var("L4SIM_ELF_FUZZ_ITERS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let mut inputs = vec![Builder::arm().build(), Builder::x86_64().build()];
    if let Ok(bytes) = std::fs::read(fixture_dir().join("pingpong-client.elf")) {
        inputs.push(bytes);
    }
    for (n, bytes) in inputs.iter().enumerate() {
        for i in 0..iters {
            let r = noise(i * 7919 + n as u64 + 1, 32);
            let mut mutated = bytes.clone();
            for k in 0..1 + usize::from(r[0] % 8) {
                let at = usize::from(u16::from_le_bytes([r[2 * k + 1], r[2 * k + 2]]));
                // Half of the mutations hit the ELF and program headers, the rest anywhere.
                let window = if r[17 + k] & 1 == 0 { mutated.len().min(160) } else { mutated.len() };
                mutated[at % window] = r[25 + k / 2].rotate_left(k as u32);
            }
            if let Ok(image) = parse(&mutated) {
                for s in &image.segments {
                    assert!(image.read(s.vaddr, s.mem_size).is_some());
                }
            }
        }
    }
}
