//! `repy node run`: the TCP server (nodemanager.md §3.1) in front of the node, whose requests
//! run one at a time on a dedicated executor thread.

use std::{
    net::IpAddr,
    num::NonZeroU32,
    path::Path,
    sync::{
        atomic::{AtomicUsize, Ordering},
        mpsc, Arc,
    },
    time::Duration,
};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::Value;
use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
    sync::oneshot,
};
use tracing::{error, info, warn};

use crate::{
    calls::Outcome,
    frame::{self, FrameError},
    keys::PublicKey,
    node::{channel_notify, Node},
    request::{self, error_response, ok_response, unix_now, Checked, Code, NmError},
    vessel::Ended,
};

/// Messages to the executor thread.
enum Msg {
    Request { checked: Checked, peer: IpAddr, reply: oneshot::Sender<Result<Outcome, NmError>> },
    Ended(Ended),
    Shutdown(oneshot::Sender<()>),
}

/// What connection tasks share.
struct Shared {
    node_key: PublicKey,
    max_frame_bytes: usize,
    frame_timeout: Duration,
    idle_timeout: Duration,
    max_expiry_s: u64,
    max_connections: usize,
    connections: AtomicUsize,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    executor: mpsc::Sender<Msg>,
}

/// Sets up logging to stderr with timestamps (once per process).
pub fn init_logging() {
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_target(false).with_ansi(false).try_init();
}

/// Runs the node manager on state directory `dir` until SIGTERM/SIGINT.
pub fn run(dir: &Path) -> Result<(), String> {
    init_logging();
    let (tx, rx) = mpsc::channel::<Msg>();
    let mut node = Node::open(dir, channel_notify(tx.clone(), Msg::Ended))?;
    let config = node.config.clone();
    let node_key = node.node_key.clone();
    let (ready_tx, ready_rx) = mpsc::channel();
    let executor = std::thread::Builder::new()
        .name("executor".into())
        .spawn(move || {
            // Vessel processes are spawned from this thread: it lives as long as the node manager,
            // so their parent-death signal fires only when the node manager ends.
            let resumed = node.resume_started();
            let failed = resumed.is_err();
            let _ = ready_tx.send(resumed);
            if failed {
                return;
            }
            execute(node, rx);
        })
        .map_err(|e| format!("cannot start the executor thread: {e}"))?;
    ready_rx.recv().map_err(|_| "the executor thread failed at start-up".to_string())??;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the network runtime: {e}"))?;
    let result = runtime.block_on(async {
        let listener = TcpListener::bind(&config.listen).await.map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        let per_second = NonZeroU32::new(config.max_requests_per_s).expect("validated at load");
        let shared = Arc::new(Shared {
            node_key,
            max_frame_bytes: config.max_frame_bytes,
            frame_timeout: Duration::from_secs(config.frame_timeout_s),
            idle_timeout: Duration::from_secs(config.idle_timeout_s),
            max_expiry_s: config.max_expiry_s,
            max_connections: config.max_connections,
            connections: AtomicUsize::new(0),
            limiter: RateLimiter::keyed(Quota::per_second(per_second)),
            executor: tx.clone(),
        });
        let local = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| config.listen.clone());
        info!("node manager listening on {local} (node key {})", shared.node_key);
        accept_loop(listener, shared).await;
        Ok::<(), String>(())
    });
    // Stop accepting, let the current request finish, stop the vessels (kept as Started).
    let (done_tx, done_rx) = oneshot::channel();
    if tx.send(Msg::Shutdown(done_tx)).is_ok() {
        let _ = done_rx.blocking_recv();
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    let _ = executor.join();
    info!("node manager stopped");
    result
}

/// Most requests admitted together (one durable write of their sequence numbers).
const MAX_BATCH: usize = 64;

/// A request waiting for the executor, with where its answer goes.
struct Pending {
    checked: Checked,
    /// `PEER key=FINGERPRINT call=CALL vessel=NAME`: the start of its log line.
    who: String,
    reply: oneshot::Sender<Result<Outcome, NmError>>,
}

impl Pending {
    fn new(checked: Checked, peer: IpAddr, reply: oneshot::Sender<Result<Outcome, NmError>>) -> Pending {
        let key = checked.signer.as_ref().map(|s| s.key.fingerprint().to_string()).unwrap_or_else(|| "-".into());
        let vessel = checked.args.get("vessel").and_then(Value::as_str).unwrap_or("-");
        let who = format!("{peer} key={key} call={} vessel={vessel}", checked.call);
        Pending { checked, who, reply }
    }
}

fn execute(mut node: Node, rx: mpsc::Receiver<Msg>) {
    while let Ok(first) = rx.recv() {
        // Requests that arrived meanwhile are admitted together: their sequence numbers are
        // made durable (§7 rule 2) in one write instead of one write each.
        let mut messages = vec![first];
        while messages.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(msg) => messages.push(msg),
                Err(_) => break,
            }
        }
        let mut batch = Vec::new();
        for msg in messages {
            match msg {
                Msg::Request { checked, peer, reply } => batch.push(Pending::new(checked, peer, reply)),
                Msg::Ended(ended) => {
                    run_batch(&mut node, std::mem::take(&mut batch));
                    node.on_ended(ended);
                }
                Msg::Shutdown(done) => {
                    run_batch(&mut node, std::mem::take(&mut batch));
                    info!("shutting down: stopping vessels");
                    node.shutdown();
                    let _ = done.send(());
                    return;
                }
            }
        }
        run_batch(&mut node, batch);
    }
}

