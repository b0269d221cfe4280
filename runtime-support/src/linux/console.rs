//! The host side of the guest console: the executable's stdin feeds the
//! kernel's console tty, whose output comes back through `print`.
//!
//! A reader thread blocks in `read(0)`, queues the bytes and raises
//! interrupt 2; the kernel's handler drains the queue with the host op
//! `console_read` into the tty layer, which does line editing, echo, job
//! control and signals (Ctrl-C is just byte 3 here). When stdin is a
//! terminal it is switched to non-canonical input without echo or signals
//! (output processing stays on, so the kernel log's bare newlines still
//! start a line), and restored when the process ends. At end of input the
//! guest gets one Ctrl-D, i.e. end of file for a reader in canonical mode.
//!
//! Host streams that are not terminals: for `-c CMD`, and for the shell
//! that reads a script from a non-terminal stdin, the Runner gives the
//! program the kernel's /dev/hoststdin, /dev/hoststdout, /dev/hoststderr
//! (plain character devices) for each host stream that is a pipe or a
//! file ([`attach_host_stdio`]), so the program sees what it would
//! natively: no echo, no "\r\n", `isatty` false, end of input as end of
//! file, stderr apart from stdout. The queued input then goes to
//! `stdin_read` instead of the tty.
//!
//! `--no-console` starts no reader and leaves the terminal alone; without
//! `-c`, init is then [`headless_init`] instead of a shell on the console.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::kernel::kernel;

static INPUT: Mutex<VecDeque<u8>> = Mutex::new(VecDeque::new());
static SAVED: Mutex<Option<libc::termios>> = Mutex::new(None);
/// The host's stdin reached its end (the queue may still hold bytes).
static EOF: AtomicBool = AtomicBool::new(false);
/// The tty got its Ctrl-D for that end.
static EOF_SENT: AtomicBool = AtomicBool::new(false);
/// Input goes to /dev/hoststdin (`stdin_read`), not to the console tty.
static PIPE_STDIN: AtomicBool = AtomicBool::new(false);

/// Interrupt the kernel's console driver listens on.
const CONSOLE_IRQ: i32 = 2;

pub fn stdin_is_tty() -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(0) == 1 }
}

/// Puts the terminal in raw input mode and starts the reader thread, once,
/// when the first user program starts (the kernel must be up before any
/// interrupt), and only if the kernel has a console input (`console_read`).
pub fn start() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    if super::runner().options.no_console {
        return;
    }
    if kernel_imports("console_read") {
        STARTED.call_once(|| {
            PIPE_STDIN.store(
                kernel_imports("stdin_read") && host_stdio_wanted() && !stdin_is_tty(),
                Ordering::SeqCst,
            );
            super::winsize::start();
            start_reader()
        });
    }
}

/// Whether the kernel imports host op `name` (a kernel without its
/// console or host-stream devices does not).
fn kernel_imports(name: &str) -> bool {
    kernel()
        .instance()
        .module()
        .imports()
        .iter()
        .any(|i| i.module == "host" && i.field == name)
}

/// Whether the first program is the Runner's shell (`-c CMD`, or a script
/// on a non-terminal stdin), which gets the host-stream devices for host
/// streams that are not terminals. `--init` programs and init on a
/// terminal keep the console.
pub fn host_stdio_wanted() -> bool {
    let options = &super::runner().options;
    options.init.is_none() && (options.command.is_some() || !stdin_is_tty())
}

fn is_tty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

/// The guest paths to open over descriptors 0, 1 and 2 of the first
/// program (None: keep the console there). Console output goes to the
/// host's stdout, so when stdout is redirected, stderr must not stay on
/// the console either, or it would land in stdout's file.
pub fn host_stdio_plan() -> [Option<&'static str>; 3] {
    if !host_stdio_wanted() {
        return [None; 3];
    }
    let out_redirected = !is_tty(1);
    [
        PIPE_STDIN
            .load(Ordering::SeqCst)
            .then_some("/dev/hoststdin"),
        out_redirected.then_some("/dev/hoststdout"),
        (out_redirected || !is_tty(2)).then_some("/dev/hoststderr"),
    ]
}

/// /dev/hoststdin could not be opened: the queued input goes back to the
/// console tty.
pub fn stdin_to_console() {
    if PIPE_STDIN.swap(false, Ordering::SeqCst) {
        kernel().irq(CONSOLE_IRQ);
    }
}

