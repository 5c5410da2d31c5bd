//! Exercise 06.2 — a `get` that keeps nothing it cannot trust: the solution.
//!
//! The body goes into `.NAME.part` and through a SHA-256 hasher on the way. Only a body
//! that arrived whole and matches the header's checksum is renamed to NAME; in every other
//! case the part file is deleted. A rename inside one folder is atomic: NAME is either
//! absent or complete, never half-written.
//!
//! Check it:   cargo run --bin lab -- check 06.2 --solution

use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;

use std::path::Path;

use anyhow::{bail, Context};
use clap::Parser;
use serde_json::json;
use sha2::{Digest, Sha256};
use socket_lab::errors::connect_error;
use socket_lab::frame::{read_frame, write_frame, ByteOrder};
use socket_lab::json_header::{parse_reply, to_hex, Status};
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
    // ANCHOR: solution
    // Into a hidden part file first: the real name only once the checksum matched.
    let part = args.out_dir.join(format!(".{}.part", args.name));
    let path = args.out_dir.join(&args.name);
    let sha256 = match receive(&mut conn, &part, reply.total_size) {
        Ok(sha256) => sha256,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e);
        }
    };
    if sha256 != reply.sha256 {
        let _ = std::fs::remove_file(&part);
        bail!(
            "checksum mismatch: the header said sha256 {}, the data has {sha256}; \
             nothing was saved",
            reply.sha256
        );
    }
    std::fs::rename(&part, &path)
        .with_context(|| format!("renaming to {}", path.display()))?;
    out.line(format!(
        "saved {} ({} bytes, sha256 verified)",
        args.name, reply.total_size
    ));
    Ok(())
}

/// Receives exactly `total` bytes into the file `part`, and returns their SHA-256.
fn receive(conn: &mut TcpStream, part: &Path, total: u64) -> anyhow::Result<String> {
    let mut file =
        File::create(part).with_context(|| format!("creating {}", part.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut done: u64 = 0;
    while done < total {
        let want = buf.len().min((total - done) as usize);
        let n = conn.read(&mut buf[..want]).context("receiving the file")?;
        if n == 0 {
            bail!("the server closed after {done} of {total} bytes");
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).context("writing the file")?;
        done += n as u64;
    }
    Ok(to_hex(&hasher.finalize()))
}
// ANCHOR_END: solution
