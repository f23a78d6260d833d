//! Model-only runs: the ping-pong on cores l4sim cannot emulate (MIPS64, Alpha, IA-64).
//!
//! The kernel is the same kernel, with the preset's paths for the ISA; only the user side is a
//! script. Each thread's "program" is its system calls: the server a Recv and then ReplyRecv after
//! ReplyRecv, the client Call after Call, each with a one-word message. Before each system call the
//! script fetches the system-call instruction through the instruction TLB and cache, sets the
//! registers as the guest would, and enters the kernel; the one-way figure is the ledger's growth
//! from the caller's system call to the partner's return, which is what the emulated ping-pong
//! measures between its two counter reads (less the counter read itself). The register roles are
//! x86-64's (the kernel needs some; nothing of x86 is priced: the profile and the preset price
//! everything); the page tables are a two-level stand-in (see [`GEOMETRY`]). Every output labels these runs `model-only`.

use crate::ipc::{self, IpcConfig, IpcResult, RunKind};
use crate::Error;
use isa_common::ram::Ram;
use kernel::object::{Cap, VmRights};
use kernel::preset::IpcTarget;
use kernel::types::{MessageInfo, Rights, Syscall, TcbId};
use kernel::vspace::VSpaceGeometry;
use kernel::{Event, Kernel, KernelConfig, Resume};
use simcore::{Breakdown, CostModel, PAddr, RegisterAbi, VAddr};
use std::time::Instant;

/// The guest architectures that only model-only runs support.
pub const ARCHES: [&str; 3] = ["mips64", "alpha", "ia64"];

/// True if `arch` runs model-only.
pub fn is_model_only(arch: &str) -> bool {
    ARCHES.contains(&arch)
}

/// The page-table shape of a model-only run: two levels of 1024 eight-byte entries over a 32-bit
/// user space, so a TLB refill reads two descriptors (the PTE and the entry that maps its table),
/// as the software refills of the R4x00 and the 21064's PALcode, which read a PTE from a linear
/// (virtual) page table, and the Itanium's VHPT walker do; none of these walks a four-level radix
/// tree as x86-64 does.
pub const GEOMETRY: VSpaceGeometry = VSpaceGeometry {
    level_bits: [10, 10, 0, 0],
    levels: 2,
    page_bits: 12,
    entry_bytes: 8,
    user_top: 0xE000_0000,
    kernel_base: 0xE000_0000,
};

const RAM_BASE: u64 = 0x1000_0000;
const RAM_BYTES: u64 = 16 << 20;
const CODE_VA: u64 = 0x1_0000;
const DATA_VA: u64 = 0x2_0000;
const CNODE_RADIX: u8 = 8;
const EP_SLOT: usize = 1;

/// Bytes per instruction of the ISA (IA-64: a 16-byte bundle holds 3).
fn insn_bytes(arch: &str) -> u32 {
    if arch == "ia64" {
        6
    } else {
        4
    }
}

/// Where in its code page each scripted thread's system call sits: where the ARMv7 ping-pong
/// guests' measured blocks start (`l4sim explain --arch armv7`: the client's Call block at
/// 0x10060, the server's ReplyRecv block at 0x10018), so that the scripted fetches meet the caches
/// as a real program's do rather than all at a page's first line.
const CLIENT_SYSCALL_OFFSET: u64 = 0x60;
const SERVER_SYSCALL_OFFSET: u64 = 0x18;

/// A scripted thread: which system call it makes next.
struct Script {
    tcb: TcbId,
    vs: kernel::types::VSpaceId,
    code_pa: PAddr,
    /// Offset of its system-call instruction in the code page.
    offset: u64,
    /// The server's first system call is a plain Recv.
    first: bool,
}

/// Runs the ping-pong of `cfg` model-only (the architecture must be one of [`ARCHES`]).
pub fn run(cfg: &IpcConfig) -> Result<IpcResult, Error> {
    Ok(drive(cfg, false)?.result)
}

/// A model-only run with what `l4sim explain` needs.
pub(crate) struct Driven {
    /// The measured result.
    pub result: IpcResult,
    /// Every charge, when traced.
    pub trace: Vec<simcore::TraceEvent>,
    /// Ledger times of the last measured call and reply: (start, end) each.
    pub windows: [(u64, u64); 2],
    /// Thread names by TCB index.
    pub names: Vec<String>,
}

