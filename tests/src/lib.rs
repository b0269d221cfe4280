//! Shared machinery of the end-to-end suites: loading modules compiled by
//! w2native into this process ([`loader`]) and running `.wast` scripts
//! against them ([`wast_runner`]), the Linux image helpers ([`linux`]) and
//! a small telnet client for `--telnet` ([`telnet`]).

pub mod cprog;
pub mod cross;
pub mod linux;
pub mod loader;
pub mod pty;
pub mod telnet;
pub mod wast_runner;
