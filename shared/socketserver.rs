//! A small server framework modelled on Python's `socketserver` (lesson 08).
//!
//! The pieces have Python's names, so a student who knows one knows the other:
//! - a [`RequestHandler`] with `setup` → `handle` → `finish`, made fresh for every request
//!   (Python's `BaseRequestHandler`). `finish` always runs, also when `setup` or `handle` fails
//!   or panics; the failure goes to `handle_error` and the server keeps serving;
//! - [`TcpServer`] and [`UdpServer`], each serving one request at a time
//!   ([`Concurrency::Sequential`], Python's `TCPServer` / `UDPServer`), a thread per request
//!   ([`Concurrency::Threading`], Python's `ThreadingTCPServer` / `ThreadingUDPServer`), or a
//!   bounded pool of worker threads ([`Concurrency::Pool`], which Python does not have);
//! - `serve_forever`, and [`ServerHandle::shutdown`] from any thread;
//! - `allow_reuse_address` and the listen backlog (Python's `request_queue_size`) in [`Config`].
//!
//! Two traps of Python's version are avoided on purpose:
//! - Python's `serve_forever` wakes up every `poll_interval` (0.5 s) to look at a "please stop"
//!   flag, so `shutdown()` can take half a second. Here the accept loop blocks in `accept`
//!   (or `recv_from`) with no timeout at all, and `shutdown` wakes it at once by connecting to
//!   the server's own address (for UDP: by sending it an empty datagram). The loop checks the
//!   flag after every accept, drops the wake-up connection and stops.
//! - Python's `shutdown()` waits until `serve_forever` has returned, so calling it from the
//!   thread that runs `serve_forever` (a handler of a non-threading server) deadlocks. Here
//!   `shutdown` waits only until the accept loop has stopped accepting, and not at all when it
//!   is called from the serving thread itself (or before `serve_forever` started).
//!
//! A stop is graceful: once the accept loop has stopped, `serve_forever` waits for the handlers
//! still running and only then returns. A handler that should end early can look at
//! [`ServerHandle::is_shutting_down`].

use std::any::Any;
use std::io;
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, ThreadId};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

/// How many requests are handled at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concurrency {
    /// One at a time, in the thread that runs `serve_forever` (Python's `TCPServer`).
    Sequential,
    /// A new thread for every request (Python's `ThreadingMixIn`).
    Threading,
    /// At most this many requests at once, on as many worker threads made at the start. When
    /// all workers are busy the server stops accepting; new clients wait in the backlog.
    Pool(usize),
}

/// How a server is set up. `Config::default()` is Python's `TCPServer`: sequential,
/// no address reuse, a backlog of 5.
#[derive(Clone, Debug)]
pub struct Config {
    pub concurrency: Concurrency,
    /// Set SO_REUSEADDR before `bind`, so a restarted server can bind its port while old
    /// connections of the previous run are still in TIME_WAIT (Python: `allow_reuse_address`).
    pub allow_reuse_address: bool,
    /// The `listen` backlog: how many connections the system completes and queues for us
    /// before we accept them (Python: `request_queue_size`, 5 by default). When the queue is
    /// full, Linux drops new SYNs and the client retries after 1 s, 3 s, 7 s...
    pub backlog: i32,
    /// Stop accepting after this many requests (connections, or datagrams for UDP).
    pub max_requests: Option<usize>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            concurrency: Concurrency::Sequential,
            allow_reuse_address: false,
            backlog: 5,
            max_requests: None,
        }
    }
}

/// One request, as a handler sees it (Python: `self.request`, `self.client_address`,
/// `self.server`).
pub struct Request<R> {
    /// A `TcpStream` for a TCP server, a [`Datagram`] for a UDP server.
    pub request: R,
    pub client_address: SocketAddr,
    pub server: ServerHandle,
}

/// A UDP request: the datagram that arrived and the server's socket to answer with
/// (`socket.send_to(reply, client_address)`).
pub struct Datagram {
    pub data: Vec<u8>,
    pub socket: UdpSocket,
}

