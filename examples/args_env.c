// Command-line arguments and environment variables reach main() via WASI.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    for (int i = 1; i < argc; i++)
        printf("argv[%d]=%s (%zu bytes)\n", i, argv[i], strlen(argv[i]));
    const char *v = getenv("W2N_EXAMPLE");
    printf("W2N_EXAMPLE=%s\n", v ? v : "(unset)");
    printf("MISSING=%s\n", getenv("W2N_SURELY_UNSET") ? "set" : "(unset)");
    return argc == 4 ? 0 : 2;
}
