// Fault injection for durability tests, loaded into the real binary with LD_PRELOAD: fsync and
// fdatasync of files whose path contains $CDC_FAULT_FSYNC_MATCH fail with EIO, from the call
// after the first $CDC_FAULT_FSYNC_AFTER matching ones on (what a failing disk does; the kernel
// may then have dropped the dirty pages). Other files, and every call when the variable is
// unset, go to libc. Each injected failure is reported on stderr.
//
// Built without sanitizers (a preloaded library comes before their runtimes).
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

using SyncFn = int (*)(int);

std::atomic<long> matching_calls{0};

bool Inject(int fd) {
  const char* match = std::getenv("CDC_FAULT_FSYNC_MATCH");
  if (match == nullptr || *match == '\0') return false;
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char path[PATH_MAX];
  ssize_t n = ::readlink(link, path, sizeof path - 1);
  if (n < 0) return false;
  path[n] = '\0';
  if (std::strstr(path, match) == nullptr) return false;
  const char* after = std::getenv("CDC_FAULT_FSYNC_AFTER");
  long allowed = after != nullptr ? std::atol(after) : 0;
  if (matching_calls.fetch_add(1) < allowed) return false;
  char line[PATH_MAX + 64];
  int len = std::snprintf(line, sizeof line, "fault_fsync: EIO for %s\n", path);
  if (len > 0) (void)!::write(STDERR_FILENO, line, static_cast<size_t>(len));
  return true;
}

// Calls libc's `name` unless the call is to fail.
int Sync(const char* name, int fd) {
  if (Inject(fd)) {
    errno = EIO;
    return -1;
  }
  auto real = reinterpret_cast<SyncFn>(::dlsym(RTLD_NEXT, name));
  return real(fd);
}

}  // namespace

extern "C" int fsync(int fd) { return Sync("fsync", fd); }
extern "C" int fdatasync(int fd) { return Sync("fdatasync", fd); }
