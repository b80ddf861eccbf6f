//! Waiting for a socket to have data (or room to send), on the calling thread. A listener thread that waits
//! in the kernel itself is woken directly when a datagram arrives, one thread switch fewer
//! than going through the I/O runtime.

use std::{io, time::Duration};

/// The socket handle of the host system.
#[cfg(unix)]
pub type RawSocket = std::os::fd::RawFd;
#[cfg(windows)]
pub type RawSocket = std::os::windows::io::RawSocket;

/// Waits up to `timeout` for `socket` to become readable; true if it did (or has an error
/// pending, which a read then reports).
pub fn wait_readable(socket: RawSocket, timeout: Duration) -> io::Result<bool> {
    imp::wait(socket, false, timeout)
}

/// Waits up to `timeout` for `socket` to have room to send; true if it has.
pub fn wait_writable(socket: RawSocket, timeout: Duration) -> io::Result<bool> {
    imp::wait(socket, true, timeout)
}

/// The handle of `socket`, for the waits above.
#[cfg(unix)]
pub fn raw_socket(socket: &impl std::os::fd::AsRawFd) -> RawSocket {
    socket.as_raw_fd()
}

/// The handle of `socket`, for the waits above.
#[cfg(windows)]
pub fn raw_socket(socket: &impl std::os::windows::io::AsRawSocket) -> RawSocket {
    socket.as_raw_socket()
}

fn timeout_millis(timeout: Duration) -> i32 {
    i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX)
}

#[cfg(unix)]
mod imp {
    use super::*;

    pub fn wait(socket: RawSocket, write: bool, timeout: Duration) -> io::Result<bool> {
        let events = if write { libc::POLLOUT } else { libc::POLLIN };
        let mut poll = libc::pollfd { fd: socket, events, revents: 0 };
        // SAFETY: one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut poll, 1, timeout_millis(timeout)) };
        match ready {
            -1 => {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
            0 => Ok(false),
            _ => Ok(true),
        }
    }
}

#[cfg(windows)]
mod imp {
    use super::*;
    use windows_sys::Win32::Networking::WinSock::{WSAPoll, POLLRDNORM, POLLWRNORM, SOCKET_ERROR, WSAPOLLFD};

    pub fn wait(socket: RawSocket, write: bool, timeout: Duration) -> io::Result<bool> {
        let events = if write { POLLWRNORM } else { POLLRDNORM };
        let mut poll = WSAPOLLFD { fd: socket as _, events: events as _, revents: 0 };
        // SAFETY: one valid WSAPOLLFD for the duration of the call.
        let ready = unsafe { WSAPoll(&mut poll, 1, timeout_millis(timeout)) };
        match ready {
            SOCKET_ERROR => Err(io::Error::last_os_error()),
            0 => Ok(false),
            _ => Ok(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn readable_only_once_a_datagram_waits() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(!wait_readable(raw_socket(&socket), Duration::from_millis(20)).unwrap());
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        sender.send_to(b"x", socket.local_addr().unwrap()).unwrap();
        assert!(wait_readable(raw_socket(&socket), Duration::from_secs(5)).unwrap());
        assert!(wait_writable(raw_socket(&socket), Duration::from_secs(5)).unwrap());
    }
}
