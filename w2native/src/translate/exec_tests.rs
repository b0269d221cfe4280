//! Execution tests: translate a small module, compile it for the host,
//! place the code in executable memory with a hand-built `vmctx`, and call
//! its functions. This checks translation semantics (control flow,
//! multi-value, calls, memory, tables) without the object writer, linker or
//! runtime. Only paths that do not trap are exercised: traps need the
//! runtime's signal handler.

#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use super::{translate_function, TranslateEnv};
use crate::abi::TargetAbi;
use crate::module_info::ModuleInfo;
use crate::{BoundsMode, Target};
use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, ExternalName};
use cranelift_codegen::FinalizedRelocTarget;
use cranelift_frontend::FunctionBuilderContext;
use w2native_environ::{ConstOp, SegmentMode};

/// A compiled module with one instance.
struct Jit {
    code: *mut u8,
    code_len: usize,
    offsets_of_funcs: Vec<usize>,
    num_imported: u32,
    vmctx: Vec<u64>,
    _memory: Vec<u8>,
    _memory_def: Box<[usize; 2]>,
    _builtins: Box<[usize; 16]>,
    _type_ids: Vec<u32>,
    _funcrefs: Vec<[usize; 3]>,
    _table: Box<(usize, u32)>,
    _table_elems: Vec<usize>,
    _tables: Box<[usize; 1]>,
}

impl Drop for Jit {
    fn drop(&mut self) {
        // SAFETY: `code` was mapped with this length in `Jit::new`.
        unsafe { libc::munmap(self.code.cast(), self.code_len) };
    }
}

extern "C" fn grow_stub(_vmctx: *mut u8, _delta: i32) -> i32 {
    -1
}

impl Jit {
    fn new(wat: &str, bounds: BoundsMode) -> Jit {
        Jit::with_pass(wat, bounds, |_, _| {})
    }

    /// Like `new`, with `pass` run on each function's IR (given the vmctx
    /// offset of the heap base) before it is compiled.
    fn with_pass(wat: &str, bounds: BoundsMode, pass: impl Fn(&mut ir::Function, i32)) -> Jit {
        let wasm = wat::parse_str(wat).expect("test module parses");
        let info = ModuleInfo::parse(&wasm, "exec").expect("module parses");
        assert_eq!(
            info.desc.num_imported_funcs, 0,
            "exec tests take no imports"
        );
        let isa = Target::host().isa().expect("host ISA");
        let abi = TargetAbi::new(&*isa);
        let desc = info.desc.clone();
        let offsets = desc.offsets(abi.pointer_bytes());
        let env = TranslateEnv {
            desc: &desc,
            offsets,
            abi,
            bounds,
            elision: Default::default(),
            interruptible: None,
            context_free: Vec::new(),
        };

        // Compile every function; keep code and call relocations.
        let mut ctx = FunctionBuilderContext::new();
        let mut blobs = Vec::new();
        for (i, input) in info.functions.into_iter().enumerate() {
            let mut func = translate_function(&env, i as u32, input, &mut ctx).expect("translates");
            pass(&mut func, offsets.memory_base() as i32);
            let mut cctx = cranelift_codegen::Context::for_function(func);
            cctx.compile(&*isa, &mut ControlPlane::default())
                .expect("compiles");
            let code = cctx.compiled_code().unwrap();
            let relocs: Vec<_> = code
                .buffer
                .relocs()
                .iter()
                .map(|r| {
                    let target = match &r.target {
                        FinalizedRelocTarget::ExternalName(ExternalName::User(n)) => {
                            cctx.func.params.user_named_funcs()[*n].index
                        }
                        other => panic!("unexpected relocation target {other:?}"),
                    };
                    (r.offset as usize, r.kind, target, r.addend)
                })
                .collect();
            blobs.push((code.code_buffer().to_vec(), relocs));
        }
        let mut layout = Vec::new();
        let mut len = 0usize;
        for (bytes, _) in &blobs {
            layout.push(len);
            len = (len + bytes.len()).next_multiple_of(16);
        }
        let code_len = len.max(1).next_multiple_of(4096);
        // SAFETY: fresh anonymous mapping, written below before being made executable.
        let code = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                code_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(code, libc::MAP_FAILED);
        let code = code.cast::<u8>();
        for (i, (bytes, relocs)) in blobs.iter().enumerate() {
            // SAFETY: every function fits in the mapping by construction of `layout`.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), code.add(layout[i]), bytes.len());
                for &(at, kind, target, addend) in relocs {
                    let place = code.add(layout[i] + at);
                    let value = code.add(layout[target as usize]) as i64 + addend - place as i64;
                    match kind {
                        Reloc::X86CallPCRel4 | Reloc::X86PCRel4 | Reloc::X86CallPLTRel4 => {
                            place.cast::<i32>().write_unaligned(value as i32)
                        }
                        other => panic!("unexpected relocation kind {other:?}"),
                    }
                }
            }
        }
        // SAFETY: the mapping is ours.
        let rc =
            unsafe { libc::mprotect(code.cast(), code_len, libc::PROT_READ | libc::PROT_EXEC) };
        assert_eq!(rc, 0);

