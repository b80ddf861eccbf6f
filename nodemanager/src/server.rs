//! `repy node run`: the TCP server (nodemanager.md §3.1) in front of the node, whose requests
//! run one at a time on a dedicated executor thread. Who gets one of the `max_connections`
//! slots is decided by [`crate::connections`].

use std::{
    collections::{BTreeMap, BTreeSet},
    future::Future,
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    path::{Path, PathBuf},
    pin::Pin,
    sync::{mpsc, Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::Value;
use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
    sync::{oneshot, watch, Notify},
};
use tracing::{error, info, warn};

use crate::{
    calls::Outcome,
    connections::{self, Decision, Table},
    frame::{self, FrameError},
    keys::PublicKey,
    node::{channel_notify, Node},
    request::{self, error_response, ok_response, unix_now, Checked, Code, NmError},
    state::Config,
    vessel::Ended,
};

/// Messages to the executor thread.
enum Msg {
    Request { checked: Checked, peer: IpAddr, reply: oneshot::Sender<Answer> },
    Ended(Ended),
    Shutdown(oneshot::Sender<()>),
}

/// The executor's answer to a request.
struct Answer {
    result: Result<Outcome, NmError>,
    /// The request was admitted and signed by a key with a role: its connection has proven
    /// itself (see [`crate::connections`]).
    proven: bool,
}

/// What connection tasks share.
struct Shared {
    node_key: PublicKey,
    max_frame_bytes: usize,
    frame_timeout: Duration,
    idle_timeout: Duration,
    max_expiry_s: u64,
    max_connections: usize,
    table: Mutex<Table>,
    /// Notified when a slot frees or a request finishes executing.
    changed: Notify,
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    executor: mpsc::Sender<Msg>,
}

/// Sets up logging to stderr with timestamps (once per process).
pub fn init_logging() {
    let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).with_target(false).with_ansi(false).try_init();
}

/// What a [`Companion`] is given: the node's directory and settings, where the server listens,
/// and what the node announces (see [`NodeState::advertised`]), updated after every change.
pub struct Context {
    pub dir: PathBuf,
    pub config: Config,
    pub local_addr: SocketAddr,
    pub advertised: watch::Receiver<Advertised>,
}

/// Each key that owns or may use an advertised vessel, with the vessels' names.
pub type Advertised = BTreeMap<PublicKey, BTreeSet<String>>;

/// A task that runs beside the server on its runtime for as long as the node manager does:
/// discovery (repy-discovery), which depends on this crate and so cannot be called from it.
pub type Companion = Box<dyn FnOnce(Context) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// Runs the node manager on state directory `dir` until SIGTERM/SIGINT.
pub fn run(dir: &Path) -> Result<(), String> {
    run_with(dir, None)
}

/// [`run`], with `companion` (if any) started once the server listens.
pub fn run_with(dir: &Path, companion: Option<Companion>) -> Result<(), String> {
    init_logging();
    let (tx, rx) = mpsc::channel::<Msg>();
    let mut node = Node::open(dir, channel_notify(tx.clone(), Msg::Ended))?;
    let config = node.config.clone();
    let node_key = node.node_key.clone();
    let (advertised_tx, advertised_rx) = watch::channel(node.state.advertised());
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
            execute(node, rx, advertised_tx);
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
            table: Mutex::new(Table::new(config.max_connections, connections::GRACE)),
            changed: Notify::new(),
            limiter: RateLimiter::keyed(Quota::per_second(per_second)),
            executor: tx.clone(),
        });
        let local = listener.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| config.listen.clone());
        info!("node manager listening on {local} (node key {})", shared.node_key);
        if let (Some(companion), Ok(local_addr)) = (companion, listener.local_addr()) {
            let context = Context { dir: dir.to_path_buf(), config: config.clone(), local_addr, advertised: advertised_rx };
            tokio::spawn(companion(context));
        }
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
    reply: oneshot::Sender<Answer>,
}

impl Pending {
    fn new(checked: Checked, peer: IpAddr, reply: oneshot::Sender<Answer>) -> Pending {
        let key = checked.signer.as_ref().map(|s| s.key.fingerprint().to_string()).unwrap_or_else(|| "-".into());
        let vessel = checked.args.get("vessel").and_then(Value::as_str).unwrap_or("-");
        let who = format!("{peer} key={key} call={} vessel={vessel}", checked.call);
        Pending { checked, who, reply }
    }
}

fn execute(mut node: Node, rx: mpsc::Receiver<Msg>, advertised: watch::Sender<Advertised>) {
    while let Ok(first) = rx.recv() {
        if !execute_batch(&mut node, &rx, first) {
            return;
        }
        let now = node.state.advertised();
        advertised.send_if_modified(|old| {
            let changed = *old != now;
            *old = now;
            changed
        });
    }
}

