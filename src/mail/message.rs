//! The message itself: headers, the text body and the workbook attached so
//! that its Chinese file name survives every common mail program.
//!
//! lettre's `ContentDisposition::attachment` writes a non-ASCII name only as
//! RFC 2231 continuations (`filename*0*=utf-8''…`) and puts no `name=` on the
//! Content-Type. Programs that read neither continuations nor RFC 2231
//! (older Outlook, several webmail services) then show `ATT00001.bin` or
//! mojibake. So the attachment's two headers are written here:
//!
//! ```text
//! Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;
//!  name="=?UTF-8?B?5byA5Y+R5Yy66ICD5qC45rGH5oC76KGoLTIwMjDlubQxLTbmnIgueGxzeA==?="
//! Content-Disposition: attachment;
//!  filename*=UTF-8''%E5%BC%80%E5%8F%91...%E6%9C%88.xlsx
//! ```
//!
//! `filename*=` (RFC 2231, one parameter, no continuations: those are what
//! the fewest readers understand) is what standard readers use; `name=` with
//! RFC 2047 encoded-words is the fallback Outlook and webmail read. Only a
//! name too long for one 998-byte line is split into `filename*0*=`, `*1*`….

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Body, Mailbox, MessageBuilder, MultiPart, SinglePart};
use lettre::{Address, Message};

use crate::error::Error;

/// The xlsx MIME type.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// A message ready to go: its bytes and its envelope.
pub(crate) struct Composed {
    pub bytes: Vec<u8>,
    pub from: Address,
    /// To, then Cc, each address once.
    pub recipients: Vec<Address>,
}

/// The parts of a message, already checked.
pub(crate) struct Parts<'a> {
    pub from: &'a Mailbox,
    pub to: &'a [Mailbox],
    pub cc: &'a [Mailbox],
    pub subject: &'a str,
    pub body: &'a str,
    pub file_name: &'a str,
    pub attachment: Vec<u8>,
}

/// Builds the message.
///
/// # Errors
/// [`Error::MailSettings`] when lettre refuses the headers (it checks the
/// sender and recipients again).
pub(crate) fn compose(p: Parts) -> Result<Composed, Error> {
    let mut b = stamped(
        Message::builder().from(p.from.clone()).subject(p.subject),
        p.from,
    );
    for m in p.to {
        b = b.to(m.clone());
    }
    for m in p.cc {
        b = b.cc(m.clone());
    }
    let attachment = SinglePart::builder()
        .header(AttachmentType::new(p.file_name))
        .header(AttachmentDisposition::new(p.file_name))
        .body(Body::new(p.attachment));
    let message = b.multipart(
        MultiPart::mixed()
            .singlepart(SinglePart::plain(p.body.to_string()))
            .singlepart(attachment),
    );
    let mut recipients: Vec<Address> = Vec::new();
    for m in p.to.iter().chain(p.cc) {
        if !recipients.contains(&m.email) {
            recipients.push(m.email.clone());
        }
    }
    composed(message, p.from, recipients)
}

/// A plain text message to one recipient (a reminder, a return notice).
///
/// # Errors
/// [`Error::MailSettings`] when lettre refuses the headers.
pub(crate) fn compose_text(
    from: &Mailbox,
    to: &Mailbox,
    subject: &str,
    body: &str,
) -> Result<Composed, Error> {
    let b = Message::builder()
        .from(from.clone())
        .to(to.clone())
        .subject(subject);
    let message = stamped(b, from).singlepart(SinglePart::plain(body.to_string()));
    composed(message, from, vec![to.email.clone()])
}

/// The Message-ID, `<time.pid@sender-domain>` (unique enough, and in the
/// sender's domain as spam filters like), and the User-Agent.
fn stamped(b: MessageBuilder, from: &Mailbox) -> MessageBuilder {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let id = format!(
        "<{nanos:x}.{:x}.zonestat@{}>",
        std::process::id(),
        from.email.domain()
    );
    b.message_id(Some(id))
        .user_agent(crate::output::MADE_BY.to_string())
}

/// The message as it goes out, or lettre's refusal of its headers.
fn composed(
    message: Result<Message, lettre::error::Error>,
    from: &Mailbox,
    recipients: Vec<Address>,
) -> Result<Composed, Error> {
    let message = message.map_err(|e| Error::MailSettings(format!("无法组成邮件：{e}")))?;
    Ok(Composed {
        bytes: message.formatted(),
        from: from.email.clone(),
        recipients,
    })
}

/// Content-Type of the attachment, with the RFC 2047 `name=` fallback.
#[derive(Debug, Clone)]
struct AttachmentType(String);

