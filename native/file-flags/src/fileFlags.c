// System calls Node does not expose. File flags: Linux's inode flags (chattr/lsattr: immutable,
// append-only, nodump, noatime…) through the FS_IOC_GETFLAGS/SETFLAGS ioctls, and the BSD/macOS
// st_flags (chflags: hidden, uchg, schg…) through lstat and lchflags; on macOS also a file's creation
// time through setattrlist (written from Apple's documentation, not yet run: CI is Linux). Every call is synchronous, takes a path as bytes (any name, UTF-8 or not)
// and answers a number: the flags (never negative) or 0 on success, or minus the errno on failure, which
// the caller names (its os.constants.errno) and words for a person. Elsewhere every call answers -ENOSYS.
#if defined(__linux__)
// statx's declaration in glibc.
#define _GNU_SOURCE
#endif
#define NAPI_VERSION 8
#include <node_api.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "aead.h"

#if defined(__linux__)
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>
#define FLAGS_KIND "linux"
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#define FLAGS_KIND "bsd"
#else
#define FLAGS_KIND "none"
#endif

#if defined(__APPLE__)
#include <sys/attr.h>
#endif

// Systems with the POSIX file calls openRead, closeFd and createFile make (open, fstat, pread, pwrite, futimens…).
#if defined(__linux__) || defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
#define POSIX_FILE_CALLS 1
#else
#define POSIX_FILE_CALLS 0
#endif

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#if defined(__linux__) || defined(__APPLE__)
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#endif
#if defined(__linux__)
#include <sys/sysmacros.h>
#endif
#if defined(__linux__) || defined(__APPLE__)
#include <sys/xattr.h>
#endif

#define PATH_BYTES 4096

// Copies the Buffer argument into `out` with a terminating NUL; 0, or -errno.
static int path_arg(napi_env env, napi_value value, char out[PATH_BYTES + 1]) {
  void *data;
  size_t length;
  if (napi_get_buffer_info(env, value, &data, &length) != napi_ok) return -EINVAL;
  if (length == 0 || length > PATH_BYTES || memchr(data, 0, length) != NULL) return -EINVAL;
  memcpy(out, data, length);
  out[length] = 0;
  return 0;
}

static napi_value number(napi_env env, double value) {
  napi_value out;
  napi_create_double(env, value, &out);
  return out;
}

static int args(napi_env env, napi_callback_info info, size_t wanted, napi_value *argv) {
  size_t count = wanted;
  if (napi_get_cb_info(env, info, &count, argv, NULL, NULL) != napi_ok || count < wanted) return -EINVAL;
  return 0;
}

// A typed array argument of the type `want`: its data and element count; 0, or -EINVAL.
static int typed_arg(napi_env env, napi_value value, napi_typedarray_type want, void **data, size_t *count) {
  napi_typedarray_type type;
  if (napi_get_typedarray_info(env, value, &type, count, data, NULL, NULL) != napi_ok || type != want) return -EINVAL;
  return 0;
}

#if defined(__linux__)
// O_NONBLOCK: never wait on a name that became a FIFO; O_NOFOLLOW: flags belong to files and folders,
// never to what a symbolic link points at. Opening for reading is all FS_IOC_SETFLAGS needs too.
static int open_entry(const char *path) {
  return open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
}

static int64_t flags_of_fd(int fd) {
  // The kernel reads and writes an int, whatever the ioctl's declared type says.
  int flags = 0;
  if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) return -errno;
  return (uint32_t)flags;
}
#endif

// get(path: Buffer): the entry's flags, or -errno.
static napi_value get(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[PATH_BYTES + 1];
  int bad = args(env, info, 1, argv);
  if (bad == 0) bad = path_arg(env, argv[0], path);
  if (bad != 0) return number(env, bad);
#if defined(__linux__)
  int fd = open_entry(path);
  if (fd < 0) return number(env, -errno);
  int64_t flags = flags_of_fd(fd);
  close(fd);
  return number(env, (double)flags);
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
  struct stat st;
  if (lstat(path, &st) != 0) return number(env, -errno);
  return number(env, (double)st.st_flags);
#else
  return number(env, -ENOSYS);
#endif
}

// getFd(fd: number): the flags of an open file, or -errno: one system call where the file is open anyway.
static napi_value get_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd = -1;
  if (args(env, info, 1, argv) != 0 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) return number(env, -EINVAL);
