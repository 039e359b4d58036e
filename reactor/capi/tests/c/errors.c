/* -1 and errno for bad calls; EV_ERROR and EV_RECEIPT entries for bad changes. */
#include "kqtest.h"
#include <sys/epoll.h>

int main(void)
{
    struct kevent ch[3], ev[3];
    struct timespec bad = {0, 1000000000L};
    int p[2], kq, fl;

    CHECK(pipe(p) == 0);
    kq = kqueue();
    CHECK(kq >= 0);
    fl = fcntl(kq, F_GETFD);
    CHECK(fl >= 0 && (fl & FD_CLOEXEC));

    /* Not a kqueue: EBADF, whatever the number names. */
    errno = 0;
    CHECK(kevent(-1, NULL, 0, ev, 1, NULL) == -1 && errno == EBADF);
    errno = 0;
    CHECK(kevent(p[0], NULL, 0, ev, 1, NULL) == -1 && errno == EBADF);
    errno = 0;
    CHECK(kevent(9999, NULL, 0, ev, 1, NULL) == -1 && errno == EBADF);

    /* Bad arguments: EINVAL, EFAULT. */
    errno = 0;
    CHECK(kevent(kq, NULL, -1, ev, 1, NULL) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(kevent(kq, NULL, 0, ev, -1, NULL) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(kevent(kq, NULL, 0, ev, 1, &bad) == -1 && errno == EINVAL);
    bad.tv_sec = -1;
    bad.tv_nsec = 0;
    errno = 0;
    CHECK(kevent(kq, NULL, 0, ev, 1, &bad) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(kevent(kq, NULL, 1, ev, 1, NULL) == -1 && errno == EFAULT);
    errno = 0;
    CHECK(kevent(kq, NULL, 0, NULL, 1, NULL) == -1 && errno == EFAULT);

    /* A failing change with room: an EV_ERROR entry echoing it, processing goes on. */
    EV_SET(&ch[0], 9999, EVFILT_READ, EV_ADD, 0, 0, (void *)0x11);
    EV_SET(&ch[1], 1, EVFILT_USER, EV_DELETE, 0, 0, (void *)0x22);
    EV_SET(&ch[2], 5, -100, EV_ADD, 0, 0, (void *)0x33);
    CHECK(kev_wait(kq, ch, 3, ev, 3, 0) == 3);
    CHECK(ev[0].flags == EV_ERROR && ev[0].data == EBADF && ev[0].ident == 9999);
    CHECK(ev[0].udata == (void *)0x11 && ev[0].filter == EVFILT_READ);
    CHECK(ev[1].flags == EV_ERROR && ev[1].data == ENOENT && ev[1].udata == (void *)0x22);
    CHECK(ev[2].flags == EV_ERROR && ev[2].data == EINVAL && ev[2].udata == (void *)0x33);

    /* ... and without room: the call fails with the change's errno. */
    errno = 0;
    CHECK(kevent(kq, ch, 1, NULL, 0, NULL) == -1 && errno == EBADF);

    /* EV_RECEIPT: an entry with data 0 for a change that succeeds; no events collected. */
    EV_SET(&ch[0], p[0], EVFILT_READ, EV_ADD | EV_RECEIPT, 0, 0, NULL);
    CHECK(write(p[1], "x", 1) == 1);
    CHECK(kev_wait(kq, ch, 1, ev, 3, 0) == 1);
    CHECK(ev[0].flags == EV_ERROR && ev[0].data == 0 && ev[0].ident == (uintptr_t)p[0]);
    /* The knote is there: its event comes with the next call. */
    CHECK(expect_one(kq, p[0], EVFILT_READ).data == 1);

    /* EV_ENABLE|EV_DISABLE together is invalid. */
    EV_SET(&ch[0], p[0], EVFILT_READ, EV_ENABLE | EV_DISABLE, 0, 0, NULL);
    CHECK(kev_wait(kq, ch, 1, ev, 1, 0) == 1 && ev[0].flags == EV_ERROR && ev[0].data == EINVAL);

    /* A kqueue cannot watch itself. */
    EV_SET(&ch[0], kq, EVFILT_READ, EV_ADD, 0, 0, NULL);
    CHECK(kev_wait(kq, ch, 1, ev, 1, 0) == 1 && ev[0].flags == EV_ERROR && ev[0].data == EINVAL);

    /* A closed kqueue's number reused by other files never reaches the old kqueue. */
    CHECK(close(kq) == 0);
    CHECK(open("/dev/null", O_RDONLY) == kq);
    errno = 0;
    CHECK(kevent(kq, NULL, 0, ev, 1, NULL) == -1 && errno == EBADF);
    CHECK(close(kq) == 0);
    kq = kqueue();
    CHECK(kq >= 0);
    {
        /* Even another epoll instance (all share one inode) under the same number. */
        int other = epoll_create1(0);
        CHECK(other >= 0);
        CHECK(dup2(other, kq) == kq);
        close(other);
        errno = 0;
        CHECK(kevent(kq, NULL, 0, ev, 1, NULL) == -1 && errno == EBADF);
        close(kq);
    }
    puts("ok errors");
    return 0;
}
