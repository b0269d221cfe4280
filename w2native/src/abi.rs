//! How wasm types, signatures and traps map onto Cranelift.
//!
//! Every wasm function becomes a native function `fn(vmctx, params..) -> results`
//! in the target's default calling convention; references are pointer-sized.

use cranelift_codegen::ir::{types, AbiParam, ArgumentPurpose, Signature, TrapCode, Type};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig, TargetIsa};
use w2native_environ::{Builtin, FuncType, Trap, ValType};

/// Target facts the translator needs.
#[derive(Clone, Copy)]
pub struct TargetAbi {
    pub pointer_type: Type,
    pub call_conv: CallConv,
    pub frontend_config: TargetFrontendConfig,
}

impl TargetAbi {
    pub fn new(isa: &dyn TargetIsa) -> Self {
        TargetAbi {
            pointer_type: isa.pointer_type(),
            call_conv: isa.default_call_conv(),
            frontend_config: isa.frontend_config(),
        }
    }

    pub fn pointer_bytes(&self) -> u32 {
        self.pointer_type.bytes()
    }

    pub fn ir_type(&self, t: ValType) -> Type {
        match t {
            ValType::I32 => types::I32,
            ValType::I64 => types::I64,
            ValType::F32 => types::F32,
            ValType::F64 => types::F64,
            ValType::V128 => types::I8X16,
            ValType::FuncRef | ValType::ExternRef | ValType::ExnRef => self.pointer_type,
        }
    }

    /// Native signature of a wasm function of type `ty`.
    pub fn wasm_signature(&self, ty: &FuncType) -> Signature {
        let mut sig = Signature::new(self.call_conv);
        sig.params.push(AbiParam::special(
            self.pointer_type,
            ArgumentPurpose::VMContext,
        ));
        sig.params
            .extend(ty.params.iter().map(|&t| AbiParam::new(self.ir_type(t))));
        sig.returns
            .extend(ty.results.iter().map(|&t| AbiParam::new(self.ir_type(t))));
        sig
    }

    /// Signature of an array-call trampoline: `fn(vmctx, callee, values)`.
    pub fn trampoline_signature(&self) -> Signature {
        let mut sig = Signature::new(self.call_conv);
        sig.params.extend([AbiParam::new(self.pointer_type); 3]);
        sig
    }

    /// Native signature of a runtime builtin (see `foreach_builtin!`).
    pub fn builtin_signature(&self, builtin: Builtin) -> Signature {
        let (params, result) = builtin.signature();
        let mut sig = Signature::new(self.call_conv);
        sig.params
            .extend(params.iter().map(|p| AbiParam::new(self.abstract_type(p))));
        sig.returns.push(AbiParam::new(self.abstract_type(result)));
        sig
    }

    fn abstract_type(&self, name: &str) -> Type {
        match name {
            "i32" => types::I32,
            "i64" => types::I64,
            "vmctx" | "pointer" | "reference" => self.pointer_type,
            other => unreachable!("builtin type `{other}` has no Cranelift mapping"),
        }
    }
}

/// The Cranelift trap code raising `trap`. Traps Cranelift raises on its own
/// (division, conversion, stack limit) use its reserved codes; ours are
/// user codes offset by one because user codes must be non-zero.
pub fn trap_code(trap: Trap) -> TrapCode {
    match trap {
        Trap::StackOverflow => TrapCode::STACK_OVERFLOW,
        Trap::MemoryOutOfBounds => TrapCode::HEAP_OUT_OF_BOUNDS,
        Trap::IntegerOverflow => TrapCode::INTEGER_OVERFLOW,
        Trap::IntegerDivisionByZero => TrapCode::INTEGER_DIVISION_BY_ZERO,
        Trap::BadConversionToInteger => TrapCode::BAD_CONVERSION_TO_INTEGER,
        other => TrapCode::unwrap_user(other as u8 + 1),
    }
}

/// Inverse of [`trap_code`], for building the trap table after compilation.
pub fn trap_from_code(code: TrapCode) -> Option<Trap> {
    Some(match code {
        TrapCode::STACK_OVERFLOW => Trap::StackOverflow,
        TrapCode::HEAP_OUT_OF_BOUNDS => Trap::MemoryOutOfBounds,
        TrapCode::INTEGER_OVERFLOW => Trap::IntegerOverflow,
        TrapCode::INTEGER_DIVISION_BY_ZERO => Trap::IntegerDivisionByZero,
        TrapCode::BAD_CONVERSION_TO_INTEGER => Trap::BadConversionToInteger,
        other => Trap::from_code(other.as_raw().get().checked_sub(1)?)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_codes_round_trip() {
        for t in Trap::ALL {
            assert_eq!(trap_from_code(trap_code(t)), Some(t), "{t:?}");
        }
    }
}
