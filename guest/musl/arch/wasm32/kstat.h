/* Layout of the kernel's asm-generic struct stat64 (fstat64/fstatat64 on a
 * 32-bit generic arch): 104 bytes. */
struct kstat {
	dev_t st_dev;                  /* unsigned long long */
	ino_t st_ino;                  /* unsigned long long */
	mode_t st_mode;
	nlink_t st_nlink;
	uid_t st_uid;
	gid_t st_gid;
	dev_t st_rdev;
	long long __st_rdev_padding;
	off_t st_size;
	blksize_t st_blksize;
	int __st_blksize_padding;
	blkcnt_t st_blocks;
	long st_atime_sec;
	long st_atime_nsec;
	long st_mtime_sec;
	long st_mtime_nsec;
	long st_ctime_sec;
	long st_ctime_nsec;
	unsigned __unused[2];
};
