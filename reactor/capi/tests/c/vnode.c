/* EVFILT_VNODE on a real file in a temporary directory: NOTE_WRITE, NOTE_EXTEND,
 * NOTE_ATTRIB, NOTE_LINK, NOTE_RENAME, NOTE_DELETE. */
#include "kqtest.h"
#include <sys/stat.h>

int main(void)
{
    char dir[] = "/tmp/kq-capi-vnode-XXXXXX", path[256], path2[256], link2[256];
    struct kevent e;
    int kq = kqueue(), fd;
    unsigned int all = NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_LINK | NOTE_RENAME |
                       NOTE_DELETE;

    CHECK(kq >= 0);
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/f", dir);
    snprintf(path2, sizeof path2, "%s/g", dir);
    snprintf(link2, sizeof link2, "%s/h", dir);
    fd = open(path, O_CREAT | O_RDWR, 0600);
    CHECK(fd >= 0);
    kev_change(kq, fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, all, 0, (void *)5);
    expect_none(kq, 0);

    CHECK(write(fd, "data", 4) == 4);
    e = expect_one(kq, fd, EVFILT_VNODE);
    CHECK((e.fflags & NOTE_WRITE) && (e.fflags & NOTE_EXTEND) && e.udata == (void *)5);

    CHECK(fchmod(fd, 0644) == 0);
    CHECK(expect_one(kq, fd, EVFILT_VNODE).fflags & NOTE_ATTRIB);

    CHECK(link(path, link2) == 0);
    CHECK(expect_one(kq, fd, EVFILT_VNODE).fflags & NOTE_LINK);
    /* Removing a link is NOTE_DELETE, as FreeBSD's vop_remove reports it. */
    CHECK(unlink(link2) == 0);
    CHECK(expect_one(kq, fd, EVFILT_VNODE).fflags & NOTE_DELETE);

    CHECK(rename(path, path2) == 0);
    CHECK(expect_one(kq, fd, EVFILT_VNODE).fflags & NOTE_RENAME);

    CHECK(unlink(path2) == 0);
    CHECK(expect_one(kq, fd, EVFILT_VNODE).fflags & NOTE_DELETE);

    /* Only the requested notes are reported. */
    {
        int fd2;
        snprintf(path, sizeof path, "%s/k", dir);
        fd2 = open(path, O_CREAT | O_RDWR, 0600);
        CHECK(fd2 >= 0);
        kev_change(kq, fd2, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_DELETE, 0, NULL);
        CHECK(write(fd2, "x", 1) == 1);
        expect_none(kq, 50);
        CHECK(unlink(path) == 0);
        CHECK(expect_one(kq, fd2, EVFILT_VNODE).fflags == NOTE_DELETE);
        close(fd2);
    }
    close(fd);
    CHECK(rmdir(dir) == 0);
    close(kq);
    puts("ok vnode");
    return 0;
}
