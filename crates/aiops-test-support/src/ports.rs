//! The one place that picks ports, for the external servers that must be told a port number
//! (BIND, OpenBao, kube-apiserver). Our own servers (the daemon, the Slack stand-in) bind
//! `127.0.0.1:0` and hand the listener over instead: no port to pick, no race.
//!
//! A picked port is free when picked but can be taken before the server binds it, so
//! [`start_on_free_port`] retries on another port when the server reports the port in use.

use std::net::{SocketAddr, TcpListener, UdpSocket};

use crate::{HarnessError, Result};

/// How many ports to try before giving up on a server that keeps finding its port taken.
const START_ATTEMPTS: usize = 5;

/// A port on 127.0.0.1 free for both TCP and UDP right now (BIND binds both).
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = tcp.local_addr().expect("local addr").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both TCP and UDP on 127.0.0.1");
}

/// A free port whose successor is free too (OpenBao's cluster listener takes port + 1).
pub fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let port = free_port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no pair of adjacent free ports on 127.0.0.1");
}

/// A loopback address where nothing listens, TCP or UDP (a port just found free), for the
/// "server down" cases.
pub fn closed_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// Starts a server with `start(port)` on a port from `pick`, and again on a new port when it
/// reports the port in use (taken between the pick and the bind). Other errors end at once.
pub fn start_on_free_port<T>(
    pick: impl Fn() -> u16,
    mut start: impl FnMut(u16) -> Result<T>,
) -> Result<T> {
    let mut last = None;
    for _ in 0..START_ATTEMPTS {
        let port = pick();
        match start(port) {
            Ok(server) => return Ok(server),
            Err(err) => match as_port_conflict(err, port) {
                conflict @ HarnessError::PortInUse { .. } => last = Some(conflict),
                other => return Err(other),
            },
        }
    }
    Err(last.expect("at least one attempt"))
}

/// A script failure whose output says the port was in use becomes [`HarnessError::PortInUse`].
fn as_port_conflict(err: HarnessError, port: u16) -> HarnessError {
    match err {
        HarnessError::Script {
            script,
            stdout,
            stderr,
            ..
        } if is_port_conflict(&stderr) || is_port_conflict(&stdout) => HarnessError::PortInUse {
            script,
            port,
            detail: stderr,
        },
        other => other,
    }
}

/// The bootstrap scripts say "already in use"; servers' own logs say "address already in use".
fn is_port_conflict(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    text.contains("already in use") || text.contains("address in use")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script_error(stderr: &str) -> HarnessError {
        HarnessError::Script {
            script: "bootstrap/x.sh".into(),
            args: vec![],
            status: "exit status: 1".into(),
            stdout: String::new(),
            stderr: stderr.into(),
        }
    }

    #[test]
    fn a_taken_port_is_retried_on_another_and_other_errors_are_not() {
        let mut tried = Vec::new();
        let next = std::cell::Cell::new(40_000u16);
        let pick = || {
            next.set(next.get() + 1);
            next.get()
        };
        let started = start_on_free_port(pick, |port| {
            tried.push(port);
            if tried.len() < 3 {
                Err(script_error(
                    "127.0.0.1:1 is already in use by another process",
                ))
            } else {
                Ok(port)
            }
        });
        assert_eq!(started.unwrap(), 40_003);
        assert_eq!(tried, [40_001, 40_002, 40_003]);

        let mut calls = 0;
        let err = start_on_free_port(free_port, |_| -> Result<()> {
            calls += 1;
            Err(script_error("named is not installed"))
        })
        .unwrap_err();
        assert_eq!((calls, err.code()), (1, "script_failed"));

        let err = start_on_free_port(free_port, |_| -> Result<()> {
            Err(script_error("bind: Address already in use"))
        })
        .unwrap_err();
        assert_eq!(err.code(), "port_in_use", "gives up after {START_ATTEMPTS}");
    }

    #[test]
    fn picked_ports_are_free() {
        let port = free_port();
        assert!(TcpListener::bind(("127.0.0.1", port)).is_ok());
        let pair = free_port_pair();
        assert!(TcpListener::bind(("127.0.0.1", pair)).is_ok());
        assert!(TcpListener::bind(("127.0.0.1", pair + 1)).is_ok());
        let closed = closed_addr();
        assert!(
            std::net::TcpStream::connect(closed).is_err(),
            "nothing listens"
        );
    }
}
