//! Lesson 08's server framework: Python's `socketserver` as small named steps, in Rust.
//!
//! The names are Python's, so a student who knows one knows the other: a
//! [`RequestHandler`] with `setup` → `handle` → `finish` (`BaseRequestHandler`), made
//! fresh for every connection; a [`TcpServer`] whose `serve_forever` is
//! `handle_request` → `process_request` → `finish_request` → `shutdown_request`, then
//! `server_close`; and [`ServerHandle::shutdown`]. A connection gets a thread of its own
//! (Python's `ThreadingTCPServer`) or one of a fixed pool of threads. (One connection at
//! a time, Python's `TCPServer`, is lesson 02.)
//!
//! `shutdown` wakes the accept loop at once, where Python's polls every 0.5 s; chapter 08
//! tells why that matters. Two steps Python leaves to you are built in: a cap on the
//! connections served at once (`verify_request` says no, the handler's `refuse` tells the
//! client why) and an idle timeout on every connection; and a failing `accept` backs off
//! instead of spinning (`socket_lab::limits`).

use std::io;
use std::net::{
    Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use crate::limits::AcceptBackoff;

/// How many connections are served at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concurrency {
    /// A new thread for every connection (Python's `ThreadingTCPServer`).
    Threading,
    /// N threads, started once. While all are busy the server does not accept: new
    /// clients wait in the backlog.
    Pool(usize),
}

/// How a server is set up.
#[derive(Clone, Debug)]
pub struct Config {
    pub concurrency: Concurrency,
    /// SO_REUSEADDR before `bind` (Python: `allow_reuse_address`): a restarted server can
    /// bind while connections of its last run are in TIME_WAIT.
    pub allow_reuse_address: bool,
    /// `listen(backlog)` (Python: `request_queue_size`, 5 by default): connections the
    /// system may complete and queue before we accept them.
    pub backlog: i32,
    /// Stop accepting after this many connections (the binaries' `--max-clients`).
    pub max_requests: Option<usize>,
    /// With `Threading`: serve at most this many connections at once; a connection beyond
    /// it is refused (the binaries' `--max-connections`). A pool is capped by its size.
    pub max_connections: Option<usize>,
    /// Every read and write of a connection waits at most this long: a peer that sends
    /// nothing (or reads nothing) for this long is dropped (`--idle-timeout-ms`).
    pub idle_timeout: Option<Duration>,
}

/// One connection, as its handler sees it (Python: `self.request`, `self.client_address`,
/// `self.server`).
pub struct Request {
    pub request: TcpStream,
    pub client_address: SocketAddr,
    pub server: ServerHandle,
}

/// The code that serves one connection; a new one is made for every connection.
pub trait RequestHandler: Send + 'static {
    /// Runs first. If it fails, `handle` is skipped (`finish` still runs).
    fn setup(&mut self, _req: &mut Request) -> io::Result<()> {
        Ok(())
    }

    fn handle(&mut self, req: &mut Request) -> io::Result<()>;

    /// Runs last, always: after `handle` returned, failed or panicked.
    fn finish(&mut self, _req: &mut Request) {}

    /// Runs INSTEAD of the three steps above for a connection the server will not serve
    /// (it is at `max_connections`): the place to tell the client why, in one short
    /// write. The server closes the connection after it.
    fn refuse(&mut self, _req: &mut Request) {}

    /// Gets the error of a step that failed or panicked. The server goes on serving.
    fn handle_error(&mut self, req: &Request, err: &io::Error) {
        eprintln!("{}: {err}", req.client_address);
    }
}

/// What the serving thread, the handlers and `shutdown` share.
#[derive(Default)]
struct State {
    stop: bool,
    accepting: bool,
    active: usize, // handlers running now
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    local_addr: SocketAddr,
}

