//! kq's sockets with crates written for tokio's (and futures') I/O traits: hyper's HTTP/1.1
//! server and client, tokio-util's `Framed` codecs, and futures-io's `copy`. Everything
//! runs on kq's runtime over real sockets on 127.0.0.1; no tokio runtime exists.

use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_LENGTH, HOST};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use kq::net::{TcpListener, TcpStream};
use kq::task::JoinHandle;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio_util::codec::{Framed, FramedRead, FramedWrite, LinesCodec};

/// Generous: these finish in milliseconds; the bound only turns a hang into a failure.
const LIMIT: Duration = Duration::from_secs(60);

async fn within<F: Future>(what: &str, future: F) -> F::Output {
    match kq::time::timeout(LIMIT, future).await {
        Ok(output) => output,
        Err(_) => panic!("{what}: not done after {LIMIT:?}"),
    }
}

// ---- hyper ----

/// An HTTP/1.1 server shaped like `examples/hyper_hello.rs`, on 127.0.0.1:0: GET answers
/// `Hello, world! (PATH)`, POST echoes the request's body. Returns its address and the
/// number of connections it accepted so far.
async fn hyper_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    kq::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.expect("accept");
            count.fetch_add(1, Ordering::SeqCst);
            kq::spawn(async move {
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(respond))
                    .await
                    .expect("serve_connection");
            });
        }
    });
    (addr, accepted)
}

async fn respond(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = if request.method() == Method::POST {
        request
            .into_body()
            .collect()
            .await
            .expect("request body")
            .to_bytes()
    } else {
        Bytes::from(format!("Hello, world! ({})\n", request.uri().path()))
    };
    Ok(Response::new(Full::new(body)))
}

/// A hyper client connection over a kq `TcpStream`; its connection task runs on kq.
async fn hyper_client(
    addr: SocketAddr,
) -> (SendRequest<Full<Bytes>>, JoinHandle<hyper::Result<()>>) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    (sender, kq::spawn(connection))
}

/// Sends one request and returns the status and the whole body.
async fn request(
    sender: &mut SendRequest<Full<Bytes>>,
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: Bytes,
) -> (StatusCode, Bytes) {
    sender.ready().await.expect("connection ready");
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, addr.to_string())
        .body(Full::new(body))
        .expect("request");
    let response = sender.send_request(request).await.expect("send_request");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("response body")
        .to_bytes();
    (status, body)
}

#[kq::test]
async fn hyper_keep_alive_requests_share_one_connection() {
    within("keep-alive", async {
        let (addr, accepted) = hyper_server().await;
        let (mut sender, connection) = hyper_client(addr).await;
        for i in 0..10 {
            let path = format!("/request/{i}");
            let (status, body) = request(&mut sender, addr, Method::GET, &path, Bytes::new()).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body, format!("Hello, world! ({path})\n"));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection for all");
        // The client hangs up: its connection task ends cleanly.
        drop(sender);
        connection
            .await
            .expect("connection task")
            .expect("connection");
    })
    .await;
}

#[kq::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_concurrent_connections() {
    within("concurrent connections", async {
        const CONNECTIONS: usize = 8;
        const REQUESTS: usize = 5;
        let (addr, accepted) = hyper_server().await;
        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|c| {
                kq::spawn(async move {
                    let (mut sender, connection) = hyper_client(addr).await;
                    for r in 0..REQUESTS {
                        let path = format!("/client/{c}/{r}");
                        let (status, body) =
                            request(&mut sender, addr, Method::GET, &path, Bytes::new()).await;
                        assert_eq!(status, StatusCode::OK);
                        assert_eq!(body, format!("Hello, world! ({path})\n"));
                    }
                    drop(sender);
                    connection
                        .await
                        .expect("connection task")
                        .expect("connection");
                })
            })
            .collect();
        for client in clients {
            client.await.expect("client task");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), CONNECTIONS);
    })
    .await;
}

