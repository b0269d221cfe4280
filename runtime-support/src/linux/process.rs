//! User programs (docs/guest-abi.md): every process is an instance of the
//! user module (busybox) whose data lives in memory the kernel gave the
//! process, running on the host thread of its kernel task.
//!
//! A program starts when the kernel execs a wasm file: `user_start` (for a
//! task the kernel created, e.g. init) or a successful `execve` call of a
//! running program. [`run`] loops over the programs a task executes: it maps
//! the process's data and stack with `mmap2` (so they belong to the task's
//! mm and are zero), lays out argc/argv/envp/auxv, instantiates the module
//! against the kernel's memory with its own table and globals, and calls
//! `_start(sp)`. `execve` records the new program, lets the kernel commit it
//! and unwinds out of the old instance (the same unwind as a trap), and the
//! loop starts the new one on the same thread.
//!
//! Syscalls go to `kernel_syscall` on the calling thread; afterwards the
//! Runner asks `kernel_get_signal` for handlers to run and calls the guest's
//! `__w2n_signal` export, then restarts the call or turns `-ERESTART*` into
//! `-EINTR` (guest ABI section 8).
//!
//! Threads: `__clone_thread` leaves (fn, arg) for the child and calls the
//! kernel's `clone`; the kernel gives the child a host thread, which calls
//! the host op `user_clone`, and [`thread_main`] runs
//! `__w2n_thread_start(fn, arg, tls)` in a new instance on it.
//!
//! Not yet: `__vfork` returns `-ENOSYS`; a handler that leaves by `longjmp`
//! passes through the Runner untested.

use std::cell::RefCell;
use std::sync::OnceLock;

use w2native_environ::{FuncType, Import, ImportKind, TableType, ValType};

use super::hostops::{pass_thread_exit, write_all};
use super::kernel::{kernel, NR_SET_MM_ARGS, SIGNAL_SIZE};
use super::scratch::Scratch;
use crate::instance::{Extern, Func, Global, Instance, Module, Table, Val};
use crate::traphandlers::{raise_exit, TrapError};
use crate::vm::VMContext;

const NR_EXIT: i32 = 93;
const NR_EXIT_GROUP: i32 = 94;
const NR_KILL: i32 = 129;
const NR_RT_SIGPROCMASK: i32 = 135;
const NR_GETPID: i32 = 172;
const NR_MUNMAP: i32 = 215;
const NR_EXECVE: i32 = 221;
const NR_MMAP2: i32 = 222;
const NR_PIPE2: i32 = 59;
/// Anonymous memory the kernel need not clear (CONFIG_MMAP_ALLOW_UNINITIALIZED).
const MAP_UNINITIALIZED: i32 = 0x400_0000;

const ENOSYS: i32 = 38;
const EINTR: i32 = 4;
const ERESTARTSYS: i32 = 512;
const ERESTARTNOINTR: i32 = 513;
const ERESTARTNOHAND: i32 = 514;
const ERESTART_RESTARTBLOCK: i32 = 516;
const SA_RESTART: u32 = 0x1000_0000;
const SIGSEGV: i32 = 11;

/// Stack of a new process (guest ABI: 256 KiB or more for ash).
const STACK_SIZE: u32 = 512 << 10;
/// Table slot of the first function: slot 0 stays null, so a null function
/// pointer never calls anything.
const TABLE_BASE: u32 = 1;

/// A program to start: path (for messages), argv and envp.
#[derive(Clone, Debug)]
pub struct Exec {
    pub path: String,
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
}

/// What a thread knows about the program it runs.
pub(crate) struct Current {
    pub pid: i32,
    pub memory_base: u32,
    /// End of the main stack (guest addresses), 0 for a thread.
    pub stack_end: u32,
    pub stack_pointer: Global,
    signal: Option<Func>,
    /// Keeps the instance alive while its code runs.
    pub instance: Instance,
}

thread_local! {
    pub(crate) static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
    /// Set by a successful `execve`: the program to start next.
    static NEXT: RefCell<Option<Exec>> = const { RefCell::new(None) };
    /// The program this thread runs. Not a local of [`run`]: a program that
    /// ends (exit_group, a fatal signal) unwinds its thread straight to the
    /// root, past `run`'s destructors, and its path, argv and envp (about
    /// 1 KB per program) stayed allocated; a thread's locals are dropped
    /// when it ends.
    static RUNNING: RefCell<Option<Exec>> = const { RefCell::new(None) };
}

/// Path of the program this thread runs (for messages).
fn running_path() -> String {
    RUNNING.with(|r| {
        r.borrow()
            .as_ref()
            .map(|e| e.path.clone())
            .unwrap_or_default()
    })
}

fn module() -> Result<&'static Module, String> {
    static M: OnceLock<Result<Module, String>> = OnceLock::new();
    let user = super::runner()
        .user
        .ok_or("this image has no user programs")?;
    M.get_or_init(|| Module::new(user))
        .as_ref()
        .map_err(Clone::clone)
}

