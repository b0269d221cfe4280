//! `--telnet HOST:PORT`: a pseudo-inetd that gives every TCP connection
//! its own shell in the running guest (by default through BusyBox
//! `telnetd -i -l /bin/sh`, `--telnet-cmd` changes the command).
//!
//! The listening socket is the host's, bound before the kernel boots (so a
//! bad address is an error before anything starts). The daemon is a
//! Runner-native guest process ([`super::native`]), cloned from init when
//! init starts, with its own (empty) address space, no console and every
//! terminating signal ignored. Its main thread waits for connections on
//! the host (napping in the kernel in between, see [`native::wait_fd`]);
//! for each connection it
//!
//! 1. makes a guest socket pair and starts the command as a guest process
//!    in a session of its own, with one end as stdin/stdout/stderr (a native
//!    child that execs `/bin/sh -c CMD`, which execs a simple command
//!    itself, without a fork: telnetd then speaks the telnet protocol and
//!    gives the shell a pty);
//! 2. starts two native threads of the daemon that pump bytes: "up" from
//!    the TCP connection into the guest socket, "down" the other way. Both
//!    directions need a task, since only a task can make the guest's
//!    read/write calls.
//!
//! Whichever direction ends first hangs the session up: both sockets are
//! shut down and the command's process group gets SIGHUP (telnetd exits at
//! end of input anyway; its pty's hangup sends SIGHUP to the shell's
//! session, and the shell's exit to its foreground job). The last of the
//! two threads closes the sockets and reaps the command (SIGKILL if it has
//! not ended within [`REAP_GRACE`]). Ending the executable closes every
//! connection with it.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::hostops::write_all;
use super::kernel::kernel;
use super::native::{self, sys};
use super::process::{self, is_err, Exec};
use super::scratch::Scratch;

/// The command a connection gets when `--telnet-cmd` is not given.
pub const DEFAULT_COMMAND: &str = "telnetd -i -l /bin/sh";

/// How long a hung-up command may take to end before it is killed.
const REAP_GRACE: Duration = Duration::from_secs(3);

const NR_DUP3: i32 = 24;
const NR_FCNTL: i32 = 25;
const NR_MKDIRAT: i32 = 34;
const NR_MOUNT: i32 = 40;
const NR_FACCESSAT: i32 = 48;
const NR_CLOSE: i32 = 57;
const NR_READ: i32 = 63;
const NR_WRITE: i32 = 64;
const NR_EXIT_GROUP: i32 = 94;
const NR_KILL: i32 = 129;
const NR_RT_SIGACTION: i32 = 134;
const NR_RT_SIGPROCMASK: i32 = 135;
const NR_SETSID: i32 = 157;
const NR_PRCTL: i32 = 167;
const NR_SOCKETPAIR: i32 = 199;
const NR_SHUTDOWN: i32 = 210;
const NR_MUNMAP: i32 = 215;
const NR_EXECVE: i32 = 221;
const NR_WAITID: i32 = 95;

const AT_FDCWD: i32 = -100;
const AF_UNIX: i32 = 1;
const SOCK_STREAM: i32 = 1;
const O_CLOEXEC: i32 = 0o2000000;
const SHUT_RDWR: i32 = 2;
const F_DUPFD: i32 = 0;
const WNOHANG: i32 = 1;
const WEXITED: i32 = 4;
const P_PID: i32 = 1;
const PR_SET_NAME: i32 = 15;
const SIGHUP: i32 = 1;
const SIGKILL: i32 = 9;
const SIGCHLD: i32 = 17;
const SIGSTOP: i32 = 19;
const SIG_IGN: u32 = 1;

const CLONE_VM: u32 = 0x100;
/// A thread of the daemon: its memory, files, cwd and signal handling.
const THREAD_FLAGS: u32 = 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000;

/// Guest memory of one session (mapped by the daemon, shared by the
/// command until it execs, and by the two pump threads).
const SESSION_MEM: u32 = 40 << 10;
const PAIR_AT: u32 = 0; // socketpair's two fds
const SIGACT_AT: u32 = 64; // a zeroed struct sigaction and sigset
const STRINGS_AT: u32 = 128; // execve's path, argv, envp
const UP_BUF_AT: u32 = 8 << 10;
const DOWN_BUF_AT: u32 = 24 << 10;
const BUF_LEN: u32 = 16 << 10;

