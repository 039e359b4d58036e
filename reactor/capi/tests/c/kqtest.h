/*
 * Helpers of kq's C conformance suite: each program is one area, exits 0 when every
 * check passed, and prints the failing check (file:line and the expression) otherwise.
 * Built with -std=c99 by tests/c_suite.rs, linked against the freshly built libkq.
 */
#ifndef KQTEST_H
#define KQTEST_H

#include <sys/event.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: check failed: %s (errno %d: %s)\n", __FILE__,   \
                    __LINE__, #cond, errno, strerror(errno));                       \
            exit(1);                                                                \
        }                                                                           \
    } while (0)

/* kevent with a timeout in milliseconds (negative: forever). */
static inline int kev_wait(int kq, const struct kevent *ch, int nch, struct kevent *ev,
                           int nev, long ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    return kevent(kq, ch, nch, ev, nev, ms < 0 ? NULL : &ts);
}

/* Applies one change and expects success (no EV_ERROR entry, no error). */
static inline void kev_change(int kq, uintptr_t ident, short filter, unsigned short flags,
                              unsigned int fflags, intptr_t data, void *udata)
{
    struct kevent ch, out;
    EV_SET(&ch, ident, filter, flags | EV_RECEIPT, fflags, data, udata);
    int n = kevent(kq, &ch, 1, &out, 1, NULL);
    if (n != 1 || !(out.flags & EV_ERROR) || out.data != 0) {
        fprintf(stderr, "change ident=%lu filter=%d flags=%#x failed: n=%d data=%ld\n",
                (unsigned long)ident, filter, flags, n, n == 1 ? (long)out.data : -1L);
        exit(1);
    }
}

/* Expects exactly no event within `ms`. */
static inline void expect_none(int kq, long ms)
{
    struct kevent ev;
    int n = kev_wait(kq, NULL, 0, &ev, 1, ms);
    if (n != 0) {
        fprintf(stderr, "expected no event, got n=%d ident=%lu filter=%d flags=%#x\n", n,
                (unsigned long)ev.ident, ev.filter, ev.flags);
        exit(1);
    }
}

/* Expects one event of (ident, filter) within a generous bound; returns it. */
static inline struct kevent expect_one(int kq, uintptr_t ident, short filter)
{
    struct kevent ev;
    int n = kev_wait(kq, NULL, 0, &ev, 1, 5000);
    if (n != 1 || ev.ident != ident || ev.filter != filter) {
        fprintf(stderr, "expected ident=%lu filter=%d, got n=%d ident=%lu filter=%d\n",
                (unsigned long)ident, filter, n, (unsigned long)ev.ident, ev.filter);
        exit(1);
    }
    return ev;
}

static inline double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

#endif
