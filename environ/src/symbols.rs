//! Symbol names of a compiled module inside a binary holding several modules.
//!
//! Every module gets a namespace (`app`, `kernel`, `busybox`, `spec3`...), and
//! every symbol it defines starts with `w2n_<namespace>_`, so two modules link
//! into one executable without clashes.

pub fn prefix(namespace: &str) -> String {
    format!("w2n_{namespace}_")
}

/// The [`crate::VMModuleStatic`] record of a module.
pub fn module_record(namespace: &str) -> String {
    format!("{}module", prefix(namespace))
}

/// Whether `namespace` is usable in a symbol name.
pub fn valid_namespace(namespace: &str) -> bool {
    !namespace.is_empty()
        && namespace
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
}
