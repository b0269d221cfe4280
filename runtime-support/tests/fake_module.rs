//! End-to-end test of instantiation, calls, traps and builtins without the
//! compiler: a few hand-written machine-code functions stand in for compiled
//! wasm, described by a hand-built module descriptor.
#![cfg(target_arch = "x86_64")]

use runtime_support::builtins::BUILTINS;
use runtime_support::environ::{
    ConstExpr, ConstOp, DataSegment, ElemSegment, Export, ExportKind, FuncType, GlobalType, Import,
    ImportKind, Limits, MemoryType, ModuleDesc, SegmentMode, TableType, Trap, TrapSite, TrapTable,
    VMModuleStatic, ValRaw, ValType, DESC_VERSION,
};
use runtime_support::vm::VMContext;
use runtime_support::{
    Extern, Func, Global, Imports, Instance, InstantiationError, Module, TrapError, Val,
};

// The stand-ins for compiled functions, with the compiled-code convention
// `fn(vmctx, params..)`. Their sizes are recorded in `fake_sizes`.
std::arch::global_asm!(
    ".text",
    "fake_load:",
    "mov rax, [rdi]",
    "mov esi, esi",
    "mov eax, dword ptr [rax + rsi]",
    "ret",
    "fake_load_end:",
    "fake_trap:",
    "nop",
    "ud2",
    "fake_trap_end:",
    "fake_call_add:",
    // VMOffsets: the first imported function's {func_ptr, vmctx} after the
    // 10-pointer header.
    "mov rax, [rdi + 80]",
    "mov rdi, [rdi + 88]",
    "jmp rax",
    "fake_call_add_end:",
    ".data",
    ".p2align 3",
    "fake_funcs:",
    ".quad fake_load, fake_trap, fake_call_add",
    "fake_sizes:",
    ".long fake_load_end - fake_load, fake_trap_end - fake_trap, fake_call_add_end - fake_call_add",
);

extern "C" {
    static fake_funcs: [*const u8; 3];
    static fake_sizes: [u32; 3];
}

unsafe extern "C" fn tramp_void(vmctx: *mut VMContext, callee: *const u8, _v: *mut ValRaw) {
    let f: unsafe extern "C" fn(*mut VMContext) = std::mem::transmute(callee);
    f(vmctx)
}

unsafe extern "C" fn tramp_i_i(vmctx: *mut VMContext, callee: *const u8, v: *mut ValRaw) {
    let f: unsafe extern "C" fn(*mut VMContext, i32) -> i32 = std::mem::transmute(callee);
    *v = f(vmctx, *v as i32) as u32 as ValRaw;
}

unsafe extern "C" fn tramp_ii_i(vmctx: *mut VMContext, callee: *const u8, v: *mut ValRaw) {
    let f: unsafe extern "C" fn(*mut VMContext, i32, i32) -> i32 = std::mem::transmute(callee);
    *v = f(vmctx, *v as i32, *v.add(1) as i32) as u32 as ValRaw;
}

unsafe extern "C" fn host_add(_vmctx: *mut VMContext, a: i32, b: i32) -> i32 {
    a.wrapping_add(b)
}

fn i32c(v: i32) -> ConstExpr {
    ConstExpr(vec![ConstOp::I32Const(v)])
}

