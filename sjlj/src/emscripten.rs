//! clang's emscripten-style sjlj (`-mllvm -enable-emscripten-sjlj`).
//!
//! The module imports (module `env`):
//!
//! | import | meaning |
//! | --- | --- |
//! | `invoke_<sig>(index, args..)` | call `table[index](args..)`; if it longjmps, return normally (zero results) with `__THREW__` set |
//! | `emscripten_longjmp(env, val)` | `setThrew(env, val)` (the module's export), then unwind to the innermost `invoke_*` |
//! | `setTempRet0(v)` / `getTempRet0()` | a per-thread scratch register for the second result |
//!
//! `<sig>` is emscripten's signature letters: the result first (`v` void,
//! `i` i32, `j` i64, `f` f32, `d` f64), then one letter per argument after
//! the table index. The compiler lowers calls to `invoke_*` inline (a
//! try-call of the table element) because their signatures are open-ended;
//! the runtime provides the other three as host functions.

pub const MODULE: &str = "env";
pub const INVOKE_PREFIX: &str = "invoke_";
pub const LONGJMP: &str = "emscripten_longjmp";
pub const SET_TEMP_RET0: &str = "setTempRet0";
pub const GET_TEMP_RET0: &str = "getTempRet0";
/// The module export that records a longjmp in `__THREW__`/`__threwValue`.
pub const SET_THREW: &str = "setThrew";

/// A value type in emscripten's signature letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Letter {
    I32,
    I64,
    F32,
    F64,
}

/// The signature encoded in an `invoke_<sig>` name: (result, params after
/// the table index). `None` if the name is not an invoke or the letters are
/// unknown.
pub fn invoke_signature(field: &str) -> Option<(Option<Letter>, Vec<Letter>)> {
    let sig = field.strip_prefix(INVOKE_PREFIX)?;
    let mut letters = sig.chars();
    let result = match letters.next()? {
        'v' => None,
        c => Some(letter(c)?),
    };
    let params = letters.map(letter).collect::<Option<Vec<_>>>()?;
    Some((result, params))
}

fn letter(c: char) -> Option<Letter> {
    Some(match c {
        'i' => Letter::I32,
        'j' => Letter::I64,
        'f' => Letter::F32,
        'd' => Letter::F64,
        _ => return None,
    })
}

/// Whether `(module, field)` is an `invoke_*` import the compiler lowers.
pub fn is_invoke(module: &str, field: &str) -> bool {
    module == MODULE && invoke_signature(field).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        assert_eq!(
            invoke_signature("invoke_vii"),
            Some((None, vec![Letter::I32, Letter::I32]))
        );
        assert_eq!(
            invoke_signature("invoke_jid"),
            Some((Some(Letter::I64), vec![Letter::I32, Letter::F64]))
        );
        assert_eq!(invoke_signature("invoke_v"), Some((None, vec![])));
        assert_eq!(invoke_signature("invoke_x"), None);
        assert_eq!(invoke_signature("emscripten_longjmp"), None);
        assert!(!is_invoke("wasi", "invoke_v"));
    }
}
