//! Decoding guest ARM code into instruction classes, once per basic block (capstone), and the
//! direct-mapped cache of priced blocks.

use capstone::arch::arm::{ArchMode, ArmInsn};
use capstone::prelude::*;
use isa_common::block::BlockInfo;
use simcore::{CostModel, InsnClass, PAddr};

/// The instruction with which guest code reads the cycle counter, per architecture: what
/// benchmark code uses on that hardware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterInsn {
    /// ARMv7 PMU: `mrc p15, 0, Rd, c9, c13, 0` (PMCCNTR).
    Pmccntr,
    /// ARM11 (ARMv6): `mrc p15, 0, Rd, c15, c12, 1` (CCNT).
    Arm11Ccnt,
    /// Intel XScale (ARMv5TE): `mrc p14, 0, Rd, c1, c0, 0` (CCNT).
    XscaleCcnt,
}

impl CounterInsn {
    /// The counter instruction of an architecture (`armv7`, `armv6`, `armv5`).
    pub fn for_arch(arch: &str) -> Option<CounterInsn> {
        Some(match arch {
            "armv7" => CounterInsn::Pmccntr,
            "armv6" => CounterInsn::Arm11Ccnt,
            "armv5" => CounterInsn::XscaleCcnt,
            _ => return None,
        })
    }

    /// Whether `word` is this counter read (condition `al`, any Rd).
    pub fn matches(self, word: u32) -> bool {
        let pattern = match self {
            CounterInsn::Pmccntr => 0xee19_0f1d,
            CounterInsn::Arm11Ccnt => 0xee1f_0f3c,
            CounterInsn::XscaleCcnt => 0xee11_0e10,
        };
        word & 0xffff_0fff == pattern
    }
}

/// Whether `word` is the ARMv7 PMCCNTR read (`mrc p15, 0, Rd, c9, c13, 0`, condition `al`).
pub fn is_pmccntr_read(word: u32) -> bool {
    CounterInsn::Pmccntr.matches(word)
}

/// Rd of a `mrc` instruction.
pub fn mrc_rd(word: u32) -> usize {
    ((word >> 12) & 0xf) as usize
}

fn reg_list_len(op_str: &str) -> u32 {
    match (op_str.find('{'), op_str.find('}')) {
        (Some(a), Some(b)) if b > a => {
            op_str[a + 1..b].split(',').filter(|s| !s.trim().is_empty()).count() as u32
        }
        _ => 1,
    }
}

/// The class of one decoded instruction.
fn classify(id: u32, op_str: &str) -> InsnClass {
    use ArmInsn::*;
    let is = |x: ArmInsn| id == x as u32;
    if [ARM_INS_LDM, ARM_INS_LDMDA, ARM_INS_LDMDB, ARM_INS_LDMIB, ARM_INS_POP].iter().any(|x| is(*x)) {
        return InsnClass::LoadMultiple(reg_list_len(op_str));
    }
    if [ARM_INS_STM, ARM_INS_STMDA, ARM_INS_STMDB, ARM_INS_STMIB, ARM_INS_PUSH].iter().any(|x| is(*x)) {
        return InsnClass::StoreMultiple(reg_list_len(op_str));
    }
    if [
        ARM_INS_LDR,
        ARM_INS_LDRB,
        ARM_INS_LDRH,
        ARM_INS_LDRSB,
        ARM_INS_LDRSH,
        ARM_INS_LDRD,
        ARM_INS_LDREX,
        ARM_INS_LDRT,
        ARM_INS_LDRBT,
    ]
    .iter()
    .any(|x| is(*x))
    {
        return InsnClass::Load;
    }
    if [ARM_INS_STR, ARM_INS_STRB, ARM_INS_STRH, ARM_INS_STRD, ARM_INS_STREX, ARM_INS_STRT, ARM_INS_STRBT]
        .iter()
        .any(|x| is(*x))
    {
        return InsnClass::Store;
    }
    if [ARM_INS_B, ARM_INS_BL, ARM_INS_BX, ARM_INS_BLX, ARM_INS_BXJ, ARM_INS_CBZ, ARM_INS_CBNZ]
        .iter()
        .any(|x| is(*x))
    {
        return InsnClass::Branch;
    }
    if [ARM_INS_MUL, ARM_INS_MLA, ARM_INS_MLS, ARM_INS_UMULL, ARM_INS_SMULL, ARM_INS_UMLAL, ARM_INS_SMLAL]
        .iter()
        .any(|x| is(*x))
    {
        return InsnClass::Mul;
    }
    if is(ARM_INS_MRC) || is(ARM_INS_MRRC) {
        return InsnClass::CoprocRead;
    }
    if is(ARM_INS_MCR) || is(ARM_INS_MCRR) {
        return InsnClass::CoprocWrite;
    }
    if is(ARM_INS_DSB) || is(ARM_INS_DMB) {
        return InsnClass::Barrier;
    }
    if is(ARM_INS_ISB) {
        return InsnClass::Isb;
    }
    if is(ARM_INS_SVC) {
        return InsnClass::Syscall;
    }
    InsnClass::Alu
}

