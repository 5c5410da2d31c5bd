//! The checks of lesson 06's exercises: what `cargo run --bin lab -- check 06.M` does to
//! your program. Each runs it black-box, over 127.0.0.1, and compares what it observes
//! with what the exercise asks: the bytes on the wire, and the files left behind.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use socket_lab::frame::{encode, ByteOrder};
use socket_lab::transfer::sha256_of;

use crate::exercises::Exercise;
use crate::probe::{
    exists, lab_program, same_bytes, shown, with_client, with_server, Failure, Finished,
    Listener, Outcome, Peer, Program, Server, LIMIT,
};
use crate::proxy::{Cut, Inline, Plan};

const HINTS: &str = include_str!("hints.md");

pub const EXERCISES: &[Exercise] = &[
    Exercise {
        id: "06.1",
        title: "a put client that speaks the JSON header",
        file: "lessons/06-json-header/exercises/e1_put_client.rs",
        peers: &["lesson06-server"],
        check: put_client,
        hints: HINTS,
    },
    Exercise {
        id: "06.2",
        title: "a get that keeps nothing it cannot trust",
        file: "lessons/06-json-header/exercises/e2_checked_get.rs",
        peers: &[],
        check: checked_get,
        hints: HINTS,
    },
    Exercise {
        id: "06.3",
        title: "a get server that stays in its folder",
        file: "lessons/06-json-header/exercises/e3_get_server.rs",
        peers: &[],
        check: get_server,
        hints: HINTS,
    },
];

/// The largest header the lab reads.
const MAX_HEADER: usize = 64 * 1024;

/// `json` as a lesson 06 header: one lesson 05 frame.
fn header_frame(json: &serde_json::Value) -> Vec<u8> {
    encode(json.to_string().as_bytes(), ByteOrder::Network, u32::MAX).unwrap_or_default()
}

/// Reads one header frame and parses its JSON; `what` names it in a failure.
fn read_header(conn: &mut Peer, what: &str, hint: usize) -> Outcome<serde_json::Value> {
    let len = conn.read_up_to(4, LIMIT)?;
    let Ok(len_bytes) = <[u8; 4]>::try_from(len.bytes.as_slice()) else {
        return Err(
            Failure::new(format!("{what}: no whole header length"), hint).observed(
                format!("{}, then {}", shown(&len.bytes, 4), len.end.words()),
            ),
        );
    };
    let len = u32::from_be_bytes(len_bytes) as usize;
    if len > MAX_HEADER {
        return Err(Failure::new(
            format!("{what}: a header length of {len} bytes"),
            hint,
        )
        .expected("a length in network byte order (big-endian), at most 64 KiB"));
    }
    let json = conn.read_up_to(len, LIMIT)?.bytes;
    serde_json::from_slice(&json).map_err(|e| {
        Failure::new(format!("{what} is not JSON: {e}"), hint).observed(shown(&json, 100))
    })
}

/// 06.1: the real lesson06-server behind the lab's proxy; a file whose name is not ASCII.
fn put_client(program: &Program) -> Outcome<String> {
    let lesson06 = Program {
        path: lab_program("lesson06-server")?,
        dir: program.dir.clone(),
    };
    let server = Server::start(
        &lesson06,
        &["--root", "server-files", "--max-clients", "1"],
        None,
    )?;
    let plan = Plan::new(Cut::random(15, 16), 1);
    let proxy = Inline::start(server.addr, plan.clone())
        .map_err(|e| Failure::new(format!("the lab's proxy: {e}"), 1))?;
    let name = "报告.txt";
    let data: Vec<u8> = (1..=30)
        .flat_map(|i| format!("line {i:02} of the report\n").into_bytes())
        .collect();
    std::fs::write(program.dir.join(name), &data)
        .map_err(|e| Failure::new(format!("the lab could not write {name}: {e}"), 1))?;
    let port = proxy.addr.port().to_string();
    let finished = with_client(program, &[name, "--port", &port], None, |_| Ok(()))?;
    // What lesson06-server said: a refusal names what was wrong with the request. (After
    // a client that failed, the server need not be waited for: it may never get a client.)
    let wait = if finished.code == Some(0) {
        LIMIT
    } else {
        Duration::from_millis(200)
    };
    let said = server.run.finish(wait).stdout_text();
    let said: Vec<String> = said
        .lines()
        .filter(|l| l.contains("refused") || l.contains("stored"))
        .map(|l| format!("lesson06-server said: {l}"))
        .take(3)
        .collect();
    let how = |f: Failure| {
        f.details(said.clone()).detail(format!(
            "lesson06-server ⇄ lab proxy ({}) ⇄ your client",
            plan.describe()
        ))
    };
    finished.expect_success("your client", 1).map_err(how)?;
    let stored =
        std::fs::read(program.dir.join("server-files").join(name)).map_err(|_| {
            how(Failure::new(
                format!("lesson06-server stored no file {name}"),
                2,
            ))
        })?;
    same_bytes("the file lesson06-server stored", &data, &stored, 2)?;
    finished.expect_line_containing("your client", &format!("stored {name}"), 3)?;
    Ok(format!("{name} arrived byte for byte, through random cuts"))
}

