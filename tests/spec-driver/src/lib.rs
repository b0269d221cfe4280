//! The inside of a cross spec-test executable.
//!
//! `tests/spec_cross.rs` compiles every module of one `.wast` file for a
//! cross target and links them with this library (built for the target by
//! `cargo xtask runtime`) and a generated `main` that passes the table of
//! module records to [`w2n_spec_driver_main`]. The host then runs the
//! executable under qemu-user, writes one command per line on its stdin and
//! reads one reply per line from its stdout. The driver only executes; every
//! judgement (expected values, trap messages) is made on the host.
//!
//! Commands (names are hex-encoded UTF-8, `-` is "none"):
//!
//! ```text
//! module <index> <name|->         instantiate record <index>, make it current
//! register <as> <name|->          make an instance importable as module <as>
//! invoke <name|-> <field> <val>*  call an export
//! get <name|-> <field>            read an exported global
//! ```
//!
//! Replies: `ok <val>*`, `trap <message>`, `exit <status>`, `link <message>`,
//! `error <message>`. Values are `<type>:<hex bits>` with type `i32`,
//! `i64`, `f32`, `f64`, `v128`, `funcref` or `externref`.
//!
//! Not for production use: only the test suite embeds it.

use runtime_support::{
    Extern, Func, Global, Imports, Instance, InstantiationError, Memory, Module, Table, TrapError,
    Val,
};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use w2native_environ::VMModuleStatic;
use w2native_environ::{FuncType, GlobalType, Limits, MemoryType, TableType, ValType};

/// Entry point called by the generated `main`.
///
/// # Safety
/// `records` must point to `count` module records emitted by w2native for
/// this target.
#[no_mangle]
pub unsafe extern "C" fn w2n_spec_driver_main(
    records: *const &'static VMModuleStatic,
    count: usize,
) -> i32 {
    // SAFETY: the caller passes `count` records.
    let records = unsafe { std::slice::from_raw_parts(records, count) };
    let mut driver = Driver {
        records,
        imports: spectest_imports(),
        named: HashMap::new(),
        current: None,
    };
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let reply = driver.command(&line);
        if writeln!(out, "{reply}").and_then(|_| out.flush()).is_err() {
            return 1;
        }
    }
    0
}

struct Driver {
    records: &'static [&'static VMModuleStatic],
    imports: Imports,
    named: HashMap<String, Instance>,
    current: Option<Instance>,
}

impl Driver {
    fn command(&mut self, line: &str) -> String {
        let words: Vec<&str> = line.split(' ').collect();
        let result = match words.as_slice() {
            ["module", index, name] => self.module(index, name),
            ["register", as_name, name] => self.register(as_name, name),
            ["invoke", name, field, args @ ..] => self.invoke(name, field, args),
            ["get", name, field] => self.get(name, field),
            _ => Err(format!("error bad command `{line}`")),
        };
        result.unwrap_or_else(|e| e)
    }

    fn instance(&self, name: &str) -> Result<Instance, String> {
        if name == "-" {
            return self.current.clone().ok_or("error no current module".into());
        }
        let name = unhex(name)?;
        self.named
            .get(&name)
            .cloned()
            .ok_or(format!("error unknown module {name}"))
    }

    fn module(&mut self, index: &str, name: &str) -> Result<String, String> {
        let index: usize = index.parse().map_err(|_| "error bad index")?;
        let record = *self.records.get(index).ok_or("error no such record")?;
        let module = Module::new(record).map_err(|e| format!("error {}", one_line(&e)))?;
        let instance = match Instance::new(&module, &self.imports) {
            Ok(i) => i,
            Err(InstantiationError::Link(m)) => return Ok(format!("link {}", one_line(&m))),
            Err(InstantiationError::Trap(t)) => return Ok(trap_reply(&t)),
            Err(InstantiationError::Resource(m)) => {
                return Ok(format!("error resource: {}", one_line(&m)))
            }
        };
        if name != "-" {
            self.named.insert(unhex(name)?, instance.clone());
        }
        self.current = Some(instance);
        Ok("ok".into())
    }

    fn register(&mut self, as_name: &str, name: &str) -> Result<String, String> {
        let instance = self.instance(name)?;
        self.imports.define_instance(&unhex(as_name)?, &instance);
        Ok("ok".into())
    }

    fn invoke(&mut self, name: &str, field: &str, args: &[&str]) -> Result<String, String> {
        let instance = self.instance(name)?;
        let field = unhex(field)?;
        let func = instance
            .get_func(&field)
            .ok_or(format!("error no exported function {field}"))?;
        let args = args
            .iter()
            .map(|a| parse_val(a))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(match func.call(&args) {
            Ok(vals) => ok_reply(&vals),
            Err(e) => trap_reply(&e),
        })
    }

    fn get(&mut self, name: &str, field: &str) -> Result<String, String> {
        let instance = self.instance(name)?;
        let field = unhex(field)?;
        let global = instance
            .get_global(&field)
            .ok_or(format!("error no exported global {field}"))?;
        Ok(ok_reply(&[global.get()]))
    }
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}

fn ok_reply(vals: &[Val]) -> String {
    let mut s = String::from("ok");
    for v in vals {
        s.push(' ');
        s.push_str(&format_val(v));
    }
    s
}

