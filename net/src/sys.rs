//! Socket creation and acceptance with the flags kq needs set atomically where the
//! platform can: non-blocking and close-on-exec (and no `SIGPIPE` on Apple platforms,
//! which socket2 sets at creation).

use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};
use std::io;
use std::os::fd::AsFd;

/// A new non-blocking, close-on-exec socket.
pub(crate) fn socket(domain: Domain, ty: Type, protocol: Option<Protocol>) -> io::Result<Socket> {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    {
        Socket::new(domain, ty.nonblocking(), protocol)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    {
        let socket = Socket::new(domain, ty, protocol)?;
        socket.set_nonblocking(true)?;
        Ok(socket)
    }
}

/// Accepts one connection of `listener` as a non-blocking, close-on-exec socket.
pub(crate) fn accept(listener: &impl AsFd) -> io::Result<(Socket, SockAddr)> {
    let listener = SockRef::from(listener);
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    {
        listener.accept4(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    {
        let (socket, addr) = listener.accept()?;
        socket.set_nonblocking(true)?;
        Ok((socket, addr))
    }
}

/// The listen backlog kq uses when none is given: as many pending connections as the
/// system allows. The kernel caps it silently (`net.core.somaxconn` on Linux, 4096 by
/// default; `kern.ipc.soacceptqueue` on FreeBSD and macOS), so a burst of thousands of
/// connects is not refused at 128 as with the classic default.
pub(crate) const DEFAULT_BACKLOG: i32 = 65_535;

/// An address that is not of the socket's family (should not happen for IP sockets).
pub(crate) fn not_ip(addr: &SockAddr) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("not an IP socket address: family {}", addr.family()),
    )
}

/// Starts a connect on a non-blocking socket: `Ok` when it completed or is in progress
/// (finish it with [`finish_connect`]).
pub(crate) fn start_connect(socket: &Socket, addr: &SockAddr) -> io::Result<()> {
    match socket.connect(addr) {
        Err(e) if e.raw_os_error() != Some(libc::EINPROGRESS) => Err(e),
        _ => Ok(()),
    }
}

/// Waits until a connect started by [`start_connect`] has finished, and returns its error.
pub(crate) async fn finish_connect<E>(io: &kq_runtime::__private::PollEvented<E>) -> io::Result<()>
where
    E: AsFd + Into<std::os::fd::OwnedFd>,
{
    std::future::poll_fn(|cx| io.poll_ready(cx, kq_runtime::io::Interest::WRITABLE)).await?;
    match io.take_error() {
        Some(e) => Err(e),
        None => match SockRef::from(io.get_ref()).take_error()? {
            Some(e) => Err(e),
            None => Ok(()),
        },
    }
}
