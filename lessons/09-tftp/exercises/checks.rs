//! The checks of lesson 09's exercises: what `cargo run --bin lab -- check 09.M` does to
//! your program. Each runs it black-box, over 127.0.0.1: your client gets files from
//! lesson09-server or from the lab playing a TFTP server that loses packets on purpose;
//! your server is asked for files by the lab, which looks at every packet and the port it
//! comes from.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;

use socket_lab::tftp::{parse, ErrorCode, Mode, Packet, Request, BLOCK_SIZE};

use crate::exercises::Exercise;
use crate::probe::{
    exists, lab_program, recv_within, same_bytes, shown, udp_socket, with_client,
    with_server, Failure, Outcome, Program, Server, LIMIT,
};

const HINTS: &str = include_str!("hints.md");

pub const EXERCISES: &[Exercise] = &[
    Exercise {
        id: "09.1",
        title: "a TFTP client that gets a whole file",
        file: "lessons/09-tftp/exercises/e1_get_client.rs",
        peers: &["lesson09-server"],
        check: get_client,
        hints: HINTS,
    },
    Exercise {
        id: "09.2",
        title: "a TFTP client that survives loss",
        file: "lessons/09-tftp/exercises/e2_survive_loss.rs",
        peers: &[],
        check: survive_loss,
        hints: HINTS,
    },
    Exercise {
        id: "09.3",
        title: "a TFTP server that answers from a new port",
        file: "lessons/09-tftp/exercises/e3_new_port_server.rs",
        peers: &[],
        check: new_port_server,
        hints: HINTS,
    },
];

/// A file of `size` bytes: numbered lines, so that a screen shows where a block is.
fn numbered(size: usize) -> Vec<u8> {
    let lines = (1..).flat_map(|i| format!("line {i:03} of the file\r\n").into_bytes());
    lines.take(size).collect()
}

fn write_file(path: &Path, data: &[u8]) -> Outcome {
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))
        .and_then(|()| std::fs::write(path, data))
        .map_err(|e| {
            Failure::new(
                format!("the lab could not write {}: {e}", path.display()),
                1,
            )
        })
}

/// The file your client saved in `dir`, compared with `data`; no `.NAME.part` left.
fn expect_saved(dir: &Path, name: &str, data: &[u8], hint: usize) -> Outcome {
    let saved = std::fs::read(dir.join(name)).map_err(|_| {
        Failure::new(format!("your client saved no file {name}"), hint)
            .expected(format!("{name}, {} bytes, in the --out folder", data.len()))
    })?;
    same_bytes(&format!("the {name} your client saved"), data, &saved, hint).map_err(
        |f| f.detail(format!("{} bytes saved, {} sent", saved.len(), data.len())),
    )?;
    let part = dir.join(format!(".{name}.part"));
    if exists(&part) {
        return Err(Failure::new(
            format!("your client left {} behind", part.display()),
            hint,
        ));
    }
    Ok(())
}

/// 09.1: lesson09-server serves a file of 1300 bytes (3 blocks) and one of exactly 1024
/// (2 full blocks, then an empty one).
fn get_client(program: &Program) -> Outcome<String> {
    let files = [("three-blocks.bin", 1300), ("exactly-1024.bin", 1024)];
    for (name, size) in files {
        write_file(&program.dir.join("files").join(name), &numbered(size))?;
    }
    let lesson09 = Program {
        path: lab_program("lesson09-server")?,
        dir: program.dir.clone(),
    };
    let server = Server::start(
        &lesson09,
        &[
            "--root",
            "files",
            "--max-requests",
            "2",
            "--timeout-ms",
            "500",
            "--retries",
            "2",
        ],
        None,
    )?;
    let port = server.addr.port().to_string();
    for (i, (name, size)) in files.into_iter().enumerate() {
        let finished = with_client(
            program,
            &[name, "--port", &port, "--out", "downloads"],
            None,
            |_| Ok(()),
        )?;
        let hint = i + 1;
        finished.expect_success("your client", hint)?;
        expect_saved(&program.dir.join("downloads"), name, &numbered(size), hint)?;
    }
    // lesson09-server says "sent" only once the final ACK has come: of the empty DATA 3.
    let said = server.run.finish(LIMIT).stdout_text();
    let sent = r#"sent "exactly-1024.bin": 1024 bytes in 3 DATA packets"#;
    if !said.lines().any(|l| l.contains(sent)) {
        let observed: Vec<&str> = said.lines().filter(|l| l.contains("1024")).collect();
        return Err(Failure::new(
            "lesson09-server did not get the ACK of the last, empty DATA block 3",
            2,
        )
        .expected(sent)
        .observed(shown(observed.join(" | ").as_bytes(), 200)));
    }
    Ok("1300 bytes in 3 blocks, and 1024 bytes ending with an empty block 3".into())
}