#if defined(__linux__)
  return number(env, (double)flags_of_fd(fd));
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
  struct stat st;
  if (fstat(fd, &st) != 0) return number(env, -errno);
  return number(env, (double)st.st_flags);
#else
  return number(env, -ENOSYS);
#endif
}

// set(path: Buffer, flags: number, mask: number): gives the entry `flags` for the bits in `mask`,
// keeping the others as they are (ext4's extents flag, say, which cannot be cleared); 0 or -errno.
static napi_value set(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char path[PATH_BYTES + 1];
  uint32_t flags = 0, mask = 0;
  int bad = args(env, info, 3, argv);
  if (bad == 0) bad = path_arg(env, argv[0], path);
  if (bad == 0 && (napi_get_value_uint32(env, argv[1], &flags) != napi_ok || napi_get_value_uint32(env, argv[2], &mask) != napi_ok)) bad = -EINVAL;
  if (bad != 0) return number(env, bad);
#if defined(__linux__)
  int fd = open_entry(path);
  if (fd < 0) return number(env, -errno);
  int64_t current = flags_of_fd(fd);
  int result = 0;
  if (current < 0) {
    result = (int)current;
  } else {
    int wanted = (int)(((uint32_t)current & ~mask) | (flags & mask));
    if ((uint32_t)wanted != (uint32_t)current && ioctl(fd, FS_IOC_SETFLAGS, &wanted) != 0) result = -errno;
  }
  close(fd);
  return number(env, result);
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
  struct stat st;
  if (lstat(path, &st) != 0) return number(env, -errno);
  uint32_t wanted = (st.st_flags & ~mask) | (flags & mask);
  if (wanted != st.st_flags && lchflags(path, wanted) != 0) return number(env, -errno);
  return number(env, 0);
#else
  return number(env, -ENOSYS);
#endif
}

// setBirthtime(path: Buffer, seconds: number, nanoseconds: number): macOS only (Linux has no call that
// sets a creation time); 0 or -errno.
static napi_value set_birthtime(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char path[PATH_BYTES + 1];
  int64_t seconds = 0;
  int64_t nanoseconds = 0;
  int bad = args(env, info, 3, argv);
  if (bad == 0) bad = path_arg(env, argv[0], path);
  if (bad == 0 && (napi_get_value_int64(env, argv[1], &seconds) != napi_ok || napi_get_value_int64(env, argv[2], &nanoseconds) != napi_ok)) bad = -EINVAL;
  if (bad != 0) return number(env, bad);
#if defined(__APPLE__)
  struct attrlist list;
  memset(&list, 0, sizeof list);
  list.bitmapcount = ATTR_BIT_MAP_COUNT;
  list.commonattr = ATTR_CMN_CRTIME;
  struct timespec time = {.tv_sec = (time_t)seconds, .tv_nsec = (long)nanoseconds};
  if (setattrlist(path, &list, &time, sizeof time, FSOPT_NOFOLLOW) != 0) return number(env, -errno);
  return number(env, 0);
#else
  (void)seconds;
  (void)nanoseconds;
  return number(env, -ENOSYS);
#endif
}

// trimHeap(): gives the C heap's free pages back to the system (glibc's malloc_trim); 1 when some were
// given back, 0 when none, -ENOSYS without glibc. glibc keeps what a thread freed for that thread's next
// allocations: the idle agent held ~68 MB of freed heap after a backup of 78,579 files (168 -> 100 MB
// resident, malloc_trim called from gdb). Other C libraries (macOS, musl) give memory back themselves.
static napi_value trim_heap(napi_env env, napi_callback_info info) {
  (void)info;
#if defined(__GLIBC__)
  return number(env, malloc_trim(0));
#else
  return number(env, -ENOSYS);
#endif
}


// The fields lstatAt writes per entry, in entryStat.ts's STAT_FIELDS order: dev, ino, mode, nlink, uid,
// gid, rdev, size, mtimeNs, ctimeNs, birthtimeNs, each as Node's lstat(…, { bigint: true }) gives it.
#define STAT_FIELDS 11

#if defined(__linux__) || defined(__APPLE__)
static int64_t nanoseconds(int64_t seconds, int64_t nanos) { return seconds * 1000000000LL + nanos; }

