/* wasm32 has no ptrace user area. */