/// Admits every request of `batch`, persists their sequence numbers once, then executes
/// them in order. A bug in one request must not take the node manager down with it.
fn run_batch(node: &mut Node, batch: Vec<Pending>) {
    let mut admitted = Vec::new();
    for pending in batch {
        match guarded(&pending.checked.call, || node.admit(&pending.checked)) {
            Ok(()) => admitted.push(pending),
            Err(e) => answer(pending.who, pending.reply, Err(e)),
        }
    }
    let signers: Vec<String> = admitted.iter().filter_map(|p| p.checked.signer.as_ref().map(|s| s.key.as_str().to_owned())).collect();
    if !signers.is_empty() {
        let keys: Vec<&str> = signers.iter().map(String::as_str).collect();
        if let Err(e) = guarded("persisting sequence numbers", || node.persist_seq(&keys)) {
            admitted.into_iter().for_each(|p| answer(p.who, p.reply, Err(e.clone())));
            return;
        }
    }
    for Pending { checked, who, reply } in admitted {
        let call = checked.call.clone();
        let result = guarded(&call, || node.handle_admitted(checked));
        answer(who, reply, result);
    }
}

/// Runs `step`, turning a panic into an `Internal` error.
fn guarded<T>(what: &str, step: impl FnOnce() -> Result<T, NmError>) -> Result<T, NmError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)).unwrap_or_else(|panic| {
        let why =
            panic.downcast_ref::<String>().map(String::as_str).or_else(|| panic.downcast_ref::<&str>().copied()).unwrap_or("unknown panic");
        Err(crate::node::internal(&format!("executing {what}"), why))
    })
}

/// Logs one line for the request and sends its answer.
fn answer(who: String, reply: oneshot::Sender<Result<Outcome, NmError>>, result: Result<Outcome, NmError>) {
    match &result {
        Ok(_) => info!("{who} result=ok"),
        Err(e) => info!("{who} result={} ({})", e.code, e.message),
    }
    let _ = reply.send(result);
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        error!("cannot install signal handlers; stop the node manager with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM received"),
        _ = int.recv() => info!("SIGINT received"),
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let stop = shutdown_signal();
    tokio::pin!(stop);
    let mut housekeeping = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = housekeeping.tick() => {
                // Forget rate-limit state of addresses that have been quiet.
                shared.limiter.retain_recent();
                shared.limiter.shrink_to_fit();
            }
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let count = shared.connections.fetch_add(1, Ordering::SeqCst) + 1;
                    let guard = ConnectionGuard(shared.clone());
                    if count > shared.max_connections {
                        warn!("{peer}: refused, {} connections already open", shared.max_connections);
                        let e = NmError::new(Code::Busy, format!("too many connections (at most {})", shared.max_connections));
                        let mut stream = stream;
                        let _ = send(&mut stream, &error_response(None, &e), shared.frame_timeout).await;
                        drop(guard);
                        return;
                    }
                    serve_connection(stream, peer.ip(), &shared).await;
                    drop(guard);
                });
            }
        }
    }
}

struct ConnectionGuard(Arc<Shared>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn send(stream: &mut TcpStream, value: &Value, timeout: Duration) -> Result<(), ()> {
    let bytes = frame::encode(value);
    match tokio::time::timeout(timeout, stream.write_all(&bytes)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

async fn serve_connection(mut stream: TcpStream, peer: IpAddr, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    loop {
        let body = match frame::read_frame(&mut stream, shared.max_frame_bytes, shared.idle_timeout, shared.frame_timeout).await {
            Ok(body) => body,
            Err(FrameError::Closed) | Err(FrameError::Io(_)) => return,
            Err(FrameError::Idle) => {
                info!("{peer}: closing idle connection");
                return;
            }
            Err(e) => {
                info!("{peer}: BadFrame ({e}); closing the connection");
                let _ = send(&mut stream, &error_response(None, &NmError::new(Code::BadFrame, e.to_string())), shared.frame_timeout).await;
                return;
            }
        };
        let object = match frame::parse_object(&body) {
            Ok(object) => object,
            Err(e) => {
                info!("{peer}: BadFrame ({e}); closing the connection");
                let _ = send(&mut stream, &error_response(None, &NmError::new(Code::BadFrame, e)), shared.frame_timeout).await;
                return;
            }
        };
        let id = request::request_id(&object);
        let response = match handle(object, peer, shared).await {
            Some(Ok((result, warning))) => ok_response(id.as_deref(), result, warning),
            Some(Err(e)) => error_response(id.as_deref(), &e),
            // The node manager is shutting down.
            None => return,
        };
        if send(&mut stream, &response, shared.frame_timeout).await.is_err() {
            info!("{peer}: could not send a response in time; closing the connection");
            return;
        }
    }
}

async fn handle(object: serde_json::Map<String, Value>, peer: IpAddr, shared: &Shared) -> Option<Result<Outcome, NmError>> {
    if shared.limiter.check_key(&peer).is_err() {
        info!("{peer} result=Busy (rate limit)");
        return Some(Err(NmError::new(Code::Busy, format!("too many requests from {peer}; slow down"))));
    }
    let checked =
        request::parse_envelope(&object).and_then(|envelope| request::check(envelope, &shared.node_key, unix_now(), shared.max_expiry_s));
    let checked = match checked {
        Ok(c) => c,
        Err(e) => {
            let key = object.get("key").and_then(Value::as_str).map(|k| k.chars().take(8).collect()).unwrap_or_else(|| "-".to_string());
            info!("{peer} key={key} call=? result={} ({})", e.code, e.message);
            return Some(Err(e));
        }
    };
    let (reply, wait) = oneshot::channel();
    shared.executor.send(Msg::Request { checked, peer, reply }).ok()?;
    wait.await.ok()
}
