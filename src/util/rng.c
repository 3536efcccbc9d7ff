/* rng.c - bytes from the operating system's CSPRNG.
 *
 * Used for secrets (connection-ID key, hash seeds) and to seed the per-worker splitmix64
 * generators in rng.h. Linux: getrandom(2); the BSDs and macOS: arc4random_buf(3), which
 * cannot fail; elsewhere, or on a Linux kernel without getrandom, /dev/urandom. Interrupted
 * calls and short reads are retried until the buffer is full. */
#include "util/rng.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/random.h>
#define RNG_HAVE_GETRANDOM 1
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || \
    defined(__NetBSD__) || defined(__DragonFly__)
#define RNG_HAVE_ARC4RANDOM 1
#endif

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

#if !defined(RNG_HAVE_ARC4RANDOM)
static bool urandom_bytes(uint8_t *p, size_t len)
{
    int fd;

    do {
        fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return false;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    close(fd);
    return true;
}
#endif

bool rng_os_bytes(void *buf, size_t len)
{
    uint8_t *p = buf;

#if defined(RNG_HAVE_ARC4RANDOM)
    arc4random_buf(p, len);
    return true;
#else
#if defined(RNG_HAVE_GETRANDOM)
    while (len > 0) {
        /* Requests above 256 bytes may return short; loop rather than rely on sizes. */
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOSYS) /* kernel older than 3.17 */
                return urandom_bytes(p, len);
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
#else
    return urandom_bytes(p, len);
#endif
#endif
}