fn descriptor(data_offset: i32) -> ModuleDesc {
    let t_void = FuncType {
        params: vec![],
        results: vec![],
    };
    let t_i_i = FuncType {
        params: vec![ValType::I32],
        results: vec![ValType::I32],
    };
    let t_ii_i = FuncType {
        params: vec![ValType::I32, ValType::I32],
        results: vec![ValType::I32],
    };
    // SAFETY: reading the static sizes emitted above.
    let sizes = unsafe { fake_sizes };
    ModuleDesc {
        name: "fake".into(),
        types: vec![t_void, t_i_i, t_ii_i],
        imports: vec![
            Import {
                module: "env".into(),
                field: "add".into(),
                kind: ImportKind::Func(2),
            },
            Import {
                module: "env".into(),
                field: "g".into(),
                kind: ImportKind::Global(GlobalType {
                    ty: ValType::I32,
                    mutable: false,
                }),
            },
        ],
        funcs: vec![2, 1, 0, 2],
        num_imported_funcs: 1,
        tables: vec![TableType {
            elem: ValType::FuncRef,
            limits: Limits { min: 4, max: None },
        }],
        num_imported_tables: 0,
        table_inits: vec![None],
        memories: vec![MemoryType {
            limits: Limits {
                min: 1,
                max: Some(2),
            },
            shared: false,
        }],
        num_imported_memories: 0,
        global_types: vec![
            GlobalType {
                ty: ValType::I32,
                mutable: false,
            },
            GlobalType {
                ty: ValType::I32,
                mutable: true,
            },
            GlobalType {
                ty: ValType::I32,
                mutable: false,
            },
        ],
        num_imported_globals: 1,
        global_inits: vec![
            i32c(5),
            ConstExpr(vec![
                ConstOp::GlobalGet(0),
                ConstOp::I32Const(1),
                ConstOp::I32Add,
            ]),
        ],
        tags: vec![],
        num_imported_tags: 0,
        exports: vec![
            Export {
                name: "load".into(),
                kind: ExportKind::Func,
                index: 1,
            },
            Export {
                name: "trap".into(),
                kind: ExportKind::Func,
                index: 2,
            },
            Export {
                name: "call_add".into(),
                kind: ExportKind::Func,
                index: 3,
            },
            Export {
                name: "add".into(),
                kind: ExportKind::Func,
                index: 0,
            },
            Export {
                name: "mem".into(),
                kind: ExportKind::Memory,
                index: 0,
            },
            Export {
                name: "gm".into(),
                kind: ExportKind::Global,
                index: 1,
            },
            Export {
                name: "g2".into(),
                kind: ExportKind::Global,
                index: 2,
            },
            Export {
                name: "tab".into(),
                kind: ExportKind::Table,
                index: 0,
            },
        ],
        start: None,
        elements: vec![
            ElemSegment {
                mode: SegmentMode::Active {
                    index: 0,
                    offset: i32c(1),
                },
                elem: ValType::FuncRef,
                items: vec![
                    ConstExpr(vec![ConstOp::RefFunc(1)]),
                    ConstExpr(vec![ConstOp::RefFunc(3)]),
                ],
            },
            ElemSegment {
                mode: SegmentMode::Passive,
                elem: ValType::FuncRef,
                items: vec![ConstExpr(vec![ConstOp::RefNull])],
            },
        ],
        data: vec![DataSegment {
            mode: SegmentMode::Active {
                index: 0,
                offset: i32c(data_offset),
            },
            bytes: vec![1, 2, 3, 4],
        }],
        func_names: ["add", "load", "trap", "call_add"].into_iter().collect(),
        func_sizes: sizes.to_vec(),
        trap_sites: TrapTable::new(vec![TrapSite {
            func: 1,
            offset: 1,
            code: Trap::UnreachableCodeReached as u8,
        }]),
        interrupt_checks: false,
        funcs_with_try: Vec::new(),
    }
}

fn record(desc: &ModuleDesc) -> &'static VMModuleStatic {
    let blob: &'static [u8] = Box::leak(desc.encode().into_boxed_slice());
    let tramps: &'static [*const u8] = Box::leak(Box::new([
        tramp_void as *const u8,
        tramp_i_i as *const u8,
        tramp_ii_i as *const u8,
    ]));
    Box::leak(Box::new(VMModuleStatic {
        version: DESC_VERSION,
        pointer_size: 8,
        desc: blob.as_ptr(),
        desc_len: blob.len(),
        // SAFETY: taking the address of the static table emitted above.
        funcs: unsafe { fake_funcs.as_ptr() },
        num_funcs: 3,
        trampolines: tramps.as_ptr(),
        num_types: 3,
    }))
}

fn imports() -> Imports {
    let mut imports = Imports::new();
    let add_ty = FuncType {
        params: vec![ValType::I32, ValType::I32],
        results: vec![ValType::I32],
    };
    // SAFETY: host_add has the native signature of [i32 i32] -> [i32].
    let add = unsafe { Func::host(host_add as *const u8, add_ty) };
    imports.define("env", "add", Extern::Func(add));
    let g = Global::new(
        GlobalType {
            ty: ValType::I32,
            mutable: false,
        },
        Val::I32(10),
    );
    imports.define("env", "g", Extern::Global(g));
    imports
}

