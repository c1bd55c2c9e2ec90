//! The SMTP server the tests deliver to (`meishi::cli::smtp_sink`), and reading what arrived.
#![allow(dead_code)]

pub use meishi::cli::smtp_sink::{Received, Sink};

/// What a test reads from a message that arrived.
#[allow(clippy::wrong_self_convention)]
pub trait Parsed {
    fn parsed(&self) -> mail_parser::Message<'_>;
    fn header(&self, name: &str) -> Option<String>;
    fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_string()
    }
    fn text(&self) -> String {
        self.parsed().body_text(0).map(|t| t.to_string()).unwrap_or_default()
    }
    fn from_addr(&self) -> String {
        self.parsed()
            .from()
            .and_then(|f| f.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_string()
    }
    fn from_name(&self) -> String {
        self.parsed()
            .from()
            .and_then(|f| f.first())
            .and_then(|a| a.name())
            .unwrap_or_default()
            .to_string()
    }
    fn message_id(&self) -> String {
        self.parsed().message_id().unwrap_or_default().to_string()
    }
}

impl Parsed for Received {
    fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.data)
            .expect("a message")
    }
    /// A header's raw value (first occurrence), unfolded.
    fn header(&self, name: &str) -> Option<String> {
        let text = String::from_utf8_lossy(&self.data);
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        let mut out: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with(' ') || line.starts_with('\t') {
                if let Some(o) = out.as_mut() {
                    o.push_str(line.trim_start());
                }
                continue;
            }
            if out.is_some() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case(name)
            {
                out = Some(v.trim().to_string());
            }
        }
        out
    }
}
