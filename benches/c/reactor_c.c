/*
 * The C row of the core's benchmark (benches/src/bin/reactor.rs, benchmark 4): the
 * workloads of benchmarks 2 and 3 written in C, through kq's C library (libkq.so:
 * kqueue()/kevent()) and through raw epoll, alternated in each round.
 *
 * Usage: reactor_c ROUNDS SAMPLE_MS
 *
 * Prints one line per round and workload (round 0 is the warm-up):
 *   reg   ROUND KQ_WALL KQ_CPU EPOLL_WALL EPOLL_CPU     ns per add+delete pair
 *   ready ROUND KQ_WALL KQ_CPU EPOLL_WALL EPOLL_CPU     ns per delivered event
 *   lean  ROUND KQ_WALL KQ_CPU EPOLL_WALL EPOLL_CPU     the same, kq_kqueue(KQ_EDGE_NODATA)
 *   floor ROUND FL_WALL FL_CPU EPOLL_WALL EPOLL_CPU     raw epoll plus one FIONREAD per event:
 *                                                       the least any library can spend to
 *                                                       report kqueue's exact data on Linux
 * and "calls KQ EPOLL" (wait calls per 1,000 events, last round). Exit 1 on any error.
 */
#define _GNU_SOURCE
#include <sys/event.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PAIRS 1000
#define ROOM 1024
#define EPOLL_ET (EPOLLIN | EPOLLRDHUP | EPOLLET)

static int rd[PAIRS], wr[PAIRS];

static void die(const char *what)
{
    fprintf(stderr, "reactor_c: %s: %s\n", what, strerror(errno));
    exit(1);
}

static unsigned long long ns(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (unsigned long long)t.tv_sec * 1000000000ULL + (unsigned long long)t.tv_nsec;
}

struct meas {
    unsigned long long wall, cpu, units;
};

static void arm(void)
{
    int i;
    for (i = 0; i < PAIRS; i++)
        if (write(wr[i], "x", 1) != 1)
            die("arming");
}

static void drain(void)
{
    char c;
    int i;
    for (i = 0; i < PAIRS; i++)
        if (read(rd[i], &c, 1) != 1)
            die("draining");
}

/* Benchmark 2: one kevent call per EV_ADD|EV_CLEAR, then one per EV_DELETE. */
static struct meas reg_kq(unsigned long long target)
{
    struct meas m = {0, 0, 0};
    unsigned long long start = ns(CLOCK_MONOTONIC), w0, c0;
    struct kevent ch;
    int kq = kqueue(), i;
    if (kq < 0)
        die("kqueue");
    do {
        w0 = ns(CLOCK_MONOTONIC);
        c0 = ns(CLOCK_THREAD_CPUTIME_ID);
        for (i = 0; i < PAIRS; i++) {
            EV_SET(&ch, rd[i], EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, 0);
            if (kevent(kq, &ch, 1, NULL, 0, NULL) != 0)
                die("kevent EV_ADD");
        }
        for (i = 0; i < PAIRS; i++) {
            EV_SET(&ch, rd[i], EVFILT_READ, EV_DELETE, 0, 0, 0);
            if (kevent(kq, &ch, 1, NULL, 0, NULL) != 0)
                die("kevent EV_DELETE");
        }
        m.cpu += ns(CLOCK_THREAD_CPUTIME_ID) - c0;
        m.wall += ns(CLOCK_MONOTONIC) - w0;
        m.units += PAIRS;
    } while (ns(CLOCK_MONOTONIC) - start < target);
    close(kq);
    return m;
}

static struct meas reg_epoll(unsigned long long target)
{
    struct meas m = {0, 0, 0};
    unsigned long long start = ns(CLOCK_MONOTONIC), w0, c0;
    struct epoll_event ev;
    int ep = epoll_create1(EPOLL_CLOEXEC), i;
    if (ep < 0)
        die("epoll_create1");
    do {
        w0 = ns(CLOCK_MONOTONIC);
        c0 = ns(CLOCK_THREAD_CPUTIME_ID);
        for (i = 0; i < PAIRS; i++) {
            ev.events = EPOLL_ET;
            ev.data.u64 = (unsigned long long)i;
            if (epoll_ctl(ep, EPOLL_CTL_ADD, rd[i], &ev) != 0)
                die("epoll_ctl ADD");
        }
        for (i = 0; i < PAIRS; i++)
            if (epoll_ctl(ep, EPOLL_CTL_DEL, rd[i], NULL) != 0)
                die("epoll_ctl DEL");
        m.cpu += ns(CLOCK_THREAD_CPUTIME_ID) - c0;
        m.wall += ns(CLOCK_MONOTONIC) - w0;
        m.units += PAIRS;
    } while (ns(CLOCK_MONOTONIC) - start < target);
    close(ep);
    return m;
}

