/* The ABI: struct kevent's layout (libkqueue's on Linux), EV_SET, kq's own symbols. */
#include "kqtest.h"
#include <stddef.h>

int main(void)
{
    struct kevent k[2];
    int i = 0;

    CHECK(sizeof(struct kevent) == 32);
    CHECK(offsetof(struct kevent, ident) == 0);
    CHECK(offsetof(struct kevent, filter) == 8);
    CHECK(offsetof(struct kevent, flags) == 10);
    CHECK(offsetof(struct kevent, fflags) == 12);
    CHECK(offsetof(struct kevent, data) == 16);
    CHECK(offsetof(struct kevent, udata) == 24);

    /* EV_SET evaluates its pointer argument once. */
    EV_SET(&k[i++], 7, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_USECONDS, -5, &i);
    CHECK(i == 1);
    CHECK(k[0].ident == 7 && k[0].filter == EVFILT_TIMER);
    CHECK(k[0].flags == (EV_ADD | EV_ONESHOT) && k[0].fflags == NOTE_USECONDS);
    CHECK(k[0].data == -5 && k[0].udata == &i);

    CHECK(strncmp(kq_version(), "kq ", 3) == 0);
    CHECK(libkqueue_init() == 0);
    puts("ok abi");
    return 0;
}
