//! The RDTSC hook. Unicorn lets a hook replace RDTSC (no exception, so none of QEMU's
//! nested-exception bookkeeping), but the safe binding's instruction hooks cannot return the
//! "skip the native instruction" flag this hook type needs, so it is registered through the C API.
#![allow(unsafe_code)]

use crate::{counter_value, State, X86Mode};
use std::ffi::{c_int, c_void};
use unicorn_engine::{uc_engine, uc_error, uc_hook, HookType, RegisterX86, Unicorn, X86Insn};

/// Registers the hook; its user data is the emulator's own `State`.
pub(crate) fn add_hook(uc: &mut Unicorn<'_, State>) -> Result<(), uc_error> {
    let state: *mut State = uc.get_data_mut();
    let mut hh: uc_hook = 0;
    // SAFETY: the handle is the live engine owned by `uc`; `on_rdtsc` has the C signature Unicorn
    // calls RDTSC hooks with (`int (*)(uc_engine *, void *)`); `state` points into the engine's
    // own data, which lives (at a fixed heap address) as long as the engine and its hooks; the
    // variadic argument is the instruction id, as uc_hook_add expects for UC_HOOK_INSN.
    let err = unsafe {
        unicorn_engine::uc_hook_add(
            uc.get_handle(),
            &mut hh,
            HookType::INSN.0 as c_int,
            on_rdtsc as *mut c_void,
            state.cast(),
            1,
            0,
            X86Insn::RDTSC as c_int,
        )
    };
    if err == uc_error::OK {
        Ok(())
    } else {
        Err(err)
    }
}

fn reg_read(uc: *mut uc_engine, r: RegisterX86) -> u64 {
    let mut v = 0u64;
    // SAFETY: `uc` is the engine calling this hook; `v` is a writable u64.
    unsafe { unicorn_engine::uc_reg_read(uc, r as c_int, std::ptr::from_mut(&mut v).cast()) };
    v
}

fn reg_write(uc: *mut uc_engine, r: RegisterX86, v: u64) {
    // SAFETY: `uc` is the engine calling this hook; `v` is a readable u64.
    unsafe { unicorn_engine::uc_reg_write(uc, r as c_int, std::ptr::from_ref(&v).cast()) };
}

/// RDTSC: EDX:EAX = the simulated cycle count at this instruction; skip the native one.
extern "C" fn on_rdtsc(uc: *mut uc_engine, user: *mut c_void) -> c_int {
    // SAFETY: `user` is the `State` registered in `add_hook`. The hook runs inside emulation,
    // when no other Rust reference to the state is in use (the caller is blocked in emu_start and
    // other hooks are not running), so this is the only live reference.
    let st = unsafe { &mut *user.cast::<State>() };
    let (ip, ax, dx) = match st.mode {
        X86Mode::X86_64 => (RegisterX86::RIP, RegisterX86::RAX, RegisterX86::RDX),
        X86Mode::Ia32 => (RegisterX86::EIP, RegisterX86::EAX, RegisterX86::EDX),
    };
    let pc = reg_read(uc, ip);
    let value = counter_value(st, pc);
    reg_write(uc, ax, value & 0xffff_ffff);
    reg_write(uc, dx, value >> 32);
    1
}
