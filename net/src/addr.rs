//! Address resolution: what `bind`, `connect` and `send_to` accept.
//!
//! Literal addresses are used as they are; a host name is resolved by the system resolver
//! (`getaddrinfo`) on the runtime's blocking pool, so it never blocks a worker.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::vec;

/// Values that name one or more socket addresses: a `SocketAddr`, an `(ip, port)` pair,
/// a `"host:port"` string, a `(host, port)` pair, or a slice of addresses.
///
/// The trait is sealed; its resolution happens inside kq (see [`lookup_host`]).
pub trait ToSocketAddrs: sealed::ToSocketAddrsPriv {}

/// Resolves `host` to its addresses (on the blocking pool when it is a name).
///
/// # Errors
///
/// The resolver's error; an error if the blocking pool is gone (runtime shut down).
///
/// # Examples
///
/// ```
/// # kq_runtime::runtime::Runtime::new().unwrap().block_on(async {
/// let addrs: Vec<_> = kq_net::lookup_host("127.0.0.1:80").await.unwrap().collect();
/// assert_eq!(addrs, ["127.0.0.1:80".parse().unwrap()]);
/// # });
/// ```
pub async fn lookup_host(host: impl ToSocketAddrs) -> io::Result<impl Iterator<Item = SocketAddr>> {
    resolve(&host).await
}

/// The addresses of `addr`, in the resolver's order.
pub(crate) async fn resolve<A: ToSocketAddrs + ?Sized>(
    addr: &A,
) -> io::Result<vec::IntoIter<SocketAddr>> {
    match addr.to_socket_addrs(sealed::Internal) {
        sealed::Resolve::Ready(res) => res,
        sealed::Resolve::Lookup(name) => {
            let handle = kq_runtime::runtime::Handle::try_current()
                .map_err(|e| io::Error::other(e.to_string()))?;
            let lookup = handle.spawn_blocking(move || {
                std::net::ToSocketAddrs::to_socket_addrs(&name).map(Iterator::collect::<Vec<_>>)
            });
            match lookup.await {
                Ok(res) => res.map(Vec::into_iter),
                Err(e) => Err(io::Error::other(format!(
                    "address lookup did not finish: {e}"
                ))),
            }
        }
    }
}

/// Tries `op` on each address of `addr` in turn: the first success, or the last error.
pub(crate) async fn each_addr<A, T, F, Fut>(addr: &A, mut op: F) -> io::Result<T>
where
    A: ToSocketAddrs + ?Sized,
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    let mut last = None;
    for addr in resolve(addr).await? {
        match op(addr).await {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        )
    }))
}

/// The first address of `addr` (for `send_to`, which sends one datagram).
pub(crate) async fn first_addr<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<SocketAddr> {
    resolve(addr)
        .await?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to"))
}

pub(crate) mod sealed {
    use super::*;

    /// Proof that a call comes from inside kq (keeps the method uncallable outside).
    #[derive(Debug, Clone, Copy)]
    pub struct Internal;

    /// What an address value resolves to: addresses now, or a name to look up.
    #[derive(Debug)]
    pub enum Resolve {
        /// Literal addresses.
        Ready(io::Result<vec::IntoIter<SocketAddr>>),
        /// `host:port` to resolve on the blocking pool.
        Lookup(String),
    }

    /// The resolution behind [`ToSocketAddrs`].
    pub trait ToSocketAddrsPriv {
        /// The addresses, or the name to look up.
        fn to_socket_addrs(&self, _: Internal) -> Resolve;
    }
}

use sealed::{Internal, Resolve, ToSocketAddrsPriv};

fn ready(addrs: impl IntoIterator<Item = SocketAddr>) -> Resolve {
    Resolve::Ready(Ok(addrs.into_iter().collect::<Vec<_>>().into_iter()))
}

macro_rules! literal {
    ($($t:ty),*) => {$(
        impl ToSocketAddrs for $t {}
        impl ToSocketAddrsPriv for $t {
            fn to_socket_addrs(&self, _: Internal) -> Resolve {
                ready([SocketAddr::from(*self)])
            }
        }
    )*};
}

literal!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16),
    ([u8; 4], u16),
    ([u16; 8], u16)
);

impl ToSocketAddrs for [SocketAddr] {}
impl ToSocketAddrsPriv for [SocketAddr] {
    fn to_socket_addrs(&self, _: Internal) -> Resolve {
        ready(self.iter().copied())
    }
}

impl ToSocketAddrs for str {}
impl ToSocketAddrsPriv for str {
    fn to_socket_addrs(&self, _: Internal) -> Resolve {
        match self.parse::<SocketAddr>() {
            Ok(addr) => ready([addr]),
            Err(_) => Resolve::Lookup(self.to_owned()),
        }
    }
}

impl ToSocketAddrs for String {}
impl ToSocketAddrsPriv for String {
    fn to_socket_addrs(&self, i: Internal) -> Resolve {
        self.as_str().to_socket_addrs(i)
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl ToSocketAddrsPriv for (&str, u16) {
    fn to_socket_addrs(&self, _: Internal) -> Resolve {
        let (host, port) = *self;
        match host.parse::<IpAddr>() {
            Ok(ip) => ready([SocketAddr::new(ip, port)]),
            // A bare IPv6 name needs brackets in the `host:port` form.
            Err(_) => Resolve::Lookup(format!("{host}:{port}")),
        }
    }
}

impl ToSocketAddrs for (String, u16) {}
impl ToSocketAddrsPriv for (String, u16) {
    fn to_socket_addrs(&self, i: Internal) -> Resolve {
        (self.0.as_str(), self.1).to_socket_addrs(i)
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrs + ?Sized> ToSocketAddrsPriv for &T {
    fn to_socket_addrs(&self, i: Internal) -> Resolve {
        (**self).to_socket_addrs(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(addr: &(impl ToSocketAddrs + ?Sized)) -> Vec<SocketAddr> {
        match addr.to_socket_addrs(Internal) {
            Resolve::Ready(res) => res.unwrap().collect(),
            Resolve::Lookup(name) => panic!("{name} should not need a lookup"),
        }
    }

    #[test]
    fn literal_addresses_need_no_lookup() {
        let v4: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let v6: SocketAddr = "[::1]:8080".parse().unwrap();
        assert_eq!(literal("127.0.0.1:8080"), [v4]);
        assert_eq!(literal(&String::from("[::1]:8080")), [v6]);
        assert_eq!(literal(&("::1", 8080)), [v6]);
        assert_eq!(literal(&(Ipv4Addr::LOCALHOST, 8080)), [v4]);
        assert_eq!(literal(&[v4, v6][..]), [v4, v6]);
    }

    #[test]
    fn names_are_looked_up_with_their_port() {
        match ("localhost", 80).to_socket_addrs(Internal) {
            Resolve::Lookup(name) => assert_eq!(name, "localhost:80"),
            Resolve::Ready(_) => panic!("a name needs a lookup"),
        }
    }
}