struct Server {
    listener: TcpListener,
    command: String,
}

static SERVER: OnceLock<Server> = OnceLock::new();

/// Parses `HOST:PORT` (`[V6]:PORT`, a name, or a bare `PORT` meaning
/// loopback) and binds it. Prints where it listens (the port, when 0 was
/// asked for) and warns when the address is not a loopback one. Called
/// before the kernel boots.
pub fn bind(addr: &str, command: Option<&str>) -> Result<(), String> {
    let bad = |why: String| format!("--telnet {addr}: {why}");
    let spec = match addr.strip_prefix(':').unwrap_or(addr) {
        port if port.parse::<u16>().is_ok() => format!("127.0.0.1:{port}"),
        _ => addr.to_string(),
    };
    let candidates: Vec<SocketAddr> = spec
        .to_socket_addrs()
        .map_err(|e| bad(format!("{e} (expected HOST:PORT, e.g. 127.0.0.1:2323)")))?
        .collect();
    let first = *candidates
        .first()
        .ok_or_else(|| bad("the name has no address".into()))?;
    let listener = TcpListener::bind(&candidates[..]).map_err(|e| bad(e.to_string()))?;
    let local = listener.local_addr().unwrap_or(first);
    if !local.ip().is_loopback() {
        eprintln!(
            "warning: telnet on {local}, which is not a loopback address: \
             whoever reaches it gets a root shell without a password"
        );
    }
    let command = command.unwrap_or(DEFAULT_COMMAND).to_string();
    if command.trim().is_empty() {
        return Err("--telnet-cmd: the command is empty".into());
    }
    eprintln!("telnet: listening on {local}");
    SERVER
        .set(Server { listener, command })
        .map_err(|_| "--telnet given twice".to_string())
}

/// On init's thread, before init's program starts: clones the daemon if
/// `--telnet` was given.
pub fn start() {
    if SERVER.get().is_none() {
        return;
    }
    // Its own address space (on NOMMU an empty one): a fork of init saves
    // and puts back init's memory, which must not include the daemon's
    // buffers.
    let pid = native::clone(SIGCHLD as u32, daemon);
    if is_err(pid) {
        write_all(
            2,
            format!("w2native runner: cannot start the telnet daemon ({pid})\n").as_bytes(),
        );
    }
}