fn start_reader() {
    if stdin_is_tty() {
        // SAFETY: tcgetattr/tcsetattr on stdin with a termios we own.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) == 0 {
                *SAVED.lock().unwrap_or_else(|e| e.into_inner()) = Some(t);
                t.c_lflag &= !(libc::ICANON | libc::ECHO | libc::ISIG | libc::IEXTEN);
                t.c_iflag &= !(libc::IXON | libc::ICRNL | libc::INLCR | libc::ISTRIP);
                // The guest's tty does the output processing (ONLCR):
                // the host's would turn its "\r\n" into "\r\r\n".
                t.c_oflag &= !libc::OPOST;
                t.c_cc[libc::VMIN] = 1;
                t.c_cc[libc::VTIME] = 0;
                libc::tcsetattr(0, libc::TCSANOW, &t);
            }
        }
    }
    let id = super::hostops::new_thread_id();
    let ok = super::hostops::spawn("console".into(), id, || {
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reading into a live buffer.
            let n = unsafe { libc::read(0, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            if n <= 0 {
                EOF.store(true, Ordering::SeqCst);
                kernel().irq(CONSOLE_IRQ);
                return;
            }
            let mut input = INPUT.lock().unwrap_or_else(|e| e.into_inner());
            input.extend(&buf[..n as usize]);
            drop(input);
            kernel().irq(CONSOLE_IRQ);
        }
    });
    if !ok {
        super::fatal("cannot start the console thread");
    }
}

/// `console_read`: moves up to `size` queued bytes to kernel memory at
/// `buf`; returns how many (0: none). After the last byte of the host's
/// input comes one Ctrl-D. Nothing while the input goes to /dev/hoststdin.
pub fn read(buf: u32, size: usize) -> i32 {
    if PIPE_STDIN.load(Ordering::SeqCst) || size == 0 {
        return 0;
    }
    let bytes = take(size);
    if bytes.is_empty() {
        if EOF.load(Ordering::SeqCst) && !EOF_SENT.swap(true, Ordering::SeqCst) {
            return deliver(buf, &[4]);
        }
        return 0;
    }
    deliver(buf, &bytes)
}

fn take(size: usize) -> Vec<u8> {
    let mut input = INPUT.lock().unwrap_or_else(|e| e.into_inner());
    let n = input.len().min(size);
    input.drain(..n).collect()
}

/// Copies `bytes` to kernel memory at `buf`; returns how many (0 if `buf`
/// is not kernel memory).
fn deliver(buf: u32, bytes: &[u8]) -> i32 {
    if kernel().write(buf, bytes) {
        bytes.len() as i32
    } else {
        0
    }
}

/// `stdin_read` (/dev/hoststdin): moves up to `size` queued bytes to
/// kernel memory at `buf`; returns how many, 0 if none yet, -1 at the end
/// of input. `size` 0 only looks: the number of bytes waiting, or -1.
pub fn stdin_read(buf: u32, size: usize) -> i32 {
    if size == 0 {
        let waiting = INPUT.lock().unwrap_or_else(|e| e.into_inner()).len();
        return match waiting {
            0 if EOF.load(Ordering::SeqCst) => -1,
            n => n.min(i32::MAX as usize) as i32,
        };
    }
    let bytes = take(size);
    if bytes.is_empty() {
        return if EOF.load(Ordering::SeqCst) { -1 } else { 0 };
    }
    deliver(buf, &bytes)
}

/// Whether the host terminal runs without output processing (stdin is a
/// terminal the Runner put in raw mode): a bare "\n" written to it needs
/// its "\r".
pub fn terminal_is_raw() -> bool {
    SAVED.lock().unwrap_or_else(|e| e.into_inner()).is_some()
}

/// Gives the terminal back as it was (called on every way out).
pub fn restore() {
    if let Some(t) = SAVED.lock().unwrap_or_else(|e| e.into_inner()).take() {
        // SAFETY: restoring the attributes saved in `start`.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
    }
}

/// Init of a headless image (`--no-console` without `-c`), on init's own
/// thread: mounts what rcS would, then reaps orphans for good, blocked in
/// `waitid` (init's other job; this ABI has no `wait4`). No program runs
/// as init, so nothing reads or writes the console. If init has no child
/// left (the telnet daemon, its child, was killed), nothing can ever
/// happen again: power off.
pub fn headless_init() -> ! {
    const NR_WAITID: i32 = 95;
    const P_ALL: i32 = 0;
    const WEXITED: i32 = 4;
    const WALL: i32 = 0x4000_0000;
    const ECHILD: i32 = 10;
    super::process::mount_basics();
    loop {
        let r = super::native::sys(NR_WAITID, &[P_ALL, 0, 0, WEXITED | WALL, 0]);
        if r == -ECHILD {
            super::hostops::write_all(
                2,
                b"w2native runner: headless init has no process left; powering off\n",
            );
            super::exit_process(0)
        }
    }
}
