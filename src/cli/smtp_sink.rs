//! A small SMTP server on a loopback port (tokio): enough SMTP for a client (EHLO/HELO, MAIL,
//! RCPT, DATA, RSET, NOOP, QUIT). It keeps what arrives and can be told to answer 451 to the
//! next messages' DATA or 550 to a recipient. `meishi bench mail` delivers to it, and the
//! integration tests read what meishi sent from it.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One message as it arrived: the envelope and the raw message.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt: Vec<String>,
    pub data: Vec<u8>,
}

#[derive(Default)]
struct Rules {
    /// The next this many messages get 451 after DATA.
    temp_fail_next: usize,
    /// Recipients answered 550 at RCPT.
    reject: HashSet<String>,
}

#[derive(Clone)]
pub struct Sink {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    rules: Arc<Mutex<Rules>>,
}

impl Sink {
    pub async fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind sink");
        let sink = Sink {
            addr: listener.local_addr().unwrap(),
            received: Arc::default(),
            rules: Arc::default(),
        };
        let s = sink.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let _ = stream.set_nodelay(true);
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.session(stream).await;
                });
            }
        });
        sink
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn temp_fail_next(&self, n: usize) {
        self.rules.lock().unwrap().temp_fail_next = n;
    }

    pub fn reject(&self, rcpt: &str) {
        self.rules.lock().unwrap().reject.insert(rcpt.to_lowercase());
    }

    /// Forgets the messages that arrived (a benchmark's rounds keep memory bounded).
    pub fn clear(&self) {
        self.received.lock().unwrap().clear();
    }

    /// How many messages arrived.
    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// Waits (up to 20 s) until at least `n` messages arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..400 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the sink got {} messages, not {n}", self.received().len());
    }

    async fn session(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        w.write_all(b"220 sink ESMTP\r\n").await?;
        let mut from = String::new();
        let mut rcpt = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            quick_ack(&r);
            let cmd = line.trim_end().to_string();
            let upper = cmd.to_uppercase();
            if upper.starts_with("EHLO") {
                w.write_all(b"250-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 PIPELINING\r\n")
                    .await?;
            } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
                w.write_all(b"250 ok\r\n").await?;
            } else if upper.starts_with("RSET") {
                from.clear();
                rcpt.clear();
                w.write_all(b"250 ok\r\n").await?;
            } else if upper.starts_with("MAIL FROM:") {
                from = addr_of(&cmd[10..]);
                rcpt.clear();
                w.write_all(b"250 ok\r\n").await?;
            } else if upper.starts_with("RCPT TO:") {
                let to = addr_of(&cmd[8..]);
                if self.rules.lock().unwrap().reject.contains(&to.to_lowercase()) {
                    w.write_all(b"550 5.1.1 no such user\r\n").await?;
                } else {
                    rcpt.push(to);
                    w.write_all(b"250 ok\r\n").await?;
                }
            } else if upper == "DATA" {
                w.write_all(b"354 go ahead\r\n").await?;
                let mut data = Vec::new();
                loop {
                    let mut l = Vec::new();
                    if r.read_until(b'\n', &mut l).await? == 0 {
                        return Ok(());
                    }
                    quick_ack(&r);
                    if l == b".\r\n" {
                        break;
                    }
                    if l.starts_with(b"..") {
                        l.remove(0);
                    }
                    data.extend_from_slice(&l);
                }
                let fail = {
                    let mut rules = self.rules.lock().unwrap();
                    if rules.temp_fail_next > 0 {
                        rules.temp_fail_next -= 1;
                        true
                    } else {
                        false
                    }
                };
                if fail {
                    w.write_all(b"451 4.3.0 try again later\r\n").await?;
                } else {
                    self.received.lock().unwrap().push(Received {
                        mail_from: from.clone(),
                        rcpt: rcpt.clone(),
                        data,
                    });
                    w.write_all(b"250 2.0.0 queued\r\n").await?;
                }
            } else if upper.starts_with("QUIT") {
                w.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else {
                w.write_all(b"502 not implemented\r\n").await?;
            }
        }
    }
}

/// Acknowledges what was read at once (Linux `TCP_QUICKACK`, which the kernel turns off again
/// by itself, hence after every read). A client that writes a message and its closing dot in two
/// writes, as lettre does, otherwise waits for the delayed ACK (40 ms) before the second one
/// leaves (Nagle's algorithm): one message per 40 ms per connection, whoever sends.
fn quick_ack(r: &BufReader<tokio::net::tcp::OwnedReadHalf>) {
    #[cfg(target_os = "linux")]
    {
        let stream: &tokio::net::TcpStream = r.get_ref().as_ref();
        let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = r;
}

fn addr_of(s: &str) -> String {
    let s = s.trim();
    let s = s.split_whitespace().next().unwrap_or("");
    s.trim_start_matches('<').trim_end_matches('>').to_string()
}
