//! Decoding guest x86 code into instruction classes, once per basic block (capstone, Intel syntax).

use crate::X86Mode;
use capstone::arch::x86::{ArchMode, ArchSyntax};
use capstone::prelude::*;
use isa_common::block::BlockInfo;
use simcore::{CostModel, InsnClass, PAddr, Primitive};

/// The class of one decoded instruction, from its mnemonic and operands.
pub fn classify(mnemonic: &str, op_str: &str) -> InsnClass {
    let mem = op_str.contains('[');
    match mnemonic {
        m if m.starts_with('j') || m.starts_with("loop") || m == "call" || m == "ret" => InsnClass::Branch,
        "push" => InsnClass::Store,
        "pop" => InsnClass::Load,
        "syscall" | "sysenter" | "int" => InsnClass::Syscall,
        "mul" | "imul" => InsnClass::Mul,
        "lea" | "nop" => InsnClass::Alu,
        "cmp" | "test" if mem => InsnClass::Load,
        _ if mem => {
            // The destination comes first in Intel syntax: a memory destination is a store.
            if op_str.trim_start().split(',').next().is_some_and(|d| d.contains('[')) {
                InsnClass::Store
            } else {
                InsnClass::Load
            }
        }
        _ => InsnClass::Alu,
    }
}

/// True if the instruction writes memory: a memory destination (plain or read-modify-write), a
/// push or call (the stack), or a string store.
pub fn writes_memory(mnemonic: &str, op_str: &str) -> bool {
    let dest_mem = op_str.trim_start().split(',').next().is_some_and(|d| d.contains('['));
    match mnemonic {
        "push" | "call" | "pushf" | "pushfd" | "pushfq" | "enter" => true,
        "cmp" | "test" | "jmp" => false,
        m if m.starts_with("stos") || m.starts_with("movs") || m.starts_with("rep") => true,
        _ => dest_mem,
    }
}

/// Decodes and prices x86 blocks.
pub struct Decoder {
    cs: Capstone,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Decoder")
    }
}

impl Decoder {
    /// A decoder for `mode`.
    pub fn new(mode: X86Mode) -> Result<Decoder, String> {
        let m = match mode {
            X86Mode::Ia32 => ArchMode::Mode32,
            X86Mode::X86_64 => ArchMode::Mode64,
        };
        let cs =
            Capstone::new().x86().mode(m).syntax(ArchSyntax::Intel).build().map_err(|e| e.to_string())?;
        Ok(Decoder { cs })
    }

    /// Whether the first instruction in `bytes` (at `va`) writes memory (see [`writes_memory`]);
    /// None if it does not decode.
    pub fn first_writes_memory(&self, va: u64, bytes: &[u8]) -> Option<bool> {
        let insns = self.cs.disasm_count(bytes, va, 1).ok()?;
        let insn = insns.iter().next()?;
        Some(writes_memory(insn.mnemonic().unwrap_or(""), insn.op_str().unwrap_or("")))
    }

    /// Prices the block of `bytes` at `va`; RDTSC is priced as the profile's counter read. Bytes
    /// the disassembler cannot read (encodings the emulator executes but capstone does not
    /// decode) are priced as one ALU instruction, so that no block runs in no time (a `rep`
    /// loop of such a block would otherwise never let time, and the timer, advance).
    pub fn price(&self, cost: &CostModel, va: u64, asid: u16, pa: PAddr, bytes: &[u8]) -> BlockInfo {
        let mut total = 0.0;
        let mut prefix = Vec::new();
        let mut decoded = 0usize;
        if let Ok(insns) = self.cs.disasm_all(bytes, va) {
            for insn in insns.iter() {
                prefix.push(((insn.address() - va) as u32, total));
                let m = insn.mnemonic().unwrap_or("");
                total += if m == "rdtsc" {
                    cost.price_primitive(Primitive::CounterRead)
                } else {
                    cost.price_class(classify(m, insn.op_str().unwrap_or("")))
                };
                decoded = (insn.address() - va) as usize + insn.bytes().len();
            }
        }
        if decoded < bytes.len() {
            prefix.push((decoded as u32, total));
            total += cost.price_class(InsnClass::Alu);
        }
        prefix.push((bytes.len() as u32, total));
        BlockInfo { va, asid, size: bytes.len() as u32, pa, cost: total, prefix }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_loads_stores_branches_and_system_calls() {
        assert_eq!(classify("mov", "rax, qword ptr [rbx + 8]"), InsnClass::Load);
        assert_eq!(classify("mov", "dword ptr [rdx + 4], r10d"), InsnClass::Store);
        assert_eq!(classify("add", "rax, 1"), InsnClass::Alu);
        assert_eq!(classify("jne", "0x1000"), InsnClass::Branch);
        assert_eq!(classify("push", "rbp"), InsnClass::Store);
        assert_eq!(classify("syscall", ""), InsnClass::Syscall);
        assert_eq!(classify("cmp", "eax, dword ptr [esp + 8]"), InsnClass::Load);
    }

    #[test]
    fn finds_the_instructions_that_write_memory() {
        assert!(writes_memory("mov", "dword ptr [rdx + 4], r10d"));
        assert!(writes_memory("add", "dword ptr [rip + 0x10], edi"));
        assert!(writes_memory("push", "rbp"));
        assert!(!writes_memory("mov", "eax, dword ptr [4]"));
        assert!(!writes_memory("cmp", "dword ptr [eax], 1"));
        let d = Decoder::new(X86Mode::Ia32).unwrap();
        assert_eq!(d.first_writes_memory(0x1000, &[0x89, 0x18]), Some(true)); // mov [eax], ebx
        assert_eq!(d.first_writes_memory(0x1000, &[0x8b, 0x18]), Some(false)); // mov ebx, [eax]
    }
}
