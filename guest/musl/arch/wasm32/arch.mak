# wasm32: nothing extra (no time32 compat symbols: this arch was born with
# 64-bit time_t).
