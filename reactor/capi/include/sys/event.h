/*
 * <sys/event.h> for kq's C library (libkq): kqueue(2) and kevent(2) on Linux.
 *
 * The ABI is libkqueue's on Linux: the same struct kevent (32 bytes on 64-bit
 * targets), the same constant names and values, so programs and objects built
 * against libkqueue work with libkq and the other way round. Names libkqueue does
 * not define carry FreeBSD's values. The header is plain C89 and usable from C++.
 *
 * kq's semantics are FreeBSD's; see kq-reactor's documentation for the few
 * deviations on Linux.
 */

#ifndef KQ_SYS_EVENT_H
#define KQ_SYS_EVENT_H

/* uintptr_t and intptr_t for struct kevent. */
#include <stdint.h>

/* Tells a program it is built against kq's header (libkqueue defines LIBKQUEUE). */
#define KQ_LIBKQ 1

/*
 * Filters.
 */
#define EVFILT_READ     (-1)  /* readable data, pending connection, EOF */
#define EVFILT_WRITE    (-2)  /* room to write */
#define EVFILT_AIO      (-3)  /* not on Linux: ENXIO */
#define EVFILT_VNODE    (-4)  /* changes to a file or directory */
#define EVFILT_PROC     (-5)  /* process exit */
#define EVFILT_SIGNAL   (-6)  /* deliveries of a signal, counted */
#define EVFILT_TIMER    (-7)  /* timers */
#define EVFILT_NETDEV   (-8)  /* not on Linux: EINVAL */
#define EVFILT_FS       (-9)  /* not on Linux: EINVAL */
#define EVFILT_LIO      (-10) /* not on Linux: ENXIO */
#define EVFILT_USER     (-11) /* user-triggered events */
#define EVFILT_EMPTY    (-13) /* not on Linux: EOPNOTSUPP */
#define EVFILT_SYSCOUNT 13

/*
 * One change (input) or one event (output).
 */
struct kevent {
    uintptr_t ident;        /* fd, pid, signal number, timer or user id */
    short filter;           /* EVFILT_* */
    unsigned short flags;   /* EV_* */
    unsigned int fflags;    /* NOTE_* */
    intptr_t data;          /* count, size, exit status; errno with EV_ERROR */
    void *udata;            /* returned untouched */
};

/*
 * Fills in *kevp. Each argument is evaluated once; kevp may have side effects.
 */
#define EV_SET(kevp, a, b, c, d, e, f) do {        \
        struct kevent *kq_ev_set_ = (kevp);         \
        kq_ev_set_->ident = (a);                    \
        kq_ev_set_->filter = (b);                   \
        kq_ev_set_->flags = (c);                    \
        kq_ev_set_->fflags = (d);                   \
        kq_ev_set_->data = (e);                     \
        kq_ev_set_->udata = (f);                    \
    } while (0)

/*
 * Actions and flags (input).
 */
#define EV_ADD          0x0001 /* add, or modify an existing knote; enables */
#define EV_DELETE       0x0002 /* remove the knote */
#define EV_ENABLE       0x0004 /* let the knote return events */
#define EV_DISABLE      0x0008 /* keep it from returning events */
#define EV_ONESHOT      0x0010 /* return one event, then delete */
#define EV_CLEAR        0x0020 /* reset the state after each event */
#define EV_RECEIPT      0x0040 /* report each change as an EV_ERROR entry */
#define EV_DISPATCH     0x0080 /* disable after each event */
#define EV_FORCEONESHOT 0x0100 /* FreeBSD: make one-shot and fire now */
#define EV_KEEPUDATA    0x0200 /* FreeBSD: keep the stored udata */
#define EV_SYSFLAGS     0xF000 /* reserved; cleared from input */
#define EV_DROP         0x1000
#define EV_FLAG1        0x2000 /* filter-specific */

/*
 * Status (output).
 */
#define EV_EOF          0x8000 /* end of file, or the source went away */
#define EV_ERROR        0x4000 /* the change failed: data is the errno */