/// Which step of a handler failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Setup,
    Handle,
    Finish,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Setup => "setup",
            Step::Handle => "handle",
            Step::Finish => "finish",
        })
    }
}

/// The code that serves one request. The server makes a new handler for every request, so a
/// handler may keep per-request state in `self`.
pub trait RequestHandler<R>: Send + 'static {
    /// Runs first. If it fails, `handle` is skipped (`finish` still runs).
    fn setup(&mut self, _req: &mut Request<R>) -> io::Result<()> {
        Ok(())
    }

    /// Serves the request.
    fn handle(&mut self, req: &mut Request<R>) -> io::Result<()>;

    /// Runs last, always: after `handle` returned, failed or panicked.
    fn finish(&mut self, _req: &mut Request<R>) {}

    /// Called when a step returns an error or panics (a panic arrives as an error of kind
    /// `Other`). The server goes on serving others either way.
    fn handle_error(&mut self, req: &Request<R>, step: Step, err: &io::Error) {
        eprintln!("{}: {step} failed: {err}", req.client_address);
    }
}

/// What the accept loop is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    Accepting,
    Draining,
    Stopped,
}

struct State {
    phase: Phase,
    stop: bool,
    /// Handlers running now (Threading and Pool).
    active: usize,
    serving_thread: Option<ThreadId>,
}

/// How `shutdown` wakes an accept loop blocked in `accept` or `recv_from`.
#[derive(Clone, Copy)]
enum Waker {
    /// Connect to the listener: `accept` returns that connection.
    Tcp(SocketAddr),
    /// Send an empty datagram to the socket: `recv_from` returns it.
    Udp(SocketAddr),
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    waker: Waker,
    local_addr: SocketAddr,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the counters half-updated (every
        // update is one statement), so a poisoned lock is safe to keep using.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait<'a>(&self, guard: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed.wait(guard).unwrap_or_else(|p| p.into_inner())
    }
}

/// A handle to a running server, for any thread (and every handler) to stop it.
#[derive(Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

impl ServerHandle {
    // ANCHOR: shutdown
    /// Asks the server to stop accepting, wakes its accept loop, and waits until it has
    /// stopped accepting. It does not wait from the serving thread itself (a handler of a
    /// sequential server), nor before `serve_forever` has started: there it only asks.
    /// Handlers already running are not interrupted; `serve_forever` waits for them.
    pub fn shutdown(&self) {
        let shared = &self.shared;
        let mut st = shared.lock();
        if st.stop {
            // Already asked: just wait like the first caller does.
        } else {
            st.stop = true;
            shared.changed.notify_all(); // wakes a pool waiting for a free worker
            if st.phase == Phase::Accepting {
                wake(shared.waker);
            }
        }
        let me = thread::current().id();
        while st.phase == Phase::Accepting && st.serving_thread != Some(me) {
            st = shared.wait(st);
        }
    }
    // ANCHOR_END: shutdown

    /// Whether `shutdown` has been called: a long-running handler can check it to leave early.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.lock().stop
    }

    /// The address the server is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// How many handlers are running right now.
    pub fn active(&self) -> usize {
        self.shared.lock().active
    }
}

// ANCHOR: wake
/// Wakes a blocked accept loop without waiting for it: from a short-lived thread, so that
/// `shutdown` never waits on the wake-up itself. (If the loop is not blocked in `accept`, the
/// backlog may be full and this connect may hang in SYN retries; the loop sees the flag anyway.)
fn wake(waker: Waker) {
    let spawned = thread::Builder::new()
        .name("socketserver-wake".into())
        .spawn(move || match waker {
            Waker::Tcp(addr) => {
                let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(5));
            }
            Waker::Udp(addr) => {
                let any = if addr.is_ipv4() {
                    "127.0.0.1:0"
                } else {
                    "[::1]:0"
                };
                if let Ok(sock) = UdpSocket::bind(any) {
                    let _ = sock.send_to(&[], addr);
                }
            }
        });
    if spawned.is_err() {
        // No thread to spare: wake it from here instead (may wait briefly, never forever).
        if let Waker::Tcp(addr) = waker {
            let _ = TcpStream::connect_timeout(&addr, Duration::from_millis(200));
        }
    }
}
// ANCHOR_END: wake