impl AttachmentType {
    fn new(file_name: &str) -> AttachmentType {
        let words = encoded_words(file_name);
        AttachmentType(format!("{XLSX};\r\n name=\"{}\"", words.join("\r\n ")))
    }
}

/// Content-Disposition of the attachment, with the RFC 2231 `filename*=`.
#[derive(Debug, Clone)]
struct AttachmentDisposition(String);

impl AttachmentDisposition {
    fn new(file_name: &str) -> AttachmentDisposition {
        AttachmentDisposition(format!(
            "attachment;\r\n {}",
            rfc2231("filename", file_name).join(";\r\n ")
        ))
    }
}

/// The two headers go out as written above: plain ASCII, already folded.
macro_rules! pre_encoded_header {
    ($header:ident, $name:literal) => {
        impl Header for $header {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($name)
            }

            fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Err("written only".into())
            }

            fn display(&self) -> HeaderValue {
                HeaderValue::dangerous_new_pre_encoded(Self::name(), self.0.clone(), self.0.clone())
            }
        }
    };
}

pre_encoded_header!(AttachmentType, "Content-Type");
pre_encoded_header!(AttachmentDisposition, "Content-Disposition");

/// RFC 2231 parameters for `value`: `key*=UTF-8''%E5…` when it fits on a
/// line, else `key*0*=UTF-8''…`, `key*1*=…` of at most 78 characters each.
pub(crate) fn rfc2231(key: &str, value: &str) -> Vec<String> {
    // attribute-char: printable ASCII except specials, space, `*`, `'`, `%`.
    let keep = |b: u8| b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b);
    let pieces: Vec<String> = value
        .as_bytes()
        .iter()
        .map(|&b| {
            if keep(b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let whole = format!("{key}*=UTF-8''{}", pieces.concat());
    if whole.len() + 2 <= 998 {
        return vec![whole];
    }
    let mut out = Vec::new();
    let mut line = format!("{key}*0*=UTF-8''");
    for p in pieces {
        if line.len() + p.len() + 2 > 78 {
            out.push(std::mem::replace(
                &mut line,
                format!("{key}*{}*=", out.len() + 1),
            ));
        }
        line.push_str(&p);
    }
    out.push(line);
    out
}

/// RFC 2047 base64 encoded-words for `value`, each at most 75 characters and
/// holding whole characters.
pub(crate) fn encoded_words(value: &str) -> Vec<String> {
    // 45 bytes → 60 base64 characters + 12 for `=?UTF-8?B?` and `?=`.
    const MAX_BYTES: usize = 45;
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in value.chars() {
        if chunk.len() + c.len_utf8() > MAX_BYTES {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() || words.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| format!("=?UTF-8?B?{}?=", base64(w.as_bytes())))
        .collect()
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "开发区考核汇总表-2020年1-6月.xlsx";

    #[test]
    fn base64_matches_the_rfc_4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn the_report_name_is_one_encoded_word_and_one_parameter() {
        let words = encoded_words(NAME);
        assert_eq!(
            words,
            ["=?UTF-8?B?5byA5Y+R5Yy66ICD5qC45rGH5oC76KGoLTIwMjDlubQxLTbmnIgueGxzeA==?="]
        );
        let params = rfc2231("filename", NAME);
        assert_eq!(params.len(), 1);
        assert!(
            params[0].starts_with("filename*=UTF-8''%E5%BC%80%E5%8F%91")
                && params[0].ends_with("-2020%E5%B9%B41-6%E6%9C%88.xlsx"),
            "{params:?}"
        );
    }

    #[test]
    fn long_names_are_split_without_breaking_characters() {
        let long = "很长的文件名".repeat(40) + ".xlsx";
        let words = encoded_words(&long);
        assert!(words.len() > 1 && words.iter().all(|w| w.len() <= 75));
        let params = rfc2231("filename", &long);
        assert!(params.len() > 1 && params.iter().all(|p| p.len() <= 78));
        assert!(params[0].starts_with("filename*0*=UTF-8''"));
        assert!(params[1].starts_with("filename*1*=%"));
        // The pieces, joined and decoded, give the name back.
        let joined: String = params
            .iter()
            .map(|p| {
                let v = p.split_once("*=").unwrap().1;
                v.strip_prefix("UTF-8''").unwrap_or(v).to_string()
            })
            .collect();
        let mut bytes = Vec::new();
        let mut rest = joined.as_bytes();
        while let Some((&b, tail)) = rest.split_first() {
            if b == b'%' {
                let hex = std::str::from_utf8(&tail[..2]).unwrap();
                bytes.push(u8::from_str_radix(hex, 16).unwrap());
                rest = &tail[2..];
            } else {
                bytes.push(b);
                rest = tail;
            }
        }
        assert_eq!(String::from_utf8(bytes).unwrap(), long);
    }
}
