// A wasm trap ends the program with a one-line message naming the trap and
// the function, and exit status 134; output written before it is kept.
#include <stdio.h>
#include <stdlib.h>

__attribute__((noinline)) int divide(int a, int b) {
    return a / b;
}

int main(int argc, char **argv) {
    (void)argv;
    printf("before the trap\n");
    fflush(stdout);
    // argc - 1 is 0 when run without arguments: integer divide by zero.
    printf("result %d\n", divide(42, argc - 1));
    return 0;
}