        // The instance: memory, globals, one funcref table.
        let pages = desc.memories.first().map_or(0, |m| m.limits.min as usize);
        let mut memory = vec![0u8; pages * 65536 + 16];
        for d in &desc.data {
            if let SegmentMode::Active { offset, .. } = &d.mode {
                let [ConstOp::I32Const(at)] = offset.0[..] else {
                    panic!("constant offsets only")
                };
                memory[at as usize..at as usize + d.bytes.len()].copy_from_slice(&d.bytes);
            }
        }
        let memory_def = Box::new([memory.as_mut_ptr() as usize, pages * 65536]);
        let mut builtins = Box::new([0usize; 16]);
        builtins[w2native_environ::Builtin::memory_grow.index() as usize] =
            grow_stub as extern "C" fn(*mut u8, i32) -> i32 as usize;
        let type_ids: Vec<u32> = (0..desc.types.len())
            .map(|t| desc.types.iter().position(|u| *u == desc.types[t]).unwrap() as u32)
            .collect();
        let mut vmctx = vec![0u64; offsets.size() as usize / 8 + 1];
        let vmctx_ptr = vmctx.as_mut_ptr() as usize;
        let funcrefs: Vec<[usize; 3]> = (0..desc.funcs.len())
            .map(|f| {
                [
                    code as usize + layout[f],
                    vmctx_ptr,
                    type_ids[desc.funcs[f] as usize] as usize,
                ]
            })
            .collect();
        let table_len = desc.tables.first().map_or(0, |t| t.limits.min as usize);
        let mut table_elems = vec![0usize; table_len];
        for e in &desc.elements {
            if let SegmentMode::Active { offset, .. } = &e.mode {
                let [ConstOp::I32Const(at)] = offset.0[..] else {
                    panic!("constant offsets only")
                };
                for (k, item) in e.items.iter().enumerate() {
                    if let [ConstOp::RefFunc(f)] = item.0[..] {
                        table_elems[at as usize + k] = &funcrefs[f as usize] as *const _ as usize;
                    }
                }
            }
        }
        let table = Box::new((table_elems.as_mut_ptr() as usize, table_len as u32));
        let tables = Box::new([&*table as *const _ as usize]);
        let words = |o: u32| o as usize / 8;
        vmctx[words(offsets.memory_base())] = memory.as_mut_ptr() as u64;
        vmctx[words(offsets.memory_def())] = memory_def.as_ptr() as u64;
        vmctx[words(offsets.stack_limit())] = 0;
        vmctx[words(offsets.builtins())] = builtins.as_ptr() as u64;
        vmctx[words(offsets.type_ids())] = type_ids.as_ptr() as u64;
        vmctx[words(offsets.funcrefs())] = funcrefs.as_ptr() as u64;
        vmctx[words(offsets.tables())] = tables.as_ptr() as u64;
        for (g, init) in desc.global_inits.iter().enumerate() {
            let slot = words(offsets.global(g as u32));
            vmctx[slot] = match init.0[..] {
                [ConstOp::I32Const(v)] => v as u32 as u64,
                [ConstOp::I64Const(v)] => v as u64,
                [ConstOp::F64Const(v)] => v,
                [ConstOp::F32Const(v)] => u64::from(v),
                _ => 0,
            };
        }
        Jit {
            code,
            code_len,
            offsets_of_funcs: layout,
            num_imported: desc.num_imported_funcs,
            vmctx,
            _memory: memory,
            _memory_def: memory_def,
            _builtins: builtins,
            _type_ids: type_ids,
            _funcrefs: funcrefs,
            _table: table,
            _table_elems: table_elems,
            _tables: tables,
        }
    }

    fn addr(&self, func: u32) -> *const u8 {
        // SAFETY: in bounds of the mapping.
        unsafe {
            self.code
                .add(self.offsets_of_funcs[(func - self.num_imported) as usize])
        }
    }

    fn vmctx(&self) -> *mut u8 {
        self.vmctx.as_ptr() as *mut u8
    }

    fn i32_i32(&self, func: u32, a: i32) -> i32 {
        // SAFETY: the test names a function of type [i32] -> [i32].
        let f: extern "C" fn(*mut u8, i32) -> i32 = unsafe { std::mem::transmute(self.addr(func)) };
        f(self.vmctx(), a)
    }

    fn i64_i64(&self, func: u32, a: i64) -> i64 {
        // SAFETY: the test names a function of type [i64] -> [i64].
        let f: extern "C" fn(*mut u8, i64) -> i64 = unsafe { std::mem::transmute(self.addr(func)) };
        f(self.vmctx(), a)
    }
}

