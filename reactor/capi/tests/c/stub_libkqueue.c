/* A stand-in for libkqueue.so.0 with its two entry points, failing with ENOSYS: the
 * harness links dropin.c against it, then runs the program with kq's library in its place. */
#include <errno.h>

struct kevent;
struct timespec;

int kqueue(void)
{
    errno = ENOSYS;
    return -1;
}

int kevent(int kq, const struct kevent *c, int nc, struct kevent *e, int ne,
           const struct timespec *t)
{
    (void)kq, (void)c, (void)nc, (void)e, (void)ne, (void)t;
    errno = ENOSYS;
    return -1;
}
