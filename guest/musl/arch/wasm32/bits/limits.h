/* The kernel port uses 4 KiB pages (AT_PAGESZ says the same). */
#define PAGESIZE 4096
