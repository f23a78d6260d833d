//! The x86 backend end to end, without the facade: the ping-pong guests on both x86 modes.

use isa_x86::{Paging, RunExit, SyscallEntry, X86Machine, X86Mode, SYSCALL_VECTOR};
use kernel::object::{Cap, VmRights};
use kernel::preset::{KernelPreset, StepId};
use kernel::types::{Rights, TcbId, VSpaceId};
use kernel::{Kernel, KernelConfig};
use simcore::elf::{ElfImage, ElfLimits};
use simcore::{CostModel, PAddr, Primitive, Profile, VAddr};

const PAGING: Paging = Paging { global_kernel: true, nx: true };

const PROFILE: &str = include_str!("../../../fixtures/test-profiles/stand-in-x86.toml");

fn preset(isa: &str) -> KernelPreset {
    let mut s = String::from("name = \"test\"\ndescription = \"test\"\nversion = \"none\"\n");
    for id in StepId::ALL {
        s.push_str(&format!(
            "[code.{isa}.{}]\nalu = 3\nload = 1\nload_chain = 1\nestimate = \"test\"\n",
            id.name()
        ));
    }
    s.push_str(&format!("[code.{isa}.op_branches]\ncount = 1\nestimate = \"test\"\n"));
    s.push_str(&format!("[vspace_switch]\n{isa} = [\"cr3_write\"]\n"));
    s.push_str(&format!("[[trap.{isa}]]\nentry = [\"int_entry\"]\nexit = [\"iret\"]\nestimate = \"test\"\n"));
    KernelPreset::from_toml(&s, "test").unwrap()
}

