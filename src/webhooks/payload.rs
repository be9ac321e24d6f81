//! What a webhook receives: the body in the webhook's format, and the signature that proves it
//! came from this deployment — GitHub's and Stripe's scheme: HMAC-SHA256 with the webhook's
//! secret over `"{timestamp}.{body}"`, sent as `X-Firegrid-Signature: t=<unix seconds>,v1=<hex>`,
//! with the delivery id in `X-Firegrid-Delivery` for de-duplication (a delivery may arrive more
//! than once: at least once is what a retrying sender can promise).

use base64::Engine;
use chrono::NaiveDateTime;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::json;
use sha2::Sha256;

use crate::notifications::outbox::Subject;
use crate::vocab::{NotificationKind, WebhookFormat};

pub const SIGNATURE_HEADER: &str = "X-Firegrid-Signature";
pub const DELIVERY_HEADER: &str = "X-Firegrid-Delivery";
pub const EVENT_HEADER: &str = "X-Firegrid-Event";

/// One event as a webhook sees it.
#[derive(Debug, Clone)]
pub struct Event {
    pub delivery_id: String,
    pub event_id: i64,
    pub kind: NotificationKind,
    pub message: String,
    pub occurred_at: NaiveDateTime,
    /// The deepest region the event belongs to (the case's group), if any.
    pub region_id: Option<i64>,
    pub subject: Option<Subject>,
}

/// The generic JSON body (`format: generic`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GenericBody<'a> {
    /// The delivery id (also in `X-Firegrid-Delivery`): the same for every retry.
    pub id: &'a str,
    /// The outbox event: one per case, kind and message, whatever the number of webhooks.
    pub event_id: i64,
    pub kind: NotificationKind,
    pub message: &'a str,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub region_id: Option<i64>,
    /// The case as it stood when the event happened.
    pub hazard: Option<&'a Subject>,
}

/// The request body for `format`.
pub fn body(format: WebhookFormat, e: &Event) -> Vec<u8> {
    let value = match format {
        WebhookFormat::Generic => serde_json::to_value(GenericBody {
            id: &e.delivery_id,
            event_id: e.event_id,
            kind: e.kind,
            message: &e.message,
            occurred_at: e.occurred_at.and_utc(),
            region_id: e.region_id,
            hazard: e.subject.as_ref(),
        })
        .unwrap_or_default(),
        // 企业微信群机器人: markdown content of at most 4096 bytes.
        WebhookFormat::Wecom => json!({
            "msgtype": "markdown",
            "markdown": {"content": truncate(&markdown(e), 4096)},
        }),
        // 钉钉群机器人: the title shows in the conversation list, the text in the chat.
        WebhookFormat::Dingtalk => json!({
            "msgtype": "markdown",
            "markdown": {"title": title(e.kind), "text": truncate(&markdown(e), 4096)},
        }),
    };
    serde_json::to_vec(&value).unwrap_or_default()
}

/// A short Chinese heading for each kind (the wire name for kinds added later).
pub fn title(kind: NotificationKind) -> String {
    let label = match kind {
        NotificationKind::Reported => "新隐患",
        NotificationKind::MajorReported => "重大火灾隐患",
        NotificationKind::Arrived => "案件到达",
        NotificationKind::ClosureRejected => "整改未通过",
        NotificationKind::Listed => "挂牌督办",
        NotificationKind::Reopened => "案件重新打开",
        NotificationKind::Overdue => "逾期升级",
        NotificationKind::NoPoliceStation => "逾期无派出所承接",
        NotificationKind::DeadlineSoon => "整改期限将至",
        NotificationKind::SupervisorVacant => "包干负责人空缺",
        NotificationKind::PublicReport => "群众举报",
        NotificationKind::FirstResponseSoon => "群众举报待答复",
        NotificationKind::FirstResponseOverdue => "群众举报超时未答复",
        #[allow(unreachable_patterns)]
        _ => kind.as_str(),
    };
    format!("消防网格通知：{label}")
}

fn markdown(e: &Event) -> String {
    let mut s = format!("**{}**\n", title(e.kind));
    if let Some(c) = &e.subject {
        s.push_str(&format!(
            "> 案件：{} {}\n> 状态：{} · {} · {}\n",
            c.case_no,
            escape(&c.title),
            c.status,
            c.level,
            c.severity
        ));
    }
    s.push_str(&escape(&e.message));
    s.push_str(&format!(
        "\n\n<font color=\"comment\">{} UTC · {}</font>",
        e.occurred_at.format("%Y-%m-%d %H:%M"),
        e.delivery_id
    ));
    s
}