pub(crate) fn sys(nr: i32, args: &[i32]) -> i32 {
    let mut a = [0; 6];
    a[..args.len()].copy_from_slice(args);
    kernel().syscall(nr, a)
}

pub(crate) fn is_err(r: i32) -> bool {
    (-4095..0).contains(&r)
}

/// Runs the programs of the task on this thread, starting with `first`.
/// Returns only if a program could not be started (the status to exit with).
pub(crate) fn run(first: Exec) -> i32 {
    let mut exec = Some(first);
    while let Some(e) = exec.take() {
        RUNNING.with(|r| *r.borrow_mut() = Some(e));
        if let Err(msg) = start() {
            write_all(
                2,
                format!("w2native runner: {}: {msg}\n", running_path()).as_bytes(),
            );
            return 127;
        }
        exec = NEXT.with(|n| n.borrow_mut().take());
    }
    0
}

/// Starts the program in [`RUNNING`] and runs it until it execs another
/// (`Ok`) or ends.
fn start() -> Result<(), String> {
    module()?;
    let image = &super::runner().image;
    let pid = sys(NR_GETPID, &[]);

    let align = 1u32 << image.mem_p2align.min(16);
    let data_len = image.mem_size.max(1) + align;
    let data = sys(NR_MMAP2, &[0, data_len as i32, 3, 0x22, -1, 0]);
    if is_err(data) {
        return Err(format!("no memory for the program's data ({data})"));
    }
    let memory_base = (data as u32).next_multiple_of(align);
    // The stack need not be zero (unlike the data): MAP_UNINITIALIZED
    // spares the kernel a 512 KiB memset per exec.
    let stack = sys(
        NR_MMAP2,
        &[0, STACK_SIZE as i32, 3, 0x22 | MAP_UNINITIALIZED, -1, 0],
    );
    if is_err(stack) {
        sys(NR_MUNMAP, &[data, data_len as i32]);
        return Err(format!("no memory for the stack ({stack})"));
    }
    let sp = RUNNING
        .with(|r| {
            let exec = r.borrow();
            initial_stack(stack as u32, STACK_SIZE, exec.as_ref()?)
        })
        .ok_or("arguments do not fit on the stack")?;

    let (instance, stack_pointer) = instantiate(memory_base, sp)?;
    let entry = instance
        .get_func("_start")
        .ok_or("the program has no `_start` export")?;
    set_current(
        pid,
        memory_base,
        stack as u32 + STACK_SIZE,
        &instance,
        stack_pointer,
    );
    let result = entry.call(&[Val::I32(sp as i32)]);
    CURRENT.with(|c| c.borrow_mut().take());
    // Its table is its own: without this the two keep each other. And
    // drop them here: when the program exited, its thread now unwinds
    // straight to its root, past this frame's destructors (~45 KB per
    // program started stayed allocated).
    instance.release_imported_tables();
    drop(entry);
    drop(instance);
    match result {
        Ok(_) => {
            sys(NR_EXIT_GROUP, &[0]);
            Ok(())
        }
        Err(e) => match pass_thread_exit(e) {
            TrapError::Exit(_) if NEXT.with(|n| n.borrow().is_some()) => Ok(()),
            e => {
                write_all(2, format!("{}: trap: {e}\n", running_path()).as_bytes());
                if pid == 1 {
                    // init cannot be killed: power off with its status.
                    super::exit_process(128 + SIGSEGV)
                }
                sys(NR_KILL, &[pid, SIGSEGV]);
                sys(NR_EXIT_GROUP, &[128 + SIGSEGV]);
                Ok(())
            }
        },
    }
}

/// A new instance of the user module for a process whose data is at
/// `memory_base`, with `__stack_pointer = sp`: the kernel's memory, its own
/// table, its own globals. Returns it with its stack pointer global.
fn instantiate(memory_base: u32, sp: u32) -> Result<(Instance, Global), String> {
    let module = module()?;
    let image = &super::runner().image;
    let memory = kernel().memory().ok_or("the kernel exports no memory")?;
    let table_min = (TABLE_BASE + image.table_size) as u64;
    let mut stack_pointer = None;
    let mut resolve = |imp: &Import| -> Option<Extern> {
        let desc = module.desc();
        match (&imp.module[..], &imp.field[..], &imp.kind) {
            ("env", "memory", ImportKind::Memory(_)) => Some(Extern::Memory(memory.clone())),
            ("env", "__indirect_function_table", ImportKind::Table(t)) => {
                let mut ty: TableType = *t;
                ty.limits.min = ty.limits.min.max(table_min);
                Table::new(ty, Val::FuncRef(0)).ok().map(Extern::Table)
            }
            ("env", "__stack_pointer", ImportKind::Global(g)) => {
                let global = Global::new(*g, Val::I32(sp as i32));
                stack_pointer = Some(global.clone());
                Some(Extern::Global(global))
            }
            ("env", "__memory_base", ImportKind::Global(g)) => Some(Extern::Global(Global::new(
                *g,
                Val::I32(memory_base as i32),
            ))),
            ("env", "__table_base", ImportKind::Global(g)) => {
                Some(Extern::Global(Global::new(*g, Val::I32(TABLE_BASE as i32))))
            }
            ("env", name, ImportKind::Func(t)) => {
                host_func(name, &desc.types[*t as usize]).map(Extern::Func)
            }
            _ => None,
        }
    };
    let instance = Instance::new_with_resolver(module, &mut resolve)
        .map_err(|e| format!("cannot start the program: {e}"))?;
    let stack_pointer = stack_pointer.ok_or("the program imports no __stack_pointer")?;
    Ok((instance, stack_pointer))
}