/// The lab, playing a TFTP server for your client: waits for its RRQ for `name`.
fn expect_rrq(
    socket: &UdpSocket,
    name: &str,
    what: &str,
    hint: usize,
) -> Outcome<SocketAddr> {
    let Some((bytes, client)) = recv_within(socket, LIMIT)? else {
        return Err(Failure::new(
            format!("{what}: nothing came within {} s", LIMIT.as_secs()),
            hint,
        ));
    };
    let want = Packet::Rrq(Request {
        filename: name.to_string(),
        mode: Mode::Octet,
        options: Vec::new(),
    });
    same_bytes(what, &want.encode(), &bytes, hint)?;
    Ok(client)
}

/// The lab sends DATA `block` from `tid` and waits for your client's ACK of it. A
/// repeated ACK of the block before is let pass: a client whose timeout fired while the
/// lab was slow sends it again, as it should.
fn data_and_ack(
    tid: &UdpSocket,
    client: SocketAddr,
    block: u16,
    data: &[u8],
    again: bool,
    hint: usize,
) -> Outcome {
    let packet = Packet::Data {
        block,
        data: data.to_vec(),
    };
    let _ = tid.send_to(&packet.encode(), client);
    let what = if again {
        format!("the ACK of DATA {block}, sent a second time as if your ACK were lost")
    } else {
        format!("the ACK of DATA {block}")
    };
    let earlier = Packet::Ack {
        block: block.wrapping_sub(1),
    }
    .encode();
    loop {
        let Some((bytes, from)) = recv_within(tid, LIMIT)? else {
            let s = LIMIT.as_secs();
            return Err(Failure::new(
                format!("{what}: nothing came within {s} s"),
                hint,
            ));
        };
        if from != client {
            let why = format!("{what} came from {from}, a port that sent no RRQ");
            return Err(Failure::new(why, hint));
        }
        if bytes != earlier {
            return same_bytes(&what, &Packet::Ack { block }.encode(), &bytes, hint);
        }
    }
}

/// 09.2: the lab plays the server. First it ignores the RRQ (lost), then it sends DATA 1
/// twice (as if the ACK were lost).
fn survive_loss(program: &Program) -> Outcome<String> {
    let data = numbered(BLOCK_SIZE + 100);
    // The RRQ is lost: the client must send it again after its timeout.
    let (socket, addr) = udp_socket()?;
    let port = addr.port().to_string();
    let args = [
        "lost-rrq.bin",
        "--port",
        &port,
        "--out",
        ".",
        "--timeout-ms",
        "300",
    ];
    let finished = with_client(program, &args, None, |_| {
        expect_rrq(&socket, "lost-rrq.bin", "your client's RRQ", 1)?;
        let client = expect_rrq(
            &socket,
            "lost-rrq.bin",
            "the lab dropped your RRQ, as a lossy network may; your RRQ again",
            1,
        )?;
        // The answer comes from a new port: the lab's TID for this transfer.
        let (tid, _) = udp_socket()?;
        data_and_ack(&tid, client, 1, &data[..BLOCK_SIZE], false, 1)?;
        data_and_ack(&tid, client, 2, &data[BLOCK_SIZE..], false, 1)
    })?;
    finished.expect_success("your client", 1)?;
    expect_saved(&program.dir, "lost-rrq.bin", &data, 1)?;

    // The ACK of DATA 1 is lost: DATA 1 comes again, long before the client's timeout.
    let data = numbered(BLOCK_SIZE + 200);
    let (socket, addr) = udp_socket()?;
    let port = addr.port().to_string();
    let args = [
        "lost-ack.bin",
        "--port",
        &port,
        "--out",
        ".",
        "--timeout-ms",
        "5000",
    ];
    let finished = with_client(program, &args, None, |_| {
        let client = expect_rrq(&socket, "lost-ack.bin", "your client's RRQ", 2)?;
        let (tid, _) = udp_socket()?;
        data_and_ack(&tid, client, 1, &data[..BLOCK_SIZE], false, 2)?;
        data_and_ack(&tid, client, 1, &data[..BLOCK_SIZE], true, 2)?;
        data_and_ack(&tid, client, 2, &data[BLOCK_SIZE..], false, 2)
    })?;
    finished.expect_success("your client", 2)?;
    expect_saved(&program.dir, "lost-ack.bin", &data, 3)?;
    Ok(
        "a lost RRQ sent again, and a repeated DATA 1 ACKed again and written once"
            .into(),
    )
}

