/* The tutorial's second program, kq's own version: relays standard input to a TCP
 * server and the server's replies to standard output, with EVFILT_READ on both. Exits at
 * EOF from the server, or once a reply line came back after standard input ended. */
#include "kqtest.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

int main(int argc, char *argv[])
{
    struct kevent ch[2], ev[2];
    struct sockaddr_in sa;
    char buf[1024];
    int s, kq, n, i, stdin_open = 1, sent = 0, got = 0;
    ssize_t r;

    if (argc != 3) {
        fprintf(stderr, "usage: %s host port\n", argv[0]);
        return 2;
    }
    s = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(s >= 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(atoi(argv[2]));
    CHECK(inet_pton(AF_INET, argv[1], &sa.sin_addr) == 1);
    CHECK(connect(s, (struct sockaddr *)&sa, sizeof sa) == 0);

    kq = kqueue();
    CHECK(kq >= 0);
    EV_SET(&ch[0], s, EVFILT_READ, EV_ADD | EV_ENABLE, 0, 0, 0);
    EV_SET(&ch[1], STDIN_FILENO, EVFILT_READ, EV_ADD | EV_ENABLE, 0, 0, 0);
    CHECK(kevent(kq, ch, 2, NULL, 0, NULL) == 0);
    for (;;) {
        n = kev_wait(kq, NULL, 0, ev, 2, 10000);
        CHECK(n > 0);
        for (i = 0; i < n; i++) {
            CHECK(!(ev[i].flags & EV_ERROR));
            if (ev[i].ident == (uintptr_t)s) {
                r = read(s, buf, sizeof buf);
                CHECK(r >= 0);
                if (r == 0)
                    return got ? 0 : 1;
                CHECK(ev[i].data >= r);
                fwrite(buf, 1, r, stdout);
                fflush(stdout);
                got += r;
                if (!stdin_open && got >= sent)
                    return 0;
            } else if (ev[i].ident == STDIN_FILENO) {
                r = read(STDIN_FILENO, buf, sizeof buf);
                CHECK(r >= 0);
                if (r == 0 || (ev[i].flags & EV_EOF && ev[i].data == 0)) {
                    stdin_open = 0;
                    EV_SET(&ch[0], STDIN_FILENO, EVFILT_READ, EV_DELETE, 0, 0, 0);
                    CHECK(kevent(kq, ch, 1, NULL, 0, NULL) == 0);
                    if (got >= sent && sent > 0)
                        return 0;
                    continue;
                }
                CHECK(send(s, buf, r, 0) == r);
                sent += r;
            }
        }
    }
}
