//! Conventions every binary follows: colour choices, exit codes, `--help`.

mod common;
use common::*;

const ESC: &str = "\x1b[";

#[test]
fn color_always_paints_server_and_client_lines_differently() {
    let server = start_server("lesson01-server", &["--color", "always"]);
    let client = run_client(
        "lesson01-client",
        &server,
        &["--color", "always", "hi"],
        None,
    );
    let server = server.finish();
    // The server's lines are cyan (36), the client's green (32).
    assert!(
        server.stdout.contains("\x1b[36mconnection from"),
        "{:?}",
        server.stdout
    );
    assert!(client.stdout.contains("\x1b[32mHI"), "{:?}", client.stdout);
}

#[test]
fn color_auto_is_plain_when_stdout_is_not_a_terminal() {
    let mut cmd = command("lab");
    cmd.env_remove("NO_COLOR");
    let out = cmd.output().expect("run lab");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(ESC));
}

#[test]
fn no_color_is_honoured_and_an_explicit_always_overrides_it() {
    // `command` sets NO_COLOR=1.
    let plain = run("lab", &["--color", "auto"], None);
    assert!(!plain.stdout.contains(ESC));
    let forced = run("lab", &["--color", "always"], None);
    assert!(forced.stdout.contains(ESC), "{}", forced.stdout);
}

#[test]
fn errors_are_one_line_on_stderr_with_exit_code_1() {
    let client = run(
        "lesson01-client",
        &["--port", &free_port().to_string(), "--color", "always", "x"],
        None,
    );
    client.assert_code(1);
    assert_eq!(client.stderr.lines().count(), 1, "{}", client.stderr);
    assert!(client.stderr.contains("error:"), "{}", client.stderr);
    assert!(client.stdout.is_empty(), "{}", client.stdout);
}

#[test]
fn usage_errors_exit_with_code_2() {
    for (bin, _) in bins() {
        run(&bin, &["--no-such-option"], None).assert_code(2);
        run(&bin, &["--color", "purple"], None).assert_code(2);
    }
}

#[test]
fn every_binary_explains_itself_with_help() {
    for (bin, _) in bins() {
        let help = run(&bin, &["--help"], None);
        help.assert_code(0);
        assert_transcript(&format!("{}_help", bin.replace('-', "_")), &help.stdout);
    }
}