fn guest(arch: &str, name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../fixtures/guests/{arch}/{name}.elf", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Loads an ELF into a new address space and thread (what the facade's system builder does).
fn load(
    m: &mut X86Machine,
    mode: X86Mode,
    name: &str,
    elf: &[u8],
    caps: &[(usize, Cap)],
    patches: &[(&str, u64)],
) -> (TcbId, VSpaceId, ElfImage) {
    let geo = mode.geometry();
    let mut img =
        ElfImage::parse(elf, &ElfLimits { user_range: (0x1000, geo.user_top), ..ElfLimits::default() })
            .unwrap();
    let wb = mode.abi().word_bytes as usize;
    for (sym, v) in patches {
        let s = img.symbol(sym).unwrap();
        img.patch(s.value, &v.to_le_bytes()[..wb.min(s.size.max(4) as usize)]).unwrap();
    }
    let (k, ram) = m.parts();
    let vs = k.create_vspace().unwrap();
    for seg in &img.segments {
        let rights = VmRights { read: seg.read, write: seg.write, exec: seg.exec };
        let mut page = seg.vaddr & !0xfff;
        while page < seg.vaddr + seg.mem_size {
            let f = k.create_frame().unwrap();
            k.map_frame(vs, page, f, rights).unwrap();
            let pa = k.frame_paddr(f).unwrap();
            let lo = page.max(seg.vaddr);
            let hi = (page + 4096).min(seg.vaddr + seg.data.len() as u64);
            if lo < hi {
                ram.write(
                    PAddr(pa.0 + lo - page),
                    &seg.data[(lo - seg.vaddr) as usize..(hi - seg.vaddr) as usize],
                );
            }
            page += 4096;
        }
    }
    let cn = k.create_cnode(8).unwrap();
    for (slot, c) in caps {
        k.set_cap(cn, *slot, *c).unwrap();
    }
    let t = k
        .create_tcb(
            name,
            Cap::CNode { cnode: cn, guard: 0, guard_bits: 24 + if wb == 8 { 32 } else { 0 } },
            vs,
            100,
        )
        .unwrap();
    k.set_ipc_buffer(t, VAddr(img.symbol("ipc_buffer").unwrap().value)).unwrap();
    let abi = mode.abi();
    let ctx = k.context_mut(t).unwrap();
    ctx.set(abi.pc, img.entry);
    ctx.set(abi.sp, img.symbol("stack_top").unwrap().value);
    ctx.set(abi.flags, 0x202);
    k.resume(t).unwrap();
    (t, vs, img)
}

/// The guest directory and kernel entry for each way of entering the kernel.
fn flavour(mode: X86Mode, entry: SyscallEntry) -> (&'static str, Primitive, Primitive) {
    match (mode, entry) {
        (X86Mode::X86_64, _) => ("x86_64", Primitive::Syscall, Primitive::Sysret),
        (X86Mode::Ia32, SyscallEntry::Int(_)) => ("ia32-int", Primitive::IntEntry, Primitive::Iret),
        (X86Mode::Ia32, _) => ("ia32", Primitive::Sysenter, Primitive::Sysexit),
    }
}

fn machine(mode: X86Mode, sys: SyscallEntry) -> X86Machine {
    let isa = if mode == X86Mode::X86_64 { "x86_64" } else { "ia32" };
    let (_, entry, exit) = flavour(mode, sys);
    let cfg = KernelConfig {
        abi: mode.abi(),
        geometry: mode.geometry(),
        isa: isa.into(),
        arch: isa.into(),
        insn_bytes: 4,
        preset: preset(isa),
        ram_base: PAddr(0x1000_0000),
        ram_size: 64 << 20,
        kernel_image_bytes: 1 << 20,
        text_offset: 0,
        fastpath: true,
        trap_entry: vec![entry],
        trap_exit: vec![exit],
        check_invariants: true,
    };
    let k = Kernel::new(cfg, CostModel::new(Profile::from_toml(PROFILE, "test").unwrap())).unwrap();
    X86Machine::new(k, "haswell", mode, sys, PAGING).unwrap()
}

fn pingpong(mode: X86Mode, sys: SyscallEntry) {
    let (arch, ..) = flavour(mode, sys);
    let mut m = machine(mode, sys);
    let ep = m.parts().0.create_endpoint().unwrap();
    let client_rights = Rights { read: false, write: true, grant: false, grant_reply: true };
    let (c, cvs, cimg) = load(
        &mut m,
        mode,
        "client",
        &guest(arch, "pingpong-client"),
        &[(1, Cap::Endpoint { ep, badge: 0x61, rights: client_rights })],
        &[("warmup", 2), ("samples", 8)],
    );
    load(
        &mut m,
        mode,
        "server",
        &guest(arch, "pingpong-server"),
        &[(1, Cap::Endpoint { ep, badge: 0, rights: Rights::READ })],
        &[],
    );
    m.record_counter_reads(true);
    let exit = m.run(100_000_000).unwrap();
    assert_eq!(exit, RunExit::Halted(c), "{mode:?}: events {:?}", m.kernel().events());
    let err = m.read_virt(cvs, cimg.symbol("error_info").unwrap().value, 4).unwrap();
    assert_eq!(err, vec![0; 4]);
    let res = m.read_virt(cvs, cimg.symbol("results").unwrap().value, 4 * 4 * 10).unwrap();
    let w: Vec<u32> = res.chunks(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    for s in w.chunks(4) {
        assert!(s[0] < s[1] && s[1] <= s[2] && s[2] < s[3], "{mode:?}: {s:?}");
    }
    let calls: Vec<u32> = w.chunks(4).map(|s| s[1] - s[0]).collect();
    assert!(calls.windows(2).skip(3).all(|p| p[0] == p[1]), "{mode:?}: steady state {calls:?}");
    let st = m.kernel().stats();
    assert!(st.fastpath_call >= 9, "{mode:?}: {st:?}");
    assert!(m.kernel().events().is_empty());
}

#[test]
fn the_pingpong_runs_in_64_bit_long_mode() {
    pingpong(X86Mode::X86_64, SyscallEntry::Syscall);
}

#[test]
fn the_pingpong_runs_in_32_bit_protected_mode() {
    pingpong(X86Mode::Ia32, SyscallEntry::Sysenter);
}

#[test]
fn the_pingpong_runs_in_32_bit_protected_mode_through_an_int_gate() {
    pingpong(X86Mode::Ia32, SyscallEntry::Int(SYSCALL_VECTOR));
}

#[test]
fn a_mode_and_entry_that_do_not_fit_are_refused() {
    let isa = "ia32";
    let cfg = KernelConfig {
        abi: X86Mode::Ia32.abi(),
        geometry: X86Mode::Ia32.geometry(),
        isa: isa.into(),
        arch: isa.into(),
        insn_bytes: 4,
        preset: preset(isa),
        ram_base: PAddr(0x1000_0000),
        ram_size: 64 << 20,
        kernel_image_bytes: 1 << 20,
        text_offset: 0,
        fastpath: true,
        trap_entry: vec![Primitive::IntEntry],
        trap_exit: vec![Primitive::Iret],
        check_invariants: true,
    };
    let k = Kernel::new(cfg, CostModel::new(Profile::from_toml(PROFILE, "test").unwrap())).unwrap();
    let err = X86Machine::new(k, "haswell", X86Mode::Ia32, SyscallEntry::Syscall, PAGING).unwrap_err();
    assert!(err.to_string().contains("unsupported"), "{err}");
}

fn errors(mode: X86Mode, sys: SyscallEntry) {
    let (arch, ..) = flavour(mode, sys);
    let mut m = machine(mode, sys);
    let ep = m.parts().0.create_endpoint().unwrap();
    let (t, vs, img) = load(
        &mut m,
        mode,
        "errors",
        &guest(arch, "errors-client"),
        &[(1, Cap::Endpoint { ep, badge: 0, rights: Rights::READ })],
        &[],
    );
    let exit = m.run(10_000_000).unwrap();
    assert_eq!(exit, RunExit::Halted(t), "{mode:?}: {:?}", m.kernel().events());
    let info = m.read_virt(vs, img.symbol("result_info").unwrap().value, 4).unwrap();
    let label = u32::from_le_bytes([info[0], info[1], info[2], info[3]]) >> 12;
    assert_eq!(label, kernel::types::SysError::InvalidCapability as u32, "{mode:?}");
}

#[test]
fn a_call_without_the_write_right_gets_sel4s_error_in_64_bit_mode() {
    errors(X86Mode::X86_64, SyscallEntry::Syscall);
}

#[test]
fn a_call_without_the_write_right_gets_sel4s_error_in_32_bit_mode() {
    errors(X86Mode::Ia32, SyscallEntry::Sysenter);
    errors(X86Mode::Ia32, SyscallEntry::Int(SYSCALL_VECTOR));
}
