//! The course's own programs talk to the lab. Each Python peer here is written for the lab
//! and reproduces one of the course's programs on the wire: the same bytes, the same
//! framing, the same reply strings and encodings. Where the course runs a shell, the peer
//! answers from a small table instead (what `cmd.exe` on a Windows set up for Chinese
//! prints, in GBK): no shell runs. Each peer is adapted only in its port (0: any free one,
//! printed first) and in serving one client, then ending.
//!
//! Without python3 these tests print `skipped: …`; with the `CI` variable set they fail.

mod common;
use common::*;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Instant;

use wait_timeout::ChildExt;

/// A Python peer running in the background, its stdin typed into and its stdout read line
/// by line.
struct Python {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Python {
    #[track_caller]
    fn start(script: &str) -> Python {
        let mut child = Command::new("python3")
            .args(["-u", "-c", script])
            .env("PYTHONIOENCODING", "utf-8")
            .env("PYTHONUTF8", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting python3");
        let stdout = BufReader::new(child.stdout.take().expect("its stdout"));
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Python {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a printed line that satisfies `wanted` and returns it.
    #[track_caller]
    fn wait_for(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "the Python peer printed no such line ({e:?}); it printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// A server peer's first line: the port it listens on.
    #[track_caller]
    fn port(&mut self) -> String {
        let line = self.wait_for(|_| true);
        assert!(line.parse::<u16>().is_ok(), "expected a port, got {line:?}");
        line
    }

    #[track_caller]
    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("its stdin");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .expect("typing into python3");
    }

    /// Waits for the peer to end; returns everything it printed.
    #[track_caller]
    fn finish(mut self) -> String {
        self.stdin = None;
        let status = self.child.wait_timeout(LIMIT).expect("waiting for python3");
        if status.is_none() {
            let _ = self.child.kill();
        }
        while let Ok(line) = self.lines.recv_timeout(LIMIT) {
            self.seen.push(line);
        }
        let printed = self.seen.join("\n");
        let status =
            status.unwrap_or_else(|| panic!("python3 hung; printed:\n{printed}"));
        assert!(
            status.success(),
            "python3 failed ({status}); printed:\n{printed}"
        );
        printed
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The stand-in for the course's shell, shared by the server peers: a command's stdout and
/// stderr as a Windows set up for Chinese prints them, in GBK.
const WINDOWS_SHELL: &str = r#"
def windows_shell(command):
    if command == 'echo 你好':
        return '你好\r\n'.encode('gbk'), b''
    if command == 'ver':
        return '\r\nMicrosoft Windows [版本 10.0.19045.3803]\r\n'.encode('gbk'), b''
    message = "'%s' 不是内部或外部命令，也不是可运行的程序\r\n或批处理文件。\r\n" % command
    return b'', message.encode('gbk')
"#;

/// The course's JSON-header command server (file 004): the command arrives unframed, in
/// one recv of up to 1024 bytes; the reply is a 4-byte header length packed with
/// struct.pack('i') (native order), a JSON header `{"md5", "file_name", "total_size"}`
/// whose md5 and file name are fixed placeholders, then the output and the errors, all
/// sent with separate sends.
fn json_header_server() -> String {
    format!(
        r#"{WINDOWS_SHELL}
import json, socket, struct

listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(('127.0.0.1', 0))
listener.listen(5)
print(listener.getsockname()[1])
conn, _ = listener.accept()
while True:
    command = conn.recv(1024)
    if not command:   # adapted: the course's loop never checks for b''
        break
    out, err = windows_shell(command.decode('utf-8'))
    header = json.dumps({{'md5': 'fdsaf2143254f', 'file_name': 'f1.txt',
                          'total_size': len(out) + len(err)}}).encode('utf-8')
    conn.send(struct.pack('i', len(header)))
    conn.send(header)
    conn.send(out)
    conn.send(err)
conn.close()
"#
    )
}

#[test]
fn the_courses_json_header_server_answers_lesson06_client_classic_in_gbk() {
    if skip_without("python3") {
        return;
    }
    let mut server = Python::start(&json_header_server());
    let port = server.port();
    let args = ["run", "--classic", "--encoding", "gbk", "--port", &port];
    let input = "echo 你好\nver\nnosuch\n";
    let client = as_typed(run("lesson06-client", &args, Some(input)), &args, input);
    server.finish();
    client.assert_code(0);
    client.assert_stdout_contains("\n你好\n");
    client.assert_stdout_contains("Microsoft Windows [版本 10.0.19045.3803]");
    client.assert_stdout_contains("'nosuch' 不是内部或外部命令，也不是可运行的程序");
    assert_transcript("course_json_header_server", &transcript(&[&client]));
}

#[test]
fn gbk_output_read_as_utf8_is_garbage() {
    if skip_without("python3") {
        return;
    }
    let mut server = Python::start(&json_header_server());
    let port = server.port();
    let args = ["run", "--classic", "--port", &port];
    let client = run("lesson06-client", &args, Some("echo 你好\n"));
    server.finish();
    client.assert_code(0);
    client.assert_stdout_lacks("你好");
    // 你好 in GBK is c4 e3 ba c3: not UTF-8, shown as replacement characters.
    client.assert_stdout_contains("\u{fffd}\u{fffd}\u{fffd}");
}

/// The course's `ready|size` command server (file 003): a command that prints nothing is
/// answered with a bare `cmd error...`; otherwise the output (turned from GBK into UTF-8)
/// is announced as `ready|N`, and sent only if the client answers exactly `start`.
fn ready_size_server() -> String {
    format!(
        r#"{WINDOWS_SHELL}
import socket

listener = socket.socket()
listener.bind(('127.0.0.1', 0))
listener.listen(5)
print(listener.getsockname()[1])
conn, _ = listener.accept()
while True:
    try:
        command = str(conn.recv(1024), encoding='utf-8')
        if command in ('exit', ''):   # adapted: '' (the client left) ends it too
            break
        out, _ = windows_shell(command)
        if len(out) == 0:
            conn.send(bytes('cmd error...', encoding='utf-8'))
        else:
            data = bytes(str(out, encoding='gbk'), encoding='utf8')
            conn.send(bytes('ready|%s' % len(data), encoding='utf8'))
            if str(conn.recv(1024), encoding='utf8') == 'start':
                conn.send(data)
    except Exception:
        break
conn.close()
"#
    )
}

#[test]
fn the_courses_ready_size_server_and_its_untagged_cmd_error_do_not_stop_lesson05_client()
{
    if skip_without("python3") {
        return;
    }
    let mut server = Python::start(&ready_size_server());
    let port = server.port();
    let args = ["--handshake", "--lowercase", "--port", &port];
    let input = "echo 你好\nnosuch\necho 你好\n";
    let client = as_typed(run("lesson05-client", &args, Some(input)), &args, input);
    server.finish();
    client.assert_code(0);
    client.assert_count("你好", 2);
    client.assert_stdout_contains(
        "(no Ready|<size> first: the reply is what one read returned)\ncmd error...\n",
    );
    assert_transcript("course_ready_size_server", &transcript(&[&client]));
}

#[test]
fn a_capital_start_gets_no_data_from_the_courses_ready_size_server_and_the_client_says_so(
) {
    if skip_without("python3") {
        return;
    }
    let mut server = Python::start(&ready_size_server());
    let port = server.port();
    let args = ["--handshake", "--timeout-ms", "500", "--port", &port];
    let client = run("lesson05-client", &args, Some("echo 你好\n"));
    server.finish();
    client.assert_code(1).assert_error(
        "error: the server announced 8 bytes and then sent nothing for 500 ms after our \
         `Start`: does it wait for another word? (the course's servers differ: `Start`, or \
         `start` with --lowercase)",
    );
}

/// The course's group-chat client (file 002): it asks for a name, then sends each typed
/// line as `NAME说:LINE` in UTF-8, one send, no newline, and stops after a line ending in
/// `bye`; a second thread prints `收到:` and whatever one recv returned, until the
/// server closes.
const GROUP_CHAT_CLIENT: &str = r#"
import socket, sys, threading

running = True

def receive(conn):
    while running:
        data = conn.recv(1024)
        print('收到:', data.decode('utf-8'))
        if not data:   # adapted: stop at the end of the stream, which the course never checks
            break

def send(conn):
    global running
    while running:
        message = name + '说:' + input('>')
        conn.send(message.encode('utf-8'))
        if message.endswith('bye'):
            running = False

conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
conn.connect(('127.0.0.1', int(sys.argv[1])))
name = input('输入名字:')
threads = [threading.Thread(target=receive, args=(conn,)),
           threading.Thread(target=send, args=(conn,))]
for t in threads:
    t.start()
for t in threads:
    t.join()
conn.close()
"#;

/// The client's run as the book shows it: `printf '...' |` with the text as typed (the
/// harness escapes anything beyond ASCII).
fn as_typed(mut client: Run, args: &[&str], input: &str) -> Run {
    let shown = shown_command(&client.bin, args, None);
    client.shown = format!("printf '{}' | {shown}", input.replace('\n', "\\n"));
    client
}

/// Starts the course's chat client, connected to `port`, as `name`.
fn course_chat_client(port: u16, name: &str) -> Python {
    let script = GROUP_CHAT_CLIENT.replace("int(sys.argv[1])", &port.to_string());
    let mut client = Python::start(&script);
    client.type_line(name);
    client
}

#[test]
fn the_courses_chat_client_joins_the_lab_chat_server_with_classic() {
    if skip_without("python3") {
        return;
    }
    let mut session =
        Session::start("lesson08-chat-server", &["--classic", "--max-clients", "2"]);
    let mut alice = course_chat_client(session.port, "alice");
    session.wait_for_line(|l| l.contains(" joined from "));
    let mut bob = course_chat_client(session.port, "bob");
    session.wait_for_line(|l| l.contains(" joined from "));
    // bob's receiving thread has printed the welcome: it is back in recv, so alice's
    // message arrives in a recv of its own. (Without this wait, both can arrive in one
    // recv and print as one message: the course's framing, lesson 04.) The client's two
    // threads print at once, so its `>` prompt may land inside a line: match loosely.
    bob.wait_for(|l| l.contains("* welcome "));

    alice.type_line("hi bob");
    bob.wait_for(|l| l.contains("收到:") && l.contains("alice说:hi bob"));
    session.wait_for_line(|l| l == "alice说:hi bob");

    bob.type_line("bye");
    session.wait_for_line(|l| l.ends_with(" left (said bye)"));
    alice.wait_for(|l| l.contains(" left (said bye)"));
    let bob = bob.finish();

    alice.type_line("bye");
    let alice = alice.finish();
    let server = session.finish();
    server.assert_code(0);
    assert_contains("bob's terminal", &bob, "alice说:hi bob");
    // Nothing comes back to its sender.
    assert!(!alice.contains("alice说:hi bob"), "{alice}");
    server.assert_count(" left (said bye)", 2);
    server.assert_stdout_contains("served 2 members, stopping");
}

#[test]
fn the_courses_udp_chat_in_gb2312_reads_right_with_encoding_gbk() {
    if skip_without("python3") {
        return;
    }
    // The course's UDP chat (file 002) sends and decodes gb2312.
    let args = ["--encoding", "gbk", "--max-datagrams", "1"];
    let mut lab = Session::start_typing("lesson07-chat-peer", &args);
    let script = format!(
        r#"
import socket
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(('127.0.0.1', 0))
udp.settimeout(30)
udp.sendto('你好，我在用课程的聊天'.encode('gb2312'), ('127.0.0.1', {}))
data, addr = udp.recvfrom(1024)
print('>>%s:%s' % (addr, data.decode('gb2312')))
"#,
        lab.port
    );
    let python = Python::start(&script);
    lab.wait_for_line(|l| l.ends_with(": 你好，我在用课程的聊天"));
    lab.type_line("收到，谢谢");
    lab.type_line("bye");
    let python = python.finish();
    let lab = lab.finish();
    lab.assert_code(0);
    assert_contains("the Python peer's output", &python, ":收到，谢谢");
}
