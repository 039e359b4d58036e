/* EVFILT_READ and EVFILT_WRITE with every flag: level, EV_CLEAR, EV_ONESHOT, EV_DISPATCH,
 * EV_DISABLE/EV_ENABLE, EV_DELETE, EV_EOF; in-place lists; close(fd) drops knotes. */
#include "kqtest.h"
#include <sys/socket.h>

int main(void)
{
    struct kevent ev[4], list[2];
    char buf[64];
    int p[2], s[2], q[2], kq = kqueue();
    struct kevent e;

    CHECK(kq >= 0);
    CHECK(pipe(p) == 0);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);

    /* Level-triggered READ: data is the byte count, reported until drained. */
    kev_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, (void *)0xabc);
    expect_none(kq, 0);
    CHECK(write(p[1], "hello", 5) == 5);
    e = expect_one(kq, p[0], EVFILT_READ);
    CHECK(e.data == 5 && e.udata == (void *)0xabc && !(e.flags & EV_EOF));
    CHECK(expect_one(kq, p[0], EVFILT_READ).data == 5);
    CHECK(read(p[0], buf, 5) == 5);
    expect_none(kq, 0);

    /* EV_DISABLE keeps it quiet; EV_ENABLE reports the pending data. */
    kev_change(kq, p[0], EVFILT_READ, EV_DISABLE, 0, 0, (void *)0xabc);
    CHECK(write(p[1], "a", 1) == 1);
    expect_none(kq, 50);
    kev_change(kq, p[0], EVFILT_READ, EV_ENABLE, 0, 0, (void *)0xabc);
    CHECK(expect_one(kq, p[0], EVFILT_READ).data == 1);

    /* EV_CLEAR: one event per change of state. */
    kev_change(kq, p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL);
    kev_change(kq, p[0], EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, (void *)0xabc);
    CHECK(expect_one(kq, p[0], EVFILT_READ).data == 1);
    expect_none(kq, 0);
    CHECK(write(p[1], "b", 1) == 1);
    CHECK(expect_one(kq, p[0], EVFILT_READ).data == 2);
    expect_none(kq, 0);
    CHECK(read(p[0], buf, sizeof buf) == 2);

    /* EV_DELETE: no more events. */
    kev_change(kq, p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL);
    CHECK(write(p[1], "c", 1) == 1);
    expect_none(kq, 20);

    /* EV_ONESHOT: one event, then the knote is gone (EV_DELETE finds nothing). */
    kev_change(kq, p[0], EVFILT_READ, EV_ADD | EV_ONESHOT, 0, 0, NULL);
    CHECK(expect_one(kq, p[0], EVFILT_READ).flags & EV_ONESHOT);
    expect_none(kq, 0);
    EV_SET(&ev[0], p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL);
    CHECK(kev_wait(kq, ev, 1, ev, 1, 0) == 1 && ev[0].flags == EV_ERROR && ev[0].data == ENOENT);

    /* EV_DISPATCH: one event, then disabled until EV_ENABLE. */
    kev_change(kq, p[0], EVFILT_READ, EV_ADD | EV_DISPATCH, 0, 0, NULL);
    CHECK(expect_one(kq, p[0], EVFILT_READ).data == 1);
    expect_none(kq, 20);
    kev_change(kq, p[0], EVFILT_READ, EV_ENABLE, 0, 0, NULL);
    CHECK(expect_one(kq, p[0], EVFILT_READ).data == 1);
    expect_none(kq, 0);
    CHECK(read(p[0], buf, sizeof buf) == 1);

    /* EV_EOF when the writer closes. */
    kev_change(kq, p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL);
    kev_change(kq, p[0], EVFILT_READ, EV_ADD | EV_ENABLE, 0, 0, NULL);
    CHECK(close(p[1]) == 0);
    e = expect_one(kq, p[0], EVFILT_READ);
    CHECK((e.flags & EV_EOF) && e.data == 0);
    kev_change(kq, p[0], EVFILT_READ, EV_DELETE, 0, 0, NULL);

    /* WRITE on a socket: room to write; READ and WRITE on one fd are independent. */
    kev_change(kq, s[0], EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, (void *)1);
    kev_change(kq, s[0], EVFILT_READ, EV_ADD, 0, 0, (void *)2);
    e = expect_one(kq, s[0], EVFILT_WRITE);
    CHECK(e.data > 0 && e.udata == (void *)1);
    expect_none(kq, 0);
    CHECK(write(s[1], "xyz", 3) == 3);
    e = expect_one(kq, s[0], EVFILT_READ);
    CHECK(e.data == 3 && e.udata == (void *)2);
    /* Peer gone: EV_EOF on both. */
    CHECK(close(s[1]) == 0);
    CHECK(kev_wait(kq, NULL, 0, ev, 4, 2000) == 2);
    CHECK((ev[0].flags & EV_EOF) && (ev[1].flags & EV_EOF));
    CHECK(ev[0].filter != ev[1].filter);

    /* One array as changelist and eventlist. */
    CHECK(pipe(q) == 0);
    CHECK(write(q[1], "zz", 2) == 2);
    EV_SET(&list[0], q[0], EVFILT_READ, EV_ADD, 0, 0, (void *)7);
    EV_SET(&list[1], q[1], EVFILT_WRITE, EV_ADD | EV_ONESHOT, 0, 0, (void *)8);
    CHECK(kev_wait(kq, list, 2, list, 2, 2000) >= 1);

    /* Overlapping lists, the eventlist one entry after the changelist: the error entry
     * of change 0 lands on change 1, which must have been read before. */
    {
        struct kevent arr[3];
        int r[2];
        CHECK(pipe(r) == 0);
        EV_SET(&arr[0], r[0], EVFILT_READ, EV_DELETE, 0, 0, (void *)8);
        EV_SET(&arr[1], r[0], EVFILT_READ, EV_ADD, 0, 0, (void *)9);
        CHECK(kev_wait(kq, &arr[0], 2, &arr[1], 2, 0) == 1);
        CHECK(arr[1].flags == EV_ERROR && arr[1].data == ENOENT && arr[1].udata == (void *)8);
        /* Change 1 was applied: the knote exists. */
        kev_change(kq, r[0], EVFILT_READ, EV_DELETE, 0, 0, NULL);
        close(r[0]);
        close(r[1]);
    }
    CHECK(close(kq) == 0);

    /* close(fd) of a watched descriptor drops its knotes: the reused number never
     * reports the old registration, and EV_DELETE finds nothing. */
    kq = kqueue();
    CHECK(kq >= 0);
    {
        int a[2], b[2], n;
        CHECK(pipe(a) == 0);
        kev_change(kq, a[0], EVFILT_READ, EV_ADD, 0, 0, (void *)0x01d);
        CHECK(close(a[0]) == 0 && close(a[1]) == 0);
        CHECK(pipe(b) == 0);
        CHECK(b[0] == a[0]);
        CHECK(write(b[1], "n", 1) == 1);
        n = kev_wait(kq, NULL, 0, ev, 4, 50);
        CHECK(n == 0);
        EV_SET(&ev[0], b[0], EVFILT_READ, EV_DELETE, 0, 0, NULL);
        CHECK(kev_wait(kq, ev, 1, ev, 1, 0) == 1 && ev[0].data == ENOENT);
        /* A new registration under the number works. */
        kev_change(kq, b[0], EVFILT_READ, EV_ADD, 0, 0, (void *)0x2e);
        CHECK(expect_one(kq, b[0], EVFILT_READ).udata == (void *)0x2e);
    }
    /* kq_kqueue(KQ_EDGE_NODATA): edge-triggered events without data; level ones keep it. */
    {
        int lean = kq_kqueue(KQ_EDGE_NODATA), t[2];
        CHECK(lean >= 0);
        errno = 0;
        CHECK(kq_kqueue(0x80) == -1 && errno == EINVAL);
        CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, t) == 0);
        kev_change(lean, t[0], EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, NULL);
        CHECK(write(t[1], "abcd", 4) == 4);
        e = expect_one(lean, t[0], EVFILT_READ);
        CHECK(e.data == 0 && !(e.flags & EV_EOF));
        kev_change(lean, t[0], EVFILT_READ, EV_DELETE, 0, 0, NULL);
        kev_change(lean, t[0], EVFILT_READ, EV_ADD, 0, 0, NULL);
        CHECK(expect_one(lean, t[0], EVFILT_READ).data == 4);
        close(lean);
        close(t[0]);
        close(t[1]);
    }
    puts("ok read_write");
    return 0;
}
