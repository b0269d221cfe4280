/* setjmp/longjmp through clang's -wasm-enable-sjlj lowering: legacy
 * try/catch/delegate and the __c_longjmp tag, run natively. */
#include "include/sjlj_wasm_rt.h"
#include "include/sjlj_cases.h"
