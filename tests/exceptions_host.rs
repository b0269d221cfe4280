//! An exception crosses host frames: wasm calls a host import, the host
//! calls back into wasm (`Func::call`, with its own trap landing), that
//! wasm throws, and the `try` around the import catches it. The guest ABI
//! relies on this for `longjmp` out of a signal handler the Runner calls.
//! Traps keep working afterwards (the trap landing was restored).

use runtime_support::{Extern, Func, Imports, Instance, Val};
use std::sync::OnceLock;
use w2native::BoundsMode;
use w2native_environ::{FuncType, Trap, ValType};
use w2native_tests::loader;

const WAT: &str = r#"
(module
  (import "host" "callback" (func $callback (param i32)))
  (tag $e (param i32))
  (func (export "thrower") (param i32) (throw $e (local.get 0)))
  (func (export "run") (param i32) (result i32)
    try (result i32)
      (call $callback (local.get 0))
      (i32.const -1)
    catch $e
      (i32.const 1000)
      (i32.add)
    end)
  (func (export "trap") (unreachable)))
"#;

static THROWER: OnceLock<Func> = OnceLock::new();

extern "C" fn callback(_vmctx: *mut u8, v: i32) {
    let thrower = THROWER.get().expect("set before run");
    // The exception leaves through this call: nothing after it runs.
    let _ = thrower.call(&[Val::I32(v)]);
    unreachable!("the exception passes through the host frames");
}

fn main() {
    let buf = wast::parser::ParseBuffer::new(WAT).expect("lexing");
    let mut wat: wast::Wat = wast::parser::parse(&buf).expect("parsing");
    let wasm = wat.encode().expect("encoding");
    let dir = tempfile::tempdir().expect("temporary directory");
    let module =
        loader::load(&wasm, "exceptions_host", BoundsMode::Guard, dir.path()).expect("compiles");
    let ty = FuncType {
        params: vec![ValType::I32],
        results: vec![],
    };
    let mut imports = Imports::new();
    // SAFETY: `callback` has the native signature of (i32) -> ().
    let f = unsafe { Func::host(callback as *const u8, ty) };
    imports.define("host", "callback", Extern::Func(f));
    let instance = Instance::new(&module, &imports).expect("links");
    let _ = THROWER.set(instance.get_func("thrower").expect("export"));
    let run = instance.get_func("run").expect("export");
    let trap = instance.get_func("trap").expect("export");
    for i in 0..3 {
        let r = run.call(&[Val::I32(i)]).expect("caught inside wasm");
        assert_eq!(r, vec![Val::I32(1000 + i)]);
        let t = trap.call(&[]).expect_err("traps");
        assert_eq!(t.trap(), Some(Trap::UnreachableCodeReached));
    }
    let uncaught = THROWER
        .get()
        .unwrap()
        .call(&[Val::I32(5)])
        .expect_err("no handler");
    assert_eq!(uncaught.trap(), Some(Trap::UncaughtException));
    println!("exceptions_host: ok");
}