#[kq::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_large_bodies_both_ways() {
    within("large bodies", async {
        let (addr, _) = hyper_server().await;
        let (mut sender, _connection) = hyper_client(addr).await;
        // Several MiB each way: far more than the socket buffers, so both sides wait
        // for writability and readability many times.
        let payload: Bytes = (0..4 * 1024 * 1024u32)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>()
            .into();
        let (status, body) =
            request(&mut sender, addr, Method::POST, "/echo", payload.clone()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body.len(), payload.len());
        assert!(body == payload, "the echoed body differs");
        // And the connection is still good for a small one.
        let (status, body) = request(&mut sender, addr, Method::GET, "/after", Bytes::new()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "Hello, world! (/after)\n");
    })
    .await;
}

#[kq::test]
async fn hyper_response_headers() {
    within("headers", async {
        let (addr, _) = hyper_server().await;
        let (mut sender, _connection) = hyper_client(addr).await;
        sender.ready().await.expect("ready");
        let response = sender
            .send_request(
                Request::builder()
                    .uri("/")
                    .header(HOST, addr.to_string())
                    .body(Full::new(Bytes::new()))
                    .expect("request"),
            )
            .await
            .expect("send_request");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.version(), hyper::Version::HTTP_11);
        assert_eq!(
            response.headers()[CONTENT_LENGTH],
            "Hello, world! (/)\n".len().to_string()
        );
    })
    .await;
}

// ---- tokio-util codecs ----

/// A connected pair: (client, server).
async fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("addr"))
        .await
        .expect("connect");
    let (server, _) = listener.accept().await.expect("accept");
    (client, server)
}

#[kq::test]
async fn framed_lines_both_ways() {
    within("framed lines", async {
        let (client, server) = pair().await;
        let mut client = Framed::new(client, LinesCodec::new());
        let mut server = Framed::new(server, LinesCodec::new());
        client.send("hello from the client").await.expect("send");
        assert_eq!(
            server.next().await.expect("a line").expect("decode"),
            "hello from the client"
        );
        server.send("hello from the server").await.expect("send");
        assert_eq!(
            client.next().await.expect("a line").expect("decode"),
            "hello from the server"
        );
        // Several lines in one write arrive as several items, in order.
        client.feed("one").await.expect("feed");
        client.feed("two").await.expect("feed");
        client.send("three").await.expect("send");
        for want in ["one", "two", "three"] {
            assert_eq!(server.next().await.expect("a line").expect("decode"), want);
        }
        // Closing the sink shuts the sending side down: the other end's stream ends.
        SinkExt::<&str>::close(&mut client).await.expect("close");
        assert!(
            server.next().await.is_none(),
            "expected the end of the stream"
        );
        // The other direction still works after the half-close.
        server.send("still here").await.expect("send");
        assert_eq!(
            client.next().await.expect("a line").expect("decode"),
            "still here"
        );
    })
    .await;
}

#[kq::test(flavor = "multi_thread", worker_threads = 2)]
async fn framed_many_lines_concurrently_over_split_halves() {
    within("framed concurrently", async {
        const LINES: usize = 5_000;
        let (client, server) = pair().await;
        // The server answers each line in upper case, until the client's stream ends.
        let server = kq::spawn(async move {
            let mut server = Framed::new(server, LinesCodec::new());
            let mut n = 0;
            while let Some(line) = server.next().await {
                server
                    .send(line.expect("decode").to_uppercase())
                    .await
                    .expect("send");
                n += 1;
            }
            SinkExt::<String>::close(&mut server).await.expect("close");
            n
        });
        let (read, write) = client.into_split();
        let writer = kq::spawn(async move {
            let mut write = FramedWrite::new(write, LinesCodec::new());
            for i in 0..LINES {
                write
                    .send(format!("line {i} {}", "x".repeat(i % 97)))
                    .await
                    .expect("send");
            }
            SinkExt::<String>::close(&mut write).await.expect("close");
        });
        let mut read = FramedRead::new(read, LinesCodec::new());
        for i in 0..LINES {
            let line = read.next().await.expect("a line").expect("decode");
            assert_eq!(line, format!("LINE {i} {}", "X".repeat(i % 97)));
        }
        assert!(
            read.next().await.is_none(),
            "the server closed after the last line"
        );
        writer.await.expect("writer");
        assert_eq!(server.await.expect("server"), LINES);
    })
    .await;
}

