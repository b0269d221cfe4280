/* setjmp/longjmp through clang's -enable-emscripten-sjlj lowering:
 * invoke_* imports, emscripten_longjmp, __THREW__, run natively. */
#include "include/sjlj_emscripten_rt.h"
#include "include/sjlj_cases.h"
