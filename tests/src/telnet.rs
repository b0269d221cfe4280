//! A small telnet client (std only) for the `--telnet` suite
//! (`tests/linux_telnet.rs`) and `cargo xtask telnet-stress`, which
//! includes this file by path.
//!
//! Protocol handling is the minimum RFC 854 asks of a client that wants
//! nothing: `DO x` is refused (`WONT x`), `WILL x` is accepted for ECHO
//! and SUPPRESS-GO-AHEAD (the server echoes, character at a time) and
//! refused otherwise, `DONT`/`WONT` need no answer, subnegotiations are
//! skipped, `IAC IAC` is a data byte 255. Outgoing 255 is doubled and a
//! line ends with CR LF.
//!
//! [`Telnet::quiet`] turns the session into a plain command channel:
//! `stty -echo` (BusyBox's line editor then reads lines without echoing)
//! and an empty prompt, so that [`Telnet::run`] gets exactly what a
//! command prints, followed by a marker line carrying its status.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

const IAC: u8 = 255;
const DONT: u8 = 254;
const DO: u8 = 253;
const WONT: u8 = 252;
const WILL: u8 = 251;
const SB: u8 = 250;
const SE: u8 = 240;
const ECHO: u8 = 1;
const SGA: u8 = 3;

/// Where the protocol parser is between two reads.
#[derive(Clone, Copy, PartialEq)]
enum State {
    Data,
    Iac,
    Option(u8),
    Sub,
    SubIac,
}

pub struct Telnet {
    stream: TcpStream,
    state: State,
    /// Everything the server sent as data, CRs removed.
    pub seen: String,
    /// Whether the server closed the connection.
    pub closed: bool,
}

/// What marks the end of a command's output in [`Telnet::run`].
const END: &str = "=w2n-end=";

impl Telnet {
    pub fn connect(addr: &str) -> Result<Telnet, String> {
        let stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        Ok(Telnet {
            stream,
            state: State::Data,
            seen: String::new(),
            closed: false,
        })
    }

    /// Reads what arrives within `timeout` (at least one read attempt).
    fn pump(&mut self, timeout: Duration) -> Result<(), String> {
        if self.closed {
            return Ok(());
        }
        let _ = self
            .stream
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))));
        let mut buf = [0u8; 4096];
        match self.stream.read(&mut buf) {
            Ok(0) => self.closed = true,
            Ok(n) => self.parse(&buf[..n])?,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => self.closed = true,
            Err(e) => return Err(format!("reading the connection: {e}")),
        }
        Ok(())
    }

    fn parse(&mut self, bytes: &[u8]) -> Result<(), String> {
        let mut data = Vec::new();
        let mut replies = Vec::new();
        for &b in bytes {
            self.state = match (self.state, b) {
                (State::Data, IAC) => State::Iac,
                (State::Data, b) => {
                    if b != b'\r' {
                        data.push(b);
                    }
                    State::Data
                }
                (State::Iac, IAC) => {
                    data.push(IAC);
                    State::Data
                }
                (State::Iac, DO | DONT | WILL | WONT) => State::Option(b),
                (State::Iac, SB) => State::Sub,
                (State::Iac, _) => State::Data, // NOP, GA, ...: nothing to do
                (State::Option(cmd), opt) => {
                    match cmd {
                        DO => replies.extend([IAC, WONT, opt]),
                        WILL if opt == ECHO || opt == SGA => replies.extend([IAC, DO, opt]),
                        WILL => replies.extend([IAC, DONT, opt]),
                        _ => {}
                    }
                    State::Data
                }
                (State::Sub, IAC) => State::SubIac,
                (State::Sub, _) => State::Sub,
                (State::SubIac, SE) => State::Data,
                (State::SubIac, _) => State::Sub,
            };
        }
        self.seen.push_str(&String::from_utf8_lossy(&data));
        if !replies.is_empty() {
            self.stream
                .write_all(&replies)
                .map_err(|e| format!("answering options: {e}"))?;
        }
        Ok(())
    }

    /// Sends `line` and CR LF (255 doubled).
    pub fn send_line(&mut self, line: &str) -> Result<(), String> {
        let mut out = Vec::new();
        for &b in line.as_bytes() {
            out.push(b);
            if b == IAC {
                out.push(IAC);
            }
        }
        out.extend_from_slice(b"\r\n");
        self.stream
            .write_all(&out)
            .map_err(|e| format!("sending {line:?}: {e}"))
    }

    /// Reads until `seen[from..]` contains `what`; returns the offset just
    /// after it.
    pub fn expect(&mut self, from: usize, what: &str, timeout: Duration) -> Result<usize, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = self.seen.get(from..).and_then(|s| s.find(what)) {
                return Ok(from + i + what.len());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.closed {
                return Err(format!(
                    "no {what:?} within {:.1}s{}; the session showed:\n{}",
                    timeout.as_secs_f64(),
                    if self.closed {
                        " (connection closed)"
                    } else {
                        ""
                    },
                    self.seen.get(from..).unwrap_or("")
                ));
            }
            self.pump(left.min(Duration::from_millis(200)))?;
        }
    }

    /// Waits for the shell's first prompt, then turns echo and the prompt
    /// off (see the module comment).
    pub fn quiet(&mut self, timeout: Duration) -> Result<(), String> {
        let at = self.expect(0, "# ", timeout)?;
        // The quotes keep the echoed command line from matching.
        self.send_line("stty -echo; PS1=''; echo 'qu''iet'")?;
        let at = self.expect(at, "quiet\n", timeout)?;
        self.seen.drain(..at);
        Ok(())
    }

    /// Runs `cmd` in a [`quiet`](Self::quiet) session; returns its output
    /// and exit status.
    pub fn run(&mut self, cmd: &str, timeout: Duration) -> Result<(String, i32), String> {
        self.seen.clear();
        self.send_line(&format!("{cmd}\necho \"{END} $?\""))?;
        let end = self.expect(0, END, timeout)?;
        let at = self.expect(end, "\n", timeout)?;
        let output = self.seen[..end - END.len()].to_string();
        let status = self.seen[end..at]
            .trim()
            .parse()
            .map_err(|_| format!("bad status line {:?}", &self.seen[end..at]))?;
        self.seen.drain(..at);
        Ok((output, status))
    }

    /// The guest's user processes as "pid comm" lines (kernel threads, the
    /// children of kthreadd, left out), listed with shell builtins only so
    /// that the listing adds no process of its own.
    pub fn user_processes(&mut self, timeout: Duration) -> Result<Vec<String>, String> {
        let (out, _) = self.run(
            "for f in /proc/[0-9]*/stat; do read -r l 2>/dev/null < $f && echo \"$l\"; done",
            timeout,
        )?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let (pid, rest) = l.split_once(' ')?;
                let (comm, rest) = rest.rsplit_once(") ")?;
                let ppid = rest.split_whitespace().nth(1)?;
                (pid != "2" && ppid != "2").then(|| format!("{pid} {}", &comm[1..]))
            })
            .collect())
    }

    /// Waits until the server closes the connection.
    pub fn expect_closed(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while !self.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "the connection is still open after {:.1}s; it showed:\n{}",
                    timeout.as_secs_f64(),
                    self.seen
                ));
            }
            self.pump(left.min(Duration::from_millis(200)))?;
        }
        Ok(())
    }

    /// Drops the connection from this side (both directions).
    pub fn hang_up(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}