fn each_mode(wat: &str, check: impl Fn(&Jit)) {
    for mode in [BoundsMode::Guard, BoundsMode::Explicit, BoundsMode::None] {
        check(&Jit::new(wat, mode));
    }
}

#[test]
fn loops_and_branches() {
    each_mode(
        r#"(module
            (func $fac (param i64) (result i64)
                (local $acc i64)
                (local.set $acc (i64.const 1))
                (block $done
                    (loop $l
                        (br_if $done (i64.le_u (local.get 0) (i64.const 1)))
                        (local.set $acc (i64.mul (local.get $acc) (local.get 0)))
                        (local.set 0 (i64.sub (local.get 0) (i64.const 1)))
                        (br $l)))
                (local.get $acc))
            (func $switch (param i32) (result i32)
                (block $d (result i32)
                    (block $c (result i32)
                        (block $b (result i32)
                            (block $a (result i32)
                                (br_table $a $b $c $d (i32.const 100) (local.get 0)))
                            (return (i32.add (i32.const 1))))
                        (return (i32.add (i32.const 2))))
                    (return (i32.add (i32.const 3))))
                (i32.add (i32.const 4)))
            (func $dead (param i32) (result i32)
                (block $out (result i32)
                    (if (local.get 0) (then (br $out (i32.const 7))))
                    (br $out (i32.const 8))
                    (block (loop (if (i32.const 1) (then unreachable) (else (br 2)))))
                    (i32.const 9)))
            (func $loopparams (param i32) (result i32)
                ;; sum 1..n with the running state as loop params
                (i32.const 0) (local.get 0)
                (loop $l (param i32 i32) (result i32)
                    (local.set 0)            ;; n
                    (i32.add (local.get 0))  ;; acc += n
                    (local.get 0) (i32.const 1) (i32.sub) ;; n-1
                    (local.tee 0)
                    (br_if $l (i32.ne (local.get 0) (i32.const 0)))
                    drop)))"#,
        |j| {
            assert_eq!(j.i64_i64(0, 20), 2_432_902_008_176_640_000);
            assert_eq!(j.i64_i64(0, 0), 1);
            assert_eq!(j.i32_i32(1, 0), 101);
            assert_eq!(j.i32_i32(1, 2), 103);
            assert_eq!(j.i32_i32(1, 3), 104);
            assert_eq!(j.i32_i32(1, -1), 104);
            assert_eq!(j.i32_i32(2, 1), 7);
            assert_eq!(j.i32_i32(2, 0), 8);
            assert_eq!(j.i32_i32(3, 10), 55);
        },
    );
}

