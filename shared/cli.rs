//! Command-line conventions shared by every binary: `--color` and `--trace`.
//!
//! Each binary declares its own `--host` and `--port` (the default port is 9000 + the lesson
//! number: [`default_port`]) and flattens [`Style`] into its arguments.

use std::io::IsTerminal;

/// When to colour the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    /// Colour when stdout is a terminal and NO_COLOR is not set.
    Auto,
    Always,
    Never,
}

/// Output options every binary accepts.
#[derive(Clone, Debug, clap::Args)]
pub struct Style {
    /// Colour the output: auto (a terminal without NO_COLOR), always or never.
    // Shown last in --help, also under a subcommand (`lab proxy --help`).
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN", global = true, display_order = 100)]
    pub color: ColorWhen,

    /// Show every send and receive as it happens: the size asked, the size got, and the
    /// bytes.
    #[arg(long, global = true, display_order = 101)]
    pub trace: bool,
}

impl Style {
    /// Decides once, for the whole process, whether output is coloured.
    pub fn apply(&self) {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let on = match self.color {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => !no_color && std::io::stdout().is_terminal(),
        };
        colored::control::set_override(on);
    }
}

/// The default port of a lab program: 9000 + its lesson number (`lesson05-client` ->
/// 9005). A relay runs in front of its lesson's server, so it needs a port of its own: 100
/// above (`lesson09-relay` -> 9109). `None` for a program that is not a lesson's.
pub fn default_port(program: &str) -> Option<u16> {
    let rest = program.strip_prefix("lesson")?;
    let nn = rest.get(..2)?.parse::<u16>().ok()?;
    let relay = if rest.ends_with("-relay") { 100 } else { 0 };
    Some(9000 + relay + nn)
}

#[cfg(test)]
mod tests {
    use super::default_port;

    #[test]
    fn a_lesson_program_listens_on_9000_plus_its_lesson_and_a_relay_100_above() {
        assert_eq!(default_port("lesson05-client"), Some(9005));
        assert_eq!(default_port("lesson09-server"), Some(9009));
        assert_eq!(default_port("lesson09-relay"), Some(9109));
        assert_eq!(default_port("lab"), None);
    }
}
