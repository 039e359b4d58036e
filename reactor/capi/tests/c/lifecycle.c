/* The descriptor's life: close(kq) releases everything (10,000 cycles: fd count and RSS),
 * close(kq) wakes a blocked waiter, a forked child does not inherit the kqueue, the
 * descriptor is pollable and can be watched by another kqueue. */
#include "kqtest.h"
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <sys/wait.h>

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;
    CHECK(d != NULL);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

static long rss_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");
    CHECK(f != NULL);
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* One cycle with knotes of several kinds, so that close(kq) must free them too. */
static void cycle(int with_knotes)
{
    int kq = kqueue(), p[2];
    CHECK(kq >= 0);
    if (with_knotes) {
        CHECK(pipe(p) == 0);
        kev_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, NULL);
        kev_change(kq, 1, EVFILT_TIMER, EV_ADD, 0, 1000, NULL);
        kev_change(kq, 2, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, NULL);
        close(p[0]);
        close(p[1]);
    }
    CHECK(close(kq) == 0);
}

struct blocked {
    int kq;
    volatile int done;
    int result, err;
};

static void *block_forever(void *arg)
{
    struct blocked *b = arg;
    struct kevent ev;
    b->result = kevent(b->kq, NULL, 0, &ev, 1, NULL);
    b->err = errno;
    b->done = 1;
    return NULL;
}

int main(void)
{
    int i, fds0, kq, kq2, p[2], status;
    long rss0, rss1;
    struct kevent ev;
    struct pollfd pfd;
    pid_t pid;

    /* 1. 10,000 kqueue()/close() cycles leak neither descriptors nor memory. */
    for (i = 0; i < 1000; i++)
        cycle(i % 2);
    fds0 = count_fds();
    rss0 = rss_kb();
    for (i = 0; i < 10000; i++)
        cycle(i % 2);
    rss1 = rss_kb();
    /* A closed kqueue is released by a later kqueue()/kevent(): at most a few wait. */
    CHECK(kq_count() <= 64);
    CHECK(count_fds() <= fds0 + 8);
    printf("10,000 cycles: fds %d -> %d, RSS %ld -> %ld kB, kqueues held %d\n", fds0,
           count_fds(), rss0, rss1, kq_count());
    CHECK(rss1 - rss0 < 2048);

    /* 2. close(kq) from another thread wakes a thread blocked in kevent(): EBADF. */
    {
        struct blocked b;
        pthread_t t;
        double t0;
        b.kq = kqueue();
        b.done = 0;
        CHECK(b.kq >= 0);
        CHECK(pthread_create(&t, NULL, block_forever, &b) == 0);
        usleep(150000); /* mid-slice: the wait checks its descriptor every 100 ms */
        CHECK(!b.done);
        t0 = now_ms();
        CHECK(close(b.kq) == 0);
        while (!b.done && now_ms() - t0 < 5000)
            usleep(1000);
        CHECK(b.done);
        CHECK(pthread_join(t, NULL) == 0);
        CHECK(b.result == -1 && b.err == EBADF);
        printf("close woke the waiter after %.0f ms\n", now_ms() - t0);
    }

    /* 3. The descriptor is pollable: readable while an event is pending, and without any
     * kevent() call in between. */
    kq = kqueue();
    CHECK(kq >= 0);
    CHECK(pipe(p) == 0);
    kev_change(kq, p[0], EVFILT_READ, EV_ADD, 0, 0, (void *)4);
    pfd.fd = kq;
    pfd.events = POLLIN;
    CHECK(poll(&pfd, 1, 0) == 0);
    CHECK(write(p[1], "p", 1) == 1);
    CHECK(poll(&pfd, 1, 5000) == 1 && (pfd.revents & POLLIN));
    CHECK(expect_one(kq, p[0], EVFILT_READ).udata == (void *)4);

    /* 4. ... and watched by another kqueue, which reports the pending count. */
    kq2 = kqueue();
    CHECK(kq2 >= 0);
    kev_change(kq2, kq, EVFILT_READ, EV_ADD, 0, 0, (void *)6);
    ev = expect_one(kq2, kq, EVFILT_READ);
    CHECK(ev.data == 1 && ev.udata == (void *)6);
    kev_change(kq, 5, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, NULL);
    ev = expect_one(kq2, kq, EVFILT_READ);
    CHECK(ev.data == 2);
    {
        char c;
        CHECK(read(p[0], &c, 1) == 1);
    }
    kev_change(kq, 5, EVFILT_USER, EV_DELETE, 0, 0, NULL);
    /* The drained pipe's knote stays queued (and counted, as FreeBSD's kq_count) until
     * a scan of kq drops it. */
    expect_none(kq, 0);
    expect_none(kq2, 50);
    pfd.revents = 0;
    CHECK(poll(&pfd, 1, 0) == 0);

    /* 5. A forked child does not inherit the kqueue: EBADF there; the parent's is intact. */
    CHECK(write(p[1], "f", 1) == 1);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct kevent e2;
        errno = 0;
        if (kevent(kq, NULL, 0, &e2, 1, NULL) != -1 || errno != EBADF)
            _exit(1);
        errno = 0;
        if (kevent(kq2, NULL, 0, &e2, 1, NULL) != -1 || errno != EBADF)
            _exit(2);
        /* The child's own kqueues work. */
        i = kqueue();
        if (i < 0)
            _exit(3);
        EV_SET(&e2, 1, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, NULL);
        if (kevent(i, &e2, 1, &e2, 1, NULL) != 1 || e2.ident != 1)
            _exit(4);
        _exit(0);
    }
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(expect_one(kq, p[0], EVFILT_READ).data == 1);

    close(kq2);
    close(kq);
    close(p[0]);
    close(p[1]);
    puts("ok lifecycle");
    return 0;
}