pub(crate) fn set_current(
    pid: i32,
    memory_base: u32,
    stack_end: u32,
    instance: &Instance,
    stack_pointer: Global,
) {
    super::interrupt::running_in(instance);
    CURRENT.with(|c| {
        *c.borrow_mut() = Some(Current {
            pid,
            memory_base,
            stack_end,
            stack_pointer,
            signal: instance.get_func("__w2n_signal"),
            instance: instance.clone(),
        })
    });
}

/// Writes argc, argv, envp and auxv at the top of the stack area
/// `[base, base+size)` (guest ABI section 5) and tells the kernel where the
/// argument and environment strings are (for /proc/PID/cmdline and
/// environ); returns the 16-byte aligned initial stack pointer.
fn initial_stack(base: u32, size: u32, exec: &Exec) -> Option<u32> {
    let k = kernel();
    let mut top = base + size;
    let mut push_bytes = |bytes: &[u8]| -> Option<u32> {
        top = top.checked_sub(bytes.len() as u32)?;
        if top < base || !k.write(top, bytes) {
            return None;
        }
        Some(top)
    };
    let mut random = [0u8; 16];
    // SAFETY: getrandom fills the buffer (or fails and leaves zeros).
    unsafe { libc::getrandom(random.as_mut_ptr() as *mut libc::c_void, 16, 0) };
    let random_at = push_bytes(&random)?;
    let mut strings = |list: &[Vec<u8>]| -> Option<Vec<u32>> {
        let mut ptrs = Vec::new();
        for s in list.iter().rev() {
            let mut z = s.clone();
            z.push(0);
            ptrs.push(push_bytes(&z)?);
        }
        ptrs.reverse();
        Some(ptrs)
    };
    let envp = strings(&exec.envp)?;
    let argv = strings(&exec.argv)?;
    // The strings lie in order: argv's, then envp's, then the random bytes.
    let env_start = envp.first().copied().unwrap_or(random_at);
    let arg_start = argv.first().copied().unwrap_or(env_start);
    sys(
        NR_SET_MM_ARGS,
        &[
            arg_start as i32,
            env_start as i32,
            env_start as i32,
            random_at as i32,
        ],
    );
    let mut words: Vec<u32> = vec![argv.len() as u32];
    words.extend(&argv);
    words.push(0);
    words.extend(&envp);
    words.push(0);
    for (key, value) in [
        (6, 4096),
        (11, 0),
        (12, 0),
        (13, 0),
        (14, 0),
        (23, 0),
        (16, 0),
    ] {
        words.extend([key, value]);
    }
    words.extend([25, random_at, 0, 0]);
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let sp = top.checked_sub(bytes.len() as u32)? & !15;
    if sp < base + 4096 || !k.write(sp, &bytes) {
        return None;
    }
    Some(sp)
}

/// What init's `/etc/init.d/rcS` would do, done by the Runner for
/// `-c CMD` (on init's thread, before the shell starts): mount /proc,
/// /sys, /dev (devtmpfs) and /tmp, link /dev/fd and /dev/std{in,out,err},
/// set the host name, bring the loopback interface up. Failures are ignored, like `mount ... 2>/dev/null`.
pub(crate) fn mount_basics() {
    const NR_SYMLINKAT: i32 = 36;
    const NR_MOUNT: i32 = 40;
    const NR_SETHOSTNAME: i32 = 161;
    const AT_FDCWD: i32 = -100;
    let Some(mut scratch) = Scratch::map(4096) else {
        return;
    };
    for (source, target, fstype) in [
        ("proc", "/proc", "proc"),
        ("sysfs", "/sys", "sysfs"),
        ("devtmpfs", "/dev", "devtmpfs"),
        ("tmpfs", "/tmp", "tmpfs"),
    ] {
        scratch.reset();
        let src = scratch.put(source.as_bytes());
        let dst = scratch.put(target.as_bytes());
        let ty = scratch.put(fstype.as_bytes());
        sys(NR_MOUNT, &[src, dst, ty, 0, 0]);
    }
    // The links udev or an init script makes on a distribution: scripts
    // use /dev/stdin and friends, and devtmpfs has none of them.
    for (target, link) in [
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
    ] {
        scratch.reset();
        let t = scratch.put(target.as_bytes());
        let l = scratch.put(link.as_bytes());
        sys(NR_SYMLINKAT, &[t, AT_FDCWD, l]);
    }
    // rcS's `hostname w2native`.
    const HOSTNAME: &[u8] = b"w2native";
    scratch.reset();
    let name = scratch.put(HOSTNAME);
    sys(NR_SETHOSTNAME, &[name, HOSTNAME.len() as i32]);
    loopback_up(scratch.base);
    scratch.unmap();
}

