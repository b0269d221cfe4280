/* IPC_STAT with the IPC_64 bit: the kernel fills its generic 32-bit ipc64
 * structures (split *_lo/_hi times); musl copies them into time_t fields. */
#define IPC_STAT 0x102
