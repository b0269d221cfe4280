//! `--selftest`: the kernel acceptance checks, run by the Runner as the
//! init task instead of a user program (issue 4): tmpfs files, procfs,
//! a unix socket pair, an ICMP echo over loopback and signal delivery
//! (`kernel_get_signal`), all through `kernel_syscall` on init's own host
//! thread.
//!
//! Output: one `TEST <name>: ok|FAIL (detail)` line per check on stdout,
//! then `selftest: N passed, M failed`; the process exits with status 0
//! only if every check passed.

use super::hostops::write_all;
use super::kernel::{kernel, Kernel};

const NR_MKDIRAT: i32 = 34;
const NR_MOUNT: i32 = 40;
const NR_OPENAT: i32 = 56;
const NR_CLOSE: i32 = 57;
const NR_READ: i32 = 63;
const NR_WRITE: i32 = 64;
const NR_GETPID: i32 = 172;
const NR_SOCKET: i32 = 198;
const NR_SOCKETPAIR: i32 = 199;
const NR_SENDTO: i32 = 206;
const NR_RECVFROM: i32 = 207;
const NR_MMAP2: i32 = 222;
const AT_FDCWD: i32 = -100;
const O_RDONLY: i32 = 0;
const O_WRONLY: i32 = 1;
const O_RDWR_CREAT: i32 = 0o102;

struct Checks {
    k: &'static Kernel,
    /// Scratch area in kernel memory (an anonymous mapping of init's).
    scratch: u32,
    top: u32,
    end: u32,
    passed: u32,
    failed: u32,
}

impl Checks {
    fn sys(&self, nr: i32, args: &[i32]) -> i32 {
        let mut a = [0; 6];
        a[..args.len()].copy_from_slice(args);
        self.k.syscall(nr, a)
    }

    /// Copies `bytes` into scratch memory; returns its guest address.
    fn put(&mut self, bytes: &[u8]) -> i32 {
        let at = self.top;
        let size = (bytes.len() as u32 + 7) & !7;
        if at + size > self.end || !self.k.write(at, bytes) {
            super::fatal("selftest scratch memory exhausted");
        }
        self.top += size;
        at as i32
    }

    fn str(&mut self, s: &str) -> i32 {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        self.put(&b)
    }

    fn buf(&mut self, len: usize) -> i32 {
        self.put(&vec![0; len])
    }

    fn get(&self, addr: i32, len: usize) -> Vec<u8> {
        self.k.read(addr as u32, len)
    }

