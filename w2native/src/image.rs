//! The Linux image: `kernel.wasm` and a user program module (`busybox.wasm`)
//! compiled in their own symbol namespaces (`kernel`, `busybox`) and linked
//! with the runtime's Runner entry (`w2n_linux_main`) into one executable.
//!
//! The compiler still knows nothing about Linux: a module's *role* is read
//! from its interface only (the kernel imports module `"host"` and exports
//! `kernel_boot`; a user program imports `env.__syscall`), and everything
//! else happens in `runtime-support`'s `linux` module at run time.

use std::path::Path;

use crate::{compile_module, emit, link, CompileOptions, Stats};

/// What a wasm module is for, judged by its imports and exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A Linux kernel for the Runner (docs/host-abi.md).
    Kernel,
    /// A user program for the Linux image (docs/guest-abi.md).
    User,
    /// Anything else: a WASI command or plain module.
    Command,
}

/// Reads only the import and export sections. A module that does not parse
/// is a `Command`, so the normal build reports the parse error.
pub fn classify(wasm: &[u8]) -> Role {
    use wasmparser::{Parser, Payload};
    let (mut host_imports, mut syscall_import, mut boot_export) = (false, false, false);
    for payload in Parser::new(0).parse_all(wasm) {
        match payload {
            Ok(Payload::ImportSection(reader)) => {
                for imp in reader.into_imports().flatten() {
                    host_imports |= imp.module == "host";
                    syscall_import |= imp.module == "env" && imp.name == "__syscall";
                }
            }
            Ok(Payload::ExportSection(reader)) => {
                for exp in reader.into_iter().flatten() {
                    boot_export |= exp.name == "kernel_boot";
                }
            }
            Ok(Payload::CodeSectionStart { .. }) | Err(_) => break,
            Ok(_) => {}
        }
    }
    if host_imports && boot_export {
        Role::Kernel
    } else if syscall_import {
        Role::User
    } else {
        Role::Command
    }
}

/// Symbol namespace of the kernel module in a Linux image.
pub const KERNEL_NAMESPACE: &str = "kernel";
/// Symbol namespace of the user program module in a Linux image.
pub const USER_NAMESPACE: &str = "busybox";

/// One module of the image: its bytes and its options (namespace set here).
pub struct ImageInput<'a> {
    pub wasm: &'a [u8],
    pub opts: CompileOptions,
}

/// Compiles the kernel (and the user program, if any) and links the Linux
/// image `output`. Without a user program the image boots the kernel alone
/// (entry `w2n_linux_kernel_main`: its `--selftest` checks the kernel).
/// Returns the statistics of each compiled module, kernel first.
pub fn build_linux_image(
    kernel: ImageInput<'_>,
    user: Option<ImageInput<'_>>,
    output: &Path,
) -> Result<Vec<Stats>, String> {
    let target = kernel.opts.target;
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let mut objects = Vec::new();
    let mut records = Vec::new();
    let mut stats = Vec::new();
    for (input, namespace) in [(Some(kernel), KERNEL_NAMESPACE), (user, USER_NAMESPACE)] {
        let Some(mut input) = input else { continue };
        input.opts.namespace = namespace.to_string();
        let (object, s) = compile_module(input.wasm, &input.opts).map_err(|e| e.to_string())?;
        let path = dir.path().join(format!("{namespace}.o"));
        std::fs::write(&path, &object).map_err(|e| format!("{}: {e}", path.display()))?;
        objects.push(path);
        records.push(w2native_environ::symbols::module_record(namespace));
        stats.push(s);
    }
    let entry = if records.len() == 2 {
        "w2n_linux_main"
    } else {
        "w2n_linux_kernel_main"
    };
    let entry_o = dir.path().join("entry.o");
    let object = emit::emit_entry(target.isa()?, entry, &records)?;
    std::fs::write(&entry_o, object).map_err(|e| format!("{}: {e}", entry_o.display()))?;
    objects.push(entry_o);
    link::link_executable(&objects, target, output)?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wasm(imports: &[(&str, &str)], exports: &[&str]) -> Vec<u8> {
        let mut text = String::from("(module\n");
        for (m, n) in imports {
            text += &format!("(import \"{m}\" \"{n}\" (func))\n");
        }
        for (i, e) in exports.iter().enumerate() {
            text += &format!("(func $f{i}) (export \"{e}\" (func $f{i}))\n");
        }
        text += ")";
        wat::parse_str(&text).unwrap()
    }

    #[test]
    fn roles_from_the_interface() {
        let kernel = wasm(&[("host", "print")], &["kernel_boot"]);
        assert_eq!(classify(&kernel), Role::Kernel);
        let user = wasm(&[("env", "__syscall")], &["_start"]);
        assert_eq!(classify(&user), Role::User);
        let wasi = wasm(&[("wasi_snapshot_preview1", "fd_write")], &["_start"]);
        assert_eq!(classify(&wasi), Role::Command);
        assert_eq!(classify(b"\0asm\x01\0\0\0garbage"), Role::Command);
        // Importing host ops without the boot entry is not a kernel.
        assert_eq!(classify(&wasm(&[("host", "print")], &[])), Role::Command);
    }
}
