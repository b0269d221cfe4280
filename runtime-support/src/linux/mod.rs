//! The Runner: boots `kernel.wasm` (Linux 6.1 built for wasm32) and runs
//! user programs on it, inside one native executable.
//!
//! `w2native build kernel.wasm [busybox.wasm] -o linux` links the compiled
//! modules with this crate and a `main` that calls [`w2n_linux_main`]. The
//! kernel is instantiated once ([`kernel::Kernel`]); its imports (module
//! `"host"`, contract in `docs/host-abi.md`) are implemented in
//! [`hostops`] on real OS threads: every kernel task has its own host
//! thread, semaphores and mutexes are futexes ([`sync`]), a timer thread
//! raises the timer interrupt. `docs/runner.md` explains the design.
//!
//! Ways to run the image (the executable's own command line):
//!
//! ```text
//! linux                      boot, run /init (or tell that there is no userland)
//! linux --selftest           boot, then run the kernel acceptance checks as init
//! linux --cmdline 'loglevel=8' --mem 128
//! linux --telnet 127.0.0.1:2323 --no-console   a shell per telnet connection, headless
//! ```
//!
//! Unsafe rules of this module: the kernel instance lives for the whole
//! process (it is leaked in a `OnceLock`), so raw pointers into its memory
//! and context stay valid on every thread. Guest addresses are turned into
//! host pointers only through [`kernel::Kernel::mem`], which bounds-checks
//! them against the committed memory.

pub mod console;
pub mod hostops;
pub mod image;
pub mod interrupt;
pub mod kernel;
pub mod native;
pub mod preempt;
pub mod process;
pub mod scratch;
pub mod selftest;
pub mod sync;
pub mod telnet;
pub mod vfork;
pub mod winsize;

use std::ffi::{c_char, CStr};
use std::sync::OnceLock;

use w2native_environ::VMModuleStatic;

use crate::traphandlers::TrapError;

/// Exit status when the kernel panics.
pub const PANIC_EXIT_STATUS: i32 = 2;
/// Exit status when kernel code traps (like `w2n_main`).
pub const TRAP_EXIT_STATUS: i32 = 134;

/// What the user asked for on the executable's command line.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Run the kernel acceptance checks as init instead of a program.
    pub selftest: bool,
    /// Kernel command line.
    pub cmdline: String,
    /// Memory for the kernel in MiB (0: the kernel's default).
    pub mem_mb: u32,
    /// `-c CMD`: init runs `sh -c CMD` and its status is the exit status.
    pub command: Option<String>,
    /// `--init CMD`: init's argv (split on blanks) instead of `/sbin/init`;
    /// its first word goes to the kernel as `init=`, so the kernel execs
    /// (and checks) that file as it would for any init.
    pub init: Option<Vec<String>>,
    /// `--telnet HOST:PORT`: serve shells over telnet there ([`telnet`]).
    pub telnet: Option<String>,
    /// `--telnet-cmd CMD`: what each telnet connection runs.
    pub telnet_cmd: Option<String>,
    /// `--no-console`: leave stdin alone; without `-c`, init only mounts
    /// and reaps (a headless server for `--telnet`).
    pub no_console: bool,
}

const USAGE: &str = "\
usage: linux [-c CMD | --init CMD] [--selftest] [--cmdline ARGS] [--mem MIB] [--telnet HOST:PORT [--telnet-cmd CMD]] [--no-console]
  -c CMD          run `sh -c CMD` as init; exit with its status
  --init CMD      run CMD (a program and its arguments, split on blanks) as init instead of /sbin/init
  --selftest      boot, then run the kernel checks (tmpfs, proc, sockets, ping) as init
  --cmdline ARGS  kernel command line (e.g. 'loglevel=8')
  --mem MIB       memory given to the kernel, in MiB (default: the kernel's own, 64)
  --telnet HOST:PORT  serve a shell per telnet connection there (default host: 127.0.0.1;
                  port 0 picks a free one; the address is printed on stderr)
  --telnet-cmd CMD    what a telnet connection runs (default: telnetd -i -l /bin/sh)
  --no-console    do not read stdin; without -c the image runs headless";

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--selftest" => o.selftest = true,
            "-c" => o.command = Some(value("-c")?),
            "--init" => {
                let v = value("--init")?;
                let words: Vec<String> = v.split_whitespace().map(str::to_string).collect();
                match words.first() {
                    Some(path) if path.starts_with('/') => o.init = Some(words),
                    _ => return Err(format!("--init `{v}`: give an absolute program path")),
                }
            }
            "--telnet" => o.telnet = Some(value("--telnet")?),
            "--telnet-cmd" => o.telnet_cmd = Some(value("--telnet-cmd")?),
            "--no-console" => o.no_console = true,
            "--cmdline" => o.cmdline = value("--cmdline")?,
            "--mem" => {
                let v = value("--mem")?;
                o.mem_mb = v
                    .parse()
                    .ok()
                    .filter(|m| (16..=1024).contains(m))
                    .ok_or_else(|| format!("--mem {v}: give MiB between 16 and 1024"))?;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if o.command.is_some() && o.init.is_some() {
        return Err("-c and --init both choose init: give one of them".to_string());
    }
    Ok(o)
}

/// Everything the host ops need, set once before the kernel boots.
pub(crate) struct Runner {
    pub options: Options,
    /// The user program module (busybox), if the image has one.
    pub user: Option<&'static VMModuleStatic>,
    /// Initramfs and the user module's loader numbers.
    pub image: image::Image,
}

static RUNNER: OnceLock<Runner> = OnceLock::new();

pub(crate) fn runner() -> &'static Runner {
    RUNNER
        .get()
        .expect("the Runner is initialised before the kernel runs")
}

