/* Counts heap allocations of the process it is preloaded into, for the benchmarks.
 *
 * LD_PRELOAD=malloc_count.so MALLOC_COUNT_FILE=PATH: every malloc, calloc, realloc,
 * aligned allocation and C++ operator new adds one to an 8-byte counter at the start of
 * PATH, a shared mapping, so the benchmark reads it at any moment without stopping the
 * process. Each call goes on to the allocator the process would have used (glibc's, or
 * nghttpx's jemalloc). Built by bench/run; not part of Postern. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static _Atomic unsigned long *counter;
static void *(*next_malloc)(size_t);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static void (*next_free)(void *);
static int (*next_posix_memalign)(void **, size_t, size_t);
static void *(*next_aligned_alloc)(size_t, size_t);
static void *(*next_memalign)(size_t, size_t);
static void *(*next_new)(size_t);
static void *(*next_new_array)(size_t);

/* dlsym may allocate before the real calloc is known: served from here, never freed. */
static char bootstrap[4096];
static size_t bootstrap_used;

static void resolve(void) {
    next_malloc = dlsym(RTLD_NEXT, "malloc");
    next_calloc = dlsym(RTLD_NEXT, "calloc");
    next_realloc = dlsym(RTLD_NEXT, "realloc");
    next_free = dlsym(RTLD_NEXT, "free");
    next_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    next_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    next_memalign = dlsym(RTLD_NEXT, "memalign");
    next_new = dlsym(RTLD_NEXT, "_Znwm");
    next_new_array = dlsym(RTLD_NEXT, "_Znam");
}

__attribute__((constructor)) static void open_counter(void) {
    if (!next_malloc) resolve();
    const char *path = getenv("MALLOC_COUNT_FILE");
    if (!path) return;
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    if (fd < 0) return;
    if (ftruncate(fd, sizeof(unsigned long)) == 0) {
        void *map = mmap(NULL, sizeof(unsigned long), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (map != MAP_FAILED) counter = map;
    }
    close(fd);
}

static inline void count(void) {
    if (counter) atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

static int from_bootstrap(void *p) {
    return (char *)p >= bootstrap && (char *)p < bootstrap + sizeof bootstrap;
}

void *malloc(size_t size) {
    if (!next_malloc) resolve();
    count();
    return next_malloc(size);
}

void *calloc(size_t n, size_t size) {
    if (!next_calloc) {
        /* dlsym's own allocation, while resolving */
        size_t bytes = (n * size + 15) & ~(size_t)15;
        if (bootstrap_used + bytes > sizeof bootstrap) return NULL;
        void *p = bootstrap + bootstrap_used;
        bootstrap_used += bytes;
        return p;
    }
    count();
    return next_calloc(n, size);
}

void *realloc(void *p, size_t size) {
    if (!next_realloc) resolve();
    count();
    return next_realloc(p, size);
}

void free(void *p) {
    if (!p || from_bootstrap(p)) return;
    if (!next_free) resolve();
    next_free(p);
}

int posix_memalign(void **out, size_t align, size_t size) {
    if (!next_posix_memalign) resolve();
    count();
    return next_posix_memalign(out, align, size);
}

void *aligned_alloc(size_t align, size_t size) {
    if (!next_aligned_alloc) resolve();
    count();
    return next_aligned_alloc(align, size);
}

void *memalign(size_t align, size_t size) {
    if (!next_memalign) resolve();
    count();
    return next_memalign(align, size);
}

void *_Znwm(size_t size) {
    if (!next_new) resolve();
    count();
    return next_new ? next_new(size) : malloc(size);
}

void *_Znam(size_t size) {
    if (!next_new_array) resolve();
    count();
    return next_new_array ? next_new_array(size) : malloc(size);
}
