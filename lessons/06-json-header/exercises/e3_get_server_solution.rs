//! Exercise 06.3 — a `get` server that stays inside its folder: the solution.
//!
//! Never trust a name from the network. Before the name touches the file system it must
//! be one plain file name: not empty, no `..`, no `/`, `\` or `:` (so no absolute path,
//! no sub-folder, no drive), not hidden, no control characters. Anything else is refused
//! with a reason, and the server goes on.
//!
//! Check it:   cargo run --bin lab -- check 06.3 --solution

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

// ANCHOR: solution
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
    if let Err(why) = check_name(name) {
        out.line(format!("refused: {why}"));
        let refusal = json!({"status": "error", "message": why, "total_size": 0});
        return send_header(conn, &refusal, out);
    }
    send_file(conn, name, &root.join(name), out)
}

/// One plain file name, inside the folder: nothing that could climb out (`..`), start
/// elsewhere (`/etc/passwd`, `C:\x`) or reach into a sub-folder (`a/b`).
fn check_name(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && !name.contains("..")
        && !name.contains(['/', '\\', ':'])
        && !name.starts_with('.')
        && !name.chars().any(char::is_control);
    if plain {
        Ok(())
    } else {
        Err(format!(
            "file name {name:?} refused: only plain names inside the folder"
        ))
    }
}
// ANCHOR_END: solution

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