// One entry's lstat relative to an open folder, into `out`; 0, or the errno.
static int stat_fields(int folder, const char *name, int64_t *out) {
#if defined(__linux__)
  // statx, as libuv does for Node's lstat, so every field (the device numbers made the same way) matches.
  struct statx st;
  if (statx(folder, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, &st) != 0) return errno;
  out[0] = (int64_t)makedev(st.stx_dev_major, st.stx_dev_minor);
  out[1] = (int64_t)st.stx_ino;
  out[2] = st.stx_mode;
  out[3] = st.stx_nlink;
  out[4] = st.stx_uid;
  out[5] = st.stx_gid;
  out[6] = (int64_t)makedev(st.stx_rdev_major, st.stx_rdev_minor);
  out[7] = (int64_t)st.stx_size;
  out[8] = nanoseconds(st.stx_mtime.tv_sec, st.stx_mtime.tv_nsec);
  out[9] = nanoseconds(st.stx_ctime.tv_sec, st.stx_ctime.tv_nsec);
  out[10] = nanoseconds(st.stx_btime.tv_sec, st.stx_btime.tv_nsec);
#else
  struct stat st;
  if (fstatat(folder, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return errno;
  out[0] = st.st_dev;
  out[1] = (int64_t)st.st_ino;
  out[2] = st.st_mode;
  out[3] = st.st_nlink;
  out[4] = st.st_uid;
  out[5] = st.st_gid;
  out[6] = st.st_rdev;
  out[7] = st.st_size;
  out[8] = nanoseconds(st.st_mtimespec.tv_sec, st.st_mtimespec.tv_nsec);
  out[9] = nanoseconds(st.st_ctimespec.tv_sec, st.st_ctimespec.tv_nsec);
  out[10] = nanoseconds(st.st_birthtimespec.tv_sec, st.st_birthtimespec.tv_nsec);
#endif
  return 0;
}

// As stat_fields, with `out` all zeros where the entry could not be examined (lstatAt's and listAt's answer).
static int stat_at(int folder, const char *name, int64_t *out) {
  int error = stat_fields(folder, name, out);
  if (error != 0) memset(out, 0, STAT_FIELDS * sizeof *out);
  return error;
}
#endif

// lstatAt(folder, names, ends, stats, errors): the lstat of each entry of `folder` (a Buffer path) named
// in `names` (concatenated; ends[i] is where name i ends), relative to the open folder: into stats
// (BigInt64Array, STAT_FIELDS per entry) or, where it fails, its errno into errors (Int32Array; 0 where
// it worked). Answers 0, or minus the errno when the folder cannot be opened or an argument is wrong.
// A backup's walk made one lstat call from JavaScript per entry, each with its object, its BigInts and
// the kernel's walk of the whole path from the root; here an entry costs its system call alone.
static napi_value lstat_at(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (args(env, info, 5, argv) != 0) return number(env, -EINVAL);
  char folder[PATH_BYTES + 1];
  int failed = path_arg(env, argv[0], folder);
  if (failed != 0) return number(env, failed);
  void *names;
  size_t names_length;
  if (napi_get_buffer_info(env, argv[1], &names, &names_length) != napi_ok) return number(env, -EINVAL);
  napi_typedarray_type type;
  size_t count, stats_count, errors_count;
  void *ends, *stats, *errors;
  if (napi_get_typedarray_info(env, argv[2], &type, &count, &ends, NULL, NULL) != napi_ok || type != napi_uint32_array) return number(env, -EINVAL);
  if (napi_get_typedarray_info(env, argv[3], &type, &stats_count, &stats, NULL, NULL) != napi_ok || type != napi_bigint64_array) return number(env, -EINVAL);
  if (napi_get_typedarray_info(env, argv[4], &type, &errors_count, &errors, NULL, NULL) != napi_ok || type != napi_int32_array) return number(env, -EINVAL);
  if (stats_count < count * STAT_FIELDS || errors_count < count) return number(env, -EINVAL);
#if defined(__linux__) || defined(__APPLE__)
  int dir = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return number(env, -errno);
  char name[PATH_BYTES + 1];
  size_t start = 0;
  for (size_t i = 0; i < count; i++) {
    size_t end = ((uint32_t *)ends)[i];
    int64_t *out = (int64_t *)stats + i * STAT_FIELDS;
    if (end < start || end > names_length || end - start > PATH_BYTES) {
      close(dir);
      return number(env, -EINVAL);
    }
    memcpy(name, (char *)names + start, end - start);
    name[end - start] = 0;
    start = end;
    ((int32_t *)errors)[i] = stat_at(dir, name, out);
  }
  close(dir);
  return number(env, 0);
#else
  return number(env, -ENOSYS);
#endif
}

#if defined(__linux__) || defined(__APPLE__)
// Buffer.compare's order of two names: strcmp compares bytes as unsigned char, and a name that is the
// beginning of a longer one ends first, with its NUL (names hold none).
static int compare_names(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

// A typed array of `count` elements of `size` bytes on a new ArrayBuffer; its data into `data`.
static napi_value new_typed_array(napi_env env, napi_typedarray_type type, size_t count, size_t size, void **data) {
  napi_value buffer, array;
  if (napi_create_arraybuffer(env, count * size, data, &buffer) != napi_ok) return NULL;
  if (napi_create_typedarray(env, type, count, buffer, 0, &array) != napi_ok) return NULL;
  return array;
}
#endif

// listAt(folder): the entries of `folder` (a Buffer path) but "." and "..", sorted as Buffer.compare
// sorts their names, each with its lstat relative to the open folder: [names (a Buffer, concatenated),
// ends (Uint32Array, where each name ends), stats (BigInt64Array, STAT_FIELDS per entry, as lstatAt),
// errors (Int32Array, the errno of an entry that could not be examined, else 0)]. Answers minus the
// errno instead when the folder cannot be opened or read. A backup's walk read a folder with Node's
// readdir (a Buffer per name, sorted with a call per comparison, then joined again) and opened it once
// more for lstatAt: here it is opened once, and its names never become objects.
static napi_value list_at(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (args(env, info, 1, argv) != 0) return number(env, -EINVAL);
  char folder[PATH_BYTES + 1];
  int failed = path_arg(env, argv[0], folder);
  if (failed != 0) return number(env, failed);
#if defined(__linux__) || defined(__APPLE__)
  // opendir rather than open and fdopendir: the latter checks the descriptor with two fcntl calls.
  DIR *dir = opendir(folder);
  if (dir == NULL) return number(env, -errno);
  // The names, NUL after each (for statx), and where each starts; then pointers to them, sorted.
  char *names = NULL;
  size_t names_used = 0, names_room = 0;
  size_t *starts = NULL;
  size_t count = 0, room = 0;
  const char **sorted = NULL;
  int error = 0;
  for (;;) {
    errno = 0;
    struct dirent *entry = readdir(dir);
    if (entry == NULL) {
      error = errno;
      break;
    }
    const char *name = entry->d_name;
    if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
    size_t length = strlen(name);
    if (names_used + length + 1 > names_room) {
      size_t grown = names_room == 0 ? 4096 : 2 * names_room;
      while (grown < names_used + length + 1) grown *= 2;
      char *more = realloc(names, grown);
      if (more == NULL) {
        error = ENOMEM;
        break;
      }
      names = more;
      names_room = grown;
    }
    if (count == room) {
      size_t grown = room == 0 ? 64 : 2 * room;
      size_t *more = realloc(starts, grown * sizeof *starts);
      if (more == NULL) {
        error = ENOMEM;
        break;
      }
      starts = more;
      room = grown;
    }
    memcpy(names + names_used, name, length + 1);
    starts[count] = names_used;
    names_used += length + 1;
    count += 1;
  }
  napi_value result = NULL;
  if (error == 0 && count > 0 && (sorted = malloc(count * sizeof *sorted)) == NULL) error = ENOMEM;
  if (error == 0) {
    for (size_t i = 0; i < count; i++) sorted[i] = names + starts[i];
    if (count > 1) qsort(sorted, count, sizeof *sorted, compare_names);
    void *joined, *ends, *stats, *errors;
    napi_value out[4];
    size_t joined_length = names_used - count;
    if (napi_create_buffer(env, joined_length, &joined, &out[0]) == napi_ok &&
        (out[1] = new_typed_array(env, napi_uint32_array, count, sizeof(uint32_t), &ends)) != NULL &&
        (out[2] = new_typed_array(env, napi_bigint64_array, count * STAT_FIELDS, sizeof(int64_t), &stats)) != NULL &&
        (out[3] = new_typed_array(env, napi_int32_array, count, sizeof(int32_t), &errors)) != NULL &&
        napi_create_array_with_length(env, 4, &result) == napi_ok) {
      int dirfd_ = dirfd(dir);
      size_t at = 0;
      for (size_t i = 0; i < count; i++) {
        size_t length = strlen(sorted[i]);
        memcpy((char *)joined + at, sorted[i], length);
        at += length;
        ((uint32_t *)ends)[i] = (uint32_t)at;
        ((int32_t *)errors)[i] = stat_at(dirfd_, sorted[i], (int64_t *)stats + i * STAT_FIELDS);
      }
      for (uint32_t i = 0; i < 4; i++) napi_set_element(env, result, i, out[i]);
    } else {
      result = NULL;
      error = ENOMEM;
    }
  }
  free(names);
  free(starts);
  free(sorted);
  closedir(dir);
  return result != NULL ? result : number(env, -error);
#else
  return number(env, -ENOSYS);
#endif
}

// xattrSizesAt(folder, names, ends, sizes): for each entry of `folder` named in `names` (as lstatAt
// takes them), the length of its extended attributes' name list (0: it has none), never through a
// symbolic link, or minus the errno, into sizes (Int32Array). Answers 0, or minus the errno when an
// argument is wrong. Nearly every entry has no attributes: read one by one through @napi-rs/xattr, each
// cost ~9 µs (4 of them outside the kernel: the path as a string, the list as an array of strings), 0.7
// CPU-seconds for the linux tree's 83,731 entries; here an entry costs its system call alone, and only
// the entries that have attributes are read through the library.
static napi_value xattr_sizes_at(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (args(env, info, 4, argv) != 0) return number(env, -EINVAL);
  void *folder;
  size_t folder_length;
  if (napi_get_buffer_info(env, argv[0], &folder, &folder_length) != napi_ok || folder_length == 0 || folder_length > PATH_BYTES) return number(env, -EINVAL);
  void *names;
  size_t names_length;
  if (napi_get_buffer_info(env, argv[1], &names, &names_length) != napi_ok) return number(env, -EINVAL);
  napi_typedarray_type type;
  size_t count, sizes_count;
  void *ends, *sizes;
  if (napi_get_typedarray_info(env, argv[2], &type, &count, &ends, NULL, NULL) != napi_ok || type != napi_uint32_array) return number(env, -EINVAL);
  if (napi_get_typedarray_info(env, argv[3], &type, &sizes_count, &sizes, NULL, NULL) != napi_ok || type != napi_int32_array || sizes_count < count) return number(env, -EINVAL);
#if defined(__linux__) || defined(__APPLE__)
  // The folder's path, a slash, then each name in turn.
  char path[2 * PATH_BYTES + 2];
  if (memchr(folder, 0, folder_length) != NULL) return number(env, -EINVAL);
  memcpy(path, folder, folder_length);
  size_t prefix = folder_length;
  if (path[prefix - 1] != '/') path[prefix++] = '/';
  size_t start = 0;
  for (size_t i = 0; i < count; i++) {
    size_t end = ((uint32_t *)ends)[i];
    if (end < start || end > names_length || end - start > PATH_BYTES || memchr((char *)names + start, 0, end - start) != NULL) return number(env, -EINVAL);
    memcpy(path + prefix, (char *)names + start, end - start);
    path[prefix + end - start] = 0;
    start = end;
#if defined(__linux__)
    ssize_t size = llistxattr(path, NULL, 0);
#else
    ssize_t size = listxattr(path, NULL, 0, XATTR_NOFOLLOW);
#endif
    ((int32_t *)sizes)[i] = size < 0 ? -errno : (size > INT32_MAX ? INT32_MAX : (int32_t)size);
  }
  return number(env, 0);
#else
  return number(env, -ENOSYS);
#endif
}

// openRead(path: Buffer, block: Uint8Array, readLength: number, out: Float64Array): opens a file for
// reading (never through a symbolic link, never waiting on a FIFO), and answers 0 or minus the errno of
// the open or the fstat. `out` gets: [0] the device, [1] the mode, [2] the size, [3] and [4] the
// modification time's seconds and nanoseconds, [5] a regular file's flags (Linux's ioctl, the BSDs'
// st_flags) or minus the errno, [6] the bytes of a first read of up to `readLength` into `block` from
// the start (a regular file only; 0 for none) or minus its errno, [7] the descriptor, or -1 once the
// file is closed: when that read reached the size the fstat gave, the file is read whole, and closed here.
// A backup's file worker reads a small file with this one call instead of five (open, fstat, ioctl,
// read, close), each of which cost ~1-2 µs outside the kernel through Node, and a BigInt stat object.
static napi_value open_read(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  char path[PATH_BYTES + 1];
  void *block, *out;
  size_t block_length, out_count;
  uint32_t read_length;
  if (args(env, info, 4, argv) != 0 || path_arg(env, argv[0], path) != 0 || typed_arg(env, argv[1], napi_uint8_array, &block, &block_length) != 0 ||
      napi_get_value_uint32(env, argv[2], &read_length) != napi_ok || read_length > block_length ||
      typed_arg(env, argv[3], napi_float64_array, &out, &out_count) != 0 || out_count < 8) return number(env, -EINVAL);
#if POSIX_FILE_CALLS
  double *o = (double *)out;
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return number(env, -errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int error = errno;
    close(fd);
    return number(env, -error);
  }
  o[0] = (double)st.st_dev;
  o[1] = (double)st.st_mode;
  o[2] = (double)st.st_size;
#if defined(__APPLE__)
  o[3] = (double)st.st_mtimespec.tv_sec;
  o[4] = (double)st.st_mtimespec.tv_nsec;
#else
  o[3] = (double)st.st_mtim.tv_sec;
  o[4] = (double)st.st_mtim.tv_nsec;
#endif
  // A regular file's only: on another kind of entry the ioctl's "not here" would read as "not on this file system".
#if defined(__linux__)
  o[5] = S_ISREG(st.st_mode) ? (double)flags_of_fd(fd) : 0;
#else
  o[5] = S_ISREG(st.st_mode) ? (double)st.st_flags : 0;
#endif
  ssize_t got = 0;
  if (S_ISREG(st.st_mode) && read_length > 0) {
    do got = pread(fd, block, read_length, 0);
    while (got < 0 && errno == EINTR);
    if (got < 0) got = -errno;
  }
  o[6] = (double)got;
  // A short read that reached the size the fstat gave is the file's end (the worker's rule, see chunkFrom).
  if (got >= 0 && S_ISREG(st.st_mode) && read_length > 0 && (size_t)got < read_length && got >= st.st_size) {
    close(fd);
    o[7] = -1;
  } else {
    o[7] = fd;
  }
  return number(env, 0);
#else
  return number(env, -ENOSYS);
#endif
}

// closeFd(fd: number): closes a descriptor openRead left open; 0 or -errno. Through the addon, not Node:
// a worker thread's fs.closeSync warns about a descriptor its fs did not open.
static napi_value close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd = -1;
  if (args(env, info, 1, argv) != 0 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) return number(env, -EINVAL);
#if POSIX_FILE_CALLS
  // After close fails with EINTR the descriptor is gone all the same (Linux, POSIX 2024): never retried.
  return number(env, close(fd) == 0 ? 0 : -errno);
#else
  return number(env, -ENOSYS);
#endif
}

#if POSIX_FILE_CALLS
// A time as libuv sets it from Node's float seconds (uv__fs_to_timespec): truncated to the microsecond,
// so a file is given the same time whichever way it is written.
static struct timespec uv_timespec(double time) {
  struct timespec ts;
  ts.tv_sec = (time_t)time;
  ts.tv_nsec = (long)((time - (double)ts.tv_sec) * 1e9);
  ts.tv_nsec -= ts.tv_nsec % 1000;
  if (ts.tv_nsec < 0) {
    ts.tv_nsec += 1000000000;
    ts.tv_sec -= 1;
  }
  return ts;
}
#endif

// createFile(path: Buffer, content: Uint8Array, createMode: number, uid: number, gid: number,
// chmodMode: number, mtime: number, failure: Int32Array): creates the file (O_EXCL, never through a
// symbolic link) with `createMode`, writes `content`, gives it the owner (unless uid is -1, or it has that
// owner already), the mode (unless chmodMode is -1; after the owner, whose change clears set-user-ID and
// set-group-ID) and `mtime` (float seconds, as access and modification time) and closes it. Answers 0,
// or minus the errno of the step that failed, whose number goes into failure[0]: 0 open, 1 write,
// 2 fchown, 3 fchmod, 4 futimens, 5 close; the file is closed then, and left for the caller to remove.
// A restore's writer thread writes a small file with this one call instead of five to seven through Node.
static napi_value create_file(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  char path[PATH_BYTES + 1];
  void *content, *failure;
  size_t content_length, failure_count;
  int32_t create_mode, uid, gid, chmod_mode;
  double mtime;
  if (args(env, info, 8, argv) != 0 || path_arg(env, argv[0], path) != 0 || typed_arg(env, argv[1], napi_uint8_array, &content, &content_length) != 0 ||
      napi_get_value_int32(env, argv[2], &create_mode) != napi_ok || napi_get_value_int32(env, argv[3], &uid) != napi_ok ||
      napi_get_value_int32(env, argv[4], &gid) != napi_ok || napi_get_value_int32(env, argv[5], &chmod_mode) != napi_ok ||
      napi_get_value_double(env, argv[6], &mtime) != napi_ok || typed_arg(env, argv[7], napi_int32_array, &failure, &failure_count) != 0 ||
      failure_count < 1) return number(env, -EINVAL);
#if POSIX_FILE_CALLS
  int32_t *step = (int32_t *)failure;
  *step = 0;
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)create_mode);
  if (fd < 0) return number(env, -errno);
  int error = 0;
  for (size_t done = 0; done < content_length;) {
    ssize_t wrote = pwrite(fd, (char *)content + done, content_length - done, (off_t)done);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0) {
      error = errno;
      *step = 1;
      break;
    }
    done += (size_t)wrote;
  }
  if (error == 0 && uid >= 0) {
    // A file created with the owner it is to have (a restore by root of root's files, say) needs no fchown:
    // an fstat instead, ~5 µs less kernel time per file in a linux-tree restore's writer threads (V8 profile).
    struct stat created;
    int owned = fstat(fd, &created) == 0 && created.st_uid == (uid_t)uid && created.st_gid == (gid_t)gid;
    if (!owned && fchown(fd, (uid_t)uid, (gid_t)gid) != 0) error = errno, *step = 2;
  }
  if (error == 0 && chmod_mode >= 0 && fchmod(fd, (mode_t)chmod_mode) != 0) error = errno, *step = 3;
  if (error == 0) {
    struct timespec times[2];
    times[0] = times[1] = uv_timespec(mtime);
    if (futimens(fd, times) != 0) error = errno, *step = 4;
  }
  // After close fails with EINTR the descriptor is gone all the same (Linux, POSIX 2024): never retried.
  if (close(fd) != 0 && error == 0) error = errno, *step = 5;
  return number(env, -error);