/* Benchmark 3: all sockets readable, edge-triggered; only the wait calls are timed. */
static struct meas ready_kq(unsigned long long target, int lean, double *calls)
{
    static struct kevent ch[PAIRS], ev[ROOM];
    struct meas m = {0, 0, 0};
    unsigned long long start = ns(CLOCK_MONOTONIC), w0, c0, ncalls = 0, iters = 0;
    int kq = lean ? kq_kqueue(KQ_EDGE_NODATA) : kqueue(), i, got, n;
    if (kq < 0)
        die("kqueue");
    for (i = 0; i < PAIRS; i++)
        EV_SET(&ch[i], rd[i], EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, 0);
    if (kevent(kq, ch, PAIRS, NULL, 0, NULL) != 0)
        die("registering");
    do {
        arm();
        w0 = ns(CLOCK_MONOTONIC);
        c0 = ns(CLOCK_THREAD_CPUTIME_ID);
        for (got = 0; got < PAIRS; got += n, ncalls++)
            if ((n = kevent(kq, NULL, 0, ev, ROOM, NULL)) < 0)
                die("kevent wait");
        m.cpu += ns(CLOCK_THREAD_CPUTIME_ID) - c0;
        m.wall += ns(CLOCK_MONOTONIC) - w0;
        if (got != PAIRS)
            die("event count");
        m.units += PAIRS;
        iters++;
        drain();
    } while (ns(CLOCK_MONOTONIC) - start < target);
    *calls = (double)ncalls / (double)iters;
    close(kq);
    return m;
}

/* Benchmark 3 with the byte count kevent() reports taken the only way Linux offers, one
 * FIONREAD per event (data != 0 says it was read). */
static struct meas ready_epoll(unsigned long long target, double *calls, int data)
{
    static struct epoll_event ev[ROOM];
    struct meas m = {0, 0, 0};
    unsigned long long start = ns(CLOCK_MONOTONIC), w0, c0, ncalls = 0, iters = 0;
    struct epoll_event e;
    int ep = epoll_create1(EPOLL_CLOEXEC), i, got, n;
    if (ep < 0)
        die("epoll_create1");
    for (i = 0; i < PAIRS; i++) {
        e.events = EPOLL_ET;
        e.data.u64 = (unsigned long long)i;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, rd[i], &e) != 0)
            die("registering");
    }
    do {
        arm();
        w0 = ns(CLOCK_MONOTONIC);
        c0 = ns(CLOCK_THREAD_CPUTIME_ID);
        for (got = 0; got < PAIRS; got += n, ncalls++) {
            if ((n = epoll_wait(ep, ev, ROOM, -1)) < 0)
                die("epoll_wait");
            for (i = 0; data && i < n; i++) {
                int avail = 0;
                if (ioctl(rd[ev[i].data.u64], FIONREAD, &avail) != 0 || avail != 1)
                    die("FIONREAD");
            }
        }
        m.cpu += ns(CLOCK_THREAD_CPUTIME_ID) - c0;
        m.wall += ns(CLOCK_MONOTONIC) - w0;
        if (got != PAIRS)
            die("event count");
        m.units += PAIRS;
        iters++;
        drain();
    } while (ns(CLOCK_MONOTONIC) - start < target);
    *calls = (double)ncalls / (double)iters;
    close(ep);
    return m;
}

static void show(const char *what, int round, struct meas a, struct meas b)
{
    printf("%s %d %.1f %.1f %.1f %.1f\n", what, round, (double)a.wall / a.units,
           (double)a.cpu / a.units, (double)b.wall / b.units, (double)b.cpu / b.units);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int rounds, round, i, sv[2];
    unsigned long long sample;
    double kcalls = 0, ecalls = 0;
    struct rlimit rl;

    if (argc != 3) {
        fprintf(stderr, "usage: reactor_c ROUNDS SAMPLE_MS\n");
        return 2;
    }
    rounds = atoi(argv[1]);
    sample = strtoull(argv[2], NULL, 10) * 1000000ULL;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (i = 0; i < PAIRS; i++) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
            die("socketpair");
        rd[i] = sv[0];
        wr[i] = sv[1];
    }
    for (round = 0; round <= rounds; round++) {
        unsigned long long t = round == 0 ? sample / 2 : sample;
        struct meas a = reg_kq(t), b = reg_epoll(t);
        show("reg", round, a, b);
        {
            double lcalls, fcalls;
            struct meas l = ready_kq(t, 1, &lcalls), f;
            a = ready_kq(t, 0, &kcalls);
            b = ready_epoll(t, &ecalls, 0);
            f = ready_epoll(t, &fcalls, 1);
            show("ready", round, a, b);
            show("lean", round, l, b);
            show("floor", round, f, b);
        }
    }
    printf("calls %.1f %.1f\n", kcalls * 1000.0 / PAIRS, ecalls * 1000.0 / PAIRS);
    return 0;
}
