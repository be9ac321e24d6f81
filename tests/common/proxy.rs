//! A TCP proxy that can stall: while paused it keeps every connection open and accepts new ones
//! but forwards nothing, as a partitioned network or a hung proxy does (the peer's TCP stack
//! still acknowledges, so no socket error or timeout of the client's kernel ever fires).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub struct StallingProxy {
    pub addr: SocketAddr,
    paused: Arc<AtomicBool>,
}

impl StallingProxy {
    /// Listens on a free local port and forwards each connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> StallingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().unwrap();
        let paused = Arc::new(AtomicBool::new(false));
        let p = paused.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let p = p.clone();
                std::thread::spawn(move || {
                    wait_while(&p);
                    let Ok(server) = TcpStream::connect(upstream) else {
                        return;
                    };
                    let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                    let p2 = p.clone();
                    std::thread::spawn(move || pump(c2, s2, &p2));
                    pump(server, client, &p);
                });
            }
        });
        StallingProxy { addr, paused }
    }

    /// Stop forwarding, keeping every connection open.
    pub fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }

    /// Forward again, including whatever arrived meanwhile.
    pub fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }
}

fn wait_while(paused: &AtomicBool) {
    while paused.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, paused: &AtomicBool) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        wait_while(paused);
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Bytes read just before a pause are held until it ends, like everything else.
        wait_while(paused);
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}