/// Where to connect to reach a socket bound to `addr`: a wildcard address (0.0.0.0, ::) is
/// reached through the loopback address of its family.
fn reachable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

fn new_shared(local_addr: SocketAddr, waker: Waker) -> Arc<Shared> {
    Arc::new(Shared {
        state: Mutex::new(State {
            phase: Phase::Idle,
            stop: false,
            active: 0,
            serving_thread: None,
        }),
        changed: Condvar::new(),
        waker,
        local_addr,
    })
}

fn first_addr(addr: impl ToSocketAddrs) -> io::Result<SocketAddr> {
    addr.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    })
}

/// A TCP server: one request is one connection, `request` is its `TcpStream`.
pub struct TcpServer<H> {
    listener: TcpListener,
    config: Config,
    shared: Arc<Shared>,
    factory: Arc<dyn Fn() -> H + Send + Sync>,
}

impl<H: RequestHandler<TcpStream>> TcpServer<H> {
    /// socket → (SO_REUSEADDR) → bind → listen(backlog), as Python's `TCPServer.__init__`.
    /// `factory` makes one handler per connection.
    pub fn bind(
        addr: impl ToSocketAddrs,
        config: Config,
        factory: impl Fn() -> H + Send + Sync + 'static,
    ) -> io::Result<TcpServer<H>> {
        let addr = first_addr(addr)?;
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(config.allow_reuse_address)?;
        socket.bind(&addr.into())?;
        socket.listen(config.backlog)?;
        let listener: TcpListener = socket.into();
        let local = listener.local_addr()?;
        Ok(TcpServer {
            listener,
            shared: new_shared(local, Waker::Tcp(reachable(local))),
            config,
            factory: Arc::new(factory),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// A handle to stop the server from another thread or from a handler.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: self.shared.clone(),
        }
    }

    /// Accepts and serves connections until `shutdown` (or `max_requests`), then waits for
    /// the handlers still running. Returns how many connections were served.
    pub fn serve_forever(&self) -> io::Result<usize> {
        let listener = &self.listener;
        serve_loop(&self.shared, &self.config, self.factory.clone(), || {
            listener.accept()
        })
    }
}

/// A UDP server: one request is one datagram, answered through [`Datagram::socket`].
pub struct UdpServer<H> {
    socket: UdpSocket,
    config: Config,
    shared: Arc<Shared>,
    factory: Arc<dyn Fn() -> H + Send + Sync>,
}

/// The largest datagram UDP can carry: the receive buffer is bounded by it.
const MAX_DATAGRAM: usize = 65_535;

impl<H: RequestHandler<Datagram>> UdpServer<H> {
    /// socket → (SO_REUSEADDR) → bind, as Python's `UDPServer.__init__` (no listen, no backlog).
    pub fn bind(
        addr: impl ToSocketAddrs,
        config: Config,
        factory: impl Fn() -> H + Send + Sync + 'static,
    ) -> io::Result<UdpServer<H>> {
        let addr = first_addr(addr)?;
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        socket.set_reuse_address(config.allow_reuse_address)?;
        socket.bind(&addr.into())?;
        let socket: UdpSocket = socket.into();
        let local = socket.local_addr()?;
        Ok(UdpServer {
            socket,
            shared: new_shared(local, Waker::Udp(reachable(local))),
            config,
            factory: Arc::new(factory),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: self.shared.clone(),
        }
    }

    /// Receives and serves datagrams until `shutdown` (or `max_requests`), then waits for
    /// the handlers still running. Returns how many datagrams were served.
    pub fn serve_forever(&self) -> io::Result<usize> {
        let socket = &self.socket;
        let mut buf = vec![0u8; MAX_DATAGRAM];
        serve_loop(&self.shared, &self.config, self.factory.clone(), || {
            let (n, peer) = socket.recv_from(&mut buf)?;
            let reply_socket = socket.try_clone()?;
            Ok((
                Datagram {
                    data: buf[..n].to_vec(),
                    socket: reply_socket,
                },
                peer,
            ))
        })
    }
}

/// Counts a running handler; the count goes down (and waiters wake) when it is dropped, also
/// if the handler's thread unwinds.
struct ActiveGuard(Arc<Shared>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.active -= 1;
        self.0.changed.notify_all();
    }
}

type Job<R> = (R, SocketAddr, ActiveGuard);

/// The loop every server shares: wait for a free worker (Pool), take the next request, hand it
/// to a handler; on stop, wait for the running handlers.
fn serve_loop<R: Send + 'static, H: RequestHandler<R>>(
    shared: &Arc<Shared>,
    config: &Config,
    factory: Arc<dyn Fn() -> H + Send + Sync>,
    mut next: impl FnMut() -> io::Result<(R, SocketAddr)>,
) -> io::Result<usize> {
    {
        let mut st = shared.lock();
        if st.phase != Phase::Idle {
            return Err(io::Error::other("serve_forever was already called"));
        }
        if st.stop {
            // shutdown() came first: serve nothing, and let that shutdown() return.
            st.phase = Phase::Stopped;
            shared.changed.notify_all();
            return Ok(0);
        }
        st.phase = Phase::Accepting;
        st.serving_thread = Some(thread::current().id());
    }

    let handle = ServerHandle {
        shared: shared.clone(),
    };
    // The pool's workers are made once, at the start, and take jobs from one channel.
    let (pool_tx, workers) = match config.concurrency {
        Concurrency::Pool(n) => {
            let (tx, rx) = mpsc::channel::<Job<R>>();
            let rx = Arc::new(Mutex::new(rx));
            let mut workers = Vec::new();
            for i in 0..n.max(1) {
                let rx = rx.clone();
                let factory = factory.clone();
                let handle = handle.clone();
                let worker = thread::Builder::new()
                    .name(format!("socketserver-worker-{i}"))
                    .spawn(move || loop {
                        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        let Ok((request, peer, _active)) = job else {
                            return; // the sender is gone: the server is stopping
                        };
                        run_handler(factory(), request, peer, handle.clone());
                    });
                match worker {
                    Ok(w) => workers.push(w),
                    Err(e) => {
                        set_phase(shared, Phase::Stopped);
                        return Err(e);
                    }
                }
            }
            (Some(tx), workers)
        }
        _ => (None, Vec::new()),
    };
    let limit = match config.concurrency {
        Concurrency::Pool(n) => Some(n.max(1)),
        _ => None,
    };

    // ANCHOR: accept_loop
    let mut served = 0;
    let mut failure = None;
    while config.max_requests.is_none_or(|max| served < max) {
        // A bounded pool takes a new connection only when a worker is free. The wait ends
        // early on shutdown (it notifies the same condition variable).
        {
            let mut st = shared.lock();
            while !st.stop && limit.is_some_and(|n| st.active >= n) {
                st = shared.wait(st);
            }
            if st.stop {
                break;
            }
        }
        let (request, peer) = match next() {
            Ok(got) => got,
            Err(e) if transient(&e) => continue,
            Err(e) if out_of_resources(&e) => {
                // Too many open files, say: report it, give handlers a moment to close some.
                eprintln!("accept failed: {e} (retrying)");
                thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        // The flag is checked after every accept: this is how the wake-up connection (or a
        // client that came in just as we stopped) ends the loop.
        let guard = {
            let mut st = shared.lock();
            if st.stop {
                break;
            }
            st.active += 1;
            ActiveGuard(shared.clone())
        };
        served += 1;
        match config.concurrency {
            Concurrency::Sequential => {
                run_handler(factory(), request, peer, handle.clone());
                drop(guard);
            }
            Concurrency::Threading => {
                let factory = factory.clone();
                let handle = handle.clone();
                let spawned = thread::Builder::new()
                    .name(format!("socketserver-{peer}"))
                    .spawn(move || {
                        let _guard = guard;
                        run_handler(factory(), request, peer, handle);
                    });
                if let Err(e) = spawned {
                    // The request (and its guard) went down with the closure: the client
                    // sees its connection closed, the server goes on.
                    eprintln!("{peer}: no thread for this request: {e}");
                }
            }
            Concurrency::Pool(_) => {
                if let Some(tx) = &pool_tx {
                    let _ = tx.send((request, peer, guard));
                }
            }
        }
    }

    // Graceful stop: no new requests; let the running handlers finish.
    set_phase(shared, Phase::Draining);
    drop(pool_tx);
    for worker in workers {
        let _ = worker.join();
    }
    {
        let mut st = shared.lock();
        while st.active > 0 {
            st = shared.wait(st);
        }
    }
    set_phase(shared, Phase::Stopped);
    // ANCHOR_END: accept_loop
    match failure {
        Some(e) => Err(e),
        None => Ok(served),
    }
}

fn set_phase(shared: &Shared, phase: Phase) {
    let mut st = shared.lock();
    st.phase = phase;
    st.stop = st.stop || phase != Phase::Accepting;
    shared.changed.notify_all();
}

/// Errors about one connection that vanished before we accepted it: just take the next.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// EMFILE, ENFILE, ENOBUFS, ENOMEM: the system is short of something; it may come back.
fn out_of_resources(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23) | Some(24) | Some(105) | Some(12))
}