/// Prints `msg` and ends the process: for broken invariants of the host
/// side, where continuing would corrupt the kernel.
pub(crate) fn fatal(msg: &str) -> ! {
    hostops::write_all(2, format!("\nw2native runner: {msg}\n").as_bytes());
    exit_process(TRAP_EXIT_STATUS)
}

/// Flushes what we print and ends the process with `status`.
pub(crate) fn exit_process(status: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    console::restore();
    // SAFETY: _exit ends the process at once; other threads may be inside
    // kernel code, so no destructors or atexit handlers may run.
    unsafe { libc::_exit(status) }
}

/// Reports a trap or unexpected unwind out of kernel code and exits.
pub(crate) fn fatal_trap(e: TrapError) -> ! {
    match e {
        TrapError::Trap { .. } => {
            hostops::write_all(2, format!("\ntrap: {e}\n").as_bytes());
            exit_process(TRAP_EXIT_STATUS)
        }
        TrapError::Exit(code) => exit_process(code),
        TrapError::Host(msg) => fatal(&msg),
    }
}

fn collect_args(argc: i32, argv: *const *const c_char) -> Vec<String> {
    (0..argc.max(0) as usize)
        .map(|i| {
            // SAFETY: the C `main` passes argc valid C strings.
            let s = unsafe { CStr::from_ptr(*argv.add(i)) };
            s.to_string_lossy().into_owned()
        })
        .collect()
}

/// Entry of a Linux image: `main` of the executable calls this with the
/// records of the compiled kernel and user program and the image blob
/// ([`image`]). Never returns: the
/// process ends when the kernel powers off, panics, or traps.
///
/// # Safety
/// `argv` must hold `argc` valid C strings; the records must be module
/// records emitted by the w2native compiler for this target, `image` the
/// blob `w2native build` links into the image (or null).
#[no_mangle]
pub unsafe extern "C" fn w2n_linux_main(
    argc: i32,
    argv: *const *const c_char,
    kernel: &'static VMModuleStatic,
    user: &'static VMModuleStatic,
    image: *const u8,
) -> i32 {
    boot(collect_args(argc, argv), kernel, Some(user), image)
}

/// Entry of a kernel-only image (no user program module): boots, then runs
/// the kernel checks with `--selftest` or reports that there is no userland.
///
/// # Safety
/// As [`w2n_linux_main`].
#[no_mangle]
pub unsafe extern "C" fn w2n_linux_kernel_main(
    argc: i32,
    argv: *const *const c_char,
    kernel: &'static VMModuleStatic,
    image: *const u8,
) -> i32 {
    boot(collect_args(argc, argv), kernel, None, image)
}

fn boot(
    args: Vec<String>,
    kernel: &'static VMModuleStatic,
    user: Option<&'static VMModuleStatic>,
    image: *const u8,
) -> i32 {
    let image = if image.is_null() {
        image::Image::EMPTY
    } else {
        // SAFETY: the entry's caller passes the linked-in blob.
        match unsafe { image::Image::from_ptr(image) } {
            Ok(i) => i,
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        }
    };
    let options = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    if let Some(addr) = &options.telnet {
        let bound = match user {
            Some(_) => telnet::bind(addr, options.telnet_cmd.as_deref()),
            None => Err("--telnet needs an image with user programs (busybox.wasm)".into()),
        };
        if let Err(e) = bound {
            eprintln!("error: {e}");
            return 2;
        }
    }
    let mem_bytes = options.mem_mb << 20;
    if RUNNER
        .set(Runner {
            options,
            user,
            image,
        })
        .is_err()
    {
        fatal("the Runner was started twice");
    }
    let k = match kernel::Kernel::instantiate(kernel) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    hostops::tune_host_heap();
    hostops::start_timer_thread();

    // This thread becomes the idle task; kernel_boot never returns.
    match crate::catch_traps(|| k.boot(mem_bytes as i32)) {
        Ok(()) => fatal("kernel_boot returned"),
        Err(e) => fatal_trap(e),
    }
}
