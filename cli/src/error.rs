//! The crate's one error type, [`MagError`], and the one place it becomes an
//! exit status ([`MagError::exit_code`]) and the lines `mag` prints.
//!
//! Guarantees: every failure is one sentence (`mag: <what went wrong>`) and,
//! where there is one, a second line saying how to fix it (`hint: ...`);
//! the exit status depends only on the kind of failure (the table in
//! `main.rs` and `mag --help`); no message ever carries a token.

use std::fmt;

/// The exit statuses scripts can rely on (a wait for approval is not an
/// error: a command that queued a request shows it and exits [`exit::WAITING`]).
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const NOT_SIGNED_IN: u8 = 3;
    pub const FORBIDDEN: u8 = 4;
    pub const NOT_FOUND: u8 = 5;
    pub const REFUSED: u8 = 6;
    pub const UNREACHABLE: u8 = 7;
    pub const WAITING: u8 = 10;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Anything else (a file, a broken audit chain, an unhealthy server).
    Failure,
    /// A wrong command line.
    Usage,
    /// No credentials, or the server refused the token (401).
    NotSignedIn,
    /// The token's user may not do this (403).
    Forbidden,
    /// No such extension, request or route (404).
    NotFound,
    /// The server refused the change as asked (400, 409, 413, 422).
    Refused,
    /// The server could not be reached, or failed (5xx).
    Unreachable,
}

#[derive(Debug, Clone)]
pub struct MagError {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
}

impl MagError {
    pub fn new(kind: Kind, message: impl Into<String>) -> MagError {
        MagError {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> MagError {
        self.hint = Some(hint.into());
        self
    }

    pub fn failure(message: impl Into<String>) -> MagError {
        MagError::new(Kind::Failure, message)
    }

    pub fn usage(message: impl Into<String>) -> MagError {
        MagError::new(Kind::Usage, message)
    }

    /// The exit status of this kind of failure: the one mapping of the crate.
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            Kind::Failure => exit::FAILURE,
            Kind::Usage => exit::USAGE,
            Kind::NotSignedIn => exit::NOT_SIGNED_IN,
            Kind::Forbidden => exit::FORBIDDEN,
            Kind::NotFound => exit::NOT_FOUND,
            Kind::Refused => exit::REFUSED,
            Kind::Unreachable => exit::UNREACHABLE,
        }
    }

    /// The kind of an HTTP error status.
    pub fn kind_of_status(status: u16) -> Kind {
        match status {
            401 => Kind::NotSignedIn,
            403 => Kind::Forbidden,
            404 => Kind::NotFound,
            400 | 409 | 413 | 422 => Kind::Refused,
            500..=599 => Kind::Unreachable,
            _ => Kind::Failure,
        }
    }

    /// The lines printed on stderr.
    pub fn lines(&self) -> String {
        match &self.hint {
            Some(hint) => format!("mag: {}\nhint: {hint}", self.message),
            None => format!("mag: {}", self.message),
        }
    }
}

impl fmt::Display for MagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MagError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_documented_exit_codes() {
        for (status, code) in [
            (401, 3),
            (403, 4),
            (404, 5),
            (400, 6),
            (409, 6),
            (500, 7),
            (503, 7),
            (429, 1),
        ] {
            let e = MagError::new(MagError::kind_of_status(status), "x");
            assert_eq!(e.exit_code(), code, "HTTP {status}");
        }
        assert_eq!(MagError::usage("x").exit_code(), 2);
    }

    #[test]
    fn a_hint_is_a_second_line() {
        let e = MagError::failure("it broke").with_hint("fix it");
        assert_eq!(e.lines(), "mag: it broke\nhint: fix it");
    }
}
