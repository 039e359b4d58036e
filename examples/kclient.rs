//! The NetBSD kqueue tutorial's second program, `kclient.c`, ported to kq's core.
//!
//! Connects to HOST:PORT over TCP, then relays standard input to the socket and the socket
//! to standard output, with one kqueue watching both descriptors (`EVFILT_READ`). It exits
//! when the remote end closes (`EV_EOF` on the socket). Where the C original would spin at
//! the end of standard input, the port deletes the stdin knote and shuts down its sending
//! side, then waits for the remote end to finish.
//!
//! Run with: `cargo run --release --example kclient -- 127.0.0.1 7` (against a server on
//! this machine, e.g. `nc -l 127.0.0.1 7000` and port 7000).

use kq::reactor::{EV_ADD, EV_DELETE, EV_ENABLE, EV_EOF, EV_ERROR, EVFILT_READ, Kevent, Kqueue};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::ptr;

const BUFSIZE: usize = 1024;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (host, port) = match args.as_slice() {
        [host, port] => match port.parse::<u16>() {
            Ok(port) => (host.clone(), port),
            Err(_) => return usage(),
        },
        _ => return usage(),
    };
    match run(&host, port) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kclient: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: kclient host port");
    ExitCode::FAILURE
}

fn run(host: &str, port: u16) -> io::Result<()> {
    // open a connection to a host:port pair
    let mut sock = TcpStream::connect((host, port))?;
    let sckfd = sock.as_raw_fd() as usize;
    let stdin_fd = io::stdin().as_raw_fd() as usize;
    // create a new kernel event queue
    let kq = Kqueue::new()?;
    // initialise kevent structures
    let mut chlist = vec![
        Kevent::new(
            sckfd,
            EVFILT_READ,
            EV_ADD | EV_ENABLE,
            0,
            0,
            ptr::null_mut(),
        ),
        Kevent::new(
            stdin_fd,
            EVFILT_READ,
            EV_ADD | EV_ENABLE,
            0,
            0,
            ptr::null_mut(),
        ),
    ];
    let mut evlist = [Kevent::new(0, 0, 0, 0, 0, ptr::null_mut()); 2];
    let mut buf = [0u8; BUFSIZE];
    let mut stdout = io::stdout();
    loop {
        let nev = kq.kevent(&chlist, &mut evlist, None)?;
        chlist.clear();
        for ev in &evlist[..nev] {
            if ev.flags & EV_ERROR != 0 {
                // report errors
                return Err(io::Error::from_raw_os_error(ev.data as i32));
            }
            if ev.ident == sckfd {
                // we have data from the host (and maybe its EOF)
                let n = sock.read(&mut buf)?;
                stdout.write_all(&buf[..n])?;
                stdout.flush()?;
                if n == 0 && ev.flags & EV_EOF != 0 {
                    // read direction of socket has shut down
                    return Ok(());
                }
            } else if ev.ident == stdin_fd {
                // we have data from stdin
                let n = io::stdin().lock().read(&mut buf)?;
                if n == 0 {
                    chlist.push(Kevent::new(
                        stdin_fd,
                        EVFILT_READ,
                        EV_DELETE,
                        0,
                        0,
                        ptr::null_mut(),
                    ));
                    sock.shutdown(Shutdown::Write)?;
                } else {
                    sock.write_all(&buf[..n])?;
                }
            }
        }
    }
}
