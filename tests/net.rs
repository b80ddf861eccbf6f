//! The network API (repy-api.md §7) run as a user would: examples from two terminals,
//! every call's success, every documented error, and the resources the calls charge.

mod common;

use std::{
    io::{BufRead, BufReader},
    net::{Ipv4Addr, TcpListener, UdpSocket},
    path::Path,
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use common::{free_port, once, repy, restrictions_with, run_program, Run, Vessel};

/// A `repy run` in the background that is killed when dropped.
struct Background(Child);

impl Background {
    /// Starts `repy run ARGS...` from the project directory and waits for its first line.
    fn start(args: &[&str]) -> (Background, String) {
        let mut child = repy()
            .arg("run")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("repy starts");
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut first).expect("first line");
        (Background(child), first)
    }

    fn stop(mut self) -> String {
        let _ = self.0.kill();
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(self.0.stdout.as_mut().unwrap(), &mut rest);
        rest
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn repy_run_here(args: &[&str]) -> Run {
    common::repy_in(Path::new(env!("CARGO_MANIFEST_DIR")), &[&["run"], args].concat())
}

#[test]
fn udp_ping_pair_works_from_two_terminals() {
    let (server_port, client_port) = (free_port().to_string(), free_port().to_string());
    let (server, first) = Background::start(&["examples/udp_ping_server.py", &server_port]);
    assert_eq!(first, format!("ping server listening on 127.0.0.1:{server_port}\n"));
    let started = Instant::now();
    let client = repy_run_here(&["examples/udp_ping_client.py", &format!("127.0.0.1:{server_port}"), "hello", &client_port]);
    assert_eq!(client.status, Some(0), "{client:?}");
    assert!(client.stdout.starts_with(&format!("reply from 127.0.0.1:{server_port}: hello (")), "{client:?}");
    assert!(started.elapsed() >= Duration::from_secs(1), "the client exits after one second");
    let rest = server.stop();
    assert!(rest.contains(&format!("echoed 5 bytes to 127.0.0.1:{client_port}")), "{rest}");
}

#[test]
fn tcp_echo_pair_and_http_server() {
    let port = free_port().to_string();
    let (server, first) = Background::start(&["examples/tcp_echo_server.py", &port]);
    assert_eq!(first, format!("echo server listening on 127.0.0.1:{port}\n"));
    let message = "x".repeat(100_000);
    let client = repy_run_here(&["examples/tcp_echo_client.py", &format!("127.0.0.1:{port}"), &message]);
    assert_eq!(client.status, Some(0), "{client:?}");
    assert_eq!(client.stdout, format!("echoed: {message}\n"));
    drop(server);

    let port = free_port();
    let (_http, first) = Background::start(&["examples/http_server.py", &port.to_string()]);
    assert_eq!(first, format!("serving http://127.0.0.1:{port}/\n"));
    let get = |path: &str| {
        use std::io::{Read, Write};
        let mut conn = std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        write!(conn, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
        let mut response = String::new();
        conn.read_to_string(&mut response).unwrap();
        response
    };
    let page = get("/");
    assert!(page.starts_with("HTTP/1.0 200 OK\r\n"), "{page}");
    assert!(page.contains("Hello from a Repy vessel") && page.contains("This is request 1;"), "{page}");
    assert!(get("/").contains("This is request 2;"));
    assert!(get("/missing").starts_with("HTTP/1.0 404 Not Found\r\n"));
}

#[test]
fn udp_messages_handles_and_reregistration() {
    let (p, q) = (free_port(), free_port());
    let run = run_program(&format!(
        "def first(ip, port, msg, handle):\n    print('first', ip, port, repr(msg))\n\
         def second(ip, port, msg, handle):\n    print('second', ip, port == {q}, repr(msg), str(type(handle))[8:-2])\n    if msg == 'stop':\n        print(stopcomm(handle), stopcomm(handle))\n\
         if callfunc == 'initialize':\n    old = recvmess('127.0.0.1', {p}, first)\n    new = recvmess('127.0.0.1', {p}, second)\n    print(stopcomm(old))\n\
         \x20   print(sendmess('127.0.0.1', {p}, 'h\\xe9\\xff', '127.0.0.1', {q}))\n    print(sendmess('localhost', {p}, b'\\x00raw', '', 0))\n\
         \x20   sleep(0.3)\n    sendmess('127.0.0.1', {p}, 'stop', '127.0.0.1', {q})\n\
         else:\n    print('exit run')\n"
    ));
    assert_eq!(run.status, Some(0), "{run:?}");
    // Callbacks run concurrently, so only the lines of one thread keep their order.
    let lines: Vec<&str> = run.stdout.lines().collect();
    let (mut delivered, returned): (Vec<&str>, Vec<&str>) = lines.iter().partition(|l| l.starts_with("second"));
    assert_eq!(returned, ["False", "3", "4", "True False", "exit run"], "stale handle, bytes sent, stopcomm, then the exit run: {run:?}");
    let stop = "second 127.0.0.1 True 'stop' commhandle";
    let at = |line: &str| lines.iter().position(|l| *l == line);
    assert!(at(stop) < at("True False"), "stopcomm is called by the callback that got 'stop': {run:?}");
    delivered.sort();
    assert_eq!(delivered, ["second 127.0.0.1 False '\\x00raw' commhandle", "second 127.0.0.1 True 'héÿ' commhandle", stop], "{run:?}");
}

#[test]
fn tcp_connections_send_recv_close_and_willblock() {
    let p = free_port();
    let run = run_program(&format!(
        "def serve(ip, port, sock, this, listener):\n    data = sock.recv(100)\n    sock.send(data.upper())\n    sock.send('tail')\n    print('server closes', sock.close(), sock.close())\n    stopcomm(listener)\n\
         if callfunc == 'initialize':\n    h = waitforconn('127.0.0.1', {p}, serve)\n    s = openconn('127.0.0.1', {p}, timeout=2)\n\
         \x20   print(s.willblock())\n    print(s.send('hello\\xe9'))\n    got = ''\n\
         \x20   try:\n        while True:\n            got += s.recv(3)\n    except SocketClosedRemote as e:\n        print(repr(got), str(e), isinstance(e, SocketClosedError))\n\
         \x20   print(s.close(), s.close())\n\
         \x20   try:\n        s.send('x')\n    except SocketClosedLocal as e:\n        print('after close:', e)\n\
         \x20   try:\n        s.willblock()\n    except SocketClosedLocal as e:\n        print('willblock:', e)\n"
    ));
    assert_eq!(run.status, Some(0), "{run:?}");
    // The server's thread prints once it has closed, so its line may come anywhere after the first;
    // the main thread's lines come in program order.
    let (server, client): (Vec<&str>, Vec<&str>) = run.stdout.lines().partition(|l| l.starts_with("server"));
    assert_eq!(server, ["server closes True False"], "{run:?}");
    assert_eq!(run.stdout.lines().next(), Some("(True, False)"), "nothing to read yet, room to send");
    assert_eq!(
        client,
        [
            "(True, False)",
            "6",
            "'HELLOÉtail' Socket closed True", // data sent before the close still arrives
            "True False",
            "after close: Socket closed",
            "willblock: Socket closed",
        ],
        "{run:?}"
    );
}

#[test]
fn close_from_another_thread_wakes_a_blocked_recv_and_slow_peers_block_no_one() {
    let p = free_port();
    let run = run_program(&format!(
        "def serve(ip, port, sock, this, listener):\n    try:\n        if sock.recv(10) == 'quick':\n            sock.send('answer')\n    except SocketClosedError:\n        pass\n\
         if callfunc == 'initialize':\n    waitforconn('127.0.0.1', {p}, serve)\n    silent = openconn('127.0.0.1', {p})\n    quick = openconn('127.0.0.1', {p})\n\
         \x20   silent.send('slow')\n    quick.send('quick')\n    print(quick.recv(10))\n\
         \x20   waiting = openconn('127.0.0.1', {p})\n    settimer(0.3, waiting.close, [])\n    start = getruntime()\n\
         \x20   try:\n        waiting.recv(5)\n    except SocketClosedLocal:\n        print('woken after the close', 0.25 < getruntime() - start < 2)\n    exitall()\n"
    ));
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(run.stdout, "answer\nwoken after the close True\n", "{run:?}");
}

#[test]
fn stopcomm_on_a_connection_handle_closes_the_socket() {
    let p = free_port();
    let run = run_program(&once(&format!(
        "def serve(ip, port, sock, this, listener):\n    print('stop', stopcomm(this), stopcomm(this))\n    try:\n        sock.recv(1)\n    except SocketClosedLocal:\n        print('closed locally')\n    stopcomm(listener)\n\
         waitforconn('127.0.0.1', {p}, serve)\ns = openconn('127.0.0.1', {p})\ntry:\n    s.recv(1)\nexcept SocketClosedRemote:\n    print('closed remotely')\n"
    )));
    assert_eq!(run.status, Some(0), "{run:?}");
    let mut lines: Vec<&str> = run.stdout.lines().collect();
    lines.sort();
    assert_eq!(lines, ["closed locally", "closed remotely", "stop True False"]);
}

/// Runs `call` under `restrictions` and prints the class and message of what it raises.
fn error_of(setup: &str, call: &str, restrictions: Option<&str>, extra: &[&str]) -> String {
    let vessel = Vessel::new();
    let mut args: Vec<&str> = extra.to_vec();
    if let Some(text) = restrictions {
        vessel.write("r.txt", text);
        args.extend(["--restrictions", "r.txt"]);
    }
    let run = vessel.run(
        &once(&format!("{setup}\ntry:\n    {call}\n    print('no error')\nexcept RepyError as e:\n    print(str(type(e))[8:-2] + ': ' + str(e))\nexitall()\n")),
        &args,
        &[],
    );
    assert_eq!(run.status, Some(0), "{run:?}");
    run.stdout.trim_end().lines().last().unwrap_or_default().to_owned()
}

#[test]
fn documented_errors_name_the_culprit() {
    let p = free_port();
    let closed = free_port();
    let cases: Vec<(String, &str)> = vec![
        ("recvmess('127.0.0.1', 0, print)".to_owned(), "RepyArgumentError: recvmess: localport must be an int from 1 to 65535"),
        ("recvmess('127.0.0.1', 70000, print)".to_owned(), "RepyArgumentError: recvmess: localport must be an int from 1 to 65535"),
        ("recvmess('127.0.0.1', True, print)".to_owned(), "RepyArgumentError: recvmess: localport must be an int from 1 to 65535"),
        (format!("recvmess('0.0.0.0', {p}, print)"), "RepyArgumentError: recvmess: localip must be a specific address, not 0.0.0.0"),
        (format!("recvmess('127.0.0.1', {p}, 5)"), "RepyArgumentError: recvmess: function must be callable"),
        (
            format!("sendmess('127.0.0.1', {p}, 'x', '127.0.0.1')"),
            "RepyArgumentError: sendmess: localip and localport must be given together",
        ),
        (format!("sendmess('127.0.0.1', {p}, 'x' * 65508)"), "RepyArgumentError: sendmess: message is 65508 bytes (at most 65507)"),
        (
            format!("sendmess('127.0.0.1', {p}, 'a' + chr(300))"),
            "RepyArgumentError: sendmess: message: character 'Ĭ' at index 1 is not a byte (code point above 255)",
        ),
        (
            format!("sendmess('no-such-host.invalid', {p}, 'x')"),
            "NetworkAddressError: sendmess: cannot resolve host 'no-such-host.invalid'",
        ),
        (format!("openconn('127.0.0.1', {closed})"), ""),
        (format!("openconn('127.0.0.1', {p}, timeout=0)"), "RepyArgumentError: openconn: timeout must be a number greater than 0"),
        ("stopcomm(5)".to_owned(), "RepyArgumentError: stopcomm: commhandle must be a handle returned by recvmess or waitforconn"),
        (
            "gethostbyname_ex('no-such-host.invalid')".to_owned(),
            "NetworkAddressError: gethostbyname_ex: cannot resolve 'no-such-host.invalid'",
        ),
    ];
    for (call, expected) in cases {
        let got = error_of("", &call, None, &[]);
        if expected.is_empty() {
            assert_eq!(got, format!("ConnectionRefusedError: openconn: connection to 127.0.0.1:{closed} refused"));
        } else {
            assert_eq!(got, expected, "{call}");
        }
    }
}

#[test]
fn ports_and_socket_counts_are_enforced() {
    let (p, q, other) = (free_port(), free_port(), free_port());
    let ports = format!("resource messport {p}\nresource connport {p}\nresource insockets 1\nresource outsockets 1");
    let limited = restrictions_with(&ports);
    let r = Some(limited.as_str());
    assert_eq!(
        error_of("", &format!("recvmess('127.0.0.1', {other}, print)"), r, &[]),
        format!("ResourceForbiddenError: recvmess: UDP port {other} is not a messport of this vessel")
    );
    assert_eq!(
        error_of("", &format!("waitforconn('127.0.0.1', {other}, print)"), r, &[]),
        format!("ResourceForbiddenError: waitforconn: TCP port {other} is not a connport of this vessel")
    );
    assert_eq!(
        error_of("", &format!("sendmess('127.0.0.1', {q}, 'x', '127.0.0.1', {other})"), r, &[]),
        format!("ResourceForbiddenError: sendmess: UDP port {other} is not a messport of this vessel")
    );
    assert_eq!(error_of("", &format!("sendmess('127.0.0.1', {q}, 'x')"), r, &[]), "no error", "an OS-chosen port needs no messport");
    assert_eq!(
        error_of(&format!("recvmess('127.0.0.1', {p}, print)"), &format!("waitforconn('127.0.0.1', {p}, print)"), r, &[]),
        "ResourceExhaustedError: waitforconn: insockets limit reached (1 of 1 in use)"
    );
    // The first registration needs the listener event.
    let one_event = restrictions_with(&format!("{ports}\nresource events 1"));
    assert_eq!(
        error_of("", &format!("recvmess('127.0.0.1', {p}, print)"), Some(&one_event), &[]),
        "ResourceExhaustedError: recvmess: events limit reached (1 of 1 in use)"
    );
    // One outgoing socket at a time; an unreferenced one is reclaimed.
    let peer = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let peer_port = peer.local_addr().unwrap().port();
    let setup = format!("kept = openconn('127.0.0.1', {peer_port})");
    let exhausted = error_of(&setup, &format!("openconn('127.0.0.1', {peer_port})"), r, &[]);
    assert!(exhausted.starts_with("ResourceExhaustedError: openconn: outsockets limit reached"), "{exhausted}");
    let setup = format!("{setup}\ndel kept");
    assert_eq!(error_of(&setup, &format!("openconn('127.0.0.1', {peer_port}).close()"), r, &[]), "no error");
    // A port in use elsewhere.
    let _held = TcpListener::bind((Ipv4Addr::LOCALHOST, p)).unwrap();
    let bound = error_of("", &format!("waitforconn('127.0.0.1', {p}, print)"), r, &[]);
    assert!(bound.starts_with(&format!("AddressBindingError: waitforconn: cannot listen on 127.0.0.1:{p}")), "{bound}");
}

#[test]
fn duplicate_tuples_are_refused() {
    let (p, q) = (free_port(), free_port());
    let got = error_of(
        &format!("def serve(ip, port, sock, this, listener):\n    pass\nwaitforconn('127.0.0.1', {p}, serve)\nfirst = openconn('127.0.0.1', {p}, '127.0.0.1', {q})"),
        &format!("openconn('127.0.0.1', {p}, '127.0.0.1', {q})"),
        None,
        &[],
    );
    assert_eq!(got, format!("DuplicateTupleError: openconn: Duplicate connection tuple (local 127.0.0.1:{q}, remote 127.0.0.1:{p})"));
}

#[test]
fn openconn_times_out_when_the_peer_never_answers() {
    use socket2::{Domain, Socket, Type};
    // A listener with a full backlog: the kernel drops further connection attempts.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener.bind(&std::net::SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into()).unwrap();
    listener.listen(0).unwrap();
    let port = listener.local_addr().unwrap().as_socket().unwrap().port();
    let _filling = std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    let started = Instant::now();
    let got = error_of("", &format!("openconn('127.0.0.1', {port}, timeout=1)"), None, &[]);
    assert_eq!(got, format!("TimeoutError: openconn: connection to 127.0.0.1:{port} timed out after 1 s"));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[test]
fn local_address_options_decide_getmyip_and_allowed_ips() {
    let getmyip = |extra: &[&str]| Vessel::new().run(&once("print(getmyip())"), extra, &[]);
    let expected = {
        let probe = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        probe.connect(("8.8.8.8", 53)).ok().and_then(|_| probe.local_addr().ok()).map(|a| a.ip().to_string())
    };
    let plain = getmyip(&[]);
    match expected {
        Some(ip) => assert_eq!(plain.stdout, format!("{ip}\n"), "{plain:?}"),
        None => assert!(plain.stdout.contains("InternetConnectivityError"), "{plain:?}"),
    }
    assert_eq!(getmyip(&["--nootherips"]).stdout, "127.0.0.1\n");
    assert_eq!(getmyip(&["--ip", "192.0.2.1", "--iface", "lo", "--ip", "127.0.0.1"]).stdout, "127.0.0.1\n", "unbindable IPs are skipped");
    let p = free_port();
    assert_eq!(
        error_of("", &format!("recvmess('10.1.2.3', {p}, print)"), None, &["--nootherips"]),
        "ResourceForbiddenError: recvmess: IP '10.1.2.3' is not allowed"
    );
    assert_eq!(
        error_of("", &format!("sendmess('127.0.0.1', {p}, 'x', '10.1.2.3', {p})"), None, &["--nootherips"]),
        "ResourceForbiddenError: sendmess: IP '10.1.2.3' is not allowed"
    );
    let binding = error_of("", &format!("recvmess('192.0.2.1', {p}, print)"), None, &[]);
    assert!(binding.starts_with("AddressBindingError: recvmess: cannot listen on 192.0.2.1"), "{binding}");
    let run = run_program(&once("print(gethostbyname_ex('localhost')[2])\nprint(gethostbyname_ex('127.0.0.1'))"));
    assert!(run.stdout.lines().next().unwrap_or_default().contains("'127.0.0.1'"), "{run:?}");
    assert!(run.stdout.contains("('127.0.0.1', [], ['127.0.0.1'])"), "{run:?}");
}

#[test]
fn callbacks_hold_events_and_wait_for_a_free_one() {
    // events 2: the listener event plus one callback at a time, once initialize has ended.
    for (events, serial) in [(2, true), (10, false)] {
        let p = free_port();
        let restrictions = restrictions_with(&format!("resource events {events}"));
        let vessel = Vessel::new();
        vessel.write("r.txt", &restrictions);
        let run = vessel.run(
            &format!(
                "def got(ip, port, msg, handle):\n    lock.acquire()\n    mycontext['starts'].append(getruntime())\n    lock.release()\n    sleep(0.4)\n\
                 \x20   if msg == '3':\n        stopcomm(handle)\n\
                 if callfunc == 'initialize':\n    lock = getlock()\n    mycontext['starts'] = []\n    recvmess('127.0.0.1', {p}, got)\n\
                 \x20   for m in '123':\n        sendmess('127.0.0.1', {p}, m)\n\
                 else:\n    s = mycontext['starts']\n    print(len(s), round(max(s) - min(s), 1))\n"
            ),
            &["--restrictions", "r.txt"],
            &[],
        );
        assert_eq!(run.status, Some(0), "{run:?}");
        let spread: f64 = run.stdout.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!(run.stdout.starts_with("3 "), "{run:?}");
        if serial {
            assert!(spread >= 0.7, "one callback at a time: {run:?}");
        } else {
            assert!(spread <= 0.3, "callbacks run concurrently: {run:?}");
        }
    }
}

#[test]
fn traffic_is_charged_and_held_to_its_rate() {
    let p = free_port();
    let restrictions = restrictions_with("resource loopsend 20000\nresource netsend 0");
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions);
    // 40 datagrams of 936 bytes = 40 * 1000 charged bytes: twice the burst at 20 KB/s.
    let run = vessel.run(
        &once(&format!(
            "start = getruntime()\nfor i in range(40):\n    sendmess('127.0.0.1', {p}, 'x' * 936)\nprint(round(getruntime() - start))\n\
             try:\n    sendmess('192.0.2.1', {p}, 'x')\nexcept ResourceForbiddenError as e:\n    print(e)\n"
        )),
        &["--restrictions", "r.txt", "--usage"],
        &[],
    );
    assert_eq!(run.status, Some(0), "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "1", "40 KB at 20 KB/s after a 20 KB burst: {run:?}");
    assert!(lines[1].starts_with("sendmess: ") && lines[1].contains("netsend"), "{run:?}");
    let usage = run.stderr.lines().find(|l| l.starts_with("loopsend")).unwrap_or_default().to_owned();
    assert!(usage.contains("40000"), "the usage report shows the charged bytes: {}", run.stderr);
}

#[test]
fn receiving_waits_for_the_receive_side_rate() {
    let p = free_port();
    let restrictions = restrictions_with("resource looprecv 20000");
    let vessel = Vessel::new();
    vessel.write("r.txt", &restrictions);
    // 60 KB through one connection: the first 20 KB is the burst, the rest waits ~2 s.
    let run = vessel.run(
        &once(&format!(
            "def serve(ip, port, sock, this, listener):\n    data = 'x' * 60000\n    while data:\n        data = data[sock.send(data):]\n\
             waitforconn('127.0.0.1', {p}, serve)\ns = openconn('127.0.0.1', {p})\nstart = getruntime()\ngot = 0\n\
             while got < 60000:\n    got += len(s.recv(60000))\nprint(got, getruntime() - start)\nexitall()\n"
        )),
        &["--restrictions", "r.txt"],
        &[],
    );
    assert_eq!(run.status, Some(0), "{run:?}");
    let mut words = run.stdout.split_whitespace();
    assert_eq!(words.next(), Some("60000"), "{run:?}");
    let elapsed: f64 = words.next().unwrap().parse().unwrap();
    assert!((1.5..6.0).contains(&elapsed), "60 KB at 20 KB/s after a 20 KB burst took {elapsed} s");
}

/// `stopcomm` from inside the listener's own callback frees the port before it returns, so
/// the callback can listen on it again at once.
#[test]
fn a_udp_callback_can_stop_its_listener_and_listen_again_on_the_port() {
    let p = free_port();
    let run = run_program(&format!(
        "def again(ip, port, msg, handle):\n    print('again', msg)\n    stopcomm(handle)\n\
         def first(ip, port, msg, handle):\n    print('first', msg, stopcomm(handle))\n    recvmess('127.0.0.1', {p}, again)\n    sendmess('127.0.0.1', {p}, 'two')\n\
         if callfunc == 'initialize':\n    recvmess('127.0.0.1', {p}, first)\n    sendmess('127.0.0.1', {p}, 'one')\n"
    ));
    assert_eq!(run.status, Some(0), "{run:?}");
    assert_eq!(run.stdout, "first one True\nagain two\n", "{run:?}");
}