/// Executes `first` and what arrived with it; false once the node has shut down.
fn execute_batch(node: &mut Node, rx: &mpsc::Receiver<Msg>, first: Msg) -> bool {
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
                run_batch(node, std::mem::take(&mut batch));
                node.on_ended(ended);
            }
            Msg::Shutdown(done) => {
                run_batch(node, std::mem::take(&mut batch));
                info!("shutting down: stopping vessels");
                node.shutdown();
                let _ = done.send(());
                return false;
            }
        }
    }
    run_batch(node, batch);
    true
}

/// Admits every request of `batch`, persists the sequence numbers that must be durable once
/// (no write at all if none must), then executes them in order. A bug in one request must not
/// take the node manager down with it.
fn run_batch(node: &mut Node, batch: Vec<Pending>) {
    let mut admitted = Vec::new();
    let mut durable = Vec::new();
    for pending in batch {
        match guarded(&pending.checked.call, || node.admit(&pending.checked)) {
            Ok(admission) => {
                if let (Some(signer), true) = (&pending.checked.signer, admission.durable) {
                    durable.push(signer.key.as_str().to_owned());
                }
                admitted.push((pending, admission.role));
            }
            Err(e) => answer(pending.who, pending.reply, Err(e), false),
        }
    }
    if !durable.is_empty() {
        let keys: Vec<&str> = durable.iter().map(String::as_str).collect();
        if let Err(e) = guarded("persisting sequence numbers", || node.persist_seq(&keys)) {
            admitted.into_iter().for_each(|(p, _)| answer(p.who, p.reply, Err(e.clone()), false));
            return;
        }
    }
    for (Pending { checked, who, reply }, proven) in admitted {
        let call = checked.call.clone();
        let result = guarded(&call, || node.handle_admitted(checked));
        answer(who, reply, result, proven);
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
fn answer(who: String, reply: oneshot::Sender<Answer>, result: Result<Outcome, NmError>, proven: bool) {
    match &result {
        Ok(_) => info!("{who} result=ok"),
        Err(e) => info!("{who} result={} ({})", e.code, e.message),
    }
    let _ = reply.send(Answer { result, proven });
}

/// Resolves when the node manager is asked to stop: SIGTERM or SIGINT on Unix; Ctrl-C,
/// Ctrl-Break or the console closing on Windows.
#[cfg(unix)]
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

#[cfg(windows)]
async fn shutdown_signal() {
    use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close};
    let (Ok(mut int), Ok(mut brk), Ok(mut close)) = (ctrl_c(), ctrl_break(), ctrl_close()) else {
        error!("cannot install console handlers; stop the node manager with TerminateProcess");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => info!("Ctrl-C received"),
        _ = brk.recv() => info!("Ctrl-Break received"),
        _ = close.recv() => info!("console closed"),
    }
}

/// Accepts connections and gives each a slot of the table, one newcomer at a time: while
/// the table is full and no connection can give way yet, the others wait in the listen queue.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let stop = shutdown_signal();
    tokio::pin!(stop);
    let mut housekeeping = tokio::time::interval(Duration::from_secs(60));
    // A connection accepted but not yet given a slot, and since when it waits.
    let mut newcomer: Option<(TcpStream, SocketAddr, Instant)> = None;
    loop {
        let mut until = None;
        if let Some((stream, peer, since)) = newcomer.take() {
            let decision = shared.lock_table().admit(Instant::now());
            match decision {
                Decision::Admit { id, evicted, displaced } => {
                    if let Some(old) = displaced {
                        info!("{peer}: connection table full; connection {old} gives way to connection {id}");
                    }
                    tokio::spawn(connection(stream, peer.ip(), id, evicted, shared.clone()));
                    continue;
                }
                Decision::Refuse => {
                    refuse(stream, peer, &shared, format!("too many connections (at most {})", shared.max_connections));
                    continue;
                }
                Decision::Wait { .. } if since.elapsed() >= connections::ADMISSION_WAIT => {
                    let why = format!(
                        "too many connections (at most {}), and none gave way within {} s",
                        shared.max_connections,
                        connections::ADMISSION_WAIT.as_secs()
                    );
                    refuse(stream, peer, &shared, why);
                    continue;
                }
                Decision::Wait { until: when } => {
                    let deadline = since + connections::ADMISSION_WAIT;
                    until = Some(when.map_or(deadline, |w| w.min(deadline)));
                    newcomer = Some((stream, peer, since));
                }
            }
        }
        let waiting = newcomer.is_some();
        let wake = tokio::time::Instant::from_std(until.unwrap_or_else(Instant::now));
        tokio::select! {
            _ = &mut stop => return,
            _ = housekeeping.tick() => {
                // Forget rate-limit state of addresses that have been quiet.
                shared.limiter.retain_recent();
                shared.limiter.shrink_to_fit();
            }
            _ = shared.changed.notified(), if waiting => {}
            _ = tokio::time::sleep_until(wake), if waiting => {}
            accepted = listener.accept(), if !waiting => match accepted {
                Ok((stream, peer)) => newcomer = Some((stream, peer, Instant::now())),
                Err(e) => {
                    warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Answers `Busy` on a connection that gets no slot, and closes it.
fn refuse(stream: TcpStream, peer: SocketAddr, shared: &Arc<Shared>, why: String) {
    warn!("{peer}: refused: {why}");
    let timeout = shared.frame_timeout;
    tokio::spawn(async move {
        let mut stream = stream;
        let _ = send(&mut stream, &error_response(None, &NmError::new(Code::Busy, why)), timeout).await;
    });
}

impl Shared {
    fn lock_table(&self) -> MutexGuard<'_, Table> {
        // The table holds no invariant a panic elsewhere could break half-way.
        self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Frees the connection's slot when its task ends, however it ends.
struct SlotGuard {
    shared: Arc<Shared>,
    id: connections::Id,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.shared.lock_table().remove(self.id);
        self.shared.changed.notify_one();
    }
}

/// Serves one admitted connection until it closes, or until it must give way (`evicted`).
async fn connection(mut stream: TcpStream, peer: IpAddr, id: connections::Id, evicted: oneshot::Receiver<()>, shared: Arc<Shared>) {
    let guard = SlotGuard { shared: shared.clone(), id };
    let gave_way = tokio::select! {
        served = serve_connection(&mut stream, peer, id, &shared) => served == Served::GaveWay,
        Ok(()) = evicted => true,
    };
    drop(guard);
    if gave_way {
        info!("{peer}: connection {id} closed to make room for a new one");
        let why = format!(
            "connection closed to make room: all {} connections are in use, and within {} s of connecting this one sent no \
             request signed by a key with a role on this node",
            shared.max_connections,
            connections::GRACE.as_secs()
        );
        let _ = send(&mut stream, &error_response(None, &NmError::new(Code::Busy, why)), Duration::from_secs(1)).await;
    }
}

async fn send(stream: &mut TcpStream, value: &Value, timeout: Duration) -> Result<(), ()> {
    let bytes = frame::encode(value);
    match tokio::time::timeout(timeout, stream.write_all(&bytes)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// How [`serve_connection`] ended.
#[derive(PartialEq, Eq)]
enum Served {
    Closed,
    /// A complete request arrived after the connection had been told to give way.
    GaveWay,
}

async fn serve_connection(stream: &mut TcpStream, peer: IpAddr, id: connections::Id, shared: &Shared) -> Served {
    let _ = stream.set_nodelay(true);
    loop {
        let body = match frame::read_frame(stream, shared.max_frame_bytes, shared.idle_timeout, shared.frame_timeout).await {
            Ok(body) => body,
            Err(FrameError::Closed) | Err(FrameError::Io(_)) => return Served::Closed,
            Err(FrameError::Idle) => {
                info!("{peer}: closing idle connection");
                return Served::Closed;
            }
            Err(e) => {
                info!("{peer}: BadFrame ({e}); closing the connection");
                let _ = send(stream, &error_response(None, &NmError::new(Code::BadFrame, e.to_string())), shared.frame_timeout).await;
                return Served::Closed;
            }
        };
        if !shared.lock_table().begin(id) {
            return Served::GaveWay;
        }
        let (response, proven) = match frame::parse_object(&body) {
            Ok(object) => {
                let id = request::request_id(&object);
                match handle(object, peer, shared).await {
                    Some(Answer { result: Ok((result, warning)), proven }) => (ok_response(id.as_deref(), result, warning), proven),
                    Some(Answer { result: Err(e), proven }) => (error_response(id.as_deref(), &e), proven),
                    // The node manager is shutting down.
                    None => return Served::Closed,
                }
            }
            Err(e) => {
                info!("{peer}: BadFrame ({e}); closing the connection");
                let _ = send(stream, &error_response(None, &NmError::new(Code::BadFrame, e)), shared.frame_timeout).await;
                return Served::Closed;
            }
        };
        shared.lock_table().executed(id, proven);
        shared.changed.notify_one();
        if send(stream, &response, shared.frame_timeout).await.is_err() {
            info!("{peer}: could not send a response in time; closing the connection");
            return Served::Closed;
        }
    }
}

async fn handle(object: serde_json::Map<String, Value>, peer: IpAddr, shared: &Shared) -> Option<Answer> {
    let refused = |e: NmError| Some(Answer { result: Err(e), proven: false });
    if shared.limiter.check_key(&peer).is_err() {
        info!("{peer} result=Busy (rate limit)");
        return refused(NmError::new(Code::Busy, format!("too many requests from {peer}; slow down")));
    }
    let checked =
        request::parse_envelope(&object).and_then(|envelope| request::check(envelope, &shared.node_key, unix_now(), shared.max_expiry_s));
    let checked = match checked {
        Ok(c) => c,
        Err(e) => {
            let key = object.get("key").and_then(Value::as_str).map(|k| k.chars().take(8).collect()).unwrap_or_else(|| "-".to_string());
            info!("{peer} key={key} call=? result={} ({})", e.code, e.message);
            return refused(e);
        }
    };
    let (reply, wait) = oneshot::channel();
    shared.executor.send(Msg::Request { checked, peer, reply }).ok()?;
    wait.await.ok()
}