/// Names init's task `name` (`prctl(PR_SET_NAME)`): the kernel named it
/// after the /init it started, but the Runner runs its shell instead, and
/// `ps` showed pid 1 as `{init} sh -c ...`.
fn set_comm(name: &[u8]) {
    const NR_PRCTL: i32 = 167;
    const PR_SET_NAME: i32 = 15;
    let Some(mut scratch) = Scratch::map(4096) else {
        return;
    };
    let name = scratch.put(name);
    sys(NR_PRCTL, &[PR_SET_NAME, name]);
    scratch.unmap();
}

/// Puts the kernel's host-stream devices over descriptors 0, 1 and 2 of
/// init (before it execs the Runner's shell) where the host stream is a
/// pipe or a file ([`super::console::host_stdio_plan`]); needs /dev, so
/// after [`mount_basics`]. A device that cannot be opened leaves the
/// console there.
pub(crate) fn attach_host_stdio() {
    const NR_DUP3: i32 = 24;
    const NR_OPENAT: i32 = 56;
    const NR_CLOSE: i32 = 57;
    const AT_FDCWD: i32 = -100;
    let plan = super::console::host_stdio_plan();
    if plan.iter().all(Option::is_none) {
        return;
    }
    let Some(mut scratch) = Scratch::map(4096) else {
        super::console::stdin_to_console();
        return;
    };
    for (target, path) in plan.iter().enumerate() {
        let Some(path) = path else { continue };
        scratch.reset();
        let path = scratch.put(path.as_bytes());
        let flags = if target == 0 {
            0 /* O_RDONLY */
        } else {
            1 /* O_WRONLY */
        };
        let fd = sys(NR_OPENAT, &[AT_FDCWD, path, flags, 0]);
        if is_err(fd) {
            if target == 0 {
                super::console::stdin_to_console();
            }
            continue;
        }
        if fd != target as i32 {
            sys(NR_DUP3, &[fd, target as i32, 0]);
            sys(NR_CLOSE, &[fd]);
        }
    }
    scratch.unmap();
}

/// `ifconfig lo up` (SIOCGIFFLAGS, set IFF_UP, SIOCSIFFLAGS), with 32 bytes
/// of guest scratch memory at `scratch` for the `struct ifreq`. Linux
/// leaves `lo` down until user space raises it, and without it every
/// 127.0.0.1 connection fails with ENETUNREACH. Returns the last ioctl's
/// result.
pub(crate) fn loopback_up(scratch: u32) -> i32 {
    const NR_IOCTL: i32 = 29;
    const NR_CLOSE: i32 = 57;
    const NR_SOCKET: i32 = 198;
    const SIOCGIFFLAGS: i32 = 0x8913;
    const SIOCSIFFLAGS: i32 = 0x8914;
    const IFF_UP: u8 = 1;
    let k = kernel();
    let fd = sys(NR_SOCKET, &[2 /* AF_INET */, 2 /* SOCK_DGRAM */, 0]);
    if is_err(fd) {
        return fd;
    }
    let mut ifr = [0u8; 32];
    ifr[..2].copy_from_slice(b"lo");
    k.write(scratch, &ifr);
    let mut r = sys(NR_IOCTL, &[fd, SIOCGIFFLAGS, scratch as i32]);
    if !is_err(r) {
        let flags = k.read(scratch + 16, 1).first().copied().unwrap_or(0);
        k.write(scratch + 16, &[flags | IFF_UP]);
        r = sys(NR_IOCTL, &[fd, SIOCSIFFLAGS, scratch as i32]);
    }
    sys(NR_CLOSE, &[fd]);
    r
}

/// Whether this thread's task is init (pid 1).
pub fn is_init() -> bool {
    sys(NR_GETPID, &[]) == 1
}