/// The daemon process: ignores what could kill it, leaves init's session
/// and console, then accepts connections for good.
fn daemon() -> i32 {
    let Some(mut scratch) = Scratch::map(4096) else {
        return 1;
    };
    let name = scratch.put(b"telnet-inetd");
    sys(NR_PRCTL, &[PR_SET_NAME, name]);
    sys(NR_SETSID, &[]);
    ignore_signals(&mut scratch);
    for fd in 0..3 {
        sys(NR_CLOSE, &[fd]);
    }
    let server = SERVER.get().expect("bound before the daemon starts");
    // Non-blocking: native::wait_fd waits, napping in the kernel.
    let _ = server.listener.set_nonblocking(true);
    let mut devpts_ready = false;
    loop {
        native::wait_fd(server.listener.as_raw_fd(), libc::POLLIN, None);
        let conn = match server.listener.accept() {
            Ok((conn, _)) => conn,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => {
                // Out of descriptors or an aborted connection: try again.
                native::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let _ = conn.set_nonblocking(false);
        let _ = conn.set_nodelay(true);
        if !devpts_ready {
            scratch.reset();
            devpts_ready = mount_devpts(&mut scratch);
        }
        if let Err(msg) = start_session(conn.try_clone(), &server.command) {
            let msg = format!("w2native: cannot start a session: {msg}\r\n");
            let _ = send_all(conn.as_raw_fd(), msg.as_bytes());
        }
    }
}

fn ignore_signals(scratch: &mut Scratch) {
    scratch.reset();
    let mut act = [0u8; 16];
    act[..4].copy_from_slice(&SIG_IGN.to_le_bytes());
    let act = scratch.put(&act);
    for sig in 1..32 {
        if ![SIGKILL, SIGSTOP, SIGCHLD].contains(&sig) {
            sys(NR_RT_SIGACTION, &[sig, act, 0, 8]);
        }
    }
}

/// telnetd opens `/dev/ptmx`, which needs devpts on `/dev/pts`. Waits for
/// /dev to be populated (init mounts devtmpfs; with `/sbin/init` that
/// happens in rcS, maybe after the first connection came) and mounts
/// devpts unless it is there. Returns whether /dev/pts is usable.
fn mount_devpts(scratch: &mut Scratch) -> bool {
    let exists = |scratch: &mut Scratch, path: &[u8]| {
        let p = scratch.put(path);
        sys(NR_FACCESSAT, &[AT_FDCWD, p, 0, 0]) == 0
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !exists(scratch, b"/dev/ptmx") {
        if Instant::now() > deadline {
            return false;
        }
        native::sleep(Duration::from_millis(20));
    }
    if exists(scratch, b"/dev/pts/ptmx") {
        return true;
    }
    let dir = scratch.put(b"/dev/pts");
    sys(NR_MKDIRAT, &[AT_FDCWD, dir, 0o755]);
    let (src, ty) = (scratch.put(b"devpts"), scratch.put(b"devpts"));
    sys(NR_MOUNT, &[src, dir, ty, 0, 0]);
    exists(scratch, b"/dev/pts/ptmx")
}

/// One connection: the guest socket pair, the command, the pump threads.
struct Session {
    conn: TcpStream,
    /// The daemon's end of the socket pair.
    guest_fd: i32,
    /// The command's pid (also its session and process group).
    child: i32,
    mem: u32,
    /// Pump threads still running; the last one cleans up.
    running: AtomicU32,
}

fn start_session(conn: std::io::Result<TcpStream>, command: &str) -> Result<(), String> {
    let conn = conn.map_err(|e| e.to_string())?;
    let mut mem = Scratch::map(SESSION_MEM).ok_or("no guest memory")?;
    let base = mem.base;
    let r = sys(
        NR_SOCKETPAIR,
        &[AF_UNIX, SOCK_STREAM | O_CLOEXEC, 0, (base + PAIR_AT) as i32],
    );
    if is_err(r) {
        sys(NR_MUNMAP, &[base as i32, SESSION_MEM as i32]);
        return Err(format!("socketpair: {r}"));
    }
    let fds = kernel().read(base + PAIR_AT, 8);
    let fd = |i: usize| i32::from_le_bytes(fds[4 * i..4 * i + 4].try_into().unwrap_or_default());
    let (guest_fd, child_fd) = (fd(0), fd(1));

    let exec = Exec {
        path: "/bin/sh".into(),
        argv: vec![b"sh".to_vec(), b"-c".to_vec(), command.as_bytes().to_vec()],
        envp: vec![
            b"HOME=/".to_vec(),
            b"TERM=vt100".to_vec(),
            b"PATH=/bin:/sbin:/usr/bin:/usr/sbin".to_vec(),
        ],
    };
    mem.at = STRINGS_AT;
    let path = mem.put(exec.path.as_bytes());
    let argv = mem.put_array(&exec.argv);
    let envp = mem.put_array(&exec.envp);
    // The command shares the daemon's memory until it execs (like vfork).
    let child = native::clone(CLONE_VM | SIGCHLD as u32, move || {
        command_main(child_fd, base, [path, argv, envp], exec)
    });
    sys(NR_CLOSE, &[child_fd]);
    if is_err(child) {
        sys(NR_CLOSE, &[guest_fd]);
        sys(NR_MUNMAP, &[base as i32, SESSION_MEM as i32]);
        return Err(format!("clone: {child}"));
    }
    let session = Arc::new(Session {
        conn,
        guest_fd,
        child,
        mem: base,
        running: AtomicU32::new(2),
    });
    for pump in [up as fn(&Session), down] {
        let s = session.clone();
        let r = native::clone(THREAD_FLAGS, move || {
            pump(&s);
            hang_up(&s);
            finish(s);
            0
        });
        if is_err(r) {
            hang_up(&session);
            finish(session.clone());
        }
    }
    Ok(())
}

/// The command's task, until it execs: own session, default signal
/// handling (the daemon's ignored signals would be inherited), the socket
/// as stdin/stdout/stderr; then the program runs on this thread.
fn command_main(sock: i32, mem: u32, exec_args: [i32; 3], exec: Exec) -> i32 {
    sys(NR_SETSID, &[]);
    let dfl = (mem + SIGACT_AT) as i32;
    kernel().write(mem + SIGACT_AT, &[0; 24]);
    for sig in 1..32 {
        sys(NR_RT_SIGACTION, &[sig, dfl, 0, 8]);
    }
    sys(NR_RT_SIGPROCMASK, &[2 /* SIG_SETMASK */, dfl + 16, 0, 8]);
    // Above 2 first, so that dup3 onto 0..2 cannot close it.
    let fd = sys(NR_FCNTL, &[sock, F_DUPFD, 3]);
    if is_err(fd) {
        return 127;
    }
    for target in 0..3 {
        sys(NR_DUP3, &[fd, target, 0]);
    }
    sys(NR_CLOSE, &[fd]);
    let r = sys(NR_EXECVE, &exec_args);
    if is_err(r) {
        let msg = format!("w2native: cannot start {}: {r}\r\n", exec.path);
        kernel().write(mem + UP_BUF_AT, msg.as_bytes());
        sys(NR_WRITE, &[2, (mem + UP_BUF_AT) as i32, msg.len() as i32]);
        sys(NR_EXIT_GROUP, &[127]);
        return 127;
    }
    process::run(exec)
}

/// TCP connection -> guest socket.
fn up(s: &Session) {
    let mut buf = vec![0u8; BUF_LEN as usize];
    let gbuf = s.mem + UP_BUF_AT;
    loop {
        native::wait_fd(s.conn.as_raw_fd(), libc::POLLIN, None);
        let n = match (&s.conn).read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if !kernel().write(gbuf, &buf[..n]) {
            return;
        }
        let mut done = 0;
        while done < n {
            let w = sys(
                NR_WRITE,
                &[s.guest_fd, (gbuf + done as u32) as i32, (n - done) as i32],
            );
            if w <= 0 {
                return;
            }
            done += w as usize;
        }
    }
}

/// Guest socket -> TCP connection.
fn down(s: &Session) {
    let gbuf = s.mem + DOWN_BUF_AT;
    loop {
        let n = sys(NR_READ, &[s.guest_fd, gbuf as i32, BUF_LEN as i32]);
        if n <= 0 {
            return;
        }
        let bytes = kernel().read(gbuf, n as usize);
        if send_all(s.conn.as_raw_fd(), &bytes).is_err() {
            return;
        }
    }
}

/// Writes all of `bytes` to a host socket, without SIGPIPE if the peer is
/// gone.
fn send_all(fd: i32, mut bytes: &[u8]) -> Result<(), ()> {
    while !bytes.is_empty() {
        native::wait_fd(fd, libc::POLLOUT, None);
        // SAFETY: sending from a live slice on a socket we own.
        let n = unsafe {
            libc::send(
                fd,
                bytes.as_ptr() as *const libc::c_void,
                bytes.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(());
        }
        bytes = &bytes[n as usize..];
    }
    Ok(())
}

/// Ends both directions and tells the command's process group (harmless
/// when called twice, or when the command has already ended).
fn hang_up(s: &Session) {
    let _ = s.conn.shutdown(std::net::Shutdown::Both);
    sys(NR_SHUTDOWN, &[s.guest_fd, SHUT_RDWR]);
    sys(NR_KILL, &[-s.child, SIGHUP]);
}

/// The last pump thread closes the guest socket and reaps the command;
/// the connection closes when the last reference goes.
fn finish(s: Arc<Session>) {
    if s.running.fetch_sub(1, Ordering::AcqRel) != 1 {
        return;
    }
    sys(NR_CLOSE, &[s.guest_fd]);
    // This ABI has no wait4: waitid, whose siginfo says whether a child
    // was reaped (si_pid at offset 12), in the up buffer (unused now).
    let info = s.mem + UP_BUF_AT;
    let deadline = Instant::now() + REAP_GRACE;
    loop {
        kernel().write(info, &[0; 128]);
        let r = sys(
            NR_WAITID,
            &[P_PID, s.child, info as i32, WEXITED | WNOHANG, 0],
        );
        let pid = kernel().read(info + 12, 4);
        if r != 0 || pid != [0; 4] {
            break; // reaped (or not ours any more)
        }
        if Instant::now() > deadline {
            sys(NR_KILL, &[-s.child, SIGKILL]);
            sys(NR_KILL, &[s.child, SIGKILL]);
            sys(NR_WAITID, &[P_PID, s.child, info as i32, WEXITED, 0]);
            break;
        }
        native::sleep(Duration::from_millis(10));
    }
    sys(NR_MUNMAP, &[s.mem as i32, SESSION_MEM as i32]);
}