// ANCHOR: run_handler
/// setup → handle → finish, with `finish` guaranteed. Errors and panics of any step go to
/// `handle_error`; nothing escapes to the server.
fn run_handler<R, H: RequestHandler<R>>(
    mut handler: H,
    request: R,
    peer: SocketAddr,
    server: ServerHandle,
) {
    let mut req = Request {
        request,
        client_address: peer,
        server,
    };
    let setup = guarded(|| handler.setup(&mut req));
    let outcome = match setup {
        Ok(()) => guarded(|| handler.handle(&mut req)).map_err(|e| (Step::Handle, e)),
        Err(e) => Err((Step::Setup, e)),
    };
    if let Err((step, err)) = outcome {
        let _ = guarded(|| {
            handler.handle_error(&req, step, &err);
            Ok(())
        });
    }
    if let Err(err) = guarded(|| {
        handler.finish(&mut req);
        Ok(())
    }) {
        let _ = guarded(|| {
            handler.handle_error(&req, Step::Finish, &err);
            Ok(())
        });
    }
}
// ANCHOR_END: run_handler

/// Runs one step; a panic becomes an error.
fn guarded(step: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
    match catch_unwind(AssertUnwindSafe(step)) {
        Ok(result) => result,
        Err(payload) => Err(io::Error::other(format!(
            "panicked: {}",
            panic_text(&payload)
        ))),
    }
}