/// The first program of a task the kernel created (`user_start`): init's
/// argv is its path, its environment the kernel's usual one.
pub fn first_exec(path: &str) -> Exec {
    let argv = match &super::runner().options.command {
        Some(cmd) => {
            mount_basics();
            attach_host_stdio();
            set_comm(b"sh");
            vec![b"sh".to_vec(), b"-c".to_vec(), cmd.as_bytes().to_vec()]
        }
        // The kernel was given `rdinit=` with the first word, so `path` is
        // that program unless the file is missing; the mounts are there
        // because fork needs /proc.
        None if super::runner().options.init.is_some() => {
            let argv = super::runner().options.init.as_deref().unwrap_or_default();
            if argv.first().map(String::as_str) != Some(path) {
                let msg = format!(
                    "w2native runner: --init {}: not found in the guest (the kernel started {path})\n",
                    argv.first().map(String::as_str).unwrap_or_default()
                );
                super::hostops::write_all(2, msg.as_bytes());
                super::exit_process(127);
            }
            mount_basics();
            argv.iter().map(|a| a.as_bytes().to_vec()).collect()
        }
        // Not a terminal (`./linux < script.sh`): the shell reads the
        // script from the console and its status is the exit status.
        None if !super::console::stdin_is_tty() => {
            mount_basics();
            attach_host_stdio();
            set_comm(b"sh");
            vec![b"sh".to_vec()]
        }
        None => vec![path.as_bytes().to_vec()],
    };
    Exec {
        path: path.to_string(),
        argv,
        envp: vec![
            b"HOME=/".to_vec(),
            b"TERM=linux".to_vec(),
            b"PATH=/bin:/sbin:/usr/bin:/usr/sbin".to_vec(),
        ],
    }
}

// ---------------------------------------------------------------------------
// The user module's imports
// ---------------------------------------------------------------------------

fn host_func(name: &str, ty: &FuncType) -> Option<Func> {
    use ValType::I32;
    let (ptr, want): (*const u8, FuncType) = match name {
        "__syscall" => (syscall as *const u8, sig(&[I32; 7], &[I32])),
        "__vfork" => (vfork as *const u8, sig(&[I32], &[I32])),
        "__clone_thread" => (clone_thread as *const u8, sig(&[I32; 7], &[I32])),
        _ => return None,
    };
    if *ty != want {
        return None;
    }
    // SAFETY: each function has the native signature of `want`.
    Some(unsafe { Func::host(ptr, want) })
}

fn sig(params: &[ValType], results: &[ValType]) -> FuncType {
    FuncType {
        params: params.to_vec(),
        results: results.to_vec(),
    }
}

/// Reads a NUL-terminated string of kernel memory.
fn c_string(addr: u32) -> Option<Vec<u8>> {
    let k = kernel();
    let mut out = Vec::new();
    let mut at = addr;
    loop {
        let chunk = k.read(at, 64.min(k.mem_len().saturating_sub(at as usize)));
        if chunk.is_empty() {
            return None;
        }
        match chunk.iter().position(|b| *b == 0) {
            Some(n) => {
                out.extend_from_slice(&chunk[..n]);
                return Some(out);
            }
            None => out.extend_from_slice(&chunk),
        }
        at += chunk.len() as u32;
    }
}

/// Reads a NULL-terminated array of string pointers.
fn c_string_array(addr: u32) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    if addr == 0 {
        return Some(out);
    }
    for i in 0..4096u32 {
        let p = kernel().read(addr + 4 * i, 4);
        let p = u32::from_le_bytes(p.try_into().ok()?);
        if p == 0 {
            return Some(out);
        }
        out.push(c_string(p)?);
    }
    None
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn syscall(
    vmctx: *mut VMContext,
    nr: i32,
    a1: i32,
    a2: i32,
    a3: i32,
    a4: i32,
    a5: i32,
    a6: i32,
) -> i32 {
    let args = [a1, a2, a3, a4, a5, a6];
    match nr {
        // The kernel's arch-private calls are the Runner's, not the guest's.
        0xf0000.. => return -ENOSYS,
        NR_EXECVE => return execve(a1 as u32, a2 as u32, a3 as u32),
        NR_MUNMAP if super::vfork::fork_child_active() => return 0,
        NR_EXIT | NR_EXIT_GROUP if super::vfork::child_active() => super::vfork::child_exit(a1),
        NR_EXIT_GROUP if CURRENT.with(|c| c.borrow().as_ref().map(|c| c.pid)) == Some(1) => {
            // init ends: power off with its status instead of a kernel panic.
            super::exit_process(a1 & 0xff)
        }
        _ => {}
    }
    loop {
        let r = kernel().syscall(nr, args);
        if strace() {
            trace_syscall(nr, &args, r);
        }
        if nr == NR_PIPE2 && r == 0 {
            widen_pipe(a1 as u32);
        }
        let delivered = deliver_signals(vmctx);
        return match -r {
            ERESTARTNOINTR => continue,
            ERESTARTSYS if delivered.is_none_or(|flags| flags & SA_RESTART != 0) => continue,
            ERESTARTNOHAND if delivered.is_none() => continue,
            ERESTARTSYS | ERESTARTNOHAND | ERESTART_RESTARTBLOCK => -EINTR,
            _ => r,
        };
    }
}

