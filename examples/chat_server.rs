//! A line-based chat server on `kq::net`: each line a client sends goes to every other
//! connected client, prefixed with the sender's address.
//!
//! Each connection is split with `into_split`. Its read half stays in the connection's task,
//! which reads lines (`BufReader::lines`) and hands each one to the other clients' queues.
//! Its write half goes to a writer task that empties the client's own queue onto the
//! socket, so a slow client never holds up the sender or the other clients. The queue is
//! the small channel below (a `Mutex`ed `VecDeque` and a waker), since kq has no channels.
//!
//! A newcomer is greeted with `* welcome ADDR, N other(s) here`; the others see
//! `* ADDR joined` and `* ADDR left`. The first line on standard output is the address the
//! server listens on.
//!
//! Run with: `cargo run --release --example chat_server -- [ADDR]` (default
//! `127.0.0.1:7001`), then connect a few `nc 127.0.0.1 7001` and type.

use kq::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use kq::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use kq::net::{TcpListener, TcpStream};
use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Poll, Waker};

const DEFAULT_ADDR: &str = "127.0.0.1:7001";

#[kq::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    if args.next().is_some() {
        eprintln!("usage: chat_server [ADDR]");
        return ExitCode::FAILURE;
    }
    match serve(&addr).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chat_server: {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(addr: &str) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    let mut stdout = io::stdout();
    writeln!(stdout, "{}", listener.local_addr()?)?;
    stdout.flush()?;
    let room = Room::default();
    loop {
        let (stream, peer) = listener.accept().await?;
        let room = room.clone();
        kq::spawn(async move {
            if let Err(e) = client(room, stream, peer).await {
                eprintln!("chat_server: {peer}: {e}");
            }
        });
    }
}

/// One connection: its writer task, then its lines until it leaves.
async fn client(room: Room, stream: TcpStream, peer: SocketAddr) -> io::Result<()> {
    let (read, write) = stream.into_split();
    let (tx, rx) = channel();
    let writer = kq::spawn(writer(write, rx));
    let others = room.join(peer, tx);
    room.send_to(peer, format!("* welcome {peer}, {others} other(s) here\n"));
    room.broadcast(peer, format!("* {peer} joined\n"));
    let result = relay_lines(&room, read, peer).await;
    // Leaving drops the client's sender: its writer sends what is queued, then ends, and
    // dropping the write half shuts the connection's sending side down.
    room.leave(peer);
    room.broadcast(peer, format!("* {peer} left\n"));
    let _ = writer.await;
    result
}

/// Reads the client's lines and hands each to the other clients.
async fn relay_lines(room: &Room, read: OwnedReadHalf, peer: SocketAddr) -> io::Result<()> {
    let mut lines = BufReader::new(read).lines();
    while let Some(line) = lines.next_line().await? {
        room.broadcast(peer, format!("{peer}: {line}\n"));
    }
    Ok(())
}

/// Writes the client's queue to its socket, until the queue closes or a write fails.
async fn writer(mut write: OwnedWriteHalf, mut rx: Receiver) {
    while let Some(message) = rx.recv().await {
        if write.write_all(message.as_bytes()).await.is_err() {
            // The client is gone; its reader will see it too and leave the room.
            return;
        }
    }
}

/// The connected clients, each with the sending end of its queue.
#[derive(Clone, Default)]
struct Room {
    clients: Arc<Mutex<HashMap<SocketAddr, Sender>>>,
}

impl Room {
    /// Adds a client; returns how many others are there.
    fn join(&self, peer: SocketAddr, tx: Sender) -> usize {
        let mut clients = self.lock();
        clients.insert(peer, tx);
        clients.len() - 1
    }

    fn leave(&self, peer: SocketAddr) {
        // The sender is dropped outside the lock.
        let tx = self.lock().remove(&peer);
        drop(tx);
    }

    fn send_to(&self, peer: SocketAddr, message: String) {
        if let Some(tx) = self.lock().get(&peer) {
            tx.send(message.into());
        }
    }

    /// Queues `message` for every client but `from`. Queuing never waits, so the lock is
    /// held only for the loop.
    fn broadcast(&self, from: SocketAddr, message: String) {
        let message: Arc<str> = message.into();
        for (peer, tx) in self.lock().iter() {
            if *peer != from {
                tx.send(message.clone());
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Sender>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

// A tiny unbounded single-producer, single-consumer channel: a queue behind a mutex and
// the receiver's waker. The sender's drop closes it (the receiver drains, then gets
// `None`); the receiver's drop closes it too (later messages are discarded).

struct Queue {
    messages: VecDeque<Arc<str>>,
    waker: Option<Waker>,
    closed: bool,
}

struct Sender(Arc<Mutex<Queue>>);

struct Receiver(Arc<Mutex<Queue>>);

fn channel() -> (Sender, Receiver) {
    let queue = Arc::new(Mutex::new(Queue {
        messages: VecDeque::new(),
        waker: None,
        closed: false,
    }));
    (Sender(queue.clone()), Receiver(queue))
}

fn lock(queue: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Sender {
    fn send(&self, message: Arc<str>) {
        let waker = {
            let mut queue = lock(&self.0);
            if queue.closed {
                return;
            }
            queue.messages.push_back(message);
            queue.waker.take()
        };
        // Woken outside the lock: the receiver may run at once on another thread.
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let waker = {
            let mut queue = lock(&self.0);
            queue.closed = true;
            queue.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Receiver {
    /// The next message; `None` once the sender is gone and the queue is empty.
    async fn recv(&mut self) -> Option<Arc<str>> {
        poll_fn(|cx| {
            let mut queue = lock(&self.0);
            if let Some(message) = queue.messages.pop_front() {
                Poll::Ready(Some(message))
            } else if queue.closed {
                Poll::Ready(None)
            } else {
                // Stored under the lock that `send` takes: no message slips in between.
                queue.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut queue = lock(&self.0);
        queue.closed = true;
        queue.messages.clear();
    }
}