fn panic_text(payload: &Box<dyn Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    /// Long enough that "it did not happen within this time" means it does not happen.
    const NOTHING_WITHIN: Duration = Duration::from_millis(300);
    /// A bound on any wait in these tests: reaching it means a deadlock.
    const HANG: Duration = Duration::from_secs(10);

    /// What the test handlers report.
    #[derive(Debug, PartialEq, Eq)]
    enum Event {
        Setup,
        Failed(Step, String),
        Finished,
        Served(usize),
    }

    /// Echoes upper-cased until the client leaves; reports each step on a channel.
    struct Echo {
        events: mpsc::Sender<Event>,
        /// What `handle` does instead of echoing: fail, panic, or stop the server.
        mode: Mode,
    }

    #[derive(Clone, Copy)]
    enum Mode {
        Echo,
        FailSetup,
        Fail,
        Panic,
        ShutdownThenEcho,
    }

    impl RequestHandler<TcpStream> for Echo {
        fn setup(&mut self, _req: &mut Request<TcpStream>) -> io::Result<()> {
            let _ = self.events.send(Event::Setup);
            match self.mode {
                Mode::FailSetup => Err(io::Error::other("setup refused")),
                _ => Ok(()),
            }
        }

        fn handle(&mut self, req: &mut Request<TcpStream>) -> io::Result<()> {
            match self.mode {
                Mode::Fail => return Err(io::Error::other("handle failed on purpose")),
                Mode::Panic => panic!("handle panicked on purpose"),
                Mode::ShutdownThenEcho => req.server.shutdown(),
                Mode::Echo | Mode::FailSetup => {}
            }
            let mut buf = [0u8; 1024];
            loop {
                let n = req.request.read(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                req.request.write_all(&buf[..n].to_ascii_uppercase())?;
            }
        }

        fn finish(&mut self, _req: &mut Request<TcpStream>) {
            let _ = self.events.send(Event::Finished);
        }

        fn handle_error(&mut self, _req: &Request<TcpStream>, step: Step, err: &io::Error) {
            let _ = self.events.send(Event::Failed(step, err.to_string()));
        }
    }

    struct Running {
        handle: ServerHandle,
        addr: SocketAddr,
        events: mpsc::Receiver<Event>,
    }

    /// Binds a server on a free port and runs `serve_forever` in a thread; its result
    /// arrives as `Event::Served(count)`.
    fn start(concurrency: Concurrency, mode: Mode, max: Option<usize>) -> Running {
        let (tx, rx) = mpsc::channel();
        let config = Config {
            concurrency,
            max_requests: max,
            ..Config::default()
        };
        let handler_tx = tx.clone();
        let server = TcpServer::bind("127.0.0.1:0", config, move || Echo {
            events: handler_tx.clone(),
            mode,
        })
        .expect("bind");
        let handle = server.handle();
        let addr = server.local_addr();
        thread::spawn(move || {
            let served = server.serve_forever().expect("serve_forever");
            let _ = tx.send(Event::Served(served));
        });
        Running {
            handle,
            addr,
            events: rx,
        }
    }

    impl Running {
        fn next(&self) -> Event {
            self.events
                .recv_timeout(HANG)
                .expect("an event within 10 s (a hang means a deadlock)")
        }

        /// The next events until `Served`, which must come.
        fn until_served(&self) -> Vec<Event> {
            let mut seen = Vec::new();
            loop {
                let e = self.next();
                let last = matches!(e, Event::Served(_));
                seen.push(e);
                if last {
                    return seen;
                }
            }
        }
    }

    fn connect(addr: SocketAddr) -> TcpStream {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(HANG)).expect("timeout");
        s
    }

    /// `read`, tried again when a signal interrupts it (a read with a timeout is not
    /// restarted automatically).
    fn read_some(s: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match s.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    fn round_trip(s: &mut TcpStream, msg: &str) -> String {
        s.write_all(msg.as_bytes()).expect("send");
        let mut buf = [0u8; 64];
        let n = read_some(s, &mut buf).expect("a reply");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    /// Asserts that nothing arrives on `s` for a while.
    fn no_reply(s: &mut TcpStream) {
        let deadline = Instant::now() + NOTHING_WITHIN;
        let mut buf = [0u8; 64];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            s.set_read_timeout(Some(left)).expect("timeout");
            match s.read(&mut buf) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => panic!("expected no reply yet, got {other:?}"),
            }
        }
        s.set_read_timeout(Some(HANG)).expect("timeout");
    }

    #[test]
    fn finish_runs_when_handle_fails() {
        let server = start(Concurrency::Sequential, Mode::Fail, Some(1));
        drop(connect(server.addr));
        assert_eq!(
            server.until_served(),
            [
                Event::Setup,
                Event::Failed(Step::Handle, "handle failed on purpose".into()),
                Event::Finished,
                Event::Served(1)
            ]
        );
    }

    #[test]
    fn finish_runs_when_setup_fails_and_handle_is_skipped() {
        let server = start(Concurrency::Threading, Mode::FailSetup, Some(1));
        drop(connect(server.addr));
        assert_eq!(
            server.until_served(),
            [
                Event::Setup,
                Event::Failed(Step::Setup, "setup refused".into()),
                Event::Finished,
                Event::Served(1)
            ]
        );
    }

    #[test]
    fn finish_runs_when_handle_panics_and_the_server_keeps_serving() {
        for concurrency in [
            Concurrency::Sequential,
            Concurrency::Threading,
            Concurrency::Pool(1),
        ] {
            let server = start(concurrency, Mode::Panic, Some(2));
            drop(connect(server.addr));
            drop(connect(server.addr));
            let events = server.until_served();
            let panics = events
                .iter()
                .filter(|e| {
                    matches!(e, Event::Failed(Step::Handle, m) if m == "panicked: handle panicked on purpose")
                })
                .count();
            let finished = events.iter().filter(|e| **e == Event::Finished).count();
            assert_eq!((panics, finished), (2, 2), "{concurrency:?}: {events:?}");
            assert_eq!(events.last(), Some(&Event::Served(2)), "{concurrency:?}");
        }
    }

    #[test]
    fn shutdown_from_a_handler_does_not_deadlock() {
        // Sequential: the handler runs on the serving thread itself, where Python deadlocks.
        for concurrency in [
            Concurrency::Sequential,
            Concurrency::Threading,
            Concurrency::Pool(2),
        ] {
            let server = start(concurrency, Mode::ShutdownThenEcho, None);
            let mut client = connect(server.addr);
            assert_eq!(server.next(), Event::Setup);
            // The handler called shutdown() and went on serving: shutdown did not block it.
            assert_eq!(round_trip(&mut client, "still here"), "STILL HERE");
            assert!(server.handle.is_shutting_down());
            drop(client);
            assert_eq!(
                server.until_served(),
                [Event::Finished, Event::Served(1)],
                "{concurrency:?}"
            );
        }
    }

    #[test]
    fn shutdown_returns_promptly_instead_of_waiting_out_a_poll_interval() {
        for concurrency in [
            Concurrency::Sequential,
            Concurrency::Threading,
            Concurrency::Pool(2),
        ] {
            let server = start(concurrency, Mode::Echo, None);
            // Make sure the loop is running and idle in accept().
            let mut client = connect(server.addr);
            assert_eq!(round_trip(&mut client, "hi"), "HI");
            drop(client);
            assert_eq!(server.next(), Event::Setup);
            assert_eq!(server.next(), Event::Finished);

            let started = Instant::now();
            server.handle.shutdown();
            let took = started.elapsed();
            assert_eq!(server.until_served(), [Event::Served(1)]);
            // Python's serve_forever polls every 0.5 s; a wake-up is a few microseconds.
            assert!(
                took < Duration::from_millis(250),
                "{concurrency:?}: shutdown took {took:?}"
            );
        }
    }

    #[test]
    fn shutdown_before_serve_forever_does_not_hang() {
        let (tx, _rx) = mpsc::channel();
        let server = TcpServer::bind("127.0.0.1:0", Config::default(), move || Echo {
            events: tx.clone(),
            mode: Mode::Echo,
        })
        .expect("bind");
        server.handle().shutdown();
        assert_eq!(server.serve_forever().expect("serve"), 0);
        // And after the end, shutdown returns at once too.
        server.handle().shutdown();
    }

    #[test]
    fn a_graceful_stop_lets_running_handlers_finish() {
        let server = start(Concurrency::Threading, Mode::Echo, None);
        let mut client = connect(server.addr);
        assert_eq!(round_trip(&mut client, "before"), "BEFORE");
        assert_eq!(server.next(), Event::Setup);

        // shutdown returns once the server stops accepting; the handler is still running.
        server.handle.shutdown();
        assert_eq!(server.handle.active(), 1);
        assert_eq!(round_trip(&mut client, "during"), "DURING");
        // serve_forever waits for that handler: nothing is reported while it runs.
        assert!(matches!(
            server.events.recv_timeout(NOTHING_WITHIN),
            Err(mpsc::RecvTimeoutError::Timeout)
        ));
        // New clients are not served any more.
        let mut late = TcpStream::connect(server.addr);
        if let Ok(late) = late.as_mut() {
            late.set_read_timeout(Some(NOTHING_WITHIN))
                .expect("timeout");
            let _ = late.write_all(b"late");
            let mut buf = [0u8; 16];
            let got = read_some(late, &mut buf);
            assert!(
                !matches!(got, Ok(n) if n > 0),
                "a client after shutdown was served: {got:?}"
            );
        }
        drop(client);
        assert_eq!(server.until_served(), [Event::Finished, Event::Served(1)]);
    }

    #[test]
    fn a_bounded_pool_serves_at_most_its_size_at_once() {
        let server = start(Concurrency::Pool(2), Mode::Echo, Some(3));
        let mut a = connect(server.addr);
        let mut b = connect(server.addr);
        assert_eq!(round_trip(&mut a, "a"), "A");
        assert_eq!(round_trip(&mut b, "b"), "B");
        // The third client is connected (the system completed the handshake) but waits in
        // the backlog: both workers are busy.
        let mut c = connect(server.addr);
        c.write_all(b"c").expect("send");
        no_reply(&mut c);
        assert_eq!(server.handle.active(), 2);
        // A worker comes free: the third client is served.
        drop(a);
        let mut buf = [0u8; 8];
        let n = read_some(&mut c, &mut buf).expect("reply for c");
        assert_eq!(&buf[..n], b"C");
        drop(b);
        drop(c);
        let events = server.until_served();
        assert_eq!(events.last(), Some(&Event::Served(3)));
    }

    #[test]
    fn threading_serves_many_clients_at_once() {
        let server = start(Concurrency::Threading, Mode::Echo, Some(20));
        let mut clients: Vec<TcpStream> = (0..20).map(|_| connect(server.addr)).collect();
        for (i, c) in clients.iter_mut().enumerate() {
            assert_eq!(round_trip(c, &format!("client {i}")), format!("CLIENT {i}"));
        }
        assert_eq!(server.handle.active(), 20);
        drop(clients);
        assert_eq!(server.until_served().last(), Some(&Event::Served(20)));
    }

    #[test]
    fn allow_reuse_address_sets_so_reuseaddr_before_bind() {
        for allow in [false, true] {
            let config = Config {
                allow_reuse_address: allow,
                ..Config::default()
            };
            let (tx, _rx) = mpsc::channel();
            let server = TcpServer::bind("127.0.0.1:0", config, move || Echo {
                events: tx.clone(),
                mode: Mode::Echo,
            })
            .expect("bind");
            let set = socket2::SockRef::from(&server.listener)
                .reuse_address()
                .expect("getsockopt");
            assert_eq!(set, allow);
        }
    }

    struct UdpUpper(Arc<AtomicUsize>);

    impl RequestHandler<Datagram> for UdpUpper {
        fn handle(&mut self, req: &mut Request<Datagram>) -> io::Result<()> {
            self.0.fetch_add(1, Ordering::SeqCst);
            let reply = req.request.data.to_ascii_uppercase();
            req.request.socket.send_to(&reply, req.client_address)?;
            Ok(())
        }
    }

    #[test]
    fn a_udp_server_answers_each_datagram_and_stops_promptly() {
        for concurrency in [Concurrency::Sequential, Concurrency::Threading] {
            let count = Arc::new(AtomicUsize::new(0));
            let c = count.clone();
            let config = Config {
                concurrency,
                ..Config::default()
            };
            let server =
                UdpServer::bind("127.0.0.1:0", config, move || UdpUpper(c.clone())).expect("bind");
            let addr = server.local_addr();
            let handle = server.handle();
            let (tx, rx) = mpsc::channel();
            thread::spawn(move || {
                let _ = tx.send(server.serve_forever().expect("serve"));
            });
            let client = UdpSocket::bind("127.0.0.1:0").expect("bind client");
            client.set_read_timeout(Some(HANG)).expect("timeout");
            let mut buf = [0u8; 64];
            for msg in ["one", "two"] {
                client.send_to(msg.as_bytes(), addr).expect("send");
                let (n, from) = client.recv_from(&mut buf).expect("reply");
                assert_eq!(&buf[..n], msg.to_ascii_uppercase().as_bytes());
                assert_eq!(from, addr);
            }
            let started = Instant::now();
            handle.shutdown();
            let took = started.elapsed();
            assert_eq!(rx.recv_timeout(HANG).expect("serve_forever returned"), 2);
            assert_eq!(count.load(Ordering::SeqCst), 2);
            assert!(took < Duration::from_millis(250), "shutdown took {took:?}");
        }
    }
}