fn trap_reply(e: &TrapError) -> String {
    match e {
        TrapError::Trap { trap, .. } => format!("trap {}", trap.message()),
        TrapError::Exit(code) => format!("exit {code}"),
        TrapError::Host(m) => format!("error {}", one_line(m)),
    }
}

/// `<type>:<hex bits>`.
pub fn format_val(v: &Val) -> String {
    match v {
        Val::I32(x) => format!("i32:{:x}", *x as u32),
        Val::I64(x) => format!("i64:{:x}", *x as u64),
        Val::F32(x) => format!("f32:{x:x}"),
        Val::F64(x) => format!("f64:{x:x}"),
        Val::V128(x) => format!("v128:{x:x}"),
        Val::FuncRef(x) => format!("funcref:{x:x}"),
        Val::ExternRef(x) => format!("externref:{x:x}"),
    }
}

/// The inverse of [`format_val`].
pub fn parse_val(s: &str) -> Result<Val, String> {
    let (ty, bits) = s.split_once(':').ok_or(format!("error bad value {s}"))?;
    let bits = u128::from_str_radix(bits, 16).map_err(|_| format!("error bad value {s}"))?;
    Ok(match ty {
        "i32" => Val::I32(bits as u32 as i32),
        "i64" => Val::I64(bits as u64 as i64),
        "f32" => Val::F32(bits as u32),
        "f64" => Val::F64(bits as u64),
        "v128" => Val::V128(bits),
        "funcref" => Val::FuncRef(bits as usize),
        "externref" => Val::ExternRef(bits as usize),
        _ => return Err(format!("error bad value type {ty}")),
    })
}

/// Hex encoding of names, which may hold spaces and any Unicode.
pub fn hex(s: &str) -> String {
    if s.is_empty() {
        return "_".into();
    }
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The inverse of [`hex`].
pub fn unhex(s: &str) -> Result<String, String> {
    if s == "_" {
        return Ok(String::new());
    }
    let bytes = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| format!("error bad name {s}"))?;
    String::from_utf8(bytes).map_err(|_| format!("error bad name {s}"))
}

macro_rules! spectest_print {
    ($($name:ident($($p:ident: $t:ty),*);)*) => {
        $(
            // The spec's host functions print their arguments; the tests
            // only need them to exist with the right types.
            extern "C" fn $name(_vmctx: *mut u8, $($p: $t),*) { $(let _ = $p;)* }
        )*
    };
}

spectest_print! {
    print();
    print_i32(a: i32);
    print_i64(a: i64);
    print_f32(a: f32);
    print_f64(a: f64);
    print_i32_f32(a: i32, b: f32);
    print_f64_f64(a: f64, b: f64);
}

/// The `spectest` module every spec script may import from (with the
/// threads proposal's `shared_memory`); also the native suite's
/// (`tests/src/wast_runner.rs`).
pub fn spectest_imports() -> Imports {
    use ValType::*;
    let mut imports = Imports::new();
    let funcs: [(&str, *const u8, Vec<ValType>); 7] = [
        ("print", print as *const u8, vec![]),
        ("print_i32", print_i32 as *const u8, vec![I32]),
        ("print_i64", print_i64 as *const u8, vec![I64]),
        ("print_f32", print_f32 as *const u8, vec![F32]),
        ("print_f64", print_f64 as *const u8, vec![F64]),
        ("print_i32_f32", print_i32_f32 as *const u8, vec![I32, F32]),
        ("print_f64_f64", print_f64_f64 as *const u8, vec![F64, F64]),
    ];
    for (name, ptr, params) in funcs {
        let ty = FuncType {
            params,
            results: vec![],
        };
        // SAFETY: each function above has the compiled-code signature for `ty`.
        imports.define(
            "spectest",
            name,
            Extern::Func(unsafe { Func::host(ptr, ty) }),
        );
    }
    let global = |ty, val| Extern::Global(Global::new(GlobalType { ty, mutable: false }, val));
    imports.define("spectest", "global_i32", global(I32, Val::I32(666)));
    imports.define("spectest", "global_i64", global(I64, Val::I64(666)));
    imports.define(
        "spectest",
        "global_f32",
        global(F32, Val::F32(666.6f32.to_bits())),
    );
    imports.define(
        "spectest",
        "global_f64",
        global(F64, Val::F64(666.6f64.to_bits())),
    );
    let table = Table::new(
        TableType {
            elem: FuncRef,
            limits: Limits {
                min: 10,
                max: Some(20),
            },
        },
        Val::FuncRef(0),
    )
    .expect("spectest table");
    imports.define("spectest", "table", Extern::Table(table));
    let memory = Memory::new(MemoryType {
        limits: Limits {
            min: 1,
            max: Some(2),
        },
        shared: false,
    })
    .expect("spectest memory");
    imports.define("spectest", "memory", Extern::Memory(memory));
    let shared = Memory::new(MemoryType {
        limits: Limits {
            min: 1,
            max: Some(1),
        },
        shared: true,
    })
    .expect("spectest shared memory");
    imports.define("spectest", "shared_memory", Extern::Memory(shared));
    imports
}
