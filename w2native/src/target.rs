//! Target architectures and their Cranelift ISAs.

use cranelift_codegen::isa::{self, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    X86_64,
    Aarch64,
    Riscv64,
}

impl Target {
    pub const ALL: [Target; 3] = [Target::X86_64, Target::Aarch64, Target::Riscv64];

    pub fn host() -> Target {
        match std::env::consts::ARCH {
            "aarch64" => Target::Aarch64,
            "riscv64" => Target::Riscv64,
            _ => Target::X86_64,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Target::X86_64 => "x86_64",
            Target::Aarch64 => "aarch64",
            Target::Riscv64 => "riscv64",
        }
    }

    /// The Rust target triple the runtime library is built for.
    pub fn rust_triple(self) -> &'static str {
        match self {
            Target::X86_64 => "x86_64-unknown-linux-gnu",
            Target::Aarch64 => "aarch64-unknown-linux-gnu",
            Target::Riscv64 => "riscv64gc-unknown-linux-gnu",
        }
    }

    /// The prefix of the Debian cross toolchain (`<prefix>-gcc`).
    pub fn gnu_prefix(self) -> &'static str {
        match self {
            Target::X86_64 => "x86_64-linux-gnu",
            Target::Aarch64 => "aarch64-linux-gnu",
            Target::Riscv64 => "riscv64-linux-gnu",
        }
    }

    /// The Debian package providing the C cross compiler used as linker.
    pub fn gcc_package(self) -> &'static str {
        match self {
            Target::X86_64 => "gcc",
            Target::Aarch64 => "gcc-aarch64-linux-gnu",
            Target::Riscv64 => "gcc-riscv64-linux-gnu",
        }
    }

    /// Every Debian package a cross build for this target needs: the C
    /// cross toolchain and libc (linking), qemu-user (running), and Debian's
    /// Rust with std sources (building the runtime with build-std).
    pub fn cross_packages(self) -> Vec<&'static str> {
        match self {
            Target::X86_64 => vec!["gcc", "libc6-dev"],
            Target::Aarch64 => vec![
                "gcc-aarch64-linux-gnu",
                "libc6-dev-arm64-cross",
                "qemu-user",
                "rustc-web",
                "cargo-web",
                "rust-web-src",
            ],
            Target::Riscv64 => vec![
                "gcc-riscv64-linux-gnu",
                "libc6-dev-riscv64-cross",
                "qemu-user",
                "rustc-web",
                "cargo-web",
                "rust-web-src",
            ],
        }
    }

    /// The qemu-user emulator that runs this target's executables on
    /// another host.
    pub fn qemu(self) -> &'static str {
        match self {
            Target::X86_64 => "qemu-x86_64",
            Target::Aarch64 => "qemu-aarch64",
            Target::Riscv64 => "qemu-riscv64",
        }
    }

    /// The Cranelift ISA with w2native's flags. x86_64 assumes x86-64-v2
    /// (SSE4.2, POPCNT), which every x86_64 machine of the last 15 years has,
    /// so float rounding is inline instead of a libm call.
    pub fn isa(self) -> Result<OwnedTargetIsa, String> {
        let mut flags = settings::builder();
        let set = |flags: &mut settings::Builder, k: &str, v: &str| {
            flags
                .set(k, v)
                .map_err(|e| format!("cranelift setting {k}={v}: {e}"))
        };
        set(&mut flags, "opt_level", "speed")?;
        set(&mut flags, "is_pic", "true")?;
        set(&mut flags, "preserve_frame_pointers", "true")?;
        set(&mut flags, "enable_multi_ret_implicit_sret", "true")?;
        set(&mut flags, "enable_probestack", "false")?;
        set(&mut flags, "enable_verifier", "false")?;
        let triple =
            target_lexicon::Triple::from_str(self.rust_triple()).map_err(|e| e.to_string())?;
        let mut builder =
            isa::lookup(triple).map_err(|e| format!("target {}: {e}", self.name()))?;
        if self == Target::X86_64 {
            for feature in [
                "has_sse3",
                "has_ssse3",
                "has_sse41",
                "has_sse42",
                "has_popcnt",
            ] {
                builder.enable(feature).map_err(|e| e.to_string())?;
            }
        }
        builder
            .finish(settings::Flags::new(flags))
            .map_err(|e| format!("target {}: {e}", self.name()))
    }
}

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "x86_64" | "x86-64" | "x64" | "amd64" => Ok(Target::X86_64),
            "aarch64" | "arm64" => Ok(Target::Aarch64),
            "riscv64" | "riscv64gc" => Ok(Target::Riscv64),
            other => Err(format!(
                "unknown target `{other}` (expected x86_64, aarch64 or riscv64)"
            )),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