/// The lab's request to your server: an RRQ for `name`, from a socket of its own. Returns
/// the first answer and the port it came from.
fn request(
    server: SocketAddr,
    name: &str,
    hint: usize,
) -> Outcome<(UdpSocket, Packet, SocketAddr)> {
    let (socket, _) = udp_socket()?;
    let rrq = Packet::Rrq(Request {
        filename: name.to_string(),
        mode: Mode::Octet,
        options: Vec::new(),
    });
    let _ = socket.send_to(&rrq.encode(), server);
    let what = format!("the answer to an RRQ for {name:?}");
    let Some((bytes, from)) = recv_within(&socket, LIMIT)? else {
        return Err(Failure::new(
            format!("{what}: nothing came within {} s", LIMIT.as_secs()),
            hint,
        ));
    };
    let packet = parse(&bytes).map_err(|e| {
        Failure::new(format!("{what} is not a TFTP packet: {e}"), hint)
            .observed(shown(&bytes, 40))
    })?;
    if from == server {
        return Err(Failure::new(
            format!("{what} came from your server's own port {}", server.port()),
            1,
        )
        .expected(format!(
            "{}, from a new port (the transfer's TID)",
            packet.label()
        ))
        .observed(format!("{}, from {from}", packet.label())));
    }
    Ok((socket, packet, from))
}

/// Gets `name` from your server and compares it with `data`: every DATA from the same
/// new port, ACKed there, until a block of fewer than 512 bytes.
fn get_from(server: SocketAddr, name: &str, data: &[u8]) -> Outcome {
    let (socket, mut packet, tid) = request(server, name, 1)?;
    let mut got = Vec::new();
    let mut expected: u16 = 1;
    loop {
        let Packet::Data { block, data: bytes } = packet else {
            return Err(Failure::new(format!("{name}: expected DATA {expected}"), 1)
                .observed(packet.to_string()));
        };
        if block != expected {
            return Err(Failure::new(
                format!("{name}: a DATA with the wrong block number"),
                1,
            )
            .expected(format!("DATA block {expected}"))
            .observed(format!("DATA block {block}")));
        }
        got.extend_from_slice(&bytes);
        let _ = socket.send_to(&Packet::Ack { block }.encode(), tid);
        if bytes.len() < BLOCK_SIZE {
            break;
        }
        if got.len() > data.len() {
            return Err(Failure::new(
                format!("{name}: more DATA than the file has"),
                2,
            ));
        }
        expected += 1;
        let what = format!("{name}: DATA block {expected}, after {} bytes", got.len());
        let hint = if got.len() == data.len() { 2 } else { 1 };
        let Some((bytes, from)) = recv_within(&socket, LIMIT)? else {
            return Err(Failure::new(
                format!("{what}: nothing came within {} s", LIMIT.as_secs()),
                hint,
            )
            .detail(
                "a file whose size is a multiple of 512 ends with a DATA of 0 bytes",
            ));
        };
        if from != tid {
            return Err(Failure::new(
                format!("{what} came from another port than DATA 1"),
                1,
            )
            .expected(format!("from {tid}, the transfer's TID"))
            .observed(format!("from {from}")));
        }
        packet = parse(&bytes)
            .map_err(|e| Failure::new(format!("{what}: not TFTP: {e}"), 1))?;
    }
    same_bytes(&format!("{name} as your server sent it"), data, &got, 1)
}

/// 09.3: a file of exactly 1024 bytes, one of 1300, and one that is not there.
fn new_port_server(program: &Program) -> Outcome<String> {
    let files = [("exactly-1024.bin", 1024), ("three-blocks.bin", 1300)];
    for (name, size) in files {
        write_file(&program.dir.join("files").join(name), &numbered(size))?;
    }
    let server = with_server(
        program,
        &["--root", "files", "--max-requests", "3"],
        |server| {
            for (name, size) in files {
                get_from(server.addr, name, &numbered(size))?;
            }
            let (_, packet, _) = request(server.addr, "not-here.bin", 3)?;
            match packet {
                Packet::Error {
                    code: ErrorCode::FileNotFound,
                    ..
                } => Ok(()),
                other => Err(Failure::new("a request for a file that is not there", 3)
                    .expected("ERROR 1 (file not found)")
                    .observed(other.to_string())),
            }
        },
    )?;
    server.expect_exit(3)?;
    Ok(
        "each transfer from a new port; 1024 bytes end with an empty block; ERROR 1"
            .into(),
    )
}
