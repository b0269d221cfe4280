// File I/O in the preopened current directory: create, write, seek, read,
// stat, list, rename, unlink, mkdir/rmdir; and escaping the sandbox fails.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void check(int ok, const char *what) {
    if (!ok) {
        printf("FAILED: %s (errno %d: %s)\n", what, errno, strerror(errno));
        exit(1);
    }
}

int main(void) {
    check(mkdir("work", 0755) == 0, "mkdir work");
    FILE *f = fopen("work/data.txt", "w");
    check(f != NULL, "fopen for writing");
    // Fixed-width records, so the second one starts at byte 23.
    for (int i = 1; i <= 5; i++)
        fprintf(f, "line %d: %2d squared=%3d\n", i, i, i * i);
    check(fclose(f) == 0, "fclose");

    struct stat st;
    check(stat("work/data.txt", &st) == 0, "stat");
    printf("size=%lld regular=%d\n", (long long)st.st_size, S_ISREG(st.st_mode));

    int fd = open("work/data.txt", O_RDONLY);
    check(fd >= 0, "open");
    check(lseek(fd, 23, SEEK_SET) == 23, "lseek");
    char buf[64] = {0};
    check(read(fd, buf, 23) == 23, "read");
    printf("second line: %s", buf);
    close(fd);

    f = fopen("work/data.txt", "a");
    check(f != NULL, "fopen for append");
    fputs("appended\n", f);
    fclose(f);
    f = fopen("work/data.txt", "r");
    int lines = 0;
    char line[128];
    while (fgets(line, sizeof line, f)) lines++;
    fclose(f);
    printf("lines after append=%d, last=%s", lines, line);

    check(rename("work/data.txt", "work/renamed.txt") == 0, "rename");
    DIR *d = opendir("work");
    check(d != NULL, "opendir");
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') printf("entry: %s\n", e->d_name);
    closedir(d);

    errno = 0;
    check(open("../outside.txt", O_WRONLY | O_CREAT, 0644) < 0, "open outside the sandbox must fail");
    printf("escape refused: %s\n", errno ? "yes" : "no");

    check(unlink("work/renamed.txt") == 0, "unlink");
    check(rmdir("work") == 0, "rmdir");
    check(access("work", F_OK) != 0, "work is gone");
    puts("done");
    return 0;
}
