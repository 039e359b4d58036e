//! `UdpSocket`: datagrams.

use crate::addr::{ToSocketAddrs, each_addr, first_addr};
use crate::stream::{datagram_methods, io_methods, ready_methods};
use crate::sys;
use kq_runtime::__private::PollEvented;
use kq_runtime::io::Interest;
use socket2::{Domain, Protocol, SockRef, Type};
use std::fmt;
use std::io;
use std::net::{self, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::task::{Context, Poll, ready};
use tokio::io::ReadBuf;

/// A UDP socket, registered with `EV_CLEAR` read and write knotes for its whole life.
///
/// Unconnected, it sends to and receives from any address ([`send_to`],
/// [`recv_from`]); after [`connect`] it talks to one peer ([`send`], [`recv`]) and the
/// kernel filters the rest. All methods take `&self`, so an `Arc<UdpSocket>` can be
/// shared by a receiving task and a sending task. A datagram larger than the buffer
/// given to a receive is truncated.
///
/// [`send_to`]: UdpSocket::send_to
/// [`recv_from`]: UdpSocket::recv_from
/// [`connect`]: UdpSocket::connect
/// [`send`]: UdpSocket::send
/// [`recv`]: UdpSocket::recv
///
/// # Examples
///
/// ```
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// use kq_net::UdpSocket;
///
/// let a = UdpSocket::bind("127.0.0.1:0").await?;
/// let b = UdpSocket::bind("127.0.0.1:0").await?;
/// a.send_to(b"ping", b.local_addr()?).await?;
/// let mut buf = [0; 16];
/// let (n, from) = b.recv_from(&mut buf).await?;
/// assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct UdpSocket {
    io: PollEvented<net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr`, trying each address it resolves to in turn.
    ///
    /// # Errors
    ///
    /// The last address's error (`AddrInUse`, ...), a resolution error, or an error
    /// outside a kq runtime.
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        each_addr(&addr, |addr| async move {
            let socket = sys::socket(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
            socket.bind(&addr.into())?;
            UdpSocket::new(socket.into())
        })
        .await
    }

    fn new(socket: net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            io: PollEvented::new(socket)?,
        })
    }

    fn evented(&self) -> &PollEvented<net::UdpSocket> {
        &self.io
    }

    fn std(&self) -> &net::UdpSocket {
        self.io.get_ref()
    }

    ready_methods!();
    io_methods!();
    datagram_methods!();

    /// The local address.
    ///
    /// # Errors
    ///
    /// The `getsockname` call's error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.std().local_addr()
    }

    /// The connected peer's address.
    ///
    /// # Errors
    ///
    /// `NotConnected` if the socket is not connected.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.std().peer_addr()
    }

    /// Connects the socket to `addr` (the first address it resolves to that works):
    /// [`send`](UdpSocket::send) goes there and only its datagrams are received.
    ///
    /// # Errors
    ///
    /// The `connect` call's error, or a resolution error.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        each_addr(&addr, |addr| async move { self.std().connect(addr) }).await
    }

    // ---- connected ------------------------------------------------------------------

    /// Receives the next datagram's bytes without taking it from the queue.
    ///
    /// # Errors
    ///
    /// As [`recv`](UdpSocket::recv).
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.async_io(Interest::READABLE, |s| s.peek(buf)).await
    }

    // ---- unconnected ----------------------------------------------------------------

    /// Sends `buf` as one datagram to `target` (its first resolved address).
    ///
    /// # Errors
    ///
    /// A resolution error, or the `sendto` call's error.
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let target = first_addr(&target).await?;
        self.io
            .async_io(Interest::WRITABLE, |s| s.send_to(buf, target))
            .await
    }

    /// The `poll` form of [`send_to`](UdpSocket::send_to).
    ///
    /// # Errors
    ///
    /// The `sendto` call's error.
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.io
            .poll_io(cx, Interest::WRITABLE, |s| s.send_to(buf, target))
    }

    /// Sends to `target` without waiting: `WouldBlock` if not known writable.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or the `sendto` call's error.
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.io
            .try_io(Interest::WRITABLE, |s| s.send_to(buf, target))
    }

    /// Receives one datagram and the address it came from.
    ///
    /// # Errors
    ///
    /// The `recvfrom` call's error.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(Interest::READABLE, |s| s.recv_from(buf))
            .await
    }

    /// The `poll` form of [`recv_from`](UdpSocket::recv_from), into `buf`'s unfilled part.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UdpSocket::recv_from).
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        let (n, from) = ready!(self.io.poll_io(cx, Interest::READABLE, |s| {
            s.recv_from(buf.initialize_unfilled())
        }))?;
        buf.advance(n);
        Poll::Ready(Ok(from))
    }

    /// Receives with its sender without waiting: `WouldBlock` if nothing is known there.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or as [`recv_from`](UdpSocket::recv_from).
    pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.try_io(Interest::READABLE, |s| s.recv_from(buf))
    }

    /// As [`recv_from`](UdpSocket::recv_from), leaving the datagram in the queue.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UdpSocket::recv_from).
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io
            .async_io(Interest::READABLE, |s| s.peek_from(buf))
            .await
    }

    /// The `poll` form of [`peek_from`](UdpSocket::peek_from).
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UdpSocket::recv_from).
    pub fn poll_peek_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        let (n, from) = ready!(self.io.poll_io(cx, Interest::READABLE, |s| {
            s.peek_from(buf.initialize_unfilled())
        }))?;
        buf.advance(n);
        Poll::Ready(Ok(from))
    }

    /// As [`peek_from`](UdpSocket::peek_from) without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or as [`recv_from`](UdpSocket::recv_from).
    pub fn try_peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.io.try_io(Interest::READABLE, |s| s.peek_from(buf))
    }

    /// The sender of the next datagram, leaving it in the queue.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UdpSocket::recv_from).
    pub async fn peek_sender(&self) -> io::Result<SocketAddr> {
        self.io.async_io(Interest::READABLE, peek_sender).await
    }

    /// As [`peek_sender`](UdpSocket::peek_sender) without waiting.
    ///
    /// # Errors
    ///
    /// `WouldBlock`, or as [`recv_from`](UdpSocket::recv_from).
    pub fn try_peek_sender(&self) -> io::Result<SocketAddr> {
        self.io.try_io(Interest::READABLE, peek_sender)
    }

    // ---- options --------------------------------------------------------------------

    /// `SO_BROADCAST`.
    ///
    /// # Errors
    ///
    /// The `getsockopt` call's error.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.std().broadcast()
    }

    /// Sets `SO_BROADCAST`: allow sending to a broadcast address.
    ///
    /// # Errors
    ///
    /// The `setsockopt` call's error.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.std().set_broadcast(on)
    }

    /// `IP_MULTICAST_LOOP`.
    ///
    /// # Errors
    ///
    /// The `getsockopt` call's error.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.std().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_LOOP`: whether this host's own multicast datagrams loop back.
    ///
    /// # Errors
    ///
    /// The `setsockopt` call's error.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.std().set_multicast_loop_v4(on)
    }

    /// `IP_MULTICAST_TTL`.
    ///
    /// # Errors
    ///
    /// The `getsockopt` call's error.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.std().multicast_ttl_v4()
    }

    /// Sets `IP_MULTICAST_TTL`.
    ///
    /// # Errors
    ///
    /// The `setsockopt` call's error.
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.std().set_multicast_ttl_v4(ttl)
    }

    /// `IPV6_MULTICAST_LOOP`.
    ///
    /// # Errors
    ///
    /// The `getsockopt` call's error.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.std().multicast_loop_v6()
    }

    /// Sets `IPV6_MULTICAST_LOOP`.
    ///
    /// # Errors
    ///
    /// The `setsockopt` call's error.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.std().set_multicast_loop_v6(on)
    }

    /// Joins the IPv4 multicast group `multiaddr` on the interface with address
    /// `interface` (`UNSPECIFIED` lets the system choose).
    ///
    /// # Errors
    ///
    /// The `setsockopt` call's error (`ENODEV` for an interface without multicast).
    pub fn join_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.std().join_multicast_v4(&multiaddr, &interface)
    }

    /// Leaves an IPv4 multicast group.
    ///
    /// # Errors
    ///
    /// The `setsockopt` call's error.
    pub fn leave_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.std().leave_multicast_v4(&multiaddr, &interface)
    }

    /// Joins the IPv6 multicast group `multiaddr` on interface index `interface` (0:
    /// the system chooses).
    ///
    /// # Errors
    ///
    /// The `setsockopt` call's error.
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.std().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv6 multicast group.
    ///
    /// # Errors
    ///
    /// The `setsockopt` call's error.
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.std().leave_multicast_v6(multiaddr, interface)
    }

    /// `IP_TTL`.
    ///
    /// # Errors
    ///
    /// The `getsockopt` call's error.
    pub fn ttl(&self) -> io::Result<u32> {
        self.std().ttl()
    }

    /// Sets `IP_TTL`.
    ///
    /// # Errors
    ///
    /// The `setsockopt` call's error.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.std().set_ttl(ttl)
    }
}

fn peek_sender(socket: &net::UdpSocket) -> io::Result<SocketAddr> {
    let addr = SockRef::from(socket).peek_sender()?;
    addr.as_socket().ok_or_else(|| sys::not_ip(&addr))
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("fd", &self.as_raw_fd())
            .field("local", &self.local_addr().ok())
            .finish()
    }
}

crate::stream::std_conversions!(UdpSocket, net::UdpSocket);
