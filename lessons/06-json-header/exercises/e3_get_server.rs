// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 06.3
//! Exercise 06.3 — a `get` server that stays inside its folder.
//!
//! This server answers one `get` request per connection (lesson 06's protocol: a header
//! frame of JSON, `{"command":"get","file_name":NAME}`) with the file `--root/NAME`. It
//! trusts the name. `../secret.txt` climbs out of the folder, and `/etc/passwd` is not in
//! it at all: `root.join` of an absolute path IS that path. Refuse every name that is not
//! one plain file name inside --root — with a header `{"status":"error","message":WHY,
//! "total_size":0}` and no body — and serve the others as before.
//!
//! Check it:   cargo run --bin lab -- check 06.3
//! Or run it:  cargo run --example ex06-3 -- --root .                   (terminal 1)
//!             cargo run --bin lesson06-client -- get Cargo.toml        (terminal 2)
//!
//! The check puts a file in --root and a secret next to it, asks for the file, for
//! `../secret.txt` and for the secret's absolute path, and looks at every byte it gets.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use serde_json::json;
use socket_lab::errors::bind_error;
use socket_lab::frame::{read_frame, write_frame, ByteOrder};
use socket_lab::out::escape;
use socket_lab::transfer::sha256_of;
use socket_lab::{Out, Side, Style};

/// The largest request header accepted, in bytes.
const MAX_HEADER: u32 = 64 * 1024;

/// Exercise 06.3: answer `get` requests with files from --root, and nothing else.
#[derive(Parser)]
struct Args {
    /// The folder whose files are served. Nothing outside it may ever be sent.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "target/lesson06/server-files"
    )]
    root: PathBuf,

    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The port to listen on; 0 lets the system pick a free one.
    #[arg(long, default_value_t = 9006)]
    port: u16,

    /// Stop after serving this many clients (default: serve forever).
    #[arg(long, value_name = "N")]
    max_clients: Option<usize>,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Server, &args.style);
    socket_lab::exit_code(serve(&args, out))
}

fn serve(args: &Args, out: Out) -> anyhow::Result<()> {
    let addr = format!("{}:{}", args.host, args.port);
    let listener = TcpListener::bind(&addr).map_err(|e| bind_error(e, &addr))?;
    out.listening(listener.local_addr()?);
    let mut served = 0;
    while args.max_clients.is_none_or(|max| served < max) {
        let (mut conn, peer) = listener.accept().context("accepting a client")?;
        if let Err(e) = answer(&mut conn, &args.root, out) {
            out.line(format!("{peer}: {e:#}"));
        }
        served += 1;
    }
    Ok(())
}

/// Answers one request: the file, or a refusal.
fn answer(conn: &mut TcpStream, root: &Path, out: Out) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    let Some(header) = read_frame(conn, &mut buf, ByteOrder::Network, MAX_HEADER, &out)?
    else {
        return Ok(());
    };
    let request: serde_json::Value =
        serde_json::from_slice(&header).context("the request is not JSON")?;
    let name = request["file_name"].as_str().unwrap_or("");
    out.line(format!("get {}", escape(name.as_bytes())));
    send_file(conn, name, &root.join(name), out)
}

/// Sends a JSON header as one lesson 05 frame.
fn send_header(
    conn: &mut TcpStream,
    header: &serde_json::Value,
    out: Out,
) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec(header)?;
    write_frame(conn, &bytes, ByteOrder::Network, u32::MAX, &out)
}

/// A file as the reply to a `get`: the header, then the bytes.
fn send_file(
    conn: &mut TcpStream,
    name: &str,
    path: &Path,
    out: Out,
) -> anyhow::Result<()> {
    let data = match std::fs::read(path) {
        Ok(data) => data,
        Err(e) => {
            let refusal = json!({
                "status": "error",
                "message": format!("cannot send {name}: {e}"),
                "total_size": 0,
            });
            return send_header(conn, &refusal, out);
        }
    };
    let header = json!({
        "status": "ok",
        "file_name": name,
        "total_size": data.len(),
        "sha256": sha256_of(&data),
    });
    send_header(conn, &header, out)?;
    conn.write_all(&data).context("sending the file")
}