#[kq::test]
async fn framed_stream_ends_when_the_peer_drops_its_socket() {
    within("end of stream on drop", async {
        let (client, server) = pair().await;
        let mut client = Framed::new(client, LinesCodec::new());
        let mut server = Framed::new(server, LinesCodec::new());
        client.send("last words").await.expect("send");
        // No close: dropping the socket must be enough for the peer to see the end.
        drop(client);
        assert_eq!(
            server.next().await.expect("a line").expect("decode"),
            "last words"
        );
        assert!(
            server.next().await.is_none(),
            "expected the end of the stream"
        );
    })
    .await;
}

#[kq::test]
async fn lines_codec_rejects_an_overlong_line() {
    within("overlong line", async {
        let (client, server) = pair().await;
        let mut client = Framed::new(client, LinesCodec::new());
        let mut server = Framed::new(server, LinesCodec::new_with_max_length(16));
        client.send("short").await.expect("send");
        client.send("x".repeat(100)).await.expect("send");
        assert_eq!(
            server.next().await.expect("a line").expect("decode"),
            "short"
        );
        let err = server.next().await.expect("an item").expect_err("too long");
        assert!(
            matches!(
                err,
                tokio_util::codec::LinesCodecError::MaxLineLengthExceeded
            ),
            "{err:?}"
        );
    })
    .await;
}

// ---- futures-io ----

mod futures_io {
    //! The same sockets through futures' traits alone (futures-util's extension traits and
    //! `copy`), with tokio's traits not in scope.

    use super::{pair, within};
    use futures_util::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, copy};

    #[kq::test(flavor = "multi_thread", worker_threads = 2)]
    async fn echo_through_futures_io_copy() {
        within("futures-io echo", async {
            let (client, server) = pair().await;
            // The server copies everything back with futures-io's `copy`, then closes.
            let server = kq::spawn(async move {
                let (mut read, mut write) = server.into_split();
                let n = copy(&mut read, &mut write).await.expect("copy");
                write.close().await.expect("close");
                n
            });
            let payload: Vec<u8> = (0..2 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
            let (mut read, mut write) = client.into_split();
            let sent = payload.clone();
            let writer = kq::spawn(async move {
                write.write_all(&sent).await.expect("write_all");
                write.close().await.expect("close");
            });
            let mut echoed = Vec::new();
            read.read_to_end(&mut echoed).await.expect("read_to_end");
            writer.await.expect("writer");
            assert_eq!(server.await.expect("server"), payload.len() as u64);
            assert_eq!(echoed.len(), payload.len());
            assert!(echoed == payload, "the echo differs");
        })
        .await;
    }

    #[kq::test]
    async fn lines_through_a_futures_io_bufreader() {
        within("futures-io lines", async {
            let (mut client, server) = pair().await;
            client
                .write_all(b"first line\nsecond line\n")
                .await
                .expect("write_all");
            client.close().await.expect("close");
            let mut reader = BufReader::new(server);
            let mut line = String::new();
            reader.read_line(&mut line).await.expect("read_line");
            assert_eq!(line, "first line\n");
            line.clear();
            reader.read_line(&mut line).await.expect("read_line");
            assert_eq!(line, "second line\n");
            line.clear();
            assert_eq!(reader.read_line(&mut line).await.expect("read_line"), 0);
        })
        .await;
    }
}
