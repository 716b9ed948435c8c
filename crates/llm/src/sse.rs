//! Server-Sent Events framing, as both chat APIs stream their answers:
//! <https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>.
//! Bytes arrive in arbitrary pieces; [`SseParser::push`] returns the events
//! completed so far and keeps the rest.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `"message"` when absent, as the spec says.
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The `id:` field, if any.
    pub id: Option<String>,
}

/// An incremental SSE parser.
#[derive(Debug, Default)]
pub struct SseParser {
    pending: Vec<u8>,
    event: Option<String>,
    data: Option<String>,
    id: Option<String>,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed the next bytes; returns every event they complete. Lines may end
    /// in `\n`, `\r\n` or `\r`; a line split across pushes is kept until its end.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n' || b == b'\r') {
            // A `\r` at the very end may be the first half of `\r\n`: wait.
            if self.pending[end] == b'\r' && end + 1 == self.pending.len() {
                break;
            }
            let skip = match (self.pending[end], self.pending.get(end + 1)) {
                (b'\r', Some(b'\n')) => 2,
                _ => 1,
            };
            let line: Vec<u8> = self.pending.drain(..end + skip).take(end).collect();
            if let Some(event) = self.line(&String::from_utf8_lossy(&line)) {
                events.push(event);
            }
        }
        events
    }

    /// The end of the stream: an event without its blank line is discarded,
    /// as the spec requires.
    pub fn finish(&mut self) {
        self.pending.clear();
        self.event = None;
        self.data = None;
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let data = self.data.take()?;
            return Some(SseEvent {
                event: self.event.take().unwrap_or_else(|| "message".into()),
                data,
                id: self.id.clone(),
            });
        }
        if line.starts_with(':') {
            return None; // a comment (keep-alive)
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            },
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            _ => {} // `retry` and unknown fields do not concern a client of these APIs
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_are_reassembled() {
        let stream = b"event: message_start\r\ndata: {\"a\":1}\r\n\r\n: ping\n\ndata: x\ndata: y\n\nid: 7\ndata: [DONE]\n\n";
        for cut in 0..stream.len() {
            let mut p = SseParser::new();
            let mut events = p.push(&stream[..cut]);
            events.extend(p.push(&stream[cut..]));
            assert_eq!(events.len(), 3, "cut at {cut}");
            assert_eq!(events[0].event, "message_start");
            assert_eq!(events[0].data, "{\"a\":1}");
            assert_eq!(events[1].event, "message");
            assert_eq!(events[1].data, "x\ny");
            assert_eq!(events[2].data, "[DONE]");
            assert_eq!(events[2].id.as_deref(), Some("7"));
        }
    }

    #[test]
    fn an_unterminated_event_is_not_dispatched() {
        let mut p = SseParser::new();
        assert!(p.push(b"data: half").is_empty());
        p.finish();
        assert!(p.push(b"\n").is_empty());
    }
}
