/* Many threads on one kqueue: concurrent waiters each get an event exactly once;
 * a waiter is woken by another thread's change; EV_DELETE racing delivery. */
#include "kqtest.h"
#include <pthread.h>

#define EVENTS 400
#define WAITERS 4
#define STOP 100000

static int kq;
static int seen[EVENTS];
static int delivered;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *waiter(void *arg)
{
    struct kevent ev[8];
    int i, n;
    (void)arg;
    for (;;) {
        n = kev_wait(kq, NULL, 0, ev, 8, 10000);
        CHECK(n > 0); /* never an error, never a 10 s silence */
        for (i = 0; i < n; i++) {
            if (ev[i].ident == STOP)
                return NULL;
            CHECK(ev[i].filter == EVFILT_USER && ev[i].ident < EVENTS);
            pthread_mutex_lock(&mu);
            seen[ev[i].ident]++;
            delivered++;
            pthread_mutex_unlock(&mu);
        }
    }
}

static void *blocked_user(void *arg)
{
    struct kevent ev;
    (void)arg;
    /* No timeout: only another thread's change can end this wait. */
    CHECK(kevent(kq, NULL, 0, &ev, 1, NULL) == 1);
    CHECK(ev.ident == 77 && ev.filter == EVFILT_USER);
    return NULL;
}

static volatile int racing = 1;
static int pfd[2];

static void *race_reader(void *arg)
{
    struct kevent ev[4];
    int i, n;
    (void)arg;
    while (racing) {
        n = kev_wait(kq, NULL, 0, ev, 4, 5);
        CHECK(n >= 0);
        for (i = 0; i < n; i++)
            CHECK(ev[i].ident == (uintptr_t)pfd[0] && ev[i].filter == EVFILT_READ);
    }
    return NULL;
}

int main(void)
{
    pthread_t t[WAITERS], b;
    struct kevent ch[EVENTS];
    int i, spins;
    char c;

    kq = kqueue();
    CHECK(kq >= 0);

    /* 1. Concurrent waiters, EV_ONESHOT events: each delivered exactly once. */
    for (i = 0; i < WAITERS; i++)
        CHECK(pthread_create(&t[i], NULL, waiter, NULL) == 0);
    for (i = 0; i < EVENTS; i++)
        EV_SET(&ch[i], i, EVFILT_USER, EV_ADD | EV_ONESHOT, NOTE_TRIGGER, 0, NULL);
    /* In batches from this thread while the waiters wait. */
    for (i = 0; i < EVENTS; i += 50)
        CHECK(kevent(kq, &ch[i], 50, NULL, 0, NULL) == 0);
    for (spins = 0; spins < 1000; spins++) {
        int d;
        pthread_mutex_lock(&mu);
        d = delivered;
        pthread_mutex_unlock(&mu);
        if (d >= EVENTS)
            break;
        usleep(10000);
    }
    usleep(50000); /* room for a duplicate to show up */
    kev_change(kq, STOP, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, NULL);
    for (i = 0; i < WAITERS; i++)
        CHECK(pthread_join(t[i], NULL) == 0);
    CHECK(delivered == EVENTS);
    for (i = 0; i < EVENTS; i++)
        CHECK(seen[i] == 1);
    kev_change(kq, STOP, EVFILT_USER, EV_DELETE, 0, 0, NULL);

    /* 2. A thread blocked forever is woken by a change from this thread. */
    kev_change(kq, 77, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
    CHECK(pthread_create(&b, NULL, blocked_user, NULL) == 0);
    usleep(50000);
    kev_change(kq, 77, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    CHECK(pthread_join(b, NULL) == 0);
    kev_change(kq, 77, EVFILT_USER, EV_DELETE, 0, 0, NULL);

    /* 3. EV_DELETE racing delivery: a reader waits while this thread adds, fires and
     * deletes a READ knote 2,000 times; afterwards the deleted knote never reports. */
    CHECK(pipe(pfd) == 0);
    CHECK(pthread_create(&b, NULL, race_reader, NULL) == 0);
    for (i = 0; i < 2000; i++) {
        kev_change(kq, pfd[0], EVFILT_READ, EV_ADD | (i % 2 ? EV_CLEAR : 0), 0, 0, NULL);
        CHECK(write(pfd[1], "r", 1) == 1);
        kev_change(kq, pfd[0], EVFILT_READ, EV_DELETE, 0, 0, NULL);
        CHECK(read(pfd[0], &c, 1) == 1);
    }
    racing = 0;
    CHECK(pthread_join(b, NULL) == 0);
    CHECK(write(pfd[1], "r", 1) == 1);
    expect_none(kq, 50);
    close(kq);
    puts("ok threads");
    return 0;
}