impl Shared {
    // Each change of State is one statement: a thread that panicked while holding the
    // lock cannot have left it half-changed, so a poisoned lock is safe to go on using.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A handle to a server, for any thread (and every handler) to stop it.
#[derive(Clone)]
pub struct ServerHandle(Arc<Shared>);

impl ServerHandle {
    // ANCHOR: shutdown
    /// Stops the accept loop, and waits until it has stopped accepting (not at all before
    /// `serve_forever` started). Running handlers are not interrupted: `serve_forever`
    /// waits for them, so a handler may call this too.
    pub fn shutdown(&self) {
        let mut state = self.0.lock();
        if !state.stop {
            state.stop = true;
            // A pool waiting for a free thread sees it at once.
            self.0.changed.notify_all();
            if state.accepting {
                wake(self.0.local_addr);
            }
        }
        while state.accepting {
            state = self.0.wait(state);
        }
    }
    // ANCHOR_END: shutdown

    /// How many handlers are running right now.
    pub fn active(&self) -> usize {
        self.0.lock().active
    }
}

// ANCHOR: wake
/// Wakes an accept loop blocked in `accept` by connecting to it: `accept` returns and the
/// loop sees the stop flag. From a short-lived thread, so `shutdown` never waits on it.
fn wake(mut addr: SocketAddr) {
    if addr.ip().is_unspecified() {
        // Bound to 0.0.0.0 (or ::): reach it through the loopback address.
        let loopback = if addr.is_ipv4() {
            Ipv4Addr::LOCALHOST.into()
        } else {
            Ipv6Addr::LOCALHOST.into()
        };
        addr.set_ip(loopback);
    }
    let connect = move |wait| {
        let _ = TcpStream::connect_timeout(&addr, wait);
    };
    let spawned = thread::Builder::new().spawn(move || connect(Duration::from_secs(5)));
    if spawned.is_err() {
        connect(Duration::from_millis(200)); // no thread to spare: from here, briefly
    }
}
// ANCHOR_END: wake

/// One running handler, counted while this value lives (also if its thread unwinds).
struct Active(Arc<Shared>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.lock().active -= 1;
        self.0.changed.notify_all();
    }
}

/// Where `process_request` runs a handler.
enum Workers {
    NewThread,
    Pool(mpsc::Sender<Job>, Vec<JoinHandle<()>>),
}

type Job = Box<dyn FnOnce() + Send>;

/// A TCP server: `bind` it, then `serve_forever`.
pub struct TcpServer<H> {
    listener: TcpListener,
    config: Config,
    workers: Workers,
    factory: Arc<dyn Fn() -> H + Send + Sync>,
    shared: Arc<Shared>,
    served: usize,
    backoff: AcceptBackoff,
}