/// Decodes and prices blocks.
pub struct Decoder {
    cs: Capstone,
    counter: CounterInsn,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Decoder")
    }
}

impl Decoder {
    /// An ARM (A32) decoder for code that reads the cycle counter with `counter`.
    pub fn new(counter: CounterInsn) -> Result<Decoder, String> {
        let cs = Capstone::new().arm().mode(ArchMode::Arm).build().map_err(|e| e.to_string())?;
        Ok(Decoder { cs, counter })
    }

    /// The counter-read instruction this decoder recognises.
    pub fn counter(&self) -> CounterInsn {
        self.counter
    }

    /// Prices the block of `bytes` at `va`. Undecodable words (data, or instructions capstone does
    /// not know) are priced as ALU instructions: the emulator will raise an exception if they are
    /// really undefined.
    pub fn price(&self, cost: &CostModel, va: u64, asid: u16, pa: PAddr, bytes: &[u8]) -> BlockInfo {
        let mut total = 0.0;
        let mut prefix = Vec::with_capacity(bytes.len() / 4 + 1);
        for (i, chunk) in bytes.chunks(4).enumerate() {
            let addr = va + 4 * i as u64;
            prefix.push((4 * i as u32, total));
            let word = chunk.iter().rev().fold(0u32, |a, b| (a << 8) | u32::from(*b));
            if chunk.len() == 4 && self.counter.matches(word) {
                total += cost.price_primitive(simcore::Primitive::CounterRead);
                continue;
            }
            let class = match self.cs.disasm_count(chunk, addr, 1) {
                Ok(insns) => match insns.iter().next() {
                    Some(insn) => classify(insn.id().0, insn.op_str().unwrap_or("")),
                    None => InsnClass::Alu,
                },
                Err(_) => InsnClass::Alu,
            };
            total += cost.price_class(class);
        }
        prefix.push((bytes.len() as u32, total));
        BlockInfo { va, asid, size: bytes.len() as u32, pa, cost: total, prefix }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_pmccntr_read_for_any_register() {
        assert!(is_pmccntr_read(0xee198f1d)); // mrc p15, 0, r8, c9, c13, 0
        assert_eq!(mrc_rd(0xee198f1d), 8);
        assert!(is_pmccntr_read(0xee192f1d));
        assert!(!is_pmccntr_read(0xee190f1e));
        assert!(!is_pmccntr_read(0xef000000)); // svc
        assert!(CounterInsn::Arm11Ccnt.matches(0xee1f3f3c)); // mrc p15, 0, r3, c15, c12, 1
        assert!(CounterInsn::XscaleCcnt.matches(0xee112e10)); // mrc p14, 0, r2, c1, c0, 0
        assert!(!CounterInsn::XscaleCcnt.matches(0xee198f1d));
    }

    #[test]
    fn classifies_loads_stores_multiples_and_branches() {
        let d = Decoder::new(CounterInsn::Pmccntr).unwrap();
        let code: [u32; 6] = [
            0xe5912000, // ldr r2, [r1]
            0xe5812000, // str r2, [r1]
            0xe92d4030, // push {r4, r5, lr}
            0xe8bd8030, // pop {r4, r5, pc}
            0xe0800001, // add r0, r0, r1
            0xeafffffe, // b .
        ];
        let classes: Vec<InsnClass> = code
            .iter()
            .map(|w| {
                let b = w.to_le_bytes();
                let insns = d.cs.disasm_count(&b, 0, 1).unwrap();
                let i = insns.iter().next().unwrap();
                classify(i.id().0, i.op_str().unwrap_or(""))
            })
            .collect();
        assert_eq!(
            classes,
            vec![
                InsnClass::Load,
                InsnClass::Store,
                InsnClass::StoreMultiple(3),
                InsnClass::LoadMultiple(3),
                InsnClass::Alu,
                InsnClass::Branch
            ]
        );
    }
}
