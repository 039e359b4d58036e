//! Raw IPv4 TCP sockets over libc, for the two programs that use no runtime: the load
//! generator and the limit server. Descriptors are plain `RawFd`s that the caller closes
//! with [`close`] (tens of thousands of them live in flat tables). All are non-blocking and
//! close-on-exec.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::RawFd;

fn cvt(res: libc::c_int) -> io::Result<libc::c_int> {
    if res == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(res)
    }
}

fn sockaddr(addr: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(addr.ip().octets()),
        },
        sin_zero: [0; 8],
    }
}

const SOCKADDR_LEN: libc::socklen_t = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;

/// A new non-blocking, close-on-exec IPv4 TCP socket.
pub(crate) fn tcp_socket() -> io::Result<RawFd> {
    let ty = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: plain syscall with integer arguments.
    cvt(unsafe { libc::socket(libc::AF_INET, ty, 0) })
}

/// `setsockopt` of an `int` option.
pub(crate) fn set_int(
    fd: RawFd,
    level: libc::c_int,
    opt: libc::c_int,
    v: libc::c_int,
) -> io::Result<()> {
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` is a live int of `len` bytes.
    cvt(unsafe { libc::setsockopt(fd, level, opt, (&raw const v).cast(), len) }).map(drop)
}

/// `bind` to an IPv4 address.
pub(crate) fn bind(fd: RawFd, addr: SocketAddrV4) -> io::Result<()> {
    let sa = sockaddr(addr);
    // SAFETY: `sa` is a live sockaddr_in of SOCKADDR_LEN bytes.
    cvt(unsafe { libc::bind(fd, (&raw const sa).cast(), SOCKADDR_LEN) }).map(drop)
}

/// Starts a non-blocking `connect`: `Ok(true)` if it completed at once, `Ok(false)` if it
/// is in progress (`EINPROGRESS`; completion is reported as writability).
pub(crate) fn connect(fd: RawFd, addr: SocketAddrV4) -> io::Result<bool> {
    let sa = sockaddr(addr);
    // SAFETY: `sa` is a live sockaddr_in of SOCKADDR_LEN bytes.
    match cvt(unsafe { libc::connect(fd, (&raw const sa).cast(), SOCKADDR_LEN) }) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `listen` with `backlog`.
pub(crate) fn listen(fd: RawFd, backlog: libc::c_int) -> io::Result<()> {
    // SAFETY: plain syscall with integer arguments.
    cvt(unsafe { libc::listen(fd, backlog) }).map(drop)
}

/// `accept4` of one connection, non-blocking and close-on-exec.
pub(crate) fn accept(fd: RawFd) -> io::Result<RawFd> {
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: null address pointers are allowed: the peer's address is not wanted.
    cvt(unsafe { libc::accept4(fd, std::ptr::null_mut(), std::ptr::null_mut(), flags) })
}

/// The address a socket is bound to.
pub(crate) fn local_addr(fd: RawFd) -> io::Result<SocketAddrV4> {
    let mut sa = sockaddr(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
    let mut len = SOCKADDR_LEN;
    // SAFETY: `sa` is a live sockaddr_in and `len` its size.
    cvt(unsafe { libc::getsockname(fd, (&raw mut sa).cast(), &mut len) })?;
    Ok(SocketAddrV4::new(
        Ipv4Addr::from(sa.sin_addr.s_addr.to_ne_bytes()),
        u16::from_be(sa.sin_port),
    ))
}

/// The pending socket error (`SO_ERROR`), 0 if none; reading it clears it.
pub(crate) fn take_error(fd: RawFd) -> io::Result<libc::c_int> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` is a live int and `len` its size.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&raw mut v).cast(),
            &mut len,
        )
    })?;
    Ok(v)
}

/// `read` into `buf`: the byte count (0 at end of stream).
pub(crate) fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `write` of `buf`: the byte count written.
pub(crate) fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for `buf.len()` bytes of reads.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Closes `fd` (errors are ignored: the descriptor is gone either way on Linux).
pub(crate) fn close(fd: RawFd) {
    // SAFETY: the caller owns `fd` and never uses it again.
    unsafe { libc::close(fd) };
}

/// Whether `e` is `EAGAIN`/`EWOULDBLOCK`.
pub(crate) fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}