/*
 * EVFILT_READ, EVFILT_WRITE.
 */
#define NOTE_LOWAT      0x0001 /* data is a low-water mark */
#define NOTE_FILE_POLL  0x0002 /* FreeBSD: regular files always fire */

/*
 * EVFILT_VNODE.
 */
#define NOTE_DELETE      0x0001 /* unlinked */
#define NOTE_WRITE       0x0002 /* contents changed */
#define NOTE_EXTEND      0x0004 /* grew */
#define NOTE_ATTRIB      0x0008 /* attributes changed */
#define NOTE_LINK        0x0010 /* link count changed */
#define NOTE_RENAME      0x0020 /* renamed */
#define NOTE_REVOKE      0x0040 /* access revoked (unmounted) */
#define NOTE_OPEN        0x0080 /* FreeBSD: opened */
#define NOTE_CLOSE       0x0100 /* FreeBSD: closed, not written */
#define NOTE_CLOSE_WRITE 0x0200 /* FreeBSD: closed after writing */
#define NOTE_READ        0x0400 /* FreeBSD: read */

/*
 * EVFILT_PROC.
 */
#define NOTE_EXIT       0x80000000U /* exited: data is the wait status */
#define NOTE_FORK       0x40000000U /* not on Linux: EOPNOTSUPP */
#define NOTE_EXEC       0x20000000U /* not on Linux: EOPNOTSUPP */
#define NOTE_PCTRLMASK  0xf0000000U
#define NOTE_PDATAMASK  0x000fffffU
#define NOTE_TRACK      0x00000001U /* not on Linux: EOPNOTSUPP */
#define NOTE_TRACKERR   0x00000002U
#define NOTE_CHILD      0x00000004U

/*
 * EVFILT_TIMER: data is in milliseconds unless a unit is given.
 */
#define NOTE_SECONDS    0x0001
#define NOTE_USECONDS   0x0002
#define NOTE_NSECONDS   0x0004
#define NOTE_ABSOLUTE   0x0008 /* data is a time since the epoch */
#define NOTE_ABSTIME    NOTE_ABSOLUTE

/*
 * EVFILT_USER.
 */
#define NOTE_FFNOP      0x00000000U /* keep the stored fflags */
#define NOTE_FFAND      0x40000000U /* AND into them */
#define NOTE_FFOR       0x80000000U /* OR into them */
#define NOTE_FFCOPY     0xc0000000U /* replace them */
#define NOTE_FFCTRLMASK 0xc0000000U
#define NOTE_FFLAGSMASK 0x00ffffffU
#define NOTE_TRIGGER    0x01000000U /* fire the event */

/* Declared here so that the prototype below names the file-scope type. */
struct timespec;

#ifdef __cplusplus
extern "C" {
#endif

/* A new kqueue's descriptor (close-on-exec), or -1 with errno. */
int kqueue(void);

/*
 * Applies nchanges changes, then returns up to nevents events, waiting at most
 * *timeout (NULL: forever). Returns the number of entries written, or -1 with
 * errno.
 */
int kevent(int kq, const struct kevent *changelist, int nchanges,
           struct kevent *eventlist, int nevents,
           const struct timespec *timeout);

/* libkqueue's initialisation entry point: nothing to do, returns 0. */
int libkqueue_init(void);

/* libkqueue 1.x's name for close(kq). */
void kqueue_free(int kq);

/*
 * kq only: kqueue() with options. KQ_EDGE_NODATA: edge-triggered (EV_CLEAR) READ and
 * WRITE events on pollable descriptors carry data 0 and cost no system call beyond the
 * wait. Unknown flags: -1 with EINVAL.
 */
#define KQ_EDGE_NODATA 0x1
int kq_kqueue(unsigned int flags);

/* kq only: "kq <version>", to tell this library from libkqueue. */
const char *kq_version(void);

/* kq only: kqueues held, including closed ones not yet noticed (for leak tests). */
int kq_count(void);

#ifdef __cplusplus
}
#endif

#endif /* KQ_SYS_EVENT_H */