impl<H: RequestHandler> TcpServer<H> {
    /// socket → SO_REUSEADDR → bind → listen (Python's `server_bind`, `server_activate`).
    /// `factory` makes one handler per connection.
    pub fn bind(
        addr: impl ToSocketAddrs,
        config: Config,
        factory: impl Fn() -> H + Send + Sync + 'static,
    ) -> io::Result<TcpServer<H>> {
        let nothing =
            || io::Error::new(io::ErrorKind::InvalidInput, "no address to bind");
        let addr = addr.to_socket_addrs()?.next().ok_or_else(nothing)?;
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        socket.set_reuse_address(config.allow_reuse_address)?;
        socket.bind(&addr.into())?;
        socket.listen(config.backlog)?;
        let listener = TcpListener::from(socket);
        let shared = Shared {
            state: Mutex::default(),
            changed: Condvar::new(),
            local_addr: listener.local_addr()?,
        };
        Ok(TcpServer {
            listener,
            workers: start_workers(config.concurrency)?,
            config,
            factory: Arc::new(factory),
            shared: Arc::new(shared),
            served: 0,
            backoff: AcceptBackoff::default(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// A handle to stop the server from another thread.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle(self.shared.clone())
    }

    // ANCHOR: serve_forever
    /// Serves connections until `shutdown` (or `max_requests`), then `server_close`.
    /// Returns how many connections were served.
    pub fn serve_forever(mut self) -> usize {
        if self.start_serving() {
            while self.wants_more() {
                self.handle_request();
            }
        }
        self.server_close()
    }

    /// Marks the server as accepting; false if `shutdown` came first.
    fn start_serving(&self) -> bool {
        let mut state = self.shared.lock();
        state.accepting = !state.stop;
        state.accepting
    }

    /// Whether to accept another connection: not after `shutdown` or `max_requests`; with
    /// a pool, only once one of its threads is free.
    fn wants_more(&self) -> bool {
        let max = self.config.max_requests.unwrap_or(usize::MAX);
        if self.served >= max {
            return false;
        }
        let limit = match self.config.concurrency {
            Concurrency::Pool(n) => n.max(1),
            Concurrency::Threading => usize::MAX,
        };
        let mut state = self.shared.lock();
        while !state.stop && state.active >= limit {
            state = self.shared.wait(state);
        }
        !state.stop
    }
    // ANCHOR_END: serve_forever

    // ANCHOR: handle_request
    /// Accepts one connection and hands it on, counted as active. `shutdown`'s wake-up
    /// call (or a client who came just as the server stopped) is closed at once instead,
    /// and a connection over the cap is refused.
    fn handle_request(&mut self) {
        let (conn, peer) = match self.listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => return self.accept_failed(&e),
        };
        self.backoff.accepted();
        let mut state = self.shared.lock();
        if state.stop {
            return;
        }
        if !self.verify_request(state.active) {
            drop(state);
            return self.refuse_request(conn, peer);
        }
        state.active += 1;
        drop(state);
        let active = Active(self.shared.clone());
        self.served += 1;
        // No wait on this peer may be endless (None: no timeout).
        let idle = self.config.idle_timeout;
        if let Err(e) = conn
            .set_read_timeout(idle)
            .and(conn.set_write_timeout(idle))
        {
            eprintln!("{peer}: cannot set the idle timeout: {e}");
            return; // `conn` closes, and `active` counts it out
        }
        self.process_request(conn, peer, active);
    }

    /// Python's `verify_request`: whether to serve one more connection, with `active`
    /// being served now. Not beyond `max_connections`.
    fn verify_request(&self, active: usize) -> bool {
        self.config.max_connections.is_none_or(|max| active < max)
    }

    /// A connection over the cap: the handler's `refuse` tells the client why, on this
    /// thread (one short write into an empty send buffer never waits long; a timeout
    /// bounds it anyway), then it is closed.
    fn refuse_request(&self, conn: TcpStream, peer: SocketAddr) {
        let _ = conn.set_write_timeout(Some(Duration::from_secs(1)));
        let mut req = Request {
            request: conn,
            client_address: peer,
            server: self.handle(),
        };
        let mut handler = (self.factory)();
        let _ = guarded(|| {
            handler.refuse(&mut req);
            Ok(())
        });
        shutdown_request(req.request);
    }

    /// A failed `accept` never stops the server (nor Python's): a client that left before
    /// we took it, take the next; out of descriptors (EMFILE), wait a little longer each
    /// time and say so at most once a second (`limits::AcceptBackoff`).
    fn accept_failed(&mut self, e: &io::Error) {
        if let Some(line) = self.backoff.failed(e) {
            eprintln!("{line}");
        }
    }

    /// `finish_request`, then `shutdown_request`, on a new thread or on a free thread of
    /// the pool.
    fn process_request(&self, conn: TcpStream, peer: SocketAddr, active: Active) {
        let factory = self.factory.clone();
        let req = Request {
            request: conn,
            client_address: peer,
            server: self.handle(),
        };
        let job = move || {
            shutdown_request(finish_request(factory(), req));
            drop(active); // this handler is done: one more free thread in a pool
        };
        match &self.workers {
            Workers::NewThread => {
                // No thread to spare: the job, with the connection in it, is dropped.
                if let Err(e) = thread::Builder::new().spawn(job) {
                    eprintln!("{peer}: no thread for this connection: {e}");
                }
            }
            Workers::Pool(jobs, _) => {
                let _ = jobs.send(Box::new(job));
            }
        }
    }
    // ANCHOR_END: handle_request

    // ANCHOR: server_close
    /// Stops accepting and closes the listening socket (new clients are refused from now
    /// on), then waits for the handlers still running: a graceful stop.
    fn server_close(self) -> usize {
        let mut state = self.shared.lock();
        state.stop = true;
        state.accepting = false;
        self.shared.changed.notify_all(); // `shutdown` callers may return now
        drop(state);
        drop(self.listener);
        if let Workers::Pool(jobs, threads) = self.workers {
            drop(jobs); // the channel closes: each pool thread ends after its last job
            for thread in threads {
                let _ = thread.join();
            }
        }
        let mut state = self.shared.lock();
        while state.active > 0 {
            state = self.shared.wait(state);
        }
        self.served
    }
    // ANCHOR_END: server_close
}

/// A pool: N threads that take jobs from one channel (the Rust book's `ThreadPool`,
/// chapter 21).
fn start_workers(concurrency: Concurrency) -> io::Result<Workers> {
    let n = match concurrency {
        Concurrency::Threading => return Ok(Workers::NewThread),
        Concurrency::Pool(n) => n.max(1),
    };
    let (jobs, queue) = mpsc::channel::<Job>();
    let queue = Arc::new(Mutex::new(queue));
    let mut threads = Vec::new();
    for _ in 0..n {
        let queue = queue.clone();
        threads.push(thread::Builder::new().spawn(move || loop {
            // The lock is held while taking a job, not while running it.
            let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
            match job {
                Ok(job) => job(),
                Err(_) => return, // the channel closed: the server is stopping
            }
        })?);
    }
    Ok(Workers::Pool(jobs, threads))
}

// ANCHOR: finish_request
/// setup → handle → finish, with `finish` guaranteed; a failure or a panic of any step
/// goes to `handle_error` (Python: `setup()`, then `try: handle()`, `finally: finish()`).
fn finish_request<H: RequestHandler>(mut handler: H, mut req: Request) -> TcpStream {
    let mut outcome = guarded(|| handler.setup(&mut req));
    if outcome.is_ok() {
        outcome = guarded(|| handler.handle(&mut req));
    }
    if let Err(err) = outcome {
        report(&mut handler, &req, err);
    }
    let finish = guarded(|| {
        handler.finish(&mut req);
        Ok(())
    });
    if let Err(err) = finish {
        report(&mut handler, &req, err);
    }
    req.request
}

/// `handle_error`, itself guarded: a handler that panics while reporting changes nothing.
fn report(handler: &mut impl RequestHandler, req: &Request, err: io::Error) {
    let _ = guarded(|| {
        handler.handle_error(req, &err);
        Ok(())
    });
}

/// Python's `shutdown_request`: say "no more data" (a FIN, even if the handler kept a
/// clone of the socket), then close.
fn shutdown_request(conn: TcpStream) {
    let _ = conn.shutdown(Shutdown::Write);
}
// ANCHOR_END: finish_request

/// Runs one step; a panic becomes an error, "panicked: MESSAGE".
fn guarded(step: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
    catch_unwind(AssertUnwindSafe(step)).unwrap_or_else(|panic| {
        // A panic's message is a &str or a String.
        let text = match (panic.downcast_ref::<&str>(), panic.downcast_ref::<String>()) {
            (Some(text), _) => text.to_string(),
            (_, Some(text)) => text.clone(),
            _ => String::new(),
        };
        Err(io::Error::other(format!("panicked: {text}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A bound on every wait: reaching it means a deadlock.
    const HANG: Duration = Duration::from_secs(10);
    const ALL: [Concurrency; 2] = [Concurrency::Threading, Concurrency::Pool(2)];

    /// What the test handler reports, in order; then what `serve_forever` returned.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Event {
        Setup,
        Failed(String),
        Finished,
        Served(usize),
    }

    /// A handler that echoes upper-cased until the client leaves, after doing what its
    /// `&str` says first: "fail setup", "fail", "panic", "shutdown" or nothing.
    struct Probe(mpsc::Sender<Event>, &'static str);

    impl RequestHandler for Probe {
        fn setup(&mut self, _req: &mut Request) -> io::Result<()> {
            let _ = self.0.send(Event::Setup);
            match self.1 {
                "fail setup" => Err(io::Error::other("setup refused")),
                _ => Ok(()),
            }
        }

        fn handle(&mut self, req: &mut Request) -> io::Result<()> {
            match self.1 {
                "fail" => return Err(io::Error::other("handle failed")),
                "panic" => panic!("handle panicked"),
                "shutdown" => req.server.shutdown(),
                _ => {}
            }
            let mut buf = [0u8; 64];
            loop {
                match req.request.read(&mut buf)? {
                    0 => return Ok(()),
                    n => req.request.write_all(&buf[..n].to_ascii_uppercase())?,
                }
            }
        }

        fn finish(&mut self, _req: &mut Request) {
            let _ = self.0.send(Event::Finished);
        }

        fn handle_error(&mut self, _req: &Request, err: &io::Error) {
            let _ = self.0.send(Event::Failed(err.to_string()));
        }
    }

    /// A server on a free port, serving on its own thread.
    struct Running {
        handle: ServerHandle,
        addr: SocketAddr,
        events: mpsc::Receiver<Event>,
    }

    fn bind(
        concurrency: Concurrency,
        max: Option<usize>,
        probe: &'static str,
    ) -> Running {
        let config = Config {
            concurrency,
            allow_reuse_address: false,
            backlog: 5,
            max_requests: max,
            max_connections: None,
            idle_timeout: None,
        };
        let (tx, events) = mpsc::channel();
        let handlers = tx.clone();
        let server = TcpServer::bind("127.0.0.1:0", config, move || {
            Probe(handlers.clone(), probe)
        })
        .expect("bind");
        let (handle, addr) = (server.handle(), server.local_addr());
        thread::spawn(move || tx.send(Event::Served(server.serve_forever())));
        Running {
            handle,
            addr,
            events,
        }
    }

    impl Running {
        fn next(&self, n: usize) -> Vec<Event> {
            let next = || {
                self.events
                    .recv_timeout(HANG)
                    .expect("an event (none: a hang)")
            };
            (0..n).map(|_| next()).collect()
        }

        fn connect(&self) -> TcpStream {
            let conn = TcpStream::connect(self.addr).expect("connect");
            conn.set_read_timeout(Some(HANG)).expect("timeout");
            conn
        }
    }

    fn round_trip(conn: &mut TcpStream, msg: &str) -> String {
        conn.write_all(msg.as_bytes()).expect("send");
        let mut buf = [0u8; 64];
        let n = conn.read(&mut buf).expect("a reply");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    use Event::{Failed, Finished, Served, Setup};

    #[test]
    fn finish_runs_after_a_failure_or_a_panic_and_the_server_keeps_serving() {
        let cases = [
            ("fail setup", "setup refused"),
            ("fail", "handle failed"),
            ("panic", "panicked: handle panicked"),
        ];
        for concurrency in ALL {
            for (probe, error) in cases {
                let server = bind(concurrency, Some(2), probe);
                for _ in 0..2 {
                    drop(server.connect());
                    let expected = [Setup, Failed(error.into()), Finished];
                    assert_eq!(server.next(3), expected, "{concurrency:?} {probe}");
                }
                assert_eq!(server.next(1), [Served(2)], "{concurrency:?} {probe}");
            }
        }
    }

    #[test]
    fn shutdown_from_a_handler_does_not_deadlock() {
        for concurrency in ALL {
            let server = bind(concurrency, None, "shutdown");
            let mut client = server.connect();
            // The handler called shutdown() and went on serving.
            assert_eq!(round_trip(&mut client, "still here"), "STILL HERE");
            drop(client);
            let expected = [Setup, Finished, Served(1)];
            assert_eq!(server.next(3), expected, "{concurrency:?}");
        }
    }

    #[test]
    fn shutdown_wakes_a_server_blocked_in_accept_and_does_not_serve_the_wake_up() {
        for concurrency in ALL {
            let server = bind(concurrency, None, "echo");
            assert_eq!(round_trip(&mut server.connect(), "hi"), "HI");
            assert_eq!(server.next(2), [Setup, Finished]);
            // The loop waits in accept(), which has no timeout: only the wake-up ends it.
            let (handle, (done, returned)) = (server.handle.clone(), mpsc::channel());
            thread::spawn(move || {
                handle.shutdown();
                done.send(())
            });
            returned.recv_timeout(HANG).expect("shutdown returned");
            assert_eq!(server.next(1), [Served(1)], "{concurrency:?}");
        }
    }

    #[test]
    fn shutdown_before_serve_forever_serves_nothing_and_does_not_hang() {
        let (tx, _events) = mpsc::channel();
        let config = Config {
            concurrency: Concurrency::Threading,
            allow_reuse_address: true,
            backlog: 5,
            max_requests: None,
            max_connections: None,
            idle_timeout: None,
        };
        let server =
            TcpServer::bind("127.0.0.1:0", config, move || Probe(tx.clone(), ""));
        let server = server.expect("bind");
        let reuse = socket2::SockRef::from(&server.listener).reuse_address();
        assert!(
            reuse.expect("getsockopt"),
            "allow_reuse_address sets SO_REUSEADDR"
        );
        let handle = server.handle();
        handle.shutdown();
        assert_eq!(server.serve_forever(), 0);
        handle.shutdown(); // and after the end, it returns at once too
    }

    #[test]
    fn a_graceful_stop_lets_running_handlers_finish_and_serves_no_one_new() {
        let server = bind(Concurrency::Threading, None, "echo");
        let mut client = server.connect();
        assert_eq!(round_trip(&mut client, "before"), "BEFORE");
        // shutdown returns once the server stops accepting; the handler is still running.
        server.handle.shutdown();
        assert_eq!(server.handle.active(), 1);
        assert_eq!(round_trip(&mut client, "during"), "DURING");
        // The listening socket is closed (or closing): a new client is never served.
        if let Ok(mut late) = TcpStream::connect(server.addr) {
            late.set_read_timeout(Some(HANG)).expect("timeout");
            let _ = late.write_all(b"late");
            let got = late.read(&mut [0u8; 8]);
            assert!(
                !matches!(got, Ok(n) if n > 0),
                "served after shutdown: {got:?}"
            );
        }
        drop(client);
        assert_eq!(server.next(3), [Setup, Finished, Served(1)]);
    }

    #[test]
    fn a_pool_serves_at_most_its_size_at_once() {
        let server = bind(Concurrency::Pool(2), Some(3), "echo");
        let (mut a, mut b) = (server.connect(), server.connect());
        assert_eq!(round_trip(&mut a, "a"), "A");
        assert_eq!(round_trip(&mut b, "b"), "B");
        // The third client is connected (the system did the handshake) but not accepted:
        // both threads are busy. What it sent waits until one of them is free.
        let mut c = server.connect();
        c.write_all(b"c").expect("send");
        c.set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        assert!(
            c.read(&mut [0u8; 8]).is_err(),
            "c was served by a third thread"
        );
        c.set_read_timeout(Some(HANG)).expect("timeout");
        assert_eq!(server.handle.active(), 2);
        drop(a);
        let mut buf = [0u8; 8];
        let n = c.read(&mut buf).expect("a reply for c");
        assert_eq!(&buf[..n], b"C");
        drop((b, c));
        assert_eq!(server.next(7).last(), Some(&Served(3)));
    }
}