    fn check(&mut self, name: &str, ok: bool, detail: String) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
        let line = format!(
            "TEST {name}: {}{}\n",
            if ok { "ok" } else { "FAIL" },
            if detail.is_empty() {
                String::new()
            } else {
                format!(" ({detail})")
            }
        );
        write_all(1, line.as_bytes());
    }

    fn tmpfs(&mut self) {
        let (src, dir, ty) = (self.str("tmpfs"), self.str("/tmp"), self.str("tmpfs"));
        let r = self.sys(NR_MOUNT, &[src, dir, ty, 0, 0]);
        self.check("mount-tmpfs", r == 0, format!("ret {r}"));
        let p = self.str("/tmp/dir");
        let r = self.sys(NR_MKDIRAT, &[AT_FDCWD, p, 0o755]);
        self.check("mkdir", r == 0, format!("ret {r}"));
        let file = self.str("/tmp/dir/file");
        let fd = self.sys(NR_OPENAT, &[AT_FDCWD, file, O_RDWR_CREAT, 0o644]);
        self.check("open-create", fd >= 0, format!("fd {fd}"));
        let text = b"hello, wasm kernel";
        let t = self.put(text);
        let r = self.sys(NR_WRITE, &[fd, t, text.len() as i32]);
        self.check("write", r == text.len() as i32, format!("ret {r}"));
        let r = self.sys(NR_CLOSE, &[fd]);
        self.check("close", r == 0, format!("ret {r}"));
        let fd = self.sys(NR_OPENAT, &[AT_FDCWD, file, O_RDONLY, 0]);
        let b = self.buf(64);
        let r = self.sys(NR_READ, &[fd, b, 64]);
        let got = self.get(b, r.clamp(0, 64) as usize);
        self.check(
            "read-back",
            got == text,
            format!("ret {r}, {:?}", String::from_utf8_lossy(&got)),
        );
        self.sys(NR_CLOSE, &[fd]);
    }

    fn proc(&mut self) {
        let (src, dir) = (self.str("proc"), self.str("/proc"));
        let r = self.sys(NR_MOUNT, &[src, dir, src, 0, 0]);
        self.check("mount-proc", r == 0, format!("ret {r}"));
        let p = self.str("/proc/version");
        let fd = self.sys(NR_OPENAT, &[AT_FDCWD, p, O_RDONLY, 0]);
        let b = self.buf(512);
        let r = self.sys(NR_READ, &[fd, b, 511]);
        let text = String::from_utf8_lossy(&self.get(b, r.clamp(0, 511) as usize)).into_owned();
        let first = text.lines().next().unwrap_or("").to_string();
        self.check(
            "proc-version",
            first.starts_with("Linux version 6.1"),
            if r > 0 { first } else { format!("read {r}") },
        );
        self.sys(NR_CLOSE, &[fd]);
    }

    fn socketpair(&mut self) {
        let sv = self.buf(8);
        let r = self.sys(
            NR_SOCKETPAIR,
            &[1 /* AF_UNIX */, 1 /* SOCK_STREAM */, 0, sv],
        );
        let fds = self.get(sv, 8);
        let s0 = i32::from_le_bytes(fds[0..4].try_into().unwrap_or_default());
        let s1 = i32::from_le_bytes(fds[4..8].try_into().unwrap_or_default());
        self.check("socketpair", r == 0, format!("ret {r} fds {s0} {s1}"));
        let ping = self.put(b"ping");
        self.sys(NR_WRITE, &[s0, ping, 4]);
        let b = self.buf(8);
        let r = self.sys(NR_READ, &[s1, b, 8]);
        let got = self.get(b, r.clamp(0, 8) as usize);
        self.check("socketpair-bytes", got == b"ping", format!("ret {r}"));
        self.sys(NR_CLOSE, &[s0]);
        self.sys(NR_CLOSE, &[s1]);
    }

    fn ping(&mut self) {
        let scratch = self.buf(32);
        let r = super::process::loopback_up(scratch as u32);
        self.check("lo-up", r == 0, format!("ret {r}"));

        // Allow ping sockets for group 0.
        let p = self.str("/proc/sys/net/ipv4/ping_group_range");
        let fd = self.sys(NR_OPENAT, &[AT_FDCWD, p, O_WRONLY, 0]);
        let range = self.put(b"0 0\n");
        let r = self.sys(NR_WRITE, &[fd, range, 4]);
        self.check("ping-group-range", r == 4, format!("ret {r}"));
        self.sys(NR_CLOSE, &[fd]);

        let fd = self.sys(NR_SOCKET, &[2, 2, 1 /* IPPROTO_ICMP */]);
        self.check("ping-socket", fd >= 0, format!("fd {fd}"));
        let echo = *b"\x08\0\0\0\0\0\0\x01w2native";
        let sin = [2u8, 0, 0, 0, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        let (e, s) = (self.put(&echo), self.put(&sin));
        let r = self.sys(NR_SENDTO, &[fd, e, echo.len() as i32, 0, s, 16]);
        self.check("icmp-echo-send", r == echo.len() as i32, format!("ret {r}"));
        let b = self.buf(64);
        let r = self.sys(NR_RECVFROM, &[fd, b, 64, 0, 0, 0]);
        let reply = self.get(b, r.clamp(0, 64) as usize);
        self.check(
            "icmp-echo-reply",
            r == echo.len() as i32 && reply[0] == 0 && reply[8..] == echo[8..],
            format!("ret {r} type {}", reply.first().copied().unwrap_or(255)),
        );
        self.sys(NR_CLOSE, &[fd]);
    }

    /// `kernel_get_signal` after a signal with a handler (docs/host-abi.md):
    /// the flags as they were before SA_RESETHAND reset the action, the
    /// mask from before the delivery (the saved one after sigsuspend), the
    /// siginfo, and the mask the kernel left (sa_mask, and the signal
    /// unless SA_NODEFER).
    fn signals(&mut self) {
        const NR_KILL: i32 = 129;
        const NR_RT_SIGSUSPEND: i32 = 133;
        const NR_RT_SIGACTION: i32 = 134;
        const NR_RT_SIGPROCMASK: i32 = 135;
        const SIG_SETMASK: i32 = 2;
        const SA_SIGINFO: u32 = 0x4;
        const SA_NODEFER: u32 = 0x4000_0000;
        const SA_RESETHAND: u32 = 0x8000_0000;
        const EINTR: i32 = 4;
        let bit = |sig: u32| 1u64 << (sig - 1);
        let (hup, usr2) = (bit(1), bit(12));
        let word = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
        let mask_of = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
        let out = self.buf(super::kernel::SIGNAL_SIZE as usize);
        let set = self.buf(8);
        let set_mask = |c: &mut Checks, m: u64| {
            c.k.write(set as u32, &m.to_le_bytes());
            c.sys(NR_RT_SIGPROCMASK, &[SIG_SETMASK, set, 0, 8])
        };
        let cur_mask = |c: &mut Checks| {
            c.sys(NR_RT_SIGPROCMASK, &[SIG_SETMASK, 0, set, 8]);
            mask_of(&c.get(set, 8), 0)
        };
        let action = |c: &mut Checks, sig: i32, handler: u32, flags: u32, mask: u64| {
            let mut act = handler.to_le_bytes().to_vec();
            act.extend(flags.to_le_bytes());
            act.extend(mask.to_le_bytes());
            let a = c.put(&act);
            c.sys(NR_RT_SIGACTION, &[sig, a, 0, 8])
        };

        // SIGUSR1: one-shot, not deferred, with siginfo; SIGHUP blocked
        // before, SIGUSR2 in sa_mask.
        set_mask(self, hup);
        let flags = SA_SIGINFO | SA_NODEFER | SA_RESETHAND;
        action(self, 10, 0x1234, flags, usr2);
        let r = self.sys(NR_KILL, &[1, 10]);
        let sig = self.k.get_signal(out as u32);
        let d = self.get(out, super::kernel::SIGNAL_SIZE as usize);
        let handler = word(&d, 0);
        self.check(
            "sig-deliver",
            r == 0 && sig == 10 && handler == 0x1234,
            format!("kill {r}, signal {sig}, handler {handler:#x}"),
        );
        let got = word(&d, 4);
        self.check(
            "sig-flags",
            got & flags == flags,
            format!("sa_flags {got:#x}"),
        );
        let old = mask_of(&d, 8);
        self.check("sig-old-mask", old == hup, format!("mask {old:#x}"));
        let (signo, code, pid) = (word(&d, 16), word(&d, 24), word(&d, 28));
        self.check(
            "sig-info",
            signo == 10 && code == 0 && pid == 1,
            format!("si_signo {signo} si_code {code} si_pid {pid}"),
        );
        let oact = self.buf(16);
        self.sys(NR_RT_SIGACTION, &[10, 0, oact, 8]);
        let now = word(&self.get(oact, 4), 0);
        self.check("sig-resethand", now == 0, format!("handler now {now:#x}"));
        let m = cur_mask(self);
        self.check("sig-nodefer-mask", m == hup | usr2, format!("mask {m:#x}"));

        // SIGUSR2 without flags: the signal itself is blocked too.
        set_mask(self, hup);
        action(self, 12, 0x1235, 0, 0);
        self.sys(NR_KILL, &[1, 12]);
        let sig = self.k.get_signal(out as u32);
        let old = mask_of(&self.get(out, 16), 8);
        let m = cur_mask(self);
        self.check(
            "sig-defer-mask",
            sig == 12 && old == hup && m == hup | usr2,
            format!("signal {sig}, old {old:#x}, now {m:#x}"),
        );

        // sigsuspend: the mask to restore is the one it saved, not its
        // temporary one.
        set_mask(self, hup | usr2);
        self.sys(NR_KILL, &[1, 12]);
        let empty = self.buf(8);
        let r = self.sys(NR_RT_SIGSUSPEND, &[empty, 8]);
        let sig = self.k.get_signal(out as u32);
        let old = mask_of(&self.get(out, 16), 8);
        self.check(
            "sig-sigsuspend-mask",
            r == -EINTR && sig == 12 && old == hup | usr2,
            format!("ret {r}, signal {sig}, old {old:#x}"),
        );
        action(self, 12, 0, 0, 0);
        set_mask(self, 0);
    }
}

/// Runs the checks on init's thread and ends the process.
pub fn run(_task: i32, path: &str) -> ! {
    let k = kernel();
    write_all(1, format!("selftest: init is {path}\n").as_bytes());
    let scratch = k.syscall(
        NR_MMAP2,
        [
            0,
            1 << 16,
            3,
            0x22, /* MAP_PRIVATE|MAP_ANONYMOUS */
            -1,
            0,
        ],
    ) as u32;
    let mut c = Checks {
        k,
        scratch,
        top: scratch,
        end: scratch.wrapping_add(1 << 16),
        passed: 0,
        failed: 0,
    };
    let pid = c.sys(NR_GETPID, &[]);
    c.check("getpid", pid == 1, format!("pid {pid}"));
    let ok = scratch < 0xffff_f000;
    c.check("mmap", ok, format!("addr {:#x}", c.scratch));
    if ok {
        c.tmpfs();
        c.proc();
        c.socketpair();
        c.ping();
        c.signals();
    }
    let summary = format!("selftest: {} passed, {} failed\n", c.passed, c.failed);
    write_all(1, summary.as_bytes());
    super::exit_process(if c.failed == 0 { 0 } else { 1 })
}