#[test]
fn instantiate_call_and_trap() {
    let module = Module::new(record(&descriptor(0))).unwrap();
    let instance = Instance::new(&module, &imports()).unwrap();

    let load = instance.get_func("load").unwrap();
    assert_eq!(load.call(&[Val::I32(0)]).unwrap(), [Val::I32(0x04030201)]);

    let err = load.call(&[Val::I32(65536)]).unwrap_err();
    assert_eq!(err.trap(), Some(Trap::MemoryOutOfBounds));
    let msg = err.to_string();
    assert!(
        msg.starts_with("out of bounds memory access in fake!load+0x"),
        "{msg}"
    );

    let err = instance.get_func("trap").unwrap().call(&[]).unwrap_err();
    assert_eq!(err.to_string(), "unreachable in fake!trap+0x1");

    let call_add = instance.get_func("call_add").unwrap();
    assert_eq!(
        call_add.call(&[Val::I32(2), Val::I32(40)]).unwrap(),
        [Val::I32(42)]
    );
    // A re-exported host function is callable through the module's trampoline.
    let add = instance.get_func("add").unwrap();
    assert_eq!(
        add.call(&[Val::I32(1), Val::I32(2)]).unwrap(),
        [Val::I32(3)]
    );
    assert!(add.call(&[Val::I64(1), Val::I32(2)]).is_err());

    assert_eq!(instance.get_global("g2").unwrap().get(), Val::I32(11));
    let gm = instance.get_global("gm").unwrap();
    assert_eq!(gm.get(), Val::I32(5));
    gm.set(Val::I32(6)).unwrap();
    assert_eq!(gm.get(), Val::I32(6));
    assert!(instance.get_global("g2").unwrap().set(Val::I32(1)).is_err());

    let tab = instance.get_table("tab").unwrap();
    assert_eq!(tab.get(0), Some(Val::FuncRef(0)));
    assert!(matches!(tab.get(1), Some(Val::FuncRef(p)) if p != 0));
    assert_eq!(tab.get(4), None);

    // Builtins, called the way compiled code calls them.
    let vmctx = instance.vmctx();
    let mem = instance.get_memory("mem").unwrap();
    // SAFETY: a live vmctx of this instance.
    unsafe {
        // The active data segment was dropped by instantiation.
        assert_eq!((BUILTINS.memory_init)(vmctx, 0, 0, 0, 1), 1);
        assert_eq!((BUILTINS.memory_init)(vmctx, 0, 0, 0, 0), 0);
        assert_eq!((BUILTINS.memory_grow)(vmctx, 1), 1);
        assert_eq!((BUILTINS.memory_grow)(vmctx, 1), -1);
        assert_eq!(mem.pages(), 2);
        assert_eq!((BUILTINS.table_init)(vmctx, 0, 1, 3, 0, 1), 0);
        assert_eq!((BUILTINS.table_init)(vmctx, 0, 0, 0, 0, 1), 1);
        let (one, two) = (tab.get(1), tab.get(2));
        assert_eq!((BUILTINS.table_copy)(vmctx, 0, 0, 0, 1, 2), 0);
        assert_eq!((tab.get(0), tab.get(1)), (one, two));
        assert_eq!((BUILTINS.table_grow)(vmctx, 0, 0, 2), 4);
        assert_eq!(tab.size(), 6);
        assert_eq!((BUILTINS.memory_atomic_wait32)(vmctx, 0, 0, 0), -1);
        assert_eq!((BUILTINS.memory_atomic_wait32)(vmctx, 1, 0, 0), -3);
        assert_eq!((BUILTINS.memory_atomic_notify)(vmctx, 1 << 30, 1), -2);
    }
    // Growing made the load in bounds.
    assert_eq!(load.call(&[Val::I32(65536)]).unwrap(), [Val::I32(0)]);
}

#[test]
fn instantiation_errors() {
    let module = Module::new(record(&descriptor(65534))).unwrap();
    match Instance::new(&module, &imports()) {
        Err(InstantiationError::Trap(TrapError::Trap { trap, .. })) => {
            assert_eq!(trap, Trap::MemoryOutOfBounds)
        }
        _ => panic!("expected a data segment trap"),
    }
    let module = Module::new(record(&descriptor(0))).unwrap();
    let err = Instance::new(&module, &Imports::new()).err().unwrap();
    assert!(matches!(err, InstantiationError::Link(_)));
    assert!(
        err.to_string().contains("unknown import: `env`::`add`"),
        "{err}"
    );

    let mut wrong = imports();
    wrong.define(
        "env",
        "g",
        Extern::Global(Global::new(
            GlobalType {
                ty: ValType::I64,
                mutable: false,
            },
            Val::I64(1),
        )),
    );
    let err = Instance::new(&module, &wrong).err().unwrap();
    assert!(
        err.to_string().contains("incompatible import type"),
        "{err}"
    );
}

#[test]
fn linking_two_instances() {
    let module = Module::new(record(&descriptor(0))).unwrap();
    let a = Instance::new(&module, &imports()).unwrap();
    let mut linked = imports();
    // The second instance imports the first one's `call_add` as its `add`.
    linked.define("env", "add", a.get_export("call_add").unwrap());
    let b = Instance::new(&module, &linked).unwrap();
    let r = b
        .get_func("call_add")
        .unwrap()
        .call(&[Val::I32(20), Val::I32(22)]);
    assert_eq!(r.unwrap(), [Val::I32(42)]);
    drop(a);
    let r = b
        .get_func("call_add")
        .unwrap()
        .call(&[Val::I32(1), Val::I32(1)]);
    assert_eq!(r.unwrap(), [Val::I32(2)]);
}

/// Runs in a child process (see `real_crashes_stay_crashes`): faults outside
/// compiled code, inside a protected call, with the handlers installed.
#[test]
fn crash_child() {
    if std::env::var_os("W2N_CRASH_CHILD").is_none() {
        return;
    }
    let _ = Module::new(record(&descriptor(0))).unwrap();
    let _ = runtime_support::catch_traps(|| {
        // SAFETY: deliberately faulting; this process is expected to die.
        unsafe { std::ptr::read_volatile(std::ptr::null::<u8>().wrapping_add(8)) }
    });
    std::process::exit(0);
}

#[test]
fn real_crashes_stay_crashes() {
    use std::os::unix::process::ExitStatusExt;
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env("W2N_CRASH_CHILD", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.signal(), Some(libc::SIGSEGV), "{status:?}");
}
