/* A program built against "libkqueue.so.0" (the harness links it against a stand-in
 * with that soname): it uses only kqueue() and kevent(), and reports which library
 * answered by looking for kq's own symbol at run time. Exit 0 iff the calls worked. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include "kqtest.h"

int main(void)
{
    struct kevent ch, ev;
    const char *(*version)(void);
    int kq = kqueue();

    *(void **)&version = dlsym(RTLD_DEFAULT, "kq_version");
    printf("library: %s\n", version ? version() : "not kq");
    if (kq < 0) {
        perror("kqueue");
        return 1;
    }
    EV_SET(&ch, 1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 10, 0);
    if (kevent(kq, &ch, 1, &ev, 1, NULL) != 1 || ev.ident != 1 || ev.filter != EVFILT_TIMER)
        return 1;
    puts("timer fired");
    return 0;
}