/// Keeps user text from opening markdown structures (a title starting with "#" or ">").
fn escape(text: &str) -> String {
    text.lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with(['#', '>', '-', '*', '`']) {
                format!("\\{t}")
            } else {
                t.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// At most `max` bytes, cut at a character boundary.
fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max - 3;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

fn hmac(secret: &str, message: &[u8]) -> Vec<u8> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "timestamp.body">`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    format!("t={timestamp},v1={}", hex::encode(hmac(secret, &signed)))
}

/// Checks a signature header the way a receiver should (used by the tests; the README shows
/// the same in Python): the timestamp within `tolerance_secs` of `now`, the HMAC equal in
/// constant time.
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64, tolerance_secs: i64) -> bool {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now - t).abs() > tolerance_secs {
        return false;
    }
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    v1.iter().any(|sig| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(&signed);
        mac.verify_slice(sig).is_ok()
    })
}

/// DingTalk's signed robot URL (加签): `timestamp` in milliseconds and
/// `sign = urlencode(base64(HMAC-SHA256(key = secret, "{timestamp}\n{secret}")))` appended to the
/// query; DingTalk refuses a timestamp more than an hour off.
pub fn dingtalk_url(url: &str, secret: &str, timestamp_ms: i64) -> String {
    let sign = base64::engine::general_purpose::STANDARD
        .encode(hmac(secret, format!("{timestamp_ms}\n{secret}").as_bytes()));
    let sign = sign
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}timestamp={timestamp_ms}&sign={sign}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{Level, Severity, Status};

    fn event() -> Event {
        Event {
            delivery_id: "d-1".into(),
            event_id: 7,
            kind: NotificationKind::Overdue,
            message: "案件 630106-2026-000001 已逾期，升至村级".into(),
            occurred_at: chrono::NaiveDate::from_ymd_opt(2026, 11, 29)
                .unwrap()
                .and_hms_opt(8, 30, 0)
                .unwrap(),
            region_id: Some(6),
            subject: Some(Subject {
                id: 1,
                case_no: "630106-2026-000001".into(),
                title: "# 民房内存放散装汽油".into(),
                severity: Severity::Major,
                status: Status::Open,
                level: Level::Village,
            }),
        }
    }

    #[test]
    fn generic_body_carries_the_event_and_the_case() {
        let v: serde_json::Value =
            serde_json::from_slice(&body(WebhookFormat::Generic, &event())).unwrap();
        assert_eq!(v["id"], "d-1");
        assert_eq!(v["event_id"], 7);
        assert_eq!(v["kind"], "overdue");
        assert_eq!(v["occurred_at"], "2026-11-29T08:30:00Z");
        assert_eq!(v["hazard"]["case_no"], "630106-2026-000001");
        assert_eq!(v["hazard"]["level"], "village");
    }

    #[test]
    fn robot_bodies_are_markdown_messages() {
        let w: serde_json::Value =
            serde_json::from_slice(&body(WebhookFormat::Wecom, &event())).unwrap();
        assert_eq!(w["msgtype"], "markdown");
        let content = w["markdown"]["content"].as_str().unwrap();
        assert!(
            content.starts_with("**消防网格通知：逾期升级**"),
            "{content}"
        );
        assert!(
            content.contains("630106-2026-000001 \\# 民房内存放散装汽油"),
            "{content}"
        );
        let d: serde_json::Value =
            serde_json::from_slice(&body(WebhookFormat::Dingtalk, &event())).unwrap();
        assert_eq!(d["msgtype"], "markdown");
        assert_eq!(d["markdown"]["title"], "消防网格通知：逾期升级");
        assert_eq!(d["markdown"]["text"].as_str(), Some(content));
    }

    #[test]
    fn long_text_is_cut_at_a_character() {
        let s = "消".repeat(2000);
        let t = truncate(&s, 4096);
        assert!(t.len() <= 4096 && t.ends_with("..."));
    }

    #[test]
    fn signatures_verify_and_tampering_does_not() {
        let body = br#"{"a":1}"#;
        let sig = signature("whsec_test", 1_764_400_000, body);
        assert!(sig.starts_with("t=1764400000,v1="));
        assert!(verify("whsec_test", &sig, body, 1_764_400_100, 300));
        assert!(!verify(
            "whsec_test",
            &sig,
            br#"{"a":2}"#,
            1_764_400_100,
            300
        ));
        assert!(!verify("other", &sig, body, 1_764_400_100, 300));
        // Replayed too late.
        assert!(!verify("whsec_test", &sig, body, 1_764_401_000, 300));
        // Computed independently in Python:
        // hmac.new(b"whsec_test", b'1764400000.{"a":1}', sha256).hexdigest()
        assert_eq!(
            sig,
            "t=1764400000,v1=32c3f005408ee8b9ee645f893d78273e798135d42968628a2029ca69c913e9ef"
        );
    }

    #[test]
    fn dingtalk_sign_matches_their_recipe() {
        // Python from DingTalk's documentation, run here:
        // base64.b64encode(hmac.new(b"SECtest", b"1700000000000\nSECtest", sha256).digest())
        let url = dingtalk_url(
            "https://oapi.dingtalk.com/robot/send?access_token=t",
            "SECtest",
            1_700_000_000_000,
        );
        assert!(url.starts_with(
            "https://oapi.dingtalk.com/robot/send?access_token=t&timestamp=1700000000000&sign="
        ));
        let sign = url.rsplit("sign=").next().unwrap();
        assert_eq!(sign, DINGTALK_VECTOR);
        assert!(!sign.contains(['+', '/', '=']));
    }

    /// Computed with Python's hmac/base64/urllib.parse.quote_plus (see above).
    const DINGTALK_VECTOR: &str = "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g%3D";
}
