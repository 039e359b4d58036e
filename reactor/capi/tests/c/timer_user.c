/* EVFILT_TIMER (periodic, one-shot, units, never early) and EVFILT_USER (NOTE_TRIGGER,
 * NOTE_FFAND/FFOR/FFCOPY, EV_CLEAR, EV_DISPATCH). */
#include "kqtest.h"

int main(void)
{
    struct kevent e;
    int kq = kqueue();
    double t0, t1;

    CHECK(kq >= 0);

    /* Periodic 50 ms: two events, the second not before 100 ms. */
    t0 = now_ms();
    kev_change(kq, 1, EVFILT_TIMER, EV_ADD | EV_ENABLE, 0, 50, (void *)1);
    e = expect_one(kq, 1, EVFILT_TIMER);
    CHECK(e.data >= 1 && e.udata == (void *)1);
    e = expect_one(kq, 1, EVFILT_TIMER);
    t1 = now_ms();
    CHECK(t1 - t0 >= 99.0);
    CHECK(t1 - t0 < 5000.0);
    kev_change(kq, 1, EVFILT_TIMER, EV_DELETE, 0, 0, NULL);

    /* Expirations accumulate in data while nobody asks. */
    kev_change(kq, 2, EVFILT_TIMER, EV_ADD, NOTE_USECONDS, 10000, NULL);
    usleep(80000);
    CHECK(expect_one(kq, 2, EVFILT_TIMER).data >= 3);
    kev_change(kq, 2, EVFILT_TIMER, EV_DELETE, 0, 0, NULL);

    /* One-shot in seconds... too long; nanoseconds: fires once, then is gone. */
    t0 = now_ms();
    kev_change(kq, 3, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_NSECONDS, 30000000, NULL);
    CHECK(expect_one(kq, 3, EVFILT_TIMER).data == 1);
    CHECK(now_ms() - t0 >= 29.0);
    expect_none(kq, 80);

    /* Dispatch: disabled after its event, re-enabled by EV_ENABLE. */
    kev_change(kq, 4, EVFILT_TIMER, EV_ADD | EV_DISPATCH, 0, 20, NULL);
    expect_one(kq, 4, EVFILT_TIMER);
    expect_none(kq, 60);
    kev_change(kq, 4, EVFILT_TIMER, EV_ENABLE, 0, 20, NULL);
    expect_one(kq, 4, EVFILT_TIMER);
    kev_change(kq, 4, EVFILT_TIMER, EV_DELETE, 0, 0, NULL);

    /* A negative period is invalid. */
    {
        struct kevent ch, out;
        EV_SET(&ch, 5, EVFILT_TIMER, EV_ADD, 0, -1, NULL);
        CHECK(kevent(kq, &ch, 1, &out, 1, NULL) == 1 && out.flags == EV_ERROR);
        CHECK(out.data == EINVAL);
    }

    /* USER: nothing until triggered; fflags combine. */
    kev_change(kq, 10, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_FFCOPY | 0x0f, 0, (void *)10);
    expect_none(kq, 0);
    /* Every change to a knote also sets its udata (unless EV_KEEPUDATA). */
    kev_change(kq, 10, EVFILT_USER, 0, NOTE_FFOR | 0x30, 0, NULL);
    kev_change(kq, 10, EVFILT_USER, 0, NOTE_FFAND | 0x3c, 0, NULL);
    expect_none(kq, 0);
    kev_change(kq, 10, EVFILT_USER, 0, NOTE_TRIGGER, 0, (void *)10);
    e = expect_one(kq, 10, EVFILT_USER);
    CHECK(e.fflags == 0x3c && e.udata == (void *)10);
    expect_none(kq, 0); /* EV_CLEAR: reset after retrieval */
    kev_change(kq, 10, EVFILT_USER, 0, NOTE_FFCOPY | NOTE_TRIGGER | 0x1, 0, NULL);
    CHECK(expect_one(kq, 10, EVFILT_USER).fflags == 0x1);

    /* Without EV_CLEAR a triggered USER knote stays active. */
    kev_change(kq, 11, EVFILT_USER, EV_ADD, 0, 0, NULL);
    kev_change(kq, 11, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    expect_one(kq, 11, EVFILT_USER);
    expect_one(kq, 11, EVFILT_USER);
    kev_change(kq, 11, EVFILT_USER, EV_DELETE, 0, 0, NULL);
    expect_none(kq, 0);

    /* EV_DISPATCH + EV_ONESHOT on USER. */
    kev_change(kq, 12, EVFILT_USER, EV_ADD | EV_ONESHOT, NOTE_TRIGGER, 0, NULL);
    expect_one(kq, 12, EVFILT_USER);
    expect_none(kq, 0);
    close(kq);
    puts("ok timer_user");
    return 0;
}