/// Gives a new pipe (fds at `fds`) 1 MiB of buffer instead of 64 KiB,
/// the most an unprivileged program may ask for itself (F_SETPIPE_SZ up to
/// /proc/sys/fs/pipe-max-size). Why: a fork child that never execs runs
/// while its parent waits (sequential fork, guest ABI section 6), so in
/// `seq 20000 | while read x; do echo $x; done | tail -1` the loop writes
/// everything before the shell starts `tail`; with 64 KiB it blocked
/// forever. Pages are only taken as data is buffered.
fn widen_pipe(fds: u32) {
    const NR_FCNTL64: i32 = 25;
    const F_SETPIPE_SZ: i32 = 1031;
    let bytes = kernel().read(fds, 4);
    if let Ok(fd) = <[u8; 4]>::try_from(bytes.as_slice()) {
        kernel().syscall(
            NR_FCNTL64,
            [i32::from_le_bytes(fd), F_SETPIPE_SZ, 1 << 20, 0, 0, 0],
        );
    }
}

/// `W2NATIVE_STRACE=1`: every syscall of a user program is printed on the
/// host's stderr as `[pid] nr(args) = result` (asm-generic numbers), the
/// guest having no strace of its own.
fn strace() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("W2NATIVE_STRACE").is_some_and(|v| v != "0"))
}

fn trace_syscall(nr: i32, args: &[i32; 6], r: i32) {
    let pid = CURRENT.with(|c| c.borrow().as_ref().map_or(0, |c| c.pid));
    let line = format!(
        "[{pid}] {nr}({:#x}, {:#x}, {:#x}, {:#x}, {:#x}, {:#x}) = {r}\n",
        args[0], args[1], args[2], args[3], args[4], args[5]
    );
    super::hostops::write_all(2, line.as_bytes());
}

/// `execve`: copy path, argv and envp out (the old mm goes away), let the
/// kernel commit the exec, then leave the old instance for [`run`].
fn execve(path: u32, argv: u32, envp: u32) -> i32 {
    const EFAULT: i32 = 14;
    let (Some(p), Some(argv_v), Some(envp_v)) =
        (c_string(path), c_string_array(argv), c_string_array(envp))
    else {
        return -EFAULT;
    };
    let head = file_head(path);
    let argv_v = match head.as_deref().ok().and_then(parse_shebang) {
        Some(interp) => script_argv(interp, &p, argv_v),
        None => argv_v,
    };
    let exec = Exec {
        path: String::from_utf8_lossy(&p).into_owned(),
        argv: argv_v,
        envp: envp_v,
    };
    // The vfork child's exec below leaves this frame without its drops.
    drop(p);
    if super::vfork::child_active() {
        // The vfork child leaves its parent's stack first (vfork.rs) and
        // cannot come back if the exec then fails, so what would fail is
        // found here: execvp trying each $PATH entry (busybox xargs running
        // `echo`) or ash running a file without `#!` itself (ENOEXEC) need
        // the error, not a child that exits with 127.
        if let Err(e) = exec_check(path, head) {
            return e;
        }
        super::vfork::child_exec(exec, [path as i32, argv as i32, envp as i32])
    }
    let r = sys(NR_EXECVE, &[path as i32, argv as i32, envp as i32]);
    if r < 0 {
        return r;
    }
    NEXT.with(|n| *n.borrow_mut() = Some(exec));
    // SAFETY: unwinds to the `catch_traps` of `_start`'s call in `start`;
    // the skipped frames are the old program's, which is abandoned.
    unsafe { raise_exit(0) }
}

/// The first bytes of the file at guest address `path` (as much as
/// binfmt_script looks at), or the -errno of opening or reading it. A script's
/// `#!` line names the interpreter the kernel then execs, but the program the
/// Runner starts gets the argv captured here, so the Runner rewrites it the
/// same way (else `./script arg` started busybox as `script`: "applet not
/// found"). Read through the guest's own syscalls, with scratch memory below
/// its stack pointer.
fn file_head(path: u32) -> Result<Vec<u8>, i32> {
    const NR_OPENAT: i32 = 56;
    const NR_CLOSE: i32 = 57;
    const NR_READ: i32 = 63;
    const AT_FDCWD: i32 = -100;
    const O_RDONLY_CLOEXEC: i32 = 0o2000000;
    // binfmt_script's BINPRM_BUF_SIZE.
    const HEAD: u32 = 256;
    let sp = CURRENT.with(|c| c.borrow().as_ref().map(|c| c.stack_pointer.get()));
    let Some(Val::I32(sp)) = sp else {
        return Err(-ENOSYS);
    };
    let buf = ((sp as u32).checked_sub(HEAD + 64).ok_or(-ENOSYS)?) & !15;
    let fd = sys(NR_OPENAT, &[AT_FDCWD, path as i32, O_RDONLY_CLOEXEC]);
    if is_err(fd) {
        return Err(fd);
    }
    let n = sys(NR_READ, &[fd, buf as i32, HEAD as i32]);
    sys(NR_CLOSE, &[fd]);
    if is_err(n) {
        return Err(n);
    }
    Ok(kernel().read(buf, n as usize))
}

