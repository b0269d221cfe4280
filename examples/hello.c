// The smallest command: stdout, and the exit status of main.
#include <stdio.h>

int main(void) {
    puts("Hello from wasm, running natively!");
    return 0;
}
