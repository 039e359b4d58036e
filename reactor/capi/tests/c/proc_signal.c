/* EVFILT_PROC (NOTE_EXIT with the wait status, of a real child) and EVFILT_SIGNAL (real
 * signals, counted, beside an ignoring disposition). */
#include "kqtest.h"
#include <signal.h>
#include <sys/wait.h>

int main(void)
{
    struct kevent e;
    int kq = kqueue(), status;
    pid_t pid;

    CHECK(kq >= 0);

    /* A child that exits with 7 after a moment. */
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        usleep(100000);
        _exit(7);
    }
    kev_change(kq, pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, (void *)3);
    e = expect_one(kq, pid, EVFILT_PROC);
    CHECK((e.fflags & NOTE_EXIT) && (e.flags & EV_EOF) && e.udata == (void *)3);
    CHECK(WIFEXITED(e.data) && WEXITSTATUS(e.data) == 7);
    /* The child is still there to be reaped by its parent. */
    CHECK(waitpid(pid, &status, 0) == pid && WEXITSTATUS(status) == 7);

    /* A child that already exited (not yet reaped) still reports. */
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        _exit(3);
    {
        siginfo_t si;
        CHECK(waitid(P_PID, pid, &si, WEXITED | WNOWAIT) == 0);
    }
    kev_change(kq, pid, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, NULL);
    e = expect_one(kq, pid, EVFILT_PROC);
    CHECK(WEXITSTATUS(e.data) == 3);
    CHECK(waitpid(pid, &status, 0) == pid);

    /* No such process: ESRCH. */
    {
        struct kevent ch, out;
        EV_SET(&ch, 999999999, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, NULL);
        CHECK(kevent(kq, &ch, 1, &out, 1, NULL) == 1);
        CHECK(out.flags == EV_ERROR && out.data == ESRCH);
    }

    /* Signals: counted, delivered to an ignoring process too. */
    CHECK(signal(SIGUSR1, SIG_IGN) != SIG_ERR);
    kev_change(kq, SIGUSR1, EVFILT_SIGNAL, EV_ADD | EV_CLEAR, 0, 0, (void *)9);
    expect_none(kq, 0);
    CHECK(kill(getpid(), SIGUSR1) == 0);
    CHECK(kill(getpid(), SIGUSR1) == 0);
    e = expect_one(kq, SIGUSR1, EVFILT_SIGNAL);
    CHECK(e.data == 2 && e.udata == (void *)9);
    expect_none(kq, 0);
    /* From another process. */
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        kill(getppid(), SIGUSR1);
        _exit(0);
    }
    CHECK(expect_one(kq, SIGUSR1, EVFILT_SIGNAL).data == 1);
    CHECK(waitpid(pid, &status, 0) == pid);
    /* SIGKILL cannot be caught. */
    {
        struct kevent ch, out;
        EV_SET(&ch, SIGKILL, EVFILT_SIGNAL, EV_ADD, 0, 0, NULL);
        CHECK(kevent(kq, &ch, 1, &out, 1, NULL) == 1 && out.flags == EV_ERROR);
        CHECK(out.data == EINVAL);
    }
    close(kq);
    puts("ok proc_signal");
    return 0;
}
