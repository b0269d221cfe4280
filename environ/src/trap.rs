/// Every trap compiled code can raise. The discriminant is the stable code
/// stored in trap tables and in [`crate::TrapSite`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Trap {
    StackOverflow = 0,
    MemoryOutOfBounds = 1,
    HeapMisaligned = 2,
    TableOutOfBounds = 3,
    IndirectCallToNull = 4,
    BadSignature = 5,
    IntegerOverflow = 6,
    IntegerDivisionByZero = 7,
    BadConversionToInteger = 8,
    UnreachableCodeReached = 9,
    NullReference = 10,
    UncaughtException = 11,
    AtomicWaitNonShared = 12,
    /// `call_indirect` with an index past the table's end (the spec words
    /// it differently from `table.get`'s out-of-bounds access).
    UndefinedElement = 13,
}

impl Trap {
    pub const ALL: [Trap; 14] = [
        Trap::StackOverflow,
        Trap::MemoryOutOfBounds,
        Trap::HeapMisaligned,
        Trap::TableOutOfBounds,
        Trap::IndirectCallToNull,
        Trap::BadSignature,
        Trap::IntegerOverflow,
        Trap::IntegerDivisionByZero,
        Trap::BadConversionToInteger,
        Trap::UnreachableCodeReached,
        Trap::NullReference,
        Trap::UncaughtException,
        Trap::AtomicWaitNonShared,
        Trap::UndefinedElement,
    ];

    pub fn from_code(code: u8) -> Option<Trap> {
        Self::ALL.get(code as usize).copied()
    }

    /// The message, worded as the WebAssembly spec testsuite expects
    /// (`assert_trap` matches on these strings).
    pub fn message(self) -> &'static str {
        match self {
            Trap::StackOverflow => "call stack exhausted",
            Trap::MemoryOutOfBounds => "out of bounds memory access",
            Trap::HeapMisaligned => "unaligned atomic",
            Trap::TableOutOfBounds => "out of bounds table access",
            Trap::IndirectCallToNull => "uninitialized element",
            Trap::BadSignature => "indirect call type mismatch",
            Trap::IntegerOverflow => "integer overflow",
            Trap::IntegerDivisionByZero => "integer divide by zero",
            Trap::BadConversionToInteger => "invalid conversion to integer",
            Trap::UnreachableCodeReached => "unreachable",
            Trap::NullReference => "null reference",
            Trap::UncaughtException => "uncaught exception",
            Trap::AtomicWaitNonShared => "expected shared memory",
            Trap::UndefinedElement => "undefined element",
        }
    }
}

impl std::fmt::Display for Trap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for t in Trap::ALL {
            assert_eq!(Trap::from_code(t as u8), Some(t));
        }
        assert_eq!(Trap::from_code(Trap::ALL.len() as u8), None);
    }
}
