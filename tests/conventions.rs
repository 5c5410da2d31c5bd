//! Conventions every binary follows: colour choices, exit codes, `--help`.

mod common;
use common::*;

const ESC: &str = "\x1b[";

#[test]
fn color_always_paints_server_and_client_lines_differently() {
    let session = Session::start("lesson01-server", &["--color", "always"]);
    let client = session.client("lesson01-client", &["--color", "always", "hi"], None);
    let server = session.finish();
    // The server's lines are cyan (36), the client's green (32).
    server.assert_stdout_contains("\x1b[36mconnection from");
    client.assert_stdout_contains("\x1b[32mHI");
}

#[test]
fn color_auto_is_plain_when_stdout_is_not_a_terminal() {
    let mut cmd = command("lab");
    cmd.env_remove("NO_COLOR");
    let out = cmd.output().expect("run lab");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains(ESC),
        "expected no colour codes; observed:\n{stdout:?}"
    );
}

#[test]
fn no_color_is_honoured_and_an_explicit_always_overrides_it() {
    // `command` sets NO_COLOR=1.
    run("lab", &["--color", "auto"], None).assert_stdout_lacks(ESC);
    run("lab", &["--color", "always"], None).assert_stdout_contains(ESC);
}

#[test]
fn errors_are_one_line_on_stderr_with_exit_code_1() {
    let port = free_port().to_string();
    let client = run(
        "lesson01-client",
        &["--port", &port, "--color", "always", "x"],
        None,
    );
    client.assert_code(1);
    client.assert_stderr_contains("error:");
    assert_eq!(client.stderr.lines().count(), 1, "{}", client.stderr);
    assert_eq!(client.stdout, "", "nothing on stdout");
}

#[test]
fn usage_errors_exit_with_code_2() {
    for bin in bins() {
        run(&bin.name, &["--no-such-option"], None).assert_code(2);
        run(&bin.name, &["--color", "purple"], None).assert_code(2);
    }
}

#[test]
fn every_binary_explains_itself_with_help() {
    for bin in bins() {
        assert_help(&run(&bin.name, &["--help"], None));
    }
}