/// The errors `execve` of `path` would give (the common ones): what cannot
/// be opened, is not executable, or is neither a program nor a script.
fn exec_check(path: u32, head: Result<Vec<u8>, i32>) -> Result<(), i32> {
    const NR_FACCESSAT: i32 = 48;
    const AT_FDCWD: i32 = -100;
    const X_OK: i32 = 1;
    const EACCES: i32 = 13;
    const EISDIR: i32 = 21;
    const ENOEXEC: i32 = 8;
    let head = head.map_err(|e| if e == -EISDIR { -EACCES } else { e })?;
    let r = sys(NR_FACCESSAT, &[AT_FDCWD, path as i32, X_OK]);
    if is_err(r) {
        return Err(r);
    }
    if head.starts_with(b"#!") || head.starts_with(b"\0asm") {
        Ok(())
    } else {
        Err(-ENOEXEC)
    }
}

/// Interpreter and optional argument of a `#!` line (binfmt_script rules).
fn parse_shebang(head: &[u8]) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let line = head.strip_prefix(b"#!")?;
    let line = &line[..line.iter().position(|&b| b == b'\n').unwrap_or(line.len())];
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = line.iter().position(|b| !blank(b))?;
    let line = &line[start..];
    let end = line.iter().rposition(|b| !blank(b))? + 1;
    let line = &line[..end];
    let split = line.iter().position(blank).unwrap_or(line.len());
    let interp = line[..split].to_vec();
    let rest = &line[split..];
    let arg = rest
        .iter()
        .position(|b| !blank(b))
        .map(|i| rest[i..].to_vec());
    Some((interp, arg))
}

/// argv for a script: interpreter, its argument, the script's path, then
/// the original arguments after argv[0] (what binfmt_script passes).
fn script_argv(
    (interp, arg): (Vec<u8>, Option<Vec<u8>>),
    path: &[u8],
    argv: Vec<Vec<u8>>,
) -> Vec<Vec<u8>> {
    let mut out = vec![interp];
    out.extend(arg);
    out.push(path.to_vec());
    out.extend(argv.into_iter().skip(1));
    out
}

/// Runs the handlers of signals the kernel delivered to this task; returns
/// the `sa_flags` of the last one, or `None` if there was none.
pub(crate) fn deliver_signals(_vmctx: *mut VMContext) -> Option<u32> {
    let k = kernel();
    let (sp_global, signal) = CURRENT.with(|c| {
        c.borrow()
            .as_ref()
            .map(|c| (c.stack_pointer.clone(), c.signal.clone()))
    })?;
    let mut last = None;
    loop {
        let Val::I32(sp) = sp_global.get() else {
            return last;
        };
        let sp = sp as u32;
        // What the kernel tells about the delivery (docs/host-abi.md):
        // handler, sa_flags as they were when the signal was taken (before
        // SA_RESETHAND), the mask from before the delivery (the kernel
        // already blocked sa_mask and, unless SA_NODEFER, the signal), and
        // the siginfo.
        let desc = (sp - SIGNAL_SIZE) & !15;
        let sig = k.get_signal(desc);
        if sig == 0 {
            return last;
        }
        let word = |at: u32| u32::from_le_bytes(k.read(at, 4).try_into().unwrap_or_default());
        let (handler, flags) = (word(desc), word(desc + 4));
        let mut mask = k.read(desc + 8, 8);
        mask.resize(8, 0);
        let mut siginfo = k.read(desc + 16, 128);
        siginfo.resize(128, 0);
        last = Some(flags);
        let Some(signal) = &signal else {
            // No way to run it: at least give the mask back.
            k.write(desc + 8, &mask);
            sys(NR_RT_SIGPROCMASK, &[2, desc as i32 + 8, 0, 8]);
            continue;
        };

        // siginfo_t (128 bytes) and ucontext_t (180 bytes), 16-aligned.
        let frame = (desc - 128 - 192) & !15;
        let (info, uc) = (frame, frame + 128);
        k.write(frame, &[0; 128 + 192]);
        k.write(info, &siginfo);
        k.write(uc + 24, &sp.to_le_bytes());
        k.write(uc + 52, &mask);
        let _ = sp_global.set(Val::I32(frame as i32));
        let r = signal.call(&[
            Val::I32(sig),
            Val::I32(info as i32),
            Val::I32(uc as i32),
            Val::I32(handler as i32),
            Val::I32(flags as i32),
        ]);
        if let Err(e) = r {
            // An exit or exec inside the handler keeps unwinding; a trap
            // ends the process.
            let e = pass_thread_exit(e);
            // SAFETY: as in `execve`: unwinding out of the program.
            unsafe {
                raise_exit(if matches!(e, TrapError::Exit(_)) {
                    0
                } else {
                    1
                })
            }
        }
        // What sigreturn would do: the mask from uc_sigmask (the handler
        // may have changed it there).
        sys(
            NR_RT_SIGPROCMASK,
            &[2 /* SIG_SETMASK */, uc as i32 + 52, 0, 8],
        );
        let _ = sp_global.set(Val::I32(sp as i32));
    }
}