#[test]
fn multi_value_and_calls() {
    each_mode(
        r#"(module
            (type $bin (func (param i32 i32) (result i32)))
            (table 3 funcref)
            (elem (i32.const 0) $add $sub $swap_sub)
            (func $divmod (param i32 i32) (result i32 i32)
                (i32.div_u (local.get 0) (local.get 1))
                (i32.rem_u (local.get 0) (local.get 1)))
            (func $add (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
            (func $sub (param i32 i32) (result i32) (i32.sub (local.get 0) (local.get 1)))
            (func $swap_sub (param i32 i32) (result i32) (i32.sub (local.get 1) (local.get 0)))
            (func $use_divmod (param i32) (result i32)
                (call $divmod (local.get 0) (i32.const 10))
                (i32.mul (i32.const 1000))
                (i32.add))
            (func $dispatch (param i32) (result i32)
                (call_indirect (type $bin) (i32.const 50) (i32.const 8) (local.get 0)))
            (func $if_params (param i32) (result i32)
                (i32.const 10) (i32.const 3)
                (if (param i32 i32) (result i32) (local.get 0)
                    (then i32.sub)
                    (else i32.add)))
            (func $many (result i32 i64 i32 i64 f64 i32 i32)
                (i32.const 1) (i64.const 2) (i32.const 3) (i64.const 4) (f64.const 5) (i32.const 6) (i32.const 7))
            (func $sum_many (param i32) (result i32)
                (call $many)
                (local.set 0) (i32.add (local.get 0)) (local.set 0)
                (drop) (drop) (drop) (drop)
                (i32.add (local.get 0))))"#,
        |j| {
            assert_eq!(j.i32_i32(4, 1234), 4123);
            assert_eq!(j.i32_i32(5, 0), 58);
            assert_eq!(j.i32_i32(5, 1), 42);
            assert_eq!(j.i32_i32(5, 2), -42);
            assert_eq!(j.i32_i32(6, 1), 7);
            assert_eq!(j.i32_i32(6, 0), 13);
            assert_eq!(j.i32_i32(8, 0), 1 + 6 + 7);
        },
    );
}

#[test]
fn memory_globals_and_extension() {
    each_mode(
        r#"(module
            (memory 1)
            (data (i32.const 16) "\80\ff\7f\01")
            (global $g (mut i32) (i32.const 5))
            (global $c i64 (i64.const -3))
            (func (param i32) (result i32) (i32.load8_s offset=16 (local.get 0)))
            (func (param i32) (result i32) (i32.load8_u offset=16 (local.get 0)))
            (func (param i32) (result i32) (i32.load16_s offset=16 (local.get 0)))
            (func (param i64) (result i64)
                (i64.store32 offset=100 (i32.const 0) (local.get 0))
                (i64.load32_s (i32.const 100)))
            (func (param i32) (result i32)
                (global.set $g (i32.add (global.get $g) (local.get 0)))
                (i32.add (global.get $g) (i32.wrap_i64 (global.get $c))))
            (func (param i32) (result i32) (memory.size))
            (func (param i32) (result i32) (memory.grow (local.get 0)))
            (func (param i32) (result i32) (i32.extend8_s (local.get 0)))
            (func (param i32) (result i32)
                (select (i32.const 11) (i32.const 22) (local.get 0))))"#,
        |j| {
            assert_eq!(j.i32_i32(0, 0), -128);
            assert_eq!(j.i32_i32(1, 1), 255);
            assert_eq!(j.i32_i32(2, 0), 0xff80u16 as i16 as i32);
            assert_eq!(j.i64_i64(3, 0x1_8000_0000), i64::from(i32::MIN));
            assert_eq!(j.i32_i32(4, 10), 12);
            assert_eq!(j.i32_i32(4, 1), 13);
            assert_eq!(j.i32_i32(5, 0), 1);
            assert_eq!(j.i32_i32(6, 1), -1);
            assert_eq!(j.i32_i32(7, 0x80), -128);
            assert_eq!(j.i32_i32(8, 0), 22);
            assert_eq!(j.i32_i32(8, 5), 11);
        },
    );
}

/// `addressing::heap_base_in_slot` (run on huge functions only) applied to
/// small ones: loads, stores, a loop, calls and `memory.grow` read the base
/// through the slot and must see the same memory.
#[test]
fn heap_base_in_a_stack_slot() {
    let wat = r#"(module
        (memory 1 2)
        (data (i32.const 32) "\01\02\03\04\05\06\07\08")
        (func $sum (param $n i32) (result i32) (local $i i32) (local $s i32)
          (loop $l
            (local.set $s (i32.add (local.get $s) (i32.load8_u offset=32 (local.get $i))))
            (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                                (local.get $n))))
          (local.get $s))
        (func (param $n i32) (result i32)
          (i32.store offset=32 (i32.const 0) (i32.const 0x0a0a0a0a))
          (i32.add (call $sum (local.get $n)) (i32.load8_u offset=39 (i32.const 0))))
        (func (param $n i32) (result i32)
          (drop (memory.grow (local.get $n)))
          (i32.store (i32.const 65532) (memory.size))
          (i32.load (i32.const 65532))))"#;
    for mode in [BoundsMode::Guard, BoundsMode::Explicit, BoundsMode::None] {
        let j = Jit::with_pass(wat, mode, |func, base_offset| {
            crate::addressing::heap_base_in_slot(func, base_offset);
            let slot_loads = func
                .layout
                .blocks()
                .flat_map(|b| func.layout.block_insts(b))
                .filter(|&i| func.dfg.insts[i].opcode() == ir::Opcode::StackAddr)
                .count();
            // One store of the base, and a reload at each use.
            assert!(slot_loads >= 2, "{mode:?}: {}", func.display());
        });
        assert_eq!(j.i32_i32(0, 8), 36, "{mode:?}");
        assert_eq!(j.i32_i32(1, 8), 4 * 10 + 5 + 6 + 7 + 8 + 8, "{mode:?}");
        // The stub's memory.grow fails: memory stays one page.
        assert_eq!(j.i32_i32(2, 1), 1, "{mode:?}");
    }
}