/// Runs the get client for `name` against a server of the lab's that answers with `body`
/// and the checksum `sha256`.
fn get_against(
    program: &Program,
    name: &str,
    body: &[u8],
    sha256: &str,
) -> Outcome<Finished> {
    let lab = Listener::new()?;
    let port = lab.port();
    let args = [name, "--out", "downloads", "--port", &port];
    with_client(program, &args, None, |client| {
        let mut conn = lab.accept(client, "the lab's server")?;
        let request = read_header(&mut conn, "your client's request", 1)?;
        if request["command"] != "get" || request["file_name"] != name {
            return Err(Failure::new(
                "your client's request is not a get of the file",
                1,
            )
            .expected(json!({"command": "get", "file_name": name}).to_string())
            .observed(request.to_string()));
        }
        let reply = json!({
            "status": "ok",
            "file_name": name,
            "total_size": body.len(),
            "sha256": sha256,
        });
        conn.send(&header_frame(&reply))?;
        let _ = conn.send_in_pieces(body, &[100, 200], Duration::from_millis(20));
        let _ = conn.hear(LIMIT);
        Ok(())
    })
}

/// The names in the download folder.
fn downloads(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("downloads"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// 06.2: a good file is saved; a file whose checksum does not match leaves nothing.
fn checked_get(program: &Program) -> Outcome<String> {
    let good = b"this file arrived whole\n".repeat(25);
    let finished = get_against(program, "good.txt", &good, &sha256_of(&good))?;
    finished.expect_success("your client", 1)?;
    let saved = std::fs::read(program.dir.join("downloads/good.txt")).unwrap_or_default();
    same_bytes("the saved good.txt", &good, &saved, 1)?;

    let mut bad = good.clone();
    bad[300] = b'X';
    let finished = get_against(program, "bad.txt", &bad, &sha256_of(&good))?;
    let left = downloads(&program.dir);
    if left != ["good.txt"] {
        return Err(Failure::new(
            "after a transfer whose checksum did not match, a file was left behind",
            1,
        )
        .expected("[\"good.txt\"] in the download folder")
        .observed(format!("{left:?}"))
        .detail("the lab's header announced the sha256 of other bytes than it sent"));
    }
    finished.expect_one_line_error("your client", &["sha256"], 2)?;
    Ok("a good file saved, a corrupted one refused, and no part file left".into())
}

/// A header as a report shows it: its first 60 characters.
fn cut(json: &str) -> String {
    match json.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &json[..at]),
        None => json.to_string(),
    }
}

/// Asks the server for `name`; returns the reply header and the body that came with it.
fn get(server: &Server, name: &str) -> Outcome<(serde_json::Value, Vec<u8>)> {
    let mut conn = Peer::connect(server.addr, &format!("a client asking for {name:?}"))?;
    conn.send(&header_frame(&json!({"command": "get", "file_name": name})))?;
    let reply = read_header(&mut conn, &format!("the reply to a get of {name:?}"), 2)?;
    let total = reply["total_size"].as_u64().unwrap_or(0).min(1 << 20) as usize;
    let body = conn.read_up_to(total, LIMIT)?.bytes;
    Ok((reply, body))
}

/// 06.3: a file inside --root is served; `../secret.txt` and an absolute path are refused.
fn get_server(program: &Program) -> Outcome<String> {
    let fail =
        |e: std::io::Error| Failure::new(format!("the lab's scratch folder: {e}"), 1);
    let root = program.dir.join("root");
    std::fs::create_dir_all(&root).map_err(fail)?;
    let content = b"hello from a.txt\n";
    std::fs::write(root.join("a.txt"), content).map_err(fail)?;
    let secret = program.dir.join("secret.txt");
    std::fs::write(&secret, b"top secret\n").map_err(fail)?;
    let absolute = secret.to_string_lossy().into_owned();

    let server = with_server(
        program,
        &["--root", "root", "--max-clients", "3"],
        |server| {
            let (reply, body) = get(server, "a.txt")?;
            if reply["status"] != "ok" {
                return Err(Failure::new(
                    "a get of a.txt was not answered with the file",
                    2,
                )
                .observed(cut(&reply.to_string())));
            }
            same_bytes("the body of a.txt", content, &body, 2)?;
            for name in ["../secret.txt", absolute.as_str()] {
                let (reply, body) = get(server, name)?;
                if !body.is_empty() || reply["status"] == "ok" {
                    return Err(Failure::new(
                        format!("your server sent {name:?}, a file outside --root"),
                        1,
                    )
                    .expected("a refusal: {\"status\":\"error\",…} and no body")
                    .observed(format!(
                        "{}, then {}",
                        cut(&reply.to_string()),
                        shown(&body, 40)
                    )));
                }
                if reply["status"] != "error" {
                    return Err(Failure::new(
                        format!("the reply to {name:?} is not a refusal"),
                        2,
                    )
                    .expected("{\"status\":\"error\",\"message\":…,\"total_size\":0}")
                    .observed(cut(&reply.to_string())));
                }
            }
            Ok(())
        },
    )?;
    if !exists(&secret) {
        return Err(Failure::new("the secret file next to --root is gone", 1));
    }
    server.expect_exit(2)?;
    Ok("a.txt served; ../secret.txt and an absolute path refused".into())
}