#else
  return number(env, -ENOSYS);
#endif
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value kind;
  napi_create_string_utf8(env, FLAGS_KIND, NAPI_AUTO_LENGTH, &kind);
  napi_property_descriptor properties[] = {
      {"get", NULL, get, NULL, NULL, NULL, napi_default, NULL},
      {"getFd", NULL, get_fd, NULL, NULL, NULL, napi_default, NULL},
      {"set", NULL, set, NULL, NULL, NULL, napi_default, NULL},
      {"setBirthtime", NULL, set_birthtime, NULL, NULL, NULL, napi_default, NULL},
      {"trimHeap", NULL, trim_heap, NULL, NULL, NULL, napi_default, NULL},
      {"lstatAt", NULL, lstat_at, NULL, NULL, NULL, napi_default, NULL},
      {"xattrSizesAt", NULL, xattr_sizes_at, NULL, NULL, NULL, napi_default, NULL},
      {"listAt", NULL, list_at, NULL, NULL, NULL, napi_default, NULL},
      {"openRead", NULL, open_read, NULL, NULL, NULL, napi_default, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL},
      {"createFile", NULL, create_file, NULL, NULL, NULL, napi_default, NULL},
      {"kind", NULL, NULL, NULL, NULL, kind, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  aead_define(env, exports);
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