/// What a new thread of a process needs, left by `__clone_thread` for the
/// child's host thread (`user_clone`), keyed by the new stack (unique among
/// the clones in flight).
struct ThreadStart {
    func: i32,
    arg: i32,
    memory_base: u32,
}

fn pending_threads() -> &'static std::sync::Mutex<std::collections::HashMap<u32, ThreadStart>> {
    static P: OnceLock<std::sync::Mutex<std::collections::HashMap<u32, ThreadStart>>> =
        OnceLock::new();
    P.get_or_init(Default::default)
}

/// `__clone_thread(fn, stack, flags, arg, ptid, tls, ctid)`: the kernel
/// makes the task and its host thread; that thread calls `user_clone`,
/// which runs [`thread_main`].
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn clone_thread(
    _vmctx: *mut VMContext,
    func: i32,
    stack: i32,
    flags: i32,
    arg: i32,
    ptid: i32,
    tls: i32,
    ctid: i32,
) -> i32 {
    const NR_CLONE: i32 = 220;
    let Some(memory_base) = CURRENT.with(|c| c.borrow().as_ref().map(|c| c.memory_base)) else {
        return -ENOSYS;
    };
    let lock = || pending_threads().lock().unwrap_or_else(|e| e.into_inner());
    lock().insert(
        stack as u32,
        ThreadStart {
            func,
            arg,
            memory_base,
        },
    );
    // asm-generic argument order: flags, newsp, parent_tid, child_tid, tls.
    let r = sys(NR_CLONE, &[flags, stack, ptid, ctid, tls]);
    if r < 0 {
        lock().remove(&(stack as u32));
    }
    r
}

/// Body of a clone child's host thread (`user_clone`): a thread of a
/// process runs `__w2n_thread_start(fn, arg, tls)` in a new instance.
/// Returns an exit status if it cannot (the kernel then ends the task).
pub fn thread_main(flags: u32, stack: u32, tls: u32) -> i32 {
    const CLONE_THREAD: u32 = 0x10000;
    if flags & CLONE_THREAD == 0 {
        return super::vfork::child_thread();
    }
    let start = pending_threads()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&stack);
    let Some(start) = start else {
        write_all(2, b"w2native runner: clone child without a thread start\n");
        return 127;
    };
    let (instance, stack_pointer) = match instantiate(start.memory_base, stack) {
        Ok(i) => i,
        Err(e) => {
            write_all(2, format!("w2native runner: thread: {e}\n").as_bytes());
            return 127;
        }
    };
    let Some(entry) = instance.get_func("__w2n_thread_start") else {
        return 127;
    };
    set_current(
        sys(NR_GETPID, &[]),
        start.memory_base,
        0,
        &instance,
        stack_pointer,
    );
    let result = entry.call(&[
        Val::I32(start.func),
        Val::I32(start.arg),
        Val::I32(tls as i32),
    ]);
    CURRENT.with(|c| c.borrow_mut().take());
    instance.release_imported_tables();
    drop(entry);
    drop(instance);
    if let Err(e) = result {
        if let TrapError::Trap { .. } = pass_thread_exit(e.clone()) {
            write_all(2, format!("thread: trap: {e}\n").as_bytes());
            let pid = sys(NR_GETPID, &[]);
            sys(NR_KILL, &[pid, SIGSEGV]);
        }
    }
    // The thread should have ended with `exit`; end it now.
    sys(NR_EXIT, &[0]);
    0
}

unsafe extern "C" fn vfork(vmctx: *mut VMContext, mode: i32) -> i32 {
    loop {
        let r = super::vfork::vfork(mode);
        // A signal that came while the kernel copied the process makes it
        // drop the new task (-ERESTARTNOINTR): run the handler, then fork
        // again, as Linux's syscall restart does. (Before, a SIGCHLD at
        // the wrong moment made the shell say "can't fork".) The child's
        // return (0) never gets here twice.
        if r != -ERESTARTNOINTR {
            return r;
        }
        deliver_signals(vmctx);
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_shebang, script_argv};

    #[test]
    fn shebang_lines() {
        let v = |s: &str| s.as_bytes().to_vec();
        assert_eq!(
            parse_shebang(b"#!/bin/sh\necho"),
            Some((v("/bin/sh"), None))
        );
        assert_eq!(
            parse_shebang(b"#! /usr/bin/env  sh -e \t\nx"),
            Some((v("/usr/bin/env"), Some(v("sh -e"))))
        );
        assert_eq!(parse_shebang(b"#!  \n"), None);
        assert_eq!(parse_shebang(b"echo hi\n"), None);
        assert_eq!(
            script_argv((v("/bin/sh"), Some(v("-e"))), b"./t", vec![v("t"), v("a")]),
            vec![v("/bin/sh"), v("-e"), v("./t"), v("a")]
        );
    }
}
