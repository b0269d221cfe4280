//! Compile errors: one line saying what went wrong and where.

use std::fmt;

/// Where in the input a problem was found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    /// Module file name (or namespace) as given by the user.
    pub module: String,
    /// Function index and name, when the problem is inside a function body.
    pub func: Option<(u32, String)>,
    /// Byte offset in the module.
    pub offset: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The bytes are not a valid module (malformed or invalid).
    #[error("{loc}: invalid module: {message}")]
    Invalid { loc: Location, message: String },
    /// Valid wasm that uses something w2native does not implement.
    #[error("{loc}: unsupported: {message}")]
    Unsupported { loc: Location, message: String },
    /// Cranelift rejected or failed on a function.
    #[error("{loc}: code generation failed: {message}")]
    Codegen { loc: Location, message: String },
}

impl CompileError {
    pub fn location(&self) -> &Location {
        match self {
            CompileError::Invalid { loc, .. }
            | CompileError::Unsupported { loc, .. }
            | CompileError::Codegen { loc, .. } => loc,
        }
    }

    /// Fills in the module name once it is known (inner code only knows offsets).
    pub fn in_module(mut self, module: &str) -> Self {
        let loc = match &mut self {
            CompileError::Invalid { loc, .. }
            | CompileError::Unsupported { loc, .. }
            | CompileError::Codegen { loc, .. } => loc,
        };
        if loc.module.is_empty() {
            loc.module = module.to_string();
        }
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.module.is_empty() {
            "<module>"
        } else {
            &self.module
        })?;
        if let Some((index, name)) = &self.func {
            write!(f, ": function {index} `{name}`")?;
        }
        if let Some(offset) = self.offset {
            write!(f, " at offset {offset:#x}")?;
        }
        Ok(())
    }
}

/// `Invalid` error from a wasmparser error (which carries its own offset).
pub fn invalid(e: wasmparser::BinaryReaderError) -> CompileError {
    CompileError::Invalid {
        loc: Location {
            offset: Some(e.offset()),
            ..Location::default()
        },
        message: one_line(e.message()),
    }
}

/// Some wasmparser messages embed pretty-printed debug output; errors are one line.
pub fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn unsupported(offset: u64, message: impl Into<String>) -> CompileError {
    CompileError::Unsupported {
        loc: Location {
            offset: Some(offset),
            ..Location::default()
        },
        message: message.into(),
    }
}

pub type Result<T, E = CompileError> = std::result::Result<T, E>;
