//! A child process driven through a pseudo-terminal: the Linux image
//! suites (`linux.rs`) and `cargo xtask boot-bench` both need one. Only std
//! and libc, because xtask includes this file by path instead of depending
//! on the test crate (which would build the whole compiler for xtask).

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process on the slave side of a pseudo-terminal (its
/// controlling terminal); the test reads and writes the master side.
pub struct Pty {
    master: std::fs::File,
    child: Child,
    /// Everything read so far.
    pub seen: String,
    /// Reaped by [`Pty::wait_cpu`] (std's `Child` does not know).
    reaped: bool,
}

impl Pty {
    pub fn spawn(exe: &Path, args: &[&str]) -> Result<Pty, String> {
        let (mut master, mut slave) = (-1, -1);
        let ws = libc::winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty fills two descriptors we then own.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                &ws,
            )
        };
        if rc != 0 {
            return Err(format!("openpty: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: fresh descriptors from openpty.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let dup = |fd: &OwnedFd| fd.try_clone().map(Stdio::from).map_err(|e| e.to_string());
        let mut cmd = Command::new(exe);
        cmd.args(args)
            .stdin(dup(&slave)?)
            .stdout(dup(&slave)?)
            .stderr(dup(&slave)?);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        drop(slave);
        // SAFETY: setting O_NONBLOCK on our own descriptor.
        unsafe {
            let fl = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(master.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
        Ok(Pty {
            master: std::fs::File::from(master),
            child,
            seen: String::new(),
            reaped: false,
        })
    }

    /// Gives the terminal a new size (TIOCSWINSZ on the master side: the
    /// host kernel sends SIGWINCH to the child's foreground group).
    pub fn set_size(&self, rows: u16, cols: u16) -> Result<(), String> {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads the winsize we pass.
        if unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) } != 0 {
            return Err(format!("TIOCSWINSZ: {}", std::io::Error::last_os_error()));
        }
        Ok(())
    }

    /// The child's host pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the child to end and returns the CPU time (user +
    /// system) it used in all.
    pub fn wait_cpu(&mut self) -> Result<Duration, String> {
        let mut status = 0;
        // SAFETY: rusage is plain data that wait4 fills.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: waiting for our own child, which nothing else reaps.
        let r = unsafe { libc::wait4(self.child.id() as i32, &mut status, 0, &mut ru) };
        if r <= 0 {
            return Err(format!("wait4: {}", std::io::Error::last_os_error()));
        }
        self.reaped = true;
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        Ok(tv(ru.ru_utime) + tv(ru.ru_stime))
    }

    pub fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        use std::io::Write;
        self.master.write_all(bytes).map_err(|e| e.to_string())
    }

    /// Reads until `seen` (from `from` on) contains `what`, or times out.
    /// Returns the offset just after the match.
    pub fn expect(&mut self, from: usize, what: &str, timeout: Duration) -> Result<usize, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.seen.get(from..).and_then(|s| s.find(what)) {
                return Ok(from + i + what.len());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "no {what:?} within {:.1}s; the terminal showed:\n{}",
                    timeout.as_secs_f64(),
                    self.seen.get(from..).unwrap_or("")
                ));
            }
            let mut pfd = libc::pollfd {
                fd: self.master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: polling one descriptor we own.
            unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(100) as i32) };
            let mut buf = [0u8; 4096];
            match self.master.read(&mut buf) {
                Ok(0) => {
                    return Err(format!(
                        "the image ended before {what:?}; the terminal showed:\n{}",
                        self.seen.get(from..).unwrap_or("")
                    ))
                }
                Ok(n) => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                // EIO: the slave side is closed (the image exited).
                Err(e) => {
                    return Err(format!(
                        "reading the terminal: {e}; it showed:\n{}",
                        self.seen.get(from..).unwrap_or("")
                    ))
                }
            }
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
