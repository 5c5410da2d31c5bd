// NOT STARTED: delete this line when you begin; then: cargo run --bin lab -- check 06.2
//! Exercise 06.2 — a `get` that keeps nothing it cannot trust.
//!
//! This client fetches a file from lesson06-server: it sends the request header, reads the
//! reply header (`status`, `file_name`, `total_size`, `sha256`), then the body. But it
//! writes the body straight into the file, and never looks at the checksum: a corrupted
//! transfer, or one cut short, leaves a wrong or half-written file under the real name.
//! Make it safe: write the body to a hidden part file (`.NAME.part`), compute its SHA-256
//! on the way, and rename it to NAME only if the checksum matches. Otherwise delete it and
//! fail (exit code 1, one line that says `sha256`). Either way, no part file is left.
//!
//! Check it:   cargo run --bin lab -- check 06.2
//! Or run it:  cargo run --bin lesson06-server                                   (terminal 1)
//!             cargo run --bin lesson06-client -- put Cargo.toml                 (terminal 2)
//!             cargo run --example ex06-2 -- Cargo.toml --out target/dl          (terminal 2)
//!
//! The check plays the server twice: once with a good file, once with a body whose
//! checksum does not match the header's. It looks at what is left in the `--out` folder.

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Parser;
use serde_json::json;
use socket_lab::errors::connect_error;
use socket_lab::frame::{read_frame, write_frame, ByteOrder};
use socket_lab::json_header::{parse_reply, Status};
use socket_lab::{Out, Side, Style};

/// The largest reply header accepted, in bytes.
const MAX_HEADER: u32 = 64 * 1024;

/// Exercise 06.2: fetch a file from lesson06-server, keep it only if its checksum matches.
#[derive(Parser)]
struct Args {
    /// The name of the file to fetch.
    name: String,

    /// The folder to save it in (created if missing).
    #[arg(
        long = "out",
        value_name = "DIR",
        default_value = "target/lesson06/downloads"
    )]
    out_dir: PathBuf,

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
    let addr = format!("{}:{}", args.host, args.port);
    let mut conn = TcpStream::connect(&addr)
        .map_err(|e| connect_error(e, &addr, "lesson06-server"))?;
    let request = serde_json::to_vec(&json!({"command": "get", "file_name": args.name}))?;
    write_frame(&mut conn, &request, ByteOrder::Network, u32::MAX, &out)
        .context("sending the request")?;
    let mut buf = Vec::new();
    let reply = read_frame(&mut conn, &mut buf, ByteOrder::Network, MAX_HEADER, &out)
        .context("receiving the reply")?
        .context("the server closed the connection without replying")?;
    // parse_reply (lesson 06) checks the JSON, the name and the form of the sha256.
    let reply = parse_reply(&reply).map_err(anyhow::Error::msg)?;
    if reply.status != Status::Ok {
        bail!("the server refused: {}", reply.message);
    }
    if reply.file_name != args.name {
        bail!(
            "the server sent {:?} instead of {:?}",
            reply.file_name,
            args.name
        );
    }
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("creating {}", args.out_dir.display()))?;
    let path = args.out_dir.join(&args.name);
    let mut file =
        File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut done: u64 = 0;
    while done < reply.total_size {
        let want = buf.len().min((reply.total_size - done) as usize);
        let n = conn.read(&mut buf[..want]).context("receiving the file")?;
        if n == 0 {
            bail!(
                "the server closed after {done} of {} bytes",
                reply.total_size
            );
        }
        file.write_all(&buf[..n]).context("writing the file")?;
        done += n as u64;
    }
    out.line(format!("saved {} ({done} bytes)", args.name));
    Ok(())
}
