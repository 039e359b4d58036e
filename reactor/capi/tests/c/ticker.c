/* The tutorial's first program, kq's own version: a periodic EVFILT_TIMER whose every
 * event forks and execs date(1). Two ticks of 200 ms, then it reaps the children
 * (watching them with EVFILT_PROC) and exits. The harness checks the two dates printed. */
#include "kqtest.h"
#include <sys/wait.h>

int main(void)
{
    struct kevent change, event;
    int kq, nev, ticks = 0, exited = 0;
    pid_t pid;
    double t0 = now_ms();

    if ((kq = kqueue()) == -1) {
        perror("kqueue()");
        return 1;
    }
    EV_SET(&change, 1, EVFILT_TIMER, EV_ADD | EV_ENABLE, 0, 200, 0);
    CHECK(kevent(kq, &change, 1, NULL, 0, NULL) == 0);
    while (exited < 2) {
        nev = kevent(kq, NULL, 0, &event, 1, NULL);
        CHECK(nev == 1);
        CHECK(!(event.flags & EV_ERROR));
        if (event.filter == EVFILT_TIMER && ticks < 2) {
            ticks++;
            fflush(stdout);
            pid = fork();
            CHECK(pid >= 0);
            if (pid == 0) {
                execlp("date", "date", (char *)0);
                _exit(127);
            }
            /* The child is watched until it exits (the tutorial leaves zombies). */
            EV_SET(&change, pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, 0);
            CHECK(kevent(kq, &change, 1, NULL, 0, NULL) == 0);
            if (ticks == 2) {
                EV_SET(&change, 1, EVFILT_TIMER, EV_DELETE, 0, 0, 0);
                CHECK(kevent(kq, &change, 1, NULL, 0, NULL) == 0);
            }
        } else if (event.filter == EVFILT_PROC) {
            int status;
            CHECK(WIFEXITED(event.data) && WEXITSTATUS(event.data) == 0);
            CHECK(waitpid(event.ident, &status, 0) == (pid_t)event.ident);
            exited++;
        }
    }
    /* Never early: the second tick comes 400 ms after the start at the earliest. */
    CHECK(now_ms() - t0 >= 399.0);
    close(kq);
    printf("ticks %d\n", ticks);
    return 0;
}
