//! The one error type of meishi. Adapters turn it into a JSON error or an HTML page.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Malformed or missing input (400), naming the field.
    BadInput,
    /// No valid credentials (401).
    Unauthenticated,
    /// Authenticated but not allowed (403).
    Forbidden,
    /// Unknown, or belongs to another organisation (404).
    NotFound,
    /// Clashes with the current state (409).
    Conflict,
    /// Well-formed but refused by a rule (422).
    Unprocessable,
    /// Too many sign-in attempts: wait `retry_after` seconds (429, `Retry-After`).
    TooManyAttempts,
    /// A request body over its limit (413).
    TooLarge,
    /// Anything else; logged, never shown (500).
    Internal,
}

impl ErrorKind {
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::BadInput => "bad_request",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unprocessable => "unprocessable",
            ErrorKind::TooManyAttempts => "too_many_requests",
            ErrorKind::TooLarge => "payload_too_large",
            ErrorKind::Internal => "internal",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub field: Option<String>,
    /// Extra machine-readable detail (for example the counts that block a deletion).
    pub details: Option<serde_json::Value>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            field: None,
            details: None,
        }
    }
    pub fn bad_input(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_string()),
            ..Self::new(ErrorKind::BadInput, message)
        }
    }
    pub fn unauthenticated() -> Self {
        Self::new(
            ErrorKind::Unauthenticated,
            "sign-in required: send a valid bearer token or session cookie",
        )
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorKind::NotFound, format!("{what} not found"))
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }
    /// Sign-in refused for `retry_after` seconds (the throttle); the same for every account.
    pub fn too_many_attempts(retry_after: i64) -> Self {
        Self {
            details: Some(serde_json::json!({ "retry_after": retry_after })),
            ..Self::new(
                ErrorKind::TooManyAttempts,
                format!("too many sign-in attempts: try again in {retry_after} seconds"),
            )
        }
    }
    /// The seconds a `too_many_attempts` error asks to wait.
    pub fn retry_after(&self) -> Option<i64> {
        self.details.as_ref()?.get("retry_after")?.as_i64()
    }
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unprocessable, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    pub fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_string());
        self
    }
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{} ({field})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}