/// Drives the scripted ping-pong; with `trace`, records every charge.
pub(crate) fn drive(cfg: &IpcConfig, trace: bool) -> Result<Driven, Error> {
    let system = &cfg.system;
    let arch = system.arch.as_str();
    if !is_model_only(arch) {
        return Err(Error::Unsupported(format!("`{arch}` is emulated, not model-only")));
    }
    if !system.profile.guest_arches().iter().any(|g| g == arch) {
        return Err(Error::Unsupported(format!(
            "profile `{}` models a {} core, not {arch}",
            system.profile.name, system.profile.arch
        )));
    }
    if cfg.samples == 0 {
        return Err(Error::Invalid("--samples must be at least 1".into()));
    }
    let isa = crate::machine::isa_of(arch);
    let cost = CostModel::new(system.profile.clone());
    let mech = system.preset.trap_for(isa, |p| cost.try_price_primitive(p).is_some())?;
    let (entry, exit) = (mech.entry_primitives(), mech.exit_primitives());
    let abi: RegisterAbi = isa_x86::ABI_X86_64;
    let kcfg = KernelConfig {
        abi,
        geometry: GEOMETRY,
        isa: isa.into(),
        arch: arch.into(),
        insn_bytes: insn_bytes(arch),
        preset: system.preset.clone(),
        ram_base: PAddr(RAM_BASE),
        ram_size: RAM_BYTES,
        kernel_image_bytes: 1 << 20,
        text_offset: system.kernel_text_offset,
        fastpath: system.fastpath,
        trap_entry: entry.clone(),
        trap_exit: exit.clone(),
        check_invariants: system.check_invariants,
    };
    let mut k = Kernel::new(kcfg, cost)?;
    let mut ram = Ram::new(PAddr(RAM_BASE), RAM_BYTES)
        .ok_or_else(|| Error::Invalid("cannot allocate the model-only run's memory".into()))?;
    let ep = k.create_endpoint()?;
    let word_bits = (abi.word_bytes * 8) as u8;
    let make =
        |k: &mut Kernel, name: &str, badge: u64, rights: Rights, offset: u64| -> Result<Script, Error> {
            let vs = k.create_vspace()?;
            let code = k.create_frame()?;
            k.map_frame(vs, CODE_VA, code, VmRights { read: true, write: false, exec: true })?;
            let data = k.create_frame()?;
            k.map_frame(vs, DATA_VA, data, VmRights { read: true, write: true, exec: false })?;
            let cnode = k.create_cnode(CNODE_RADIX)?;
            k.set_cap(cnode, EP_SLOT, Cap::Endpoint { ep, badge, rights })?;
            let root = Cap::CNode { cnode, guard: 0, guard_bits: word_bits - CNODE_RADIX };
            let tcb = k.create_tcb(name, root, vs, 100)?;
            let code_pa = k.frame_paddr(code).ok_or_else(|| Error::Invalid("frame vanished".into()))?;
            Ok(Script { tcb, vs, code_pa, offset, first: true })
        };
    let client_rights = Rights { read: false, write: true, grant: false, grant_reply: true };
    // As in the emulated ping-pong: in a capability kernel the client is made runnable first and
    // the server last (so the server runs first); a thread-ID kernel needs the server's ID first.
    let thread_ids = k.design().ipc_target == IpcTarget::ThreadId;
    let (client, server) = if thread_ids {
        let s = make(&mut k, "server", 0, Rights::READ, SERVER_SYSCALL_OFFSET)?;
        let c = make(&mut k, "client", 0x61, client_rights, CLIENT_SYSCALL_OFFSET)?;
        (c, s)
    } else {
        let c = make(&mut k, "client", 0x61, client_rights, CLIENT_SYSCALL_OFFSET)?;
        let s = make(&mut k, "server", 0, Rights::READ, SERVER_SYSCALL_OFFSET)?;
        (c, s)
    };
    let dest = if thread_ids { k.thread_id(server.tcb).unwrap_or(0) } else { EP_SLOT as u64 };
    for s in [&client, &server] {
        k.resume(s.tcb)?;
    }
    let mut scripts = [client, server];
    let iterations = cfg.samples + cfg.warmup;
    let rounds = u64::from(iterations) + u64::from(cfg.speed_rounds);
    let info = MessageInfo { label: 0, caps_unwrapped: 0, extra_caps: 0, length: 1 }.to_word();

    k.cost_mut().set_tracing(trace);
    let started = Instant::now();
    let mut windows = [(0u64, 0u64); 2];
    let mut running = match k.start() {
        Resume::Thread(t) => t,
        other => return Err(Error::Experiment(format!("the model-only run did not start: {other:?}"))),
    };
    let (mut calls, mut replies) = (Vec::new(), Vec::new());
    let mut done_calls = 0u64;
    // One step = one system call of the running thread; a call is measured from the caller's
    // system call to the partner's return.
    while done_calls < rounds {
        let i = scripts
            .iter()
            .position(|s| s.tcb == running)
            .ok_or_else(|| Error::Experiment(format!("an unscripted thread {running:?} runs")))?;
        let is_client = i == 0;
        let s = &mut scripts[i];
        let sc = match (is_client, s.first) {
            (true, _) => Syscall::Call,
            (false, true) => Syscall::Recv,
            (false, false) => Syscall::ReplyRecv,
        };
        s.first = false;
        let before = k.cost().ledger().snapshot();
        let start_time = k.cost().ledger().now().get();
        // The system-call instruction, fetched as the guest would fetch it.
        k.user_fetch(
            s.vs,
            VAddr(CODE_VA + s.offset),
            s.code_pa.offset(s.offset),
            u64::from(insn_bytes(arch)),
        );
        let ctx = k.context_mut(s.tcb).ok_or_else(|| Error::Invalid("thread vanished".into()))?;
        ctx.set(abi.syscall, sc.number() as u64);
        ctx.set(abi.msg_info, info);
        ctx.set(abi.cap_or_badge, if is_client { dest } else { EP_SLOT as u64 });
        ctx.set(abi.mrs[0], done_calls);
        ctx.set(abi.pc, CODE_VA + s.offset + abi.syscall_insn_bytes);
        let next = match k.handle(Event::Syscall, &mut ram) {
            Resume::Thread(t) => t,
            Resume::Stopped => {
                let v = k.invariant_violation().cloned();
                return Err(
                    v.map_or_else(|| Error::Experiment("the kernel stopped".into()), Error::Invariant)
                );
            }
            other => {
                return Err(Error::Experiment(format!(
                    "the model-only ping-pong stopped with {other:?}; kernel events: {:?}",
                    k.events()
                )))
            }
        };
        let taken: Breakdown = k.cost().ledger().snapshot().since(&before);
        let measured = done_calls >= u64::from(cfg.warmup) && done_calls < u64::from(iterations);
        let window = (start_time, k.cost().ledger().now().get());
        if sc == Syscall::ReplyRecv {
            if measured {
                replies.push((taken.total(), taken));
                windows[1] = window;
            }
            done_calls += 1;
        } else if sc == Syscall::Call && measured {
            calls.push((taken.total(), taken));
            windows[0] = window;
        }
        running = next;
    }
    let seconds = started.elapsed().as_secs_f64();
    if calls.is_empty() || replies.is_empty() {
        return Err(Error::Experiment("the model-only ping-pong measured nothing".into()));
    }
    let st = k.stats();
    let ipcs = 2 * rounds;
    let result = IpcResult {
        arch: arch.into(),
        uarch: system.profile.name.clone(),
        machine: system.profile.machine.clone(),
        mhz: system.profile.mhz.value,
        kernel: system.preset.name.clone(),
        fastpath: system.fastpath,
        run_kind: RunKind::ModelOnly,
        kernel_entry: ipc::kernel_entry_text(&entry, &exit),
        tlb_policy: ipc::tlb_policy_text(&k),
        samples: cfg.samples,
        warmup: cfg.warmup,
        counter_overhead: 0,
        call: ipc::stats(&calls),
        reply: ipc::stats(&replies),
        paths: (st.fastpath_call, st.fastpath_reply_recv, st.slowpath),
        profile_estimates: system.profile.estimates_used(&k.ipc_primitives()),
        preset_estimates: ipc::preset_estimates(system, isa),
        host: ipc::HostStats {
            seconds,
            ipcs,
            ipcs_per_second: if seconds > 0.0 { ipcs as f64 / seconds } else { 0.0 },
        },
    };
    let names = k.threads().map(|(_, t)| t.name.clone()).collect();
    let trace = k.cost_mut().take_trace();
    Ok(Driven { result, trace, windows, names })
}
