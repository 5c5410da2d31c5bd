//! Exercise 06.1 — a `put` client that speaks the JSON header: the solution.
//!
//! The header is JSON, sent as one lesson 05 frame; the body follows it, exactly
//! `total_size` bytes; the reply is one more header frame. `read_frame` loops until the
//! reply is whole, however the bytes are cut on the way.
//!
//! Check it:   cargo run --bin lab -- check 06.1 --solution

use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use serde_json::json;
use socket_lab::errors::connect_error;
use socket_lab::frame::{read_frame, write_frame, ByteOrder};
use socket_lab::out::escape;
use socket_lab::transfer::sha256_of;
use socket_lab::{Out, Side, Style};

/// The largest reply header accepted, in bytes.
const MAX_HEADER: u32 = 64 * 1024;

/// Exercise 06.1: send a file to lesson06-server.
#[derive(Parser)]
struct Args {
    /// The file to send; the server stores it under its name.
    file: PathBuf,

    /// The server's address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// The server's port.
    #[arg(long, default_value_t = 9006)]
    port: u16,

    #[command(flatten)]
    style: Style,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = Out::new(Side::Client, &args.style);
    socket_lab::exit_code(talk(&args, out))
}

fn talk(args: &Args, out: Out) -> anyhow::Result<()> {
    let data = std::fs::read(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let name = args
        .file
        .file_name()
        .and_then(|n| n.to_str())
        .context("the file has no usable name")?;
    let sha256 = sha256_of(&data);
    let addr = format!("{}:{}", args.host, args.port);
    // ANCHOR: solution
    let mut conn = TcpStream::connect(&addr)
        .map_err(|e| connect_error(e, &addr, "lesson06-server"))?;
    // The header: JSON, sent as one lesson 05 frame. Its length counts bytes.
    let header = json!({
        "command": "put",
        "file_name": name,
        "total_size": data.len(),
        "sha256": sha256,
    });
    let header = serde_json::to_vec(&header)?;
    write_frame(&mut conn, &header, ByteOrder::Network, u32::MAX, &out)
        .context("sending the header")?;
    // The body: exactly total_size bytes, right after the header.
    conn.write_all(&data).context("sending the file")?;

    // The reply is a header frame too; read_frame reads until it is whole.
    let mut buf = Vec::new();
    let reply = read_frame(&mut conn, &mut buf, ByteOrder::Network, MAX_HEADER, &out)
        .context("receiving the reply")?
        .context("the server closed the connection without replying")?;
    let reply: serde_json::Value =
        serde_json::from_slice(&reply).context("the reply is not JSON")?;
    // The message comes from the network: shown escaped, never raw.
    let message = escape(reply["message"].as_str().unwrap_or("").as_bytes());
    if reply["status"] != "ok" {
        bail!("the server refused: {message}");
    }
    out.line(format!("server: {message}"));
    // ANCHOR_END: solution
    Ok(())
}
