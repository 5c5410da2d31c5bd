// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 06.1
//! Exercise 06.1 — a `put` client that speaks the JSON header.
//!
//! Send one file to lesson06-server. First the header: a lesson 05 frame (a 4-byte
//! big-endian length, then that many bytes) whose bytes are the JSON
//! `{"command":"put","file_name":NAME,"total_size":SIZE,"sha256":HEX}`. Then the file's
//! bytes, exactly SIZE of them. Then read the server's reply, a header frame of JSON too,
//! e.g. `{"status":"ok","message":"stored a.txt (5 bytes, sha256 verified)",…}`, and print
//! `server: MESSAGE`. A reply with `"status":"error"` is an error: exit code 1.
//!
//! Lesson 05's `socket_lab::frame::{write_frame, read_frame}` send and receive a frame;
//! `serde_json::json!` and `serde_json::to_vec` make the JSON, `serde_json::from_slice`
//! reads it back.
//!
//! Check it:   cargo run --bin lab -- check 06.1
//! Or run it:  cargo run --bin lesson06-server                   (terminal 1)
//!             cargo run --example ex06-1 -- Cargo.toml          (terminal 2)
//!
//! The check runs lesson06-server behind the lab's proxy (random cuts), puts a file with a
//! name that is not ASCII, and compares what the server stored with the file, byte for byte.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use socket_lab::transfer::sha256_of;
use socket_lab::{Out, Side, Style};

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
    out.trace(format!("{name}: {} bytes, sha256 {sha256}", data.len()));
    // Your code: connect to `addr`; send the header frame, then `data`; read the reply
    // header, and print its message.
    todo!("put {name} ({} bytes) to {addr}", data.len())
}
