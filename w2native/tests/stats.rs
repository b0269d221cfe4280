//! `w2native build --stats` counts, through the compiler library.

use w2native::{compile_module, CompileOptions, Target};

#[test]
fn counts_functions_inlined_into_their_self_calls() {
    let wat = r#"(module
        ;; Small and self-recursive: inlined.
        (func $down (param $n i32) (result i32)
          (if (result i32) (i32.eqz (local.get $n))
            (then (i32.const 0))
            (else (call $down (i32.sub (local.get $n) (i32.const 1))))))
        ;; Calls another function only: not.
        (func (param $n i32) (result i32) (call $down (local.get $n))))"#;
    let wasm = wat::parse_str(wat).expect("test module parses");
    for target in [Target::X86_64, Target::Aarch64, Target::Riscv64] {
        let opts = CompileOptions::new(target, "t", "t");
        let (_, stats) = compile_module(&wasm, &opts).expect("compiles");
        assert_eq!(stats.functions, 2);
        assert_eq!(stats.self_inlined, 1, "{target:?}");
    }
}
