//! A blocking client: signs requests (§3.2–3.3) and sends them over one connection.
//! [`Client::send`] takes a typed [`Request`]; [`Client::call`] sends any name and arguments,
//! which tests use to send malformed requests on purpose.

use std::{
    io::Write,
    net::{TcpStream, ToSocketAddrs},
    time::Duration,
};

use serde_json::{json, Value};

use crate::{
    frame::{self, DEFAULT_MAX_FRAME_BYTES},
    keys::{PublicKey, SecretKey},
    protocol::{GetVessels, Request},
    request::{self, unix_micros, unix_now, Code, NmError},
};

#[derive(Debug)]
pub enum ClientError {
    /// Connection or transport failure.
    Io(String),
    /// The node's answer is not a valid response.
    Protocol(String),
    /// The node refused the request.
    Remote(NmError),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "{e}"),
            ClientError::Protocol(e) => write!(f, "bad response: {e}"),
            ClientError::Remote(e) => write!(f, "{e}"),
        }
    }
}

impl ClientError {
    /// The node's error code, if the node refused the request.
    pub fn code(&self) -> Option<Code> {
        match self {
            ClientError::Remote(e) => Some(e.code),
            _ => None,
        }
    }
}

pub struct Client {
    stream: TcpStream,
    addr: String,
    secret: Option<SecretKey>,
    node: Option<PublicKey>,
    last_seq: u64,
    next_id: u64,
}

impl Client {
    /// Connects (10 s timeout); responses are awaited up to 120 s.
    pub fn connect(addr: &str) -> Result<Client, ClientError> {
        Client::connect_timeout(addr, Duration::from_secs(10))
    }

    /// Connects within `timeout`; responses are awaited up to 120 s (see [`Client::set_timeout`]).
    pub fn connect_timeout(addr: &str, timeout: Duration) -> Result<Client, ClientError> {
        let target = addr
            .to_socket_addrs()
            .map_err(|e| ClientError::Io(format!("cannot resolve '{addr}': {e}")))?
            .next()
            .ok_or_else(|| ClientError::Io(format!("'{addr}' resolves to no address")))?;
        let stream = TcpStream::connect_timeout(&target, timeout).map_err(|e| ClientError::Io(format!("cannot connect to {addr}: {e}")))?;
        stream.set_read_timeout(Some(Duration::from_secs(120))).ok();
        stream.set_nodelay(true).ok();
        Ok(Client { stream, addr: addr.to_string(), secret: None, node: None, last_seq: 0, next_id: 1 })
    }

    /// How long to wait for a response, or for a request to be sent.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.stream.set_read_timeout(Some(timeout)).ok();
        self.stream.set_write_timeout(Some(timeout)).ok();
    }

    pub fn with_key(mut self, secret: SecretKey) -> Client {
        self.secret = Some(secret);
        self
    }

    pub fn public_key(&self) -> Option<PublicKey> {
        self.secret.as_ref().map(SecretKey::public)
    }

    /// Sends raw bytes and reads one response frame.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<Value, ClientError> {
        self.stream.write_all(bytes).map_err(|e| ClientError::Io(format!("sending to {}: {e}", self.addr)))?;
        let body = frame::read_frame_blocking(&mut self.stream, DEFAULT_MAX_FRAME_BYTES)
            .map_err(|e| ClientError::Io(format!("reading from {}: {e}", self.addr)))?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Sends one request object and returns the response object.
    pub fn roundtrip(&mut self, request: &Value) -> Result<Value, ClientError> {
        let bytes = frame::encode(request);
        if bytes.len() - 4 > DEFAULT_MAX_FRAME_BYTES {
            return Err(ClientError::Io(format!(
                "request of {} bytes is over the frame limit of {DEFAULT_MAX_FRAME_BYTES} bytes (a file sent in a signed request \
                 grows by about 16/9 when encoded)",
                bytes.len() - 4
            )));
        }
        self.send_bytes(&bytes)
    }

    /// The node's key (asked once with an unsigned GetVessels).
    pub fn node_key(&mut self) -> Result<PublicKey, ClientError> {
        if let Some(k) = &self.node {
            return Ok(k.clone());
        }
        let result = self.send_unsigned(&GetVessels {}.into())?;
        let text = result["node"]["key"].as_str().ok_or_else(|| ClientError::Protocol("GetVessels has no node key".into()))?;
        let key = PublicKey::parse(text).map_err(ClientError::Protocol)?;
        self.node = Some(key.clone());
        Ok(key)
    }

    /// The next sequence number: `max(now in µs, last + 1)`.
    pub fn next_seq(&mut self) -> u64 {
        self.last_seq = unix_micros().max(self.last_seq + 1);
        self.last_seq
    }

    fn next_id(&mut self) -> String {
        let id = format!("c-{}", self.next_id);
        self.next_id += 1;
        id
    }

    /// A signed request with explicit sequence number and expiry (tests use it for replays).
    pub fn signed_request(&mut self, call: &str, args: Value, seq: u64, expires: u64) -> Result<Value, ClientError> {
        let node = self.node_key()?;
        let id = self.next_id();
        let secret = self.secret.as_ref().ok_or_else(|| ClientError::Io("no key to sign with".into()))?;
        Ok(request::sign(secret, &node, &id, call, args, seq, expires))
    }

    /// Sends a request, signed if the client has a key (see [`call`](Self::call)).
    pub fn send(&mut self, request: &Request) -> Result<Value, ClientError> {
        let (call, args) = request.encode();
        self.call(call, args)
    }

    /// Sends a request unsigned, as anyone may for a [`Public`](crate::protocol::Role::Public) call.
    pub fn send_unsigned(&mut self, request: &Request) -> Result<Value, ClientError> {
        let (call, args) = request.encode();
        self.call_unsigned(call, args)
    }

    /// An unsigned (Public) request.
    pub fn call_unsigned(&mut self, call: &str, args: Value) -> Result<Value, ClientError> {
        let id = self.next_id();
        let response = self.roundtrip(&json!({"v": 1, "id": id, "call": call, "args": args}))?;
        result_of(response)
    }

    /// Signs and sends a request; on `Replay` re-signs with `last_seq + 1` once.
    pub fn call(&mut self, call: &str, args: Value) -> Result<Value, ClientError> {
        if self.secret.is_none() {
            return self.call_unsigned(call, args);
        }
        let seq = self.next_seq();
        let request = self.signed_request(call, args.clone(), seq, unix_now() + 60)?;
        match result_of(self.roundtrip(&request)?) {
            Err(ClientError::Remote(NmError { code: Code::Replay, last_seq: Some(last), .. })) => {
                self.last_seq = self.last_seq.max(last);
                let seq = self.next_seq();
                let request = self.signed_request(call, args, seq, unix_now() + 60)?;
                result_of(self.roundtrip(&request)?)
            }
            other => other,
        }
    }
}

/// The `result` of a success response, or the error it carries.
pub fn result_of(response: Value) -> Result<Value, ClientError> {
    match response.get("ok") {
        Some(Value::Bool(true)) => Ok(response.get("result").cloned().unwrap_or(Value::Null)),
        Some(Value::Bool(false)) => {
            let e = &response["error"];
            let code_text = e["code"].as_str().unwrap_or("");
            let code = Code::parse(code_text).ok_or_else(|| ClientError::Protocol(format!("unknown error code '{code_text}'")))?;
            Err(ClientError::Remote(NmError {
                code,
                message: e["message"].as_str().unwrap_or("").to_string(),
                last_seq: e["last_seq"].as_u64(),
            }))
        }
        _ => Err(ClientError::Protocol(format!("response without 'ok': {response}"))),
    }
}
